/* gaussian_noise: adds normal noise to every value of a sample of any shape,
 *   x[e] += mean + stddev * normal(AUGMENT_ELEMENT + e)      (float)
 * then, when clip = [lo, hi] is given, clamps the sample's values to it.
 * stddev >= 0 (default 0.1, torchvision.transforms.v2.GaussianNoise's
 * sigma), mean (default 0), both in normalised units; p (default 1): counter
 * 0 decides whether the sample gets noise (and the clip) at all. */
#include <math.h>

#include "augmenters.h"

typedef struct gaussian_noise_state {
    int64_t numel;
    double p;
    float mean, stddev;
    int clip;
    float lo, hi;
} gaussian_noise_state;

static int gaussian_noise_create_ex(const dlh_host *host, dlh_params *params,
                                    dlh_augment_info *info, void **state)
{
    const double def_stddev = 0.1, def_mean = 0.0;
    gaussian_noise_state st = { 0 };
    double stddev, mean, lo = 0.0, hi = 0.0;
    int rc;
    if ((rc = host->param_float(params, "stddev", &def_stddev, 0.0, HUGE_VAL, &stddev)) < 0 ||
        (rc = host->param_float(params, "mean", &def_mean, -HUGE_VAL, HUGE_VAL, &mean)) < 0 ||
        (rc = augment_read_range(host, params, "clip", &st.clip, &lo, &hi)) < 0 ||
        (rc = augment_read_p(host, params, 1.0, &st.p)) < 0 ||
        (rc = augment_numel(host, params, info, &st.numel)) < 0)
        return rc;
    st.stddev = (float)stddev;
    st.mean = (float)mean;
    st.lo = (float)lo;
    st.hi = (float)hi;
    return augment_state_new(host, &st, sizeof st, state);
}

static int gaussian_noise_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const gaussian_noise_state *st = state;
    int rc = augment_check_ctx("gaussian_noise", ctx, x);
    if (rc < 0)
        return rc;
    for (int64_t i = 0; i < ctx->batch; i++) {
        uint64_t s = augment_stream(ctx, i);
        if (!augment_bernoulli(ctx->seed, s, 0, st->p))
            continue;
        float *v = x + i * st->numel;
        for (int64_t e = 0; e < st->numel; e++) {
            float z = augment_normal(ctx->seed, s, AUGMENT_ELEMENT + (uint64_t)e);
            float y = v[e] + (st->mean + st->stddev * z);
            if (st->clip)
                y = y < st->lo ? st->lo : y > st->hi ? st->hi : y;
            v[e] = y;
        }
    }
    return 0;
}

const dlh_augmenter_ops gaussian_noise_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = gaussian_noise_apply,
    .destroy = augment_state_free,
    .create_ex = gaussian_noise_create_ex,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc gaussian_noise_params[] = {
    { "stddev", DLH_PARAM_FLOAT, "0.1", 0.0, DLH_PARAM_NO_MAX, NULL, "standard deviation of the noise (torch.randn scaled)" },
    { "mean", DLH_PARAM_FLOAT, "0", DLH_PARAM_NO_MIN, DLH_PARAM_NO_MAX, NULL, "mean of the noise" },
    { "clip", DLH_PARAM_FLOATS, "", 0, 0, NULL, "[min, max] the noisy values are clamped to; unset: no clamp" },
    AUGMENT_P_DOC("1"),
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
