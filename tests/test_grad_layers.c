/* The spatial and join layers of the "layers" plugin: conv2d (groups and
 * padding "same" too), conv_transpose2d, maxpool2d, avgpool2d, flatten,
 * reshape, add and concat.  Gradients against central differences
 * (tests/gradcheck.c), forward and backward values of conv2d,
 * conv_transpose2d and the pools against naive loops in double, and the
 * messages for bad parameters and shapes.  Against PyTorch's values:
 * test_conv_layers.c. */
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


static dlh_shape shape3(int64_t a, int64_t b, int64_t c)
{
    dlh_shape s = { 3, { a, b, c } };
    return s;
}

static dlh_shape shape2(int64_t a, int64_t b)
{
    dlh_shape s = { 2, { a, b } };
    return s;
}

/* Creates layer `type` over n_in inputs; NULL (with a diag) on failure, the
   return code in *rc when rc is not NULL. */
static dlh_layer_inst *layer_new_rc(const char *type, const char *body, int n_in,
                                    const dlh_shape *in, int64_t max_batch, int *rc)
{
    tparams t = tp_new(body, "layer 'l'");
    dlh_layer_inst *l = NULL;
    int r = t.p ? dlh_layer_new(be, type, "l", t.p, n_in, in, max_batch, NULL, 42, &l)
                : DLH_ECONFIG;
    if (rc)
        *rc = r;
    tp_free(&t);
    return r < 0 ? NULL : l;
}

static dlh_layer_inst *layer_new(const char *type, const char *body, int n_in,
                                 const dlh_shape *in, int64_t max_batch)
{
    int rc;
    dlh_layer_inst *l = layer_new_rc(type, body, n_in, in, max_batch, &rc);
    if (!l)
        diag("%s {%s}: %s", type, body, dlh_error_get());
    return l;
}

static int shape_is(const dlh_shape *s, int ndim, const int64_t *dims)
{
    if (s->ndim != ndim)
        return 0;
    for (int i = 0; i < ndim; i++)
        if (s->dim[i] != dims[i])
            return 0;
    return 1;
}

static const char *shape_str(const dlh_shape *s, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < s->ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "",
                                 (long long)s->dim[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

/* A batch tensor of `batch` samples of per-sample shape s. */
static int batch_tensor(int64_t batch, const dlh_shape *s, dlh_tensor *t)
{
    int64_t dims[DLH_MAX_DIMS];
    dims[0] = batch;
    for (int i = 0; i < s->ndim; i++)
        dims[i + 1] = s->dim[i];
    return dlh_tensor_alloc(be, s->ndim + 1, dims, t);
}

/* Deterministic values in (-1, 1). */
static void fill_values(float *v, int64_t n, uint64_t stream)
{
    for (int64_t i = 0; i < n; i++)
        v[i] = dlh_philox_uniform(5, stream, (uint64_t)i, -1.0f, 1.0f);
}

static float *read_tensor(const dlh_tensor *t)
{
    float *h = calloc((size_t)dlh_tensor_numel(t), sizeof *h);
    if (h && dlh_host_table()->tensor_read(be, t, h) < 0) {
        free(h);
        return NULL;
    }
    return h;
}

/* max |a - b| / max(1, max |b|) */
static double max_err(const float *a, const double *b, int64_t n)
{
    double scale = 1, e = 0;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(b[i]));
    for (int64_t i = 0; i < n; i++)
        e = fmax(e, fabs(a[i] - b[i]));
    return a && b ? e / scale : INFINITY;
}

static void grad(const char *type, const char *body, int n_in, const dlh_shape *in,
                 int64_t batch, const gc_options *opt, const char *what)
{
    dlh_layer_inst *l = layer_new(type, body, n_in, in, batch);
    if (!ok(l != NULL, "%s %s: created", type, what))
        return;
    gc_options def = { .eps = 1e-2, .lo = 0.0, .hi = 1.0, .seed = 7 };
    gc_report rep;
    int rc = gradcheck_layer(l, batch, n_in, in, opt ? opt : &def, &rep);
    ok(rc == 0 && rep.err < GC_TOL, "%s %s: gradients match central differences "
       "(max rel err %.2e over %lld values)", type, what, rep.err,
       (long long)rep.n_checked);
    if (rc < 0)
        diag("%s", dlh_error_get());
    else if (rep.err >= GC_TOL)
        diag("worst: %s", rep.worst);
    dlh_layer_free(l);
}

/* Results of two training steps of a layer with one input. */
typedef struct two_steps {
    float *y, *dx;              /* of the first step */
    float *dw, *db;             /* accumulated over both (db NULL without a bias) */
} two_steps;

static void two_steps_free(two_steps *t)
{
    free(t->y);
    free(t->dx);
    free(t->dw);
    free(t->db);
}

/* Forward and backward of `batch` samples (host x and dy) twice after zeroing
   the parameter gradients, the second backward without d_input (it only adds
   to them; backward reuses forward's scratch, so each needs its forward).
   d_input starts as garbage: backward must overwrite it.  0 or DLH_E*. */
static int run_two_steps(dlh_layer_inst *l, int64_t batch, const dlh_shape *in,
                         const float *x, const float *dy, two_steps *t)
{
    const dlh_host *host = dlh_host_table();
    memset(t, 0, sizeof *t);
    dlh_tensor tx = { 0 }, ty = { 0 }, tdy = { 0 }, tdx = { 0 }, nodx = { 0 };
    dlh_tensor *views = calloc((size_t)l->n_scratch + 1, sizeof *views);
    int rc = views ? 0 : DLH_ENOMEM;
    rc = rc < 0 ? rc : batch_tensor(batch, in, &tx);
    rc = rc < 0 ? rc : batch_tensor(batch, in, &tdx);
    rc = rc < 0 ? rc : batch_tensor(batch, &l->output, &ty);
    rc = rc < 0 ? rc : batch_tensor(batch, &l->output, &tdy);
    rc = rc < 0 ? rc : host->tensor_write(be, &tx, x);
    rc = rc < 0 ? rc : host->tensor_write(be, &tdy, dy);
    rc = rc < 0 ? rc : be->ops->fill(be->ctx, tdx.mem, (size_t)dlh_tensor_numel(&tdx), 123.0f);
    dlh_layer_ctx ctx;
    if (rc == 0)
        dlh_layer_ctx_fill(l, batch, 1, 0, 1, &ctx, views);
    rc = rc < 0 ? rc : dlh_layer_zero_grad(l);
    for (int step = 0; step < 2; step++) {
        rc = rc < 0 ? rc : l->ops->forward(l->state, &ctx, &tx, &ty);
        rc = rc < 0 ? rc : l->ops->backward(l->state, &ctx, &tx, &ty, &tdy,
                                             step ? &nodx : &tdx);
        if (rc == 0 && step == 0) {
            t->y = read_tensor(&ty);
            t->dx = read_tensor(&tdx);
        }
    }
    if (rc == 0) {
        t->dw = read_tensor(&l->params[0].grad);
        t->db = l->n_params > 1 ? read_tensor(&l->params[1].grad) : NULL;
        if (!t->y || !t->dx || !t->dw || (l->n_params > 1 && !t->db))
            rc = DLH_ENOMEM;
    }
    dlh_tensor_free(be, &tx);
    dlh_tensor_free(be, &ty);
    dlh_tensor_free(be, &tdy);
    dlh_tensor_free(be, &tdx);
    free(views);
    return rc;
}

/* ------------------------------------------------------------ conv2d values */

typedef struct conv_case {
    int c, h, w, out;
    int kh, kw, sh, sw, ph, pw, dh, dw;
    int bias;
    int groups;                 /* 0: 1 */
} conv_case;

static int conv_groups(const conv_case *k)
{
    return k->groups > 0 ? k->groups : 1;
}

static int conv_oh(const conv_case *k)
{
    return (k->h + 2 * k->ph - k->dh * (k->kh - 1) - 1) / k->sh + 1;
}

static int conv_ow(const conv_case *k)
{
    return (k->w + 2 * k->pw - k->dw * (k->kw - 1) - 1) / k->sw + 1;
}

/* Naive direct convolution and its gradients, in double. */
static void conv_naive(const conv_case *k, int batch, const float *x, const float *wt,
                       const float *b, const float *dy, double *y, double *dx,
                       double *dw, double *db)
{
    int oh = conv_oh(k), ow = conv_ow(k), cg = k->c / conv_groups(k);
    int og = k->out / conv_groups(k);
    size_t nx = (size_t)batch * k->c * k->h * k->w;
    size_t nw = (size_t)k->out * cg * k->kh * k->kw;
    memset(dx, 0, nx * sizeof *dx);
    memset(dw, 0, nw * sizeof *dw);
    memset(db, 0, (size_t)k->out * sizeof *db);
    for (int n = 0; n < batch; n++)
        for (int o = 0; o < k->out; o++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    size_t yi = (((size_t)n * k->out + o) * oh + oy) * ow + ox;
                    double s = k->bias ? b[o] : 0.0, g = dy[yi];
                    db[o] += g;
                    for (int c = o / og * cg; c < (o / og + 1) * cg; c++)
                        for (int ky = 0; ky < k->kh; ky++)
                            for (int kx = 0; kx < k->kw; kx++) {
                                int iy = oy * k->sh - k->ph + ky * k->dh;
                                int ix = ox * k->sw - k->pw + kx * k->dw;
                                if (iy < 0 || iy >= k->h || ix < 0 || ix >= k->w)
                                    continue;
                                size_t xi = (((size_t)n * k->c + c) * k->h + iy) * k->w + ix;
                                size_t wi = (((size_t)o * cg + c % cg) * k->kh + ky) * k->kw +
                                            kx;
                                s += (double)wt[wi] * x[xi];
                                dx[xi] += (double)wt[wi] * g;
                                dw[wi] += (double)x[xi] * g;
                            }
                    y[yi] = s;
                }
}

/* Forward y, backward dx, dW and db of conv2d against conv_naive; a second
   backward without d_input must double dW and db (accumulation). */
static void check_conv_values(const conv_case *k, int batch, const char *what)
{
    char body[512];
    snprintf(body, sizeof body, "out_channels = %d; kernel_size = [%d, %d]; "
             "stride = [%d, %d]; padding = [%d, %d]; dilation = [%d, %d]; bias = %s; "
             "groups = %d;", k->out, k->kh, k->kw, k->sh, k->sw, k->ph, k->pw, k->dh, k->dw,
             k->bias ? "true" : "false", conv_groups(k));
    dlh_shape in = shape3(k->c, k->h, k->w);
    dlh_layer_inst *l = layer_new("conv2d", body, 1, &in, batch);
    if (!ok(l != NULL, "conv2d values %s: created", what))
        return;
    int oh = conv_oh(k), ow = conv_ow(k);
    int64_t want_out[3] = { k->out, oh, ow };
    int64_t want_w[4] = { k->out, k->c / conv_groups(k), k->kh, k->kw };
    ok(shape_is(&l->output, 3, want_out) && l->n_params == (k->bias ? 2 : 1) &&
       strcmp(l->params[0].name, "weight") == 0 &&
       l->params[0].value.ndim == 4 && l->params[0].value.shape[0] == want_w[0] &&
       l->params[0].value.shape[1] == want_w[1] && l->params[0].value.shape[2] == want_w[2] &&
       l->params[0].value.shape[3] == want_w[3] &&
       (!k->bias || (strcmp(l->params[1].name, "bias") == 0 &&
                     l->params[1].value.shape[0] == k->out)),
       "conv2d values %s: output [%d, %d, %d], weight [out, in, kh, kw]%s", what,
       k->out, oh, ow, k->bias ? ", bias [out]" : "");

    size_t nx = (size_t)batch * k->c * k->h * k->w, ny = (size_t)batch * k->out * oh * ow;
    size_t nw = (size_t)k->out * (k->c / conv_groups(k)) * k->kh * k->kw;
    float *x = malloc(nx * sizeof *x), *dy = malloc(ny * sizeof *dy);
    double *y = malloc(ny * sizeof *y), *dx = malloc(nx * sizeof *dx);
    double *dw = malloc(nw * sizeof *dw), *db = malloc((size_t)k->out * sizeof *db);
    float *wt = read_tensor(&l->params[0].value);
    float *b = k->bias ? read_tensor(&l->params[1].value) : NULL;
    int rc = !x || !dy || !y || !dx || !dw || !db || !wt ||
             (k->bias && !b) ? DLH_ENOMEM : 0;
    if (rc == 0) {
        fill_values(x, (int64_t)nx, 1);
        fill_values(dy, (int64_t)ny, 2);
        /* Spread of the default init: U(+-1/sqrt(fan_in)). */
        double bound = 1.0 / sqrt((double)k->c / conv_groups(k) * k->kh * k->kw), wmax = 0;
        for (size_t i = 0; i < nw; i++)
            wmax = fmax(wmax, fabs(wt[i]));
        ok(wmax <= bound && wmax > 0.5 * bound, "conv2d values %s: default weight init "
           "within +-1/sqrt(in_c kh kw) = %.4f (max |w| %.4f)", what, bound, wmax);
        conv_naive(k, batch, x, wt, b, dy, y, dx, dw, db);
    }
    two_steps t = { NULL, NULL, NULL, NULL };
    rc = rc < 0 ? rc : run_two_steps(l, batch, &in, x, dy, &t);
    for (size_t i = 0; rc == 0 && i < nw; i++)
        dw[i] *= 2;
    for (int i = 0; rc == 0 && i < k->out; i++)
        db[i] *= 2;
    double ey = rc ? 1 : max_err(t.y, y, (int64_t)ny);
    double ex = rc ? 1 : max_err(t.dx, dx, (int64_t)nx);
    double ew = rc ? 1 : max_err(t.dw, dw, (int64_t)nw);
    ok(ey < 1e-5, "conv2d values %s: forward matches the direct convolution (err %.2e)",
       what, ey);
    ok(ex < 1e-5, "conv2d values %s: dx matches (err %.2e)", what, ex);
    ok(ew < 1e-5, "conv2d values %s: dW accumulates sum_n dy[n] col[n]^T over two steps "
       "(err %.2e)", what, ew);
    if (k->bias) {
        double eb = rc ? 1 : max_err(t.db, db, k->out);
        ok(eb < 1e-5, "conv2d values %s: db accumulates the sums of dy over two steps "
           "(err %.2e)", what, eb);
    }
    if (rc < 0)
        diag("%s", dlh_error_get());
    two_steps_free(&t);
    free(x);
    free(dy);
    free(y);
    free(dx);
    free(dw);
    free(db);
    free(wt);
    free(b);
    dlh_layer_free(l);
}

/* ------------------------------------------------------------ conv_transpose2d */

typedef struct convt_case {
    int c, h, w, out, k, s, p, op, d, groups, bias;
} convt_case;

static int convt_size(const convt_case *k, int in)
{
    return (in - 1) * k->s - 2 * k->p + k->d * (k->k - 1) + k->op + 1;
}

/* Forward y, backward dx, dW and db of conv_transpose2d against direct loops
   in double: every input pixel spreads its weighted copies over the output
   (y[o, iy s - p + ky d, ...] += x[i, iy, ...] w[i, o, ky, kx]). */
static void check_convt_values(const convt_case *k, int batch, const char *what)
{
    char body[512];
    snprintf(body, sizeof body, "out_channels = %d; kernel_size = %d; stride = %d; "
             "padding = %d; output_padding = %d; dilation = %d; groups = %d; bias = %s;",
             k->out, k->k, k->s, k->p, k->op, k->d, k->groups, k->bias ? "true" : "false");
    dlh_shape in = shape3(k->c, k->h, k->w);
    dlh_layer_inst *l = layer_new("conv_transpose2d", body, 1, &in, batch);
    if (!ok(l != NULL, "conv_transpose2d values %s: created", what))
        return;
    int oh = convt_size(k, k->h), ow = convt_size(k, k->w);
    int cg = k->c / k->groups, og = k->out / k->groups;
    size_t nx = (size_t)batch * k->c * k->h * k->w, ny = (size_t)batch * k->out * oh * ow;
    size_t nw = (size_t)k->c * og * k->k * k->k;
    float *x = malloc(nx * sizeof *x), *dy = malloc(ny * sizeof *dy);
    double *y = calloc(ny, sizeof *y), *dx = calloc(nx, sizeof *dx);
    double *dw = calloc(nw, sizeof *dw), *db = calloc((size_t)k->out, sizeof *db);
    float *wt = read_tensor(&l->params[0].value);
    float *b = k->bias ? read_tensor(&l->params[1].value) : NULL;
    int rc = !x || !dy || !y || !dx || !dw || !db || !wt || (k->bias && !b)
                 ? DLH_ENOMEM : 0;
    if (rc == 0) {
        fill_values(x, (int64_t)nx, 1);
        fill_values(dy, (int64_t)ny, 2);
        for (size_t i = 0; i < ny; i++) {
            int o = (int)(i / ((size_t)oh * ow) % (size_t)k->out);
            y[i] = k->bias ? b[o] : 0.0;
            db[o] += 2.0 * dy[i];
        }
        for (int n = 0; n < batch; n++)
            for (int i = 0; i < k->c; i++)
                for (int iy = 0; iy < k->h; iy++)
                    for (int ix = 0; ix < k->w; ix++) {
                        size_t xi = (((size_t)n * k->c + i) * k->h + iy) * k->w + ix;
                        for (int oo = 0; oo < og; oo++)
                            for (int ky = 0; ky < k->k; ky++)
                                for (int kx = 0; kx < k->k; kx++) {
                                    int yy = iy * k->s - k->p + ky * k->d;
                                    int yx = ix * k->s - k->p + kx * k->d;
                                    if (yy < 0 || yy >= oh || yx < 0 || yx >= ow)
                                        continue;
                                    int o = i / cg * og + oo;
                                    size_t yi = (((size_t)n * k->out + o) * oh + yy) * ow + yx;
                                    size_t wi = (((size_t)i * og + oo) * k->k + ky) * k->k + kx;
                                    y[yi] += (double)x[xi] * wt[wi];
                                    dx[xi] += (double)dy[yi] * wt[wi];
                                    dw[wi] += 2.0 * x[xi] * dy[yi];
                                }
                    }
    }
    two_steps t = { NULL, NULL, NULL, NULL };
    rc = rc < 0 ? rc : run_two_steps(l, batch, &in, x, dy, &t);
    double ey = rc ? 1 : max_err(t.y, y, (int64_t)ny);
    double ex = rc ? 1 : max_err(t.dx, dx, (int64_t)nx);
    double ew = rc ? 1 : max_err(t.dw, dw, (int64_t)nw);
    double eb = rc || !k->bias ? 0 : max_err(t.db, db, k->out);
    ok(rc == 0 && ey < 1e-5 && ex < 1e-5 && ew < 1e-5 && eb < 1e-5,
       "conv_transpose2d values %s: y, dx, dW and db (twice) match the direct loops "
       "(err %.2e %.2e %.2e %.2e)", what, ey, ex, ew, eb);
    if (rc < 0)
        diag("%s", dlh_error_get());
    two_steps_free(&t);
    free(x);
    free(dy);
    free(y);
    free(dx);
    free(dw);
    free(db);
    free(wt);
    free(b);
    dlh_layer_free(l);
}

static void check_conv_transpose(void)
{
    dlh_shape in;
    in = shape3(2, 3, 4);
    grad("conv_transpose2d", "out_channels = 3; kernel_size = 3;", 1, &in, 2, NULL,
         "3x3, stride 1");
    in = shape3(3, 3, 3);
    grad("conv_transpose2d", "out_channels = 2; kernel_size = 3; stride = 2; padding = 1; "
         "output_padding = 1;", 1, &in, 2, NULL, "stride 2, padding 1, output_padding 1");
    in = shape3(4, 3, 2);
    grad("conv_transpose2d", "out_channels = 2; kernel_size = [2, 3]; stride = [2, 1]; "
         "dilation = [1, 2]; groups = 2; bias = false;", 1, &in, 2, NULL,
         "kernel [2, 3], stride [2, 1], dilation [1, 2], groups 2, no bias");
    in = shape3(2, 2, 3);
    grad("conv_transpose2d", "out_channels = 2; kernel_size = 2; dilation = 3; "
         "output_padding = 2;", 1, &in, 2, NULL, "output_padding 2 >= stride, < dilation 3");
    in = shape3(4, 3, 3);
    grad("conv_transpose2d", "out_channels = 6; kernel_size = 1; groups = 2;", 1, &in, 2,
         NULL, "1x1, groups 2 (no col2im)");
    in = shape3(3, 2, 2);
    grad("conv_transpose2d", "out_channels = 3; kernel_size = 4; stride = 2; padding = 1; "
         "groups = 3;", 1, &in, 3, NULL, "depthwise 4x4, stride 2, padding 1");

    /* c h w out k s p op d groups bias */
    const convt_case cases[] = {
        { 3, 5, 4, 4, 3, 2, 1, 1, 1, 1, 1 },
        { 4, 3, 3, 6, 2, 3, 0, 2, 2, 2, 0 },
        { 6, 4, 4, 6, 3, 1, 2, 0, 2, 6, 1 },
    };
    const char *names[] = { "3x3 stride 2 padding 1 output_padding 1",
                            "2x2 stride 3 output_padding 2 dilation 2 groups 2, no bias",
                            "depthwise 3x3 padding 2 dilation 2" };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_convt_values(&cases[i], 3, names[i]);
    /* in_c * out_c/groups * kh * kw beyond the partials' budget. */
    const convt_case chunk2 = { 256, 1, 1, 128, 3, 1, 0, 0, 1, 1, 1 };
    check_convt_values(&chunk2, 4, "256 to 128 channels from 1x1 (dW in chunks of 3 "
                       "samples)");
    const convt_case chunk1 = { 512, 1, 1, 512, 3, 2, 0, 0, 1, 2, 1 };
    check_convt_values(&chunk1, 2, "512 to 512 channels, groups 2 (dW one sample at a "
                       "time)");
}

static void check_conv(void)
{
    dlh_shape in;

    in = shape3(2, 5, 6);
    grad("conv2d", "out_channels = 3; kernel_size = 3;", 1, &in, 2, NULL,
         "in_c 2, 3x3, stride 1, no padding");
    in = shape3(3, 7, 6);
    grad("conv2d", "out_channels = 2; kernel_size = 3; stride = 2; padding = 1;", 1, &in,
         2, NULL, "stride 2, padding 1");
    in = shape3(1, 5, 5);
    grad("conv2d", "out_channels = 2; kernel_size = [2, 3]; padding = [2, 1]; "
         "bias = false;", 1, &in, 3, NULL, "rectangular 2x3, padding [2, 1], no bias");
    in = shape3(2, 7, 7);
    grad("conv2d", "out_channels = 3; kernel_size = 3; dilation = 2; padding = 2;", 1,
         &in, 2, NULL, "dilation 2, padding 2");
    in = shape3(2, 7, 6);
    grad("conv2d", "out_channels = 2; kernel_size = [3, 2]; stride = [2, 1]; "
         "padding = [0, 1]; dilation = [1, 2];", 1, &in, 2, NULL,
         "kernel [3, 2], stride [2, 1], padding [0, 1], dilation [1, 2]");
    in = shape3(3, 4, 4);
    grad("conv2d", "out_channels = 4; kernel_size = 1;", 1, &in, 2, NULL,
         "1x1 (no im2col)");
    in = shape3(2, 3, 3);
    grad("conv2d", "out_channels = 5; kernel_size = 3;", 1, &in, 3, NULL,
         "one output pixel, out_c > P (dW in chunks)");
    in = shape3(1, 4, 4);
    grad("conv2d", "out_channels = 1; kernel_size = 2; stride = 2;", 1, &in, 1, NULL,
         "batch 1, one channel in and out");

    /* c h w out  kh kw sh sw ph pw dh dw bias groups */
    const conv_case cases[] = {
        { 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1, 1 },
        { 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1, 1 },
        { 3, 9, 8, 4, 3, 2, 2, 3, 1, 0, 2, 1, 0, 1 },
        { 4, 5, 7, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1 },
        { 3, 6, 6, 2, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1 },
    };
    const char *names[] = {
        "LeNet conv1 (6@5x5 pad 2 on 1x28x28)", "LeNet conv2 (16@5x5 on 6x14x14)",
        "kernel [3, 2] stride [2, 3] padding [1, 0] dilation [2, 1] no bias",
        "1x1 (no im2col)", "1x1 stride 2 padding 1 (im2col)",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_conv_values(&cases[i], i < 2 ? 4 : 3, names[i]);
    /* out_c * K beyond the partials' budget: chunks of 2 samples, then one
       accumulating gemm per sample. */
    const conv_case chunk2 = { 40, 3, 3, 1024, 3, 3, 1, 1, 0, 0, 1, 1, 1, 1 };
    check_conv_values(&chunk2, 3, "out 1024 over 40x3x3 (dW in chunks of 2 samples)");
    const conv_case chunk1 = { 64, 3, 3, 1024, 3, 3, 1, 1, 0, 0, 1, 1, 0, 1 };
    check_conv_values(&chunk1, 2, "out 1024 over 64x3x3 (dW one sample at a time)");
    const conv_case gchunk2 = { 40, 3, 3, 1024, 3, 3, 1, 1, 0, 0, 1, 1, 1, 4 };
    check_conv_values(&gchunk2, 3, "out 1024 over 40x3x3, groups 4 (dW in chunks)");
    const conv_case gchunk1 = { 256, 3, 3, 1024, 3, 3, 1, 1, 0, 0, 1, 1, 1, 2 };
    check_conv_values(&gchunk1, 2, "out 1024 over 256x3x3, groups 2 (dW one sample at a "
                      "time)");
    const conv_case depthwise = { 4, 9, 8, 8, 3, 3, 2, 1, 1, 1, 1, 2, 1, 4 };
    check_conv_values(&depthwise, 3, "depthwise x2, stride [2, 1], dilation [1, 2]");
    const conv_case groups_1x1 = { 6, 4, 5, 4, 1, 1, 1, 1, 0, 0, 1, 1, 0, 2 };
    check_conv_values(&groups_1x1, 2, "1x1 groups 2 (no im2col)");

    in = shape3(4, 5, 5);
    grad("conv2d", "out_channels = 6; kernel_size = 3; padding = 1; groups = 2;", 1, &in, 2,
         NULL, "groups 2");
    in = shape3(3, 6, 5);
    grad("conv2d", "out_channels = 6; kernel_size = 3; stride = 2; groups = 3;", 1, &in, 3,
         NULL, "depthwise x2, stride 2 (groups > batch)");
    in = shape3(2, 5, 6);
    grad("conv2d", "out_channels = 3; kernel_size = [2, 4]; padding = \"same\";", 1, &in, 2,
         NULL, "padding same, even kernel [2, 4]");
    in = shape3(2, 5, 5);
    grad("conv2d", "out_channels = 2; kernel_size = 2; dilation = 3; padding = \"same\"; "
         "groups = 2;", 1, &in, 2, NULL, "padding same, kernel 2, dilation 3, depthwise");
    in = shape3(1, 1, 1);
    grad("conv2d", "out_channels = 2; kernel_size = 2; padding = \"same\";", 1, &in, 3,
         NULL, "padding same, 2x2 over one pixel");
    in = shape3(2, 5, 4);
    grad("conv2d", "out_channels = 2; kernel_size = 3; padding = \"valid\";", 1, &in, 2,
         NULL, "padding valid");
    dlh_layer_inst *sl = layer_new("conv2d", "out_channels = 5; kernel_size = [4, 3]; "
                                   "dilation = [1, 3]; padding = \"same\";", 1, &in, 2);
    int64_t want_same[3] = { 5, 5, 4 };
    ok(sl && shape_is(&sl->output, 3, want_same),
       "conv2d padding same keeps [2, 5, 4] at [5, 5, 4]");
    dlh_layer_free(sl);

    /* Scalar forms and the output size. */
    in = shape3(3, 32, 30);
    dlh_layer_inst *l = layer_new("conv2d", "out_channels = 8; kernel_size = 3; "
                                  "stride = 2; padding = 1; dilation = 2;", 1, &in, 2);
    int64_t want[3] = { 8, 15, 14 };
    char s[64];
    ok(l && shape_is(&l->output, 3, want),
       "conv2d [3, 32, 30] k3 s2 p1 d2: output %s (PyTorch: [8, 15, 14])",
       l ? shape_str(&l->output, s, sizeof s) : "none");
    dlh_layer_free(l);
}

/* ------------------------------------------------------------ pooling */

/* The first seed >= 1 whose gradcheck inputs (drawn as tests/gradcheck.c
   draws them) have, in every pooling window, a maximum at least 3 eps above
   the rest: central differences then never move the argmax. */
static uint64_t pool_seed(const dlh_shape *in, int64_t batch, int kh, int kw, int sh,
                          int sw, int ph, int pw, int dh, int dw, double eps)
{
    int c = (int)in->dim[0], h = (int)in->dim[1], w = (int)in->dim[2];
    int oh = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
    int ow = (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
    int64_t n = batch * c * h * w;
    float *x = malloc((size_t)n * sizeof *x);
    for (uint64_t seed = 1; x && seed < 1000; seed++) {
        for (int64_t i = 0; i < n; i++) {
            /* gradcheck.c's gc_fill for input 0, lo 0, hi 1 */
            float mag = dlh_philox_uniform(seed, 100, (uint64_t)(2 * i), 0.0f, 1.0f);
            float sign = dlh_philox_uniform(seed, 100, (uint64_t)(2 * i + 1), 0, 1);
            x[i] = sign < 0.5f ? -mag : mag;
        }
        int good = 1;
        for (int64_t p = 0; good && p < batch * c; p++)
            for (int oy = 0; good && oy < oh; oy++)
                for (int ox = 0; good && ox < ow; ox++) {
                    float best = -INFINITY, second = -INFINITY;
                    for (int ky = 0; ky < kh; ky++)
                        for (int kx = 0; kx < kw; kx++) {
                            int iy = oy * sh - ph + ky * dh, ix = ox * sw - pw + kx * dw;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                continue;
                            float v = x[p * h * w + iy * w + ix];
                            if (v > best) {
                                second = best;
                                best = v;
                            } else if (v > second) {
                                second = v;
                            }
                        }
                    good = best - second > 3 * eps;
                }
        if (good) {
            free(x);
            return seed;
        }
    }
    free(x);
    return 0;
}

static void grad_maxpool(const char *body, const dlh_shape *in, int64_t batch, int kh,
                         int kw, int sh, int sw, int ph, int pw, int dh, int dw,
                         const char *what)
{
    gc_options opt = { .eps = 1e-3, .lo = 0.0, .hi = 1.0, .seed = 0 };
    opt.seed = pool_seed(in, batch, kh, kw, sh, sw, ph, pw, dh, dw, opt.eps);
    if (opt.seed == 0) {
        skip("maxpool2d: no seed below 1000 gives inputs without near ties");
        return;
    }
    grad("maxpool2d", body, 1, in, batch, &opt, what);
}

/* Naive pooling of one [C, H, W] batch: max, or avg over the cells inside. */
static void pool_naive(int is_max, const dlh_shape *in, int batch, int kh, int kw, int sh,
                       int sw, int ph, int pw, const float *x, double *y)
{
    int c = (int)in->dim[0], h = (int)in->dim[1], w = (int)in->dim[2];
    int oh = (h + 2 * ph - kh) / sh + 1, ow = (w + 2 * pw - kw) / sw + 1;
    for (int p = 0; p < batch * c; p++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                double best = -INFINITY, sum = 0;
                int count = 0;
                for (int ky = 0; ky < kh; ky++)
                    for (int kx = 0; kx < kw; kx++) {
                        int iy = oy * sh - ph + ky, ix = ox * sw - pw + kx;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                            continue;
                        double v = x[(size_t)p * h * w + iy * w + ix];
                        best = fmax(best, v);
                        sum += v;
                        count++;
                    }
                y[((size_t)p * oh + oy) * ow + ox] = is_max ? best : sum / count;
            }
}

/* Forward values, in training and evaluation, against pool_naive. */
static void check_pool_values(int is_max, const char *body, const dlh_shape *in, int kh,
                              int kw, int sh, int sw, int ph, int pw, const char *what)
{
    const char *type = is_max ? "maxpool2d" : "avgpool2d";
    const int batch = 2;
    dlh_layer_inst *l = layer_new(type, body, 1, in, batch);
    if (!ok(l != NULL, "%s values %s: created", type, what))
        return;
    int oh = ((int)in->dim[1] + 2 * ph - kh) / sh + 1;
    int ow = ((int)in->dim[2] + 2 * pw - kw) / sw + 1;
    int64_t want[3] = { in->dim[0], oh, ow };
    char s[64];
    ok(shape_is(&l->output, 3, want) && l->n_params == 0,
       "%s values %s: output %s, no parameters", type, what,
       shape_str(&l->output, s, sizeof s));
    dlh_shape out = l->output;
    int64_t nx = batch * dlh_shape_numel(in), ny = batch * dlh_shape_numel(&out);
    float *x = malloc((size_t)nx * sizeof *x), *gy = malloc((size_t)ny * sizeof *gy);
    double *y = malloc((size_t)ny * sizeof *y);
    dlh_tensor tx = { 0 }, ty = { 0 };
    dlh_tensor *views = calloc((size_t)l->n_scratch + 1, sizeof *views);
    int rc = x && gy && y && views ? 0 : DLH_ENOMEM;
    if (rc == 0) {
        fill_values(x, nx, 3);
        pool_naive(is_max, in, batch, kh, kw, sh, sw, ph, pw, x, y);
    }
    rc = rc < 0 ? rc : batch_tensor(batch, in, &tx);
    rc = rc < 0 ? rc : batch_tensor(batch, &out, &ty);
    rc = rc < 0 ? rc : dlh_host_table()->tensor_write(be, &tx, x);
    for (int training = 1; training >= 0; training--) {
        dlh_layer_ctx ctx;
        dlh_layer_ctx_fill(l, batch, training, 0, 1, &ctx, views);
        int r = rc < 0 ? rc : l->ops->forward(l->state, &ctx, &tx, &ty);
        r = r < 0 ? r : dlh_host_table()->tensor_read(be, &ty, gy);
        double e = r == 0 ? max_err(gy, y, ny) : 1.0;
        ok(r == 0 && e < 1e-6, "%s values %s (%s): forward matches the naive pooling "
           "(err %.2e)", type, what, training ? "training" : "evaluation", e);
        if (r < 0)
            diag("%s", dlh_error_get());
    }
    dlh_tensor_free(be, &tx);
    dlh_tensor_free(be, &ty);
    free(views);
    free(x);
    free(gy);
    free(y);
    dlh_layer_free(l);
}

static void check_pools(void)
{
    dlh_shape in = shape3(2, 4, 6);
    grad_maxpool("kernel_size = 2;", &in, 2, 2, 2, 2, 2, 0, 0, 1, 1, "2x2");
    in = shape3(2, 7, 7);
    grad_maxpool("kernel_size = 3; stride = 2; padding = 1;", &in, 2, 3, 3, 2, 2, 1, 1,
                 1, 1, "3x3 stride 2 padding 1");
    in = shape3(1, 5, 6);
    grad_maxpool("kernel_size = [2, 3]; stride = [1, 2]; padding = [1, 1];", &in, 2, 2,
                 3, 1, 2, 1, 1, 1, 1, "[2, 3] stride [1, 2] padding [1, 1]");
    in = shape3(2, 5, 5);
    grad_maxpool("kernel_size = 2; stride = 1; dilation = 2;", &in, 2, 2, 2, 1, 1, 0, 0,
                 2, 2, "2x2 stride 1 dilation 2");

    gc_options opt = { .eps = 1e-2, .lo = 0.0, .hi = 1.0, .seed = 9 };
    in = shape3(2, 7, 7);
    grad("avgpool2d", "kernel_size = 3; stride = 2; padding = 1;", 1, &in, 2, &opt,
         "3x3 stride 2 padding 1");
    in = shape3(3, 4, 4);
    grad("avgpool2d", "kernel_size = 2;", 1, &in, 2, &opt, "2x2");
    in = shape3(2, 5, 6);
    grad("avgpool2d", "kernel_size = [3, 2]; stride = [1, 2]; padding = [1, 0];", 1,
         &in, 3, &opt, "[3, 2] stride [1, 2] padding [1, 0]");

    in = shape3(3, 7, 7);
    check_pool_values(1, "kernel_size = 3; stride = 2; padding = 1;", &in, 3, 3, 2, 2, 1,
                      1, "3x3 stride 2 padding 1");
    check_pool_values(0, "kernel_size = 3; stride = 2; padding = 1; "
                      "count_include_pad = false;", &in, 3, 3, 2, 2, 1,
                      1, "3x3 stride 2 padding 1 (padding not counted)");
    in = shape3(2, 9, 8);
    check_pool_values(1, "kernel_size = [3, 2];", &in, 3, 2, 3, 2, 0, 0,
                      "[3, 2], stride = kernel, floor mode");
    check_pool_values(0, "kernel_size = 2; stride = [2, 3]; padding = [1, 0]; "
                      "count_include_pad = false;", &in, 2,
                      2, 2, 3, 1, 0, "2x2 stride [2, 3] padding [1, 0]");
}

/* ------------------------------------------------------------ flatten, reshape */

/* Forward of a copy layer (flatten, reshape) keeps the data bit for bit. */
static void check_copy_forward(const char *type, const char *body, const dlh_shape *in,
                               int ndim, const int64_t *want, const char *what)
{
    dlh_layer_inst *l = layer_new(type, body, 1, in, 3);
    char s[64];
    if (!ok(l && shape_is(&l->output, ndim, want), "%s %s: output %s", type, what,
            l ? shape_str(&l->output, s, sizeof s) : "none")) {
        dlh_layer_free(l);
        return;
    }
    int64_t n = 3 * dlh_shape_numel(in);
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    dlh_tensor tx = { 0 }, ty = { 0 };
    int rc = x && y ? 0 : DLH_ENOMEM;
    if (rc == 0)
        fill_values(x, n, 4);
    rc = rc < 0 ? rc : batch_tensor(3, in, &tx);
    rc = rc < 0 ? rc : batch_tensor(3, &l->output, &ty);
    rc = rc < 0 ? rc : dlh_host_table()->tensor_write(be, &tx, x);
    dlh_layer_ctx ctx;
    dlh_layer_ctx_fill(l, 3, 1, 0, 1, &ctx, NULL);
    rc = rc < 0 ? rc : l->ops->forward(l->state, &ctx, &tx, &ty);
    rc = rc < 0 ? rc : dlh_host_table()->tensor_read(be, &ty, y);
    ok(rc == 0 && memcmp(x, y, (size_t)n * sizeof *x) == 0,
       "%s %s: forward keeps the data in order", type, what);
    dlh_tensor_free(be, &tx);
    dlh_tensor_free(be, &ty);
    free(x);
    free(y);
    dlh_layer_free(l);
}

static void check_shape_layers(void)
{
    dlh_shape in = shape3(2, 3, 4);
    check_copy_forward("flatten", "", &in, 1, (const int64_t[]){ 24 }, "[2, 3, 4]");
    grad("flatten", "", 1, &in, 3, NULL, "[2, 3, 4] -> [24]");
    check_copy_forward("reshape", "shape = [4, -1];", &in, 2, (const int64_t[]){ 4, 6 },
                       "[4, -1] of [2, 3, 4]");
    check_copy_forward("reshape", "shape = [1, 2, 12];", &in, 3,
                       (const int64_t[]){ 1, 2, 12 }, "[1, 2, 12] of [2, 3, 4]");
    dlh_shape flat = { 1, { 784 } };
    check_copy_forward("reshape", "shape = [1, 28, 28];", &flat, 3,
                       (const int64_t[]){ 1, 28, 28 }, "[784] to an image");
    check_copy_forward("reshape", "shape = -1;", &in, 1, (const int64_t[]){ 24 },
                       "a scalar -1");
    grad("reshape", "shape = [-1, 2, 2, 3];", 1, &in, 2, NULL, "[2, 3, 4] -> [2, 2, 2, 3]");
}

/* ------------------------------------------------------------ add, concat */

static void check_add(void)
{
    dlh_shape in[3] = { shape2(2, 3), shape2(2, 3), shape2(2, 3) };
    grad("add", "", 3, in, 3, NULL, "3 inputs of [2, 3]");
    grad("add", "", 2, in, 1, NULL, "2 inputs, batch 1");
    dlh_shape img[2] = { shape3(2, 3, 3), shape3(2, 3, 3) };
    grad("add", "", 2, img, 2, NULL, "2 inputs of [2, 3, 3]");

    /* 17 inputs take two ew kernels (15 + 2). */
    enum { K = 17, N = 2, F = 5 };
    dlh_shape many[K];
    for (int i = 0; i < K; i++)
        many[i] = (dlh_shape){ 1, { F } };
    dlh_layer_inst *l = layer_new("add", "", K, many, N);
    if (!ok(l != NULL, "add of %d inputs: created", K))
        return;
    dlh_tensor tx[K], ty = { 0 };
    memset(tx, 0, sizeof tx);
    float x[K][N * F], y[N * F];
    double want[N * F] = { 0 };
    int rc = batch_tensor(N, &many[0], &ty);
    for (int i = 0; i < K; i++) {
        fill_values(x[i], N * F, 10 + (uint64_t)i);
        for (int j = 0; j < N * F; j++)
            want[j] += x[i][j];
        rc = rc < 0 ? rc : batch_tensor(N, &many[i], &tx[i]);
        rc = rc < 0 ? rc : dlh_host_table()->tensor_write(be, &tx[i], x[i]);
    }
    dlh_layer_ctx ctx;
    dlh_layer_ctx_fill(l, N, 1, 0, 1, &ctx, NULL);
    rc = rc < 0 ? rc : l->ops->forward(l->state, &ctx, tx, &ty);
    rc = rc < 0 ? rc : dlh_host_table()->tensor_read(be, &ty, y);
    ok(rc == 0 && max_err(y, want, N * F) < 1e-6, "add of %d inputs: forward is the sum "
       "(err %.2e)", K, rc == 0 ? max_err(y, want, N * F) : 1.0);
    for (int i = 0; i < K; i++)
        dlh_tensor_free(be, &tx[i]);
    dlh_tensor_free(be, &ty);
    dlh_layer_free(l);
}

static void check_concat(void)
{
    dlh_shape a0[2] = { shape3(2, 3, 2), shape3(1, 3, 2) };
    grad("concat", "", 2, a0, 3, NULL, "axis 0: [2, 3, 2] + [1, 3, 2]");
    dlh_shape a1[3] = { shape3(2, 3, 2), shape3(2, 1, 2), shape3(2, 2, 2) };
    grad("concat", "axis = 1;", 3, a1, 2, NULL,
         "axis 1: [2, 3, 2] + [2, 1, 2] + [2, 2, 2]");
    dlh_shape v[2] = { { 1, { 4 } }, { 1, { 3 } } };
    grad("concat", "axis = -1;", 2, v, 2, NULL, "axis -1 of vectors [4] + [3]");

    /* Forward values along axis 1 against the index arithmetic. */
    enum { N = 2 };
    dlh_layer_inst *l = layer_new("concat", "axis = 1;", 3, a1, N);
    int64_t want_shape[3] = { 2, 6, 2 };
    if (!ok(l && shape_is(&l->output, 3, want_shape), "concat axis 1: output [2, 6, 2]")) {
        dlh_layer_free(l);
        return;
    }
    dlh_tensor tx[3], ty = { 0 };
    memset(tx, 0, sizeof tx);
    float x[3][N * 12], y[N * 24];
    int rc = batch_tensor(N, &l->output, &ty);
    for (int i = 0; i < 3; i++) {
        fill_values(x[i], N * dlh_shape_numel(&a1[i]), 20 + (uint64_t)i);
        rc = rc < 0 ? rc : batch_tensor(N, &a1[i], &tx[i]);
        rc = rc < 0 ? rc : dlh_host_table()->tensor_write(be, &tx[i], x[i]);
    }
    dlh_layer_ctx ctx;
    dlh_layer_ctx_fill(l, N, 1, 0, 1, &ctx, NULL);
    rc = rc < 0 ? rc : l->ops->forward(l->state, &ctx, tx, &ty);
    rc = rc < 0 ? rc : dlh_host_table()->tensor_read(be, &ty, y);
    int exact = rc == 0;
    for (int n = 0; exact && n < N; n++)
        for (int c = 0; c < 2; c++)
            for (int r = 0; r < 6; r++)
                for (int k = 0; k < 2; k++) {
                    /* rows 0-2 from input 0, row 3 from 1, rows 4-5 from 2 */
                    int i = r < 3 ? 0 : r < 4 ? 1 : 2, rr = r < 3 ? r : r < 4 ? r - 3 : r - 4;
                    int rows = (int)a1[i].dim[1];
                    float want = x[i][((n * 2 + c) * rows + rr) * 2 + k];
                    exact &= y[((n * 2 + c) * 6 + r) * 2 + k] == want;
                }
    ok(exact, "concat axis 1: y[n, c, r, k] comes from the right input, exactly");
    for (int i = 0; i < 3; i++)
        dlh_tensor_free(be, &tx[i]);
    dlh_tensor_free(be, &ty);
    dlh_layer_free(l);
}

/* ------------------------------------------------------------ errors */

/* Creation fails with DLH_ECONFIG and a message holding every fragment. */
static void bad(const char *type, const char *body, int n_in, const dlh_shape *in,
                const char *frag1, const char *frag2, const char *what)
{
    int rc;
    dlh_layer_inst *l = layer_new_rc(type, body, n_in, in, 2, &rc);
    const char *msg = dlh_error_get();
    ok(l == NULL && rc == DLH_ECONFIG && strstr(msg, frag1) &&
       (!frag2 || strstr(msg, frag2)), "%s %s: refused (%s)", type, what, msg);
    dlh_layer_free(l);
}

static void check_errors(void)
{
    dlh_shape img = shape3(1, 8, 8), flat = { 1, { 64 } };
    bad("conv2d", "kernel_size = 3;", 1, &img, "out_channels", NULL,
        "without out_channels");
    bad("conv2d", "out_channels = 4;", 1, &img, "missing required parameter 'kernel_size'",
        NULL, "without kernel_size");
    bad("conv2d", "out_channels = 4; kernel_siz = 3;", 1, &img, "kernel_size",
        "did you mean", "with kernel_size misspelt");
    bad("conv2d", "out_channels = 4; kernel_size = 2.5;", 1, &img, "kernel_size",
        "integer", "kernel_size 2.5");
    bad("conv2d", "out_channels = 4; kernel_size = [3, 3, 3];", 1, &img, "kernel_size",
        "at most 2", "kernel_size of three numbers");
    bad("conv2d", "out_channels = 4; kernel_size = 0;", 1, &img, "kernel_size", NULL,
        "kernel_size 0");
    bad("conv2d", "out_channels = 4; kernel_size = 3; stride = 0;", 1, &img, "stride",
        NULL, "stride 0");
    bad("conv2d", "out_channels = 4; kernel_size = 3; padding = -1;", 1, &img, "padding",
        NULL, "padding -1");
    bad("conv2d", "out_channels = 4; kernel_size = \"3\";", 1, &img, "kernel_size", NULL,
        "kernel_size as a string");
    bad("conv2d", "out_channels = 4; kernel_size = 3;", 1, &flat, "[C, H, W]", "[64]",
        "over samples of shape [64]");
    bad("conv2d", "out_channels = 4; kernel_size = 9;", 1, &img, "[1, 8, 8]", "9x9",
        "kernel larger than the input");
    bad("conv2d", "out_channels = 4; kernel_size = 3; dilation = 4;", 1, &img, "dilation",
        "[1, 8, 8]", "dilated kernel larger than the input");
    bad("conv2d", "out_channels = 4; kernel_size = 3; group = 2;", 1, &img,
        "unknown parameter 'group'", "did you mean 'groups'", "with an unknown key");

    bad("maxpool2d", "stride = 2;", 1, &img, "kernel_size", NULL, "without kernel_size");
    bad("maxpool2d", "kernel_size = 2; padding = 2;", 1, &img, "padding", "half",
        "padding more than half the window");
    bad("avgpool2d", "kernel_size = 3; padding = [1, 2];", 1, &img, "padding", "half",
        "padding [1, 2] with a 3x3 window");
    bad("maxpool2d", "kernel_size = 2;", 1, &flat, "[C, H, W]", "[64]",
        "over samples of shape [64]");
    bad("avgpool2d", "kernel_size = 9;", 1, &img, "[1, 8, 8]", NULL,
        "window larger than the input");
    bad("avgpool2d", "kernel_size = 2; dilation = 2;", 1, &img, "dilation", NULL,
        "with dilation (max pooling only)");

    dlh_shape s234 = shape3(2, 3, 4);
    bad("reshape", "", 1, &s234, "missing required parameter 'shape'", NULL,
        "without shape");
    bad("reshape", "shape = [5, -1];", 1, &s234, "[2, 3, 4]", "24", "[5, -1] of 24");
    bad("reshape", "shape = [5, 5];", 1, &s234, "[2, 3, 4]", "[5, 5]",
        "[5, 5] of [2, 3, 4]");
    bad("reshape", "shape = [-1, -1];", 1, &s234, "shape", "-1", "with two -1");
    bad("reshape", "shape = [0, 24];", 1, &s234, "shape", NULL, "with a 0");
    bad("reshape", "shape = [2.5, 4.0];", 1, &s234, "shape", NULL, "with 2.5");
    bad("reshape", "shape = [1, 1, 2, 3, 4];", 1, &s234, "shape", "at most 4",
        "of five dimensions");

    dlh_shape two[3] = { shape2(2, 3), shape2(3, 2), shape2(2, 3) };
    bad("add", "", 2, two, "[2, 3]", "[3, 2]", "of [2, 3] and [3, 2]");
    bad("add", "", 1, two, "at least 2 inputs", NULL, "of one input");
    dlh_shape ab[2] = { shape3(2, 3, 4), shape3(2, 5, 5) };
    bad("concat", "axis = 1;", 2, ab, "[2, 3, 4]", "[2, 5, 5]",
        "axis 1 of [2, 3, 4] and [2, 5, 5]");
    dlh_shape nd[2] = { shape3(2, 3, 4), shape2(2, 3) };
    bad("concat", "", 2, nd, "[2, 3, 4]", "[2, 3]", "of [2, 3, 4] and [2, 3]");
    bad("concat", "axis = 3;", 2, &ab[0], "axis", "out of range", "axis 3 of 3-D samples");
    bad("concat", "", 1, ab, "at least 2 inputs", NULL, "of one input");
}

int main(void)
{
    if (dlh_registry_load_all(0) < 0 || dlh_backend_open("cpu", NULL, &be) < 0) {
        ok(0, "load plugins and open the cpu backend: %s", dlh_error_get());
        return done_testing();
    }
    check_conv();
    check_conv_transpose();
    check_pools();
    check_shape_layers();
    check_add();
    check_concat();
    check_errors();
    dlh_backend_close(be);
    dlh_registry_clear();
    return done_testing();
}
