/* constant: the learning rate stays at its base value. */
#include "schedules.h"

static int constant_lr(void *state, const dlh_schedule_ctx *ctx, double *lr)
{
    (void)state;
    *lr = ctx->base_lr;
    return 0;
}

const dlh_schedule_ops constant_ops = {
    .struct_size = sizeof(dlh_schedule_ops),
    .create = NULL,     /* no parameters, no state */
    .lr = constant_lr,
    .destroy = NULL,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc constant_params[] = {
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
