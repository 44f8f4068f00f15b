/* The batchnorm layer of the "normalization" plugin: gradients of input,
 * weight and bias in training against central differences
 * (tests/gradcheck.c) for [N, C], [N, C, L] and [N, C, H, W] inputs, in
 * training and in evaluation mode (a frozen batchnorm: running statistics,
 * which backward differentiates through as constants); running
 * statistics, training and evaluation outputs against PyTorch
 * (tests/ref/batchnorm.py); evaluation-mode backward against its formula;
 * backward without an input gradient; and the messages for bad parameters
 * and shapes. */
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

/* ------------------------------------------------------------ PyTorch values */

/* From tests/ref/batchnorm.py (torch 1.13, float32). */
/* bn1d: input [5, 3], momentum 0.3, eps 1e-05 */
static const float bn1d_running_mean[] = { 0.171359688, 0.0641916767, -0.0350711122 };
static const float bn1d_running_var[] = { 1.56349075, 1.52681875, 1.33869445 };
static const float bn1d_train[] = {
    0.376214534, 0.463326246, -0.104378521, -0.738712192, -1.01640642, -0.839994252,
    -0.264243245, 0.620348573, 1.89561844, 0.371615946, 0.447462469, -0.130892649,
    -0.744875073, -1.01473081, -0.820352912
};
static const float bn1d_eval[] = {
    -0.00748550007, -0.760856271, -1.76654422, -1.07407868, -0.66186887, 0.754410505,
    0.644853532, 1.55894268, 1.87642074, -0.0241457429, -0.782380819, -1.77741897,
    -1.06759465, -0.639176309, 0.789824307
};
/* bn1d_l: input [2, 3, 4], momentum 0.1, eps 1e-05 */
static const float bn1d_l_running_mean[] = { -0.0028998889, 0.0248392634, 0.0687405691 };
static const float bn1d_l_running_var[] = { 1.07347333, 1.09293413, 1.10259998 };
static const float bn1d_l_train[] = {
    0.743396997, 0.364283741, -0.172954246, -0.615645528, -1.4179486, -1.09937513,
    -0.417063385, 0.308084726, 1.48073328, 1.38944781, 0.709049702, -0.240459159,
    -0.623157799, -0.754317343, -0.517506003, -0.0240999125, 0.323029667, 0.739501774,
    0.654859543, 0.108911633, -0.262871921, -1.02544355, -1.24136674, -0.809089422
};
static const float bn1d_l_eval[] = {
    0.11642988, -0.693050861, -1.20189393, -1.17078245, -0.735864997, 0.483219177,
    1.52084684, 1.88900554, 1.9687134, 0.516541362, -1.07498765, -2.05735278,
    -1.16295719, -0.596306503, 0.225481436, 0.915906966, 1.8873651, 1.3938911,
    0.290657282, -0.903468072, -2.06869125, -1.9524709, -0.814392328, 0.810288131
};
/* bn2d: input [3, 2, 3, 5], momentum 0.1, eps 0.001 */
static const float bn2d_running_mean[] = { 0.0303909201, 0.0290593524 };
static const float bn2d_running_var[] = { 1.07884669, 1.07902253 };
static const float bn2d_train[] = {
    0.440017819, 0.100089133, -0.381620765, -0.778556168, -0.904032111, -0.699035347,
    -0.259979039, 0.206641763, 0.481368095, 0.434991717, 0.0893242359, -0.393061489,
    -0.78529197, -0.902895033, -0.690560222, -0.173924327, 0.523887217, 0.92656666,
    0.844727576, 0.316860259, -0.408771127, -0.990890801, -1.1557188, -0.8257339,
    -0.15613313, 0.538159728, 0.930607975, 0.836636961, 0.300442845, -0.425793976,
    -0.798266411, -0.900026262, -0.673197389, -0.224460959, 0.235135257, 0.489436001,
    0.418839663, 0.0565487631, -0.427045584, -0.804501414, -0.898295343, -0.664314687,
    -0.212604091, 0.244389832, 0.491735667, 0.819660544, 0.267269939, -0.459561586,
    -1.01899385, -1.14791703, -0.785696745, -0.102690607, 0.579872727, 0.940973163,
    0.810779512, 0.250523835, -0.476296842, -1.02784741, -1.14472497, -0.771960199,
    -0.188884154, 0.262518257, 0.495746523, 0.401109785, 0.023117125, -0.460455567,
    -0.822176516, -0.891922653, -0.636891365, -0.177027807, 0.271387011, 0.49745658,
    0.39485684, 0.0118420767, -0.471449912, -1.0447681, -1.13745868, -0.74392432,
    -0.0492504872, 0.61984688, 0.948680878, 0.782595754, 0.199703842, -0.525851607,
    -1.05283058, -1.13338661, -0.729632854, -0.0314611606, 0.632767498, 0.950656056
};
static const float bn2d_eval[] = {
    0.0994779393, -0.707614124, -1.21495569, -1.183936, -0.629144251, 0.188492388,
    0.884426653, 1.13134968, 0.813129961, 0.0794309378, -0.724677145, -1.22100973,
    -1.17613387, -0.611155272, 0.208207712, 1.54572093, 1.89617288, 1.3997556,
    0.289941758, -0.911305785, -1.63902152, -1.55094945, -0.688511074, 0.542675197,
    1.56356335, 1.89401352, 1.37861013, 0.259755254, -0.93633616, -1.64712358,
    -1.1595937, -0.574723661, 0.247396544, 0.920110762, 1.12703109, 0.770839512,
    0.0190586988, -0.774737298, -1.23721373, -1.15086067, -0.556291282, 0.266859025,
    0.93144989, 1.12491381, 0.756261826, 0.199251473, -0.985514641, -1.66184735,
    -1.511657, -0.605580151, 0.630240917, 1.61458015, 1.88448763, 1.31302166,
    0.168951318, -1.00964892, -1.66846502, -1.49764562, -0.57752955, 0.659138143,
    0.953275323, 1.11966634, 0.726409316, -0.0415408127, -0.82300514, -1.2504487,
    -1.12283826, -0.500190854, 0.324652642, 0.963755548, 1.11653757, 0.711143136,
    -0.0617645159, -0.838674784, -1.25419474, -1.46827567, -0.5208655, 0.71644628,
    1.66173279, 1.87041068, 1.24433565, 0.0779606402, -1.08015001, -1.68531895,
    -1.45292544, -0.492268026, 0.744841158, 1.6765703, 1.86471272, 1.22078216
};

/* ------------------------------------------------------------ helpers */


/* A batchnorm over n_in inputs of per-sample shape `in`, for up to 16
   samples; NULL on failure (the code in *rc when rc is not NULL). */
static dlh_layer_inst *bn_new_rc(const char *body, int n_in, const dlh_shape *in, int *rc)
{
    tparams t = tp_new(body, "layer 'bn'");
    dlh_layer_inst *l = NULL;
    int r = t.p ? dlh_layer_new(be, "batchnorm", "bn", t.p, n_in, in, 16, NULL, 42, &l)
                : DLH_ECONFIG;
    if (rc)
        *rc = r;
    tp_free(&t);
    return r < 0 ? NULL : l;
}

static dlh_layer_inst *bn_new(const char *body, const dlh_shape *in)
{
    int rc;
    dlh_layer_inst *l = bn_new_rc(body, 1, in, &rc);
    if (!l)
        diag("batchnorm {%s}: %s", body, dlh_error_get());
    return l;
}

/* The tensor of param or buffer `name`, NULL when the layer has none. */
static const dlh_tensor *bn_tensor(const dlh_layer_inst *l, const char *name, int grad)
{
    for (int i = 0; i < l->n_params; i++)
        if (strcmp(l->params[i].name, name) == 0)
            return grad ? &l->params[i].grad : &l->params[i].value;
    for (int i = 0; i < l->n_buffers; i++)
        if (!grad && strcmp(l->buffers[i].name, name) == 0)
            return &l->buffers[i].value;
    return NULL;
}

/* weight[c] = 0.5 + 0.25 c, bias[c] = 0.1 c - 0.2, as tests/ref/batchnorm.py. */
static int bn_set_affine(dlh_layer_inst *l)
{
    int64_t c = l->output.dim[0];
    float w[64], b[64];
    for (int64_t i = 0; i < c && i < 64; i++) {
        w[i] = (float)(0.5 + 0.25 * (double)i);
        b[i] = (float)(0.1 * (double)i - 0.2);
    }
    const dlh_tensor *tw = bn_tensor(l, "weight", 0), *tb = bn_tensor(l, "bias", 0);
    if (c > 64 || !tw || !tb)
        return DLH_EINVAL;
    int rc = dlh_host_table()->tensor_write(be, tw, w);
    return rc < 0 ? rc : dlh_host_table()->tensor_write(be, tb, b);
}

/* Element i of input k of tests/ref/batchnorm.py. */
static void ref_input(float *x, int64_t n, int k)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(sin(0.7 * (double)i + k) * (1 + 0.5 * k) + 0.1 * k);
}

/* Device tensors for one forward/backward of `batch` samples. */
typedef struct bn_run {
    dlh_tensor x, y, dy, dx;
    dlh_tensor *views;
    dlh_layer_ctx ctx;
    int64_t n;
} bn_run;

static void bn_run_free(bn_run *r)
{
    dlh_tensor_free(be, &r->x);
    dlh_tensor_free(be, &r->y);
    dlh_tensor_free(be, &r->dy);
    dlh_tensor_free(be, &r->dx);
    free(r->views);
}

static int bn_run_new(dlh_layer_inst *l, int64_t batch, int training, bn_run *r)
{
    memset(r, 0, sizeof *r);
    int64_t shape[DLH_MAX_DIMS];
    shape[0] = batch;
    for (int i = 0; i < l->output.ndim; i++)
        shape[i + 1] = l->output.dim[i];
    int nd = l->output.ndim + 1, rc;
    if (!(r->views = calloc((size_t)l->n_scratch + 1, sizeof *r->views)))
        return DLH_ENOMEM;
    if ((rc = dlh_tensor_alloc(be, nd, shape, &r->x)) < 0 ||
        (rc = dlh_tensor_alloc(be, nd, shape, &r->y)) < 0 ||
        (rc = dlh_tensor_alloc(be, nd, shape, &r->dy)) < 0 ||
        (rc = dlh_tensor_alloc(be, nd, shape, &r->dx)) < 0)
        return rc;
    r->n = dlh_tensor_numel(&r->x);
    dlh_layer_ctx_fill(l, batch, training, 0, 1, &r->ctx, r->views);
    return 0;
}

static int bn_forward(dlh_layer_inst *l, bn_run *r, const float *x, float *y)
{
    const dlh_host *host = dlh_host_table();
    int rc;
    if ((rc = host->tensor_write(be, &r->x, x)) < 0 ||
        (rc = l->ops->forward(l->state, &r->ctx, &r->x, &r->y)) < 0)
        return rc;
    return host->tensor_read(be, &r->y, y);
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

/* ------------------------------------------------------------ gradients */

static void check_grad(const char *body, int ndim, const int64_t *dims, int64_t batch,
                       const char *what)
{
    dlh_shape in = shape_of(ndim, dims);
    dlh_layer_inst *l = bn_new(body, &in);
    if (!ok(l != NULL, "%s: created", what))
        return;
    /* Not gamma = 1, beta = 0: the gradient of x must carry gamma. */
    if (l->n_params > 0 && bn_set_affine(l) < 0)
        diag("could not set weight and bias: %s", dlh_error_get());
    gc_options opt = { .eps = 1e-2, .lo = 0.0, .hi = 1.0, .seed = 11 };
    gc_report rep;
    int rc = gradcheck_layer(l, batch, 1, &in, &opt, &rep);
    ok(rc == 0 && rep.err < GC_TOL && rep.n_checked > 0,
       "%s: gradients of input%s match central differences (max rel err %.2e over "
       "%lld values)", what, l->n_params ? ", weight and bias" : "", rep.err,
       (long long)rep.n_checked);
    if (rc < 0)
        diag("%s", dlh_error_get());
    else if (rep.err >= GC_TOL)
        diag("worst: %s", rep.worst);
    dlh_layer_free(l);
}

/* Evaluation mode (what the graph runs for a batchnorm whose parameters
   are all frozen): running statistics that are not 0 and 1, so the
   gradient of x must carry gamma / sqrt(running_var + eps). */
static void check_grad_eval(const char *body, int ndim, const int64_t *dims, int64_t batch,
                            const char *what)
{
    dlh_shape in = shape_of(ndim, dims);
    dlh_layer_inst *l = bn_new(body, &in);
    if (!ok(l != NULL, "%s: created", what))
        return;
    int64_t c = l->output.dim[0];
    float rm[16], rv[16];
    for (int64_t i = 0; i < c && i < 16; i++) {
        rm[i] = (float)(0.3 * (double)i - 0.25);
        rv[i] = (float)(0.4 + 0.7 * (double)i);
    }
    const dlh_tensor *trm = bn_tensor(l, "running_mean", 0),
                     *trv = bn_tensor(l, "running_var", 0);
    int rc = c <= 16 && trm && trv ? 0 : DLH_EINVAL;
    if (rc == 0 && l->n_params > 0)
        rc = bn_set_affine(l);
    if (rc == 0 && (rc = dlh_host_table()->tensor_write(be, trm, rm)) == 0)
        rc = dlh_host_table()->tensor_write(be, trv, rv);
    gc_options opt = { .eps = 1e-2, .lo = 0.0, .hi = 1.0, .seed = 12, .eval = 1 };
    gc_report rep;
    memset(&rep, 0, sizeof rep);
    if (rc == 0)
        rc = gradcheck_layer(l, batch, 1, &in, &opt, &rep);
    float after[16];
    int same = rc == 0 && dlh_host_table()->tensor_read(be, trm, after) == 0 &&
               memcmp(after, rm, (size_t)c * sizeof *after) == 0 &&
               l->counters[0] == 0;
    ok(rc == 0 && rep.err < GC_TOL && rep.n_checked > 0,
       "%s, evaluation mode: gradients of input%s match central differences (max rel "
       "err %.2e over %lld values)", what, l->n_params ? ", weight and bias" : "", rep.err,
       (long long)rep.n_checked);
    ok(same, "%s, evaluation mode: running_mean and num_batches_tracked unchanged", what);
    if (rc < 0)
        diag("%s", dlh_error_get());
    else if (rep.err >= GC_TOL)
        diag("worst: %s", rep.worst);
    dlh_layer_free(l);
}

static void check_grads(void)
{
    const int64_t c3[1] = { 3 }, c3l5[2] = { 3, 5 }, c3h5w3[3] = { 3, 5, 3 },
                  c2h3w3[3] = { 2, 3, 3 };
    check_grad("", 1, c3, 5, "[N, C] = [5, 3]");
    check_grad("momentum = 0.5; eps = 1e-3;", 2, c3l5, 3, "[N, C, L] = [3, 3, 5]");
    check_grad("", 3, c3h5w3, 3, "[N, C, H, W] = [3, 3, 5, 3]");
    check_grad("affine = false;", 3, c2h3w3, 2, "[N, C, H, W] = [2, 2, 3, 3], affine = false");
    check_grad("affine = false;", 1, c3, 7, "[N, C] = [7, 3], affine = false");
    check_grad_eval("", 1, c3, 5, "[N, C] = [5, 3]");
    check_grad_eval("", 3, c3h5w3, 3, "[N, C, H, W] = [3, 3, 5, 3]");
    check_grad_eval("affine = false;", 2, c3l5, 3, "[N, C, L] = [3, 3, 5], affine = false");
}

/* ------------------------------------------------------------ PyTorch values */

typedef struct ref_case {
    const char *name, *body;
    int ndim;                   /* per-sample */
    int64_t dims[3];
    int64_t batch;
    const float *rm, *rv, *train, *eval;
} ref_case;

static void check_reference(const ref_case *k)
{
    dlh_shape in = shape_of(k->ndim, k->dims);
    dlh_layer_inst *l = bn_new(k->body, &in);
    if (!ok(l != NULL, "%s: created", k->name))
        return;
    bn_run tr, ev;
    float *x = NULL, *y = NULL, rm[8], rv[8];
    int rc = bn_set_affine(l);
    rc = rc < 0 ? rc : bn_run_new(l, k->batch, 1, &tr);
    rc = rc < 0 ? rc : bn_run_new(l, k->batch, 0, &ev);
    int64_t n = tr.n, c = in.dim[0];
    if (rc == 0 && (!(x = calloc((size_t)n, sizeof *x)) || !(y = calloc((size_t)n, sizeof *y))))
        rc = DLH_ENOMEM;
    for (int step = 0; rc == 0 && step < 3; step++) {
        ref_input(x, n, step);
        rc = bn_forward(l, &tr, x, y);
    }
    const dlh_host *host = dlh_host_table();
    rc = rc < 0 ? rc : host->tensor_read(be, bn_tensor(l, "running_mean", 0), rm);
    rc = rc < 0 ? rc : host->tensor_read(be, bn_tensor(l, "running_var", 0), rv);
    if (ok(rc == 0, "%s: three training forwards", k->name)) {
        double e = rel_err(rm, k->rm, c);
        ok(e < 1e-5, "%s: running_mean after 3 steps matches PyTorch (err %.1e)",
           k->name, e);
        e = rel_err(rv, k->rv, c);
        ok(e < 1e-5, "%s: running_var after 3 steps matches PyTorch (err %.1e)",
           k->name, e);
        e = rel_err(y, k->train, n);
        ok(e < 1e-5, "%s: training output matches PyTorch (err %.1e)", k->name, e);
    } else {
        diag("%s", dlh_error_get());
    }
    if (rc == 0) {
        ref_input(x, n, 3);
        rc = bn_forward(l, &ev, x, y);
        double e = rc == 0 ? rel_err(y, k->eval, n) : INFINITY;
        ok(rc == 0 && e < 1e-5, "%s: evaluation output (running statistics) matches "
           "PyTorch (err %.1e)", k->name, e);
        /* Evaluation leaves the running statistics alone. */
        float rm2[8];
        rc = host->tensor_read(be, bn_tensor(l, "running_mean", 0), rm2);
        ok(rc == 0 && memcmp(rm, rm2, (size_t)c * sizeof *rm) == 0,
           "%s: evaluation forward leaves running_mean unchanged", k->name);
    }
    bn_run_free(&tr);
    bn_run_free(&ev);
    free(x);
    free(y);
    dlh_layer_free(l);
}

static void check_references(void)
{
    const ref_case cases[] = {
        { "bn1d [5, 3]", "momentum = 0.3;", 1, { 3 }, 5, bn1d_running_mean,
          bn1d_running_var, bn1d_train, bn1d_eval },
        { "bn1d [2, 3, 4]", "", 2, { 3, 4 }, 2, bn1d_l_running_mean,
          bn1d_l_running_var, bn1d_l_train, bn1d_l_eval },
        { "bn2d [3, 2, 3, 5]", "eps = 1e-3; affine = true;", 3, { 2, 3, 5 }, 3,
          bn2d_running_mean, bn2d_running_var, bn2d_train, bn2d_eval },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_reference(&cases[i]);
}

/* ------------------------------------------------------------ backward paths */

/* Evaluation backward: dx = dy * gamma / sqrt(running_var + eps), dbeta = sum dy,
   dgamma = sum dy * (x - running_mean) / sqrt(running_var + eps).  Also the
   parameter gradients of a training backward without d_input equal those with
   it, and the output is left as forward wrote it. */
static void check_backward_paths(void)
{
    const int64_t dims[3] = { 2, 3, 3 };
    dlh_shape in = shape_of(3, dims);
    dlh_layer_inst *l = bn_new("eps = 0.01;", &in);
    if (!ok(l != NULL, "backward paths: created"))
        return;
    const dlh_host *host = dlh_host_table();
    const int64_t batch = 3, c = 2, s = 9;
    bn_run ev, tr;
    float x[54], dy[54], y[54], dx[54], y2[54], rm[2] = { 0.25f, -0.5f },
          rv[2] = { 2.0f, 0.5f }, g[2], b[2], dg[2], db[2];
    ref_input(x, 54, 1);
    ref_input(dy, 54, 2);
    int rc = bn_set_affine(l);
    rc = rc < 0 ? rc : host->tensor_write(be, bn_tensor(l, "running_mean", 0), rm);
    rc = rc < 0 ? rc : host->tensor_write(be, bn_tensor(l, "running_var", 0), rv);
    rc = rc < 0 ? rc : host->tensor_read(be, bn_tensor(l, "weight", 0), g);
    rc = rc < 0 ? rc : host->tensor_read(be, bn_tensor(l, "bias", 0), b);
    rc = rc < 0 ? rc : bn_run_new(l, batch, 0, &ev);
    rc = rc < 0 ? rc : dlh_layer_zero_grad(l);
    rc = rc < 0 ? rc : bn_forward(l, &ev, x, y);
    rc = rc < 0 ? rc : host->tensor_write(be, &ev.dy, dy);
    rc = rc < 0 ? rc : l->ops->backward(l->state, &ev.ctx, &ev.x, &ev.y, &ev.dy, &ev.dx);
    rc = rc < 0 ? rc : host->tensor_read(be, &ev.dx, dx);
    rc = rc < 0 ? rc : host->tensor_read(be, bn_tensor(l, "weight", 1), dg);
    rc = rc < 0 ? rc : host->tensor_read(be, bn_tensor(l, "bias", 1), db);
    if (ok(rc == 0, "evaluation forward and backward ran")) {
        double ey = 0, edx = 0, edg = 0, edb = 0, sg[2] = { 0, 0 }, sb[2] = { 0, 0 };
        for (int64_t i = 0; i < batch * c * s; i++) {
            int ch = (int)((i / s) % c);
            double r = 1.0 / sqrt((double)rv[ch] + 0.01), xh = (x[i] - rm[ch]) * r;
            ey = fmax(ey, fabs(y[i] - (xh * g[ch] + b[ch])));
            edx = fmax(edx, fabs(dx[i] - dy[i] * g[ch] * r));
            sg[ch] += dy[i] * xh;
            sb[ch] += dy[i];
        }
        for (int ch = 0; ch < c; ch++) {
            edg = fmax(edg, fabs(dg[ch] - sg[ch]) / fmax(1, fabs(sg[ch])));
            edb = fmax(edb, fabs(db[ch] - sb[ch]) / fmax(1, fabs(sb[ch])));
        }
        ok(ey < 1e-5, "evaluation: y = (x - running_mean)/sqrt(running_var + eps)*w + b "
           "(err %.1e)", ey);
        ok(edx < 1e-5, "evaluation backward: dx = dy*w/sqrt(running_var + eps) (err %.1e)",
           edx);
        ok(edg < 1e-5 && edb < 1e-5, "evaluation backward: dweight and dbias "
           "(err %.1e, %.1e)", edg, edb);
    } else {
        diag("%s", dlh_error_get());
    }
    bn_run_free(&ev);

    /* Training backward with and without d_input. */
    float dg1[2], db1[2], dg2[2], db2[2];
    dlh_tensor nodx;
    rc = bn_run_new(l, batch, 1, &tr);
    rc = rc < 0 ? rc : host->tensor_write(be, &tr.dy, dy);
    rc = rc < 0 ? rc : dlh_layer_zero_grad(l);
    rc = rc < 0 ? rc : bn_forward(l, &tr, x, y);
    rc = rc < 0 ? rc : l->ops->backward(l->state, &tr.ctx, &tr.x, &tr.y, &tr.dy, &tr.dx);
    rc = rc < 0 ? rc : host->tensor_read(be, bn_tensor(l, "weight", 1), dg1);
    rc = rc < 0 ? rc : host->tensor_read(be, bn_tensor(l, "bias", 1), db1);
    rc = rc < 0 ? rc : dlh_layer_zero_grad(l);
    nodx = tr.dx;
    nodx.mem.buf = NULL;
    rc = rc < 0 ? rc : l->ops->backward(l->state, &tr.ctx, &tr.x, &tr.y, &tr.dy, &nodx);
    rc = rc < 0 ? rc : host->tensor_read(be, bn_tensor(l, "weight", 1), dg2);
    rc = rc < 0 ? rc : host->tensor_read(be, bn_tensor(l, "bias", 1), db2);
    rc = rc < 0 ? rc : host->tensor_read(be, &tr.y, y2);
    if (ok(rc == 0, "training backward with and without d_input ran")) {
        double e = fmax(rel_err(dg2, dg1, 2), rel_err(db2, db1, 2));
        ok(e < 1e-6 && fabs(dg1[0]) > 1e-3, "training backward without d_input: same "
           "dweight and dbias (err %.1e)", e);
        e = rel_err(y2, y, 54);
        ok(e < 1e-6, "training backward without d_input: output as forward left it "
           "(err %.1e)", e);
    } else {
        diag("%s", dlh_error_get());
    }
    bn_run_free(&tr);
    dlh_layer_free(l);
}

/* ------------------------------------------------------------ errors */

/* Creation fails with DLH_ECONFIG and a message holding every fragment. */
static void bad(const char *body, int n_in, const dlh_shape *in, const char *frag1,
                const char *frag2, const char *what)
{
    int rc;
    dlh_layer_inst *l = bn_new_rc(body, n_in, in, &rc);
    const char *msg = dlh_error_get();
    ok(l == NULL && rc == DLH_ECONFIG && strstr(msg, frag1) &&
       (!frag2 || strstr(msg, frag2)), "batchnorm %s: refused (%s)", what, msg);
    dlh_layer_free(l);
}

static void check_errors(void)
{
    const int64_t d1[1] = { 3 }, d4[4] = { 2, 3, 4, 5 };
    dlh_shape c3 = shape_of(1, d1), rank1 = shape_of(0, d1), rank5 = shape_of(4, d4);
    dlh_shape two[2] = { c3, c3 };
    bad("momentum = 1.5;", 1, &c3, "momentum", "[0, 1]", "momentum 1.5");
    bad("momentum = -0.1;", 1, &c3, "momentum", "[0, 1]", "momentum -0.1");
    bad("eps = 0.0;", 1, &c3, "eps", "> 0", "eps 0");
    bad("eps = -1e-5;", 1, &c3, "eps", "> 0", "eps -1e-5");
    bad("affine = \"yes\";", 1, &c3, "affine", NULL, "affine as a string");
    bad("momentun = 0.2;", 1, &c3, "momentum", "did you mean", "with momentum misspelt");
    bad("", 1, &rank1, "[N, C, H, W]", "got [N]", "over a rank-1 input [N]");
    bad("", 1, &rank5, "[N, C, H, W]", "got [N, 2, 3, 4, 5]", "over a rank-5 input");
    bad("", 2, two, "exactly one input", NULL, "of two inputs");

    /* One value per channel cannot give a variance (PyTorch refuses too). */
    dlh_layer_inst *l = bn_new("", &c3);
    bn_run r;
    float x[3] = { 1, 2, 3 }, y[3];
    int rc = l ? bn_run_new(l, 1, 1, &r) : DLH_EINVAL;
    if (rc == 0) {
        rc = bn_forward(l, &r, x, y);
        ok(rc == DLH_EINVAL && strstr(dlh_error_get(), "more than 1 value per channel") &&
           strstr(dlh_error_get(), "[1, 3]"),
           "training forward of one [C] sample: refused (%s)", dlh_error_get());
        bn_run_free(&r);
        rc = bn_run_new(l, 1, 0, &r);
        rc = rc < 0 ? rc : bn_forward(l, &r, x, y);
        ok(rc == 0, "evaluation forward of one [C] sample: accepted");
        bn_run_free(&r);
    } else {
        ok(0, "batch-of-one layer: %s", dlh_error_get());
    }
    dlh_layer_free(l);
}

int main(void)
{
    if (dlh_registry_load_all(0) < 0 || dlh_backend_open("cpu", NULL, &be) < 0) {
        ok(0, "load plugins and open the cpu backend: %s", dlh_error_get());
        return done_testing();
    }
    check_grads();
    check_references();
    check_backward_paths();
    check_errors();
    dlh_backend_close(be);
    dlh_registry_clear();
    return done_testing();
}
