/* poisson_nll: nn.PoissonNLLLoss (torch.nn.functional.poisson_nll_loss) on
 * dense targets t (counts) of the prediction's shape, as torch 1.13's
 * poisson_nll_loss (aten/src/ATen/native/Loss.cpp):
 *
 *   log_input = true (default):  e = exp(x) - t x,          de/dx = exp(x) - t
 *   log_input = false:           e = x - t log(x + eps),    de/dx = 1 - t/(x + eps)
 *   full = true adds Stirling's term where t > 1 (no gradient):
 *                                t log(t) - t + 0.5 log(2 pi t)
 *
 * eps (default 1e-8, >= 0) only matters with log_input = false.  Reduction
 * "mean" divides the sum by the number of elements, "sum" does not; sample
 * weights omega_n multiply each sample's sum (losses_ew). */
#include <stdio.h>

#include "losses.h"

static int poisson_nll_create(const dlh_host *host, dlh_loss_setup *setup, void **state)
{
    losses_ew *le;
    const int yes = 1, no = 0;
    const double def_eps = 1e-8;
    int rc, log_input, full;
    double eps;
    if ((rc = losses_ew_new(host, setup, 0, state, &le)) < 0 ||
        (rc = host->param_bool(setup->params, "log_input", &yes, &log_input)) < 0 ||
        (rc = host->param_bool(setup->params, "full", &no, &full)) < 0 ||
        (rc = host->param_float(setup->params, "eps", &def_eps, 0.0, 1e30, &eps)) < 0)
        return rc;
    /* 2 pi as torch multiplies it into a float tensor: rounded to float. */
    const float sc[2] = { (float)eps, (float)(2.0 * 3.14159265358979323846) };
    char body[320];
    snprintf(body, sizeof body, "%s%s",
             log_input ? "e = exp(x) - t*x;\n" : "e = x - t*log(x + eps);\n",
             full ? "s = t*log(t) - t + 0.5*log(twopi*t);\n"
                    "e = e + select(t > 1, s, 0);\n" : "");
    return losses_ew_create(host, setup, le, "poisson_nll", "eps, twopi", sc, 2, body,
                            log_input ? "g = exp(x) - t;\n" : "g = 1 - t/(x + eps);\n",
                            NULL);
}

const dlh_loss_ops poisson_nll_ops = {
    .struct_size = sizeof(dlh_loss_ops),
    .create = poisson_nll_create,
    .forward = losses_ew_forward_ops,
    .destroy = losses_ew_destroy_ops,
    .flags = DLH_LOSS_SAMPLE_WEIGHTS,
    .output = DLH_LOSS_OUTPUT_VALUES,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc poisson_nll_params[] = {
    { "log_input", DLH_PARAM_BOOL, "true", 0, 0, NULL, "the output is the log of the rate (else the rate itself)" },
    { "full", DLH_PARAM_BOOL, "false", 0, 0, NULL, "add Stirling's approximation of log(t!) for targets > 1" },
    { "eps", DLH_PARAM_FLOAT, "1e-08", 0.0, 1e30, NULL, "added to the rate before its log when log_input is false" },
    LOSSES_REDUCTION_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
