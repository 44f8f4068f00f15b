/* Entry point of the "losses" plugin, and the helpers its losses share. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "losses.h"

const dlh_host *losses_host;

int losses_weigh(dlh_ew_kernel *weigh, int64_t batch, dlh_mem rows,
                 const dlh_tensor *omega)
{
    dlh_ew_arg args[2] = { dlh_ew_full(rows, (size_t)batch),
                           dlh_ew_full(omega->mem, (size_t)batch) };
    return losses_host->ew_run(weigh, (size_t)batch, args, NULL);
}

int losses_total(const dlh_backend *be, dlh_reduce_op op, int64_t batch, int64_t per_sample,
                 dlh_mem elem, dlh_mem rows, dlh_mem total, const dlh_tensor *omega,
                 dlh_ew_kernel *weigh, int sum, float *loss)
{
    dlh_mem no_idx = { NULL, 0 };
    float s;
    int rc;
    if ((rc = be->ops->reduce(be->ctx, op, 1, (int)batch, (int)per_sample, elem, rows,
                              no_idx)) < 0 ||
        (omega && (rc = losses_weigh(weigh, batch, rows, omega)) < 0) ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 1, (int)batch, rows, total,
                              no_idx)) < 0 ||
        (rc = be->ops->read(be->ctx, total.buf, total.off * sizeof(float), &s,
                            sizeof s)) < 0)
        return rc;
    *loss = sum ? s : (float)((double)s / ((double)batch * (double)per_sample));
    return 0;
}

int losses_sample_weights(const char *who, const dlh_loss_ctx *ctx,
                          const dlh_tensor **omega)
{
    *omega = NULL;
    if (ctx->struct_size < offsetof(dlh_loss_ctx, sample_weights) +
                           sizeof ctx->sample_weights || !ctx->sample_weights)
        return 0;
    if (dlh_tensor_numel(ctx->sample_weights) != ctx->batch) {
        losses_host->error("%s: expected one sample weight per sample (%lld), got %lld",
                           who, (long long)ctx->batch,
                           (long long)dlh_tensor_numel(ctx->sample_weights));
        return DLH_ESHAPE;
    }
    *omega = ctx->sample_weights;
    return 0;
}

int losses_one_alloc(const dlh_backend *be, dlh_buffer **one)
{
    const float v = 1.0f;
    int rc = be->ops->alloc(be->ctx, sizeof v, one);
    if (rc == 0)
        rc = be->ops->write(be->ctx, *one, 0, &v, sizeof v);
    return rc;
}

int losses_reduction(const dlh_host *host, dlh_params *p, int batchmean, int *out)
{
    static const char *const plain[] = { "mean", "sum", NULL };
    static const char *const with_batchmean[] = { "mean", "sum", "batchmean", NULL };
    return host->param_choice(p, "reduction", batchmean ? with_batchmean : plain, 0, out);
}

int losses_param_real(const dlh_host *host, dlh_params *p, const char *key, double def,
                      double *out)
{
    int rc = host->param_float(p, key, &def, -HUGE_VAL, HUGE_VAL, out);
    if (rc == 0 && !(fabs(*out) <= FLT_MAX))
        rc = host->param_error(p, key, "%s is %g; it must be a finite number", key, *out);
    return rc;
}

int losses_read_elem_weights(const dlh_host *host, dlh_params *p, const char *key,
                             const dlh_backend *be, const dlh_shape *pred, size_t *len,
                             dlh_buffer **buf)
{
    int64_t per_sample = dlh_shape_numel(pred);
    size_t max = (size_t)per_sample, n = 0;
    *len = 0;
    float *w = malloc(max * sizeof *w);
    if (!w) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    int64_t last = pred->ndim > 0 ? pred->dim[pred->ndim - 1] : 1;
    int rc = host->param_floats(p, key, w, max, &n);
    if (rc == 0 && n == 0 && host->param_has(p, key))
        rc = host->param_error(p, key, "expected 1 or %lld values, got an empty list",
                               (long long)last);
    if (rc == 0 && n > 0 && n != 1 && (int64_t)n != last && (int64_t)n != per_sample)
        rc = host->param_error(p, key, "expected 1 value, one per value of the last "
                               "dimension (%lld) or one per value of a sample (%lld); "
                               "got %zu", (long long)last, (long long)per_sample, n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!isfinite(w[i]) || w[i] < 0)
            rc = host->param_error(p, key, "value %zu is %g; %s must be finite and >= 0",
                                   i, (double)w[i], key);
    if (rc == 0 && n > 0) {
        *len = n;
        rc = be->ops->alloc(be->ctx, n * sizeof(float), buf);
        if (rc == 0)
            rc = be->ops->write(be->ctx, *buf, 0, w, n * sizeof(float));
    }
    free(w);
    return rc;
}

int losses_read_class_weights(const dlh_host *host, dlh_params *p, const char *key,
                              int64_t classes, float *w, int *given)
{
    size_t n = 0;
    *given = 0;
    int rc = host->param_floats(p, key, w, (size_t)classes, &n);
    if (rc < 0)
        return rc;
    if (n == 0) {
        if (host->param_has(p, key))
            return host->param_error(p, key, "expected one weight per class (%lld), got "
                                     "an empty list", (long long)classes);
        for (int64_t c = 0; c < classes; c++)
            w[c] = 1.0f;
        return 0;
    }
    if ((int64_t)n != classes)
        return host->param_error(p, key, "expected one weight per class (%lld), got %zu",
                                 (long long)classes, n);
    for (size_t c = 0; c < n; c++)
        if (!isfinite(w[c]) || w[c] < 0)
            return host->param_error(p, key, "weight %zu is %g; class weights must be "
                                     "finite and >= 0", c, (double)w[c]);
    *given = 1;
    return 0;
}

int losses_ew_new(const dlh_host *host, dlh_loss_setup *setup, int batchmean,
                  void **state, losses_ew **out)
{
    losses_ew *le = calloc(1, sizeof *le);
    *state = *out = le;
    if (!le) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    return losses_reduction(host, setup->params, batchmean, &le->reduction);
}

int losses_ew_create(const dlh_host *host, dlh_loss_setup *setup, losses_ew *le,
                     const char *who, const char *scalar_names, const float *scalars,
                     int n_scalars, const char *body, const char *grad,
                     const char *bad_msg)
{
    le->be = setup->backend;
    le->who = who;
    le->bad_msg = bad_msg;
    le->per_sample = dlh_shape_numel(&setup->prediction);
    if (setup->target_kind != DLH_TARGET_DENSE && !(le->class_ok && le->per_sample == 1))
        return host->param_error(setup->params, NULL, "needs dense targets of the "
                                 "prediction's shape, but the data gives class indices");
    /* reduce takes int rows and columns. */
    if (le->per_sample < 1 || le->per_sample > INT_MAX / 2)
        return host->param_error(setup->params, NULL, "%lld values per sample is out of "
                                 "range (1..%d)", (long long)le->per_sample, INT_MAX / 2);
    if (n_scalars < 0 || n_scalars > (int)(sizeof le->scalars / sizeof le->scalars[0]) - 1) {
        host->error("%s: %d scalars is too many", who, n_scalars);
        return DLH_EINVAL;
    }
    le->n_scalars = n_scalars;
    for (int i = 0; i < n_scalars; i++)
        le->scalars[i] = scalars[i];
    const char *w = le->w_len ? ", w" : "", *b = bad_msg ? ", b" : "";
    const char *sep = n_scalars ? ", " : "";
    char fwd[1024], fwd_grad[1536];
    int n1 = snprintf(fwd, sizeof fwd, "in x, t%s; out e%s;%s%s%s\n%s", w, b,
                      n_scalars ? " scalar " : "", n_scalars ? scalar_names : "",
                      n_scalars ? ";" : "", body);
    int n2 = snprintf(fwd_grad, sizeof fwd_grad, "in x, t%s, om; out e%s, d; scalar %s%sk;\n"
                      "%s%sd = k*om*g;\n", w, b, n_scalars ? scalar_names : "", sep, body,
                      grad);
    if (n1 < 0 || (size_t)n1 >= sizeof fwd || n2 < 0 || (size_t)n2 >= sizeof fwd_grad) {
        host->error("%s: program text too long", who);
        return DLH_EINVAL;
    }
    int parts = bad_msg ? 2 : 1, rc;
    if ((rc = setup->add_scratch(setup, parts * le->per_sample, 0, &le->elem_index)) < 0 ||
        (rc = setup->add_scratch(setup, parts, parts, &le->rows_index)) < 0 ||
        (rc = host->ew_compile(le->be, fwd, &le->fwd)) < 0 ||
        (rc = host->ew_compile(le->be, fwd_grad, &le->fwd_grad)) < 0 ||
        (rc = host->ew_compile(le->be, LOSSES_WEIGH, &le->weigh)) < 0 ||
        (rc = losses_one_alloc(le->be, &le->one)) < 0)
        return rc;
    return 0;
}

int losses_ew_forward(const losses_ew *le, const dlh_loss_ctx *ctx,
                      const dlh_tensor *prediction, const dlh_tensor *target, float *loss,
                      const dlh_tensor *d_prediction)
{
    const dlh_backend *be = ctx->backend;
    int parts = le->bad_msg ? 2 : 1;
    int64_t n64 = ctx->batch * le->per_sample;
    if (ctx->batch < 1 || ctx->batch > INT_MAX / 2 || dlh_tensor_numel(prediction) != n64 ||
        dlh_tensor_numel(target) != n64 ||
        (d_prediction && dlh_tensor_numel(d_prediction) != n64)) {
        losses_host->error("%s: expected %lld prediction and target values (%lld samples "
                           "of %lld), got %lld and %lld", le->who, (long long)n64,
                           (long long)ctx->batch, (long long)le->per_sample,
                           (long long)dlh_tensor_numel(prediction),
                           (long long)dlh_tensor_numel(target));
        return DLH_ESHAPE;
    }
    const dlh_tensor *omega;
    int rc = losses_sample_weights(le->who, ctx, &omega);
    if (rc < 0)
        return rc;
    size_t n = (size_t)n64, b = (size_t)ctx->batch;
    dlh_mem elem = ctx->scratch[le->elem_index].mem;
    dlh_mem rows = ctx->scratch[le->rows_index].mem;
    dlh_mem totals = dlh_mem_at(rows, (size_t)parts * b);
    double den = le->reduction == LOSSES_SUM ? 1.0
               : le->reduction == LOSSES_BATCHMEAN ? (double)ctx->batch : (double)n64;
    float sc[10];
    for (int i = 0; i < le->n_scalars; i++)
        sc[i] = le->scalars[i];
    sc[le->n_scalars] = (float)(1.0 / den);
    dlh_ew_arg args[7];
    int na = 0;
    args[na++] = dlh_ew_full(prediction->mem, n);
    args[na++] = dlh_ew_full(target->mem, n);
    if (le->w_len)
        args[na++] = (dlh_ew_arg){ { le->w, 0 }, le->w_len, 1 };
    if (d_prediction) {
        dlh_mem one = { le->one, 0 };
        args[na++] = losses_omega_arg(omega, one, b, (size_t)le->per_sample);
    }
    args[na++] = dlh_ew_full(elem, n);
    if (le->bad_msg)
        args[na++] = dlh_ew_full(dlh_mem_at(elem, n), n);
    if (d_prediction) {
        args[na++] = dlh_ew_full(d_prediction->mem, n);
        rc = losses_host->ew_run(le->fwd_grad, n, args, sc);
    } else {
        rc = losses_host->ew_run(le->fwd, n, args, sc);
    }
    dlh_mem no_idx = { NULL, 0 };
    float tot[2] = { 0, 0 };
    if (rc < 0 ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, parts * (int)b,
                              (int)le->per_sample, elem, rows, no_idx)) < 0 ||
        (omega && (rc = losses_weigh(le->weigh, ctx->batch, rows, omega)) < 0) ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, parts, (int)b, rows, totals,
                              no_idx)) < 0 ||
        (rc = be->ops->read(be->ctx, totals.buf, totals.off * sizeof(float), tot,
                            (size_t)parts * sizeof(float))) < 0)
        return rc;
    if (le->bad_msg && tot[1] != 0) {
        losses_host->error("%s: %s", le->who, le->bad_msg);
        return DLH_EINVAL;
    }
    *loss = le->reduction == LOSSES_SUM ? tot[0] : (float)((double)tot[0] / den);
    return 0;
}

void losses_ew_destroy(losses_ew *le)
{
    losses_host->ew_free(le->fwd);
    losses_host->ew_free(le->fwd_grad);
    losses_host->ew_free(le->weigh);
    if (le->w)
        le->be->ops->free(le->be->ctx, le->w);
    if (le->one)
        le->be->ops->free(le->be->ctx, le->one);
}

int losses_ew_forward_ops(void *state, const dlh_loss_ctx *ctx,
                          const dlh_tensor *prediction, const dlh_tensor *target,
                          float *loss, const dlh_tensor *d_prediction)
{
    return losses_ew_forward(state, ctx, prediction, target, loss, d_prediction);
}

void losses_ew_destroy_ops(void *state)
{
    if (!state)
        return;
    losses_ew_destroy(state);
    free(state);
}

int losses_cls_create(const dlh_host *host, dlh_loss_setup *setup, const char *weights_key,
                      losses_cls *lc)
{
    dlh_params *p = setup->params;
    if (setup->target_kind != DLH_TARGET_CLASS)
        return host->param_error(p, NULL, "needs class-index targets, but the data gives "
                                 "dense labels");
    if (setup->prediction.ndim != 1)
        return host->param_error(p, NULL, "needs one value per class (a per-sample shape "
                                 "[classes]), but the model's output has %d dimensions",
                                 (int)setup->prediction.ndim);
    int64_t c = setup->prediction.dim[0];
    /* reduce and softmax take int sizes; a few parts of [batch, C] share a
       reduction. */
    if (c < 1 || c > INT_MAX / 4)
        return host->param_error(p, NULL, "%lld classes is out of range (1..%d)",
                                 (long long)c, INT_MAX / 4);
    if (setup->n_classes > c)
        return host->param_error(p, NULL, "the data has class labels up to %lld, but the "
                                 "model gives %lld values per sample (classes 0..%lld)",
                                 (long long)setup->n_classes - 1, (long long)c,
                                 (long long)c - 1);
    lc->classes = c;
    size_t bytes = (2 * (size_t)c + 1) * sizeof(float);
    float *v = malloc(bytes);
    if (!v) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    for (int64_t k = 0; k < c; k++)
        v[k] = (float)k;
    v[2 * c] = 1.0f;
    int rc = 0;
    if (weights_key)
        rc = losses_read_class_weights(host, p, weights_key, c, v + c, &lc->weighted);
    else
        for (int64_t k = 0; k < c; k++)
            v[c + k] = 1.0f;
    const dlh_backend *be = setup->backend;
    if (rc == 0)
        rc = be->ops->alloc(be->ctx, bytes, &lc->consts);
    if (rc == 0)
        rc = be->ops->write(be->ctx, lc->consts, 0, v, bytes);
    free(v);
    return rc;
}

void losses_cls_destroy(const dlh_backend *be, losses_cls *lc)
{
    if (lc->consts)
        be->ops->free(be->ctx, lc->consts);
}

dlh_ew_arg losses_cls_index(const losses_cls *lc)
{
    return (dlh_ew_arg){ { lc->consts, 0 }, (size_t)lc->classes, 1 };
}

dlh_ew_arg losses_cls_weight(const losses_cls *lc)
{
    return (dlh_ew_arg){ { lc->consts, (size_t)lc->classes }, (size_t)lc->classes, 1 };
}

dlh_mem losses_cls_one(const losses_cls *lc)
{
    return (dlh_mem){ lc->consts, 2 * (size_t)lc->classes };
}

int losses_bad_class(const char *who, const dlh_backend *be, const dlh_tensor *target,
                     int64_t batch, int64_t classes, float ignore)
{
    /* The error path only: one read per sample until the culprit. */
    for (int64_t i = 0; i < batch; i++) {
        float v;
        int rc = be->ops->read(be->ctx, target->mem.buf,
                               (target->mem.off + (size_t)i) * sizeof(float), &v, sizeof v);
        if (rc < 0)
            return rc;
        if (v == ignore || (v >= 0 && v < (float)classes && v == floorf(v)))
            continue;
        losses_host->error("%s: Target %g is out of bounds. (sample %lld; the model has "
                           "%lld classes, 0..%lld)", who, (double)v, (long long)i,
                           (long long)classes, (long long)classes - 1);
        return DLH_EINVAL;
    }
    losses_host->error("%s: a target is out of bounds", who);
    return DLH_EINVAL;
}

int losses_parts_create(const dlh_host *host, dlh_loss_setup *setup, int parts,
                        losses_parts *lp)
{
    int64_t n = dlh_shape_numel(&setup->prediction);
    if (n < parts || n % parts != 0 || n / parts > INT_MAX / 2)
        return host->param_error(setup->params, NULL, "needs a prediction of %d equal "
                                 "parts per sample, but the model gives %lld values per "
                                 "sample", parts, (long long)n);
    lp->parts = parts;
    lp->d = n / parts;
    float eye[9] = { 0 };
    for (int i = 0; i < parts; i++)
        eye[i * parts + i] = 1.0f;
    const dlh_backend *be = setup->backend;
    size_t bytes = (size_t)(parts * parts) * sizeof(float);
    int rc = be->ops->alloc(be->ctx, bytes, &lp->eye);
    return rc < 0 ? rc : be->ops->write(be->ctx, lp->eye, 0, eye, bytes);
}

void losses_parts_destroy(const dlh_backend *be, losses_parts *lp)
{
    if (lp->eye)
        be->ops->free(be->ctx, lp->eye);
}

int losses_parts_split(const dlh_backend *be, const losses_parts *lp, int64_t batch,
                       dlh_mem src, dlh_mem dst)
{
    /* Sample n: dst rows p*N*d + n*d = I * the sample's [parts, d]. */
    int p = lp->parts, d = (int)lp->d;
    dlh_mem eye = { lp->eye, 0 };
    return be->ops->gemm_batched(be->ctx, 0, 0, p, d, p, 1.0f, eye, p, 0, src, d,
                                 (int64_t)p * d, 0.0f, dst, (int)(batch * d), d,
                                 (int)batch);
}

int losses_parts_merge(const dlh_backend *be, const losses_parts *lp, int64_t batch,
                       dlh_mem src, dlh_mem dst)
{
    int p = lp->parts, d = (int)lp->d;
    dlh_mem eye = { lp->eye, 0 };
    return be->ops->gemm_batched(be->ctx, 0, 0, p, d, p, 1.0f, eye, p, 0, src,
                                 (int)(batch * d), d, 0.0f, dst, d, (int64_t)p * d,
                                 (int)batch);
}

int losses_halves_create(const dlh_host *host, dlh_loss_setup *setup, losses_halves *lh)
{
    lh->be = setup->backend;
    return losses_parts_create(host, setup, 2, &lh->parts);
}

int losses_halves_compile(const dlh_host *host, dlh_loss_setup *setup, losses_halves *lh,
                          const char *fwd, const char *fwd_grad)
{
    int64_t d = lh->parts.d;
    int rc;
    if ((rc = setup->add_scratch(setup, 2 * d, 0, &lh->split_index)) < 0 ||
        (rc = setup->add_scratch(setup, 2 * d, 0, &lh->elem_index)) < 0 ||
        (rc = setup->add_scratch(setup, 2 * d, 0, &lh->grad_index)) < 0 ||
        (rc = setup->add_scratch(setup, 2, 2, &lh->rows_index)) < 0 ||
        (rc = host->ew_compile(lh->be, fwd, &lh->fwd)) < 0 ||
        (rc = host->ew_compile(lh->be, fwd_grad, &lh->fwd_grad)) < 0 ||
        (rc = host->ew_compile(lh->be, LOSSES_WEIGH, &lh->weigh)) < 0 ||
        (rc = losses_one_alloc(lh->be, &lh->one)) < 0)
        return rc;
    return 0;
}

int losses_halves_forward(const losses_halves *lh, const dlh_loss_ctx *ctx,
                          const dlh_tensor *prediction, dlh_ew_arg target, float *loss,
                          const dlh_tensor *d_prediction)
{
    const dlh_backend *be = ctx->backend;
    const dlh_tensor *omega;
    int rc = losses_sample_weights(lh->who, ctx, &omega);
    if (rc < 0)
        return rc;
    int64_t d = lh->parts.d, n64 = ctx->batch * d;
    size_t b = (size_t)ctx->batch, n = (size_t)n64;
    dlh_mem split = ctx->scratch[lh->split_index].mem;
    dlh_mem elem = ctx->scratch[lh->elem_index].mem;
    dlh_mem grad = ctx->scratch[lh->grad_index].mem;
    dlh_mem rows = ctx->scratch[lh->rows_index].mem;
    dlh_mem totals = dlh_mem_at(rows, 2 * b), no_idx = { NULL, 0 };
    if ((rc = losses_parts_split(be, &lh->parts, ctx->batch, prediction->mem, split)) < 0)
        return rc;
    double den = lh->sum ? 1.0 : (double)n64;
    float sc[5];
    for (int i = 0; i < lh->n_scalars; i++)
        sc[i] = lh->scalars[i];
    sc[lh->n_scalars] = (float)(1.0 / den);
    dlh_ew_arg args[8];
    int na = 0;
    args[na++] = dlh_ew_full(split, n);
    args[na++] = dlh_ew_full(dlh_mem_at(split, n), n);
    args[na++] = target;
    if (d_prediction)
        args[na++] = losses_omega_arg(omega, (dlh_mem){ lh->one, 0 }, b, (size_t)d);
    args[na++] = dlh_ew_full(elem, n);
    args[na++] = dlh_ew_full(dlh_mem_at(elem, n), n);
    if (d_prediction) {
        args[na++] = dlh_ew_full(grad, n);
        args[na++] = dlh_ew_full(dlh_mem_at(grad, n), n);
    }
    float tot[2];
    if ((rc = losses_host->ew_run(d_prediction ? lh->fwd_grad : lh->fwd, n, args, sc)) < 0 ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 2 * (int)b, (int)d, elem, rows,
                              no_idx)) < 0 ||
        (omega && (rc = losses_weigh(lh->weigh, ctx->batch, rows, omega)) < 0) ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 2, (int)b, rows, totals,
                              no_idx)) < 0 ||
        (rc = be->ops->read(be->ctx, totals.buf, totals.off * sizeof(float), tot,
                            sizeof tot)) < 0)
        return rc;
    if (tot[1] != 0) {
        losses_host->error("%s: %s", lh->who, lh->bad_msg);
        return DLH_EINVAL;
    }
    if (d_prediction &&
        (rc = losses_parts_merge(be, &lh->parts, ctx->batch, grad, d_prediction->mem)) < 0)
        return rc;
    *loss = lh->sum ? tot[0] : (float)((double)tot[0] / den);
    return 0;
}

void losses_halves_destroy(losses_halves *lh)
{
    losses_host->ew_free(lh->fwd);
    losses_host->ew_free(lh->fwd_grad);
    losses_host->ew_free(lh->weigh);
    if (lh->be)
        losses_parts_destroy(lh->be, &lh->parts);
    if (lh->one)
        lh->be->ops->free(lh->be->ctx, lh->one);
}

static int losses_init(const dlh_host *host, dlh_registrar *reg)
{
    static const struct {
        const char *name;
        const dlh_loss_ops *ops;
        const char *description;
        const dlh_param_doc *params;
    } list[] = {
        { "mse", &mse_ops, "mean squared error (nn.MSELoss), dense targets", mse_params },
        { "cross_entropy", &cross_entropy_ops,
          "softmax cross-entropy on logits (nn.CrossEntropyLoss), class targets with "
          "ignore_index or probability targets, label_smoothing, class weights",
          cross_entropy_params },
        { "bce_with_logits", &bce_with_logits_ops,
          "binary cross-entropy on logits (nn.BCEWithLogitsLoss), dense targets, "
          "pos_weight", bce_with_logits_params },
        { "l1", &l1_ops, "mean absolute error (nn.L1Loss), dense targets", l1_params },
        { "smooth_l1", &smooth_l1_ops, "smooth L1 (nn.SmoothL1Loss), beta, dense targets",
          smooth_l1_params },
        { "huber", &huber_ops, "Huber (nn.HuberLoss), delta, dense targets", huber_params },
        { "bce", &bce_ops, "binary cross-entropy on probabilities (nn.BCELoss), weight, "
          "dense targets", bce_params },
        { "poisson_nll", &poisson_nll_ops, "Poisson negative log-likelihood "
          "(nn.PoissonNLLLoss), log_input, full, eps", poisson_nll_params },
        { "hinge_embedding", &hinge_embedding_ops, "hinge embedding "
          "(nn.HingeEmbeddingLoss), margin, targets 1/-1", hinge_embedding_params },
        { "kl_div", &kl_div_ops, "Kullback-Leibler divergence on log-probabilities "
          "(nn.KLDivLoss), log_target, batchmean", kl_div_params },
        { "nll", &nll_ops, "negative log-likelihood on log-probabilities (nn.NLLLoss), "
          "class weights, ignore_index", nll_params },
        { "multi_margin", &multi_margin_ops, "multi-class hinge (nn.MultiMarginLoss), p, "
          "margin, class weights", multi_margin_params },
        { "focal", &focal_ops, "focal loss: binary (torchvision's sigmoid_focal_loss) or "
          "softmax multi-class, gamma, alpha", focal_params },
        { "gaussian_nll", &gaussian_nll_ops, "Gaussian negative log-likelihood "
          "(nn.GaussianNLLLoss), the output's halves mean and variance, full, eps",
          gaussian_nll_params },
        { "margin_ranking", &margin_ranking_ops, "margin ranking (nn.MarginRankingLoss), "
          "the output's halves x1 and x2, margin, labels 1/-1 or 1/0",
          margin_ranking_params },
        { "cosine_embedding", &cosine_embedding_ops, "cosine embedding "
          "(nn.CosineEmbeddingLoss), the output's halves x1 and x2, margin, labels 1/-1 "
          "or 1/0", cosine_embedding_params },
        { "triplet_margin", &triplet_margin_ops, "triplet margin (nn.TripletMarginLoss), "
          "the output's thirds anchor, positive and negative, margin, p, eps, swap; "
          "labels unused", triplet_margin_params },
        { "dice", &dice_ops, "soft Dice over softmax or sigmoid probabilities, [C] or "
          "[C, H, W] outputs, class or dense targets, smooth", dice_params },
    };
    losses_host = host;
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
        int rc = reg->add(reg, DLH_KIND_LOSS, list[i].name, list[i].ops,
                          list[i].description);
        if (rc < 0 ||
            (rc = reg->describe(reg, DLH_KIND_LOSS, list[i].name, list[i].params)) < 0)
            return rc;
    }
    return 0;
}

DLH_PLUGIN("losses", "0.1.0", "loss functions (torch.nn.functional's)", "MIT",
           losses_init)
