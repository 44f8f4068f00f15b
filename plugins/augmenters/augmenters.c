/* Entry point of the "augmenters" plugin, and the draws and parameter
 * helpers its augmenters share. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augmenters.h"

const dlh_host *augmenters_host;

/* ------------------------------------------------------------ draws */

double augment_unit(uint64_t seed, uint64_t stream, uint64_t k)
{
    uint32_t w[4];
    dlh_philox_words(seed, stream, k, w);
    return (double)dlh_philox_unit(w[0]);
}

double augment_uniform(uint64_t seed, uint64_t stream, uint64_t k, double a, double b)
{
    return a + (b - a) * augment_unit(seed, stream, k);
}

int64_t augment_int(uint64_t seed, uint64_t stream, uint64_t k, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    double n = (double)(hi - lo) + 1.0;
    double f = floor(augment_unit(seed, stream, k) * n);
    int64_t v = (int64_t)f;
    return lo + (v > hi - lo ? hi - lo : v);
}

int augment_bernoulli(uint64_t seed, uint64_t stream, uint64_t k, double p)
{
    return augment_unit(seed, stream, k) < p;
}

float augment_normal(uint64_t seed, uint64_t stream, uint64_t k)
{
    return dlh_philox_normal(seed, stream, k, 0.0f, 1.0f);
}

/* ------------------------------------------------------------ apply */

int augment_check_ctx(const char *name, const dlh_augment_ctx *ctx, const float *x)
{
    if (!ctx || ctx->batch < 0 || (ctx->batch > 0 && !x)) {
        augmenters_host->error("%s: called without samples", name);
        return DLH_EINVAL;
    }
    int has_streams = ctx->struct_size >= offsetof(dlh_augment_ctx, streams) +
                                          sizeof ctx->streams && ctx->streams;
    if (ctx->batch > 1 && !has_streams) {
        augmenters_host->error("%s: %lld samples in one call but no per-sample streams "
                               "(ctx->streams, ABI 1.4)", name, (long long)ctx->batch);
        return DLH_EINVAL;
    }
    return 0;
}

uint64_t augment_stream(const dlh_augment_ctx *ctx, int64_t i)
{
    if (ctx->struct_size >= offsetof(dlh_augment_ctx, streams) + sizeof ctx->streams &&
        ctx->streams)
        return ctx->streams[i];
    return ctx->stream;
}

/* ------------------------------------------------------------ create */

int augment_state_new(const dlh_host *host, const void *src, size_t size, void **state)
{
    void *st = malloc(size);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    memcpy(st, src, size);
    return 0;
}

void augment_state_free(void *state)
{
    free(state);
}

int augment_read_p(const dlh_host *host, dlh_params *p, double def, double *out)
{
    return host->param_float(p, "p", &def, 0.0, 1.0, out);
}

int augment_read_range(const dlh_host *host, dlh_params *p, const char *key, int *has,
                       double *lo, double *hi)
{
    float v[2];
    size_t n;
    int rc = host->param_floats(p, key, v, 2, &n);
    *has = 0;
    if (rc < 0)
        return rc;
    if (n == 0)
        return 0;
    if (n != 2)
        return host->param_error(p, key, "parameter '%s': expected [min, max], got one "
                                 "number", key);
    if (v[0] > v[1])
        return host->param_error(p, key, "parameter '%s': expected [min, max] with "
                                 "min <= max, got [%g, %g]", key, v[0], v[1]);
    *has = 1;
    *lo = v[0];
    *hi = v[1];
    return 0;
}

/* "[1, 28, 28]" */
static void augment_shape_format(const dlh_shape *s, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < s->ndim && i < DLH_MAX_DIMS && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%lld", i ? ", " : "",
                                (long long)s->dim[i]);
    if (len < size)
        snprintf(buf + len, size - len, "]");
}

int augment_need_image(const dlh_host *host, dlh_params *p, const dlh_augment_info *info,
                       int64_t *c, int64_t *h, int64_t *w)
{
    const dlh_shape *s = &info->sample;
    if (s->ndim != 3 || s->dim[0] < 1 || s->dim[1] < 1 || s->dim[2] < 1 ||
        s->dim[1] > INT32_MAX || s->dim[2] > INT32_MAX ||
        s->dim[0] > INT64_MAX / s->dim[1] / s->dim[2]) {
        char shape[160];
        augment_shape_format(s, shape, sizeof shape);
        return host->param_error(p, NULL, "needs images (C, H, W); the data's samples are %s",
                                 shape);
    }
    *c = s->dim[0];
    *h = s->dim[1];
    *w = s->dim[2];
    return 0;
}

int augment_numel(const dlh_host *host, dlh_params *p, const dlh_augment_info *info,
                  int64_t *numel)
{
    const dlh_shape *s = &info->sample;
    int64_t n = 1;
    int bad = s->ndim < 0 || s->ndim > DLH_MAX_DIMS;
    for (int i = 0; !bad && i < s->ndim; i++) {
        if (s->dim[i] < 1 || n > INT64_MAX / 2 / s->dim[i])
            bad = 1;
        else
            n *= s->dim[i];
    }
    if (bad) {
        char shape[160] = "(invalid)";
        if (s->ndim >= 0 && s->ndim <= DLH_MAX_DIMS)
            augment_shape_format(s, shape, sizeof shape);
        return host->param_error(p, NULL, "the data's samples have an unusable shape %s",
                                 shape);
    }
    *numel = n;
    return 0;
}

int augment_read_fill(const dlh_host *host, dlh_params *p, const char *key, double def,
                      int64_t c, float *fill)
{
    float v[AUGMENT_MAX_CHANNELS];
    size_t n;
    int rc = host->param_floats(p, key, v, AUGMENT_MAX_CHANNELS, &n);
    if (rc < 0)
        return rc;
    if (n > 1 && (int64_t)n != c)
        return host->param_error(p, key, "parameter '%s': expected one value or one per "
                                 "channel (%lld), got %zu", key, (long long)c, n);
    for (int64_t i = 0; i < c && i < AUGMENT_MAX_CHANNELS; i++)
        fill[i] = n == 0 ? (float)def : n == 1 ? v[0] : v[i];
    return 0;
}

/* ------------------------------------------------------------ registration */

static int augmenters_init(const dlh_host *host, dlh_registrar *reg)
{
    static const struct {
        const char *name;
        const dlh_augmenter_ops *ops;
        const char *description;
    } list[] = {
        { "gaussian_noise", &gaussian_noise_ops,
          "add normal noise (mean, stddev) to every value, optional clip" },
        { "uniform_noise", &uniform_noise_ops, "add uniform noise in [low, high)" },
        { "salt_pepper", &salt_pepper_ops,
          "set a fraction `amount` of the values to high (salt) or low (pepper)" },
        { "random_scale", &random_scale_ops,
          "multiply each sample by a gain drawn in [min, max)" },
        { "dropout_noise", &dropout_noise_ops, "zero each value with probability rate" },
        { "random_hflip", &random_hflip_ops,
          "flip images left-right (torchvision RandomHorizontalFlip)" },
        { "random_vflip", &random_vflip_ops,
          "flip images top-bottom (torchvision RandomVerticalFlip)" },
        { "random_crop", &random_crop_ops,
          "pad, then crop back to the image size at a random place "
          "(torchvision RandomCrop)" },
        { "random_erasing", &random_erasing_ops,
          "erase a random rectangle (torchvision RandomErasing)" },
    };
    augmenters_host = host;
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
        int rc = reg->add(reg, DLH_KIND_AUGMENTER, list[i].name, list[i].ops,
                          list[i].description);
        if (rc < 0)
            return rc;
    }
    return 0;
}

DLH_PLUGIN("augmenters", "0.1.0",
           "data augmenters: gaussian_noise, uniform_noise, salt_pepper, random_scale, "
           "dropout_noise, random_hflip, random_vflip, random_crop, random_erasing",
           "MIT", augmenters_init)
