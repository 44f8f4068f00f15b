/* instancenorm2d: torch.nn.InstanceNorm2d over [N, C, H, W] inputs.  Each
 * channel of each sample is normalised by its own mean and biased variance
 * over its H*W values, y = (x - mean) * rsqrt(var + eps) (* weight[c] +
 * bias[c] when affine; torch's default is affine = false).
 *
 * With track_running_stats, running_mean (zeros) and running_var (ones)
 * follow torch's F.instance_norm, which runs batch_norm over [1, N*C, H, W]
 * with the running statistics repeated N times and then averages them over
 * the batch: running = (1 - momentum) * running + momentum * (the mean over
 * the samples of each instance's mean, or of its unbiased variance
 * var * HW / (HW - 1)); evaluation then normalises with the running
 * statistics.  num_batches_tracked is declared as torch's _NormBase has
 * it, and, as in torch, instance norm never advances it.  Without
 * track_running_stats (the default) evaluation uses each instance's own
 * statistics too.  The rows of norm_rows (normalization.c) are the
 * channels, M = H*W, and the parameters run over them (P = C, stride HW). */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>

#include "normalization.h"

typedef struct instancenorm2d_state {
    norm_rows r;
    int track;
    float momentum;
    int rm_index, rv_index, nbt_index;  /* buffers, counter (track only) */
    int run_index;              /* fixed [3C]: sum of means, of sq, eval invstd */
    dlh_ew_kernel *update;      /* running statistics from the sums */
    dlh_ew_kernel *invstd;      /* invstd from running_var */
} instancenorm2d_state;

static int instancenorm2d_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    instancenorm2d_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    dlh_params *p = setup->params;
    const double def_momentum = 0.1;
    const int def_false = 0;
    double momentum;
    int rc;
    if ((rc = norm_read_eps(host, p, &st->r.eps)) < 0 ||
        (rc = host->param_float(p, "momentum", &def_momentum, 0.0, 1.0, &momentum)) < 0 ||
        (rc = host->param_bool(p, "affine", &def_false, &st->r.affine)) < 0 ||
        (rc = host->param_bool(p, "track_running_stats", &def_false, &st->track)) < 0)
        return rc;
    st->momentum = (float)momentum;
    if (setup->n_inputs != 1)
        return host->param_error(p, NULL, "instancenorm2d takes exactly one input, got %d",
                                 setup->n_inputs);
    const dlh_shape *in = &setup->inputs[0];
    char sbuf[96];
    /* torch: "expected 4D input (got 3D input)" for a batch of [C, L]. */
    if (in->ndim != 3)
        return host->param_error(p, NULL, "instancenorm2d expects an input [N, C, H, W], "
                                 "got %s", norm_shape_str(in, -1, sbuf, sizeof sbuf));
    int64_t c = in->dim[0], numel = dlh_shape_numel(in);
    if (c < 1 || numel < 1 || numel > 2147483647)
        return host->param_error(p, NULL, "instancenorm2d input %s is empty or too large",
                                 norm_shape_str(in, -1, sbuf, sizeof sbuf));
    /* F.instance_norm's check (_verify_spatial_size). */
    if (numel / c < 2)
        return host->param_error(p, NULL, "Expected more than 1 spatial element when "
                                 "training, got input size %s",
                                 norm_shape_str(in, -1, sbuf, sizeof sbuf));
    setup->output = *in;
    st->r.rows = c;
    st->r.m = numel / c;
    st->r.p = c;
    st->r.s = numel / c;
    dlh_shape cs = { 1, { c } };
    if ((rc = norm_affine_params(setup, st->r.affine, &cs, &st->r.w_index,
                                 &st->r.b_index)) < 0 ||
        (rc = norm_rows_setup(host, setup, &st->r)) < 0 || !st->track)
        return rc;
    /* The running statistics start as torch's: mean 0, variance 1. */
    dlh_init ones = { DLH_INIT_CONSTANT, 1.0f, 0.0f }, zeros = { DLH_INIT_ZEROS, 0, 0 };
    const dlh_backend *be = setup->backend;
    if ((rc = setup->add_buffer(setup, "running_mean", &cs, zeros, &st->rm_index)) < 0 ||
        (rc = setup->add_buffer(setup, "running_var", &cs, ones, &st->rv_index)) < 0 ||
        (rc = setup->add_counter(setup, "num_batches_tracked", &st->nbt_index)) < 0 ||
        (rc = setup->add_scratch(setup, 0, 3 * c, &st->run_index)) < 0 ||
        (rc = host->ew_compile(be, "in s, q; inout rm, rv; scalar invn, invq, mom;"
                               "rm = (1 - mom)*rm + mom*(s*invn);"
                               "rv = (1 - mom)*rv + mom*(q*invq);", &st->update)) < 0 ||
        (rc = host->ew_compile(be, "in v; out r; scalar eps; r = rsqrt(v + eps);",
                               &st->invstd)) < 0)
        return rc;
    return 0;
}

/* Part k of the fixed scratch: 0 sums of means, 1 sums of sq, 2 invstd. */
static dlh_mem instancenorm2d_run(const instancenorm2d_state *st, const dlh_layer_ctx *ctx,
                                  int k)
{
    return dlh_mem_at(ctx->scratch[st->run_index].mem, (size_t)k * (size_t)st->r.p);
}

/* The mean and invstd operands of this step: each instance's, or in
   evaluation with running statistics, each channel's. */
static void instancenorm2d_operands(const instancenorm2d_state *st, const dlh_layer_ctx *ctx,
                                    int n, dlh_ew_arg *mean, dlh_ew_arg *invstd)
{
    const norm_rows *r = &st->r;
    if (st->track && !ctx->training) {
        dlh_ew_arg m = { ctx->buffers[st->rm_index].mem, (size_t)r->p, (size_t)r->s };
        dlh_ew_arg v = { instancenorm2d_run(st, ctx, 2), (size_t)r->p, (size_t)r->s };
        *mean = m;
        *invstd = v;
        return;
    }
    *mean = norm_rows_arg(r, n, norm_rows_scratch(ctx, r->mean_index));
    *invstd = norm_rows_arg(r, n, norm_rows_scratch(ctx, r->invstd_index));
}

static int instancenorm2d_forward(void *state, const dlh_layer_ctx *ctx,
                                  const dlh_tensor *inputs, const dlh_tensor *output)
{
    const instancenorm2d_state *st = state;
    const norm_rows *r = &st->r;
    const dlh_host *host = normalization_host;
    const dlh_backend *be = ctx->backend;
    const dlh_mem none = { NULL, 0 };
    dlh_mem x = inputs[0].mem, y = output->mem;
    size_t c = (size_t)r->p;
    dlh_ew_arg mean, invstd;
    int n, rc;
    if ((rc = norm_rows_batch(r, ctx, "instancenorm2d", &n)) < 0 || n == 0)
        return rc;
    instancenorm2d_operands(st, ctx, n, &mean, &invstd);
    if (st->track && !ctx->training) {
        dlh_ew_arg args[2] = { dlh_ew_full(ctx->buffers[st->rv_index].mem, c),
                               dlh_ew_full(instancenorm2d_run(st, ctx, 2), c) };
        if ((rc = host->ew_run(st->invstd, c, args, &r->eps)) < 0)
            return rc;
        return norm_rows_normalize(r, ctx, n, x, y, mean, invstd);
    }
    if ((rc = norm_rows_stats(r, ctx, n, x, y)) < 0)
        return rc;
    if (st->track) {
        dlh_mem ms = instancenorm2d_run(st, ctx, 0), qs = instancenorm2d_run(st, ctx, 1);
        dlh_ew_arg args[4] = { dlh_ew_full(ms, c), dlh_ew_full(qs, c),
                               dlh_ew_full(ctx->buffers[st->rm_index].mem, c),
                               dlh_ew_full(ctx->buffers[st->rv_index].mem, c) };
        float scalars[3] = { (float)(1.0 / n), (float)(1.0 / ((double)n * (double)(r->m - 1))),
                             st->momentum };
        if ((rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 0, n, (int)c,
                                  norm_rows_scratch(ctx, r->mean_index), ms, none)) < 0 ||
            (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 0, n, (int)c,
                                  norm_rows_scratch(ctx, r->sq_index), qs, none)) < 0 ||
            (rc = host->ew_run(st->update, c, args, scalars)) < 0)
            return rc;
    }
    return norm_rows_normalize(r, ctx, n, x, y, mean, invstd);
}

static int instancenorm2d_backward(void *state, const dlh_layer_ctx *ctx,
                                   const dlh_tensor *inputs, const dlh_tensor *output,
                                   const dlh_tensor *d_output, const dlh_tensor *d_inputs)
{
    const instancenorm2d_state *st = state;
    dlh_ew_arg mean, invstd;
    int n, rc;
    if ((rc = norm_rows_batch(&st->r, ctx, "instancenorm2d", &n)) < 0 || n == 0)
        return rc;
    instancenorm2d_operands(st, ctx, n, &mean, &invstd);
    return norm_rows_backward(&st->r, ctx, n, inputs[0].mem, d_output->mem, output->mem,
                              d_inputs[0].mem, mean, invstd, ctx->training || !st->track);
}

static void instancenorm2d_destroy(void *state)
{
    instancenorm2d_state *st = state;
    if (!st)
        return;
    norm_rows_free(&st->r);
    normalization_host->ew_free(st->update);
    normalization_host->ew_free(st->invstd);
    free(st);
}

/* Evaluation: InstanceNormalization on each instance's statistics, or with
   track_running_stats BatchNormalization on the running ones; an absent
   weight and bias are ones and zeros. */
static int instancenorm2d_export(void *state, dlh_onnx_builder *b)
{
    const instancenorm2d_state *st = state;
    const char *in[5] = { b->inputs[0], NULL, NULL, NULL, NULL };
    int rc = norm_onnx_affine(b, st->r.affine, st->r.p, in + 1);
    if (rc == 0 && st->track &&
        (!(in[3] = b->param(b, "running_mean", 0, NULL)) ||
         !(in[4] = b->param(b, "running_var", 0, NULL))))
        rc = DLH_ENOMEM;
    if (rc < 0 ||
        (rc = b->node(b, st->track ? "BatchNormalization" : "InstanceNormalization",
                      st->track ? 5 : 3, in, 1, &b->output)) < 0)
        return rc;
    return b->attr_float(b, "epsilon", st->r.eps);
}

const dlh_layer_ops instancenorm2d_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = instancenorm2d_create,
    .forward = instancenorm2d_forward,
    .backward = instancenorm2d_backward,
    .destroy = instancenorm2d_destroy,
    .export_onnx = instancenorm2d_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc instancenorm2d_params[] = {
    { "eps", DLH_PARAM_FLOAT, "1e-05", 0.0, FLT_MAX, NULL, "added to the variance, > 0" },
    { "momentum", DLH_PARAM_FLOAT, "0.1", 0.0, 1.0, NULL, "weight of the batch in the running statistics (track_running_stats)" },
    { "affine", DLH_PARAM_BOOL, "false", 0, 0, NULL, "learn a weight (ones) and bias (zeros) per channel" },
    { "track_running_stats", DLH_PARAM_BOOL, "false", 0, 0, NULL, "keep running_mean and running_var and normalise with them in evaluation" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
