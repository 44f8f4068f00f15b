/* dropout_noise: zeroes each value of a sample (any shape) with probability
 * rate: value e is zeroed when u(AUGMENT_ELEMENT + e) < rate.  rate in
 * [0, 1) (default 0.5, as nn.Dropout).  scale (default false) multiplies the
 * kept values by (float)(1 / (1 - rate)) as nn.Dropout does; off, the kept
 * values stay as they are, which is what input noise usually wants.
 * p (default 1): counter 0 decides whether the sample is touched at all. */
#include "augmenters.h"

typedef struct dropout_noise_state {
    int64_t numel;
    double p, rate;
    float gain;
} dropout_noise_state;

static int dropout_noise_create_ex(const dlh_host *host, dlh_params *params,
                                   dlh_augment_info *info, void **state)
{
    const double def_rate = 0.5;
    const int def_scale = 0;
    dropout_noise_state st = { 0 };
    double rate;
    int scale, rc;
    if ((rc = host->param_float(params, "rate", &def_rate, 0.0, 1.0, &rate)) < 0)
        return rc;
    /* The bound is open: rate 1 leaves nothing and would scale by 1/0. */
    if (rate >= 1.0)
        return host->param_error(params, "rate",
                                 "parameter 'rate': expected a number in [0, 1), got %g",
                                 rate);
    if ((rc = host->param_bool(params, "scale", &def_scale, &scale)) < 0 ||
        (rc = augment_read_p(host, params, 1.0, &st.p)) < 0 ||
        (rc = augment_numel(host, params, info, &st.numel)) < 0)
        return rc;
    st.rate = rate;
    st.gain = scale ? (float)(1.0 / (1.0 - rate)) : 1.0f;
    return augment_state_new(host, &st, sizeof st, state);
}

static int dropout_noise_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const dropout_noise_state *st = state;
    int rc = augment_check_ctx("dropout_noise", ctx, x);
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
            v[e] = (double)dlh_philox_unit(w[0]) < st->rate ? 0.0f : v[e] * st->gain;
        }
    }
    return 0;
}

const dlh_augmenter_ops dropout_noise_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = dropout_noise_apply,
    .destroy = augment_state_free,
    .create_ex = dropout_noise_create_ex,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc dropout_noise_params[] = {
    { "rate", DLH_PARAM_FLOAT, "0.5", 0.0, 1.0, NULL, "probability of zeroing a value, < 1" },
    { "scale", DLH_PARAM_BOOL, "false", 0, 0, NULL, "scale the kept values by 1/(1 - rate), as nn.Dropout" },
    AUGMENT_P_DOC("1"),
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
