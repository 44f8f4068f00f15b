/* maxout: out_j = max_k (W_k x + b_k)_j over `pieces` affine maps of the
 * flattened sample (Goodfellow et al. 2013; pieces = 2 is the course's
 * max(w1^T x + b1, w2^T x + b2)).  The layout is torch's composition
 *   nn.Linear(in, units * pieces)(x).view(N, units, pieces).max(-1).values:
 * weight [units * pieces, in] and bias [units * pieces], where row
 * j * pieces + k is piece k of unit j, with nn.Linear's default
 * initialisation (fan_in = in).  One gemm (dense's) writes z [N, units *
 * pieces] to scratch; the max over each unit's `pieces` consecutive values is
 * the backend's max pool over [N, units, 1, pieces] planes with a 1 x pieces
 * window, whose argmax (the first maximum, as torch's max) stays in
 * scratch.  Backward routes dy to that argmax (pool backward into z's
 * scratch, cleared first) and runs dense's backward on it. */
#include <stdlib.h>

#include "layers.h"

typedef struct maxout_state {
    layers_linear lin;          /* the gemm's weight, bias and kernels */
    int units, pieces;
    int z_index;                /* scratch: z [N, units * pieces], then dz */
    int idx_index;              /* scratch: argmax (int32) [N, units] */
} maxout_state;

static int maxout_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    maxout_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    int rc;
    int64_t units, pieces;
    const int64_t def_pieces = 2;
    int bias, def_true = 1;
    if ((rc = host->param_int(setup->params, "units", NULL, 1, (int64_t)1 << 24,
                              &units)) < 0 ||
        (rc = host->param_int(setup->params, "pieces", &def_pieces, 1, 65536, &pieces)) < 0 ||
        (rc = host->param_bool(setup->params, "bias", &def_true, &bias)) < 0)
        return rc;
    if (units * pieces > (int64_t)1 << 24)
        return host->param_error(setup->params, "pieces",
                                 "units * pieces = %lld is more than %d affine outputs",
                                 (long long)(units * pieces), 1 << 24);
    if (setup->n_inputs != 1)
        return host->param_error(setup->params, NULL,
                                 "maxout takes exactly one input, got %d",
                                 setup->n_inputs);
    st->units = (int)units;
    st->pieces = (int)pieces;
    setup->output.ndim = 1;
    setup->output.dim[0] = units;
    setup->overwrites_grads = 1;
    if ((rc = layers_linear_create(host, setup, "maxout", units * pieces, bias,
                                   &st->lin)) < 0 ||
        (rc = setup->add_scratch(setup, units * pieces, 0, &st->z_index)) < 0 ||
        (rc = setup->add_scratch(setup, units, 0, &st->idx_index)) < 0)
        return rc;
    return 0;
}

/* The max over pieces as a pool: planes [1, pieces], one window each. */
static dlh_window2d maxout_window(const maxout_state *st)
{
    dlh_window2d g = {
        .struct_size = sizeof g,
        .c = st->units, .h = 1, .w = st->pieces,
        .kh = 1, .kw = st->pieces, .sh = 1, .sw = st->pieces,
        .ph = 0, .pw = 0, .dh = 1, .dw = 1, .oh = 1, .ow = 1,
    };
    return g;
}

static int maxout_forward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                          const dlh_tensor *output)
{
    const maxout_state *st = state;
    const dlh_backend *be = ctx->backend;
    dlh_mem z = ctx->scratch[st->z_index].mem;
    int rc = layers_linear_forward(&st->lin, ctx, inputs[0].mem, z);
    if (rc < 0)
        return rc;
    dlh_window2d g = maxout_window(st);
    return be->ops->pool2d(be->ctx, DLH_POOL_MAX, &g, (int)ctx->batch, z, output->mem,
                           ctx->scratch[st->idx_index].mem);
}

static int maxout_backward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                           const dlh_tensor *output, const dlh_tensor *d_output,
                           const dlh_tensor *d_inputs)
{
    (void)output;
    const maxout_state *st = state;
    const dlh_backend *be = ctx->backend;
    /* z is not needed any more: its scratch takes dz. */
    dlh_mem dz = ctx->scratch[st->z_index].mem;
    size_t nz = (size_t)ctx->batch * (size_t)st->units * (size_t)st->pieces;
    dlh_window2d g = maxout_window(st);
    int rc;
    if ((rc = be->ops->fill(be->ctx, dz, nz, 0.0f)) < 0 ||
        (rc = be->ops->pool2d_backward(be->ctx, DLH_POOL_MAX, &g, (int)ctx->batch,
                                       d_output->mem, ctx->scratch[st->idx_index].mem,
                                       dz)) < 0)
        return rc;
    return layers_linear_backward(&st->lin, ctx, inputs[0].mem, dz, d_inputs[0].mem);
}

/* nn.Linear's Gemm (dense's export), Reshape to [N, units, pieces] and
   ReduceMax over the pieces. */
static int maxout_export(void *state, dlh_onnx_builder *b)
{
    const maxout_state *st = state;
    const char *z = b->value(b, "z"), *zr = b->value(b, "pieces");
    const int64_t n = 3, shape[3] = { -1, st->units, st->pieces }, axes[1] = { 2 };
    const char *sh = b->constant(b, "shape", DLH_ONNX_INT64, 1, &n, shape);
    int rc;
    if (!z || !zr || !sh)
        return DLH_ENOMEM;
    const char *in[2] = { z, sh };
    if ((rc = layers_linear_export(&st->lin, b, z)) < 0 ||
        (rc = b->node(b, "Reshape", 2, in, 1, &zr)) < 0 ||
        (rc = b->node(b, "ReduceMax", 1, &zr, 1, &b->output)) < 0 ||
        (rc = b->attr_ints(b, "axes", 1, axes)) < 0)
        return rc;
    return b->attr_int(b, "keepdims", 0);
}

static void maxout_destroy(void *state)
{
    maxout_state *st = state;
    if (!st)
        return;
    layers_linear_destroy(&st->lin);
    free(st);
}

const dlh_layer_ops maxout_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = maxout_create,
    .forward = maxout_forward,
    .backward = maxout_backward,
    .destroy = maxout_destroy,
    .export_onnx = maxout_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc maxout_params[] = {
    { "units", DLH_PARAM_INT, NULL, 1, 16777216, NULL, "output features" },
    { "pieces", DLH_PARAM_INT, "2", 1, 65536, NULL,
      "affine pieces per unit whose maximum is taken (units * pieces <= 16777216)" },
    { "bias", DLH_PARAM_BOOL, "true", 0, 0, NULL, "add a learned bias to every piece" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
