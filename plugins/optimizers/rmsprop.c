/* rmsprop: torch.optim.RMSprop, following _single_tensor_rmsprop in
 * torch/optim/rmsprop.py:
 *
 *   g = -grad if maximize else grad
 *   if weight_decay != 0: g = g + weight_decay * p
 *   square_avg = alpha * square_avg + (1 - alpha) * g * g
 *   if centered: grad_avg = alpha * grad_avg + (1 - alpha) * g
 *                avg = sqrt(square_avg - grad_avg * grad_avg) + eps
 *   else:        avg = sqrt(square_avg) + eps
 *   if momentum > 0: buf = momentum * buf + g / avg;  p = p - lr * buf
 *   else:            p = p - lr * g / avg
 *
 * States by torch's names: "square_avg", then "momentum_buffer" when
 * momentum > 0, then "grad_avg" when centered.  One fused kernel generated
 * for the configuration. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "optimizers.h"

/* Scalars of the generated kernel, in declaration order. */
enum { RMS_LR, RMS_ALPHA, RMS_ALPHA1, RMS_EPS, RMS_WD, RMS_MU, RMS_N_SCALARS };

typedef struct rmsprop_state {
    double alpha, eps, weight_decay, momentum;
    int centered, maximize;
    int sq_index, buf_index, ga_index;
    int n_scalars;
    int scalar_ids[RMS_N_SCALARS];
    dlh_ew_kernel *kernel;
} rmsprop_state;

static int rmsprop_create(const dlh_host *host, dlh_optimizer_setup *setup, void **state)
{
    rmsprop_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    dlh_params *p = setup->params;
    const double zero = 0.0, def_alpha = 0.99, def_eps = 1e-8;
    const int no = 0;
    int rc;
    if ((rc = host->param_float(p, "alpha", &def_alpha, 0.0, HUGE_VAL, &st->alpha)) < 0 ||
        (rc = host->param_float(p, "eps", &def_eps, 0.0, HUGE_VAL, &st->eps)) < 0 ||
        (rc = host->param_float(p, "weight_decay", &zero, 0.0, HUGE_VAL,
                                &st->weight_decay)) < 0 ||
        (rc = host->param_float(p, "momentum", &zero, 0.0, HUGE_VAL, &st->momentum)) < 0 ||
        (rc = host->param_bool(p, "centered", &no, &st->centered)) < 0 ||
        (rc = host->param_bool(p, "maximize", &no, &st->maximize)) < 0)
        return rc;
    int has_mom = st->momentum > 0.0, wd = st->weight_decay != 0.0;
    if ((rc = setup->add_state(setup, "square_avg", &st->sq_index)) < 0 ||
        (has_mom && (rc = setup->add_state(setup, "momentum_buffer", &st->buf_index)) < 0) ||
        (st->centered && (rc = setup->add_state(setup, "grad_avg", &st->ga_index)) < 0))
        return rc;

    static const char *const scalar_names[RMS_N_SCALARS] = {
        "lr", "alpha", "alpha1", "eps", "wd", "mu"
    };
    int used[RMS_N_SCALARS] = { 1, 1, 1, 1, wd, has_mom };
    char decl[128], src[640];
    int len = snprintf(decl, sizeof decl, "scalar");
    for (int i = 0; i < RMS_N_SCALARS; i++)
        if (used[i]) {
            len += snprintf(decl + len, sizeof decl - (size_t)len, "%s %s",
                            st->n_scalars ? "," : "", scalar_names[i]);
            st->scalar_ids[st->n_scalars++] = i;
        }
    /* Written as torch orders the float operations: addcmul's (g*g), and
       g/avg before the scale. */
    snprintf(src, sizeof src,
             "in g; inout p, sq%s%s; %s;\n"
             "d = %s%s;\n"
             "sq = alpha*sq + alpha1*(d*d);\n"
             "%s"
             "avg = sqrt(sq%s) + eps;\n"
             "%s",
             has_mom ? ", buf" : "", st->centered ? ", ga" : "", decl,
             st->maximize ? "-g" : "g", wd ? " + wd*p" : "",
             st->centered ? "ga = alpha*ga + alpha1*d;\n" : "",
             st->centered ? " - ga*ga" : "",
             has_mom ? "buf = mu*buf + d/avg;\np = p - lr*buf;\n"
                     : "p = p - lr*(d/avg);\n");
    return host->ew_compile(setup->backend, src, &st->kernel);
}

static int rmsprop_step(void *state, const dlh_optimizer_ctx *ctx, const dlh_tensor *param,
                        const dlh_tensor *grad, const dlh_tensor *states)
{
    const rmsprop_state *st = state;
    size_t n = (size_t)dlh_tensor_numel(param);
    float all[RMS_N_SCALARS] = {
        ctx->lr, (float)st->alpha, (float)(1.0 - st->alpha), (float)st->eps,
        (float)st->weight_decay, (float)st->momentum
    };
    float scalars[RMS_N_SCALARS];
    for (int i = 0; i < st->n_scalars; i++)
        scalars[i] = all[st->scalar_ids[i]];
    /* Arrays in declaration order: g, p, sq, [buf], [ga]. */
    dlh_ew_arg args[5] = {
        dlh_ew_full(grad->mem, n), dlh_ew_full(param->mem, n),
        dlh_ew_full(states[st->sq_index].mem, n),
    };
    int na = 3;
    if (st->momentum > 0.0)
        args[na++] = dlh_ew_full(states[st->buf_index].mem, n);
    if (st->centered)
        args[na++] = dlh_ew_full(states[st->ga_index].mem, n);
    return optimizers_host->ew_run(st->kernel, n, args, scalars);
}

static void rmsprop_destroy(void *state)
{
    rmsprop_state *st = state;
    if (!st)
        return;
    optimizers_host->ew_free(st->kernel);
    free(st);
}

const dlh_optimizer_ops rmsprop_ops = {
    .struct_size = sizeof(dlh_optimizer_ops),
    .create = rmsprop_create,
    .step = rmsprop_step,
    .destroy = rmsprop_destroy,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc rmsprop_params[] = {
    { "alpha", DLH_PARAM_FLOAT, "0.99", 0.0, DLH_PARAM_NO_MAX, NULL, "smoothing constant of the squared-gradient average" },
    OPTIMIZERS_EPS_DOC("1e-08"),
    OPTIMIZERS_WEIGHT_DECAY_DOC("0", "L2 penalty: weight_decay * p added to the gradient"),
    { "momentum", DLH_PARAM_FLOAT, "0", 0.0, DLH_PARAM_NO_MAX, NULL, "momentum factor; 0 keeps no momentum buffer" },
    { "centered", DLH_PARAM_BOOL, "false", 0, 0, NULL, "normalise by the variance estimate (subtract the squared gradient average)" },
    OPTIMIZERS_MAXIMIZE_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
