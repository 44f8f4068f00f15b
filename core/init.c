/* Parameter initialisers: torch.nn.init's formulas (PyTorch 1.13) over
 * Philox draws, so a given (seed, stream) gives the same weights on every
 * backend; and the experiment keys `init` and `bias_init` that pick them. */
#include "init.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlhost/philox.h>

#include "blas_lib.h"
#include "error.h"
#include "instance.h"
#include "registry.h"


/* By kind: the name the experiment file writes (torch's, without the _). */
static const char *const init_names[DLH_INIT_KIND_COUNT] = {
    "zeros", "constant", "uniform", "normal", "xavier_uniform", "xavier_normal",
    "kaiming_uniform", "kaiming_normal", "identity", "ones", "eye", "dirac",
    "trunc_normal", "orthogonal", "sparse"
};

/* Every accepted name, for did-you-mean: the kinds' and two aliases. */
static const char *const init_all_names[] = {
    "zeros", "ones", "constant", "uniform", "normal", "trunc_normal", "xavier_uniform",
    "xavier_normal", "kaiming_uniform", "kaiming_normal", "he_uniform", "he_normal",
    "orthogonal", "sparse", "eye", "dirac", "identity"
};
#define INIT_N_NAMES (sizeof init_all_names / sizeof *init_all_names)

int dlh_init_parse(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < DLH_INIT_KIND_COUNT; i++)
        if (strcmp(name, init_names[i]) == 0)
            return i;
    /* Keras's names for the kaiming (He) initialisers. */
    if (strcmp(name, "he_uniform") == 0)
        return DLH_INIT_HE_UNIFORM;
    if (strcmp(name, "he_normal") == 0)
        return DLH_INIT_HE_NORMAL;
    return -1;
}

const char *dlh_init_kind_name(int kind)
{
    return kind >= 0 && kind < DLH_INIT_KIND_COUNT ? init_names[kind] : "?";
}

const char *dlh_init_known_names(void)
{
    return "zeros, ones, constant, uniform, normal, trunc_normal, xavier_uniform, "
           "xavier_normal, kaiming_uniform (he_uniform), kaiming_normal (he_normal), "
           "orthogonal, sparse, eye, dirac, identity";
}

/* ------------------------------------------------------------ specs */

dlh_init_spec dlh_init_spec_from(dlh_init init)
{
    dlh_init_spec s = dlh_init_spec_of(init.kind);
    switch (init.kind) {
    case DLH_INIT_CONSTANT:
        s.value = init.a;
        break;
    case DLH_INIT_UNIFORM:
        s.a = init.a;
        s.b = init.b;
        break;
    case DLH_INIT_NORMAL:
    case DLH_INIT_TRUNC_NORMAL:
        s.mean = init.a;
        s.std = init.b;
        break;
    case DLH_INIT_XAVIER_UNIFORM:
    case DLH_INIT_XAVIER_NORMAL:
    case DLH_INIT_ORTHOGONAL:
        s.gain = init.a == 0.0f ? 1.0 : init.a;
        break;
    case DLH_INIT_SPARSE:
        s.sparsity = init.a;
        s.std = init.b;
        break;
    default:
        break;
    }
    return s;
}

int dlh_init_spec_copy(const dlh_init_spec *s, dlh_init_spec *out)
{
    size_t need = offsetof(dlh_init_spec, kind) + sizeof s->kind;
    if (!s || s->struct_size < need) {
        dlh_error_set("initialiser: struct_size %u is too small (at least %zu)",
                      s ? (unsigned)s->struct_size : 0u, need);
        return DLH_EINVAL;
    }
    size_t n = s->struct_size < sizeof *out ? s->struct_size : sizeof *out;
    memset(out, 0, sizeof *out);
    memcpy(out, s, n);
    out->struct_size = sizeof *out;
    return 0;
}

int dlh_init_spec_check(const dlh_init_spec *s)
{
    const char *k = dlh_init_kind_name(s->kind);
    if (s->kind < 0 || s->kind >= DLH_INIT_KIND_COUNT) {
        dlh_error_set("unknown initialiser kind %d", (int)s->kind);
        return DLH_EINVAL;
    }
    /* Each kind's numbers must be finite (torch would fill NaN or inf). */
    const double *num[4] = { NULL };
    const char *what[4] = { NULL };
    switch (s->kind) {
    case DLH_INIT_CONSTANT:
        num[0] = &s->value, what[0] = "value";
        break;
    case DLH_INIT_UNIFORM:
        num[0] = &s->a, what[0] = "a";
        num[1] = &s->b, what[1] = "b";
        break;
    case DLH_INIT_TRUNC_NORMAL:
        num[2] = &s->a, what[2] = "a";
        num[3] = &s->b, what[3] = "b";
        /* fall through */
    case DLH_INIT_NORMAL:
        num[0] = &s->mean, what[0] = "mean";
        num[1] = &s->std, what[1] = "std";
        break;
    case DLH_INIT_XAVIER_UNIFORM:
    case DLH_INIT_XAVIER_NORMAL:
    case DLH_INIT_HE_UNIFORM:
    case DLH_INIT_HE_NORMAL:
    case DLH_INIT_ORTHOGONAL:
        num[0] = &s->gain, what[0] = "gain";
        break;
    case DLH_INIT_SPARSE:
        num[0] = &s->sparsity, what[0] = "sparsity";
        num[1] = &s->std, what[1] = "std";
        break;
    default:
        break;
    }
    for (int i = 0; i < 4; i++)
        if (num[i] && !isfinite(*num[i])) {
            dlh_error_set("%s: %s must be a finite number, got %g", k, what[i], *num[i]);
            return DLH_EINVAL;
        }
    switch (s->kind) {
    case DLH_INIT_UNIFORM:
        if (s->a > s->b) {
            dlh_error_set("uniform_ expects to return a [from, to) range, but found "
                          "from=%g > to=%g", s->a, s->b);
            return DLH_EINVAL;
        }
        break;
    case DLH_INIT_NORMAL:
    case DLH_INIT_SPARSE:
        if (s->std < 0.0) {
            dlh_error_set("normal expects std >= 0.0, but found std %g", s->std);
            return DLH_EINVAL;
        }
        if (s->kind == DLH_INIT_SPARSE && !(s->sparsity >= 0.0 && s->sparsity <= 1.0)) {
            dlh_error_set("sparse expects sparsity in [0, 1], but found sparsity %g",
                          s->sparsity);
            return DLH_EINVAL;
        }
        break;
    case DLH_INIT_TRUNC_NORMAL:
        /* torch divides by std and draws from [cdf(a), cdf(b)). */
        if (!(s->std > 0.0)) {
            dlh_error_set("trunc_normal expects std > 0.0, but found std %g", s->std);
            return DLH_EINVAL;
        }
        if (!(s->a < s->b)) {
            dlh_error_set("trunc_normal expects a < b, but found a=%g >= b=%g", s->a, s->b);
            return DLH_EINVAL;
        }
        break;
    case DLH_INIT_XAVIER_UNIFORM:
    case DLH_INIT_XAVIER_NORMAL:
    case DLH_INIT_HE_UNIFORM:
    case DLH_INIT_HE_NORMAL:
        /* A negative gain makes torch's bound or std negative: refused there
           by uniform_ or normal_, refused here by name. */
        if (s->gain < 0.0) {
            dlh_error_set("%s expects gain >= 0.0, but found gain %g", k, s->gain);
            return DLH_EINVAL;
        }
        if ((s->kind == DLH_INIT_HE_UNIFORM || s->kind == DLH_INIT_HE_NORMAL) &&
            s->mode != DLH_INIT_FAN_IN && s->mode != DLH_INIT_FAN_OUT) {
            dlh_error_set("Mode %d not supported, please use one of ['fan_in', 'fan_out']",
                          (int)s->mode);
            return DLH_EINVAL;
        }
        break;
    case DLH_INIT_DIRAC:
        if (s->groups < 1) {
            dlh_error_set("dirac expects groups >= 1, but found groups %lld",
                          (long long)s->groups);
            return DLH_EINVAL;
        }
        break;
    default:
        break;
    }
    return 0;
}

/* ------------------------------------------------------------ filling */

static void shape_str(const dlh_tensor *t, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < t->ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "",
                                 (long long)t->shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

/* torch's message for a shape the initialiser cannot take, with the shape. */
static int init_bad_shape(int kind, const dlh_tensor *t, const char *msg)
{
    char s[128];
    shape_str(t, s, sizeof s);
    dlh_error_set("initialiser '%s': %s (got %d-D %s)", dlh_init_kind_name(kind), msg,
                  t->ndim, s);
    return DLH_EINVAL;
}

/* torch.nn.init._calculate_fan_in_and_fan_out. */
static int init_fans(const dlh_tensor *t, int kind, double *fan_in, double *fan_out)
{
    if (t->ndim < 2)
        return init_bad_shape(kind, t, "Fan in and fan out can not be computed for tensor "
                              "with fewer than 2 dimensions");
    double rf = 1.0;
    for (int i = 2; i < t->ndim; i++)
        rf *= (double)t->shape[i];
    *fan_in = (double)t->shape[1] * rf;
    *fan_out = (double)t->shape[0] * rf;
    return 0;
}

static float *init_host_alloc(int64_t n, const char *what)
{
    float *h = (uint64_t)n <= SIZE_MAX / sizeof(float) ? calloc((size_t)n, sizeof *h) : NULL;
    if (!h)
        dlh_error_set("initialiser '%s': out of memory for %lld floats", what,
                      (long long)n);
    return h;
}

static int init_write_free(const dlh_backend *be, const dlh_tensor *t, float *h, int64_t n)
{
    int rc = be->ops->write(be->ctx, t->mem.buf, t->mem.off * sizeof(float), h,
                            (size_t)n * sizeof(float));
    free(h);
    return rc;
}

/* Element i of the tensor's normal draws, as every backend's rand would
   give it; drawn here so that the bits do not depend on the device's logf
   and cosf. */
static void init_normals(float *h, int64_t n, uint64_t seed, uint64_t stream, float mean,
                         float std)
{
    for (int64_t i = 0; i < n; i++)
        h[i] = dlh_philox_normal(seed, stream, (uint64_t)i, mean, std);
}

static int init_normal(const dlh_backend *be, const dlh_tensor *t, int64_t n, int kind,
                       uint64_t seed, uint64_t stream, double mean, double std)
{
    float *h = init_host_alloc(n, dlh_init_kind_name(kind));
    if (!h)
        return DLH_ENOMEM;
    init_normals(h, n, seed, stream, (float)mean, (float)std);
    return init_write_free(be, t, h, n);
}

static int init_uniform(const dlh_backend *be, const dlh_tensor *t, int64_t n,
                        uint64_t seed, uint64_t stream, double a, double b)
{
    return be->ops->rand(be->ctx, DLH_RAND_UNIFORM, t->mem, (size_t)n, seed, stream, 0,
                         (float)a, (float)b);
}

/* eye_ (2-D) and dirac_ (3-5-D, `groups`), written from host memory. */
static int init_delta(const dlh_backend *be, const dlh_tensor *t, int64_t n, int kind,
                      int64_t groups)
{
    int eye = kind == DLH_INIT_EYE || (kind == DLH_INIT_IDENTITY && t->ndim == 2);
    if (kind == DLH_INIT_EYE && t->ndim != 2)
        return init_bad_shape(kind, t, "Only tensors with 2 dimensions are supported");
    if (kind == DLH_INIT_IDENTITY && (t->ndim < 2 || t->ndim > 5))
        return init_bad_shape(kind, t, "needs a 2-D (eye) or 3-5-D (Dirac) tensor");
    if (!eye && (t->ndim < 3 || t->ndim > 5))
        return init_bad_shape(kind, t, "Only tensors with 3, 4, or 5 dimensions are "
                              "supported");
    if (!eye && t->shape[0] % groups != 0)
        return init_bad_shape(kind, t, "dim 0 must be divisible by groups");
    float *h = init_host_alloc(n, dlh_init_kind_name(kind));
    if (!h)
        return DLH_ENOMEM;
    int64_t cols = t->shape[1], inner = 1, centre = 0;
    /* Element [o, d, k2/2, k3/2, ...] in row-major order. */
    for (int i = 2; i < t->ndim; i++) {
        inner *= t->shape[i];
        centre = centre * t->shape[i] + t->shape[i] / 2;
    }
    int64_t per = eye ? t->shape[0] : t->shape[0] / groups;
    int64_t m = per < cols ? per : cols;
    for (int64_t g = 0; g < (eye ? 1 : groups); g++)
        for (int64_t d = 0; d < m; d++)
            h[((g * per + d) * cols + d) * inner + centre] = 1.0f;
    return init_write_free(be, t, h, n);
}

/* torch's calc_erfinv (aten/src/ATen/native/Math.h) in float, as erfinv_
   computes it on a float32 tensor: a rational first guess, then two Newton
   steps.  torch's AVX2 and AVX-512 kernels are built with -mfma, so the
   compiler fuses the polynomials' multiply-adds: fmaf here gives their bits
   on every machine (checked on 200000 values against torch 1.13). */
static float init_erfinv(float y)
{
    static const float a[4] = { 0.886226899f, -1.645349621f, 0.914624893f, -0.140543331f };
    static const float b[4] = { -2.118377725f, 1.442710462f, -0.329097515f, 0.012229801f };
    static const float c[4] = { -1.970840454f, -1.624906493f, 3.429567803f, 1.641345311f };
    static const float d[2] = { 3.543889200f, 1.637067800f };
    float y_abs = fabsf(y), x, z, num, dem;
    if (y_abs > 1.0f)
        return NAN;
    if (y_abs == 1.0f)
        return copysignf(INFINITY, y);
    if (y_abs <= 0.7f) {
        z = y * y;
        num = fmaf(fmaf(fmaf(a[3], z, a[2]), z, a[1]), z, a[0]);
        dem = fmaf(fmaf(fmaf(fmaf(b[3], z, b[2]), z, b[1]), z, b[0]), z, 1.0f);
        x = y * num / dem;
    } else {
        z = sqrtf(-logf((1.0f - y_abs) / 2.0f));
        num = fmaf(fmaf(fmaf(c[3], z, c[2]), z, c[1]), z, c[0]);
        dem = fmaf(fmaf(d[1], z, d[0]), z, 1.0f);
        x = copysignf(num, y) / dem;
    }
    const float two_over_sqrt_pi = 2.0f / (float)sqrt(M_PI);
    x = x - (erff(x) - y) / (two_over_sqrt_pi * expf(-x * x));
    x = x - (erff(x) - y) / (two_over_sqrt_pi * expf(-x * x));
    return x;
}

void dlh_init_trunc_normal_transform(float *v, size_t n, double mean, double std, double a,
                                     double b)
{
    const float scale = (float)(std * sqrt(2.0)), m = (float)mean;
    const float lo = (float)a, hi = (float)b;
    for (size_t i = 0; i < n; i++) {
        float x = init_erfinv(v[i]) * scale + m;
        v[i] = x < lo ? lo : x > hi ? hi : x;
    }
}

/* norm_cdf of torch's _no_grad_trunc_normal_. */
static double init_norm_cdf(double x)
{
    return (1.0 + erf(x / sqrt(2.0))) / 2.0;
}

static int init_trunc_normal(const dlh_backend *be, const dlh_tensor *t, int64_t n,
                             uint64_t seed, uint64_t stream, const dlh_init_spec *s)
{
    if (s->mean < s->a - 2 * s->std || s->mean > s->b + 2 * s->std)
        dlh_host_table()->log(DLH_LOG_WARN, "mean is more than 2 std from [a, b] in "
                              "nn.init.trunc_normal_. The distribution of values may be "
                              "incorrect.");
    double l = init_norm_cdf((s->a - s->mean) / s->std);
    double u = init_norm_cdf((s->b - s->mean) / s->std);
    float *h = init_host_alloc(n, "trunc_normal");
    if (!h)
        return DLH_ENOMEM;
    float from = (float)(2 * l - 1), to = (float)(2 * u - 1);
    for (int64_t i = 0; i < n; i++)
        h[i] = dlh_philox_uniform(seed, stream, (uint64_t)i, from, to);
    dlh_init_trunc_normal_transform(h, (size_t)n, s->mean, s->std, s->a, s->b);
    return init_write_free(be, t, h, n);
}

int dlh_init_orthogonal_transform(float *m, int64_t rows, int64_t cols, double gain)
{
    int tr = rows < cols;
    int64_t big = tr ? cols : rows, small = tr ? rows : cols;
    if (big > INT_MAX || small > INT_MAX || (uint64_t)big * (uint64_t)small >
        SIZE_MAX / sizeof(double)) {
        dlh_error_set("initialiser 'orthogonal': a %lld x %lld matrix is too large for "
                      "LAPACK", (long long)rows, (long long)cols);
        return DLH_ENOMEM;
    }
    int lrc = dlh_blas_load("initialiser 'orthogonal'");
    if (lrc != 0)
        return lrc;
    int M = (int)big, N = (int)small, info = 0, lwork = -1;
    /* A = m (or m^T), M x N with M >= N, column-major for LAPACK. */
    double *a = malloc((size_t)M * (size_t)N * sizeof *a);
    double *tau = malloc((size_t)N * sizeof *tau), *sign = malloc((size_t)N * sizeof *sign);
    double *work = NULL, wq = 0, wq2 = 0;
    int rc = 0;
    if (!a || !tau || !sign) {
        dlh_error_set("initialiser 'orthogonal': out of memory");
        rc = DLH_ENOMEM;
        goto done;
    }
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            int64_t i = tr ? c : r, j = tr ? r : c;
            a[j * M + i] = m[r * cols + c];
        }
    dlh_dgeqrf(&M, &N, a, &M, tau, &wq, &lwork, &info);
    if (info == 0)
        dlh_dorgqr(&M, &N, &N, a, &M, tau, &wq2, &lwork, &info);
    lwork = (int)(wq > wq2 ? wq : wq2);
    lwork = lwork < N ? N : lwork;
    if (info != 0 || !(work = malloc((size_t)lwork * sizeof *work))) {
        dlh_error_set("initialiser 'orthogonal': LAPACK workspace query failed (info %d)",
                      info);
        rc = info != 0 ? DLH_EINVAL : DLH_ENOMEM;
        goto done;
    }
    dlh_dgeqrf(&M, &N, a, &M, tau, work, &lwork, &info);
    /* torch: q *= sign(diag(r)), which makes the factorisation unique. */
    for (int j = 0; info == 0 && j < N; j++) {
        double d = a[(int64_t)j * M + j];
        sign[j] = d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0;
    }
    if (info == 0)
        dlh_dorgqr(&M, &N, &N, a, &M, tau, work, &lwork, &info);
    if (info != 0) {
        dlh_error_set("initialiser 'orthogonal': LAPACK QR failed (info %d)", info);
        rc = DLH_EINVAL;
        goto done;
    }
    /* torch copies Q into the float32 tensor, then mul_(gain) in float32. */
    const float g = (float)gain;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            int64_t i = tr ? c : r, j = tr ? r : c;
            m[r * cols + c] = (float)(a[j * M + i] * sign[j]) * g;
        }
done:
    free(a);
    free(tau);
    free(sign);
    free(work);
    return rc;
}

static int init_orthogonal(const dlh_backend *be, const dlh_tensor *t, int64_t n,
                           uint64_t seed, uint64_t stream, double gain)
{
    if (t->ndim < 2)
        return init_bad_shape(DLH_INIT_ORTHOGONAL, t, "Only tensors with 2 or more "
                              "dimensions are supported");
    float *h = init_host_alloc(n, "orthogonal");
    if (!h)
        return DLH_ENOMEM;
    init_normals(h, n, seed, stream, 0.0f, 1.0f);
    int rc = dlh_init_orthogonal_transform(h, t->shape[0], n / t->shape[0], gain);
    if (rc < 0) {
        free(h);
        return rc;
    }
    return init_write_free(be, t, h, n);
}

/* sparse_: N(0, std) everywhere, then in each column ceil(sparsity * rows)
   rows of a random permutation set to zero.  The permutations draw from the
   tensor's stream after its normal draws (offsets n + col * rows + k). */
static int init_sparse(const dlh_backend *be, const dlh_tensor *t, int64_t n,
                       uint64_t seed, uint64_t stream, const dlh_init_spec *s)
{
    if (t->ndim != 2)
        return init_bad_shape(DLH_INIT_SPARSE, t, "Only tensors with 2 dimensions are "
                              "supported");
    int64_t rows = t->shape[0], cols = t->shape[1];
    double zeros_d = ceil(s->sparsity * (double)rows);
    int64_t zeros = zeros_d > (double)rows ? rows : (int64_t)zeros_d;
    float *h = init_host_alloc(n, "sparse");
    int64_t *perm = h ? malloc((size_t)rows * sizeof *perm) : NULL;
    if (!perm) {
        free(h);
        dlh_error_set("initialiser 'sparse': out of memory");
        return DLH_ENOMEM;
    }
    init_normals(h, n, seed, stream, 0.0f, (float)s->std);
    for (int64_t c = 0; c < cols; c++) {
        for (int64_t r = 0; r < rows; r++)
            perm[r] = r;
        /* The first `zeros` places of a Fisher-Yates shuffle. */
        for (int64_t k = 0; k < zeros; k++) {
            uint32_t w[4];
            dlh_philox_words(seed, stream, (uint64_t)(n + c * rows + k), w);
            double u = ((double)(w[0] >> 5) * 67108864.0 + (double)(w[1] >> 6)) /
                       9007199254740992.0;
            int64_t j = k + (int64_t)(u * (double)(rows - k));
            j = j >= rows ? rows - 1 : j;
            int64_t tmp = perm[k];
            perm[k] = perm[j];
            perm[j] = tmp;
            h[perm[k] * cols + c] = 0.0f;
        }
    }
    free(perm);
    return init_write_free(be, t, h, n);
}

int dlh_init_fill_spec(const dlh_backend *be, const dlh_tensor *t, const dlh_init_spec *s,
                       uint64_t seed, uint64_t stream)
{
    if (!be || !t || !t->mem.buf || !s) {
        dlh_error_set("dlh_init_fill: no backend, tensor or initialiser");
        return DLH_EINVAL;
    }
    int rc = dlh_init_spec_check(s);
    if (rc < 0)
        return rc;
    int64_t n = dlh_tensor_numel(t);
    if (n <= 0)
        return 0;
    double fan_in = 0, fan_out = 0, std;
    switch (s->kind) {
    case DLH_INIT_ZEROS:
        return be->ops->fill(be->ctx, t->mem, (size_t)n, 0.0f);
    case DLH_INIT_ONES:
        return be->ops->fill(be->ctx, t->mem, (size_t)n, 1.0f);
    case DLH_INIT_CONSTANT:
        return be->ops->fill(be->ctx, t->mem, (size_t)n, (float)s->value);
    case DLH_INIT_UNIFORM:
        return init_uniform(be, t, n, seed, stream, s->a, s->b);
    case DLH_INIT_NORMAL:
        return init_normal(be, t, n, s->kind, seed, stream, s->mean, s->std);
    case DLH_INIT_TRUNC_NORMAL:
        return init_trunc_normal(be, t, n, seed, stream, s);
    case DLH_INIT_XAVIER_UNIFORM:
    case DLH_INIT_XAVIER_NORMAL:
        if ((rc = init_fans(t, s->kind, &fan_in, &fan_out)) < 0)
            return rc;
        std = s->gain * sqrt(2.0 / (fan_in + fan_out));
        if (s->kind == DLH_INIT_XAVIER_NORMAL)
            return init_normal(be, t, n, s->kind, seed, stream, 0.0, std);
        return init_uniform(be, t, n, seed, stream, -sqrt(3.0) * std, sqrt(3.0) * std);
    case DLH_INIT_HE_UNIFORM:
    case DLH_INIT_HE_NORMAL:
        if ((rc = init_fans(t, s->kind, &fan_in, &fan_out)) < 0)
            return rc;
        std = s->gain / sqrt(s->mode == DLH_INIT_FAN_OUT ? fan_out : fan_in);
        if (s->kind == DLH_INIT_HE_NORMAL)
            return init_normal(be, t, n, s->kind, seed, stream, 0.0, std);
        return init_uniform(be, t, n, seed, stream, -sqrt(3.0) * std, sqrt(3.0) * std);
    case DLH_INIT_IDENTITY:
    case DLH_INIT_EYE:
    case DLH_INIT_DIRAC:
        return init_delta(be, t, n, s->kind, s->kind == DLH_INIT_DIRAC ? s->groups : 1);
    case DLH_INIT_ORTHOGONAL:
        return init_orthogonal(be, t, n, seed, stream, s->gain);
    case DLH_INIT_SPARSE:
        return init_sparse(be, t, n, seed, stream, s);
    default:
        dlh_error_set("unknown initialiser kind %d", (int)s->kind);
        return DLH_EINVAL;
    }
}

int dlh_init_fill(const dlh_backend *be, const dlh_tensor *t, dlh_init init,
                  uint64_t seed, uint64_t stream)
{
    dlh_init_spec s = dlh_init_spec_from(init);
    return dlh_init_fill_spec(be, t, &s, seed, stream);
}

/* ------------------------------------------------------------ the experiment */

/* torch.nn.init.calculate_gain(nonlinearity, a) into *gain; -1 when the
   name is not torch's. */
static int init_gain(const char *nl, double a, double *gain)
{
    static const char *const linear[] = {
        "linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
        "conv_transpose2d", "conv_transpose3d", "sigmoid", NULL
    };
    for (int i = 0; linear[i]; i++)
        if (strcmp(nl, linear[i]) == 0) {
            *gain = 1.0;
            return 0;
        }
    if (strcmp(nl, "tanh") == 0)
        *gain = 5.0 / 3;
    else if (strcmp(nl, "relu") == 0)
        *gain = sqrt(2.0);
    else if (strcmp(nl, "leaky_relu") == 0)
        *gain = sqrt(2.0 / (1 + a * a));
    else if (strcmp(nl, "selu") == 0)
        *gain = 3.0 / 4;
    else
        return -1;
    return 0;
}

/* The parameters of kind `kind` from the group params p into *s. */
static int init_read_params(dlh_params *p, int kind, dlh_init_spec *s)
{
    const double zero = 0.0, one = 1.0, m2 = -2.0, p2 = 2.0, small = 0.01;
    const double lo = -HUGE_VAL, hi = HUGE_VAL;
    int rc = 0;
    *s = dlh_init_spec_of(kind);
    switch (kind) {
    case DLH_INIT_CONSTANT:
        return dlh_param_float(p, "value", NULL, lo, hi, &s->value);
    case DLH_INIT_UNIFORM:
        if ((rc = dlh_param_float(p, "a", &zero, lo, hi, &s->a)) == 0)
            rc = dlh_param_float(p, "b", &one, lo, hi, &s->b);
        return rc;
    case DLH_INIT_TRUNC_NORMAL:
        if ((rc = dlh_param_float(p, "a", &m2, lo, hi, &s->a)) ||
            (rc = dlh_param_float(p, "b", &p2, lo, hi, &s->b)))
            return rc;
        /* fall through */
    case DLH_INIT_NORMAL:
        if ((rc = dlh_param_float(p, "mean", &zero, lo, hi, &s->mean)) == 0)
            rc = dlh_param_float(p, "std", &one, lo, hi, &s->std);
        return rc;
    case DLH_INIT_XAVIER_UNIFORM:
    case DLH_INIT_XAVIER_NORMAL:
    case DLH_INIT_ORTHOGONAL:
        return dlh_param_float(p, "gain", &one, lo, hi, &s->gain);
    case DLH_INIT_SPARSE:
        if ((rc = dlh_param_float(p, "sparsity", NULL, lo, hi, &s->sparsity)) == 0)
            rc = dlh_param_float(p, "std", &small, lo, hi, &s->std);
        return rc;
    case DLH_INIT_DIRAC: {
        const int64_t g1 = 1;
        return dlh_param_int(p, "groups", &g1, INT64_MIN, INT64_MAX, &s->groups);
    }
    case DLH_INIT_HE_UNIFORM:
    case DLH_INIT_HE_NORMAL: {
        const char *mode, *nl;
        double a;
        if ((rc = dlh_param_float(p, "a", &zero, lo, hi, &a)) ||
            (rc = dlh_param_string(p, "mode", "fan_in", &mode)) ||
            (rc = dlh_param_string(p, "nonlinearity", "leaky_relu", &nl)))
            return rc;
        if (strcmp(mode, "fan_in") != 0 && strcmp(mode, "fan_out") != 0)
            return dlh_param_error(p, "mode", "Mode %s not supported, please use one of "
                                   "['fan_in', 'fan_out']", mode);
        s->mode = strcmp(mode, "fan_out") == 0 ? DLH_INIT_FAN_OUT : DLH_INIT_FAN_IN;
        if (init_gain(nl, a, &s->gain) < 0)
            return dlh_param_error(p, "nonlinearity", "Unsupported nonlinearity %s (torch's "
                                   "calculate_gain knows linear, conv1d, conv2d, conv3d, "
                                   "conv_transpose1d, conv_transpose2d, conv_transpose3d, "
                                   "sigmoid, tanh, relu, leaky_relu, selu)", nl);
        return 0;
    }
    default:
        return 0;
    }
}

/* "unknown initialiser 'X' (did you mean 'Y'?); known: ...", at key of p. */
static int init_unknown(dlh_params *p, const char *key, const char *name)
{
    const char *near = dlh_closest(name, init_all_names, INIT_N_NAMES);
    char hint[96] = "";
    if (near)
        snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
    return dlh_param_error(p, key, "unknown initialiser '%s'%s; known: %s", name, hint,
                           dlh_init_known_names());
}

/* One initialiser: the setting `s` under `key` of `parent` (a name, or a
   group with `type`); label_key names it in messages ("init.alpha"). */
static int init_read_one(dlh_config *c, dlh_params *parent, config_setting_t *s,
                         const char *key, const char *label_key, dlh_init_spec *out)
{
    int kind;
    if (config_setting_type(s) == CONFIG_TYPE_STRING) {
        const char *name = config_setting_get_string(s);
        if ((kind = dlh_init_parse(name)) < 0)
            return init_unknown(parent, key, name);
        if (kind == DLH_INIT_CONSTANT || kind == DLH_INIT_SPARSE)
            return dlh_param_error(parent, key, "%s: initialiser '%s' needs its %s: write "
                                   "%s = { type = \"%s\"; %s = ...; }", label_key, name,
                                   kind == DLH_INIT_CONSTANT ? "value" : "sparsity",
                                   label_key, name,
                                   kind == DLH_INIT_CONSTANT ? "value" : "sparsity");
        *out = dlh_init_spec_of(kind);
        return 0;
    }
    if (!config_setting_is_group(s))
        return dlh_param_error(parent, key, "%s: expected an initialiser: a name "
                               "(\"kaiming_normal\") or a group ({ type = \"normal\"; "
                               "std = 0.02; })", label_key);
    char label[300];
    snprintf(label, sizeof label, "%s: %s", dlh_params_label(parent), label_key);
    dlh_params *p = dlh_params_new(c, s, label, NULL);
    if (!p) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    const char *name;
    int rc = dlh_param_string(p, "type", NULL, &name);
    if (rc == 0 && (kind = dlh_init_parse(name)) < 0)
        rc = init_unknown(p, "type", name);
    if (rc == 0)
        rc = init_read_params(p, kind, out);
    if (rc == 0 && dlh_init_spec_check(out) < 0)
        rc = dlh_param_error(p, NULL, "%s", dlh_error_get());
    if (rc == 0)
        rc = dlh_params_check_unused(p);
    dlh_params_free(p);
    return rc;
}

/* Appends an override for `tensor` read from `s`. */
static int init_add(dlh_config *c, dlh_params *parent, config_setting_t *s, const char *key,
                    const char *label_key, const char *tensor, dlh_init_override **list,
                    int *n)
{
    dlh_init_override *grown = realloc(*list, (size_t)(*n + 1) * sizeof *grown);
    if (!grown) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    *list = grown;
    dlh_init_override *o = &grown[*n];
    memset(o, 0, sizeof *o);
    int rc = init_read_one(c, parent, s, key, label_key, &o->spec);
    if (rc < 0)
        return rc;
    o->tensor = tensor;
    snprintf(o->key, sizeof o->key, "%s", label_key);
    dlh_params_where(parent, key, o->where, sizeof o->where);
    (*n)++;
    return 0;
}

int dlh_init_overrides_read(dlh_config *c, config_setting_t *layer, const char *label,
                            dlh_init_override **out, int *n)
{
    *out = NULL;
    *n = 0;
    config_setting_t *init = config_setting_get_member(layer, "init");
    config_setting_t *binit = config_setting_get_member(layer, "bias_init");
    if (!init && !binit)
        return 0;
    dlh_params *lp = dlh_params_new(c, layer, label, NULL), *mp = NULL;
    if (!lp) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    int rc = 0;
    int map = init && config_setting_is_group(init) &&
              !config_setting_get_member(init, "type");
    if (init && !map) {
        rc = init_add(c, lp, init, "init", "init", "weight", out, n);
    } else if (init) {
        int len = config_setting_length(init);
        if (len == 0)
            rc = dlh_param_error(lp, "init", "init: an empty group; write init = \"NAME\", "
                                 "init = { type = \"NAME\"; ... } or init = { TENSOR = "
                                 "\"NAME\"; ... }");
        else if (!(mp = dlh_params_new(c, init, label, NULL))) {
            dlh_error_set("out of memory");
            rc = DLH_ENOMEM;
        }
        for (int i = 0; rc == 0 && i < len; i++) {
            config_setting_t *m = config_setting_get_elem(init, (unsigned)i);
            const char *tensor = config_setting_name(m);
            char key[300];
            snprintf(key, sizeof key, "init.%s", tensor);
            if (config_setting_type(m) != CONFIG_TYPE_STRING && !config_setting_is_group(m)) {
                /* { typ = "normal"; std = 0.02; } reads as a map of tensors. */
                const char *const type_key[1] = { "type" };
                int near = 0;
                for (int j = 0; j < len; j++)
                    near |= dlh_closest(config_setting_name(config_setting_get_elem(
                                            init, (unsigned)j)), type_key, 1) != NULL;
                rc = dlh_param_error(mp, tensor, "%s: expected an initialiser for tensor "
                                     "'%s' (a name or a group); a group that is one "
                                     "initialiser needs type = \"NAME\"%s", key, tensor,
                                     near ? " (is 'type' misspelt?)" : "");
                break;
            }
            if (binit && strcmp(tensor, "bias") == 0) {
                rc = dlh_param_error(lp, "bias_init", "bias_init and init.bias both set the "
                                     "initialiser of 'bias'; keep one");
                break;
            }
            rc = init_add(c, mp, m, tensor, key, tensor, out, n);
        }
    }
    if (rc == 0 && binit)
        rc = init_add(c, lp, binit, "bias_init", "bias_init", "bias", out, n);
    dlh_params_free(mp);
    dlh_params_free(lp);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}
