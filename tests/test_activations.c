/* The activation layers of issue 12 (elu, selu, celu, gelu, silu, mish,
 * softplus, hardtanh, relu6, hardswish, hardsigmoid, softsign) against
 * PyTorch 1.13: forward values and autograd's input gradients from
 * tests/ref/activations_ref.py, at every kink of the family (torch's
 * conventions there: hardtanh's 0 at its ends, hardswish's -dy/2 and 3dy/2
 * at -3 and 3, elu's alpha at 0, ...), on the backend this build names:
 * cpu, or opencl for tests/test_activations_opencl (SKIPped where absent).
 * Gradient checks by central differences are in test_grad_activations.c.
 *
 * Tolerance: |got - torch| <= 4e-6 |torch| + 3e-7 (forward) and 4e-6 |torch|
 * + 3e-7 |dy| (backward).  The relative part covers libm and OpenCL
 * (3 ulp exp, 16 ulp erf) against torch's SLEEF; the absolute part, a few
 * ulp of 1, the cancellation of exp(x) - 1 near 0, which torch has too. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backend_open.h"
#include "error.h"
#include "gradcheck.h"
#include "registry.h"
#include "tap.h"

#include "ref/activations_ref.h"

#ifndef ACT_BACKEND
#define ACT_BACKEND "cpu"
#endif

static dlh_backend *be;

/* Case r over a batch of 2 copies of act_x (84 elements). */
static void check_case(const struct act_ref *r)
{
    enum { B = 2 };
    const int64_t dims[1] = { ACT_N };
    dlh_layer_inst *l = NULL;
    if (!ok(gc_layer_make(be, r->type, r->body, 1, 1, dims, &l) == 0, "%s (%s): created",
            r->name, r->body[0] ? r->body : "defaults")) {
        diag("%s", dlh_error_get());
        return;
    }
    float x[B * ACT_N], y[B * ACT_N], dy[B * ACT_N], dx[B * ACT_N];
    for (int i = 0; i < B * ACT_N; i++) {
        x[i] = (float)act_x[i % ACT_N];
        dy[i] = (float)act_dy[i % ACT_N];
    }
    int rc = gc_layer_fwd_bwd(be, l, B, 1, 0, 1, x, y, dy, dx, NULL);
    if (rc < 0)
        diag("%s", dlh_error_get());
    double worst = rc ? INFINITY : 0, worst_d = worst;
    int at = -1, at_d = -1;
    for (int i = 0; rc == 0 && i < B * ACT_N; i++) {
        int j = i % ACT_N;
        double e = fabs(y[i] - r->y[j]) / (4e-6 * fabs(r->y[j]) + 3e-7);
        double ed = fabs(dx[i] - r->dx[j]) / (4e-6 * fabs(r->dx[j]) + 3e-7 * fabs(act_dy[j]));
        if (!(e <= worst)) {
            worst = e;
            at = i;
        }
        if (!(ed <= worst_d)) {
            worst_d = ed;
            at_d = i;
        }
    }
    if (!ok(rc == 0 && worst <= 1, "%s forward = torch's over %d values with every kink "
            "(worst %.3g of tolerance)", r->name, ACT_N, worst) && at >= 0)
        diag("x = %.9g: y = %.9g, torch %.9g", x[at], y[at], r->y[at % ACT_N]);
    if (!ok(rc == 0 && worst_d <= 1, "%s backward = torch autograd's (worst %.3g of "
            "tolerance)", r->name, worst_d) && at_d >= 0)
        diag("x = %.9g, dy = %.9g: dx = %.9g, torch %.9g", x[at_d], dy[at_d], dx[at_d],
             r->dx[at_d % ACT_N]);
    dlh_layer_free(l);
}

/* Parameters PyTorch refuses (with its words) or that make no activation. */
static void check_bad_params(void)
{
    static const struct {
        const char *type, *body, *want;
    } bad[] = {
        { "celu", "alpha = 0.0;", "ZeroDivisionError: alpha cannot be 0 for CELU" },
        { "gelu", "approximate = \"erf\";", "approximate argument must be either none or tanh." },
        { "gelu", "approximate = 1;", "'approximate'" },
        { "hardtanh", "min_val = 1.0; max_val = 1.0;",
          "max_val (1) must be greater than min_val (1)" },
        { "hardtanh", "min_val = 2.0;", "max_val (1) must be greater than min_val (2)" },
        { "softplus", "beta = 0.0;", "beta must not be 0" },
        { "elu", "alpha = \"one\";", "'alpha'" },
        { "selu", "alpha = 1.0;", "unknown parameter 'alpha'" },
        { "relu6", "max_val = 5.0;", "unknown parameter 'max_val'" },
        { "mish", "beta = 1.0;", "unknown parameter 'beta'" },
    };
    const int64_t dims[1] = { 4 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dlh_layer_inst *l = NULL;
        int rc = gc_layer_make(be, bad[i].type, bad[i].body, 1, 1, dims, &l);
        const char *msg = dlh_error_get();
        ok(rc == DLH_ECONFIG && l == NULL && strstr(msg, "test.cfg:2") && strstr(msg, bad[i].want),
           "%s refuses '%s' at its line (%s)", bad[i].type, bad[i].body, msg);
        dlh_layer_free(l);
    }
    static const char *const types[] = { "elu", "selu", "celu", "gelu", "silu", "mish",
                                         "softplus", "hardtanh", "relu6", "hardswish",
                                         "hardsigmoid", "softsign" };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        dlh_layer_inst *l = NULL;
        int rc = gc_layer_make(be, types[i], "", 2, 1, dims, &l);
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
    if (!(be = backend_open_or_skip(ACT_BACKEND)))
        return done_testing();
    for (size_t i = 0; i < sizeof act_refs / sizeof act_refs[0]; i++)
        check_case(&act_refs[i]);
    check_bad_params();
    dlh_backend_close(be);
    dlh_registry_clear();
    return done_testing();
}
