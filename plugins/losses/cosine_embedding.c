/* cosine_embedding: nn.CosineEmbeddingLoss
 * (torch.nn.functional.cosine_embedding_loss) with `margin` (default 0.0),
 * as torch 1.13's cosine_embedding_loss (aten/src/ATen/native/Loss.cpp),
 * EPSILON = 1e-12 added to each squared magnitude:
 *
 *   m1 = sum x1^2 + 1e-12,  m2 = sum x2^2 + 1e-12,  den = sqrt(m1 m2)
 *   cos = sum x1 x2 / den
 *   e = [y == 1] (1 - cos) + [y == -1] max(cos - margin, 0)
 *   dcos/dx1 = x2/den - cos x1/m1,  dcos/dx2 = x1/den - cos x2/m2
 *   de/dcos = -[y == 1] + [y == -1][cos - margin >= 0]
 *
 * (clamp_min's gradient passes at 0, as torch's; any other y gives 0, as
 * torch's where.)  torch takes two inputs [N, D] and a label y per pair;
 * dlhost's loss has one model output, so the output per sample, flattened,
 * is two equal halves, x1 (the first D values) and x2 (the last D), as
 * margin_ranking's.  y comes as class labels (1 means y = 1, similar; 0
 * means y = -1, dissimilar; other classes stop the step) or as a dense
 * label of one value per sample, taken as it is.  "mean" divides the sum
 * by the batch, "sum" does not; sample weights omega_n multiply each
 * sample's loss (loss.h). */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "losses.h"

typedef struct ce_state {
    const dlh_backend *be;
    int sum;
    int classes;                /* class labels 0/1 (else dense y) */
    float margin;
    losses_parts parts;
    dlh_buffer *one;
    int split_index;            /* scratch: x1 and x2, parts-major */
    int prod_index;             /* scratch: x1 x2, x1^2, x2^2 per value */
    int grad_index;             /* scratch: d x1 and d x2, parts-major */
    int rows_index;             /* scratch: their sums, then e, b, a, b1, b2; totals */
    dlh_ew_kernel *prod, *fwd, *fwd_grad, *grad, *weigh;
} ce_state;

static int ce_create(const dlh_host *host, dlh_loss_setup *setup, void **state)
{
    ce_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    st->be = setup->backend;
    double margin;
    int rc, reduction;
    if ((rc = losses_reduction(host, setup->params, 0, &reduction)) < 0 ||
        (rc = losses_param_real(host, setup->params, "margin", 0.0, &margin)) < 0 ||
        (rc = losses_parts_create(host, setup, 2, &st->parts)) < 0)
        return rc;
    st->classes = setup->target_kind == DLH_TARGET_CLASS;
    if (!st->classes) {
        int64_t nt = setup->struct_size >= offsetof(dlh_loss_setup, target) +
                     sizeof setup->target ? dlh_shape_numel(&setup->target) : -1;
        if (nt != 1)
            return host->param_error(setup->params, NULL, "0D or 1D target tensor "
                                     "expected, multi-target not supported (one label y "
                                     "per sample, but the data's dense labels have %lld "
                                     "values per sample)", (long long)nt);
    }
    st->sum = reduction == LOSSES_SUM;
    st->margin = (float)margin;
    const char *y = st->classes ? "y = 2*t - 1;\nb = (t != 0)*(t != 1);\n"
                                : "y = t;\nb = 0;\n";
    static const char cos_text[] =
        "m1 = s1 + tiny;\n"
        "m2 = s2 + tiny;\n"
        "den = sqrt(m1*m2);\n"
        "c = pp/den;\n"
        "e = select(y == 1, 1 - c, 0) + select(y == -1, max(c - margin, 0), 0);\n";
    char fwd[512], fwd_grad[768];
    snprintf(fwd, sizeof fwd, "in pp, s1, s2, t; out e, b; scalar margin, tiny;\n%s%s", y,
             cos_text);
    snprintf(fwd_grad, sizeof fwd_grad, "in pp, s1, s2, t, om; out e, b, a, b1, b2; "
             "scalar margin, tiny, k;\n%s%s"
             "f = k*om*(select(y == 1, -1, 0) + select(y == -1, c - margin >= 0, 0));\n"
             "a = f/den;\n"
             "b1 = f*c/m1;\n"
             "b2 = f*c/m2;\n", y, cos_text);
    int64_t d = st->parts.d;
    if ((rc = setup->add_scratch(setup, 2 * d, 0, &st->split_index)) < 0 ||
        (rc = setup->add_scratch(setup, 3 * d, 0, &st->prod_index)) < 0 ||
        (rc = setup->add_scratch(setup, 2 * d, 0, &st->grad_index)) < 0 ||
        (rc = setup->add_scratch(setup, 8, 2, &st->rows_index)) < 0 ||
        (rc = host->ew_compile(st->be, "in x1, x2; out pp, s1, s2;\n"
                               "pp = x1*x2;\n"
                               "s1 = x1*x1;\n"
                               "s2 = x2*x2;\n", &st->prod)) < 0 ||
        (rc = host->ew_compile(st->be, fwd, &st->fwd)) < 0 ||
        (rc = host->ew_compile(st->be, fwd_grad, &st->fwd_grad)) < 0 ||
        (rc = host->ew_compile(st->be, "in x1, x2, a, b1, b2; out g1, g2;\n"
                               "g1 = a*x2 - b1*x1;\n"
                               "g2 = a*x1 - b2*x2;\n", &st->grad)) < 0 ||
        (rc = host->ew_compile(st->be, LOSSES_WEIGH, &st->weigh)) < 0 ||
        (rc = losses_one_alloc(st->be, &st->one)) < 0)
        return rc;
    return 0;
}

static int ce_forward(void *state, const dlh_loss_ctx *ctx, const dlh_tensor *prediction,
                      const dlh_tensor *target, float *loss, const dlh_tensor *d_prediction)
{
    const ce_state *st = state;
    const dlh_backend *be = ctx->backend;
    int64_t d = st->parts.d, n64 = ctx->batch * d;
    if (ctx->batch < 1 || n64 > INT_MAX / 3 || ctx->batch > INT_MAX / 8 ||
        dlh_tensor_numel(prediction) != 2 * n64 || dlh_tensor_numel(target) != ctx->batch ||
        (d_prediction && dlh_tensor_numel(d_prediction) != 2 * n64)) {
        losses_host->error("cosine_embedding: expected %lld values (%lld samples of 2 x "
                           "%lld) and %lld labels, got %lld and %lld",
                           (long long)(2 * n64), (long long)ctx->batch, (long long)d,
                           (long long)ctx->batch, (long long)dlh_tensor_numel(prediction),
                           (long long)dlh_tensor_numel(target));
        return DLH_ESHAPE;
    }
    const dlh_tensor *omega;
    int rc = losses_sample_weights("cosine_embedding", ctx, &omega);
    if (rc < 0)
        return rc;
    size_t b = (size_t)ctx->batch, n = (size_t)n64;
    dlh_mem split = ctx->scratch[st->split_index].mem;
    dlh_mem prod = ctx->scratch[st->prod_index].mem;
    dlh_mem grad = ctx->scratch[st->grad_index].mem;
    dlh_mem rows = ctx->scratch[st->rows_index].mem;
    dlh_mem e = dlh_mem_at(rows, 3 * b), totals = dlh_mem_at(rows, 8 * b);
    dlh_mem no_idx = { NULL, 0 };
    double den = st->sum ? 1.0 : (double)ctx->batch;
    float sc[3] = { st->margin, 1e-12f, (float)(1.0 / den) };
    dlh_ew_arg pa[5] = {
        dlh_ew_full(split, n), dlh_ew_full(dlh_mem_at(split, n), n),
        dlh_ew_full(prod, n), dlh_ew_full(dlh_mem_at(prod, n), n),
        dlh_ew_full(dlh_mem_at(prod, 2 * n), n),
    };
    dlh_ew_arg ra[10];
    int na = 0;
    for (int i = 0; i < 3; i++)
        ra[na++] = dlh_ew_full(dlh_mem_at(rows, (size_t)i * b), b);
    ra[na++] = dlh_ew_full(target->mem, b);
    if (d_prediction)
        ra[na++] = losses_omega_arg(omega, (dlh_mem){ st->one, 0 }, b, 1);
    for (int i = 3; i < (d_prediction ? 8 : 5); i++)
        ra[na++] = dlh_ew_full(dlh_mem_at(rows, (size_t)i * b), b);
    float tot[2];
    if ((rc = losses_parts_split(be, &st->parts, ctx->batch, prediction->mem, split)) < 0 ||
        (rc = losses_host->ew_run(st->prod, n, pa, NULL)) < 0 ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 3 * (int)b, (int)d, prod, rows,
                              no_idx)) < 0 ||
        (rc = losses_host->ew_run(d_prediction ? st->fwd_grad : st->fwd, b, ra, sc)) < 0 ||
        (omega && (rc = losses_weigh(st->weigh, ctx->batch, e, omega)) < 0) ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 2, (int)b, e, totals,
                              no_idx)) < 0 ||
        (rc = be->ops->read(be->ctx, totals.buf, totals.off * sizeof(float), tot,
                            sizeof tot)) < 0)
        return rc;
    if (tot[1] != 0) {
        losses_host->error("cosine_embedding: class labels must be 1 (similar, y = 1) or 0 "
                           "(dissimilar, y = -1)");
        return DLH_EINVAL;
    }
    if (d_prediction) {
        dlh_ew_arg ga[7] = {
            dlh_ew_full(split, n), dlh_ew_full(dlh_mem_at(split, n), n),
            { dlh_mem_at(rows, 5 * b), b, (size_t)d }, { dlh_mem_at(rows, 6 * b), b, (size_t)d },
            { dlh_mem_at(rows, 7 * b), b, (size_t)d },
            dlh_ew_full(grad, n), dlh_ew_full(dlh_mem_at(grad, n), n),
        };
        if ((rc = losses_host->ew_run(st->grad, n, ga, NULL)) < 0 ||
            (rc = losses_parts_merge(be, &st->parts, ctx->batch, grad,
                                     d_prediction->mem)) < 0)
            return rc;
    }
    *loss = st->sum ? tot[0] : (float)((double)tot[0] / den);
    return 0;
}

static void ce_destroy(void *state)
{
    ce_state *st = state;
    if (!st)
        return;
    losses_host->ew_free(st->prod);
    losses_host->ew_free(st->fwd);
    losses_host->ew_free(st->fwd_grad);
    losses_host->ew_free(st->grad);
    losses_host->ew_free(st->weigh);
    losses_parts_destroy(st->be, &st->parts);
    if (st->one)
        st->be->ops->free(st->be->ctx, st->one);
    free(st);
}

const dlh_loss_ops cosine_embedding_ops = {
    .struct_size = sizeof(dlh_loss_ops),
    .create = ce_create,
    .forward = ce_forward,
    .destroy = ce_destroy,
    .flags = DLH_LOSS_SAMPLE_WEIGHTS | DLH_LOSS_TARGET_SHAPE,
    .output = DLH_LOSS_OUTPUT_VALUES,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc cosine_embedding_params[] = {
    { "margin", DLH_PARAM_FLOAT, "0.0", DLH_PARAM_NO_MIN, DLH_PARAM_NO_MAX, NULL, "dissimilar pairs (y = -1) cost only above this cosine" },
    LOSSES_REDUCTION_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
