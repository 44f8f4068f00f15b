/* triplet_margin: nn.TripletMarginLoss
 * (torch.nn.functional.triplet_margin_loss) with `margin` (default 1.0),
 * `p` (default 2.0, the norm's degree, > 0), `eps` (default 1e-6) and
 * `swap` (default false), as torch 1.13's triplet_margin_loss
 * (aten/src/ATen/native/Loss.cpp) over pairwise_distance (Distance.cpp),
 * which adds eps to the difference before the norm:
 *
 *   d(u, v) = || u - v + eps ||_p = (sum_i |u_i - v_i + eps|^p)^(1/p)
 *   d_pos = d(a, pos),  d_neg = d(a, neg),  with swap d_neg = min(d_neg, d(pos, neg))
 *   e = max(margin + d_pos - d_neg, 0)
 *
 * Gradients as torch's norm_backward: d||w||_p/dw_i = sign(w_i) |w_i|^(p-1)
 * / ||w||^(p-1), 0 where the norm is 0 (p = 1: sign(w_i) everywhere), and
 * the minimum's gradient split in half on a tie, as torch's.
 *
 * torch takes three inputs [N, D]; dlhost's loss has one model output, so
 * the output per sample, flattened, is three equal thirds: the anchor a
 * (the first D values), the positive and the negative (an embedding
 * network applied to the three samples of a triplet gives them, e.g. a
 * shared encoder in a model whose last layer concatenates the three
 * embeddings).  Labels are not read: the loss takes whatever labels the
 * data has (class or dense, any shape); a data set whose rows are triplets
 * with no label needs a dummy label column, since dlhost trains only on
 * labelled data.  "mean" divides the sum by the batch, "sum" does not;
 * sample weights omega_n multiply each sample's loss (loss.h). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "losses.h"

typedef struct tm_state {
    const dlh_backend *be;
    int sum;
    int swap;
    float sc[4];                /* margin, p, eps, then k */
    losses_parts parts;
    dlh_buffer *one;
    int split_index;            /* scratch: a, pos, neg, parts-major */
    int pow_index;              /* scratch: |w|^p of the 3 differences */
    int grad_index;             /* scratch: d a, d pos, d neg, parts-major */
    int rows_index;             /* scratch: the 3 sums, then e, h_pos, h_neg, h_swap; total */
    dlh_ew_kernel *powers, *fwd, *fwd_grad, *grad, *weigh;
} tm_state;

static int tm_create(const dlh_host *host, dlh_loss_setup *setup, void **state)
{
    tm_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    st->be = setup->backend;
    dlh_params *p = setup->params;
    const int no = 0;
    double margin, deg, eps;
    int rc, reduction;
    if ((rc = losses_reduction(host, p, 0, &reduction)) < 0 ||
        (rc = losses_param_real(host, p, "margin", 1.0, &margin)) < 0 ||
        (rc = losses_param_real(host, p, "p", 2.0, &deg)) < 0 ||
        (rc = losses_param_real(host, p, "eps", 1e-6, &eps)) < 0 ||
        (rc = host->param_bool(p, "swap", &no, &st->swap)) < 0)
        return rc;
    /* torch computes any p; p <= 0 is no norm (p = 0 counts the nonzero
       values and has no gradient), so dlhost refuses it. */
    if (!(deg > 0))
        return host->param_error(p, "p", "p is %g; the norm's degree must be > 0", deg);
    if ((rc = losses_parts_create(host, setup, 3, &st->parts)) < 0)
        return rc;
    st->sum = reduction == LOSSES_SUM;
    st->sc[0] = (float)margin;
    st->sc[1] = (float)deg;
    st->sc[2] = (float)eps;
    /* The powers |w|^p, the norm from their sum s, and u(w) = the norm's
       derivative times ||w||^(p-1), exact for the common p = 1 and 2. */
    const char *pw, *norm, *u;
    if (st->sc[1] == 1.0f) {
        pw = "abs(w)";
        norm = "s";
        u = "sign(w)";
    } else if (st->sc[1] == 2.0f) {
        pw = "w*w";
        norm = "sqrt(s)";
        u = "w";
    } else {
        pw = "pow(abs(w), p)";
        norm = "pow(s, 1/p)";
        u = "select(w != 0, sign(w)*pow(abs(w), p - 1), 0)";
    }
    /* h = the loss's derivative with respect to a norm over its p-1st power
       (0 at a zero norm, except for p = 1, as torch's). */
    const char *nm[3] = { "dp", "dn", "ds" };
    char inv[3][96];
    for (int i = 0; i < 3; i++) {
        if (st->sc[1] == 1.0f)
            snprintf(inv[i], sizeof inv[i], "1");
        else if (st->sc[1] == 2.0f)
            snprintf(inv[i], sizeof inv[i], "select(%s > 0, 1/%s, 0)", nm[i], nm[i]);
        else
            snprintf(inv[i], sizeof inv[i], "select(%s > 0, 1/pow(%s, p - 1), 0)", nm[i],
                     nm[i]);
    }
    char powers[256], fwd[640], fwd_grad[1536], grad[768];
    snprintf(powers, sizeof powers, "in a, q, r; out sp, sn, ss; scalar p, eps;\n"
             "w = a - q + eps;\nsp = %s;\n"
             "w = a - r + eps;\nsn = %s;\n"
             "w = q - r + eps;\nss = %s;\n", pw, pw, pw);
    char dists[320];
    snprintf(dists, sizeof dists, "s = s1;\ndp = %s;\ns = s2;\ndn = %s;\ns = s3;\nds = %s;\n"
             "dm = %s;\n"
             "z = margin + dp - dm;\n"
             "e = max(z, 0);\n", norm, norm, norm, st->swap ? "min(dn, ds)" : "dn");
    snprintf(fwd, sizeof fwd, "in s1, s2, s3; out e; scalar margin, p;\n%s", dists);
    snprintf(fwd_grad, sizeof fwd_grad, "in s1, s2, s3, om; out e, hp, hn, hs; "
             "scalar margin, p, eps, k;\n%s"
             "f = k*om*(z >= 0);\n"
             "wn = %s;\n"
             "hp = f*%s;\n"
             "hn = -f*wn*%s;\n"
             "hs = -f*(1 - wn)*%s;\n", dists,
             st->swap ? "select(dn < ds, 1, select(dn == ds, 0.5, 0))" : "1",
             inv[0], inv[1], inv[2]);
    snprintf(grad, sizeof grad, "in a, q, r, hp, hn, hs; out ga, gq, gr; scalar p, eps;\n"
             "w = a - q + eps;\nup = hp*%s;\n"
             "w = a - r + eps;\nun = hn*%s;\n"
             "w = q - r + eps;\nus = hs*%s;\n"
             "ga = up + un;\n"
             "gq = us - up;\n"
             "gr = -un - us;\n", u, u, u);
    int64_t d = st->parts.d;
    if ((rc = setup->add_scratch(setup, 3 * d, 0, &st->split_index)) < 0 ||
        (rc = setup->add_scratch(setup, 3 * d, 0, &st->pow_index)) < 0 ||
        (rc = setup->add_scratch(setup, 3 * d, 0, &st->grad_index)) < 0 ||
        (rc = setup->add_scratch(setup, 7, 1, &st->rows_index)) < 0 ||
        (rc = host->ew_compile(st->be, powers, &st->powers)) < 0 ||
        (rc = host->ew_compile(st->be, fwd, &st->fwd)) < 0 ||
        (rc = host->ew_compile(st->be, fwd_grad, &st->fwd_grad)) < 0 ||
        (rc = host->ew_compile(st->be, grad, &st->grad)) < 0 ||
        (rc = host->ew_compile(st->be, LOSSES_WEIGH, &st->weigh)) < 0 ||
        (rc = losses_one_alloc(st->be, &st->one)) < 0)
        return rc;
    return 0;
}

static int tm_forward(void *state, const dlh_loss_ctx *ctx, const dlh_tensor *prediction,
                      const dlh_tensor *target, float *loss, const dlh_tensor *d_prediction)
{
    const tm_state *st = state;
    const dlh_backend *be = ctx->backend;
    int64_t d = st->parts.d, n64 = ctx->batch * d;
    (void)target;
    if (ctx->batch < 1 || n64 > INT_MAX / 3 || ctx->batch > INT_MAX / 8 ||
        dlh_tensor_numel(prediction) != 3 * n64 ||
        (d_prediction && dlh_tensor_numel(d_prediction) != 3 * n64)) {
        losses_host->error("triplet_margin: expected %lld values (%lld samples of 3 x %lld), "
                           "got %lld", (long long)(3 * n64), (long long)ctx->batch,
                           (long long)d, (long long)dlh_tensor_numel(prediction));
        return DLH_ESHAPE;
    }
    const dlh_tensor *omega;
    int rc = losses_sample_weights("triplet_margin", ctx, &omega);
    if (rc < 0)
        return rc;
    size_t b = (size_t)ctx->batch, n = (size_t)n64;
    dlh_mem split = ctx->scratch[st->split_index].mem;
    dlh_mem pw = ctx->scratch[st->pow_index].mem;
    dlh_mem grad = ctx->scratch[st->grad_index].mem;
    dlh_mem rows = ctx->scratch[st->rows_index].mem;
    dlh_mem e = dlh_mem_at(rows, 3 * b), total = dlh_mem_at(rows, 7 * b);
    dlh_mem no_idx = { NULL, 0 };
    double den = st->sum ? 1.0 : (double)ctx->batch;
    float sc[4] = { st->sc[0], st->sc[1], st->sc[2], (float)(1.0 / den) };
    dlh_ew_arg pa[6];
    for (int i = 0; i < 3; i++) {
        pa[i] = dlh_ew_full(dlh_mem_at(split, (size_t)i * n), n);
        pa[3 + i] = dlh_ew_full(dlh_mem_at(pw, (size_t)i * n), n);
    }
    dlh_ew_arg ra[8];
    int na = 0;
    for (int i = 0; i < 3; i++)
        ra[na++] = dlh_ew_full(dlh_mem_at(rows, (size_t)i * b), b);
    if (d_prediction)
        ra[na++] = losses_omega_arg(omega, (dlh_mem){ st->one, 0 }, b, 1);
    for (int i = 3; i < (d_prediction ? 7 : 4); i++)
        ra[na++] = dlh_ew_full(dlh_mem_at(rows, (size_t)i * b), b);
    float tot;
    if ((rc = losses_parts_split(be, &st->parts, ctx->batch, prediction->mem, split)) < 0 ||
        (rc = losses_host->ew_run(st->powers, n, pa, sc + 1)) < 0 ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 3 * (int)b, (int)d, pw, rows,
                              no_idx)) < 0 ||
        (rc = losses_host->ew_run(d_prediction ? st->fwd_grad : st->fwd, b, ra, sc)) < 0 ||
        (omega && (rc = losses_weigh(st->weigh, ctx->batch, e, omega)) < 0) ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 1, (int)b, e, total,
                              no_idx)) < 0 ||
        (rc = be->ops->read(be->ctx, total.buf, total.off * sizeof(float), &tot,
                            sizeof tot)) < 0)
        return rc;
    if (d_prediction) {
        dlh_ew_arg ga[9];
        for (int i = 0; i < 3; i++) {
            ga[i] = dlh_ew_full(dlh_mem_at(split, (size_t)i * n), n);
            ga[3 + i] = (dlh_ew_arg){ dlh_mem_at(rows, (size_t)(4 + i) * b), b, (size_t)d };
            ga[6 + i] = dlh_ew_full(dlh_mem_at(grad, (size_t)i * n), n);
        }
        if ((rc = losses_host->ew_run(st->grad, n, ga, sc + 1)) < 0 ||
            (rc = losses_parts_merge(be, &st->parts, ctx->batch, grad,
                                     d_prediction->mem)) < 0)
            return rc;
    }
    *loss = st->sum ? tot : (float)((double)tot / den);
    return 0;
}

static void tm_destroy(void *state)
{
    tm_state *st = state;
    if (!st)
        return;
    losses_host->ew_free(st->powers);
    losses_host->ew_free(st->fwd);
    losses_host->ew_free(st->fwd_grad);
    losses_host->ew_free(st->grad);
    losses_host->ew_free(st->weigh);
    losses_parts_destroy(st->be, &st->parts);
    if (st->one)
        st->be->ops->free(st->be->ctx, st->one);
    free(st);
}

const dlh_loss_ops triplet_margin_ops = {
    .struct_size = sizeof(dlh_loss_ops),
    .create = tm_create,
    .forward = tm_forward,
    .destroy = tm_destroy,
    .flags = DLH_LOSS_SAMPLE_WEIGHTS | DLH_LOSS_TARGET_SHAPE,
    .output = DLH_LOSS_OUTPUT_VALUES,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc triplet_margin_params[] = {
    { "margin", DLH_PARAM_FLOAT, "1.0", DLH_PARAM_NO_MIN, DLH_PARAM_NO_MAX, NULL, "the margin by which the negative must be farther than the positive" },
    { "p", DLH_PARAM_FLOAT, "2.0", 0.0, DLH_PARAM_NO_MAX, NULL, "the norm's degree of the distances, > 0" },
    { "eps", DLH_PARAM_FLOAT, "1e-06", DLH_PARAM_NO_MIN, DLH_PARAM_NO_MAX, NULL, "added to each difference before its norm (torch's pairwise_distance)" },
    { "swap", DLH_PARAM_BOOL, "false", 0, 0, NULL, "take the smaller of d(a, neg) and d(pos, neg) as the negative distance" },
    LOSSES_REDUCTION_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
