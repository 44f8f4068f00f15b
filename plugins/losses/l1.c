/* l1: nn.L1Loss (torch.nn.functional.l1_loss) on dense targets t of the
 * prediction's shape:
 *
 *   e = |x - t|,   de/dx = sign(x - t)   (0 at x = t, as torch's sgn)
 *
 * Reduction "mean" divides the sum by the number of elements (batch x
 * values per sample), "sum" does not.  Sample weights omega_n multiply each
 * sample's sum l_n = sum_d e[n,d] (include/dlhost/loss.h; losses_ew in
 * losses.h). */
#include "losses.h"

static int l1_create(const dlh_host *host, dlh_loss_setup *setup, void **state)
{
    losses_ew *le;
    int rc = losses_ew_new(host, setup, 0, state, &le);
    if (rc < 0)
        return rc;
    return losses_ew_create(host, setup, le, "l1", "", NULL, 0, "e = abs(x - t);\n",
                            "g = sign(x - t);\n", NULL);
}

const dlh_loss_ops l1_ops = {
    .struct_size = sizeof(dlh_loss_ops),
    .create = l1_create,
    .forward = losses_ew_forward_ops,
    .destroy = losses_ew_destroy_ops,
    .flags = DLH_LOSS_SAMPLE_WEIGHTS,
    .output = DLH_LOSS_OUTPUT_VALUES,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc l1_params[] = {
    LOSSES_REDUCTION_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
