/* mixup: torchvision.transforms.v2.MixUp (Zhang et al., 2018) on a batch of
 * any sample shape with class labels.  With probability p (counter 0 of the
 * batch's first sample's stream) one weight lam ~ Beta(alpha, alpha) (mix.h)
 * mixes every sample with the one before it in the batch (the first with
 * the last): x_i = lam x_i + (1 - lam) x_{i-1}, and their label rows the
 * same way.  Parameters: alpha (> 0, default 1), p (default 1). */
#include "mix.h"

#include <string.h>

static int mixup_create_ex(const dlh_host *host, dlh_params *params, dlh_augment_info *info,
                           void **state)
{
    mix_state *s;
    int rc = mix_create(host, params, info, "mixup", 0, &s);
    *state = s;
    return rc;
}

static int mixup_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    mix_state *s = state;
    int rc = augment_check_ctx("mixup", ctx, x);
    if (rc < 0 || ctx->batch < 1 || (rc = mix_rows(s, ctx)) < 0)
        return rc;
    uint64_t stream = augment_stream(ctx, 0);
    if (!augment_bernoulli(ctx->seed, stream, 0, s->p))
        return 0;
    double lam = mix_beta(ctx->seed, stream, s->alpha);
    int64_t n = ctx->batch, m = s->numel;
    float a = (float)lam, b = (float)(1.0 - lam);
    memcpy(s->last_x, x + (n - 1) * m, (size_t)m * sizeof *x);
    for (int64_t i = n - 1; i >= 0; i--) {
        const float *prev = i > 0 ? x + (i - 1) * m : s->last_x;
        float *v = x + i * m;
        for (int64_t e = 0; e < m; e++)
            v[e] = a * v[e] + b * prev[e];
    }
    mix_labels(s, ctx, lam);
    return 0;
}

const dlh_augmenter_ops mixup_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = mixup_apply,
    .destroy = mix_destroy,
    .create_ex = mixup_create_ex,
};
