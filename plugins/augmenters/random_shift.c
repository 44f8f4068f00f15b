/* random_shift: moves images (C, H, W) by whole pixels, x[c][y][x] ->
 * x[c][y + ty][x + tx], the uncovered border taking `fill` (a number or one
 * per channel, default 0); F.affine with only a translation and nearest
 * interpolation gives the same.  Exactly one of
 *   translate = [a, b]: fractions of the width and height in [0, 1], as
 *     torchvision's RandomAffine: tx = round(uniform(1, -a W, a W)), ty =
 *     round(uniform(2, -b H, b H)) (round half to even);
 *   pixels = n or [nx, ny] (>= 0): tx = int(1, -nx, nx), ty = int(2, -ny, ny).
 * p (default 1): counter 0 decides whether the sample moves. */
#include <math.h>

#include "augmenters.h"

typedef struct random_shift_state {
    int64_t c, h, w;
    double p;
    int pixels;                 /* else fractions */
    double max_x, max_y;        /* pixels, or a W and b H */
    float fill[AUGMENT_MAX_CHANNELS];
} random_shift_state;

static int random_shift_create_ex(const dlh_host *host, dlh_params *params,
                                  dlh_augment_info *info, void **state)
{
    random_shift_state st = { 0 };
    float v[2];
    size_t n;
    int rc;
    if ((rc = augment_need_image(host, params, info, &st.c, &st.h, &st.w)) < 0 ||
        (rc = augment_read_fill(host, params, "fill", 0.0, st.c, st.fill)) < 0 ||
        (rc = augment_read_p(host, params, 1.0, &st.p)) < 0)
        return rc;
    int has_t = host->param_has(params, "translate"), has_px = host->param_has(params, "pixels");
    if (has_t == has_px)
        return host->param_error(params, has_t ? "pixels" : NULL, "%sgive either translate "
                                 "= [a, b] (fractions of the width and height) or pixels = n "
                                 "or [nx, ny], %s", has_t ? "parameter 'pixels': " : "",
                                 has_t ? "not both" : "one of them");
    st.pixels = has_px;
    const char *key = has_px ? "pixels" : "translate";
    if ((rc = host->param_floats(params, key, v, 2, &n)) < 0)
        return rc;
    if (has_t && n != 2)
        return host->param_error(params, key, "parameter 'translate': expected [a, b], got "
                                 "%zu numbers", n);
    for (size_t i = 0; i < n; i++)
        if (has_px ? v[i] < 0.0f || v[i] != floorf(v[i]) || v[i] > 1e9f
                   : v[i] < 0.0f || v[i] > 1.0f)
            return host->param_error(params, key, "parameter '%s': expected %s, got %g at "
                                     "index %zu", key, has_px ? "integers >= 0"
                                     : "fractions in [0, 1]", v[i], i);
    double ax = v[0], ay = v[n - 1];
    st.max_x = has_px ? ax : ax * (double)st.w;
    st.max_y = has_px ? ay : ay * (double)st.h;
    return augment_state_new(host, &st, sizeof st, state);
}

static int random_shift_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const random_shift_state *st = state;
    int rc = augment_check_ctx("random_shift", ctx, x);
    if (rc < 0)
        return rc;
    float stack[AUGMENT_STACK];
    float *buf = augment_scratch("random_shift", stack, st->h > st->w ? st->h : st->w);
    if (!buf)
        return DLH_ENOMEM;
    int64_t plane = st->h * st->w;
    for (int64_t i = 0; i < ctx->batch; i++) {
        uint64_t s = augment_stream(ctx, i);
        if (!augment_bernoulli(ctx->seed, s, 0, st->p))
            continue;
        int64_t tx, ty;
        if (st->pixels) {
            tx = augment_int(ctx->seed, s, 1, -(int64_t)st->max_x, (int64_t)st->max_x);
            ty = augment_int(ctx->seed, s, 2, -(int64_t)st->max_y, (int64_t)st->max_y);
        } else {
            tx = (int64_t)nearbyint(augment_uniform(ctx->seed, s, 1, -st->max_x, st->max_x));
            ty = (int64_t)nearbyint(augment_uniform(ctx->seed, s, 2, -st->max_y, st->max_y));
        }
        for (int64_t c = 0; c < st->c; c++)
            augment_shift_plane(x + (i * st->c + c) * plane, st->h, st->w, -ty, -tx,
                                AUGMENT_PAD_CONSTANT,
                                st->fill[c < AUGMENT_MAX_CHANNELS ? c : 0], buf);
    }
    augment_scratch_free(buf, stack);
    return 0;
}

const dlh_augmenter_ops random_shift_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = random_shift_apply,
    .destroy = augment_state_free,
    .create_ex = random_shift_create_ex,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc random_shift_params[] = {
    AUGMENT_FILL_DOC("fill", "value of the uncovered border"),
    AUGMENT_P_DOC("1"),
    { "translate", DLH_PARAM_FLOATS, "", 0, 0, NULL, "[a, b]: largest shift as fractions in [0, 1] of the width and height; give this or pixels" },
    { "pixels", DLH_PARAM_FLOATS, "", 0, 0, NULL, "largest shift in pixels, n or [nx, ny], integers >= 0; give this or translate" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
