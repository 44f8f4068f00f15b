/* prelu: y = x for x > 0, else a x, with a learnable slope a (nn.PReLU):
 * one slope shared by every element (num_parameters = 1, torch's default)
 * or one per channel, the first dimension of the sample (num_parameters =
 * C: [C, H, W] images, or the features of a flat sample, as torch takes
 * dim 1 of the batch).  The tensor is torch's "weight" [num_parameters],
 * so checkpoints load into nn.PReLU; its default initialiser is the
 * constant 0.25 (torch's `init`, whose name the core keeps for initialisers:
 * `init = { type = "constant"; value = 0.1; }` is torch's init=0.1).
 * Gradients as torch 1.13's prelu_backward: dx = dy where x > 0, else a dy
 * (a dy at 0); da = sum of x dy over the elements with x <= 0 of its
 * channel, a fused ew program into scratch, then the backend's row sums
 * (over each channel's plane, then over the batch). */
#include <limits.h>
#include <stdlib.h>

#include "activations.h"

typedef struct prelu_state {
    int64_t channels;           /* num_parameters: 1 or C */
    int64_t plane;              /* elements per slope within a sample */
    int w_index;
    int t_index;                /* scratch: x dy where x <= 0, per element */
    int r_index;                /* scratch: t summed over each plane, [N, C] */
    int acc_index;              /* scratch: da of this backward, [C] */
    dlh_ew_kernel *fwd;
    dlh_ew_kernel *bwd;         /* dx and t */
    dlh_ew_kernel *bwd_t;       /* t only (no dx wanted) */
    dlh_ew_kernel *acc;         /* g += s */
} prelu_state;

static int prelu_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    prelu_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    const int64_t def_n = 1;
    int64_t n;
    int rc = host->param_int(setup->params, "num_parameters", &def_n, INT64_MIN, INT64_MAX,
                             &n);
    if (rc < 0)
        return rc;
    if (setup->n_inputs != 1)
        return host->param_error(setup->params, NULL,
                                 "prelu takes exactly one input, got %d",
                                 setup->n_inputs);
    const dlh_shape *in = &setup->inputs[0];
    int64_t numel = dlh_shape_numel(in);
    /* torch's words: nn.PReLU's torch.empty, then prelu's check */
    if (n < 0)
        return host->param_error(setup->params, "num_parameters",
                                 "Trying to create tensor with negative dimension %lld: "
                                 "[%lld]", (long long)n, (long long)n);
    if (n != 1 && n != in->dim[0])
        return host->param_error(setup->params, "num_parameters",
                                 "Mismatch of parameter numbers and input channel size. "
                                 "Found parameter numbers = %lld and channel size = %lld.",
                                 (long long)n, (long long)in->dim[0]);
    /* The reductions take int sizes. */
    if (numel < 1 || numel > INT_MAX)
        return host->param_error(setup->params, NULL,
                                 "prelu input of %lld elements per sample is out of "
                                 "range (1..%d)", (long long)numel, INT_MAX);
    setup->output = *in;
    setup->overwrites_grads = 1;
    st->channels = n;
    st->plane = numel / n;
    dlh_shape ws = { 1, { n } };
    dlh_init def = { DLH_INIT_CONSTANT, 0.25f, 0.0f };
    if ((rc = setup->add_param(setup, "weight", &ws, def, &st->w_index)) < 0 ||
        (rc = setup->add_scratch(setup, numel, 0, &st->t_index)) < 0 ||
        (rc = setup->add_scratch(setup, n, 0, &st->r_index)) < 0 ||
        (rc = setup->add_scratch(setup, 0, n, &st->acc_index)) < 0)
        return rc;
    if ((rc = host->ew_compile(setup->backend, "in x, w; out y; y = select(x > 0, x, w*x);",
                               &st->fwd)) < 0 ||
        (rc = host->ew_compile(setup->backend,
                               "in x, dy, w; out dx, t; dx = select(x > 0, dy, w*dy); "
                               "t = select(x > 0, 0, x*dy);", &st->bwd)) < 0 ||
        (rc = host->ew_compile(setup->backend, "in x, dy; out t; t = select(x > 0, 0, x*dy);",
                               &st->bwd_t)) < 0 ||
        (rc = host->ew_compile(setup->backend, "in s; inout g; g = g + s;", &st->acc)) < 0)
        return rc;
    return 0;
}

/* The slope operand: element i of a [N, C, plane] batch uses w[(i / plane) % C]. */
static dlh_ew_arg prelu_w(const prelu_state *st, const dlh_layer_ctx *ctx)
{
    dlh_ew_arg a = { ctx->params[st->w_index].mem, (size_t)st->channels,
                     (size_t)st->plane };
    return a;
}

static int prelu_forward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                         const dlh_tensor *output)
{
    const prelu_state *st = state;
    size_t n = (size_t)dlh_tensor_numel(output);
    dlh_ew_arg args[3] = { dlh_ew_full(inputs[0].mem, n), prelu_w(st, ctx),
                           dlh_ew_full(output->mem, n) };
    return activations_host->ew_run(st->fwd, n, args, NULL);
}

static int prelu_backward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                          const dlh_tensor *output, const dlh_tensor *d_output,
                          const dlh_tensor *d_inputs)
{
    (void)output;
    const prelu_state *st = state;
    const dlh_backend *be = ctx->backend;
    size_t n = (size_t)dlh_tensor_numel(d_output);
    int rows = (int)ctx->batch * (int)st->channels, c = (int)st->channels;
    dlh_mem t = ctx->scratch[st->t_index].mem, r = ctx->scratch[st->r_index].mem;
    int rc;
    if (d_inputs[0].mem.buf) {
        dlh_ew_arg args[5] = { dlh_ew_full(inputs[0].mem, n), dlh_ew_full(d_output->mem, n),
                               prelu_w(st, ctx), dlh_ew_full(d_inputs[0].mem, n),
                               dlh_ew_full(t, n) };
        rc = activations_host->ew_run(st->bwd, n, args, NULL);
    } else {
        dlh_ew_arg args[3] = { dlh_ew_full(inputs[0].mem, n), dlh_ew_full(d_output->mem, n),
                               dlh_ew_full(t, n) };
        rc = activations_host->ew_run(st->bwd_t, n, args, NULL);
    }
    if (rc < 0)
        return rc;
    /* t [N, C, plane] -> r [N, C] -> da [C]; a plane of one is r already. */
    if (st->plane > 1 &&
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, rows, (int)st->plane, t, r,
                              (dlh_mem){ NULL, 0 })) < 0)
        return rc;
    dlh_mem sums = st->plane > 1 ? r : t, da = ctx->grads[st->w_index].mem;
    if (ctx->overwrite_grads)
        return be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 0, (int)ctx->batch, c, sums, da,
                               (dlh_mem){ NULL, 0 });
    /* reduce overwrites: sum into scratch, then add. */
    dlh_mem acc = ctx->scratch[st->acc_index].mem;
    if ((rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 0, (int)ctx->batch, c, sums, acc,
                              (dlh_mem){ NULL, 0 })) < 0)
        return rc;
    dlh_ew_arg args[2] = { dlh_ew_full(acc, (size_t)c), dlh_ew_full(da, (size_t)c) };
    return activations_host->ew_run(st->acc, (size_t)c, args, NULL);
}

static void prelu_destroy(void *state)
{
    prelu_state *st = state;
    if (!st)
        return;
    activations_host->ew_free(st->fwd);
    activations_host->ew_free(st->bwd);
    activations_host->ew_free(st->bwd_t);
    activations_host->ew_free(st->acc);
    free(st);
}

/* PRelu(x, slope): a per-channel slope [C] as [C, 1, ...] to broadcast over
   the sample's other axes. */
static int prelu_export(void *state, dlh_onnx_builder *b)
{
    const prelu_state *st = state;
    int64_t dims[DLH_MAX_DIMS] = { st->channels };
    int nd = st->channels > 1 ? b->input_shapes[0].ndim : 1;
    for (int d = 1; d < nd; d++)
        dims[d] = 1;
    const char *in[2] = { b->inputs[0], b->param(b, "weight", nd, dims) };
    return in[1] ? b->node(b, "PRelu", 2, in, 1, &b->output) : DLH_ENOMEM;
}

const dlh_layer_ops prelu_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = prelu_create,
    .forward = prelu_forward,
    .backward = prelu_backward,
    .destroy = prelu_destroy,
    .export_onnx = prelu_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc prelu_params[] = {
    { "num_parameters", DLH_PARAM_INT, "1", 1, INT_MAX, NULL,
      "slopes: 1 (shared) or the channel count, the sample's first dimension" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
