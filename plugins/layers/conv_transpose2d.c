/* conv_transpose2d: the transposed 2-D convolution of nn.ConvTranspose2d over
 * [C, H, W] samples, with its parameters (output_padding, groups, dilation),
 * layouts (weight [in_c, out_c/groups, kh, kw], bias [out_c]) and default
 * initialisation.  The output is
 *   Ho = (H - 1) stride - 2 padding + dilation (kernel - 1) + output_padding + 1
 * (the same across W).
 *
 * Its forward is conv2d's backward to the input, and its backward conv2d's
 * forward, over the window of a convolution from the [out_c, Ho, Wo] output
 * to the [in_c, H, W] input (oh = H, ow = W):
 *   forward:  col[n] = W^T x[n] per group (gemm), y = bias, col2im(col) into y;
 *   backward: dcol = im2col(dy); dW += x[n] dcol[n]^T summed over the batch
 *             (layers_wgrad, as conv2d's dW); db the sums of dy; dx[n] = W dcol[n].
 * output_padding adds rows below and columns right that no column entry
 * reaches, so they hold the bias alone, as in PyTorch; an output_padding at
 * or above the stride (allowed when below the dilation) is col2im over an oh
 * smaller than the window's (backend.h, ABI 1.6).  A 1x1 kernel with stride
 * 1 and no padding writes y straight from the gemm.  Only backend primitives
 * that conv2d uses: no kernel of its own. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "layers.h"

typedef struct conv_transpose2d_state {
    dlh_window2d g;             /* output c, h, w as the "input"; oh, ow = H, W */
    int in_c, out_c, groups;
    int kt;                     /* out_c/groups * kh * kw: rows of a group's col */
    int p;                      /* H * W: columns of col */
    int64_t out_plane;          /* Ho * Wo */
    int direct;                 /* 1x1, stride 1, no padding: col is y */
    int has_bias;
    layers_wgrad wgrad;         /* dW from x and dcol */
    int w_index, b_index;
    int col_index;              /* [N, out_c*kh*kw, P]; dcol in backward */
    int rowsum_index;           /* [N, out_c] sums of dy over Ho*Wo */
    dlh_ew_kernel *bias_k;      /* y = b[channel] (y += b when direct) */
} conv_transpose2d_state;

static int conv_transpose2d_create(const dlh_host *host, dlh_layer_setup *setup,
                                   void **state)
{
    conv_transpose2d_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    dlh_params *p = setup->params;
    int rc;
    int64_t out_c;
    int32_t ks[2], stride[2], pad[2], opad[2], dil[2];
    int bias, def_true = 1;
    if ((rc = host->param_int(p, "out_channels", NULL, 1, (int64_t)1 << 20,
                              &out_c)) < 0 ||
        (rc = layers_param_pair(p, "kernel_size", -1, 1, 1 << 16, ks)) < 0 ||
        (rc = layers_param_pair(p, "stride", 1, 1, 1 << 16, stride)) < 0 ||
        (rc = layers_param_pair(p, "padding", 0, 0, 1 << 16, pad)) < 0 ||
        (rc = layers_param_pair(p, "output_padding", 0, 0, 1 << 16, opad)) < 0 ||
        (rc = layers_param_pair(p, "dilation", 1, 1, 1 << 16, dil)) < 0 ||
        (rc = host->param_bool(p, "bias", &def_true, &bias)) < 0)
        return rc;

    dlh_window2d in;
    int64_t eh, ew;
    if ((rc = layers_window2d(setup, "conv_transpose2d", ks, stride, pad, dil, &in, &eh,
                              &ew)) < 0 ||
        (rc = layers_groups(p, in.c, out_c, &st->groups)) < 0)
        return rc;
    /* ATen's shape check, in its words. */
    for (int i = 0; i < 2; i++)
        if (!(opad[i] < stride[i] || opad[i] < dil[i]))
            return host->param_error(p, "output_padding", "output padding must be smaller "
                                     "than either stride or dilation, but got "
                                     "output_padding_height: %d output_padding_width: %d "
                                     "stride_height: %d stride_width: %d dilation_height: "
                                     "%d dilation_width: %d", opad[0], opad[1], stride[0],
                                     stride[1], dil[0], dil[1]);
    int64_t oh = ((int64_t)in.h - 1) * stride[0] - 2 * (int64_t)pad[0] + eh + opad[0];
    int64_t ow = ((int64_t)in.w - 1) * stride[1] - 2 * (int64_t)pad[1] + ew + opad[1];
    if (oh < 1 || ow < 1)
        return host->param_error(p, "padding", "Given input size per channel: (%d x %d). "
                                 "Calculated output size per channel: (%lld x %lld). "
                                 "Output size is too small", in.h, in.w, (long long)oh,
                                 (long long)ow);

    /* gemm takes int sizes: every per-sample matrix must fit. */
    char sbuf[96];
    int64_t kk = (int64_t)ks[0] * ks[1], np = (int64_t)in.h * in.w, plane = oh * ow;
    int64_t kt = out_c / st->groups * kk;
    if (oh > INT_MAX || ow > INT_MAX || plane > INT_MAX || out_c * plane > INT_MAX ||
        kt * st->groups * np > INT_MAX || (int64_t)in.c * kt > INT_MAX)
        return host->param_error(p, NULL, "conv_transpose2d to %lld channels with a %dx%d "
                                 "kernel over %s is too large", (long long)out_c, ks[0],
                                 ks[1], layers_shape_str(&setup->inputs[0], sbuf,
                                                         sizeof sbuf));
    st->g = (dlh_window2d){
        .struct_size = sizeof st->g,
        .c = (int32_t)out_c, .h = (int32_t)oh, .w = (int32_t)ow,
        .kh = ks[0], .kw = ks[1], .sh = stride[0], .sw = stride[1],
        .ph = pad[0], .pw = pad[1], .dh = dil[0], .dw = dil[1],
        .oh = in.h, .ow = in.w,
    };
    st->in_c = in.c;
    st->out_c = (int)out_c;
    st->kt = (int)kt;
    st->p = (int)np;
    st->out_plane = plane;
    st->has_bias = bias;
    st->direct = kk == 1 && stride[0] == 1 && stride[1] == 1 && pad[0] == 0 && pad[1] == 0 &&
                 opad[0] == 0 && opad[1] == 0;

    setup->output.ndim = 3;
    setup->output.dim[0] = out_c;
    setup->output.dim[1] = oh;
    setup->output.dim[2] = ow;

    /* _ConvNd.reset_parameters: kaiming_uniform_(a=sqrt(5)) gives the bound
       1/sqrt(fan_in), and torch's fan_in of the [in_c, out_c/groups, kh, kw]
       weight is its dimension 1 times the kernel: out_c/groups*kh*kw.  The
       bias uses the same bound. */
    float bound = (float)(1.0 / sqrt((double)kt));
    dlh_init def = { DLH_INIT_UNIFORM, -bound, bound };
    dlh_shape ws = { 4, { in.c, out_c / st->groups, ks[0], ks[1] } };
    if ((rc = setup->add_param(setup, "weight", &ws, def, &st->w_index)) < 0)
        return rc;
    if (bias) {
        dlh_shape bs = { 1, { out_c } };
        if ((rc = setup->add_param(setup, "bias", &bs, def, &st->b_index)) < 0 ||
            (rc = setup->add_scratch(setup, out_c, 0, &st->rowsum_index)) < 0 ||
            (rc = host->ew_compile(setup->backend, st->direct ? "in b; inout y; y = y + b;"
                                                              : "in b; out y; y = b;",
                                   &st->bias_k)) < 0)
            return rc;
    }
    if ((rc = layers_wgrad_plan(setup, &st->wgrad, st->groups, in.c / st->groups, st->kt,
                                st->p)) < 0 ||
        (rc = setup->add_scratch(setup, st->direct ? 0 : kt * st->groups * np, 0,
                                 &st->col_index)) < 0)
        return rc;
    return 0;
}

/* The batch as an int, or an error when gemm's int sizes cannot hold it. */
static int conv_transpose2d_batch(const conv_transpose2d_state *st, const dlh_layer_ctx *ctx,
                                  int *batch)
{
    int most = st->out_c > st->in_c ? st->out_c : st->in_c;
    if (ctx->batch < 0 || ctx->batch > INT_MAX / most) {
        layers_host->error("conv_transpose2d: batch of %lld samples is out of range",
                           (long long)ctx->batch);
        return DLH_EINVAL;
    }
    *batch = (int)ctx->batch;
    return 0;
}

static int conv_transpose2d_forward(void *state, const dlh_layer_ctx *ctx,
                                    const dlh_tensor *inputs, const dlh_tensor *output)
{
    const conv_transpose2d_state *st = state;
    const dlh_backend *be = ctx->backend;
    int batch, rc;
    if ((rc = conv_transpose2d_batch(st, ctx, &batch)) < 0 || batch == 0)
        return rc;
    size_t n = (size_t)batch * (size_t)st->out_c * (size_t)st->out_plane;
    dlh_ew_arg args[2] = {
        { st->has_bias ? ctx->params[st->b_index].mem : layers_no_mem(),
          (size_t)st->out_c, (size_t)st->out_plane },
        dlh_ew_full(output->mem, n),
    };
    dlh_mem w = ctx->params[st->w_index].mem;
    int cg = st->in_c / st->groups;
    if (st->direct) {
        if ((rc = layers_conv_gemm(be, st->groups, batch, 1, st->kt, st->p, cg, w, st->kt,
                                   inputs[0].mem, output->mem)) < 0 || !st->has_bias)
            return rc;
        return layers_host->ew_run(st->bias_k, n, args, NULL);
    }
    dlh_mem col = ctx->scratch[st->col_index].mem;
    if ((rc = layers_conv_gemm(be, st->groups, batch, 1, st->kt, st->p, cg, w, st->kt,
                               inputs[0].mem, col)) < 0 ||
        (rc = st->has_bias ? layers_host->ew_run(st->bias_k, n, args, NULL)
                           : be->ops->fill(be->ctx, output->mem, n, 0.0f)) < 0)
        return rc;
    return be->ops->col2im(be->ctx, &st->g, batch, col, output->mem);
}

static int conv_transpose2d_backward(void *state, const dlh_layer_ctx *ctx,
                                     const dlh_tensor *inputs, const dlh_tensor *output,
                                     const dlh_tensor *d_output, const dlh_tensor *d_inputs)
{
    (void)output;
    const conv_transpose2d_state *st = state;
    const dlh_backend *be = ctx->backend;
    int batch, rc;
    if ((rc = conv_transpose2d_batch(st, ctx, &batch)) < 0 || batch == 0)
        return rc;
    dlh_mem dy = d_output->mem;
    dlh_mem dcol = dy;
    if (!st->direct) {
        dcol = ctx->scratch[st->col_index].mem;
        if ((rc = be->ops->im2col(be->ctx, &st->g, batch, dy, dcol)) < 0)
            return rc;
    }
    if ((rc = layers_wgrad_run(&st->wgrad, ctx, batch, inputs[0].mem, dcol,
                               ctx->grads[st->w_index].mem)) < 0 ||
        (st->has_bias &&
         (rc = layers_bias_grad(&st->wgrad, ctx, batch, st->out_c, (int)st->out_plane, dy,
                                ctx->scratch[st->rowsum_index].mem,
                                ctx->grads[st->b_index].mem)) < 0))
        return rc;
    if (!d_inputs[0].mem.buf)
        return 0;
    return layers_conv_gemm(be, st->groups, batch, 0, st->in_c / st->groups, st->p, st->kt,
                            ctx->params[st->w_index].mem, st->kt, dcol, d_inputs[0].mem);
}

static void conv_transpose2d_destroy(void *state)
{
    conv_transpose2d_state *st = state;
    if (!st)
        return;
    layers_host->ew_free(st->bias_k);
    free(st);
}

/* ConvTranspose with nn.ConvTranspose2d's attributes: the same weight
   layout [in_c, out_c/groups, kh, kw], pads = padding on both sides, and
   output_padding recovered from the output size. */
static int conv_transpose2d_export(void *state, dlh_onnx_builder *b)
{
    const conv_transpose2d_state *st = state;
    const dlh_window2d *g = &st->g;
    int64_t eh = (int64_t)g->dh * (g->kh - 1) + 1, ew = (int64_t)g->dw * (g->kw - 1) + 1;
    int64_t opad[2] = { g->h - (((int64_t)g->oh - 1) * g->sh - 2 * (int64_t)g->ph + eh),
                        g->w - (((int64_t)g->ow - 1) * g->sw - 2 * (int64_t)g->pw + ew) };
    int64_t pads[4] = { g->ph, g->pw, g->ph, g->pw };
    int rc = layers_conv_export(b, "ConvTranspose", g, pads, st->groups, st->has_bias);
    return rc < 0 ? rc : b->attr_ints(b, "output_padding", 2, opad);
}

const dlh_layer_ops conv_transpose2d_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = conv_transpose2d_create,
    .forward = conv_transpose2d_forward,
    .backward = conv_transpose2d_backward,
    .destroy = conv_transpose2d_destroy,
    .export_onnx = conv_transpose2d_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc conv_transpose2d_params[] = {
    LAYERS_OUT_CHANNELS_DOC,
    LAYERS_KERNEL_SIZE_DOC,
    LAYERS_STRIDE_DOC,
    { "padding", DLH_PARAM_FLOATS, "0", 0, 0, NULL, "rows and columns taken off each edge of the output (PyTorch's meaning): an integer in [0, 65536] or a list [h, w] of them" },
    { "output_padding", DLH_PARAM_FLOATS, "0", 0, 0, NULL, "rows added below and columns right of the output: an integer or a list [h, w], each smaller than the stride or the dilation" },
    LAYERS_DILATION_DOC,
    LAYERS_GROUPS_DOC,
    LAYERS_CONV_BIAS_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
