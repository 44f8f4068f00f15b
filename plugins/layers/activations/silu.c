/* silu: y = x sigmoid(x) = x/(1 + exp(-x)) (nn.SiLU, swish).  Backward is
 * torch 1.13's: dy s (1 + x (1 - s)) with s = 1/(1 + exp(-x)). */
#include "activations.h"

static int silu_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    return pointwise_create(host, setup, state, "silu", "in x; out y; y = x/(1 + exp(-x));",
                            "in x, dy; out dx; s = 1/(1 + exp(-x)); dx = dy*s*(1 + x*(1 - s));",
                            0);
}

/* x Sigmoid(x). */
static int silu_export(void *state, dlh_onnx_builder *b)
{
    (void)state;
    const char *s = act_onnx_op(b, "Sigmoid", b->inputs[0], NULL, NULL);
    return s && act_onnx_op(b, "Mul", b->inputs[0], s, b->output) ? 0 : DLH_ENOMEM;
}

const dlh_layer_ops silu_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = silu_create,
    .forward = pointwise_forward,
    .backward = pointwise_backward,
    .destroy = pointwise_destroy,
    .export_onnx = silu_export,
};
