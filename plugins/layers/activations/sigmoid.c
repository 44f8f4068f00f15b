/* sigmoid: y = 1 / (1 + exp(-x)) (nn.Sigmoid), computed without overflow for
 * large |x|.  Backward uses the saved output, dy * y (1 - y), so it needs
 * neither x nor another exp. */
#include "activations.h"

static int sigmoid_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    return pointwise_create(host, setup, state, "sigmoid", "in x; out y; y = sigmoid(x);",
                            "in y, dy; out dx; dx = dy*y*(1 - y);", 1);
}

static int sigmoid_export(void *state, dlh_onnx_builder *b)
{
    (void)state;
    return dlh_onnx_unary(b, "Sigmoid");
}

const dlh_layer_ops sigmoid_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = sigmoid_create,
    .forward = pointwise_forward,
    .backward = pointwise_backward,
    .destroy = pointwise_destroy,
    .export_onnx = sigmoid_export,
};
