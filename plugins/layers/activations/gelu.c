/* gelu: y = x Phi(x) (nn.GELU).  approximate = "none" (the default) is the
 * exact form x/2 (1 + erf(x/sqrt 2)); "tanh" is x/2 (1 + tanh(sqrt(2/pi)
 * (x + 0.044715 x^3))).  Both kernels are torch 1.13's GeluKernel formulas,
 * term for term (its backward: cdf + x pdf, and the tanh form's product
 * rule); another value is refused with torch's message. */
#include <string.h>

#include "activations.h"

static int gelu_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    const char *approximate;
    int rc = host->param_string(setup->params, "approximate", "none", &approximate);
    if (rc < 0)
        return rc;
    if (strcmp(approximate, "none") == 0)
        return pointwise_create(host, setup, state, "gelu",
                                "in x; out y; y = x*0.5*(1 + erf(x*0.70710678118654752440));",
                                "in x, dy; out dx;\n"
                                "cdf = 0.5*(1 + erf(x*0.70710678118654752440));\n"
                                "pdf = 0.39894228040143267794*exp(x*x*-0.5);\n"
                                "dx = dy*(cdf + x*pdf);", 0);
    if (strcmp(approximate, "tanh") == 0)
        return pointwise_create(host, setup, state, "gelu",
                                "in x; out y;\n"
                                "inner = 0.79788456080286535588*(x + 0.044715*(x*x*x));\n"
                                "y = 0.5*x*(1 + tanh(inner));",
                                "in x, dy; out dx;\n"
                                "xsq = x*x;\n"
                                "t = tanh(0.79788456080286535588*(x + 0.044715*(xsq*x)));\n"
                                "ld = 0.5*(1 + t);\n"
                                "rd = 0.5*x*(1 - t*t)*(0.79788456080286535588*(1 + 3*0.044715*xsq));\n"
                                "dx = dy*(ld + rd);", 0);
    return host->param_error(setup->params, "approximate",
                             "approximate argument must be either none or tanh.");
}

const dlh_layer_ops gelu_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = gelu_create,
    .forward = pointwise_forward,
    .backward = pointwise_backward,
    .destroy = pointwise_destroy,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc gelu_params[] = {
    { "approximate", DLH_PARAM_STRING, "none", 0, 0, NULL, "none (exact, erf) or tanh (the tanh approximation)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
