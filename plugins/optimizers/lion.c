/* lion: the Lion optimiser of Chen et al., "Symbolic Discovery of
 * Optimization Algorithms" (2023), Algorithm 2 (no torch.optim reference):
 *
 *   c = beta1 * exp_avg + (1 - beta1) * g
 *   p = p * (1 - lr * weight_decay) - lr * sign(c)     (decoupled decay)
 *   exp_avg = beta2 * exp_avg + (1 - beta2) * g
 *
 * sign(0) = 0, as torch.sign.  Defaults as the paper's code and
 * lion-pytorch: lr 1e-4, betas (0.9, 0.99), weight_decay 0.  The state is
 * named "exp_avg" as lion-pytorch names it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "optimizers.h"

enum { LI_DECAY, LI_LR, LI_B1, LI_B1C, LI_B2, LI_B2C, LI_N };

typedef struct lion_state {
    optimizers_base base;
    double betas[2], weight_decay;
    int m_index;
} lion_state;

static int lion_create(const dlh_host *host, dlh_optimizer_setup *setup, void **state)
{
    lion_state *st = optimizers_new_state(host, sizeof *st, state);
    if (!st)
        return DLH_ENOMEM;
    dlh_params *p = setup->params;
    int rc;
    optimizers_default_lr(setup, 1e-4);
    if ((rc = optimizers_betas(host, p, 0.9, 0.99, st->betas)) < 0 ||
        (rc = optimizers_number(host, p, "weight_decay", 0.0, 0.0, HUGE_VAL,
                                "weight_decay value", &st->weight_decay)) < 0)
        return rc;
    if ((rc = setup->add_state(setup, "exp_avg", &st->m_index)) < 0)
        return rc;
    return optimizers_compile(setup,
                              "in g; inout p, m; scalar decay, lr, b1, b1c, b2, b2c;\n"
                              "c = b1*m + b1c*g;\n"
                              "p = p*decay;\n"
                              "p = p - lr*sign(c);\n"
                              "m = b2*m + b2c*g;\n", &st->base.kernel[0]);
}

static int lion_step(void *state, const dlh_optimizer_ctx *ctx, const dlh_tensor *param,
                     const dlh_tensor *grad, const dlh_tensor *states)
{
    const lion_state *st = state;
    int rc = optimizers_check_ctx("lion", ctx);
    if (rc < 0)
        return rc;
    size_t n = (size_t)dlh_tensor_numel(param);
    double lr = ctx->lr_d;
    float scalars[LI_N] = {
        [LI_DECAY] = (float)(1.0 - lr * st->weight_decay), [LI_LR] = (float)lr,
        [LI_B1] = (float)st->betas[0], [LI_B1C] = (float)(1.0 - st->betas[0]),
        [LI_B2] = (float)st->betas[1], [LI_B2C] = (float)(1.0 - st->betas[1]),
    };
    dlh_ew_arg args[3] = {
        dlh_ew_full(grad->mem, n), dlh_ew_full(param->mem, n),
        dlh_ew_full(states[st->m_index].mem, n),
    };
    return optimizers_host->ew_run(st->base.kernel[0], n, args, scalars);
}

const dlh_optimizer_ops lion_ops = {
    .struct_size = sizeof(dlh_optimizer_ops),
    .create = lion_create,
    .step = lion_step,
    .destroy = optimizers_destroy,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc lion_params[] = {
    OPTIMIZERS_BETAS_DOC("[0.9, 0.99]"),
    OPTIMIZERS_WEIGHT_DECAY_DOC("0", "decoupled: p = p * (1 - lr * weight_decay) before the step"),
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
