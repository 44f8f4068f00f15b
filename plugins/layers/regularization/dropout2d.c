/* dropout2d: channel dropout (nn.Dropout2d).  In training each channel of
 * each sample ([C, H, W] samples, or [C, L] ones as torch 1.13 treats a
 * 3-D input) is kept with probability 1 - p and scaled, or zeroed whole:
 * y = x * m[n, c] / (1 - p), as torch's feature_dropout computes it (the
 * noise m / (1 - p) in float, then x times it).  m ~ Bernoulli(1 - p), one
 * draw per (sample, channel), comes from the backend's Philox fill keyed by
 * the layer's (seed, stream) for this step at offset n*C + c, the same on
 * every backend; it stays in scratch for backward, dx = dy * m / (1 - p).
 * p = 1 gives y = x * 0 and dx = dy * 0 (torch's); evaluation and p = 0
 * are the identity. */
#include <stdlib.h>

#include "regularization.h"

typedef struct dropout2d_state {
    float keep;                 /* 1 - p */
    float scale;                /* 1 / (1 - p), in float as torch divides */
    int64_t channels, plane;    /* C and the elements of one channel */
    int mask_index;             /* scratch: the 0/1 mask per (sample, channel) */
    dlh_ew_kernel *apply;       /* y = x * (m * scale), also dx = dy * (m * scale) */
    dlh_ew_kernel *zero;        /* p = 1: y = x * 0, dx = dy * 0 */
} dropout2d_state;

static int dropout2d_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    dropout2d_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    double rate;
    int rc = regularization_rate(host, setup->params, &rate);
    if (rc < 0)
        return rc;
    if (setup->n_inputs != 1)
        return host->param_error(setup->params, NULL,
                                 "dropout2d takes exactly one input, got %d",
                                 setup->n_inputs);
    const dlh_shape *in = &setup->inputs[0];
    /* torch warns that other ranks are deprecated for dropout2d (a 2-D
       input drops single features: that is dropout). */
    if (in->ndim != 2 && in->ndim != 3)
        return host->param_error(setup->params, NULL,
                                 "dropout2d expects samples of shape [C, H, W] (or [C, L]), "
                                 "got %d dimension%s: dropout2d exists to provide "
                                 "channel-wise dropout on inputs with 2 spatial dimensions "
                                 "and a channel dimension; use dropout instead",
                                 in->ndim, in->ndim == 1 ? "" : "s");
    setup->output = *in;
    st->channels = in->dim[0];
    st->plane = dlh_shape_numel(in) / (in->dim[0] ? in->dim[0] : 1);
    st->keep = (float)(1.0 - rate);
    if (rate == 0.0)
        return 0;
    if (rate == 1.0)
        return host->ew_compile(setup->backend, "in x; out y; y = x*0;", &st->zero);
    st->scale = 1.0f / st->keep;
    if ((rc = setup->add_scratch(setup, st->channels, 0, &st->mask_index)) < 0 ||
        (rc = host->ew_compile(setup->backend,
                               "in x, m; out y; scalar s; y = x*(m*s);", &st->apply)) < 0)
        return rc;
    return 0;
}

/* y = f(x) of the mask drawn in forward (apply) or of p = 1 (zero);
   src and dst hold the whole batch. */
static int dropout2d_run(const dropout2d_state *st, const dlh_layer_ctx *ctx,
                         dlh_mem src, dlh_mem dst)
{
    size_t n = (size_t)ctx->batch * (size_t)st->channels * (size_t)st->plane;
    if (st->zero) {
        dlh_ew_arg args[2] = { dlh_ew_full(src, n), dlh_ew_full(dst, n) };
        return regularization_host->ew_run(st->zero, n, args, NULL);
    }
    dlh_ew_arg args[3] = {
        dlh_ew_full(src, n),
        { ctx->scratch[st->mask_index].mem, (size_t)ctx->batch * (size_t)st->channels,
          (size_t)st->plane },
        dlh_ew_full(dst, n),
    };
    return regularization_host->ew_run(st->apply, n, args, &st->scale);
}

static int dropout2d_forward(void *state, const dlh_layer_ctx *ctx,
                             const dlh_tensor *inputs, const dlh_tensor *output)
{
    const dropout2d_state *st = state;
    const dlh_backend *be = ctx->backend;
    size_t n = (size_t)dlh_tensor_numel(output);
    if (n == 0)
        return 0;
    if (!ctx->training || (!st->apply && !st->zero))
        return regularization_copy(be, output->mem, inputs[0].mem, n);
    if (st->apply) {
        int rc = be->ops->rand(be->ctx, DLH_RAND_BERNOULLI, ctx->scratch[st->mask_index].mem,
                               (size_t)ctx->batch * (size_t)st->channels, ctx->seed,
                               ctx->stream, 0, st->keep, 0.0f);
        if (rc < 0)
            return rc;
    }
    return dropout2d_run(st, ctx, inputs[0].mem, output->mem);
}

static int dropout2d_backward(void *state, const dlh_layer_ctx *ctx,
                              const dlh_tensor *inputs, const dlh_tensor *output,
                              const dlh_tensor *d_output, const dlh_tensor *d_inputs)
{
    (void)inputs;
    (void)output;
    const dropout2d_state *st = state;
    size_t n = (size_t)dlh_tensor_numel(d_output);
    if (!d_inputs[0].mem.buf || n == 0)
        return 0;
    /* Forward under the same ctx was the identity. */
    if (!ctx->training || (!st->apply && !st->zero))
        return regularization_copy(ctx->backend, d_inputs[0].mem, d_output->mem, n);
    return dropout2d_run(st, ctx, d_output->mem, d_inputs[0].mem);
}

static void dropout2d_destroy(void *state)
{
    dropout2d_state *st = state;
    if (!st)
        return;
    regularization_host->ew_free(st->apply);
    regularization_host->ew_free(st->zero);
    free(st);
}

const dlh_layer_ops dropout2d_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = dropout2d_create,
    .forward = dropout2d_forward,
    .backward = dropout2d_backward,
    .destroy = dropout2d_destroy,
    .export_onnx = regularization_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc dropout2d_params[] = {
    { "rate", DLH_PARAM_FLOAT, "0.5", 0.0, 1.0, NULL,
      "probability of zeroing a channel in training (torch's p)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
