/* dice: the soft Dice loss (Milletari et al. 2016, V-Net; MONAI's DiceLoss
 * with batch = false), which torch does not have: its reference values are
 * this formula written with torch ops (tests/ref/losses_torch.py).
 *
 * The output per sample is [C] or [C, spatial...] (C channels, S values
 * each, S = 1 for [C]).  Probabilities p come from the output by
 * `activation`: "softmax" over the channels, "sigmoid" per value, "none"
 * (the output already holds probabilities), or "auto" (the default:
 * softmax for class targets, sigmoid for dense ones).  Targets y are
 *   - class labels (one per sample, output [C]): y = one-hot of the label
 *     for C >= 2; for C = 1 (one logit) y = the label, 0 or 1;
 *   - dense, of the output's shape: y as given (one-hot masks or soft
 *     probabilities; for [C, H, W] segmentation, one mask per channel).
 * Then, per sample and channel c, with the sums over the S values,
 *
 *   I_c = sum p_c y_c,  K_c = sum p_c + sum y_c + smooth
 *   dice_c = (2 I_c + smooth) / K_c
 *   l = 1 - (1/C) sum_c dice_c                     (every channel counts alike)
 *   dl/dp_c = -(1/C) (2 y_c - dice_c) / K_c
 *
 * then through the activation (softmax: dx = p (g - sum_c p_c g_c) per
 * position).  `smooth` (default 1.0, >= 0) keeps a channel that is absent
 * from both p and y at dice 1; with smooth = 0 such a channel is 0/0, NaN.
 * "mean" divides sum_n l_n by the batch, "sum" does not; sample weights
 * omega_n multiply l_n (loss.h).  A class label outside [0, C) (or other
 * than 0/1 for C = 1) stops the step with torch's "Target 5 is out of
 * bounds.".
 *
 * Layout: everything runs channel-first, [N][C][S], so per-channel sums are
 * row sums and per-channel values broadcast with stride S; only softmax
 * over the channels of a spatial output transposes to [N][S][C] and back
 * (gemm_batched with a C x C identity). */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "losses.h"

enum { DICE_AUTO, DICE_SOFTMAX, DICE_SIGMOID, DICE_NONE };

typedef struct dice_state {
    const dlh_backend *be;
    int sum;
    int act;                    /* DICE_SOFTMAX, DICE_SIGMOID or DICE_NONE */
    int cls;                    /* class targets: 1 (C >= 2, one-hot) or 2 (C = 1, binary) */
    int64_t c, s;               /* channels, values per channel */
    int arrays;                 /* per-value arrays: p y, p, y (and the label check) */
    float sc[3];                /* smooth, 1/C, then k */
    losses_cls lc;              /* class targets, C >= 2: indices (no weights) */
    dlh_buffer *eye;            /* softmax over a spatial output: I_C */
    dlh_buffer *one;
    int p_index;                /* scratch: softmax probabilities, [N][C][S] */
    int pt_index;               /* scratch: softmax, [N][S][C] (S > 1) */
    int elem_index;             /* scratch: the per-value arrays */
    int sums_index;             /* scratch: their sums over S (S > 1) */
    int nc_index;               /* scratch: per channel (1 - dice)/C, A, B */
    int r_index;                /* scratch: softmax's sum_c p_c g_c per position */
    int rows_index;             /* scratch: l_n; the loss and label-count totals */
    dlh_ew_kernel *elems, *chan, *grad, *soft_grad, *weigh;
} dice_state;

/* Rows [N][C][S] into [N][S][C] (to = 1) or back (to = 0). */
static int dice_transpose(const dice_state *st, int64_t batch, int to, dlh_mem src,
                          dlh_mem dst)
{
    const dlh_backend *be = st->be;
    int c = (int)st->c, s = (int)st->s;
    int64_t m = (int64_t)c * s;
    dlh_mem eye = { st->eye, 0 };
    if (to)     /* [S][C] = src^T I */
        return be->ops->gemm_batched(be->ctx, 1, 0, s, c, c, 1.0f, src, s, m, eye, c, 0,
                                     0.0f, dst, c, m, (int)batch);
    /* [C][S] = I src^T */
    return be->ops->gemm_batched(be->ctx, 0, 1, c, s, c, 1.0f, eye, c, 0, src, c, m, 0.0f,
                                 dst, s, m, (int)batch);
}

static int dice_create(const dlh_host *host, dlh_loss_setup *setup, void **state)
{
    static const char *const acts[] = { "auto", "softmax", "sigmoid", "none", NULL };
    dice_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    st->be = setup->backend;
    dlh_params *p = setup->params;
    const double def_smooth = 1.0;
    double smooth;
    int rc, reduction;
    if ((rc = losses_reduction(host, p, 0, &reduction)) < 0 ||
        (rc = host->param_float(p, "smooth", &def_smooth, 0.0, HUGE_VAL, &smooth)) < 0 ||
        (rc = host->param_choice(p, "activation", acts, DICE_AUTO, &st->act)) < 0)
        return rc;
    if (!(smooth <= FLT_MAX))
        return host->param_error(p, "smooth", "smooth is %g; it must be a finite number",
                                 smooth);
    const dlh_shape *pred = &setup->prediction;
    int64_t n = dlh_shape_numel(pred);
    st->c = pred->ndim > 0 ? pred->dim[0] : 1;
    st->s = st->c > 0 ? n / st->c : 0;
    if (n < 1 || n > INT_MAX / 4)
        return host->param_error(p, NULL, "%lld values per sample is out of range (1..%d)",
                                 (long long)n, INT_MAX / 4);
    if (setup->target_kind == DLH_TARGET_CLASS) {
        if (pred->ndim != 1)
            return host->param_error(p, NULL, "class targets need one value per class (a "
                                     "per-sample shape [classes]), but the model's output "
                                     "has %d dimensions; give a spatial output dense "
                                     "masks of its shape", (int)pred->ndim);
        st->cls = st->c == 1 ? 2 : 1;
        if (st->cls == 1 && (rc = losses_cls_create(host, setup, NULL, &st->lc)) < 0)
            return rc;
    } else if (setup->target_kind != DLH_TARGET_DENSE) {
        return host->param_error(p, NULL, "needs class-index or dense targets (target "
                                 "kind %d)", (int)setup->target_kind);
    }
    if (st->act == DICE_AUTO)
        st->act = st->cls == 1 ? DICE_SOFTMAX : DICE_SIGMOID;
    if (st->act == DICE_SOFTMAX && st->c < 2)
        return host->param_error(p, "activation", "softmax over %lld channel is 1 "
                                 "everywhere; use \"sigmoid\" for one channel",
                                 (long long)st->c);
    st->sum = reduction == LOSSES_SUM;
    st->sc[0] = (float)smooth;
    st->sc[1] = (float)(1.0 / (double)st->c);
    st->arrays = st->cls ? 4 : 3;

    /* y, and for class targets ok: the count that adds up to 1 per sample
       when the label is valid. */
    const char *y = st->cls == 1 ? "y = t == cls;\n"
                  : st->cls == 2 ? "y = t == 1;\n" : "y = t;\n";
    const char *tin = st->cls == 1 ? "t, cls" : "t";
    const char *act = st->act == DICE_SIGMOID ? "sigmoid(x)" : "x";
    char elems[384], chan[384], grad[384];
    snprintf(elems, sizeof elems, "in x, %s; out i, q, yy%s;\n%s"
             "pr = %s;\n"
             "i = pr*y;\n"
             "q = pr;\n"
             "yy = y;\n%s", tin, st->cls ? ", ok" : "", y, act,
             st->cls == 1 ? "ok = y;\n" : st->cls == 2 ? "ok = (t == 0) + (t == 1);\n" : "");
    snprintf(chan, sizeof chan, "in i, q, yy, om; out e, a, bb; scalar smooth, ic, k;\n"
             "kk = q + yy + smooth;\n"
             "dc = (2*i + smooth)/kk;\n"
             "e = (1 - dc)*ic;\n"
             "g = k*om*ic/kk;\n"
             "a = g*dc;\n"
             "bb = 2*g;\n");
    /* d = dl/dp = a - bb y, then through the activation (softmax: its
       product with p, for the second pass). */
    snprintf(grad, sizeof grad, "in pr, %s, a, bb; out d;\n%s"
             "gp = a - bb*y;\n"
             "d = %s;\n", tin, y,
             st->act == DICE_SIGMOID ? "gp*pr*(1 - pr)" : st->act == DICE_NONE ? "gp"
                                                                              : "pr*gp");
    int64_t c = st->c, s = st->s;
    if ((rc = setup->add_scratch(setup, st->arrays * n, 0, &st->elem_index)) < 0 ||
        (rc = setup->add_scratch(setup, 3 * c, 0, &st->nc_index)) < 0 ||
        (rc = setup->add_scratch(setup, 1, 2, &st->rows_index)) < 0 ||
        (s > 1 && (rc = setup->add_scratch(setup, st->arrays * c, 0, &st->sums_index)) < 0) ||
        (rc = host->ew_compile(st->be, elems, &st->elems)) < 0 ||
        (rc = host->ew_compile(st->be, chan, &st->chan)) < 0 ||
        (rc = host->ew_compile(st->be, grad, &st->grad)) < 0 ||
        (rc = host->ew_compile(st->be, LOSSES_WEIGH, &st->weigh)) < 0 ||
        (rc = losses_one_alloc(st->be, &st->one)) < 0)
        return rc;
    if (st->act != DICE_SOFTMAX)
        return 0;
    if ((rc = setup->add_scratch(setup, n, 0, &st->p_index)) < 0 ||
        (rc = setup->add_scratch(setup, s, 0, &st->r_index)) < 0 ||
        (s > 1 && (rc = setup->add_scratch(setup, n, 0, &st->pt_index)) < 0) ||
        (rc = host->ew_compile(st->be, "in q, p, r; out d;\n"
                               "d = q - p*r;\n", &st->soft_grad)) < 0)
        return rc;
    if (s == 1)
        return 0;
    size_t bytes = (size_t)(c * c) * sizeof(float);
    float *eye = calloc((size_t)(c * c), sizeof *eye);
    if (!eye) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    for (int64_t k = 0; k < c; k++)
        eye[k * c + k] = 1.0f;
    rc = st->be->ops->alloc(st->be->ctx, bytes, &st->eye);
    if (rc == 0)
        rc = st->be->ops->write(st->be->ctx, st->eye, 0, eye, bytes);
    free(eye);
    return rc;
}

static int dice_forward(void *state, const dlh_loss_ctx *ctx, const dlh_tensor *prediction,
                        const dlh_tensor *target, float *loss,
                        const dlh_tensor *d_prediction)
{
    const dice_state *st = state;
    const dlh_backend *be = ctx->backend;
    int64_t per = st->c * st->s, n64 = ctx->batch * per, nt = st->cls ? ctx->batch : n64;
    if (ctx->batch < 1 || n64 > INT_MAX / 4 || dlh_tensor_numel(prediction) != n64 ||
        dlh_tensor_numel(target) != nt ||
        (d_prediction && dlh_tensor_numel(d_prediction) != n64)) {
        losses_host->error("dice: expected %lld values (%lld samples of %lld) and %lld "
                           "targets, got %lld and %lld", (long long)n64,
                           (long long)ctx->batch, (long long)per, (long long)nt,
                           (long long)dlh_tensor_numel(prediction),
                           (long long)dlh_tensor_numel(target));
        return DLH_ESHAPE;
    }
    const dlh_tensor *omega;
    int rc = losses_sample_weights("dice", ctx, &omega);
    if (rc < 0)
        return rc;
    size_t b = (size_t)ctx->batch, n = (size_t)n64, c = (size_t)st->c, s = (size_t)st->s;
    size_t nc = b * c;
    int arrays = st->arrays;
    dlh_mem elem = ctx->scratch[st->elem_index].mem;
    dlh_mem sums = s > 1 ? ctx->scratch[st->sums_index].mem : elem;
    dlh_mem chan = ctx->scratch[st->nc_index].mem;
    dlh_mem rows = ctx->scratch[st->rows_index].mem;
    dlh_mem totals = dlh_mem_at(rows, b), no_idx = { NULL, 0 };
    dlh_mem x = prediction->mem, p = x, pt = { NULL, 0 };
    /* Softmax over the channels: rows of C, transposed when S > 1. */
    if (st->act == DICE_SOFTMAX) {
        p = ctx->scratch[st->p_index].mem;
        if (s == 1) {
            rc = be->ops->softmax(be->ctx, 0, (int)b, (int)c, x, p);
        } else {
            pt = ctx->scratch[st->pt_index].mem;
            if ((rc = dice_transpose(st, ctx->batch, 1, x, pt)) == 0 &&
                (rc = be->ops->softmax(be->ctx, 0, (int)(b * s), (int)c, pt, pt)) == 0)
                rc = dice_transpose(st, ctx->batch, 0, pt, p);
        }
        if (rc < 0)
            return rc;
    }
    dlh_ew_arg t_arg = st->cls ? (dlh_ew_arg){ target->mem, b, c } : dlh_ew_full(target->mem, n);
    dlh_ew_arg ea[7];
    int na = 0;
    ea[na++] = dlh_ew_full(p, n);
    ea[na++] = t_arg;
    if (st->cls == 1)
        ea[na++] = losses_cls_index(&st->lc);
    for (int i = 0; i < arrays; i++)
        ea[na++] = dlh_ew_full(dlh_mem_at(elem, (size_t)i * n), n);
    double den = st->sum ? 1.0 : (double)ctx->batch;
    float sc[3] = { st->sc[0], st->sc[1], (float)(1.0 / den) };
    dlh_ew_arg ca[7] = {
        dlh_ew_full(sums, nc), dlh_ew_full(dlh_mem_at(sums, nc), nc),
        dlh_ew_full(dlh_mem_at(sums, 2 * nc), nc),
        losses_omega_arg(omega, (dlh_mem){ st->one, 0 }, b, c),
        dlh_ew_full(chan, nc), dlh_ew_full(dlh_mem_at(chan, nc), nc),
        dlh_ew_full(dlh_mem_at(chan, 2 * nc), nc),
    };
    float tot[2] = { 0, 0 };
    if ((rc = losses_host->ew_run(st->elems, n, ea, NULL)) < 0 ||
        (s > 1 && (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, arrays * (int)nc, (int)s,
                                        elem, sums, no_idx)) < 0) ||
        (rc = losses_host->ew_run(st->chan, nc, ca, sc)) < 0 ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, (int)b, (int)c, chan, rows,
                              no_idx)) < 0 ||
        (omega && (rc = losses_weigh(st->weigh, ctx->batch, rows, omega)) < 0) ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 1, (int)b, rows, totals,
                              no_idx)) < 0 ||
        (st->cls &&
         (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 1, (int)nc,
                               dlh_mem_at(sums, 3 * nc), dlh_mem_at(totals, 1), no_idx)) < 0) ||
        (rc = be->ops->read(be->ctx, totals.buf, totals.off * sizeof(float), tot,
                            sizeof tot)) < 0)
        return rc;
    if (st->cls && tot[1] != (float)b) {
        if (st->cls == 1)
            return losses_bad_class("dice", be, target, ctx->batch, st->c, NAN);
        return losses_bad_class("dice", be, target, ctx->batch, 2, NAN);
    }
    if (d_prediction) {
        /* d = a - bb y per value (a, bb per channel: stride S), through the
           activation; softmax then subtracts p sum_c p_c d_c per position. */
        dlh_mem q = st->act == DICE_SOFTMAX ? elem : d_prediction->mem;
        dlh_ew_arg ga[6];
        na = 0;
        ga[na++] = dlh_ew_full(st->act == DICE_SIGMOID ? dlh_mem_at(elem, n) : p, n);
        ga[na++] = t_arg;
        if (st->cls == 1)
            ga[na++] = losses_cls_index(&st->lc);
        ga[na++] = (dlh_ew_arg){ dlh_mem_at(chan, nc), nc, s };
        ga[na++] = (dlh_ew_arg){ dlh_mem_at(chan, 2 * nc), nc, s };
        ga[na++] = dlh_ew_full(q, n);
        if ((rc = losses_host->ew_run(st->grad, n, ga, NULL)) < 0)
            return rc;
        if (st->act == DICE_SOFTMAX) {
            dlh_mem r = ctx->scratch[st->r_index].mem;
            dlh_mem qt = s > 1 ? dlh_mem_at(elem, 2 * n) : q;
            dlh_mem dt = s > 1 ? dlh_mem_at(elem, n) : d_prediction->mem;
            dlh_ew_arg sa[4] = {
                dlh_ew_full(qt, n), dlh_ew_full(s > 1 ? pt : p, n), { r, b * s, c },
                dlh_ew_full(dt, n),
            };
            if ((s > 1 && (rc = dice_transpose(st, ctx->batch, 1, q, qt)) < 0) ||
                (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, (int)(b * s), (int)c, qt,
                                      r, no_idx)) < 0 ||
                (rc = losses_host->ew_run(st->soft_grad, n, sa, NULL)) < 0 ||
                (s > 1 && (rc = dice_transpose(st, ctx->batch, 0, dt,
                                               d_prediction->mem)) < 0))
                return rc;
        }
    }
    *loss = st->sum ? tot[0] : (float)((double)tot[0] / den);
    return 0;
}

static void dice_destroy(void *state)
{
    dice_state *st = state;
    if (!st)
        return;
    losses_host->ew_free(st->elems);
    losses_host->ew_free(st->chan);
    losses_host->ew_free(st->grad);
    losses_host->ew_free(st->soft_grad);
    losses_host->ew_free(st->weigh);
    losses_cls_destroy(st->be, &st->lc);
    if (st->eye)
        st->be->ops->free(st->be->ctx, st->eye);
    if (st->one)
        st->be->ops->free(st->be->ctx, st->one);
    free(st);
}

const dlh_loss_ops dice_ops = {
    .struct_size = sizeof(dlh_loss_ops),
    .create = dice_create,
    .forward = dice_forward,
    .destroy = dice_destroy,
    .flags = DLH_LOSS_SAMPLE_WEIGHTS,
    .output = DLH_LOSS_OUTPUT_LOGITS,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc dice_params[] = {
    { "smooth", DLH_PARAM_FLOAT, "1.0", 0.0, DLH_PARAM_NO_MAX, NULL, "added to the numerator and denominator of each channel's Dice" },
    { "activation", DLH_PARAM_CHOICE, "auto", 0, 0, "auto|softmax|sigmoid|none", "probabilities from the output: auto is softmax for class targets, sigmoid for dense" },
    LOSSES_REDUCTION_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
