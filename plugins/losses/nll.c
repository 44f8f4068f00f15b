/* nll: nn.NLLLoss (torch.nn.functional.nll_loss) on log-probabilities x of
 * per-sample shape [C] (a log_softmax layer's output) and class-index
 * targets y, with optional class `weights` w and `ignore_index` (default
 * -100), as torch 1.13's nll_loss (aten/src/ATen/native/LossNLL.cpp):
 *
 *   m_n = [y_n != ignore_index]
 *   l_n = -m_n w[y_n] x[n, y_n]
 *   mean = sum_n l_n / W,  W = sum_n m_n w[y_n]   (the count kept, unweighted)
 *   d x[n,c] = -m_n w[c] [c == y_n] / W          (no / W for "sum")
 *
 * Every sample ignored: the mean is NaN (0/0) and the gradient 0, as
 * torch's.  A target that is neither a class in [0, C) nor ignore_index
 * stops the step with torch's "Target 5 is out of bounds.".
 *
 * Sample weights omega_n multiply l_n and its gradient; W keeps no omega
 * (loss.h), as cross_entropy's class-target mean. */
#include <limits.h>
#include <stdlib.h>

#include "losses.h"

/* Targets are floats: an ignore_index beyond 2^24 could not be told from
   its neighbours. */
#define NLL_IGNORE_MAX (1 << 24)

typedef struct nll_state {
    const dlh_backend *be;
    int sum;
    float ignore;
    losses_cls cls;
    int parts_index;            /* scratch: e, wy, oh per element */
    int sums_index;             /* scratch: their row sums, then the totals */
    dlh_ew_kernel *terms, *grad, *weigh;
} nll_state;

static int nll_create(const dlh_host *host, dlh_loss_setup *setup, void **state)
{
    nll_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    st->be = setup->backend;
    const int64_t def = -100;
    int64_t ign;
    int rc, reduction;
    if ((rc = losses_reduction(host, setup->params, 0, &reduction)) < 0 ||
        (rc = losses_cls_create(host, setup, "weights", &st->cls)) < 0 ||
        (rc = host->param_int(setup->params, "ignore_index", &def, -NLL_IGNORE_MAX,
                              NLL_IGNORE_MAX, &ign)) < 0)
        return rc;
    st->sum = reduction == LOSSES_SUM;
    st->ignore = (float)ign;
    int64_t c = st->cls.classes;
    if ((rc = setup->add_scratch(setup, 3 * c, 0, &st->parts_index)) < 0 ||
        (rc = setup->add_scratch(setup, 3, 3, &st->sums_index)) < 0 ||
        (rc = host->ew_compile(st->be, "in x, t, cls, w; out e, wy, oh; scalar ign;\n"
                               "m = t != ign;\n"
                               "h = t == cls;\n"
                               "oh = select(m, h, cls == 0);\n"
                               "wy = w*h*m;\n"
                               "e = -x*wy;\n", &st->terms)) < 0 ||
        (rc = host->ew_compile(st->be, "in t, cls, w, om, den; out d; scalar ign;\n"
                               "d = select(t != ign, -(t == cls)*w*om/den, 0);\n",
                               &st->grad)) < 0 ||
        (rc = host->ew_compile(st->be, LOSSES_WEIGH, &st->weigh)) < 0)
        return rc;
    return 0;
}

static int nll_forward(void *state, const dlh_loss_ctx *ctx, const dlh_tensor *prediction,
                       const dlh_tensor *target, float *loss,
                       const dlh_tensor *d_prediction)
{
    const nll_state *st = state;
    const dlh_backend *be = ctx->backend;
    int64_t c64 = st->cls.classes, n64 = ctx->batch * c64;
    if (ctx->batch < 1 || ctx->batch > INT_MAX / 3 || dlh_tensor_numel(prediction) != n64 ||
        dlh_tensor_numel(target) != ctx->batch ||
        (d_prediction && dlh_tensor_numel(d_prediction) != n64)) {
        losses_host->error("nll: expected %lld log-probabilities (%lld samples of %lld "
                           "classes) and %lld targets, got %lld and %lld", (long long)n64,
                           (long long)ctx->batch, (long long)c64, (long long)ctx->batch,
                           (long long)dlh_tensor_numel(prediction),
                           (long long)dlh_tensor_numel(target));
        return DLH_ESHAPE;
    }
    const dlh_tensor *omega;
    int rc = losses_sample_weights("nll", ctx, &omega);
    if (rc < 0)
        return rc;
    size_t b = (size_t)ctx->batch, c = (size_t)c64, n = (size_t)n64;
    dlh_mem parts = ctx->scratch[st->parts_index].mem;
    dlh_mem sums = ctx->scratch[st->sums_index].mem;
    dlh_mem totals = dlh_mem_at(sums, 3 * b), no_idx = { NULL, 0 };
    dlh_ew_arg t_arg = { target->mem, b, c };       /* target of row i / C */
    dlh_ew_arg args[7] = {
        dlh_ew_full(prediction->mem, n), t_arg, losses_cls_index(&st->cls),
        losses_cls_weight(&st->cls), dlh_ew_full(parts, n),
        dlh_ew_full(dlh_mem_at(parts, n), n), dlh_ew_full(dlh_mem_at(parts, 2 * n), n),
    };
    float tot[3];
    if ((rc = losses_host->ew_run(st->terms, n, args, &st->ignore)) < 0 ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 3 * (int)b, (int)c, parts, sums,
                              no_idx)) < 0 ||
        (omega && (rc = losses_weigh(st->weigh, ctx->batch, sums, omega)) < 0) ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 3, (int)b, sums, totals,
                              no_idx)) < 0 ||
        (rc = be->ops->read(be->ctx, totals.buf, totals.off * sizeof(float), tot,
                            sizeof tot)) < 0)
        return rc;
    if (tot[2] != (float)b)
        return losses_bad_class("nll", be, target, ctx->batch, c64, st->ignore);
    if (d_prediction) {
        /* W: a total on the device, an operand of length 1 (1 for "sum"). */
        dlh_ew_arg g[6] = {
            t_arg, losses_cls_index(&st->cls), losses_cls_weight(&st->cls),
            losses_omega_arg(omega, losses_cls_one(&st->cls), b, c),
            st->sum ? (dlh_ew_arg){ losses_cls_one(&st->cls), 1, 1 }
                    : (dlh_ew_arg){ dlh_mem_at(totals, 1), 1, 1 },
            dlh_ew_full(d_prediction->mem, n),
        };
        if ((rc = losses_host->ew_run(st->grad, n, g, &st->ignore)) < 0)
            return rc;
    }
    *loss = st->sum ? tot[0] : (float)((double)tot[0] / (double)tot[1]);
    return 0;
}

static void nll_destroy(void *state)
{
    nll_state *st = state;
    if (!st)
        return;
    losses_host->ew_free(st->terms);
    losses_host->ew_free(st->grad);
    losses_host->ew_free(st->weigh);
    losses_cls_destroy(st->be, &st->cls);
    free(st);
}

const dlh_loss_ops nll_ops = {
    .struct_size = sizeof(dlh_loss_ops),
    .create = nll_create,
    .forward = nll_forward,
    .destroy = nll_destroy,
    .flags = DLH_LOSS_SAMPLE_WEIGHTS,
    .output = DLH_LOSS_OUTPUT_LOG_PROB,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc nll_params[] = {
    { "weights", DLH_PARAM_FLOATS, "", 0, 0, NULL, "one weight per class, each >= 0; the mean divides by the targets' weights" },
    { "ignore_index", DLH_PARAM_INT, "-100", -16777216, 16777216, NULL, "class targets equal to it add nothing and do not count in the mean" },
    LOSSES_REDUCTION_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
