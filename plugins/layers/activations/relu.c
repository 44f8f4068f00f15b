/* relu: y = max(x, 0); the gradient passes where x > 0 (0 at x = 0, as
 * PyTorch). */
#include "activations.h"

static int relu_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    int rc = pointwise_create(host, setup, state, "relu", "in x; out y; y = max(x, 0);",
                              "in x, dy; out dx; dx = select(x > 0, dy, 0);", 0);
    /* The values and gradient layer.h's is_relu promises: ew max gives x
       when x > 0, else 0 (a NaN loses). */
    setup->is_relu = 1;
    return rc;
}

static int relu_export(void *state, dlh_onnx_builder *b)
{
    (void)state;
    return dlh_onnx_unary(b, "Relu");
}

const dlh_layer_ops relu_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = relu_create,
    .forward = pointwise_forward,
    .backward = pointwise_backward,
    .destroy = pointwise_destroy,
    .export_onnx = relu_export,
};
