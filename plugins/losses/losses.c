/* Entry point of the "losses" plugin. */
#include "losses.h"

const dlh_host *losses_host;

int losses_total(const dlh_backend *be, dlh_reduce_op op, int64_t batch, int64_t per_sample,
                 dlh_mem elem, dlh_mem rows, dlh_mem total, int sum, float *loss)
{
    dlh_mem no_idx = { NULL, 0 };
    float s;
    int rc;
    if ((rc = be->ops->reduce(be->ctx, op, 1, (int)batch, (int)per_sample, elem, rows,
                              no_idx)) < 0 ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 1, (int)batch, rows, total,
                              no_idx)) < 0 ||
        (rc = be->ops->read(be->ctx, total.buf, total.off * sizeof(float), &s,
                            sizeof s)) < 0)
        return rc;
    *loss = sum ? s : (float)((double)s / ((double)batch * (double)per_sample));
    return 0;
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
