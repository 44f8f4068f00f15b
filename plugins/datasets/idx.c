/* The idx dataset: MNIST-style IDX files (raw or gzip), images and labels.
 *
 * An IDX file is a 4-byte magic (00 00 type ndim), ndim big-endian int32
 * dimensions, then the data, big-endian, row-major.  The first dimension
 * counts the samples; the rest is the sample shape, to which a channel axis
 * is added for 2-D samples (N x 28 x 28 gives [1, 28, 28], NCHW for conv
 * layers); 1-D samples stay [D], scalars become [1], 3-D samples are taken
 * as stored.  Labels are an idx1 file of integers in [0, 2^24).
 *
 * Files are checked strictly, and no allocation is sized from a header
 * alone: a raw file's exact length is checked against the header before
 * anything is allocated; a gzip file (recognised by its 1f 8b magic, not
 * its name) is inflated into a buffer that grows only as bytes arrive and
 * never past the header's size, and its exact length is checked at the
 * end.  The samples stay in the file's own type (uint8 for MNIST, so the
 * 60000-image set takes 47 MB, not 188 MB as floats) and become floats,
 * values as stored, only in `read`.
 *
 * `limit = N` keeps the first N samples.  A limit above the sample count is
 * clamped to it (the whole file), so a quick-test limit works with every
 * file; the files themselves are still validated whole, and the class
 * count comes from the whole label file.
 *
 * `stream = true` holds no image in memory (`dlhost predict`): open checks
 * the images file whole (its length; a gzip file is inflated once, a chunk
 * at a time) and read takes each sample from the file, by its offset in a
 * raw file, going on in the stream of a gzip one (a sample before the last
 * one read starts the stream again).  Float values are checked at read.
 * Labels are held as without it.
 *
 * A gzip file inflated whole is kept decoded in the cache folder
 * (cache_dir.h), in idx/<hash of its real path>.idx behind lines naming
 * the file's identity (size, mtime, inode, device), path and decoded size.  A later open
 * of the same, unchanged file reads that instead (Fashion-MNIST's training
 * images: 200-500 ms to inflate, about 10 ms to read decoded); an entry
 * that does not match is passed over and replaced, one that cannot be
 * written is not missed.  The decoded bytes are read as a raw file is, so
 * they are checked the same way.  `stream = true` reads the gzip file.
 *
 * Built with libdeflate (configure's --with-libdeflate, on where found), a
 * gzip file loaded whole is first decoded in one call, the whole file in
 * memory: two to three times zlib's speed on the cold start.  Anything
 * short of a clean decode to exactly the header's size falls back to the
 * zlib stream, so a bad file is named by the same message either way. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#ifdef HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#include "cache_dir.h"
#include "datasets.h"
#include "hash.h"

#define IDX_CHUNK 65536
#define IDX_MAX_DIMS 4
/* Floats represent every integer below 2^24 exactly. */
#define IDX_MAX_CLASS 16777216

typedef enum idx_code {
    IDX_U8 = 0x08, IDX_S8 = 0x09, IDX_I16 = 0x0B, IDX_I32 = 0x0C,
    IDX_F32 = 0x0D, IDX_F64 = 0x0E
} idx_code;

typedef struct idx_type {
    int code;           /* idx_code */
    int size;           /* bytes per element */
    const char *name;
} idx_type;

static const idx_type idx_types[] = {
    { IDX_U8, 1, "ubyte" }, { IDX_S8, 1, "sbyte" }, { IDX_I16, 2, "int16" },
    { IDX_I32, 4, "int32" }, { IDX_F32, 4, "float32" }, { IDX_F64, 8, "float64" },
};

/* One IDX file being read: its header, then its data as a byte stream. */
typedef struct idx_file {
    const char *path;           /* borrowed from the params */
    FILE *f;
    int64_t file_size;
    int gz;                     /* gzip stream, else raw */
    z_stream zs;
    int zs_live;                /* inflateInit2 succeeded */
    int member_end;             /* gzip: the current member has ended */
    int eof;                    /* gzip: no more compressed input */
    int cut;                    /* gzip: the file ended inside a member */
    unsigned char *in;          /* gzip: compressed input chunk */
    char *cache_path;           /* gzip: its decoded copy's place, or NULL */
    char *cache_line;           /* gzip: the identity line that copy starts with */
    int cached;                 /* reading that copy, a raw file */
    const idx_type *type;
    int ndim;
    int64_t dim[IDX_MAX_DIMS];
    int64_t header_bytes;
    int64_t numel;              /* elements per sample */
    int64_t data_bytes;         /* what the header says follows it */
    unsigned char head[4 + 4 * IDX_MAX_DIMS];   /* the header as read */
    char says[160];             /* "60000 x 28 x 28 ubyte" */
} idx_file;

typedef struct idx_state {
    char *images_path;          /* for messages */
    const idx_type *type;
    unsigned char *x;           /* n samples of numel elements, native order */
    float *y;                   /* n class labels, or NULL */
    int64_t n, numel;
    int64_t n_classes;
    dlh_shape sample;
    /* stream = true: the images file open, a sample's bytes, and the next
       sample in the file (gzip). */
    int stream;
    idx_file sf;
    unsigned char *row;
    int64_t cur;
} idx_state;

/* Opens path (a `key` parameter) for reading; a missing file is a mistake in
   the experiment file, so it is reported at the key. */
/* The decoded copy of gzip file `path` (st: its identity): names it in f,
   and opens it in place of the gzip stream where it matches, making f a raw
   file.  Nothing here fails: without a copy, the gzip file is read. */
static void idx_cache_open(idx_file *f, const struct stat *st)
{
    char dir[4096], *real = realpath(f->path, NULL);
    if (!real || strchr(real, '\n') || dlh_cache_dir("idx", dir, sizeof dir) != 0) {
        free(real);
        return;
    }
    uint64_t h = dlh_fnv1a64_str(DLH_FNV1A64_INIT, real);
    size_t nl = strlen(dir) + 32, ll = strlen(real) + 160;
    f->cache_path = malloc(nl);
    f->cache_line = malloc(ll);
    if (f->cache_path && f->cache_line) {
        snprintf(f->cache_path, nl, "%s/%016" PRIx64 ".idx", dir, h);
        snprintf(f->cache_line, ll, "dlhost idx cache 1 %lld %lld.%09ld %llu %llu\n%s\n",
                 (long long)st->st_size, (long long)st->st_mtim.tv_sec,
                 (long)st->st_mtim.tv_nsec, (unsigned long long)st->st_ino,
                 (unsigned long long)st->st_dev, real);
    }
    free(real);
    /* O_NONBLOCK and a regular file only, as for any data file. */
    int fd = f->cache_path && f->cache_line
             ? open(f->cache_path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) : -1;
    struct stat cs;
    FILE *c = fd >= 0 && fstat(fd, &cs) == 0 && S_ISREG(cs.st_mode) ? fdopen(fd, "rb") : NULL;
    if (fd >= 0 && !c)
        close(fd);
    size_t len = f->cache_line ? strlen(f->cache_line) : 0;
    char *line = c ? malloc(len) : NULL;
    long long bytes = -1;
    int at = 0;
    /* Then "bytes N": a copy cut short is passed over, not read as a
       truncated file. */
    if (line && fread(line, 1, len, c) == len && memcmp(line, f->cache_line, len) == 0 &&
        fscanf(c, "bytes %lld\n%n", &bytes, &at) == 1 && at > 0 &&
        bytes == (long long)cs.st_size - (long long)len - at) {
        fclose(f->f);
        f->f = c;
        f->file_size = bytes;
        f->cached = 1;
        c = NULL;
    }
    free(line);
    if (c)
        fclose(c);
}

/* Writes the decoded copy of gzip file f (its header as read, then the
   data_bytes at data) to a temporary file renamed over its place, so that
   a reader sees a whole copy or none.  Failures only cost the copy. */
static void idx_cache_write(const idx_file *f, const unsigned char *data)
{
    size_t pl = strlen(f->cache_path);
    char *tmp = malloc(pl + 8);
    if (!tmp)
        return;
    snprintf(tmp, pl + 8, "%s.XXXXXX", f->cache_path);
    int fd = mkstemp(tmp);
    FILE *c = fd >= 0 ? fdopen(fd, "wb") : NULL;
    int ok = c && fputs(f->cache_line, c) >= 0 &&
             fprintf(c, "bytes %lld\n", (long long)(f->header_bytes + f->data_bytes)) > 0 &&
             fwrite(f->head, 1, (size_t)f->header_bytes, c) == (size_t)f->header_bytes &&
             fwrite(data, 1, (size_t)f->data_bytes, c) == (size_t)f->data_bytes &&
             fflush(c) == 0 && fsync(fd) == 0;
    if (c)
        ok &= fclose(c) == 0;
    else if (fd >= 0)
        close(fd);
    if (fd >= 0 && !(ok && rename(tmp, f->cache_path) == 0))
        unlink(tmp);
    free(tmp);
}

static int idx_file_open(dlh_params *p, const char *key, const char *path, int cache,
                         idx_file *f)
{
    const dlh_host *host = datasets_host;
    memset(f, 0, sizeof *f);
    f->path = path;
    struct stat st;
    int rc;
    if (!(f->f = datasets_fopen(p, key, path, &st, &rc)))
        return rc;
    f->file_size = (int64_t)st.st_size;
    unsigned char m[2];
    size_t got = fread(m, 1, 2, f->f);
    if (ferror(f->f)) {
        host->error("%s: read error: %s", path, strerror(errno));
        return DLH_EIO;
    }
    rewind(f->f);
    int gz = got == 2 && m[0] == 0x1f && m[1] == 0x8b;
    if (gz && cache)
        idx_cache_open(f, &st);
    if (gz && !f->cached) {
        f->gz = 1;
        f->in = malloc(IDX_CHUNK);
        if (!f->in) {
            host->error("%s: out of memory", path);
            return DLH_ENOMEM;
        }
        /* 16 + MAX_WBITS: gzip framing only, with its CRC and length check. */
        if (inflateInit2(&f->zs, 16 + MAX_WBITS) != Z_OK) {
            host->error("%s: cannot start gzip decoding: %s", path,
                        f->zs.msg ? f->zs.msg : "out of memory");
            return DLH_ENOMEM;
        }
        f->zs_live = 1;
    }
    return 0;
}

static void idx_file_close(idx_file *f)
{
    if (f->zs_live)
        inflateEnd(&f->zs);
    free(f->in);
    free(f->cache_path);
    free(f->cache_line);
    if (f->f)
        fclose(f->f);
    memset(f, 0, sizeof *f);
}

/* Reads up to n bytes of the (decompressed) stream into buf; *got < n only
   at its end.  For gzip, f->cut tells an end inside a member (a cut-off
   file) from a clean one. */
static int idx_read_bytes(idx_file *f, void *buf, size_t n, size_t *got)
{
    const dlh_host *host = datasets_host;
    if (!f->gz) {
        *got = fread(buf, 1, n, f->f);
        if (ferror(f->f)) {
            host->error("%s: read error: %s", f->path, strerror(errno));
            return DLH_EIO;
        }
        return 0;
    }
    z_stream *zs = &f->zs;
    zs->next_out = buf;
    /* Callers ask for at most IDX_CHUNK or a buffer's growth step, but
       uInt is 32 bits: never hand inflate more than it can count. */
    size_t left = n;
    while (left > 0) {
        uInt step = left > (1u << 30) ? (1u << 30) : (uInt)left;
        zs->avail_out = step;
        while (zs->avail_out > 0) {
            if (zs->avail_in == 0 && !f->eof) {
                size_t r = fread(f->in, 1, IDX_CHUNK, f->f);
                if (ferror(f->f)) {
                    host->error("%s: read error: %s", f->path, strerror(errno));
                    return DLH_EIO;
                }
                if (r == 0)
                    f->eof = 1;
                zs->next_in = f->in;
                zs->avail_in = (uInt)r;
            }
            if (zs->avail_in == 0 && f->eof) {
                f->cut = !f->member_end;
                break;
            }
            int after_member = 0;
            if (f->member_end) {
                /* gzip files may hold several members, one after another. */
                inflateReset(zs);
                f->member_end = 0;
                after_member = 1;
            }
            int zr = inflate(zs, Z_NO_FLUSH);
            if (zr == Z_STREAM_END) {
                f->member_end = 1;
            } else if (zr == Z_DATA_ERROR && after_member && zs->total_out == 0) {
                host->error("%s: corrupt gzip file: bytes after the end of the gzip "
                            "stream that are not another gzip member", f->path);
                return DLH_EDATA;
            } else if (zr == Z_DATA_ERROR) {
                host->error("%s: corrupt gzip data: %s", f->path,
                            zs->msg ? zs->msg : "invalid stream");
                return DLH_EDATA;
            } else if (zr == Z_MEM_ERROR) {
                host->error("%s: out of memory decoding gzip", f->path);
                return DLH_ENOMEM;
            } else if (zr != Z_OK && !(zr == Z_BUF_ERROR && zs->avail_in == 0)) {
                host->error("%s: gzip decoding failed (zlib status %d)", f->path, zr);
                return DLH_EDATA;
            }
        }
        size_t done = step - zs->avail_out;
        left -= done;
        if (zs->avail_out > 0)
            break;
    }
    *got = n - left;
    return 0;
}

static const char *idx_cut_note(const idx_file *f)
{
    return f->cut ? " (the gzip stream is cut off)" : "";
}

static int idx_truncated(const idx_file *f, int64_t have)
{
    datasets_host->error("%s: truncated: header says %s = %" PRId64 " data bytes, "
                         "file has %" PRId64 " after the header%s", f->path, f->says,
                         f->data_bytes, have, idx_cut_note(f));
    return DLH_EDATA;
}

/* Reads and checks the header; for a raw file also its exact length. */
static int idx_header(idx_file *f)
{
    const dlh_host *host = datasets_host;
    unsigned char h[4 + 4 * IDX_MAX_DIMS];
    size_t got;
    int rc = idx_read_bytes(f, h, 4, &got);
    if (rc)
        return rc;
    if (got == 0) {
        host->error("%s: empty file%s", f->path, idx_cut_note(f));
        return DLH_EDATA;
    }
    if (got < 4) {
        host->error("%s: truncated: an IDX file starts with a 4-byte magic, file has "
                    "%zu bytes%s", f->path, got, idx_cut_note(f));
        return DLH_EDATA;
    }
    if (h[0] != 0 || h[1] != 0) {
        host->error("%s: not an IDX file: it starts with %02x %02x %02x %02x, expected "
                    "00 00, the type and the dimension count", f->path, h[0], h[1], h[2],
                    h[3]);
        return DLH_EDATA;
    }
    for (size_t i = 0; i < sizeof idx_types / sizeof idx_types[0]; i++)
        if (idx_types[i].code == h[2])
            f->type = &idx_types[i];
    if (!f->type) {
        host->error("%s: unknown IDX data type 0x%02X (expected 0x08 ubyte, 0x09 sbyte, "
                    "0x0B int16, 0x0C int32, 0x0D float32 or 0x0E float64)", f->path, h[2]);
        return DLH_EDATA;
    }
    if (h[3] < 1 || h[3] > IDX_MAX_DIMS) {
        host->error("%s: the IDX header has %d dimensions, expected 1 to %d", f->path, h[3],
                    IDX_MAX_DIMS);
        return DLH_EDATA;
    }
    f->ndim = h[3];
    size_t need = 4 * (size_t)f->ndim;
    if ((rc = idx_read_bytes(f, h + 4, need, &got)))
        return rc;
    if (got < need) {
        host->error("%s: truncated: a header of %d dimensions takes %zu bytes, file has "
                    "%zu%s", f->path, f->ndim, 4 + need, 4 + got, idx_cut_note(f));
        return DLH_EDATA;
    }
    f->header_bytes = 4 + (int64_t)need;
    memcpy(f->head, h, 4 + need);
    size_t tl = 0;
    int64_t bytes = f->type->size, numel = 1;
    int overflow = 0;
    for (int i = 0; i < f->ndim; i++) {
        const unsigned char *d = h + 4 + 4 * i;
        uint32_t v = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
        if (v == 0 || v > INT32_MAX) {
            host->error("%s: dimension %d of the IDX header is %" PRIu32 ", expected 1 to "
                        "2147483647", f->path, i + 1, v);
            return DLH_EDATA;
        }
        f->dim[i] = v;
        overflow |= __builtin_mul_overflow(bytes, (int64_t)v, &bytes);
        if (i > 0)
            overflow |= __builtin_mul_overflow(numel, (int64_t)v, &numel);
        tl += (size_t)snprintf(f->says + tl, sizeof f->says - tl, "%s%" PRIu32,
                               i ? " x " : "", v);
    }
    snprintf(f->says + tl, sizeof f->says - tl, " %s", f->type->name);
    if (overflow) {
        host->error("%s: header says %s: too large to address", f->path, f->says);
        return DLH_EDATA;
    }
    f->numel = numel;
    f->data_bytes = bytes;
    if (!f->gz) {
        int64_t have = f->file_size - f->header_bytes;
        if (have < f->data_bytes)
            return idx_truncated(f, have);
        if (have > f->data_bytes) {
            host->error("%s: trailing bytes: header says %s = %" PRId64 " data bytes, "
                        "file has %" PRId64 " after the header", f->path, f->says,
                        f->data_bytes, have);
            return DLH_EDATA;
        }
    }
    return 0;
}

/* A buffer for n bytes, freed with free().  A large one is asked to sit on
   huge pages: filling 47 MB of 4 KB pages costs more page faults (11,500)
   than the copy itself. */
static unsigned char *idx_alloc(int64_t n)
{
    const size_t huge = (size_t)2 << 20;
    if (n < (int64_t)huge)
        return malloc(n > 0 ? (size_t)n : 1);
    void *p = NULL;
    if (posix_memalign(&p, huge, (size_t)n) != 0)
        return NULL;
    madvise(p, (size_t)n, MADV_HUGEPAGE);
    return p;
}

#ifdef HAVE_LIBDEFLATE
/* Deflate turns one byte into at most 1032: a gzip file of n bytes never
   decodes to more than 1032 n, whatever its header says. */
#define IDX_DEFLATE_RATIO 1032

/* Gzip file f, its header read, decoded whole by libdeflate: its data in a
   new buffer (freed with free()), or NULL where it is not a clean decode of
   every member to exactly the header's size (a damaged, cut-off or longer
   file; no memory).  Then the zlib stream, which this leaves where it was
   (the file is read with pread), goes on and names the fault. */
static unsigned char *idx_inflate_whole(const idx_file *f)
{
    int64_t total = f->header_bytes + f->data_bytes;
    if (f->data_bytes / IDX_DEFLATE_RATIO > f->file_size)
        return NULL;
    unsigned char *in = idx_alloc(f->file_size);
    unsigned char *out = in ? idx_alloc(total) : NULL;
    struct libdeflate_decompressor *d = out ? libdeflate_alloc_decompressor() : NULL;
    int fd = fileno(f->f), ok = d != NULL;
    size_t have = 0, size = (size_t)f->file_size;
    while (ok && have < size) {
        ssize_t r = pread(fd, in + have, size - have, (off_t)have);
        if (r < 0 && errno == EINTR)
            continue;
        ok = r > 0;
        have += ok ? (size_t)r : 0;
    }
    /* gzip files may hold several members, one after another. */
    size_t in_at = 0, out_at = 0;
    while (ok && in_at < size) {
        size_t used = 0, made = 0;
        ok = libdeflate_gzip_decompress_ex(d, in + in_at, size - in_at, out + out_at,
                                           (size_t)total - out_at, &used, &made)
                 == LIBDEFLATE_SUCCESS && used > 0;
        in_at += used;
        out_at += made;
    }
    ok = ok && out_at == (size_t)total &&
         memcmp(out, f->head, (size_t)f->header_bytes) == 0;
    if (d)
        libdeflate_free_decompressor(d);
    free(in);
    if (!ok) {
        free(out);
        return NULL;
    }
    memmove(out, out + f->header_bytes, (size_t)f->data_bytes);
    return out;
}
#endif

/* Reads the first `keep` data bytes into a new buffer (*out, owned by the
   caller) and checks that exactly data_bytes follow the header. */
static int idx_load(idx_file *f, int64_t keep, unsigned char **out)
{
    const dlh_host *host = datasets_host;
    unsigned char *buf = NULL;
    size_t got;
    int rc;
    *out = NULL;
    if (!f->gz) {
        /* The length was checked against the file: keep bytes are there. */
        buf = idx_alloc(keep);
        if (!buf) {
            host->error("%s: out of memory for %" PRId64 " bytes", f->path, keep);
            return DLH_ENOMEM;
        }
        if ((rc = idx_read_bytes(f, buf, (size_t)keep, &got))) {
            free(buf);
            return rc;
        }
        if ((int64_t)got != keep) {
            free(buf);
            host->error("%s: read error: the file shrank while being read", f->path);
            return DLH_EIO;
        }
        *out = buf;
        return 0;
    }

#ifdef HAVE_LIBDEFLATE
    if (keep == f->data_bytes && (buf = idx_inflate_whole(f))) {
        if (f->cache_path && f->cache_line)
            idx_cache_write(f, buf);
        *out = buf;
        return 0;
    }
#endif
    /* gzip: the buffer doubles as data arrives, never past `keep`, so a
       header that lies costs no more memory than the stream delivers. */
    int64_t len = 0, cap = 0;
    while (len < keep) {
        if (len == cap) {
            int64_t ncap = cap ? cap * 2 : (int64_t)1 << 20;
            if (ncap > keep)
                ncap = keep;
            unsigned char *nb = realloc(buf, (size_t)ncap);
            if (!nb) {
                free(buf);
                host->error("%s: out of memory for %" PRId64 " bytes", f->path, ncap);
                return DLH_ENOMEM;
            }
            buf = nb;
            cap = ncap;
        }
        if ((rc = idx_read_bytes(f, buf + len, (size_t)(cap - len), &got))) {
            free(buf);
            return rc;
        }
        len += (int64_t)got;
        if (len < cap) {
            free(buf);
            return idx_truncated(f, len);
        }
    }
    /* The samples past `limit` are decoded only to check the length. */
    unsigned char *scratch = malloc(IDX_CHUNK);
    if (!scratch) {
        free(buf);
        host->error("%s: out of memory", f->path);
        return DLH_ENOMEM;
    }
    while (len < f->data_bytes) {
        int64_t want = f->data_bytes - len;
        if (want > IDX_CHUNK)
            want = IDX_CHUNK;
        if ((rc = idx_read_bytes(f, scratch, (size_t)want, &got)))
            goto fail;
        len += (int64_t)got;
        if ((int64_t)got < want) {
            rc = idx_truncated(f, len);
            goto fail;
        }
    }
    /* One byte more than the header promised means trailing data; reading
       to the end also checks the gzip trailer (CRC and length). */
    if ((rc = idx_read_bytes(f, scratch, 1, &got)))
        goto fail;
    if (got) {
        host->error("%s: trailing bytes: header says %s = %" PRId64 " data bytes, "
                    "file has more after the header", f->path, f->says, f->data_bytes);
        rc = DLH_EDATA;
        goto fail;
    }
    if (f->cut) {
        host->error("%s: truncated: the gzip stream is cut off after all %" PRId64
                    " data bytes (its end and checksum are missing)", f->path,
                    f->data_bytes);
        rc = DLH_EDATA;
        goto fail;
    }
    free(scratch);
    if (keep == f->data_bytes && f->cache_path && f->cache_line)
        idx_cache_write(f, buf);
    *out = buf;     /* keep > 0: every dimension is at least 1 */
    return 0;
fail:
    free(scratch);
    free(buf);
    return rc;
}

static void idx_swap(unsigned char *p, int64_t n, int size)
{
    if (size == 2)
        for (int64_t i = 0; i < n; i++) {
            uint16_t v;
            memcpy(&v, p + 2 * i, 2);
            v = __builtin_bswap16(v);
            memcpy(p + 2 * i, &v, 2);
        }
    else if (size == 4)
        for (int64_t i = 0; i < n; i++) {
            uint32_t v;
            memcpy(&v, p + 4 * i, 4);
            v = __builtin_bswap32(v);
            memcpy(p + 4 * i, &v, 4);
        }
    else if (size == 8)
        for (int64_t i = 0; i < n; i++) {
            uint64_t v;
            memcpy(&v, p + 8 * i, 8);
            v = __builtin_bswap64(v);
            memcpy(p + 8 * i, &v, 8);
        }
}

/* Turns big-endian elements into native ones, in place. */
static void idx_to_native(unsigned char *p, int64_t n, int size)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    idx_swap(p, n, size);
#else
    (void)p, (void)n, (void)size;
#endif
}

/* Element i of native data p of type t, as a double. */
static double idx_value(const unsigned char *p, int code, int64_t i)
{
    switch (code) {
    case IDX_U8: return p[i];
    case IDX_S8: return (int8_t)p[i];
    case IDX_I16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case IDX_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case IDX_F32: { float v; memcpy(&v, p + 4 * i, 4); return v; }
    default: { double v; memcpy(&v, p + 8 * i, 8); return v; }
    }
}

/* A float value that trains to NaN is worse than no file: refuse it (p
   holds samples first, first + 1, ...). */
static int idx_check_finite(const idx_file *f, const unsigned char *p, int64_t n,
                            int64_t first)
{
    if (f->type->code != IDX_F32 && f->type->code != IDX_F64)
        return 0;
    for (int64_t i = 0; i < n; i++) {
        double v = idx_value(p, f->type->code, i);
        if (!isfinite(v) || fabs(v) > FLT_MAX) {
            datasets_host->error("%s: sample %" PRId64 ", element %" PRId64 ": %g is not "
                                 "a finite float32 value", f->path, first + i / f->numel,
                                 i % f->numel, v);
            return DLH_EDATA;
        }
    }
    return 0;
}

static int idx_open(const dlh_host *host, dlh_params *p, void **state)
{
    idx_state *st = calloc(1, sizeof *st);
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    *state = st;

    const char *images, *labels;
    const int64_t all = INT64_MAX;
    const int no = 0;
    int64_t limit;
    int rc;
    if ((rc = host->param_path(p, "images", NULL, &images)) ||
        (rc = host->param_path(p, "labels", "", &labels)) ||
        (rc = host->param_int(p, "limit", &all, 1, INT64_MAX, &limit)) ||
        (rc = host->param_bool(p, "stream", &no, &st->stream)))
        return rc;
    st->images_path = strdup(images);
    if (!st->images_path) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }

    idx_file fi, fl;
    memset(&fl, 0, sizeof fl);
    unsigned char *lab = NULL;
    if ((rc = idx_file_open(p, "images", images, !st->stream, &fi)) || (rc = idx_header(&fi)))
        goto out;
    /* Both headers first, so that mismatched files fail before the images
       are decompressed. */
    if (*labels) {
        if ((rc = idx_file_open(p, "labels", labels, 1, &fl)) || (rc = idx_header(&fl)))
            goto out;
        if (fl.ndim != 1) {
            host->error("%s: a label file has 1 dimension (idx1), this one has %d (%s)",
                        labels, fl.ndim, fl.says);
            rc = DLH_EDATA;
            goto out;
        }
        if (fl.type->code == IDX_F32 || fl.type->code == IDX_F64) {
            host->error("%s: class labels must be integers (ubyte, sbyte, int16 or "
                        "int32), this file holds %s", labels, fl.type->name);
            rc = DLH_EDATA;
            goto out;
        }
        if (fl.dim[0] != fi.dim[0]) {
            host->error("label count %" PRId64 " in %s differs from the image count %"
                        PRId64 " in %s", fl.dim[0], labels, fi.dim[0], images);
            rc = DLH_EDATA;
            goto out;
        }
    }

    st->type = fi.type;
    st->numel = fi.numel;
    st->n = limit < fi.dim[0] ? limit : fi.dim[0];
    /* n <= dim[0], so this product is at most data_bytes. */
    int64_t keep = st->n * fi.numel * fi.type->size;
    if (st->stream) {
        /* The file checked whole (a raw one's length already), none kept. */
        unsigned char *none = NULL;
        rc = fi.gz ? idx_load(&fi, 0, &none) : 0;
        free(none);
        if (rc || (rc = idx_file_open(p, "images", images, 0, &st->sf)) ||
            (rc = idx_header(&st->sf)))
            goto out;
        st->sf.path = st->images_path;
        if (!(st->row = malloc((size_t)(fi.numel * fi.type->size)))) {
            host->error("%s: out of memory", images);
            rc = DLH_ENOMEM;
            goto out;
        }
    } else if ((rc = idx_load(&fi, keep, &st->x))) {
        goto out;
    }
    if (!st->stream) {
        idx_to_native(st->x, st->n * st->numel, fi.type->size);
        if ((rc = idx_check_finite(&fi, st->x, st->n * st->numel, 0)))
            goto out;
    }

    if (fl.f) {
        if ((rc = idx_load(&fl, fl.data_bytes, &lab)))
            goto out;
        idx_to_native(lab, fl.dim[0], fl.type->size);
        int64_t max_label = -1;
        for (int64_t i = 0; i < fl.dim[0]; i++) {
            double v = idx_value(lab, fl.type->code, i);
            if (v < 0 || v >= IDX_MAX_CLASS) {
                host->error("%s: label %.0f of sample %" PRId64 " is not a class index "
                            "in [0, 16777216)", labels, v, i);
                rc = DLH_EDATA;
                goto out;
            }
            if ((int64_t)v > max_label)
                max_label = (int64_t)v;
        }
        st->n_classes = max_label + 1;
        st->y = malloc((size_t)st->n * sizeof(float));
        if (!st->y) {
            host->error("%s: out of memory for %" PRId64 " labels", labels, st->n);
            rc = DLH_ENOMEM;
            goto out;
        }
        for (int64_t i = 0; i < st->n; i++)
            st->y[i] = (float)idx_value(lab, fl.type->code, i);
    }

    if (fi.ndim == 1) {
        st->sample.ndim = 1;
        st->sample.dim[0] = 1;
    } else if (fi.ndim == 3) {
        st->sample.ndim = 3;
        st->sample.dim[0] = 1;
        st->sample.dim[1] = fi.dim[1];
        st->sample.dim[2] = fi.dim[2];
    } else {
        st->sample.ndim = fi.ndim - 1;
        for (int i = 1; i < fi.ndim; i++)
            st->sample.dim[i - 1] = fi.dim[i];
    }
out:
    free(lab);
    idx_file_close(&fi);
    idx_file_close(&fl);
    return rc;
}

static int idx_info(void *state, dlh_dataset_info *info)
{
    idx_state *st = state;
    info->n_samples = st->n;
    info->sample = st->sample;
    info->label_kind = st->y ? DLH_LABEL_CLASS : DLH_LABEL_NONE;
    info->n_classes = st->y ? st->n_classes : 0;
    memset(&info->label, 0, sizeof info->label);
    return 0;
}

/* How many samples ahead idx_read prefetches. */
#define IDX_PREFETCH_AHEAD 4

/* stream = true: sample i's bytes from the file into st->row, native and
   checked. */
static int idx_read_stream(idx_state *st, int64_t i)
{
    idx_file *f = &st->sf;
    int64_t bytes = st->numel * st->type->size;
    size_t got = 0;
    int rc = 0;
    if (!f->gz) {
        if (fseeko(f->f, (off_t)(f->header_bytes + i * bytes), SEEK_SET) != 0) {
            datasets_host->error("%s: cannot seek: %s", f->path, strerror(errno));
            return DLH_EIO;
        }
    } else if (i < st->cur) {
        /* Back to the start of the stream. */
        const char *path = f->path;
        idx_file_close(f);
        st->cur = 0;
        if ((rc = idx_file_open(NULL, "images", path, 0, f)) || (rc = idx_header(f)))
            return rc;
    }
    /* gzip: the samples between are read and dropped. */
    for (; rc == 0 && f->gz && st->cur < i; st->cur++)
        if ((rc = idx_read_bytes(f, st->row, (size_t)bytes, &got)) == 0 &&
            got != (size_t)bytes)
            rc = idx_truncated(f, st->cur * bytes + (int64_t)got);
    if (rc || (rc = idx_read_bytes(f, st->row, (size_t)bytes, &got)))
        return rc;
    if (got != (size_t)bytes) {
        datasets_host->error("%s: read error: the file shrank while being read", f->path);
        return DLH_EIO;
    }
    st->cur = i + 1;
    idx_to_native(st->row, st->numel, st->type->size);
    return idx_check_finite(f, st->row, st->numel, i);
}

static int idx_read(void *state, const int64_t *idx, size_t n, float *x, float *y)
{
    idx_state *st = state;
    for (size_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= st->n) {
            datasets_host->error("%s: sample index %" PRId64 " is out of range [0, %"
                                 PRId64 ")", st->images_path, idx[i], st->n);
            return DLH_EINVAL;
        }
    size_t m = (size_t)st->numel, size = (size_t)st->type->size;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *s = st->stream ? st->row : st->x + (size_t)idx[i] * m * size;
        int rc = st->stream ? idx_read_stream(st, idx[i]) : 0;
        if (rc)
            return rc;
        /* Samples come in shuffled order from memory far larger than the
           caches: fetch a later one while this one converts. */
        if (!st->stream && i + IDX_PREFETCH_AHEAD < n) {
            const unsigned char *next =
                st->x + (size_t)idx[i + IDX_PREFETCH_AHEAD] * m * size;
            for (size_t o = 0; o < m * size; o += 64)
                __builtin_prefetch(next + o);
        }
        float *d = x + i * m;
        switch (st->type->code) {
        case IDX_U8:
            #pragma omp simd
            for (size_t j = 0; j < m; j++)
                d[j] = (float)s[j];
            break;
        case IDX_F32:
            memcpy(d, s, m * sizeof(float));
            break;
        default:
            for (size_t j = 0; j < m; j++)
                d[j] = (float)idx_value(s, st->type->code, (int64_t)j);
            break;
        }
        if (y && st->y)
            y[i] = st->y[idx[i]];
    }
    return 0;
}

static void idx_close(void *state)
{
    idx_state *st = state;
    if (!st)
        return;
    free(st->x);
    free(st->y);
    free(st->row);
    idx_file_close(&st->sf);
    free(st->images_path);
    free(st);
}

const dlh_dataset_ops idx_ops = {
    .struct_size = sizeof(dlh_dataset_ops),
    .open = idx_open,
    .info = idx_info,
    .read = idx_read,
    .close = idx_close,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc idx_params[] = {
    { "images", DLH_PARAM_PATH, NULL, 0, 0, NULL, "the IDX images file (raw or .gz), relative to the configuration file" },
    { "labels", DLH_PARAM_PATH, "", 0, 0, NULL, "the IDX labels file (raw or .gz); unset: no labels" },
    { "limit", DLH_PARAM_INT, "9223372036854775807", 1, INT64_MAX, NULL, "read at most this many samples (the first ones); the default: all" },
    { "stream", DLH_PARAM_BOOL, "false", 0, 0, NULL, "read samples from the file at each read instead of holding them" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
