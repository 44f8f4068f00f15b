/* conv2d: 2-D convolution over [C, H, W] samples with nn.Conv2d's parameters,
 * layouts (weight [out_c, in_c, kh, kw], bias [out_c]) and default
 * initialisation.
 *
 * Forward: im2col of the whole batch into scratch (col[n] is [K, P] with
 * K = in_c*kh*kw, P = oh*ow), then one gemm_batched y[n] = W col[n] with W
 * shared, then the bias through an ew kernel broadcast per channel.  A 1x1
 * kernel with stride 1 and no padding skips im2col: col[n] is x[n] itself.
 * Backward: dW from per-sample partials dy[n] col[n]^T (each problem of a
 * batched call writes its own C, so backends may run them concurrently),
 * summed into the gradient by a gemm with a vector of ones; db by a row
 * reduction of dy and the same ones gemm; dx by dcol[n] = W^T dy[n] into the
 * col scratch (no longer needed once dW is done), then col2im; so each
 * backward needs its own forward before it, as in a training step. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "layers.h"

/* The per-sample dW partials use at most this many floats when they would be
   larger than col itself (out_c > P): the batch is then done in chunks. */
#define CONV2D_PARTIAL_BUDGET (1 << 20)

typedef struct conv2d_state {
    dlh_window2d g;             /* input c, h, w; kernel; output oh, ow */
    int out_c;
    int k;                      /* in_c * kh * kw: rows of col */
    int p;                      /* oh * ow: columns of col */
    int direct;                 /* 1x1, stride 1, no padding: col is x */
    int has_bias;
    int chunk;                  /* samples per batched dW call; 0 = the batch */
    int w_index, b_index;
    int col_index;              /* [N, K, P]; dcol in backward */
    int part_index;             /* dW partials [chunk, out_c, K] */
    int ones_index;             /* [N] ones, for sums over the batch */
    int rowsum_index;           /* [N, out_c] sums of dy over P */
    dlh_ew_kernel *add_bias;    /* y += b[channel] */
} conv2d_state;

static int conv2d_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    conv2d_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    dlh_params *p = setup->params;
    int rc;
    int64_t out_c;
    int32_t ks[2], stride[2], pad[2], dil[2];
    int bias, def_true = 1;
    if ((rc = host->param_int(p, "out_channels", NULL, 1, (int64_t)1 << 20,
                              &out_c)) < 0 ||
        (rc = layers_param_pair(p, "kernel_size", -1, 1, 1 << 16, ks)) < 0 ||
        (rc = layers_param_pair(p, "stride", 1, 1, 1 << 16, stride)) < 0 ||
        (rc = layers_param_pair(p, "padding", 0, 0, 1 << 16, pad)) < 0 ||
        (rc = layers_param_pair(p, "dilation", 1, 1, 1 << 16, dil)) < 0 ||
        (rc = host->param_bool(p, "bias", &def_true, &bias)) < 0)
        return rc;

    char sbuf[96];
    dlh_window2d *g = &st->g;
    int64_t eh, ew;
    if ((rc = layers_window2d(setup, "conv2d", ks, stride, pad, dil, g, &eh, &ew)) < 0)
        return rc;
    const dlh_shape *in = &setup->inputs[0];
    int64_t ph = (int64_t)g->h + 2 * (int64_t)g->ph, pw = (int64_t)g->w + 2 * (int64_t)g->pw;
    if (eh > ph || ew > pw)
        return host->param_error(p, "kernel_size", "conv2d kernel %dx%d (dilation "
                                 "%dx%d, spanning %lldx%lld) does not fit the input %s "
                                 "padded to %lldx%lld", g->kh, g->kw, g->dh, g->dw,
                                 (long long)eh, (long long)ew,
                                 layers_shape_str(in, sbuf, sizeof sbuf),
                                 (long long)ph, (long long)pw);
    g->oh = (int32_t)((ph - eh) / g->sh + 1);
    g->ow = (int32_t)((pw - ew) / g->sw + 1);

    /* gemm takes int sizes: K, P and every per-sample matrix must fit. */
    int64_t ck = (int64_t)g->c * g->kh, k = ck * g->kw, np = (int64_t)g->oh * g->ow;
    if (ck > INT_MAX || k > INT_MAX || np > INT_MAX || k * np > INT_MAX ||
        out_c * np > INT_MAX || out_c * k > INT_MAX)
        return host->param_error(p, NULL, "conv2d of %lld channels with a %dx%d kernel "
                                 "over %s is too large", (long long)out_c, g->kh, g->kw,
                                 layers_shape_str(in, sbuf, sizeof sbuf));
    st->out_c = (int)out_c;
    st->k = (int)k;
    st->p = (int)np;
    st->has_bias = bias;
    st->direct = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 &&
                 g->pw == 0;

    setup->output.ndim = 3;
    setup->output.dim[0] = out_c;
    setup->output.dim[1] = g->oh;
    setup->output.dim[2] = g->ow;

    /* nn.Conv2d.reset_parameters: kaiming_uniform_(a=sqrt(5)) gives the bound
       1/sqrt(fan_in) for the weight, and the bias uses the same bound. */
    float bound = (float)(1.0 / sqrt((double)k));
    dlh_init def = { DLH_INIT_UNIFORM, -bound, bound };
    dlh_shape ws = { 4, { out_c, g->c, g->kh, g->kw } };
    if ((rc = setup->add_param(setup, "weight", &ws, def, &st->w_index)) < 0)
        return rc;
    if (bias) {
        dlh_shape bs = { 1, { out_c } };
        if ((rc = setup->add_param(setup, "bias", &bs, def, &st->b_index)) < 0 ||
            (rc = setup->add_scratch(setup, out_c, 0, &st->rowsum_index)) < 0 ||
            (rc = host->ew_compile(setup->backend, "in b; inout y; y = y + b;",
                                   &st->add_bias)) < 0)
            return rc;
    }
    /* Partials no larger than col are kept for the whole batch; beyond that a
       fixed buffer takes the batch in chunks. */
    int64_t part = out_c * k;
    if (out_c <= np) {
        rc = setup->add_scratch(setup, part, 0, &st->part_index);
    } else {
        int64_t chunk = CONV2D_PARTIAL_BUDGET / part;
        st->chunk = chunk < 1 ? 1 : chunk > INT_MAX ? INT_MAX : (int)chunk;
        rc = setup->add_scratch(setup, 0, st->chunk > 1 ? st->chunk * part : 0,
                                &st->part_index);
    }
    if (rc < 0 ||
        (rc = setup->add_scratch(setup, st->direct ? 0 : k * np, 0, &st->col_index)) < 0 ||
        (rc = setup->add_scratch(setup, 1, 0, &st->ones_index)) < 0)
        return rc;
    return 0;
}

/* The batch as an int, or an error when gemm's int sizes cannot hold it. */
static int conv2d_batch(const conv2d_state *st, const dlh_layer_ctx *ctx, int *batch)
{
    if (ctx->batch < 0 || ctx->batch > INT_MAX / (st->out_c > 0 ? st->out_c : 1)) {
        layers_host->error("conv2d: batch of %lld samples is out of range",
                           (long long)ctx->batch);
        return DLH_EINVAL;
    }
    *batch = (int)ctx->batch;
    return 0;
}

static int conv2d_forward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                          const dlh_tensor *output)
{
    const conv2d_state *st = state;
    const dlh_backend *be = ctx->backend;
    int batch, rc;
    if ((rc = conv2d_batch(st, ctx, &batch)) < 0 || batch == 0)
        return rc;
    dlh_mem col = inputs[0].mem;
    if (!st->direct) {
        col = ctx->scratch[st->col_index].mem;
        if ((rc = be->ops->im2col(be->ctx, &st->g, batch, inputs[0].mem, col)) < 0)
            return rc;
    }
    int64_t kp = (int64_t)st->k * st->p, op = (int64_t)st->out_c * st->p;
    if ((rc = be->ops->gemm_batched(be->ctx, 0, 0, st->out_c, st->p, st->k, 1.0f,
                                    ctx->params[st->w_index].mem, st->k, 0, col, st->p,
                                    kp, 0.0f, output->mem, st->p, op, batch)) < 0 ||
        !st->has_bias)
        return rc;
    size_t n = (size_t)batch * (size_t)op;
    dlh_ew_arg args[2] = {
        { ctx->params[st->b_index].mem, (size_t)st->out_c, (size_t)st->p },
        dlh_ew_full(output->mem, n),
    };
    return layers_host->ew_run(st->add_bias, n, args, NULL);
}

/* dW += sum over the batch of dy[n] col[n]^T. */
static int conv2d_backward_weight(const conv2d_state *st, const dlh_layer_ctx *ctx,
                                  int batch, dlh_mem dy, dlh_mem col, dlh_mem ones)
{
    const dlh_backend *be = ctx->backend;
    dlh_mem dw = ctx->grads[st->w_index].mem;
    int64_t kp = (int64_t)st->k * st->p, op = (int64_t)st->out_c * st->p;
    int part = st->out_c * st->k;
    int rc;
    if (st->chunk == 1) {
        /* Partials would not fit the budget: one accumulating gemm per sample. */
        for (int n = 0; n < batch; n++)
            if ((rc = be->ops->gemm(be->ctx, 0, 1, st->out_c, st->k, st->p, 1.0f,
                                    dlh_mem_at(dy, (size_t)n * (size_t)op), st->p,
                                    dlh_mem_at(col, (size_t)n * (size_t)kp), st->p, 1.0f,
                                    dw, st->k)) < 0)
                return rc;
        return 0;
    }
    dlh_mem partials = ctx->scratch[st->part_index].mem;
    int chunk = st->chunk > 0 && st->chunk < batch ? st->chunk : batch;
    for (int n0 = 0; n0 < batch; n0 += chunk) {
        int b = batch - n0 < chunk ? batch - n0 : chunk;
        if ((rc = be->ops->gemm_batched(be->ctx, 0, 1, st->out_c, st->k, st->p, 1.0f,
                                        dlh_mem_at(dy, (size_t)n0 * (size_t)op), st->p, op,
                                        dlh_mem_at(col, (size_t)n0 * (size_t)kp), st->p,
                                        kp, 0.0f, partials, st->k, part, b)) < 0 ||
            (rc = be->ops->gemm(be->ctx, 0, 0, 1, part, b, 1.0f, ones, b, partials, part,
                                1.0f, dw, part)) < 0)
            return rc;
    }
    return 0;
}

static int conv2d_backward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                           const dlh_tensor *output, const dlh_tensor *d_output,
                           const dlh_tensor *d_inputs)
{
    (void)output;
    const conv2d_state *st = state;
    const dlh_backend *be = ctx->backend;
    int batch, rc;
    if ((rc = conv2d_batch(st, ctx, &batch)) < 0 || batch == 0)
        return rc;
    dlh_mem dy = d_output->mem;
    dlh_mem col = st->direct ? inputs[0].mem : ctx->scratch[st->col_index].mem;
    dlh_mem ones = ctx->scratch[st->ones_index].mem;
    if ((rc = be->ops->fill(be->ctx, ones, (size_t)batch, 1.0f)) < 0 ||
        (rc = conv2d_backward_weight(st, ctx, batch, dy, col, ones)) < 0)
        return rc;
    if (st->has_bias) {
        /* db += sum over n and P of dy: rows of P, then the batch. */
        dlh_mem rowsum = ctx->scratch[st->rowsum_index].mem;
        if ((rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, batch * st->out_c, st->p,
                                  dy, rowsum, layers_no_mem())) < 0 ||
            (rc = be->ops->gemm(be->ctx, 0, 0, 1, st->out_c, batch, 1.0f, ones, batch,
                                rowsum, st->out_c, 1.0f, ctx->grads[st->b_index].mem,
                                st->out_c)) < 0)
            return rc;
    }
    if (!d_inputs[0].mem.buf)
        return 0;
    int64_t kp = (int64_t)st->k * st->p, op = (int64_t)st->out_c * st->p;
    dlh_mem w = ctx->params[st->w_index].mem;
    if (st->direct)
        return be->ops->gemm_batched(be->ctx, 1, 0, st->k, st->p, st->out_c, 1.0f, w,
                                     st->k, 0, dy, st->p, op, 0.0f, d_inputs[0].mem,
                                     st->p, kp, batch);
    /* dcol reuses col: dW, its only other reader, is done. */
    int64_t img = (int64_t)st->g.c * st->g.h * st->g.w;
    if ((rc = be->ops->gemm_batched(be->ctx, 1, 0, st->k, st->p, st->out_c, 1.0f, w,
                                    st->k, 0, dy, st->p, op, 0.0f, col, st->p, kp,
                                    batch)) < 0 ||
        (rc = be->ops->fill(be->ctx, d_inputs[0].mem, (size_t)batch * (size_t)img,
                            0.0f)) < 0)
        return rc;
    return be->ops->col2im(be->ctx, &st->g, batch, col, d_inputs[0].mem);
}

static void conv2d_destroy(void *state)
{
    conv2d_state *st = state;
    if (!st)
        return;
    layers_host->ew_free(st->add_bias);
    free(st);
}

const dlh_layer_ops conv2d_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = conv2d_create,
    .forward = conv2d_forward,
    .backward = conv2d_backward,
    .destroy = conv2d_destroy,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc conv2d_params[] = {
    { "out_channels", DLH_PARAM_INT, NULL, 1, 1048576, NULL, "output channels" },
    LAYERS_KERNEL_SIZE_DOC,
    { "stride", DLH_PARAM_FLOATS, "1", 0, 0, NULL, "an integer in [1, 65536] or a list [h, w] of them" },
    { "padding", DLH_PARAM_FLOATS, "0", 0, 0, NULL, "zeros added on each side: an integer in [0, 65536] or a list [h, w] of them" },
    { "dilation", DLH_PARAM_FLOATS, "1", 0, 0, NULL, "spacing of the kernel's taps: an integer in [1, 65536] or a list [h, w] of them" },
    { "bias", DLH_PARAM_BOOL, "true", 0, 0, NULL, "add a learned bias per output channel" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
