/* asgd: torch.optim.ASGD, following _single_tensor_asgd in
 * torch/optim/asgd.py (torch 1.13):
 *
 *   g = -grad if maximize else grad
 *   if weight_decay != 0: g = g + weight_decay * p
 *   p = p * (1 - lambd * eta)
 *   p = p - eta * g
 *   ax = p if mu == 1 else ax + (p - ax) * mu
 *   eta = lr / (1 + lambd * lr * step)^alpha        (for the next step)
 *   mu  = 1 / max(1, step - t0)
 *
 * eta and mu are per-parameter scalar states, float32 as torch keeps them;
 * eta starts at the learning rate of the first step, mu at 1.  So the eta a
 * step uses comes from the learning rate of the step before, as in torch.
 * Defaults as torch's: lr 1e-2, lambd 1e-4, alpha 0.75, t0 1e6,
 * weight_decay 0, maximize false. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "optimizers.h"

enum { AS_WD, AS_DECAY, AS_ETA, AS_MU, AS_MU_ONE, AS_N };

typedef struct asgd_state {
    optimizers_base base;
    double lambd, alpha, t0, weight_decay;
    int maximize;
    int ax_index, eta_index, mu_index;
} asgd_state;

static int asgd_create(const dlh_host *host, dlh_optimizer_setup *setup, void **state)
{
    asgd_state *st = optimizers_new_state(host, sizeof *st, state);
    if (!st)
        return DLH_ENOMEM;
    dlh_params *p = setup->params;
    const int no = 0;
    const double def_lambd = 1e-4, def_alpha = 0.75, def_t0 = 1e6;
    int rc;
    optimizers_default_lr(setup, 1e-2);
    /* torch checks none of lambd, alpha and t0; they must be numbers. */
    if ((rc = host->param_float(p, "lambd", &def_lambd, -1e30, 1e30, &st->lambd)) < 0 ||
        (rc = host->param_float(p, "alpha", &def_alpha, -1e30, 1e30, &st->alpha)) < 0 ||
        (rc = host->param_float(p, "t0", &def_t0, -1e30, 1e30, &st->t0)) < 0 ||
        (rc = optimizers_number(host, p, "weight_decay", 0.0, 0.0, HUGE_VAL,
                                "weight_decay value", &st->weight_decay)) < 0 ||
        (rc = host->param_bool(p, "maximize", &no, &st->maximize)) < 0)
        return rc;
    if ((rc = setup->add_state(setup, "ax", &st->ax_index)) < 0 ||
        (rc = setup->add_scalar(setup, "eta", 0.0f, &st->eta_index)) < 0 ||
        (rc = setup->add_scalar(setup, "mu", 1.0f, &st->mu_index)) < 0)
        return rc;
    char src[512];
    snprintf(src, sizeof src,
             "in g; inout p, ax; scalar wd, decay, eta, mu, mu_one;\n"
             "d = %s%s;\n"
             "p = p*decay;\n"
             "p = p - eta*d;\n"
             "ax = select(mu_one, p, ax + (p - ax)*mu);\n",
             st->maximize ? "-g" : "g", st->weight_decay != 0.0 ? " + wd*p" : "");
    return optimizers_compile(setup, src, &st->base.kernel[0]);
}

static int asgd_step(void *state, const dlh_optimizer_ctx *ctx, const dlh_tensor *param,
                     const dlh_tensor *grad, const dlh_tensor *states)
{
    const asgd_state *st = state;
    int rc = optimizers_check_ctx("asgd", ctx);
    if (rc < 0)
        return rc;
    size_t n = (size_t)dlh_tensor_numel(param);
    double lr = ctx->lr_d, t = (double)ctx->step;
    float *eta = &ctx->scalars[st->eta_index], *mu = &ctx->scalars[st->mu_index];
    if (ctx->step == 1)         /* torch: state['eta'] = torch.tensor(group['lr']) */
        *eta = (float)lr;
    float scalars[AS_N] = {
        [AS_WD] = (float)st->weight_decay, [AS_DECAY] = (float)(1.0 - st->lambd * *eta),
        [AS_ETA] = *eta, [AS_MU] = *mu, [AS_MU_ONE] = *mu == 1.0f ? 1.0f : 0.0f,
    };
    dlh_ew_arg args[3] = {
        dlh_ew_full(grad->mem, n), dlh_ew_full(param->mem, n),
        dlh_ew_full(states[st->ax_index].mem, n),
    };
    rc = optimizers_host->ew_run(st->base.kernel[0], n, args, scalars);
    *eta = (float)(lr / pow(1.0 + st->lambd * lr * t, st->alpha));
    *mu = (float)(1.0 / fmax(1.0, t - st->t0));
    return rc;
}

const dlh_optimizer_ops asgd_ops = {
    .struct_size = sizeof(dlh_optimizer_ops),
    .create = asgd_create,
    .step = asgd_step,
    .destroy = optimizers_destroy,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc asgd_params[] = {
    { "lambd", DLH_PARAM_FLOAT, "0.0001", -1e30, 1e30, NULL, "decay term of the step size eta" },
    { "alpha", DLH_PARAM_FLOAT, "0.75", -1e30, 1e30, NULL, "power of the eta update" },
    { "t0", DLH_PARAM_FLOAT, "1000000", -1e30, 1e30, NULL, "step after which the weights are averaged into ax" },
    OPTIMIZERS_WEIGHT_DECAY_DOC("0", "L2 penalty: weight_decay * p added to the gradient"),
    OPTIMIZERS_MAXIMIZE_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
