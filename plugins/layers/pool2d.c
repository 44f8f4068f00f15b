/* maxpool2d and avgpool2d over [C, H, W] samples, on the backend's pool2d
 * primitive: PyTorch's floor mode (or ceil_mode: one more window when it
 * still starts inside the input or the left padding), padding at most half
 * the (dilated) window as PyTorch requires, max with int32 argmax indices in
 * scratch, and avg dividing by the window's cells inside the padded input
 * (count_include_pad, PyTorch's default) or inside the input alone.
 * maxpool2d takes a relu folded into it (layer.h accepts_input_relu) where
 * the backend pools relu(x) itself (pool2d_max_relu): its indices are -1
 * where relu passes no gradient, so backward is the plain one. */
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>

#include "layers.h"

typedef struct pool2d_state {
    dlh_pool_op op;
    dlh_window2d g;
    int idx_index;              /* max: [N, C, oh, ow] int32 argmax */
} pool2d_state;

static int pool2d_create(const dlh_host *host, dlh_layer_setup *setup, void **state,
                         dlh_pool_op op)
{
    const char *name = op == DLH_POOL_MAX ? "maxpool2d" : "avgpool2d";
    pool2d_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    st->op = op;
    dlh_params *p = setup->params;
    int32_t ks[2], stride[2], pad[2], dil[2] = { 1, 1 };
    int rc;
    if ((rc = layers_param_pair(p, "kernel_size", -1, 1, 1 << 16, ks)) < 0)
        return rc;
    /* stride defaults to the kernel size, as in PyTorch. */
    if ((rc = layers_param_pair(p, "stride", 0, 1, 1 << 16, stride)) < 0)
        return rc;
    if (!host->param_has(p, "stride")) {
        stride[0] = ks[0];
        stride[1] = ks[1];
    }
    if ((rc = layers_param_pair(p, "padding", 0, 0, 1 << 16, pad)) < 0 ||
        (op == DLH_POOL_MAX &&
         (rc = layers_param_pair(p, "dilation", 1, 1, 1 << 16, dil)) < 0))
        return rc;
    const int no = 0, yes = 1;
    int ceil_mode, include_pad = 0;
    if ((rc = host->param_bool(p, "ceil_mode", &no, &ceil_mode)) < 0 ||
        (op == DLH_POOL_AVG &&
         (rc = host->param_bool(p, "count_include_pad", &yes, &include_pad)) < 0))
        return rc;
    if (include_pad)
        st->op = DLH_POOL_AVG_PAD;

    char sbuf[96];
    dlh_window2d *g = &st->g;
    int64_t eh, ew;
    if ((rc = layers_window2d(setup, name, ks, stride, pad, dil, g, &eh, &ew)) < 0)
        return rc;
    const dlh_shape *in = &setup->inputs[0];
    /* PyTorch's rule; it also keeps every window partly inside the input. */
    if (2 * (int64_t)g->ph > eh || 2 * (int64_t)g->pw > ew)
        return host->param_error(p, "padding", "%s padding %dx%d is more than half the "
                                 "%lldx%lld window", name, g->ph, g->pw, (long long)eh,
                                 (long long)ew);
    int64_t ph = (int64_t)g->h + 2 * (int64_t)g->ph, pw = (int64_t)g->w + 2 * (int64_t)g->pw;
    if (eh > ph || ew > pw)
        return host->param_error(p, "kernel_size", "%s window %lldx%lld does not fit the "
                                 "input %s padded to %lldx%lld", name, (long long)eh,
                                 (long long)ew, layers_shape_str(in, sbuf, sizeof sbuf),
                                 (long long)ph, (long long)pw);
    g->oh = (int32_t)(ceil_mode ? dlh_pool2d_ceil_size(g->h, g->ph, eh, g->sh)
                                : (ph - eh) / g->sh + 1);
    g->ow = (int32_t)(ceil_mode ? dlh_pool2d_ceil_size(g->w, g->pw, ew, g->sw)
                                : (pw - ew) / g->sw + 1);

    setup->output.ndim = 3;
    setup->output.dim[0] = g->c;
    setup->output.dim[1] = g->oh;
    setup->output.dim[2] = g->ow;
    int64_t out = (int64_t)g->c * g->oh * g->ow;
    /* int32 indices take the room of floats: scratch counts 4-byte elements. */
    if (op == DLH_POOL_MAX &&
        (rc = setup->add_scratch(setup, out, 0, &st->idx_index)) < 0)
        return rc;
    if (op == DLH_POOL_MAX && DLH_BACKEND_HAS(setup->backend->ops, pool2d_max_relu))
        setup->accepts_input_relu = 1;
    return 0;
}

static int maxpool2d_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    return pool2d_create(host, setup, state, DLH_POOL_MAX);
}

static int avgpool2d_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    return pool2d_create(host, setup, state, DLH_POOL_AVG);
}

static int pool2d_batch(const dlh_layer_ctx *ctx, int *batch)
{
    if (ctx->batch < 0 || ctx->batch > INT_MAX) {
        layers_host->error("pool2d: batch of %lld samples is out of range",
                           (long long)ctx->batch);
        return DLH_EINVAL;
    }
    *batch = (int)ctx->batch;
    return 0;
}

static int pool2d_forward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                          const dlh_tensor *output)
{
    const pool2d_state *st = state;
    const dlh_backend *be = ctx->backend;
    int batch, rc;
    if ((rc = pool2d_batch(ctx, &batch)) < 0)
        return rc;
    /* Evaluation has no backward: the indices are not needed. */
    dlh_mem idx = st->op == DLH_POOL_MAX && ctx->training
                  ? ctx->scratch[st->idx_index].mem : layers_no_mem();
    if (ctx->struct_size >= offsetof(dlh_layer_ctx, input_relu) + sizeof ctx->input_relu &&
        ctx->input_relu)
        return be->ops->pool2d_max_relu(be->ctx, &st->g, batch, inputs[0].mem, output->mem,
                                        idx);
    return be->ops->pool2d(be->ctx, st->op, &st->g, batch, inputs[0].mem, output->mem,
                           idx);
}

static int pool2d_backward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                           const dlh_tensor *output, const dlh_tensor *d_output,
                           const dlh_tensor *d_inputs)
{
    (void)inputs;
    (void)output;
    const pool2d_state *st = state;
    const dlh_backend *be = ctx->backend;
    int batch, rc;
    if (!d_inputs[0].mem.buf)
        return 0;
    if ((rc = pool2d_batch(ctx, &batch)) < 0)
        return rc;
    dlh_mem idx = st->op == DLH_POOL_MAX ? ctx->scratch[st->idx_index].mem
                                          : layers_no_mem();
    if (st->op == DLH_POOL_MAX && DLH_BACKEND_HAS(be->ops, pool2d_max_backward_set))
        return be->ops->pool2d_max_backward_set(be->ctx, &st->g, batch, d_output->mem, idx,
                                                d_inputs[0].mem);
    size_t n = (size_t)batch * (size_t)st->g.c * (size_t)st->g.h * (size_t)st->g.w;
    /* The primitive accumulates. */
    if ((rc = be->ops->fill(be->ctx, d_inputs[0].mem, n, 0.0f)) < 0)
        return rc;
    return be->ops->pool2d_backward(be->ctx, st->op, &st->g, batch, d_output->mem, idx,
                                    d_inputs[0].mem);
}

/* MaxPool / AveragePool.  ceil_mode's extra window is ONNX's ceil_mode
   (PyTorch drops a window that would start in the right padding, and then
   has the floor size: ceil_mode 0); an average counting the padding over
   such a window divides by cells ONNX does not define: refused. */
static int pool2d_export(void *state, dlh_onnx_builder *b)
{
    const pool2d_state *st = state;
    const dlh_window2d *g = &st->g;
    int64_t eh = (int64_t)g->dh * (g->kh - 1) + 1, ew = (int64_t)g->dw * (g->kw - 1) + 1;
    int ceil_h = g->oh != ((int64_t)g->h + 2 * g->ph - eh) / g->sh + 1;
    int ceil_w = g->ow != ((int64_t)g->w + 2 * g->pw - ew) / g->sw + 1;
    if (st->op == DLH_POOL_AVG_PAD && (ceil_h || ceil_w)) {
        layers_host->error("avgpool2d with ceil_mode and count_include_pad has no ONNX form "
                           "when the last window passes the padding (set "
                           "count_include_pad = false or ceil_mode = false)");
        return DLH_EUNSUPPORTED;
    }
    int64_t ks[2] = { g->kh, g->kw }, strides[2] = { g->sh, g->sw };
    int64_t dil[2] = { g->dh, g->dw }, pads[4] = { g->ph, g->pw, g->ph, g->pw };
    int rc;
    if ((rc = dlh_onnx_unary(b, st->op == DLH_POOL_MAX ? "MaxPool" : "AveragePool")) < 0 ||
        (rc = b->attr_ints(b, "kernel_shape", 2, ks)) < 0 ||
        (rc = b->attr_ints(b, "strides", 2, strides)) < 0 ||
        (rc = b->attr_ints(b, "pads", 4, pads)) < 0 ||
        (rc = b->attr_int(b, "ceil_mode", ceil_h || ceil_w)) < 0)
        return rc;
    if (st->op != DLH_POOL_MAX)
        return b->attr_int(b, "count_include_pad", st->op == DLH_POOL_AVG_PAD);
    return g->dh == 1 && g->dw == 1 ? 0 : b->attr_ints(b, "dilations", 2, dil);
}

static void pool2d_destroy(void *state)
{
    free(state);
}

const dlh_layer_ops maxpool2d_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = maxpool2d_create,
    .forward = pool2d_forward,
    .backward = pool2d_backward,
    .destroy = pool2d_destroy,
    .export_onnx = pool2d_export,
};

const dlh_layer_ops avgpool2d_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = avgpool2d_create,
    .forward = pool2d_forward,
    .backward = pool2d_backward,
    .destroy = pool2d_destroy,
    .export_onnx = pool2d_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
#define POOL2D_CEIL_MODE_DOC \
    { "ceil_mode", DLH_PARAM_BOOL, "false", 0, 0, NULL, \
      "round the output size up: one more window when it starts inside the input or the left padding" }
const dlh_param_doc maxpool2d_params[] = {
    LAYERS_KERNEL_SIZE_DOC,
    { "stride", DLH_PARAM_FLOATS, "", 0, 0, NULL, "an integer in [1, 65536] or a list [h, w] of them; unset: the kernel size" },
    { "padding", DLH_PARAM_FLOATS, "0", 0, 0, NULL, "implicit padding on each side, at most half the kernel: an integer or a list [h, w]" },
    { "dilation", DLH_PARAM_FLOATS, "1", 0, 0, NULL, "spacing of the window's taps: an integer in [1, 65536] or a list [h, w] of them" },
    POOL2D_CEIL_MODE_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};

const dlh_param_doc avgpool2d_params[] = {
    LAYERS_KERNEL_SIZE_DOC,
    { "stride", DLH_PARAM_FLOATS, "", 0, 0, NULL, "an integer in [1, 65536] or a list [h, w] of them; unset: the kernel size" },
    { "padding", DLH_PARAM_FLOATS, "0", 0, 0, NULL, "implicit padding on each side, at most half the kernel: an integer or a list [h, w]" },
    POOL2D_CEIL_MODE_DOC,
    { "count_include_pad", DLH_PARAM_BOOL, "true", 0, 0, NULL, "divide by the window's cells inside the padded input (PyTorch's default), not only those inside the input" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
