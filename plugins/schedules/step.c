/* step: torch.optim.lr_scheduler.StepLR stepped once per epoch, in its
 * closed form:  lr = base * gamma^floor(epoch / step_size).
 * step_size (epochs) is required, as in torch; gamma defaults to 0.1. */
#include <math.h>

#include "schedules.h"

typedef struct step_state {
    int64_t step_size;
    double gamma;
} step_state;

static int step_create(const dlh_host *host, dlh_params *params, void **state)
{
    const double def_gamma = 0.1;
    step_state st;
    int rc;
    if ((rc = host->param_int(params, "step_size", NULL, 1, INT32_MAX, &st.step_size)) < 0 ||
        (rc = schedules_positive(host, params, "gamma", &def_gamma, HUGE_VAL, &st.gamma)) < 0)
        return rc;
    return schedules_state_new(host, &st, sizeof st, state);
}

static int step_lr(void *state, const dlh_schedule_ctx *ctx, double *lr)
{
    const step_state *st = state;
    *lr = ctx->base_lr * pow(st->gamma, (double)(ctx->epoch / st->step_size));
    return 0;
}

const dlh_schedule_ops step_ops = {
    .struct_size = sizeof(dlh_schedule_ops),
    .create = step_create,
    .lr = step_lr,
    .destroy = schedules_state_free,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc step_params[] = {
    { "step_size", DLH_PARAM_INT, NULL, 1, INT32_MAX, NULL, "epochs between decays" },
    { "gamma", DLH_PARAM_FLOAT, "0.1", 0.0, DLH_PARAM_NO_MAX, NULL, "factor applied at each decay, > 0" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
