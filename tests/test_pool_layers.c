/* The pooling and resampling layers of issue 12 against PyTorch 1.13:
 * avgpool2d (count_include_pad, ceil_mode), maxpool2d (ceil_mode),
 * adaptive_avgpool2d, global_avgpool and upsample (nearest, bilinear,
 * align_corners), forward values and autograd's input gradients from
 * tests/ref/pool_layers_ref.py over shapes the windows and scales do not
 * divide, on the backend this build names: cpu, or opencl for
 * tests/test_pool_layers_opencl (SKIPped where absent).  On cpu, every case
 * without a max also passes central differences (core/numgrad.h), and the
 * parameters PyTorch refuses are refused with its words.
 *
 * Tolerance: |got - torch| <= 2e-6 |torch| + 5e-7 for y and dx: a window's
 * sum, or an interpolation's two or four products, rounded in another order
 * (the separable layers multiply by 1/len where torch divides by len; gemm
 * may fuse multiply-adds). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_open.h"
#include "error.h"
#include "gradcheck.h"
#include "registry.h"
#include "tap.h"

#include "ref/pool_layers_ref.h"

#ifndef POOL_BACKEND
#define POOL_BACKEND "cpu"
#endif

enum { B = 2 };

static dlh_backend *be;

static int64_t numel(int ndim, const int64_t *d)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= d[i];
    return n;
}

/* Forward of B samples of x into y, then backward of dy into dx (dx starts
   as garbage: backward must overwrite it). */
static int fwd_bwd(dlh_layer_inst *l, const dlh_shape *in, const float *x, float *y,
                   const float *dy, float *dx)
{
    const dlh_host *host = dlh_host_table();
    int64_t si[DLH_MAX_DIMS + 1] = { B }, so[DLH_MAX_DIMS + 1] = { B };
    for (int i = 0; i < in->ndim; i++)
        si[i + 1] = in->dim[i];
    for (int i = 0; i < l->output.ndim; i++)
        so[i + 1] = l->output.dim[i];
    int64_t nx = B * dlh_shape_numel(in);
    dlh_tensor tx = { 0 }, ty = { 0 }, tdy = { 0 }, tdx = { 0 };
    dlh_tensor *views = calloc((size_t)l->n_scratch + 1, sizeof *views);
    float *garbage = malloc((size_t)nx * sizeof *garbage);
    int rc = views && garbage ? 0 : DLH_ENOMEM;
    for (int64_t i = 0; rc == 0 && i < nx; i++)
        garbage[i] = NAN;
    rc = rc < 0 ? rc : dlh_tensor_alloc(be, in->ndim + 1, si, &tx);
    rc = rc < 0 ? rc : dlh_tensor_alloc(be, in->ndim + 1, si, &tdx);
    rc = rc < 0 ? rc : dlh_tensor_alloc(be, l->output.ndim + 1, so, &ty);
    rc = rc < 0 ? rc : dlh_tensor_alloc(be, l->output.ndim + 1, so, &tdy);
    rc = rc < 0 ? rc : host->tensor_write(be, &tx, x);
    rc = rc < 0 ? rc : host->tensor_write(be, &tdx, garbage);
    rc = rc < 0 ? rc : host->tensor_write(be, &tdy, dy);
    dlh_layer_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    if (rc == 0)
        dlh_layer_ctx_fill(l, B, 1, 0, 1, &ctx, views);
    rc = rc < 0 ? rc : l->ops->forward(l->state, &ctx, &tx, &ty);
    rc = rc < 0 ? rc : host->tensor_read(be, &ty, y);
    rc = rc < 0 ? rc : l->ops->backward(l->state, &ctx, &tx, &ty, &tdy, &tdx);
    rc = rc < 0 ? rc : host->tensor_read(be, &tdx, dx);
    dlh_tensor_free(be, &tx);
    dlh_tensor_free(be, &ty);
    dlh_tensor_free(be, &tdy);
    dlh_tensor_free(be, &tdx);
    free(views);
    free(garbage);
    return rc;
}

/* The worst |got - want| in units of the tolerance; *at its index. */
static double worst_err(const float *got, const double *want, int64_t n, int64_t *at)
{
    double worst = 0;
    *at = -1;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]) / (2e-6 * fabs(want[i]) + 5e-7);
        if (!(e <= worst)) {
            worst = e;
            *at = i;
        }
    }
    return worst;
}

static void check_case(const struct pool_ref *r)
{
    dlh_layer_inst *l = NULL;
    if (!ok(gc_layer_make(be, r->type, r->body, 1, r->ndim, r->in, &l) == 0,
            "%s (%s { %s }): created", r->name, r->type, r->body)) {
        diag("%s", dlh_error_get());
        return;
    }
    dlh_shape in = shape_of(r->ndim, r->in);
    int ondim = r->out[1] ? 3 : 1;
    int same = l->output.ndim == ondim;
    for (int i = 0; same && i < ondim; i++)
        same = l->output.dim[i] == r->out[i];
    ok(same, "%s: output [%lld, %lld, %lld] as torch's", r->name, (long long)r->out[0],
       (long long)r->out[1], (long long)r->out[2]);
    int64_t nx = B * numel(r->ndim, r->in), ny = B * numel(ondim, r->out);
    float *y = calloc((size_t)ny, sizeof *y), *dx = calloc((size_t)nx, sizeof *dx);
    int rc = same && y && dx ? fwd_bwd(l, &in, r->x, y, r->dy, dx) : DLH_EINVAL;
    if (rc < 0)
        diag("%s", dlh_error_get());
    int64_t at = 0, at_d = 0;
    double e = rc ? INFINITY : worst_err(y, r->y, ny, &at);
    double ed = rc ? INFINITY : worst_err(dx, r->dx, nx, &at_d);
    if (!ok(e <= 1, "%s forward = torch's over %lld values (worst %.3g of tolerance)",
            r->name, (long long)ny, e) && rc == 0)
        diag("y[%lld] = %.9g, torch %.9g", (long long)at, y[at], r->y[at]);
    if (!ok(ed <= 1, "%s backward = torch autograd's over %lld values (worst %.3g of "
            "tolerance)", r->name, (long long)nx, ed) && rc == 0)
        diag("dx[%lld] = %.9g, torch %.9g", (long long)at_d, dx[at_d], r->dx[at_d]);

    if (strcmp(POOL_BACKEND, "cpu") == 0 && strcmp(r->type, "maxpool2d") != 0) {
        gc_options opt = { .eps = 1e-2, .lo = 0.0, .hi = 1.0, .seed = 5 };
        gc_report rep;
        rc = gradcheck_layer(l, B, 1, &in, &opt, &rep);
        ok(rc == 0 && rep.err < GC_TOL, "%s: gradients match central differences (max "
           "rel err %.2e over %lld values)", r->name, rep.err, (long long)rep.n_checked);
        if (rc < 0)
            diag("%s", dlh_error_get());
    }
    free(y);
    free(dx);
    dlh_layer_free(l);
}

/* Parameters PyTorch refuses (with its words), and what dlhost refuses. */
static void check_bad_params(void)
{
    static const struct {
        const char *type, *body, *want;
        int ndim;
        int64_t in[3];
    } bad[] = {
        { "upsample", "", "either size or scale_factor should be defined", 3, { 1, 4, 4 } },
        { "upsample", "size = 8; scale_factor = 2;",
          "only one of size or scale_factor should be defined", 3, { 1, 4, 4 } },
        { "upsample", "scale_factor = 2; align_corners = false;",
          "align_corners option can only be set with the interpolating modes: linear | "
          "bilinear | bicubic | trilinear", 3, { 1, 4, 4 } },
        { "upsample", "scale_factor = 0.2;",
          "Input and output sizes should be greater than 0, but got input (H: 4, W: 4) "
          "output (H: 0, W: 0)", 3, { 1, 4, 4 } },
        { "upsample", "scale_factor = -2;",
          "Input and output sizes should be greater than 0", 3, { 1, 4, 4 } },
        { "upsample", "scale_factor = [2.0, 0.1];",
          "output (H: 8, W: 0)", 3, { 1, 4, 4 } },
        { "upsample", "scale_factor = 1e6;", "at most 65536", 3, { 1, 4, 4 } },
        { "upsample", "scale_factor = [1, 2, 3];", "expected at most 2 numbers, got 3", 3,
          { 1, 4, 4 } },
        { "upsample", "scale_factor = [];", "got an empty list", 3, { 1, 4, 4 } },
        { "upsample", "size = 0;", "parameter 'size': expected an integer in [1, 65536]", 3,
          { 1, 4, 4 } },
        { "upsample", "size = 2.5;", "parameter 'size': expected an integer", 3,
          { 1, 4, 4 } },
        { "upsample", "size = 4; mode = \"bicubic\";", "'mode'", 3, { 1, 4, 4 } },
        { "upsample", "size = 4; align_corners = 1;", "align_corners", 3, { 1, 4, 4 } },
        { "upsample", "size = 4;", "upsample expects samples of shape [C, H, W], got [16]",
          1, { 16 } },
        { "adaptive_avgpool2d", "", "output_size", 3, { 1, 4, 4 } },
        { "adaptive_avgpool2d", "output_size = 0;",
          "parameter 'output_size': expected an integer in [1, 65536]", 3, { 1, 4, 4 } },
        { "adaptive_avgpool2d", "output_size = [2, 2, 2];", "expected at most 2 numbers", 3,
          { 1, 4, 4 } },
        { "adaptive_avgpool2d", "output_size = 2;",
          "adaptive_avgpool2d expects samples of shape [C, H, W], got [4, 4]", 2, { 4, 4 } },
        { "global_avgpool", "", "global_avgpool expects samples of shape [C, ...] with at "
          "least one position axis, got [16]", 1, { 16 } },
        { "global_avgpool", "axis = 1;", "unknown parameter 'axis'", 3, { 1, 4, 4 } },
        { "avgpool2d", "kernel_size = 2; count_include_pad = 1;", "count_include_pad", 3,
          { 1, 4, 4 } },
        { "avgpool2d", "kernel_size = 2; ceil_mode = \"yes\";", "ceil_mode", 3, { 1, 4, 4 } },
        { "maxpool2d", "kernel_size = 2; count_include_pad = true;",
          "unknown parameter 'count_include_pad'", 3, { 1, 4, 4 } },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dlh_layer_inst *l = NULL;
        int rc = gc_layer_make(be, bad[i].type, bad[i].body, 1, bad[i].ndim, bad[i].in, &l);
        const char *msg = dlh_error_get();
        ok(rc == DLH_ECONFIG && l == NULL && strstr(msg, "test.cfg:") &&
           strstr(msg, bad[i].want), "%s refuses '%s' (%s)", bad[i].type, bad[i].body, msg);
        dlh_layer_free(l);
    }
    static const char *const types[] = { "adaptive_avgpool2d", "global_avgpool", "upsample" };
    static const char *const bodies[] = { "output_size = 2;", "", "size = 2;" };
    const int64_t dims[3] = { 1, 4, 4 };
    for (size_t i = 0; i < 3; i++) {
        dlh_layer_inst *l = NULL;
        int rc = gc_layer_make(be, types[i], bodies[i], 2, 3, dims, &l);
        const char *msg = dlh_error_get();
        ok(rc < 0 && l == NULL && strstr(msg, "exactly one input") && strstr(msg, "got 2"),
           "%s refuses two inputs (%s)", types[i], msg);
        dlh_layer_free(l);
    }
}

int main(void)
{
    if (dlh_registry_load_all(0) < 0) {
        ok(0, "load plugins: %s", dlh_error_get());
        return done_testing();
    }
    if (!(be = backend_open_or_skip(POOL_BACKEND)))
        return done_testing();
    for (size_t i = 0; i < sizeof pool_refs / sizeof pool_refs[0]; i++)
        check_case(&pool_refs[i]);
    if (strcmp(POOL_BACKEND, "cpu") == 0)
        check_bad_params();
    dlh_backend_close(be);
    dlh_registry_clear();
    return done_testing();
}
