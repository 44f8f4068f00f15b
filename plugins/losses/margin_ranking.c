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
    const dlh_backend *be;
    int sum;
    int per_pair;               /* dense labels, one per pair (else one per sample) */
    int classes;                /* class labels 0/1 */
    float margin;
    losses_parts parts;
    dlh_buffer *one;
    int split_index, elem_index, grad_index, rows_index;
    dlh_ew_kernel *fwd, *fwd_grad, *weigh;
} mr_state;

static int mr_create(const dlh_host *host, dlh_loss_setup *setup, void **state)
{
    mr_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    st->be = setup->backend;
    double margin;
    int rc, reduction;
    if ((rc = losses_reduction(host, setup->params, 0, &reduction)) < 0 ||
        (rc = losses_param_real(host, setup->params, "margin", 0.0, &margin)) < 0 ||
        (rc = losses_parts_create(host, setup, 2, &st->parts)) < 0)
        return rc;
    int64_t d = st->parts.d;
    st->classes = setup->target_kind == DLH_TARGET_CLASS;
    if (!st->classes) {
        int64_t nt = setup->struct_size >= offsetof(dlh_loss_setup, target) +
                     sizeof setup->target ? dlh_shape_numel(&setup->target) : -1;
        if (nt != 1 && nt != d)
            return host->param_error(setup->params, NULL, "needs one label y per sample "
                                     "or one per pair (%lld), but the data's dense labels "
                                     "have %lld values per sample", (long long)d,
                                     (long long)nt);
        st->per_pair = nt == d && d > 1;
    }
    st->sum = reduction == LOSSES_SUM;
    st->margin = (float)margin;
    /* y: the label, or 2 c - 1 for a class c (b flags any other class). */
    const char *y = st->classes ? "y = 2*t - 1;\nb = (t != 0)*(t != 1);\n"
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
    if ((rc = setup->add_scratch(setup, 2 * d, 0, &st->split_index)) < 0 ||
        (rc = setup->add_scratch(setup, 2 * d, 0, &st->elem_index)) < 0 ||
        (rc = setup->add_scratch(setup, 2 * d, 0, &st->grad_index)) < 0 ||
        (rc = setup->add_scratch(setup, 2, 2, &st->rows_index)) < 0 ||
        (rc = host->ew_compile(st->be, fwd, &st->fwd)) < 0 ||
        (rc = host->ew_compile(st->be, fwd_grad, &st->fwd_grad)) < 0 ||
        (rc = host->ew_compile(st->be, LOSSES_WEIGH, &st->weigh)) < 0 ||
        (rc = losses_one_alloc(st->be, &st->one)) < 0)
        return rc;
    return 0;
}

static int mr_forward(void *state, const dlh_loss_ctx *ctx, const dlh_tensor *prediction,
                      const dlh_tensor *target, float *loss, const dlh_tensor *d_prediction)
{
    const mr_state *st = state;
    const dlh_backend *be = ctx->backend;
    int64_t d = st->parts.d, n64 = ctx->batch * d;
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
    const dlh_tensor *omega;
    int rc = losses_sample_weights("margin_ranking", ctx, &omega);
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
    float sc[2] = { st->margin, (float)(1.0 / den) };
    dlh_ew_arg args[8];
    int na = 0;
    args[na++] = dlh_ew_full(split, n);
    args[na++] = dlh_ew_full(dlh_mem_at(split, n), n);
    args[na++] = st->per_pair ? dlh_ew_full(target->mem, n)
                              : (dlh_ew_arg){ target->mem, b, (size_t)d };
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
        losses_host->error("margin_ranking: class labels must be 1 (x1 ranks higher) or 0 "
                           "(x2 does)");
        return DLH_EINVAL;
    }
    if (d_prediction &&
        (rc = losses_parts_merge(be, &st->parts, ctx->batch, grad, d_prediction->mem)) < 0)
        return rc;
    *loss = st->sum ? tot[0] : (float)((double)tot[0] / den);
    return 0;
}

static void mr_destroy(void *state)
{
    mr_state *st = state;
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
