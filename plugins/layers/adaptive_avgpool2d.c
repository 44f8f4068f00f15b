/* adaptive_avgpool2d: nn.AdaptiveAvgPool2d(output_size) over [C, H, W]
 * samples.  Output cell i of an axis of n inputs and m outputs averages the
 * inputs [floor(i n / m), ceil((i + 1) n / m)), PyTorch's rule: windows of
 * varying size that may overlap, and outputs larger than the input repeat
 * cells.  The average is separable, so it runs as y = Ah x Aw^T with
 * averaging matrices (separable.c): two gemms each way, exact to float32
 * rounding (each output is a sum of weighted inputs, the weights 1/len
 * rounded once). */
#include <stdlib.h>

#include "layers.h"

typedef struct adaptive_avgpool2d_state {
    layers_sep2d map;
} adaptive_avgpool2d_state;

/* The averaging matrix of one axis: rows m, columns n. */
static void adaptive_matrix(float *a, int64_t n, int64_t m)
{
    for (int64_t i = 0; i < m; i++) {
        int64_t start = i * n / m, end = ((i + 1) * n + m - 1) / m;
        for (int64_t j = start; j < end; j++)
            a[i * n + j] = 1.0f / (float)(end - start);
    }
}

static int adaptive_avgpool2d_create(const dlh_host *host, dlh_layer_setup *setup,
                                     void **state)
{
    adaptive_avgpool2d_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    int32_t size[2], one[2] = { 1, 1 }, zero[2] = { 0, 0 };
    dlh_window2d g;
    int64_t eh, ew;
    int rc = layers_param_pair(setup->params, "output_size", -1, 1, 1 << 16, size);
    if (rc < 0 ||
        (rc = layers_window2d(setup, "adaptive_avgpool2d", one, one, zero, one, &g, &eh,
                              &ew)) < 0 ||
        (rc = layers_sep2d_setup(setup, "adaptive_avgpool2d", &st->map, g.c, g.h, g.w,
                                 size[0], size[1])) < 0)
        return rc;
    adaptive_matrix(st->map.ah, g.h, size[0]);
    adaptive_matrix(st->map.aw, g.w, size[1]);
    setup->output.ndim = 3;
    setup->output.dim[0] = g.c;
    setup->output.dim[1] = size[0];
    setup->output.dim[2] = size[1];
    return 0;
}

static int adaptive_avgpool2d_forward(void *state, const dlh_layer_ctx *ctx,
                                      const dlh_tensor *inputs, const dlh_tensor *output)
{
    adaptive_avgpool2d_state *st = state;
    return layers_sep2d_forward(&st->map, ctx, inputs[0].mem, output->mem);
}

static int adaptive_avgpool2d_backward(void *state, const dlh_layer_ctx *ctx,
                                       const dlh_tensor *inputs, const dlh_tensor *output,
                                       const dlh_tensor *d_output,
                                       const dlh_tensor *d_inputs)
{
    (void)inputs;
    (void)output;
    adaptive_avgpool2d_state *st = state;
    if (!d_inputs[0].mem.buf)
        return 0;
    return layers_sep2d_backward(&st->map, ctx, d_output->mem, d_inputs[0].mem);
}

static void adaptive_avgpool2d_destroy(void *state)
{
    adaptive_avgpool2d_state *st = state;
    if (st)
        layers_sep2d_free(&st->map);
    free(st);
}

/* Where the output size divides the input's, the windows are equal and
   disjoint: AveragePool with kernel = stride = input / output. */
static int adaptive_avgpool2d_export(void *state, dlh_onnx_builder *b)
{
    const layers_sep2d *s = &((const adaptive_avgpool2d_state *)state)->map;
    if (s->h % s->oh != 0 || s->w % s->ow != 0) {
        layers_host->error("adaptive_avgpool2d from %dx%d to %dx%d has no ONNX form (the "
                           "output size must divide the input size)", s->h, s->w, s->oh,
                           s->ow);
        return DLH_EUNSUPPORTED;
    }
    int64_t k[2] = { s->h / s->oh, s->w / s->ow };
    int rc;
    if ((rc = dlh_onnx_unary(b, "AveragePool")) < 0 ||
        (rc = b->attr_ints(b, "kernel_shape", 2, k)) < 0)
        return rc;
    return b->attr_ints(b, "strides", 2, k);
}

const dlh_layer_ops adaptive_avgpool2d_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = adaptive_avgpool2d_create,
    .forward = adaptive_avgpool2d_forward,
    .backward = adaptive_avgpool2d_backward,
    .destroy = adaptive_avgpool2d_destroy,
    .export_onnx = adaptive_avgpool2d_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc adaptive_avgpool2d_params[] = {
    { "output_size", DLH_PARAM_OTHER, NULL, 0, 0, NULL, "output height and width: an integer in [1, 65536] or a list [h, w] of them" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
