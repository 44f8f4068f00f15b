/* dense: y = x W^T + b over the flattened sample, nn.Linear's layout
 * (weight [units, in], bias [units]) and default initialisation. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "layers.h"

typedef struct dense_state {
    int units, in;
    int has_bias;
    int w_index, b_index;
    int colsum_index;           /* scratch: column sums of dy, [units] */
    dlh_ew_kernel *put_bias;    /* y = b broadcast over rows */
    dlh_ew_kernel *acc;         /* g += s */
} dense_state;

static int dense_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    dense_state *st = calloc(1, sizeof *st);
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
    int64_t in = dlh_shape_numel(&setup->inputs[0]);
    /* gemm takes int sizes and leading dimensions. */
    if (in < 1 || in > INT_MAX)
        return host->param_error(setup->params, NULL,
                                 "dense input of %lld features per sample is out of "
                                 "range (1..%d)", (long long)in, INT_MAX);
    st->units = (int)units;
    st->in = (int)in;
    st->has_bias = bias;

    setup->output.ndim = 1;
    setup->output.dim[0] = units;
    setup->overwrites_grads = 1;

    /* nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) on the weight and
       U(-1/sqrt(fan_in), 1/sqrt(fan_in)) on the bias, both this bound. */
    float bound = (float)(1.0 / sqrt((double)in));
    dlh_init def = { DLH_INIT_UNIFORM, -bound, bound };
    dlh_shape ws = { 2, { units, in } };
    if ((rc = setup->add_param(setup, "weight", &ws, def, &st->w_index)) < 0)
        return rc;
    if (bias) {
        dlh_shape bs = { 1, { units } };
        if ((rc = setup->add_param(setup, "bias", &bs, def, &st->b_index)) < 0 ||
            (rc = setup->add_scratch(setup, 0, units, &st->colsum_index)) < 0 ||
            (rc = host->ew_compile(setup->backend, "in b; out y; y = b;",
                                   &st->put_bias)) < 0 ||
            (rc = host->ew_compile(setup->backend, "in s; inout g; g = g + s;",
                                   &st->acc)) < 0)
            return rc;
    }
    return 0;
}

static int dense_forward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                         const dlh_tensor *output)
{
    const dense_state *st = state;
    const dlh_backend *be = ctx->backend;
    int batch = (int)ctx->batch;
    /* y = b + x W^T as torch.addmm: the bias in y first, then a gemm with
       beta 1 (beta 0 would clear y in a pass of its own). */
    if (st->has_bias) {
        size_t n = (size_t)batch * (size_t)st->units;
        dlh_ew_arg args[2] = {
            { ctx->params[st->b_index].mem, (size_t)st->units, 1 },
            dlh_ew_full(output->mem, n),
        };
        int rc = layers_host->ew_run(st->put_bias, n, args, NULL);
        if (rc < 0)
            return rc;
    }
    return be->ops->gemm(be->ctx, 0, 1, batch, st->units, st->in, 1.0f, inputs[0].mem,
                         st->in, ctx->params[st->w_index].mem, st->in,
                         st->has_bias ? 1.0f : 0.0f, output->mem, st->units);
}

static int dense_backward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                          const dlh_tensor *output, const dlh_tensor *d_output,
                          const dlh_tensor *d_inputs)
{
    (void)output;
    const dense_state *st = state;
    const dlh_backend *be = ctx->backend;
    int batch = (int)ctx->batch, overwrite = ctx->overwrite_grads;
    /* dW = dy^T x, or dW += dy^T x */
    int rc = be->ops->gemm(be->ctx, 1, 0, st->units, st->in, batch, 1.0f,
                           d_output->mem, st->units, inputs[0].mem, st->in,
                           overwrite ? 0.0f : 1.0f, ctx->grads[st->w_index].mem, st->in);
    if (rc < 0)
        return rc;
    if (st->has_bias && overwrite) {
        /* db = column sums of dy */
        if ((rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 0, batch, st->units,
                                  d_output->mem, ctx->grads[st->b_index].mem,
                                  (dlh_mem){ NULL, 0 })) < 0)
            return rc;
    } else if (st->has_bias) {
        /* db += column sums of dy, through scratch so db accumulates. */
        dlh_mem colsum = ctx->scratch[st->colsum_index].mem;
        if ((rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 0, batch, st->units,
                                  d_output->mem, colsum, (dlh_mem){ NULL, 0 })) < 0)
            return rc;
        dlh_ew_arg args[2] = {
            dlh_ew_full(colsum, (size_t)st->units),
            dlh_ew_full(ctx->grads[st->b_index].mem, (size_t)st->units),
        };
        if ((rc = layers_host->ew_run(st->acc, (size_t)st->units, args, NULL)) < 0)
            return rc;
    }
    if (!d_inputs[0].mem.buf)
        return 0;
    /* dx = dy W */
    return be->ops->gemm(be->ctx, 0, 0, batch, st->in, st->units, 1.0f, d_output->mem,
                         st->units, ctx->params[st->w_index].mem, st->in, 0.0f,
                         d_inputs[0].mem, st->in);
}

static void dense_destroy(void *state)
{
    dense_state *st = state;
    if (!st)
        return;
    layers_host->ew_free(st->put_bias);
    layers_host->ew_free(st->acc);
    free(st);
}

const dlh_layer_ops dense_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = dense_create,
    .forward = dense_forward,
    .backward = dense_backward,
    .destroy = dense_destroy,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc dense_params[] = {
    { "units", DLH_PARAM_INT, NULL, 1, 16777216, NULL, "output features (torch's out_features)" },
    { "bias", DLH_PARAM_BOOL, "true", 0, 0, NULL, "add a learned bias" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
