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

/* Softplus(beta x)/beta, x where beta x > threshold: plain Softplus for
   torch's defaults (past 20, log(1 + e^x) is x in float32), else Where. */
static int softplus_export(void *state, dlh_onnx_builder *b)
{
    float beta = pointwise_scalar(state, 0), th = pointwise_scalar(state, 1);
    const char *x = b->inputs[0];
    if (beta == 1.0f && th >= 20.0f)
        return dlh_onnx_unary(b, "Softplus");
    const char *kb = act_onnx_scalar(b, "beta", beta), *kt = act_onnx_scalar(b, "threshold", th);
    const char *z = kb && kt ? act_onnx_op(b, "Mul", x, kb, NULL) : NULL;
    const char *sp = z ? act_onnx_op(b, "Softplus", z, NULL, NULL) : NULL;
    const char *q = sp ? act_onnx_op(b, "Div", sp, kb, NULL) : NULL;
    const char *c = q ? act_onnx_op(b, "Greater", z, kt, NULL) : NULL;
    const char *in[3] = { c, x, q };
    return c ? b->node(b, "Where", 3, in, 1, &b->output) : DLH_ENOMEM;
}

const dlh_layer_ops softplus_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = softplus_create,
    .forward = pointwise_forward,
    .backward = pointwise_backward,
    .destroy = pointwise_destroy,
    .export_onnx = softplus_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc softplus_params[] = {
    { "beta", DLH_PARAM_FLOAT, "1", -DBL_MAX, DBL_MAX, NULL, "beta of log(1 + exp(beta x))/beta, not 0" },
    { "threshold", DLH_PARAM_FLOAT, "20", -DBL_MAX, DBL_MAX, NULL, "linear (y = x) where beta x > threshold" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
