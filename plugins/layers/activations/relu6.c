/* relu6: y = min(max(x, 0), 6) (nn.ReLU6), which torch 1.13 computes as
 * hardtanh(x, 0, 6): the gradient is 0 at x = 0 and at x = 6. */
#include "activations.h"

static int relu6_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    return hardtanh_create_range(host, setup, state, "relu6", 0.0f, 6.0f);
}

const dlh_layer_ops relu6_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = relu6_create,
    .forward = pointwise_forward,
    .backward = pointwise_backward,
    .destroy = pointwise_destroy,
    .export_onnx = hardtanh_export,
};
