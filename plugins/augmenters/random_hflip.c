/* random_hflip: torchvision.transforms.RandomHorizontalFlip on images
 * (C, H, W): with probability p (default 0.5; counter 0, flipped when
 * u(0) < p) every row is reversed, x[c][y][w] -> x[c][y][W - 1 - w]. */
#include "augmenters.h"

static int random_hflip_create_ex(const dlh_host *host, dlh_params *params,
                                  dlh_augment_info *info, void **state)
{
    return augment_image_p_new(host, params, info, 0.5, state);
}

static int random_hflip_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const augment_image_p *st = state;
    int rc = augment_check_ctx("random_hflip", ctx, x);
    if (rc < 0)
        return rc;
    int64_t rows = st->c * st->h;
    for (int64_t i = 0; i < ctx->batch; i++) {
        if (!augment_bernoulli(ctx->seed, augment_stream(ctx, i), 0, st->p))
            continue;
        float *v = x + i * rows * st->w;
        for (int64_t r = 0; r < rows; r++, v += st->w)
            for (int64_t a = 0, b = st->w - 1; a < b; a++, b--) {
                float t = v[a];
                v[a] = v[b];
                v[b] = t;
            }
    }
    return 0;
}

const dlh_augmenter_ops random_hflip_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = random_hflip_apply,
    .destroy = augment_state_free,
    .create_ex = random_hflip_create_ex,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc random_hflip_params[] = {
    AUGMENT_P_DOC("0.5"),
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
