/* Layers and losses against central differences (tests/gradcheck.c), dense
 * forward values against a naive loop, the initialisers against
 * torch.nn.init's formulas, and instance errors. */
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


/* The stream convention of core/instance.c: FNV-1a of the layer name. */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
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

static dlh_layer_inst *layer_new(const char *type, const char *name, const char *body,
                                 int ndim, const int64_t *dims, const dlh_init *over)
{
    tparams t = tp_new(body, "layer");
    dlh_shape in = shape_of(ndim, dims);
    dlh_layer_inst *l = NULL;
    if (!t.p || dlh_layer_new(be, type, name, t.p, 1, &in, 8, over, 42, &l) < 0) {
        diag("%s: %s", name, dlh_error_get());
        l = NULL;
    }
    tp_free(&t);
    return l;
}

/* ------------------------------------------------------------ dense */

static void check_dense_grad(const char *body, int ndim, const int64_t *dims,
                             int64_t batch, const char *what)
{
    dlh_layer_inst *l = layer_new("dense", "fc", body, ndim, dims, NULL);
    if (!ok(l != NULL, "dense %s: created", what))
        return;
    dlh_shape in = shape_of(ndim, dims);
    gc_options opt = { .eps = 1e-2, .lo = 0.0, .hi = 1.0, .seed = 7 };
    gc_report rep;
    int rc = gradcheck_layer(l, batch, 1, &in, &opt, &rep);
    ok(rc == 0 && rep.err < GC_TOL, "dense %s: gradients match central differences "
       "(max rel err %.2e over %lld values)", what, rep.err, (long long)rep.n_checked);
    if (rc < 0)
        diag("%s", dlh_error_get());
    else if (rep.err >= GC_TOL)
        diag("worst: %s", rep.worst);
    dlh_layer_free(l);
}

/* y = x W^T + b against a double loop, default init bounds and streams, and
   backward with no d_input. */
static void check_dense_forward(int has_bias)
{
    const int64_t dims[2] = { 2, 3 };   /* flattened: in = 6 */
    const int in = 6, units = 4, batch = 3;
    dlh_layer_inst *l = layer_new("dense", "fc", has_bias ? "units = 4;" :
                                  "units = 4; bias = false;", 2, dims, NULL);
    if (!ok(l != NULL, "dense forward (bias %d): created", has_bias))
        return;
    ok(l->output.ndim == 1 && l->output.dim[0] == units, "output shape [4]");
    ok(l->n_params == (has_bias ? 2 : 1) && strcmp(l->params[0].name, "weight") == 0 &&
       l->params[0].value.ndim == 2 && l->params[0].value.shape[0] == units &&
       l->params[0].value.shape[1] == in, "weight is [units, in] = [4, 6]");
    if (has_bias)
        ok(strcmp(l->params[1].name, "bias") == 0 && l->params[1].value.ndim == 1 &&
           l->params[1].value.shape[0] == units, "bias is [units] = [4]");

    const dlh_host *host = dlh_host_table();
    float *w = read_tensor(&l->params[0].value);
    float *b = has_bias ? read_tensor(&l->params[1].value) : NULL;
    float bound = (float)(1.0 / sqrt(in));
    int inside = 1, same = 1;
    float wmax = 0;
    uint64_t key = fnv1a("fc");
    for (int i = 0; i < units * in; i++) {
        inside &= fabsf(w[i]) <= bound;
        wmax = fabsf(w[i]) > wmax ? fabsf(w[i]) : wmax;
        float want = dlh_philox_uniform(42, host->rng_stream(1, key, 0), (uint64_t)i,
                                        -bound, bound);
        same &= fabsf(w[i] - want) <= 1e-6f;
    }
    ok(inside && wmax > 0.5f * bound, "default weight init within +-1/sqrt(in) = %.4f "
       "and spread (max |w| %.4f)", bound, wmax);
    ok(same, "weight[i] = U(-b, b) from Philox (seed 42, rng_stream(1, fnv1a(name), 0))");
    if (has_bias) {
        int bin = 1, bsame = 1;
        for (int i = 0; i < units; i++) {
            bin &= fabsf(b[i]) <= bound;
            float want = dlh_philox_uniform(42, host->rng_stream(1, key, 1), (uint64_t)i,
                                            -bound, bound);
            bsame &= fabsf(b[i] - want) <= 1e-6f;
        }
        ok(bin && bsame, "default bias init U(-1/sqrt(in), 1/sqrt(in)) from stream 1");
    }

    float x[3 * 6], y[3 * 4], r[3 * 4];
    for (int i = 0; i < batch * in; i++)
        x[i] = (float)((i * 7) % 11) / 5.0f - 1.0f;
    int64_t xs[3] = { batch, 2, 3 }, ys[2] = { batch, units };
    dlh_tensor tx, ty, tdy, nodx;
    memset(&nodx, 0, sizeof nodx);
    int rc = dlh_tensor_alloc(be, 3, xs, &tx);
    rc = rc < 0 ? rc : dlh_tensor_alloc(be, 2, ys, &ty);
    rc = rc < 0 ? rc : dlh_tensor_alloc(be, 2, ys, &tdy);
    rc = rc < 0 ? rc : host->tensor_write(be, &tx, x);
    dlh_layer_ctx ctx;
    dlh_tensor views[4];
    dlh_layer_ctx_fill(l, batch, 1, 0, 1, &ctx, views);
    rc = rc < 0 ? rc : l->ops->forward(l->state, &ctx, &tx, &ty);
    rc = rc < 0 ? rc : host->tensor_read(be, &ty, y);
    double maxerr = 0;
    for (int s = 0; rc == 0 && s < batch; s++)
        for (int u = 0; u < units; u++) {
            double want = has_bias ? b[u] : 0.0;
            for (int k = 0; k < in; k++)
                want += (double)x[s * in + k] * w[u * in + k];
            double e = fabs(y[s * units + u] - want);
            maxerr = e > maxerr ? e : maxerr;
        }
    ok(rc == 0 && maxerr < 1e-5, "dense forward matches the naive x W^T%s (max err %.2e)",
       has_bias ? " + b" : "", maxerr);

    /* Backward without d_input still accumulates dW = dy^T x. */
    for (int i = 0; i < batch * units; i++)
        r[i] = (float)(i % 5) - 2.0f;
    rc = rc < 0 ? rc : host->tensor_write(be, &tdy, r);
    rc = rc < 0 ? rc : dlh_layer_zero_grad(l);
    rc = rc < 0 ? rc : l->ops->backward(l->state, &ctx, &tx, &ty, &tdy, &nodx);
    float *gw = rc == 0 ? read_tensor(&l->params[0].grad) : NULL;
    maxerr = gw ? 0 : 1;
    for (int u = 0; gw && u < units; u++)
        for (int k = 0; k < in; k++) {
            double want = 0;
            for (int s = 0; s < batch; s++)
                want += (double)r[s * units + u] * x[s * in + k];
            double e = fabs(gw[u * in + k] - want);
            maxerr = e > maxerr ? e : maxerr;
        }
    ok(rc == 0 && maxerr < 1e-5, "backward with no d_input: dW = dy^T x (max err %.2e)",
       maxerr);
    if (rc < 0)
        diag("%s", dlh_error_get());
    free(gw);
    free(w);
    free(b);
    dlh_tensor_free(be, &tx);
    dlh_tensor_free(be, &ty);
    dlh_tensor_free(be, &tdy);
    dlh_layer_free(l);
}

static void check_dense_override(void)
{
    const int64_t dims[1] = { 24 };
    dlh_init he = { DLH_INIT_HE_UNIFORM, 0, 0 };
    dlh_layer_inst *l = layer_new("dense", "hidden", "units = 5;", 1, dims, &he);
    if (!ok(l != NULL, "dense with init override: created"))
        return;
    const dlh_host *host = dlh_host_table();
    uint64_t key = fnv1a("hidden");
    float *w = read_tensor(&l->params[0].value), *b = read_tensor(&l->params[1].value);
    float wb = (float)sqrt(6.0 / 24), bb = (float)(1.0 / sqrt(24));
    int wsame = 1, bsame = 1;
    for (int i = 0; i < 5 * 24; i++)
        wsame &= fabsf(w[i] - dlh_philox_uniform(42, host->rng_stream(1, key, 0),
                                                 (uint64_t)i, -wb, wb)) <= 1e-6f;
    for (int i = 0; i < 5; i++)
        bsame &= fabsf(b[i] - dlh_philox_uniform(42, host->rng_stream(1, key, 1),
                                                 (uint64_t)i, -bb, bb)) <= 1e-6f;
    ok(wsame, "init override he_uniform applies to 'weight' (bound sqrt(6/24))");
    ok(bsame, "... and not to 'bias' (keeps U(-1/sqrt(24), 1/sqrt(24)))");
    free(w);
    free(b);
    dlh_layer_free(l);
}

static void check_dense_errors(void)
{
    const int64_t dims[1] = { 4 };
    dlh_shape in = shape_of(1, dims);
    dlh_layer_inst *l = NULL;
    tparams t = tp_new("bias = true;", "layer 'fc'");
    int rc = dlh_layer_new(be, "dense", "fc", t.p, 1, &in, 4, NULL, 1, &l);
    ok(rc == DLH_ECONFIG && l == NULL && strstr(dlh_error_get(), "units"),
       "dense without units: DLH_ECONFIG naming 'units' (%s)", dlh_error_get());
    tp_free(&t);

    t = tp_new("units = 0;", "layer 'fc'");
    rc = dlh_layer_new(be, "dense", "fc", t.p, 1, &in, 4, NULL, 1, &l);
    ok(rc == DLH_ECONFIG && strstr(dlh_error_get(), "units"),
       "dense units = 0: out of range (%s)", dlh_error_get());
    tp_free(&t);

    t = tp_new("units = 3;\nunit = 3;", "layer 'fc'");
    rc = dlh_layer_new(be, "dense", "fc", t.p, 1, &in, 4, NULL, 1, &l);
    const char *msg = dlh_error_get();
    ok(rc == DLH_ECONFIG && strstr(msg, "unit") && strncmp(msg, "test.cfg:", 9) == 0,
       "unknown key: the located message is not prefixed again (%s)", msg);
    tp_free(&t);

    t = tp_new("units = 3;", "layer 'fc'");
    rc = dlh_layer_new(be, "dnse", "fc", t.p, 1, &in, 4, NULL, 1, &l);
    msg = dlh_error_get();
    ok(rc < 0 && l == NULL && strncmp(msg, "layer 'fc': ", 12) == 0 && strstr(msg, "dnse"),
       "unknown layer type: prefixed with the layer name (%s)", msg);
    tp_free(&t);
}

/* ------------------------------------------------------------ a broken layer
 * Square y = x W^T whose backward has two classic bugs: dx = dy W^T (missing
 * transpose; should be dy W) and dW += 2 dy^T x (a factor 2).  The checker
 * must reject both, or it could not catch them in real layers. */

static int bad_create(const dlh_host *host, dlh_layer_setup *s, void **state)
{
    (void)host;
    static int dummy;
    *state = &dummy;
    int64_t n = dlh_shape_numel(&s->inputs[0]);
    s->output.ndim = 1;
    s->output.dim[0] = n;
    dlh_shape ws = { 2, { n, n } };
    dlh_init def = { DLH_INIT_UNIFORM, -1, 1 };
    return s->add_param(s, "weight", &ws, def, NULL);
}

static int bad_forward(void *st, const dlh_layer_ctx *ctx, const dlh_tensor *x,
                       const dlh_tensor *y)
{
    (void)st;
    int n = (int)y->shape[1];
    return ctx->backend->ops->gemm(ctx->backend->ctx, 0, 1, (int)ctx->batch, n, n, 1.0f,
                                   x->mem, n, ctx->params[0].mem, n, 0.0f, y->mem, n);
}

static int bad_backward(void *st, const dlh_layer_ctx *ctx, const dlh_tensor *x,
                        const dlh_tensor *y, const dlh_tensor *dy, const dlh_tensor *dx)
{
    (void)st;
    const dlh_backend *b = ctx->backend;
    int n = (int)y->shape[1], batch = (int)ctx->batch;
    int rc = b->ops->gemm(b->ctx, 1, 0, n, n, batch, 2.0f, dy->mem, n, x->mem, n, 1.0f,
                          ctx->grads[0].mem, n);
    if (rc < 0)
        return rc;
    return b->ops->gemm(b->ctx, 0, 1, batch, n, n, 1.0f, dy->mem, n, ctx->params[0].mem,
                        n, 0.0f, dx->mem, n);
}

static const dlh_layer_ops bad_ops = {
    .struct_size = sizeof(dlh_layer_ops), .create = bad_create, .forward = bad_forward,
    .backward = bad_backward,
};

static void check_broken_layer_fails(void)
{
    int rc = dlh_registry_add(DLH_KIND_LAYER, "test_bad_linear", &bad_ops,
                              "gradcheck self-test", NULL);
    const int64_t dims[1] = { 5 };
    dlh_layer_inst *l = rc < 0 ? NULL : layer_new("test_bad_linear", "bad", "", 1,
                                                  dims, NULL);
    if (!ok(l != NULL, "broken test layer registered and created"))
        return;
    dlh_shape in = shape_of(1, dims);
    gc_options opt = { .eps = 1e-2, .lo = 0.0, .hi = 1.0, .seed = 3 };
    gc_report rep;
    rc = gradcheck_layer(l, 3, 1, &in, &opt, &rep);
    ok(rc == 0 && rep.err_input > 10 * GC_TOL,
       "gradcheck rejects a missing transpose in dx (err %.2f)", rep.err_input);
    ok(rc == 0 && rep.err_param > 0.4 && rep.err_param < 0.6,
       "gradcheck rejects a factor 2 in dW (err %.3f, expected 0.5)", rep.err_param);
    dlh_layer_free(l);
}

/* ------------------------------------------------------------ relu */

static void check_relu(void)
{
    const int64_t dims[3] = { 2, 3, 4 };
    dlh_layer_inst *l = layer_new("relu", "act", "", 3, dims, NULL);
    if (!ok(l != NULL, "relu: created"))
        return;
    ok(l->output.ndim == 3 && l->output.dim[0] == 2 && l->output.dim[1] == 3 &&
       l->output.dim[2] == 4 && l->n_params == 0, "relu: output shape = input shape");

    const dlh_host *host = dlh_host_table();
    int64_t xs[4] = { 2, 2, 3, 4 };
    float x[48], y[48];
    for (int i = 0; i < 48; i++)
        x[i] = (float)((i * 5) % 13) - 6.0f;
    dlh_tensor tx, ty;
    int rc = dlh_tensor_alloc(be, 4, xs, &tx);
    rc = rc < 0 ? rc : dlh_tensor_alloc(be, 4, xs, &ty);
    rc = rc < 0 ? rc : host->tensor_write(be, &tx, x);
    dlh_layer_ctx ctx;
    dlh_layer_ctx_fill(l, 2, 1, 0, 1, &ctx, NULL);
    rc = rc < 0 ? rc : l->ops->forward(l->state, &ctx, &tx, &ty);
    rc = rc < 0 ? rc : host->tensor_read(be, &ty, y);
    int exact = rc == 0;
    for (int i = 0; exact && i < 48; i++)
        exact = y[i] == (x[i] > 0 ? x[i] : 0.0f);
    ok(exact, "relu forward: y = max(x, 0) exactly");
    dlh_tensor_free(be, &tx);
    dlh_tensor_free(be, &ty);

    /* Inputs at least 0.05 from the kink, so x +- eps keeps its side. */
    dlh_shape in = shape_of(3, dims);
    gc_options opt = { .eps = 1e-2, .lo = 0.05, .hi = 1.0, .seed = 11 };
    gc_report rep;
    rc = gradcheck_layer(l, 3, 1, &in, &opt, &rep);
    ok(rc == 0 && rep.err < GC_TOL, "relu: gradient matches central differences "
       "(max rel err %.2e over %lld values)", rep.err, (long long)rep.n_checked);
    if (rc == 0 && rep.err >= GC_TOL)
        diag("worst: %s", rep.worst);
    dlh_layer_free(l);
}

/* ------------------------------------------------------------ mse */

static dlh_loss_inst *mse_new(const char *body, int ndim, const int64_t *dims,
                              int target_kind)
{
    tparams t = tp_new(body, "loss 'mse'");
    dlh_shape s = shape_of(ndim, dims);
    dlh_loss_inst *l = NULL;
    if (!t.p || dlh_loss_new(be, "mse", t.p, &s, target_kind, 0, 8, &l) < 0)
        l = NULL;
    tp_free(&t);
    return l;
}

static void check_mse_values(int sum)
{
    /* batch 2 of [3]: p - t = {0.5, -1, 2, 0, 1.5, -0.25}; squares sum to 7.5625,
       mean over the 6 elements 1.26041667 (torch.nn.MSELoss()). */
    const int64_t dims[1] = { 3 };
    const float p[6] = { 1.5f, 0.0f, 3.0f, -1.0f, 2.0f, 0.75f };
    const float t[6] = { 1.0f, 1.0f, 1.0f, -1.0f, 0.5f, 1.0f };
    dlh_loss_inst *l = mse_new(sum ? "reduction = \"sum\";" : "", 1, dims,
                               DLH_TARGET_DENSE);
    if (!ok(l != NULL, "mse (%s): created", sum ? "sum" : "mean")) {
        diag("%s", dlh_error_get());
        return;
    }
    const dlh_host *host = dlh_host_table();
    int64_t s[2] = { 2, 3 };
    dlh_tensor tp, tt, td;
    int rc = dlh_tensor_alloc(be, 2, s, &tp);
    rc = rc < 0 ? rc : dlh_tensor_alloc(be, 2, s, &tt);
    rc = rc < 0 ? rc : dlh_tensor_alloc(be, 2, s, &td);
    rc = rc < 0 ? rc : host->tensor_write(be, &tp, p);
    rc = rc < 0 ? rc : host->tensor_write(be, &tt, t);
    dlh_loss_ctx ctx;
    dlh_tensor views[4];
    dlh_loss_ctx_fill(l, 2, &ctx, views);
    float loss = NAN, d[6];
    rc = rc < 0 ? rc : l->ops->forward(l->state, &ctx, &tp, &tt, &loss, &td);
    rc = rc < 0 ? rc : host->tensor_read(be, &td, d);
    is_float(rc == 0 ? loss : NAN, sum ? 7.5625 : 7.5625 / 6, 1e-6,
             "mse %s loss value", sum ? "sum" : "mean");
    double maxerr = rc == 0 ? 0 : 1;
    for (int i = 0; rc == 0 && i < 6; i++) {
        double want = 2.0 * (p[i] - t[i]) / (sum ? 1.0 : 6.0);
        maxerr = fmax(maxerr, fabs(d[i] - want));
    }
    ok(maxerr < 1e-6, "mse %s gradient 2(p - t)%s", sum ? "sum" : "mean",
       sum ? "" : "/N");
    float loss2 = NAN;
    rc = rc < 0 ? rc : l->ops->forward(l->state, &ctx, &tp, &tt, &loss2, NULL);
    ok(rc == 0 && loss2 == loss, "mse value without gradient is the same");
    dlh_tensor_free(be, &tp);
    dlh_tensor_free(be, &tt);
    dlh_tensor_free(be, &td);

    const int64_t d2[2] = { 2, 3 };
    dlh_loss_free(l);
    l = mse_new(sum ? "reduction = \"sum\";" : "", 2, d2, DLH_TARGET_DENSE);
    gc_report rep;
    gc_options opt = { .eps = 5e-2, .lo = 0.0, .hi = 1.0, .seed = 5 };  /* mse is quadratic: any eps is exact */
    rc = l ? gradcheck_loss(l, 4, &(dlh_shape){ 2, { 2, 3 } }, &opt, &rep) : -1;
    ok(rc == 0 && rep.err < GC_TOL, "mse %s: gradient matches central differences "
       "(max rel err %.2e)", sum ? "sum" : "mean", rep.err);
    if (rc == 0 && rep.err >= GC_TOL)
        diag("worst: %s", rep.worst);
    dlh_loss_free(l);
}

static void check_mse_errors(void)
{
    const int64_t dims[1] = { 10 };
    dlh_loss_inst *l = mse_new("", 1, dims, DLH_TARGET_CLASS);
    ok(l == NULL && strstr(dlh_error_get(), "dense targets"),
       "mse refuses class targets (%s)", dlh_error_get());
    dlh_loss_free(l);
    l = mse_new("reduction = \"avg\";", 1, dims, DLH_TARGET_DENSE);
    ok(l == NULL && strstr(dlh_error_get(), "reduction"),
       "mse refuses reduction 'avg' (%s)", dlh_error_get());
    dlh_loss_free(l);
}

/* ------------------------------------------------------------ initialisers */

static int init_run(dlh_init init, int ndim, const int64_t *shape, float **out)
{
    dlh_tensor t;
    *out = NULL;
    int rc = dlh_tensor_alloc(be, ndim, shape, &t);
    if (rc < 0)
        return rc;
    rc = dlh_init_fill(be, &t, init, 9, 77);
    if (rc == 0)
        *out = read_tensor(&t);
    dlh_tensor_free(be, &t);
    return rc;
}

/* Every element equals the Philox uniform (or normal) draw with a, b. */
static int init_matches(const float *v, int64_t n, int normal, float a, float b)
{
    for (int64_t i = 0; v && i < n; i++) {
        float want = normal ? dlh_philox_normal(9, 77, (uint64_t)i, a, b)
                            : dlh_philox_uniform(9, 77, (uint64_t)i, a, b);
        if (fabsf(v[i] - want) > 1e-5f * (1.0f + fabsf(want)))
            return 0;
    }
    return v != NULL;
}

static void check_inits(void)
{
    static const struct { const char *name; int kind; } names[] = {
        { "zeros", DLH_INIT_ZEROS }, { "constant", DLH_INIT_CONSTANT },
        { "uniform", DLH_INIT_UNIFORM }, { "normal", DLH_INIT_NORMAL },
        { "xavier_uniform", DLH_INIT_XAVIER_UNIFORM },
        { "xavier_normal", DLH_INIT_XAVIER_NORMAL },
        { "he_uniform", DLH_INIT_HE_UNIFORM }, { "he_normal", DLH_INIT_HE_NORMAL },
        { "identity", DLH_INIT_IDENTITY }, { "kaiming_uniform", DLH_INIT_HE_UNIFORM },
        { "kaiming_normal", DLH_INIT_HE_NORMAL },
    };
    int all = 1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        all &= dlh_init_parse(names[i].name) == names[i].kind;
    ok(all, "dlh_init_parse knows every initialiser and the kaiming aliases");
    ok(dlh_init_parse("he") == -1 && dlh_init_parse("") == -1 && dlh_init_parse(NULL) == -1,
       "dlh_init_parse: unknown names give -1");

    float *v;
    const int64_t fc[2] = { 20, 30 }, conv[4] = { 8, 4, 3, 3 }, vec[1] = { 10 };
    int rc;

    rc = init_run((dlh_init){ DLH_INIT_UNIFORM, -2, 3 }, 2, fc, &v);
    ok(rc == 0 && init_matches(v, 600, 0, -2, 3), "uniform(-2, 3): the backend's Philox draws");
    free(v);
    rc = init_run((dlh_init){ DLH_INIT_NORMAL, 1, 2 }, 1, vec, &v);
    ok(rc == 0 && init_matches(v, 10, 1, 1, 2), "normal(mean 1, std 2)");
    free(v);
    rc = init_run((dlh_init){ DLH_INIT_CONSTANT, 0.25f, 0 }, 1, vec, &v);
    int c = rc == 0 && v;
    for (int i = 0; c && i < 10; i++)
        c = v[i] == 0.25f;
    ok(c, "constant 0.25");
    free(v);
    rc = init_run((dlh_init){ DLH_INIT_ZEROS, 5, 5 }, 1, vec, &v);
    c = rc == 0 && v;
    for (int i = 0; c && i < 10; i++)
        c = v[i] == 0.0f;
    ok(c, "zeros ignores a and b");
    free(v);

    /* torch: xavier_uniform_ bound = gain sqrt(6 / (fan_in + fan_out)). */
    float b = (float)sqrt(6.0 / 50);
    rc = init_run((dlh_init){ DLH_INIT_XAVIER_UNIFORM, 0, 0 }, 2, fc, &v);
    ok(rc == 0 && init_matches(v, 600, 0, -b, b), "xavier_uniform [20, 30]: bound sqrt(6/50)");
    free(v);
    b = (float)(2.0 * sqrt(6.0 / (36 + 72)));
    rc = init_run((dlh_init){ DLH_INIT_XAVIER_UNIFORM, 2, 0 }, 4, conv, &v);
    ok(rc == 0 && init_matches(v, 288, 0, -b, b),
       "xavier_uniform [8, 4, 3, 3] gain 2: fans 36 and 72 (receptive field 9)");
    free(v);
    float s = (float)(0.5 * sqrt(2.0 / 50));
    rc = init_run((dlh_init){ DLH_INIT_XAVIER_NORMAL, 0.5f, 0 }, 2, fc, &v);
    ok(rc == 0 && init_matches(v, 600, 1, 0, s), "xavier_normal gain 0.5: std 0.5 sqrt(2/50)");
    free(v);
    b = (float)sqrt(6.0 / 36);
    rc = init_run((dlh_init){ DLH_INIT_HE_UNIFORM, 0, 0 }, 4, conv, &v);
    ok(rc == 0 && init_matches(v, 288, 0, -b, b), "he_uniform: bound sqrt(6/fan_in), fan_in 36");
    free(v);
    s = (float)sqrt(2.0 / 30);
    rc = init_run((dlh_init){ DLH_INIT_HE_NORMAL, 0, 0 }, 2, fc, &v);
    ok(rc == 0 && init_matches(v, 600, 1, 0, s), "he_normal [20, 30]: std sqrt(2/30)");
    free(v);

    const int64_t eye[2] = { 3, 4 };
    rc = init_run((dlh_init){ DLH_INIT_IDENTITY, 0, 0 }, 2, eye, &v);
    c = rc == 0 && v;
    for (int i = 0; c && i < 3; i++)
        for (int j = 0; j < 4; j++)
            c &= v[i * 4 + j] == (i == j ? 1.0f : 0.0f);
    ok(c, "identity [3, 4]: eye");
    free(v);
    /* dirac_: weight[d, d, kh/2, kw/2] = 1 for d < min(out, in). */
    const int64_t dir[4] = { 4, 2, 3, 3 };
    rc = init_run((dlh_init){ DLH_INIT_IDENTITY, 0, 0 }, 4, dir, &v);
    c = rc == 0 && v;
    for (int i = 0; c && i < 72; i++) {
        int o = i / 18, ic = (i / 9) % 2, ky = (i / 3) % 3, kx = i % 3;
        c &= v[i] == (o == ic && o < 2 && ky == 1 && kx == 1 ? 1.0f : 0.0f);
    }
    ok(c, "identity [4, 2, 3, 3]: Dirac (centre taps of the first 2 channels)");
    free(v);
    const int64_t dir1[3] = { 2, 2, 5 };
    rc = init_run((dlh_init){ DLH_INIT_IDENTITY, 0, 0 }, 3, dir1, &v);
    c = rc == 0 && v;
    for (int i = 0; c && i < 20; i++)
        c &= v[i] == (i == 2 || i == 17 ? 1.0f : 0.0f);
    ok(c, "identity [2, 2, 5]: Dirac for 1-D convolutions");
    free(v);

    rc = init_run((dlh_init){ DLH_INIT_XAVIER_UNIFORM, 0, 0 }, 1, vec, &v);
    ok(rc == DLH_EINVAL && strstr(dlh_error_get(), "Fan in and fan out can not be computed"),
       "xavier_uniform on a 1-D tensor is refused (%s)", dlh_error_get());
    free(v);
    rc = init_run((dlh_init){ DLH_INIT_HE_NORMAL, 0, 0 }, 1, vec, &v);
    ok(rc == DLH_EINVAL, "he_normal on a 1-D tensor is refused");
    free(v);
    rc = init_run((dlh_init){ DLH_INIT_IDENTITY, 0, 0 }, 1, vec, &v);
    ok(rc == DLH_EINVAL && strstr(dlh_error_get(), "identity"),
       "identity on a 1-D tensor is refused (%s)", dlh_error_get());
    free(v);
}

int main(void)
{
    if (dlh_registry_load_all(0) < 0 || dlh_backend_open("cpu", NULL, &be) < 0) {
        ok(0, "load plugins and open the cpu backend: %s", dlh_error_get());
        return done_testing();
    }

    /* dense: in = 1, plain vectors, a multi-dimensional sample, one unit,
       batch 1, without bias. */
    check_dense_grad("units = 3;", 1, (const int64_t[]){ 1 }, 4, "in=1 units=3");
    check_dense_grad("units = 4;", 1, (const int64_t[]){ 7 }, 3, "in=7 units=4");
    check_dense_grad("units = 4; bias = false;", 1, (const int64_t[]){ 7 }, 3,
                     "in=7 units=4 no bias");
    check_dense_grad("units = 5;", 3, (const int64_t[]){ 2, 3, 2 }, 2,
                     "[2,3,2] -> 5");
    check_dense_grad("units = 1;", 1, (const int64_t[]){ 6 }, 1, "in=6 units=1 batch 1");
    check_dense_grad("units = 6; bias = false;", 2, (const int64_t[]){ 1, 3 }, 5,
                     "[1,3] -> 6 no bias batch 5");
    check_dense_forward(1);
    check_dense_forward(0);
    check_dense_override();
    check_dense_errors();
    check_broken_layer_fails();
    check_relu();
    check_mse_values(0);
    check_mse_values(1);
    check_mse_errors();
    check_inits();

    dlh_backend_close(be);
    dlh_registry_clear();
    return done_testing();
}
