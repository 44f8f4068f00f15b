/* safetensors: a strict reader and an atomic writer.
 *
 * The writer produces what the reference (Rust/Python) writer produces: the
 * header as compact JSON with "__metadata__" first, then the tensors in the
 * caller's order with contiguous offsets, padded with spaces to a multiple of
 * 8 bytes so that the data section stays aligned.  The reader accepts what
 * the reference reader accepts for F32, I32 and I64, and refuses everything else
 * with the file name and the reason; no count from the file sizes an
 * allocation before it is checked against the file's length.  Tensor bytes
 * are little-endian on disk and copied as they are: dlhost targets little-
 * endian hosts. */
#define _GNU_SOURCE 1             /* mkostemp */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "file.h"

/* The reference reader's bound (safetensors' MAX_HEADER_SIZE). */
#define ST_MAX_HEADER 100000000ull

/* ------------------------------------------------------------ atomic files */

typedef dlh_atomic_file atomic_file;   /* safetensors.h */

static int atomic_open(atomic_file *af, const char *path)
{
    memset(af, 0, sizeof *af);
    af->path = path;
    af->fd = -1;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base) {
        dlh_error_set("%s: not a file name", path);
        return DLH_EINVAL;
    }
    size_t dlen = slash ? (size_t)(slash - path) : 1;
    if (slash && dlen == 0)
        dlen = 1;                   /* "/name": the folder is "/" */
    size_t tlen = dlen + strlen(base) + sizeof "/..tmp-XXXXXX";
    af->dir = malloc(dlen + 1);
    af->tmp = malloc(tlen);
    if (!af->dir || !af->tmp) {
        free(af->dir);
        free(af->tmp);
        af->dir = af->tmp = NULL;
        dlh_error_set("%s: out of memory", path);
        return DLH_ENOMEM;
    }
    if (slash)
        memcpy(af->dir, path, dlen);
    else
        af->dir[0] = '.';
    af->dir[dlen] = '\0';
    snprintf(af->tmp, tlen, "%s/.%s.tmp-XXXXXX", af->dir, base);
    af->fd = mkostemp(af->tmp, O_CLOEXEC);
    if (af->fd < 0) {
        dlh_error_set("%s: cannot create a temporary file in '%s': %s", path, af->dir,
                      strerror(errno));
        free(af->tmp);
        free(af->dir);
        af->tmp = af->dir = NULL;
        return DLH_EIO;
    }
    /* mkstemp makes 0600; a checkpoint is as readable as any output file. */
    if (fchmod(af->fd, 0644) < 0) {
        dlh_error_set("%s: chmod of the temporary file failed: %s", path, strerror(errno));
        return DLH_EIO;
    }
    return 0;
}

static int atomic_write(atomic_file *af, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(af->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            dlh_error_set("%s: write failed: %s", af->path,
                          w < 0 ? strerror(errno) : "no progress");
            return DLH_EIO;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Removes the temporary file; the target was never touched. */
static void atomic_abort(atomic_file *af)
{
    if (af->fd >= 0)
        close(af->fd);
    if (af->tmp)
        unlink(af->tmp);
    free(af->tmp);
    free(af->dir);
    af->fd = -1;
    af->tmp = af->dir = NULL;
}

static int atomic_commit(atomic_file *af)
{
    int rc = 0;
    if (fsync(af->fd) < 0) {
        dlh_error_set("%s: fsync failed: %s", af->path, strerror(errno));
        atomic_abort(af);
        return DLH_EIO;
    }
    int fd = af->fd;
    af->fd = -1;
    if (close(fd) < 0) {
        dlh_error_set("%s: close failed: %s", af->path, strerror(errno));
        atomic_abort(af);
        return DLH_EIO;
    }
    if (rename(af->tmp, af->path) < 0) {
        dlh_error_set("%s: cannot rename '%s' over it: %s", af->path, af->tmp,
                      strerror(errno));
        atomic_abort(af);
        return DLH_EIO;
    }
    free(af->tmp);
    af->tmp = NULL;
    /* The rename is durable only once the folder is; EINVAL means a file
       system that cannot sync folders, where there is nothing more to do. */
    int dfd = open(af->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        dlh_error_set("%s: cannot open folder '%s' to sync it: %s", af->path, af->dir,
                      strerror(errno));
        rc = DLH_EIO;
    } else {
        if (fsync(dfd) < 0 && errno != EINVAL) {
            dlh_error_set("%s: fsync of folder '%s' failed: %s", af->path, af->dir,
                          strerror(errno));
            rc = DLH_EIO;
        }
        close(dfd);
    }
    free(af->dir);
    af->dir = NULL;
    return rc;
}

int dlh_file_write_atomic(const char *path, const void *data, size_t len)
{
    atomic_file af;
    int rc = atomic_open(&af, path);
    if (rc == 0)
        rc = atomic_write(&af, data, len);
    if (rc == 0)
        return atomic_commit(&af);
    atomic_abort(&af);
    return rc;
}

int dlh_atomic_open(dlh_atomic_file *af, const char *path)
{
    int rc = atomic_open(af, path);
    if (rc)
        atomic_abort(af);
    return rc;
}

int dlh_atomic_write(dlh_atomic_file *af, const void *data, size_t len)
{
    return atomic_write(af, data, len);
}

int dlh_atomic_commit(dlh_atomic_file *af)
{
    return atomic_commit(af);
}

void dlh_atomic_abort(dlh_atomic_file *af)
{
    atomic_abort(af);
}

/* ------------------------------------------------------------ UTF-8 */

/* Length of the well-formed UTF-8 sequence at s (shortest form, no
   surrogates, at most U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n > 0) {
        size_t k = utf8_seq(p, n);
        if (!k)
            return 0;
        p += k;
        n -= k;
    }
    return 1;
}

/* ------------------------------------------------------------ JSON writer */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (len > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->n < len) {
            if (cap > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            cap *= 2;
        }
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_int(sbuf *b, int64_t v)
{
    char tmp[32];
    int k = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    sb_add(b, tmp, (size_t)k);
}

/* Escapes as serde_json does: quote, backslash and control characters;
   everything else (UTF-8 included) as it is. */
const char *dlh_json_escape(unsigned char c, char tmp[8])
{
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\b': return "\\b";
    case '\f': return "\\f";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default:
        if (c < 0x20) {
            snprintf(tmp, 8, "\\u%04x", c);
            return tmp;
        }
        return NULL;
    }
}

static void sb_json_string(sbuf *b, const char *s)
{
    sb_add(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char tmp[8];
        const char *esc = dlh_json_escape(c, tmp);
        if (esc)
            sb_str(b, esc);
        else
            sb_add(b, (const char *)&c, 1);
    }
    sb_add(b, "\"", 1);
}

static const char *dtype_name(int32_t dtype)
{
    return dtype == DLH_F32 ? "F32" : dtype == DLH_I32 ? "I32" : dtype == DLH_I64 ? "I64"
                                                                                : NULL;
}

/* The name of a dtype only dlh_st_read_ex with DLH_ST_READ_WIDE reads. */
static const char *wide_dtype_name(int32_t dtype)
{
    return dtype == DLH_F16 ? "F16" : dtype == DLH_BF16 ? "BF16"
           : dtype == DLH_ST_F64 ? "F64" : dtype_name(dtype);
}

/* Bytes of a shape of `dtype` elements (4 bytes, 8 for I64 and F64, 2 for
   F16 and BF16), or -1 when it does not fit. */
static int64_t shape_bytes(int32_t dtype, int32_t ndim, const int64_t *shape)
{
    uint64_t n = dtype == DLH_I64 || dtype == DLH_ST_F64 ? 8
                 : dtype == DLH_F16 || dtype == DLH_BF16 ? 2 : 4;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(n, (uint64_t)shape[i], &n))
            return -1;
    }
    return n > (uint64_t)INT64_MAX ? -1 : (int64_t)n;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first string given twice in `names` (which it sorts), or NULL. */
static const char *first_duplicate(const char **names, size_t n)
{
    qsort(names, n, sizeof *names, cmp_str_ptr);
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            return names[i];
    return NULL;
}

static int check_entries(const char *path, const dlh_st_entry *e, size_t n,
                         const dlh_st_meta *meta, size_t n_meta, int need_data)
{
    for (size_t i = 0; i < n; i++) {
        if (!e[i].name || !*e[i].name) {
            dlh_error_set("%s: tensor %zu has no name", path, i);
            return DLH_EINVAL;
        }
        if (!utf8_valid(e[i].name)) {
            dlh_error_set("%s: tensor name '%s' is not valid UTF-8", path, e[i].name);
            return DLH_EINVAL;
        }
        if (strcmp(e[i].name, "__metadata__") == 0) {
            dlh_error_set("%s: '__metadata__' is reserved and cannot name a tensor", path);
            return DLH_EINVAL;
        }
        if (!dtype_name(e[i].dtype)) {
            dlh_error_set("%s: tensor '%s': dtype %d cannot be saved (F32, I32 or I64 only)",
                          path, e[i].name, (int)e[i].dtype);
            return DLH_EINVAL;
        }
        int64_t bytes = e[i].ndim < 0 || e[i].ndim > DLH_MAX_DIMS
                            ? -1 : shape_bytes(e[i].dtype, e[i].ndim, e[i].shape);
        if (bytes < 0) {
            dlh_error_set("%s: tensor '%s': invalid shape (%d dimensions)", path,
                          e[i].name, (int)e[i].ndim);
            return DLH_EINVAL;
        }
        if (need_data && bytes > 0 && !e[i].data) {
            dlh_error_set("%s: tensor '%s' has no data", path, e[i].name);
            return DLH_EINVAL;
        }
    }
    for (size_t i = 0; i < n_meta; i++) {
        if (!meta[i].key || !meta[i].value || !utf8_valid(meta[i].key) ||
            !utf8_valid(meta[i].value)) {
            dlh_error_set("%s: metadata entry %zu is missing or not valid UTF-8", path, i);
            return DLH_EINVAL;
        }
    }
    size_t most = n > n_meta ? n : n_meta;
    const char **names = malloc((most ? most : 1) * sizeof *names);
    if (!names) {
        dlh_error_set("%s: out of memory", path);
        return DLH_ENOMEM;
    }
    const char *dup;
    for (size_t i = 0; i < n; i++)
        names[i] = e[i].name;
    dup = first_duplicate(names, n);
    if (dup) {
        dlh_error_set("%s: tensor '%s' is given twice", path, dup);
        free(names);
        return DLH_EINVAL;
    }
    for (size_t i = 0; i < n_meta; i++)
        names[i] = meta[i].key;
    dup = first_duplicate(names, n_meta);
    free(names);
    if (dup) {
        dlh_error_set("%s: metadata key '%s' is given twice", path, dup);
        return DLH_EINVAL;
    }
    return 0;
}

static int build_header(const char *path, const dlh_st_entry *e, size_t n,
                        const dlh_st_meta *meta, size_t n_meta, sbuf *b)
{
    sb_add(b, "{", 1);
    if (n_meta > 0) {
        sb_str(b, "\"__metadata__\":{");
        for (size_t i = 0; i < n_meta; i++) {
            if (i)
                sb_add(b, ",", 1);
            sb_json_string(b, meta[i].key);
            sb_add(b, ":", 1);
            sb_json_string(b, meta[i].value);
        }
        sb_add(b, "}", 1);
    }
    int64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (i || n_meta > 0)
            sb_add(b, ",", 1);
        sb_json_string(b, e[i].name);
        sb_str(b, ":{\"dtype\":\"");
        sb_str(b, dtype_name(e[i].dtype));
        sb_str(b, "\",\"shape\":[");
        for (int d = 0; d < e[i].ndim; d++) {
            if (d)
                sb_add(b, ",", 1);
            sb_int(b, e[i].shape[d]);
        }
        int64_t bytes = shape_bytes(e[i].dtype, e[i].ndim, e[i].shape);
        if (__builtin_add_overflow(off, bytes, &bytes)) {
            dlh_error_set("%s: the tensors add up to more bytes than a file can hold", path);
            return DLH_EINVAL;
        }
        sb_str(b, "],\"data_offsets\":[");
        sb_int(b, off);
        sb_add(b, ",", 1);
        sb_int(b, bytes);
        sb_str(b, "]}");
        off = bytes;
    }
    sb_add(b, "}", 1);
    while (b->n % 8)
        sb_add(b, " ", 1);
    if (b->oom) {
        dlh_error_set("%s: out of memory for the header", path);
        return DLH_ENOMEM;
    }
    return 0;
}

int dlh_st_write_fill(const char *path, const dlh_st_entry *entries, size_t n,
                      const dlh_st_meta *meta, size_t n_meta, dlh_st_fill_fn fill,
                      void *user)
{
    int rc = check_entries(path, entries, n, meta, n_meta, fill == NULL);
    if (rc < 0)
        return rc;
    sbuf hdr = { 0 };
    rc = build_header(path, entries, n, meta, n_meta, &hdr);
    if (rc < 0) {
        free(hdr.p);
        return rc;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)hdr.n >> (8 * i));

    atomic_file af;
    rc = atomic_open(&af, path);
    if (rc == 0)
        rc = atomic_write(&af, len8, sizeof len8);
    if (rc == 0)
        rc = atomic_write(&af, hdr.p, hdr.n);
    free(hdr.p);
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t bytes = (size_t)shape_bytes(entries[i].dtype, entries[i].ndim, entries[i].shape);
        const void *data = entries[i].data;
        if (fill)
            rc = fill(user, i, &data);
        if (rc == 0 && bytes > 0)
            rc = atomic_write(&af, data, bytes);
    }
    if (rc == 0)
        return atomic_commit(&af);
    atomic_abort(&af);
    return rc;
}

int dlh_st_write(const char *path, const dlh_st_entry *entries, size_t n,
                 const dlh_st_meta *meta, size_t n_meta)
{
    return dlh_st_write_fill(path, entries, n, meta, n_meta, NULL, NULL);
}

/* ------------------------------------------------------------ reader */

typedef struct st_span {
    int64_t begin, end;
    size_t index;                   /* entry */
} st_span;

struct dlh_st_file {
    dlh_st_entry *entries;          /* header order; names owned */
    st_span *spans;                 /* parallel to entries */
    size_t n, cap;
    dlh_st_meta *meta;              /* keys and values owned */
    size_t n_meta, cap_meta;
    int has_meta;
    int wide;                       /* dlh_st_read_ex DLH_ST_READ_WIDE */
    const dlh_st_entry **by_name;   /* entries sorted by name */
    unsigned char *data;
    size_t data_len;
};

typedef struct jp {
    const char *s;
    size_t n, i;
    const char *path;
    int wide;                       /* F16, BF16 and F64 too */
} jp;

static int jp_fail(const jp *p, const char *fmt, ...) DLH_PRINTF(2, 3);
static int jp_fail(const jp *p, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dlh_error_set("%s: bad JSON header at byte %zu: %s", p->path, p->i, msg);
    return DLH_EDATA;
}

static void jp_ws(jp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
                           p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int jp_peek(const jp *p)
{
    return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

static int jp_expect(jp *p, char c)
{
    jp_ws(p);
    if (jp_peek(p) != (unsigned char)c) {
        if (p->i >= p->n)
            return jp_fail(p, "expected '%c', found the end of the header", c);
        return jp_fail(p, "expected '%c'", c);
    }
    p->i++;
    return 0;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A JSON string, decoded into a new NUL-terminated UTF-8 string. */
static int jp_string(jp *p, char **out)
{
    *out = NULL;
    jp_ws(p);
    if (jp_peek(p) != '"')
        return jp_fail(p, p->i >= p->n ? "expected a string, found the end of the header"
                                       : "expected a string");
    size_t start = ++p->i;
    /* Decoding never lengthens the text: size the result by the raw span. */
    size_t j = start;
    while (j < p->n && p->s[j] != '"')
        j += p->s[j] == '\\' ? 2 : 1;
    if (j >= p->n) {
        p->i = start - 1;
        return jp_fail(p, "unterminated string");
    }
    char *o = malloc(j - start + 1);
    if (!o) {
        dlh_error_set("%s: out of memory", p->path);
        return DLH_ENOMEM;
    }
    size_t k = 0;
    while (p->s[p->i] != '"') {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c < 0x20) {
            free(o);
            return jp_fail(p, "control character 0x%02x in a string (must be escaped)", c);
        }
        if (c >= 0x80) {
            size_t len = utf8_seq((const unsigned char *)p->s + p->i, p->n - p->i);
            if (!len) {
                free(o);
                return jp_fail(p, "invalid UTF-8 in a string");
            }
            memcpy(o + k, p->s + p->i, len);
            k += len;
            p->i += len;
            continue;
        }
        if (c != '\\') {
            o[k++] = (char)c;
            p->i++;
            continue;
        }
        char e = p->s[p->i + 1];
        unsigned cp;
        switch (e) {
        case '"': o[k++] = '"'; break;
        case '\\': o[k++] = '\\'; break;
        case '/': o[k++] = '/'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case 'u':
            if (p->i + 6 > j || !hex4(p->s + p->i + 2, &cp)) {
                free(o);
                return jp_fail(p, "\\u needs four hex digits");
            }
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                free(o);
                return jp_fail(p, "unpaired low surrogate \\u%04x", cp);
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (p->i + 12 > j || p->s[p->i + 6] != '\\' || p->s[p->i + 7] != 'u' ||
                    !hex4(p->s + p->i + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    free(o);
                    return jp_fail(p, "high surrogate \\u%04x without its low half", cp);
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p->i += 6;
            }
            if (cp == 0) {
                free(o);
                return jp_fail(p, "\\u0000 in a string is not supported");
            }
            /* A 6-byte escape decodes to at most 3 bytes, a 12-byte pair to 4. */
            k += put_utf8(o + k, cp);
            p->i += 4;
            break;
        default:
            free(o);
            return jp_fail(p, "invalid escape '\\%c'", e >= 0x20 && e < 0x7f ? e : '?');
        }
        p->i += 2;
    }
    p->i++;
    o[k] = '\0';
    *out = o;
    return 0;
}

/* A non-negative integer, as the format's shapes and offsets are. */
static int jp_uint(jp *p, const char *what, int64_t *out)
{
    jp_ws(p);
    int c = jp_peek(p);
    if (c == '-')
        return jp_fail(p, "negative number in %s", what);
    if (c < '0' || c > '9')
        return jp_fail(p, "expected an integer in %s", what);
    if (c == '0' && p->i + 1 < p->n && p->s[p->i + 1] >= '0' && p->s[p->i + 1] <= '9')
        return jp_fail(p, "leading zero in a number in %s", what);
    int64_t v = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        int d = p->s[p->i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return jp_fail(p, "number too large in %s", what);
        v = v * 10 + d;
        p->i++;
    }
    c = jp_peek(p);
    if (c == '.' || c == 'e' || c == 'E')
        return jp_fail(p, "%s must hold integers", what);
    *out = v;
    return 0;
}

/* [int, ...] with at most `max` items. */
static int jp_uint_array(jp *p, const char *what, int64_t *vals, int max, int *count)
{
    int rc = jp_expect(p, '[');
    if (rc < 0)
        return rc;
    *count = 0;
    jp_ws(p);
    if (jp_peek(p) == ']') {
        p->i++;
        return 0;
    }
    for (;;) {
        if (*count == max)
            return jp_fail(p, "%s has more than %d items", what, max);
        jp_ws(p);
        if (jp_peek(p) == '[' || jp_peek(p) == '{')
            return jp_fail(p, "%s must hold integers, not nested values", what);
        rc = jp_uint(p, what, &vals[(*count)++]);
        if (rc < 0)
            return rc;
        jp_ws(p);
        int c = jp_peek(p);
        p->i++;
        if (c == ']')
            return 0;
        if (c != ',') {
            p->i--;
            return jp_fail(p, "expected ',' or ']' in %s", what);
        }
    }
}

/* After an object member: ',' (returns 1) or '}' (returns 0). */
static int jp_next_member(jp *p)
{
    jp_ws(p);
    int c = jp_peek(p);
    if (c == ',') {
        p->i++;
        return 1;
    }
    if (c == '}') {
        p->i++;
        return 0;
    }
    return jp_fail(p, c < 0 ? "expected ',' or '}', found the end of the header"
                            : "expected ',' or '}'");
}

static int parse_meta(jp *p, dlh_st_file *f)
{
    int rc = jp_expect(p, '{');
    if (rc < 0)
        return rc;
    jp_ws(p);
    if (jp_peek(p) == '}') {
        p->i++;
        return 0;
    }
    do {
        char *key = NULL, *value = NULL;
        rc = jp_string(p, &key);
        if (rc == 0)
            rc = jp_expect(p, ':');
        if (rc == 0) {
            jp_ws(p);
            if (jp_peek(p) != '"')
                rc = jp_fail(p, "__metadata__ value of '%s' must be a string", key);
            else
                rc = jp_string(p, &value);
        }
        if (rc == 0 && f->n_meta == f->cap_meta) {
            size_t cap = f->cap_meta ? 2 * f->cap_meta : 8;
            dlh_st_meta *m = realloc(f->meta, cap * sizeof *m);
            if (!m) {
                dlh_error_set("%s: out of memory", p->path);
                rc = DLH_ENOMEM;
            } else {
                f->meta = m;
                f->cap_meta = cap;
            }
        }
        if (rc < 0) {
            free(key);
            free(value);
            return rc;
        }
        f->meta[f->n_meta].key = key;
        f->meta[f->n_meta].value = value;
        f->n_meta++;
    } while ((rc = jp_next_member(p)) == 1);
    return rc;
}

static const char *const known_dtypes[] = {
    "BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64",
    "I64", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"
};

/* {"dtype": .., "shape": [..], "data_offsets": [b, e]} for entry `name`. */
static int parse_tensor(jp *p, dlh_st_file *f, char *name)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 16;
        dlh_st_entry *e = realloc(f->entries, cap * sizeof *e);
        if (e)
            f->entries = e;
        st_span *s = e ? realloc(f->spans, cap * sizeof *s) : NULL;
        if (s)
            f->spans = s;
        if (!e || !s) {
            free(name);
            dlh_error_set("%s: out of memory", p->path);
            return DLH_ENOMEM;
        }
        f->cap = cap;
    }
    dlh_st_entry *e = &f->entries[f->n];
    st_span *sp = &f->spans[f->n];
    memset(e, 0, sizeof *e);
    e->name = name;
    sp->index = f->n;
    f->n++;                         /* owns name from here on */

    int rc = jp_expect(p, '{');
    if (rc < 0)
        return rc;
    char *dtype = NULL;
    int have_shape = 0, have_offsets = 0;
    jp_ws(p);
    if (jp_peek(p) == '}')
        p->i++;
    else {
        do {
            char *key = NULL;
            size_t at = p->i;
            rc = jp_string(p, &key);
            if (rc == 0)
                rc = jp_expect(p, ':');
            if (rc == 0) {
                int seen = strcmp(key, "dtype") == 0 ? dtype != NULL
                           : strcmp(key, "shape") == 0 ? have_shape
                           : strcmp(key, "data_offsets") == 0 ? have_offsets : -1;
                if (seen == 1) {
                    p->i = at;
                    rc = jp_fail(p, "tensor '%s': duplicate key '%s'", name, key);
                } else if (seen < 0) {
                    p->i = at;
                    rc = jp_fail(p, "tensor '%s': unknown key '%s' (expected dtype, "
                                 "shape, data_offsets)", name, key);
                }
            }
            if (rc == 0 && strcmp(key, "dtype") == 0) {
                jp_ws(p);
                if (jp_peek(p) != '"')
                    rc = jp_fail(p, "tensor '%s': dtype must be a string", name);
                else
                    rc = jp_string(p, &dtype);
            } else if (rc == 0 && strcmp(key, "shape") == 0) {
                have_shape = 1;
                rc = jp_uint_array(p, "the shape", e->shape, DLH_MAX_DIMS, &e->ndim);
            } else if (rc == 0) {
                int64_t v[2];
                int cnt = 0;
                have_offsets = 1;
                rc = jp_uint_array(p, "data_offsets", v, 2, &cnt);
                if (rc == 0 && cnt != 2)
                    rc = jp_fail(p, "tensor '%s': data_offsets needs 2 numbers, has %d",
                                 name, cnt);
                if (rc == 0) {
                    sp->begin = v[0];
                    sp->end = v[1];
                }
            }
            free(key);
            if (rc < 0) {
                free(dtype);
                return rc;
            }
        } while ((rc = jp_next_member(p)) == 1);
        if (rc < 0) {
            free(dtype);
            return rc;
        }
    }
    const char *missing = !dtype ? "dtype" : !have_shape ? "shape"
                          : !have_offsets ? "data_offsets" : NULL;
    if (missing) {
        free(dtype);
        dlh_error_set("%s: tensor '%s' has no '%s'", p->path, name, missing);
        return DLH_EDATA;
    }
    if (strcmp(dtype, "F32") == 0)
        e->dtype = DLH_F32;
    else if (strcmp(dtype, "I32") == 0)
        e->dtype = DLH_I32;
    else if (strcmp(dtype, "I64") == 0)
        e->dtype = DLH_I64;
    else if (p->wide && strcmp(dtype, "F16") == 0)
        e->dtype = DLH_F16;
    else if (p->wide && strcmp(dtype, "BF16") == 0)
        e->dtype = DLH_BF16;
    else if (p->wide && strcmp(dtype, "F64") == 0)
        e->dtype = DLH_ST_F64;
    else {
        int known = 0;
        for (size_t k = 0; k < sizeof known_dtypes / sizeof *known_dtypes; k++)
            known |= strcmp(dtype, known_dtypes[k]) == 0;
        const char *reads = p->wide ? "F32, F64, F16, BF16, I32 and I64"
                                    : "F32, I32 and I64";
        dlh_error_set(known ? "%s: tensor '%s': dtype '%s' is not supported "
                              "(dlhost reads %s)"
                            : "%s: tensor '%s': unknown dtype '%s' (dlhost reads %s)",
                      p->path, name, dtype, reads);
        free(dtype);
        return DLH_EDATA;
    }
    free(dtype);
    return 0;
}

static void shape_str(const int64_t *shape, int ndim, char *buf, size_t size)
{
    size_t k = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%lld", i ? ", " : "",
                              (long long)shape[i]);
    if (k < size)
        snprintf(buf + k, size - k, "]");
}

static int parse_header(const char *path, const char *text, size_t len, dlh_st_file *f)
{
    jp p = { text, len, 0, path, f->wide };
    int rc = jp_expect(&p, '{');
    if (rc < 0)
        return rc;
    jp_ws(&p);
    if (jp_peek(&p) == '}')
        p.i++;
    else {
        do {
            char *key = NULL;
            size_t at = p.i;
            rc = jp_string(&p, &key);
            if (rc == 0)
                rc = jp_expect(&p, ':');
            if (rc == 0 && strcmp(key, "__metadata__") == 0) {
                free(key);
                if (f->has_meta) {
                    p.i = at;
                    return jp_fail(&p, "duplicate key '__metadata__'");
                }
                f->has_meta = 1;
                rc = parse_meta(&p, f);
            } else if (rc == 0) {
                rc = parse_tensor(&p, f, key);
            } else
                free(key);
            if (rc < 0)
                return rc;
        } while ((rc = jp_next_member(&p)) == 1);
        if (rc < 0)
            return rc;
    }
    jp_ws(&p);
    if (p.i != p.n)
        return jp_fail(&p, "unexpected text after the JSON object");
    return 0;
}

static int cmp_span(const void *a, const void *b)
{
    const st_span *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_entry_name(const void *a, const void *b)
{
    return strcmp((*(const dlh_st_entry *const *)a)->name,
                  (*(const dlh_st_entry *const *)b)->name);
}

static int cmp_meta(const void *a, const void *b)
{
    return strcmp(((const dlh_st_meta *)a)->key, ((const dlh_st_meta *)b)->key);
}

/* Every rule of the header comment that JSON syntax alone cannot check. */
static int validate(const char *path, dlh_st_file *f, uint64_t data_len)
{
    for (size_t i = 0; i < f->n; i++) {
        const dlh_st_entry *e = &f->entries[i];
        const st_span *s = &f->spans[i];
        char sh[160];
        if (s->begin > s->end) {
            dlh_error_set("%s: tensor '%s': data_offsets [%lld, %lld] are out of order",
                          path, e->name, (long long)s->begin, (long long)s->end);
            return DLH_EDATA;
        }
        int64_t bytes = shape_bytes(e->dtype, e->ndim, e->shape);
        if (bytes < 0 || bytes != s->end - s->begin)
            shape_str(e->shape, e->ndim, sh, sizeof sh);
        if (bytes < 0) {
            dlh_error_set("%s: tensor '%s': shape %s is too large", path, e->name, sh);
            return DLH_EDATA;
        }
        if (bytes != s->end - s->begin) {
            dlh_error_set("%s: tensor '%s': shape %s x %s needs %lld bytes but "
                          "data_offsets [%lld, %lld] span %lld", path, e->name, sh,
                          wide_dtype_name(e->dtype), (long long)bytes,
                          (long long)s->begin, (long long)s->end,
                          (long long)(s->end - s->begin));
            return DLH_EDATA;
        }
    }

    f->by_name = malloc((f->n ? f->n : 1) * sizeof *f->by_name);
    if (!f->by_name) {
        dlh_error_set("%s: out of memory", path);
        return DLH_ENOMEM;
    }
    for (size_t i = 0; i < f->n; i++)
        f->by_name[i] = &f->entries[i];
    qsort(f->by_name, f->n, sizeof *f->by_name, cmp_entry_name);
    for (size_t i = 1; i < f->n; i++)
        if (strcmp(f->by_name[i - 1]->name, f->by_name[i]->name) == 0) {
            dlh_error_set("%s: tensor '%s' appears twice in the header", path,
                          f->by_name[i]->name);
            return DLH_EDATA;
        }

    /* The meta array is only ever looked up by key, so sort it in place.
       Without metadata it is NULL, which qsort must not be given. */
    if (f->n_meta)
        qsort(f->meta, f->n_meta, sizeof *f->meta, cmp_meta);
    for (size_t i = 1; i < f->n_meta; i++)
        if (strcmp(f->meta[i - 1].key, f->meta[i].key) == 0) {
            dlh_error_set("%s: metadata key '%s' appears twice in the header", path,
                          f->meta[i].key);
            return DLH_EDATA;
        }

    st_span *sorted = malloc((f->n ? f->n : 1) * sizeof *sorted);
    if (!sorted) {
        dlh_error_set("%s: out of memory", path);
        return DLH_ENOMEM;
    }
    if (f->n)               /* spans is NULL in a file without tensors */
        memcpy(sorted, f->spans, f->n * sizeof *sorted);
    qsort(sorted, f->n, sizeof *sorted, cmp_span);
    int64_t covered = 0;
    for (size_t i = 0; i < f->n; i++) {
        const st_span *s = &sorted[i];
        const char *name = f->entries[s->index].name;
        if (s->begin > covered) {
            if (i == 0)
                dlh_error_set("%s: gap in the data: the first tensor '%s' begins at byte "
                              "%lld, not 0", path, name, (long long)s->begin);
            else
                dlh_error_set("%s: gap of %lld bytes in the data between tensor '%s' "
                              "(ends at %lld) and tensor '%s' (begins at %lld)", path,
                              (long long)(s->begin - covered),
                              f->entries[sorted[i - 1].index].name, (long long)covered,
                              name, (long long)s->begin);
            free(sorted);
            return DLH_EDATA;
        }
        if (s->begin < covered) {
            dlh_error_set("%s: tensor '%s' (bytes %lld..%lld) overlaps tensor '%s' "
                          "(ends at %lld)", path, name, (long long)s->begin,
                          (long long)s->end, f->entries[sorted[i - 1].index].name,
                          (long long)covered);
            free(sorted);
            return DLH_EDATA;
        }
        covered = s->end;
    }
    free(sorted);
    if ((uint64_t)covered > data_len) {
        dlh_error_set("%s: file too short: the tensors need %lld bytes of data after "
                      "the header, the file has %llu (truncated?)", path,
                      (long long)covered, (unsigned long long)data_len);
        return DLH_EDATA;
    }
    if ((uint64_t)covered < data_len) {
        dlh_error_set("%s: file too long: %llu bytes after the header, but the tensors "
                      "cover only %lld", path, (unsigned long long)data_len,
                      (long long)covered);
        return DLH_EDATA;
    }
    return 0;
}

/* Reads exactly len bytes; 0, or -1 with errno (0 for an early end). */
static int read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t r = read(fd, p, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = 0;
            return -1;
        }
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

static int read_error(const char *path, const char *what)
{
    if (errno == 0) {
        dlh_error_set("%s: the file changed while it was read (%s)", path, what);
        return DLH_EIO;
    }
    dlh_error_set("%s: read failed (%s): %s", path, what, strerror(errno));
    return DLH_EIO;
}

int dlh_st_read(const char *path, dlh_st_file **out)
{
    return dlh_st_read_ex(path, 0, out);
}

int dlh_st_read_ex(const char *path, int flags, dlh_st_file **out)
{
    *out = NULL;
    int fd;
    struct stat st;
    if (dlh_file_open_regular(path, &fd, &st) < 0)
        return DLH_EIO;
    uint64_t size = (uint64_t)st.st_size;
    if (size < 8) {
        dlh_error_set("%s: file too short for a safetensors header (%llu bytes)", path,
                      (unsigned long long)size);
        close(fd);
        return DLH_EDATA;
    }
    unsigned char len8[8];
    if (read_full(fd, len8, 8) < 0) {
        int rc = read_error(path, "header size");
        close(fd);
        return rc;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | len8[i];
    if (hlen > ST_MAX_HEADER) {
        dlh_error_set("%s: header size %llu exceeds the limit of %llu bytes", path,
                      (unsigned long long)hlen, ST_MAX_HEADER);
        close(fd);
        return DLH_EDATA;
    }
    if (hlen > size - 8) {
        dlh_error_set("%s: header size %llu is larger than the %llu bytes that follow "
                      "it in the file", path, (unsigned long long)hlen,
                      (unsigned long long)(size - 8));
        close(fd);
        return DLH_EDATA;
    }

    dlh_st_file *f = calloc(1, sizeof *f);
    char *text = malloc((size_t)hlen + 1);
    if (!f || !text) {
        free(f);
        free(text);
        close(fd);
        dlh_error_set("%s: out of memory for a %llu-byte header", path,
                      (unsigned long long)hlen);
        return DLH_ENOMEM;
    }
    int rc = 0;
    f->wide = (flags & DLH_ST_READ_WIDE) != 0;
    if (read_full(fd, text, (size_t)hlen) < 0)
        rc = read_error(path, "header");
    if (rc == 0) {
        text[hlen] = '\0';
        rc = parse_header(path, text, (size_t)hlen, f);
    }
    free(text);
    uint64_t data_len = size - 8 - hlen;
    if (rc == 0)
        rc = validate(path, f, data_len);
    if (rc == 0 && data_len > SIZE_MAX) {
        dlh_error_set("%s: %llu bytes of data do not fit in memory", path,
                      (unsigned long long)data_len);
        rc = DLH_ENOMEM;
    }
    if (rc == 0) {
        f->data_len = (size_t)data_len;
        f->data = malloc(f->data_len ? f->data_len : 1);
        if (!f->data) {
            dlh_error_set("%s: out of memory for %llu bytes of tensor data", path,
                          (unsigned long long)data_len);
            rc = DLH_ENOMEM;
        } else if (read_full(fd, f->data, f->data_len) < 0)
            rc = read_error(path, "tensor data");
    }
    close(fd);
    if (rc < 0) {
        dlh_st_free(f);
        return rc;
    }
    for (size_t i = 0; i < f->n; i++)
        f->entries[i].data = f->data + f->spans[i].begin;
    *out = f;
    return 0;
}

void dlh_st_free(dlh_st_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        free((char *)f->entries[i].name);
    for (size_t i = 0; i < f->n_meta; i++) {
        free((char *)f->meta[i].key);
        free((char *)f->meta[i].value);
    }
    free(f->entries);
    free(f->spans);
    free(f->meta);
    free(f->by_name);
    free(f->data);
    free(f);
}

size_t dlh_st_count(const dlh_st_file *f)
{
    return f->n;
}

const dlh_st_entry *dlh_st_at(const dlh_st_file *f, size_t i)
{
    return i < f->n ? &f->entries[i] : NULL;
}

const dlh_st_entry *dlh_st_find(const dlh_st_file *f, const char *name)
{
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const dlh_st_entry *e = f->by_name[mid];
        int c = strcmp(name, e->name);
        if (c == 0)
            return e;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *dlh_st_meta_get(const dlh_st_file *f, const char *key)
{
    size_t lo = 0, hi = f->n_meta;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key, f->meta[mid].key);
        if (c == 0)
            return f->meta[mid].value;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

size_t dlh_st_meta_count(const dlh_st_file *f)
{
    return f->n_meta;
}

const dlh_st_meta *dlh_st_meta_at(const dlh_st_file *f, size_t i)
{
    return i < f->n_meta ? &f->meta[i] : NULL;
}
