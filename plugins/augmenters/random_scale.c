/* random_scale: multiplies a whole sample (any shape) by one gain,
 *   g = (float)(min + (max - min) * u(1)),   x[e] *= g
 * min >= 0 (default 0.8) and max >= min (default 1.2); p (default 1):
 * counter 0 decides whether the sample is scaled at all. */
#include <math.h>

#include "augmenters.h"

typedef struct random_scale_state {
    int64_t numel;
    double p, min, max;
} random_scale_state;

static int random_scale_create_ex(const dlh_host *host, dlh_params *params,
                                  dlh_augment_info *info, void **state)
{
    const double def_min = 0.8, def_max = 1.2;
    random_scale_state st = { 0 };
    int rc;
    if ((rc = host->param_float(params, "min", &def_min, 0.0, HUGE_VAL, &st.min)) < 0 ||
        (rc = host->param_float(params, "max", &def_max, 0.0, HUGE_VAL, &st.max)) < 0)
        return rc;
    if (st.min > st.max)
        return host->param_error(params, "max", "parameter 'max': expected a number >= "
                                 "min (%g), got %g", st.min, st.max);
    if ((rc = augment_read_p(host, params, 1.0, &st.p)) < 0 ||
        (rc = augment_numel(host, params, info, &st.numel)) < 0)
        return rc;
    return augment_state_new(host, &st, sizeof st, state);
}

static int random_scale_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const random_scale_state *st = state;
    int rc = augment_check_ctx("random_scale", ctx, x);
    if (rc < 0)
        return rc;
    for (int64_t i = 0; i < ctx->batch; i++) {
        uint64_t s = augment_stream(ctx, i);
        if (!augment_bernoulli(ctx->seed, s, 0, st->p))
            continue;
        float g = (float)augment_uniform(ctx->seed, s, 1, st->min, st->max);
        float *v = x + i * st->numel;
        for (int64_t e = 0; e < st->numel; e++)
            v[e] *= g;
    }
    return 0;
}

const dlh_augmenter_ops random_scale_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = random_scale_apply,
    .destroy = augment_state_free,
    .create_ex = random_scale_create_ex,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc random_scale_params[] = {
    { "min", DLH_PARAM_FLOAT, "0.8", 0.0, DLH_PARAM_NO_MAX, NULL, "lowest gain" },
    { "max", DLH_PARAM_FLOAT, "1.2", 0.0, DLH_PARAM_NO_MAX, NULL, "highest gain (exclusive), >= min" },
    AUGMENT_P_DOC("1"),
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
