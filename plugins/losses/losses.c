/* Entry point of the "losses" plugin. */
#include "losses.h"

const dlh_host *losses_host;

static int losses_init(const dlh_host *host, dlh_registrar *reg)
{
    losses_host = host;
    int rc;
    if ((rc = reg->add(reg, DLH_KIND_LOSS, "mse", &mse_ops,
                       "mean squared error (nn.MSELoss), dense targets")) < 0 ||
        (rc = reg->add(reg, DLH_KIND_LOSS, "cross_entropy", &cross_entropy_ops,
                       "softmax cross-entropy on logits (nn.CrossEntropyLoss), class "
                       "targets, label_smoothing, class weights")) < 0 ||
        (rc = reg->add(reg, DLH_KIND_LOSS, "bce_with_logits", &bce_with_logits_ops,
                       "binary cross-entropy on logits (nn.BCEWithLogitsLoss), dense "
                       "targets, pos_weight")) < 0)
        return rc;
    return 0;
}

DLH_PLUGIN("losses", "0.1.0", "loss functions: mse, cross_entropy, bce_with_logits", "MIT",
           losses_init)
