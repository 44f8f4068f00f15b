/* The initialisers (core/init.c) against torch.nn.init (tests/ref/init_ref.h,
 * from tests/ref/init_ref.py): gains, fans and bounds exactly; uniform,
 * xavier_uniform, kaiming_uniform and trunc_normal value for value on the
 * same Philox uniforms; constant, ones, zeros, eye, dirac exactly;
 * orthogonal's QR on torch's matrices; sparse's zeros per column; the moments
 * and a Kolmogorov-Smirnov distance of many draws; the experiment's `init`
 * and `bias_init` keys; and `dlhost init`'s file against the weights a
 * `dlhost run` starts from. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlhost/dlhost.h>

#include "error.h"
#include "init.h"
#include "init_weights.h"
#include "instance.h"
#include "params.h"
#include "registry.h"
#include "run.h"
#include "safetensors.h"
#include "tap.h"
#include "tmpdir.h"

#include "ref/init_ref.h"

#define N_OF(a) (sizeof(a) / sizeof *(a))

static dlh_backend *be;

/* ------------------------------------------------------------ helpers */

/* The initialiser of `init = BODY` (a name in quotes, or a group body). */
static int spec_of(const char *value, dlh_init_spec *out)
{
    char text[1024];
    snprintf(text, sizeof text, "layer = { init = %s; };\n", value);
    dlh_config *c;
    int rc = dlh_config_load_string(text, "t.cfg", &c);
    if (rc < 0)
        return rc;
    dlh_init_override *ov = NULL;
    int n = 0;
    rc = dlh_init_overrides_read(c, config_setting_get_member(dlh_config_root(c), "layer"),
                                 "layer 'l'", &ov, &n);
    if (rc == 0 && n == 1 && strcmp(ov[0].tensor, "weight") == 0)
        *out = ov[0].spec;
    else if (rc == 0)
        rc = DLH_EINVAL;
    free(ov);
    dlh_config_free(c);
    return rc;
}

/* Fills a fresh tensor of `shape` with spec and reads it back into *out. */
static int fill(const dlh_init_spec *s, int ndim, const int64_t *shape, uint64_t seed,
                uint64_t stream, float **out)
{
    dlh_tensor t;
    *out = NULL;
    int rc = dlh_tensor_alloc(be, ndim, shape, &t);
    if (rc < 0)
        return rc;
    dlh_error_clear();
    rc = dlh_init_fill_spec(be, &t, s, seed, stream);
    if (rc == 0) {
        *out = calloc((size_t)dlh_tensor_numel(&t), sizeof **out);
        rc = dlh_host_table()->tensor_read(be, &t, *out);
    }
    dlh_tensor_free(be, &t);
    return rc;
}

/* fill() of `init = value` on shape; NULL on failure (diagnosed). */
static float *fill_cfg(const char *value, int ndim, const int64_t *shape)
{
    dlh_init_spec s;
    float *v = NULL;
    if (spec_of(value, &s) < 0 || fill(&s, ndim, shape, REF_SEED, REF_STREAM, &v) < 0) {
        diag("%s: %s", value, dlh_error_get());
        free(v);
        return NULL;
    }
    return v;
}

static int64_t numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

/* Every v[i] == want[i], bit for bit. */
static int same(const float *v, const float *want, int64_t n)
{
    for (int64_t i = 0; v && i < n; i++)
        if (memcmp(&v[i], &want[i], sizeof *v) != 0) {
            diag("element %lld: %.9g, want %.9g", (long long)i, (double)v[i],
                 (double)want[i]);
            return 0;
        }
    return v != NULL;
}

/* Units in the last place between two floats of one sign region. */
static int64_t ulps(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    if (ia < 0)
        ia = (int32_t)0x80000000 - ia;
    if (ib < 0)
        ib = (int32_t)0x80000000 - ib;
    return ia > ib ? (int64_t)ia - ib : (int64_t)ib - ia;
}

/* ------------------------------------------------------------ gains, bounds */

static void test_gains(void)
{
    for (size_t i = 0; i < N_OF(ref_gains); i++) {
        char body[256];
        dlh_init_spec s;
        snprintf(body, sizeof body, "{ type = \"kaiming_normal\"; nonlinearity = \"%s\"; "
                 "a = %.17g; }", ref_gains[i].nl, ref_gains[i].a);
        int rc = spec_of(body, &s);
        ok(rc == 0 && s.gain == ref_gains[i].gain, "calculate_gain('%s', %g) = %.17g (%s)",
           ref_gains[i].nl, ref_gains[i].a, ref_gains[i].gain,
           rc ? dlh_error_get() : "same");
    }
    dlh_init_spec s;
    ok(spec_of("\"kaiming_uniform\"", &s) == 0 && s.gain == sqrt(2.0) &&
       s.mode == DLH_INIT_FAN_IN, "kaiming_uniform's defaults: leaky_relu with a = 0 "
       "(gain sqrt(2)), fan_in");
}

static void test_bounds(void)
{
    for (size_t i = 0; i < N_OF(ref_bounds); i++) {
        const ref_bound *r = &ref_bounds[i];
        char body[256];
        snprintf(body, sizeof body, "{ type = \"%s\"; %s }", r->kind, r->body);
        float *v = fill_cfg(body, r->ndim, r->shape);
        int normal = strstr(r->kind, "normal") != NULL, good = v != NULL;
        for (int64_t k = 0; good && k < numel(r->ndim, r->shape); k++) {
            float want = normal ? dlh_philox_normal(REF_SEED, REF_STREAM, (uint64_t)k, 0.0f,
                                                    r->value)
                                : dlh_philox_uniform(REF_SEED, REF_STREAM, (uint64_t)k,
                                                     -r->value, r->value);
            good = memcmp(&v[k], &want, sizeof want) == 0;
        }
        ok(good, "%s %s (shape of %d dims, %lld first): %s %.9g as torch's, every element",
           r->kind, r->body, r->ndim, (long long)r->shape[0], normal ? "std" : "bound",
           (double)r->value);
        free(v);
    }
}

/* ------------------------------------------------------------ uniform, trunc_normal */

static void test_uniforms(void)
{
    const int64_t n[1] = { REF_NDRAW }, fc[2] = { 20, 30 }, conv[4] = { 8, 4, 3, 3 };
    float *v = fill_cfg("\"uniform\"", 1, n);
    ok(same(v, ref_uniform_default, REF_NDRAW), "uniform: torch's defaults U(0, 1), "
       "value for value on the same uniform numbers");
    free(v);
    v = fill_cfg("{ type = \"uniform\"; a = -2.0; b = 3.0; }", 1, n);
    ok(same(v, ref_uniform_ab, REF_NDRAW), "uniform a = -2, b = 3");
    free(v);
    v = fill_cfg("\"xavier_uniform\"", 2, fc);
    ok(same(v, ref_xavier_uniform_20x30, REF_NDRAW), "xavier_uniform [20, 30]");
    free(v);
    v = fill_cfg("{ type = \"kaiming_uniform\"; mode = \"fan_out\"; }", 4, conv);
    ok(same(v, ref_kaiming_uniform_fan_out, REF_NDRAW),
       "kaiming_uniform [8, 4, 3, 3] mode fan_out");
    free(v);
    dlh_init_spec s;
    ok(spec_of("\"normal\"", &s) == 0 && s.mean == 0.0 && s.std == 1.0,
       "normal: torch's defaults mean 0, std 1");
}

static void test_trunc_normal(void)
{
    float y[N_OF(ref_erfinv_in)];
    memcpy(y, ref_erfinv_in, sizeof y);
    /* std 1/sqrt(2): the transform's scale is (float)(std sqrt(2)) = 1. */
    dlh_init_trunc_normal_transform(y, N_OF(y), 0.0, M_SQRT1_2, -INFINITY, INFINITY);
    int64_t worst = 0;
    for (size_t i = 0; i < N_OF(y); i++)
        worst = ulps(y[i], ref_erfinv_out[i]) > worst ? ulps(y[i], ref_erfinv_out[i]) : worst;
    ok(worst == 0, "erfinv_ as torch computes it in float32, both branches (worst %lld ulp)",
       (long long)worst);

    const int64_t n[1] = { REF_NDRAW };
    for (size_t i = 0; i < N_OF(ref_truncs); i++) {
        const ref_trunc *r = &ref_truncs[i];
        char body[256];
        snprintf(body, sizeof body, "{ type = \"trunc_normal\"; mean = %.17g; std = %.17g; "
                 "a = %.17g; b = %.17g; }", r->mean, r->std, r->a, r->b);
        float *v = fill_cfg(body, 1, n);
        int in = v != NULL;
        for (int k = 0; in && k < REF_NDRAW; k++)
            in = v[k] >= (float)r->a && v[k] <= (float)r->b;
        ok(same(v, r->want, REF_NDRAW) && in, "trunc_normal mean %g std %g [%g, %g]: torch's "
           "inverse-CDF steps on the same uniform numbers, value for value", r->mean,
           r->std, r->a, r->b);
        free(v);
    }
    dlh_init_spec s;
    ok(spec_of("\"trunc_normal\"", &s) == 0 && s.mean == 0 && s.std == 1 && s.a == -2 &&
       s.b == 2, "trunc_normal: torch's defaults mean 0, std 1, a -2, b 2");
}

/* ------------------------------------------------------------ deterministic ones */

static void test_exact(void)
{
    const int64_t s34[2] = { 3, 4 }, s23[2] = { 2, 3 }, s35[2] = { 3, 5 }, s42[2] = { 4, 2 };
    const int64_t d4[4] = { 4, 2, 3, 3 }, d3[3] = { 6, 2, 3 }, d5[5] = { 4, 4, 3, 2, 2 };
    struct { const char *init; int ndim; const int64_t *shape; const float *want; } c[] = {
        { "{ type = \"constant\"; value = 0.25; }", 2, s34, ref_constant },
        { "\"ones\"", 2, s23, ref_ones },
        { "\"zeros\"", 2, s23, ref_zeros },
        { "\"eye\"", 2, s35, ref_eye_3x5 },
        { "\"eye\"", 2, s42, ref_eye_4x2 },
        { "\"identity\"", 2, s35, ref_eye_3x5 },
        { "\"dirac\"", 4, d4, ref_dirac_4x2x3x3 },
        { "\"identity\"", 4, d4, ref_dirac_4x2x3x3 },
        { "{ type = \"dirac\"; groups = 2; }", 3, d3, ref_dirac_6x2x3_g2 },
        { "{ type = \"dirac\"; groups = 2; }", 5, d5, ref_dirac_4x4x3x2x2_g2 },
    };
    for (size_t i = 0; i < N_OF(c); i++) {
        float *v = fill_cfg(c[i].init, c[i].ndim, c[i].shape);
        ok(same(v, c[i].want, numel(c[i].ndim, c[i].shape)), "%s on %d-D [%lld, ...]: "
           "torch's values exactly", c[i].init, c[i].ndim, (long long)c[i].shape[0]);
        free(v);
    }
}

/* ------------------------------------------------------------ orthogonal */

static void test_orthogonal(void)
{
    for (size_t i = 0; i < N_OF(ref_orths); i++) {
        const ref_orth *r = &ref_orths[i];
        int64_t n = r->rows * r->cols, worst = 0;
        float *m = malloc((size_t)n * sizeof *m);
        memcpy(m, r->in, (size_t)n * sizeof *m);
        int rc = dlh_init_orthogonal_transform(m, r->rows, r->cols, r->gain);
        double far32 = 0;
        for (int64_t k = 0; rc == 0 && k < n; k++) {
            worst = ulps(m[k], r->want[k]) > worst ? ulps(m[k], r->want[k]) : worst;
            far32 = fmax(far32, fabs((double)m[k] - r->torch32[k]));
        }
        ok(rc == 0 && worst <= 1, "orthogonal %lld x %lld gain %g: torch's steps in float64 "
           "on the same matrix within 1 ulp (worst %lld)", (long long)r->rows,
           (long long)r->cols, r->gain, (long long)worst);
        ok(rc == 0 && far32 < 1e-5, "... and torch's float32 orthogonal_ within 1e-5 "
           "(%.2g)", far32);
        free(m);
    }
    /* End to end: Q^T Q = gain^2 I over the smaller side. */
    const int64_t shapes[3][3] = { { 8, 5, 1 }, { 3, 7, 1 }, { 4, 2, 3 } };
    for (int i = 0; i < 3; i++) {
        int nd = shapes[i][2] == 1 ? 2 : 3;
        float *v = fill_cfg("{ type = \"orthogonal\"; gain = 1.5; }", nd, shapes[i]);
        int64_t rows = shapes[i][0], cols = shapes[i][1] * shapes[i][2];
        int tr = rows < cols;
        int64_t k = tr ? rows : cols, len = tr ? cols : rows;
        double err = v ? 0 : 1;
        for (int64_t a = 0; v && a < k; a++)
            for (int64_t b = 0; b < k; b++) {
                double dot = 0;
                for (int64_t j = 0; j < len; j++)
                    dot += tr ? (double)v[a * cols + j] * v[b * cols + j]
                              : (double)v[j * cols + a] * v[j * cols + b];
                err = fmax(err, fabs(dot - (a == b ? 2.25 : 0.0)));
            }
        ok(err < 1e-5, "orthogonal gain 1.5 on [%lld, %lld%s]: orthonormal %s times 1.5 "
           "(%.2g)", (long long)shapes[i][0], (long long)shapes[i][1], nd == 3 ? ", 3" : "",
           tr ? "rows" : "columns", err);
        free(v);
    }
}

/* ------------------------------------------------------------ sparse */

static void test_sparse(void)
{
    for (size_t i = 0; i < N_OF(ref_sparses); i++) {
        const ref_sparse *r = &ref_sparses[i];
        char body[160];
        snprintf(body, sizeof body, "{ type = \"sparse\"; sparsity = %.17g; std = 0.5; }",
                 r->sparsity);
        const int64_t shape[2] = { r->rows, r->cols };
        float *v = fill_cfg(body, 2, shape);
        int good = v != NULL;
        for (int64_t c = 0; good && c < r->cols; c++) {
            int64_t zeros = 0;
            for (int64_t k = 0; k < r->rows; k++) {
                float x = v[k * r->cols + c];
                float want = dlh_philox_normal(REF_SEED, REF_STREAM,
                                               (uint64_t)(k * r->cols + c), 0.0f, 0.5f);
                zeros += x == 0.0f;
                good &= x == 0.0f || x == want;
            }
            good &= zeros == r->zeros;
        }
        ok(good, "sparse [%lld, %lld] sparsity %g: %lld zeros in every column as torch, "
           "N(0, 0.5) elsewhere", (long long)r->rows, (long long)r->cols, r->sparsity,
           (long long)r->zeros);
        free(v);
    }
}

/* ------------------------------------------------------------ distributions */

#define N_DRAW 40000

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static double phi(double x)
{
    return 0.5 * (1.0 + erf(x / sqrt(2.0)));
}

/* The CDF of the distribution the case draws from, NAN when none is
   written here (sparse). */
static double cdf(const ref_moment *r, double x, const dlh_init_spec *s)
{
    if (strcmp(r->kind, "normal") == 0)
        return phi((x - s->mean) / s->std);
    if (strcmp(r->kind, "uniform") == 0)
        return x <= s->a ? 0 : x >= s->b ? 1 : (x - s->a) / (s->b - s->a);
    if (strcmp(r->kind, "trunc_normal") == 0) {
        double lo = phi((s->a - s->mean) / s->std), hi = phi((s->b - s->mean) / s->std);
        return x <= s->a ? 0 : x >= s->b ? 1 : (phi((x - s->mean) / s->std) - lo) / (hi - lo);
    }
    return NAN;
}

static void test_moments(void)
{
    for (size_t i = 0; i < N_OF(ref_moments); i++) {
        const ref_moment *r = &ref_moments[i];
        char body[256];
        snprintf(body, sizeof body, "{ type = \"%s\"; %s }", r->kind, r->body);
        dlh_init_spec s;
        float *v = NULL;
        const int64_t shape[2] = { 200, N_DRAW / 200 };
        int rc = spec_of(body, &s);
        if (rc == 0)
            rc = fill(&s, 2, shape, 1234, 99, &v);
        if (!ok(rc == 0, "%s %s: %d draws", r->kind, r->body, N_DRAW)) {
            diag("%s", dlh_error_get());
            free(v);
            continue;
        }
        double sum = 0, sq = 0, lo = INFINITY, hi = -INFINITY;
        for (int k = 0; k < N_DRAW; k++) {
            sum += v[k];
            lo = fmin(lo, v[k]);
            hi = fmax(hi, v[k]);
        }
        double mean = sum / N_DRAW;
        for (int k = 0; k < N_DRAW; k++)
            sq += (v[k] - mean) * (v[k] - mean);
        double sd = sqrt(sq / (N_DRAW - 1));
        /* Both samples' standard errors: 4.5 of them either way. */
        double se_m = r->std * sqrt(1.0 / N_DRAW + 1.0 / REF_MOMENT_N);
        double se_s = r->std * sqrt(0.5 / N_DRAW + 0.5 / REF_MOMENT_N) * 2;
        ok(fabs(mean - r->mean) < 4.5 * se_m && fabs(sd - r->std) < 4.5 * se_s,
           "%s %s: mean %.4f std %.4f, torch's %d draws %.4f and %.4f", r->kind, r->body,
           mean, sd, REF_MOMENT_N, r->mean, r->std);
        if (strcmp(r->kind, "normal") != 0 && strcmp(r->kind, "sparse") != 0)
            ok(lo >= s.a && hi <= s.b && lo - r->lo < 0.01 * (r->hi - r->lo) &&
               r->hi - hi < 0.01 * (r->hi - r->lo),
               "%s %s: draws span [%.4f, %.4f] within [%g, %g], as torch's [%.4f, %.4f]",
               r->kind, r->body, lo, hi, s.a, s.b, r->lo, r->hi);
        if (!isnan(cdf(r, 0, &s))) {
            qsort(v, N_DRAW, sizeof *v, cmp_float);
            double dmax = 0;
            for (int k = 0; k < N_DRAW; k++) {
                double f = cdf(r, v[k], &s);
                dmax = fmax(dmax, fmax(fabs(f - (double)k / N_DRAW),
                                       fabs((double)(k + 1) / N_DRAW - f)));
            }
            /* Kolmogorov-Smirnov at the 0.1% level: 1.95 / sqrt(n). */
            ok(dmax < 1.95 / sqrt(N_DRAW), "%s %s: Kolmogorov-Smirnov distance %.4f to "
               "the exact CDF (< %.4f)", r->kind, r->body, dmax, 1.95 / sqrt(N_DRAW));
        }
        free(v);
    }
}

/* ------------------------------------------------------------ shapes and specs */

static void test_refusals(void)
{
    const int64_t vec[1] = { 10 }, cube[3] = { 2, 3, 4 }, mat[2] = { 3, 4 };
    const int64_t odd[4] = { 5, 2, 3, 3 };
    struct { const char *init; int ndim; const int64_t *shape; const char *msg; } c[] = {
        { "\"xavier_uniform\"", 1, vec, "Fan in and fan out can not be computed for tensor "
          "with fewer than 2 dimensions (got 1-D [10])" },
        { "\"kaiming_normal\"", 1, vec, "Fan in and fan out can not be computed" },
        { "\"orthogonal\"", 1, vec, "Only tensors with 2 or more dimensions are supported" },
        { "\"eye\"", 3, cube, "Only tensors with 2 dimensions are supported" },
        { "\"dirac\"", 2, mat, "Only tensors with 3, 4, or 5 dimensions are supported" },
        { "{ type = \"dirac\"; groups = 2; }", 4, odd, "dim 0 must be divisible by groups" },
        { "{ type = \"sparse\"; sparsity = 0.5; }", 3, cube,
          "Only tensors with 2 dimensions are supported" },
        { "\"identity\"", 1, vec, "needs a 2-D (eye) or 3-5-D (Dirac) tensor" },
    };
    for (size_t i = 0; i < N_OF(c); i++) {
        dlh_init_spec s;
        float *v = NULL;
        int rc = spec_of(c[i].init, &s);
        if (rc == 0)
            rc = fill(&s, c[i].ndim, c[i].shape, 1, 2, &v);
        ok(rc == DLH_EINVAL && strstr(dlh_error_get(), c[i].msg), "%s on %d-D: refused: %s",
           c[i].init, c[i].ndim, dlh_error_get());
        free(v);
    }
    /* A plugin's spec is checked too (add_param_spec goes through this). */
    dlh_init_spec s = dlh_init_spec_of(DLH_INIT_NORMAL);
    s.std = -1;
    ok(dlh_init_spec_check(&s) == DLH_EINVAL &&
       strcmp(dlh_error_get(), "normal expects std >= 0.0, but found std -1") == 0,
       "a spec with std -1: torch's message (%s)", dlh_error_get());
    s = dlh_init_spec_of(DLH_INIT_HE_UNIFORM);
    s.mode = 7;
    ok(dlh_init_spec_check(&s) == DLH_EINVAL && strstr(dlh_error_get(), "Mode 7 not "
       "supported"), "a spec with mode 7 (%s)", dlh_error_get());
    dlh_init_spec small = { 4, DLH_INIT_ZEROS, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, out;
    ok(dlh_init_spec_copy(&small, &out) == DLH_EINVAL, "a spec whose struct_size cannot "
       "hold the kind is refused (%s)", dlh_error_get());
    small.struct_size = 8;
    ok(dlh_init_spec_copy(&small, &out) == 0 && out.kind == DLH_INIT_ZEROS &&
       out.gain == 0 && out.struct_size == sizeof out,
       "a shorter spec (an older minor) is copied and zero-filled");
    /* The legacy struct reaches the new kinds through a and b. */
    dlh_init legacy = { DLH_INIT_ORTHOGONAL, 0.0f, 0.0f };
    ok(dlh_init_spec_from(legacy).gain == 1.0, "legacy orthogonal: gain a, 0 meaning 1");
    legacy = (dlh_init){ DLH_INIT_SPARSE, 0.25f, 0.5f };
    ok(dlh_init_spec_from(legacy).sparsity == 0.25 && dlh_init_spec_from(legacy).std == 0.5,
       "legacy sparse: sparsity a, std b");
}

/* ------------------------------------------------------------ dlhost init vs run */

static char dir[4096];

/* The float tensor `name` of a safetensors file, NULL when absent. */
static const dlh_st_entry *entry(const dlh_st_file *f, const char *name)
{
    const dlh_st_entry *e = f ? dlh_st_find(f, name) : NULL;
    return e && e->dtype == DLH_F32 ? e : NULL;
}

static void test_init_command(void)
{
    tmpdir_make(dir, sizeof dir, NULL, "test_init");
    char csv[8192];
    size_t k = (size_t)snprintf(csv, sizeof csv, "x1,x2,x3,c\n");
    for (int i = 0; i < 40; i++) {
        uint32_t w[4];
        dlh_philox_words(5, 1, (uint64_t)i, w);
        k += (size_t)snprintf(csv + k, sizeof csv - k, "%.4f,%.4f,%.4f,%d\n",
                              (w[0] >> 8) / 1677721.6, (w[1] >> 8) / 1677721.6,
                              (w[2] >> 8) / 1677721.6, i % 3);
    }
    tmpdir_put(dir, "train.csv", csv);
    /* lr 1e-30 moves no weight of this size: a one-epoch run's
       last.safetensors holds the weights it started from. */
    char cfg_text[2048], path[4200], out_path[4200], runs[4200];
    snprintf(cfg_text, sizeof cfg_text,
             "name = \"start\";\nseed = 11;\n"
             "data = { train = { type = \"csv\"; path = \"train.csv\"; header = true; }; };\n"
             "model = (\n"
             "  { name = \"fc1\"; type = \"dense\"; units = 6;\n"
             "    init = { weight = { type = \"orthogonal\"; gain = 1.4; };\n"
             "             bias = { type = \"uniform\"; a = 0.5; b = 1.0; }; }; },\n"
             "  { type = \"tanh\"; },\n"
             "  { name = \"fc2\"; type = \"dense\"; units = 5;\n"
             "    init = { type = \"trunc_normal\"; std = 0.5; }; },\n"
             "  { type = \"relu\"; },\n"
             "  { name = \"head\"; type = \"dense\"; units = 3; }\n"
             ");\n"
             "loss = { type = \"cross_entropy\"; };\n"
             "optimizer = { type = \"sgd\"; lr = 1e-30; };\n"
             "train = { epochs = 1; batch_size = 8; };\n");
    tmpdir_put(dir, "start.cfg", cfg_text);
    snprintf(path, sizeof path, "%s/start.cfg", dir);
    snprintf(out_path, sizeof out_path, "%s/init.safetensors", dir);
    snprintf(runs, sizeof runs, "%s/runs", dir);

    dlh_config *cfg = NULL;
    FILE *devnull = fopen("/dev/null", "w");
    int rc = dlh_config_load(path, &cfg);
    if (rc == 0)
        rc = dlh_init_weights(cfg, NULL, out_path, devnull);
    ok(rc == 0, "dlh_init_weights writes %s (%s)", "init.safetensors",
       rc ? dlh_error_get() : "ok");
    dlh_run_options opt = { .runs_root = runs };
    if (rc == 0)
        rc = dlh_run_ex(cfg, NULL, &opt, devnull);
    ok(rc == 0, "one epoch at lr 1e-30 (%s)", rc ? dlh_error_get() : "ok");
    dlh_config_free(cfg);
    fclose(devnull);

    char last[4300];
    snprintf(last, sizeof last, "%s/start/last.safetensors", runs);
    dlh_st_file *a = NULL, *b = NULL;
    if (dlh_st_read(out_path, &a) < 0 || dlh_st_read(last, &b) < 0)
        diag("%s", dlh_error_get());
    static const char *const names[] = { "fc1.weight", "fc1.bias", "fc2.weight",
                                         "fc2.bias", "head.weight", "head.bias" };
    ok(a && dlh_st_count(a) == N_OF(names), "the file holds the model's %zu tensors",
       N_OF(names));
    for (size_t i = 0; i < N_OF(names); i++) {
        const dlh_st_entry *x = entry(a, names[i]), *y = entry(b, names[i]);
        int64_t n = x ? numel(x->ndim, x->shape) : 0;
        ok(x && y && x->ndim == y->ndim && n == numel(y->ndim, y->shape) &&
           memcmp(x->data, y->data, (size_t)n * sizeof(float)) == 0,
           "%s: the run's start, bit for bit", names[i]);
    }
    const dlh_st_entry *b1 = entry(a, "fc1.bias");
    int in = b1 != NULL;
    for (int i = 0; in && i < 6; i++) {
        float x;
        memcpy(&x, (const char *)b1->data + i * 4, 4);
        in = x >= 0.5f && x < 1.0f;
    }
    ok(in, "init.bias = { type = \"uniform\"; a = 0.5; b = 1.0; } applied");
    ok(a && dlh_st_meta_get(a, "format") && strcmp(dlh_st_meta_get(a, "format"),
       "dlhost init 1") == 0 && strcmp(dlh_st_meta_get(a, "seed"), "11") == 0 &&
       strcmp(dlh_st_meta_get(a, "classes"), "3") == 0,
       "metadata: format, seed, classes");
    dlh_st_free(a);
    dlh_st_free(b);
    tmpdir_remove(dir);
}

int main(void)
{
    if (dlh_registry_load_all(0) < 0 || dlh_backend_open("cpu", NULL, &be) < 0) {
        ok(0, "load plugins and open the cpu backend: %s", dlh_error_get());
        return done_testing();
    }
    test_gains();
    test_bounds();
    test_uniforms();
    test_trunc_normal();
    test_exact();
    test_orthogonal();
    test_sparse();
    test_moments();
    test_refusals();
    dlh_backend_close(be);
    test_init_command();
    dlh_registry_clear();
    return done_testing();
}
