/* adamax: torch.optim.Adamax, following _single_tensor_adamax in
 * torch/optim/adamax.py (torch 1.13):
 *
 *   g = -grad if maximize else grad
 *   if weight_decay != 0: g = g + weight_decay * p
 *   exp_avg = beta1 * exp_avg + (1 - beta1) * g
 *   exp_inf = max(beta2 * exp_inf, |g| + eps)
 *   p = p - lr / (1 - beta1^step) * exp_avg / exp_inf
 *
 * Defaults as torch's: lr 2e-3, betas (0.9, 0.999), eps 1e-8,
 * weight_decay 0, maximize false. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "optimizers.h"

enum { AX_WD, AX_B1, AX_B1C, AX_B2, AX_EPS, AX_CLR, AX_N };

typedef struct adamax_state {
    optimizers_base base;
    double betas[2], eps, weight_decay;
    int maximize;
    int m_index, u_index;
} adamax_state;

static int adamax_create(const dlh_host *host, dlh_optimizer_setup *setup, void **state)
{
    adamax_state *st = optimizers_new_state(host, sizeof *st, state);
    if (!st)
        return DLH_ENOMEM;
    dlh_params *p = setup->params;
    const int no = 0;
    int rc;
    optimizers_default_lr(setup, 2e-3);
    if ((rc = optimizers_betas(host, p, 0.9, 0.999, st->betas)) < 0 ||
        (rc = optimizers_number(host, p, "eps", 1e-8, 0.0, HUGE_VAL, "epsilon value",
                                &st->eps)) < 0 ||
        (rc = optimizers_number(host, p, "weight_decay", 0.0, 0.0, HUGE_VAL,
                                "weight_decay value", &st->weight_decay)) < 0 ||
        (rc = host->param_bool(p, "maximize", &no, &st->maximize)) < 0)
        return rc;
    if ((rc = setup->add_state(setup, "exp_avg", &st->m_index)) < 0 ||
        (rc = setup->add_state(setup, "exp_inf", &st->u_index)) < 0)
        return rc;
    char src[512];
    snprintf(src, sizeof src,
             "in g; inout p, m, u; scalar wd, b1, b1c, b2, eps, clr;\n"
             "d = %s%s;\n"
             "m = b1*m + b1c*d;\n"
             "u = max(u*b2, abs(d) + eps);\n"
             "p = p - clr*(m/u);\n",
             st->maximize ? "-g" : "g", st->weight_decay != 0.0 ? " + wd*p" : "");
    return optimizers_compile(setup, src, &st->base.kernel[0]);
}

static int adamax_step(void *state, const dlh_optimizer_ctx *ctx, const dlh_tensor *param,
                       const dlh_tensor *grad, const dlh_tensor *states)
{
    const adamax_state *st = state;
    int rc = optimizers_check_ctx("adamax", ctx);
    if (rc < 0)
        return rc;
    size_t n = (size_t)dlh_tensor_numel(param);
    double t = (double)ctx->step;
    float scalars[AX_N] = {
        [AX_WD] = (float)st->weight_decay, [AX_B1] = (float)st->betas[0],
        [AX_B1C] = (float)(1.0 - st->betas[0]), [AX_B2] = (float)st->betas[1],
        [AX_EPS] = (float)st->eps,
        [AX_CLR] = (float)(ctx->lr_d / (1.0 - pow(st->betas[0], t))),
    };
    dlh_ew_arg args[4] = {
        dlh_ew_full(grad->mem, n), dlh_ew_full(param->mem, n),
        dlh_ew_full(states[st->m_index].mem, n), dlh_ew_full(states[st->u_index].mem, n),
    };
    return optimizers_host->ew_run(st->base.kernel[0], n, args, scalars);
}

const dlh_optimizer_ops adamax_ops = {
    .struct_size = sizeof(dlh_optimizer_ops),
    .create = adamax_create,
    .step = adamax_step,
    .destroy = optimizers_destroy,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc adamax_params[] = {
    OPTIMIZERS_BETAS_DOC("[0.9, 0.999]"),
    OPTIMIZERS_EPS_DOC("1e-08"),
    OPTIMIZERS_WEIGHT_DECAY_DOC("0", "L2 penalty: weight_decay * p added to the gradient"),
    OPTIMIZERS_MAXIMIZE_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
