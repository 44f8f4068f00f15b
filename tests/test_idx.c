/* The idx dataset reader: small IDX files written here (raw and gzip) of
 * every element type, checked through info and read; every kind of bad
 * file with its exact message; and the real Fashion-MNIST files when
 * Debian's dataset-fashion-mnist package is installed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <dlhost/dlhost.h>

#include "cache_dir.h"
#include "error.h"
#include "params.h"
#include "reader_open.h"
#include "registry.h"
#include "tap.h"
#include "tmpdir.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

static char dir[4096];
static const dlh_dataset_ops *idx;
static int n_files;

/* ---------------------------------------------------------------- writing */

/* A growing byte string. */
typedef struct bytes {
    unsigned char b[8192];
    size_t n;
} bytes;

static void put_u8(bytes *s, unsigned v)
{
    if (s->n >= sizeof s->b) {
        printf("Bail out! test IDX file over %zu bytes\n", sizeof s->b);
        exit(1);
    }
    s->b[s->n++] = (unsigned char)v;
}

static void put_be(bytes *s, uint64_t v, int size)
{
    for (int i = size - 1; i >= 0; i--)
        put_u8(s, (unsigned)(v >> (8 * i)) & 0xff);
}

/* An IDX header: magic 00 00 type ndim, then the dims. */
static void header(bytes *s, int type, int ndim, const uint32_t *dims)
{
    s->n = 0;
    put_u8(s, 0);
    put_u8(s, 0);
    put_u8(s, (unsigned)type);
    put_u8(s, (unsigned)ndim);
    for (int i = 0; i < ndim; i++)
        put_be(s, dims[i], 4);
}

static void put_f32(bytes *s, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    put_be(s, u, 4);
}

static void put_f64(bytes *s, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    put_be(s, u, 8);
}

static void bail_io(const char *what, const char *path)
{
    printf("Bail out! cannot %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

/* A fresh file name in the temp folder. */
static const char *fresh(const char *ext)
{
    static char path[2][4200];
    static int which;
    which ^= 1;
    snprintf(path[which], sizeof path[which], "%s/f%d.%s", dir, ++n_files, ext);
    return path[which];
}

/* Writes s[0..n) as a raw file; returns its path (valid for two calls). */
static const char *put_raw(const void *s, size_t n)
{
    const char *path = fresh("idx");
    tmpdir_write(path, s, n);
    return path;
}

/* Writes s[0..n) gzip-compressed, in `members` gzip members. */
static const char *put_gz_members(const void *s, size_t n, int members)
{
    const char *path = fresh("gz");
    size_t at = 0;
    for (int m = 0; m < members; m++) {
        size_t part = m == members - 1 ? n - at : n / (size_t)members;
        gzFile g = gzopen(path, m ? "ab" : "wb");
        if (!g || (part && gzwrite(g, (const char *)s + at, (unsigned)part) != (int)part) ||
            gzclose(g) != Z_OK)
            bail_io("gzip", path);
        at += part;
    }
    return path;
}

static const char *put_gz(const void *s, size_t n)
{
    return put_gz_members(s, n, 1);
}

static const char *put_bytes(const bytes *s, int gz)
{
    return gz ? put_gz(s->b, s->n) : put_raw(s->b, s->n);
}

static void append_raw(const char *path, const void *s, size_t n)
{
    FILE *f = fopen(path, "ab");
    if (!f || fwrite(s, 1, n, f) != n || fclose(f) != 0)
        bail_io("append to", path);
}

static long file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        bail_io("stat", path);
    return (long)st.st_size;
}

/* ---------------------------------------------------------------- opening */

/* Opens the reader over "images = ...; labels = ...; <extra>" as the
   experiment does (labels NULL: none), checks unused keys, fills info. */
static void open_idx(reader_opened *o, const char *images, const char *labels, const char *extra)
{
    char text[12000], lab[4300] = "";
    if (labels)
        snprintf(lab, sizeof lab, "labels = \"%s\"; ", labels);
    snprintf(text, sizeof text, "type = \"idx\"; images = \"%s\"; %s%s", images, lab,
             extra);
    reader_open(o, idx, dir, text);
}

/* Opening fails with rc and exactly `want`. */
static void bad(const char *what, const char *images, const char *labels,
                const char *extra, int rc, const char *want)
{
    reader_opened o;
    open_idx(&o, images, labels, extra);
    ok(o.rc == rc, "%s: rc %d (%s)", what, o.rc, dlh_strerror(o.rc));
    if (!ok(strcmp(o.msg, want) == 0, "%s: message", what))
        diag("got  '%s'\n#   want '%s'", o.msg, want);
    reader_close(&o);
}

/* Opening the file s (raw or gzip) as images fails with EDATA and exactly
   "<path>: <want>". */
static void bad_file(const char *what, const bytes *s, int gz, const char *want)
{
    const char *path = put_bytes(s, gz);
    char full[8400];
    snprintf(full, sizeof full, "%s: %s", path, want);
    bad(what, path, NULL, "", DLH_EDATA, full);
}

/* Opening fails with rc and a message containing every part given. */
static void bad_parts(const char *what, const char *images, const char *labels,
                      const char *extra, int rc, const char *part1, const char *part2)
{
    reader_opened o;
    open_idx(&o, images, labels, extra);
    ok(o.rc == rc, "%s: rc %d (%s)", what, o.rc, dlh_strerror(o.rc));
    if (!ok(strstr(o.msg, part1) && (!part2 || strstr(o.msg, part2)),
            "%s: message names the problem", what))
        diag("got '%s', want '%s'%s%s", o.msg, part1, part2 ? " and " : "",
             part2 ? part2 : "");
    reader_close(&o);
}

static int floats_eq(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) {
            diag("element %zu: got %.9g, want %.9g", i, a[i], b[i]);
            return 0;
        }
    return 1;
}

static int shape_is(const dlh_shape *s, int ndim, int64_t d0, int64_t d1, int64_t d2)
{
    const int64_t d[3] = { d0, d1, d2 };
    if (s->ndim != ndim)
        return 0;
    for (int i = 0; i < ndim; i++)
        if (s->dim[i] != d[i])
            return 0;
    return 1;
}

/* 3 images of 2 x 2 ubyte (values 10 * sample + pixel, the last 255) and
   labels 4, 0, 2. */
static void mnist_like(bytes *img, bytes *lab)
{
    const uint32_t d[] = { 3, 2, 2 }, n[] = { 3 };
    header(img, 0x08, 3, d);
    for (unsigned i = 0; i < 3; i++)
        for (unsigned j = 0; j < 4; j++)
            put_u8(img, i == 2 && j == 3 ? 255 : 10 * i + j);
    header(lab, 0x08, 1, n);
    put_u8(lab, 4);
    put_u8(lab, 0);
    put_u8(lab, 2);
}

/* ---------------------------------------------------------------- good files */

/* With `stream`: stream = true, the same samples read from the file (2, 0,
   2, 1: seeks back, and a gzip stream started again). */
static void test_ubyte(int gz, int stream)
{
    const char *kind = gz ? stream ? "gzip stream" : "gzip" : stream ? "raw stream" : "raw";
    bytes img, lab;
    mnist_like(&img, &lab);
    char ipath[4200];
    snprintf(ipath, sizeof ipath, "%s", put_bytes(&img, gz));
    reader_opened o;
    open_idx(&o, ipath, put_bytes(&lab, gz), stream ? "stream = true;" : "");
    ok(o.rc == 0, "%s ubyte 3 x 2 x 2 with labels: opens (%s)", kind, o.msg);
    ok(o.info.n_samples == 3, "%s: 3 samples", kind);
    ok(shape_is(&o.info.sample, 3, 1, 2, 2), "%s: 2-D samples get a channel axis: "
       "[1, 2, 2]", kind);
    ok(o.info.label_kind == DLH_LABEL_CLASS, "%s: class labels", kind);
    ok(o.info.n_classes == 5, "%s: n_classes = 1 + max label 4 (got %lld)", kind,
       (long long)o.info.n_classes);
    int64_t ix[] = { 2, 0, 2 };
    float x[12], y[3] = { -1, -1, -1 };
    const float wx[] = { 20, 21, 22, 255, 0, 1, 2, 3, 20, 21, 22, 255 };
    const float wy[] = { 2, 4, 2 };
    ok(idx->read(o.state, ix, 3, x, y) == 0, "%s: read samples 2, 0, 2", kind);
    ok(floats_eq(x, wx, 12), "%s: pixel values as stored (0..255)", kind);
    ok(floats_eq(y, wy, 3), "%s: labels as floats", kind);
    float x1[4];
    int64_t one = 1;
    const float w1[] = { 10, 11, 12, 13 };
    ok(idx->read(o.state, &one, 1, x1, NULL) == 0 && floats_eq(x1, w1, 4),
       "%s: read without labels", kind);

    int64_t oob[] = { 0, 3 };
    ok(idx->read(o.state, oob, 2, x, y) == DLH_EINVAL, "%s: index 3 of 3: DLH_EINVAL",
       kind);
    char want[4300];
    snprintf(want, sizeof want, "%s: sample index 3 is out of range [0, 3)", ipath);
    ok(strcmp(dlh_error_get(), want) == 0, "%s: out-of-range message: %s", kind,
       dlh_error_get());
    int64_t neg = -1;
    ok(idx->read(o.state, &neg, 1, x, y) == DLH_EINVAL, "%s: index -1: DLH_EINVAL", kind);
    reader_close(&o);
}

static void test_types(void)
{
    reader_opened o;
    bytes s;
    int64_t ix[] = { 1, 0 };

    /* float32, 1-D samples: shape stays [3]; int32 labels, gzip. */
    const uint32_t d1[] = { 2, 3 }, n2[] = { 2 };
    header(&s, 0x0D, 2, d1);
    const float f[] = { 1.5f, -2.25f, 0.0f, 1e-3f, 3e7f, -0.5f };
    for (int i = 0; i < 6; i++)
        put_f32(&s, f[i]);
    char ipath[4200];
    snprintf(ipath, sizeof ipath, "%s", put_gz(s.b, s.n));
    header(&s, 0x0C, 1, n2);
    put_be(&s, 7, 4);
    put_be(&s, 65536, 4);
    open_idx(&o, ipath, put_gz(s.b, s.n), "");
    ok(o.rc == 0, "float32 images, int32 labels (gzip): opens (%s)", o.msg);
    ok(shape_is(&o.info.sample, 1, 3, 0, 0), "1-D samples keep shape [3]");
    ok(o.info.n_classes == 65537, "int32 labels: n_classes 65537 (got %lld)",
       (long long)o.info.n_classes);
    float x[6], y[2];
    const float wx[] = { 1e-3f, 3e7f, -0.5f, 1.5f, -2.25f, 0.0f }, wy[] = { 65536, 7 };
    ok(idx->read(o.state, ix, 2, x, y) == 0 && floats_eq(x, wx, 6) && floats_eq(y, wy, 2),
       "float32 values and int32 labels read back exactly");
    reader_close(&o);

    /* sbyte, 1-D file (scalar samples become [1]). */
    const uint32_t d4[] = { 4 };
    header(&s, 0x09, 1, d4);
    put_u8(&s, 0x80);
    put_u8(&s, 0xff);
    put_u8(&s, 0x00);
    put_u8(&s, 0x7f);
    open_idx(&o, put_raw(s.b, s.n), NULL, "");
    ok(o.rc == 0 && o.info.n_samples == 4 && shape_is(&o.info.sample, 1, 1, 0, 0),
       "sbyte idx1: 4 samples of shape [1] (%s)", o.msg);
    ok(o.info.label_kind == DLH_LABEL_NONE && o.info.n_classes == 0,
       "no labels file: label kind none, 0 classes");
    int64_t all[] = { 0, 1, 2, 3 };
    float xs[4], ys[4] = { 42, 42, 42, 42 };
    const float wxs[] = { -128, -1, 0, 127 }, wys[] = { 42, 42, 42, 42 };
    ok(idx->read(o.state, all, 4, xs, ys) == 0 && floats_eq(xs, wxs, 4),
       "sbyte values are signed: -128, -1, 0, 127");
    ok(floats_eq(ys, wys, 4), "no labels: y is left alone");
    reader_close(&o);

    /* int16, 3-D samples taken as stored: 2 x [2, 1, 2]. */
    const uint32_t d3[] = { 2, 2, 1, 2 };
    header(&s, 0x0B, 4, d3);
    const int16_t v16[] = { -32768, -2, 300, 32767, 1, 0, -1, 258 };
    for (int i = 0; i < 8; i++)
        put_be(&s, (uint16_t)v16[i], 2);
    open_idx(&o, put_gz(s.b, s.n), NULL, "");
    ok(o.rc == 0 && shape_is(&o.info.sample, 3, 2, 1, 2),
       "int16 idx4: samples [2, 1, 2] as stored (%s)", o.msg);
    float x16[8];
    const float w16[] = { 1, 0, -1, 258, -32768, -2, 300, 32767 };
    ok(idx->read(o.state, ix, 2, x16, NULL) == 0 && floats_eq(x16, w16, 8),
       "int16 values big-endian and signed");
    reader_close(&o);

    /* float64 becomes the nearest float. */
    const uint32_t d2[] = { 1, 2 };
    header(&s, 0x0E, 2, d2);
    put_f64(&s, 0.1);
    put_f64(&s, -1e300 * 1e-290);
    open_idx(&o, put_raw(s.b, s.n), NULL, "");
    float x64[2];
    int64_t z = 0;
    ok(o.rc == 0 && idx->read(o.state, &z, 1, x64, NULL) == 0 &&
       x64[0] == (float)0.1 && x64[1] == (float)-1e10, "float64 read as the nearest "
       "float (%s)", o.msg);
    reader_close(&o);
}

static void test_limit_and_members(void)
{
    bytes img, lab;
    mnist_like(&img, &lab);
    char ipath[4200], lpath[4200];
    snprintf(ipath, sizeof ipath, "%s", put_gz(img.b, img.n));
    snprintf(lpath, sizeof lpath, "%s", put_raw(lab.b, lab.n));
    reader_opened o;
    open_idx(&o, ipath, lpath, "limit = 2;");
    ok(o.rc == 0 && o.info.n_samples == 2, "limit = 2 keeps 2 of 3 samples (%s)", o.msg);
    ok(o.info.n_classes == 5, "the class count still comes from the whole label file");
    int64_t ix[] = { 1, 0 };
    float x[8], y[2];
    const float wx[] = { 10, 11, 12, 13, 0, 1, 2, 3 }, wy[] = { 0, 4 };
    ok(idx->read(o.state, ix, 2, x, y) == 0 && floats_eq(x, wx, 8) && floats_eq(y, wy, 2),
       "limited samples read back");
    int64_t two = 2;
    ok(idx->read(o.state, &two, 1, x, y) == DLH_EINVAL, "index 2 is past the limit");
    reader_close(&o);

    open_idx(&o, ipath, lpath, "limit = 1000;");
    ok(o.rc == 0 && o.info.n_samples == 3, "a limit above the count is clamped to it "
       "(%s)", o.msg);
    reader_close(&o);

    bad_parts("limit 0", ipath, lpath, "limit = 0;", DLH_ECONFIG,
              "exp.cfg:1: data.train: ", "'limit'");

    /* The samples past the limit are still checked: a trailing byte in a
       gzip file is found with limit = 1. */
    bytes more = img;
    put_u8(&more, 9);
    const char *p = put_gz(more.b, more.n);
    char want[8400];
    snprintf(want, sizeof want, "%s: trailing bytes: header says 3 x 2 x 2 ubyte = 12 "
             "data bytes, file has more after the header", p);
    bad("gzip trailing byte past the limit", p, NULL, "limit = 1;", DLH_EDATA, want);

    /* gzip allows several members one after the other. */
    open_idx(&o, put_gz_members(img.b, img.n, 3), put_gz_members(lab.b, lab.n, 2), "");
    float xa[12], ya[3];
    int64_t all[] = { 0, 1, 2 };
    const float wa[] = { 0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 255 }, wya[] = { 4, 0, 2 };
    ok(o.rc == 0 && idx->read(o.state, all, 3, xa, ya) == 0 && floats_eq(xa, wa, 12) &&
       floats_eq(ya, wya, 3), "a gzip file of 3 members reads as one stream (%s)", o.msg);
    reader_close(&o);

    bad_parts("unknown parameter", ipath, lpath, "limt = 2;", DLH_ECONFIG,
              "unknown parameter 'limt'", "did you mean 'limit'?");
}

/* ---------------------------------------------------------------- bad files */

static void test_bad_headers(void)
{
    bytes s;
    const uint32_t d[] = { 3, 2, 2 };
    header(&s, 0x08, 3, d);
    s.n = 0;
    bad_file("empty file", &s, 0, "empty file");
    bad_file("empty gzip file", &s, 1, "empty file");
    header(&s, 0x08, 3, d);
    s.n = 3;
    bad_file("3 bytes", &s, 0, "truncated: an IDX file starts with a 4-byte magic, "
             "file has 3 bytes");
    header(&s, 0x08, 3, d);
    s.n = 10;
    bad_file("header cut inside the dims", &s, 0, "truncated: a header of 3 dimensions "
             "takes 16 bytes, file has 10");
    bad_file("gzip header cut inside the dims", &s, 1, "truncated: a header of 3 "
             "dimensions takes 16 bytes, file has 10");

    header(&s, 0x08, 3, d);
    s.b[1] = 0x08;
    for (int i = 0; i < 12; i++)
        put_u8(&s, 0);
    bad_file("wrong magic", &s, 0, "not an IDX file: it starts with 00 08 08 03, "
             "expected 00 00, the type and the dimension count");
    const char png[] = "\x89PNG\r\n\x1a\n....";
    const char *pp = put_raw(png, sizeof png - 1);
    char want[8400];
    snprintf(want, sizeof want, "%s: not an IDX file: it starts with 89 50 4e 47, "
             "expected 00 00, the type and the dimension count", pp);
    bad("a PNG file", pp, NULL, "", DLH_EDATA, want);

    header(&s, 0x0A, 3, d);
    bad_file("unknown type 0x0A", &s, 0, "unknown IDX data type 0x0A (expected 0x08 "
             "ubyte, 0x09 sbyte, 0x0B int16, 0x0C int32, 0x0D float32 or 0x0E float64)");
    header(&s, 0x08, 0, d);
    bad_file("ndim 0", &s, 0, "the IDX header has 0 dimensions, expected 1 to 4");
    const uint32_t d5[] = { 1, 1, 1, 1, 1 };
    header(&s, 0x08, 5, d5);
    put_u8(&s, 0);
    bad_file("ndim 5", &s, 1, "the IDX header has 5 dimensions, expected 1 to 4");

    const uint32_t dz[] = { 3, 0, 2 };
    header(&s, 0x08, 3, dz);
    bad_file("a zero dimension", &s, 0, "dimension 2 of the IDX header is 0, expected "
             "1 to 2147483647");
    const uint32_t dn[] = { 0x80000000u, 2 };
    header(&s, 0x08, 2, dn);
    bad_file("a negative dimension", &s, 0, "dimension 1 of the IDX header is "
             "2147483648, expected 1 to 2147483647");
    const uint32_t dbig[] = { 2147483647, 2147483647, 2147483647 };
    header(&s, 0x0E, 3, dbig);
    bad_file("dims that overflow", &s, 1, "header says 2147483647 x 2147483647 x "
             "2147483647 float64: too large to address");
    /* A huge but addressable header over a tiny gzip stream must fail on the
       stream's length, not on allocating what the header claims. */
    const uint32_t dhuge[] = { 2147483647, 2147483647 };
    header(&s, 0x08, 2, dhuge);
    put_u8(&s, 1);
    bad_file("gzip header claims 4 EiB", &s, 1, "truncated: header says 2147483647 x "
             "2147483647 ubyte = 4611686014132420609 data bytes, file has 1 after the "
             "header");
}

static void test_bad_lengths(void)
{
    bytes s;
    const uint32_t d[] = { 60000, 28, 28 };
    header(&s, 0x08, 3, d);
    for (int i = 0; i < 4700; i++)
        put_u8(&s, (unsigned)i & 0xff);
    /* The issue's own example. */
    bad_file("truncated raw", &s, 0, "truncated: header says 60000 x 28 x 28 ubyte = "
             "47040000 data bytes, file has 4700 after the header");
    bad_file("truncated gzip", &s, 1, "truncated: header says 60000 x 28 x 28 ubyte = "
             "47040000 data bytes, file has 4700 after the header");

    const uint32_t d2[] = { 2, 3 };
    header(&s, 0x0B, 2, d2);
    for (int i = 0; i < 13; i++)
        put_u8(&s, 1);
    bad_file("trailing bytes raw", &s, 0, "trailing bytes: header says 2 x 3 int16 = 12 "
             "data bytes, file has 13 after the header");
    bad_file("trailing bytes gzip", &s, 1, "trailing bytes: header says 2 x 3 int16 = 12 "
             "data bytes, file has more after the header");
    s.n -= 2;
    bad_file("odd length int16 raw", &s, 0, "truncated: header says 2 x 3 int16 = 12 "
             "data bytes, file has 11 after the header");

    /* A gzip file cut off in the middle: the stream ends early. */
    bytes big;
    const uint32_t db[] = { 8, 256 };
    header(&big, 0x08, 2, db);
    uint32_t r = 1;
    for (int i = 0; i < 2048; i++) {
        r = r * 1103515245u + 12345u;    /* incompressible enough */
        put_u8(&big, r >> 24);
    }
    const char *gp = put_gz(big.b, big.n);
    long full = file_size(gp);
    if (truncate(gp, full / 2) != 0)
        bail_io("truncate", gp);
    bad_parts("gzip file cut in half", gp, NULL, "", DLH_EDATA,
              ": truncated: header says 8 x 256 ubyte = 2048 data bytes, file has ",
              " after the header (the gzip stream is cut off)");

    /* Cut off inside the 8-byte trailer: every data byte is there. */
    gp = put_gz(big.b, big.n);
    if (truncate(gp, file_size(gp) - 3) != 0)
        bail_io("truncate", gp);
    char want[8400];
    snprintf(want, sizeof want, "%s: truncated: the gzip stream is cut off after all "
             "2048 data bytes (its end and checksum are missing)", gp);
    bad("gzip trailer cut", gp, NULL, "", DLH_EDATA, want);

    /* A flipped byte in the compressed data fails the CRC or the decoding. */
    gp = put_gz(big.b, big.n);
    FILE *f = fopen(gp, "r+b");
    int c;
    if (!f || fseek(f, full / 2, SEEK_SET) != 0 || (c = fgetc(f)) == EOF ||
        fseek(f, full / 2, SEEK_SET) != 0 || fputc(c ^ 0x55, f) == EOF || fclose(f) != 0)
        bail_io("corrupt", gp);
    bad_parts("corrupt gzip data", gp, NULL, "", DLH_EDATA, ": corrupt gzip data: ", NULL);

    /* Bytes after the gzip stream that are not another member. */
    gp = put_gz(big.b, big.n);
    append_raw(gp, "junk", 4);
    snprintf(want, sizeof want, "%s: corrupt gzip file: bytes after the end of the gzip "
             "stream that are not another gzip member", gp);
    bad("junk after the gzip stream", gp, NULL, "", DLH_EDATA, want);

    /* Float data must be finite. */
    const uint32_t df[] = { 2, 2 };
    header(&s, 0x0D, 2, df);
    put_f32(&s, 1);
    put_f32(&s, 2);
    put_f32(&s, 3);
    put_f32(&s, NAN);
    bad_file("NaN in float32 data", &s, 0, "sample 1, element 1: nan is not a finite "
             "float32 value");
    header(&s, 0x0E, 2, df);
    put_f64(&s, 1);
    put_f64(&s, 1e300);
    put_f64(&s, 3);
    put_f64(&s, 4);
    bad_file("float64 beyond float range", &s, 0, "sample 0, element 1: 1e+300 is not "
             "a finite float32 value");
}

static void test_bad_labels(void)
{
    bytes img, lab, s;
    mnist_like(&img, &lab);
    char ipath[4200], want[9000];
    snprintf(ipath, sizeof ipath, "%s", put_raw(img.b, img.n));

    const uint32_t n2[] = { 2 };
    header(&s, 0x08, 1, n2);
    put_u8(&s, 1);
    put_u8(&s, 1);
    const char *lp = put_gz(s.b, s.n);
    snprintf(want, sizeof want, "label count 2 in %s differs from the image count 3 in %s",
             lp, ipath);
    bad("label count mismatch", ipath, lp, "", DLH_EDATA, want);
    /* The count is compared before any data is read: with a limit too. */
    bad("label count mismatch with limit = 1", ipath, lp, "limit = 1;", DLH_EDATA, want);

    const uint32_t n3[] = { 3 };
    header(&s, 0x0C, 1, n3);
    put_be(&s, 1, 4);
    put_be(&s, 0xffffffffu, 4);
    put_be(&s, 2, 4);
    lp = put_raw(s.b, s.n);
    snprintf(want, sizeof want, "%s: label -1 of sample 1 is not a class index in "
             "[0, 16777216)", lp);
    bad("negative int32 label", ipath, lp, "", DLH_EDATA, want);
    /* Labels past the limit are checked too. */
    bad("negative label past the limit", ipath, lp, "limit = 1;", DLH_EDATA, want);

    header(&s, 0x0C, 1, n3);
    put_be(&s, 1, 4);
    put_be(&s, 2, 4);
    put_be(&s, 16777216, 4);
    lp = put_gz(s.b, s.n);
    snprintf(want, sizeof want, "%s: label 16777216 of sample 2 is not a class index in "
             "[0, 16777216)", lp);
    bad("label 2^24", ipath, lp, "", DLH_EDATA, want);

    header(&s, 0x0D, 1, n3);
    put_f32(&s, 0);
    put_f32(&s, 1);
    put_f32(&s, 2);
    lp = put_raw(s.b, s.n);
    snprintf(want, sizeof want, "%s: class labels must be integers (ubyte, sbyte, int16 "
             "or int32), this file holds float32", lp);
    bad("float labels", ipath, lp, "", DLH_EDATA, want);

    /* The images file given as labels by mistake. */
    snprintf(want, sizeof want, "%s: a label file has 1 dimension (idx1), this one has 3 "
             "(3 x 2 x 2 ubyte)", ipath);
    bad("images as labels", ipath, ipath, "", DLH_EDATA, want);

    header(&s, 0x08, 1, n3);
    put_u8(&s, 1);
    lp = put_raw(s.b, s.n);
    snprintf(want, sizeof want, "%s: truncated: header says 3 ubyte = 3 data bytes, file "
             "has 1 after the header", lp);
    bad("truncated labels", ipath, lp, "", DLH_EDATA, want);
}

static void test_missing(void)
{
    char path[4300], want[9000];
    snprintf(path, sizeof path, "%s/missing.idx", dir);
    snprintf(want, sizeof want, "%s/exp.cfg:1: data.train: parameter 'images': no such "
             "file: '%s'", dir, path);
    bad("missing images", path, NULL, "", DLH_ECONFIG, want);

    bytes img, lab;
    mnist_like(&img, &lab);
    const char *ip = put_raw(img.b, img.n);
    snprintf(want, sizeof want, "%s/exp.cfg:1: data.train: parameter 'labels': no such "
             "file: '%s'", dir, path);
    bad("missing labels", ip, path, "", DLH_ECONFIG, want);

    snprintf(want, sizeof want, "%s: not a regular file (a folder)", dir);
    bad("a folder", dir, NULL, "", DLH_EIO, want);
    /* A FIFO would block the open forever; alarm() turns a hang into a failure. */
    snprintf(path, sizeof path, "%s/fifo-idx", dir);
    if (mkfifo(path, 0600) == 0) {
        snprintf(want, sizeof want, "%s: not a regular file (a FIFO)", path);
        alarm(20);
        bad("a FIFO as labels", ip, path, "", DLH_EIO, want);
        alarm(0);
    } else {
        skip("mkfifo failed: no FIFO to test with");
        skip("mkfifo failed: no FIFO to test with");
    }
    bad("/dev/zero", "/dev/zero", NULL, "", DLH_EIO,
        "/dev/zero: not a regular file (a character device)");

    reader_opened o;
    reader_open(&o, idx, dir, "type = \"idx\"; labels = \"x\";");
    ok(o.rc == DLH_ECONFIG && strstr(dlh_error_get(), "'images'"),
       "no images parameter: a config error naming 'images' (%s)", dlh_error_get());
    reader_close(&o);
}

/* ---------------------------------------------------------------- the real set */

static void test_fashion_mnist(void)
{
    static const struct {
        const char *split;
        int64_t n;
        double sum0;     /* pixel sum of the first image, computed with Python */
    } sets[] = { { "train", 60000, 76247 }, { "t10k", 10000, 33456 } };
    const int per_set = 5;
    if (access(FMNIST "/train-images-idx3-ubyte.gz", R_OK) != 0) {
        for (int i = 0; i < 2 * per_set; i++)
            skip("Fashion-MNIST is not installed (" FMNIST "/, Debian package "
                 "dataset-fashion-mnist)");
        return;
    }
    for (int k = 0; k < 2; k++) {
        char ip[256], lp[256];
        snprintf(ip, sizeof ip, FMNIST "/%s-images-idx3-ubyte.gz", sets[k].split);
        snprintf(lp, sizeof lp, FMNIST "/%s-labels-idx1-ubyte.gz", sets[k].split);
        reader_opened o;
        open_idx(&o, ip, lp, "");
        const char *s = sets[k].split;
        ok(o.rc == 0, "Fashion-MNIST %s: opens (%s)", s, o.msg);
        ok(o.info.n_samples == sets[k].n, "%s: %lld samples (got %lld)", s,
           (long long)sets[k].n, (long long)o.info.n_samples);
        ok(shape_is(&o.info.sample, 3, 1, 28, 28), "%s: sample shape [1, 28, 28]", s);
        ok(o.info.label_kind == DLH_LABEL_CLASS && o.info.n_classes == 10,
           "%s: 10 classes (got %lld)", s, (long long)o.info.n_classes);
        float x[784], y = -1;
        int64_t first = 0;
        double sum = 0;
        int rc = o.rc ? o.rc : idx->read(o.state, &first, 1, x, &y);
        for (int i = 0; !rc && i < 784; i++)
            sum += x[i];
        ok(rc == 0 && y == 9.0f && sum == sets[k].sum0, "%s: first label 9 (ankle boot), "
           "pixel sum %.0f (got label %g, sum %.0f)", s, sets[k].sum0, y, sum);
        reader_close(&o);
    }
}

/* The one decoded copy in cache folder `cache` (its path into out); 0 when
   there is none or more than one. */
static int cache_entry(const char *cache, char *out, size_t size)
{
    char sub[4400];
    snprintf(sub, sizeof sub, "%s/idx", cache);
    DIR *d = opendir(sub);
    struct dirent *de;
    int n = 0;
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.' && ++n == 1)
            snprintf(out, size, "%.4300s/%.250s", sub, de->d_name);
    if (d)
        closedir(d);
    return n == 1;
}

/* Sample 2 of the mnist_like images file at path (extra: more settings),
   read through a fresh open; its last pixel is 255 in the file. */
static float last_pixel(const char *path, const char *extra, char *msg, size_t size)
{
    reader_opened o;
    float x[4] = { -1, -1, -1, -1 };
    int64_t two = 2;
    open_idx(&o, path, NULL, extra);
    if (o.rc == 0 && idx->read(o.state, &two, 1, x, NULL) != 0)
        x[3] = -2;
    snprintf(msg, size, "%s", o.msg);
    if (o.rc == 0)
        reader_close(&o);
    return x[3];
}

/* The decoded cache: a gzip file read whole is kept decoded, the next open
   reads that copy, a changed file is decoded again, a copy that does not
   match is passed over, and without a usable cache folder nothing is
   missed and nothing said.  stream = true reads the gzip file. */
static void test_decoded_cache(void)
{
    const char *saved = getenv("DLHOST_CACHE_DIR");
    char *keep = saved ? strdup(saved) : NULL;
    char cache[4300], entry[4600], msg[4096], ipath[4200];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    setenv("DLHOST_CACHE_DIR", cache, 1);
    bytes img, lab;
    mnist_like(&img, &lab);
    snprintf(ipath, sizeof ipath, "%s", put_gz(img.b, img.n));

    ok(last_pixel(ipath, "", msg, sizeof msg) == 255, "cache: a gzip file opens (%s)", msg);
    ok(cache_entry(cache, entry, sizeof entry), "cache: its decoded copy is written");
    /* The copy's last byte is that pixel: changed there, it shows. */
    FILE *f = fopen(entry, "r+b");
    ok(f && fseek(f, -1, SEEK_END) == 0 && fputc(7, f) == 7 && fclose(f) == 0,
       "cache: the copy's last byte changed");
    ok(last_pixel(ipath, "", msg, sizeof msg) == 7, "cache: the next open reads the copy");
    ok(last_pixel(ipath, "stream = true;", msg, sizeof msg) == 255,
       "cache: stream = true reads the gzip file");

    /* The file changed (a new mtime): decoded again, the copy replaced. */
    struct timespec t[2] = { { 0, UTIME_OMIT }, { 1000000000, 0 } };
    ok(utimensat(AT_FDCWD, ipath, t, 0) == 0, "cache: the gzip file's mtime changed");
    ok(last_pixel(ipath, "", msg, sizeof msg) == 255, "cache: a changed file is decoded");
    f = fopen(entry, "rb");
    int last = f && fseek(f, -1, SEEK_END) == 0 ? fgetc(f) : -1;
    if (f)
        fclose(f);
    ok(last == 255, "cache: and its copy rewritten (last byte %d)", last);

    /* A copy cut short (in its data or its first line) or with another
       first line is passed over. */
    struct stat st;
    ok(stat(entry, &st) == 0 && truncate(entry, st.st_size - 1) == 0 &&
       last_pixel(ipath, "", msg, sizeof msg) == 255 && !msg[0],
       "cache: a copy short of a byte is passed over (%s)", msg);
    ok(truncate(entry, 20) == 0 && last_pixel(ipath, "", msg, sizeof msg) == 255,
       "cache: a copy cut short is passed over (%s)", msg);
    tmpdir_write(entry, "not a copy\n", 11);
    ok(last_pixel(ipath, "", msg, sizeof msg) == 255 && !msg[0],
       "cache: a copy with another first line is passed over (%s)", msg);

    /* No usable folder: a file in the way, or caching off. */
    char blocked[4400];
    snprintf(blocked, sizeof blocked, "%s/afile", dir);
    tmpdir_write(blocked, "x", 1);
    strcat(blocked, "/cache");
    setenv("DLHOST_CACHE_DIR", blocked, 1);
    ok(last_pixel(ipath, "", msg, sizeof msg) == 255 && !msg[0],
       "cache: a folder that cannot be made costs nothing (%s)", msg);
    setenv("DLHOST_CACHE_DIR", "", 1);
    ok(last_pixel(ipath, "", msg, sizeof msg) == 255 && !msg[0],
       "cache: DLHOST_CACHE_DIR empty: no cache (%s)", msg);
    char none[64];
    ok(dlh_cache_dir("idx", none, sizeof none) == -1,
       "cache: DLHOST_CACHE_DIR empty: no folder named (not /idx)");
    setenv("DLHOST_CACHE_DIR", "rel", 1);
    ok(dlh_cache_dir("idx", none, sizeof none) == -1,
       "cache: a relative DLHOST_CACHE_DIR: no folder named");
    if (keep)
        setenv("DLHOST_CACHE_DIR", keep, 1);
    else
        unsetenv("DLHOST_CACHE_DIR");
    free(keep);
}

int main(void)
{
    if (!getenv("DLHOST_PLUGIN_PATH"))
        skip_all("DLHOST_PLUGIN_PATH is not set (run through make check)");
    tmpdir_make(dir, sizeof dir, NULL, "test_idx");
    dlh_registry_load_all(0);
    const dlh_component *c = dlh_registry_find(DLH_KIND_DATASET, "idx");
    if (!c) {
        printf("Bail out! no idx dataset: %s\n", dlh_error_get());
        return 1;
    }
    idx = c->ops;

    test_ubyte(0, 0);
    test_ubyte(1, 0);
    test_ubyte(0, 1);
    test_ubyte(1, 1);
    test_types();
    test_limit_and_members();
    test_bad_headers();
    test_bad_lengths();
    test_bad_labels();
    test_missing();
    test_fashion_mnist();
    test_decoded_cache();

    tmpdir_remove(dir);
    dlh_registry_clear();
    return done_testing();
}
