/* alpha_dropout: dropout for self-normalising (SELU) networks
 * (nn.AlphaDropout, Klambauer et al. 2017).  In training a dropped element
 * is set to SELU's negative saturation -alpha' (alpha' = scale * alpha =
 * 1.7580993408473766) instead of 0, and an affine map a x + b keeps the
 * mean and variance of zero-mean, unit-variance inputs:
 *   a = 1/sqrt((alpha'^2 p + 1)(1 - p)),  b = alpha' a p (kept), alpha' a p - alpha' a (dropped)
 * computed as torch 1.13's _dropout_impl does: a in double, the noise m a
 * and b = (m - 1)(alpha' a) + alpha' a p in float, y = x (m a) + b.  m ~
 * Bernoulli(1 - p) per element from the backend's Philox fill keyed by the
 * layer's (seed, stream) for this step at offset 0 (as dropout's); it stays
 * in scratch for backward, dx = dy (m a).  p = 1 gives y = x * 0 (torch
 * multiplies by zero there, not by the saturation value); evaluation and
 * p = 0 are the identity. */
#include <math.h>
#include <stdlib.h>

#include "regularization.h"

typedef struct alpha_dropout_state {
    float keep;                 /* 1 - p */
    float k[3];                 /* a, alpha' a, alpha' a p: torch's doubles in float */
    int mask_index;             /* scratch: the 0/1 mask of the last forward */
    dlh_ew_kernel *fwd, *bwd;
    dlh_ew_kernel *zero;        /* p = 1 */
} alpha_dropout_state;

static int alpha_dropout_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    alpha_dropout_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    double p;
    int rc = regularization_rate(host, setup->params, &p);
    if (rc < 0)
        return rc;
    if (setup->n_inputs != 1)
        return host->param_error(setup->params, NULL,
                                 "alpha_dropout takes exactly one input, got %d",
                                 setup->n_inputs);
    setup->output = setup->inputs[0];
    st->keep = (float)(1.0 - p);
    if (p == 0.0)
        return 0;
    if (p == 1.0)
        return host->ew_compile(setup->backend, "in x; out y; y = x*0;", &st->zero);
    /* aten/src/ATen/native/Dropout.cpp, _dropout_impl<alpha_dropout> */
    const double alpha = 1.7580993408473766;
    double a = 1. / sqrt((alpha * alpha * p + 1) * (1 - p));
    st->k[0] = (float)a;
    st->k[1] = (float)(alpha * a);
    st->k[2] = (float)(alpha * a * p);
    if ((rc = setup->add_scratch(setup, dlh_shape_numel(&setup->inputs[0]), 0,
                                 &st->mask_index)) < 0 ||
        (rc = host->ew_compile(setup->backend,
                               "in x, m; out y; scalar a, aa, c; "
                               "y = x*(m*a) + ((m - 1)*aa + c);", &st->fwd)) < 0 ||
        (rc = host->ew_compile(setup->backend,
                               "in dy, m; out dx; scalar a; dx = dy*(m*a);", &st->bwd)) < 0)
        return rc;
    return 0;
}

static int alpha_dropout_forward(void *state, const dlh_layer_ctx *ctx,
                                 const dlh_tensor *inputs, const dlh_tensor *output)
{
    const alpha_dropout_state *st = state;
    const dlh_backend *be = ctx->backend;
    size_t n = (size_t)dlh_tensor_numel(output);
    if (n == 0)
        return 0;
    if (!ctx->training || (!st->fwd && !st->zero))
        return regularization_copy(be, output->mem, inputs[0].mem, n);
    if (st->zero) {
        dlh_ew_arg args[2] = { dlh_ew_full(inputs[0].mem, n), dlh_ew_full(output->mem, n) };
        return regularization_host->ew_run(st->zero, n, args, NULL);
    }
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
    return regularization_host->ew_run(st->fwd, n, args, st->k);
}

static int alpha_dropout_backward(void *state, const dlh_layer_ctx *ctx,
                                  const dlh_tensor *inputs, const dlh_tensor *output,
                                  const dlh_tensor *d_output, const dlh_tensor *d_inputs)
{
    (void)inputs;
    (void)output;
    const alpha_dropout_state *st = state;
    size_t n = (size_t)dlh_tensor_numel(d_output);
    if (!d_inputs[0].mem.buf || n == 0)
        return 0;
    /* Forward under the same ctx was the identity. */
    if (!ctx->training || (!st->fwd && !st->zero))
        return regularization_copy(ctx->backend, d_inputs[0].mem, d_output->mem, n);
    if (st->zero) {
        dlh_ew_arg args[2] = { dlh_ew_full(d_output->mem, n),
                               dlh_ew_full(d_inputs[0].mem, n) };
        return regularization_host->ew_run(st->zero, n, args, NULL);
    }
    dlh_ew_arg args[3] = {
        dlh_ew_full(d_output->mem, n),
        dlh_ew_full(ctx->scratch[st->mask_index].mem, n),
        dlh_ew_full(d_inputs[0].mem, n),
    };
    return regularization_host->ew_run(st->bwd, n, args, st->k);
}

static void alpha_dropout_destroy(void *state)
{
    alpha_dropout_state *st = state;
    if (!st)
        return;
    regularization_host->ew_free(st->fwd);
    regularization_host->ew_free(st->bwd);
    regularization_host->ew_free(st->zero);
    free(st);
}

const dlh_layer_ops alpha_dropout_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = alpha_dropout_create,
    .forward = alpha_dropout_forward,
    .backward = alpha_dropout_backward,
    .destroy = alpha_dropout_destroy,
    .export_onnx = regularization_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc alpha_dropout_params[] = {
    { "rate", DLH_PARAM_FLOAT, "0.5", 0.0, 1.0, NULL,
      "probability of setting an element to the saturation value in training (torch's p)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
