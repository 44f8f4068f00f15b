/* The npy dataset reader: the fixtures NumPy wrote (tests/data/npy, made by
 * tests/ref/npy_fixtures.py) of every dtype in both byte orders, format
 * versions 1.0 to 3.0, .npz archives stored and deflated, class and dense
 * labels, read back against the values the script wrote; then every kind of
 * bad file (some made here byte by byte) with its exact message. */
#include <errno.h>
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dlhost/dlhost.h>

#include "error.h"
#include "params.h"
#include "reader_open.h"
#include "registry.h"
#include "tap.h"
#include "tmpdir.h"

static char dir[4096];
static char data[4096];           /* tests/data/npy of the source tree */
static const dlh_dataset_ops *npy;
static int n_files;

/* ---------------------------------------------------------------- files */

static void bail_io(const char *what, const char *path)
{
    printf("Bail out! cannot %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

/* A fixture's path (valid for four calls). */
static const char *fx(const char *name)
{
    static char path[4][4200];
    static int which;
    which = (which + 1) % 4;
    snprintf(path[which], sizeof path[which], "%s/%s", data, name);
    return path[which];
}

/* A fresh file of the temp folder holding s[0..n) (valid for four calls). */
static const char *put(const void *s, size_t n)
{
    static char path[4][4200];
    static int which;
    which = (which + 1) % 4;
    snprintf(path[which], sizeof path[which], "%s/f%d.npy", dir, ++n_files);
    tmpdir_write(path[which], s, n);
    return path[which];
}

/* A version 1.0 .npy file with header dict `dict` and a newline, then the
   n bytes of d (NULL: bytes 0x3f). */
static const char *put_npy_data(const char *dict, const void *d, size_t n)
{
    unsigned char b[2048];
    size_t hl = strlen(dict);
    if (10 + hl + 1 + n > sizeof b) {
        printf("Bail out! test file too large\n");
        exit(1);
    }
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)((hl + 1) & 0xff);
    b[9] = (unsigned char)((hl + 1) >> 8);
    memcpy(b + 10, dict, hl);
    b[10 + hl] = '\n';
    if (d)
        memcpy(b + 11 + hl, d, n);
    else
        memset(b + 11 + hl, 0x3f, n);
    return put(b, 11 + hl + n);
}

static const char *put_npy(const char *dict, size_t n)
{
    return put_npy_data(dict, NULL, n);
}

/* A copy of fixture `name` less its last `cut` bytes, or with `more` bytes
   appended (cut < 0). */
static const char *copy_cut(const char *name, long cut)
{
    const char *src = fx(name);
    FILE *f = fopen(src, "rb");
    unsigned char b[65536];
    size_t n;
    if (!f || (n = fread(b, 1, sizeof b, f)) == 0 || fclose(f) != 0)
        bail_io("read", src);
    if (cut >= 0)
        return put(b, n - (size_t)cut);
    memset(b + n, 0, (size_t)-cut);
    return put(b, n + (size_t)-cut);
}

/* ---------------------------------------------------------------- opening */

/* Opens the reader over `params` as data.train of an experiment file in the
   temp folder, checks unused keys and fills info. */
static void open_npy(reader_opened *o, const char *params)
{
    char text[12000];
    snprintf(text, sizeof text, "type = \"npy\"; %s", params);
    reader_open(o, npy, dir, text);
}

/* Opening over params fails with rc and exactly `want`. */
static void bad(const char *what, const char *params, int rc, const char *want)
{
    reader_opened o;
    open_npy(&o, params);
    ok(o.rc == rc, "%s: rc %d (%s)", what, o.rc, dlh_strerror(o.rc));
    if (!ok(strcmp(o.msg, want) == 0, "%s: message", what))
        diag("got  '%s'\n#   want '%s'", o.msg, want);
    reader_close(&o);
}

/* x = file (label none) fails with EDATA and "<file>: <want>". */
static void bad_x(const char *what, const char *file, const char *want)
{
    char params[4400], full[8400];
    snprintf(params, sizeof params, "x = \"%s\"; label = \"none\";", file);
    snprintf(full, sizeof full, "%s: %s", file, want);
    bad(what, params, DLH_EDATA, full);
}

/* x = file, y = yfile fails with EDATA and "<yfile>: <want>". */
static void bad_y(const char *what, const char *file, const char *yfile, const char *extra,
                  const char *want)
{
    char params[9000], full[8400];
    snprintf(params, sizeof params, "x = \"%s\"; y = \"%s\"; %s", file, yfile, extra);
    snprintf(full, sizeof full, "%s: %s", yfile, want);
    bad(what, params, DLH_EDATA, full);
}

/* path = archive; extra; fails with EDATA and "<archive>: <want>". */
static void bad_npz(const char *what, const char *archive, const char *extra,
                    const char *want)
{
    char params[4400], full[8400];
    snprintf(params, sizeof params, "path = \"%s\"; %s", archive, extra);
    snprintf(full, sizeof full, "%s: %s", archive, want);
    bad(what, params, DLH_EDATA, full);
}

static int floats_eq(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(a[i] == b[i] && signbit(a[i]) == signbit(b[i]))) {
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

/* ---------------------------------------------------------------- good files */

/* The values of npy_fixtures.py's VALUES, as numpy's astype(float32) gives. */
static const struct {
    const char *code;
    float v[6];
} dtypes[] = {
    { "b1", { 1, 0, 1, 1, 0, 0 } },
    { "i1", { 0, 1, -1, -128, 127, 42 } },
    { "u1", { 0, 1, 200, 255, 128, 42 } },
    { "i2", { 0, 1, -1, -32768, 32767, 1000 } },
    { "u2", { 0, 1, 300, 65535, 32768, 1000 } },
    { "i4", { 0, 1, -1, -0x1p31f, 0x1p31f, 100000 } },
    { "u4", { 0, 1, 70000, 0x1p32f, 0x1p31f, 100000 } },
    { "i8", { 0, 1, -1, -0x1p63f, 0x1p63f, 0x1p24f } },
    { "u8", { 0, 1, 0x1p64f, 0x1p53f, 0x1p32f, 3 } },
    { "f2", { 0.5f, -2, 65504, 0x1p-24f, 0x1p-14f, -3 * 0x1p-24f } },
    { "f4", { 1.5f, -2.25f, FLT_MAX, 0x1p-149f, 0.1f, -7 } },
    { "f8", { 0x1.99999ap-4f, -0x1.2a05f2p+33f, 0, FLT_MAX, 0x1.555556p-2f, 2.5f } },
};

static void check_dtype_file(const char *file, const char *code, const float *want)
{
    char params[4400];
    snprintf(params, sizeof params, "x = \"%s\"; label = \"none\";", fx(file));
    reader_opened o;
    open_npy(&o, params);
    ok(o.rc == 0 && o.info.n_samples == 2 && shape_is(&o.info.sample, 1, 3, 0, 0) &&
       o.info.label_kind == DLH_LABEL_NONE, "%s (%s): 2 samples of [3], no labels (%s)",
       file, code, o.msg);
    int64_t ix[] = { 1, 0 };
    float x[6], w[6];
    memcpy(w, want + 3, 3 * sizeof(float));
    memcpy(w + 3, want, 3 * sizeof(float));
    ok(o.rc == 0 && npy->read(o.state, ix, 2, x, NULL) == 0 && floats_eq(x, w, 6),
       "%s: values as numpy's astype(float32)", file);
    reader_close(&o);
}

static void test_dtypes(void)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++) {
        char file[64];
        if (dtypes[i].code[1] == '1') {
            snprintf(file, sizeof file, "dt_%s.npy", dtypes[i].code);
            check_dtype_file(file, dtypes[i].code, dtypes[i].v);
        } else {
            snprintf(file, sizeof file, "dt_le_%s.npy", dtypes[i].code);
            check_dtype_file(file, dtypes[i].code, dtypes[i].v);
            snprintf(file, sizeof file, "dt_be_%s.npy", dtypes[i].code);
            check_dtype_file(file, dtypes[i].code, dtypes[i].v);
        }
    }
    check_dtype_file("dt_ne_f4.npy", "=f4, this machine's order", dtypes[10].v);

    const float v[] = { -2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f };
    check_dtype_file("v2.npy", "format 2.0", v);
    check_dtype_file("v3.npy", "format 3.0", v);
}

static void test_labels(void)
{
    reader_opened o;
    char params[9000];

    /* Images (3, 1, 2, 2) uint8, int64 class labels 2, 0, 1. */
    snprintf(params, sizeof params, "x = \"%s\"; y = \"%s\";", fx("img_x.npy"),
             fx("img_y.npy"));
    open_npy(&o, params);
    ok(o.rc == 0 && o.info.n_samples == 3 && shape_is(&o.info.sample, 3, 1, 2, 2),
       "images (3, 1, 2, 2): samples [1, 2, 2] (%s)", o.msg);
    ok(o.info.label_kind == DLH_LABEL_CLASS && o.info.n_classes == 3,
       "1-d int64 y: class labels by default, 3 classes (got %lld)",
       (long long)o.info.n_classes);
    int64_t ix[] = { 2, 0 };
    float x[8], y[2];
    const float wx[] = { 160, 180, 200, 220, 0, 20, 40, 60 }, wy[] = { 1, 2 };
    ok(o.rc == 0 && npy->read(o.state, ix, 2, x, y) == 0 && floats_eq(x, wx, 8) &&
       floats_eq(y, wy, 2), "samples 2, 0 and their labels read back");
    int64_t oob = 3;
    ok(o.rc == 0 && npy->read(o.state, &oob, 1, x, y) == DLH_EINVAL,
       "index 3 of 3: DLH_EINVAL");
    char want[4400];
    snprintf(want, sizeof want, "%s: sample index 3 is out of range [0, 3)",
             fx("img_x.npy"));
    ok(strcmp(dlh_error_get(), want) == 0, "out-of-range message: %s", dlh_error_get());
    reader_close(&o);

    snprintf(params, sizeof params, "x = \"%s\"; y = \"%s\"; limit = 2;", fx("img_x.npy"),
             fx("img_y.npy"));
    open_npy(&o, params);
    ok(o.rc == 0 && o.info.n_samples == 2 && o.info.n_classes == 3,
       "limit = 2 keeps 2 samples; the class count comes from every label (%s)", o.msg);
    reader_close(&o);

    /* 1-d x: samples of [1]. */
    snprintf(params, sizeof params, "x = \"%s\"; label = \"none\"; limit = 100;",
             fx("scalar_x.npy"));
    open_npy(&o, params);
    int64_t all[] = { 0, 1, 2, 3 };
    float xs[4];
    const float ws[] = { -3, 0, 7, 300 };
    ok(o.rc == 0 && o.info.n_samples == 4 && shape_is(&o.info.sample, 1, 1, 0, 0) &&
       npy->read(o.state, all, 4, xs, NULL) == 0 && floats_eq(xs, ws, 4),
       "1-d int16 x: 4 samples of [1]; a limit over the count keeps all (%s)", o.msg);
    reader_close(&o);

    /* Dense: (4, 3) float32 with (4, 2) float64. */
    snprintf(params, sizeof params, "x = \"%s\"; y = \"%s\";", fx("dense_x.npy"),
             fx("dense_y.npy"));
    open_npy(&o, params);
    ok(o.rc == 0 && o.info.label_kind == DLH_LABEL_DENSE &&
       shape_is(&o.info.label, 1, 2, 0, 0) && o.info.n_classes == 0,
       "2-d float y: dense labels [2] by default (%s)", o.msg);
    int64_t i3[] = { 3, 1 };
    float xd[6], yd[4];
    const float wxd[] = { 2.25f, 2.5f, 2.75f, 0.75f, 1, 1.25f }, wyd[] = { -4, 8, 0.5f, 2 };
    ok(o.rc == 0 && npy->read(o.state, i3, 2, xd, yd) == 0 && floats_eq(xd, wxd, 6) &&
       floats_eq(yd, wyd, 4), "dense samples and labels read back");
    reader_close(&o);

    /* A 1-d float y: dense [1] by default, class when asked. */
    snprintf(params, sizeof params, "x = \"%s\"; y = \"%s\";", fx("dense_x.npy"),
             fx("float_class_y.npy"));
    open_npy(&o, params);
    ok(o.rc == 0 && o.info.label_kind == DLH_LABEL_DENSE &&
       shape_is(&o.info.label, 1, 1, 0, 0), "1-d float64 y: dense [1] by default (%s)",
       o.msg);
    reader_close(&o);
    snprintf(params, sizeof params, "x = \"%s\"; y = \"%s\"; label = \"class\";",
             fx("dense_x.npy"), fx("float_class_y.npy"));
    open_npy(&o, params);
    float yc[4], x4[12];
    const float wyc[] = { 0, 3, 1, 2 };
    ok(o.rc == 0 && o.info.label_kind == DLH_LABEL_CLASS && o.info.n_classes == 4 &&
       npy->read(o.state, all, 4, x4, NULL) == DLH_OK, "label = \"class\" takes whole "
       "float64 labels: 4 classes (%s)", o.msg);
    ok(o.rc == 0 && npy->read(o.state, all, 4, x4, yc) == 0 && floats_eq(yc, wyc, 4),
       "float class labels read back");
    reader_close(&o);
}

static void test_npz(void)
{
    reader_opened o;
    char params[4400];
    const char *files[] = { "stored.npz", "deflated.npz", "zip64.npz" };
    int64_t all[] = { 0, 1, 2, 3 };
    float x[12], y[8];
    const float wx[] = { 0, 0.25f, 0.5f, 0.75f, 1, 1.25f, 1.5f, 1.75f, 2, 2.25f, 2.5f, 2.75f };
    const float wy[] = { 1, 0, 2, 1 };
    /* Then each with stream = true: x converted at each read. */
    for (int k = 0; k < 6; k++) {
        snprintf(params, sizeof params, "path = \"%s\";%s", fx(files[k % 3]),
                 k >= 3 ? " stream = true;" : "");
        open_npy(&o, params);
        ok(o.rc == 0 && o.info.n_samples == 4 && shape_is(&o.info.sample, 1, 3, 0, 0) &&
           o.info.label_kind == DLH_LABEL_CLASS && o.info.n_classes == 3,
           "%s (%s)%s: x and y by default, 4 samples, 3 classes (%s)", files[k % 3],
           k % 3 == 0 ? "np.savez" : k % 3 == 1 ? "np.savez_compressed" : "ZIP64 records",
           k >= 3 ? ", stream" : "", o.msg);
        int64_t back[] = { 3, 0, 3, 1 };
        const float wb[] = { 2.25f, 2.5f, 2.75f, 0, 0.25f, 0.5f };
        ok(o.rc == 0 && npy->read(o.state, all, 4, x, y) == 0 && floats_eq(x, wx, 12) &&
           floats_eq(y, wy, 4) && npy->read(o.state, back, 2, x, NULL) == 0 &&
           floats_eq(x, wb, 6), "%s%s: values and labels read back, in any order",
           files[k % 3], k >= 3 ? ", stream" : "");
        reader_close(&o);
    }
    /* Arrays named as np.load's keys, with or without ".npy". */
    snprintf(params, sizeof params, "path = \"%s\"; x = \"feat\"; y = \"target.npy\";",
             fx("named.npz"));
    open_npy(&o, params);
    const float wyd[] = { 1, -1, 0.5f, 2, 0, 0, -4, 8 };
    ok(o.rc == 0 && o.info.label_kind == DLH_LABEL_DENSE &&
       shape_is(&o.info.label, 1, 2, 0, 0) && npy->read(o.state, all, 4, x, y) == 0 &&
       floats_eq(x, wx, 12) && floats_eq(y, wyd, 8),
       "named.npz: x = \"feat\", y = \"target.npy\": dense labels read back (%s)", o.msg);
    reader_close(&o);
    snprintf(params, sizeof params, "path = \"%s\"; x = \"feat\"; label = \"none\";",
             fx("named.npz"));
    open_npy(&o, params);
    ok(o.rc == 0 && o.info.label_kind == DLH_LABEL_NONE, "label = \"none\" reads no y "
       "(%s)", o.msg);
    reader_close(&o);
}

/* ---------------------------------------------------------------- bad files */

static void test_bad_headers(void)
{
    char want[8400];
    const char *p = copy_cut("dt_le_f4.npy", 4);
    bad_x("truncated data", p, "truncated: header says (2, 3) <f4 = 24 data bytes, file "
          "has 20 after the header");
    p = copy_cut("dt_le_f4.npy", -1);
    bad_x("a trailing byte", p, "trailing bytes: header says (2, 3) <f4 = 24 data bytes, "
          "file has 25 after the header");
    p = copy_cut("dt_le_f4.npy", 152 - 60);
    bad_x("cut inside the header", p, "truncated: the header says it takes 118 bytes, the "
          "file has 50 after the preamble");
    p = copy_cut("dt_le_f4.npy", 152 - 7);
    bad_x("cut after the magic", p, "truncated: a .npy file starts with 10 bytes or "
          "more, this one has 7");
    p = copy_cut("dt_le_f4.npy", 152 - 8);
    bad_x("cut after the version", p, "truncated: a .npy file starts with 10 bytes or "
          "more, this one has 8");
    p = put("\x93NU", 3);
    bad_x("3 bytes of the magic", p, "truncated: a .npy file starts with 10 bytes or "
          "more, this one has 3");
    p = put("", 0);
    bad_x("empty file", p, "empty file");
    p = put("\x93NUMPZ\x01\x00\x10\x00{}              \n", 26);
    bad_x("bad magic", p, "not a .npy file: it starts with 93 4e 55 4d 50 5a, expected "
          "93 4e 55 4d 50 59 (\\x93NUMPY)");
    p = put("\x93NUMPY\x04\x00\x10\x00{}              \n", 26);
    bad_x("version 4.0", p, ".npy format version 4.0 is not supported (expected 1.0, 2.0 "
          "or 3.0)");
    p = put("\x93NUMPY\x02\x00\x01\x00\x01\x00", 12);
    bad_x("a huge header length", p, "header length 65537 is over the limit of 65536 "
          "bytes (numpy writes a few hundred)");
    bad_x("a .npz as x", fx("stored.npz"), "a zip archive (.npz), not a .npy file (name it "
          "as path, with x and y naming its arrays)");

    /* The dict: strict, but tolerant of whitespace, order, quotes, commas. */
    reader_opened o;
    char params[4400];
    snprintf(params, sizeof params, "x = \"%s\"; label = \"none\";",
             put_npy(" {\n \"shape\" :(2 ,3 ),\t'descr':\"|u1\" , 'fortran_order':False}\n",
                     6));
    open_npy(&o, params);
    ok(o.rc == 0 && o.info.n_samples == 2 && shape_is(&o.info.sample, 1, 3, 0, 0),
       "a header with other whitespace, order and quotes, no trailing comma (%s)", o.msg);
    reader_close(&o);
    snprintf(params, sizeof params, "x = \"%s\"; label = \"none\";",
             put_npy("{'descr': '|i1', 'fortran_order': False, 'shape': (2L, 3L), }", 6));
    open_npy(&o, params);
    ok(o.rc == 0 && o.info.n_samples == 2, "Python 2's 2L in a 1.0 header (%s)", o.msg);
    reader_close(&o);

    static const struct { const char *what, *dict, *msg; } dicts[] = {
        { "no closing brace", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ",
          "bad header: expected a quoted string at byte 57 of the header dict" },
        { "not a dict", "('descr', '<f4')", "bad header: expected '{' at byte 0 of the "
          "header dict" },
        { "an unknown key", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), "
          "'extra': 1}", "bad header: unexpected key 'extra' (expected 'descr', "
          "'fortran_order' and 'shape') at byte 56 of the header dict" },
        { "a key twice", "{'descr': '<f4', 'shape': (2,), 'descr': '<f4', "
          "'fortran_order': False}", "bad header: key 'descr' given twice at byte 32 of "
          "the header dict" },
        { "no shape", "{'descr': '<f4', 'fortran_order': False}", "bad header: no 'shape' "
          "key (expected 'descr', 'fortran_order' and 'shape')" },
        { "(2) is no tuple", "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}",
          "bad header: 'shape' is not a tuple (a 1-tuple needs its comma: (N,)) at byte "
          "52 of the header dict" },
        { "a negative dimension", "{'descr': '<f4', 'fortran_order': False, "
          "'shape': (-2,)}", "bad header: a negative dimension in 'shape' at byte 51 of "
          "the header dict" },
        { "a dimension over int64", "{'descr': '<f4', 'fortran_order': False, "
          "'shape': (9223372036854775808,)}", "bad header: a dimension in 'shape' over "
          "2^63 - 1 at byte 69 of the header dict" },
        { "fortran_order 'no'", "{'descr': '<f4', 'fortran_order': 'no', 'shape': (2,)}",
          "bad header: 'fortran_order' is not True or False at byte 34 of the header "
          "dict" },
        { "Falsey", "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,)}",
          "bad header: 'fortran_order' is not True or False at byte 34 of the header "
          "dict" },
        { "text after the dict", "{'descr': '<f4', 'fortran_order': False, "
          "'shape': (2,)} x", "bad header: text after the closing '}' at byte 56 of the "
          "header dict" },
        { "an escape", "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2,)}",
          "bad header: escape sequences are not supported at byte 13 of the header dict" },
        { "a quote missing", "{'descr': '<f4, 'fortran_order': False}",
          "bad header: expected ',' or '}' at byte 17 of the header dict" },
        { "an unterminated string", "{'descr': '<f4", "bad header: unterminated string "
          "at byte 10 of the header dict" },
        { "a 2L in a 3.0-style place", "{'descr': '<f4', 'fortran_order': False, "
          "'shape': (2, 3x)}", "bad header: expected ',' or ')' in 'shape' at byte 55 of "
          "the header dict" },
        { "the dtype <f16", "{'descr': '<f16', 'fortran_order': False, 'shape': (2,)}",
          "dtype '<f16' (a 16-byte float) is not supported (expected bool, int8-64, "
          "uint8-64, float16, float32 or float64)" },
        { "the dtype <i3", "{'descr': '<i3', 'fortran_order': False, 'shape': (2,)}",
          "dtype '<i3' is not supported (expected bool, int8-64, uint8-64, float16, "
          "float32 or float64)" },
        { "the dtype float32", "{'descr': 'float32', 'fortran_order': False, "
          "'shape': (2,)}", "dtype 'float32' is not supported (expected bool, int8-64, "
          "uint8-64, float16, float32 or float64)" },
        { "a 0-d array", "{'descr': '<f4', 'fortran_order': False, 'shape': ()}",
          "a 0-d array (shape ()) has no sample axis (expected shape (N, ...))" },
        { "no samples", "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3)}",
          "no samples (shape (0, 3))" },
        { "empty samples", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2, 0)}",
          "empty samples (shape (3, 2, 0))" },
        { "7 dimensions", "{'descr': '|u1', 'fortran_order': False, "
          "'shape': (1, 1, 1, 1, 1, 1, 1)}", "shape (1, 1, 1, 1, 1, 1, 1) has 7 "
          "dimensions, expected at most 6 (samples of up to 5)" },
        /* 8 TB claimed over 16 bytes: refused before any allocation. */
        { "a huge shape on a tiny file", "{'descr': '<f8', 'fortran_order': False, "
          "'shape': (1000000000, 1000), }", "truncated: header says (1000000000, 1000) "
          "<f8 = 8000000000000 data bytes, file has 16 after the header" },
        { "a shape over 2^63 bytes", "{'descr': '<f8', 'fortran_order': False, "
          "'shape': (4611686018427387904, 4), }", "header says (4611686018427387904, 4) "
          "<f8: too large to address" },
    };
    for (size_t i = 0; i < sizeof dicts / sizeof dicts[0]; i++)
        bad_x(dicts[i].what, put_npy(dicts[i].dict, 16), dicts[i].msg);

    static const struct { const char *file, *msg; } refused[] = {
        { "complex.npy", "dtype '<c8' (complex) is not supported (expected bool, int8-64, "
          "uint8-64, float16, float32 or float64)" },
        { "unicode.npy", "dtype '<U2' (unicode strings) is not supported (expected bool, "
          "int8-64, uint8-64, float16, float32 or float64)" },
        { "object.npy", "dtype '|O' (Python objects) is not supported (expected bool, "
          "int8-64, uint8-64, float16, float32 or float64)" },
        { "struct.npy", "a structured dtype (a list of fields in 'descr') is not "
          "supported (expected bool, int8-64, uint8-64, float16, float32 or float64)" },
        { "fortran.npy", "fortran_order is True: C order only (np.ascontiguousarray "
          "first)" },
        { "f2_inf.npy", "sample 0, element 1: inf is not a finite float32 value" },
        { "f2_nan.npy", "sample 0, element 0: nan is not a finite float32 value" },
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        bad_x(refused[i].file, fx(refused[i].file), refused[i].msg);

    const double d[2] = { 1, 1e300 };
    snprintf(want, sizeof want, "%s", put_npy_data("{'descr': '<f8', 'fortran_order': "
                                                   "False, 'shape': (1, 2), }", d, 16));
    bad_x("float64 beyond float32", want, "sample 0, element 1: 1e+300 is not a finite "
          "float32 value");
}

static void test_bad_labels(void)
{
    char want[9000];
    /* Each y error names y; the count mismatch names both. */
    snprintf(want, sizeof want, "3 labels (shape (3,)), %s has 4 samples (the first axes "
             "must agree)", fx("dense_x.npy"));
    bad_y("N mismatch", fx("dense_x.npy"), fx("img_y.npy"), "", want);
    bad_y("N mismatch with a limit", fx("dense_x.npy"), fx("img_y.npy"), "limit = 1;", want);
    bad_y("a negative class", fx("dense_x.npy"), fx("neg_y.npy"), "", "label -1 of sample "
          "2 is not a class index (a whole number in [0, 16777216))");
    bad_y("a negative class past the limit", fx("dense_x.npy"), fx("neg_y.npy"),
          "limit = 1;", "label -1 of sample 2 is not a class index (a whole number in "
          "[0, 16777216))");
    bad_y("a fractional class", fx("dense_x.npy"), fx("frac_y.npy"), "label = \"class\";",
          "label 1.5 of sample 2 is not a class index (a whole number in [0, 16777216))");
    bad_y("class labels of 2-d y", fx("dense_x.npy"), fx("dense_y.npy"),
          "label = \"class\";", "class labels are one number per sample, shape (N,); this "
          "y is (4, 2) <f8 (label = \"dense\" reads it as vectors)");

    /* Parameters. */
    char params[9000];
    snprintf(params, sizeof params, "x = \"%s\";", fx("dense_x.npy"));
    snprintf(want, sizeof want, "%s/exp.cfg: data.train: parameter 'y' is missing: it "
             "names the labels' .npy file (label = \"none\" reads none)", dir);
    bad("no y", params, DLH_ECONFIG, want);
    snprintf(params, sizeof params, "x = \"%s\"; y = \"%s\"; label = \"none\";",
             fx("dense_x.npy"), fx("dense_y.npy"));
    snprintf(want, sizeof want, "%s/exp.cfg:1: data.train: parameter 'y' is not read with "
             "label = \"none\"", dir);
    bad("y with label none", params, DLH_ECONFIG, want);
    snprintf(params, sizeof params, "x = \"%s\"; y = \"%s\"; weights = \"%s\";",
             fx("dense_x.npy"), fx("dense_y.npy"), fx("scalar_x.npy"));
    snprintf(want, sizeof want, "%s: weight -3 of sample 0 is negative (sample weights "
             "are >= 0)", fx("scalar_x.npy"));
    bad("a negative weight", params, DLH_EDATA, want);
    snprintf(params, sizeof params, "x = \"%s\"; y = \"%s\"; weights = \"%s\";",
             fx("img_x.npy"), fx("img_y.npy"), fx("dense_y.npy"));
    snprintf(want, sizeof want, "%s: sample weights are one number per sample, shape (3,); "
             "this array is (4, 2)", fx("dense_y.npy"));
    bad("weights of another shape", params, DLH_EDATA, want);
    /* Weights, read back per sample (img_y's labels 2, 0, 1 as weights). */
    snprintf(params, sizeof params, "x = \"%s\"; y = \"%s\"; weights = \"%s\";",
             fx("img_x.npy"), fx("img_y.npy"), fx("img_y.npy"));
    reader_opened ow;
    open_npy(&ow, params);
    float wv[3] = { -1.0f, -1.0f, -1.0f };
    const int64_t widx[3] = { 2, 0, 1 };
    int wrc = ow.rc ? ow.rc : npy->read_weights(ow.state, widx, 3, wv);
    ok(wrc == 0 && ow.info.sample_weights == 1 && wv[0] == 1.0f && wv[1] == 2.0f &&
       wv[2] == 0.0f, "weights: info says so, read_weights gives each sample's (%s)", ow.msg);
    reader_close(&ow);
    snprintf(params, sizeof params, "x = \"%s/missing.npy\"; label = \"none\";", dir);
    snprintf(want, sizeof want, "%s/exp.cfg:1: data.train: parameter 'x': no such file: "
             "'%s/missing.npy'", dir, dir);
    bad("a missing file", params, DLH_ECONFIG, want);
    snprintf(params, sizeof params, "x = \"%s\"; label = \"klass\";", fx("dense_x.npy"));
    reader_opened o;
    open_npy(&o, params);
    ok(o.rc == DLH_ECONFIG && strstr(o.msg, "'label'") && strstr(o.msg, "\"dense\""),
       "label = \"klass\": a config error listing the choices (%s)", o.msg);
    reader_close(&o);
}

static void test_bad_npz(void)
{
    bad_npz("a missing member", fx("stored.npz"), "y = \"target\";", "no array 'target' "
            "(parameter 'y') in the archive (it holds 'x', 'y')");
    bad_npz("a missing x", fx("named.npz"), "", "no array 'x' (parameter 'x') in the "
            "archive (it holds 'feat', 'target', 'w')");
    char full[8400];
    snprintf(full, sizeof full, "%s: x.npy: corrupt deflate data: invalid block type",
             fx("bad_deflate.npz"));
    char params[4400];
    snprintf(params, sizeof params, "path = \"%s\";", fx("bad_deflate.npz"));
    bad("a corrupt deflate stream", params, DLH_EDATA, full);
    snprintf(full, sizeof full, "%s: y.npy: CRC-32 mismatch: the archive says 4bda618b, "
             "the data gives e5b2f01a", fx("bad_crc.npz"));
    snprintf(params, sizeof params, "path = \"%s\";", fx("bad_crc.npz"));
    bad("a changed byte in a stored member", params, DLH_EDATA, full);
    bad_npz("a .npy as path", fx("dense_x.npy"), "", "a .npy file, not an .npz archive "
            "(name it as x, without path)");
    const char *p = copy_cut("stored.npz", 100);
    bad_npz("an archive cut short", p, "", "not a zip archive (.npz): no end of central "
            "directory record");
    p = put("PK\5\6", 4);
    bad_npz("4 bytes", p, "", "not a zip archive (.npz): 4 bytes, shorter than a zip end "
            "record (22)");
    /* An end record that puts the directory past itself. */
    unsigned char eocd[22] = "PK\5\6\0\0\0\0\1\0\1\0\x2e\0\0\0\x10\0\0\0\0";
    p = put(eocd, 22);
    bad_npz("a directory past the end", p, "", "not a valid zip archive (.npz): the "
            "central directory (46 bytes at 16) runs past its end record at 0");
}

static void test_not_regular(void)
{
    char path[4300], want[9000], params[9000];
    snprintf(want, sizeof want, "%s: not a regular file (a folder)", dir);
    snprintf(params, sizeof params, "x = \"%s\"; label = \"none\";", dir);
    bad("a folder", params, DLH_EIO, want);
    /* A FIFO would block the open forever; alarm() turns a hang into a failure. */
    snprintf(path, sizeof path, "%s/fifo-npy", dir);
    if (mkfifo(path, 0600) == 0) {
        snprintf(want, sizeof want, "%s: not a regular file (a FIFO)", path);
        alarm(20);
        snprintf(params, sizeof params, "x = \"%s\"; y = \"%s\";", fx("dense_x.npy"), path);
        bad("a FIFO as y", params, DLH_EIO, want);
        snprintf(params, sizeof params, "path = \"%s\";", path);
        bad("a FIFO as path", params, DLH_EIO, want);
        alarm(0);
    } else {
        for (int i = 0; i < 4; i++)
            skip("mkfifo failed: no FIFO to test with");
    }
    bad("/dev/zero", "path = \"/dev/zero\";", DLH_EIO,
        "/dev/zero: not a regular file (a character device)");
}

int main(void)
{
    if (!getenv("DLHOST_PLUGIN_PATH"))
        skip_all("DLHOST_PLUGIN_PATH is not set (run through make check)");
    const char *src = getenv("DLHOST_SRCDIR");
    snprintf(data, sizeof data, "%s/tests/data/npy", src ? src : ".");
    tmpdir_make(dir, sizeof dir, NULL, "test_npy");
    dlh_registry_load_all(0);
    const dlh_component *c = dlh_registry_find(DLH_KIND_DATASET, "npy");
    if (!c) {
        printf("Bail out! no npy dataset: %s\n", dlh_error_get());
        return 1;
    }
    npy = c->ops;

    test_dtypes();
    test_labels();
    test_npz();
    test_bad_headers();
    test_bad_labels();
    test_bad_npz();
    test_not_regular();

    tmpdir_remove(dir);
    dlh_registry_clear();
    return done_testing();
}
