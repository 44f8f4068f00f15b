/* Central-difference gradient checks (see numgrad.h): `make check`'s
 * gradient tests and `dlhost gradcheck`. */
#include "numgrad.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "registry.h"

/* Philox streams of the checker's own draws. */
enum { GC_STREAM_INPUT = 100, GC_STREAM_R = 200, GC_STREAM_START = 300,
       GC_STREAM_TARGET = 400, GC_STREAM_PICK = 500 };

static float *gc_alloc(int64_t n)
{
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
    if (!p)
        dlh_error_set("gradcheck: out of memory");
    return p;
}

static void gc_fill(float *v, int64_t n, uint64_t seed, uint64_t stream, double lo,
                    double hi)
{
    for (int64_t i = 0; i < n; i++) {
        float mag = dlh_philox_uniform(seed, stream, (uint64_t)(2 * i), (float)lo,
                                       (float)hi);
        float sign = dlh_philox_uniform(seed, stream, (uint64_t)(2 * i + 1), 0, 1);
        v[i] = sign < 0.5f ? -mag : mag;
    }
}

static int gc_write1(const dlh_backend *be, dlh_mem m, int64_t i, float v)
{
    return be->ops->write(be->ctx, m.buf, (m.off + (size_t)i) * sizeof(float), &v,
                          sizeof v);
}

static int gc_tensor(const dlh_backend *be, int64_t batch, const dlh_shape *s,
                     dlh_tensor *t)
{
    int64_t shape[DLH_MAX_DIMS];
    if (s->ndim + 1 > DLH_MAX_DIMS) {
        dlh_error_set("gradcheck: per-sample shape has too many dimensions");
        return DLH_ESHAPE;
    }
    shape[0] = batch;
    for (int i = 0; i < s->ndim; i++)
        shape[i + 1] = s->dim[i];
    return dlh_tensor_alloc(be, s->ndim + 1, shape, t);
}

/* The elements of a tensor of n to check: all (m = n, pick[j] = j) or
   max of them, one in each of max equal runs at a Philox offset. */
static int64_t gc_pick(int64_t n, int64_t max, uint64_t seed, uint64_t stream,
                       int64_t *pick)
{
    int64_t m = max > 0 && n > max ? max : n;
    for (int64_t j = 0; j < m; j++) {
        int64_t lo = j * n / m, hi = (j + 1) * n / m;
        float u = m == n ? 0.0f : dlh_philox_uniform(seed, stream, (uint64_t)j, 0.0f, 1.0f);
        int64_t k = lo + (int64_t)(u * (float)(hi - lo));
        pick[j] = k < hi ? k : hi - 1;
    }
    return m;
}

/* Largest error between analytic a and numeric n over the elements
   pick[0..m) of a tensor of count elements. */
static double gc_compare(const float *a, const double *n, int64_t count, const int64_t *pick,
                         int64_t picks, int64_t *worst)
{
    double maxabs = 0, err = 0;
    for (int64_t i = 0; i < count; i++)
        if (fabs(a[i]) > maxabs)
            maxabs = fabs(a[i]);
    *worst = picks > 0 ? pick[0] : 0;
    for (int64_t j = 0; j < picks; j++) {
        int64_t i = pick[j];
        double d = fabs(a[i]), m = fabs(n[i]);
        double den = d > m ? d : m;
        if (den < 1e-2 * maxabs)
            den = 1e-2 * maxabs;
        double e = den > 0 ? fabs(a[i] - n[i]) / den : 0.0;
        if (e > err || isnan(e)) {
            err = isnan(e) ? INFINITY : e;
            *worst = i;
        }
    }
    return err;
}

typedef struct gc_layer_run {
    dlh_layer_inst *l;
    dlh_layer_ctx ctx;
    dlh_tensor *views;
    int n_inputs;
    dlh_tensor *x, *dx;
    dlh_tensor y, dy;
    int64_t ny;
    float *hy, *hr;
} gc_layer_run;

/* L = sum(forward(x) * R), in double. */
static int gc_layer_loss(gc_layer_run *r, double *loss)
{
    const dlh_backend *be = r->l->backend;
    int rc = r->l->ops->forward(r->l->state, &r->ctx, r->x, &r->y);
    if (rc == 0)
        rc = dlh_host_table()->tensor_read(be, &r->y, r->hy);
    if (rc < 0)
        return rc;
    double s = 0;
    for (int64_t i = 0; i < r->ny; i++)
        s += (double)r->hy[i] * (double)r->hr[i];
    *loss = s;
    return 0;
}

/* d L / d v[i] for one float of device memory m, whose value is v. */
static int gc_numeric(gc_layer_run *r, dlh_mem m, int64_t i, float v, double eps,
                      double *out)
{
    const dlh_backend *be = r->l->backend;
    float vp = (float)(v + eps), vm = (float)(v - eps);
    double lp, lm;
    int rc;
    if ((rc = gc_write1(be, m, i, vp)) < 0 || (rc = gc_layer_loss(r, &lp)) < 0 ||
        (rc = gc_write1(be, m, i, vm)) < 0 || (rc = gc_layer_loss(r, &lm)) < 0 ||
        (rc = gc_write1(be, m, i, v)) < 0)
        return rc;
    /* The step actually taken in float, not the nominal 2 eps. */
    *out = (lp - lm) / ((double)vp - (double)vm);
    return 0;
}

/* opt->refine: elements pick[0..m) whose numeric estimate disagrees with
   the analytic a by more than GC_TOL/10 are differenced again at eps/16,
   keeping the estimate closer to a. */
static int gc_refine(gc_layer_run *r, dlh_mem mem, const float *a, const float *v,
                     const int64_t *pick, int64_t m, double eps, double *num)
{
    for (int64_t j = 0; j < m; j++) {
        int64_t i = pick[j];
        double den = fmax(fabs(a[i]), fabs(num[i]));
        if (!(den > 0) || fabs(a[i] - num[i]) <= 1e-3 * den)
            continue;
        double fine;
        int rc = gc_numeric(r, mem, i, v[i], eps / 16, &fine);
        if (rc < 0)
            return rc;
        if (fabs(a[i] - fine) < fabs(a[i] - num[i]))
            num[i] = fine;
    }
    return 0;
}

/* Keeps the largest error so far and where it occurred. */
static void gc_note(gc_report *rep, double err, const char *what, int64_t i, float a,
                    double n)
{
    if (err < rep->err && rep->worst[0] != '\0')
        return;
    rep->err = err;
    snprintf(rep->worst, sizeof rep->worst, "%s [%lld]: analytic %.6g, numeric %.6g",
             what, (long long)i, (double)a, n);
}

int gradcheck_layer(dlh_layer_inst *l, int64_t batch, int n_inputs,
                    const dlh_shape *inputs, const gc_options *opt, gc_report *rep)
{
    const dlh_host *host = dlh_host_table();
    const dlh_backend *be = l->backend;
    double eps = opt && opt->eps > 0 ? opt->eps : 1e-2;
    double lo = opt ? opt->lo : 0, hi = opt && opt->hi > 0 ? opt->hi : 1.0;
    uint64_t seed = opt ? opt->seed : 0;
    int64_t most = opt ? opt->max_per_tensor : 0;
    int64_t *pick = NULL;
    gc_layer_run r;
    memset(&r, 0, sizeof r);
    memset(rep, 0, sizeof *rep);
    r.l = l;
    r.n_inputs = n_inputs;
    int rc = DLH_ENOMEM;
    float *ha = NULL, *start = NULL, *hv = NULL;
    double *num = NULL;

    r.views = calloc((size_t)l->n_scratch + 1, sizeof *r.views);
    r.x = calloc((size_t)n_inputs + 1, sizeof *r.x);
    r.dx = calloc((size_t)n_inputs + 1, sizeof *r.dx);
    if (!r.views || !r.x || !r.dx) {
        dlh_error_set("gradcheck: out of memory");
        goto out;
    }
    dlh_layer_ctx_fill(l, batch, !(opt && opt->eval), 0, seed, &r.ctx, r.views);
    for (int k = 0; k < n_inputs; k++)
        if ((rc = gc_tensor(be, batch, &inputs[k], &r.x[k])) < 0 ||
            (rc = gc_tensor(be, batch, &inputs[k], &r.dx[k])) < 0)
            goto out;
    if ((rc = gc_tensor(be, batch, &l->output, &r.y)) < 0 ||
        (rc = gc_tensor(be, batch, &l->output, &r.dy)) < 0)
        goto out;
    r.ny = dlh_tensor_numel(&r.y);
    int64_t biggest = r.ny;
    for (int k = 0; k < n_inputs; k++)
        if (dlh_tensor_numel(&r.x[k]) > biggest)
            biggest = dlh_tensor_numel(&r.x[k]);
    for (int k = 0; k < l->n_params; k++)
        if (dlh_tensor_numel(&l->params[k].value) > biggest)
            biggest = dlh_tensor_numel(&l->params[k].value);
    rc = DLH_ENOMEM;
    if (!(r.hy = gc_alloc(r.ny)) || !(r.hr = gc_alloc(r.ny)) ||
        !(ha = gc_alloc(biggest)) || !(start = gc_alloc(biggest)) ||
        !(hv = gc_alloc(biggest)) || !(num = calloc((size_t)biggest, sizeof *num)) ||
        !(pick = calloc((size_t)biggest, sizeof *pick)))
        goto out;

    /* Inputs, R, and the starting values of gradients and d_inputs. */
    for (int k = 0; k < n_inputs; k++) {
        int64_t n = dlh_tensor_numel(&r.x[k]);
        gc_fill(hv, n, seed, GC_STREAM_INPUT + (uint64_t)k, lo, hi);
        if ((rc = host->tensor_write(be, &r.x[k], hv)) < 0)
            goto out;
        gc_fill(hv, n, seed, GC_STREAM_START + 50 + (uint64_t)k, 100.0, 200.0);
        if ((rc = host->tensor_write(be, &r.dx[k], hv)) < 0)
            goto out;
    }
    gc_fill(r.hr, r.ny, seed, GC_STREAM_R, 0.1, 1.0);
    if ((rc = host->tensor_write(be, &r.dy, r.hr)) < 0)
        goto out;
    for (int k = 0; k < l->n_params; k++) {
        const dlh_tensor *g = &l->params[k].grad;
        gc_fill(hv, dlh_tensor_numel(g), seed, GC_STREAM_START + (uint64_t)k, 0.0, 1.0);
        if ((rc = host->tensor_write(be, g, hv)) < 0)
            goto out;
    }

    /* Analytic gradients. */
    double l0;
    if ((rc = gc_layer_loss(&r, &l0)) < 0 ||
        (rc = l->ops->backward(l->state, &r.ctx, r.x, &r.y, &r.dy, r.dx)) < 0)
        goto out;

    for (int k = 0; k < n_inputs; k++) {
        int64_t n = dlh_tensor_numel(&r.x[k]), worst;
        if ((rc = host->tensor_read(be, &r.dx[k], ha)) < 0 ||
            (rc = host->tensor_read(be, &r.x[k], hv)) < 0)
            goto out;
        int64_t m = gc_pick(n, most, seed, GC_STREAM_PICK + (uint64_t)k, pick);
        for (int64_t j = 0; j < m; j++)
            if ((rc = gc_numeric(&r, r.x[k].mem, pick[j], hv[pick[j]], eps,
                                 &num[pick[j]])) < 0)
                goto out;
        if (opt && opt->refine &&
            (rc = gc_refine(&r, r.x[k].mem, ha, hv, pick, m, eps, num)) < 0)
            goto out;
        double e = gc_compare(ha, num, n, pick, m, &worst);
        char what[64];
        snprintf(what, sizeof what, "input %d", k);
        rep->n_checked += m;
        if (e > rep->err_input)
            rep->err_input = e;
        gc_note(rep, e, what, worst, ha[worst], num[worst]);
    }
    /* Parameter gradients added onto the starting values; then, for a layer
       that can write them instead, written over NaN. */
    for (int mode = 0; mode < (l->overwrites_grads ? 2 : 1); mode++) {
        if (mode == 1) {
            for (int k = 0; k < l->n_params; k++) {
                const dlh_tensor *g = &l->params[k].grad;
                for (int64_t i = 0; i < dlh_tensor_numel(g); i++)
                    hv[i] = NAN;
                if ((rc = host->tensor_write(be, g, hv)) < 0)
                    goto out;
            }
            r.ctx.overwrite_grads = 1;
            rc = gc_layer_loss(&r, &l0);
            if (rc == 0)
                rc = l->ops->backward(l->state, &r.ctx, r.x, &r.y, &r.dy, r.dx);
            r.ctx.overwrite_grads = 0;
            if (rc < 0)
                goto out;
        }
        for (int k = 0; k < l->n_params; k++) {
            const dlh_named_tensor *p = &l->params[k];
            int64_t n = dlh_tensor_numel(&p->value), worst;
            if ((rc = host->tensor_read(be, &p->grad, ha)) < 0 ||
                (rc = host->tensor_read(be, &p->value, hv)) < 0)
                goto out;
            if (mode == 0) {
                /* Undo the starting values: what backward added. */
                gc_fill(start, n, seed, GC_STREAM_START + (uint64_t)k, 0.0, 1.0);
                for (int64_t i = 0; i < n; i++)
                    ha[i] -= start[i];
            }
            int64_t m = gc_pick(n, most, seed, GC_STREAM_PICK + 50 + (uint64_t)k, pick);
            for (int64_t j = 0; j < m; j++)
                if ((rc = gc_numeric(&r, p->value.mem, pick[j], hv[pick[j]], eps,
                                     &num[pick[j]])) < 0)
                    goto out;
            if (opt && opt->refine &&
                (rc = gc_refine(&r, p->value.mem, ha, hv, pick, m, eps, num)) < 0)
                goto out;
            double e = gc_compare(ha, num, n, pick, m, &worst);
            char what[64];
            snprintf(what, sizeof what, "param '%s'%s", p->name,
                     mode ? " (overwritten)" : "");
            rep->n_checked += m;
            if (e > rep->err_param)
                rep->err_param = e;
            gc_note(rep, e, what, worst, ha[worst], num[worst]);
        }
    }
    rc = 0;

out:
    for (int k = 0; r.x && k < n_inputs; k++) {
        dlh_tensor_free(be, &r.x[k]);
        dlh_tensor_free(be, &r.dx[k]);
    }
    dlh_tensor_free(be, &r.y);
    dlh_tensor_free(be, &r.dy);
    free(r.views);
    free(r.x);
    free(r.dx);
    free(r.hy);
    free(r.hr);
    free(ha);
    free(start);
    free(hv);
    free(num);
    free(pick);
    return rc;
}

/* gradcheck_loss, gradcheck_loss_targets and gradcheck_loss_weighted:
   targets of per-sample shape `tshape` from `targets`, or random ones of the
   prediction's shape when targets is NULL; sample weights from `omega`
   unless it is NULL. */
static int gc_loss(dlh_loss_inst *l, int64_t batch, const dlh_shape *pred,
                   const dlh_shape *tshape, const float *targets, const float *preds,
                   const float *omega, const gc_options *opt, gc_report *rep)
{
    const dlh_host *host = dlh_host_table();
    const dlh_backend *be = l->backend;
    double eps = opt && opt->eps > 0 ? opt->eps : 1e-2;
    double lo = opt ? opt->lo : 0, hi = opt && opt->hi > 0 ? opt->hi : 1.0;
    uint64_t seed = opt ? opt->seed : 0;
    dlh_tensor p = { 0 }, t = { 0 }, d = { 0 }, w = { 0 };
    const dlh_shape one_per_sample = { 0, { 0 } };
    dlh_tensor *views = calloc((size_t)l->n_scratch + 1, sizeof *views);
    dlh_loss_ctx ctx;
    float *hp = NULL, *ha = NULL;
    double *num = NULL;
    int64_t *pick = NULL;
    int rc = DLH_ENOMEM;
    memset(rep, 0, sizeof *rep);
    if (!views) {
        dlh_error_set("gradcheck: out of memory");
        goto out;
    }
    dlh_loss_ctx_fill(l, batch, &ctx, views);
    if ((rc = gc_tensor(be, batch, pred, &p)) < 0 ||
        (rc = gc_tensor(be, batch, targets ? tshape : pred, &t)) < 0 ||
        (rc = gc_tensor(be, batch, pred, &d)) < 0 ||
        (omega && (rc = gc_tensor(be, batch, &one_per_sample, &w)) < 0) ||
        (omega && (rc = host->tensor_write(be, &w, omega)) < 0))
        goto out;
    if (omega)
        ctx.sample_weights = &w;
    int64_t n = dlh_tensor_numel(&p), worst;
    rc = DLH_ENOMEM;
    if (!(hp = gc_alloc(n)) || !(ha = gc_alloc(n)) ||
        !(num = calloc((size_t)n, sizeof *num)) || !(pick = calloc((size_t)n, sizeof *pick)))
        goto out;
    if (targets) {
        rc = host->tensor_write(be, &t, targets);
    } else {
        gc_fill(hp, n, seed, GC_STREAM_TARGET, lo, hi);
        rc = host->tensor_write(be, &t, hp);
    }
    if (rc < 0)
        goto out;
    if (preds)
        memcpy(hp, preds, (size_t)n * sizeof *hp);
    else
        gc_fill(hp, n, seed, GC_STREAM_INPUT, lo, hi);
    if ((rc = host->tensor_write(be, &p, hp)) < 0)
        goto out;
    float loss, lp, lm;
    if ((rc = l->ops->forward(l->state, &ctx, &p, &t, &loss, &d)) < 0 ||
        (rc = host->tensor_read(be, &d, ha)) < 0)
        goto out;
    int64_t m = gc_pick(n, opt ? opt->max_per_tensor : 0, seed, GC_STREAM_PICK + 99, pick);
    for (int64_t j = 0; j < m; j++) {
        int64_t i = pick[j];
        float vp = (float)(hp[i] + eps), vm = (float)(hp[i] - eps);
        if ((rc = gc_write1(be, p.mem, i, vp)) < 0 ||
            (rc = l->ops->forward(l->state, &ctx, &p, &t, &lp, NULL)) < 0 ||
            (rc = gc_write1(be, p.mem, i, vm)) < 0 ||
            (rc = l->ops->forward(l->state, &ctx, &p, &t, &lm, NULL)) < 0 ||
            (rc = gc_write1(be, p.mem, i, hp[i])) < 0)
            goto out;
        num[i] = ((double)lp - (double)lm) / ((double)vp - (double)vm);
    }
    rep->err_input = gc_compare(ha, num, n, pick, m, &worst);
    rep->n_checked = m;
    gc_note(rep, rep->err_input, "prediction", worst, ha[worst], num[worst]);
    rc = 0;

out:
    dlh_tensor_free(be, &p);
    dlh_tensor_free(be, &t);
    dlh_tensor_free(be, &d);
    dlh_tensor_free(be, &w);
    free(views);
    free(hp);
    free(ha);
    free(num);
    free(pick);
    return rc;
}

int gradcheck_loss(dlh_loss_inst *l, int64_t batch, const dlh_shape *pred,
                   const gc_options *opt, gc_report *rep)
{
    return gc_loss(l, batch, pred, NULL, NULL, NULL, NULL, opt, rep);
}

int gradcheck_loss_targets(dlh_loss_inst *l, int64_t batch, const dlh_shape *pred,
                           const dlh_shape *target, const float *targets,
                           const gc_options *opt, gc_report *rep)
{
    if (!target || !targets) {
        dlh_error_set("gradcheck: gradcheck_loss_targets needs a target shape and values");
        return DLH_EINVAL;
    }
    return gc_loss(l, batch, pred, target, targets, NULL, NULL, opt, rep);
}

int gradcheck_loss_weighted(dlh_loss_inst *l, int64_t batch, const dlh_shape *pred,
                            const dlh_shape *target, const float *targets,
                            const float *omega, const gc_options *opt, gc_report *rep)
{
    if (!target || !targets) {
        dlh_error_set("gradcheck: gradcheck_loss_weighted needs a target shape and "
                      "values");
        return DLH_EINVAL;
    }
    return gc_loss(l, batch, pred, target, targets, NULL, omega, opt, rep);
}

int gradcheck_loss_at(dlh_loss_inst *l, int64_t batch, const dlh_shape *pred,
                      const dlh_shape *target, const float *targets, const float *preds,
                      const float *omega, const gc_options *opt, gc_report *rep)
{
    if (!target || !targets || !preds) {
        dlh_error_set("gradcheck: gradcheck_loss_at needs a target shape, targets and "
                      "predictions");
        return DLH_EINVAL;
    }
    return gc_loss(l, batch, pred, target, targets, preds, omega, opt, rep);
}
