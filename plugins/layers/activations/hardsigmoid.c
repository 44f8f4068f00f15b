/* hardsigmoid: y = relu6(x + 3)/6 (nn.Hardsigmoid).  Backward is torch
 * 1.13's: dy/6 strictly inside (-3, 3), 0 at -3, at 3 and beyond. */
#include "activations.h"

static int hardsigmoid_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    return pointwise_create(host, setup, state, "hardsigmoid",
                            "in x; out y; t = x + 3; "
                            "y = select(t < 0, 0, select(t > 6, 6, t))/6;",
                            "in x, dy; out dx; "
                            "dx = select(x > -3, select(x < 3, dy*(1/6), 0), 0);", 0);
}

/* HardSigmoid with torch's constants: max(0, min(1, x/6 + 1/2)). */
static int hardsigmoid_export(void *state, dlh_onnx_builder *b)
{
    (void)state;
    int rc = dlh_onnx_unary(b, "HardSigmoid");
    if (rc < 0 || (rc = b->attr_float(b, "alpha", 1.0f / 6.0f)) < 0)
        return rc;
    return b->attr_float(b, "beta", 0.5f);
}

const dlh_layer_ops hardsigmoid_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = hardsigmoid_create,
    .forward = pointwise_forward,
    .backward = pointwise_backward,
    .destroy = pointwise_destroy,
    .export_onnx = hardsigmoid_export,
};
