/* hinge_embedding: nn.HingeEmbeddingLoss
 * (torch.nn.functional.hinge_embedding_loss) with `margin` (default 1.0)
 * on inputs x (typically distances) and dense targets y of the
 * prediction's shape holding 1 or -1, as torch 1.13's hinge_embedding_loss
 * (aten/src/ATen/native/Loss.cpp), which takes any y as it comes:
 *
 *   e = [y != 1] max(margin - x, 0) + [y != -1] x
 *   de/dx = -[y != 1][margin - x >= 0] + [y != -1]
 *
 * (clamp_min's gradient passes at margin - x = 0, as torch's.)  Reduction
 * "mean" divides the sum by the number of elements, "sum" does not; sample
 * weights omega_n multiply each sample's sum (losses_ew). */
#include "losses.h"

static int hinge_embedding_create(const dlh_host *host, dlh_loss_setup *setup,
                                  void **state)
{
    losses_ew *le;
    double margin;
    int rc;
    if ((rc = losses_ew_new(host, setup, 0, state, &le)) < 0 ||
        (rc = losses_param_real(host, setup->params, "margin", 1.0, &margin)) < 0)
        return rc;
    const float sc[1] = { (float)margin };
    return losses_ew_create(host, setup, le, "hinge_embedding", "margin", sc, 1,
                            "q = margin - x;\n"
                            "e = select(t != 1, max(q, 0), 0) + select(t != -1, x, 0);\n",
                            "g = (t != -1) - (t != 1)*(q >= 0);\n", NULL);
}

const dlh_loss_ops hinge_embedding_ops = {
    .struct_size = sizeof(dlh_loss_ops),
    .create = hinge_embedding_create,
    .forward = losses_ew_forward_ops,
    .destroy = losses_ew_destroy_ops,
    .flags = DLH_LOSS_SAMPLE_WEIGHTS,
    .output = DLH_LOSS_OUTPUT_VALUES,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc hinge_embedding_params[] = {
    { "margin", DLH_PARAM_FLOAT, "1.0", DLH_PARAM_NO_MIN, DLH_PARAM_NO_MAX, NULL, "the distance below which a pair with y = -1 costs" },
    LOSSES_REDUCTION_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
