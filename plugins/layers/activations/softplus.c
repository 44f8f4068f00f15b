/* softplus: y = log(1 + exp(beta x))/beta, and x itself where beta x >
 * threshold (nn.Softplus, beta 1.0, threshold 20.0), log1p as torch's
 * (ACT_LOG1P_EXP).  Backward is torch 1.13's: dy z/(z + 1), z = exp(beta x),
 * and dy in the linear region.  torch takes beta = 0 and gives inf and NaN
 * everywhere; that is refused here. */
#include <float.h>

#include "activations.h"

static int softplus_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    const double def_beta = 1.0, def_threshold = 20.0;
    double beta, threshold;
    int rc;
    if ((rc = host->param_float(setup->params, "beta", &def_beta, -DBL_MAX, DBL_MAX,
                                &beta)) < 0 ||
        (rc = host->param_float(setup->params, "threshold", &def_threshold, -DBL_MAX, DBL_MAX,
                                &threshold)) < 0)
        return rc;
    if (beta == 0.0)
        return host->param_error(setup->params, "beta",
                                 "beta must not be 0 (softplus divides by it)");
    const float k[2] = { (float)beta, (float)threshold };
    return pointwise_create_scalars(host, setup, state, "softplus",
                                    "in x; out y; scalar b, th;\nz = x*b;\n" ACT_LOG1P_EXP("z")
                                    "y = select(z > th, x, sp/b);",
                                    "in x, dy; out dx; scalar b, th;\nz = exp(x*b);\n"
                                    "dx = select(x*b > th, dy, dy*z/(z + 1));", 0, k, 2);
}

const dlh_layer_ops softplus_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = softplus_create,
    .forward = pointwise_forward,
    .backward = pointwise_backward,
    .destroy = pointwise_destroy,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc softplus_params[] = {
    { "beta", DLH_PARAM_FLOAT, "1", -DBL_MAX, DBL_MAX, NULL, "beta of log(1 + exp(beta x))/beta, not 0" },
    { "threshold", DLH_PARAM_FLOAT, "20", -DBL_MAX, DBL_MAX, NULL, "linear (y = x) where beta x > threshold" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
