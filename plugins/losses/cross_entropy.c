/* cross_entropy: nn.CrossEntropyLoss on logits [batch, C] with class-index
 * targets, optional class `weights` and `label_smoothing`, as torch's
 * cross_entropy_loss_label_smoothing (aten/src/ATen/native/LossNLL.cpp):
 *
 *   lp = log_softmax(x)
 *   loss = (1 - eps) * nll(lp, y, w) + eps/C * sum_i sum_c -w[c] lp[i,c] / W
 *
 * where nll's "mean" is sum_i -w[y_i] lp[i,y_i] / W and W = sum_i w[y_i]
 * (W = batch without weights).  With q[i,c] = (1-eps)[c == y_i] + eps/C
 * this is sum_{i,c} -w[c] q[i,c] lp[i,c] / W, whose gradient is
 *
 *   d x[i,c] = (softmax[i,c] * s_i - w[c] q[i,c]) / W,
 *   s_i = sum_c w[c] q[i,c] = (1-eps) w[y_i] + eps/C sum_c w[c]
 *
 * (s_i = 1 without weights).  Reduction "sum" drops the division by W.
 *
 * Everything runs on the backend: log-softmax, one fused kernel that builds
 * the per-element terms (the one-hot comes from comparing the target, read
 * with stride C, to a row of class indices), row sums and their totals; the
 * host reads back the totals only.  The one-hot row counts double as the
 * target check: a row whose count is not 1 has a target outside [0, C) or
 * not a whole number. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "losses.h"

/* Parts of the per-element scratch, in order; CE_WY only with weights. */
enum { CE_E = 0 };

typedef struct ce_state {
    const dlh_backend *be;
    int sum;                    /* reduction "sum" */
    int weighted;
    int n_parts;                /* per-element terms: e, (wy,) oh */
    int oh_part, wy_part;
    double smoothing;
    int64_t classes;
    double weight_sum;          /* sum of the class weights (C without weights) */
    dlh_buffer *consts;         /* class indices 0..C-1, then the weights */
    int lp_index;               /* scratch: log-softmax, C per sample */
    int parts_index;            /* scratch: n_parts x [batch, C] terms */
    int sums_index;             /* scratch: n_parts x [batch] row sums, then totals */
    dlh_ew_kernel *terms;       /* e, wy, oh */
    dlh_ew_kernel *terms_grad;  /* unweighted: e, oh and the gradient in one pass */
    dlh_ew_kernel *grad;        /* weighted: the gradient, once W is known */
    dlh_ew_kernel *bad;         /* 1 where a row's one-hot count is not 1 */
} ce_state;

/* Class weights: exactly one per class, finite and >= 0. */
static int ce_read_weights(const dlh_host *host, dlh_params *p, ce_state *st, float *w)
{
    size_t n = 0;
    int rc = host->param_floats(p, "weights", w, (size_t)st->classes, &n);
    if (rc < 0)
        return rc;
    if (n == 0) {
        if (host->param_has(p, "weights"))
            return host->param_error(p, "weights", "expected one weight per class "
                                     "(%lld), got an empty list", (long long)st->classes);
        for (int64_t c = 0; c < st->classes; c++)
            w[c] = 1.0f;
        st->weight_sum = (double)st->classes;
        return 0;
    }
    if ((int64_t)n != st->classes)
        return host->param_error(p, "weights", "expected one weight per class (%lld), "
                                 "got %zu", (long long)st->classes, n);
    double s = 0;
    for (size_t c = 0; c < n; c++) {
        if (!isfinite(w[c]) || w[c] < 0)
            return host->param_error(p, "weights", "weight %zu is %g; class weights "
                                     "must be finite and >= 0", c, (double)w[c]);
        s += w[c];
    }
    st->weighted = 1;
    st->weight_sum = s;
    return 0;
}

static int ce_compile(const dlh_host *host, const dlh_backend *be, ce_state *st)
{
    int rc;
    if (!st->weighted) {
        if ((rc = host->ew_compile(be, "in lp, t, cls; out e, oh; scalar a, b;\n"
                                   "oh = t == cls;\n"
                                   "e = -lp*(a*oh + b);\n", &st->terms)) < 0 ||
            (rc = host->ew_compile(be, "in lp, t, cls; out e, oh, d; scalar a, b, k;\n"
                                   "oh = t == cls;\n"
                                   "q = a*oh + b;\n"
                                   "e = -lp*q;\n"
                                   "d = k*(exp(lp) - q);\n", &st->terms_grad)) < 0)
            return rc;
    } else {
        /* The mean divides by W, a total on the device: an operand of length 1. */
        char src[384];
        snprintf(src, sizeof src, "in lp, t, cls, w, wyr%s; out d; scalar a, b, sw;\n"
                 "q = a*(t == cls) + b;\n"
                 "d = (exp(lp)*(a*wyr + sw) - w*q)%s;\n",
                 st->sum ? "" : ", den", st->sum ? "" : "/den");
        if ((rc = host->ew_compile(be, "in lp, t, cls, w; out e, wy, oh; scalar a, b;\n"
                                   "oh = t == cls;\n"
                                   "wy = w*oh;\n"
                                   "e = -lp*w*(a*oh + b);\n", &st->terms)) < 0 ||
            (rc = host->ew_compile(be, src, &st->grad)) < 0)
            return rc;
    }
    return host->ew_compile(be, "in c; out r; r = c != 1;", &st->bad);
}

static int ce_create(const dlh_host *host, dlh_loss_setup *setup, void **state)
{
    static const char *const reductions[] = { "mean", "sum", NULL };
    ce_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    st->be = setup->backend;
    dlh_params *p = setup->params;
    const double zero = 0.0;
    int rc, reduction;
    if ((rc = host->param_float(p, "label_smoothing", &zero, 0.0, 1.0,
                                &st->smoothing)) < 0 ||
        (rc = host->param_choice(p, "reduction", reductions, 0, &reduction)) < 0)
        return rc;
    st->sum = reduction == 1;
    if (setup->target_kind != DLH_TARGET_CLASS)
        return host->param_error(p, NULL, "needs class-index targets, but the data "
                                 "gives dense targets; use bce_with_logits or mse for "
                                 "those");
    if (setup->prediction.ndim != 1)
        return host->param_error(p, NULL, "needs one logit per class (a per-sample "
                                 "shape [classes]), but the model's output has %d "
                                 "dimensions; end the model with a dense layer",
                                 (int)setup->prediction.ndim);
    st->classes = setup->prediction.dim[0];
    /* reduce and softmax take int sizes. */
    if (st->classes < 1 || st->classes > INT_MAX / 4)
        return host->param_error(p, NULL, "%lld classes is out of range (1..%d)",
                                 (long long)st->classes, INT_MAX / 4);
    if (setup->n_classes > st->classes)
        return host->param_error(p, NULL, "the data has class labels up to %lld, but the "
                                 "model gives %lld logits per sample (classes 0..%lld)",
                                 (long long)setup->n_classes - 1, (long long)st->classes,
                                 (long long)st->classes - 1);

    float *host_consts = malloc(2 * (size_t)st->classes * sizeof *host_consts);
    if (!host_consts) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    for (int64_t c = 0; c < st->classes; c++)
        host_consts[c] = (float)c;
    rc = ce_read_weights(host, p, st, host_consts + st->classes);
    size_t bytes = 2 * (size_t)st->classes * sizeof(float);
    if (rc == 0)
        rc = st->be->ops->alloc(st->be->ctx, bytes, &st->consts);
    if (rc == 0)
        rc = st->be->ops->write(st->be->ctx, st->consts, 0, host_consts, bytes);
    free(host_consts);
    if (rc < 0)
        return rc;

    st->n_parts = st->weighted ? 3 : 2;
    st->wy_part = 1;
    st->oh_part = st->n_parts - 1;
    if ((rc = setup->add_scratch(setup, st->classes, 0, &st->lp_index)) < 0 ||
        (rc = setup->add_scratch(setup, st->n_parts * st->classes, 0,
                                 &st->parts_index)) < 0 ||
        (rc = setup->add_scratch(setup, st->n_parts, st->n_parts, &st->sums_index)) < 0)
        return rc;
    return ce_compile(host, st->be, st);
}

/* Called when the one-hot count is short: names the first bad target. */
static int ce_bad_target(const ce_state *st, const dlh_loss_ctx *ctx,
                         const dlh_tensor *target, dlh_mem lp, dlh_mem parts,
                         dlh_mem sums)
{
    const dlh_backend *be = ctx->backend;
    size_t b = (size_t)ctx->batch;
    dlh_mem counts = dlh_mem_at(sums, (size_t)st->oh_part * b);
    /* lp and parts are free by now: lp takes the flags, parts[0] the index. */
    dlh_ew_arg args[2] = { dlh_ew_full(counts, b), dlh_ew_full(lp, b) };
    int32_t row;
    float value;
    int rc;
    if ((rc = losses_host->ew_run(st->bad, b, args, NULL)) < 0 ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_MAX, 1, 1, (int)b, lp, sums,
                              parts)) < 0 ||
        (rc = be->ops->read(be->ctx, parts.buf, parts.off * sizeof(int32_t), &row,
                            sizeof row)) < 0)
        return rc;
    if (row < 0 || (size_t)row >= b)
        row = 0;
    if ((rc = be->ops->read(be->ctx, target->mem.buf,
                            (target->mem.off + (size_t)row) * sizeof(float), &value,
                            sizeof value)) < 0)
        return rc;
    losses_host->error("cross_entropy: target %g of sample %d is not a class index "
                       "in [0, %lld) (the model has %lld classes)", (double)value,
                       (int)row, (long long)st->classes, (long long)st->classes);
    return DLH_EINVAL;
}

static int ce_forward(void *state, const dlh_loss_ctx *ctx, const dlh_tensor *prediction,
                      const dlh_tensor *target, float *loss,
                      const dlh_tensor *d_prediction)
{
    const ce_state *st = state;
    const dlh_backend *be = ctx->backend;
    int64_t c64 = st->classes, n64 = ctx->batch * c64;
    if (ctx->batch < 1 || ctx->batch > INT_MAX / st->n_parts ||
        dlh_tensor_numel(prediction) != n64 || dlh_tensor_numel(target) != ctx->batch ||
        (d_prediction && dlh_tensor_numel(d_prediction) != n64)) {
        losses_host->error("cross_entropy: expected %lld logits (%lld samples of %lld "
                           "classes) and %lld targets, got %lld and %lld",
                           (long long)n64, (long long)ctx->batch, (long long)c64,
                           (long long)ctx->batch,
                           (long long)dlh_tensor_numel(prediction),
                           (long long)dlh_tensor_numel(target));
        return DLH_ESHAPE;
    }
    size_t b = (size_t)ctx->batch, c = (size_t)c64, n = (size_t)n64;
    int k = st->n_parts;
    dlh_mem lp = ctx->scratch[st->lp_index].mem;
    dlh_mem parts = ctx->scratch[st->parts_index].mem;
    dlh_mem sums = ctx->scratch[st->sums_index].mem;
    dlh_mem totals = dlh_mem_at(sums, (size_t)k * b);
    dlh_mem cls = { st->consts, 0 }, w = { st->consts, c };
    float a = (float)(1.0 - st->smoothing), bq = (float)(st->smoothing / (double)c64);
    dlh_ew_arg t_arg = { target->mem, b, c };        /* target of row i / C */
    dlh_ew_arg cls_arg = { cls, c, 1 }, w_arg = { w, c, 1 };
    int rc;

    if ((rc = be->ops->softmax(be->ctx, 1, (int)b, (int)c, prediction->mem, lp)) < 0)
        return rc;
    if (!st->weighted) {
        dlh_ew_arg args[6] = {
            dlh_ew_full(lp, n), t_arg, cls_arg, dlh_ew_full(parts, n),
            dlh_ew_full(dlh_mem_at(parts, n), n),
        };
        float sc[3] = { a, bq, st->sum ? 1.0f : (float)(1.0 / (double)b) };
        if (d_prediction) {
            args[5] = dlh_ew_full(d_prediction->mem, n);
            rc = losses_host->ew_run(st->terms_grad, n, args, sc);
        } else {
            rc = losses_host->ew_run(st->terms, n, args, sc);
        }
    } else {
        dlh_ew_arg args[7] = {
            dlh_ew_full(lp, n), t_arg, cls_arg, w_arg, dlh_ew_full(parts, n),
            dlh_ew_full(dlh_mem_at(parts, n), n), dlh_ew_full(dlh_mem_at(parts, 2 * n), n),
        };
        float sc[2] = { a, bq };
        rc = losses_host->ew_run(st->terms, n, args, sc);
    }
    /* Row sums of every part, then the total of each part. */
    dlh_mem no_idx = { NULL, 0 };
    if (rc < 0 ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, k * (int)b, (int)c, parts,
                              sums, no_idx)) < 0 ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, k, (int)b, sums, totals,
                              no_idx)) < 0)
        return rc;
    if (st->weighted && d_prediction) {
        /* wyr: w[y_i], the weighted row sum, read with stride C. */
        dlh_ew_arg args[7] = {
            dlh_ew_full(lp, n), t_arg, cls_arg, w_arg,
            { dlh_mem_at(sums, (size_t)st->wy_part * b), b, c },
            { dlh_mem_at(totals, (size_t)st->wy_part), 1, 1 },
        };
        int out = st->sum ? 5 : 6;
        args[out] = dlh_ew_full(d_prediction->mem, n);
        float sc[3] = { a, bq, (float)(st->smoothing / (double)c64 * st->weight_sum) };
        if ((rc = losses_host->ew_run(st->grad, n, args, sc)) < 0)
            return rc;
    }
    float tot[3];
    if ((rc = be->ops->read(be->ctx, totals.buf, totals.off * sizeof(float), tot,
                            (size_t)k * sizeof(float))) < 0)
        return rc;
    if (tot[st->oh_part] != (float)b)
        return ce_bad_target(st, ctx, target, lp, parts, sums);
    double den = st->sum ? 1.0 : st->weighted ? (double)tot[st->wy_part] : (double)b;
    *loss = (float)((double)tot[CE_E] / den);
    return 0;
}

static void ce_destroy(void *state)
{
    ce_state *st = state;
    if (!st)
        return;
    losses_host->ew_free(st->terms);
    losses_host->ew_free(st->terms_grad);
    losses_host->ew_free(st->grad);
    losses_host->ew_free(st->bad);
    if (st->consts)
        st->be->ops->free(st->be->ctx, st->consts);
    free(st);
}

const dlh_loss_ops cross_entropy_ops = {
    .struct_size = sizeof(dlh_loss_ops),
    .create = ce_create,
    .forward = ce_forward,
    .destroy = ce_destroy,
};
