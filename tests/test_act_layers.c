/* prelu, maxout, dropout2d, alpha_dropout and identity (issue 12) against
 * PyTorch 1.13 (tests/ref/act_layers_ref.py): forward values and the input
 * and parameter gradients of nn.PReLU and of nn.Linear + view + max(-1) for
 * given weights; for the dropouts, torch's formula for each element given
 * its mask bit, with the mask the layer drew checked against philox.h, and
 * statistics over many draws (the keep rate, alpha dropout's mean and
 * variance); central differences for every backward; bad parameters with
 * torch's words.  Runs on the backend this build names: cpu, or opencl for
 * tests/test_act_layers_opencl (SKIPped where absent), so the same
 * reference holds both backends to torch.
 *
 * Tolerances: prelu's and the dropouts' outputs are one or two float
 * operations, within 2.5e-7 of torch (the operands' scale); sums (prelu's
 * slope gradient, maxout's gemms) 2e-6 relative to the sum of magnitudes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_open.h"
#include "error.h"
#include "gradcheck.h"
#include "registry.h"
#include "tap.h"

#include "ref/act_layers_ref.h"

#ifndef ACT_LAYERS_BACKEND
#define ACT_LAYERS_BACKEND "cpu"
#endif

static dlh_backend *be;
static const dlh_host *host;

/* ------------------------------------------------------------ helpers */

static dlh_layer_inst *make(const char *type, const char *body, int ndim,
                            const int64_t *dims)
{
    dlh_layer_inst *l = NULL;
    if (gc_layer_make(be, type, body, 1, ndim, dims, &l) < 0)
        diag("%s (%s): %s", type, body, dlh_error_get());
    return l;
}

/* Forward of `batch` samples x (per-sample shape in) into y, then backward
   of dy into dx and the parameter gradients, with one ctx (seed 42)
   returned in *ctx_out when not NULL (tests/gradcheck.c). */
static int run(dlh_layer_inst *l, const dlh_shape *in, int64_t batch, int training,
               int64_t step, const float *x, float *y, const float *dy, float *dx,
               dlh_layer_ctx *ctx_out)
{
    int rc = gc_layer_run(be, l, in, batch, training, step, 42, x, y, dy, dx, ctx_out);
    if (rc < 0)
        diag("run: %s", dlh_error_get());
    return rc;
}

/* Largest |got - want| / (rel * scale + abs) over n values, with scale
   |want| or, when given, scale[i]; the index in *at. */
static double worst_err(const float *got, const double *want, const double *scale, int n,
                        double rel, double abs_tol, int *at)
{
    double w = 0;
    *at = -1;
    for (int i = 0; i < n; i++) {
        double s = scale ? scale[i] : fabs(want[i]);
        double e = fabs((double)got[i] - want[i]) / (rel * s + abs_tol);
        if (!(e <= w)) {
            w = e;
            *at = i;
        }
    }
    return w;
}

static int check_values(const char *what, const float *got, const double *want,
                        const double *scale, int n, double rel, double abs_tol)
{
    int at;
    double w = worst_err(got, want, scale, n, rel, abs_tol, &at);
    int good = ok(w <= 1.0, "%s = torch's (%d values, worst %.3g of tolerance)", what, n, w);
    if (!good && at >= 0)
        diag("[%d]: got %.9g, torch %.9g", at, got[at], want[at]);
    return good;
}

static void check_grad(dlh_layer_inst *l, int ndim, const int64_t *dims, int64_t batch,
                       double lo, double hi, const char *what)
{
    dlh_shape in = shape_of(ndim, dims);
    gc_options opt = { .eps = 1e-2, .lo = lo, .hi = hi, .seed = 17, .refine = 1 };
    gc_report rep;
    int rc = gradcheck_layer(l, batch, 1, &in, &opt, &rep);
    ok(rc == 0 && rep.err < GC_TOL && rep.n_checked > 0,
       "%s: gradients match central differences (max rel err %.2e over %lld values)",
       what, rep.err, (long long)rep.n_checked);
    if (rc < 0)
        diag("%s", dlh_error_get());
    else if (rep.err >= GC_TOL)
        diag("worst: %s", rep.worst);
}

/* type refuses body over per-sample dims at test.cfg:2 with `want` in the
   message. */
static void refuses(const char *type, const char *body, int ndim, const int64_t *dims,
                    const char *want)
{
    dlh_layer_inst *l = NULL;
    int rc = gc_layer_make(be, type, body, 1, ndim, dims, &l);
    const char *msg = dlh_error_get();
    ok(rc == DLH_ECONFIG && l == NULL && strstr(msg, "test.cfg:") && strstr(msg, want),
       "%s refuses '%s' (%s)", type, body, msg);
    dlh_layer_free(l);
}

static void refuses_two_inputs(const char *type, const char *body)
{
    const int64_t dims[3] = { 2, 3, 4 };
    dlh_layer_inst *l = NULL;
    int rc = gc_layer_make(be, type, body, 2, 3, dims, &l);
    const char *msg = dlh_error_get();
    ok(rc < 0 && l == NULL && strstr(msg, "exactly one input") && strstr(msg, "got 2"),
       "%s refuses two inputs (%s)", type, msg);
    dlh_layer_free(l);
}

/* ------------------------------------------------------------ prelu */

static void check_prelu(const struct prelu_ref *r)
{
    dlh_layer_inst *l = make("prelu", r->body, r->ndim, r->dims);
    if (!ok(l != NULL, "%s: created", r->name))
        return;
    dlh_shape in = shape_of(r->ndim, r->dims);
    int n = r->batch * (int)dlh_shape_numel(&in);
    ok(l->n_params == 1 && strcmp(l->params[0].name, "weight") == 0 &&
       l->params[0].value.ndim == 1 && l->params[0].value.shape[0] == r->n_w &&
       dlh_shape_numel(&l->output) == dlh_shape_numel(&in),
       "%s: one tensor 'weight' [%d], output shape = input shape", r->name, r->n_w);
    float w0[8], dw[8];
    float *y = malloc((size_t)n * sizeof *y), *dx = malloc((size_t)n * sizeof *dx);
    double *scale = malloc((size_t)n * sizeof *scale);
    if (!y || !dx || !scale || host->tensor_read(be, &l->params[0].value, w0) < 0) {
        ok(0, "%s: out of memory or read", r->name);
        goto out;
    }
    if (r->default_w)
        ok(w0[0] == 0.25f, "%s: the default slope is torch's init 0.25 (%g)", r->name,
           (double)w0[0]);
    if (host->tensor_write(be, &l->params[0].value, r->w) < 0 ||
        run(l, &in, r->batch, 1, 3, r->x, y, r->dy, dx, NULL) < 0 ||
        host->tensor_read(be, &l->params[0].grad, dw) < 0) {
        ok(0, "%s: forward and backward", r->name);
        goto out;
    }
    check_values(r->name, y, r->y, NULL, n, 2.5e-7, 1e-30);
    char what[96];
    snprintf(what, sizeof what, "%s dx", r->name);
    check_values(what, dx, r->dx, NULL, n, 2.5e-7, 1e-30);
    /* da sums x dy over a channel: relative to the sum of |x dy| */
    double sdw[8] = { 0 };
    int plane = n / r->batch / r->n_w;
    for (int i = 0; i < n; i++)
        sdw[(i / plane) % r->n_w] += fabs((double)r->x[i] * r->dy[i]);
    snprintf(what, sizeof what, "%s weight gradient", r->name);
    check_values(what, dw, r->dw, sdw, r->n_w, 2e-6, 1e-12);
    snprintf(what, sizeof what, "%s", r->name);
    check_grad(l, r->ndim, r->dims, 3, 0.05, 2.0, what);
out:
    free(y);
    free(dx);
    free(scale);
    dlh_layer_free(l);
}

static void check_prelu_errors(void)
{
    const int64_t img[3] = { 3, 4, 4 }, flat[1] = { 6 };
    refuses("prelu", "num_parameters = 4;", 3, img,
            "Mismatch of parameter numbers and input channel size. Found parameter "
            "numbers = 4 and channel size = 3.");
    refuses("prelu", "num_parameters = 0;", 1, flat,
            "Found parameter numbers = 0 and channel size = 6.");
    refuses("prelu", "num_parameters = -1;", 1, flat,
            "Trying to create tensor with negative dimension -1: [-1]");
    refuses("prelu", "num_parameters = 2.5;", 1, flat, "'num_parameters'");
    refuses("prelu", "init = 0.25;", 1, flat, "unknown parameter 'init'");
    refuses("prelu", "negative_slope = 0.1;", 1, flat, "unknown parameter 'negative_slope'");
    refuses_two_inputs("prelu", "");
}

/* ------------------------------------------------------------ maxout */

static void check_maxout(const struct maxout_ref *r)
{
    const int64_t dims[1] = { r->in };
    dlh_layer_inst *l = make("maxout", r->body, 1, dims);
    if (!ok(l != NULL, "%s: created", r->name))
        return;
    int kp = r->units * r->pieces, ny = r->batch * r->units, nx = r->batch * r->in;
    ok(l->output.ndim == 1 && l->output.dim[0] == r->units &&
       l->n_params == 1 + r->bias && l->params[0].value.shape[0] == kp &&
       l->params[0].value.shape[1] == r->in &&
       (!r->bias || (strcmp(l->params[1].name, "bias") == 0 &&
                     l->params[1].value.shape[0] == kp)),
       "%s: output [%d], weight [%d, %d]%s", r->name, r->units, kp, r->in,
       r->bias ? " and bias" : ", no bias");
    /* nn.Linear's default: U(-1/sqrt(in), 1/sqrt(in)) for both */
    float *w = malloc((size_t)kp * (size_t)r->in * sizeof *w);
    float *y = malloc((size_t)ny * sizeof *y), *dx = malloc((size_t)nx * sizeof *dx);
    float *dw = malloc((size_t)kp * (size_t)r->in * sizeof *dw), db[64];
    double *sy = malloc((size_t)ny * sizeof *sy), *sdx = malloc((size_t)nx * sizeof *sdx);
    double *sdw = calloc((size_t)kp * (size_t)r->in, sizeof *sdw), sdb[64] = { 0 };
    if (!w || !y || !dx || !dw || !sy || !sdx || !sdw || kp > 64 ||
        host->tensor_read(be, &l->params[0].value, w) < 0) {
        ok(0, "%s: out of memory", r->name);
        goto out;
    }
    float bound = (float)(1.0 / sqrt((double)r->in));
    int inside = 1;
    for (int i = 0; i < kp * r->in; i++)
        inside &= w[i] >= -bound && w[i] <= bound;
    ok(inside, "%s: default weights inside nn.Linear's bound %g", r->name, (double)bound);
    if (host->tensor_write(be, &l->params[0].value, r->w) < 0 ||
        (r->bias && host->tensor_write(be, &l->params[1].value, r->b) < 0) ||
        run(l, &(dlh_shape){ 1, { r->in } }, r->batch, 1, 3, r->x, y, r->dy, dx, NULL) < 0 ||
        host->tensor_read(be, &l->params[0].grad, dw) < 0 ||
        (r->bias && host->tensor_read(be, &l->params[1].grad, db) < 0)) {
        ok(0, "%s: forward and backward", r->name);
        goto out;
    }
    /* Scales: the sums of magnitudes behind each value. */
    for (int n = 0; n < r->batch; n++) {
        for (int u = 0; u < r->units; u++) {
            double m = 0;
            for (int k = 0; k < r->pieces; k++) {
                double s = r->bias ? fabs(r->b[u * r->pieces + k]) : 0;
                for (int i = 0; i < r->in; i++)
                    s += fabs((double)r->x[n * r->in + i] * r->w[(u * r->pieces + k) * r->in + i]);
                m = fmax(m, s);
            }
            sy[n * r->units + u] = m;
        }
        for (int i = 0; i < r->in; i++) {
            double s = 0;
            for (int j = 0; j < kp; j++)
                s += fabs((double)r->dy[n * r->units + j / r->pieces] * r->w[j * r->in + i]);
            sdx[n * r->in + i] = s;
        }
        for (int j = 0; j < kp; j++) {
            double g = fabs((double)r->dy[n * r->units + j / r->pieces]);
            sdb[j] += g;
            for (int i = 0; i < r->in; i++)
                sdw[j * r->in + i] += g * fabs((double)r->x[n * r->in + i]);
        }
    }
    char what[96];
    check_values(r->name, y, r->y, sy, ny, 2e-6, 1e-12);
    snprintf(what, sizeof what, "%s dx", r->name);
    check_values(what, dx, r->dx, sdx, nx, 2e-6, 1e-12);
    snprintf(what, sizeof what, "%s weight gradient", r->name);
    check_values(what, dw, r->dw, sdw, kp * r->in, 2e-6, 1e-12);
    if (r->bias) {
        snprintf(what, sizeof what, "%s bias gradient", r->name);
        check_values(what, db, r->db, sdb, kp, 2e-6, 1e-12);
    }
    /* central differences where no two pieces are equal */
    if (strcmp(r->name, "maxout_tie") != 0)
        check_grad(l, 1, dims, 4, 0.0, 1.0, r->name);
out:
    free(w);
    free(y);
    free(dx);
    free(dw);
    free(sy);
    free(sdx);
    free(sdw);
    dlh_layer_free(l);
}

static void check_maxout_errors(void)
{
    const int64_t flat[1] = { 6 };
    refuses("maxout", "pieces = 2;", 1, flat, "'units'");
    refuses("maxout", "units = 0;", 1, flat, "'units'");
    refuses("maxout", "units = 4; pieces = 0;", 1, flat, "'pieces'");
    refuses("maxout", "units = 65536; pieces = 512;", 1, flat,
            "units * pieces = 33554432 is more than 16777216");
    refuses("maxout", "units = 4; bias = 1;", 1, flat, "'bias'");
    refuses_two_inputs("maxout", "units = 2;");
}

/* ------------------------------------------------------------ dropouts */

/* Torch's output of one element given its mask bit, from the table. */
typedef struct drop_case {
    const char *type;
    int channel;                /* mask per (sample, dim 0): dropout2d */
} drop_case;

/* The ref inputs as batch 2 of [4, 2, 3] (dropout2d) or of [24]: the
   layer's mask checked against philox.h's bernoulli(1 - p), each element
   against torch's value for its bit. */
static void check_drop_ref(const drop_case *dc, const struct drop_ref *r)
{
    const int64_t img[3] = { 4, 2, 3 }, flat[1] = { DROP_N / 2 };
    int ndim = dc->channel ? 3 : 1;
    const int64_t *dims = dc->channel ? img : flat;
    char body[64];
    snprintf(body, sizeof body, "rate = %.17g;", r->p);
    dlh_layer_inst *l = make(dc->type, body, ndim, dims);
    if (!ok(l != NULL, "%s %s: created", dc->type, body))
        return;
    float y[DROP_N], dx[DROP_N];
    dlh_layer_ctx ctx;
    dlh_shape in = shape_of(ndim, dims);
    if (run(l, &in, 2, 1, 3, drop_x, y, drop_dy, dx, &ctx) < 0) {
        ok(0, "%s: forward and backward", dc->type);
        dlh_layer_free(l);
        return;
    }
    const double(*yr)[DROP_N] = dc->channel ? r->y2d : r->ya;
    const double(*dxr)[DROP_N] = dc->channel ? r->dx2d : r->dxa;
    float keep = (float)(1.0 - r->p);
    double worst = 0, worst_d = 0;
    int kept = 0, at = -1;
    for (int i = 0; i < DROP_N; i++) {
        uint64_t c = dc->channel ? (uint64_t)(i / 6) : (uint64_t)i;
        int bit = dlh_philox_bernoulli(ctx.seed, ctx.stream, c, keep) != 0.0f;
        kept += bit;
        int row = bit ? 0 : 1;
        /* two float operations: within an ulp of each operand's scale */
        double s = fabs(yr[row][i]) + fabs((double)drop_x[i]) * 2 + 2;
        double e = fabs(y[i] - yr[row][i]) / (2.5e-7 * s);
        double ed = fabs(dx[i] - dxr[row][i]) / (2.5e-7 * (fabs(dxr[row][i]) + 1e-30));
        if (e > worst) {
            worst = e;
            at = i;
        }
        worst_d = fmax(worst_d, ed);
    }
    if (!ok(worst <= 1.0, "%s p %g: each output is torch's formula for its Philox mask "
            "bit (%d of %d kept; worst %.3g of tolerance)", dc->type, r->p, kept, DROP_N,
            worst) && at >= 0)
        diag("[%d]: x %.9g, got %.9g", at, (double)drop_x[at], (double)y[at]);
    ok(worst_d <= 1.0, "%s p %g: dx = torch autograd's for the same mask (worst %.3g)",
       dc->type, r->p, worst_d);
    dlh_layer_free(l);
}

/* Evaluation is the identity; rate 0 too, with no mask; rate 1 gives
   x * 0 (torch's) in training. */
static void check_drop_edges(const char *type)
{
    const int64_t dims[3] = { 3, 2, 5 };
    dlh_shape in = shape_of(3, dims);
    enum { N = 2 * 30 };
    float x[N], dy[N], y[N], dx[N];
    for (int i = 0; i < N; i++) {
        x[i] = (float)(i % 11) - 5.5f;
        dy[i] = (float)(i % 7) - 2.5f;
    }
    static const char *const bodies[] = { "", "rate = 0.0;", "rate = 1.0;" };
    for (int b = 0; b < 3; b++) {
        dlh_layer_inst *l = make(type, bodies[b], 3, dims);
        if (!ok(l != NULL, "%s (%s): created", type, bodies[b]))
            continue;
        int same = run(l, &in, 2, 0, 3, x, y, dy, dx, NULL) == 0;
        for (int i = 0; same && i < N; i++)
            same = y[i] == x[i] && dx[i] == dy[i];
        ok(same, "%s (%s) in evaluation: y = x, dx = dy exactly", type,
           b ? bodies[b] : "rate 0.5");
        if (b > 0) {
            int good = run(l, &in, 2, 1, 3, x, y, dy, dx, NULL) == 0;
            for (int i = 0; good && i < N; i++)
                good = b == 1 ? (y[i] == x[i] && dx[i] == dy[i])
                              : (y[i] == 0.0f && dx[i] == 0.0f);
            ok(good, "%s %s in training: %s", type, bodies[b],
               b == 1 ? "y = x, dx = dy exactly" : "y = x * 0 and dx = dy * 0 (torch's)");
            ok(l->n_scratch == 0, "%s %s declares no mask scratch", type, bodies[b]);
        }
        dlh_layer_free(l);
    }
}

/* Over 4 x 2500 channels of 2 x 2 (dropout2d) or 40000 elements (alpha):
   the kept fraction is 1 - p within 5 standard deviations, dropout2d keeps
   or drops channels whole, alpha_dropout's output keeps the mean 0 and
   variance 1 of standard normal inputs; the same step redraws the same
   mask, the next another. */
static void check_drop_stats(const char *type, int channel, double p)
{
    enum { B = 4, F = 10000, N = B * F };
    const int64_t img[3] = { 2500, 2, 2 }, flat[1] = { F };
    int ndim = channel ? 3 : 1;
    const int64_t *dims = channel ? img : flat;
    char body[48];
    snprintf(body, sizeof body, "rate = %g;", p);
    dlh_layer_inst *l = make(type, body, ndim, dims);
    if (!ok(l != NULL, "%s %s: created for statistics", type, body))
        return;
    dlh_shape in = shape_of(ndim, dims);
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *y2 = malloc(N * sizeof *y2);
    if (!x || !y || !y2) {
        ok(0, "out of memory");
        goto out;
    }
    /* standard normal inputs, Box-Muller over a fixed LCG; never 0 */
    uint64_t s = 12345;
    for (int i = 0; i < N; i += 2) {
        double u[2];
        for (int k = 0; k < 2; k++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            u[k] = ((double)(s >> 11) + 0.5) / 9007199254740992.0;
        }
        double r = sqrt(-2.0 * log(u[0]));
        x[i] = (float)(r * cos(6.283185307179586 * u[1]));
        x[i + 1] = (float)(r * sin(6.283185307179586 * u[1]));
        if (x[i] == 0.0f)
            x[i] = 1e-3f;
        if (x[i + 1] == 0.0f)
            x[i + 1] = 1e-3f;
    }
    if (run(l, &in, B, 1, 5, x, y, NULL, NULL, NULL) < 0) {
        ok(0, "%s: forward", type);
        goto out;
    }
    double keep = 1.0 - p;
    long kept = 0, units = channel ? B * 2500 : N, torn = 0;
    /* alpha: a dropped element is exactly b = alpha' a p - alpha' a in float */
    const double alpha = 1.7580993408473766;
    double a = 1. / sqrt((alpha * alpha * p + 1) * (1 - p));
    float dropped = (float)(-1.0f * (float)(alpha * a) + (float)(alpha * a * p));
    double sum = 0, sum2 = 0;
    for (long u = 0; u < units; u++) {
        if (channel) {
            int k = 0;
            for (int j = 0; j < 4; j++)
                k += y[u * 4 + j] != 0.0f;
            torn += k != 0 && k != 4;
            kept += k == 4;
        } else {
            kept += y[u] != dropped;
            sum += y[u];
            sum2 += (double)y[u] * y[u];
        }
    }
    double frac = (double)kept / (double)units, tol = 5.0 * sqrt(p * keep / (double)units);
    ok(fabs(frac - keep) <= tol, "%s p %g: kept fraction %.4f within %.4f of %.2f", type, p,
       frac, tol, keep);
    if (channel) {
        ok(torn == 0, "dropout2d p %g: every channel kept or dropped whole (%ld torn)", p,
           torn);
    } else {
        double mean = sum / N, var = sum2 / N - mean * mean;
        /* the sample moments of 40000 values: 5 sigma is 0.025 and 0.035
           (the inputs' own sampling is in it) */
        ok(fabs(mean) < 0.025 && fabs(var - 1.0) < 0.05,
           "alpha_dropout p %g keeps N(0, 1) inputs at mean %.4f, variance %.4f", p, mean,
           var);
    }
    long diff_same = 0, diff_next = 0;
    int rc = run(l, &in, B, 1, 5, x, y2, NULL, NULL, NULL);
    for (int i = 0; rc == 0 && i < N; i++)
        diff_same += y2[i] != y[i];
    rc = rc < 0 ? rc : run(l, &in, B, 1, 6, x, y2, NULL, NULL, NULL);
    for (int i = 0; rc == 0 && i < N; i++)
        diff_next += y2[i] != y[i];
    ok(rc == 0 && diff_same == 0 && diff_next > N / 100,
       "%s p %g: the same step draws the same mask, the next another (%ld differ)", type,
       p, diff_next);
out:
    free(x);
    free(y);
    free(y2);
    dlh_layer_free(l);
}

static void check_drop_errors(const char *type)
{
    const int64_t img[3] = { 2, 3, 3 };
    refuses(type, "rate = 1.5;", 3, img,
            "dropout probability has to be between 0 and 1, but got 1.5");
    refuses(type, "rate = -0.1;", 3, img,
            "dropout probability has to be between 0 and 1, but got -0.1");
    refuses(type, "rate = \"half\";", 3, img, "'rate'");
    refuses(type, "p = 0.5;", 3, img, "unknown parameter 'p'");
    refuses_two_inputs(type, "");
}

/* ------------------------------------------------------------ identity */

static void check_identity(void)
{
    const int64_t dims[2] = { 3, 5 };
    dlh_layer_inst *l = make("identity", "", 2, dims);
    if (!ok(l != NULL, "identity: created"))
        return;
    ok(l->output_is_view == 1 && l->n_params == 0 && l->output.ndim == 2 &&
       l->output.dim[0] == 3 && l->output.dim[1] == 5,
       "identity: output [3, 5] declared a view, no tensors");
    float x[45], dy[45], y[45], dx[45];
    for (int i = 0; i < 45; i++) {
        x[i] = (float)i * 0.37f - 8.0f;
        dy[i] = (float)(i % 5) - 2.0f;
    }
    x[0] = -0.0f;
    int same = run(l, &(dlh_shape){ 2, { 3, 5 } }, 3, 1, 0, x, y, dy, dx, NULL) == 0;
    for (int i = 0; same && i < 45; i++)
        same = memcmp(&y[i], &x[i], sizeof(float)) == 0 && dx[i] == dy[i];
    ok(same, "identity: y = x and dx = dy bit for bit (nn.Identity)");
    dlh_layer_free(l);
    refuses("identity", "rate = 0.5;", 2, dims, "unknown parameter 'rate'");
    refuses_two_inputs("identity", "");
}

int main(void)
{
    if (dlh_registry_load_all(0) < 0) {
        ok(0, "load plugins: %s", dlh_error_get());
        return done_testing();
    }
    host = dlh_host_table();
    if (!(be = backend_open_or_skip(ACT_LAYERS_BACKEND)))
        return done_testing();

    for (size_t i = 0; i < sizeof prelu_refs / sizeof prelu_refs[0]; i++)
        check_prelu(&prelu_refs[i]);
    check_prelu_errors();

    for (size_t i = 0; i < sizeof maxout_refs / sizeof maxout_refs[0]; i++)
        check_maxout(&maxout_refs[i]);
    check_maxout_errors();

    static const drop_case cases[2] = { { "dropout2d", 1 }, { "alpha_dropout", 0 } };
    for (int c = 0; c < 2; c++) {
        for (size_t i = 0; i < sizeof drop_refs / sizeof drop_refs[0]; i++)
            check_drop_ref(&cases[c], &drop_refs[i]);
        check_drop_edges(cases[c].type);
        check_drop_stats(cases[c].type, cases[c].channel, 0.5);
        check_drop_stats(cases[c].type, cases[c].channel, 0.1);
        check_drop_errors(cases[c].type);
        /* every forward of the check runs under one ctx: one fixed mask */
        dlh_layer_inst *l = make(cases[c].type, "rate = 0.3;", 3,
                                 (const int64_t[]){ 3, 2, 2 });
        if (ok(l != NULL, "%s: created for the gradient check", cases[c].type))
            check_grad(l, 3, (const int64_t[]){ 3, 2, 2 }, 4, 0.0, 1.0, cases[c].type);
        dlh_layer_free(l);
    }
    refuses("dropout2d", "", 1, (const int64_t[]){ 12 },
            "dropout2d expects samples of shape [C, H, W] (or [C, L]), got 1 dimension");

    check_identity();

    dlh_backend_close(be);
    dlh_registry_clear();
    return done_testing();
}
