/* cosine: torch.optim.lr_scheduler.CosineAnnealingLR in its closed form,
 * advanced once per optimiser step, after an optional linear warmup:
 *
 *   S = steps_per_epoch,  W = warmup_epochs * S,  T = epochs * S - W
 *   step t < W:   lr = base * (f + (1 - f) * t / W)
 *   step t >= W:  lr = min_lr + (base - min_lr) * (1 + cos(pi * (t - W) / T)) / 2
 *
 * That is torch's SequentialLR([LinearLR(start_factor=f, end_factor=1,
 * total_iters=W), CosineAnnealingLR(T_max=T, eta_min=min_lr)],
 * milestones=[W]) stepped after every optimiser step; without warmup, plain
 * CosineAnnealingLR(T_max=epochs * S).  The warmup follows LinearLR's
 * start_factor semantics: f = warmup_start_factor, in (0, 1], defaulting to
 * 1/W, so the first step runs at base/W and step W at base.  The last step of
 * the run (t = epochs * S - 1) stays just above min_lr. */
#include <math.h>

#include "schedules.h"

typedef struct cosine_state {
    double min_lr;
    int64_t warmup_epochs;
    double start_factor;        /* NaN: 1/W */
} cosine_state;

static int cosine_create(const dlh_host *host, dlh_params *params, void **state)
{
    const double zero = 0.0;
    const int64_t no_warmup = 0;
    cosine_state st = { .start_factor = NAN };
    int rc;
    if ((rc = host->param_float(params, "min_lr", &zero, 0.0, HUGE_VAL, &st.min_lr)) < 0 ||
        (rc = host->param_int(params, "warmup_epochs", &no_warmup, 0, INT32_MAX,
                              &st.warmup_epochs)) < 0)
        return rc;
    if (host->param_has(params, "warmup_start_factor")) {
        if (st.warmup_epochs == 0)
            return host->param_error(params, "warmup_start_factor", "parameter "
                                     "'warmup_start_factor' has no effect without "
                                     "warmup_epochs > 0");
        if ((rc = schedules_positive(host, params, "warmup_start_factor", NULL, 1.0,
                                     &st.start_factor)) < 0)
            return rc;
    }
    return schedules_state_new(host, &st, sizeof st, state);
}

static int cosine_lr(void *state, const dlh_schedule_ctx *ctx, double *lr)
{
    const cosine_state *st = state;
    /* The planned epochs are known only now, not at create. */
    if (st->warmup_epochs >= ctx->epochs) {
        schedules_host->error("warmup_epochs = %lld leaves no step for the cosine decay "
                              "in %lld epochs; expected warmup_epochs < train.epochs",
                              (long long)st->warmup_epochs, (long long)ctx->epochs);
        return DLH_ECONFIG;
    }
    int64_t w = st->warmup_epochs * ctx->steps_per_epoch, t = ctx->step;
    if (t < w) {
        double f = isnan(st->start_factor) ? 1.0 / (double)w : st->start_factor;
        *lr = ctx->base_lr * (f + (1.0 - f) * (double)t / (double)w);
        return 0;
    }
    double T = (double)(ctx->epochs * ctx->steps_per_epoch - w);
    *lr = st->min_lr + (ctx->base_lr - st->min_lr) *
                       (1.0 + cos(M_PI * (double)(t - w) / T)) / 2.0;
    return 0;
}

const dlh_schedule_ops cosine_ops = {
    .struct_size = sizeof(dlh_schedule_ops),
    .create = cosine_create,
    .lr = cosine_lr,
    .destroy = schedules_state_free,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc cosine_params[] = {
    { "min_lr", DLH_PARAM_FLOAT, "0", 0.0, DLH_PARAM_NO_MAX, NULL, "the rate at the end (torch eta_min)" },
    { "warmup_epochs", DLH_PARAM_INT, "0", 0, INT32_MAX, NULL, "epochs of linear warmup before the cosine" },
    { "warmup_start_factor", DLH_PARAM_FLOAT, "", 0.0, 1.0, NULL, "first warmup step factor, in (0, 1]; default 1/(warmup steps)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
