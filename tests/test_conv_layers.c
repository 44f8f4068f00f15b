/* conv2d with groups and padding "same" / "valid", and conv_transpose2d,
 * against PyTorch 1.13 (tests/ref/conv_layers_ref.py): output shape, weight
 * shape and default-init bound, forward values, the input gradient and the
 * weight and bias gradients (accumulated over two backward passes), on the
 * backend this build names: cpu, or opencl for tests/test_conv_layers_opencl
 * (SKIPped where absent), which also compares every result with cpu's.
 * Then parameters PyTorch refuses, refused with its words.  Gradient checks
 * by central differences are in test_grad_layers.c.  On cpu the cases run
 * twice: with the backend's conv2d primitives (oneDNN, when built with it)
 * and with backend.onednn = false (im2col + gemm).
 *
 * Tolerance: max |got - torch| <= 2e-6 max(1, max |torch|) per array (torch
 * in double; float32 sums of at most 72 products of values in [-1, 1]);
 * opencl against cpu: 1e-6 of the same scale. */
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

#include "ref/conv_layers_ref.h"

#ifndef CONV_BACKEND
#define CONV_BACKEND "cpu"
#endif

#define TOL_TORCH 2e-6
#define TOL_CPU 1e-6

/* conv_layers_ref.py's val(): element i of the sequence of `seed`. */
static float conv_val(int64_t i, int seed)
{
    return (float)((double)((i * 7919 + seed * 104729) % 2001) / 1000.0 - 1.0);
}

static void conv_vals(float *v, int64_t n, int seed)
{
    for (int64_t i = 0; i < n; i++)
        v[i] = conv_val(i, seed);
}

static int64_t prod(const int *d, int n)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        p *= d[i];
    return p;
}

/* One case's results on one backend. */
typedef struct conv_run {
    float *y, *dx, *dw, *db, *w0;
    int64_t ny, nx, nw, nb;
    int out[3], weight[4];
    int n_params;
} conv_run;

static void conv_run_free(conv_run *r)
{
    free(r->y);
    free(r->dx);
    free(r->dw);
    free(r->db);
    free(r->w0);
    memset(r, 0, sizeof *r);
}

/* Creates the layer of case c on be, loads conv_val weights, runs forward and
   backward, then forward and backward again without dx (the parameter
   gradients must accumulate), and reads y, dx and the gradients (halved). */
static int conv_run_case(const dlh_backend *be, const struct conv_ref *c, conv_run *r)
{
    const dlh_host *host = dlh_host_table();
    memset(r, 0, sizeof *r);
    const int64_t dims[3] = { c->in[0], c->in[1], c->in[2] };
    dlh_layer_inst *l = NULL;
    int rc = gc_layer_make(be, c->type, c->body, 1, 3, dims, &l);
    if (rc < 0)
        return rc;
    r->n_params = l->n_params;
    for (int i = 0; i < 3; i++)
        r->out[i] = l->output.ndim == 3 ? (int)l->output.dim[i] : -1;
    const dlh_tensor *wt = &l->params[0].value;
    for (int i = 0; i < 4; i++)
        r->weight[i] = wt->ndim == 4 ? (int)wt->shape[i] : -1;
    r->nx = c->batch * prod(c->in, 3);
    r->ny = c->batch * prod(c->out, 3);
    r->nw = prod(c->weight, 4);
    r->nb = c->db ? c->out[0] : 0;
    if (r->out[0] != c->out[0] || r->out[1] != c->out[1] || r->out[2] != c->out[2] ||
        dlh_tensor_numel(wt) != r->nw || l->n_params != (c->db ? 2 : 1) ||
        (c->db && dlh_tensor_numel(&l->params[1].value) != r->nb)) {
        dlh_layer_free(l);
        return 1;               /* the shape checks report it */
    }
    int64_t nbw = r->nw > r->nb ? r->nw : r->nb;
    float *x = malloc((size_t)r->nx * sizeof *x), *dy = malloc((size_t)r->ny * sizeof *dy);
    float *v = malloc((size_t)nbw * sizeof *v);
    r->y = malloc((size_t)r->ny * sizeof *r->y);
    r->dx = malloc((size_t)r->nx * sizeof *r->dx);
    r->dw = malloc((size_t)r->nw * sizeof *r->dw);
    r->w0 = malloc((size_t)nbw * 2 * sizeof *r->w0);
    r->db = malloc((size_t)(r->nb ? r->nb : 1) * sizeof *r->db);
    int64_t sx[4] = { c->batch, c->in[0], c->in[1], c->in[2] };
    int64_t sy[4] = { c->batch, c->out[0], c->out[1], c->out[2] };
    dlh_tensor tx = { 0 }, ty = { 0 }, tdy = { 0 }, tdx = { 0 }, nodx = { 0 };
    dlh_tensor *views = calloc((size_t)l->n_scratch + 1, sizeof *views);
    rc = x && dy && v && r->y && r->dx && r->dw && r->w0 && r->db && views ? 0 : DLH_ENOMEM;
    /* The default init first (r->w0: weight then bias), then torch's values. */
    rc = rc < 0 ? rc : host->tensor_read(be, wt, r->w0);
    if (rc == 0 && c->db)
        rc = host->tensor_read(be, &l->params[1].value, r->w0 + r->nw);
    if (rc == 0) {
        conv_vals(x, r->nx, 1);
        conv_vals(dy, r->ny, 4);
        conv_vals(v, r->nw, 2);
        rc = host->tensor_write(be, wt, v);
    }
    if (rc == 0 && c->db) {
        conv_vals(v, r->nb, 3);
        rc = host->tensor_write(be, &l->params[1].value, v);
    }
    rc = rc < 0 ? rc : dlh_tensor_alloc(be, 4, sx, &tx);
    rc = rc < 0 ? rc : dlh_tensor_alloc(be, 4, sx, &tdx);
    rc = rc < 0 ? rc : dlh_tensor_alloc(be, 4, sy, &ty);
    rc = rc < 0 ? rc : dlh_tensor_alloc(be, 4, sy, &tdy);
    rc = rc < 0 ? rc : host->tensor_write(be, &tx, x);
    rc = rc < 0 ? rc : host->tensor_write(be, &tdy, dy);
    /* y and dx start as garbage: forward and backward must overwrite them. */
    rc = rc < 0 ? rc : be->ops->fill(be->ctx, ty.mem, (size_t)r->ny, 77.0f);
    rc = rc < 0 ? rc : be->ops->fill(be->ctx, tdx.mem, (size_t)r->nx, 123.0f);
    dlh_layer_ctx ctx;
    if (rc == 0)
        dlh_layer_ctx_fill(l, c->batch, 1, 0, 1, &ctx, views);
    rc = rc < 0 ? rc : dlh_layer_zero_grad(l);
    rc = rc < 0 ? rc : l->ops->forward(l->state, &ctx, &tx, &ty);
    rc = rc < 0 ? rc : host->tensor_read(be, &ty, r->y);
    rc = rc < 0 ? rc : l->ops->backward(l->state, &ctx, &tx, &ty, &tdy, &tdx);
    rc = rc < 0 ? rc : host->tensor_read(be, &tdx, r->dx);
    rc = rc < 0 ? rc : l->ops->forward(l->state, &ctx, &tx, &ty);
    rc = rc < 0 ? rc : l->ops->backward(l->state, &ctx, &tx, &ty, &tdy, &nodx);
    rc = rc < 0 ? rc : host->tensor_read(be, &l->params[0].grad, r->dw);
    if (rc == 0 && c->db)
        rc = host->tensor_read(be, &l->params[1].grad, r->db);
    for (int64_t i = 0; rc == 0 && i < r->nw; i++)
        r->dw[i] *= 0.5f;
    for (int64_t i = 0; rc == 0 && i < r->nb; i++)
        r->db[i] *= 0.5f;
    dlh_tensor_free(be, &tx);
    dlh_tensor_free(be, &ty);
    dlh_tensor_free(be, &tdy);
    dlh_tensor_free(be, &tdx);
    free(views);
    free(x);
    free(dy);
    free(v);
    dlh_layer_free(l);
    return rc;
}

/* max |got - want| / max(1, max |want|) */
static double rel_err(const float *got, const double *want, int64_t n)
{
    double scale = 1, e = 0;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(got[i] - want[i]);
        e = d > e || d != d ? d : e;
    }
    return e / scale;
}

static double rel_err_f(const float *got, const float *want, int64_t n)
{
    double *w = malloc((size_t)(n ? n : 1) * sizeof *w);
    if (!w)
        return INFINITY;
    for (int64_t i = 0; i < n; i++)
        w[i] = want[i];
    double e = rel_err(got, w, n);
    free(w);
    return e;
}

static void check_case(const dlh_backend *be, const dlh_backend *cpu,
                       const struct conv_ref *c)
{
    conv_run r;
    int rc = conv_run_case(be, c, &r);
    if (!ok(rc >= 0, "%s %s: created and run", c->type, c->name)) {
        diag("%s", dlh_error_get());
        conv_run_free(&r);
        return;
    }
    ok(rc == 0 && r.out[0] == c->out[0] && r.out[1] == c->out[1] && r.out[2] == c->out[2],
       "%s %s: output [%d, %d, %d] (torch: [%d, %d, %d])", c->type, c->name, r.out[0],
       r.out[1], r.out[2], c->out[0], c->out[1], c->out[2]);
    ok(memcmp(r.weight, c->weight, sizeof r.weight) == 0 && r.n_params == (c->db ? 2 : 1),
       "%s %s: weight [%d, %d, %d, %d] as torch's%s", c->type, c->name, c->weight[0],
       c->weight[1], c->weight[2], c->weight[3], c->db ? ", and a bias" : ", no bias");
    if (rc != 0) {
        conv_run_free(&r);
        return;
    }
    /* torch's default: U(-bound, bound) for the weight and the bias alike. */
    int64_t n0 = r.nw + r.nb;
    double wmax = 0;
    for (int64_t i = 0; i < n0; i++)
        wmax = fmax(wmax, fabs(r.w0[i]));
    ok(wmax <= c->bound && wmax > (n0 >= 8 ? 0.6 : 0.2) * c->bound,
       "%s %s: default init within +-1/sqrt(fan_in) = %.4f as torch's (max |w| %.4f of %lld)",
       c->type, c->name, c->bound, wmax, (long long)n0);
    double ey = rel_err(r.y, c->y, r.ny), ex = rel_err(r.dx, c->dx, r.nx);
    double ew = rel_err(r.dw, c->dw, r.nw), eb = c->db ? rel_err(r.db, c->db, r.nb) : 0;
    ok(ey <= TOL_TORCH, "%s %s: forward = torch's (err %.2e)", c->type, c->name, ey);
    ok(ex <= TOL_TORCH, "%s %s: input gradient = torch's (err %.2e)", c->type, c->name, ex);
    ok(ew <= TOL_TORCH, "%s %s: weight gradient = torch's, accumulated over two backward "
       "passes (err %.2e)", c->type, c->name, ew);
    if (c->db)
        ok(eb <= TOL_TORCH, "%s %s: bias gradient = torch's, accumulated (err %.2e)",
           c->type, c->name, eb);
    if (cpu && cpu != be) {
        conv_run q;
        int qc = conv_run_case(cpu, c, &q);
        double e = qc != 0 ? INFINITY
                           : fmax(fmax(rel_err_f(r.y, q.y, r.ny), rel_err_f(r.dx, q.dx, r.nx)),
                                  fmax(rel_err_f(r.dw, q.dw, r.nw),
                                       rel_err_f(r.db, q.db, r.nb)));
        ok(e <= TOL_CPU, "%s %s: " CONV_BACKEND " = cpu in y, dx, dw, db (err %.2e)",
           c->type, c->name, e);
        conv_run_free(&q);
    }
    conv_run_free(&r);
}

/* Parameters PyTorch refuses, with its words, located at their line. */
static void check_bad_params(const dlh_backend *be)
{
    static const struct {
        const char *type, *body, *want;
        int64_t c, h, w;
    } bad[] = {
        { "conv2d", "out_channels = 4; kernel_size = 3; groups = 0;",
          "groups must be a positive integer", 4, 8, 8 },
        { "conv2d", "out_channels = 4; kernel_size = 3; groups = -2;",
          "groups must be a positive integer", 4, 8, 8 },
        { "conv2d", "out_channels = 4; kernel_size = 3; groups = 2;",
          "in_channels must be divisible by groups", 3, 8, 8 },
        { "conv2d", "out_channels = 3; kernel_size = 3; groups = 2;",
          "out_channels must be divisible by groups", 4, 8, 8 },
        { "conv2d", "out_channels = 4; kernel_size = 3; groups = 1.5;", "'groups'", 4, 8, 8 },
        { "conv2d", "out_channels = 4; kernel_size = 3; padding = \"same\"; stride = 2;",
          "padding='same' is not supported for strided convolutions", 1, 8, 8 },
        { "conv2d", "out_channels = 4; kernel_size = 3; padding = \"same\"; stride = [1, 2];",
          "padding='same' is not supported for strided convolutions", 1, 8, 8 },
        { "conv2d", "out_channels = 4; kernel_size = 3; padding = \"full\";",
          "Invalid padding string 'full', should be one of {'valid', 'same'}", 1, 8, 8 },
        { "conv2d", "out_channels = 4; kernel_size = 3; padding = true;", "'padding'", 1, 8, 8 },
        { "conv2d", "out_channels = 4; kernel_size = 5; padding = \"valid\";",
          "does not fit the input", 1, 4, 4 },
        { "conv_transpose2d", "out_channels = 4; kernel_size = 3; stride = 2; "
          "output_padding = 2;",
          "output padding must be smaller than either stride or dilation, but got "
          "output_padding_height: 2 output_padding_width: 2 stride_height: 2 stride_width: 2 "
          "dilation_height: 1 dilation_width: 1", 2, 4, 4 },
        { "conv_transpose2d", "out_channels = 4; kernel_size = 3; output_padding = [0, 1];",
          "output padding must be smaller than either stride or dilation", 2, 4, 4 },
        { "conv_transpose2d", "out_channels = 4; kernel_size = 3; stride = 2; padding = 5;",
          "Given input size per channel: (2 x 2). Calculated output size per channel: "
          "(-5 x -5). Output size is too small", 2, 2, 2 },
        { "conv_transpose2d", "out_channels = 4; kernel_size = 3; groups = 2;",
          "in_channels must be divisible by groups", 3, 4, 4 },
        { "conv_transpose2d", "out_channels = 3; kernel_size = 3; groups = 2;",
          "out_channels must be divisible by groups", 4, 4, 4 },
        { "conv_transpose2d", "out_channels = 4; kernel_size = 3; groups = 0;",
          "groups must be a positive integer", 4, 4, 4 },
        { "conv_transpose2d", "out_channels = 4; kernel_size = 3; padding = \"same\";",
          "'padding'", 4, 4, 4 },
        { "conv_transpose2d", "out_channels = 4; kernel_size = 3; output_padding = -1;",
          "'output_padding'", 4, 4, 4 },
        { "conv_transpose2d", "out_channels = 0; kernel_size = 3;", "'out_channels'", 4, 4, 4 },
        { "conv_transpose2d", "kernel_size = 3;",
          "missing required parameter 'out_channels'", 4, 4, 4 },
        { "conv_transpose2d", "out_channels = 2; kernel_size = 3; padding_mode = \"zeros\";",
          "unknown parameter 'padding_mode'", 4, 4, 4 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const int64_t dims[3] = { bad[i].c, bad[i].h, bad[i].w };
        dlh_layer_inst *l = NULL;
        int rc = gc_layer_make(be, bad[i].type, bad[i].body, 1, 3, dims, &l);
        const char *msg = dlh_error_get();
        /* A missing key is located at its group (line 1), the rest at the key. */
        const char *at = strstr(bad[i].want, "missing") ? "test.cfg:1" : "test.cfg:2";
        ok(rc == DLH_ECONFIG && l == NULL && strstr(msg, at) &&
           strstr(msg, bad[i].want), "%s refuses '%s' over [%lld, %lld, %lld] (%s)",
           bad[i].type, bad[i].body, (long long)bad[i].c, (long long)bad[i].h,
           (long long)bad[i].w, msg);
        dlh_layer_free(l);
    }
    const int64_t flat[1] = { 16 };
    dlh_layer_inst *l = NULL;
    int rc = gc_layer_make(be, "conv_transpose2d", "out_channels = 2; kernel_size = 3;", 1, 1,
                           flat, &l);
    ok(rc == DLH_ECONFIG && strstr(dlh_error_get(), "[C, H, W]"),
       "conv_transpose2d refuses samples of shape [16] (%s)", dlh_error_get());
    dlh_layer_free(l);
}

int main(void)
{
    if (dlh_registry_load_all(0) < 0) {
        ok(0, "load plugins: %s", dlh_error_get());
        return done_testing();
    }
    if (strcmp(CONV_BACKEND, "cpu") != 0 && !dlh_registry_find(DLH_KIND_BACKEND, CONV_BACKEND)) {
        dlh_registry_clear();
        skip_all(CONV_BACKEND ": no plugin on the plugin path registers it");
    }
    dlh_backend *be = NULL, *cpu = NULL;
    int rc = dlh_backend_open(CONV_BACKEND, NULL, &be);
    if (rc == DLH_EDEVICE && strstr(dlh_error_get(), "not usable on this machine")) {
        printf("1..0 # SKIP " CONV_BACKEND ": %s\n", dlh_error_get());
        dlh_registry_clear();
        return 0;
    }
    if (rc < 0 || (strcmp(CONV_BACKEND, "cpu") != 0 &&
                   (rc = dlh_backend_open("cpu", NULL, &cpu)) < 0)) {
        ok(0, "open the backends: %s", dlh_error_get());
        return done_testing();
    }
    diag("on the %s backend", CONV_BACKEND);
    for (size_t i = 0; i < sizeof conv_refs / sizeof conv_refs[0]; i++)
        check_case(be, cpu, &conv_refs[i]);
    check_bad_params(be);
    if (strcmp(CONV_BACKEND, "cpu") == 0) {
        /* The same cases on im2col + gemm. */
        dlh_config *cfg = NULL;
        dlh_params *p = NULL;
        dlh_backend *off = NULL;
        static const char *const reserved[] = { "type", NULL };
        rc = dlh_config_load_string("backend = { onednn = false; };\n", "conv.cfg", &cfg);
        if (rc == 0)
            p = dlh_params_new(cfg, config_setting_lookup(dlh_config_root(cfg), "backend"),
                               "backend 'cpu'", reserved);
        rc = p ? dlh_backend_open("cpu", p, &off) : DLH_ENOMEM;
        if (ok(rc == 0, "open cpu with onednn = false (%s)", rc ? dlh_error_get() : "ok")) {
            diag("on the cpu backend with onednn = false");
            for (size_t i = 0; i < sizeof conv_refs / sizeof conv_refs[0]; i++)
                check_case(off, NULL, &conv_refs[i]);
        }
        dlh_backend_close(off);
        dlh_params_free(p);
        dlh_config_free(cfg);
    }
    if (cpu)
        dlh_backend_close(cpu);
    dlh_backend_close(be);
    dlh_registry_clear();
    return done_testing();
}
