/* focal: the focal loss of Lin et al. (2017), in two forms chosen by the
 * targets.
 *
 * Binary (dense targets t of the prediction's shape, or class labels 0/1
 * for a model with one logit per sample): torchvision 0.14's
 * ops.sigmoid_focal_loss on logits x, with `gamma` (default 2.0, >= 0) and
 * `alpha` (default 0.25; in [0, 1], or -1 for none):
 *
 *   p = sigmoid(x),  ce = max(x, 0) - x t + log(1 + exp(-|x|))   (bce_with_logits)
 *   p_t = p t + (1 - p)(1 - t),  a_t = alpha t + (1 - alpha)(1 - t)  (1 without alpha)
 *   e = a_t ce (1 - p_t)^gamma
 *   de/dx = a_t ((p - t)(1 - p_t)^gamma
 *                - ce gamma (1 - p_t)^(gamma - 1) (2t - 1) p (1 - p))
 *
 * "mean" divides the sum by the number of elements, as torchvision's
 * loss.mean(); "sum" does not.
 *
 * Multi-class (class-index targets y over per-sample [C] logits, C >= 2):
 * the softmax form, which torch does not have, so its reference values
 * are this formula written with torch ops (tests/ref/losses_torch.py):
 *
 *   lp = log_softmax(x),  p_y = exp(lp[y])
 *   l_n = -a[y] (1 - p_y)^gamma lp[y]
 *   d x[n,c] = F_n (softmax[c] - [c == y]),
 *   F_n = a[y] ((1 - p_y)^gamma - gamma p_y (1 - p_y)^(gamma - 1) lp[y])
 *
 * with `alpha` a[c] one value per class, or one value for every class, or
 * absent (all 1, the default here); gamma = 0 without alpha is
 * cross_entropy.  "mean" divides sum_n l_n by the batch (not by the alpha
 * of the targets), "sum" does not.  A target outside [0, C) stops the step
 * with torch's "Target 5 is out of bounds.".
 *
 * Sample weights omega_n multiply each sample's loss and its gradient
 * (loss.h). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "losses.h"

typedef struct focal_state {
    losses_ew bin;              /* the binary form (bin.be set) */
    const dlh_backend *be;      /* the multi-class form: */
    int sum;
    float gamma;
    losses_cls cls;             /* alpha as the class weights */
    int lp_index;               /* scratch: log-softmax, C per sample */
    int parts_index;            /* scratch: 2 parts of [batch, C] */
    int sums_index;             /* scratch: lp[y], a[y], count, e, F per sample; totals */
    dlh_ew_kernel *pick, *rows, *grad, *weigh;
} focal_state;

static int focal_binary(const dlh_host *host, dlh_loss_setup *setup, focal_state *st,
                        int reduction, double gamma)
{
    dlh_params *p = setup->params;
    float alpha[2];
    size_t n = 0;
    int rc = host->param_floats(p, "alpha", alpha, 2, &n);
    if (rc == DLH_ECONFIG && host->param_has(p, "alpha"))
        return host->param_error(p, "alpha", "the binary focal loss takes one alpha, in "
                                 "[0, 1] or -1 (none)");
    if (rc < 0)
        return rc;
    if (n == 0 && host->param_has(p, "alpha"))
        return host->param_error(p, "alpha", "expected one value, got an empty list");
    if (n > 1)
        return host->param_error(p, "alpha", "the binary focal loss takes one alpha, in "
                                 "[0, 1] or -1 (none), got %zu values", n);
    double a = n ? alpha[0] : 0.25;
    if (!(a == -1.0 || (a >= 0 && a <= 1)))
        return host->param_error(p, "alpha", "alpha is %g; it must lie in [0, 1], or be -1 "
                                 "for none (torchvision's range)", a);
    st->bin.reduction = reduction;
    st->bin.class_ok = 1;
    const float sc[2] = { (float)gamma, (float)a };
    char body[512];
    snprintf(body, sizeof body,
             "p = sigmoid(x);\n"
             "ce = max(x, 0) - x*t + log(1 + exp(-abs(x)));\n"
             "pt = p*t + (1 - p)*(1 - t);\n"
             "m = 1 - pt;\n"
             "at = %s;\n"
             "e = at*ce*pow(m, gamma);\n",
             a < 0 ? "1" : "alpha*t + (1 - alpha)*(1 - t)");
    return losses_ew_create(host, setup, &st->bin, "focal", "gamma, alpha", sc, 2, body,
                            "q = select(gamma > 0, gamma*pow(m, gamma - 1), 0);\n"
                            "g = at*((p - t)*pow(m, gamma) - ce*q*(2*t - 1)*p*(1 - p));\n",
                            NULL);
}

/* alpha of the multi-class form: one per class, or one for all; into the
   class weights of st->cls. */
static int focal_class_alpha(const dlh_host *host, dlh_params *p, focal_state *st)
{
    int64_t c = st->cls.classes;
    float *a = malloc((size_t)c * sizeof *a);
    if (!a) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    size_t n = 0;
    int rc = host->param_floats(p, "alpha", a, (size_t)c, &n);
    if (rc == 0 && n == 0 && host->param_has(p, "alpha"))
        rc = host->param_error(p, "alpha", "expected one alpha per class (%lld) or one "
                               "for all, got an empty list", (long long)c);
    if (rc == 0 && n > 1 && (int64_t)n != c)
        rc = host->param_error(p, "alpha", "expected one alpha per class (%lld) or one "
                               "for all, got %zu", (long long)c, n);
    for (size_t k = 0; rc == 0 && k < n; k++)
        if (!isfinite(a[k]) || a[k] < 0)
            rc = host->param_error(p, "alpha", "alpha %zu is %g; it must be finite and "
                                   ">= 0", k, (double)a[k]);
    for (int64_t k = 1; rc == 0 && n == 1 && k < c; k++)
        a[k] = a[0];
    if (rc == 0 && n > 0)
        rc = st->be->ops->write(st->be->ctx, st->cls.consts, (size_t)c * sizeof(float), a,
                                (size_t)c * sizeof(float));
    free(a);
    return rc;
}

static int focal_create(const dlh_host *host, dlh_loss_setup *setup, void **state)
{
    focal_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    st->be = setup->backend;
    int rc, reduction;
    double gamma;
    if ((rc = losses_reduction(host, setup->params, 0, &reduction)) < 0 ||
        (rc = losses_param_real(host, setup->params, "gamma", 2.0, &gamma)) < 0)
        return rc;
    if (gamma < 0)
        return host->param_error(setup->params, "gamma", "gamma is %g; it must be >= 0",
                                 gamma);
    if (setup->target_kind == DLH_TARGET_DENSE || dlh_shape_numel(&setup->prediction) == 1)
        return focal_binary(host, setup, st, reduction, gamma);

    /* The multi-class form: alpha as the class weights. */
    if ((rc = losses_cls_create(host, setup, NULL, &st->cls)) < 0 ||
        (rc = focal_class_alpha(host, setup->params, st)) < 0)
        return rc;
    int64_t c = st->cls.classes;
    st->sum = reduction == LOSSES_SUM;
    st->gamma = (float)gamma;
    if ((rc = setup->add_scratch(setup, c, 0, &st->lp_index)) < 0 ||
        (rc = setup->add_scratch(setup, 3 * c, 0, &st->parts_index)) < 0 ||
        (rc = setup->add_scratch(setup, 5, 2, &st->sums_index)) < 0 ||
        (rc = host->ew_compile(st->be, "in lp, t, cls, w; out lps, ws, oh;\n"
                               "h = t == cls;\n"
                               "lps = h*lp;\n"
                               "ws = h*w;\n"
                               "oh = h;\n", &st->pick)) < 0 ||
        (rc = host->ew_compile(st->be, "in lpy, ay; out e, f; scalar gamma;\n"
                               "py = exp(lpy);\n"
                               "m = 1 - py;\n"
                               "mg = pow(m, gamma);\n"
                               "q = select(gamma > 0, gamma*pow(m, gamma - 1), 0);\n"
                               "e = -ay*mg*lpy;\n"
                               "f = ay*(mg - q*py*lpy);\n", &st->rows)) < 0 ||
        (rc = host->ew_compile(st->be, "in lp, t, cls, f, om; out d; scalar k;\n"
                               "d = k*om*f*(exp(lp) - (t == cls));\n", &st->grad)) < 0 ||
        (rc = host->ew_compile(st->be, LOSSES_WEIGH, &st->weigh)) < 0)
        return rc;
    return 0;
}

static int focal_forward(void *state, const dlh_loss_ctx *ctx, const dlh_tensor *prediction,
                         const dlh_tensor *target, float *loss,
                         const dlh_tensor *d_prediction)
{
    const focal_state *st = state;
    if (st->bin.be)
        return losses_ew_forward(&st->bin, ctx, prediction, target, loss, d_prediction);
    const dlh_backend *be = ctx->backend;
    int64_t c64 = st->cls.classes, n64 = ctx->batch * c64;
    if (ctx->batch < 1 || ctx->batch > INT_MAX / 3 || dlh_tensor_numel(prediction) != n64 ||
        dlh_tensor_numel(target) != ctx->batch ||
        (d_prediction && dlh_tensor_numel(d_prediction) != n64)) {
        losses_host->error("focal: expected %lld logits (%lld samples of %lld classes) and "
                           "%lld targets, got %lld and %lld", (long long)n64,
                           (long long)ctx->batch, (long long)c64, (long long)ctx->batch,
                           (long long)dlh_tensor_numel(prediction),
                           (long long)dlh_tensor_numel(target));
        return DLH_ESHAPE;
    }
    const dlh_tensor *omega;
    int rc = losses_sample_weights("focal", ctx, &omega);
    if (rc < 0)
        return rc;
    size_t b = (size_t)ctx->batch, c = (size_t)c64, n = (size_t)n64;
    dlh_mem lp = ctx->scratch[st->lp_index].mem;
    dlh_mem parts = ctx->scratch[st->parts_index].mem;
    dlh_mem sums = ctx->scratch[st->sums_index].mem;
    dlh_mem e = dlh_mem_at(sums, 3 * b), f = dlh_mem_at(sums, 4 * b);
    dlh_mem totals = dlh_mem_at(sums, 5 * b), no_idx = { NULL, 0 };
    dlh_ew_arg t_arg = { target->mem, b, c };
    dlh_ew_arg pick[7] = {
        dlh_ew_full(lp, n), t_arg, losses_cls_index(&st->cls), losses_cls_weight(&st->cls),
        dlh_ew_full(parts, n), dlh_ew_full(dlh_mem_at(parts, n), n),
        dlh_ew_full(dlh_mem_at(parts, 2 * n), n),
    };
    dlh_ew_arg rows[4] = {
        dlh_ew_full(sums, b), dlh_ew_full(dlh_mem_at(sums, b), b), dlh_ew_full(e, b),
        dlh_ew_full(f, b),
    };
    float tot[2];
    /* lp[y], a[y] and the one-hot count per row; then e and F per sample. */
    if ((rc = be->ops->softmax(be->ctx, 1, (int)b, (int)c, prediction->mem, lp)) < 0 ||
        (rc = losses_host->ew_run(st->pick, n, pick, NULL)) < 0 ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 3 * (int)b, (int)c, parts, sums,
                              no_idx)) < 0 ||
        (rc = losses_host->ew_run(st->rows, b, rows, &st->gamma)) < 0 ||
        (omega && (rc = losses_weigh(st->weigh, ctx->batch, e, omega)) < 0) ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 2, (int)b,
                              dlh_mem_at(sums, 2 * b), totals, no_idx)) < 0 ||
        (rc = be->ops->read(be->ctx, totals.buf, totals.off * sizeof(float), tot,
                            sizeof tot)) < 0)
        return rc;
    if (tot[0] != (float)b)
        return losses_bad_class("focal", be, target, ctx->batch, c64, NAN);
    if (d_prediction) {
        float k = st->sum ? 1.0f : (float)(1.0 / (double)b);
        dlh_ew_arg g[6] = {
            dlh_ew_full(lp, n), t_arg, losses_cls_index(&st->cls), { f, b, c },
            losses_omega_arg(omega, losses_cls_one(&st->cls), b, c),
            dlh_ew_full(d_prediction->mem, n),
        };
        if ((rc = losses_host->ew_run(st->grad, n, g, &k)) < 0)
            return rc;
    }
    *loss = st->sum ? tot[1] : (float)((double)tot[1] / (double)b);
    return 0;
}

static void focal_destroy(void *state)
{
    focal_state *st = state;
    if (!st)
        return;
    if (st->bin.be)
        losses_ew_destroy(&st->bin);
    losses_host->ew_free(st->pick);
    losses_host->ew_free(st->rows);
    losses_host->ew_free(st->grad);
    losses_host->ew_free(st->weigh);
    losses_cls_destroy(st->be, &st->cls);
    free(st);
}

const dlh_loss_ops focal_ops = {
    .struct_size = sizeof(dlh_loss_ops),
    .create = focal_create,
    .forward = focal_forward,
    .destroy = focal_destroy,
    .flags = DLH_LOSS_SAMPLE_WEIGHTS,
    .output = DLH_LOSS_OUTPUT_LOGITS,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc focal_params[] = {
    { "gamma", DLH_PARAM_FLOAT, "2.0", 0.0, DLH_PARAM_NO_MAX, NULL, "focusing exponent on (1 - p_t), >= 0" },
    { "alpha", DLH_PARAM_FLOATS, "", 0, 0, NULL, "binary: one value in [0, 1], or -1 for none (unset: 0.25); multi-class: one per class or one for all (unset: none)" },
    LOSSES_REDUCTION_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
