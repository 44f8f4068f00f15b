/* smooth_l1: nn.SmoothL1Loss (torch.nn.functional.smooth_l1_loss) with
 * `beta` (default 1.0, >= 0) on dense targets t of the prediction's shape,
 * as torch 1.13's smooth_l1_loss (aten/src/ATen/native/Loss.cpp):
 *
 *   d = x - t,  z = |d|
 *   e = 0.5 z^2 / beta    if z < beta,   z - 0.5 beta   otherwise
 *   de/dx = d / beta      if z < beta,   sign(d)        otherwise
 *
 * beta = 0 is the l1 loss (torch then calls l1_loss: the gradient is
 * sign(d), 0 at d = 0).  A negative beta is refused with torch's words.
 * Reduction "mean" divides the sum by the number of elements, "sum" does
 * not; sample weights omega_n multiply each sample's sum (losses_ew). */
#include "losses.h"

static int smooth_l1_create(const dlh_host *host, dlh_loss_setup *setup, void **state)
{
    losses_ew *le;
    double beta;
    int rc;
    if ((rc = losses_ew_new(host, setup, 0, state, &le)) < 0 ||
        (rc = losses_param_real(host, setup->params, "beta", 1.0, &beta)) < 0)
        return rc;
    if (beta < 0)
        return host->param_error(setup->params, "beta", "smooth_l1_loss does not support "
                                 "negative values for beta.");
    float sc[1] = { (float)beta };
    return losses_ew_create(host, setup, le, "smooth_l1", "beta", sc, 1,
                            "d = x - t;\n"
                            "z = abs(d);\n"
                            "q = z < beta;\n"
                            "e = select(q, 0.5*z*z/beta, z - 0.5*beta);\n",
                            "g = select(q, d/beta, sign(d));\n", NULL);
}

const dlh_loss_ops smooth_l1_ops = {
    .struct_size = sizeof(dlh_loss_ops),
    .create = smooth_l1_create,
    .forward = losses_ew_forward_ops,
    .destroy = losses_ew_destroy_ops,
    .flags = DLH_LOSS_SAMPLE_WEIGHTS,
    .output = DLH_LOSS_OUTPUT_VALUES,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc smooth_l1_params[] = {
    { "beta", DLH_PARAM_FLOAT, "1.0", 0.0, DLH_PARAM_NO_MAX, NULL, "where the quadratic part turns linear, >= 0 (0 is l1)" },
    LOSSES_REDUCTION_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
