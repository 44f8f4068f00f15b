/* adadelta: torch.optim.Adadelta, following _single_tensor_adadelta in
 * torch/optim/adadelta.py (torch 1.13):
 *
 *   g = -grad if maximize else grad
 *   if weight_decay != 0: g = g + weight_decay * p
 *   square_avg = rho * square_avg + (1 - rho) * g * g
 *   delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g
 *   acc_delta = rho * acc_delta + (1 - rho) * delta * delta
 *   p = p - lr * delta
 *
 * Defaults as torch's: lr 1.0, rho 0.9, eps 1e-6, weight_decay 0,
 * maximize false. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "optimizers.h"

enum { AD_WD, AD_RHO, AD_RHO1, AD_EPS, AD_LR, AD_N };

typedef struct adadelta_state {
    optimizers_base base;
    double rho, eps, weight_decay;
    int maximize;
    int sq_index, acc_index;
} adadelta_state;

static int adadelta_create(const dlh_host *host, dlh_optimizer_setup *setup, void **state)
{
    adadelta_state *st = optimizers_new_state(host, sizeof *st, state);
    if (!st)
        return DLH_ENOMEM;
    dlh_params *p = setup->params;
    const int no = 0;
    int rc;
    optimizers_default_lr(setup, 1.0);
    if ((rc = optimizers_number(host, p, "rho", 0.9, 0.0, 1.0, "rho value", &st->rho)) < 0 ||
        (rc = optimizers_number(host, p, "eps", 1e-6, 0.0, HUGE_VAL, "epsilon value",
                                &st->eps)) < 0 ||
        (rc = optimizers_number(host, p, "weight_decay", 0.0, 0.0, HUGE_VAL,
                                "weight_decay value", &st->weight_decay)) < 0 ||
        (rc = host->param_bool(p, "maximize", &no, &st->maximize)) < 0)
        return rc;
    if ((rc = setup->add_state(setup, "square_avg", &st->sq_index)) < 0 ||
        (rc = setup->add_state(setup, "acc_delta", &st->acc_index)) < 0)
        return rc;
    char src[512];
    snprintf(src, sizeof src,
             "in g; inout p, sq, acc; scalar wd, rho, rho1, eps, lr;\n"
             "d = %s%s;\n"
             "sq = rho*sq + rho1*(d*d);\n"
             "delta = (sqrt(acc + eps)/sqrt(sq + eps))*d;\n"
             "acc = rho*acc + rho1*(delta*delta);\n"
             "p = p - lr*delta;\n",
             st->maximize ? "-g" : "g", st->weight_decay != 0.0 ? " + wd*p" : "");
    return optimizers_compile(setup, src, &st->base.kernel[0]);
}

static int adadelta_step(void *state, const dlh_optimizer_ctx *ctx, const dlh_tensor *param,
                         const dlh_tensor *grad, const dlh_tensor *states)
{
    const adadelta_state *st = state;
    int rc = optimizers_check_ctx("adadelta", ctx);
    if (rc < 0)
        return rc;
    size_t n = (size_t)dlh_tensor_numel(param);
    float scalars[AD_N] = {
        [AD_WD] = (float)st->weight_decay, [AD_RHO] = (float)st->rho,
        [AD_RHO1] = (float)(1.0 - st->rho), [AD_EPS] = (float)st->eps,
        [AD_LR] = (float)ctx->lr_d,
    };
    dlh_ew_arg args[4] = {
        dlh_ew_full(grad->mem, n), dlh_ew_full(param->mem, n),
        dlh_ew_full(states[st->sq_index].mem, n), dlh_ew_full(states[st->acc_index].mem, n),
    };
    return optimizers_host->ew_run(st->base.kernel[0], n, args, scalars);
}

const dlh_optimizer_ops adadelta_ops = {
    .struct_size = sizeof(dlh_optimizer_ops),
    .create = adadelta_create,
    .step = adadelta_step,
    .destroy = optimizers_destroy,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc adadelta_params[] = {
    { "rho", DLH_PARAM_FLOAT, "0.9", 0.0, 1.0, NULL, "decay of the running averages of squared gradients and updates" },
    OPTIMIZERS_EPS_DOC("1e-06"),
    OPTIMIZERS_WEIGHT_DECAY_DOC("0", "L2 penalty: weight_decay * p added to the gradient"),
    OPTIMIZERS_MAXIMIZE_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
