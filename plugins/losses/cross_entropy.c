/* cross_entropy: nn.CrossEntropyLoss on logits [batch, C], as torch 1.13's
 * cross_entropy_loss (aten/src/ATen/native/LossNLL.cpp), with optional class
 * `weights`, `label_smoothing` eps and, for class targets, `ignore_index`.
 *
 * Class-index targets (DLH_TARGET_CLASS; nll_loss_nd, and
 * cross_entropy_loss_label_smoothing when eps > 0):
 *
 *   lp = log_softmax(x),  m_i = [y_i != ignore_index]
 *   loss = (1 - eps) * nll(lp, y, w) + eps/C * sum_i m_i sum_c -w[c] lp[i,c] / W
 *
 * where nll's "mean" is sum_i -m_i w[y_i] lp[i,y_i] / W, W = sum_i m_i w[y_i]
 * (the count of samples not ignored without weights).  With q[i,c] =
 * (1-eps)[c == y_i] + eps/C this is sum_{i,c} -m_i w[c] q[i,c] lp[i,c] / W,
 * whose gradient is
 *
 *   d x[i,c] = m_i (softmax[i,c] * s_i - w[c] q[i,c]) / W,
 *   s_i = sum_c w[c] q[i,c] = (1-eps) w[y_i] + eps/C sum_c w[c]
 *
 * (s_i = 1 without weights).  Reduction "sum" drops the division by W.  When
 * every sample is ignored, W = 0: the mean is NaN and the gradient zero, as
 * torch gives (0/0 in both of its terms; masked_fill's backward gives 0).
 * A target that is neither a class in [0, C) nor ignore_index is an error.
 *
 * Probability targets (DLH_TARGET_DENSE, per-sample shape [C];
 * cross_entropy_loss_prob_target):
 *
 *   t' = t (1 - eps) + eps/C
 *   loss = sum_{i,c} -w[c] t'[i,c] lp[i,c] / N
 *   d x[i,c] = (softmax[i,c] * s_i - w[c] t'[i,c]) / N,  s_i = sum_c w[c] t'[i,c]
 *
 * with N the batch for "mean" (not a sum of weights: torch's rule for
 * probability targets) and 1 for "sum".  Rows are taken as they are, as
 * torch does: they need not sum to 1 (s_i keeps the gradient exact then).
 * torch refuses an ignore_index >= 0 with probability targets; here any
 * ignore_index given with them is refused, since it could do nothing.
 *
 * Everything runs on the backend: log-softmax, one fused kernel that builds
 * the per-element terms (the one-hot comes from comparing the target, read
 * with stride C, to a row of class indices), row sums and their totals; the
 * host reads back the totals only.  For class targets the one-hot row counts
 * double as the target check: an ignored row counts 1 (at class 0), any
 * other row whose count is not 1 has a target outside [0, C) or not a whole
 * number.
 *
 * Sample weights omega_n (ctx->sample_weights, Keras's sample_weight)
 * weight each sample's loss as torch's reduction='none' gives it,
 *
 *   l_n = sum_c -m_n w[c] q[n,c] lp[n,c]        (class targets; w[y_n] times
 *                                                -lp[n,y_n] when eps = 0)
 *   l_n = sum_c -w[c] t'[n,c] lp[n,c]           (probability targets)
 *   mean = sum_n omega_n l_n / W   (class: W = sum_n m_n w[y_n] as above)
 *   mean = sum_n omega_n l_n / N   (probability targets)
 *   sum  = sum_n omega_n l_n
 *   d x[n,c] = omega_n times the unweighted gradient above
 *
 * so the weights never enter W: with class weights the mean is
 * sum_n omega_n w[y_n] (-lp[n,y_n]) / sum_n m_n w[y_n] (eps = 0), and with
 * omega = 1 everywhere every result is the unweighted one bit for bit (the
 * row sums of e and the gradient are multiplied by exactly 1).  A sample of
 * weight 0 drops out of the numerator only. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "losses.h"

/* Parts of the per-element scratch, in order: e, then for class targets
   wy (m w[y], one per kept row) and oh (the row counts); for probability
   targets wq (w t', whose row sums are s_i). */
enum { CE_E = 0, CE_WY = 1, CE_WQ = 1, CE_OH = 2 };

/* Targets are floats: an ignore_index beyond 2^24 could not be told from
   its neighbours. */
#define CE_IGNORE_MAX (1 << 24)

typedef struct ce_state {
    const dlh_backend *be;
    int sum;                    /* reduction "sum" */
    int weighted;
    int prob;                   /* probability targets (DLH_TARGET_DENSE) */
    int n_parts;                /* per-element terms: 3 (class), 2 (probability) */
    double smoothing;
    float ignore;               /* ignore_index, exact as a float */
    int64_t classes;
    double weight_sum;          /* sum of the class weights (C without weights) */
    dlh_buffer *consts;         /* class indices 0..C-1, then the weights (1 without),
                                   then 1.0f: the sample weight without weights */
    int lp_index;               /* scratch: log-softmax, C per sample */
    int parts_index;            /* scratch: n_parts x [batch, C] terms */
    int sums_index;             /* scratch: n_parts x [batch] row sums, then totals */
    dlh_ew_kernel *terms;       /* the parts */
    dlh_ew_kernel *terms_grad;  /* class, unweighted: the parts and the gradient over
                                   the batch in one pass */
    dlh_ew_kernel *rescale;     /* class, unweighted: that gradient over W instead */
    dlh_ew_kernel *grad;        /* otherwise: the gradient, once the row sums are known */
    dlh_ew_kernel *bad;         /* 1 where a row's one-hot count is not 1 */
    dlh_ew_kernel *weigh;       /* per-sample losses times omega */
} ce_state;

/* Class weights: exactly one per class, finite and >= 0 (all 1 without). */
static int ce_read_weights(const dlh_host *host, dlh_params *p, ce_state *st, float *w)
{
    int rc = losses_read_class_weights(host, p, "weights", st->classes, w, &st->weighted);
    double s = 0;
    for (int64_t c = 0; rc == 0 && c < st->classes; c++)
        s += w[c];
    st->weight_sum = s;
    return rc;
}

/* ignore_index: class targets only, an integer exact as a float. */
static int ce_read_ignore(const dlh_host *host, dlh_params *p, ce_state *st)
{
    if (st->prob) {
        if (host->param_has(p, "ignore_index"))
            return host->param_error(p, "ignore_index", "ignore_index is only for "
                                     "class-index targets, but the data gives "
                                     "probability targets (dense labels of the model's "
                                     "output shape); remove it");
        st->ignore = -100.0f;
        return 0;
    }
    const int64_t def = -100;
    int64_t v;
    int rc = host->param_int(p, "ignore_index", &def, INT64_MIN, INT64_MAX, &v);
    if (rc < 0)
        return rc;
    if (v < -CE_IGNORE_MAX || v > CE_IGNORE_MAX)
        return host->param_error(p, "ignore_index", "%lld is out of range: targets are "
                                 "floats, so ignore_index must lie in [%d, %d]",
                                 (long long)v, -CE_IGNORE_MAX, CE_IGNORE_MAX);
    st->ignore = (float)v;
    return 0;
}

static int ce_compile(const dlh_host *host, const dlh_backend *be, ce_state *st)
{
    int rc;
    if ((rc = host->ew_compile(be, LOSSES_WEIGH, &st->weigh)) < 0)
        return rc;
    if (st->prob) {
        char src[256];
        snprintf(src, sizeof src, "in lp, t, w, s, om; out d; scalar a, b%s;\n"
                 "d = %som*(exp(lp)*s - w*(a*t + b));\n", st->sum ? "" : ", k",
                 st->sum ? "" : "k*");
        if ((rc = host->ew_compile(be, "in lp, t, w; out e, wq; scalar a, b;\n"
                                   "wq = w*(a*t + b);\n"
                                   "e = -lp*wq;\n", &st->terms)) < 0)
            return rc;
        return host->ew_compile(be, src, &st->grad);
    }
    /* m: the row is kept; oh counts 1 per row unless the target is bad. */
    if (!st->weighted) {
        if ((rc = host->ew_compile(be, "in lp, t, cls; out e, wy, oh; scalar a, b, ign;\n"
                                   "m = t != ign;\n"
                                   "h = t == cls;\n"
                                   "oh = select(m, h, cls == 0);\n"
                                   "wy = m*h;\n"
                                   "e = -lp*m*(a*h + b);\n", &st->terms)) < 0 ||
            (rc = host->ew_compile(be, "in lp, t, cls, om; out e, wy, oh, d; "
                                   "scalar a, b, ign, k;\n"
                                   "m = t != ign;\n"
                                   "h = t == cls;\n"
                                   "oh = select(m, h, cls == 0);\n"
                                   "wy = m*h;\n"
                                   "q = a*h + b;\n"
                                   "e = -lp*m*q;\n"
                                   "d = m*k*om*(exp(lp) - q);\n", &st->terms_grad)) < 0 ||
            (rc = host->ew_compile(be, "inout d; scalar k; d = d*k;", &st->rescale)) < 0)
            return rc;
    } else {
        /* The mean divides by W, a total on the device: an operand of length 1.
           select keeps ignored rows at 0 when W is 0 too. */
        char src[384];
        snprintf(src, sizeof src, "in lp, t, cls, w, wyr, om%s; out d; "
                 "scalar a, b, sw, ign;\n"
                 "q = a*(t == cls) + b;\n"
                 "d = select(t != ign, om*((exp(lp)*(a*wyr + sw) - w*q)%s), 0);\n",
                 st->sum ? "" : ", den", st->sum ? "" : "/den");
        if ((rc = host->ew_compile(be, "in lp, t, cls, w; out e, wy, oh; scalar a, b, ign;\n"
                                   "m = t != ign;\n"
                                   "h = t == cls;\n"
                                   "oh = select(m, h, cls == 0);\n"
                                   "wy = w*h*m;\n"
                                   "e = -lp*w*m*(a*h + b);\n", &st->terms)) < 0 ||
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
    if (setup->target_kind != DLH_TARGET_CLASS && setup->target_kind != DLH_TARGET_DENSE)
        return host->param_error(p, NULL, "needs class-index or probability targets "
                                 "(target kind %d)", (int)setup->target_kind);
    st->prob = setup->target_kind == DLH_TARGET_DENSE;
    if (setup->prediction.ndim != 1)
        return host->param_error(p, NULL, "needs one logit per class (a per-sample "
                                 "shape [classes]), but the model's output has %d "
                                 "dimensions; end the model with a dense layer%s",
                                 (int)setup->prediction.ndim, st->prob
                                 ? " (probability targets have the same shape)" : "");
    st->classes = setup->prediction.dim[0];
    /* reduce and softmax take int sizes. */
    if (st->classes < 1 || st->classes > INT_MAX / 4)
        return host->param_error(p, NULL, "%lld classes is out of range (1..%d)",
                                 (long long)st->classes, INT_MAX / 4);
    if (!st->prob && setup->n_classes > st->classes)
        return host->param_error(p, NULL, "the data has class labels up to %lld, but the "
                                 "model gives %lld logits per sample (classes 0..%lld)",
                                 (long long)setup->n_classes - 1, (long long)st->classes,
                                 (long long)st->classes - 1);
    if ((rc = ce_read_ignore(host, p, st)) < 0)
        return rc;

    float *host_consts = malloc((2 * (size_t)st->classes + 1) * sizeof *host_consts);
    if (!host_consts) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    for (int64_t c = 0; c < st->classes; c++)
        host_consts[c] = (float)c;
    host_consts[2 * st->classes] = 1.0f;
    rc = ce_read_weights(host, p, st, host_consts + st->classes);
    size_t bytes = (2 * (size_t)st->classes + 1) * sizeof(float);
    if (rc == 0)
        rc = st->be->ops->alloc(st->be->ctx, bytes, &st->consts);
    if (rc == 0)
        rc = st->be->ops->write(st->be->ctx, st->consts, 0, host_consts, bytes);
    free(host_consts);
    if (rc < 0)
        return rc;

    st->n_parts = st->prob ? 2 : 3;
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
    dlh_mem counts = dlh_mem_at(sums, (size_t)CE_OH * b);
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
                       "in [0, %lld) (the model has %lld classes) nor ignore_index (%g)",
                       (double)value, (int)row, (long long)st->classes,
                       (long long)st->classes, (double)st->ignore);
    return DLH_EINVAL;
}

/* Probability targets: the parts e and w t', their row sums (s_i; those of
   e times omega) and totals, then the gradient. */
static int ce_forward_prob(const ce_state *st, const dlh_loss_ctx *ctx,
                           const dlh_tensor *target, const dlh_tensor *omega, float *loss,
                           const dlh_tensor *d_prediction)
{
    const dlh_backend *be = ctx->backend;
    size_t b = (size_t)ctx->batch, c = (size_t)st->classes, n = b * c;
    dlh_mem lp = ctx->scratch[st->lp_index].mem;
    dlh_mem parts = ctx->scratch[st->parts_index].mem;
    dlh_mem sums = ctx->scratch[st->sums_index].mem;
    dlh_mem totals = dlh_mem_at(sums, 2 * b);
    dlh_mem w = { st->consts, c }, one = { st->consts, 2 * c }, no_idx = { NULL, 0 };
    dlh_ew_arg w_arg = { w, c, 1 };
    float sc[3] = { (float)(1.0 - st->smoothing), (float)(st->smoothing / (double)c),
                    (float)(1.0 / (double)b) };
    dlh_ew_arg args[6] = {
        dlh_ew_full(lp, n), dlh_ew_full(target->mem, n), w_arg, dlh_ew_full(parts, n),
        dlh_ew_full(dlh_mem_at(parts, (size_t)CE_WQ * n), n),
    };
    int rc;
    /* Only e's row sums take omega: those of w t' are the s_i. */
    if ((rc = losses_host->ew_run(st->terms, n, args, sc)) < 0 ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 2 * (int)b, (int)c, parts,
                              sums, no_idx)) < 0 ||
        (omega && (rc = losses_weigh(st->weigh, (int64_t)b,
                                     dlh_mem_at(sums, (size_t)CE_E * b), omega)) < 0) ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 2, (int)b, sums, totals,
                              no_idx)) < 0)
        return rc;
    if (d_prediction) {
        /* s_i: the row sums of w t', read with stride C. */
        args[3] = (dlh_ew_arg){ dlh_mem_at(sums, (size_t)CE_WQ * b), b, c };
        args[4] = losses_omega_arg(omega, one, b, c);
        args[5] = dlh_ew_full(d_prediction->mem, n);
        if ((rc = losses_host->ew_run(st->grad, n, args, sc)) < 0)
            return rc;
    }
    float tot;
    if ((rc = be->ops->read(be->ctx, totals.buf, totals.off * sizeof(float), &tot,
                            sizeof tot)) < 0)
        return rc;
    *loss = (float)((double)tot / (st->sum ? 1.0 : (double)b));
    return 0;
}

static int ce_forward(void *state, const dlh_loss_ctx *ctx, const dlh_tensor *prediction,
                      const dlh_tensor *target, float *loss,
                      const dlh_tensor *d_prediction)
{
    const ce_state *st = state;
    const dlh_backend *be = ctx->backend;
    int64_t c64 = st->classes, n64 = ctx->batch * c64;
    int64_t nt = st->prob ? n64 : ctx->batch;
    if (ctx->batch < 1 || ctx->batch > INT_MAX / st->n_parts ||
        dlh_tensor_numel(prediction) != n64 || dlh_tensor_numel(target) != nt ||
        (d_prediction && dlh_tensor_numel(d_prediction) != n64)) {
        losses_host->error("cross_entropy: expected %lld logits (%lld samples of %lld "
                           "classes) and %lld %s, got %lld and %lld",
                           (long long)n64, (long long)ctx->batch, (long long)c64,
                           (long long)nt, st->prob ? "target probabilities (the logits' "
                           "shape)" : "targets", (long long)dlh_tensor_numel(prediction),
                           (long long)dlh_tensor_numel(target));
        return DLH_ESHAPE;
    }
    const dlh_tensor *omega;
    int rc = losses_sample_weights("cross_entropy", ctx, &omega);
    if (rc < 0)
        return rc;
    size_t b = (size_t)ctx->batch, c = (size_t)c64, n = (size_t)n64;
    dlh_mem lp = ctx->scratch[st->lp_index].mem;
    if ((rc = be->ops->softmax(be->ctx, 1, (int)b, (int)c, prediction->mem, lp)) < 0)
        return rc;
    if (st->prob)
        return ce_forward_prob(st, ctx, target, omega, loss, d_prediction);

    int k = st->n_parts;
    dlh_mem parts = ctx->scratch[st->parts_index].mem;
    dlh_mem sums = ctx->scratch[st->sums_index].mem;
    dlh_mem totals = dlh_mem_at(sums, (size_t)k * b);
    dlh_mem cls = { st->consts, 0 }, w = { st->consts, c };
    dlh_mem one = { st->consts, 2 * c };
    float a = (float)(1.0 - st->smoothing), bq = (float)(st->smoothing / (double)c64);
    dlh_ew_arg t_arg = { target->mem, b, c };        /* target of row i / C */
    dlh_ew_arg cls_arg = { cls, c, 1 }, w_arg = { w, c, 1 };
    dlh_ew_arg om_arg = losses_omega_arg(omega, one, b, c);
    dlh_ew_arg e_arg = dlh_ew_full(parts, n);
    dlh_ew_arg wy_arg = dlh_ew_full(dlh_mem_at(parts, (size_t)CE_WY * n), n);
    dlh_ew_arg oh_arg = dlh_ew_full(dlh_mem_at(parts, (size_t)CE_OH * n), n);
    int fused = !st->weighted && d_prediction;

    if (fused) {
        dlh_ew_arg args[8] = {
            dlh_ew_full(lp, n), t_arg, cls_arg, om_arg, e_arg, wy_arg, oh_arg,
            dlh_ew_full(d_prediction->mem, n),
        };
        /* The gradient over the batch; rescaled below when rows are ignored. */
        float sc[4] = { a, bq, st->ignore, st->sum ? 1.0f : (float)(1.0 / (double)b) };
        rc = losses_host->ew_run(st->terms_grad, n, args, sc);
    } else if (!st->weighted) {
        dlh_ew_arg args[6] = { dlh_ew_full(lp, n), t_arg, cls_arg, e_arg, wy_arg, oh_arg };
        float sc[3] = { a, bq, st->ignore };
        rc = losses_host->ew_run(st->terms, n, args, sc);
    } else {
        dlh_ew_arg args[7] = {
            dlh_ew_full(lp, n), t_arg, cls_arg, w_arg, e_arg, wy_arg, oh_arg,
        };
        float sc[3] = { a, bq, st->ignore };
        rc = losses_host->ew_run(st->terms, n, args, sc);
    }
    /* Row sums of every part, those of e times omega, then the total of each
       part. */
    dlh_mem no_idx = { NULL, 0 };
    if (rc < 0 ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, k * (int)b, (int)c, parts,
                              sums, no_idx)) < 0 ||
        (omega && (rc = losses_weigh(st->weigh, (int64_t)b,
                                     dlh_mem_at(sums, (size_t)CE_E * b), omega)) < 0) ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, k, (int)b, sums, totals,
                              no_idx)) < 0)
        return rc;
    if (st->weighted && d_prediction) {
        /* wyr: m w[y_i], the weighted row sum, read with stride C. */
        dlh_ew_arg args[8] = {
            dlh_ew_full(lp, n), t_arg, cls_arg, w_arg,
            { dlh_mem_at(sums, (size_t)CE_WY * b), b, c }, om_arg,
            { dlh_mem_at(totals, (size_t)CE_WY), 1, 1 },
        };
        int out = st->sum ? 6 : 7;
        args[out] = dlh_ew_full(d_prediction->mem, n);
        float sc[4] = { a, bq, (float)(st->smoothing / (double)c64 * st->weight_sum),
                        st->ignore };
        if ((rc = losses_host->ew_run(st->grad, n, args, sc)) < 0)
            return rc;
    }
    float tot[3];
    if ((rc = be->ops->read(be->ctx, totals.buf, totals.off * sizeof(float), tot,
                            (size_t)k * sizeof(float))) < 0)
        return rc;
    if (tot[CE_OH] != (float)b)
        return ce_bad_target(st, ctx, target, lp, parts, sums);
    /* W: the kept rows' weights, or their count (b when none is ignored). */
    double den = st->sum ? 1.0 : (double)tot[CE_WY];
    if (fused && !st->sum && tot[CE_WY] != (float)b && tot[CE_WY] > 0) {
        dlh_ew_arg arg = dlh_ew_full(d_prediction->mem, n);
        float scale = (float)((double)b / den);
        if ((rc = losses_host->ew_run(st->rescale, n, &arg, &scale)) < 0)
            return rc;
    }
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
    losses_host->ew_free(st->rescale);
    losses_host->ew_free(st->grad);
    losses_host->ew_free(st->bad);
    losses_host->ew_free(st->weigh);
    if (st->consts)
        st->be->ops->free(st->be->ctx, st->consts);
    free(st);
}

const dlh_loss_ops cross_entropy_ops = {
    .struct_size = sizeof(dlh_loss_ops),
    .create = ce_create,
    .forward = ce_forward,
    .destroy = ce_destroy,
    .flags = DLH_LOSS_SAMPLE_WEIGHTS,
    .output = DLH_LOSS_OUTPUT_LOGITS,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc cross_entropy_params[] = {
    { "weights", DLH_PARAM_FLOATS, "", 0, 0, NULL, "one weight per class, each >= 0 (torch's weight); the mean divides by the targets' weights" },
    { "ignore_index", DLH_PARAM_INT, "-100", -16777216, 16777216, NULL, "class targets equal to it add nothing and do not count in the mean" },
    { "label_smoothing", DLH_PARAM_FLOAT, "0", 0.0, 1.0, NULL, "mixes each target with the uniform distribution by this amount" },
    LOSSES_REDUCTION_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
