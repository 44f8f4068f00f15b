/* celu: y = max(0, x) + min(0, alpha (exp(x/alpha) - 1)) (nn.CELU, alpha
 * 1.0).  torch 1.13 runs it as its elu kernel with input_scale = 1/alpha
 * (rounded to float once, then x times it) and refuses alpha = 0 with
 * "ZeroDivisionError: alpha cannot be 0 for CELU"; the gradient at 0 is
 * (1/alpha) alpha, the exponential branch's. */
#include <float.h>

#include "activations.h"

static int celu_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    const double def_alpha = 1.0;
    double alpha;
    int rc = host->param_float(setup->params, "alpha", &def_alpha, -DBL_MAX, DBL_MAX, &alpha);
    if (rc < 0)
        return rc;
    if (alpha == 0.0)
        return host->param_error(setup->params, "alpha",
                                 "ZeroDivisionError: alpha cannot be 0 for CELU");
    const float k[2] = { (float)alpha, (float)(1.0 / alpha) };
    return pointwise_create_scalars(host, setup, state, "celu",
                                    "in x; out y; scalar a, ia; "
                                    "y = select(x <= 0, (exp(x*ia) - 1)*a, x);",
                                    "in x, dy; out dx; scalar a, ia; "
                                    "dx = select(x <= 0, dy*ia*a*exp(x*ia), dy);", 0, k, 2);
}

static int celu_export(void *state, dlh_onnx_builder *b)
{
    int rc = dlh_onnx_unary(b, "Celu");
    return rc < 0 ? rc : b->attr_float(b, "alpha", pointwise_scalar(state, 0));
}

const dlh_layer_ops celu_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = celu_create,
    .forward = pointwise_forward,
    .backward = pointwise_backward,
    .destroy = pointwise_destroy,
    .export_onnx = celu_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc celu_params[] = {
    { "alpha", DLH_PARAM_FLOAT, "1", -DBL_MAX, DBL_MAX, NULL, "alpha of the negative part, not 0" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
