/* Entry point of the "losses" plugin. */
#include <stddef.h>

#include "losses.h"

const dlh_host *losses_host;

int losses_weigh(dlh_ew_kernel *weigh, int64_t batch, dlh_mem rows,
                 const dlh_tensor *omega)
{
    dlh_ew_arg args[2] = { dlh_ew_full(rows, (size_t)batch),
                           dlh_ew_full(omega->mem, (size_t)batch) };
    return losses_host->ew_run(weigh, (size_t)batch, args, NULL);
}

int losses_total(const dlh_backend *be, dlh_reduce_op op, int64_t batch, int64_t per_sample,
                 dlh_mem elem, dlh_mem rows, dlh_mem total, const dlh_tensor *omega,
                 dlh_ew_kernel *weigh, int sum, float *loss)
{
    dlh_mem no_idx = { NULL, 0 };
    float s;
    int rc;
    if ((rc = be->ops->reduce(be->ctx, op, 1, (int)batch, (int)per_sample, elem, rows,
                              no_idx)) < 0 ||
        (omega && (rc = losses_weigh(weigh, batch, rows, omega)) < 0) ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 1, (int)batch, rows, total,
                              no_idx)) < 0 ||
        (rc = be->ops->read(be->ctx, total.buf, total.off * sizeof(float), &s,
                            sizeof s)) < 0)
        return rc;
    *loss = sum ? s : (float)((double)s / ((double)batch * (double)per_sample));
    return 0;
}

int losses_sample_weights(const char *who, const dlh_loss_ctx *ctx,
                          const dlh_tensor **omega)
{
    *omega = NULL;
    if (ctx->struct_size < offsetof(dlh_loss_ctx, sample_weights) +
                           sizeof ctx->sample_weights || !ctx->sample_weights)
        return 0;
    if (dlh_tensor_numel(ctx->sample_weights) != ctx->batch) {
        losses_host->error("%s: expected one sample weight per sample (%lld), got %lld",
                           who, (long long)ctx->batch,
                           (long long)dlh_tensor_numel(ctx->sample_weights));
        return DLH_ESHAPE;
    }
    *omega = ctx->sample_weights;
    return 0;
}

int losses_one_alloc(const dlh_backend *be, dlh_buffer **one)
{
    const float v = 1.0f;
    int rc = be->ops->alloc(be->ctx, sizeof v, one);
    if (rc == 0)
        rc = be->ops->write(be->ctx, *one, 0, &v, sizeof v);
    return rc;
}

static int losses_init(const dlh_host *host, dlh_registrar *reg)
{
    losses_host = host;
    int rc;
    if ((rc = reg->add(reg, DLH_KIND_LOSS, "mse", &mse_ops,
                       "mean squared error (nn.MSELoss), dense targets")) < 0 ||
        (rc = reg->add(reg, DLH_KIND_LOSS, "cross_entropy", &cross_entropy_ops,
                       "softmax cross-entropy on logits (nn.CrossEntropyLoss), class "
                       "targets with ignore_index or probability targets, "
                       "label_smoothing, class weights")) < 0 ||
        (rc = reg->add(reg, DLH_KIND_LOSS, "bce_with_logits", &bce_with_logits_ops,
                       "binary cross-entropy on logits (nn.BCEWithLogitsLoss), dense "
                       "targets, pos_weight")) < 0)
        return rc;
    return 0;
}

DLH_PLUGIN("losses", "0.1.0", "loss functions: mse, cross_entropy, bce_with_logits", "MIT",
           losses_init)
