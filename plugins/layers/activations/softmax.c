/* softmax and log_softmax over each sample's features, flattened (rows =
 * batch, cols = the sample's element count), with the backend's row
 * primitive (max-shifted, so large logits do not overflow).
 *   softmax:     dx = y (dy - sum_j dy_j y_j)
 *   log_softmax: dx = dy - exp(y) sum_j dy_j
 * Both take the saved output only.  The per-row sum goes through `reduce`
 * into scratch and one fused kernel broadcasts it along the row; softmax
 * keeps the product dy * y in scratch too, so dx may alias dy. */
#include <limits.h>
#include <stdlib.h>

#include "activations.h"

typedef struct softmax_state {
    int log;
    int cols;
    int sum_index;              /* scratch: one row sum per sample */
    int prod_index;             /* scratch, softmax only: dy * y */
    dlh_ew_kernel *prod;        /* softmax only */
    dlh_ew_kernel *bwd;
} softmax_state;

static int softmax_make(const dlh_host *host, dlh_layer_setup *setup, void **state,
                        int use_log)
{
    const char *what = use_log ? "log_softmax" : "softmax";
    softmax_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    if (setup->n_inputs != 1)
        return host->param_error(setup->params, NULL, "%s takes exactly one input, got %d",
                                 what, setup->n_inputs);
    int64_t cols = dlh_shape_numel(&setup->inputs[0]);
    /* softmax and reduce take int sizes. */
    if (cols < 1 || cols > INT_MAX)
        return host->param_error(setup->params, NULL,
                                 "%s input of %lld features per sample is out of range "
                                 "(1..%d)", what, (long long)cols, INT_MAX);
    st->log = use_log;
    st->cols = (int)cols;
    setup->output = setup->inputs[0];
    int rc;
    if ((rc = setup->add_scratch(setup, 1, 0, &st->sum_index)) < 0)
        return rc;
    if (use_log)
        return host->ew_compile(setup->backend,
                                "in y, dy, s; out dx; dx = dy - exp(y)*s;", &st->bwd);
    if ((rc = setup->add_scratch(setup, cols, 0, &st->prod_index)) < 0 ||
        (rc = host->ew_compile(setup->backend, "in y, dy; out p; p = dy*y;",
                               &st->prod)) < 0 ||
        (rc = host->ew_compile(setup->backend, "in y, dy, s; out dx; dx = y*(dy - s);",
                               &st->bwd)) < 0)
        return rc;
    return 0;
}

static int softmax_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    return softmax_make(host, setup, state, 0);
}

static int log_softmax_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    return softmax_make(host, setup, state, 1);
}

static int softmax_forward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                           const dlh_tensor *output)
{
    const softmax_state *st = state;
    const dlh_backend *be = ctx->backend;
    return be->ops->softmax(be->ctx, st->log, (int)ctx->batch, st->cols, inputs[0].mem,
                            output->mem);
}

static int softmax_backward(void *state, const dlh_layer_ctx *ctx,
                            const dlh_tensor *inputs, const dlh_tensor *output,
                            const dlh_tensor *d_output, const dlh_tensor *d_inputs)
{
    (void)inputs;
    const softmax_state *st = state;
    const dlh_backend *be = ctx->backend;
    if (!d_inputs[0].mem.buf)
        return 0;
    int rows = (int)ctx->batch;
    size_t n = (size_t)rows * (size_t)st->cols;
    dlh_mem sum = ctx->scratch[st->sum_index].mem;
    dlh_mem summed = d_output->mem;
    int rc;
    if (!st->log) {
        summed = ctx->scratch[st->prod_index].mem;
        dlh_ew_arg pargs[3] = {
            dlh_ew_full(output->mem, n),
            dlh_ew_full(d_output->mem, n),
            dlh_ew_full(summed, n),
        };
        if ((rc = activations_host->ew_run(st->prod, n, pargs, NULL)) < 0)
            return rc;
    }
    if ((rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, rows, st->cols, summed, sum,
                              (dlh_mem){ NULL, 0 })) < 0)
        return rc;
    /* The row sum broadcast along its row: element i reads sum[i / cols]. */
    dlh_ew_arg args[4] = {
        dlh_ew_full(output->mem, n),
        dlh_ew_full(d_output->mem, n),
        { sum, (size_t)rows, (size_t)st->cols },
        dlh_ew_full(d_inputs[0].mem, n),
    };
    return activations_host->ew_run(st->bwd, n, args, NULL);
}

static void softmax_destroy(void *state)
{
    softmax_state *st = state;
    if (!st)
        return;
    activations_host->ew_free(st->prod);
    activations_host->ew_free(st->bwd);
    free(st);
}

/* Softmax / LogSoftmax on axis 1 of [N, features]: a sample of several
   axes is flattened first and reshaped back after. */
static int softmax_export(void *state, dlh_onnx_builder *b)
{
    const softmax_state *st = state;
    const char *op = st->log ? "LogSoftmax" : "Softmax";
    const dlh_shape *s = &b->input_shapes[0];
    if (s->ndim == 1) {
        int rc = dlh_onnx_unary(b, op);
        return rc < 0 ? rc : b->attr_int(b, "axis", 1);
    }
    int64_t dims[DLH_MAX_DIMS + 1], n = s->ndim + 1;
    dims[0] = 0;
    for (int d = 0; d < s->ndim; d++)
        dims[d + 1] = s->dim[d];
    const char *flat = b->value(b, "flat"), *y = b->value(b, "rows");
    const char *shape = b->constant(b, "shape", DLH_ONNX_INT64, 1, &n, dims);
    const char *in[2] = { y, shape };
    int rc;
    if (!flat || !y || !shape)
        return DLH_ENOMEM;
    if ((rc = b->node(b, "Flatten", 1, b->inputs, 1, &flat)) < 0 ||
        (rc = b->attr_int(b, "axis", 1)) < 0 || (rc = b->node(b, op, 1, &flat, 1, &y)) < 0 ||
        (rc = b->attr_int(b, "axis", 1)) < 0)
        return rc;
    return b->node(b, "Reshape", 2, in, 1, &b->output);
}

const dlh_layer_ops softmax_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = softmax_create,
    .forward = softmax_forward,
    .backward = softmax_backward,
    .destroy = softmax_destroy,
    .export_onnx = softmax_export,
};

const dlh_layer_ops log_softmax_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = log_softmax_create,
    .forward = softmax_forward,
    .backward = softmax_backward,
    .destroy = softmax_destroy,
    .export_onnx = softmax_export,
};
