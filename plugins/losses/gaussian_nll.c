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

#define GNLL_LOSS "vc = max(v, eps);\n" \
                  "r = mu - t;\n" \
                  "e = 0.5*(log(vc) + r*r/vc) + c;\n" \
                  "b = v < 0;\n"

static int gnll_create(const dlh_host *host, dlh_loss_setup *setup, void **state)
{
    losses_halves *lh = calloc(1, sizeof *lh);
    *state = lh;
    if (!lh) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
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
    if ((rc = losses_halves_create(host, setup, lh)) < 0)
        return rc;
    int64_t d = lh->parts.d;
    if (setup->struct_size < offsetof(dlh_loss_setup, target) + sizeof setup->target ||
        dlh_shape_numel(&setup->target) != d)
        return host->param_error(setup->params, NULL, "the model's output holds %lld "
                                 "means and %lld variances per sample, so the targets "
                                 "need %lld values per sample, but the data's have %lld",
                                 (long long)d, (long long)d, (long long)d,
                                 (long long)dlh_shape_numel(&setup->target));
    lh->who = "gaussian_nll";
    lh->bad_msg = "var has negative entry/entries (the second half of the model's output; "
                  "keep it >= 0 with an activation)";
    lh->sum = reduction == LOSSES_SUM;
    lh->n_scalars = 2;
    lh->scalars[0] = (float)eps;
    lh->scalars[1] = full ? (float)(0.5 * log(2 * 3.14159265358979323846)) : 0.0f;
    return losses_halves_compile(host, setup, lh,
                                 "in mu, v, t; out e, b; scalar eps, c;\n" GNLL_LOSS,
                                 "in mu, v, t, om; out e, b, gm, gv; "
                                 "scalar eps, c, k;\n" GNLL_LOSS
                                 "gm = k*om*(r/vc);\n"
                                 "gv = k*om*(0.5*(1/vc - r*r/(vc*vc)));\n");
}

static int gnll_forward(void *state, const dlh_loss_ctx *ctx, const dlh_tensor *prediction,
                        const dlh_tensor *target, float *loss,
                        const dlh_tensor *d_prediction)
{
    const losses_halves *lh = state;
    int64_t d = lh->parts.d, n64 = ctx->batch * d;
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
    return losses_halves_forward(lh, ctx, prediction, dlh_ew_full(target->mem, (size_t)n64),
                                 loss, d_prediction);
}

static void gnll_destroy(void *state)
{
    if (state)
        losses_halves_destroy(state);
    free(state);
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
