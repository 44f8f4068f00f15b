/* The cpu backend's precision = "bf16" (cpu_bf16.c): gemm and gemm_batched
 * with bf16 operands and fp32 accumulation, held to PyTorch 1.13
 * (tests/ref/bf16_gemm_ref.h: torch.matmul on .bfloat16().float() operands)
 * for every transpose case, a batch, alpha 1 and 0.5, beta 0 and 1; the
 * rounding of special values (ties to even, overflow, NaN) exactly; a
 * product large enough to be cut into pieces, and a batch, against a double
 * sum of the rounded operands written here; the same bits for threads 1, 2
 * and 3; and a check that the products really are bf16 (fp32 gives other,
 * nearer numbers).
 *
 * Tolerance against torch: 1e-5 x (|alpha| sum|a||b| + |beta c|) + 1e-6 (the
 * operands are the same bf16 numbers; only the order of the fp32 sums
 * differs).  SKIP when the backend refuses bf16 for a reason this machine
 * explains: built without oneDNN, or a CPU without native bf16. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlhost/dlhost.h>

#include "error.h"
#include "params.h"
#include "registry.h"
#include "tap.h"
#include "ref/bf16_gemm_ref.h"

static dlh_config *cfg;
static dlh_backend *open_backend(const char *group, dlh_params **p)
{
    static const char *const reserved[] = { "type", NULL };
    dlh_backend *b = NULL;
    *p = dlh_params_new(cfg, config_setting_lookup(dlh_config_root(cfg), group),
                        "backend 'cpu'", reserved);
    if (*p == NULL || dlh_backend_open("cpu", *p, &b) != 0 ||
        dlh_params_check_unused(*p) != 0) {
        dlh_backend_close(b);
        return NULL;
    }
    return b;
}

/* Element i of the generator tests/ref/bf16_gemm_ref.py describes. */
static float gen(size_t i, int seed)
{
    uint32_t h = (uint32_t)((uint64_t)i * 2654435761u + (uint64_t)seed * 40503u);
    return (float)(h >> 8) / 8388608.0f - 1.0f;
}

static float *genv(size_t n, int seed)
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    if (v == NULL) {
        printf("Bail out! out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        v[i] = gen(i, seed);
    return v;
}

/* fp32 to bf16 and back, to nearest even (as torch's .bfloat16()). */
static float round_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if (isnan(f))
        return f;
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&f, &u, sizeof f);
    return f;
}

static dlh_buffer *upload(dlh_backend *b, const float *data, size_t n)
{
    dlh_buffer *buf = NULL;
    if (b->ops->alloc(b->ctx, n * sizeof(float), &buf) != 0 ||
        (data != NULL && b->ops->write(b->ctx, buf, 0, data, n * sizeof(float)) != 0)) {
        printf("Bail out! alloc/write of %zu floats: %s\n", n, dlh_error_get());
        exit(1);
    }
    return buf;
}

static dlh_mem at(dlh_buffer *b)
{
    dlh_mem m = { b, 0 };
    return m;
}

/* One (batched) product on backend b: C0 in, C out (batch packed). */
static int run(dlh_backend *b, int m, int n, int k, int ta, int tb, int batch, float alpha,
               const float *a, const float *bm, float beta, const float *c0, float *c)
{
    size_t na = (size_t)m * k, nb = (size_t)k * n, nc = (size_t)m * n;
    dlh_buffer *da = upload(b, a, na * batch), *db = upload(b, bm, nb * batch);
    dlh_buffer *dc = upload(b, c0, nc * batch);
    int lda = ta ? m : k, ldb = tb ? k : n, rc;
    if (batch == 1)
        rc = b->ops->gemm(b->ctx, ta, tb, m, n, k, alpha, at(da), lda, at(db), ldb, beta,
                          at(dc), n);
    else
        rc = b->ops->gemm_batched(b->ctx, ta, tb, m, n, k, alpha, at(da), lda, (int64_t)na,
                                  at(db), ldb, (int64_t)nb, beta, at(dc), n, (int64_t)nc,
                                  batch);
    if (rc == 0)
        rc = b->ops->read(b->ctx, dc, 0, c, nc * batch * sizeof(float));
    b->ops->free(b->ctx, da);
    b->ops->free(b->ctx, db);
    b->ops->free(b->ctx, dc);
    return rc;
}

/* max over C of |got - want| / (|alpha| sum|a||b| + |beta c0|) in units of
   the tolerance 1e-5 (plus 1e-6 absolute); a, b the rounded operands. */
static double worst(int m, int n, int k, int ta, int tb, int batch, float alpha,
                    const float *a, const float *b, float beta, const float *c0,
                    const float *got, const float *want)
{
    double w = 0.0;
    for (int p = 0; p < batch; p++)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0.0;
                for (int l = 0; l < k; l++) {
                    float av = a[(size_t)p * m * k + (ta ? (size_t)l * m + i : (size_t)i * k + l)];
                    float bv = b[(size_t)p * k * n + (tb ? (size_t)j * k + l : (size_t)l * n + j)];
                    s += fabs((double)round_bf16(av) * round_bf16(bv));
                }
                size_t e = (size_t)p * m * n + (size_t)i * n + j;
                double scale = fabs(alpha) * s + fabs(beta * c0[e]);
                double err = fabs((double)got[e] - want[e]) / (1e-5 * scale + 1e-6);
                if (!(err <= w))
                    w = err;
            }
    return w;
}

static void test_torch(dlh_backend *b, dlh_backend *b32)
{
    for (size_t t = 0; t < sizeof ref_bf16_cases / sizeof ref_bf16_cases[0]; t++) {
        const ref_bf16_case *r = &ref_bf16_cases[t];
        size_t nc = (size_t)r->m * r->n * r->batch;
        float *a = genv((size_t)r->m * r->k * r->batch, r->seed);
        float *bm = genv((size_t)r->k * r->n * r->batch, r->seed + 1);
        float *c0 = genv(nc, r->seed + 2), *got = genv(nc, 0), *f32 = genv(nc, 0);
        int rc = run(b, r->m, r->n, r->k, r->trans_a, r->trans_b, r->batch, r->alpha, a, bm,
                     r->beta, c0, got);
        double w = rc ? HUGE_VAL : worst(r->m, r->n, r->k, r->trans_a, r->trans_b, r->batch,
                                         r->alpha, a, bm, r->beta, c0, got, r->c);
        ok(w <= 1.0, "bf16 gemm %dx%dx%d trans %d%d batch %d alpha %g beta %g: torch's "
           "within tolerance (worst %.3g of it)%s", r->m, r->n, r->k, r->trans_a, r->trans_b,
           r->batch, r->alpha, r->beta, w, rc ? dlh_error_get() : "");
        /* fp32 operands give other numbers: the bf16 path is the one taken
           (k > 1: a single product of two values may round alike). */
        if (r->k > 4) {
            rc = run(b32, r->m, r->n, r->k, r->trans_a, r->trans_b, r->batch, r->alpha, a,
                     bm, r->beta, c0, f32);
            double w32 = rc ? 0 : worst(r->m, r->n, r->k, r->trans_a, r->trans_b, r->batch,
                                        r->alpha, a, bm, r->beta, c0, f32, r->c);
            ok(w32 > 10.0, "  and fp32 operands are farther from it (worst %.3g)", w32);
        }
        free(a);
        free(bm);
        free(c0);
        free(got);
        free(f32);
    }
}

/* C = A (n x 1) times B = [1]: C is A rounded to bf16.  The special values
   three times over (45), so that whole vectors of 16 and the tail both see
   each of them. */
static void test_rounding(dlh_backend *b)
{
    enum { REPS = 3 };
    int n = (int)(sizeof ref_bf16_special_in / sizeof ref_bf16_special_in[0]);
    float one = 1.0f, in[REPS * 16], got[REPS * 16] = { 0 }, c0[REPS * 16] = { 0 };
    if (n > 16) {
        ok(0, "at most 16 special values (there are %d)", n);
        return;
    }
    for (int i = 0; i < REPS * n; i++)
        in[i] = ref_bf16_special_in[(i + i / n) % n];
    int rc = run(b, REPS * n, 1, 1, 0, 0, 1, 1.0f, in, &one, 0.0f, c0, got);
    int same = rc == 0, first = -1;
    for (int i = 0; i < REPS * n && same; i++) {
        float w = ref_bf16_special_out[(i + i / n) % n];
        same = isnan(w) ? isnan(got[i]) : memcmp(&w, &got[i], sizeof w) == 0;
        if (!same)
            first = i;
    }
    ok(same, "rounding to bf16 of %d special values (ties to even, overflow, NaN), "
       "%d times in other places, is torch's, bit for bit", n, REPS);
    if (rc != 0)
        diag("the k = 1 product failed: %s", dlh_error_get());
    else if (first >= 0)
        diag("element %d: %.9g gave %.9g", first, in[first], got[first]);
}

/* Products the backend cuts into pieces (and a batch run side by side), on
   threads 1, 2, 3: the same bits, each near a double sum of the rounded
   operands. */
static void test_large(dlh_backend *bt[3])
{
    static const int shapes[][6] = {   /* m, n, k, trans_a, trans_b, batch */
        { 128, 512, 784, 0, 1, 1 }, { 512, 784, 128, 1, 0, 1 }, { 128, 784, 512, 0, 0, 1 },
        { 301, 97, 131, 1, 1, 1 }, { 67, 333, 129, 0, 0, 1 }, { 130, 140, 120, 0, 0, 2 },
        { 24, 26, 150, 1, 0, 40 },
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], ta = shapes[s][3];
        int tb = shapes[s][4], batch = shapes[s][5];
        size_t nc = (size_t)m * n * batch;
        float *a = genv((size_t)m * k * batch, 20 + (int)s);
        float *bm = genv((size_t)k * n * batch, 40 + (int)s);
        float *c0 = genv(nc, 60 + (int)s), *want = genv(nc, 0), *got = genv(nc, 0);
        int same = 1, rc = 0;
        for (int t = 0; t < 3 && rc == 0; t++) {
            rc = run(bt[t], m, n, k, ta, tb, batch, 1.0f, a, bm, 1.0f, c0, t ? got : want);
            same = same && rc == 0 && (t == 0 || memcmp(want, got, nc * sizeof(float)) == 0);
        }
        ok(same, "bf16 gemm %dx%dx%d (trans %d%d, batch %d): the same bits with threads "
           "1, 2 and 3%s", m, n, k, ta, tb, batch, rc ? dlh_error_get() : "");
        /* the double reference, in want's place: C0 + sum of rounded products */
        float *ref = genv(nc, 0);
        for (int p = 0; p < batch; p++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double acc = 0.0;
                    for (int l = 0; l < k; l++) {
                        size_t ia = (size_t)p * m * k + (ta ? (size_t)l * m + i : (size_t)i * k + l);
                        size_t ib = (size_t)p * k * n + (tb ? (size_t)j * k + l : (size_t)l * n + j);
                        acc += (double)round_bf16(a[ia]) * round_bf16(bm[ib]);
                    }
                    size_t e = (size_t)p * m * n + (size_t)i * n + j;
                    ref[e] = (float)(acc + c0[e]);
                }
        double w = worst(m, n, k, ta, tb, batch, 1.0f, a, bm, 1.0f, c0, want, ref);
        ok(w <= 1.0, "  and within tolerance of a double sum of the bf16 operands "
           "(worst %.3g of it)", w);
        free(ref);
        free(a);
        free(bm);
        free(c0);
        free(want);
        free(got);
    }
}

int main(void)
{
    if (dlh_registry_load_all(0) != 0) {
        printf("Bail out! cannot load the plugins: %s\n", dlh_error_get());
        return 1;
    }
    if (dlh_config_load_string(
            "bf = { type = \"cpu\"; precision = \"bf16\"; adapt = false; };\n"
            "fp = { type = \"cpu\"; precision = \"fp32\"; adapt = false; };\n"
            "t1 = { type = \"cpu\"; precision = \"bf16\"; threads = 1; adapt = false; };\n"
            "t2 = { type = \"cpu\"; precision = \"bf16\"; threads = 2; adapt = false; };\n"
            "t3 = { type = \"cpu\"; precision = \"bf16\"; threads = 3; adapt = false; };\n"
            "bad = { type = \"cpu\"; precision = \"fp16\"; };\n",
            "bf16.cfg", &cfg) != 0) {
        printf("Bail out! config: %s\n", dlh_error_get());
        return 1;
    }
    dlh_params *p = NULL, *p32 = NULL, *pt[3] = { NULL, NULL, NULL };
    dlh_backend *b = open_backend("bf", &p);
    if (b == NULL) {
        const char *why = dlh_error_get();
        int explained = strstr(why, "built without") != NULL ||
                        strstr(why, "native bf16") != NULL;
#if defined(HAVE_DNNL) && (defined(__x86_64__) || defined(__i386__))
        /* oneDNN is there: only a CPU without bf16 explains a refusal. */
        __builtin_cpu_init();
        explained = explained && !__builtin_cpu_supports("avx512bf16");
#endif
        if (explained)
            printf("1..0 # SKIP %s\n", why);
        else
            ok(0, "cpu backend with precision = \"bf16\": %s", why);
        dlh_params_free(p);
        dlh_config_free(cfg);
        dlh_registry_clear();
        return explained ? 0 : done_testing();
    }
    ok(1, "cpu backend with precision = \"bf16\"");
    char desc[256];
    ok(b->ops->describe(b->ctx, desc, sizeof desc) == 0 && strstr(desc, "bf16") != NULL,
       "describe says bf16: \"%s\"", desc);
    dlh_backend *b32 = open_backend("fp", &p32);
    ok(b32 != NULL, "and one with precision = \"fp32\"");
    if (b32 != NULL) {
        b32->ops->describe(b32->ctx, desc, sizeof desc);
        ok(strstr(desc, "bf16") == NULL, "whose describe does not say bf16: \"%s\"", desc);
    }
    dlh_params *pb = NULL;
    dlh_backend *bad = open_backend("bad", &pb);
    ok(bad == NULL && strstr(dlh_error_get(), "precision") && strstr(dlh_error_get(), "bf16"),
       "precision = \"fp16\" is refused, naming the choices: %s", dlh_error_get());
    dlh_backend_close(bad);
    dlh_params_free(pb);

    if (b32 != NULL)
        test_torch(b, b32);
    test_rounding(b);
    static const char *const names[3] = { "t1", "t2", "t3" };
    dlh_backend *bt[3] = { NULL, NULL, NULL };
    int opened = 1;
    for (int t = 0; t < 3; t++)
        opened = (bt[t] = open_backend(names[t], &pt[t])) != NULL && opened;
    ok(opened, "bf16 backends with threads 1, 2, 3 (%s)", opened ? "ok" : dlh_error_get());
    if (opened)
        test_large(bt);
    for (int t = 0; t < 3; t++) {
        dlh_backend_close(bt[t]);
        dlh_params_free(pt[t]);
    }
    dlh_backend_close(b);
    dlh_backend_close(b32);
    dlh_params_free(p);
    dlh_params_free(p32);
    dlh_config_free(cfg);
    dlh_registry_clear();
    return done_testing();
}
