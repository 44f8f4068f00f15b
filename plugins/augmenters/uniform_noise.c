/* uniform_noise: adds uniform noise to every value of a sample of any shape,
 *   x[e] += low + (high - low) * u(AUGMENT_ELEMENT + e)     (float)
 * low and high (normalised units, low <= high) are required; p (default 1):
 * counter 0 decides whether the sample gets noise at all. */
#include <math.h>

#include "augmenters.h"

typedef struct uniform_noise_state {
    int64_t numel;
    double p;
    float low, width;
} uniform_noise_state;

static int uniform_noise_create_ex(const dlh_host *host, dlh_params *params,
                                   dlh_augment_info *info, void **state)
{
    uniform_noise_state st = { 0 };
    double low, high;
    int rc;
    if ((rc = host->param_float(params, "low", NULL, -HUGE_VAL, HUGE_VAL, &low)) < 0 ||
        (rc = host->param_float(params, "high", NULL, -HUGE_VAL, HUGE_VAL, &high)) < 0)
        return rc;
    if (low > high)
        return host->param_error(params, "high", "parameter 'high': expected a number >= "
                                 "low (%g), got %g", low, high);
    if ((rc = augment_read_p(host, params, 1.0, &st.p)) < 0 ||
        (rc = augment_numel(host, params, info, &st.numel)) < 0)
        return rc;
    st.low = (float)low;
    st.width = (float)(high - low);
    return augment_state_new(host, &st, sizeof st, state);
}

static int uniform_noise_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const uniform_noise_state *st = state;
    int rc = augment_check_ctx("uniform_noise", ctx, x);
    if (rc < 0)
        return rc;
    for (int64_t i = 0; i < ctx->batch; i++) {
        uint64_t s = augment_stream(ctx, i);
        if (!augment_bernoulli(ctx->seed, s, 0, st->p))
            continue;
        float *v = x + i * st->numel;
        for (int64_t e = 0; e < st->numel; e++) {
            uint32_t w[4];
            dlh_philox_words(ctx->seed, s, AUGMENT_ELEMENT + (uint64_t)e, w);
            v[e] += st->low + st->width * dlh_philox_unit(w[0]);
        }
    }
    return 0;
}

const dlh_augmenter_ops uniform_noise_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = uniform_noise_apply,
    .destroy = augment_state_free,
    .create_ex = uniform_noise_create_ex,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc uniform_noise_params[] = {
    { "low", DLH_PARAM_FLOAT, NULL, DLH_PARAM_NO_MIN, DLH_PARAM_NO_MAX, NULL, "lower end of the noise" },
    { "high", DLH_PARAM_FLOAT, NULL, DLH_PARAM_NO_MIN, DLH_PARAM_NO_MAX, NULL, "upper end of the noise (exclusive), >= low" },
    AUGMENT_P_DOC("1"),
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
