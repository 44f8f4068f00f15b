/* cutmix: torchvision.transforms.v2.CutMix (Yun et al., 2019) on a batch of
 * images (C, H, W) with class labels.  With probability p (counter 0 of the
 * batch's first sample's stream), lam ~ Beta(alpha, alpha) (mix.h) sizes a
 * box centred at (r_x, r_y) = (int(1, 0, W - 1), int(2, 0, H - 1)) with half
 * sides int(0.5 sqrt(1 - lam) W) and int(0.5 sqrt(1 - lam) H), clipped to
 * the image; every sample takes that box from the one before it in the
 * batch (the first from the last), and the label rows mix with the box's
 * true share: lam' = 1 - box area / (H W).  Parameters: alpha (> 0,
 * default 1), p (default 1). */
#include "mix.h"

#include <math.h>
#include <string.h>

static int cutmix_create_ex(const dlh_host *host, dlh_params *params, dlh_augment_info *info,
                            void **state)
{
    mix_state *s;
    int rc = mix_create(host, params, info, "cutmix", 1, &s);
    *state = s;
    return rc;
}

static int cutmix_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    mix_state *s = state;
    uint64_t stream;
    double lam;
    int rc = mix_draw(s, ctx, "cutmix", x, &stream, &lam);
    if (rc <= 0)
        return rc;
    int64_t H = s->h, W = s->w;
    int64_t rx = augment_int(ctx->seed, stream, 1, 0, W - 1);
    int64_t ry = augment_int(ctx->seed, stream, 2, 0, H - 1);
    double r = 0.5 * sqrt(1.0 - lam);
    int64_t hw = (int64_t)(r * (double)W), hh = (int64_t)(r * (double)H);
    int64_t x1 = rx - hw > 0 ? rx - hw : 0, x2 = rx + hw < W ? rx + hw : W;
    int64_t y1 = ry - hh > 0 ? ry - hh : 0, y2 = ry + hh < H ? ry + hh : H;
    double box = (double)((x2 - x1) * (y2 - y1)) / (double)(H * W);
    if (box > 0.0) {
        int64_t n = ctx->batch, m = s->numel;
        memcpy(s->last_x, x + (n - 1) * m, (size_t)m * sizeof *x);
        for (int64_t i = n - 1; i >= 0; i--) {
            const float *prev = i > 0 ? x + (i - 1) * m : s->last_x;
            float *v = x + i * m;
            for (int64_t c = 0; c < s->c; c++)
                for (int64_t yy = y1; yy < y2; yy++)
                    memcpy(v + (c * H + yy) * W + x1, prev + (c * H + yy) * W + x1,
                           (size_t)(x2 - x1) * sizeof *v);
        }
    }
    mix_labels(s, ctx, 1.0 - box);
    return 0;
}

const dlh_augmenter_ops cutmix_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = cutmix_apply,
    .destroy = mix_destroy,
    .create_ex = cutmix_create_ex,
};
