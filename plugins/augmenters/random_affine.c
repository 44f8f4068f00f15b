/* random_affine: torchvision.transforms.RandomAffine on images (C, H, W),
 * its get_params with our draws, then F.affine about the centre:
 *   angle = uniform(1, degrees)
 *   tx = round(uniform(2, -a W, a W)), ty = round(uniform(3, -b H, b H))
 *        (translate = [a, b]; absent: 0; round half to even)
 *   scale = uniform(4, scale) (absent: 1)
 *   shear_x = uniform(5, shear[0..1]), shear_y = uniform(6, shear[2..3])
 *        (absent: 0)
 * degrees (required): d >= 0 for [-d, d], or [min, max]; translate: two
 * fractions in [0, 1]; scale: [min, max] > 0; shear: s >= 0 for x in
 * [-s, s], [min, max] for x, or [xmin, xmax, ymin, ymax]; interpolation
 * "nearest" (default, as torchvision) or "bilinear"; fill: a number or one
 * per channel (default 0); p (default 1, torchvision has none): counter 0.
 * The grid sampling and fill blending are augment_warp's. */
#include <math.h>

#include "augmenters.h"

typedef struct random_affine_state {
    int64_t c, h, w;
    double p, deg[2], max_x, max_y, scale[2], shear[4];
    int bilinear;
    float fill[AUGMENT_MAX_CHANNELS];
} random_affine_state;

static int random_affine_create_ex(const dlh_host *host, dlh_params *params,
                                   dlh_augment_info *info, void **state)
{
    random_affine_state st = { 0 };
    float v[4];
    size_t n;
    int rc;
    if ((rc = augment_need_image(host, params, info, &st.c, &st.h, &st.w)) < 0 ||
        (rc = augment_read_degrees(host, params, "degrees", NULL, &st.deg[0],
                                   &st.deg[1])) < 0 ||
        (rc = host->param_floats(params, "translate", v, 2, &n)) < 0)
        return rc;
    if (n == 1 || (n == 2 && (v[0] < 0.0f || v[0] > 1.0f || v[1] < 0.0f || v[1] > 1.0f)))
        return host->param_error(params, "translate", "parameter 'translate': expected [a, "
                                 "b] with fractions in [0, 1]");
    st.max_x = n ? v[0] * (double)st.w : 0.0;
    st.max_y = n ? v[1] * (double)st.h : 0.0;
    if ((rc = host->param_floats(params, "scale", v, 2, &n)) < 0)
        return rc;
    if (n == 1 || (n == 2 && (!(v[0] > 0.0f) || v[0] > v[1])))
        return host->param_error(params, "scale", "parameter 'scale': expected [min, max] "
                                 "with 0 < min <= max");
    st.scale[0] = n ? v[0] : 1.0;
    st.scale[1] = n ? v[1] : 1.0;
    if ((rc = host->param_floats(params, "shear", v, 4, &n)) < 0)
        return rc;
    if (n == 3 || (n == 1 && v[0] < 0.0f) || (n >= 2 && v[0] > v[1]) ||
        (n == 4 && v[2] > v[3]))
        return host->param_error(params, "shear", "parameter 'shear': expected s >= 0, "
                                 "[min, max] or [xmin, xmax, ymin, ymax] with each min <= "
                                 "max");
    st.shear[0] = n == 0 ? 0.0 : n == 1 ? -(double)v[0] : v[0];
    st.shear[1] = n == 0 ? 0.0 : n == 1 ? (double)v[0] : v[1];
    st.shear[2] = n == 4 ? v[2] : 0.0;
    st.shear[3] = n == 4 ? v[3] : 0.0;
    if ((rc = augment_read_interpolation(host, params, 0, &st.bilinear)) < 0 ||
        (rc = augment_read_fill(host, params, "fill", 0.0, st.c, st.fill)) < 0 ||
        (rc = augment_read_p(host, params, 1.0, &st.p)) < 0)
        return rc;
    return augment_state_new(host, &st, sizeof st, state);
}

static int random_affine_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const random_affine_state *st = state;
    int rc = augment_check_ctx("random_affine", ctx, x);
    if (rc < 0)
        return rc;
    float stack[AUGMENT_STACK];
    int64_t plane = st->h * st->w;
    float *buf = augment_scratch("random_affine", stack, plane);
    if (!buf)
        return DLH_ENOMEM;
    for (int64_t i = 0; i < ctx->batch; i++) {
        uint64_t s = augment_stream(ctx, i), seed = ctx->seed;
        if (!augment_bernoulli(seed, s, 0, st->p))
            continue;
        double angle = augment_uniform(seed, s, 1, st->deg[0], st->deg[1]);
        double tx = nearbyint(augment_uniform(seed, s, 2, -st->max_x, st->max_x));
        double ty = nearbyint(augment_uniform(seed, s, 3, -st->max_y, st->max_y));
        double scale = augment_uniform(seed, s, 4, st->scale[0], st->scale[1]);
        double shx = augment_uniform(seed, s, 5, st->shear[0], st->shear[1]);
        double shy = augment_uniform(seed, s, 6, st->shear[2], st->shear[3]);
        double m[6];
        augment_inverse_affine(angle, tx, ty, scale, shx, shy, m);
        augment_warp(x + i * st->c * plane, st->c, st->h, st->w, m, st->bilinear, st->fill,
                     buf);
    }
    augment_scratch_free(buf, stack);
    return 0;
}

const dlh_augmenter_ops random_affine_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = random_affine_apply,
    .destroy = augment_state_free,
    .create_ex = random_affine_create_ex,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc random_affine_params[] = {
    AUGMENT_DEGREES_DOC("rotation range in degrees: d (meaning [-d, d]) or [min, max]"),
    { "translate", DLH_PARAM_FLOATS, "", 0, 0, NULL, "[a, b]: largest shift as fractions in [0, 1] of the width and height; unset: none" },
    { "scale", DLH_PARAM_FLOATS, "", 0, 0, NULL, "[min, max] scale factor, 0 < min <= max; unset: 1" },
    { "shear", DLH_PARAM_FLOATS, "", 0, 0, NULL, "shear in degrees: s, [min, max] along x, or [xmin, xmax, ymin, ymax]; unset: none" },
    AUGMENT_INTERPOLATION_DOC,
    AUGMENT_FILL_DOC("fill", "value of the area outside the transformed image"),
    AUGMENT_P_DOC("1"),
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
