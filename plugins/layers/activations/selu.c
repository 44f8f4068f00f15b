/* selu: y = scale x for x > 0, else scale alpha (exp(x) - 1) (nn.SELU), with
 * Klambauer et al.'s alpha = 1.6732632423543772848170429916717 and scale =
 * 1.0507009873554804934193349852946; no parameters.  torch 1.13 runs it as
 * its elu kernel with negcoef = alpha * scale (a float product) and poscoef
 * = scale; the gradient at 0 is alpha * scale. */
#include "activations.h"

static int selu_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    const float alpha = 1.6732632423543772848170429916717f;
    const float scale = 1.0507009873554804934193349852946f;
    const float k[2] = { alpha * scale, scale };
    return pointwise_create_scalars(host, setup, state, "selu",
                                    "in x; out y; scalar nc, s; "
                                    "y = select(x <= 0, (exp(x) - 1)*nc, x*s);",
                                    "in x, dy; out dx; scalar nc, s; "
                                    "dx = select(x <= 0, dy*nc*exp(x), dy*s);", 0, k, 2);
}

/* Selu with torch's (and ONNX's default) alpha and scale. */
static int selu_export(void *state, dlh_onnx_builder *b)
{
    (void)state;
    int rc = dlh_onnx_unary(b, "Selu");
    if (rc < 0 || (rc = b->attr_float(b, "alpha", 1.6732632423543772848170429916717f)) < 0)
        return rc;
    return b->attr_float(b, "gamma", 1.0507009873554804934193349852946f);
}

const dlh_layer_ops selu_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = selu_create,
    .forward = pointwise_forward,
    .backward = pointwise_backward,
    .destroy = pointwise_destroy,
    .export_onnx = selu_export,
};
