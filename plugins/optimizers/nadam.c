/* nadam: torch.optim.NAdam, following _single_tensor_nadam in
 * torch/optim/nadam.py (torch 1.13; decoupled_weight_decay as torch 2.x):
 *
 *   if weight_decay != 0:
 *       if decoupled_weight_decay: p = p * (1 - lr * weight_decay)
 *       else:                      g = grad + weight_decay * p
 *   bc2 = 1 - beta2^step
 *   mu      = beta1 * (1 - 0.5 * 0.96^(step * momentum_decay))
 *   mu_next = beta1 * (1 - 0.5 * 0.96^((step + 1) * momentum_decay))
 *   mu_product = mu_product * mu;  mu_product_next = mu_product * mu * mu_next
 *   exp_avg    = beta1 * exp_avg + (1 - beta1) * g
 *   exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
 *   denom = sqrt(exp_avg_sq / bc2) + eps
 *   p = p - lr * (1 - mu) / (1 - mu_product) * g / denom
 *   p = p - lr * mu_next / (1 - mu_product_next) * exp_avg / denom
 *
 * mu_product is a per-parameter scalar state, float32 as torch keeps it
 * (state['mu_product'], starting at 1).  Defaults as torch's: lr 2e-3,
 * betas (0.9, 0.999), eps 1e-8, weight_decay 0, momentum_decay 4e-3,
 * decoupled_weight_decay false (torch 2.x's option; torch 1.13 has only the
 * L2 form). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "optimizers.h"

enum { NA_WD, NA_B1, NA_B1C, NA_B2, NA_B2C, NA_BC2, NA_EPS, NA_C1, NA_C2, NA_N };

typedef struct nadam_state {
    optimizers_base base;
    double betas[2], eps, weight_decay, momentum_decay;
    int decoupled;
    int m_index, v_index, mu_index;
} nadam_state;

static int nadam_create(const dlh_host *host, dlh_optimizer_setup *setup, void **state)
{
    nadam_state *st = optimizers_new_state(host, sizeof *st, state);
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
        (rc = optimizers_number(host, p, "momentum_decay", 4e-3, 0.0, HUGE_VAL,
                                "momentum_decay value", &st->momentum_decay)) < 0 ||
        (rc = host->param_bool(p, "decoupled_weight_decay", &no, &st->decoupled)) < 0)
        return rc;
    if ((rc = setup->add_state(setup, "exp_avg", &st->m_index)) < 0 ||
        (rc = setup->add_state(setup, "exp_avg_sq", &st->v_index)) < 0 ||
        (rc = setup->add_scalar(setup, "mu_product", 1.0f, &st->mu_index)) < 0)
        return rc;
    int wd = st->weight_decay != 0.0;
    char src[640];
    snprintf(src, sizeof src,
             "in g; inout p, m, v; scalar wd, b1, b1c, b2, b2c, bc2, eps, c1, c2;\n"
             "d = g%s;\n"
             "%s"
             "m = b1*m + b1c*d;\n"
             "v = b2*v + b2c*(d*d);\n"
             "den = sqrt(v/bc2) + eps;\n"
             "p = p + c1*(d/den);\n"
             "p = p + c2*(m/den);\n",
             wd && !st->decoupled ? " + wd*p" : "", wd && st->decoupled ? "p = p*wd;\n" : "");
    return optimizers_compile(setup, src, &st->base.kernel[0]);
}

static int nadam_step(void *state, const dlh_optimizer_ctx *ctx, const dlh_tensor *param,
                      const dlh_tensor *grad, const dlh_tensor *states)
{
    const nadam_state *st = state;
    int rc = optimizers_check_ctx("nadam", ctx);
    if (rc < 0)
        return rc;
    size_t n = (size_t)dlh_tensor_numel(param);
    double t = (double)ctx->step, lr = ctx->lr_d, b1 = st->betas[0];
    double mu = b1 * (1.0 - 0.5 * pow(0.96, t * st->momentum_decay));
    double mu_next = b1 * (1.0 - 0.5 * pow(0.96, (t + 1.0) * st->momentum_decay));
    /* float32 products, as torch's 0-dim float tensor times a Python float */
    float *mu_product = &ctx->scalars[st->mu_index];
    *mu_product = *mu_product * (float)mu;
    float mu_product_next = *mu_product * (float)mu * (float)mu_next;
    float scalars[NA_N] = {
        [NA_WD] = (float)(st->decoupled ? 1.0 - lr * st->weight_decay : st->weight_decay),
        [NA_B1] = (float)b1, [NA_B1C] = (float)(1.0 - b1),
        [NA_B2] = (float)st->betas[1], [NA_B2C] = (float)(1.0 - st->betas[1]),
        [NA_BC2] = (float)(1.0 - pow(st->betas[1], t)), [NA_EPS] = (float)st->eps,
        [NA_C1] = (float)(-lr * (1.0 - mu) / (1.0 - (double)*mu_product)),
        [NA_C2] = (float)(-lr * mu_next / (1.0 - (double)mu_product_next)),
    };
    dlh_ew_arg args[4] = {
        dlh_ew_full(grad->mem, n), dlh_ew_full(param->mem, n),
        dlh_ew_full(states[st->m_index].mem, n), dlh_ew_full(states[st->v_index].mem, n),
    };
    return optimizers_host->ew_run(st->base.kernel[0], n, args, scalars);
}

const dlh_optimizer_ops nadam_ops = {
    .struct_size = sizeof(dlh_optimizer_ops),
    .create = nadam_create,
    .step = nadam_step,
    .destroy = optimizers_destroy,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc nadam_params[] = {
    OPTIMIZERS_BETAS_DOC("[0.9, 0.999]"),
    OPTIMIZERS_EPS_DOC("1e-08"),
    OPTIMIZERS_WEIGHT_DECAY_DOC("0", "L2 penalty, or decoupled with decoupled_weight_decay"),
    { "momentum_decay", DLH_PARAM_FLOAT, "0.004", 0.0, DLH_PARAM_NO_MAX, NULL, "momentum decay psi of the mu schedule" },
    OPTIMIZERS_DECOUPLED_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
