/* multi_margin: nn.MultiMarginLoss (torch.nn.functional.multi_margin_loss),
 * the multi-class hinge, on scores x of per-sample shape [C] and
 * class-index targets y, with `p` (1 or 2, default 1), `margin` (default
 * 1.0) and optional class `weights` w, as torch 1.13's
 * multi_margin_loss_cpu (aten/src/ATen/native/LossMultiMargin.cpp), which
 * weights the powered term (its documentation puts w inside the power):
 *
 *   z_c = margin - x[y] + x[c]
 *   l_n = sum_{c != y} [z_c > 0] w[y] z_c^p / C
 *   d x[n,c] = [z_c > 0] w[y] p z_c^(p-1) / C  (c != y),   d x[n,y] = -sum of those
 *
 * "mean" divides sum_n l_n by the batch, "sum" does not.  A target outside
 * [0, C) stops the step with torch's "Target 5 is out of bounds.".  Sample
 * weights omega_n multiply l_n and its gradient (loss.h). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "losses.h"

typedef struct mm_state {
    const dlh_backend *be;
    int sum;
    float sc[2];                /* margin, 1/C */
    losses_cls cls;
    int parts_index;            /* scratch: 3 parts of [batch, C] */
    int sums_index;             /* scratch: 3 x [batch] row sums, then totals */
    dlh_ew_kernel *pick;        /* x[y] and w[y] as one-hot parts, and the counts */
    dlh_ew_kernel *terms;       /* the hinge terms e and their slopes s */
    dlh_ew_kernel *grad;
    dlh_ew_kernel *weigh;
} mm_state;

static int mm_create(const dlh_host *host, dlh_loss_setup *setup, void **state)
{
    mm_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    st->be = setup->backend;
    const int64_t one = 1;
    int64_t p;
    double margin;
    int rc, reduction;
    if ((rc = losses_reduction(host, setup->params, 0, &reduction)) < 0 ||
        (rc = host->param_int(setup->params, "p", &one, INT64_MIN, INT64_MAX, &p)) < 0 ||
        (rc = losses_param_real(host, setup->params, "margin", 1.0, &margin)) < 0)
        return rc;
    if (p != 1 && p != 2)
        return host->param_error(setup->params, "p", "only p == 1 and p == 2 supported");
    if ((rc = losses_cls_create(host, setup, "weights", &st->cls)) < 0)
        return rc;
    st->sum = reduction == LOSSES_SUM;
    st->sc[0] = (float)margin;
    st->sc[1] = (float)(1.0 / (double)st->cls.classes);
    char terms[320];
    snprintf(terms, sizeof terms, "in x, t, cls, xy, wy; out e, s; scalar margin, ic;\n"
             "z = margin - xy + x;\n"
             "a = (t != cls)*(z > 0);\n"
             "e = a*%s*wy*ic;\n"
             "s = a*wy*%s*ic;\n", p == 1 ? "z" : "(z*z)", p == 1 ? "1" : "2*z");
    int64_t c = st->cls.classes;
    if ((rc = setup->add_scratch(setup, 3 * c, 0, &st->parts_index)) < 0 ||
        (rc = setup->add_scratch(setup, 3, 3, &st->sums_index)) < 0 ||
        (rc = host->ew_compile(st->be, "in x, t, cls, w; out xs, ws, oh;\n"
                               "h = t == cls;\n"
                               "xs = h*x;\n"
                               "ws = h*w;\n"
                               "oh = h;\n", &st->pick)) < 0 ||
        (rc = host->ew_compile(st->be, terms, &st->terms)) < 0 ||
        (rc = host->ew_compile(st->be, "in t, cls, s, ss, om; out d; scalar k;\n"
                               "d = k*om*select(t == cls, -ss, s);\n", &st->grad)) < 0 ||
        (rc = host->ew_compile(st->be, LOSSES_WEIGH, &st->weigh)) < 0)
        return rc;
    return 0;
}

static int mm_forward(void *state, const dlh_loss_ctx *ctx, const dlh_tensor *prediction,
                      const dlh_tensor *target, float *loss, const dlh_tensor *d_prediction)
{
    const mm_state *st = state;
    const dlh_backend *be = ctx->backend;
    int64_t c64 = st->cls.classes, n64 = ctx->batch * c64;
    if (ctx->batch < 1 || ctx->batch > INT_MAX / 3 || dlh_tensor_numel(prediction) != n64 ||
        dlh_tensor_numel(target) != ctx->batch ||
        (d_prediction && dlh_tensor_numel(d_prediction) != n64)) {
        losses_host->error("multi_margin: expected %lld scores (%lld samples of %lld "
                           "classes) and %lld targets, got %lld and %lld", (long long)n64,
                           (long long)ctx->batch, (long long)c64, (long long)ctx->batch,
                           (long long)dlh_tensor_numel(prediction),
                           (long long)dlh_tensor_numel(target));
        return DLH_ESHAPE;
    }
    const dlh_tensor *omega;
    int rc = losses_sample_weights("multi_margin", ctx, &omega);
    if (rc < 0)
        return rc;
    size_t b = (size_t)ctx->batch, c = (size_t)c64, n = (size_t)n64;
    dlh_mem parts = ctx->scratch[st->parts_index].mem;
    dlh_mem sums = ctx->scratch[st->sums_index].mem;
    dlh_mem totals = dlh_mem_at(sums, 3 * b), no_idx = { NULL, 0 };
    dlh_ew_arg t_arg = { target->mem, b, c };
    dlh_ew_arg pick[7] = {
        dlh_ew_full(prediction->mem, n), t_arg, losses_cls_index(&st->cls),
        losses_cls_weight(&st->cls), dlh_ew_full(parts, n),
        dlh_ew_full(dlh_mem_at(parts, n), n), dlh_ew_full(dlh_mem_at(parts, 2 * n), n),
    };
    float count;
    /* x[y], w[y] and the one-hot count of each row, then the hinge terms
       and slopes in place of the first two parts. */
    if ((rc = losses_host->ew_run(st->pick, n, pick, NULL)) < 0 ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 3 * (int)b, (int)c, parts, sums,
                              no_idx)) < 0 ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 1, (int)b,
                              dlh_mem_at(sums, 2 * b), totals, no_idx)) < 0 ||
        (rc = be->ops->read(be->ctx, totals.buf, totals.off * sizeof(float), &count,
                            sizeof count)) < 0)
        return rc;
    if (count != (float)b)
        return losses_bad_class("multi_margin", be, target, ctx->batch, c64, NAN);
    dlh_ew_arg terms[7] = {
        dlh_ew_full(prediction->mem, n), t_arg, losses_cls_index(&st->cls),
        { sums, b, c }, { dlh_mem_at(sums, b), b, c }, dlh_ew_full(parts, n),
        dlh_ew_full(dlh_mem_at(parts, n), n),
    };
    float tot;
    /* Row sums of e (times omega) and s: the slopes' sum goes to x[y]. */
    if ((rc = losses_host->ew_run(st->terms, n, terms, st->sc)) < 0 ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 2 * (int)b, (int)c, parts, sums,
                              no_idx)) < 0 ||
        (omega && (rc = losses_weigh(st->weigh, ctx->batch, sums, omega)) < 0) ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 1, (int)b, sums, totals,
                              no_idx)) < 0 ||
        (rc = be->ops->read(be->ctx, totals.buf, totals.off * sizeof(float), &tot,
                            sizeof tot)) < 0)
        return rc;
    if (d_prediction) {
        float k = st->sum ? 1.0f : (float)(1.0 / (double)b);
        dlh_ew_arg g[6] = {
            t_arg, losses_cls_index(&st->cls), dlh_ew_full(dlh_mem_at(parts, n), n),
            { dlh_mem_at(sums, b), b, c },
            losses_omega_arg(omega, losses_cls_one(&st->cls), b, c),
            dlh_ew_full(d_prediction->mem, n),
        };
        if ((rc = losses_host->ew_run(st->grad, n, g, &k)) < 0)
            return rc;
    }
    *loss = st->sum ? tot : (float)((double)tot / (double)b);
    return 0;
}

static void mm_destroy(void *state)
{
    mm_state *st = state;
    if (!st)
        return;
    losses_host->ew_free(st->pick);
    losses_host->ew_free(st->terms);
    losses_host->ew_free(st->grad);
    losses_host->ew_free(st->weigh);
    losses_cls_destroy(st->be, &st->cls);
    free(st);
}

const dlh_loss_ops multi_margin_ops = {
    .struct_size = sizeof(dlh_loss_ops),
    .create = mm_create,
    .forward = mm_forward,
    .destroy = mm_destroy,
    .flags = DLH_LOSS_SAMPLE_WEIGHTS,
    .output = DLH_LOSS_OUTPUT_LOGITS,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc multi_margin_params[] = {
    { "p", DLH_PARAM_INT, "1", 1, 2, NULL, "1 (hinge) or 2 (squared hinge)" },
    { "margin", DLH_PARAM_FLOAT, "1.0", DLH_PARAM_NO_MIN, DLH_PARAM_NO_MAX, NULL, "the margin the target's score must win by" },
    { "weights", DLH_PARAM_FLOATS, "", 0, 0, NULL, "one weight per class, each >= 0, applied by the target's class" },
    LOSSES_REDUCTION_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
