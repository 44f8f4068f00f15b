/* bce: nn.BCELoss (torch.nn.functional.binary_cross_entropy) on
 * probabilities x in [0, 1] and dense targets t of the prediction's shape,
 * as torch 1.13's binary_cross_entropy (aten/src/ATen/native/Loss.cpp),
 * logs clamped at -100 so that x = 0 or 1 gives a finite loss:
 *
 *   e = w ((t - 1) max(log(1 - x), -100) - t max(log(x), -100))
 *   de/dx = w (x - t) / max((1 - x) x, 1e-12)
 *
 * (torch 1.13 writes log(1 - x), not log1p(-x): so does this.)  `weight`
 * (optional, each >= 0) rescales elements as torch's weight, broadcast over
 * a sample: one value, one per value of the last dimension, or one per
 * value of a sample.  A prediction outside [0, 1] (or NaN) stops the step
 * with torch's error; end the model with a sigmoid, or use bce_with_logits
 * on logits, which is also more accurate.  Reduction "mean" divides the
 * sum by the number of elements, "sum" does not; sample weights omega_n
 * multiply each sample's sum (losses_ew). */
#include <stdio.h>

#include "losses.h"

static int bce_create(const dlh_host *host, dlh_loss_setup *setup, void **state)
{
    losses_ew *le;
    int rc;
    if ((rc = losses_ew_new(host, setup, 0, state, &le)) < 0 ||
        (rc = losses_read_elem_weights(host, setup->params, "weight", setup->backend,
                                       &setup->prediction, &le->w_len, &le->w)) < 0)
        return rc;
    const float sc[1] = { 1e-12f };
    const char *w = le->w_len ? "w*" : "";
    char body[256], grad[128];
    snprintf(body, sizeof body, "b = 1 - (x >= 0)*(x <= 1);\n"
             "e = %s((t - 1)*max(log(1 - x), -100) - t*max(log(x), -100));\n", w);
    snprintf(grad, sizeof grad, "g = %s((x - t)/max((1 - x)*x, tiny));\n", w);
    return losses_ew_create(host, setup, le, "bce", "tiny", sc, 1, body, grad,
                            "all elements of input should be between 0 and 1");
}

const dlh_loss_ops bce_ops = {
    .struct_size = sizeof(dlh_loss_ops),
    .create = bce_create,
    .forward = losses_ew_forward_ops,
    .destroy = losses_ew_destroy_ops,
    .flags = DLH_LOSS_SAMPLE_WEIGHTS,
    .output = DLH_LOSS_OUTPUT_PROB,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc bce_params[] = {
    { "weight", DLH_PARAM_FLOATS, "", 0, 0, NULL, "element weights, >= 0: one value, one per value of the last dimension, or one per value" },
    LOSSES_REDUCTION_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
