/* lamb: LAMB of You et al., "Large Batch Optimization for Deep Learning:
 * Training BERT in 76 minutes" (2019), Algorithm 2 with phi(x) = x (no
 * torch.optim reference):
 *
 *   exp_avg    = beta1 * exp_avg + (1 - beta1) * g
 *   exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
 *   u = (exp_avg / (1 - beta1^step)) / (sqrt(exp_avg_sq / (1 - beta2^step)) + eps)
 *       + weight_decay * p
 *   ratio = |p| / |u| when both norms are > 0, else 1   (Euclidean norms of
 *                                                        the whole tensor)
 *   p = p - lr * ratio * u
 *
 * With exclude_bias_and_norm (BERT's practice), biases and normalisation
 * scales (the step context's role) get neither weight decay nor the ratio:
 * p = p - lr * u.  Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-6 (the
 * paper's), weight_decay 0, exclude_bias_and_norm false.
 *
 * The SDK's trust-ratio pattern: u goes to a scratch tensor, the backend's
 * sum-of-squares reduction writes |p|^2 and |u|^2 into a two-float scratch
 * tensor on the device, and the second kernel reads them as broadcast
 * operands; nothing waits for the device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "optimizers.h"

enum { LA_B1, LA_B1C, LA_B2, LA_B2C, LA_BC1, LA_BC2, LA_EPS, LA_WD, LA_N };

typedef struct lamb_state {
    optimizers_base base;
    double betas[2], eps, weight_decay;
    int exclude;
    int m_index, v_index, u_scratch, norm_scratch;
} lamb_state;

static int lamb_create(const dlh_host *host, dlh_optimizer_setup *setup, void **state)
{
    lamb_state *st = optimizers_new_state(host, sizeof *st, state);
    if (!st)
        return DLH_ENOMEM;
    dlh_params *p = setup->params;
    const int no = 0;
    int rc;
    optimizers_default_lr(setup, 1e-3);
    if ((rc = optimizers_betas(host, p, 0.9, 0.999, st->betas)) < 0 ||
        (rc = optimizers_number(host, p, "eps", 1e-6, 0.0, HUGE_VAL, "epsilon value",
                                &st->eps)) < 0 ||
        (rc = optimizers_number(host, p, "weight_decay", 0.0, 0.0, HUGE_VAL,
                                "weight_decay value", &st->weight_decay)) < 0 ||
        (rc = host->param_bool(p, "exclude_bias_and_norm", &no, &st->exclude)) < 0)
        return rc;
    if ((rc = setup->add_state(setup, "exp_avg", &st->m_index)) < 0 ||
        (rc = setup->add_state(setup, "exp_avg_sq", &st->v_index)) < 0 ||
        (rc = setup->add_scratch(setup, 1, 0, &st->u_scratch)) < 0 ||
        (rc = setup->add_scratch(setup, 0, 2, &st->norm_scratch)) < 0)
        return rc;
    if ((rc = optimizers_compile(setup,
            "in g, p; inout m, v; out u; scalar b1, b1c, b2, b2c, bc1, bc2, eps, wd;\n"
            "m = b1*m + b1c*g;\n"
            "v = b2*v + b2c*(g*g);\n"
            "u = (m/bc1)/(sqrt(v/bc2) + eps) + wd*p;\n", &st->base.kernel[0])) < 0)
        return rc;
    return optimizers_compile(setup,
            "in u, pn, un; inout p; scalar lr, adapt;\n"
            "a = sqrt(pn);\n"
            "b = sqrt(un);\n"
            "r = select(adapt, select(a > 0, select(b > 0, a/b, 1), 1), 1);\n"
            "p = p - (lr*r)*u;\n", &st->base.kernel[1]);
}

static int lamb_step(void *state, const dlh_optimizer_ctx *ctx, const dlh_tensor *param,
                     const dlh_tensor *grad, const dlh_tensor *states)
{
    const lamb_state *st = state;
    int rc = optimizers_check_ctx("lamb", ctx);
    if (rc < 0)
        return rc;
    size_t n = (size_t)dlh_tensor_numel(param);
    if (n > (size_t)INT32_MAX) {
        optimizers_host->error("lamb: %s has %zu elements; the norm takes at most 2^31 - 1",
                               ctx->name, n);
        return DLH_EINVAL;
    }
    double t = (double)ctx->step;
    int plain = st->exclude && ctx->role != DLH_ROLE_WEIGHT;
    float scalars[LA_N] = {
        [LA_B1] = (float)st->betas[0], [LA_B1C] = (float)(1.0 - st->betas[0]),
        [LA_B2] = (float)st->betas[1], [LA_B2C] = (float)(1.0 - st->betas[1]),
        [LA_BC1] = (float)(1.0 - pow(st->betas[0], t)),
        [LA_BC2] = (float)(1.0 - pow(st->betas[1], t)),
        [LA_EPS] = (float)st->eps, [LA_WD] = plain ? 0.0f : (float)st->weight_decay,
    };
    dlh_mem u = ctx->scratch[st->u_scratch].mem, norms = ctx->scratch[st->norm_scratch].mem;
    dlh_ew_arg a1[5] = {
        dlh_ew_full(grad->mem, n), dlh_ew_full(param->mem, n),
        dlh_ew_full(states[st->m_index].mem, n), dlh_ew_full(states[st->v_index].mem, n),
        dlh_ew_full(u, n),
    };
    if ((rc = optimizers_host->ew_run(st->base.kernel[0], n, a1, scalars)) < 0)
        return rc;
    const dlh_backend *be = ctx->backend;
    dlh_mem none = { NULL, 0 };
    if (!plain &&
        ((rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUMSQ, 1, 1, (int)n, param->mem, norms,
                               none)) < 0 ||
         (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUMSQ, 1, 1, (int)n, u,
                               dlh_mem_at(norms, 1), none)) < 0))
        return rc;
    /* norms[0] and norms[1] seen by every element: length 1 */
    dlh_ew_arg a2[4] = { dlh_ew_full(u, n), { norms, 1, 1 }, { dlh_mem_at(norms, 1), 1, 1 },
                         dlh_ew_full(param->mem, n) };
    float s2[2] = { (float)ctx->lr_d, plain ? 0.0f : 1.0f };
    return optimizers_host->ew_run(st->base.kernel[1], n, a2, s2);
}

const dlh_optimizer_ops lamb_ops = {
    .struct_size = sizeof(dlh_optimizer_ops),
    .create = lamb_create,
    .step = lamb_step,
    .destroy = optimizers_destroy,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc lamb_params[] = {
    OPTIMIZERS_BETAS_DOC("[0.9, 0.999]"),
    OPTIMIZERS_EPS_DOC("1e-06"),
    OPTIMIZERS_WEIGHT_DECAY_DOC("0", "weight_decay * p added to the update before the trust ratio"),
    { "exclude_bias_and_norm", DLH_PARAM_BOOL, "false", 0, 0, NULL, "1-D parameters (biases, norm scales) get neither weight decay nor the trust ratio" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
