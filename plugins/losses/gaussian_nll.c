/* gaussian_nll: nn.GaussianNLLLoss (torch.nn.functional.gaussian_nll_loss)
 * with `full` (default false) and `eps` (default 1e-6, > 0), as torch
 * 1.13's gaussian_nll_loss (torch/nn/functional.py).
 *
 * Where the variance comes from: the model's output per sample, flattened,
 * is two equal halves, the means mu (first D values) and the variances v
 * (last D values): end the model with a dense layer of 2 D units, with an
 * activation that keeps the variances >= 0 (torch refuses a negative one,
 * and so does this: "var has negative entry/entries" stops the step).  The
 * targets t are dense, D values per sample (the data's label shape must
 * have D values; the loss takes targets of another shape than its
 * prediction, DLH_LOSS_TARGET_SHAPE).  Then, with v clamped at eps as
 * torch clamps it (under no_grad, so the gradient is taken at the clamped
 * value and passes through the clamp):
 *
 *   vc = max(v, eps),  e = 0.5 (log(vc) + (mu - t)^2 / vc)  [+ 0.5 log(2 pi) if full]
 *   de/dmu = (mu - t) / vc,   de/dv = 0.5 (1/vc - (mu - t)^2 / vc^2)
 *
 * "mean" divides the sum by the number of means (batch x D), "sum" does
 * not; sample weights omega_n multiply each sample's sum (loss.h). */
#include <limits.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>

#include "losses.h"

typedef struct gnll_state {
    const dlh_backend *be;
    int sum;
    float sc[3];                /* eps, the constant, then k */
    losses_parts parts;
    dlh_buffer *one;
    int split_index;            /* scratch: mu and v, parts-major */
    int elem_index;             /* scratch: e and b per mean */
    int grad_index;             /* scratch: d mu and d v, parts-major */
    int rows_index;             /* scratch: row sums of e and b, then totals */
    dlh_ew_kernel *fwd, *fwd_grad, *weigh;
} gnll_state;

#define GNLL_LOSS "vc = max(v, eps);\n" \
                  "r = mu - t;\n" \
                  "e = 0.5*(log(vc) + r*r/vc) + c;\n" \
                  "b = v < 0;\n"

static int gnll_create(const dlh_host *host, dlh_loss_setup *setup, void **state)
{
    gnll_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    st->be = setup->backend;
    const int no = 0;
    const double def_eps = 1e-6;
    int rc, reduction, full;
    double eps;
    if ((rc = losses_reduction(host, setup->params, 0, &reduction)) < 0 ||
        (rc = host->param_bool(setup->params, "full", &no, &full)) < 0 ||
        (rc = host->param_float(setup->params, "eps", &def_eps, 1e-30, 1e30, &eps)) < 0)
        return rc;
    if (setup->target_kind != DLH_TARGET_DENSE)
        return host->param_error(setup->params, NULL, "needs dense targets (one value per "
                                 "mean), but the data gives class indices");
    if ((rc = losses_parts_create(host, setup, 2, &st->parts)) < 0)
        return rc;
    int64_t d = st->parts.d;
    if (setup->struct_size < offsetof(dlh_loss_setup, target) + sizeof setup->target ||
        dlh_shape_numel(&setup->target) != d)
        return host->param_error(setup->params, NULL, "the model's output holds %lld "
                                 "means and %lld variances per sample, so the targets "
                                 "need %lld values per sample, but the data's have %lld",
                                 (long long)d, (long long)d, (long long)d,
                                 (long long)dlh_shape_numel(&setup->target));
    st->sum = reduction == LOSSES_SUM;
    st->sc[0] = (float)eps;
    st->sc[1] = full ? (float)(0.5 * log(2 * 3.14159265358979323846)) : 0.0f;
    if ((rc = setup->add_scratch(setup, 2 * d, 0, &st->split_index)) < 0 ||
        (rc = setup->add_scratch(setup, 2 * d, 0, &st->elem_index)) < 0 ||
        (rc = setup->add_scratch(setup, 2 * d, 0, &st->grad_index)) < 0 ||
        (rc = setup->add_scratch(setup, 2, 2, &st->rows_index)) < 0 ||
        (rc = host->ew_compile(st->be, "in mu, v, t; out e, b; scalar eps, c;\n" GNLL_LOSS,
                               &st->fwd)) < 0 ||
        (rc = host->ew_compile(st->be, "in mu, v, t, om; out e, b, gm, gv; "
                               "scalar eps, c, k;\n" GNLL_LOSS
                               "gm = k*om*(r/vc);\n"
                               "gv = k*om*(0.5*(1/vc - r*r/(vc*vc)));\n",
                               &st->fwd_grad)) < 0 ||
        (rc = host->ew_compile(st->be, LOSSES_WEIGH, &st->weigh)) < 0 ||
        (rc = losses_one_alloc(st->be, &st->one)) < 0)
        return rc;
    return 0;
}

static int gnll_forward(void *state, const dlh_loss_ctx *ctx, const dlh_tensor *prediction,
                        const dlh_tensor *target, float *loss,
                        const dlh_tensor *d_prediction)
{
    const gnll_state *st = state;
    const dlh_backend *be = ctx->backend;
    int64_t d = st->parts.d, n64 = ctx->batch * d;
    if (ctx->batch < 1 || n64 > INT_MAX / 2 || dlh_tensor_numel(prediction) != 2 * n64 ||
        dlh_tensor_numel(target) != n64 ||
        (d_prediction && dlh_tensor_numel(d_prediction) != 2 * n64)) {
        losses_host->error("gaussian_nll: expected %lld predictions (%lld samples of %lld "
                           "means and variances) and %lld targets, got %lld and %lld",
                           (long long)(2 * n64), (long long)ctx->batch, (long long)d,
                           (long long)n64, (long long)dlh_tensor_numel(prediction),
                           (long long)dlh_tensor_numel(target));
        return DLH_ESHAPE;
    }
    const dlh_tensor *omega;
    int rc = losses_sample_weights("gaussian_nll", ctx, &omega);
    if (rc < 0)
        return rc;
    size_t b = (size_t)ctx->batch, n = (size_t)n64;
    dlh_mem split = ctx->scratch[st->split_index].mem;
    dlh_mem elem = ctx->scratch[st->elem_index].mem;
    dlh_mem grad = ctx->scratch[st->grad_index].mem;
    dlh_mem rows = ctx->scratch[st->rows_index].mem;
    dlh_mem totals = dlh_mem_at(rows, 2 * b), no_idx = { NULL, 0 };
    if ((rc = losses_parts_split(be, &st->parts, ctx->batch, prediction->mem, split)) < 0)
        return rc;
    double den = st->sum ? 1.0 : (double)n64;
    float sc[3] = { st->sc[0], st->sc[1], (float)(1.0 / den) };
    dlh_ew_arg args[8];
    int na = 0;
    args[na++] = dlh_ew_full(split, n);
    args[na++] = dlh_ew_full(dlh_mem_at(split, n), n);
    args[na++] = dlh_ew_full(target->mem, n);
    if (d_prediction)
        args[na++] = losses_omega_arg(omega, (dlh_mem){ st->one, 0 }, b, (size_t)d);
    args[na++] = dlh_ew_full(elem, n);
    args[na++] = dlh_ew_full(dlh_mem_at(elem, n), n);
    if (d_prediction) {
        args[na++] = dlh_ew_full(grad, n);
        args[na++] = dlh_ew_full(dlh_mem_at(grad, n), n);
    }
    float tot[2];
    if ((rc = losses_host->ew_run(d_prediction ? st->fwd_grad : st->fwd, n, args, sc)) < 0 ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 2 * (int)b, (int)d, elem, rows,
                              no_idx)) < 0 ||
        (omega && (rc = losses_weigh(st->weigh, ctx->batch, rows, omega)) < 0) ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 2, (int)b, rows, totals,
                              no_idx)) < 0 ||
        (rc = be->ops->read(be->ctx, totals.buf, totals.off * sizeof(float), tot,
                            sizeof tot)) < 0)
        return rc;
    if (tot[1] != 0) {
        losses_host->error("gaussian_nll: var has negative entry/entries (the second half "
                           "of the model's output; keep it >= 0 with an activation)");
        return DLH_EINVAL;
    }
    if (d_prediction &&
        (rc = losses_parts_merge(be, &st->parts, ctx->batch, grad, d_prediction->mem)) < 0)
        return rc;
    *loss = st->sum ? tot[0] : (float)((double)tot[0] / den);
    return 0;
}

static void gnll_destroy(void *state)
{
    gnll_state *st = state;
    if (!st)
        return;
    losses_host->ew_free(st->fwd);
    losses_host->ew_free(st->fwd_grad);
    losses_host->ew_free(st->weigh);
    losses_parts_destroy(st->be, &st->parts);
    if (st->one)
        st->be->ops->free(st->be->ctx, st->one);
    free(st);
}

const dlh_loss_ops gaussian_nll_ops = {
    .struct_size = sizeof(dlh_loss_ops),
    .create = gnll_create,
    .forward = gnll_forward,
    .destroy = gnll_destroy,
    .flags = DLH_LOSS_SAMPLE_WEIGHTS | DLH_LOSS_TARGET_SHAPE,
    .output = DLH_LOSS_OUTPUT_VALUES,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc gaussian_nll_params[] = {
    { "full", DLH_PARAM_BOOL, "false", 0, 0, NULL, "add the constant 0.5 log(2 pi)" },
    { "eps", DLH_PARAM_FLOAT, "1e-06", 1e-30, 1e30, NULL, "variances are clamped to at least this" },
    LOSSES_REDUCTION_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
