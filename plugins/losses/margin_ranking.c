/* margin_ranking: nn.MarginRankingLoss
 * (torch.nn.functional.margin_ranking_loss) with `margin` (default 0.0), as
 * torch 1.13's margin_ranking_loss (aten/src/ATen/native/Loss.cpp).
 *
 * torch takes two inputs and a label; dlhost's loss has one model output.
 * Mapping: the output per sample, flattened, is two equal halves, x1 (the
 * first D values) and x2 (the last D values), D >= 1 (a dense layer of 2
 * units gives the two scores of a pair).  The label y says which should
 * rank higher: 1 (x1) or -1 (x2).  It comes as
 *   - class labels: 1 means y = 1, 0 means y = -1 (class labels cannot be
 *     negative in dlhost's readers); other classes stop the step;
 *   - dense labels of one value per sample (y for every pair of the
 *     sample) or of D values (one y per pair), taken as they are, as torch
 *     takes any y (a 0 gives margin).
 * Then, per pair,
 *
 *   e = max(0, -y (x1 - x2) + margin)
 *   de/dx1 = -y [-y (x1 - x2) + margin >= 0],  de/dx2 = -de/dx1
 *
 * (clamp_min's gradient passes at 0, as torch's).  "mean" divides the sum
 * by the number of pairs (batch x D), "sum" does not; sample weights
 * omega_n multiply each sample's sum (loss.h). */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "losses.h"

typedef struct mr_state {
    losses_halves h;
    int per_pair;               /* dense labels, one per pair (else one per sample) */
} mr_state;

static int mr_create(const dlh_host *host, dlh_loss_setup *setup, void **state)
{
    mr_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    double margin;
    int rc, reduction;
    if ((rc = losses_reduction(host, setup->params, 0, &reduction)) < 0 ||
        (rc = losses_param_real(host, setup->params, "margin", 0.0, &margin)) < 0 ||
        (rc = losses_halves_create(host, setup, &st->h)) < 0)
        return rc;
    int64_t d = st->h.parts.d;
    int classes = setup->target_kind == DLH_TARGET_CLASS;
    if (!classes) {
        int64_t nt = setup->struct_size >= offsetof(dlh_loss_setup, target) +
                     sizeof setup->target ? dlh_shape_numel(&setup->target) : -1;
        if (nt != 1 && nt != d)
            return host->param_error(setup->params, NULL, "needs one label y per sample "
                                     "or one per pair (%lld), but the data's dense labels "
                                     "have %lld values per sample", (long long)d,
                                     (long long)nt);
        st->per_pair = nt == d && d > 1;
    }
    st->h.who = "margin_ranking";
    st->h.bad_msg = "class labels must be 1 (x1 ranks higher) or 0 (x2 does)";
    st->h.sum = reduction == LOSSES_SUM;
    st->h.n_scalars = 1;
    st->h.scalars[0] = (float)margin;
    /* y: the label, or 2 c - 1 for a class c (b flags any other class). */
    const char *y = classes ? "y = 2*t - 1;\nb = (t != 0)*(t != 1);\n"
                            : "y = t;\nb = 0;\n";
    char fwd[320], fwd_grad[448];
    snprintf(fwd, sizeof fwd, "in x1, x2, t; out e, b; scalar margin;\n%s"
             "z = -y*(x1 - x2) + margin;\n"
             "e = max(z, 0);\n", y);
    snprintf(fwd_grad, sizeof fwd_grad, "in x1, x2, t, om; out e, b, g1, g2; "
             "scalar margin, k;\n%s"
             "z = -y*(x1 - x2) + margin;\n"
             "e = max(z, 0);\n"
             "g1 = k*om*(-y*(z >= 0));\n"
             "g2 = -g1;\n", y);
    return losses_halves_compile(host, setup, &st->h, fwd, fwd_grad);
}

static int mr_forward(void *state, const dlh_loss_ctx *ctx, const dlh_tensor *prediction,
                      const dlh_tensor *target, float *loss, const dlh_tensor *d_prediction)
{
    const mr_state *st = state;
    int64_t d = st->h.parts.d, n64 = ctx->batch * d;
    int64_t nt = st->per_pair ? n64 : ctx->batch;
    if (ctx->batch < 1 || n64 > INT_MAX / 2 || dlh_tensor_numel(prediction) != 2 * n64 ||
        dlh_tensor_numel(target) != nt ||
        (d_prediction && dlh_tensor_numel(d_prediction) != 2 * n64)) {
        losses_host->error("margin_ranking: expected %lld scores (%lld samples of %lld "
                           "pairs) and %lld labels, got %lld and %lld",
                           (long long)(2 * n64), (long long)ctx->batch, (long long)d,
                           (long long)nt, (long long)dlh_tensor_numel(prediction),
                           (long long)dlh_tensor_numel(target));
        return DLH_ESHAPE;
    }
    dlh_ew_arg t = st->per_pair ? dlh_ew_full(target->mem, (size_t)n64)
                                : (dlh_ew_arg){ target->mem, (size_t)ctx->batch, (size_t)d };
    return losses_halves_forward(&st->h, ctx, prediction, t, loss, d_prediction);
}

static void mr_destroy(void *state)
{
    mr_state *st = state;
    if (st)
        losses_halves_destroy(&st->h);
    free(st);
}

const dlh_loss_ops margin_ranking_ops = {
    .struct_size = sizeof(dlh_loss_ops),
    .create = mr_create,
    .forward = mr_forward,
    .destroy = mr_destroy,
    .flags = DLH_LOSS_SAMPLE_WEIGHTS | DLH_LOSS_TARGET_SHAPE,
    .output = DLH_LOSS_OUTPUT_VALUES,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc margin_ranking_params[] = {
    { "margin", DLH_PARAM_FLOAT, "0.0", DLH_PARAM_NO_MIN, DLH_PARAM_NO_MAX, NULL, "the margin by which x1 must beat x2 when y = 1" },
    LOSSES_REDUCTION_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
