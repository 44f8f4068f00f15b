/* batchnorm: batch normalisation per channel with PyTorch's semantics
 * (nn.BatchNorm1d over [N, C] or [N, C, L] inputs, nn.BatchNorm2d over
 * [N, C, H, W]): weight (gamma, ones) and bias (beta, zeros) when affine;
 * with track_running_stats (the default) buffers running_mean (zeros) and
 * running_var (ones) and the int64 counter num_batches_tracked (layer.h
 * add_counter), which every training forward advances by one, as torch's
 * _BatchNorm.forward does.  momentum = "none" is torch's momentum=None: the
 * running statistics are the cumulative average, weight 1 /
 * num_batches_tracked for the batch.  Without track_running_stats there
 * are no buffers and evaluation normalises with the batch's statistics
 * too (torch's bn_training = True), backward included.
 *
 * A sample is C planes of S values (S = L, H*W, or 1); M = N*S values per
 * channel.  Training: mean and biased variance over the batch (two passes:
 * the centred x goes into the output first), y = (x - mean) * rsqrt(var + eps)
 * * gamma + beta, and running = (1 - momentum) * running + momentum * batch,
 * with the unbiased variance (var * M / (M - 1)).  Evaluation: the running
 * statistics instead of the batch's.
 *
 * Per-channel sums: for S = 1 a column reduction of [N, C]; otherwise a row
 * reduction of [N*C, S] and a gemm with a vector of ones over the batch (as
 * conv2d's bias gradient).  Backward (with xh = (x - mean) * invstd,
 * sdy = sum dy, sdx = sum dy*xh per channel): dbeta += sdy, dgamma += sdx,
 * dx = gamma*invstd*(dy - (sdy + xh*sdx)/M) in training and
 * gamma*invstd*dy in evaluation.  dy*xh is formed in d_input, or, when the
 * input needs no gradient, in the output, which is then recomputed. */
#include <float.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "normalization.h"

typedef struct batchnorm_state {
    int c;                      /* channels */
    int s;                      /* values per channel per sample: 1, L or H*W */
    int affine;
    int track;                  /* track_running_stats */
    int cumulative;             /* momentum = "none" */
    int nbt_index;              /* counter num_batches_tracked (track only) */
    dlh_shape in;               /* per-sample input shape, for messages */
    float momentum, eps;
    int w_index, b_index;       /* params (affine only) */
    int rm_index, rv_index;     /* buffers */
    int rowsum_index;           /* [N, C] per-plane sums (S > 1) */
    int ones_index;             /* [N] ones (S > 1) */
    int stats_index;            /* fixed [4, C]: sum, sq, mean, invstd */
    dlh_ew_kernel *center;      /* y = x - sum/M */
    dlh_ew_kernel *stats;       /* mean, invstd (and running stats) from sum, sq */
    dlh_ew_kernel *invstd;      /* invstd from running_var */
    dlh_ew_kernel *norm;        /* y = (x - mean)*invstd*gamma + beta */
    dlh_ew_kernel *prod;        /* t = dy * xh */
    dlh_ew_kernel *acc;         /* dgamma += sdx, dbeta += sdy */
    dlh_ew_kernel *dx;
} batchnorm_state;

enum { BN_SUM = 0, BN_SQ = 1, BN_MEAN = 2, BN_INVSTD = 3 };

static int batchnorm_kernels(const dlh_host *host, const dlh_backend *be,
                             batchnorm_state *st)
{
    int rc;
    const char *stats = st->track ? "in s, q; inout rm, rv; out m, r;"
                                    "scalar inv, unb, mom, eps;"
                                    "m = s*inv; v = q*inv; r = rsqrt(v + eps);"
                                    "rm = (1 - mom)*rm + mom*m;"
                                    "rv = (1 - mom)*rv + mom*(v*unb);"
                                  : "in s, q; out m, r; scalar inv, eps;"
                                    "m = s*inv; r = rsqrt(q*inv + eps);";
    if ((rc = host->ew_compile(be, "in x, s; out y; scalar inv; y = x - s*inv;",
                               &st->center)) < 0 ||
        (rc = host->ew_compile(be, stats, &st->stats)) < 0 ||
        (rc = host->ew_compile(be, "in v; out r; scalar eps; r = rsqrt(v + eps);",
                               &st->invstd)) < 0 ||
        (rc = host->ew_compile(be, "in dy, x, m, r; out t; t = dy*((x - m)*r);",
                               &st->prod)) < 0)
        return rc;
    if (!st->affine)
        return (rc = host->ew_compile(be, "in x, m, r; out y; y = (x - m)*r;",
                                      &st->norm)) < 0 ||
               (rc = host->ew_compile(be,
                                      "in dy, x, m, r, a, c; out dx; scalar inv, tr;"
                                      "dx = r*(dy - tr*(a*inv + ((x - m)*r)*(c*inv)));",
                                      &st->dx)) < 0 ? rc : 0;
    if ((rc = host->ew_compile(be, "in x, m, r, g, b; out y; y = (x - m)*(r*g) + b;",
                               &st->norm)) < 0 ||
        (rc = host->ew_compile(be, "in a, c; inout gw, gb; gw = gw + c; gb = gb + a;",
                               &st->acc)) < 0 ||
        (rc = host->ew_compile(be,
                               "in dy, x, m, r, g, a, c; out dx; scalar inv, tr;"
                               "dx = (g*r)*(dy - tr*(a*inv + ((x - m)*r)*(c*inv)));",
                               &st->dx)) < 0)
        return rc;
    return 0;
}

static int batchnorm_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    batchnorm_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    dlh_params *p = setup->params;
    static const char *const none[] = { "none", NULL };
    const double def_momentum = 0.1;
    const int def_true = 1;
    double momentum = 0.0;
    int rc, which;
    const char *word;
    /* momentum is a number or "none" (torch's momentum=None). */
    if (host->param_choice(p, "momentum", none, -1, &which) == 0)
        st->cumulative = 1;
    else if ((rc = host->param_float(p, "momentum", &def_momentum, 0.0, 1.0, &momentum)) < 0)
        return host->param_string(p, "momentum", "0.1", &word) < 0
                   ? host->param_float(p, "momentum", &def_momentum, 0.0, 1.0, &momentum)
                   : host->param_error(p, "momentum", "parameter 'momentum': expected a "
                                       "number in [0, 1] or \"none\", got \"%s\"", word);
    if ((rc = norm_read_eps(host, p, &st->eps)) < 0 ||
        (rc = host->param_bool(p, "affine", &def_true, &st->affine)) < 0 ||
        (rc = host->param_bool(p, "track_running_stats", &def_true, &st->track)) < 0)
        return rc;
    st->momentum = (float)momentum;

    char sbuf[96];
    if (setup->n_inputs != 1)
        return host->param_error(p, NULL, "batchnorm takes exactly one input, got %d",
                                 setup->n_inputs);
    const dlh_shape *in = &setup->inputs[0];
    if (in->ndim < 1 || in->ndim > 3)
        return host->param_error(p, NULL, "batchnorm expects an input [N, C], "
                                 "[N, C, L] or [N, C, H, W], got %s",
                                 norm_shape_str(in, -1, sbuf, sizeof sbuf));
    int64_t c = in->dim[0], s = dlh_shape_numel(in) / (c > 0 ? c : 1);
    if (c < 1 || s < 1 || c > INT_MAX || s > INT_MAX || c * s > INT_MAX)
        return host->param_error(p, NULL, "batchnorm input %s is empty or too large",
                                 norm_shape_str(in, -1, sbuf, sizeof sbuf));
    st->in = *in;
    st->c = (int)c;
    st->s = (int)s;
    setup->output = *in;

    dlh_shape cs = { 1, { c } };
    dlh_init ones = { DLH_INIT_CONSTANT, 1.0f, 0.0f }, zeros = { DLH_INIT_ZEROS, 0, 0 };
    if ((rc = norm_affine_params(setup, st->affine, &cs, &st->w_index, &st->b_index)) < 0)
        return rc;
    int wide = st->s > 1;
    if (st->track &&
        ((rc = setup->add_buffer(setup, "running_mean", &cs, zeros, &st->rm_index)) < 0 ||
         (rc = setup->add_buffer(setup, "running_var", &cs, ones, &st->rv_index)) < 0 ||
         (rc = setup->add_counter(setup, "num_batches_tracked", &st->nbt_index)) < 0))
        return rc;
    if ((rc = setup->add_scratch(setup, wide ? c : 0, 0, &st->rowsum_index)) < 0 ||
        (rc = setup->add_scratch(setup, wide ? 1 : 0, 0, &st->ones_index)) < 0 ||
        (rc = setup->add_scratch(setup, 0, 4 * c, &st->stats_index)) < 0)
        return rc;
    return batchnorm_kernels(host, setup->backend, st);
}

/* The batch as an int, or an error when the int sizes of gemm and reduce
   cannot hold it. */
static int batchnorm_batch(const batchnorm_state *st, const dlh_layer_ctx *ctx, int *n)
{
    if (ctx->batch < 0 || ctx->batch > INT_MAX / st->c) {
        normalization_host->error("batchnorm: batch of %lld samples is out of range",
                                  (long long)ctx->batch);
        return DLH_EINVAL;
    }
    *n = (int)ctx->batch;
    return 0;
}

static dlh_mem batchnorm_stat(const batchnorm_state *st, const dlh_layer_ctx *ctx, int k)
{
    return dlh_mem_at(ctx->scratch[st->stats_index].mem, (size_t)k * (size_t)st->c);
}

/* out[c] = sum (op SUM) or sum of squares (op SUMSQ) of src over the batch
   and the S values of channel c. */
static int batchnorm_chan(const batchnorm_state *st, const dlh_layer_ctx *ctx, int n,
                          dlh_reduce_op op, dlh_mem src, dlh_mem out)
{
    const dlh_backend *be = ctx->backend;
    const dlh_mem none = { NULL, 0 };
    if (st->s == 1)
        return be->ops->reduce(be->ctx, op, 0, n, st->c, src, out, none);
    dlh_mem rowsum = ctx->scratch[st->rowsum_index].mem;
    dlh_mem ones = ctx->scratch[st->ones_index].mem;
    int rc;
    if ((rc = be->ops->reduce(be->ctx, op, 1, n * st->c, st->s, src, rowsum, none)) < 0 ||
        (rc = be->ops->fill(be->ctx, ones, (size_t)n, 1.0f)) < 0)
        return rc;
    return be->ops->gemm(be->ctx, 0, 0, 1, st->c, n, 1.0f, ones, n, rowsum, st->c, 0.0f,
                         out, st->c);
}

/* A per-channel operand. */
static dlh_ew_arg batchnorm_chan_arg(const batchnorm_state *st, dlh_mem m)
{
    dlh_ew_arg a = { m, (size_t)st->c, (size_t)st->s };
    return a;
}

/* 1 when this step normalises with the batch's statistics: in training,
   and always without running statistics. */
static int batchnorm_batch_stats(const batchnorm_state *st, const dlh_layer_ctx *ctx)
{
    return ctx->training || !st->track;
}

/* The mean of the last forward: the batch's, or running_mean. */
static dlh_mem batchnorm_mean(const batchnorm_state *st, const dlh_layer_ctx *ctx)
{
    return batchnorm_batch_stats(st, ctx) ? batchnorm_stat(st, ctx, BN_MEAN)
                                          : ctx->buffers[st->rm_index].mem;
}

/* y = (x - mean) * invstd (* gamma + beta). */
static int batchnorm_normalize(const batchnorm_state *st, const dlh_layer_ctx *ctx,
                               size_t total, dlh_mem x, dlh_mem y)
{
    dlh_ew_arg args[6] = {
        dlh_ew_full(x, total),
        batchnorm_chan_arg(st, batchnorm_mean(st, ctx)),
        batchnorm_chan_arg(st, batchnorm_stat(st, ctx, BN_INVSTD)),
    };
    int k = 3;
    if (st->affine) {
        args[k++] = batchnorm_chan_arg(st, ctx->params[st->w_index].mem);
        args[k++] = batchnorm_chan_arg(st, ctx->params[st->b_index].mem);
    }
    args[k] = dlh_ew_full(y, total);
    return normalization_host->ew_run(st->norm, total, args, NULL);
}

static int batchnorm_forward(void *state, const dlh_layer_ctx *ctx,
                             const dlh_tensor *inputs, const dlh_tensor *output)
{
    const batchnorm_state *st = state;
    const dlh_host *host = normalization_host;
    int n, rc;
    if ((rc = batchnorm_batch(st, ctx, &n)) < 0 || n == 0)
        return rc;
    size_t total = (size_t)n * (size_t)st->c * (size_t)st->s;
    dlh_mem x = inputs[0].mem, y = output->mem;
    dlh_mem invstd = batchnorm_stat(st, ctx, BN_INVSTD);
    if (!batchnorm_batch_stats(st, ctx)) {
        dlh_mem rv = ctx->buffers[st->rv_index].mem;
        dlh_ew_arg args[2] = { dlh_ew_full(rv, (size_t)st->c),
                               dlh_ew_full(invstd, (size_t)st->c) };
        if ((rc = host->ew_run(st->invstd, (size_t)st->c, args, &st->eps)) < 0)
            return rc;
        return batchnorm_normalize(st, ctx, total, x, y);
    }
    int64_t m = (int64_t)n * st->s;
    if (m < 2) {
        char sbuf[96];
        host->error("batchnorm: expected more than 1 value per channel when training, "
                    "got input %s",
                    norm_shape_str(&st->in, n, sbuf, sizeof sbuf));
        return DLH_EINVAL;
    }
    dlh_mem sum = batchnorm_stat(st, ctx, BN_SUM), sq = batchnorm_stat(st, ctx, BN_SQ);
    dlh_mem mean = batchnorm_stat(st, ctx, BN_MEAN);
    float inv = (float)(1.0 / (double)m);
    /* Two passes: the sum, then the squares of x - mean, centred in y. */
    if ((rc = batchnorm_chan(st, ctx, n, DLH_REDUCE_SUM, x, sum)) < 0)
        return rc;
    dlh_ew_arg cargs[3] = {
        dlh_ew_full(x, total), batchnorm_chan_arg(st, sum), dlh_ew_full(y, total),
    };
    if ((rc = host->ew_run(st->center, total, cargs, &inv)) < 0 ||
        (rc = batchnorm_chan(st, ctx, n, DLH_REDUCE_SUMSQ, y, sq)) < 0)
        return rc;
    size_t c = (size_t)st->c;
    if (!st->track || !ctx->training) {
        dlh_ew_arg sargs[4] = { dlh_ew_full(sum, c), dlh_ew_full(sq, c),
                                dlh_ew_full(mean, c), dlh_ew_full(invstd, c) };
        float scalars[2] = { inv, st->eps };
        if ((rc = host->ew_run(st->stats, c, sargs, scalars)) < 0)
            return rc;
        return batchnorm_normalize(st, ctx, total, x, y);
    }
    /* torch: num_batches_tracked.add_(1), then for momentum=None the
       factor 1.0 / float(num_batches_tracked), in double. */
    int64_t *count = &ctx->counters[st->nbt_index];
    ++*count;
    float factor = st->cumulative ? (float)(1.0 / (double)*count) : st->momentum;
    dlh_ew_arg sargs[6] = {
        dlh_ew_full(sum, c), dlh_ew_full(sq, c),
        dlh_ew_full(ctx->buffers[st->rm_index].mem, c),
        dlh_ew_full(ctx->buffers[st->rv_index].mem, c),
        dlh_ew_full(mean, c), dlh_ew_full(invstd, c),
    };
    float scalars[4] = { inv, (float)((double)m / (double)(m - 1)), factor, st->eps };
    if ((rc = host->ew_run(st->stats, c, sargs, scalars)) < 0)
        return rc;
    return batchnorm_normalize(st, ctx, total, x, y);
}

static int batchnorm_backward(void *state, const dlh_layer_ctx *ctx,
                              const dlh_tensor *inputs, const dlh_tensor *output,
                              const dlh_tensor *d_output, const dlh_tensor *d_inputs)
{
    const batchnorm_state *st = state;
    const dlh_host *host = normalization_host;
    int n, rc;
    if ((rc = batchnorm_batch(st, ctx, &n)) < 0 || n == 0)
        return rc;
    int has_dx = d_inputs[0].mem.buf != NULL;
    if (!has_dx && !st->affine)
        return 0;
    size_t total = (size_t)n * (size_t)st->c * (size_t)st->s;
    dlh_mem x = inputs[0].mem, dy = d_output->mem;
    dlh_mem sdy = batchnorm_stat(st, ctx, BN_SUM), sdx = batchnorm_stat(st, ctx, BN_SQ);
    dlh_mem mean = batchnorm_mean(st, ctx), invstd = batchnorm_stat(st, ctx, BN_INVSTD);
    /* dy * xh goes where it is overwritten next: d_input, or the output,
       which is recomputed below. */
    dlh_mem tmp = has_dx ? d_inputs[0].mem : output->mem;
    dlh_ew_arg pargs[5] = {
        dlh_ew_full(dy, total), dlh_ew_full(x, total), batchnorm_chan_arg(st, mean),
        batchnorm_chan_arg(st, invstd), dlh_ew_full(tmp, total),
    };
    if ((rc = batchnorm_chan(st, ctx, n, DLH_REDUCE_SUM, dy, sdy)) < 0 ||
        (rc = host->ew_run(st->prod, total, pargs, NULL)) < 0 ||
        (rc = batchnorm_chan(st, ctx, n, DLH_REDUCE_SUM, tmp, sdx)) < 0)
        return rc;
    size_t c = (size_t)st->c;
    if (st->affine) {
        dlh_ew_arg aargs[4] = {
            dlh_ew_full(sdy, c), dlh_ew_full(sdx, c),
            dlh_ew_full(ctx->grads[st->w_index].mem, c),
            dlh_ew_full(ctx->grads[st->b_index].mem, c),
        };
        if ((rc = host->ew_run(st->acc, c, aargs, NULL)) < 0)
            return rc;
    }
    if (!has_dx)
        return batchnorm_normalize(st, ctx, total, x, output->mem);
    dlh_ew_arg dargs[8] = {
        dlh_ew_full(dy, total), dlh_ew_full(x, total), batchnorm_chan_arg(st, mean),
        batchnorm_chan_arg(st, invstd),
    };
    int k = 4;
    if (st->affine)
        dargs[k++] = batchnorm_chan_arg(st, ctx->params[st->w_index].mem);
    dargs[k++] = batchnorm_chan_arg(st, sdy);
    dargs[k++] = batchnorm_chan_arg(st, sdx);
    dargs[k] = dlh_ew_full(d_inputs[0].mem, total);
    float scalars[2] = { (float)(1.0 / ((double)n * st->s)),
                         batchnorm_batch_stats(st, ctx) ? 1.0f : 0.0f };
    return host->ew_run(st->dx, total, dargs, scalars);
}

static void batchnorm_destroy(void *state)
{
    batchnorm_state *st = state;
    if (!st)
        return;
    const dlh_host *host = normalization_host;
    host->ew_free(st->center);
    host->ew_free(st->stats);
    host->ew_free(st->invstd);
    host->ew_free(st->norm);
    host->ew_free(st->prod);
    host->ew_free(st->acc);
    host->ew_free(st->dx);
    free(st);
}

/* BatchNormalization in inference mode, on the running statistics. */
static int batchnorm_export(void *state, dlh_onnx_builder *b)
{
    const batchnorm_state *st = state;
    if (!st->track) {
        normalization_host->error("batchnorm without track_running_stats normalises with each "
                         "batch's statistics in evaluation: no ONNX form");
        return DLH_EUNSUPPORTED;
    }
    const char *in[5] = { b->inputs[0], NULL, NULL, b->param(b, "running_mean", 0, NULL),
                          b->param(b, "running_var", 0, NULL) };
    int rc = norm_onnx_affine(b, st->affine, st->c, in + 1);
    if (rc < 0 || !in[3] || !in[4])
        return DLH_ENOMEM;
    rc = b->node(b, "BatchNormalization", 5, in, 1, &b->output);
    return rc < 0 ? rc : b->attr_float(b, "epsilon", st->eps);
}

const dlh_layer_ops batchnorm_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = batchnorm_create,
    .forward = batchnorm_forward,
    .backward = batchnorm_backward,
    .destroy = batchnorm_destroy,
    .export_onnx = batchnorm_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc batchnorm_params[] = {
    { "momentum", DLH_PARAM_OTHER, "0.1", 0.0, 1.0, NULL, "weight of the batch in the running mean and variance, in [0, 1], or \"none\" for their cumulative average (torch's momentum=None)" },
    { "eps", DLH_PARAM_FLOAT, "1e-05", 0.0, FLT_MAX, NULL, "added to the variance, > 0" },
    { "affine", DLH_PARAM_BOOL, "true", 0, 0, NULL, "learn a scale (gamma) and shift (beta) per channel" },
    { "track_running_stats", DLH_PARAM_BOOL, "true", 0, 0, NULL, "keep running_mean, running_var and num_batches_tracked and normalise with them in evaluation; false: batch statistics always" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
