/* identity: y = x (nn.Identity), a placeholder that keeps a layer's place
 * in a model (a removed dropout, a branch that passes through).  Declared a
 * view (ABI 1.3), like flatten: the core gives the output the input's
 * memory and skips forward and, where it can, backward; where it cannot,
 * forward and backward are one backend copy each. */
#include <stdlib.h>

#include "layers.h"

static int identity_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    *state = NULL;
    if (setup->n_inputs != 1)
        return host->param_error(setup->params, NULL,
                                 "identity takes exactly one input, got %d",
                                 setup->n_inputs);
    setup->output = setup->inputs[0];
    setup->output_is_view = 1;
    return 0;
}

static int identity_export(void *state, dlh_onnx_builder *b)
{
    (void)state;
    return dlh_onnx_unary(b, "Identity");
}

const dlh_layer_ops identity_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = identity_create,
    .forward = layers_view_forward,
    .backward = layers_view_backward,
    .destroy = NULL,
    .export_onnx = identity_export,
};
