/* flatten: each sample to one dimension of all its elements (nn.Flatten with
 * its defaults start_dim=1, end_dim=-1).  The data does not change, only its
 * shape: the layer declares its output a view (ABI 1.3), so the core gives
 * the output the input's memory and skips forward, and backward where the
 * input's gradient can share memory too.  Where it cannot, forward and
 * backward are one backend copy each. */
#include <stdlib.h>

#include "layers.h"

static int flatten_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    *state = NULL;
    if (setup->n_inputs != 1)
        return host->param_error(setup->params, NULL,
                                 "flatten takes exactly one input, got %d",
                                 setup->n_inputs);
    setup->output.ndim = 1;
    setup->output.dim[0] = dlh_shape_numel(&setup->inputs[0]);
    setup->output_is_view = 1;
    return 0;
}

/* Copies a whole batch tensor src to dst (same element count). */
static int view_copy(const dlh_backend *be, const dlh_tensor *dst, const dlh_tensor *src)
{
    size_t bytes = (size_t)dlh_tensor_numel(src) * sizeof(float);
    if (bytes == 0)
        return 0;
    return be->ops->copy(be->ctx, dst->mem.buf, dst->mem.off * sizeof(float),
                         src->mem.buf, src->mem.off * sizeof(float), bytes);
}

int layers_view_forward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                        const dlh_tensor *output)
{
    (void)state;
    return view_copy(ctx->backend, output, &inputs[0]);
}

int layers_view_backward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                         const dlh_tensor *output, const dlh_tensor *d_output,
                         const dlh_tensor *d_inputs)
{
    (void)state;
    (void)inputs;
    (void)output;
    if (!d_inputs[0].mem.buf)
        return 0;
    return view_copy(ctx->backend, &d_inputs[0], d_output);
}

static int flatten_export(void *state, dlh_onnx_builder *b)
{
    (void)state;
    int rc = dlh_onnx_unary(b, "Flatten");
    return rc < 0 ? rc : b->attr_int(b, "axis", 1);
}

const dlh_layer_ops flatten_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = flatten_create,
    .forward = layers_view_forward,
    .backward = layers_view_backward,
    .destroy = NULL,
    .export_onnx = flatten_export,
};
