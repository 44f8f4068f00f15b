/* adam: torch.optim.Adam, following _single_tensor_adam in torch/optim/adam.py:
 *
 *   g = -grad if maximize else grad
 *   if weight_decay != 0: g = g + weight_decay * p      (L2, not AdamW)
 *   exp_avg    = beta1 * exp_avg + (1 - beta1) * g
 *   exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
 *   bc1 = 1 - beta1^t,  bc2 = 1 - beta2^t
 *   if amsgrad: max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq)
 *               denom = sqrt(max_exp_avg_sq) / sqrt(bc2) + eps
 *   else:       denom = sqrt(exp_avg_sq) / sqrt(bc2) + eps
 *   p = p - (lr / bc1) * exp_avg / denom
 *
 * amsgrad keeps the maximum of the raw second moment, as torch does (not of
 * the bias-corrected one).  The bias corrections are computed on the host in
 * double from the parameter's own step count (ctx->step, torch's
 * state['step']: a tensor that train.unfreeze makes trainable late starts
 * from 1), ctx->t where a caller gives none; the update is one fused kernel
 * generated for the configuration. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "optimizers.h"

/* Scalars of the generated kernel, in declaration order. */
enum { ADAM_STEP, ADAM_B1, ADAM_B1C, ADAM_B2, ADAM_B2C, ADAM_BC2S, ADAM_EPS, ADAM_WD,
       ADAM_N_SCALARS };

typedef struct adam_state {
    double beta1, beta2, eps, weight_decay;
    int amsgrad, maximize;
    int m_index, v_index, vmax_index;
    int n_scalars;
    dlh_ew_kernel *kernel;
} adam_state;

static int adam_create(const dlh_host *host, dlh_optimizer_setup *setup, void **state)
{
    adam_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    dlh_params *p = setup->params;
    optimizers_default_lr(setup, 1e-3);     /* torch.optim.Adam's */
    const double zero = 0.0, def_eps = 1e-8;
    const int no = 0;
    float betas[2] = { 0.9f, 0.999f };
    size_t nb = 0;
    int rc;
    if ((rc = host->param_floats(p, "betas", betas, 2, &nb)) < 0 ||
        (rc = host->param_float(p, "eps", &def_eps, 0.0, HUGE_VAL, &st->eps)) < 0 ||
        (rc = host->param_float(p, "weight_decay", &zero, 0.0, HUGE_VAL,
                                &st->weight_decay)) < 0 ||
        (rc = host->param_bool(p, "amsgrad", &no, &st->amsgrad)) < 0 ||
        (rc = host->param_bool(p, "maximize", &no, &st->maximize)) < 0)
        return rc;
    if (nb == 0 && host->param_has(p, "betas"))
        return host->param_error(p, "betas", "expected two numbers [beta1, beta2], got "
                                 "an empty list");
    if (nb == 1)
        return host->param_error(p, "betas", "expected two numbers [beta1, beta2], got "
                                 "one");
    st->beta1 = nb ? optimizers_float_decimal(betas[0]) : 0.9;
    st->beta2 = nb ? optimizers_float_decimal(betas[1]) : 0.999;
    for (int i = 0; i < 2; i++) {
        double b = i ? st->beta2 : st->beta1;
        if (!(b >= 0.0 && b < 1.0))
            return host->param_error(p, "betas", "Invalid beta parameter at index %d: "
                                     "%g (expected a number in [0, 1))", i, b);
    }
    if ((rc = setup->add_state(setup, "exp_avg", &st->m_index)) < 0 ||
        (rc = setup->add_state(setup, "exp_avg_sq", &st->v_index)) < 0 ||
        (st->amsgrad &&
         (rc = setup->add_state(setup, "max_exp_avg_sq", &st->vmax_index)) < 0))
        return rc;

    int wd = st->weight_decay != 0.0;
    st->n_scalars = wd ? ADAM_N_SCALARS : ADAM_WD;
    char src[640];
    /* Written as torch orders the float operations: (1-b2)*(g*g) as addcmul,
       m/denom as addcdiv. */
    snprintf(src, sizeof src,
             "in g; inout p, m, v%s; scalar step, b1, b1c, b2, b2c, bc2s, eps%s;\n"
             "d = %s%s;\n"
             "m = b1*m + b1c*d;\n"
             "v = b2*v + b2c*(d*d);\n"
             "%s"
             "p = p - step*(m/(sqrt(%s)/bc2s + eps));\n",
             st->amsgrad ? ", vmax" : "", wd ? ", wd" : "",
             st->maximize ? "-g" : "g", wd ? " + wd*p" : "",
             st->amsgrad ? "vmax = max(vmax, v);\n" : "",
             st->amsgrad ? "vmax" : "v");
    return host->ew_compile(setup->backend, src, &st->kernel);
}

static int adam_step(void *state, const dlh_optimizer_ctx *ctx, const dlh_tensor *param,
                     const dlh_tensor *grad, const dlh_tensor *states)
{
    const adam_state *st = state;
    int64_t step = ctx->step > 0 ? ctx->step : ctx->t;
    if (step < 1) {
        optimizers_host->error("adam: step number %lld; steps count from 1",
                               (long long)step);
        return DLH_EINVAL;
    }
    size_t n = (size_t)dlh_tensor_numel(param);
    double t = (double)step;
    double bc1 = 1.0 - pow(st->beta1, t), bc2 = 1.0 - pow(st->beta2, t);
    float scalars[ADAM_N_SCALARS] = {
        [ADAM_STEP] = (float)((double)ctx->lr / bc1),
        [ADAM_B1] = (float)st->beta1, [ADAM_B1C] = (float)(1.0 - st->beta1),
        [ADAM_B2] = (float)st->beta2, [ADAM_B2C] = (float)(1.0 - st->beta2),
        [ADAM_BC2S] = (float)sqrt(bc2), [ADAM_EPS] = (float)st->eps,
        [ADAM_WD] = (float)st->weight_decay,
    };
    dlh_ew_arg args[5] = {
        dlh_ew_full(grad->mem, n), dlh_ew_full(param->mem, n),
        dlh_ew_full(states[st->m_index].mem, n), dlh_ew_full(states[st->v_index].mem, n),
    };
    if (st->amsgrad)
        args[4] = dlh_ew_full(states[st->vmax_index].mem, n);
    return optimizers_host->ew_run(st->kernel, n, args, scalars);
}

static void adam_destroy(void *state)
{
    adam_state *st = state;
    if (!st)
        return;
    optimizers_host->ew_free(st->kernel);
    free(st);
}

const dlh_optimizer_ops adam_ops = {
    .struct_size = sizeof(dlh_optimizer_ops),
    .create = adam_create,
    .step = adam_step,
    .destroy = adam_destroy,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc adam_params[] = {
    OPTIMIZERS_BETAS_DOC("[0.9, 0.999]"),
    OPTIMIZERS_EPS_DOC("1e-08"),
    OPTIMIZERS_WEIGHT_DECAY_DOC("0", "L2 penalty: weight_decay * p added to the gradient"),
    { "amsgrad", DLH_PARAM_BOOL, "false", 0, 0, NULL, "AMSGrad: divide by the running maximum of the second moment" },
    OPTIMIZERS_MAXIMIZE_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
