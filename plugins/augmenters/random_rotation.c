/* random_rotation: torchvision.transforms.RandomRotation on images (C, H, W)
 * without expand: angle = uniform(1, lo, hi) degrees, then F.rotate(img,
 * angle, interpolation, center=None, fill) - counter-clockwise about the
 * image's centre, the grid sampling and fill blending of augment_warp.
 * degrees (required): d >= 0 for [-d, d], or [min, max]; interpolation
 * "nearest" (default, as torchvision) or "bilinear"; fill: a number or one
 * per channel (default 0); p (default 1, torchvision has none): counter 0
 * decides whether the sample turns.  apply allocates an image plane when
 * H W exceeds AUGMENT_STACK. */
#include "augmenters.h"

typedef struct random_rotation_state {
    int64_t c, h, w;
    double p, lo, hi;
    int bilinear;
    float fill[AUGMENT_MAX_CHANNELS];
} random_rotation_state;

static int random_rotation_create_ex(const dlh_host *host, dlh_params *params,
                                     dlh_augment_info *info, void **state)
{
    random_rotation_state st = { 0 };
    int rc;
    if ((rc = augment_need_image(host, params, info, &st.c, &st.h, &st.w)) < 0 ||
        (rc = augment_read_degrees(host, params, "degrees", NULL, &st.lo, &st.hi)) < 0 ||
        (rc = augment_read_interpolation(host, params, 0, &st.bilinear)) < 0 ||
        (rc = augment_read_fill(host, params, "fill", 0.0, st.c, st.fill)) < 0 ||
        (rc = augment_read_p(host, params, 1.0, &st.p)) < 0)
        return rc;
    return augment_state_new(host, &st, sizeof st, state);
}

static int random_rotation_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const random_rotation_state *st = state;
    int rc = augment_check_ctx("random_rotation", ctx, x);
    if (rc < 0)
        return rc;
    float stack[AUGMENT_STACK];
    int64_t plane = st->h * st->w;
    float *buf = augment_scratch("random_rotation", stack, plane);
    if (!buf)
        return DLH_ENOMEM;
    for (int64_t i = 0; i < ctx->batch; i++) {
        uint64_t s = augment_stream(ctx, i);
        if (!augment_bernoulli(ctx->seed, s, 0, st->p))
            continue;
        double m[6];
        /* F.rotate turns by -angle in affine's convention. */
        augment_inverse_affine(-augment_uniform(ctx->seed, s, 1, st->lo, st->hi), 0.0, 0.0,
                               1.0, 0.0, 0.0, m);
        augment_warp(x + i * st->c * plane, st->c, st->h, st->w, m, st->bilinear, st->fill,
                     buf);
    }
    augment_scratch_free(buf, stack);
    return 0;
}

const dlh_augmenter_ops random_rotation_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = random_rotation_apply,
    .destroy = augment_state_free,
    .create_ex = random_rotation_create_ex,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc random_rotation_params[] = {
    AUGMENT_DEGREES_DOC("rotation range in degrees: d (meaning [-d, d]) or [min, max]"),
    AUGMENT_INTERPOLATION_DOC,
    AUGMENT_FILL_DOC("fill", "value of the area outside the rotated image"),
    AUGMENT_P_DOC("1"),
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
