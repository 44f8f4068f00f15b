/* mixup: torchvision.transforms.v2.MixUp (Zhang et al., 2018) on a batch of
 * any sample shape with class labels.  With probability p (counter 0 of the
 * batch's first sample's stream) one weight lam ~ Beta(alpha, alpha) (mix.h)
 * mixes every sample with the one before it in the batch (the first with
 * the last): x_i = lam x_i + (1 - lam) x_{i-1}, and their label rows the
 * same way.  Parameters: alpha (> 0, default 1), p (default 1). */
#include "mix.h"

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
    uint64_t stream;
    double lam;
    int rc = mix_draw(s, ctx, "mixup", x, &stream, &lam);
    if (rc <= 0)
        return rc;
    mix_blend(x, ctx->batch, s->numel, s->last_x, lam);
    mix_labels(s, ctx, lam);
    return 0;
}

const dlh_augmenter_ops mixup_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = mixup_apply,
    .destroy = mix_destroy,
    .create_ex = mixup_create_ex,
};
