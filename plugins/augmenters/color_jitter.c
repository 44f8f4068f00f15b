/* color_jitter: torchvision.transforms.ColorJitter (0.14) on images (C, H, W),
 * with functional_tensor's float formulas, on the raw pixel values.
 *
 * Parameters (torchvision's):
 *   brightness, contrast, saturation: a number b >= 0 gives the factor range
 *     [max(0, 1 - b), 1 + b], a pair [lo, hi] needs 0 <= lo <= hi; default 0
 *     (off; [1, 1] is off too);
 *   hue: a number h in [0, 0.5] gives [-h, h], a pair needs -0.5 <= lo <= hi
 *     <= 0.5; default 0 (off; [0, 0] is off too);
 *   saturation and hue need C = 3 (RGB); brightness and contrast take any C;
 *   p: the probability of jittering a sample (default 1, as ColorJitter);
 *   bound: the raw values' range [0, bound] (default 1, torchvision's float
 *     images; 255 for 0..255 data such as idx's MNIST bytes).
 *
 * Raw values.  The host normalises before it augments, so when
 * data.normalize is an affine map (zscore, minmax; dlh_augment_info.norm)
 * each sample is first mapped back, raw = x / scale[c] + shift[c] with the
 * statistics in the ctx, jittered, and mapped forward again, x = (raw -
 * shift[c]) * scale[c]; another normalisation (whitening) is refused at
 * create.  A raw value outside [0, bound] by more than bound / 1000 (float
 * rounding of the round trip) is an error naming the sample, since it means
 * the wrong bound or an augmenter before this one that left the range;
 * values within that margin are clamped to [0, bound].
 *
 * The transforms, each in float32 as torch computes it, with v = raw values
 * and blend(a, b, r) = clamp(r a + (1 - r) b, 0, bound) (_blend; r and 1 - r
 * rounded to float, 1 - r computed from the float factor in double):
 *   brightness f: blend(v, 0, f);
 *   contrast f:   blend(v, m, f), m the mean over the image of its grayscale
 *                 0.2989 R + 0.587 G + 0.114 B (rgb_to_grayscale) for C = 3,
 *                 else of all its values (torchvision's C = 1 rule);
 *   saturation f: blend(v, gray, f) pixel by pixel;
 *   hue f:        v / bound to HSV (_rgb2hsv), h = (h + f) mod 1, back to
 *                 RGB (_hsv2rgb), times bound.
 *
 * Draws (augmenters.h's convention), sample stream s:
 *   counter 0: jitter the sample when u(0) < p;
 *   counters 1, 2, 3: the order, torch.randperm(4)'s forward Fisher-Yates:
 *     order = (0, 1, 2, 3); for i = 0, 1, 2: swap order[i] and
 *     order[i + int(1 + i, 0, 3 - i)]  (0 brightness, 1 contrast,
 *     2 saturation, 3 hue: ColorJitter's fn_idx);
 *   counters 4, 5, 6, 7: the brightness, contrast, saturation and hue
 *     factors, (float) uniform(k, lo, hi), counters fixed whether or not a
 *     transform is on;
 * then the transforms that are on run in that order. */
#include <math.h>
#include <stddef.h>

#include "augmenters.h"

enum { CJ_BRIGHTNESS, CJ_CONTRAST, CJ_SATURATION, CJ_HUE, CJ_N };

static const char *const cj_names[CJ_N] = { "brightness", "contrast", "saturation", "hue" };

typedef struct color_jitter_state {
    int64_t c, h, w;
    double p, bound;
    int on[CJ_N];
    double lo[CJ_N], hi[CJ_N];
    int affine;                 /* the host normalised affinely: map back and forth */
    int64_t norm_groups, norm_stride;
} color_jitter_state;

/* Reads factor range `t`: torchvision's _check_input. */
static int cj_read(const dlh_host *host, dlh_params *p, int t, color_jitter_state *st)
{
    const char *key = cj_names[t];
    double center = t == CJ_HUE ? 0.0 : 1.0;
    float v[2];
    size_t n;
    int rc = host->param_floats(p, key, v, 2, &n);
    if (rc < 0)
        return rc;
    st->lo[t] = st->hi[t] = center;
    if (n == 1) {
        if (!(v[0] >= 0.0f))
            return host->param_error(p, key, "If %s is a single number, it must be non "
                                     "negative (got %g)", key, v[0]);
        if (t == CJ_HUE && v[0] > 0.5f)
            return host->param_error(p, key, "hue values should be between (-0.5, 0.5): "
                                     "a single number must be at most 0.5 (got %g)", v[0]);
        st->lo[t] = center - (double)v[0];
        st->hi[t] = center + (double)v[0];
        if (t != CJ_HUE && st->lo[t] < 0.0)
            st->lo[t] = 0.0;
    } else if (n == 2) {
        double b0 = t == CJ_HUE ? -0.5 : 0.0, b1 = t == CJ_HUE ? 0.5 : HUGE_VAL;
        if (!(b0 <= v[0] && v[0] <= v[1] && v[1] <= b1))
            return host->param_error(p, key, "%s values should be between (%g, %s) as "
                                     "[min, max] with min <= max, got [%g, %g]", key, b0,
                                     t == CJ_HUE ? "0.5" : "inf", v[0], v[1]);
        st->lo[t] = v[0];
        st->hi[t] = v[1];
    }
    st->on[t] = !(st->lo[t] == center && st->hi[t] == center);
    return 0;
}

static int color_jitter_create_ex(const dlh_host *host, dlh_params *params,
                                  dlh_augment_info *info, void **state)
{
    color_jitter_state st = { 0 };
    const double def_bound = 1.0;
    int rc;
    for (int t = 0; t < CJ_N; t++)
        if ((rc = cj_read(host, params, t, &st)) < 0)
            return rc;
    if ((rc = augment_read_p(host, params, 1.0, &st.p)) < 0 ||
        (rc = host->param_float(params, "bound", &def_bound, 0.0, HUGE_VAL, &st.bound)) < 0)
        return rc;
    if (!(st.bound > 0.0) || !isfinite(st.bound))
        return host->param_error(params, "bound", "parameter 'bound': expected a number > 0 "
                                 "(1 for [0, 1] images, 255 for 0..255), got %g", st.bound);
    if ((rc = augment_need_image(host, params, info, &st.c, &st.h, &st.w)) < 0)
        return rc;
    for (int t = CJ_SATURATION; t <= CJ_HUE; t++)
        if (st.on[t] && st.c != 3)
            return host->param_error(params, cj_names[t], "parameter '%s' needs RGB images "
                                     "(3 channels); the data's have %lld (use brightness "
                                     "and contrast only)", cj_names[t], (long long)st.c);
    int norm = info->struct_size >= offsetof(dlh_augment_info, norm_group_stride) +
                                    sizeof info->norm_group_stride
                   ? info->norm : DLH_AUGMENT_NORM_NONE;
    if (norm == DLH_AUGMENT_NORM_AFFINE) {
        st.affine = 1;
        st.norm_groups = info->norm_groups;
        st.norm_stride = info->norm_group_stride;
        if (st.norm_groups < 1 || st.norm_stride < 1 ||
            st.norm_groups * st.norm_stride != st.c * st.h * st.w)
            return host->param_error(params, NULL, "the host's normalisation groups (%lld "
                                     "of %lld values) do not cover the image",
                                     (long long)st.norm_groups, (long long)st.norm_stride);
    } else if (norm != DLH_AUGMENT_NORM_NONE) {
        return host->param_error(params, NULL, "needs the raw pixel values, and "
                                 "data.normalize maps them in a way it cannot undo; use "
                                 "normalize = \"zscore\", \"minmax\" or \"none\"");
    }
    return augment_state_new(host, &st, sizeof st, state);
}

/* _blend: clamp(r a + (1 - r) b, 0, bound) in float, r the float factor. */
static inline float cj_blend(float a, float b, float r, float r1, float bound)
{
    float v = r * a + r1 * b;
    return v < 0.0f ? 0.0f : v > bound ? bound : v;
}

/* _rgb2hsv, _hsv2rgb and h = (h + f) mod 1 on one pixel of values in [0, 1]. */
static void cj_hue_pixel(float *r, float *g, float *b, float f)
{
    float R = *r, G = *g, B = *b;
    float maxc = fmaxf(R, fmaxf(G, B)), minc = fminf(R, fminf(G, B));
    int eqc = maxc == minc;
    float cr = maxc - minc;
    float s = cr / (eqc ? 1.0f : maxc);
    float div = eqc ? 1.0f : cr;
    float rc = (maxc - R) / div, gc = (maxc - G) / div, bc = (maxc - B) / div;
    float hr = maxc == R ? bc - gc : 0.0f;
    float hg = maxc == G && maxc != R ? 2.0f + rc - bc : 0.0f;
    float hb = maxc != G && maxc != R ? 4.0f + gc - rc : 0.0f;
    float h = hr + hg + hb;
    h = fmodf(h / 6.0f + 1.0f, 1.0f);
    /* torch.remainder: a - floor(a / 1) * 1 */
    h = h + f;
    h = h - floorf(h);
    float v = maxc;
    float fi = floorf(h * 6.0f);
    float fr = h * 6.0f - fi;
    int i = ((int)fi % 6 + 6) % 6;
    float p = fminf(fmaxf(v * (1.0f - s), 0.0f), 1.0f);
    float q = fminf(fmaxf(v * (1.0f - s * fr), 0.0f), 1.0f);
    float t = fminf(fmaxf(v * (1.0f - s * (1.0f - fr)), 0.0f), 1.0f);
    static const int pick[6][3] = {
        /* 0 v, 1 q, 2 p, 3 t: a1, a2, a3 of _hsv2rgb */
        { 0, 3, 2 }, { 1, 0, 2 }, { 2, 0, 3 }, { 2, 1, 0 }, { 3, 2, 0 }, { 0, 2, 1 },
    };
    const float val[4] = { v, q, p, t };
    *r = val[pick[i][0]];
    *g = val[pick[i][1]];
    *b = val[pick[i][2]];
}

/* Transform t with factor f on image v (raw values in [0, bound]). */
static void cj_apply_one(const color_jitter_state *st, int t, float f, float *v)
{
    int64_t hw = st->h * st->w, n = st->c * hw;
    float bound = (float)st->bound;
    float r = f, r1 = (float)(1.0 - (double)f);
    switch (t) {
    case CJ_BRIGHTNESS:
        for (int64_t e = 0; e < n; e++)
            v[e] = cj_blend(v[e], 0.0f, r, r1, bound);
        break;
    case CJ_CONTRAST: {
        double sum = 0.0;
        if (st->c == 3)
            for (int64_t e = 0; e < hw; e++)
                sum += (double)(0.2989f * v[e] + 0.587f * v[hw + e] + 0.114f * v[2 * hw + e]);
        else
            for (int64_t e = 0; e < n; e++)
                sum += (double)v[e];
        float m = (float)(sum / (double)(st->c == 3 ? hw : n));
        for (int64_t e = 0; e < n; e++)
            v[e] = cj_blend(v[e], m, r, r1, bound);
        break;
    }
    case CJ_SATURATION:
        for (int64_t e = 0; e < hw; e++) {
            float gray = 0.2989f * v[e] + 0.587f * v[hw + e] + 0.114f * v[2 * hw + e];
            for (int64_t k = 0; k < 3; k++)
                v[k * hw + e] = cj_blend(v[k * hw + e], gray, r, r1, bound);
        }
        break;
    case CJ_HUE:
        for (int64_t e = 0; e < hw; e++) {
            float R = v[e], G = v[hw + e], B = v[2 * hw + e];
            if (bound != 1.0f) {
                R /= bound;
                G /= bound;
                B /= bound;
            }
            cj_hue_pixel(&R, &G, &B, f);
            if (bound != 1.0f) {
                R *= bound;
                G *= bound;
                B *= bound;
            }
            v[e] = R;
            v[hw + e] = G;
            v[2 * hw + e] = B;
        }
        break;
    }
}

/* Sample `i` (of the epoch's order) from x to raw values in [0, bound]; an
   error when one lies outside by more than the rounding margin. */
static int cj_to_raw(const color_jitter_state *st, const dlh_augment_ctx *ctx, int64_t i,
                     float *v)
{
    int64_t n = st->c * st->h * st->w;
    double margin = st->bound * 1e-3;
    for (int64_t e = 0; e < n; e++) {
        float raw = v[e];
        if (st->affine) {
            int64_t g = e / st->norm_stride;
            raw = raw / ctx->norm_scale[g] + ctx->norm_shift[g];
        }
        if (!((double)raw >= -margin && (double)raw <= st->bound + margin)) {
            augmenters_host->error("color_jitter: sample %lld of the epoch has the raw value "
                                   "%g (channel %lld%s), outside [0, bound = %g]: "
                                   "ColorJitter wants [0, 1] images; set bound to the "
                                   "data's largest value (bound = 255 for 0..255 data such "
                                   "as idx bytes), and put color_jitter before augmenters "
                                   "that leave the range (noise, random erasing values)",
                                   (long long)(ctx->first_sample + i), (double)raw,
                                   (long long)(e / (st->h * st->w)),
                                   st->affine ? ", as read, before normalisation" : "",
                                   st->bound);
            return DLH_EDATA;
        }
        v[e] = raw < 0.0f ? 0.0f : raw > (float)st->bound ? (float)st->bound : raw;
    }
    return 0;
}

static int color_jitter_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const color_jitter_state *st = state;
    int rc = augment_check_ctx("color_jitter", ctx, x);
    if (rc < 0)
        return rc;
    int any = st->on[0] || st->on[1] || st->on[2] || st->on[3];
    if (!any || ctx->batch == 0)
        return 0;
    if (st->affine &&
        (ctx->struct_size < offsetof(dlh_augment_ctx, norm_scale) + sizeof ctx->norm_scale ||
         !ctx->norm_shift || !ctx->norm_scale)) {
        augmenters_host->error("color_jitter: the data are normalised but the host gave no "
                               "statistics (ctx->norm_shift, norm_scale, ABI 1.5)");
        return DLH_EINVAL;
    }
    int64_t numel = st->c * st->h * st->w;
    for (int64_t i = 0; i < ctx->batch; i++) {
        uint64_t s = augment_stream(ctx, i);
        if (!augment_bernoulli(ctx->seed, s, 0, st->p))
            continue;
        int order[CJ_N] = { 0, 1, 2, 3 };
        for (int k = 0; k < CJ_N - 1; k++) {
            int j = k + (int)augment_int(ctx->seed, s, 1 + (uint64_t)k, 0, CJ_N - 1 - k);
            int t = order[k];
            order[k] = order[j];
            order[j] = t;
        }
        float *v = x + i * numel;
        if ((rc = cj_to_raw(st, ctx, i, v)) < 0)
            return rc;
        for (int k = 0; k < CJ_N; k++) {
            int t = order[k];
            if (st->on[t])
                cj_apply_one(st, t, (float)augment_uniform(ctx->seed, s, 4 + (uint64_t)t,
                                                           st->lo[t], st->hi[t]), v);
        }
        if (st->affine)
            for (int64_t e = 0; e < numel; e++) {
                int64_t g = e / st->norm_stride;
                v[e] = (v[e] - ctx->norm_shift[g]) * ctx->norm_scale[g];
            }
    }
    return 0;
}

const dlh_augmenter_ops color_jitter_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = color_jitter_apply,
    .destroy = augment_state_free,
    .create_ex = color_jitter_create_ex,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc color_jitter_params[] = {
    { "brightness", DLH_PARAM_FLOATS, "", 0, 0, NULL, "b >= 0 (factor in [max(0, 1 - b), 1 + b]) or [min, max]; unset: no change" },
    { "contrast", DLH_PARAM_FLOATS, "", 0, 0, NULL, "c >= 0 (factor in [max(0, 1 - c), 1 + c]) or [min, max]; unset: no change" },
    { "saturation", DLH_PARAM_FLOATS, "", 0, 0, NULL, "s >= 0 (factor in [max(0, 1 - s), 1 + s]) or [min, max]; RGB only; unset: no change" },
    { "hue", DLH_PARAM_FLOATS, "", 0, 0, NULL, "h in [0, 0.5] (shift in [-h, h]) or [min, max] within [-0.5, 0.5]; RGB only; unset: no change" },
    AUGMENT_P_DOC("1"),
    { "bound", DLH_PARAM_FLOAT, "1", 0.0, DLH_PARAM_NO_MAX, NULL, "the pixels' white value, > 0: 1 for [0, 1] images, 255 for 0..255" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
