/* mse: nn.MSELoss over dense targets.  reduction "mean" divides the sum of
 * squared differences by the number of elements (batch x features, as
 * PyTorch), "sum" does not.
 *
 * Sample weights omega_n (ctx->sample_weights, Keras's sample_weight), for
 * N samples of D values x, targets y:
 *
 *   l_n = sum_d (x[n,d] - y[n,d])^2
 *   mean = sum_n omega_n l_n / (N D),   sum = sum_n omega_n l_n
 *   d x[n,d] = 2 omega_n (x[n,d] - y[n,d]) / (N D)   (no / (N D) for "sum")
 *
 * The weights multiply the per-sample sums l_n before the total, and the
 * gradient as 2/(N D) * omega_n * (x - y); omega = 1 multiplies by exactly
 * 1, so all-ones weights give the unweighted result bit for bit. */
#include <limits.h>
#include <stdlib.h>

#include "losses.h"

typedef struct mse_state {
    int sum;                    /* reduction "sum" */
    int64_t per_sample;
    int diff_index;             /* scratch: p - t, per sample */
    int rows_index;             /* scratch: per-sample sums, then the total */
    const dlh_backend *be;
    dlh_buffer *one;            /* 1.0f: the weight of every sample without weights */
    dlh_ew_kernel *diff;        /* d = p - t */
    dlh_ew_kernel *diff_grad;   /* d = p - t; g = k omega d */
    dlh_ew_kernel *weigh;       /* per-sample sums times omega */
} mse_state;

static int mse_create(const dlh_host *host, dlh_loss_setup *setup, void **state)
{
    static const char *const reductions[] = { "mean", "sum", NULL };
    mse_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    st->be = setup->backend;
    int rc, reduction;
    if ((rc = host->param_choice(setup->params, "reduction", reductions, 0,
                                 &reduction)) < 0)
        return rc;
    st->sum = reduction == 1;
    if (setup->target_kind != DLH_TARGET_DENSE)
        return host->param_error(setup->params, NULL,
                                 "mse needs dense targets of the prediction's shape, "
                                 "but the data gives class indices; use cross_entropy "
                                 "for classification");
    st->per_sample = dlh_shape_numel(&setup->prediction);
    /* reduce takes int rows and columns. */
    if (st->per_sample < 1 || st->per_sample > INT_MAX)
        return host->param_error(setup->params, NULL,
                                 "mse: %lld values per sample is out of range (1..%d)",
                                 (long long)st->per_sample, INT_MAX);
    if ((rc = setup->add_scratch(setup, st->per_sample, 0, &st->diff_index)) < 0 ||
        (rc = setup->add_scratch(setup, 1, 1, &st->rows_index)) < 0 ||
        (rc = host->ew_compile(setup->backend, "in p, t; out d; d = p - t;",
                               &st->diff)) < 0 ||
        (rc = host->ew_compile(setup->backend,
                               "in p, t, om; out d, g; scalar k; d = p - t; g = k*om*d;",
                               &st->diff_grad)) < 0 ||
        (rc = host->ew_compile(setup->backend, LOSSES_WEIGH, &st->weigh)) < 0 ||
        (rc = losses_one_alloc(setup->backend, &st->one)) < 0)
        return rc;
    return 0;
}

static int mse_forward(void *state, const dlh_loss_ctx *ctx, const dlh_tensor *prediction,
                       const dlh_tensor *target, float *loss,
                       const dlh_tensor *d_prediction)
{
    const mse_state *st = state;
    const dlh_backend *be = ctx->backend;
    int64_t n = ctx->batch * st->per_sample;
    if (dlh_tensor_numel(prediction) != n || dlh_tensor_numel(target) != n ||
        (d_prediction && dlh_tensor_numel(d_prediction) != n)) {
        losses_host->error("mse: expected %lld prediction and target values "
                           "(%lld samples of %lld), got %lld and %lld",
                           (long long)n, (long long)ctx->batch,
                           (long long)st->per_sample,
                           (long long)dlh_tensor_numel(prediction),
                           (long long)dlh_tensor_numel(target));
        return DLH_ESHAPE;
    }
    const dlh_tensor *omega;
    int rc = losses_sample_weights("mse", ctx, &omega);
    if (rc < 0)
        return rc;
    dlh_mem diff = ctx->scratch[st->diff_index].mem;
    dlh_mem rows = ctx->scratch[st->rows_index].mem;
    dlh_mem total = dlh_mem_at(rows, (size_t)ctx->batch);
    if (d_prediction) {
        float k = st->sum ? 2.0f : (float)(2.0 / (double)n);
        dlh_mem one = { st->one, 0 };
        dlh_ew_arg args[5] = {
            dlh_ew_full(prediction->mem, (size_t)n), dlh_ew_full(target->mem, (size_t)n),
            losses_omega_arg(omega, one, (size_t)ctx->batch, (size_t)st->per_sample),
            dlh_ew_full(diff, (size_t)n), dlh_ew_full(d_prediction->mem, (size_t)n),
        };
        rc = losses_host->ew_run(st->diff_grad, (size_t)n, args, &k);
    } else {
        dlh_ew_arg args[3] = {
            dlh_ew_full(prediction->mem, (size_t)n), dlh_ew_full(target->mem, (size_t)n),
            dlh_ew_full(diff, (size_t)n),
        };
        rc = losses_host->ew_run(st->diff, (size_t)n, args, NULL);
    }
    if (rc < 0)
        return rc;
    return losses_total(be, DLH_REDUCE_SUMSQ, ctx->batch, st->per_sample, diff, rows,
                        total, omega, st->weigh, st->sum, loss);
}

static void mse_destroy(void *state)
{
    mse_state *st = state;
    if (!st)
        return;
    losses_host->ew_free(st->diff);
    losses_host->ew_free(st->diff_grad);
    losses_host->ew_free(st->weigh);
    if (st->one)
        st->be->ops->free(st->be->ctx, st->one);
    free(st);
}

const dlh_loss_ops mse_ops = {
    .struct_size = sizeof(dlh_loss_ops),
    .create = mse_create,
    .forward = mse_forward,
    .destroy = mse_destroy,
    .flags = DLH_LOSS_SAMPLE_WEIGHTS,
    .output = DLH_LOSS_OUTPUT_VALUES,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc mse_params[] = {
    LOSSES_REDUCTION_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
