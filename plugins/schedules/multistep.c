/* multistep: torch.optim.lr_scheduler.MultiStepLR stepped once per epoch,
 * in its closed form:  lr = base * gamma^(number of milestones <= epoch).
 * milestones (epochs, counted from 0 like ctx->epoch) is required and must
 * increase; gamma defaults to 0.1.  A milestone 0 decays from the start, as
 * in torch. */
#include <math.h>

#include "schedules.h"

#define MULTISTEP_MAX 64
/* Milestones come through the float-list accessor: integers up to 2^24 are
   exact in a float, so a bound below that keeps "30.5" from rounding to a
   whole number unseen. */
#define MULTISTEP_MAX_EPOCH 1000000

typedef struct multistep_state {
    double gamma;
    size_t n;
    int64_t milestones[MULTISTEP_MAX];
} multistep_state;

static int multistep_create(const dlh_host *host, dlh_params *params, void **state)
{
    const double def_gamma = 0.1;
    float list[MULTISTEP_MAX];
    multistep_state st;
    int rc;
    if (!host->param_has(params, "milestones")) {
        double unused;
        /* The required-key message, with its did-you-mean. */
        return host->param_float(params, "milestones", NULL, 0.0, 0.0, &unused);
    }
    if ((rc = host->param_floats(params, "milestones", list, MULTISTEP_MAX, &st.n)) < 0 ||
        (rc = schedules_positive(host, params, "gamma", &def_gamma, HUGE_VAL,
                                 &st.gamma)) < 0)
        return rc;
    if (st.n == 0)
        return host->param_error(params, "milestones", "parameter 'milestones': expected "
                                 "at least one epoch number, got an empty list");
    for (size_t i = 0; i < st.n; i++) {
        double v = (double)list[i];
        if (!(v >= 0.0 && v <= MULTISTEP_MAX_EPOCH && v == floor(v)))
            return host->param_error(params, "milestones", "parameter 'milestones': "
                                     "expected whole epoch numbers in [0, %d], got %g "
                                     "at index %zu", MULTISTEP_MAX_EPOCH, v, i);
        st.milestones[i] = (int64_t)v;
        if (i > 0 && st.milestones[i] <= st.milestones[i - 1])
            return host->param_error(params, "milestones", "parameter 'milestones': "
                                     "expected increasing epoch numbers, got %g after "
                                     "%g at index %zu", v, (double)list[i - 1], i);
    }
    return schedules_state_new(host, &st, sizeof st, state);
}

static int multistep_lr(void *state, const dlh_schedule_ctx *ctx, double *lr)
{
    const multistep_state *st = state;
    size_t k = 0;
    while (k < st->n && st->milestones[k] <= ctx->epoch)
        k++;
    *lr = ctx->base_lr * pow(st->gamma, (double)k);
    return 0;
}

const dlh_schedule_ops multistep_ops = {
    .struct_size = sizeof(dlh_schedule_ops),
    .create = multistep_create,
    .lr = multistep_lr,
    .destroy = schedules_state_free,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc multistep_params[] = {
    { "milestones", DLH_PARAM_FLOATS, NULL, 0, 0, NULL, "epochs (increasing integers >= 1) after which the rate is multiplied by gamma" },
    { "gamma", DLH_PARAM_FLOAT, "0.1", 0.0, DLH_PARAM_NO_MAX, NULL, "factor applied at each milestone, > 0" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
