/* Activations and dropout: forward values against libm (in double), backward
 * against central differences (tests/gradcheck.c), and dropout's masks
 * against philox.h's bernoulli draws. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gradcheck.h"
#include "instance.h"
#include "params.h"
#include "registry.h"
#include "tap.h"

static dlh_backend *be;

/* ------------------------------------------------------------ helpers */


/* Layer `type` named "act" over n_inputs copies of one per-sample shape
   (tests/gradcheck.c); NULL on failure, with the message left in
   dlh_error_get(); quiet says whether a failure is expected. */
static dlh_layer_inst *layer_make(const char *type, const char *body, int n_inputs,
                                  int ndim, const int64_t *dims, int quiet)
{
    dlh_layer_inst *l = NULL;
    if (gc_layer_make(be, type, body, n_inputs, ndim, dims, &l) < 0 && !quiet)
        diag("%s: %s", type, dlh_error_get());
    return l;
}

static dlh_layer_inst *layer_new(const char *type, const char *body, int ndim,
                                 const int64_t *dims)
{
    return layer_make(type, body, 1, ndim, dims, 0);
}

/* Forward and backward of `batch` samples (tests/gradcheck.c). */
static int run_layer(dlh_layer_inst *l, int64_t batch, int training, int64_t step,
                     uint64_t seed, const float *x, float *y, const float *dy,
                     float *dx, dlh_layer_ctx *ctx_out)
{
    int rc = gc_layer_fwd_bwd(be, l, batch, training, step, seed, x, y, dy, dx, ctx_out);
    if (rc < 0)
        diag("run_layer: %s", dlh_error_get());
    return rc;
}

/* Gradient check of `l` on `batch` samples of its per-sample shape. */
static void check_grad(dlh_layer_inst *l, int64_t batch, const gc_options *opt,
                       const char *what)
{
    gc_report rep;
    int rc = gradcheck_layer(l, batch, 1, &l->output, opt, &rep);
    ok(rc == 0 && rep.err < GC_TOL && rep.n_checked > 0,
       "%s: gradient matches central differences (max rel err %.2e over %lld values)",
       what, rep.err, (long long)rep.n_checked);
    if (rc < 0)
        diag("%s", dlh_error_get());
    else if (rep.err >= GC_TOL)
        diag("worst: %s", rep.worst);
}

/* ------------------------------------------------------------ elementwise */

/* 48 inputs over [-12, 12], none exactly 0, plus saturating extremes. */
static void ew_inputs(float *x, int n)
{
    for (int i = 0; i < n; i++)
        x[i] = ((float)((i * 17) % 48) - 23.5f) * 0.5f;
    x[0] = -100.0f;
    x[1] = 100.0f;
    x[2] = -1e-3f;
    x[3] = 1e-3f;
}

typedef double (*ew_ref_fn)(double x, double a);

static double ref_leaky(double x, double a) { return x > 0 ? x : a * x; }
static double ref_sigmoid(double x, double a) { (void)a; return 1.0 / (1.0 + exp(-x)); }
static double ref_tanh(double x, double a) { (void)a; return tanh(x); }

/* d/dx of the above, at x. */
static double dref_leaky(double x, double a) { return x > 0 ? 1.0 : a; }
static double dref_sigmoid(double x, double a)
{
    double s = ref_sigmoid(x, a);
    return s * (1.0 - s);
}
static double dref_tanh(double x, double a)
{
    (void)a;
    double t = tanh(x);
    return 1.0 - t * t;
}

/* Forward values within tol * |want| + atol of the double reference, and
   backward against dy f'(x) in double.  The backward works from the float
   output (sigmoid: y (1 - y), tanh: 1 - y^2), whose rounding (half an ulp
   of y, 6e-8 near 1) is an absolute error in f': hence 5e-7 |dy| there. */
static void check_ew_values(const char *type, const char *body, double a, ew_ref_fn f,
                            ew_ref_fn df, double tol, double atol)
{
    enum { N = 48 };
    const int64_t dims[2] = { 4, 6 };   /* batch 2 of [4, 6] */
    dlh_layer_inst *l = layer_new(type, body, 2, dims);
    if (!ok(l != NULL, "%s (%s): created", type, body[0] ? body : "defaults"))
        return;
    ok(l->output.ndim == 2 && l->output.dim[0] == 4 && l->output.dim[1] == 6 &&
       l->n_params == 0, "%s: output shape = input shape, no parameters", type);
    float x[N], y[N], dy[N], dx[N];
    ew_inputs(x, N);
    for (int i = 0; i < N; i++)
        dy[i] = 0.25f + (float)(i % 7) * 0.5f;
    int rc = run_layer(l, 2, 1, 0, 1, x, y, dy, dx, NULL);
    double worst = rc == 0 ? 0 : INFINITY, worst_d = worst;
    int finite = rc == 0;
    for (int i = 0; rc == 0 && i < N; i++) {
        double want = f(x[i], a);
        double e = fabs(y[i] - want) / (tol * fabs(want) + atol);
        worst = e > worst ? e : worst;
        double dwant = dy[i] * df(x[i], a);
        double ed = fabs(dx[i] - dwant) / (1e-6 * fabs(dwant) + 5e-7 * fabs(dy[i]));
        worst_d = ed > worst_d ? ed : worst_d;
        finite &= isfinite(y[i]) && isfinite(dx[i]);
    }
    ok(rc == 0 && worst <= 1.0, "%s forward matches libm over [-12, 12] and +-100 "
       "(worst %.3g of tolerance)", type, worst);
    ok(rc == 0 && worst_d <= 1.0, "%s backward dx = dy f'(x) (worst %.3g of tolerance)",
       type, worst_d);
    ok(finite, "%s: no Inf or NaN at +-100", type);
    dlh_layer_free(l);
}

static void check_ew_grad(const char *type, const char *body, double lo, double hi)
{
    const int64_t dims[3] = { 2, 3, 5 };
    dlh_layer_inst *l = layer_new(type, body, 3, dims);
    if (!ok(l != NULL, "%s (%s): created for the gradient check", type,
            body[0] ? body : "defaults"))
        return;
    gc_options opt = { .eps = 1e-2, .lo = lo, .hi = hi, .seed = 21 };
    char what[96];
    snprintf(what, sizeof what, "%s%s%s, |x| in [%g, %g]", type, body[0] ? " " : "",
             body, lo, hi);
    check_grad(l, 3, &opt, what);
    dlh_layer_free(l);
}

static void check_activation_errors(void)
{
    const int64_t dims[1] = { 4 };
    static const char *const types[] = { "leaky_relu", "sigmoid", "tanh", "softmax",
                                         "log_softmax", "dropout" };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        dlh_layer_inst *l = layer_make(types[i], "", 2, 1, dims, 1);
        const char *msg = dlh_error_get();
        ok(l == NULL && strstr(msg, "exactly one input") && strstr(msg, "got 2"),
           "%s refuses two inputs (%s)", types[i], msg);
        dlh_layer_free(l);
    }
    dlh_layer_inst *l = layer_make("leaky_relu", "negative_slope = \"big\";", 1, 1,
                                   dims, 1);
    const char *msg = dlh_error_get();
    ok(l == NULL && strstr(msg, "test.cfg:2") && strstr(msg, "negative_slope"),
       "leaky_relu: a string slope is refused at its line (%s)", msg);
    dlh_layer_free(l);
    l = layer_make("sigmoid", "slope = 1.0;", 1, 1, dims, 1);
    msg = dlh_error_get();
    ok(l == NULL && strstr(msg, "slope"), "sigmoid: an unknown parameter is refused (%s)",
       msg);
    dlh_layer_free(l);
}

/* ------------------------------------------------------------ softmax */

/* Reference softmax / log_softmax of one row, in double, max-shifted. */
static void ref_softmax(int use_log, int cols, const float *x, double *y)
{
    double mx = x[0], s = 0;
    for (int j = 1; j < cols; j++)
        mx = x[j] > mx ? x[j] : mx;
    for (int j = 0; j < cols; j++)
        s += exp((double)x[j] - mx);
    for (int j = 0; j < cols; j++)
        y[j] = use_log ? (double)x[j] - mx - log(s) : exp((double)x[j] - mx) / s;
}

/* Forward against the double reference on hand-picked rows: large logits
   (exp(1002) overflows even double), a tie, very negative values, and a
   [2, 3] sample that must be normalised over all 6 features. */
static void check_softmax_values(int use_log)
{
    const char *type = use_log ? "log_softmax" : "softmax";
    enum { B = 5, C = 6 };
    const float x[B * C] = {
        1000, 1001, 1002, 999, 1000.5f, 998,
        -1000, -1000, -1000, -1000, -1000, -1000,
        0, 0, 0, 0, 0, 0,
        88.0f, 89.0f, -88.0f, 3.0f, 0.5f, -0.5f,
        -3, -2, -1, 1, 2, 3,
    };
    const int64_t dims[2] = { 2, 3 };
    dlh_layer_inst *l = layer_new(type, "", 2, dims);
    if (!ok(l != NULL, "%s: created", type))
        return;
    ok(l->output.ndim == 2 && l->output.dim[0] == 2 && l->output.dim[1] == 3 &&
       l->n_params == 0, "%s: output shape = input shape [2, 3]", type);
    float y[B * C], dy[B * C], dx[B * C];
    for (int i = 0; i < B * C; i++)
        dy[i] = (float)((i * 7) % 5) - 1.5f;
    int rc = run_layer(l, B, 1, 0, 1, x, y, dy, dx, NULL);
    double worst = rc == 0 ? 0 : INFINITY, worst_d = worst, row_sum_err = 0;
    for (int r = 0; rc == 0 && r < B; r++) {
        double want[C], s = 0, sdy = 0, sdyy = 0;
        ref_softmax(use_log, C, x + r * C, want);
        for (int j = 0; j < C; j++) {
            int i = r * C + j;
            /* the cpu backend's stated accuracy (test_cpu_backend.c) */
            double tol = use_log ? 1e-5 * fmax(1.0, fabs(want[j]))
                                 : 1e-6 + 1e-5 * fabs(want[j]);
            double e = fabs(y[i] - want[j]) / tol;
            worst = e > worst ? e : worst;
            s += use_log ? exp(y[i]) : y[i];
            sdy += dy[i];
            double p = use_log ? exp(want[j]) : want[j];
            sdyy += dy[i] * p;
        }
        row_sum_err = fmax(row_sum_err, fabs(s - 1.0));
        for (int j = 0; j < C; j++) {
            int i = r * C + j;
            double p = use_log ? exp(want[j]) : want[j];
            double dwant = use_log ? dy[i] - p * sdy : p * (dy[i] - sdyy);
            double e = fabs(dx[i] - dwant) / (1e-5 + 1e-5 * fabs(dwant));
            worst_d = e > worst_d ? e : worst_d;
        }
    }
    ok(rc == 0 && worst <= 1.0, "%s forward matches the double reference, logits up to "
       "1002 without overflow (worst %.3g of tolerance)", type, worst);
    ok(rc == 0 && row_sum_err < 1e-5, "%s: each sample's probabilities sum to 1 over "
       "all 6 features (err %.2e)", type, row_sum_err);
    ok(rc == 0 && worst_d <= 1.0, "%s backward: %s (worst %.3g of tolerance)", type,
       use_log ? "dx = dy - softmax(x) sum(dy)" : "dx = y (dy - sum(dy y))", worst_d);
    dlh_layer_free(l);
}

static void check_softmax_grad(int use_log, int ndim, const int64_t *dims, int64_t batch,
                               double lo, double hi)
{
    const char *type = use_log ? "log_softmax" : "softmax";
    dlh_layer_inst *l = layer_new(type, "", ndim, dims);
    if (!ok(l != NULL, "%s: created for the gradient check", type))
        return;
    char what[96];
    int n = snprintf(what, sizeof what, "%s [", type);
    for (int i = 0; i < ndim; i++)
        n += snprintf(what + n, sizeof what - (size_t)n, "%s%lld", i ? "," : "",
                      (long long)dims[i]);
    snprintf(what + n, sizeof what - (size_t)n, "] batch %lld, |x| in [%g, %g]",
             (long long)batch, lo, hi);
    /* Around |x| = 100 a float holds y to 1e-5, so a longer step keeps the
       rounding out of the central difference. */
    gc_options opt = { .eps = lo >= 10 ? 4e-2 : 1e-2, .lo = lo, .hi = hi, .seed = 31 };
    check_grad(l, batch, &opt, what);
    dlh_layer_free(l);
}

/* One feature: softmax is 1 and log_softmax 0 whatever x, and dx = 0. */
static void check_softmax_width1(int use_log)
{
    const char *type = use_log ? "log_softmax" : "softmax";
    const int64_t dims[1] = { 1 };
    dlh_layer_inst *l = layer_new(type, "", 1, dims);
    if (!ok(l != NULL, "%s [1]: created", type))
        return;
    const float x[4] = { -5, 0, 3, 1e4f }, dy[4] = { 1, -2, 3, 4 };
    float y[4], dx[4];
    int rc = run_layer(l, 4, 1, 0, 1, x, y, dy, dx, NULL);
    int good = rc == 0;
    for (int i = 0; good && i < 4; i++)
        good = y[i] == (use_log ? 0.0f : 1.0f) && dx[i] == 0.0f;
    ok(good, "%s of one feature: y = %s and dx = 0 exactly", type, use_log ? "0" : "1");
    dlh_layer_free(l);
}

/* ------------------------------------------------------------ dropout */

static void check_dropout_errors(void)
{
    const int64_t dims[1] = { 4 };
    static const char *const bad[] = { "rate = 1.0;", "rate = -0.1;", "rate = 1.5;",
                                       "rate = \"half\";" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dlh_layer_inst *l = layer_make("dropout", bad[i], 1, 1, dims, 1);
        const char *msg = dlh_error_get();
        ok(l == NULL && strstr(msg, "test.cfg:2") && strstr(msg, "'rate'"),
           "dropout refuses '%s' at its line (%s)", bad[i], msg);
        dlh_layer_free(l);
    }
    dlh_layer_inst *l = layer_make("dropout", "p = 0.5;", 1, 1, dims, 1);
    const char *msg = dlh_error_get();
    ok(l == NULL && strstr(msg, "'p'"), "dropout refuses unknown key p (%s)", msg);
    dlh_layer_free(l);
}

/* Over 4 x 10000 elements with rate p: evaluation is the identity; training
   keeps about 1-p of them, each kept value being x/(1-p) and each dropped 0,
   exactly where philox.h's bernoulli(1-p) of (seed, stream, i) is 1; the mask
   repeats for the same step and changes with the step. */
static void check_dropout_stats(double p, const char *body)
{
    enum { B = 4, F = 10000, N = B * F };
    const int64_t dims[2] = { 100, 100 };
    dlh_layer_inst *l = layer_new("dropout", body, 2, dims);
    if (!ok(l != NULL, "dropout (%s): created", body[0] ? body : "default rate 0.5"))
        return;
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    float *y2 = malloc(N * sizeof *y2), *y3 = malloc(N * sizeof *y3);
    float *dy = malloc(N * sizeof *dy), *dx = malloc(N * sizeof *dx);
    if (!x || !y || !y2 || !y3 || !dy || !dx) {
        ok(0, "dropout: out of memory");
        goto out;
    }
    for (int i = 0; i < N; i++) {
        x[i] = 0.5f + (float)(i % 101) / 50.0f;     /* never 0 */
        dy[i] = (float)(i % 13) - 6.5f;             /* never 0 */
    }

    int rc = run_layer(l, B, 0, 5, 42, x, y, dy, dx, NULL);
    int same = rc == 0;
    for (int i = 0; same && i < N; i++)
        same = y[i] == x[i] && dx[i] == dy[i];
    ok(same, "dropout rate %g in evaluation: y = x and dx = dy exactly", p);

    dlh_layer_ctx ctx;
    rc = run_layer(l, B, 1, 5, 42, x, y, dy, dx, &ctx);
    double keep = 1.0 - p;
    float scale = (float)(1.0 / keep);
    long kept = 0, bad_value = 0, bad_mask = 0, bad_grad = 0;
    for (int i = 0; rc == 0 && i < N; i++) {
        int k = y[i] != 0.0f;
        kept += k;
        float want = dlh_philox_bernoulli(ctx.seed, ctx.stream, (uint64_t)i, (float)keep);
        bad_mask += (float)k != want;
        if (k && fabs(y[i] - x[i] / keep) > 1e-6 * fabs(x[i] / keep))
            bad_value++;
        if (dx[i] != (k ? dy[i] * scale : 0.0f) &&
            fabs(dx[i] - (k ? dy[i] / keep : 0.0)) > 1e-6 * fabs(dy[i] / keep))
            bad_grad++;
    }
    double frac = (double)kept / N;
    /* 5 standard deviations of a binomial proportion over N draws */
    double tol = 5.0 * sqrt(p * keep / N);
    ok(rc == 0 && fabs(frac - keep) <= tol, "dropout rate %g: kept fraction %.4f "
       "within %.4f of %.2f", p, frac, tol, keep);
    ok(rc == 0 && bad_value == 0, "dropout rate %g: every kept value is x/(1-p) "
       "(%ld wrong)", p, bad_value);
    ok(rc == 0 && bad_mask == 0, "dropout rate %g: mask = philox bernoulli(1-p) of "
       "(seed, ctx stream, offset 0 + i) (%ld differ)", p, bad_mask);
    ok(rc == 0 && bad_grad == 0, "dropout rate %g: dx = dy * mask / (1-p) (%ld wrong)",
       p, bad_grad);

    rc = rc < 0 ? rc : run_layer(l, B, 1, 5, 42, x, y2, NULL, NULL, NULL);
    rc = rc < 0 ? rc : run_layer(l, B, 1, 6, 42, x, y3, NULL, NULL, NULL);
    long diff_same = 0, diff_step = 0;
    for (int i = 0; rc == 0 && i < N; i++) {
        diff_same += y2[i] != y[i];
        diff_step += (y3[i] != 0.0f) != (y[i] != 0.0f);
    }
    /* independent masks differ in about 2 p (1-p) of the elements */
    double want_diff = 2.0 * p * keep;
    ok(rc == 0 && diff_same == 0, "dropout rate %g: the same step gives the same mask",
       p);
    ok(rc == 0 && fabs((double)diff_step / N - want_diff) <= 0.02,
       "dropout rate %g: the next step draws another mask (%.3f differ, expected %.3f)",
       p, (double)diff_step / N, want_diff);

out:
    free(x);
    free(y);
    free(y2);
    free(y3);
    free(dy);
    free(dx);
    dlh_layer_free(l);
}

/* rate 0: the identity in training too, with no mask at all. */
static void check_dropout_zero(void)
{
    const int64_t dims[1] = { 37 };
    dlh_layer_inst *l = layer_new("dropout", "rate = 0.0;", 1, dims);
    if (!ok(l != NULL, "dropout rate 0: created"))
        return;
    float x[3 * 37], y[3 * 37], dy[3 * 37], dx[3 * 37];
    for (int i = 0; i < 3 * 37; i++) {
        x[i] = (float)i - 50.0f;
        dy[i] = (float)(i % 9) - 4.0f;
    }
    int rc = run_layer(l, 3, 1, 0, 7, x, y, dy, dx, NULL);
    int same = rc == 0;
    for (int i = 0; same && i < 3 * 37; i++)
        same = y[i] == x[i] && dx[i] == dy[i];
    ok(same, "dropout rate 0 in training: y = x and dx = dy exactly");
    ok(l->n_scratch == 0, "dropout rate 0 declares no mask scratch");
    dlh_layer_free(l);
}

static void check_dropout_grad(const char *body, int ndim, const int64_t *dims,
                               int64_t batch)
{
    dlh_layer_inst *l = layer_new("dropout", body, ndim, dims);
    if (!ok(l != NULL, "dropout (%s): created for the gradient check", body))
        return;
    /* gradcheck runs every forward with one ctx (training, step 0), so each
       forward redraws the same mask: the function it differentiates is fixed */
    gc_options opt = { .eps = 1e-2, .lo = 0.0, .hi = 1.0, .seed = 41 };
    char what[64];
    snprintf(what, sizeof what, "dropout %s fixed mask", body);
    check_grad(l, batch, &opt, what);
    dlh_layer_free(l);
}

int main(void)
{
    if (dlh_registry_load_all(0) < 0 || dlh_backend_open("cpu", NULL, &be) < 0) {
        ok(0, "load plugins and open the cpu backend: %s", dlh_error_get());
        return done_testing();
    }

    /* Elementwise activations: libm values, f'(x), central differences. */
    check_ew_values("leaky_relu", "", 0.01, ref_leaky, dref_leaky, 1e-7, 1e-30);
    check_ew_values("leaky_relu", "negative_slope = 0.2;", 0.2, ref_leaky, dref_leaky,
                    1e-7, 1e-30);
    check_ew_values("leaky_relu", "negative_slope = -0.5;", -0.5, ref_leaky, dref_leaky,
                    1e-7, 1e-30);
    check_ew_values("sigmoid", "", 0, ref_sigmoid, dref_sigmoid, 4e-7, 1e-30);
    check_ew_values("tanh", "", 0, ref_tanh, dref_tanh, 4e-7, 1e-30);
    check_ew_grad("relu", "", 0.05, 1.0);
    check_ew_grad("leaky_relu", "", 0.05, 1.0);
    check_ew_grad("leaky_relu", "negative_slope = 0.3;", 0.05, 2.0);
    check_ew_grad("sigmoid", "", 0.0, 3.0);
    check_ew_grad("tanh", "", 0.0, 2.0);
    /* issue 12's activations (values against torch: test_activations.c);
       |x| ranges keep eps away from the kinks */
    check_ew_grad("elu", "", 0.05, 3.0);
    check_ew_grad("elu", "alpha = 0.5;", 0.05, 3.0);
    check_ew_grad("selu", "", 0.05, 3.0);
    check_ew_grad("celu", "alpha = 2.0;", 0.05, 3.0);
    check_ew_grad("gelu", "", 0.0, 4.0);
    check_ew_grad("gelu", "approximate = \"tanh\";", 0.0, 4.0);
    check_ew_grad("silu", "", 0.0, 5.0);
    check_ew_grad("mish", "", 0.0, 5.0);
    check_ew_grad("softplus", "", 0.0, 5.0);
    check_ew_grad("softplus", "beta = 2.0; threshold = 3.0;", 0.05, 1.4);
    check_ew_grad("softplus", "beta = 2.0; threshold = 3.0;", 1.6, 4.0);
    check_ew_grad("hardtanh", "", 0.05, 0.95);
    check_ew_grad("hardtanh", "min_val = -2.0; max_val = 0.5;", 0.55, 1.95);
    check_ew_grad("relu6", "", 0.05, 5.9);
    check_ew_grad("hardswish", "", 0.05, 2.9);
    check_ew_grad("hardswish", "", 3.1, 8.0);
    check_ew_grad("hardsigmoid", "", 0.05, 2.9);
    check_ew_grad("softsign", "", 0.0, 5.0);
    check_activation_errors();

    /* softmax, log_softmax: rows of 1, 2, 7 and 15 (a [3, 5] sample), batch
       1 to 4, and logits around +-100 whose exp overflows float. */
    for (int lg = 0; lg <= 1; lg++) {
        check_softmax_values(lg);
        check_softmax_width1(lg);
        check_softmax_grad(lg, 1, (const int64_t[]){ 1 }, 3, 0.0, 1.0);
        check_softmax_grad(lg, 1, (const int64_t[]){ 2 }, 4, 0.0, 2.0);
        check_softmax_grad(lg, 1, (const int64_t[]){ 7 }, 3, 0.0, 2.0);
        check_softmax_grad(lg, 2, (const int64_t[]){ 3, 5 }, 2, 0.0, 3.0);
        check_softmax_grad(lg, 1, (const int64_t[]){ 9 }, 1, 0.0, 1.0);
        check_softmax_grad(lg, 1, (const int64_t[]){ 5 }, 4, 100.0, 101.0);
    }

    check_dropout_errors();
    check_dropout_stats(0.5, "");
    check_dropout_stats(0.2, "rate = 0.2;");
    check_dropout_stats(0.9, "rate = 0.9;");
    check_dropout_zero();
    check_dropout_grad("rate = 0.5;", 2, (const int64_t[]){ 3, 4 }, 3);
    check_dropout_grad("rate = 0.25;", 1, (const int64_t[]){ 17 }, 2);

    dlh_backend_close(be);
    dlh_registry_clear();
    return done_testing();
}
