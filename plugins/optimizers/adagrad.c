/* adagrad: torch.optim.Adagrad, following _single_tensor_adagrad in
 * torch/optim/adagrad.py (torch 1.13, dense gradients):
 *
 *   g = -grad if maximize else grad
 *   if weight_decay != 0: g = g + weight_decay * p
 *   clr = lr / (1 + (step - 1) * lr_decay)
 *   sum = sum + g * g                     (sum starts at initial_accumulator_value)
 *   p = p - clr * g / (sqrt(sum) + eps)
 *
 * Defaults as torch's: lr 1e-2, lr_decay 0, weight_decay 0,
 * initial_accumulator_value 0, eps 1e-10, maximize false. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "optimizers.h"

enum { AG_WD, AG_CLR, AG_EPS, AG_N };

typedef struct adagrad_state {
    optimizers_base base;
    double lr_decay, weight_decay, initial, eps;
    int maximize;
    int sum_index;
} adagrad_state;

static int adagrad_create(const dlh_host *host, dlh_optimizer_setup *setup, void **state)
{
    adagrad_state *st = optimizers_new_state(host, sizeof *st, state);
    if (!st)
        return DLH_ENOMEM;
    dlh_params *p = setup->params;
    const int no = 0;
    int rc;
    optimizers_default_lr(setup, 1e-2);
    if ((rc = optimizers_number(host, p, "lr_decay", 0.0, 0.0, HUGE_VAL, "lr_decay value",
                                &st->lr_decay)) < 0 ||
        (rc = optimizers_number(host, p, "weight_decay", 0.0, 0.0, HUGE_VAL,
                                "weight_decay value", &st->weight_decay)) < 0 ||
        (rc = optimizers_number(host, p, "initial_accumulator_value", 0.0, 0.0, 3e38,
                                "initial_accumulator_value value", &st->initial)) < 0 ||
        (rc = optimizers_number(host, p, "eps", 1e-10, 0.0, HUGE_VAL, "epsilon value",
                                &st->eps)) < 0 ||
        (rc = host->param_bool(p, "maximize", &no, &st->maximize)) < 0)
        return rc;
    if ((rc = setup->add_state_value(setup, "sum", (float)st->initial, &st->sum_index)) < 0)
        return rc;
    char src[512];
    snprintf(src, sizeof src,
             "in g; inout p, s; scalar wd, clr, eps;\n"
             "d = %s%s;\n"
             "s = s + d*d;\n"
             "p = p - clr*(d/(sqrt(s) + eps));\n",
             st->maximize ? "-g" : "g", st->weight_decay != 0.0 ? " + wd*p" : "");
    return optimizers_compile(setup, src, &st->base.kernel[0]);
}

static int adagrad_step(void *state, const dlh_optimizer_ctx *ctx, const dlh_tensor *param,
                        const dlh_tensor *grad, const dlh_tensor *states)
{
    const adagrad_state *st = state;
    int rc = optimizers_check_ctx("adagrad", ctx);
    if (rc < 0)
        return rc;
    size_t n = (size_t)dlh_tensor_numel(param);
    float scalars[AG_N] = {
        [AG_WD] = (float)st->weight_decay,
        [AG_CLR] = (float)(ctx->lr_d / (1.0 + (double)(ctx->step - 1) * st->lr_decay)),
        [AG_EPS] = (float)st->eps,
    };
    dlh_ew_arg args[3] = {
        dlh_ew_full(grad->mem, n), dlh_ew_full(param->mem, n),
        dlh_ew_full(states[st->sum_index].mem, n),
    };
    return optimizers_host->ew_run(st->base.kernel[0], n, args, scalars);
}

const dlh_optimizer_ops adagrad_ops = {
    .struct_size = sizeof(dlh_optimizer_ops),
    .create = adagrad_create,
    .step = adagrad_step,
    .destroy = optimizers_destroy,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc adagrad_params[] = {
    { "lr_decay", DLH_PARAM_FLOAT, "0", 0.0, DLH_PARAM_NO_MAX, NULL, "learning rate decay: lr / (1 + (step - 1) * lr_decay)" },
    OPTIMIZERS_WEIGHT_DECAY_DOC("0", "L2 penalty: weight_decay * p added to the gradient"),
    { "initial_accumulator_value", DLH_PARAM_FLOAT, "0", 0.0, 3e38, NULL, "starting value of the squared-gradient sum" },
    OPTIMIZERS_EPS_DOC("1e-10"),
    OPTIMIZERS_MAXIMIZE_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
