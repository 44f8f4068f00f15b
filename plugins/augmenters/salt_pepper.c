/* salt_pepper: impulse noise on a sample of any shape (skimage's
 * random_noise mode "s&p", drawn per value rather than as an exact count).
 * Value e draws from counter AUGMENT_ELEMENT + e: it is replaced when
 * unit(w0) < amount, by `high` (salt) when unit(w1) < salt_vs_pepper, else
 * by `low` (pepper).  amount in [0, 1] (default 0.05) and salt_vs_pepper in
 * [0, 1] (default 0.5) as skimage; low (default 0) and high (default 1) are
 * in normalised units, so data normalised to [0, 1] gets black and white,
 * and zscore-normalised data should set them (low <= high).  p (default 1):
 * counter 0 decides whether the sample gets noise at all. */
#include <math.h>

#include "augmenters.h"

typedef struct salt_pepper_state {
    int64_t numel;
    double p, amount, salt;
    float low, high;
} salt_pepper_state;

static int salt_pepper_create_ex(const dlh_host *host, dlh_params *params,
                                 dlh_augment_info *info, void **state)
{
    const double def_amount = 0.05, def_salt = 0.5, def_low = 0.0, def_high = 1.0;
    salt_pepper_state st = { 0 };
    double amount, salt, low, high;
    int rc;
    if ((rc = host->param_float(params, "amount", &def_amount, 0.0, 1.0, &amount)) < 0 ||
        (rc = host->param_float(params, "salt_vs_pepper", &def_salt, 0.0, 1.0,
                                &salt)) < 0 ||
        (rc = host->param_float(params, "low", &def_low, -HUGE_VAL, HUGE_VAL, &low)) < 0 ||
        (rc = host->param_float(params, "high", &def_high, -HUGE_VAL, HUGE_VAL, &high)) < 0)
        return rc;
    if (low > high)
        return host->param_error(params, "high", "parameter 'high': expected a number >= "
                                 "low (%g), got %g", low, high);
    if ((rc = augment_read_p(host, params, 1.0, &st.p)) < 0 ||
        (rc = augment_numel(host, params, info, &st.numel)) < 0)
        return rc;
    st.amount = amount;
    st.salt = salt;
    st.low = (float)low;
    st.high = (float)high;
    return augment_state_new(host, &st, sizeof st, state);
}

static int salt_pepper_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const salt_pepper_state *st = state;
    int rc = augment_check_ctx("salt_pepper", ctx, x);
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
            if ((double)dlh_philox_unit(w[0]) < st->amount)
                v[e] = (double)dlh_philox_unit(w[1]) < st->salt ? st->high : st->low;
        }
    }
    return 0;
}

const dlh_augmenter_ops salt_pepper_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = salt_pepper_apply,
    .destroy = augment_state_free,
    .create_ex = salt_pepper_create_ex,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc salt_pepper_params[] = {
    { "amount", DLH_PARAM_FLOAT, "0.05", 0.0, 1.0, NULL, "fraction of the values replaced" },
    { "salt_vs_pepper", DLH_PARAM_FLOAT, "0.5", 0.0, 1.0, NULL, "fraction of the replaced values set to high (salt)" },
    { "low", DLH_PARAM_FLOAT, "0", DLH_PARAM_NO_MIN, DLH_PARAM_NO_MAX, NULL, "the pepper value" },
    { "high", DLH_PARAM_FLOAT, "1", DLH_PARAM_NO_MIN, DLH_PARAM_NO_MAX, NULL, "the salt value, >= low" },
    AUGMENT_P_DOC("1"),
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
