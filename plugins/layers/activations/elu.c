/* elu: y = x for x > 0, else alpha (exp(x) - 1) (nn.ELU, alpha 1.0, any
 * value as torch takes).  Both kernels are torch 1.13's elu kernels with
 * scale = input_scale = 1: x <= 0 takes the exponential branch, so the
 * gradient at 0 is alpha, as torch's; exp(x) - 1 (not expm1), as torch's. */
#include <float.h>

#include "activations.h"

static int elu_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    const double def_alpha = 1.0;
    double alpha;
    int rc = host->param_float(setup->params, "alpha", &def_alpha, -DBL_MAX, DBL_MAX, &alpha);
    if (rc < 0)
        return rc;
    const float a = (float)alpha;
    return pointwise_create_scalars(host, setup, state, "elu",
                                    "in x; out y; scalar a; y = select(x <= 0, (exp(x) - 1)*a, x);",
                                    "in x, dy; out dx; scalar a; "
                                    "dx = select(x <= 0, dy*a*exp(x), dy);", 0, &a, 1);
}

static int elu_export(void *state, dlh_onnx_builder *b)
{
    int rc = dlh_onnx_unary(b, "Elu");
    return rc < 0 ? rc : b->attr_float(b, "alpha", pointwise_scalar(state, 0));
}

const dlh_layer_ops elu_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = elu_create,
    .forward = pointwise_forward,
    .backward = pointwise_backward,
    .destroy = pointwise_destroy,
    .export_onnx = elu_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc elu_params[] = {
    { "alpha", DLH_PARAM_FLOAT, "1", -DBL_MAX, DBL_MAX, NULL, "scale of the negative part alpha (exp(x) - 1)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
