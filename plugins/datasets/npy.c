/* The npy dataset: NumPy .npy files and .npz archives.
 *
 *   { type = "npy"; x = "train_x.npy"; y = "train_y.npy"; }
 *   { type = "npy"; path = "train.npz"; x = "x"; y = "y"; }    (the defaults)
 *
 * A .npy file (numpy/lib/format.py) is the magic \x93NUMPY, a version byte
 * pair (1.0, 2.0 or 3.0), the header's length (uint16 little-endian in 1.0,
 * uint32 in 2.0 and 3.0), then the header: a Python dict literal
 * {'descr': '<f4', 'fortran_order': False, 'shape': (N, ...), }, padded with
 * spaces and a newline; then the data, C order.  The header is parsed
 * strictly (exactly those three keys, each once; strings in either quote
 * without escapes; shape a tuple of non-negative integers, Python 2's 3L
 * too) and tolerantly of whitespace, key order and a trailing comma.
 * dtypes: bool, int8-64, uint8-64, float16, float32, float64, in either
 * byte order ('<', '>'; '|' and '=' are this machine's); complex, object,
 * string, structured and datetime dtypes are refused by name, and so is
 * fortran_order True (C order only).
 *
 * An .npz archive is a zip of .npy members (np.savez stores them,
 * np.savez_compressed deflates them); `x` and `y` name arrays in it, as
 * np.load's keys do ("x" finds member x.npy).  The central directory is
 * read with every offset and size checked against the file, ZIP64 records
 * included, and every member's CRC-32 is checked.
 *
 * x is (N, d1, ..., dk), 1 <= k <= DLH_MAX_DIMS, and a sample has shape
 * (d1, ..., dk); a 1-d x (N,) gives samples of shape [1].  y has N rows:
 * label = "class" takes a y of shape (N,) of whole numbers in [0, 2^24),
 * n_classes = 1 + the largest; "dense" takes (N, ...) as float vectors of
 * shape y.shape[1:] ([1] for a 1-d y); "none" reads no y.  Default: class
 * when y is 1-d of a bool or integer dtype, else dense.  `limit = N` keeps
 * the first N samples; the files are still validated whole, and the class
 * count comes from every label.  `weights` (a file, or an array of the
 * .npz) holds one weight >= 0 per sample, shape (N,), handed to the loss
 * (the dataset ABI 1.4 read_weights slot).
 *
 * Everything is converted to float32 at open and kept in memory, so `read`
 * is a copy per sample: 4 bytes an element, 4 times the file for a one-byte
 * dtype.  Integers above 2^24 become the nearest float; float64 values
 * beyond float32's range, and NaN or Inf of any float dtype, are refused.
 * No allocation is sized from a header alone: a file's or a stored member's
 * data length is checked against the bytes there before anything is
 * allocated, and a deflated member is inflated into a buffer that grows only
 * as bytes arrive, never past the size its directory entry claims (so for
 * a moment at open it is held twice: inflated, and as floats).
 *
 * `stream = true` does not convert x at open (`dlhost predict`): read
 * converts each sample from the file at its offset (NaN and Inf refused
 * then), so memory does not grow with the file's size.  The labels and
 * weights are held as without it, and a deflated .npz member is inflated
 * into memory (np.savez stores, np.savez_compressed deflates). */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "datasets.h"

#define NPY_CHUNK 65536
/* numpy writes headers of a few hundred bytes and reads none over 10000
   unless told to trust the file. */
#define NPY_MAX_HEADER 65536
/* The first axis counts the samples. */
#define NPY_MAX_NDIM (DLH_MAX_DIMS + 1)
/* Floats represent every integer below 2^24 exactly. */
#define NPY_MAX_CLASS 16777216.0f
/* Deflate cannot expand a byte into more than about 1032. */
#define NPY_DEFLATE_RATIO 1032

#define NPY_EXPECTED "bool, int8-64, uint8-64, float16, float32 or float64"

/* Where the bytes of one .npy image are: a region of an open file, or a
   buffer (an inflated member). */
typedef struct npy_src {
    char *name;                 /* "path" or "path: member", for messages */
    int fd;                     /* borrowed */
    int64_t off, len;
    unsigned char *mem;         /* owned; when set, the bytes are here */
} npy_src;

/* One array: its header, parsed. */
typedef struct npy_array {
    npy_src src;
    char kind;                  /* 'b' bool, 'i', 'u', 'f' */
    int size;                   /* bytes per element */
    int swap;                   /* stored in the other byte order */
    int ndim;
    int64_t dim[NPY_MAX_NDIM];
    int64_t numel;              /* elements per sample (row) */
    int64_t data_off, data_bytes;
    char says[160];             /* "(4, 3) <f4" */
    int shape_len;              /* of "(4, 3)", the start of says */
} npy_array;

typedef struct npy_state {
    char *name;                 /* x's, for messages */
    float *x, *y;
    float *w;                   /* n sample weights (`weights`), or NULL */
    int64_t n, numel, label_numel;
    int label_kind;             /* dlh_label_kind */
    int64_t n_classes;
    dlh_shape sample, label;
    /* stream = true: x's array and its open file, and a chunk buffer. */
    int stream;
    npy_array sx;
    FILE *sf;
    unsigned char *chunk;
} npy_state;

/* ---------------------------------------------------------------- bytes */

static uint16_t npy_le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t npy_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t npy_le64(const unsigned char *p)
{
    return (uint64_t)npy_le32(p) | (uint64_t)npy_le32(p + 4) << 32;
}

/* Reads exactly n bytes at offset `at` of the file; a short read means the
   file changed under us (its size was checked). */
static int npy_pread(int fd, const char *name, int64_t at, void *buf, size_t n)
{
    unsigned char *b = buf;
    while (n > 0) {
        ssize_t r = pread(fd, b, n, (off_t)at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            datasets_host->error("%s: read error: %s", name, strerror(errno));
            return DLH_EIO;
        }
        if (r == 0) {
            datasets_host->error("%s: read error: the file shrank while being read", name);
            return DLH_EIO;
        }
        b += r;
        at += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Bytes [at, at + n) of the source; the caller keeps them inside len. */
static int npy_src_read(const npy_src *s, int64_t at, void *buf, size_t n)
{
    if (s->mem) {
        memcpy(buf, s->mem + at, n);
        return 0;
    }
    return npy_pread(s->fd, s->name, s->off + at, buf, n);
}

static char *npy_strdupf(const char *a, const char *b)
{
    size_t n = strlen(a) + (b ? strlen(b) + 2 : 0) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, b ? "%s: %s" : "%s", a, b);
    return s;
}

static void npy_array_free(npy_array *a)
{
    free(a->src.name);
    free(a->src.mem);
    memset(a, 0, sizeof *a);
}

/* ---------------------------------------------------------------- header dict */

typedef struct npy_lex {
    const char *s;
    size_t n, at;
    const char *name;           /* for messages */
    int python2;                /* 1.0 and 2.0 may hold Python 2's 3L */
} npy_lex;

static int npy_bad_header(const npy_lex *l, const char *what)
{
    datasets_host->error("%s: bad header: %s at byte %zu of the header dict", l->name,
                         what, l->at);
    return DLH_EDATA;
}

static void npy_skip_ws(npy_lex *l)
{
    while (l->at < l->n && strchr(" \t\n\r\f\v", l->s[l->at]) && l->s[l->at])
        l->at++;
}

static int npy_peek(const npy_lex *l)
{
    return l->at < l->n ? (unsigned char)l->s[l->at] : -1;
}

/* A string literal in either quote, into out[cap] (longer ones are cut,
   which only ever makes them unknown). */
static int npy_string(npy_lex *l, char *out, size_t cap)
{
    int q = npy_peek(l);
    if (q != '\'' && q != '"')
        return npy_bad_header(l, "expected a quoted string");
    size_t start = ++l->at, k = 0;
    while (l->at < l->n && l->s[l->at] != q) {
        char c = l->s[l->at];
        if (c == '\\')
            return npy_bad_header(l, "escape sequences are not supported");
        if (c == '\n' || c == '\0')
            break;
        if (k + 1 < cap)
            out[k++] = c;
        l->at++;
    }
    if (l->at >= l->n || l->s[l->at] != q) {
        l->at = start - 1;
        return npy_bad_header(l, "unterminated string");
    }
    l->at++;
    out[k] = '\0';
    return 0;
}

static int npy_word(const npy_lex *l, const char *w)
{
    size_t n = strlen(w);
    if (l->n - l->at < n || memcmp(l->s + l->at, w, n) != 0)
        return 0;
    /* A whole word: True, not Truer. */
    int c = l->at + n < l->n ? (unsigned char)l->s[l->at + n] : ' ';
    return !(c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
             (c >= 'A' && c <= 'Z'));
}

/* The shape tuple; a's dims (at most NPY_MAX_NDIM kept, all counted) and
   its "(4, 3)" text. */
static int npy_shape(npy_lex *l, npy_array *a)
{
    if (npy_peek(l) != '(')
        return npy_bad_header(l, "'shape' is not a tuple");
    l->at++;
    size_t tl = (size_t)snprintf(a->says, sizeof a->says, "(");
    int n = 0, comma = 0;
    for (;;) {
        npy_skip_ws(l);
        if (npy_peek(l) == ')')
            break;
        if (n > 0 && !comma)
            return npy_bad_header(l, "expected ',' or ')' in 'shape'");
        int c = npy_peek(l);
        if (c == '-')
            return npy_bad_header(l, "a negative dimension in 'shape'");
        if (c < '0' || c > '9')
            return npy_bad_header(l, "expected a dimension (an integer) in 'shape'");
        int64_t v = 0;
        while ((c = npy_peek(l)) >= '0' && c <= '9') {
            if (__builtin_mul_overflow(v, (int64_t)10, &v) ||
                __builtin_add_overflow(v, (int64_t)(c - '0'), &v))
                return npy_bad_header(l, "a dimension in 'shape' over 2^63 - 1");
            l->at++;
        }
        if (l->python2 && (npy_peek(l) == 'L' || npy_peek(l) == 'l'))
            l->at++;
        if (n < NPY_MAX_NDIM)
            a->dim[n] = v;
        if (tl < sizeof a->says)
            tl += (size_t)snprintf(a->says + tl, sizeof a->says - tl, "%s%" PRId64,
                                   n ? ", " : "", v);
        n++;
        if (n > 64)
            return npy_bad_header(l, "more than 64 dimensions in 'shape'");
        npy_skip_ws(l);
        comma = npy_peek(l) == ',';
        if (comma)
            l->at++;
    }
    if (n == 1 && !comma)
        return npy_bad_header(l, "'shape' is not a tuple (a 1-tuple needs its comma: "
                              "(N,))");
    l->at++;
    if (tl < sizeof a->says)
        tl += (size_t)snprintf(a->says + tl, sizeof a->says - tl, "%s)", n == 1 ? "," : "");
    a->shape_len = tl < sizeof a->says ? (int)tl : (int)sizeof a->says - 1;
    a->ndim = n;
    return 0;
}

/* The dtype of descr: the kinds numpy writes, each refused by name but the
   ones read here. */
static int npy_dtype(const npy_src *s, const char *descr, npy_array *a)
{
    const dlh_host *host = datasets_host;
    static const struct { char kind; const char *what; } refused[] = {
        { 'c', "complex" }, { 'O', "Python objects" }, { 'S', "byte strings" },
        { 'a', "byte strings" }, { 'U', "unicode strings" }, { 'V', "raw bytes" },
        { 'M', "datetime64" }, { 'm', "timedelta64" },
    };
    char order = descr[0];
    if (order && strchr("<>|=", order)) {
        char kind = descr[1];
        const char *digits = descr + 2;
        int size = 0;
        if (*digits >= '1' && *digits <= '8' && digits[1] == '\0')
            size = *digits - '0';
        int ok = (kind == 'b' && size == 1) ||
                 ((kind == 'i' || kind == 'u') &&
                  (size == 1 || size == 2 || size == 4 || size == 8)) ||
                 (kind == 'f' && (size == 2 || size == 4 || size == 8));
        if (ok) {
            a->kind = kind;
            a->size = size;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            a->swap = size > 1 && order == '>';
#else
            a->swap = size > 1 && order == '<';
#endif
            return 0;
        }
        for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
            if (kind == refused[i].kind) {
                host->error("%s: dtype '%s' (%s) is not supported (expected " NPY_EXPECTED
                            ")", s->name, descr, refused[i].what);
                return DLH_EDATA;
            }
        if (kind == 'f') {
            host->error("%s: dtype '%s' (a %d-byte float) is not supported (expected "
                        NPY_EXPECTED ")", s->name, descr, atoi(digits));
            return DLH_EDATA;
        }
    }
    host->error("%s: dtype '%s' is not supported (expected " NPY_EXPECTED ")", s->name,
                descr);
    return DLH_EDATA;
}

/* Parses the header dict text into a. */
static int npy_dict(const npy_src *s, const char *text, size_t n, int python2,
                    npy_array *a)
{
    const dlh_host *host = datasets_host;
    npy_lex l = { text, n, 0, s->name, python2 };
    char key[32], descr[32] = "";
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0, rc;
    npy_skip_ws(&l);
    if (npy_peek(&l) != '{')
        return npy_bad_header(&l, "expected '{'");
    l.at++;
    for (;;) {
        npy_skip_ws(&l);
        if (npy_peek(&l) == '}')
            break;
        size_t key_at = l.at;
        if ((rc = npy_string(&l, key, sizeof key)))
            return rc;
        npy_skip_ws(&l);
        if (npy_peek(&l) != ':')
            return npy_bad_header(&l, "expected ':' after a key");
        l.at++;
        npy_skip_ws(&l);
        int *have;
        if (strcmp(key, "descr") == 0) {
            have = &have_descr;
            if (npy_peek(&l) == '[') {
                host->error("%s: a structured dtype (a list of fields in 'descr') is "
                            "not supported (expected " NPY_EXPECTED ")", s->name);
                return DLH_EDATA;
            }
            if ((rc = npy_string(&l, descr, sizeof descr)))
                return rc;
        } else if (strcmp(key, "fortran_order") == 0) {
            have = &have_fortran;
            if (npy_word(&l, "True"))
                fortran = 1, l.at += 4;
            else if (npy_word(&l, "False"))
                fortran = 0, l.at += 5;
            else
                return npy_bad_header(&l, "'fortran_order' is not True or False");
        } else if (strcmp(key, "shape") == 0) {
            have = &have_shape;
            if ((rc = npy_shape(&l, a)))
                return rc;
        } else {
            l.at = key_at;
            char what[128];
            snprintf(what, sizeof what, "unexpected key '%.32s' (expected 'descr', "
                     "'fortran_order' and 'shape')", key);
            return npy_bad_header(&l, what);
        }
        if (*have) {
            l.at = key_at;
            char what[64];
            snprintf(what, sizeof what, "key '%s' given twice", key);
            return npy_bad_header(&l, what);
        }
        *have = 1;
        npy_skip_ws(&l);
        if (npy_peek(&l) == ',')
            l.at++;
        else if (npy_peek(&l) != '}')
            return npy_bad_header(&l, "expected ',' or '}'");
    }
    l.at++;
    npy_skip_ws(&l);
    if (l.at < l.n)
        return npy_bad_header(&l, "text after the closing '}'");
    const char *missing = !have_descr ? "descr" : !have_fortran ? "fortran_order"
                        : !have_shape ? "shape" : NULL;
    if (missing) {
        host->error("%s: bad header: no '%s' key (expected 'descr', 'fortran_order' and "
                    "'shape')", s->name, missing);
        return DLH_EDATA;
    }
    if ((rc = npy_dtype(s, descr, a)))
        return rc;
    size_t tl = strlen(a->says);
    snprintf(a->says + tl, sizeof a->says - tl, " %s", descr);
    if (fortran) {
        host->error("%s: fortran_order is True: C order only (np.ascontiguousarray "
                    "first)", s->name);
        return DLH_EDATA;
    }
    return 0;
}

/* ---------------------------------------------------------------- .npy */

/* Reads and checks the preamble and header of the .npy image in a->src, and
   that exactly the data it describes follows. */
static int npy_header(npy_array *a, int top_level)
{
    const dlh_host *host = datasets_host;
    const npy_src *s = &a->src;
    unsigned char pre[12];
    size_t have = s->len < 12 ? (size_t)s->len : 12;
    int rc;
    if (s->len == 0) {
        host->error("%s: empty file", s->name);
        return DLH_EDATA;
    }
    if ((rc = npy_src_read(s, 0, pre, have)))
        return rc;
    int magic = memcmp(pre, "\x93NUMPY", have < 6 ? have : 6) == 0;
    if (magic && have < 10) {
        host->error("%s: truncated: a .npy file starts with 10 bytes or more, this one "
                    "has %zu", s->name, have);
        return DLH_EDATA;
    }
    if (!magic) {
        if (have >= 4 && memcmp(pre, "PK\3\4", 4) == 0 && top_level) {
            host->error("%s: a zip archive (.npz), not a .npy file (name it as path, "
                        "with x and y naming its arrays)", s->name);
            return DLH_EDATA;
        }
        char got[40] = "";
        for (size_t i = 0, k = 0; i < have && i < 6; i++)
            k += (size_t)snprintf(got + k, sizeof got - k, "%s%02x", i ? " " : "", pre[i]);
        host->error("%s: not a .npy file: it starts with %s, expected 93 4e 55 4d 50 59 "
                    "(\\x93NUMPY)", s->name, got);
        return DLH_EDATA;
    }
    int major = pre[6], minor = pre[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0) {
        host->error("%s: .npy format version %d.%d is not supported (expected 1.0, 2.0 "
                    "or 3.0)", s->name, major, minor);
        return DLH_EDATA;
    }
    int64_t start = major == 1 ? 10 : 12;
    if (s->len < start) {
        host->error("%s: truncated: a version %d.0 .npy file starts with 12 bytes, this "
                    "one has %zu", s->name, major, have);
        return DLH_EDATA;
    }
    uint32_t hl = major == 1 ? npy_le16(pre + 8) : npy_le32(pre + 8);
    if (hl > NPY_MAX_HEADER) {
        host->error("%s: header length %" PRIu32 " is over the limit of %d bytes (numpy "
                    "writes a few hundred)", s->name, hl, NPY_MAX_HEADER);
        return DLH_EDATA;
    }
    if (s->len - start < (int64_t)hl) {
        host->error("%s: truncated: the header says it takes %" PRIu32 " bytes, the file "
                    "has %" PRId64 " after the preamble", s->name, hl, s->len - start);
        return DLH_EDATA;
    }
    char *text = malloc((size_t)hl + 1);
    if (!text) {
        host->error("%s: out of memory", s->name);
        return DLH_ENOMEM;
    }
    if ((rc = npy_src_read(s, start, text, hl))) {
        free(text);
        return rc;
    }
    text[hl] = '\0';
    rc = npy_dict(s, text, hl, major < 3, a);
    free(text);
    if (rc)
        return rc;

    a->data_off = start + hl;
    int64_t bytes = a->size, numel = 1;
    int overflow = 0;
    for (int i = 0; i < a->ndim && i < NPY_MAX_NDIM; i++) {
        overflow |= __builtin_mul_overflow(bytes, a->dim[i], &bytes);
        if (i > 0)
            overflow |= __builtin_mul_overflow(numel, a->dim[i], &numel);
    }
    if (a->ndim > NPY_MAX_NDIM) {
        host->error("%s: shape %.*s has %d dimensions, expected at most %d (samples of "
                    "up to %d)", s->name, a->shape_len, a->says, a->ndim, NPY_MAX_NDIM,
                    DLH_MAX_DIMS);
        return DLH_EDATA;
    }
    if (a->ndim == 0) {
        host->error("%s: a 0-d array (shape %.*s) has no sample axis (expected shape "
                    "(N, ...))", s->name, a->shape_len, a->says);
        return DLH_EDATA;
    }
    if (a->dim[0] == 0) {
        host->error("%s: no samples (shape %.*s)", s->name, a->shape_len, a->says);
        return DLH_EDATA;
    }
    for (int i = 1; i < a->ndim; i++)
        if (a->dim[i] == 0) {
            host->error("%s: empty samples (shape %.*s)", s->name, a->shape_len,
                        a->says);
            return DLH_EDATA;
        }
    if (overflow) {
        host->error("%s: header says %s: too large to address", s->name, a->says);
        return DLH_EDATA;
    }
    a->numel = numel;
    a->data_bytes = bytes;
    int64_t after = s->len - a->data_off;
    if (after < bytes) {
        host->error("%s: truncated: header says %s = %" PRId64 " data bytes, file has %"
                    PRId64 " after the header", s->name, a->says, bytes, after);
        return DLH_EDATA;
    }
    if (after > bytes) {
        host->error("%s: trailing bytes: header says %s = %" PRId64 " data bytes, file "
                    "has %" PRId64 " after the header", s->name, a->says, bytes, after);
        return DLH_EDATA;
    }
    return 0;
}

/* IEEE half to float, subnormals, infinities and NaN included. */
static float npy_half(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = h >> 10 & 0x1f, man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | man << 13;
    } else if (exp == 0) {
        float f = (float)man * 0x1p-24f;      /* exact: man < 2^10 */
        return sign ? -f : f;
    } else {
        bits = sign | (exp + 112) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Element p of a's dtype as a float, and as a double for messages. */
static float npy_elem(const npy_array *a, const unsigned char *p, double *exact)
{
    unsigned char b[8];
    if (a->swap) {
        for (int i = 0; i < a->size; i++)
            b[i] = p[a->size - 1 - i];
        p = b;
    }
    double d;
    float f;
    switch (a->kind << 4 | a->size) {
    case 'b' << 4 | 1: f = p[0] ? 1.0f : 0.0f; d = f; break;
    case 'i' << 4 | 1: f = (float)(int8_t)p[0]; d = f; break;
    case 'u' << 4 | 1: f = (float)p[0]; d = f; break;
    case 'i' << 4 | 2: { int16_t v; memcpy(&v, p, 2); f = (float)v; d = v; break; }
    case 'u' << 4 | 2: { uint16_t v; memcpy(&v, p, 2); f = (float)v; d = v; break; }
    case 'i' << 4 | 4: { int32_t v; memcpy(&v, p, 4); f = (float)v; d = v; break; }
    case 'u' << 4 | 4: { uint32_t v; memcpy(&v, p, 4); f = (float)v; d = v; break; }
    case 'i' << 4 | 8: { int64_t v; memcpy(&v, p, 8); f = (float)v; d = (double)v; break; }
    case 'u' << 4 | 8: { uint64_t v; memcpy(&v, p, 8); f = (float)v; d = (double)v; break; }
    case 'f' << 4 | 2: { uint16_t v; memcpy(&v, p, 2); f = npy_half(v); d = f; break; }
    case 'f' << 4 | 4: memcpy(&f, p, 4); d = f; break;
    default: memcpy(&d, p, 8); f = (float)d; break;
    }
    if (exact)
        *exact = d;
    return f;
}

/* Converts rows [first, first + rows) of a into out (rows * numel floats)
   through buf (NPY_CHUNK bytes), refusing values that are not finite
   floats. */
static int npy_convert_at(const npy_array *a, int64_t first, int64_t rows, float *out,
                          unsigned char *buf)
{
    const dlh_host *host = datasets_host;
    int64_t total = rows * a->numel, done = 0, per = NPY_CHUNK / a->size;
    int64_t base = first * a->numel;
    int native_f32 = a->kind == 'f' && a->size == 4 && !a->swap;
    int rc = 0;
    while (done < total) {
        int64_t k = total - done < per ? total - done : per;
        const unsigned char *p = buf;
        if (a->src.mem)
            p = a->src.mem + a->data_off + (base + done) * a->size;
        else if ((rc = npy_src_read(&a->src, a->data_off + (base + done) * a->size, buf,
                                    (size_t)(k * a->size))))
            break;
        if (native_f32)
            memcpy(out + done, p, (size_t)k * sizeof(float));
        else
            for (int64_t i = 0; i < k; i++)
                out[done + i] = npy_elem(a, p + i * a->size, NULL);
        if (a->kind == 'f')
            for (int64_t i = 0; i < k; i++)
                if (!isfinite(out[done + i])) {
                    double d;
                    npy_elem(a, p + i * a->size, &d);
                    int64_t e = base + done + i;
                    host->error("%s: sample %" PRId64 ", element %" PRId64 ": %g is not a "
                                "finite float32 value", a->src.name, e / a->numel,
                                e % a->numel, d);
                    return DLH_EDATA;
                }
        done += k;
    }
    return rc;
}

/* Converts rows [0, rows) of a into out (rows * numel floats). */
static int npy_convert(const npy_array *a, int64_t rows, float *out)
{
    unsigned char *buf = malloc(NPY_CHUNK);
    if (!buf) {
        datasets_host->error("%s: out of memory", a->src.name);
        return DLH_ENOMEM;
    }
    int rc = npy_convert_at(a, 0, rows, out, buf);
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------- .npz */

typedef struct npz_archive {
    const char *path;
    int fd;                     /* borrowed */
    int64_t size;
    unsigned char *cd;          /* the central directory */
    int64_t cd_off, cd_size, entries;
} npz_archive;

static int npz_bad(const npz_archive *z, const char *what)
{
    datasets_host->error("%s: not a valid zip archive (.npz): %s", z->path, what);
    return DLH_EDATA;
}

/* Finds the end records and reads the central directory into z->cd. */
static int npz_open(npz_archive *z)
{
    const dlh_host *host = datasets_host;
    int rc;
    unsigned char head[6];
    if (z->size >= 6 && (rc = npy_pread(z->fd, z->path, 0, head, 6)))
        return rc;
    if (z->size >= 6 && memcmp(head, "\x93NUMPY", 6) == 0) {
        host->error("%s: a .npy file, not an .npz archive (name it as x, without path)",
                    z->path);
        return DLH_EDATA;
    }
    if (z->size < 22) {
        host->error("%s: not a zip archive (.npz): %" PRId64 " bytes, shorter than a zip "
                    "end record (22)", z->path, z->size);
        return DLH_EDATA;
    }
    /* The end record is the last 22 bytes but a comment of up to 65535. */
    int64_t tail_len = z->size < 22 + 65535 ? z->size : 22 + 65535;
    unsigned char *tail = malloc((size_t)tail_len);
    if (!tail) {
        host->error("%s: out of memory", z->path);
        return DLH_ENOMEM;
    }
    if ((rc = npy_pread(z->fd, z->path, z->size - tail_len, tail, (size_t)tail_len))) {
        free(tail);
        return rc;
    }
    int64_t e = -1;
    for (int64_t i = tail_len - 22; i >= 0; i--)
        if (memcmp(tail + i, "PK\5\6", 4) == 0 &&
            i + 22 + npy_le16(tail + i + 20) == tail_len) {
            e = i;
            break;
        }
    if (e < 0) {
        free(tail);
        host->error("%s: not a zip archive (.npz): no end of central directory record",
                    z->path);
        return DLH_EDATA;
    }
    const unsigned char *r = tail + e;
    int64_t eocd = z->size - tail_len + e;
    unsigned disk = npy_le16(r + 4), cd_disk = npy_le16(r + 6);
    uint64_t n_disk = npy_le16(r + 8), n = npy_le16(r + 10);
    uint64_t cd_size = npy_le32(r + 12), cd_off = npy_le32(r + 16);
    free(tail);
    int64_t cd_end = eocd;      /* where the central directory must end */
    if (n == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu) {
        /* ZIP64: a locator just before the end record points at the real one. */
        unsigned char loc[20], z64[56];
        if (eocd < 20 || (rc = npy_pread(z->fd, z->path, eocd - 20, loc, 20)))
            return rc ? rc : npz_bad(z, "ZIP64 sizes without a ZIP64 locator");
        if (npy_le32(loc) != 0x07064b50)
            return npz_bad(z, "ZIP64 sizes without a ZIP64 locator");
        uint64_t at = npy_le64(loc + 8);
        if (npy_le32(loc + 4) != 0 || npy_le32(loc + 16) != 1)
            return npz_bad(z, "a multi-part archive (not supported)");
        if (at > (uint64_t)(eocd - 20) || eocd - 20 - (int64_t)at < 56)
            return npz_bad(z, "the ZIP64 end record is outside the file");
        if ((rc = npy_pread(z->fd, z->path, (int64_t)at, z64, 56)))
            return rc;
        if (npy_le32(z64) != 0x06064b50)
            return npz_bad(z, "no ZIP64 end record where its locator points");
        disk = npy_le32(z64 + 16);
        cd_disk = npy_le32(z64 + 20);
        n_disk = npy_le64(z64 + 24);
        n = npy_le64(z64 + 32);
        cd_size = npy_le64(z64 + 40);
        cd_off = npy_le64(z64 + 48);
        cd_end = (int64_t)at;
    }
    if (disk != 0 || cd_disk != 0 || n_disk != n)
        return npz_bad(z, "a multi-part archive (not supported)");
    if (cd_off > (uint64_t)cd_end || cd_size > (uint64_t)cd_end - cd_off) {
        char what[160];
        snprintf(what, sizeof what, "the central directory (%" PRIu64 " bytes at %" PRIu64
                 ") runs past its end record at %" PRId64, cd_size, cd_off, cd_end);
        return npz_bad(z, what);
    }
    /* Each entry takes 46 bytes or more. */
    if (n > cd_size / 46)
        return npz_bad(z, "more entries than its central directory can hold");
    z->cd = malloc(cd_size ? (size_t)cd_size : 1);
    if (!z->cd) {
        host->error("%s: out of memory", z->path);
        return DLH_ENOMEM;
    }
    z->cd_off = (int64_t)cd_off;
    z->cd_size = (int64_t)cd_size;
    z->entries = (int64_t)n;
    return npy_pread(z->fd, z->path, z->cd_off, z->cd, (size_t)cd_size);
}

/* One entry of the central directory. */
typedef struct npz_entry {
    const unsigned char *name;
    size_t name_len;
    unsigned flags, method;
    uint32_t crc;
    uint64_t csize, usize, local;
} npz_entry;

/* Entry at *pos of the directory, moving *pos past it. */
static int npz_entry_at(const npz_archive *z, int64_t *pos, npz_entry *e)
{
    const unsigned char *p = z->cd + *pos;
    int64_t left = z->cd_size - *pos;
    if (left < 46 || npy_le32(p) != 0x02014b50)
        return npz_bad(z, "a broken central directory entry");
    size_t n = npy_le16(p + 28), x = npy_le16(p + 30), c = npy_le16(p + 32);
    if ((int64_t)(46 + n + x + c) > left)
        return npz_bad(z, "a central directory entry runs past the directory's end");
    e->flags = npy_le16(p + 8);
    e->method = npy_le16(p + 10);
    e->crc = npy_le32(p + 16);
    e->csize = npy_le32(p + 20);
    e->usize = npy_le32(p + 24);
    e->local = npy_le32(p + 42);
    e->name = p + 46;
    e->name_len = n;
    /* ZIP64: the fields that hold 0xffffffff come, in this order, from
       extra field 1. */
    uint64_t *big[3] = { &e->usize, &e->csize, &e->local };
    int need = 0;
    for (int i = 0; i < 3; i++)
        need += *big[i] == 0xffffffffu;
    if (need) {
        const unsigned char *ex = p + 46 + n;
        size_t f = 0;
        while (f + 4 <= x && npy_le16(ex + f) != 1)
            f += 4 + (size_t)npy_le16(ex + f + 2);
        if (f + 4 > x)
            return npz_bad(z, "a ZIP64 size without its ZIP64 extra field");
        if (npy_le16(ex + f + 2) < 8 * need || f + 4 + 8 * (size_t)need > x)
            return npz_bad(z, "a ZIP64 extra field too short for its sizes");
        int k = 0;
        for (int i = 0; i < 3; i++)
            if (*big[i] == 0xffffffffu)
                *big[i] = npy_le64(ex + f + 4 + 8 * k++);
    }
    *pos += 46 + (int64_t)(n + x + c);
    return 0;
}

/* A stored member: its region of the file, CRC-32 into *crc. */
static int npz_stored(const npz_archive *z, const npz_entry *e, int64_t data, npy_src *src,
                      uLong *crc)
{
    const dlh_host *host = datasets_host;
    int rc = 0;
    if (e->csize != e->usize) {
        host->error("%s: stored, but its sizes differ (%" PRIu64 " compressed, %"
                    PRIu64 " not)", src->name, e->csize, e->usize);
        return DLH_EDATA;
    }
    src->off = data;
    src->len = (int64_t)e->usize;
    unsigned char *buf = malloc(NPY_CHUNK);
    if (!buf) {
        host->error("%s: out of memory", src->name);
        return DLH_ENOMEM;
    }
    for (int64_t at = 0; at < src->len && !rc; at += NPY_CHUNK) {
        size_t k = src->len - at < NPY_CHUNK ? (size_t)(src->len - at) : NPY_CHUNK;
        if (!(rc = npy_pread(z->fd, src->name, data + at, buf, k)))
            *crc = crc32(*crc, buf, (uInt)k);
    }
    free(buf);
    return rc;
}

/* A deflated member: inflated into src->mem, never past the size its entry
   claims, CRC-32 into *crc. */
static int npz_inflate(const npz_archive *z, const npz_entry *e, int64_t data,
                       npy_src *src, uLong *crc)
{
    const dlh_host *host = datasets_host;
    int rc;
    if (e->usize > e->csize * NPY_DEFLATE_RATIO + NPY_DEFLATE_RATIO) {
        host->error("%s: claims %" PRIu64 " bytes from %" PRIu64 " deflated ones, "
                    "more than deflate can produce", src->name, e->usize, e->csize);
        return DLH_EDATA;
    }
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
        host->error("%s: cannot start inflating: out of memory", src->name);
        return DLH_ENOMEM;
    }
    unsigned char *in = malloc(NPY_CHUNK);
    unsigned char *out = NULL;
    int64_t cap = 0, len = 0, in_at = 0;
    int zr = Z_OK;
    rc = in ? 0 : DLH_ENOMEM;
    if (!in)
        host->error("%s: out of memory", src->name);
    while (!rc && zr != Z_STREAM_END) {
        if (zs.avail_in == 0) {
            if (in_at == (int64_t)e->csize) {
                host->error("%s: corrupt deflate data: the stream is cut off after %"
                            PRId64 " bytes (the archive says %" PRIu64 ")", src->name,
                            len, e->usize);
                rc = DLH_EDATA;
                break;
            }
            size_t k = (int64_t)e->csize - in_at < NPY_CHUNK
                     ? (size_t)((int64_t)e->csize - in_at) : NPY_CHUNK;
            if ((rc = npy_pread(z->fd, src->name, data + in_at, in, k)))
                break;
            in_at += (int64_t)k;
            zs.next_in = in;
            zs.avail_in = (uInt)k;
        }
        if (len == cap) {
            /* One byte past the claimed size, to see a stream that is longer. */
            int64_t limit = (int64_t)e->usize + 1;
            int64_t ncap = cap ? cap * 2 : (int64_t)1 << 16;
            if (ncap > limit)
                ncap = limit;
            if (ncap == cap) {
                host->error("%s: corrupt deflate data: it inflates to more than the %"
                            PRIu64 " bytes the archive says", src->name, e->usize);
                rc = DLH_EDATA;
                break;
            }
            unsigned char *nb = realloc(out, (size_t)ncap);
            if (!nb) {
                host->error("%s: out of memory for %" PRId64 " bytes", src->name, ncap);
                rc = DLH_ENOMEM;
                break;
            }
            out = nb;
            cap = ncap;
        }
        /* uInt counts 32 bits: never hand inflate more room than that. */
        uInt room = cap - len > (1 << 30) ? 1u << 30 : (uInt)(cap - len);
        zs.next_out = out + len;
        zs.avail_out = room;
        zr = inflate(&zs, Z_NO_FLUSH);
        len += room - zs.avail_out;
        if (zr == Z_DATA_ERROR) {
            host->error("%s: corrupt deflate data: %s", src->name,
                        zs.msg ? zs.msg : "invalid stream");
            rc = DLH_EDATA;
        } else if (zr == Z_MEM_ERROR) {
            host->error("%s: out of memory inflating", src->name);
            rc = DLH_ENOMEM;
        } else if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
            host->error("%s: inflating failed (zlib status %d)", src->name, zr);
            rc = DLH_EDATA;
        }
    }
    inflateEnd(&zs);
    free(in);
    if (!rc && len != (int64_t)e->usize) {
        host->error("%s: inflates to %" PRId64 " bytes, the archive says %" PRIu64,
                    src->name, len, e->usize);
        rc = DLH_EDATA;
    }
    if (rc) {
        free(out);
        return rc;
    }
    src->mem = out;
    src->len = len;
    for (int64_t at = 0; at < len; at += 1 << 30) {
        int64_t k = len - at < (1 << 30) ? len - at : (1 << 30);
        *crc = crc32(*crc, out + at, (uInt)k);
    }
    return 0;
}

/* Finds member `want` (exactly, else want + ".npy", as np.load's keys) and
   puts its bytes in *src: the file region of a stored member, or the
   inflated bytes of a deflated one; each checked against its CRC-32. */
static int npz_member(const npz_archive *z, const char *key, const char *want,
                      npy_src *src)
{
    const dlh_host *host = datasets_host;
    char with_ext[300];
    snprintf(with_ext, sizeof with_ext, "%s.npy", want);
    npz_entry e, found[2];
    int n_found[2] = { 0, 0 };
    char listing[200] = "";
    size_t ll = 0;
    int listed_all = 1;
    int64_t pos = 0;
    int rc;
    for (int64_t i = 0; i < z->entries; i++) {
        if ((rc = npz_entry_at(z, &pos, &e)))
            return rc;
        for (int k = 0; k < 2; k++) {
            const char *w = k ? with_ext : want;
            if (e.name_len == strlen(w) && memcmp(e.name, w, e.name_len) == 0) {
                found[k] = e;
                n_found[k]++;
            }
        }
        /* The array names, for a message that a member is missing. */
        size_t shown = e.name_len;
        if (shown >= 4 && memcmp(e.name + shown - 4, ".npy", 4) == 0)
            shown -= 4;
        if (ll + shown + 8 < sizeof listing) {
            ll += (size_t)snprintf(listing + ll, sizeof listing - ll, "%s'", ll ? ", " : "");
            for (size_t j = 0; j < shown; j++)
                listing[ll++] = e.name[j] >= 0x20 && e.name[j] < 0x7f ? (char)e.name[j] : '?';
            listing[ll++] = '\'';
            listing[ll] = '\0';
        } else {
            listed_all = 0;
        }
    }
    if (pos != z->cd_size)
        return npz_bad(z, "bytes after the last central directory entry");
    int k = n_found[0] ? 0 : 1;
    const char *name = k ? with_ext : want;
    if (!n_found[k]) {
        host->error("%s: no array '%s' (parameter '%s') in the archive (it holds %s%s)",
                    z->path, want, key, z->entries ? listing : "nothing",
                    listed_all ? "" : ", ...");
        return DLH_EDATA;
    }
    if (!(src->name = npy_strdupf(z->path, name))) {
        host->error("%s: out of memory", z->path);
        return DLH_ENOMEM;
    }
    src->fd = z->fd;
    if (n_found[k] > 1) {
        host->error("%s: the archive holds %s twice", z->path, name);
        return DLH_EDATA;
    }
    e = found[k];
    if (e.flags & 1) {
        host->error("%s: encrypted (not supported)", src->name);
        return DLH_EDATA;
    }
    if (e.method != 0 && e.method != 8) {
        host->error("%s: compression method %u is not supported (expected 0, stored, or "
                    "8, deflated: np.savez or np.savez_compressed)", src->name, e.method);
        return DLH_EDATA;
    }
    /* The local header repeats the name; its own sizes may be zeros or
       ZIP64 placeholders, so the directory's are the ones used. */
    unsigned char lh[30];
    if (e.local > (uint64_t)z->cd_off || (uint64_t)z->cd_off - e.local < 30) {
        host->error("%s: its local header (at %" PRIu64 ") is not before the central "
                    "directory", src->name, e.local);
        return DLH_EDATA;
    }
    if ((rc = npy_pread(z->fd, src->name, (int64_t)e.local, lh, 30)))
        return rc;
    size_t ln = npy_le16(lh + 26), lx = npy_le16(lh + 28);
    int64_t data = (int64_t)e.local + 30 + (int64_t)(ln + lx);
    if (npy_le32(lh) != 0x04034b50 || ln != e.name_len) {
        host->error("%s: broken local header at %" PRIu64, src->name, e.local);
        return DLH_EDATA;
    }
    if (data > z->cd_off || e.csize > (uint64_t)(z->cd_off - data)) {
        host->error("%s: %" PRIu64 " compressed bytes at %" PRId64 " run into the central "
                    "directory at %" PRId64, src->name, e.csize, data, z->cd_off);
        return DLH_EDATA;
    }
    char lname[256];
    size_t cmp = ln < sizeof lname ? ln : sizeof lname;
    if ((rc = npy_pread(z->fd, src->name, (int64_t)e.local + 30, lname, cmp)))
        return rc;
    if (memcmp(lname, e.name, cmp) != 0) {
        host->error("%s: the local header names another file", src->name);
        return DLH_EDATA;
    }

    uLong crc = crc32(0L, Z_NULL, 0);
    if ((rc = e.method == 0 ? npz_stored(z, &e, data, src, &crc)
                            : npz_inflate(z, &e, data, src, &crc)))
        return rc;
    if ((uint32_t)crc != e.crc) {
        host->error("%s: CRC-32 mismatch: the archive says %08" PRIx32 ", the data gives "
                    "%08" PRIx32, src->name, e.crc, (uint32_t)crc);
        return DLH_EDATA;
    }
    return 0;
}

/* ---------------------------------------------------------------- the reader */

static int npy_open_file(dlh_params *p, const char *key, const char *path, FILE **f,
                         npy_array *a)
{
    struct stat st;
    int rc;
    if (!(*f = datasets_fopen(p, key, path, &st, &rc)))
        return rc;
    if (!(a->src.name = npy_strdupf(path, NULL))) {
        datasets_host->error("%s: out of memory", path);
        return DLH_ENOMEM;
    }
    a->src.fd = fileno(*f);
    a->src.len = (int64_t)st.st_size;
    return npy_header(a, 1);
}

static int npy_open(const dlh_host *host, dlh_params *p, void **state)
{
    static const char *const label_names[] = { "class", "dense", "none", NULL };
    enum { AUTO = -1, CLASS = 0, DENSE = 1, NONE = 2 };
    npy_state *st = calloc(1, sizeof *st);
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    *state = st;

    const char *path, *xs = NULL, *ys = NULL, *ws = NULL;
    const int64_t all = INT64_MAX;
    int64_t limit;
    int label = AUTO, rc;
    const int no = 0;
    if ((rc = host->param_path(p, "path", "", &path)) ||
        (rc = host->param_int(p, "limit", &all, 1, INT64_MAX, &limit)) ||
        (rc = host->param_bool(p, "stream", &no, &st->stream)))
        return rc;
    if (host->param_has(p, "label") &&
        (rc = host->param_choice(p, "label", label_names, CLASS, &label)))
        return rc;
    if (label == NONE && host->param_has(p, "y"))
        return host->param_error(p, "y", "parameter 'y' is not read with label = "
                                 "\"none\"");
    if (*path) {
        /* x and y name members here, paths otherwise: one table default ""
           for both readings, the members' names applied here. */
        if ((rc = host->param_string(p, "x", "", &xs)) ||
            (label != NONE && (rc = host->param_string(p, "y", "", &ys))) ||
            (rc = host->param_string(p, "weights", "", &ws)))
            return rc;
        if (!host->param_has(p, "x"))
            xs = "x";
        if (label != NONE && !host->param_has(p, "y"))
            ys = "y";
    } else {
        if ((rc = host->param_path(p, "x", NULL, &xs)) ||
            (label != NONE && (rc = host->param_path(p, "y", "", &ys))) ||
            (rc = host->param_path(p, "weights", "", &ws)))
            return rc;
        if (label != NONE && !*ys)
            return host->param_error(p, NULL, "parameter 'y' is missing: it names the "
                                     "labels' .npy file (label = \"none\" reads none)");
    }

    if (!*ws)
        ws = NULL;
    FILE *fz = NULL, *fx = NULL, *fy = NULL, *fw = NULL;
    npz_archive z;
    npy_array ax, ay, aw;
    float *yall = NULL;
    memset(&z, 0, sizeof z);
    memset(&ax, 0, sizeof ax);
    memset(&ay, 0, sizeof ay);
    memset(&aw, 0, sizeof aw);
    if (*path) {
        struct stat sz;
        if (!(fz = datasets_fopen(p, "path", path, &sz, &rc)))
            goto out;
        z.path = path;
        z.fd = fileno(fz);
        z.size = (int64_t)sz.st_size;
        if ((rc = npz_open(&z)) || (rc = npz_member(&z, "x", xs, &ax.src)) ||
            (rc = npy_header(&ax, 0)))
            goto out;
        if (ys && ((rc = npz_member(&z, "y", ys, &ay.src)) || (rc = npy_header(&ay, 0))))
            goto out;
        if (ws && ((rc = npz_member(&z, "weights", ws, &aw.src)) ||
                   (rc = npy_header(&aw, 0))))
            goto out;
    } else {
        if ((rc = npy_open_file(p, "x", xs, &fx, &ax)))
            goto out;
        if (ys && (rc = npy_open_file(p, "y", ys, &fy, &ay)))
            goto out;
        if (ws && (rc = npy_open_file(p, "weights", ws, &fw, &aw)))
            goto out;
    }
    if (!(st->name = npy_strdupf(ax.src.name, NULL))) {
        host->error("out of memory");
        rc = DLH_ENOMEM;
        goto out;
    }

    /* Shapes first, so that mismatched arrays fail before any conversion. */
    st->sample.ndim = ax.ndim > 1 ? ax.ndim - 1 : 1;
    st->sample.dim[0] = 1;
    for (int i = 1; i < ax.ndim; i++)
        st->sample.dim[i - 1] = ax.dim[i];
    st->numel = ax.numel;
    if (ys) {
        if (ay.dim[0] != ax.dim[0]) {
            host->error("%s: %" PRId64 " labels (shape %.*s), %s has %" PRId64 " samples "
                        "(the first axes must agree)", ay.src.name, ay.dim[0],
                        ay.shape_len, ay.says, ax.src.name, ax.dim[0]);
            rc = DLH_EDATA;
            goto out;
        }
        if (label == AUTO)
            label = ay.ndim == 1 && ay.kind != 'f' ? CLASS : DENSE;
        if (label == CLASS && ay.numel != 1) {
            host->error("%s: class labels are one number per sample, shape (N,); this y "
                        "is %s (label = \"dense\" reads it as vectors)", ay.src.name,
                        ay.says);
            rc = DLH_EDATA;
            goto out;
        }
        st->label_kind = label == CLASS ? DLH_LABEL_CLASS : DLH_LABEL_DENSE;
        st->label_numel = ay.numel;
        if (label == DENSE) {
            st->label.ndim = ay.ndim > 1 ? ay.ndim - 1 : 1;
            st->label.dim[0] = 1;
            for (int i = 1; i < ay.ndim; i++)
                st->label.dim[i - 1] = ay.dim[i];
        }
    }

    if (ws && (aw.dim[0] != ax.dim[0] || aw.numel != 1)) {
        host->error("%s: sample weights are one number per sample, shape (%" PRId64 ",); "
                    "this array is %.*s", aw.src.name, ax.dim[0], aw.shape_len, aw.says);
        rc = DLH_EDATA;
        goto out;
    }

    st->n = limit < ax.dim[0] ? limit : ax.dim[0];
    if (st->stream) {
        /* x stays where it is: its array and file move into st. */
        if (!(st->chunk = malloc(NPY_CHUNK))) {
            host->error("%s: out of memory", ax.src.name);
            rc = DLH_ENOMEM;
            goto out;
        }
        st->sx = ax;
        memset(&ax, 0, sizeof ax);
        st->sf = fz ? fz : fx;
        if (fz)
            fz = NULL;
        else
            fx = NULL;
    } else {
        /* n * numel elements lie in the file (checked), so these fit. */
        st->x = malloc((size_t)(st->n * st->numel) * sizeof(float));
        if (!st->x) {
            host->error("%s: out of memory for %" PRId64 " samples", ax.src.name, st->n);
            rc = DLH_ENOMEM;
            goto out;
        }
        if ((rc = npy_convert(&ax, st->n, st->x)))
            goto out;
    }

    if (st->label_kind == DLH_LABEL_CLASS) {
        /* Every label is checked, and counts toward n_classes. */
        int64_t n_all = ay.dim[0];
        yall = malloc((size_t)n_all * sizeof(float));
        if (!yall) {
            host->error("%s: out of memory for %" PRId64 " labels", ay.src.name, n_all);
            rc = DLH_ENOMEM;
            goto out;
        }
        if ((rc = npy_convert(&ay, n_all, yall)))
            goto out;
        int64_t max_label = -1;
        for (int64_t i = 0; i < n_all; i++) {
            float v = yall[i];
            if (!(v >= 0.0f && v < NPY_MAX_CLASS && v == floorf(v))) {
                host->error("%s: label %g of sample %" PRId64 " is not a class index (a "
                            "whole number in [0, 16777216))", ay.src.name, (double)v, i);
                rc = DLH_EDATA;
                goto out;
            }
            yall[i] = v + 0.0f;     /* -0 becomes 0 */
            if ((int64_t)v > max_label)
                max_label = (int64_t)v;
        }
        st->n_classes = max_label + 1;
        st->y = yall;
        yall = NULL;
    } else if (st->label_kind == DLH_LABEL_DENSE) {
        st->y = malloc((size_t)(st->n * st->label_numel) * sizeof(float));
        if (!st->y) {
            host->error("%s: out of memory for %" PRId64 " labels", ay.src.name, st->n);
            rc = DLH_ENOMEM;
            goto out;
        }
        if ((rc = npy_convert(&ay, st->n, st->y)))
            goto out;
    }
    if (ws) {
        if (!(st->w = malloc((size_t)st->n * sizeof(float)))) {
            host->error("%s: out of memory for %" PRId64 " weights", aw.src.name, st->n);
            rc = DLH_ENOMEM;
            goto out;
        }
        if ((rc = npy_convert(&aw, st->n, st->w)))
            goto out;
        for (int64_t i = 0; i < st->n; i++) {
            if (!(st->w[i] >= 0.0f)) {
                host->error("%s: weight %g of sample %" PRId64 " is negative (sample "
                            "weights are >= 0)", aw.src.name, (double)st->w[i], i);
                rc = DLH_EDATA;
                goto out;
            }
        }
    }
out:
    free(yall);
    npy_array_free(&ax);
    npy_array_free(&ay);
    npy_array_free(&aw);
    free(z.cd);
    if (fz)
        fclose(fz);
    if (fx)
        fclose(fx);
    if (fy)
        fclose(fy);
    if (fw)
        fclose(fw);
    return rc;
}

static int npy_info(void *state, dlh_dataset_info *info)
{
    npy_state *st = state;
    info->n_samples = st->n;
    info->sample = st->sample;
    info->label_kind = st->label_kind;
    info->n_classes = st->n_classes;
    info->label = st->label;
    if (info->struct_size >= offsetof(dlh_dataset_info, sample_weights) +
                             sizeof info->sample_weights)
        info->sample_weights = st->w != NULL;
    return 0;
}

static int npy_read_weights(void *state, const int64_t *idx, size_t n, float *w)
{
    npy_state *st = state;
    for (size_t i = 0; i < n; i++) {
        if (!st->w || idx[i] < 0 || idx[i] >= st->n) {
            datasets_host->error("%s: no weight for sample %" PRId64, st->name, idx[i]);
            return DLH_EINVAL;
        }
        w[i] = st->w[idx[i]];
    }
    return 0;
}

static int npy_read(void *state, const int64_t *idx, size_t n, float *x, float *y)
{
    npy_state *st = state;
    for (size_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= st->n) {
            datasets_host->error("%s: sample index %" PRId64 " is out of range [0, %"
                                 PRId64 ")", st->name, idx[i], st->n);
            return DLH_EINVAL;
        }
    size_t nx = (size_t)st->numel, ny = (size_t)st->label_numel;
    for (size_t i = 0; i < n; i++) {
        int rc = st->stream ? npy_convert_at(&st->sx, idx[i], 1, x + i * nx, st->chunk) : 0;
        if (rc)
            return rc;
        if (!st->stream)
            memcpy(x + i * nx, st->x + (size_t)idx[i] * nx, nx * sizeof(float));
        if (y && st->y)
            memcpy(y + i * ny, st->y + (size_t)idx[i] * ny, ny * sizeof(float));
    }
    return 0;
}

static void npy_close(void *state)
{
    npy_state *st = state;
    if (!st)
        return;
    free(st->x);
    free(st->y);
    free(st->w);
    free(st->name);
    free(st->chunk);
    npy_array_free(&st->sx);
    if (st->sf)
        fclose(st->sf);
    free(st);
}

const dlh_dataset_ops npy_ops = {
    .struct_size = sizeof(dlh_dataset_ops),
    .open = npy_open,
    .info = npy_info,
    .read = npy_read,
    .close = npy_close,
    .read_weights = npy_read_weights,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc npy_params[] = {
    { "path", DLH_PARAM_PATH, "", 0, 0, NULL, "an .npz archive holding x, y and weights; unset: x and y are .npy files" },
    { "limit", DLH_PARAM_INT, "9223372036854775807", 1, INT64_MAX, NULL, "read at most this many samples (the first ones); the default: all" },
    { "stream", DLH_PARAM_BOOL, "false", 0, 0, NULL, "convert x from the file at each read instead of holding it as floats" },
    { "label", DLH_PARAM_CHOICE, "class", 0, 0, "class|dense|none", "how y is read; unset: class for integer y of one value per sample, else dense" },
    { "x", DLH_PARAM_OTHER, "", 0, 0, NULL, "the features: an .npy path, or the member's name in path (unset: x); required without path" },
    { "y", DLH_PARAM_OTHER, "", 0, 0, NULL, "the labels: an .npy path, or the member's name in path (unset: y); required without path unless label = none" },
    { "weights", DLH_PARAM_OTHER, "", 0, 0, NULL, "per-sample loss weights: an .npy path, or the member's name in path; unset: none" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
