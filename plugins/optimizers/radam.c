/* radam: torch.optim.RAdam, following _single_tensor_radam in
 * torch/optim/radam.py (torch 1.13; decoupled_weight_decay as torch 2.x):
 *
 *   if weight_decay != 0:
 *       if decoupled_weight_decay: p = p * (1 - lr * weight_decay)
 *       else:                      g = grad + weight_decay * p
 *   bc1 = 1 - beta1^step,  bc2 = 1 - beta2^step
 *   exp_avg    = beta1 * exp_avg + (1 - beta1) * g
 *   exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
 *   rho_inf = 2 / (1 - beta2) - 1
 *   rho_t = rho_inf - 2 * step * beta2^step / bc2
 *   if rho_t > 5:
 *       rect = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
 *       p = p - (exp_avg / bc1) * lr * sqrt(bc2) / (sqrt(exp_avg_sq) + eps) * rect
 *   else:
 *       p = p - (exp_avg / bc1) * lr
 *
 * Defaults as torch's: lr 1e-3, betas (0.9, 0.999), eps 1e-8,
 * weight_decay 0, decoupled_weight_decay false (torch 2.x's option). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "optimizers.h"

enum { RA_WD, RA_B1, RA_B1C, RA_B2, RA_B2C, RA_BC1, RA_BC2S, RA_EPS, RA_LR, RA_RECT,
       RA_ON, RA_N };

typedef struct radam_state {
    optimizers_base base;
    double betas[2], eps, weight_decay;
    int decoupled;
    int m_index, v_index;
} radam_state;

static int radam_create(const dlh_host *host, dlh_optimizer_setup *setup, void **state)
{
    radam_state *st = optimizers_new_state(host, sizeof *st, state);
    if (!st)
        return DLH_ENOMEM;
    dlh_params *p = setup->params;
    const int no = 0;
    int rc;
    optimizers_default_lr(setup, 1e-3);
    if ((rc = optimizers_betas(host, p, 0.9, 0.999, st->betas)) < 0 ||
        (rc = optimizers_number(host, p, "eps", 1e-8, 0.0, HUGE_VAL, "epsilon value",
                                &st->eps)) < 0 ||
        (rc = optimizers_number(host, p, "weight_decay", 0.0, 0.0, HUGE_VAL,
                                "weight_decay value", &st->weight_decay)) < 0 ||
        (rc = host->param_bool(p, "decoupled_weight_decay", &no, &st->decoupled)) < 0)
        return rc;
    if ((rc = setup->add_state(setup, "exp_avg", &st->m_index)) < 0 ||
        (rc = setup->add_state(setup, "exp_avg_sq", &st->v_index)) < 0)
        return rc;
    int wd = st->weight_decay != 0.0;
    char src[640];
    /* torch's order: ((exp_avg/bc1) * lr) * adaptive_lr * rect */
    snprintf(src, sizeof src,
             "in g; inout p, m, v; scalar wd, b1, b1c, b2, b2c, bc1, bc2s, eps, lr, rect, on;\n"
             "d = g%s;\n"
             "%s"
             "m = b1*m + b1c*d;\n"
             "v = b2*v + b2c*(d*d);\n"
             "u = (m/bc1)*lr;\n"
             "p = p - select(on, (u*(bc2s/(sqrt(v) + eps)))*rect, u);\n",
             wd && !st->decoupled ? " + wd*p" : "", wd && st->decoupled ? "p = p*wd;\n" : "");
    return optimizers_compile(setup, src, &st->base.kernel[0]);
}

static int radam_step(void *state, const dlh_optimizer_ctx *ctx, const dlh_tensor *param,
                      const dlh_tensor *grad, const dlh_tensor *states)
{
    const radam_state *st = state;
    int rc = optimizers_check_ctx("radam", ctx);
    if (rc < 0)
        return rc;
    size_t n = (size_t)dlh_tensor_numel(param);
    double t = (double)ctx->step, lr = ctx->lr_d, b1 = st->betas[0], b2 = st->betas[1];
    double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
    double rho_inf = 2.0 / (1.0 - b2) - 1.0;
    double rho_t = rho_inf - 2.0 * t * pow(b2, t) / bc2;
    double rect = rho_t > 5.0 ? sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf /
                                     ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                              : 0.0;
    float scalars[RA_N] = {
        [RA_WD] = (float)(st->decoupled ? 1.0 - lr * st->weight_decay : st->weight_decay),
        [RA_B1] = (float)b1, [RA_B1C] = (float)(1.0 - b1),
        [RA_B2] = (float)b2, [RA_B2C] = (float)(1.0 - b2),
        [RA_BC1] = (float)bc1, [RA_BC2S] = (float)sqrt(bc2), [RA_EPS] = (float)st->eps,
        [RA_LR] = (float)lr, [RA_RECT] = (float)rect, [RA_ON] = rho_t > 5.0 ? 1.0f : 0.0f,
    };
    dlh_ew_arg args[4] = {
        dlh_ew_full(grad->mem, n), dlh_ew_full(param->mem, n),
        dlh_ew_full(states[st->m_index].mem, n), dlh_ew_full(states[st->v_index].mem, n),
    };
    return optimizers_host->ew_run(st->base.kernel[0], n, args, scalars);
}

const dlh_optimizer_ops radam_ops = {
    .struct_size = sizeof(dlh_optimizer_ops),
    .create = radam_create,
    .step = radam_step,
    .destroy = optimizers_destroy,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc radam_params[] = {
    OPTIMIZERS_BETAS_DOC("[0.9, 0.999]"),
    OPTIMIZERS_EPS_DOC("1e-08"),
    OPTIMIZERS_WEIGHT_DECAY_DOC("0", "L2 penalty, or decoupled with decoupled_weight_decay"),
    OPTIMIZERS_DECOUPLED_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
