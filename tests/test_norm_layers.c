/* The normalisation layers of issue 12 (layernorm, groupnorm,
 * instancenorm2d, and batchnorm's momentum = "none",
 * track_running_stats = false and num_batches_tracked) against PyTorch
 * 1.13 (tests/ref/norm_layers_ref.py): after three training steps the
 * output, input gradient, weight and bias gradients, running statistics
 * and num_batches_tracked; then the evaluation output and input gradient.
 * On the backend this build names: cpu, or opencl for
 * tests/test_norm_layers_opencl (SKIPped where absent), so opencl is held
 * to the same numbers as cpu.  The cpu build also checks every layer's
 * gradients against central differences, and that the counter stays exact
 * past 2^24 batches.
 *
 * Tolerance: |got - torch| <= 2e-5 max(1, |torch|): float32 sums of up to
 * 60 values in another order than torch's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_open.h"
#include "error.h"
#include "gradcheck.h"
#include "registry.h"
#include "tap.h"

#include "ref/norm_layers_ref.h"

#ifndef NORM_BACKEND
#define NORM_BACKEND "cpu"
#endif

#define NORM_TOL 2e-5

static dlh_backend *be;

/* The tensor `name` (params then buffers), NULL when the layer has none. */
static const dlh_tensor *find_tensor(const dlh_layer_inst *l, const char *name, int grad)
{
    for (int i = 0; i < l->n_params; i++)
        if (strcmp(l->params[i].name, name) == 0)
            return grad ? &l->params[i].grad : &l->params[i].value;
    for (int i = 0; i < l->n_buffers; i++)
        if (!grad && strcmp(l->buffers[i].name, name) == 0)
            return &l->buffers[i].value;
    return NULL;
}

static int64_t *find_counter(const dlh_layer_inst *l, const char *name)
{
    for (int i = 0; i < l->n_counters; i++)
        if (strcmp(l->counter_names[i], name) == 0)
            return &l->counters[i];
    return NULL;
}

/* Largest |got - want| / max(1, |want|). */
static double rel_err(const float *got, const float *want, int64_t n)
{
    double e = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]) / fmax(1.0, fabs((double)want[i]));
        e = isnan(d) ? INFINITY : fmax(e, d);
    }
    return e;
}

/* Element i of input (or output gradient) k, as the generator makes it. */
static void make_input(float *x, int64_t n, int k)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(sin(0.7 * (double)i + k) * (1 + 0.5 * k) + 0.1 * k);
}

static void make_grad(float *g, int64_t n, int k)
{
    for (int64_t i = 0; i < n; i++)
        g[i] = (float)(cos(0.3 * (double)i + 2 * k) - 0.1 * k);
}

/* weight[k] = 0.5 + 0.25 k, bias[k] = 0.1 k - 0.2. */
static int set_affine(dlh_layer_inst *l, int n)
{
    const dlh_tensor *tw = find_tensor(l, "weight", 0), *tb = find_tensor(l, "bias", 0);
    if (n == 0)
        return tw || tb ? DLH_EINVAL : 0;
    if (!tw || !tb || dlh_tensor_numel(tw) != n)
        return DLH_EINVAL;
    float *w = calloc((size_t)n, sizeof *w), *b = calloc((size_t)n, sizeof *b);
    int rc = w && b ? 0 : DLH_ENOMEM;
    for (int k = 0; rc == 0 && k < n; k++) {
        w[k] = (float)(0.5 + 0.25 * k);
        b[k] = (float)(0.1 * k - 0.2);
    }
    rc = rc < 0 ? rc : dlh_host_table()->tensor_write(be, tw, w);
    rc = rc < 0 ? rc : dlh_host_table()->tensor_write(be, tb, b);
    free(w);
    free(b);
    return rc;
}

static void check_values(const char *case_name, const char *what, const float *got,
                         const float *want, int64_t n)
{
    double e = rel_err(got, want, n);
    ok(e <= NORM_TOL, "%s: %s = torch's (%lld values, err %.2g)", case_name, what,
       (long long)n, e);
}

static void check_case(const struct norm_ref *r)
{
    dlh_layer_inst *l = NULL;
    if (!ok(gc_layer_make(be, r->type, r->body, 1, r->ndim, r->dims, &l) == 0,
            "%s: %s {%s} created", r->name, r->type, r->body)) {
        diag("%s", dlh_error_get());
        return;
    }
    const dlh_host *host = dlh_host_table();
    int64_t n = r->batch;
    for (int i = 0; i < r->ndim; i++)
        n *= r->dims[i];
    float *x = calloc((size_t)n, sizeof *x), *y = calloc((size_t)n, sizeof *y);
    float *dy = calloc((size_t)n, sizeof *dy), *dx = calloc((size_t)n, sizeof *dx);
    float *dw = calloc((size_t)r->n_param + 1, sizeof *dw);
    float *db = calloc((size_t)r->n_param + 1, sizeof *db);
    float rm[16], rv[16];
    int rc = x && y && dy && dx && dw && db ? set_affine(l, r->n_param) : DLH_ENOMEM;
    for (int k = 0; rc == 0 && k < NORM_REF_STEPS; k++) {
        make_input(x, n, k);
        make_grad(dy, n, k);
        rc = dlh_layer_zero_grad(l);
        rc = rc < 0 ? rc : gc_layer_fwd_bwd(be, l, r->batch, 1, k, 1, x, y, dy, dx, NULL);
    }
    if (rc == 0 && r->n_param) {
        rc = host->tensor_read(be, find_tensor(l, "weight", 1), dw);
        rc = rc < 0 ? rc : host->tensor_read(be, find_tensor(l, "bias", 1), db);
    }
    const dlh_tensor *trm = find_tensor(l, "running_mean", 0);
    const dlh_tensor *trv = find_tensor(l, "running_var", 0);
    int stats_ok = r->n_stat <= 16 && (trm != NULL) == (r->n_stat > 0) &&
                   (trv != NULL) == (r->n_stat > 0);
    if (rc == 0 && r->n_stat && stats_ok) {
        rc = host->tensor_read(be, trm, rm);
        rc = rc < 0 ? rc : host->tensor_read(be, trv, rv);
    }
    if (!ok(rc == 0, "%s: %d training steps", r->name, NORM_REF_STEPS)) {
        diag("%s", dlh_error_get());
    } else {
        check_values(r->name, "training output", y, r->y, n);
        check_values(r->name, "input gradient", dx, r->dx, n);
        if (r->n_param) {
            check_values(r->name, "weight gradient", dw, r->dw, r->n_param);
            check_values(r->name, "bias gradient", db, r->db, r->n_param);
        }
        ok(stats_ok, "%s: running statistics %s, as torch's module", r->name,
           r->n_stat ? "kept" : "absent");
        if (r->n_stat && stats_ok) {
            check_values(r->name, "running_mean", rm, r->rm, r->n_stat);
            check_values(r->name, "running_var", rv, r->rv, r->n_stat);
        }
        const int64_t *count = find_counter(l, "num_batches_tracked");
        ok((count != NULL) == r->has_count && (!count || *count == r->nbt),
           "%s: num_batches_tracked %s (torch: %s%lld)", r->name,
           count ? "kept" : "absent", r->has_count ? "" : "none, ",
           (long long)r->nbt);
        /* Evaluation: running statistics where kept, else the batch's. */
        make_input(x, n, NORM_REF_STEPS);
        make_grad(dy, n, NORM_REF_STEPS);
        rc = dlh_layer_zero_grad(l);
        rc = rc < 0 ? rc : gc_layer_fwd_bwd(be, l, r->batch, 0, NORM_REF_STEPS, 1, x, y,
                                            dy, dx, NULL);
        if (ok(rc == 0, "%s: evaluation forward and backward", r->name)) {
            check_values(r->name, "evaluation output", y, r->y_eval, n);
            check_values(r->name, "evaluation input gradient", dx, r->dx_eval, n);
        } else {
            diag("%s", dlh_error_get());
        }
        ok(!count || *count == r->nbt, "%s: evaluation leaves num_batches_tracked",
           r->name);
    }
    free(x);
    free(y);
    free(dy);
    free(dx);
    free(dw);
    free(db);
    dlh_layer_free(l);
}

/* Central differences in training mode, with weight and bias away from 1, 0. */
static void check_grad(const char *type, const char *body, int ndim, const int64_t *dims,
                       int64_t batch)
{
    dlh_layer_inst *l = NULL;
    if (!ok(gc_layer_make(be, type, body, 1, ndim, dims, &l) == 0, "%s {%s}: created",
            type, body)) {
        diag("%s", dlh_error_get());
        return;
    }
    const dlh_tensor *w = find_tensor(l, "weight", 0);
    if (w && set_affine(l, (int)dlh_tensor_numel(w)) < 0)
        diag("could not set weight and bias: %s", dlh_error_get());
    dlh_shape in = shape_of(ndim, dims);
    gc_options opt = { .eps = 1e-2, .lo = 0.0, .hi = 1.0, .seed = 5 };
    gc_report rep;
    int rc = gradcheck_layer(l, batch, 1, &in, &opt, &rep);
    ok(rc == 0 && rep.err < GC_TOL && rep.n_checked > 0,
       "%s {%s}: gradients match central differences (max rel err %.2e over %lld values)",
       type, body, rep.err, (long long)rep.n_checked);
    if (rc < 0)
        diag("%s", dlh_error_get());
    else if (rep.err >= GC_TOL)
        diag("worst: %s", rep.worst);
    dlh_layer_free(l);
}

static void check_grads(void)
{
    const int64_t d46[2] = { 4, 6 }, d345[3] = { 3, 4, 5 }, d63[2] = { 6, 3 },
                  d433[3] = { 4, 3, 3 }, d234[3] = { 2, 3, 4 }, d3[1] = { 3 };
    check_grad("layernorm", "", 2, d46, 3);
    check_grad("layernorm", "normalized_shape = [4, 5];", 3, d345, 2);
    check_grad("layernorm", "normalized_shape = 5; elementwise_affine = false;", 3, d345, 2);
    check_grad("groupnorm", "num_groups = 3;", 2, d63, 2);
    check_grad("groupnorm", "num_groups = 2;", 3, d433, 2);
    check_grad("groupnorm", "num_groups = 4; affine = false;", 3, d433, 2);
    check_grad("instancenorm2d", "", 3, d234, 2);
    check_grad("instancenorm2d", "affine = true; track_running_stats = true;", 3, d234, 2);
    check_grad("batchnorm", "momentum = \"none\";", 3, d234, 3);
    check_grad("batchnorm", "track_running_stats = false;", 1, d3, 5);
}

/* num_batches_tracked is an int64 in host memory: it counts past 2^24, where
   a float32 buffer would stop (2^24 + 1 rounds to 2^24), and momentum =
   "none" uses 1 / count. */
static void check_counter(void)
{
    const int64_t d3[1] = { 3 };
    dlh_layer_inst *l = NULL;
    int rc = gc_layer_make(be, "batchnorm", "momentum = \"none\";", 1, 1, d3, &l);
    int64_t *count = rc == 0 ? find_counter(l, "num_batches_tracked") : NULL;
    if (!ok(count != NULL, "batchnorm declares the counter num_batches_tracked")) {
        diag("%s", dlh_error_get());
        dlh_layer_free(l);
        return;
    }
    float x[6] = { 1, 2, 3, 4, 5, 7 }, y[6];
    float rm[3] = { 8, 8, 8 }, got[3];
    const dlh_host *host = dlh_host_table();
    *count = 16777216;      /* 2^24 */
    rc = host->tensor_write(be, find_tensor(l, "running_mean", 0), rm);
    rc = rc < 0 ? rc : gc_layer_fwd_bwd(be, l, 2, 1, 0, 1, x, y, NULL, NULL, NULL);
    rc = rc < 0 ? rc : gc_layer_fwd_bwd(be, l, 2, 1, 1, 1, x, y, NULL, NULL, NULL);
    rc = rc < 0 ? rc : host->tensor_read(be, find_tensor(l, "running_mean", 0), got);
    ok(rc == 0 && *count == 16777218, "two batches after 2^24 count to 2^24 + 2 (%lld)",
       (long long)*count);
    /* Channel 0 holds 1 and 4 (mean 2.5): 8 moves towards it by about
       2 * 5.5 / 2^24, which float32 around 8 (ulp 2^-20) resolves. */
    double want = 8.0 - 2.0 * 5.5 / 16777217.0;
    ok(rc == 0 && fabs(got[0] - want) <= 2e-6 && got[0] < 8.0f,
       "momentum \"none\" weighs the batch by 1 / num_batches_tracked (%.9g, want %.9g)",
       (double)got[0], want);
    dlh_layer_free(l);
}

int main(void)
{
    if (dlh_registry_load_all(0) < 0) {
        ok(0, "load plugins: %s", dlh_error_get());
        return done_testing();
    }
    if (!(be = backend_open_or_skip(NORM_BACKEND)))
        return done_testing();
    for (size_t i = 0; i < sizeof norm_refs / sizeof norm_refs[0]; i++)
        check_case(&norm_refs[i]);
    check_counter();
    if (strcmp(NORM_BACKEND, "cpu") == 0)
        check_grads();
    dlh_backend_close(be);
    dlh_registry_clear();
    return done_testing();
}
