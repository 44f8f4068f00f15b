/* Fuzz target: the idx dataset reader (plugins/datasets/idx.c), raw and gzip.
 *
 * Input:
 *   byte 0     flags: 1 = a labels file follows, 2 = gzip the images here,
 *              4 = gzip the labels here, 8 = limit = byte 1; the high
 *              nibble is a number of bytes cut off the end of what this
 *              target compresses (a stream that stops short);
 *   byte 1     the limit; without flag 8, bit 7: stream = true;
 *   bytes 2-3  the images file's length L, big-endian;
 *   L bytes    the images file, then the labels file (the rest).
 * Compressing here lets the fuzzer reach the reader's handling of valid gzip
 * streams that wrap bad IDX data; raw bytes starting 1f 8b reach the gzip
 * decoder's error paths.  The parameters always parse (see fuzz_csv.c).
 * The reader is compiled into the target, so it runs instrumented. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "datasets.h"
#include "fuzz.h"
#include "registry.h"

const dlh_host *datasets_host;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* data[0..size) as a gzip file, less its last `cut` bytes, into the
   in-memory file `slot`. */
static const char *idx_gzip_file(int slot, const uint8_t *data, size_t size, size_t cut)
{
    /* One stream for the whole run, with a small window and hash table:
       inputs are at most a few kB, and deflateInit2's 256 kB per input
       took a third of the time.  16 + 10 bits: gzip framing. */
    static z_stream zs;
    static int live;
    if (!live && deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 16 + 10, 1,
                              Z_DEFAULT_STRATEGY) != Z_OK)
        fuzz_fail("deflateInit2 failed");
    live = 1;
    if (deflateReset(&zs) != Z_OK)
        fuzz_fail("deflateReset failed");
    size_t cap = deflateBound(&zs, (uLong)size);
    unsigned char *out = malloc(cap);
    if (!out)
        fuzz_fail("out of memory");
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)size;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        fuzz_fail("deflate did not finish");
    size_t n = zs.total_out > cut ? zs.total_out - cut : 0;
    const char *path = fuzz_file(slot, out, n);
    free(out);
    return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    datasets_host = dlh_host_table();
    unsigned flags = data[0];
    size_t images_len = (size_t)data[2] << 8 | data[3], n = size - 4, cut = flags >> 4;
    const uint8_t *images = data + 4;
    if (images_len > n)
        images_len = n;
    const char *images_path = flags & 2 ? idx_gzip_file(0, images, images_len, cut)
                                        : fuzz_file(0, images, images_len);
    char text[256];
    int k = snprintf(text, sizeof text, "images = \"%s\";", images_path);
    if (flags & 1) {
        const uint8_t *labels = images + images_len;
        size_t labels_len = n - images_len;
        k += snprintf(text + k, sizeof text - (size_t)k, " labels = \"%s\";",
                      flags & 4 ? idx_gzip_file(1, labels, labels_len, cut)
                                : fuzz_file(1, labels, labels_len));
    }
    if (flags & 8)
        snprintf(text + k, sizeof text - (size_t)k, " limit = %d;", data[1]);
    else if (data[1] & 128)
        snprintf(text + k, sizeof text - (size_t)k, " stream = true;");
    /* A message may name either file: both paths share this prefix. */
    fuzz_dataset(&idx_ops, text, "/proc/self/fd/");
    return 0;
}
