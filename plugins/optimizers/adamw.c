/* adamw: torch.optim.AdamW, following _single_tensor_adamw in
 * torch/optim/adamw.py (torch 1.13):
 *
 *   g = -grad if maximize else grad
 *   p = p * (1 - lr * weight_decay)                  (decoupled decay)
 *   exp_avg    = beta1 * exp_avg + (1 - beta1) * g
 *   exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
 *   bc1 = 1 - beta1^step,  bc2 = 1 - beta2^step
 *   if amsgrad: max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq)
 *               denom = sqrt(max_exp_avg_sq) / sqrt(bc2) + eps
 *   else:       denom = sqrt(exp_avg_sq) / sqrt(bc2) + eps
 *   p = p - (lr / bc1) * exp_avg / denom
 *
 * Defaults as torch's: lr 1e-3, betas (0.9, 0.999), eps 1e-8,
 * weight_decay 1e-2, amsgrad and maximize false.  The scalars are computed
 * in double from the parameter's step and the learning rate in double; the
 * update is one fused kernel generated for the configuration. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "optimizers.h"

enum { AW_DECAY, AW_STEP, AW_B1, AW_B1C, AW_B2, AW_B2C, AW_BC2S, AW_EPS, AW_N };

typedef struct adamw_state {
    optimizers_base base;
    double betas[2], eps, weight_decay;
    int amsgrad, maximize;
    int m_index, v_index, vmax_index;
} adamw_state;

static int adamw_create(const dlh_host *host, dlh_optimizer_setup *setup, void **state)
{
    adamw_state *st = optimizers_new_state(host, sizeof *st, state);
    if (!st)
        return DLH_ENOMEM;
    dlh_params *p = setup->params;
    const int no = 0;
    int rc;
    optimizers_default_lr(setup, 1e-3);
    if ((rc = optimizers_betas(host, p, 0.9, 0.999, st->betas)) < 0 ||
        (rc = optimizers_number(host, p, "eps", 1e-8, 0.0, HUGE_VAL, "epsilon value",
                                &st->eps)) < 0 ||
        (rc = optimizers_number(host, p, "weight_decay", 1e-2, 0.0, HUGE_VAL,
                                "weight_decay value", &st->weight_decay)) < 0 ||
        (rc = host->param_bool(p, "amsgrad", &no, &st->amsgrad)) < 0 ||
        (rc = host->param_bool(p, "maximize", &no, &st->maximize)) < 0)
        return rc;
    if ((rc = setup->add_state(setup, "exp_avg", &st->m_index)) < 0 ||
        (rc = setup->add_state(setup, "exp_avg_sq", &st->v_index)) < 0 ||
        (st->amsgrad &&
         (rc = setup->add_state(setup, "max_exp_avg_sq", &st->vmax_index)) < 0))
        return rc;
    char src[640];
    snprintf(src, sizeof src,
             "in g; inout p, m, v%s; scalar decay, step, b1, b1c, b2, b2c, bc2s, eps;\n"
             "d = %s;\n"
             "p = p*decay;\n"
             "m = b1*m + b1c*d;\n"
             "v = b2*v + b2c*(d*d);\n"
             "%s"
             "p = p - step*(m/(sqrt(%s)/bc2s + eps));\n",
             st->amsgrad ? ", vmax" : "", st->maximize ? "-g" : "g",
             st->amsgrad ? "vmax = max(vmax, v);\n" : "", st->amsgrad ? "vmax" : "v");
    return optimizers_compile(setup, src, &st->base.kernel[0]);
}

static int adamw_step(void *state, const dlh_optimizer_ctx *ctx, const dlh_tensor *param,
                      const dlh_tensor *grad, const dlh_tensor *states)
{
    const adamw_state *st = state;
    int rc = optimizers_check_ctx("adamw", ctx);
    if (rc < 0)
        return rc;
    size_t n = (size_t)dlh_tensor_numel(param);
    double t = (double)ctx->step, lr = ctx->lr_d;
    double bc1 = 1.0 - pow(st->betas[0], t), bc2 = 1.0 - pow(st->betas[1], t);
    float scalars[AW_N] = {
        [AW_DECAY] = (float)(1.0 - lr * st->weight_decay), [AW_STEP] = (float)(lr / bc1),
        [AW_B1] = (float)st->betas[0], [AW_B1C] = (float)(1.0 - st->betas[0]),
        [AW_B2] = (float)st->betas[1], [AW_B2C] = (float)(1.0 - st->betas[1]),
        [AW_BC2S] = (float)sqrt(bc2), [AW_EPS] = (float)st->eps,
    };
    dlh_ew_arg args[5] = {
        dlh_ew_full(grad->mem, n), dlh_ew_full(param->mem, n),
        dlh_ew_full(states[st->m_index].mem, n), dlh_ew_full(states[st->v_index].mem, n),
    };
    if (st->amsgrad)
        args[4] = dlh_ew_full(states[st->vmax_index].mem, n);
    return optimizers_host->ew_run(st->base.kernel[0], n, args, scalars);
}

const dlh_optimizer_ops adamw_ops = {
    .struct_size = sizeof(dlh_optimizer_ops),
    .create = adamw_create,
    .step = adamw_step,
    .destroy = optimizers_destroy,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc adamw_params[] = {
    OPTIMIZERS_BETAS_DOC("[0.9, 0.999]"),
    OPTIMIZERS_EPS_DOC("1e-08"),
    OPTIMIZERS_WEIGHT_DECAY_DOC("0.01", "decoupled: p = p * (1 - lr * weight_decay) before the step"),
    { "amsgrad", DLH_PARAM_BOOL, "false", 0, 0, NULL, "AMSGrad: divide by the running maximum of the second moment" },
    OPTIMIZERS_MAXIMIZE_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
