/* bce_with_logits: nn.BCEWithLogitsLoss on logits x and dense targets t of
 * the prediction's shape, in the form of torch's
 * binary_cross_entropy_with_logits that never overflows:
 *
 *   loss = max(x, 0) - x t + log(1 + exp(-|x|))
 *   with pos_weight p:  lw = (p - 1) t + 1,
 *   loss = (1 - t) x + lw (max(-x, 0) + log(1 + exp(-|x|)))
 *
 * (the two agree for p = 1).  The gradient is sigmoid(x) - t, or
 * (1 - t) - lw sigmoid(-x) with pos_weight.  pos_weight broadcasts like
 * torch's over the last dimension: one value, one per value of the last
 * dimension, or one per value of a sample.  Reduction "mean" divides by the
 * number of elements (batch x values per sample), "sum" does not.
 *
 * Sample weights omega_n (ctx->sample_weights, Keras's sample_weight), for
 * N samples of D values, with loss[n,d] the element loss above (pos_weight
 * included):
 *
 *   l_n = sum_d loss[n,d]
 *   mean = sum_n omega_n l_n / (N D),   sum = sum_n omega_n l_n
 *   d x[n,d] = omega_n g[n,d] / (N D)   (no / (N D) for "sum")
 *
 * with g the gradient above.  The weights multiply the per-sample sums l_n
 * before the total, and the gradient as k * omega_n * g; omega = 1
 * multiplies by exactly 1, so all-ones weights give the unweighted result
 * bit for bit. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "losses.h"

typedef struct bce_state {
    const dlh_backend *be;
    int sum;                    /* reduction "sum" */
    int64_t per_sample;
    size_t pw_len;              /* pos_weight values; 0 = none */
    dlh_buffer *pw;
    dlh_buffer *one;            /* 1.0f: the weight of every sample without weights */
    int elem_index;             /* scratch: per-element losses */
    int rows_index;             /* scratch: per-sample sums, then the total */
    dlh_ew_kernel *fwd;         /* e */
    dlh_ew_kernel *fwd_grad;    /* e and d (times omega) in one pass */
    dlh_ew_kernel *weigh;       /* per-sample sums times omega */
} bce_state;

static int bce_create(const dlh_host *host, dlh_loss_setup *setup, void **state)
{
    static const char *const reductions[] = { "mean", "sum", NULL };
    bce_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    st->be = setup->backend;
    dlh_params *p = setup->params;
    int rc, reduction;
    if ((rc = host->param_choice(p, "reduction", reductions, 0, &reduction)) < 0)
        return rc;
    st->sum = reduction == 1;
    if (setup->target_kind != DLH_TARGET_DENSE)
        return host->param_error(p, NULL, "needs dense targets of the prediction's "
                                 "shape (0/1 or probabilities), but the data gives class "
                                 "indices; use cross_entropy for those");
    st->per_sample = dlh_shape_numel(&setup->prediction);
    if (st->per_sample < 1 || st->per_sample > INT_MAX)
        return host->param_error(p, NULL, "%lld values per sample is out of range "
                                 "(1..%d)", (long long)st->per_sample, INT_MAX);
    if ((rc = losses_read_elem_weights(host, p, "pos_weight", st->be, &setup->prediction,
                                       &st->pw_len, &st->pw)) < 0)
        return rc;
    const char *fwd, *fwd_grad;
    if (st->pw_len == 0) {
        fwd = "in x, t; out e;\n"
              "e = max(x, 0) - x*t + log(1 + exp(-abs(x)));\n";
        fwd_grad = "in x, t, om; out e, d; scalar k;\n"
                   "e = max(x, 0) - x*t + log(1 + exp(-abs(x)));\n"
                   "d = k*om*(sigmoid(x) - t);\n";
    } else {
        fwd = "in x, t, pw; out e;\n"
              "lw = (pw - 1)*t + 1;\n"
              "e = (1 - t)*x + lw*(max(-x, 0) + log(1 + exp(-abs(x))));\n";
        fwd_grad = "in x, t, pw, om; out e, d; scalar k;\n"
                   "lw = (pw - 1)*t + 1;\n"
                   "e = (1 - t)*x + lw*(max(-x, 0) + log(1 + exp(-abs(x))));\n"
                   "d = k*om*((1 - t) - lw*sigmoid(-x));\n";
    }
    if ((rc = setup->add_scratch(setup, st->per_sample, 0, &st->elem_index)) < 0 ||
        (rc = setup->add_scratch(setup, 1, 1, &st->rows_index)) < 0 ||
        (rc = host->ew_compile(st->be, fwd, &st->fwd)) < 0 ||
        (rc = host->ew_compile(st->be, fwd_grad, &st->fwd_grad)) < 0 ||
        (rc = host->ew_compile(st->be, LOSSES_WEIGH, &st->weigh)) < 0 ||
        (rc = losses_one_alloc(st->be, &st->one)) < 0)
        return rc;
    return 0;
}

static int bce_forward(void *state, const dlh_loss_ctx *ctx, const dlh_tensor *prediction,
                       const dlh_tensor *target, float *loss,
                       const dlh_tensor *d_prediction)
{
    const bce_state *st = state;
    const dlh_backend *be = ctx->backend;
    int64_t n64 = ctx->batch * st->per_sample;
    if (ctx->batch < 1 || ctx->batch > INT_MAX || dlh_tensor_numel(prediction) != n64 ||
        dlh_tensor_numel(target) != n64 ||
        (d_prediction && dlh_tensor_numel(d_prediction) != n64)) {
        losses_host->error("bce_with_logits: expected %lld prediction and target values "
                           "(%lld samples of %lld), got %lld and %lld",
                           (long long)n64, (long long)ctx->batch,
                           (long long)st->per_sample,
                           (long long)dlh_tensor_numel(prediction),
                           (long long)dlh_tensor_numel(target));
        return DLH_ESHAPE;
    }
    const dlh_tensor *omega;
    int rc = losses_sample_weights("bce_with_logits", ctx, &omega);
    if (rc < 0)
        return rc;
    size_t n = (size_t)n64;
    dlh_mem elem = ctx->scratch[st->elem_index].mem;
    dlh_mem rows = ctx->scratch[st->rows_index].mem;
    dlh_mem total = dlh_mem_at(rows, (size_t)ctx->batch);
    dlh_ew_arg args[6];
    int na = 0;
    args[na++] = dlh_ew_full(prediction->mem, n);
    args[na++] = dlh_ew_full(target->mem, n);
    if (st->pw_len) {
        dlh_ew_arg pw = { { st->pw, 0 }, st->pw_len, 1 };
        args[na++] = pw;
    }
    if (d_prediction) {
        float k = st->sum ? 1.0f : (float)(1.0 / (double)n64);
        dlh_mem one = { st->one, 0 };
        args[na++] = losses_omega_arg(omega, one, (size_t)ctx->batch,
                                      (size_t)st->per_sample);
        args[na++] = dlh_ew_full(elem, n);
        args[na++] = dlh_ew_full(d_prediction->mem, n);
        rc = losses_host->ew_run(st->fwd_grad, n, args, &k);
    } else {
        args[na++] = dlh_ew_full(elem, n);
        rc = losses_host->ew_run(st->fwd, n, args, NULL);
    }
    if (rc < 0)
        return rc;
    return losses_total(be, DLH_REDUCE_SUM, ctx->batch, st->per_sample, elem, rows, total,
                        omega, st->weigh, st->sum, loss);
}

static void bce_destroy(void *state)
{
    bce_state *st = state;
    if (!st)
        return;
    losses_host->ew_free(st->fwd);
    losses_host->ew_free(st->fwd_grad);
    losses_host->ew_free(st->weigh);
    if (st->pw)
        st->be->ops->free(st->be->ctx, st->pw);
    if (st->one)
        st->be->ops->free(st->be->ctx, st->one);
    free(st);
}

const dlh_loss_ops bce_with_logits_ops = {
    .struct_size = sizeof(dlh_loss_ops),
    .create = bce_create,
    .forward = bce_forward,
    .destroy = bce_destroy,
    .flags = DLH_LOSS_SAMPLE_WEIGHTS,
    .output = DLH_LOSS_OUTPUT_LOGITS,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc bce_with_logits_params[] = {
    { "pos_weight", DLH_PARAM_FLOATS, "", 0, 0, NULL, "weight of the positive term, >= 0: one value, one per value of the last dimension, or one per value" },
    LOSSES_REDUCTION_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
