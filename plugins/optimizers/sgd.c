/* sgd: torch.optim.SGD, following _single_tensor_sgd in torch/optim/sgd.py:
 *
 *   g = -grad if maximize else grad
 *   if weight_decay != 0: g = g + weight_decay * p
 *   if momentum != 0:
 *       buf = g on the first step, else momentum * buf + (1 - dampening) * g
 *       g = g + momentum * buf if nesterov else buf
 *   p = p - lr * g
 *
 * The whole update is one fused kernel generated for the configuration. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "optimizers.h"

/* Scalars of the generated kernel, in declaration order. */
enum { SGD_LR, SGD_WD, SGD_MU, SGD_DAMP1, SGD_FIRST, SGD_N_SCALARS };

typedef struct sgd_state {
    double momentum, dampening, weight_decay;
    int nesterov, maximize;
    int buf_index;              /* "momentum_buffer", when momentum != 0 */
    int n_scalars;
    int scalar_ids[SGD_N_SCALARS];
    dlh_ew_kernel *kernel;
} sgd_state;

static int sgd_create(const dlh_host *host, dlh_optimizer_setup *setup, void **state)
{
    sgd_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    dlh_params *p = setup->params;
    const double zero = 0.0;
    const int no = 0;
    int rc;
    if ((rc = host->param_float(p, "momentum", &zero, 0.0, HUGE_VAL, &st->momentum)) < 0 ||
        (rc = host->param_float(p, "dampening", &zero, -HUGE_VAL, HUGE_VAL,
                                &st->dampening)) < 0 ||
        (rc = host->param_float(p, "weight_decay", &zero, 0.0, HUGE_VAL,
                                &st->weight_decay)) < 0 ||
        (rc = host->param_bool(p, "nesterov", &no, &st->nesterov)) < 0 ||
        (rc = host->param_bool(p, "maximize", &no, &st->maximize)) < 0)
        return rc;
    /* torch: "Nesterov momentum requires a momentum and zero dampening". */
    if (st->nesterov && (st->momentum <= 0.0 || st->dampening != 0.0))
        return host->param_error(p, "nesterov", "Nesterov momentum requires a momentum "
                                 "and zero dampening (momentum = %g, dampening = %g)",
                                 st->momentum, st->dampening);
    int has_mom = st->momentum != 0.0;
    if (has_mom && (rc = setup->add_state(setup, "momentum_buffer", &st->buf_index)) < 0)
        return rc;

    static const char *const scalar_names[SGD_N_SCALARS] = {
        "lr", "wd", "mu", "damp1", "first"
    };
    int used[SGD_N_SCALARS] = { 1, st->weight_decay != 0.0, has_mom, has_mom, has_mom };
    char src[512], decl[128];
    int len = snprintf(decl, sizeof decl, "scalar");
    for (int i = 0; i < SGD_N_SCALARS; i++)
        if (used[i]) {
            len += snprintf(decl + len, sizeof decl - (size_t)len, "%s %s",
                            st->n_scalars ? "," : "", scalar_names[i]);
            st->scalar_ids[st->n_scalars++] = i;
        }
    const char *grad = st->maximize ? "-g" : "g";
    const char *wd = st->weight_decay != 0.0 ? " + wd*p" : "";
    if (!has_mom)
        snprintf(src, sizeof src, "in g; inout p; %s;\n"
                 "d = %s%s;\n"
                 "p = p - lr*d;\n", decl, grad, wd);
    else
        snprintf(src, sizeof src, "in g; inout p, buf; %s;\n"
                 "d = %s%s;\n"
                 "buf = select(first, d, mu*buf + damp1*d);\n"
                 "p = p - lr*(%s);\n", decl, grad, wd, st->nesterov ? "d + mu*buf" : "buf");
    return host->ew_compile(setup->backend, src, &st->kernel);
}

static int sgd_step(void *state, const dlh_optimizer_ctx *ctx, const dlh_tensor *param,
                    const dlh_tensor *grad, const dlh_tensor *states)
{
    const sgd_state *st = state;
    size_t n = (size_t)dlh_tensor_numel(param);
    float all[SGD_N_SCALARS] = {
        ctx->lr, (float)st->weight_decay, (float)st->momentum,
        /* torch fills momentum_buffer on the parameter's own first step
           (ctx->step; a tensor train.unfreeze unfreezes late too). */
        (float)(1.0 - st->dampening), (ctx->step > 0 ? ctx->step : ctx->t) <= 1 ? 1.0f : 0.0f
    };
    float scalars[SGD_N_SCALARS];
    for (int i = 0; i < st->n_scalars; i++)
        scalars[i] = all[st->scalar_ids[i]];
    dlh_ew_arg args[3] = { dlh_ew_full(grad->mem, n), dlh_ew_full(param->mem, n) };
    if (st->momentum != 0.0)
        args[2] = dlh_ew_full(states[st->buf_index].mem, n);
    return optimizers_host->ew_run(st->kernel, n, args, scalars);
}

static void sgd_destroy(void *state)
{
    sgd_state *st = state;
    if (!st)
        return;
    optimizers_host->ew_free(st->kernel);
    free(st);
}

const dlh_optimizer_ops sgd_ops = {
    .struct_size = sizeof(dlh_optimizer_ops),
    .create = sgd_create,
    .step = sgd_step,
    .destroy = sgd_destroy,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc sgd_params[] = {
    { "momentum", DLH_PARAM_FLOAT, "0", 0.0, DLH_PARAM_NO_MAX, NULL, "momentum factor; 0 keeps no momentum buffer" },
    { "dampening", DLH_PARAM_FLOAT, "0", DLH_PARAM_NO_MIN, DLH_PARAM_NO_MAX, NULL, "dampening of the gradient added to the momentum buffer" },
    OPTIMIZERS_WEIGHT_DECAY_DOC("0", "L2 penalty: weight_decay * p added to the gradient"),
    { "nesterov", DLH_PARAM_BOOL, "false", 0, 0, NULL, "Nesterov momentum; needs momentum > 0 and dampening 0" },
    OPTIMIZERS_MAXIMIZE_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
