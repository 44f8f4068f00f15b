/* mish: y = x tanh(softplus(x)) (nn.Mish), softplus as log1p(exp(x)) like
 * torch (ACT_LOG1P_EXP).  Backward is torch 1.13's: dy (t + x s (1 - t^2))
 * with t = tanh(log1p(exp(x))) and s = sigmoid(x). */
#include "activations.h"

static int mish_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    return pointwise_create(host, setup, state, "mish",
                            "in x; out y;\n" ACT_LOG1P_EXP("x") "y = x*tanh(sp);",
                            "in x, dy; out dx;\n" ACT_LOG1P_EXP("x")
                            "s = 1/(1 + exp(-x)); t = tanh(sp);\n"
                            "dx = dy*(t + x*s*(1 - t*t));", 0);
}

/* x Tanh(Softplus(x)). */
static int mish_export(void *state, dlh_onnx_builder *b)
{
    (void)state;
    const char *sp = act_onnx_op(b, "Softplus", b->inputs[0], NULL, NULL);
    const char *t = sp ? act_onnx_op(b, "Tanh", sp, NULL, NULL) : NULL;
    return t && act_onnx_op(b, "Mul", b->inputs[0], t, b->output) ? 0 : DLH_ENOMEM;
}

const dlh_layer_ops mish_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = mish_create,
    .forward = pointwise_forward,
    .backward = pointwise_backward,
    .destroy = pointwise_destroy,
    .export_onnx = mish_export,
};
