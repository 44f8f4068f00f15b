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
    if (strcmp(approximate, "tanh") == 0) {
        rc = pointwise_create(host, setup, state, "gelu",
                                "in x; out y;\n"
                                "inner = 0.79788456080286535588*(x + 0.044715*(x*x*x));\n"
                                "y = 0.5*x*(1 + tanh(inner));",
                                "in x, dy; out dx;\n"
                                "xsq = x*x;\n"
                                "t = tanh(0.79788456080286535588*(x + 0.044715*(xsq*x)));\n"
                                "ld = 0.5*(1 + t);\n"
                                "rd = 0.5*x*(1 - t*t)*(0.79788456080286535588*(1 + 3*0.044715*xsq));\n"
                                "dx = dy*(ld + rd);", 0);
        if (rc == 0)
            pointwise_set_variant(*state, 1);
        return rc;
    }
    return host->param_error(setup->params, "approximate",
                             "approximate argument must be either none or tanh.");
}

/* Exact: x/2 (1 + Erf(x/sqrt 2)); tanh: x/2 (1 + Tanh(sqrt(2/pi)
   (x + 0.044715 x^3))), as the forward kernels. */
static int gelu_export(void *state, dlh_onnx_builder *b)
{
    const char *x = b->inputs[0], *t;
    const char *one = act_onnx_scalar(b, "one", 1.0f), *half = act_onnx_scalar(b, "half", 0.5f);
    if (!one || !half)
        return DLH_ENOMEM;
    if (pointwise_variant(state) == 0) {
        const char *k = act_onnx_scalar(b, "rsqrt2", 0.70710678118654752440f);
        const char *s = k ? act_onnx_op(b, "Mul", x, k, NULL) : NULL;
        t = s ? act_onnx_op(b, "Erf", s, NULL, NULL) : NULL;
    } else {
        const char *k = act_onnx_scalar(b, "sqrt2_pi", 0.79788456080286535588f);
        const char *c = act_onnx_scalar(b, "c", 0.044715f);
        const char *x2 = k && c ? act_onnx_op(b, "Mul", x, x, NULL) : NULL;
        const char *x3 = x2 ? act_onnx_op(b, "Mul", x2, x, NULL) : NULL;
        const char *cx3 = x3 ? act_onnx_op(b, "Mul", c, x3, NULL) : NULL;
        const char *s = cx3 ? act_onnx_op(b, "Add", x, cx3, NULL) : NULL;
        const char *ks = s ? act_onnx_op(b, "Mul", k, s, NULL) : NULL;
        t = ks ? act_onnx_op(b, "Tanh", ks, NULL, NULL) : NULL;
    }
    const char *u = t ? act_onnx_op(b, "Add", one, t, NULL) : NULL;
    const char *hx = u ? act_onnx_op(b, "Mul", x, half, NULL) : NULL;
    return hx && act_onnx_op(b, "Mul", hx, u, b->output) ? 0 : DLH_ENOMEM;
}

const dlh_layer_ops gelu_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = gelu_create,
    .forward = pointwise_forward,
    .backward = pointwise_backward,
    .destroy = pointwise_destroy,
    .export_onnx = gelu_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc gelu_params[] = {
    { "approximate", DLH_PARAM_STRING, "none", 0, 0, NULL, "none (exact, erf) or tanh (the tanh approximation)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
