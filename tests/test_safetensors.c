/* safetensors: bit-exact round trips, files laid out by the reference
 * writer, every malformed case the reader names, and atomic replacement. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "safetensors.h"
#include "tap.h"
#include "tmpdir.h"

static char dir[4096];

static char *tmp_path(const char *name)
{
    static char buf[8][4200];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n + 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

#define HLEN_AUTO (-1)
#define HLEN_MAX (-2)

/* A file of: 8-byte LE header size, `header` (padded with spaces to a
   multiple of 8 when `pad`, as the reference writer does), then `data`.
   The size written is `hlen`, or the header's length for HLEN_AUTO, or
   2^64 - 1 for HLEN_MAX. */
static void write_st(const char *path, const char *header, long long hlen,
                     const void *data, size_t data_len, int pad)
{
    size_t h = strlen(header);
    size_t padded = pad ? (h + 7) / 8 * 8 : h;
    uint64_t n = hlen == HLEN_AUTO ? padded : hlen == HLEN_MAX ? UINT64_MAX
                                                               : (uint64_t)hlen;
    unsigned char *buf = malloc(8 + padded + data_len + 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(n >> (8 * i));
    memcpy(buf + 8, header, h);
    memset(buf + 8 + h, ' ', padded - h);
    if (data_len)
        memcpy(buf + 8 + padded, data, data_len);
    tmpdir_write(path, buf, 8 + padded + data_len);
    free(buf);
}

static int count_temps(const char *base)
{
    char prefix[512];
    snprintf(prefix, sizeof prefix, ".%s.tmp-", base);
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    return n;
}

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* I64 (layer counters, torch's num_batches_tracked): 8 bytes an element,
   every bit kept, after a 4-byte F32 so the 8-byte value sits unaligned. */
static void test_i64(void)
{
    static const float one[1] = { 1.5f };
    static const int64_t v[3] = { INT64_MIN, 16777217, INT64_MAX };   /* 2^24 + 1 */
    dlh_st_entry e[] = {
        { "f", DLH_F32, 0, { 0 }, one },
        { "bn.num_batches_tracked", DLH_I64, 0, { 0 }, &v[1] },
        { "many", DLH_I64, 1, { 3 }, v },
    };
    const char *path = tmp_path("i64.safetensors");
    int rc = dlh_st_write(path, e, 3, NULL, 0);
    if (!ok(rc == 0, "write F32 and I64 tensors"))
        diag("%s", dlh_error_get());
    dlh_st_file *f = NULL;
    rc = rc ? rc : dlh_st_read(path, &f);
    const dlh_st_entry *c = f ? dlh_st_find(f, "bn.num_batches_tracked") : NULL;
    const dlh_st_entry *m = f ? dlh_st_find(f, "many") : NULL;
    int64_t got = 0, all[3] = { 0 };
    if (c && m) {
        memcpy(&got, c->data, sizeof got);
        memcpy(all, m->data, sizeof all);
    }
    ok(rc == 0 && c && c->dtype == DLH_I64 && c->ndim == 0 && got == 16777217,
       "a 0-d I64 reads back exactly (2^24 + 1, which float32 cannot hold)");
    ok(m && m->dtype == DLH_I64 && memcmp(all, v, sizeof all) == 0,
       "an I64 vector keeps INT64_MIN and INT64_MAX");
    size_t len;
    unsigned char *raw = slurp(path, &len);
    ok(raw && strstr((const char *)raw + 8, "\"dtype\":\"I64\",\"shape\":[],"
                     "\"data_offsets\":[4,12]") != NULL,
       "the header names dtype I64 with 8 bytes for a scalar");
    free(raw);
    dlh_st_free(f);
}

static void test_round_trip(void)
{
    /* Bit patterns no float arithmetic may touch on the way. */
    static const uint32_t a_bits[6] = {
        0x7fc00001u,    /* quiet NaN with a payload */
        0xffc12345u,    /* negative quiet NaN, other payload */
        0x7f800001u,    /* signalling NaN */
        0x80000000u,    /* -0 */
        0x00000001u,    /* smallest denormal */
        0x807fffffu,    /* largest negative denormal */
    };
    static const int32_t b_vals[4] = { INT32_MIN, HLEN_AUTO, 0, INT32_MAX };
    static const float s_val[1] = { 3.25f };
    static const float w_vals[2 * 3] = { 1.0f, -2.5f, 1e-38f, 3.4028235e38f, -INFINITY,
                                         INFINITY };
    dlh_st_entry e[] = {
        { "a", DLH_F32, 2, { 2, 3 }, a_bits },
        { "layer.b\xc3\xbc\xe5\x90\x8d", DLH_I32, 1, { 4 }, b_vals },   /* "layer.bü名" */
        { "scalar", DLH_F32, 0, { 0 }, s_val },
        { "empty", DLH_F32, 2, { 0, 3 }, NULL },
        { "w \"q\"\\", DLH_F32, 3, { 1, 2, 3 }, w_vals },
    };
    dlh_st_meta m[] = {
        { "epoch", "7" },
        { "quote\"back\\slash", "line1\nline2\ttab\rcr\b\f\x01\x1f/end" },
        { "unicode", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" },  /* é€😀 */
        { "empty", "" },
    };
    const char *path = tmp_path("rt.safetensors");
    int rc = dlh_st_write(path, e, 5, m, 4);
    if (!ok(rc == 0, "write 5 tensors and 4 metadata entries"))
        diag("%s", dlh_error_get());
    ok(count_temps("rt.safetensors") == 0, "no temporary file left after a write");
    struct stat st;
    ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "file mode 0644");

    size_t len;
    unsigned char *raw = slurp(path, &len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | raw[i];
    ok(hlen % 8 == 0 && hlen + 8 + 24 + 16 + 4 + 24 == len,
       "header padded to 8 and data exactly after it (hlen %llu, file %zu)",
       (unsigned long long)hlen, len);
    static const char head[] =
        "{\"__metadata__\":{\"epoch\":\"7\",\"quote\\\"back\\\\slash\":"
        "\"line1\\nline2\\ttab\\rcr\\b\\f\\u0001\\u001f/end\"";
    ok(memcmp(raw + 8, head, sizeof head - 1) == 0,
       "metadata first, escaped as serde_json does");
    free(raw);

    dlh_st_file *f = NULL;
    rc = dlh_st_read(path, &f);
    if (!ok(rc == 0, "read it back"))
        diag("%s", dlh_error_get());
    if (rc)
        return;
    ok(dlh_st_count(f) == 5, "5 tensors");
    int order = 1;
    for (size_t i = 0; i < 5; i++)
        order &= strcmp(dlh_st_at(f, i)->name, e[i].name) == 0;
    ok(order, "dlh_st_at keeps the written order");
    ok(dlh_st_at(f, 5) == NULL, "dlh_st_at past the end is NULL");
    for (size_t i = 0; i < 5; i++) {
        const dlh_st_entry *g = dlh_st_find(f, e[i].name);
        int same = g && g->dtype == e[i].dtype && g->ndim == e[i].ndim;
        for (int d = 0; same && d < e[i].ndim; d++)
            same = g->shape[d] == e[i].shape[d];
        size_t bytes = 4;
        for (int d = 0; d < e[i].ndim; d++)
            bytes *= (size_t)e[i].shape[d];
        if (same && bytes)
            same = memcmp(g->data, e[i].data, bytes) == 0;
        ok(same, "tensor '%s': dtype, shape and bytes identical", e[i].name);
    }
    const dlh_st_entry *a = dlh_st_find(f, "a");
    ok(a && ((uintptr_t)a->data % 4) == 0, "tensor data is 4-byte aligned");
    ok(a && f2u(((const float *)a->data)[3]) == 0x80000000u, "-0 kept its sign bit");
    ok(dlh_st_find(f, "nope") == NULL, "an absent name is NULL");
    ok(dlh_st_meta_count(f) == 4, "4 metadata entries");
    int meta_ok = 1;
    for (size_t i = 0; i < 4; i++) {
        const char *v = dlh_st_meta_get(f, m[i].key);
        meta_ok &= v && strcmp(v, m[i].value) == 0;
    }
    ok(meta_ok, "every metadata value comes back byte for byte");
    ok(dlh_st_meta_get(f, "absent") == NULL, "an absent metadata key is NULL");
    int listed = 0;
    for (size_t i = 0; i < dlh_st_meta_count(f); i++)
        listed += strcmp(dlh_st_meta_at(f, i)->key, "unicode") == 0;
    ok(listed == 1 && dlh_st_meta_at(f, 4) == NULL, "dlh_st_meta_at lists every key once");
    dlh_st_free(f);

    /* Without metadata the writer emits no __metadata__, like the reference. */
    float one = 1.5f;
    dlh_st_entry single = { "x", DLH_F32, 1, { 1 }, &one };
    rc = dlh_st_write(path, &single, 1, NULL, 0);
    raw = slurp(path, &len);
    static const char want[] = "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"
                               "  ";    /* 54 bytes of JSON, 2 of padding */
    ok(rc == 0 && len == 8 + 56 + 4 && sizeof want - 1 == 56 &&
       memcmp(raw + 8, want, 56) == 0 && raw[0] == 56 && raw[1] == 0 &&
       memcmp(raw + 64, &one, 4) == 0,
       "exact bytes of a one-tensor file (compact JSON, space padding, LE size)");
    free(raw);
    unlink(path);
}

static void test_reference_layout(void)
{
    /* What safetensors.torch.save_file({"weight": w, "bias": b},
       metadata={"format": "pt"}) writes: tensors sorted by (alignment, name),
       compact JSON, spaces up to a multiple of 8. */
    static const char hdr[] =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]}}";
    static const unsigned char data[24] = {
        0x00, 0x00, 0x80, 0x3f, /* 1.0 */ 0x00, 0x00, 0x00, 0xc0, /* -2.0 */
        0x00, 0x00, 0x00, 0x3f, /* 0.5 */ 0x00, 0x00, 0x40, 0x40, /* 3.0 */
        0x00, 0x00, 0x80, 0xbf, /* -1.0 */ 0x00, 0x00, 0x20, 0x41, /* 10.0 */
    };
    const char *path = tmp_path("ref.safetensors");
    write_st(path, hdr, HLEN_AUTO, data, sizeof data, 1);
    dlh_st_file *f = NULL;
    int rc = dlh_st_read(path, &f);
    if (!ok(rc == 0, "reference-layout file reads"))
        diag("%s", dlh_error_get());
    if (rc == 0) {
        const dlh_st_entry *w = dlh_st_find(f, "weight"), *b = dlh_st_find(f, "bias");
        const float *wv = w ? w->data : NULL, *bv = b ? b->data : NULL;
        ok(w && w->ndim == 2 && w->shape[0] == 2 && w->shape[1] == 2 && w->dtype == DLH_F32,
           "weight is F32 [2, 2]");
        ok(wv && wv[0] == 0.5f && wv[1] == 3.0f && wv[2] == -1.0f && wv[3] == 10.0f,
           "weight values");
        ok(bv && bv[0] == 1.0f && bv[1] == -2.0f, "bias values");
        const char *fmt = dlh_st_meta_get(f, "format");
        ok(fmt && strcmp(fmt, "pt") == 0, "__metadata__ format = pt");
        dlh_st_free(f);
    }

    /* Header order need not follow the data order; whitespace, \u escapes
       and no __metadata__ at all are all valid. */
    static const char hdr2[] =
        "{\n  \"w\\u00e9\\ud83d\\ude00\" : { \"shape\" : [ 2 ], \"data_offsets\" : [ 8 , 16 ],"
        " \"dtype\" : \"I32\" } ,\n  \"a\\/b\":{\"dtype\":\"F32\",\"shape\":[],"
        "\"data_offsets\":[4,8]},\"z\":{\"dtype\":\"F32\",\"shape\":[1],"
        "\"data_offsets\":[0,4]}\n}";
    static const unsigned char data2[16] = { 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40,
                                             7, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };
    write_st(path, hdr2, HLEN_AUTO, data2, sizeof data2, 1);
    rc = dlh_st_read(path, &f);
    if (!ok(rc == 0, "any header order, whitespace, escapes, no __metadata__"))
        diag("%s", dlh_error_get());
    if (rc == 0) {
        const dlh_st_entry *w = dlh_st_find(f, "w\xc3\xa9\xf0\x9f\x98\x80");
        const int32_t *wv = w ? w->data : NULL;
        ok(w && w->dtype == DLH_I32 && wv[0] == 7 && wv[1] == -1,
           "\\u00e9 and a surrogate pair decode to UTF-8; I32 values");
        const dlh_st_entry *s = dlh_st_find(f, "a/b");
        ok(s && s->ndim == 0 && *(const float *)s->data == 2.0f, "scalar with shape []");
        ok(dlh_st_meta_count(f) == 0 && dlh_st_meta_get(f, "format") == NULL,
           "no metadata");
        ok(strcmp(dlh_st_at(f, 0)->name, "w\xc3\xa9\xf0\x9f\x98\x80") == 0,
           "entries keep the header order");
        dlh_st_free(f);
    }

    write_st(path, "{}", HLEN_AUTO, NULL, 0, 1);
    rc = dlh_st_read(path, &f);
    ok(rc == 0 && dlh_st_count(f) == 0, "an empty file {} reads as no tensors");
    dlh_st_free(f);
    write_st(path, "{\"__metadata__\":{}}", HLEN_AUTO, NULL, 0, 0);
    rc = dlh_st_read(path, &f);
    ok(rc == 0 && dlh_st_count(f) == 0, "unpadded header with empty __metadata__");
    dlh_st_free(f);
    unlink(path);
}

/* Reads a crafted file and checks the status and that the message is
   "path: ..." containing `want`. */
static void bad(const char *what, const char *header, long long hlen, size_t data_len,
                int pad, const char *want)
{
    static unsigned char zeros[256];
    const char *path = tmp_path("bad.safetensors");
    write_st(path, header, hlen, zeros, data_len, pad);
    dlh_st_file *f = (dlh_st_file *)1;
    int rc = dlh_st_read(path, &f);
    const char *msg = dlh_error_get();
    size_t pl = strlen(path);
    int good = rc == DLH_EDATA && f == NULL && strncmp(msg, path, pl) == 0 &&
               msg[pl] == ':' && strstr(msg, want);
    if (!ok(good, "%s", what))
        diag("rc %d, message '%s' (want '%s')", rc, msg, want);
    if (rc == 0)
        dlh_st_free(f);
    unlink(path);
}

#define T1 "\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"

static void test_malformed(void)
{
    const char *path = tmp_path("short.safetensors");
    tmpdir_write(path, "\x10\0\0\0", 4);
    dlh_st_file *f = NULL;
    int rc = dlh_st_read(path, &f);
    ok(rc == DLH_EDATA && strstr(dlh_error_get(), "file too short for a safetensors header"),
       "a 4-byte file: %s", dlh_error_get());
    unlink(path);
    rc = dlh_st_read(tmp_path("missing.safetensors"), &f);
    ok(rc == DLH_EIO && strstr(dlh_error_get(), "cannot open") && f == NULL,
       "a missing file is DLH_EIO: %s", dlh_error_get());
    rc = dlh_st_read(dir, &f);
    ok(rc == DLH_EIO && strstr(dlh_error_get(), "not a regular file"), "a folder: %s",
       dlh_error_get());

    bad("header size above 100 MB", "{}", 100000001LL, 0, 1, "exceeds the limit");
    bad("header size beyond the file", "{}", 4096, 0, 1, "larger than the 8 bytes");
    bad("header size of 2^64-1", "{}", HLEN_MAX, 0, 1, "exceeds the limit");
    /* Padding must be spaces: the reference reader refuses NULs. */
    path = tmp_path("nul.safetensors");
    tmpdir_write(path, "\x08\0\0\0\0\0\0\0{}\0\0\0\0\0\0", 16);
    rc = dlh_st_read(path, &f);
    ok(rc == DLH_EDATA && strstr(dlh_error_get(), "at byte 2: unexpected text after"),
       "NUL padding refused: %s", dlh_error_get());
    unlink(path);

    bad("empty header", "", HLEN_AUTO, 0, 0, "expected '{'");
    bad("header not an object", "[1, 2]", HLEN_AUTO, 0, 1, "expected '{'");
    bad("missing colon", "{\"t\" {}}", HLEN_AUTO, 0, 1, "expected ':'");
    bad("unterminated string", "{\"t", HLEN_AUTO, 0, 0, "unterminated string");
    bad("trailing comma", "{" T1 ",}", HLEN_AUTO, 8, 1, "expected a string");
    bad("missing closing brace", "{" T1, HLEN_AUTO, 8, 0, "found the end of the header");
    bad("trailing garbage", "{" T1 "} x", HLEN_AUTO, 8, 1, "unexpected text after the JSON object");
    bad("two objects", "{}{}", HLEN_AUTO, 0, 1, "unexpected text after");
    bad("invalid escape", "{\"t\\q\":{}}", HLEN_AUTO, 0, 1, "invalid escape '\\q'");
    bad("short \\u escape", "{\"t\\u12\":{}}", HLEN_AUTO, 0, 1, "four hex digits");
    bad("lone high surrogate", "{\"t\\ud800x\":{}}", HLEN_AUTO, 0, 1, "without its low half");
    bad("lone low surrogate", "{\"t\\udc00\":{}}", HLEN_AUTO, 0, 1, "unpaired low surrogate");
    bad("\\u0000 in a name", "{\"t\\u0000\":{}}", HLEN_AUTO, 0, 1, "\\u0000");
    bad("raw control character in a string", "{\"t\tx\":{}}", HLEN_AUTO, 0, 1,
        "control character 0x09");
    bad("invalid UTF-8", "{\"t\xc3\x28\":{}}", HLEN_AUTO, 0, 1, "invalid UTF-8");
    bad("overlong UTF-8", "{\"t\xc0\xaf\":{}}", HLEN_AUTO, 0, 1, "invalid UTF-8");
    bad("leading zero", "{\"t\":{\"dtype\":\"F32\",\"shape\":[02],\"data_offsets\":[0,8]}}",
        HLEN_AUTO, 8, 1, "leading zero");
    bad("negative dimension", "{\"t\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}",
        HLEN_AUTO, 8, 1, "negative number in the shape");
    bad("fractional offset", "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8.0]}}",
        HLEN_AUTO, 8, 1, "must hold integers");
    bad("number overflow",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,8]}}",
        HLEN_AUTO, 8, 1, "number too large");
    bad("nested array in a shape",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[[2]],\"data_offsets\":[0,8]}}",
        HLEN_AUTO, 8, 1, "not nested values");
    bad("six dimensions",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,2],\"data_offsets\":[0,8]}}",
        HLEN_AUTO, 8, 1, "more than 5 items");
    bad("three data_offsets", "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}",
        HLEN_AUTO, 8, 1, "more than 2 items");
    bad("one data_offset", "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}}",
        HLEN_AUTO, 8, 1, "data_offsets needs 2 numbers, has 1");
    bad("unknown key in a tensor",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}",
        HLEN_AUTO, 8, 1, "tensor 't': unknown key 'x'");
    bad("missing data_offsets", "{\"t\":{\"dtype\":\"F32\",\"shape\":[2]}}", HLEN_AUTO, 8, 1,
        "tensor 't' has no 'data_offsets'");
    bad("missing dtype", "{\"t\":{\"shape\":[2],\"data_offsets\":[0,8]}}", HLEN_AUTO, 8, 1,
        "tensor 't' has no 'dtype'");
    bad("tensor not an object", "{\"t\":[1]}", HLEN_AUTO, 0, 1, "expected '{'");
    bad("dtype not a string", "{\"t\":{\"dtype\":5,\"shape\":[2],\"data_offsets\":[0,8]}}",
        HLEN_AUTO, 8, 1, "dtype must be a string");
    bad("metadata value not a string", "{\"__metadata__\":{\"epoch\":3}}", HLEN_AUTO, 0, 1,
        "__metadata__ value of 'epoch' must be a string");
    bad("metadata nested object", "{\"__metadata__\":{\"a\":{}}}", HLEN_AUTO, 0, 1,
        "must be a string");

    bad("duplicate tensor name", "{" T1 "," T1 "}", HLEN_AUTO, 8, 1,
        "tensor 't' appears twice in the header");
    bad("duplicate key inside a tensor",
        "{\"t\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
        HLEN_AUTO, 8, 1, "tensor 't': duplicate key 'dtype'");
    bad("duplicate __metadata__", "{\"__metadata__\":{},\"__metadata__\":{}}", HLEN_AUTO, 0, 1,
        "duplicate key '__metadata__'");
    bad("duplicate metadata key", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", HLEN_AUTO, 0, 1,
        "metadata key 'k' appears twice");

    bad("unknown dtype", "{\"t\":{\"dtype\":\"F99\",\"shape\":[2],\"data_offsets\":[0,8]}}",
        HLEN_AUTO, 8, 1, "tensor 't': unknown dtype 'F99' (dlhost reads F32, I32 and I64)");
    bad("unsupported dtype", "{\"t\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}",
        HLEN_AUTO, 8, 1, "tensor 't': dtype 'F16' is not supported");
    bad("shape x dtype larger than the span",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", HLEN_AUTO, 8, 1,
        "tensor 't': shape [3] x F32 needs 12 bytes but data_offsets [0, 8] span 8");
    bad("shape x dtype smaller than the span",
        "{\"t\":{\"dtype\":\"I32\",\"shape\":[1,1],\"data_offsets\":[0,8]}}", HLEN_AUTO, 8, 1,
        "shape [1, 1] x I32 needs 4 bytes");
    bad("I64 shape x 8 bytes larger than the span",
        "{\"t\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,8]}}", HLEN_AUTO, 8, 1,
        "shape [2] x I64 needs 16 bytes but data_offsets [0, 8] span 8");
    bad("shape whose size overflows",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}",
        HLEN_AUTO, 8, 1, "is too large");
    bad("offsets out of order", "{\"t\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}",
        HLEN_AUTO, 8, 1, "data_offsets [8, 0] are out of order");
    bad("overlapping offsets",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", HLEN_AUTO, 12, 1,
        "tensor 'b' (bytes 4..12) overlaps tensor 'a' (ends at 8)");
    bad("gap between tensors",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", HLEN_AUTO, 12, 1,
        "gap of 4 bytes in the data between tensor 'a' (ends at 4) and tensor 'b' "
        "(begins at 8)");
    bad("gap at the start", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
        HLEN_AUTO, 8, 1, "the first tensor 'a' begins at byte 4, not 0");
    bad("file too short (truncated data)", "{" T1 "}", HLEN_AUTO, 6, 1,
        "file too short: the tensors need 8 bytes of data after the header, the file has 6");
    bad("file too long (trailing bytes)", "{" T1 "}", HLEN_AUTO, 12, 1,
        "file too long: 12 bytes after the header, but the tensors cover only 8");
    bad("data but no tensors", "{}", HLEN_AUTO, 4, 1, "file too long");
}

static void check_old(const char *path, const float *want, const char *what)
{
    dlh_st_file *f = NULL;
    int rc = dlh_st_read(path, &f);
    const dlh_st_entry *e = rc == 0 ? dlh_st_find(f, "x") : NULL;
    ok(e && memcmp(e->data, want, 2 * sizeof(float)) == 0, "%s: the old file is intact",
       what);
    dlh_st_free(f);
}

static void test_atomic(void)
{
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/ro", dir);
    if (mkdir(sub, 0755) < 0) {
        printf("Bail out! mkdir %s: %s\n", sub, strerror(errno));
        exit(1);
    }
    char path[4300];
    snprintf(path, sizeof path, "%s/old.safetensors", sub);
    float old[2] = { 1.0f, 2.0f }, new_vals[2] = { 3.0f, 4.0f };
    dlh_st_entry e = { "x", DLH_F32, 1, { 2 }, old };
    ok(dlh_st_write(path, &e, 1, NULL, 0) == 0, "write the old file");
    e.data = new_vals;

    /* A read-only folder: mkstemp fails, nothing is created.  Root writes
       anywhere, so as root the write runs in a child that drops to nobody. */
    chmod(sub, 0555);
    chmod(dir, 0755);
    int ro_ok = -1;
    if (access(sub, W_OK) != 0) {
        int rc = dlh_st_write(path, &e, 1, NULL, 0);
        ro_ok = rc == DLH_EIO && strstr(dlh_error_get(), "cannot create a temporary file");
        if (!ro_ok)
            diag("rc %d: %s", rc, dlh_error_get());
    } else if (geteuid() == 0) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0)
                _exit(2);
            int rc = dlh_st_write(path, &e, 1, NULL, 0);
            _exit(rc == DLH_EIO && strstr(dlh_error_get(), "cannot create a temporary file")
                      ? 0 : 1);
        }
        int status = 0;
        if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
            WEXITSTATUS(status) != 2)
            ro_ok = WEXITSTATUS(status) == 0;
    }
    chmod(dir, 0700);
    if (ro_ok < 0) {
        skip("read-only folder: this user may write anyway and cannot drop privileges");
        skip("read-only folder: no temporary file (not run)");
        skip("read-only folder: old file intact (not run)");
    } else {
        ok(ro_ok, "read-only folder: DLH_EIO, cannot create a temporary file");
        DIR *d = opendir(sub);
        int n = 0;
        struct dirent *de;
        while (d && (de = readdir(d)))
            n += de->d_name[0] != '.' || strstr(de->d_name, ".tmp-") != NULL;
        closedir(d);
        ok(n == 1, "read-only folder: no temporary file left");
        check_old(path, old, "read-only folder");
    }
    chmod(sub, 0755);

    /* A write that fails half way (file size limit): the temp file existed,
       was partly written, and must be gone. */
    struct rlimit saved, lim;
    getrlimit(RLIMIT_FSIZE, &saved);
    lim = saved;
    lim.rlim_cur = 100;
    void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
    static float big[256];
    dlh_st_entry eb = { "x", DLH_F32, 1, { 256 }, big };
    int rc = DLH_EINVAL;
    if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
        rc = dlh_st_write(path, &eb, 1, NULL, 0);
        setrlimit(RLIMIT_FSIZE, &saved);
        ok(rc == DLH_EIO && strstr(dlh_error_get(), "write failed"),
           "a failing write: DLH_EIO (%s)", dlh_error_get());
    } else
        skip("setrlimit(RLIMIT_FSIZE) refused");
    signal(SIGXFSZ, oldsig);
    DIR *d = opendir(sub);
    int temps = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        temps += strstr(de->d_name, ".tmp-") != NULL;
    closedir(d);
    ok(temps == 0, "a failing write leaves no temporary file");
    check_old(path, old, "failing write");

    /* Rename over a folder fails after everything was written. */
    char target[4300];
    snprintf(target, sizeof target, "%s/adir", sub);
    mkdir(target, 0755);
    rc = dlh_st_write(target, &e, 1, NULL, 0);
    struct stat st;
    ok(rc == DLH_EIO && strstr(dlh_error_get(), "cannot rename") &&
       stat(target, &st) == 0 && S_ISDIR(st.st_mode),
       "rename over a folder fails, the folder stays (%s)", dlh_error_get());
    d = opendir(sub);
    temps = 0;
    while (d && (de = readdir(d)))
        temps += strstr(de->d_name, ".tmp-") != NULL;
    closedir(d);
    ok(temps == 0, "a failed rename leaves no temporary file");
    rmdir(target);

    char nodir[4300];
    snprintf(nodir, sizeof nodir, "%s/no/such/folder/x.safetensors", dir);
    rc = dlh_st_write(nodir, &e, 1, NULL, 0);
    ok(rc == DLH_EIO && strncmp(dlh_error_get(), nodir, strlen(nodir)) == 0,
       "a missing folder: DLH_EIO naming the path");

    /* The new version replaces the old one in one step. */
    ok(dlh_st_write(path, &e, 1, NULL, 0) == 0, "a good write replaces the file");
    check_old(path, new_vals, "after replacement (new values)");

    ok(dlh_file_write_atomic(path, "hello\n", 6) == 0, "dlh_file_write_atomic");
    size_t len;
    unsigned char *raw = slurp(path, &len);
    ok(raw && len == 6 && memcmp(raw, "hello\n", 6) == 0, "its content");
    free(raw);
    unlink(path);
    rmdir(sub);
}

static void test_write_refusals(void)
{
    const char *path = tmp_path("refused.safetensors");
    float v[2] = { 0 };
    dlh_st_entry two[2] = { { "x", DLH_F32, 1, { 2 }, v }, { "x", DLH_F32, 1, { 2 }, v } };
    ok(dlh_st_write(path, two, 2, NULL, 0) == DLH_EINVAL &&
       strstr(dlh_error_get(), "tensor 'x' is given twice"), "duplicate names refused");
    dlh_st_entry bad_dtype = { "x", DLH_F16, 1, { 2 }, v };
    ok(dlh_st_write(path, &bad_dtype, 1, NULL, 0) == DLH_EINVAL, "F16 cannot be written");
    dlh_st_entry reserved = { "__metadata__", DLH_F32, 1, { 2 }, v };
    ok(dlh_st_write(path, &reserved, 1, NULL, 0) == DLH_EINVAL, "'__metadata__' refused");
    dlh_st_entry badutf = { "x\xff", DLH_F32, 1, { 2 }, v };
    ok(dlh_st_write(path, &badutf, 1, NULL, 0) == DLH_EINVAL &&
       strstr(dlh_error_get(), "not valid UTF-8"), "invalid UTF-8 name refused");
    dlh_st_entry nodata = { "x", DLH_F32, 1, { 2 }, NULL };
    ok(dlh_st_write(path, &nodata, 1, NULL, 0) == DLH_EINVAL, "NULL data refused");
    dlh_st_meta dm[2] = { { "k", "1" }, { "k", "2" } };
    ok(dlh_st_write(path, two, 1, dm, 2) == DLH_EINVAL &&
       strstr(dlh_error_get(), "metadata key 'k' is given twice"), "duplicate metadata keys");
    ok(access(path, F_OK) != 0 && count_temps("refused.safetensors") == 0,
       "a refused write creates nothing");
}

/* dlh_st_read_ex with DLH_ST_READ_WIDE: F16, BF16 and F64 as PyTorch
   writes them (2, 2 and 8 bytes an element), which dlh_st_read refuses. */
static void test_wide(void)
{
    const char *path = tmp_path("wide.safetensors");
    const char *h = "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                    "\"b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[4,6]},"
                    "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[8,16]},"
                    "\"p\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[6,8]}}";
    unsigned char data[16] = { 0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x00, 0x00,
                               0, 0, 0, 0, 0, 0, 0xf8, 0x3f };
    write_st(path, h, HLEN_AUTO, data, sizeof data, 1);
    dlh_st_file *f = NULL;
    int rc = dlh_st_read(path, &f);
    ok(rc == DLH_EDATA && strstr(dlh_error_get(), "dtype 'F16' is not supported "
                                 "(dlhost reads F32, I32 and I64)"),
       "dlh_st_read still refuses F16: %s", dlh_error_get());
    rc = dlh_st_read_ex(path, DLH_ST_READ_WIDE, &f);
    const dlh_st_entry *e = rc == 0 ? dlh_st_find(f, "h") : NULL;
    const dlh_st_entry *b = rc == 0 ? dlh_st_find(f, "b") : NULL;
    const dlh_st_entry *d = rc == 0 ? dlh_st_find(f, "d") : NULL;
    ok(e && b && d && e->dtype == DLH_F16 && b->dtype == DLH_BF16 && d->dtype == DLH_ST_F64 &&
       memcmp(d->data, data + 8, 8) == 0,
       "DLH_ST_READ_WIDE reads F16, BF16 and F64 with their sizes");
    dlh_st_free(f);
    write_st(path, "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}",
             HLEN_AUTO, data, 8, 1);
    rc = dlh_st_read_ex(path, DLH_ST_READ_WIDE, &f);
    ok(rc == DLH_EDATA && strstr(dlh_error_get(), "shape [2] x F16 needs 4 bytes"),
       "an F16 span is checked at 2 bytes an element: %s", dlh_error_get());
    write_st(path, "{\"h\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}",
             HLEN_AUTO, data, 2, 1);
    rc = dlh_st_read_ex(path, DLH_ST_READ_WIDE, &f);
    ok(rc == DLH_EDATA && strstr(dlh_error_get(), "dtype 'U8' is not supported (dlhost "
                                 "reads F32, F64, F16, BF16, I32 and I64)"),
       "... and refuses the rest: %s", dlh_error_get());
    unlink(path);
}

int main(void)
{
    tmpdir_make(dir, sizeof dir, NULL, "test_safetensors");
    test_round_trip();
    test_i64();
    test_reference_layout();
    test_malformed();
    test_atomic();
    test_write_refusals();
    test_wide();
    if (tmpdir_remove(dir) != 0)
        diag("could not remove %s: %s", dir, strerror(errno));
    return done_testing();
}
