/* linear: torch.optim.lr_scheduler.LinearLR stepped once per epoch, in its
 * closed form:
 *   lr = base * (start + (end - start) * min(epoch, total_epochs) / total_epochs)
 * with torch's defaults start_factor 1/3, end_factor 1, total_iters 5 (named
 * total_epochs here).  torch refuses factors outside [0, 1]; a start factor
 * of 0 would divide by zero in its recursive form, so it must be > 0 here. */
#include <math.h>

#include "schedules.h"

typedef struct linear_state {
    double start, end;
    int64_t total;
} linear_state;

static int linear_create(const dlh_host *host, dlh_params *params, void **state)
{
    const double def_start = 1.0 / 3.0, def_end = 1.0;
    const int64_t def_total = 5;
    linear_state st;
    int rc;
    if ((rc = schedules_positive(host, params, "start_factor", &def_start, 1.0,
                                 &st.start)) < 0 ||
        (rc = host->param_float(params, "end_factor", &def_end, 0.0, 1.0, &st.end)) < 0 ||
        (rc = host->param_int(params, "total_epochs", &def_total, 1, INT32_MAX,
                              &st.total)) < 0)
        return rc;
    return schedules_state_new(host, &st, sizeof st, state);
}

static int linear_lr(void *state, const dlh_schedule_ctx *ctx, double *lr)
{
    const linear_state *st = state;
    int64_t e = ctx->epoch < st->total ? ctx->epoch : st->total;
    *lr = ctx->base_lr * (st->start + (st->end - st->start) * (double)e / (double)st->total);
    return 0;
}

const dlh_schedule_ops linear_ops = {
    .struct_size = sizeof(dlh_schedule_ops),
    .create = linear_create,
    .lr = linear_lr,
    .destroy = schedules_state_free,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc linear_params[] = {
    { "start_factor", DLH_PARAM_FLOAT, "0.33333333333333331", 0.0, 1.0, NULL, "factor of the first epoch, in (0, 1] (torch: 1/3)" },
    { "end_factor", DLH_PARAM_FLOAT, "1", 0.0, 1.0, NULL, "factor reached after total_epochs" },
    { "total_epochs", DLH_PARAM_INT, "5", 1, INT32_MAX, NULL, "epochs of the linear change (torch total_iters)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
