/* dense: y = x W^T + b over the flattened sample, nn.Linear's layout
 * (weight [units, in], bias [units]) and default initialisation.  The
 * layers_linear_* helpers are that layer without its parameters, for maxout
 * too. */
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "layers.h"

int layers_linear_create(const dlh_host *host, dlh_layer_setup *setup, const char *name,
                         int64_t out, int bias, layers_linear *lin)
{
    int64_t in = dlh_shape_numel(&setup->inputs[0]);
    /* gemm takes int sizes and leading dimensions. */
    if (in < 1 || in > INT_MAX)
        return host->param_error(setup->params, NULL,
                                 "%s input of %lld features per sample is out of "
                                 "range (1..%d)", name, (long long)in, INT_MAX);
    lin->out = (int)out;
    lin->in = (int)in;
    lin->has_bias = bias;

    /* nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) on the weight and
       U(-1/sqrt(fan_in), 1/sqrt(fan_in)) on the bias, both this bound. */
    float bound = (float)(1.0 / sqrt((double)in));
    dlh_init def = { DLH_INIT_UNIFORM, -bound, bound };
    dlh_shape ws = { 2, { out, in } };
    int rc;
    if ((rc = setup->add_param(setup, "weight", &ws, def, &lin->w_index)) < 0)
        return rc;
    if (bias) {
        dlh_shape bs = { 1, { out } };
        if ((rc = setup->add_param(setup, "bias", &bs, def, &lin->b_index)) < 0 ||
            (rc = setup->add_scratch(setup, 0, out, &lin->colsum_index)) < 0 ||
            (rc = host->ew_compile(setup->backend, "in b; out y; y = b;",
                                   &lin->put_bias)) < 0 ||
            (rc = host->ew_compile(setup->backend, "in s; inout g; g = g + s;",
                                   &lin->acc)) < 0)
            return rc;
    }
    return 0;
}

int layers_linear_forward(const layers_linear *lin, const dlh_layer_ctx *ctx, dlh_mem x,
                          dlh_mem y)
{
    const dlh_backend *be = ctx->backend;
    int batch = (int)ctx->batch;
    /* y = b + x W^T as torch.addmm: the bias in y first, then a gemm with
       beta 1 (beta 0 would clear y in a pass of its own). */
    if (lin->has_bias) {
        size_t n = (size_t)batch * (size_t)lin->out;
        dlh_ew_arg args[2] = {
            { ctx->params[lin->b_index].mem, (size_t)lin->out, 1 },
            dlh_ew_full(y, n),
        };
        int rc = layers_host->ew_run(lin->put_bias, n, args, NULL);
        if (rc < 0)
            return rc;
    }
    return be->ops->gemm(be->ctx, 0, 1, batch, lin->out, lin->in, 1.0f, x, lin->in,
                         ctx->params[lin->w_index].mem, lin->in,
                         lin->has_bias ? 1.0f : 0.0f, y, lin->out);
}

int layers_linear_backward(const layers_linear *lin, const dlh_layer_ctx *ctx, dlh_mem x,
                           dlh_mem dy, dlh_mem dx)
{
    const dlh_backend *be = ctx->backend;
    int batch = (int)ctx->batch, overwrite = ctx->overwrite_grads;
    /* dW = dy^T x, or dW += dy^T x */
    int rc = be->ops->gemm(be->ctx, 1, 0, lin->out, lin->in, batch, 1.0f, dy, lin->out, x,
                           lin->in, overwrite ? 0.0f : 1.0f, ctx->grads[lin->w_index].mem,
                           lin->in);
    if (rc < 0)
        return rc;
    if (lin->has_bias && overwrite) {
        /* db = column sums of dy */
        if ((rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 0, batch, lin->out, dy,
                                  ctx->grads[lin->b_index].mem, layers_no_mem())) < 0)
            return rc;
    } else if (lin->has_bias) {
        /* db += column sums of dy, through scratch so db accumulates. */
        dlh_mem colsum = ctx->scratch[lin->colsum_index].mem;
        if ((rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 0, batch, lin->out, dy, colsum,
                                  layers_no_mem())) < 0)
            return rc;
        dlh_ew_arg args[2] = {
            dlh_ew_full(colsum, (size_t)lin->out),
            dlh_ew_full(ctx->grads[lin->b_index].mem, (size_t)lin->out),
        };
        if ((rc = layers_host->ew_run(lin->acc, (size_t)lin->out, args, NULL)) < 0)
            return rc;
    }
    if (!dx.buf)
        return 0;
    /* dx = dy W */
    return be->ops->gemm(be->ctx, 0, 0, batch, lin->in, lin->out, 1.0f, dy, lin->out,
                         ctx->params[lin->w_index].mem, lin->in, 0.0f, dx, lin->in);
}

int layers_linear_export(const layers_linear *lin, dlh_onnx_builder *b, const char *y)
{
    /* Gemm wants [N, in]: a sample of several axes is flattened first. */
    const char *x = b->inputs[0];
    int rc;
    if (b->input_shapes[0].ndim != 1) {
        const char *flat = b->value(b, "flat");
        if (!flat || (rc = b->node(b, "Flatten", 1, &x, 1, &flat)) < 0 ||
            (rc = b->attr_int(b, "axis", 1)) < 0)
            return flat ? rc : DLH_ENOMEM;
        x = flat;
    }
    const char *in[3] = { x, b->param(b, "weight", 0, NULL),
                          lin->has_bias ? b->param(b, "bias", 0, NULL) : NULL };
    if (!in[1] || (lin->has_bias && !in[2]))
        return DLH_ENOMEM;
    if ((rc = b->node(b, "Gemm", lin->has_bias ? 3 : 2, in, 1, &y)) < 0)
        return rc;
    return b->attr_int(b, "transB", 1);
}

void layers_linear_destroy(layers_linear *lin)
{
    layers_host->ew_free(lin->put_bias);
    layers_host->ew_free(lin->acc);
    layers_host->ew_free(lin->relu_bwd);
}

static int dense_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    layers_linear *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    int rc;
    int64_t units;
    int bias, def_true = 1;
    if ((rc = host->param_int(setup->params, "units", NULL, 1, (int64_t)1 << 24,
                              &units)) < 0 ||
        (rc = host->param_bool(setup->params, "bias", &def_true, &bias)) < 0)
        return rc;
    if (setup->n_inputs != 1)
        return host->param_error(setup->params, NULL,
                                 "dense takes exactly one input, got %d",
                                 setup->n_inputs);
    setup->output.ndim = 1;
    setup->output.dim[0] = units;
    setup->overwrites_grads = 1;
    if ((rc = layers_linear_create(host, setup, "dense", units, bias, st)) < 0)
        return rc;
    /* The bias and a relu that reads the output, on each piece of the
       product where the backend computes it (its gemm_bias_act). */
    st->bias_act = DLH_BACKEND_HAS(setup->backend->ops, gemm_bias_act);
    if (!st->bias_act)
        return 0;
    setup->accepts_output_relu = 1;
    if ((rc = setup->add_scratch(setup, units, 0, &st->dz_index)) < 0)
        return rc;
    return host->ew_compile(setup->backend, "in y, dy; out dz; dz = select(y > 0, dy, 0);",
                            &st->relu_bwd);
}

/* ctx->output_relu: the relu folded in (layer.h), 1 = relu. */
static int dense_relu(const dlh_layer_ctx *ctx)
{
    return ctx->struct_size >= offsetof(dlh_layer_ctx, output_relu) +
                                   sizeof ctx->output_relu &&
           ctx->output_relu;
}

static int dense_forward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                         const dlh_tensor *output)
{
    const layers_linear *lin = state;
    if (!lin->bias_act)
        return layers_linear_forward(lin, ctx, inputs[0].mem, output->mem);
    const dlh_backend *be = ctx->backend;
    return be->ops->gemm_bias_act(be->ctx, (int)ctx->batch, lin->out, lin->in, inputs[0].mem,
                                  lin->in, ctx->params[lin->w_index].mem, lin->in,
                                  lin->has_bias ? ctx->params[lin->b_index].mem
                                                : layers_no_mem(),
                                  dense_relu(ctx), output->mem, lin->out);
}

static int dense_backward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                          const dlh_tensor *output, const dlh_tensor *d_output,
                          const dlh_tensor *d_inputs)
{
    const layers_linear *lin = state;
    dlh_mem dy = d_output->mem;
    if (dense_relu(ctx)) {
        /* relu's backward: its output is positive exactly where its input is. */
        size_t n = (size_t)ctx->batch * (size_t)lin->out;
        dlh_mem dz = ctx->scratch[lin->dz_index].mem;
        dlh_ew_arg args[3] = { dlh_ew_full(output->mem, n), dlh_ew_full(dy, n),
                               dlh_ew_full(dz, n) };
        int rc = layers_host->ew_run(lin->relu_bwd, n, args, NULL);
        if (rc < 0)
            return rc;
        dy = dz;
    }
    return layers_linear_backward(lin, ctx, inputs[0].mem, dy, d_inputs[0].mem);
}

/* Gemm(x, W, b) with transB: y = x W^T + b, nn.Linear's export. */
static int dense_export(void *state, dlh_onnx_builder *b)
{
    return layers_linear_export(state, b, b->output);
}

static void dense_destroy(void *state)
{
    if (!state)
        return;
    layers_linear_destroy(state);
    free(state);
}

const dlh_layer_ops dense_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = dense_create,
    .forward = dense_forward,
    .backward = dense_backward,
    .destroy = dense_destroy,
    .export_onnx = dense_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc dense_params[] = {
    { "units", DLH_PARAM_INT, NULL, 1, 16777216, NULL, "output features (torch's out_features)" },
    { "bias", DLH_PARAM_BOOL, "true", 0, 0, NULL, "add a learned bias" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
