/* exponential: torch.optim.lr_scheduler.ExponentialLR stepped once per
 * epoch, in its closed form:  lr = base * gamma^epoch.
 * gamma is required, as in torch. */
#include <math.h>

#include "schedules.h"

typedef struct exponential_state {
    double gamma;
} exponential_state;

static int exponential_create(const dlh_host *host, dlh_params *params, void **state)
{
    exponential_state st;
    int rc = schedules_positive(host, params, "gamma", NULL, HUGE_VAL, &st.gamma);
    if (rc < 0)
        return rc;
    return schedules_state_new(host, &st, sizeof st, state);
}

static int exponential_lr(void *state, const dlh_schedule_ctx *ctx, double *lr)
{
    const exponential_state *st = state;
    *lr = ctx->base_lr * pow(st->gamma, (double)ctx->epoch);
    return 0;
}

const dlh_schedule_ops exponential_ops = {
    .struct_size = sizeof(dlh_schedule_ops),
    .create = exponential_create,
    .lr = exponential_lr,
    .destroy = schedules_state_free,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc exponential_params[] = {
    { "gamma", DLH_PARAM_FLOAT, NULL, 0.0, DLH_PARAM_NO_MAX, NULL, "factor applied every epoch, > 0" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
