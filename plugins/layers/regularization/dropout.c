/* dropout: inverted dropout (nn.Dropout).  In training, y = x * m / (1 - p)
 * with m ~ Bernoulli(1 - p) drawn by the backend's Philox fill keyed by the
 * layer's (seed, stream) for this step at offset 0, so the same step always
 * draws the same mask on every backend; the mask stays in scratch for
 * backward, dx = dy * m / (1 - p).  In evaluation, and for p = 0, y = x. */
#include <stdlib.h>

#include "regularization.h"

typedef struct dropout_state {
    float keep;                 /* 1 - p */
    float scale;                /* 1 / (1 - p) */
    int mask_index;             /* scratch: the 0/1 mask of the last forward */
    dlh_ew_kernel *apply;       /* y = x * m * scale, also dx = dy * m * scale */
} dropout_state;

static int dropout_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    dropout_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    const double def_rate = 0.5;
    double rate;
    int rc;
    if ((rc = host->param_float(setup->params, "rate", &def_rate, 0.0, 1.0, &rate)) < 0)
        return rc;
    /* The bound is open: p = 1 would scale by 1/0. */
    if (rate >= 1.0)
        return host->param_error(setup->params, "rate",
                                 "parameter 'rate': expected a number in [0, 1), got %g",
                                 rate);
    if (setup->n_inputs != 1)
        return host->param_error(setup->params, NULL,
                                 "dropout takes exactly one input, got %d",
                                 setup->n_inputs);
    setup->output = setup->inputs[0];
    st->keep = (float)(1.0 - rate);
    st->scale = (float)(1.0 / (1.0 - rate));
    if (rate == 0.0)
        return 0;
    if ((rc = setup->add_scratch(setup, dlh_shape_numel(&setup->inputs[0]), 0,
                                 &st->mask_index)) < 0 ||
        (rc = host->ew_compile(setup->backend,
                               "in x, m; out y; scalar scale; y = x*m*scale;",
                               &st->apply)) < 0)
        return rc;
    return 0;
}

static int dropout_forward(void *state, const dlh_layer_ctx *ctx,
                           const dlh_tensor *inputs, const dlh_tensor *output)
{
    const dropout_state *st = state;
    const dlh_backend *be = ctx->backend;
    size_t n = (size_t)dlh_tensor_numel(output);
    if (!ctx->training || !st->apply)
        return regularization_copy(be, output->mem, inputs[0].mem, n);
    dlh_mem mask = ctx->scratch[st->mask_index].mem;
    int rc = be->ops->rand(be->ctx, DLH_RAND_BERNOULLI, mask, n, ctx->seed, ctx->stream,
                           0, st->keep, 0.0f);
    if (rc < 0)
        return rc;
    dlh_ew_arg args[3] = {
        dlh_ew_full(inputs[0].mem, n),
        dlh_ew_full(mask, n),
        dlh_ew_full(output->mem, n),
    };
    return regularization_host->ew_run(st->apply, n, args, &st->scale);
}

static int dropout_backward(void *state, const dlh_layer_ctx *ctx,
                            const dlh_tensor *inputs, const dlh_tensor *output,
                            const dlh_tensor *d_output, const dlh_tensor *d_inputs)
{
    (void)inputs;
    (void)output;
    const dropout_state *st = state;
    const dlh_backend *be = ctx->backend;
    if (!d_inputs[0].mem.buf)
        return 0;
    size_t n = (size_t)dlh_tensor_numel(d_output);
    /* Forward under the same ctx was the identity. */
    if (!ctx->training || !st->apply)
        return regularization_copy(be, d_inputs[0].mem, d_output->mem, n);
    dlh_ew_arg args[3] = {
        dlh_ew_full(d_output->mem, n),
        dlh_ew_full(ctx->scratch[st->mask_index].mem, n),
        dlh_ew_full(d_inputs[0].mem, n),
    };
    return regularization_host->ew_run(st->apply, n, args, &st->scale);
}

static void dropout_destroy(void *state)
{
    dropout_state *st = state;
    if (!st)
        return;
    regularization_host->ew_free(st->apply);
    free(st);
}

const dlh_layer_ops dropout_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = dropout_create,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .destroy = dropout_destroy,
    .export_onnx = regularization_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc dropout_params[] = {
    { "rate", DLH_PARAM_FLOAT, "0.5", 0.0, 1.0, NULL, "probability of zeroing an element in training, < 1 (torch's p)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
