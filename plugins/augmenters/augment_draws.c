/* The draws and ctx helpers every augmenter plugin shares (augment_draws.h);
 * compiled into the augmenters and the audio plugins alike. */
#include <math.h>
#include <stddef.h>

#include "augment_draws.h"

const dlh_host *augment_draws_host;

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
        augment_draws_host->error("%s: called without samples", name);
        return DLH_EINVAL;
    }
    int has_streams = ctx->struct_size >= offsetof(dlh_augment_ctx, streams) +
                                          sizeof ctx->streams && ctx->streams;
    if (ctx->batch > 1 && !has_streams) {
        augment_draws_host->error("%s: %lld samples in one call but no per-sample streams "
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

