/* kl_div: nn.KLDivLoss (torch.nn.functional.kl_div) on log-probabilities x
 * and dense targets t of the prediction's shape, as torch 1.13's kl_div
 * (aten/src/ATen/native/Loss.cpp):
 *
 *   log_target = false (default):  e = xlogy(t, t) - t x,   de/dx = -t
 *                                  (xlogy(0, t) = 0: zero targets add 0)
 *   log_target = true:             e = exp(t) (t - x),       de/dx = -exp(t)
 *
 * Reductions: "mean" (torch's default: over every element), "sum", and
 * "batchmean" (the sum over the batch: the true KL divergence per sample,
 * which torch recommends).  Sample weights omega_n multiply each sample's
 * sum, before the division by the elements or the batch (losses_ew). */
#include "losses.h"

static int kl_div_create(const dlh_host *host, dlh_loss_setup *setup, void **state)
{
    losses_ew *le;
    const int no = 0;
    int rc, log_target;
    if ((rc = losses_ew_new(host, setup, 1, state, &le)) < 0 ||
        (rc = host->param_bool(setup->params, "log_target", &no, &log_target)) < 0)
        return rc;
    if (log_target)
        return losses_ew_create(host, setup, le, "kl_div", "", NULL, 0,
                                "e = exp(t)*(t - x);\n", "g = -exp(t);\n", NULL);
    return losses_ew_create(host, setup, le, "kl_div", "", NULL, 0,
                            "e = select(t == 0, 0, t*log(t)) - t*x;\n", "g = -t;\n", NULL);
}

const dlh_loss_ops kl_div_ops = {
    .struct_size = sizeof(dlh_loss_ops),
    .create = kl_div_create,
    .forward = losses_ew_forward_ops,
    .destroy = losses_ew_destroy_ops,
    .flags = DLH_LOSS_SAMPLE_WEIGHTS,
    .output = DLH_LOSS_OUTPUT_LOG_PROB,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc kl_div_params[] = {
    { "log_target", DLH_PARAM_BOOL, "false", 0, 0, NULL, "the targets are log-probabilities too" },
    LOSSES_REDUCTION_BATCHMEAN_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
