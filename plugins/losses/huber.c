/* huber: nn.HuberLoss (torch.nn.functional.huber_loss) with `delta`
 * (default 1.0, > 0) on dense targets t of the prediction's shape, as torch
 * 1.13's huber_loss (aten/src/ATen/native/Loss.cpp):
 *
 *   d = x - t,  z = |d|
 *   e = 0.5 z^2           if z < delta,   delta (z - 0.5 delta)   otherwise
 *   de/dx = d             if z < delta,   delta sign(d)           otherwise
 *
 * A delta <= 0 is refused with torch's words.  Reduction "mean" divides
 * the sum by the number of elements, "sum" does not; sample weights
 * omega_n multiply each sample's sum (losses_ew). */
#include "losses.h"

static int huber_create(const dlh_host *host, dlh_loss_setup *setup, void **state)
{
    losses_ew *le;
    double delta;
    int rc;
    if ((rc = losses_ew_new(host, setup, 0, state, &le)) < 0 ||
        (rc = losses_param_real(host, setup->params, "delta", 1.0, &delta)) < 0)
        return rc;
    if (!(delta > 0))
        return host->param_error(setup->params, "delta", "huber_loss does not support "
                                 "non-positive values for delta.");
    float sc[1] = { (float)delta };
    return losses_ew_create(host, setup, le, "huber", "delta", sc, 1,
                            "d = x - t;\n"
                            "z = abs(d);\n"
                            "q = z < delta;\n"
                            "e = select(q, 0.5*z*z, delta*(z - 0.5*delta));\n",
                            "g = select(q, d, delta*sign(d));\n", NULL);
}

const dlh_loss_ops huber_ops = {
    .struct_size = sizeof(dlh_loss_ops),
    .create = huber_create,
    .forward = losses_ew_forward_ops,
    .destroy = losses_ew_destroy_ops,
    .flags = DLH_LOSS_SAMPLE_WEIGHTS,
    .output = DLH_LOSS_OUTPUT_VALUES,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc huber_params[] = {
    { "delta", DLH_PARAM_FLOAT, "1.0", 0.0, DLH_PARAM_NO_MAX, NULL, "where the quadratic part turns linear, > 0" },
    LOSSES_REDUCTION_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
