/* tanh: y = tanh(x) (nn.Tanh).  Backward uses the saved output,
 * dy (1 - y^2), so it needs neither x nor another tanh. */
#include "activations.h"

static int tanh_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    return pointwise_create(host, setup, state, "tanh", "in x; out y; y = tanh(x);",
                            "in y, dy; out dx; dx = dy*(1 - y*y);", 1);
}

static int tanh_export(void *state, dlh_onnx_builder *b)
{
    (void)state;
    return dlh_onnx_unary(b, "Tanh");
}

const dlh_layer_ops tanh_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = tanh_create,
    .forward = pointwise_forward,
    .backward = pointwise_backward,
    .destroy = pointwise_destroy,
    .export_onnx = tanh_export,
};
