/* conv2d: 2-D convolution over [C, H, W] samples with nn.Conv2d's parameters,
 * layouts (weight [out_c, in_c/groups, kh, kw], bias [out_c]) and default
 * initialisation; groups (depthwise included) and padding "same" / "valid".
 *
 * Forward: im2col of the whole batch into scratch (col[n] is [K, P] with
 * K = in_c*kh*kw, P = oh*ow), then one gemm_batched y[n] = W col[n] with W
 * shared, then the bias through an ew kernel broadcast per channel.  A 1x1
 * kernel with stride 1 and no padding skips im2col: col[n] is x[n] itself.
 * With groups, group g's rows of col (its in_c/groups channels) and of y
 * (its out_c/groups) are contiguous blocks, so the gemms run per group
 * (layers_conv_gemm).  padding = "same" with an even kernel pads one more
 * zero on the bottom and right than on the top and left, as PyTorch does:
 * im2col over an oh of h (backend.h, ABI 1.6) gives that.
 * Backward: dW from per-sample partials dy[n] col[n]^T (each problem of a
 * batched call writes its own C, so backends may run them concurrently),
 * summed into the gradient by a gemm with a vector of ones; db by a row
 * reduction of dy and the same ones gemm; dx by dcol[n] = W^T dy[n] into the
 * col scratch (no longer needed once dW is done), then col2im; so each
 * backward needs its own forward before it, as in a training step.
 *
 * A backend with conv2d primitives (backend.h, ABI 1.9: oneDNN on cpu)
 * runs the three instead, when its conv2d_prepare takes the shape: then
 * neither col nor the dW partials are declared, backward writes the
 * gradients when the core says they hold nothing (overwrite_grads) and adds
 * into them otherwise.  The plan made at create is for one sample (the
 * batch is not known yet); a larger batch re-plans on its first forward,
 * once per new largest batch, so the training step loop allocates nothing. */
#include <limits.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"

/* The per-sample dW partials use at most this many floats when they would be
   larger than col itself (out_c > P): the batch is then done in chunks. */
#define CONV2D_PARTIAL_BUDGET (1 << 20)

typedef struct conv2d_state {
    dlh_window2d g;             /* input c, h, w; kernel; output oh, ow */
    int out_c;
    int groups;
    int k;                      /* in_c/groups * kh * kw: rows of a group's col */
    int p;                      /* oh * ow: columns of col */
    int direct;                 /* 1x1, stride 1, no padding: col is x */
    int has_bias;
    layers_wgrad wgrad;         /* dW from dy and col */
    int w_index, b_index;
    int col_index;              /* [N, groups*K, P]; dcol in backward */
    int rowsum_index;           /* [N, out_c] sums of dy over P */
    dlh_ew_kernel *add_bias;    /* y += b[channel] */
    const dlh_backend *be;      /* the backend's conv2d primitives, when plan != NULL */
    void *plan;                 /* for batches up to plan_n */
    int plan_n;
} conv2d_state;

/* The backend's conv2d primitives for batches up to n, replacing the plan
   held; 0 when made, DLH_EUNSUPPORTED when the backend has none or does not
   take this shape. */
static int conv2d_plan(conv2d_state *st, const dlh_backend *be, int n)
{
    const dlh_backend_ops *o = be->ops;
    if (o->struct_size < offsetof(dlh_backend_ops, conv2d_backward_weights) +
                             sizeof o->conv2d_backward_weights ||
        o->conv2d_prepare == NULL)
        return DLH_EUNSUPPORTED;
    dlh_conv2d_desc d = { .struct_size = sizeof d, .g = st->g, .n = n, .out_c = st->out_c,
                          .groups = st->groups, .has_bias = st->has_bias };
    void *plan = NULL;
    int rc = o->conv2d_prepare(be->ctx, &d, &plan);
    if (rc != 0)
        return rc;
    if (st->plan != NULL)
        o->conv2d_release(be->ctx, st->plan);
    st->be = be;
    st->plan = plan;
    st->plan_n = n;
    return 0;
}

int layers_conv_gemm(const dlh_backend *be, int groups, int batch, int trans_a, int m, int n,
                     int k, dlh_mem a, int lda, dlh_mem b, dlh_mem c)
{
    int64_t ag = (int64_t)(trans_a ? k : m) * lda, bg = (int64_t)k * n, cg = (int64_t)m * n;
    int64_t bs = bg * groups, cs = cg * groups;
    int rc = 0;
    /* One batched call per group (A shared by the batch) or per sample (A
       strided over the groups), whichever makes fewer calls. */
    if (groups <= batch) {
        for (int g = 0; g < groups && rc == 0; g++)
            rc = be->ops->gemm_batched(be->ctx, trans_a, 0, m, n, k, 1.0f,
                                       dlh_mem_at(a, (size_t)(g * ag)), lda, 0,
                                       dlh_mem_at(b, (size_t)(g * bg)), n, bs, 0.0f,
                                       dlh_mem_at(c, (size_t)(g * cg)), n, cs, batch);
    } else {
        for (int i = 0; i < batch && rc == 0; i++)
            rc = be->ops->gemm_batched(be->ctx, trans_a, 0, m, n, k, 1.0f, a, lda, ag,
                                       dlh_mem_at(b, (size_t)(i * bs)), n, bg, 0.0f,
                                       dlh_mem_at(c, (size_t)(i * cs)), n, cg, groups);
    }
    return rc;
}

int layers_wgrad_plan(dlh_layer_setup *setup, layers_wgrad *w, int groups, int m, int k,
                      int p)
{
    *w = (layers_wgrad){ .groups = groups, .m = m, .k = k, .p = p };
    /* Partials no larger than b itself are kept for the whole batch; beyond
       that a fixed buffer takes the batch in chunks. */
    int64_t part = (int64_t)groups * m * k;
    int rc;
    if (m <= p) {
        rc = setup->add_scratch(setup, part, 0, &w->part_index);
    } else {
        int64_t chunk = CONV2D_PARTIAL_BUDGET / part;
        w->chunk = chunk < 1 ? 1 : chunk > INT_MAX ? INT_MAX : (int)chunk;
        rc = setup->add_scratch(setup, 0, w->chunk > 1 ? w->chunk * part : 0,
                                &w->part_index);
    }
    return rc < 0 ? rc : setup->add_scratch(setup, 1, 0, &w->ones_index);
}

int layers_wgrad_run(const layers_wgrad *w, const dlh_layer_ctx *ctx, int batch, dlh_mem a,
                     dlh_mem b, dlh_mem dw)
{
    const dlh_backend *be = ctx->backend;
    dlh_mem ones = ctx->scratch[w->ones_index].mem;
    int64_t ap = (int64_t)w->m * w->p, bp = (int64_t)w->k * w->p, mk = (int64_t)w->m * w->k;
    int part = w->groups * w->m * w->k;
    int rc = be->ops->fill(be->ctx, ones, (size_t)batch, 1.0f);
    if (rc < 0)
        return rc;
    if (w->chunk == 1) {
        /* Partials would not fit the budget: one accumulating gemm per sample
           (per group: each group's block of dW is its own C). */
        for (int n = 0; n < batch; n++) {
            dlh_mem an = dlh_mem_at(a, (size_t)n * (size_t)(ap * w->groups));
            dlh_mem bn = dlh_mem_at(b, (size_t)n * (size_t)(bp * w->groups));
            rc = w->groups == 1
                     ? be->ops->gemm(be->ctx, 0, 1, w->m, w->k, w->p, 1.0f, an, w->p, bn,
                                     w->p, 1.0f, dw, w->k)
                     : be->ops->gemm_batched(be->ctx, 0, 1, w->m, w->k, w->p, 1.0f, an,
                                             w->p, ap, bn, w->p, bp, 1.0f, dw, w->k, mk,
                                             w->groups);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    dlh_mem partials = ctx->scratch[w->part_index].mem;
    int chunk = w->chunk > 0 && w->chunk < batch ? w->chunk : batch;
    for (int n0 = 0; n0 < batch; n0 += chunk) {
        int nb = batch - n0 < chunk ? batch - n0 : chunk;
        /* Samples and groups are one uniform stride apart in a, b and the
           partials: one batched call covers both. */
        if ((rc = be->ops->gemm_batched(be->ctx, 0, 1, w->m, w->k, w->p, 1.0f,
                                        dlh_mem_at(a, (size_t)n0 * (size_t)(ap * w->groups)),
                                        w->p, ap,
                                        dlh_mem_at(b, (size_t)n0 * (size_t)(bp * w->groups)),
                                        w->p, bp, 0.0f, partials, w->k, mk,
                                        nb * w->groups)) < 0 ||
            (rc = be->ops->gemm(be->ctx, 0, 0, 1, part, nb, 1.0f, ones, nb, partials, part,
                                1.0f, dw, part)) < 0)
            return rc;
    }
    return 0;
}

int layers_bias_grad(const layers_wgrad *w, const dlh_layer_ctx *ctx, int batch, int c,
                     int plane, dlh_mem dy, dlh_mem rowsum, dlh_mem db)
{
    const dlh_backend *be = ctx->backend;
    /* Rows of the plane, then the batch through the ones. */
    int rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, batch * c, plane, dy, rowsum,
                             layers_no_mem());
    return rc < 0 ? rc : be->ops->gemm(be->ctx, 0, 0, 1, c, batch, 1.0f,
                                       ctx->scratch[w->ones_index].mem, batch, rowsum, c,
                                       1.0f, db, c);
}

int layers_groups(dlh_params *p, int64_t in_c, int64_t out_c, int *groups)
{
    const dlh_host *host = layers_host;
    int64_t def = 1, g;
    int rc = host->param_int(p, "groups", &def, INT32_MIN, INT32_MAX, &g);
    if (rc < 0)
        return rc;
    /* _ConvNd.__init__'s checks, in its order and words. */
    if (g <= 0)
        return host->param_error(p, "groups", "groups must be a positive integer, got "
                                 "%lld", (long long)g);
    if (in_c % g != 0)
        return host->param_error(p, "groups", "in_channels must be divisible by groups "
                                 "(in_channels %lld, groups %lld)", (long long)in_c,
                                 (long long)g);
    if (out_c % g != 0)
        return host->param_error(p, "groups", "out_channels must be divisible by groups "
                                 "(out_channels %lld, groups %lld)", (long long)out_c,
                                 (long long)g);
    *groups = (int)g;
    return 0;
}

/* padding: a number, [h, w], "valid" (0) or "same" (*same = 1; pad gets the
   top and left padding, PyTorch's total/2; the rest goes below and right). */
static int conv2d_padding(dlh_params *p, const int32_t ks[2], const int32_t stride[2],
                          const int32_t dil[2], int32_t pad[2], int *same)
{
    const dlh_host *host = layers_host;
    const char *word;
    *same = 0;
    if (!host->param_has(p, "padding")) {
        pad[0] = pad[1] = 0;
        return 0;
    }
    if (host->param_string(p, "padding", "0", &word) == 0) {
        if (strcmp(word, "valid") != 0 && strcmp(word, "same") != 0)
            return host->param_error(p, "padding", "Invalid padding string '%s', should be "
                                     "one of {'valid', 'same'}", word);
        pad[0] = pad[1] = 0;
        if (strcmp(word, "same") == 0) {
            if (stride[0] != 1 || stride[1] != 1)
                return host->param_error(p, "padding", "padding='same' is not supported "
                                         "for strided convolutions");
            *same = 1;
            for (int i = 0; i < 2; i++)
                pad[i] = (int32_t)((int64_t)dil[i] * (ks[i] - 1) / 2);
        }
        return 0;
    }
    /* Not a string: the refusal just set is no failure of ours. */
    host->error("%s", "");
    return layers_param_pair(p, "padding", 0, 0, 1 << 16, pad);
}

static int conv2d_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    conv2d_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    dlh_params *p = setup->params;
    int rc, same;
    int64_t out_c;
    int32_t ks[2], stride[2], pad[2], dil[2];
    int bias, def_true = 1;
    if ((rc = host->param_int(p, "out_channels", NULL, 1, (int64_t)1 << 20,
                              &out_c)) < 0 ||
        (rc = layers_param_pair(p, "kernel_size", -1, 1, 1 << 16, ks)) < 0 ||
        (rc = layers_param_pair(p, "stride", 1, 1, 1 << 16, stride)) < 0 ||
        (rc = layers_param_pair(p, "dilation", 1, 1, 1 << 16, dil)) < 0 ||
        (rc = conv2d_padding(p, ks, stride, dil, pad, &same)) < 0 ||
        (rc = host->param_bool(p, "bias", &def_true, &bias)) < 0)
        return rc;

    char sbuf[96];
    dlh_window2d *g = &st->g;
    int64_t eh, ew;
    if ((rc = layers_window2d(setup, "conv2d", ks, stride, pad, dil, g, &eh, &ew)) < 0 ||
        (rc = layers_groups(p, g->c, out_c, &st->groups)) < 0)
        return rc;
    const dlh_shape *in = &setup->inputs[0];
    if (same) {
        /* Stride 1, and total padding dilation*(kernel-1): the size stays. */
        g->oh = g->h;
        g->ow = g->w;
    } else {
        int64_t ph = (int64_t)g->h + 2 * (int64_t)g->ph;
        int64_t pw = (int64_t)g->w + 2 * (int64_t)g->pw;
        if (eh > ph || ew > pw)
            return host->param_error(p, "kernel_size", "conv2d kernel %dx%d (dilation "
                                     "%dx%d, spanning %lldx%lld) does not fit the input %s "
                                     "padded to %lldx%lld", g->kh, g->kw, g->dh, g->dw,
                                     (long long)eh, (long long)ew,
                                     layers_shape_str(in, sbuf, sizeof sbuf),
                                     (long long)ph, (long long)pw);
        g->oh = (int32_t)((ph - eh) / g->sh + 1);
        g->ow = (int32_t)((pw - ew) / g->sw + 1);
    }

    /* gemm takes int sizes: K, P and every per-sample matrix must fit. */
    int64_t ck = (int64_t)g->c * g->kh, k = ck * g->kw, np = (int64_t)g->oh * g->ow;
    if (ck > INT_MAX || k > INT_MAX || np > INT_MAX || k * np > INT_MAX ||
        out_c * np > INT_MAX || out_c * k > INT_MAX)
        return host->param_error(p, NULL, "conv2d of %lld channels with a %dx%d kernel "
                                 "over %s is too large", (long long)out_c, g->kh, g->kw,
                                 layers_shape_str(in, sbuf, sizeof sbuf));
    st->out_c = (int)out_c;
    st->k = (int)(k / st->groups);
    st->p = (int)np;
    st->has_bias = bias;
    st->direct = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 &&
                 g->pw == 0;

    setup->output.ndim = 3;
    setup->output.dim[0] = out_c;
    setup->output.dim[1] = g->oh;
    setup->output.dim[2] = g->ow;

    /* nn.Conv2d.reset_parameters: kaiming_uniform_(a=sqrt(5)) gives the bound
       1/sqrt(fan_in), fan_in = in_c/groups*kh*kw, and the bias uses the same
       bound. */
    float bound = (float)(1.0 / sqrt((double)st->k));
    dlh_init def = { DLH_INIT_UNIFORM, -bound, bound };
    dlh_shape ws = { 4, { out_c, g->c / st->groups, g->kh, g->kw } };
    if ((rc = setup->add_param(setup, "weight", &ws, def, &st->w_index)) < 0)
        return rc;
    if (bias) {
        dlh_shape bs = { 1, { out_c } };
        if ((rc = setup->add_param(setup, "bias", &bs, def, &st->b_index)) < 0)
            return rc;
    }
    rc = conv2d_plan(st, setup->backend, 1);
    if (rc == 0) {
        setup->overwrites_grads = 1;
        return 0;
    }
    if (rc != DLH_EUNSUPPORTED)
        return rc;
    host->error("%s", "");      /* a refusal is no failure: im2col + gemm */
    if (bias) {
        if ((rc = setup->add_scratch(setup, out_c, 0, &st->rowsum_index)) < 0 ||
            (rc = host->ew_compile(setup->backend, "in b; inout y; y = y + b;",
                                   &st->add_bias)) < 0)
            return rc;
    }
    if ((rc = layers_wgrad_plan(setup, &st->wgrad, st->groups, st->out_c / st->groups,
                                st->k, st->p)) < 0 ||
        (rc = setup->add_scratch(setup, st->direct ? 0 : k * np, 0, &st->col_index)) < 0)
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
    conv2d_state *st = state;
    const dlh_backend *be = ctx->backend;
    int batch, rc;
    if ((rc = conv2d_batch(st, ctx, &batch)) < 0 || batch == 0)
        return rc;
    if (st->plan != NULL) {
        if (batch > st->plan_n && (rc = conv2d_plan(st, be, batch)) < 0)
            return rc;
        return be->ops->conv2d_forward(be->ctx, st->plan, batch, inputs[0].mem,
                                       ctx->params[st->w_index].mem,
                                       st->has_bias ? ctx->params[st->b_index].mem
                                                    : layers_no_mem(),
                                       output->mem);
    }
    dlh_mem col = inputs[0].mem;
    if (!st->direct) {
        col = ctx->scratch[st->col_index].mem;
        if ((rc = be->ops->im2col(be->ctx, &st->g, batch, inputs[0].mem, col)) < 0)
            return rc;
    }
    int og = st->out_c / st->groups;
    if ((rc = layers_conv_gemm(be, st->groups, batch, 0, og, st->p, st->k,
                               ctx->params[st->w_index].mem, st->k, col, output->mem)) < 0 ||
        !st->has_bias)
        return rc;
    size_t n = (size_t)batch * (size_t)st->out_c * (size_t)st->p;
    dlh_ew_arg args[2] = {
        { ctx->params[st->b_index].mem, (size_t)st->out_c, (size_t)st->p },
        dlh_ew_full(output->mem, n),
    };
    return layers_host->ew_run(st->add_bias, n, args, NULL);
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
    if (st->plan != NULL) {
        if (batch > st->plan_n) {
            layers_host->error("conv2d: backward of %d samples without its forward", batch);
            return DLH_EINVAL;
        }
        if ((rc = be->ops->conv2d_backward_weights(
                 be->ctx, st->plan, batch, inputs[0].mem, dy,
                 ctx->overwrite_grads ? 0.0f : 1.0f, ctx->grads[st->w_index].mem,
                 st->has_bias ? ctx->grads[st->b_index].mem : layers_no_mem())) < 0 ||
            !d_inputs[0].mem.buf)
            return rc;
        return be->ops->conv2d_backward_data(be->ctx, st->plan, batch, dy,
                                             ctx->params[st->w_index].mem,
                                             d_inputs[0].mem);
    }
    dlh_mem col = st->direct ? inputs[0].mem : ctx->scratch[st->col_index].mem;
    if ((rc = layers_wgrad_run(&st->wgrad, ctx, batch, dy, col,
                               ctx->grads[st->w_index].mem)) < 0 ||
        (st->has_bias &&
         (rc = layers_bias_grad(&st->wgrad, ctx, batch, st->out_c, st->p, dy,
                                ctx->scratch[st->rowsum_index].mem,
                                ctx->grads[st->b_index].mem)) < 0))
        return rc;
    if (!d_inputs[0].mem.buf)
        return 0;
    dlh_mem w = ctx->params[st->w_index].mem;
    int og = st->out_c / st->groups;
    if (st->direct)
        return layers_conv_gemm(be, st->groups, batch, 1, st->k, st->p, og, w, st->k, dy,
                                d_inputs[0].mem);
    /* dcol reuses col: dW, its only other reader, is done. */
    int64_t img = (int64_t)st->g.c * st->g.h * st->g.w;
    if ((rc = layers_conv_gemm(be, st->groups, batch, 1, st->k, st->p, og, w, st->k, dy,
                               col)) < 0 ||
        (rc = be->ops->fill(be->ctx, d_inputs[0].mem, (size_t)batch * (size_t)img,
                            0.0f)) < 0)
        return rc;
    return be->ops->col2im(be->ctx, &st->g, batch, col, d_inputs[0].mem);
}

int layers_conv_export(dlh_onnx_builder *b, const char *op, const dlh_window2d *g,
                       const int64_t *pads, int groups, int has_bias)
{
    int64_t ks[2] = { g->kh, g->kw }, strides[2] = { g->sh, g->sw };
    int64_t dil[2] = { g->dh, g->dw };
    const char *in[3] = { b->inputs[0], b->param(b, "weight", 0, NULL),
                          has_bias ? b->param(b, "bias", 0, NULL) : NULL };
    int rc;
    if (!in[1] || (has_bias && !in[2]))
        return DLH_ENOMEM;
    if ((rc = b->node(b, op, has_bias ? 3 : 2, in, 1, &b->output)) < 0 ||
        (rc = b->attr_ints(b, "kernel_shape", 2, ks)) < 0 ||
        (rc = b->attr_ints(b, "strides", 2, strides)) < 0 ||
        (rc = b->attr_ints(b, "pads", 4, pads)) < 0 ||
        (rc = b->attr_ints(b, "dilations", 2, dil)) < 0)
        return rc;
    return b->attr_int(b, "group", groups);
}

/* Conv with nn.Conv2d's attributes; padding "same" with an even kernel pads
   one more at the end, as the last window needs. */
static int conv2d_export(void *state, dlh_onnx_builder *b)
{
    const conv2d_state *st = state;
    const dlh_window2d *g = &st->g;
    int64_t eh = (int64_t)g->dh * (g->kh - 1) + 1, ew = (int64_t)g->dw * (g->kw - 1) + 1;
    int64_t end_h = ((int64_t)g->oh - 1) * g->sh + eh - g->h - g->ph;
    int64_t end_w = ((int64_t)g->ow - 1) * g->sw + ew - g->w - g->pw;
    int64_t pads[4] = { g->ph, g->pw, end_h > g->ph ? end_h : g->ph,
                        end_w > g->pw ? end_w : g->pw };
    return layers_conv_export(b, "Conv", g, pads, st->groups, st->has_bias);
}

static void conv2d_destroy(void *state)
{
    conv2d_state *st = state;
    if (!st)
        return;
    if (st->plan != NULL)
        st->be->ops->conv2d_release(st->be->ctx, st->plan);
    layers_host->ew_free(st->add_bias);
    free(st);
}

const dlh_layer_ops conv2d_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = conv2d_create,
    .forward = conv2d_forward,
    .backward = conv2d_backward,
    .destroy = conv2d_destroy,
    .export_onnx = conv2d_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc conv2d_params[] = {
    LAYERS_OUT_CHANNELS_DOC,
    LAYERS_KERNEL_SIZE_DOC,
    LAYERS_STRIDE_DOC,
    { "padding", DLH_PARAM_OTHER, "0", 0, 0, NULL, "zeros added on each side: an integer in [0, 65536], a list [h, w] of them, \"valid\" (none) or \"same\" (output size = input size, stride 1 only; an odd total puts the extra zero below and right, as PyTorch)" },
    LAYERS_DILATION_DOC,
    LAYERS_GROUPS_DOC,
    LAYERS_CONV_BIAS_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
