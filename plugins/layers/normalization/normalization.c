/* Entry point of the "normalization" plugin: keeps the host table and
 * registers every layer of the family; and the helpers its layers share.
 *
 * Row normalisation (norm_rows_*), for layernorm, groupnorm and
 * instancenorm2d: the input viewed as [R, M]; forward in two passes (the
 * row sums, then the sums of squares of x - mean, centred in the output),
 * y = (x - mean) * invstd (* w + b).  Backward with xh = (x - mean) *
 * invstd, g = dy (* w), a = sum_row g, c = sum_row g*xh:
 * dx = invstd * (g - (a + xh*c)/M) when the statistics were the batch's,
 * invstd * g when they were constants (running statistics); dw += the sum
 * of dy*xh and db += the sum of dy over every element that uses w[k]
 * (a row reduction over the inner stride s when s > 1, then a column
 * reduction over the rest). */
#include "normalization.h"

#include <float.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

const dlh_host *normalization_host;

const char *norm_shape_str(const dlh_shape *s, int64_t batch, char *buf, size_t size)
{
    size_t used = batch < 0 ? (size_t)snprintf(buf, size, "[N")
                            : (size_t)snprintf(buf, size, "[%lld", (long long)batch);
    for (int i = 0; i < s->ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, ", %lld", (long long)s->dim[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

int norm_read_eps(const dlh_host *host, dlh_params *p, float *eps)
{
    const double def_eps = 1e-5;
    double v;
    int rc = host->param_float(p, "eps", &def_eps, -DBL_MAX, DBL_MAX, &v);
    if (rc < 0)
        return rc;
    /* The bound is open: eps = 0 divides by zero for a constant row. */
    if (!(v > 0.0 && v <= FLT_MAX))
        return host->param_error(p, "eps", "parameter 'eps': expected a finite number "
                                 "> 0, got %g", v);
    *eps = (float)v;
    return 0;
}

int norm_affine_params(dlh_layer_setup *setup, int affine, const dlh_shape *shape,
                       int *w_index, int *b_index)
{
    dlh_init ones = { DLH_INIT_CONSTANT, 1.0f, 0.0f }, zeros = { DLH_INIT_ZEROS, 0, 0 };
    int rc;
    if (affine &&
        ((rc = setup->add_param(setup, "weight", shape, ones, w_index)) < 0 ||
         (rc = setup->add_param(setup, "bias", shape, zeros, b_index)) < 0))
        return rc;
    return 0;
}

/* ------------------------------------------------------------ row normalisation */

int norm_rows_setup(const dlh_host *host, dlh_layer_setup *setup, norm_rows *r)
{
    const dlh_backend *be = setup->backend;
    int rc;
    r->numel = r->rows * r->m;
    if ((rc = setup->add_scratch(setup, r->rows, 0, &r->sum_index)) < 0 ||
        (rc = setup->add_scratch(setup, r->rows, 0, &r->sq_index)) < 0 ||
        (rc = setup->add_scratch(setup, r->rows, 0, &r->mean_index)) < 0 ||
        (rc = setup->add_scratch(setup, r->rows, 0, &r->invstd_index)) < 0 ||
        (rc = setup->add_scratch(setup, r->affine && r->s > 1 ? r->numel / r->s : 0, 0,
                                 &r->psum_index)) < 0 ||
        (rc = setup->add_scratch(setup, 0, r->affine ? 2 * r->p : 0, &r->pacc_index)) < 0)
        return rc;
    if ((rc = host->ew_compile(be, "in x, s; out y; scalar inv; y = x - s*inv;",
                               &r->center)) < 0 ||
        (rc = host->ew_compile(be, "in s, q; out m, r; scalar inv, eps;"
                               "m = s*inv; r = rsqrt(q*inv + eps);", &r->stats)) < 0 ||
        (rc = host->ew_compile(be, "in dy, x, m, r; out t; t = dy*((x - m)*r);",
                               &r->prod)) < 0)
        return rc;
    if (!r->affine)
        return (rc = host->ew_compile(be, "in x, m, r; out y; y = (x - m)*r;",
                                      &r->norm)) < 0 ||
               (rc = host->ew_compile(be, "in dy, x, m, r, a, c; out dx; scalar inv;"
                                      "dx = r*(dy - (a*inv + ((x - m)*r)*(c*inv)));",
                                      &r->dx)) < 0 ||
               (rc = host->ew_compile(be, "in dy, r; out dx; dx = r*dy;", &r->dxc)) < 0
                   ? rc : 0;
    if ((rc = host->ew_compile(be, "in x, m, r, g, b; out y; y = (x - m)*(r*g) + b;",
                               &r->norm)) < 0 ||
        (rc = host->ew_compile(be, "in dy, g; out t; t = dy*g;", &r->gprod)) < 0 ||
        (rc = host->ew_compile(be, "in dy, x, m, r, g; out t; t = (dy*g)*((x - m)*r);",
                               &r->gxprod)) < 0 ||
        (rc = host->ew_compile(be, "in a, c; inout gw, gb; gw = gw + c; gb = gb + a;",
                               &r->acc)) < 0 ||
        (rc = host->ew_compile(be, "in dy, x, m, r, g, a, c; out dx; scalar inv;"
                               "dx = r*(dy*g - (a*inv + ((x - m)*r)*(c*inv)));",
                               &r->dx)) < 0 ||
        (rc = host->ew_compile(be, "in dy, r, g; out dx; dx = r*(dy*g);", &r->dxc)) < 0)
        return rc;
    return 0;
}

void norm_rows_free(norm_rows *r)
{
    const dlh_host *host = normalization_host;
    host->ew_free(r->center);
    host->ew_free(r->stats);
    host->ew_free(r->norm);
    host->ew_free(r->prod);
    host->ew_free(r->gprod);
    host->ew_free(r->gxprod);
    host->ew_free(r->acc);
    host->ew_free(r->dx);
    host->ew_free(r->dxc);
}

int norm_rows_batch(const norm_rows *r, const dlh_layer_ctx *ctx, const char *layer,
                    int *n)
{
    if (ctx->batch < 0 || ctx->batch > INT_MAX / r->numel) {
        normalization_host->error("%s: batch of %lld samples is out of range", layer,
                                  (long long)ctx->batch);
        return DLH_EINVAL;
    }
    *n = (int)ctx->batch;
    return 0;
}

dlh_mem norm_rows_scratch(const dlh_layer_ctx *ctx, int k)
{
    return ctx->scratch[k].mem;
}

dlh_ew_arg norm_rows_arg(const norm_rows *r, int n, dlh_mem m)
{
    dlh_ew_arg a = { m, (size_t)n * (size_t)r->rows, (size_t)r->m };
    return a;
}

/* An operand over the affine parameters: element i uses index (i / s) % P. */
static dlh_ew_arg norm_rows_param_arg(const norm_rows *r, dlh_mem m)
{
    dlh_ew_arg a = { m, (size_t)r->p, (size_t)r->s };
    return a;
}

int norm_rows_stats(const norm_rows *r, const dlh_layer_ctx *ctx, int n, dlh_mem x,
                    dlh_mem y)
{
    const dlh_host *host = normalization_host;
    const dlh_backend *be = ctx->backend;
    const dlh_mem none = { NULL, 0 };
    int rows = n * (int)r->rows, m = (int)r->m, rc;
    size_t total = (size_t)rows * (size_t)m;
    dlh_mem sum = norm_rows_scratch(ctx, r->sum_index), sq = norm_rows_scratch(ctx, r->sq_index);
    float inv = (float)(1.0 / (double)m);
    dlh_ew_arg cargs[3] = { dlh_ew_full(x, total), norm_rows_arg(r, n, sum), dlh_ew_full(y, total) };
    if ((rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, rows, m, x, sum, none)) < 0 ||
        (rc = host->ew_run(r->center, total, cargs, &inv)) < 0 ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUMSQ, 1, rows, m, y, sq, none)) < 0)
        return rc;
    dlh_ew_arg sargs[4] = {
        dlh_ew_full(sum, (size_t)rows), dlh_ew_full(sq, (size_t)rows),
        dlh_ew_full(norm_rows_scratch(ctx, r->mean_index), (size_t)rows),
        dlh_ew_full(norm_rows_scratch(ctx, r->invstd_index), (size_t)rows),
    };
    float scalars[2] = { inv, r->eps };
    return host->ew_run(r->stats, (size_t)rows, sargs, scalars);
}

int norm_rows_normalize(const norm_rows *r, const dlh_layer_ctx *ctx, int n, dlh_mem x,
                        dlh_mem y, dlh_ew_arg mean, dlh_ew_arg invstd)
{
    size_t total = (size_t)n * (size_t)r->numel;
    dlh_ew_arg args[6] = { dlh_ew_full(x, total), mean, invstd };
    int k = 3;
    if (r->affine) {
        args[k++] = norm_rows_param_arg(r, ctx->params[r->w_index].mem);
        args[k++] = norm_rows_param_arg(r, ctx->params[r->b_index].mem);
    }
    args[k] = dlh_ew_full(y, total);
    return normalization_host->ew_run(r->norm, total, args, NULL);
}

/* out[k] = the sum of t over every element that uses parameter k. */
static int norm_rows_param_sum(const norm_rows *r, const dlh_layer_ctx *ctx, int n,
                               dlh_mem t, dlh_mem out)
{
    const dlh_backend *be = ctx->backend;
    const dlh_mem none = { NULL, 0 };
    int total = n * (int)r->numel, p = (int)r->p, s = (int)r->s, rc;
    if (s > 1) {
        dlh_mem psum = norm_rows_scratch(ctx, r->psum_index);
        if ((rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, total / s, s, t, psum,
                                  none)) < 0)
            return rc;
        t = psum;
    }
    return be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 0, total / (s * p), p, t, out, none);
}

int norm_rows_backward(const norm_rows *r, const dlh_layer_ctx *ctx, int n, dlh_mem x,
                       dlh_mem dy, dlh_mem out, dlh_mem dx, dlh_ew_arg mean,
                       dlh_ew_arg invstd, int batch_stats)
{
    const dlh_host *host = normalization_host;
    const dlh_backend *be = ctx->backend;
    const dlh_mem none = { NULL, 0 };
    int has_dx = dx.buf != NULL, rc;
    if (!has_dx && !r->affine)
        return 0;
    int rows = n * (int)r->rows, m = (int)r->m;
    size_t total = (size_t)rows * (size_t)m;
    /* Products go where they are overwritten next: d_input, or the output,
       which is recomputed at the end. */
    dlh_mem tmp = has_dx ? dx : out;
    dlh_ew_arg w = { { NULL, 0 }, 0, 0 };
    dlh_ew_arg pargs[6] = { dlh_ew_full(dy, total), dlh_ew_full(x, total), mean, invstd,
                            dlh_ew_full(tmp, total) };
    if (r->affine) {
        w = norm_rows_param_arg(r, ctx->params[r->w_index].mem);
        dlh_mem sdx = norm_rows_scratch(ctx, r->pacc_index);
        dlh_mem sdy = dlh_mem_at(sdx, (size_t)r->p);
        size_t p = (size_t)r->p;
        dlh_ew_arg aargs[4] = { dlh_ew_full(sdy, p), dlh_ew_full(sdx, p),
                                dlh_ew_full(ctx->grads[r->w_index].mem, p),
                                dlh_ew_full(ctx->grads[r->b_index].mem, p) };
        if ((rc = host->ew_run(r->prod, total, pargs, NULL)) < 0 ||
            (rc = norm_rows_param_sum(r, ctx, n, tmp, sdx)) < 0 ||
            (rc = norm_rows_param_sum(r, ctx, n, dy, sdy)) < 0 ||
            (rc = host->ew_run(r->acc, p, aargs, NULL)) < 0)
            return rc;
    }
    if (!has_dx)
        return norm_rows_normalize(r, ctx, n, x, out, mean, invstd);
    dlh_ew_arg dargs[8] = { dlh_ew_full(dy, total) };
    int k = 1;
    if (!batch_stats) {
        dargs[k++] = invstd;
        if (r->affine)
            dargs[k++] = w;
        dargs[k] = dlh_ew_full(dx, total);
        return host->ew_run(r->dxc, total, dargs, NULL);
    }
    dlh_mem a = norm_rows_scratch(ctx, r->sum_index), c = norm_rows_scratch(ctx, r->sq_index);
    if (r->affine) {
        dlh_ew_arg gargs[3] = { dlh_ew_full(dy, total), w, dlh_ew_full(tmp, total) };
        dlh_ew_arg xargs[6] = { dlh_ew_full(dy, total), dlh_ew_full(x, total), mean, invstd,
                                w, dlh_ew_full(tmp, total) };
        if ((rc = host->ew_run(r->gprod, total, gargs, NULL)) < 0 ||
            (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, rows, m, tmp, a, none)) < 0 ||
            (rc = host->ew_run(r->gxprod, total, xargs, NULL)) < 0)
            return rc;
    } else if ((rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, rows, m, dy, a, none)) < 0 ||
               (rc = host->ew_run(r->prod, total, pargs, NULL)) < 0) {
        return rc;
    }
    if ((rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, rows, m, tmp, c, none)) < 0)
        return rc;
    dargs[k++] = dlh_ew_full(x, total);
    dargs[k++] = mean;
    dargs[k++] = invstd;
    if (r->affine)
        dargs[k++] = w;
    dargs[k++] = norm_rows_arg(r, n, a);
    dargs[k++] = norm_rows_arg(r, n, c);
    dargs[k] = dlh_ew_full(dx, total);
    float inv = (float)(1.0 / (double)m);
    return host->ew_run(r->dx, total, dargs, &inv);
}

/* ------------------------------------------------------------ registration */

static int normalization_add(dlh_registrar *reg, const char *name, const dlh_layer_ops *ops,
                             const dlh_param_doc *params, const char *description)
{
    int rc = reg->add(reg, DLH_KIND_LAYER, name, ops, description);
    return rc < 0 ? rc : reg->describe(reg, DLH_KIND_LAYER, name, params);
}

static int normalization_init(const dlh_host *host, dlh_registrar *reg)
{
    normalization_host = host;
    int rc;
    if ((rc = normalization_add(reg, "batchnorm", &batchnorm_ops, batchnorm_params,
                                "batch normalisation per channel of [C], [C, L] or "
                                "[C, H, W] samples (nn.BatchNorm1d, nn.BatchNorm2d)")) < 0 ||
        (rc = normalization_add(reg, "layernorm", &layernorm_ops, layernorm_params,
                                "layer normalisation over the trailing dimensions of "
                                "each sample (nn.LayerNorm)")) < 0 ||
        (rc = normalization_add(reg, "groupnorm", &groupnorm_ops, groupnorm_params,
                                "group normalisation over groups of channels of [C, ...] "
                                "samples (nn.GroupNorm)")) < 0 ||
        (rc = normalization_add(reg, "instancenorm2d", &instancenorm2d_ops,
                                instancenorm2d_params,
                                "instance normalisation per sample and channel of "
                                "[C, H, W] samples (nn.InstanceNorm2d)")) < 0)
        return rc;
    return 0;
}

DLH_PLUGIN("normalization", "0.2.0",
           "normalization layers: batchnorm, layernorm, groupnorm, instancenorm2d", "MIT",
           normalization_init)

int norm_rows_layer_forward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                            const dlh_tensor *output)
{
    const norm_rows *r = state;
    int n, rc;
    if ((rc = norm_rows_batch(r, ctx, r->layer, &n)) < 0 || n == 0 ||
        (rc = norm_rows_stats(r, ctx, n, inputs[0].mem, output->mem)) < 0)
        return rc;
    return norm_rows_normalize(r, ctx, n, inputs[0].mem, output->mem,
                               norm_rows_arg(r, n, norm_rows_scratch(ctx, r->mean_index)),
                               norm_rows_arg(r, n, norm_rows_scratch(ctx, r->invstd_index)));
}

int norm_rows_layer_backward(void *state, const dlh_layer_ctx *ctx,
                             const dlh_tensor *inputs, const dlh_tensor *output,
                             const dlh_tensor *d_output, const dlh_tensor *d_inputs)
{
    const norm_rows *r = state;
    int n, rc;
    if ((rc = norm_rows_batch(r, ctx, r->layer, &n)) < 0 || n == 0)
        return rc;
    return norm_rows_backward(r, ctx, n, inputs[0].mem, d_output->mem, output->mem,
                              d_inputs[0].mem,
                              norm_rows_arg(r, n, norm_rows_scratch(ctx, r->mean_index)),
                              norm_rows_arg(r, n, norm_rows_scratch(ctx, r->invstd_index)),
                              1);
}

void norm_rows_layer_destroy(void *state)
{
    if (!state)
        return;
    norm_rows_free(state);
    free(state);
}

const char *norm_onnx_fill(dlh_onnx_builder *b, const char *hint, int64_t c, float v)
{
    float *d = malloc((size_t)c * sizeof *d);
    if (!d) {
        normalization_host->error("out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < c; i++)
        d[i] = v;
    const char *name = b->constant(b, hint, DLH_ONNX_FLOAT, 1, &c, d);
    free(d);
    return name;
}

int norm_onnx_affine(dlh_onnx_builder *b, int affine, int64_t c, const char **in)
{
    in[0] = affine ? b->param(b, "weight", 0, NULL) : norm_onnx_fill(b, "ones", c, 1.0f);
    in[1] = affine ? b->param(b, "bias", 0, NULL) : norm_onnx_fill(b, "zeros", c, 0.0f);
    return in[0] && in[1] ? 0 : DLH_ENOMEM;
}
