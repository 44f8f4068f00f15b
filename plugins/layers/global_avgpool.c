/* global_avgpool: the mean of each channel over all its positions, [C, ...]
 * samples (an image [C, H, W], a sequence [C, L]) to [C]: Keras's
 * GlobalAveragePooling2D, or torch's x.mean((2, 3)), not
 * AdaptiveAvgPool2d(1)'s [C, 1, 1] (adaptive_avgpool2d with output_size = 1
 * gives that).  [C] is what a dense head takes, with no flatten between.
 * One gemm each way: Y [N C] = X [N C, S] u with u = 1/S (separable.c with
 * a 1 x S plane). */
#include <stdlib.h>

#include "layers.h"

typedef struct global_avgpool_state {
    layers_sep2d map;
} global_avgpool_state;

static int global_avgpool_create(const dlh_host *host, dlh_layer_setup *setup,
                                 void **state)
{
    global_avgpool_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    char sbuf[96];
    if (setup->n_inputs != 1)
        return host->param_error(setup->params, NULL, "global_avgpool takes exactly one "
                                 "input, got %d", setup->n_inputs);
    const dlh_shape *in = &setup->inputs[0];
    if (in->ndim < 2)
        return host->param_error(setup->params, NULL, "global_avgpool expects samples of "
                                 "shape [C, ...] with at least one position axis, got %s",
                                 layers_shape_str(in, sbuf, sizeof sbuf));
    int64_t positions = dlh_shape_numel(in) / in->dim[0];
    int rc = layers_sep2d_setup(setup, "global_avgpool", &st->map, in->dim[0], 1,
                                positions, 1, 1);
    if (rc < 0)
        return rc;
    st->map.ah[0] = 1.0f;
    for (int64_t i = 0; i < positions; i++)
        st->map.aw[i] = 1.0f / (float)positions;
    setup->output.ndim = 1;
    setup->output.dim[0] = in->dim[0];
    return 0;
}

static int global_avgpool_forward(void *state, const dlh_layer_ctx *ctx,
                                  const dlh_tensor *inputs, const dlh_tensor *output)
{
    global_avgpool_state *st = state;
    return layers_sep2d_forward(&st->map, ctx, inputs[0].mem, output->mem);
}

static int global_avgpool_backward(void *state, const dlh_layer_ctx *ctx,
                                   const dlh_tensor *inputs, const dlh_tensor *output,
                                   const dlh_tensor *d_output, const dlh_tensor *d_inputs)
{
    (void)inputs;
    (void)output;
    global_avgpool_state *st = state;
    if (!d_inputs[0].mem.buf)
        return 0;
    return layers_sep2d_backward(&st->map, ctx, d_output->mem, d_inputs[0].mem);
}

static void global_avgpool_destroy(void *state)
{
    global_avgpool_state *st = state;
    if (st)
        layers_sep2d_free(&st->map);
    free(st);
}

/* GlobalAveragePool ([N, C, 1, ...]) then Flatten to [N, C]. */
static int global_avgpool_export(void *state, dlh_onnx_builder *b)
{
    (void)state;
    const char *m = b->value(b, "mean");
    int rc;
    if (!m)
        return DLH_ENOMEM;
    if ((rc = b->node(b, "GlobalAveragePool", 1, b->inputs, 1, &m)) < 0 ||
        (rc = b->node(b, "Flatten", 1, &m, 1, &b->output)) < 0)
        return rc;
    return b->attr_int(b, "axis", 1);
}

const dlh_layer_ops global_avgpool_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = global_avgpool_create,
    .forward = global_avgpool_forward,
    .backward = global_avgpool_backward,
    .destroy = global_avgpool_destroy,
    .export_onnx = global_avgpool_export,
};
