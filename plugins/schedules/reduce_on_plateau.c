/* reduce_on_plateau: torch.optim.lr_scheduler.ReduceLROnPlateau, stepped
 * with the monitored metric once per epoch, as in
 *
 *   for epoch in ...: train(...); scheduler.step(val_loss)
 *
 * The training loop hands the last epoch's metric in ctx->metric (NaN until
 * the first epoch ends); the schedule steps when it first sees a new
 * ctx->epoch, so the rate of epoch e reflects the metrics of epochs 0..e-1.
 * A NaN metric means "none" in the schedule ABI and is not counted (torch
 * would count a NaN as a bad epoch).  The metric is the one chosen by
 * train.monitor or train.early_stopping.monitor (val_loss by default;
 * train_loss without validation data; any metrics.csv column), and mode
 * "auto" follows its direction (min for val_loss, max for val_accuracy);
 * a mode against it is refused.  Other parameters and defaults are
 * torch's: factor 0.1
 * (< 1), patience 10, threshold 1e-4, threshold_mode "rel", cooldown 0,
 * min_lr 0, eps 1e-8.  The state (best, bad epochs, cooldown, current rate)
 * lives only in memory. */
#include <math.h>
#include <stdlib.h>

#include "schedules.h"

typedef struct plateau_state {
    int mode_max, threshold_abs;
    double factor, threshold, min_lr, eps;
    int64_t patience, cooldown;
    /* torch's scheduler state */
    double lr;                  /* NaN until the first call: then base_lr */
    double best;
    int64_t num_bad_epochs, cooldown_counter;
    int64_t epoch;              /* the last epoch seen */
} plateau_state;

static int plateau_create(const dlh_host *host, const dlh_schedule_setup *setup,
                          void **state)
{
    static const char *const modes[] = { "auto", "min", "max", NULL };
    dlh_params *params = setup->params;
    int mode;
    static const char *const threshold_modes[] = { "rel", "abs", NULL };
    const double def_factor = 0.1, def_threshold = 1e-4, zero = 0.0, def_eps = 1e-8;
    const int64_t def_patience = 10, def_cooldown = 0;
    plateau_state st = { .lr = NAN };
    int rc;
    if ((rc = host->param_choice(params, "mode", modes, 0, &mode)) < 0 ||
        (rc = host->param_float(params, "factor", &def_factor, -HUGE_VAL, HUGE_VAL,
                                &st.factor)) < 0 ||
        (rc = host->param_int(params, "patience", &def_patience, 0, INT32_MAX,
                              &st.patience)) < 0 ||
        (rc = host->param_float(params, "threshold", &def_threshold, 0.0, HUGE_VAL,
                                &st.threshold)) < 0 ||
        (rc = host->param_choice(params, "threshold_mode", threshold_modes, 0,
                                 &st.threshold_abs)) < 0 ||
        (rc = host->param_int(params, "cooldown", &def_cooldown, 0, INT32_MAX,
                              &st.cooldown)) < 0 ||
        (rc = host->param_float(params, "min_lr", &zero, 0.0, HUGE_VAL, &st.min_lr)) < 0 ||
        (rc = host->param_float(params, "eps", &def_eps, 0.0, HUGE_VAL, &st.eps)) < 0)
        return rc;
    /* torch refuses factor >= 1; the range is half-open, so it is checked
       here for one message. */
    if (!(st.factor >= 0.0 && st.factor < 1.0))
        return host->param_error(params, "factor", "parameter 'factor': expected a number "
                                 "in [0, 1) (new lr = lr * factor), got %g", st.factor);
    /* "auto" follows the monitored metric; a mode against it is refused. */
    int up = setup->goal > 0;
    if (mode != 0 && setup->goal != 0 && (mode == 2) != up)
        return host->param_error(params, "mode", "parameter 'mode': '%s' but '%s' improves "
                                 "%s", mode == 2 ? "max" : "min",
                                 setup->monitor ? setup->monitor : "the monitored metric",
                                 up ? "upward" : "downward");
    st.mode_max = mode == 0 ? up : mode == 2;
    st.best = st.mode_max ? -INFINITY : INFINITY;
    return schedules_state_new(host, &st, sizeof st, state);
}

/* torch's is_better(a, best). */
static int plateau_better(const plateau_state *st, double a)
{
    if (!st->mode_max)
        return st->threshold_abs ? a < st->best - st->threshold
                                 : a < st->best * (1.0 - st->threshold);
    return st->threshold_abs ? a > st->best + st->threshold
                             : a > st->best * (1.0 + st->threshold);
}

/* torch's step(metrics). */
static void plateau_step(plateau_state *st, double current)
{
    if (plateau_better(st, current)) {
        st->best = current;
        st->num_bad_epochs = 0;
    } else {
        st->num_bad_epochs++;
    }
    if (st->cooldown_counter > 0) {
        st->cooldown_counter--;
        st->num_bad_epochs = 0;
    }
    if (st->num_bad_epochs > st->patience) {
        double new_lr = fmax(st->lr * st->factor, st->min_lr);
        if (st->lr - new_lr > st->eps)
            st->lr = new_lr;
        st->cooldown_counter = st->cooldown;
        st->num_bad_epochs = 0;
    }
}

static int plateau_lr(void *state, const dlh_schedule_ctx *ctx, double *lr)
{
    plateau_state *st = state;
    if (ctx->epoch < st->epoch) {
        schedules_host->error("epoch %lld after epoch %lld: the plateau state cannot go "
                              "back", (long long)ctx->epoch + 1, (long long)st->epoch + 1);
        return DLH_EINVAL;
    }
    if (isnan(st->lr))
        st->lr = ctx->base_lr;
    if (ctx->epoch > st->epoch) {
        st->epoch = ctx->epoch;
        if (!isnan(ctx->metric))
            plateau_step(st, ctx->metric);
    }
    *lr = st->lr;
    return 0;
}

const dlh_schedule_ops reduce_on_plateau_ops = {
    .struct_size = sizeof(dlh_schedule_ops),
    .lr = plateau_lr,
    .destroy = schedules_state_free,
    .create_ex = plateau_create,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc reduce_on_plateau_params[] = {
    { "mode", DLH_PARAM_CHOICE, "auto", 0, 0, "auto|min|max", "whether the monitored metric improves downward or upward; auto: as the metric does" },
    { "factor", DLH_PARAM_FLOAT, "0.1", 0.0, 1.0, NULL, "factor applied on a plateau, in [0, 1)" },
    { "patience", DLH_PARAM_INT, "10", 0, INT32_MAX, NULL, "epochs without improvement before reducing" },
    { "threshold", DLH_PARAM_FLOAT, "0.0001", 0.0, DLH_PARAM_NO_MAX, NULL, "least change that counts as an improvement" },
    { "threshold_mode", DLH_PARAM_CHOICE, "rel", 0, 0, "rel|abs", "threshold relative to the best value or absolute" },
    { "cooldown", DLH_PARAM_INT, "0", 0, INT32_MAX, NULL, "epochs to wait after a reduction" },
    { "min_lr", DLH_PARAM_FLOAT, "0", 0.0, DLH_PARAM_NO_MAX, NULL, "the rate never goes below this" },
    { "eps", DLH_PARAM_FLOAT, "1e-08", 0.0, DLH_PARAM_NO_MAX, NULL, "a reduction smaller than this is skipped" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
