/* Fuzz target: one image file through the imagefolder reader's decoding
 * (plugins/datasets/images_decode.c): images_load, PNG or JPEG by its
 * signature, then images_resize.
 *
 * Input:
 *   byte 0     flags: 1 = grey (else RGB), 2 = resize to the size of
 *              bytes 1 and 2 (each 1 + value % 32), 4 = the header only;
 *   bytes 1-2  the size;
 *   the rest   the file.
 * A failure must be a DLH_E* code with a message naming the file; a
 * success must give dimensions within the limits, the channels asked for,
 * and values in [0, 1].  The decoder is compiled into the target, so it
 * runs instrumented; libpng and libjpeg do not. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "images.h"
#include "registry.h"

const dlh_host *datasets_host;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    datasets_host = dlh_host_table();
    unsigned flags = data[0];
    const char *path = fuzz_file(0, data + 3, size - 3);
    int channels = flags & 4 ? 0 : flags & 1 ? 1 : 3;
    images_pixels im;
    dlh_error_clear();
    int rc = images_load(path, channels, &im);
    if (rc) {
        if (im.data)
            fuzz_fail("pixels left behind by a failed load");
        fuzz_check_error(rc, path);
        return 0;
    }
    if (im.width < 1 || im.height < 1 || im.width > IMAGES_MAX_SIDE ||
        im.height > IMAGES_MAX_SIDE || im.width * im.height > IMAGES_MAX_PIXELS)
        fuzz_fail("loaded %lld x %lld pixels", (long long)im.width, (long long)im.height);
    if (channels == 0) {
        if (im.data || (im.channels != 1 && im.channels != 3))
            fuzz_fail("a header-only load gave pixels or %d channels", im.channels);
        return 0;
    }
    if (!im.data || im.channels != channels)
        fuzz_fail("asked for %d channels, got %d", channels, im.channels);
    int64_t h = im.height, w = im.width;
    if (flags & 2) {
        h = 1 + data[1] % 32;
        w = 1 + data[2] % 32;
    } else if (h * w > 4096) {
        h = w = 16;     /* a large image: its resize, not its copy */
    }
    size_t n = (size_t)(channels * h * w);
    float *out = malloc(n * sizeof *out);
    if (!out)
        fuzz_fail("out of memory");
    if ((rc = images_resize(path, &im, h, w, out)))
        fuzz_fail("resize to %lld x %lld failed (%d)", (long long)h, (long long)w, rc);
    for (size_t i = 0; i < n; i++)
        if (!(out[i] >= 0.0f && out[i] <= 1.0f))
            fuzz_fail("value %zu is %g, not in [0, 1]", i, out[i]);
    free(out);
    free(im.data);
    return 0;
}
