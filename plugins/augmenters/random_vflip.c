/* random_vflip: torchvision.transforms.RandomVerticalFlip on images
 * (C, H, W): with probability p (default 0.5; counter 0, flipped when
 * u(0) < p) the rows of every channel swap, x[c][h][w] -> x[c][H - 1 - h][w]. */
#include "augmenters.h"

static int random_vflip_create_ex(const dlh_host *host, dlh_params *params,
                                  dlh_augment_info *info, void **state)
{
    return augment_image_p_new(host, params, info, 0.5, state);
}

static int random_vflip_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const augment_image_p *st = state;
    int rc = augment_check_ctx("random_vflip", ctx, x);
    if (rc < 0)
        return rc;
    int64_t plane = st->h * st->w;
    for (int64_t i = 0; i < ctx->batch; i++) {
        if (!augment_bernoulli(ctx->seed, augment_stream(ctx, i), 0, st->p))
            continue;
        for (int64_t c = 0; c < st->c; c++) {
            float *v = x + (i * st->c + c) * plane;
            for (int64_t a = 0, b = st->h - 1; a < b; a++, b--) {
                float *ra = v + a * st->w, *rb = v + b * st->w;
                for (int64_t q = 0; q < st->w; q++) {
                    float t = ra[q];
                    ra[q] = rb[q];
                    rb[q] = t;
                }
            }
        }
    }
    return 0;
}

const dlh_augmenter_ops random_vflip_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = random_vflip_apply,
    .destroy = augment_state_free,
    .create_ex = random_vflip_create_ex,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc random_vflip_params[] = {
    AUGMENT_P_DOC("0.5"),
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
