/* hardswish: y = x relu6(x + 3)/6 (nn.Hardswish).  Backward is torch 1.13's
 * vectorised hardswish_backward: 0 for x < -3, dy (x/3 + 1/2) for -3 <= x <
 * 3 (so -dy/2 at -3), dy from 3 on.  (Its scalar loop, which torch runs on
 * the last few elements of a tensor only, takes x = 3 into the middle piece
 * and gives 3 dy/2 there; every tensor bigger than a vector register gets
 * dy from the vector loop, which this follows.) */
#include "activations.h"

static int hardswish_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    return pointwise_create(host, setup, state, "hardswish",
                            "in x; out y; t = x + 3; "
                            "y = x*select(t < 0, 0, select(t > 6, 6, t))/6;",
                            "in x, dy; out dx; "
                            "dx = select(x < -3, 0, select(x < 3, dy*(x/3 + 0.5), dy));", 0);
}

static int hardswish_export(void *state, dlh_onnx_builder *b)
{
    (void)state;
    return dlh_onnx_unary(b, "HardSwish");
}

const dlh_layer_ops hardswish_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = hardswish_create,
    .forward = pointwise_forward,
    .backward = pointwise_backward,
    .destroy = pointwise_destroy,
    .export_onnx = hardswish_export,
};
