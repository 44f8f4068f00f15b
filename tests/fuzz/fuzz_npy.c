/* Fuzz target: the npy dataset reader (plugins/datasets/npy.c), .npy and .npz.
 *
 * Input:
 *   byte 0     bits 0-1: 0 = x alone (label = "none"), 1 = x and y files,
 *              2 = the pieces are one .npz file (path), 3 = an .npz built
 *              here holding x.npy and y.npy; bits 2-3: label absent,
 *              "class", "dense" or "none"; bit 4: limit = byte 1; bit 5: the
 *              archive built here deflates its members (else stores them);
 *              bit 6: stream = true;
 *   byte 1     the limit;
 *   bytes 2-3  the first piece's length L, big-endian;
 *   L bytes    the first piece (x), then the second (y): the rest.
 * Building the archive here, with right CRCs, lets the fuzzer reach the
 * .npy parser inside stored and deflated members; raw archives (mode 2)
 * reach the zip directory's parser.  The parameters always parse (see
 * fuzz_csv.c).  The reader is compiled into the target, so it runs
 * instrumented. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "datasets.h"
#include "fuzz.h"
#include "registry.h"

const dlh_host *datasets_host;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct npy_buf {
    unsigned char *b;
    size_t n, cap;
} npy_buf;

static void put(npy_buf *s, const void *p, size_t n)
{
    if (s->n + n > s->cap) {
        s->cap = (s->n + n) * 2;
        if (!(s->b = realloc(s->b, s->cap)))
            fuzz_fail("out of memory");
    }
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

static void put_le(npy_buf *s, uint32_t v, int size)
{
    unsigned char b[4];
    for (int i = 0; i < size; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put(s, b, (size_t)size);
}

/* data[0..size) as raw deflate, into out. */
static void npy_deflate(const uint8_t *data, size_t size, npy_buf *out)
{
    /* One stream for the run, with a small window (see fuzz_idx.c). */
    static z_stream zs;
    static int live;
    if (!live && deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, -10, 1,
                              Z_DEFAULT_STRATEGY) != Z_OK)
        fuzz_fail("deflateInit2 failed");
    live = 1;
    if (deflateReset(&zs) != Z_OK)
        fuzz_fail("deflateReset failed");
    size_t cap = deflateBound(&zs, (uLong)size);
    if (out->cap < cap) {
        if (!(out->b = realloc(out->b, cap)))
            fuzz_fail("out of memory");
        out->cap = cap;
    }
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)size;
    zs.next_out = out->b;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        fuzz_fail("deflate did not finish");
    out->n = zs.total_out;
}

/* A zip archive of x.npy and y.npy, stored or deflated, in file slot 0. */
static const char *npy_zip(const uint8_t *x, size_t nx, const uint8_t *y, size_t ny,
                           int deflated)
{
    static npy_buf zip, dir, comp;
    const uint8_t *piece[2] = { x, y };
    const size_t len[2] = { nx, ny };
    const char *name[2] = { "x.npy", "y.npy" };
    zip.n = dir.n = 0;
    for (int i = 0; i < 2; i++) {
        uint32_t crc = (uint32_t)crc32(0L, piece[i], (uInt)len[i]);
        const unsigned char *body = piece[i];
        size_t body_n = len[i];
        if (deflated) {
            npy_deflate(piece[i], len[i], &comp);
            body = comp.b;
            body_n = comp.n;
        }
        uint32_t at = (uint32_t)zip.n;
        put_le(&zip, 0x04034b50, 4);
        put_le(&zip, 20, 2);
        put_le(&zip, 0, 2);
        put_le(&zip, deflated ? 8 : 0, 2);
        put_le(&zip, 0, 4);                 /* time, date */
        put_le(&zip, crc, 4);
        put_le(&zip, (uint32_t)body_n, 4);
        put_le(&zip, (uint32_t)len[i], 4);
        put_le(&zip, 5, 2);
        put_le(&zip, 0, 2);
        put(&zip, name[i], 5);
        put(&zip, body, body_n);

        put_le(&dir, 0x02014b50, 4);
        put_le(&dir, 20, 2);
        put_le(&dir, 20, 2);
        put_le(&dir, 0, 2);
        put_le(&dir, deflated ? 8 : 0, 2);
        put_le(&dir, 0, 4);
        put_le(&dir, crc, 4);
        put_le(&dir, (uint32_t)body_n, 4);
        put_le(&dir, (uint32_t)len[i], 4);
        put_le(&dir, 5, 2);
        put_le(&dir, 0, 2);                 /* extra */
        put_le(&dir, 0, 2);                 /* comment */
        put_le(&dir, 0, 2);                 /* disk */
        put_le(&dir, 0, 2);
        put_le(&dir, 0, 4);
        put_le(&dir, at, 4);
        put(&dir, name[i], 5);
    }
    uint32_t cd_off = (uint32_t)zip.n;
    put(&zip, dir.b, dir.n);
    put_le(&zip, 0x06054b50, 4);
    put_le(&zip, 0, 4);
    put_le(&zip, 2, 2);
    put_le(&zip, 2, 2);
    put_le(&zip, (uint32_t)dir.n, 4);
    put_le(&zip, cd_off, 4);
    put_le(&zip, 0, 2);
    return fuzz_file(0, zip.b, zip.n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const labels[] = { NULL, "class", "dense", "none" };
    if (size < 4)
        return 0;
    datasets_host = dlh_host_table();
    unsigned flags = data[0], mode = flags & 3;
    size_t first = (size_t)data[2] << 8 | data[3], n = size - 4;
    const uint8_t *x = data + 4;
    if (first > n)
        first = n;
    const uint8_t *y = x + first;
    size_t ny = n - first;
    const char *label = mode == 0 ? "none" : labels[flags >> 2 & 3];
    char text[512];
    int k;
    if (mode == 0) {
        k = snprintf(text, sizeof text, "x = \"%s\";", fuzz_file(0, x, first));
    } else if (mode == 1) {
        k = snprintf(text, sizeof text, "x = \"%s\";", fuzz_file(0, x, first));
        if (!label || strcmp(label, "none") != 0)
            k += snprintf(text + k, sizeof text - (size_t)k, " y = \"%s\";",
                          fuzz_file(1, y, ny));
    } else if (mode == 2) {
        k = snprintf(text, sizeof text, "path = \"%s\";", fuzz_file(0, x, n));
    } else {
        k = snprintf(text, sizeof text, "path = \"%s\";",
                     npy_zip(x, first, y, ny, flags & 32));
    }
    if (label)
        k += snprintf(text + k, sizeof text - (size_t)k, " label = \"%s\";", label);
    if (flags & 16)
        k += snprintf(text + k, sizeof text - (size_t)k, " limit = %d;", data[1]);
    if (flags & 64)
        snprintf(text + k, sizeof text - (size_t)k, " stream = true;");
    /* A message may name either file: both paths share this prefix. */
    fuzz_dataset(&npy_ops, text, "/proc/self/fd/");
    return 0;
}
