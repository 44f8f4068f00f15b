/* softsign: y = x/(1 + |x|) (nn.Softsign).  torch 1.13 has no kernel for
 * it: autograd differentiates x / (|x| + 1), so the backward here is its
 * sum of the quotient's two paths, dy/b - dy ((x/b)/b) sign(x) with b = |x|
 * + 1 (1 at x = 0, where sign(0) = 0), which equals dy/b^2 within an ulp. */
#include "activations.h"

static int softsign_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    return pointwise_create(host, setup, state, "softsign",
                            "in x; out y; y = x/(abs(x) + 1);",
                            "in x, dy; out dx; b = abs(x) + 1; "
                            "dx = dy/b + (-dy*(x/b/b))*sign(x);", 0);
}

static int softsign_export(void *state, dlh_onnx_builder *b)
{
    (void)state;
    return dlh_onnx_unary(b, "Softsign");
}

const dlh_layer_ops softsign_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = softsign_create,
    .forward = pointwise_forward,
    .backward = pointwise_backward,
    .destroy = pointwise_destroy,
    .export_onnx = softsign_export,
};
