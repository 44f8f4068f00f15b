/* The cpu backend, loaded as a plugin through the registry: every primitive
 * against a naive reference written here (double accumulation), on odd sizes,
 * sizes of 1 and sizes large enough to take the threaded paths, plus memory
 * bounds errors and describe.
 *
 * Tolerances, per primitive (err <= tol * scale, scale stated at each check):
 *   gemm, batched gemm: 1e-5 x (|alpha| sum|a||b| + |beta c|) + 1e-6
 *   reduce sum/sumsq: 1e-5 x sum of |terms| + 1e-6; max and argmax: exact
 *   softmax: 1e-6 + 1e-5 x value; log_softmax: 1e-5 x max(1, |value|)
 *   im2col, gather, pool max, rand uniform/bernoulli: exact (copies)
 *   col2im, scatter_add, pool avg and backward: 1e-5 x max(1, |value|)
 *   rand normal: 2e-6 x max(1, |value|) (libm log/cos may differ by an ulp
 *   between builds of the plugin and of this test). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dlhost/dlhost.h>

#include "error.h"
#include "params.h"
#include "registry.h"
#include "tap.h"
/* For struct dlh_buffer: the test checks the 64-byte alignment promise. */
#include "../plugins/backends/cpu/cpu.h"

static dlh_backend *be;
static const dlh_backend_ops *B;

/* ---- helpers ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: a value in [-1, 1). */
static float frand(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t r = rng_state * 0x2545F4914F6CDD1DULL;
    return (float)((double)(r >> 40) / (double)(1 << 23)) - 1.0f;
}

static int irand(int n)
{
    return (int)((frand() + 1.0f) * 0.5f * (float)n) % n;
}

static float *fvec(size_t n)
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    if (v == NULL) {
        printf("Bail out! out of memory\n");
        exit(1);
    }
    return v;
}

static void frand_fill(float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = frand();
}

/* A backend buffer of n floats holding `data` (when not NULL). */
static dlh_buffer *upload(const float *data, size_t n)
{
    dlh_buffer *b = NULL;
    if (B->alloc(be->ctx, n * sizeof(float), &b) != 0 ||
        (data != NULL && B->write(be->ctx, b, 0, data, n * sizeof(float)) != 0)) {
        printf("Bail out! alloc/write of %zu floats: %s\n", n, dlh_error_get());
        exit(1);
    }
    return b;
}

static void download(dlh_buffer *b, float *out, size_t n)
{
    if (B->read(be->ctx, b, 0, out, n * sizeof(float)) != 0) {
        printf("Bail out! read of %zu floats: %s\n", n, dlh_error_get());
        exit(1);
    }
}

static dlh_mem at(dlh_buffer *b, size_t off)
{
    dlh_mem m = { b, off };
    return m;
}

static double relerr(double got, double want, double scale)
{
    return fabs(got - want) / scale;
}

/* ---- memory ---- */

static void test_memory(void)
{
    dlh_buffer *b = NULL;
    ok(B->alloc(be->ctx, 0, &b) == 0 && b != NULL, "alloc of 0 bytes gives a buffer");
    ok(B->write(be->ctx, b, 0, "", 0) == 0, "a write of 0 bytes into it is fine");
    char c = 1;
    ok(B->write(be->ctx, b, 0, &c, 1) == DLH_EINVAL, "a write of 1 byte into it is refused");
    B->free(be->ctx, b);
    B->free(be->ctx, NULL);
    ok(1, "free of NULL is a no-op");
    b = (dlh_buffer *)&b;
    ok(B->alloc(be->ctx, SIZE_MAX - 8, &b) == DLH_ENOMEM && b == NULL,
       "an impossible alloc gives DLH_ENOMEM and no buffer (%s)", dlh_error_get());

    float v[16], w[16];
    for (int i = 0; i < 16; i++)
        v[i] = (float)i;
    b = upload(v, 16);
    ok(((uintptr_t)b->ptr & 63) == 0, "buffers are 64-byte aligned");
    dlh_error_clear();
    ok(B->write(be->ctx, b, 61, v, 4) == DLH_EINVAL && strstr(dlh_error_get(), "outside"),
       "write past the end: DLH_EINVAL with a message (%s)", dlh_error_get());
    ok(B->write(be->ctx, b, SIZE_MAX, v, 4) == DLH_EINVAL, "write at a huge offset is refused");
    ok(B->read(be->ctx, b, 4, w, 64) == DLH_EINVAL, "read past the end is refused");
    ok(B->read(be->ctx, b, 64, w, 0) == 0, "read of 0 bytes at the end is fine");
    ok(B->copy(be->ctx, b, 8, b, 0, 60) == DLH_EINVAL, "copy past the destination end is refused");
    ok(B->copy(be->ctx, b, 0, b, 8, 60) == DLH_EINVAL, "copy past the source end is refused");
    ok(B->read(be->ctx, b, 8, w, 8) == 0 && w[0] == 2.0f && w[1] == 3.0f,
       "read at a byte offset");

    /* Overlapping copy inside one buffer: floats 0..7 to 4..11. */
    ok(B->copy(be->ctx, b, 16, b, 0, 32) == 0, "overlapping copy within a buffer");
    download(b, w, 16);
    int same = 1;
    for (int i = 0; i < 16; i++) {
        float want = i < 4 ? (float)i : i < 12 ? (float)(i - 4) : (float)i;
        same &= w[i] == want;
    }
    ok(same, "overlapping copy moves the bytes as memmove does");

    dlh_buffer *b2 = upload(NULL, 16);
    ok(B->copy(be->ctx, b2, 0, b, 0, 64) == 0, "copy between buffers");
    download(b2, v, 16);
    ok(memcmp(v, w, sizeof v) == 0, "copy between buffers is exact");

    ok(B->fill(be->ctx, at(b, 3), 10, 2.5f) == 0, "fill 10 at offset 3");
    download(b, v, 16);
    same = 1;
    for (int i = 0; i < 16; i++)
        same &= v[i] == (i >= 3 && i < 13 ? 2.5f : w[i]);
    ok(same, "fill writes exactly its range");
    dlh_error_clear();
    ok(B->fill(be->ctx, at(b, 7), 10, 0.0f) == DLH_EINVAL && *dlh_error_get(),
       "fill past the end is refused with a message (%s)", dlh_error_get());
    ok(B->fill(be->ctx, at(NULL, 0), 1, 0.0f) == DLH_EINVAL, "fill of a NULL buffer is refused");
    ok(B->sync(be->ctx) == 0, "sync");

    /* A big fill takes the threaded path. */
    size_t nbig = 1u << 20;
    dlh_buffer *big = upload(NULL, nbig);
    float *h = fvec(nbig);
    ok(B->fill(be->ctx, at(big, 0), nbig, -1.25f) == 0, "fill of 2^20 floats");
    download(big, h, nbig);
    same = 1;
    for (size_t i = 0; i < nbig; i++)
        same &= h[i] == -1.25f;
    ok(same, "fill of 2^20 floats writes every element");
    free(h);
    B->free(be->ctx, big);
    B->free(be->ctx, b);
    B->free(be->ctx, b2);
}

/* ---- gemm ---- */

/* Element (i, j) of op(X) for X stored row-major with leading dim ld. */
static double op_at(const float *x, int trans, int ld, int i, int j)
{
    return trans ? x[(size_t)j * ld + i] : x[(size_t)i * ld + j];
}

/* Fills a stored matrix; the padding past `cols` in each row is NaN so that a
   read of it poisons the result. */
static void fill_padded(float *x, int rows, int cols, int ld)
{
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < ld; j++)
            x[(size_t)i * ld + j] = j < cols ? frand() : NAN;
}

/* Checks C (m x n, ld ldc) against alpha op(A) op(B) + beta C0; the cells past
   n in each row must be unchanged. */
static int gemm_compare(int ta, int tb, int m, int n, int k, float alpha, const float *a,
                        int lda, const float *b, int ldb, float beta, const float *c0,
                        const float *c, int ldc, double *worst)
{
    int good = 1;
    *worst = 0;
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < ldc; j++) {
            size_t o = (size_t)i * ldc + j;
            if (j >= n) {
                good &= memcmp(&c[o], &c0[o], sizeof(float)) == 0;
                continue;
            }
            double s = 0, sabs = 0;
            for (int p = 0; p < k; p++) {
                double t = op_at(a, ta, lda, i, p) * op_at(b, tb, ldb, p, j);
                s += t;
                sabs += fabs(t);
            }
            double base = beta == 0.0f ? 0.0 : (double)beta * c0[o];
            double want = alpha * s + base;
            double scale = 1e-5 * (fabs(alpha) * sabs + fabs(base)) + 1e-6;
            double e = fabs(c[o] - want) / scale;
            if (!(e <= 1.0))
                good = 0;
            if (!(e <= *worst))
                *worst = e;
        }
    }
    return good;
}

static void test_gemm_case(int ta, int tb, int m, int n, int k, float alpha, float beta,
                           int pad, int nan_c)
{
    int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    int lda = (ac > 1 ? ac : 1) + pad, ldb = (bc > 1 ? bc : 1) + pad, ldc = n + pad;
    const size_t oa = 5, ob = 7, oc = 3;
    size_t na = (size_t)ar * lda, nb = (size_t)br * ldb, nc = (size_t)m * ldc;
    float *a = fvec(oa + na), *b = fvec(ob + nb), *c0 = fvec(oc + nc), *c = fvec(nc);
    frand_fill(a, oa);
    frand_fill(b, ob);
    frand_fill(c0, oc);
    fill_padded(a + oa, ar, ac, lda);
    fill_padded(b + ob, br, bc, ldb);
    for (size_t i = 0; i < nc; i++)
        c0[oc + i] = nan_c ? NAN : (i % ldc) < (size_t)n ? frand() : 777.0f;
    dlh_buffer *ba = upload(a, oa + na), *bb = upload(b, ob + nb), *bcb = upload(c0, oc + nc);
    int rc = B->gemm(be->ctx, ta, tb, m, n, k, alpha, at(ba, oa), lda, at(bb, ob), ldb,
                     beta, at(bcb, oc), ldc);
    if (rc != 0)
        diag("gemm: %s", dlh_error_get());
    if (B->read(be->ctx, bcb, oc * sizeof(float), c, nc * sizeof(float)) != 0)
        rc = -1;
    double worst;
    int good = rc == 0 && gemm_compare(ta, tb, m, n, k, alpha, a + oa, lda, b + ob, ldb,
                                       beta, c0 + oc, c, ldc, &worst);
    ok(good, "gemm %c%c m=%d n=%d k=%d alpha=%g beta=%g lds +%d%s (worst %.3g of tol)",
       ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, beta, pad,
       nan_c ? ", C NaN" : "", rc == 0 ? worst : -1.0);
    B->free(be->ctx, ba);
    B->free(be->ctx, bb);
    B->free(be->ctx, bcb);
    free(a);
    free(b);
    free(c0);
    free(c);
}

static void test_gemm_batched_case(int ta, int tb, int m, int n, int k, int batch,
                                   int share_a, int share_b)
{
    int lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 1;
    int ar = ta ? k : m, br = tb ? n : k;
    int64_t sa = share_a ? 0 : (int64_t)ar * lda + 3, sb = share_b ? 0 : (int64_t)br * ldb + 1;
    int64_t sc = (int64_t)m * ldc + 2;
    size_t na = (size_t)(sa * (batch - 1) + ar * lda), nb = (size_t)(sb * (batch - 1) + br * ldb);
    size_t nc = (size_t)(sc * batch);
    float *a = fvec(na), *b = fvec(nb), *c0 = fvec(nc), *c = fvec(nc);
    frand_fill(a, na);
    frand_fill(b, nb);
    frand_fill(c0, nc);
    dlh_buffer *ba = upload(a, na), *bb = upload(b, nb), *bcb = upload(c0, nc);
    const float alpha = 0.75f, beta = 0.5f;
    int rc = B->gemm_batched(be->ctx, ta, tb, m, n, k, alpha, at(ba, 0), lda, sa,
                             at(bb, 0), ldb, sb, beta, at(bcb, 0), ldc, sc, batch);
    if (rc != 0)
        diag("gemm_batched: %s", dlh_error_get());
    download(bcb, c, nc);
    int good = rc == 0;
    double worst = 0, w;
    for (int i = 0; i < batch && good; i++) {
        /* Only the m x ldc block of each problem; the gaps between blocks are
           checked to be untouched. */
        good &= gemm_compare(ta, tb, m, n, k, alpha, a + i * sa, lda, b + i * sb, ldb,
                             beta, c0 + i * sc, c + i * sc, ldc, &w);
        worst = w > worst ? w : worst;
        for (int64_t g = (int64_t)m * ldc; g < sc; g++)
            good &= c[i * sc + g] == c0[i * sc + g];
    }
    ok(good, "gemm_batched %c%c m=%d n=%d k=%d batch=%d stride_a %s stride_b %s "
       "(worst %.3g of tol)", ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, batch,
       share_a ? "0" : "full", share_b ? "0" : "full", worst);
    B->free(be->ctx, ba);
    B->free(be->ctx, bb);
    B->free(be->ctx, bcb);
    free(a);
    free(b);
    free(c0);
    free(c);
}

static void test_gemm(void)
{
    static const int shapes[][3] = { { 1, 1, 1 }, { 3, 5, 7 }, { 17, 13, 9 }, { 64, 33, 65 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                test_gemm_case(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 1.5f,
                               -0.5f, 3, 0);
    test_gemm_case(0, 0, 7, 6, 5, 1.0f, 0.0f, 0, 0);
    test_gemm_case(1, 1, 7, 6, 5, 2.0f, 1.0f, 1, 0);
    test_gemm_case(0, 1, 5, 4, 3, 1.0f, 0.0f, 2, 1);   /* beta 0: C is not read */
    test_gemm_case(1, 0, 4, 3, 0, 1.0f, 0.5f, 1, 0);   /* k = 0: C = beta C */
    test_gemm_case(0, 0, 4, 3, 0, 1.0f, 0.0f, 1, 1);
    test_gemm_case(0, 0, 130, 257, 96, -1.0f, 0.25f, 5, 0);
    /* Large enough to be split between threads: by rows (m >= n) and by
       columns, every transpose, sizes that do not divide evenly. */
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            test_gemm_case(ta, tb, 301, 97, 131, 1.0f, 0.5f, 2, 0);
            test_gemm_case(ta, tb, 67, 333, 129, -2.0f, 0.0f, 1, 0);
        }

    test_gemm_batched_case(0, 0, 4, 5, 6, 3, 1, 0);
    test_gemm_batched_case(1, 0, 4, 5, 6, 3, 0, 1);
    test_gemm_batched_case(0, 1, 3, 2, 7, 4, 0, 0);
    test_gemm_batched_case(1, 1, 1, 1, 1, 2, 0, 0);
    /* Many small problems side by side (a convolution's shapes, A shared),
       and a few large ones each split between threads. */
    test_gemm_batched_case(0, 0, 6, 100, 25, 16, 1, 0);
    test_gemm_batched_case(1, 0, 150, 100, 16, 9, 1, 0);
    test_gemm_batched_case(0, 1, 16, 150, 100, 7, 0, 0);
    test_gemm_batched_case(0, 0, 130, 140, 120, 2, 0, 0);

    /* Bad arguments. */
    dlh_buffer *x = upload(NULL, 64);
    dlh_error_clear();
    ok(B->gemm(be->ctx, 0, 0, 4, 4, 4, 1, at(x, 0), 3, at(x, 0), 4, 0, at(x, 0), 4) ==
       DLH_EINVAL && strstr(dlh_error_get(), "lda"),
       "gemm: lda below the width of A is refused (%s)", dlh_error_get());
    ok(B->gemm(be->ctx, 1, 0, 4, 4, 2, 1, at(x, 0), 2, at(x, 0), 4, 0, at(x, 0), 4) ==
       DLH_EINVAL, "gemm: lda below the width of a transposed A is refused");
    ok(B->gemm(be->ctx, 0, 1, 4, 4, 2, 1, at(x, 0), 2, at(x, 0), 1, 0, at(x, 0), 4) ==
       DLH_EINVAL && strstr(dlh_error_get(), "ldb"), "gemm: a bad ldb is refused");
    ok(B->gemm(be->ctx, 0, 0, 4, 4, 2, 1, at(x, 0), 2, at(x, 0), 4, 0, at(x, 0), 3) ==
       DLH_EINVAL && strstr(dlh_error_get(), "ldc"), "gemm: a bad ldc is refused");
    ok(B->gemm(be->ctx, 0, 0, -1, 4, 2, 1, at(x, 0), 2, at(x, 0), 4, 0, at(x, 0), 4) ==
       DLH_EINVAL && strstr(dlh_error_get(), "m=-1"), "gemm: a negative size is refused");
    ok(B->gemm(be->ctx, 0, 0, 9, 9, 9, 1, at(x, 0), 9, at(x, 0), 9, 0, at(x, 0), 9) ==
       DLH_EINVAL && strstr(dlh_error_get(), "outside"),
       "gemm: matrices past the buffer end are refused (%s)", dlh_error_get());
    ok(B->gemm_batched(be->ctx, 0, 0, 2, 2, 2, 1, at(x, 0), 2, 0, at(x, 0), 2, 0, 0,
                       at(x, 0), 2, 4, 100) == DLH_EINVAL,
       "gemm_batched: a batch past the buffer end is refused");
    ok(B->gemm_batched(be->ctx, 0, 0, 2, 2, 2, 1, at(x, 0), 2, -4, at(x, 0), 2, 0, 0,
                       at(x, 0), 2, 4, 2) == DLH_EINVAL, "gemm_batched: a negative stride is refused");
    ok(B->gemm(be->ctx, 0, 0, 0, 5, 3, 1, at(x, 0), 3, at(x, 0), 5, 0, at(x, 0), 5) == 0,
       "gemm with m = 0 does nothing");
    B->free(be->ctx, x);
}

/* ---- reductions ---- */

static void test_reduce_case(int rows, int cols, int ties)
{
    size_t n = (size_t)rows * cols, ox = 3, oo = 2, oi = 1;
    float *x = fvec(ox + n);
    for (size_t i = 0; i < ox + n; i++)
        x[i] = ties ? (float)(irand(4) - 2) : frand() * 4.0f;
    dlh_buffer *bx = upload(x, ox + n);
    size_t maxout = (size_t)(rows > cols ? rows : cols);
    dlh_buffer *bo = upload(NULL, oo + maxout), *bi = upload(NULL, oi + maxout);
    float *out = fvec(oo + maxout), *idxf = fvec(oi + maxout);
    const char *names[] = { "sum", "max", "sumsq" };
    for (int axis = 0; axis < 2; axis++) {
        int nout = axis ? rows : cols, len = axis ? cols : rows;
        for (int op = 0; op < 3; op++) {
            int rc = B->reduce(be->ctx, (dlh_reduce_op)op, axis, rows, cols, at(bx, ox),
                               at(bo, oo), at(bi, oi));
            download(bo, out, oo + maxout);
            download(bi, idxf, oi + maxout);
            const int32_t *idx = (const int32_t *)(const void *)(idxf + oi);
            int good = rc == 0;
            for (int r = 0; r < nout && good; r++) {
                double s = 0, sabs = 0, best = 0;
                int bi_ = -1;
                for (int q = 0; q < len; q++) {
                    double v = x[ox + (axis ? (size_t)r * cols + q : (size_t)q * cols + r)];
                    double t = op == 2 ? v * v : v;
                    s += t;
                    sabs += fabs(t);
                    if (bi_ < 0 || v > best) {
                        best = v;
                        bi_ = q;
                    }
                }
                if (op == 1)
                    good &= out[oo + r] == (float)best && idx[r] == bi_;
                else
                    good &= fabs(out[oo + r] - s) <= 1e-5 * sabs + 1e-6;
            }
            ok(good, "reduce %s axis %d on %dx%d%s", names[op], axis, rows, cols,
               ties ? " (ties: first index)" : "");
        }
    }
    /* Max without indices. */
    ok(B->reduce(be->ctx, DLH_REDUCE_MAX, 1, rows, cols, at(bx, ox), at(bo, oo),
                 at(NULL, 0)) == 0, "reduce max %dx%d without idx", rows, cols);
    B->free(be->ctx, bx);
    B->free(be->ctx, bo);
    B->free(be->ctx, bi);
    free(x);
    free(out);
    free(idxf);
}

/* A long row cut into pieces: the first NaN wins a max over later pieces'
   larger values, and the first of equal maxima in row order. */
static void test_reduce_long_nan(void)
{
    size_t n = 100000;
    float *x = fvec(n), out[1];
    int32_t idx[1];
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(i % 1000) * 0.001f;
    x[20000] = NAN;
    x[40000] = NAN;
    x[90000] = 5.0f;
    dlh_buffer *bx = upload(x, n), *bo = upload(NULL, 1), *bi = upload(NULL, 1);
    int rc = B->reduce(be->ctx, DLH_REDUCE_MAX, 1, 1, (int)n, at(bx, 0), at(bo, 0), at(bi, 0));
    download(bo, out, 1);
    B->read(be->ctx, bi, 0, idx, sizeof idx);
    ok(rc == 0 && isnan(out[0]) && idx[0] == 20000, "reduce max of a long row: first NaN");
    x[20000] = x[40000] = 1.0f;
    x[70000] = 5.0f;
    B->write(be->ctx, bx, 0, x, n * sizeof(float));
    rc = B->reduce(be->ctx, DLH_REDUCE_MAX, 1, 1, (int)n, at(bx, 0), at(bo, 0), at(bi, 0));
    download(bo, out, 1);
    B->read(be->ctx, bi, 0, idx, sizeof idx);
    ok(rc == 0 && out[0] == 5.0f && idx[0] == 70000,
       "reduce max of a long row: the first of equal maxima");
    B->free(be->ctx, bx);
    B->free(be->ctx, bo);
    B->free(be->ctx, bi);
    free(x);
}

static void test_reduce(void)
{
    test_reduce_long_nan();
    test_reduce_case(1, 1, 0);
    test_reduce_case(1, 7, 0);
    test_reduce_case(5, 1, 0);
    test_reduce_case(13, 300, 0);
    test_reduce_case(9, 11, 1);
    test_reduce_case(300, 600, 1);
    test_reduce_case(333, 517, 0);
    /* Few long rows: cut into pieces reduced side by side. */
    test_reduce_case(1, 70001, 0);
    test_reduce_case(3, 40000, 1);
    test_reduce_case(1, 4300000, 0);    /* more than 256 pieces of 16384 */

    /* A NaN wins a max, as in PyTorch. */
    float x[6] = { 1, NAN, 3, 4, 5, 6 }, out[3];
    int32_t idx[3];
    dlh_buffer *bx = upload(x, 6), *bo = upload(NULL, 3), *bi = upload(NULL, 3);
    int rc = B->reduce(be->ctx, DLH_REDUCE_MAX, 1, 2, 3, at(bx, 0), at(bo, 0), at(bi, 0));
    download(bo, out, 2);
    B->read(be->ctx, bi, 0, idx, 2 * sizeof(int32_t));
    ok(rc == 0 && isnan(out[0]) && idx[0] == 1 && out[1] == 6 && idx[1] == 2,
       "reduce max axis 1 propagates NaN with its index");
    rc = B->reduce(be->ctx, DLH_REDUCE_MAX, 0, 2, 3, at(bx, 0), at(bo, 0), at(bi, 0));
    download(bo, out, 3);
    B->read(be->ctx, bi, 0, idx, 3 * sizeof(int32_t));
    ok(rc == 0 && out[0] == 4 && idx[0] == 1 && isnan(out[1]) && idx[1] == 0 &&
       out[2] == 6, "reduce max axis 0 propagates NaN with its index");

    dlh_error_clear();
    ok(B->reduce(be->ctx, DLH_REDUCE_MAX, 1, 2, 0, at(bx, 0), at(bo, 0), at(bi, 0)) ==
       DLH_EINVAL && *dlh_error_get(), "reduce max over an empty axis is refused");
    out[0] = out[1] = 9;
    B->write(be->ctx, bo, 0, out, 2 * sizeof(float));
    rc = B->reduce(be->ctx, DLH_REDUCE_SUM, 1, 2, 0, at(bx, 0), at(bo, 0), at(NULL, 0));
    download(bo, out, 2);
    ok(rc == 0 && out[0] == 0 && out[1] == 0, "reduce sum over an empty axis is 0");
    ok(B->reduce(be->ctx, DLH_REDUCE_SUM, 2, 2, 3, at(bx, 0), at(bo, 0), at(NULL, 0)) ==
       DLH_EINVAL && strstr(dlh_error_get(), "axis"), "reduce: a bad axis is refused");
    ok(B->reduce(be->ctx, DLH_REDUCE_SUM, 1, 2, 4, at(bx, 0), at(bo, 0), at(NULL, 0)) ==
       DLH_EINVAL, "reduce: x past the buffer end is refused");
    ok(B->reduce(be->ctx, DLH_REDUCE_SUM, 1, 4, 1, at(bx, 0), at(bo, 0), at(NULL, 0)) ==
       DLH_EINVAL, "reduce: out past the buffer end is refused");
    B->free(be->ctx, bx);
    B->free(be->ctx, bo);
    B->free(be->ctx, bi);
}

/* ---- softmax ---- */

static void test_softmax_case(int use_log, int rows, int cols, float shift, float spread,
                              int alias)
{
    size_t n = (size_t)rows * cols, ox = 2, oy = alias ? 2 : 5;
    float *x = fvec(ox + n), *y = fvec(oy + n);
    for (size_t i = 0; i < ox + n; i++)
        x[i] = shift + spread * frand();
    dlh_buffer *bx = upload(x, ox + n), *by = alias ? bx : upload(NULL, oy + n);
    int rc = B->softmax(be->ctx, use_log, rows, cols, at(bx, ox), at(by, oy));
    download(by, y, oy + n);
    int good = rc == 0;
    double worst = 0;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + ox + (size_t)r * cols;
        double mx = xr[0], s = 0;
        for (int j = 1; j < cols; j++)
            mx = xr[j] > mx ? xr[j] : mx;
        for (int j = 0; j < cols; j++)
            s += exp(xr[j] - mx);
        for (int j = 0; j < cols; j++) {
            double want = use_log ? xr[j] - mx - log(s) : exp(xr[j] - mx) / s;
            double got = y[oy + (size_t)r * cols + j];
            double e = use_log ? relerr(got, want, 1e-5 * (fabs(want) > 1 ? fabs(want) : 1))
                               : relerr(got, want, 1e-6 + 1e-5 * want);
            good &= e <= 1.0;
            worst = e > worst ? e : worst;
        }
    }
    ok(good, "%s %dx%d values %g +- %g%s (worst %.3g of tol)", use_log ? "log_softmax" :
       "softmax", rows, cols, shift, spread, alias ? ", in place" : "", worst);
    if (!alias)
        B->free(be->ctx, by);
    B->free(be->ctx, bx);
    free(x);
    free(y);
}

static void test_softmax(void)
{
    for (int lg = 0; lg < 2; lg++) {
        test_softmax_case(lg, 1, 1, 0, 1, 0);
        test_softmax_case(lg, 1, 1, 0, 1, 1);
        test_softmax_case(lg, 4, 10, 0, 3, 0);
        test_softmax_case(lg, 3, 1000, 1000, 50, 0);     /* exp(1000) overflows float */
        test_softmax_case(lg, 5, 7, -1000, 20, 1);
        test_softmax_case(lg, 300, 200, 0, 5, 1);
        test_softmax_case(lg, 257, 130, 88, 10, 0);
    }
    dlh_buffer *x = upload(NULL, 8);
    ok(B->softmax(be->ctx, 0, 3, 3, at(x, 0), at(x, 0)) == DLH_EINVAL,
       "softmax past the buffer end is refused");
    ok(B->softmax(be->ctx, 0, -1, 3, at(x, 0), at(x, 0)) == DLH_EINVAL,
       "softmax with negative rows is refused");
    B->free(be->ctx, x);
}

/* ---- im2col / col2im ---- */

static dlh_window2d window(int c, int h, int w, int kh, int kw, int sh, int sw, int ph,
                           int pw, int dh, int dw)
{
    dlh_window2d g = { sizeof(dlh_window2d), c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, 0, 0 };
    g.oh = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
    g.ow = (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
    return g;
}

static size_t img_size(const dlh_window2d *g, int n)
{
    return (size_t)n * g->c * g->h * g->w;
}

static size_t col_size(const dlh_window2d *g, int n)
{
    return (size_t)n * g->c * g->kh * g->kw * g->oh * g->ow;
}

/* Calls f(img index, col index) for every in-bounds pair, and f(-1, col index)
   for column cells that fall on padding. */
#define FOR_IM2COL(g, n, IMG, COL, BODY)                                               \
    for (int ni = 0; ni < (n); ni++)                                                  \
        for (int ch = 0; ch < (g)->c; ch++)                                           \
            for (int ky = 0; ky < (g)->kh; ky++)                                      \
                for (int kx = 0; kx < (g)->kw; kx++)                                  \
                    for (int oy = 0; oy < (g)->oh; oy++)                              \
                        for (int ox = 0; ox < (g)->ow; ox++) {                        \
                            int iy = oy * (g)->sh - (g)->ph + ky * (g)->dh;           \
                            int ix = ox * (g)->sw - (g)->pw + kx * (g)->dw;           \
                            long IMG = iy < 0 || iy >= (g)->h || ix < 0 || ix >= (g)->w \
                                ? -1 : (((long)ni * (g)->c + ch) * (g)->h + iy) * (g)->w + ix; \
                            size_t COL = ((((size_t)ni * (g)->c + ch) * (g)->kh + ky) *  \
                                          (g)->kw + kx) * (g)->oh * (g)->ow +         \
                                         (size_t)oy * (g)->ow + ox;                   \
                            BODY                                                      \
                        }

static void test_im2col_case(const dlh_window2d *g, int n, const char *what)
{
    size_t ni_ = img_size(g, n), nc = col_size(g, n), oi = 3, oc = 1;
    float *img = fvec(oi + ni_), *col = fvec(oc + nc), *ref = fvec(nc);
    frand_fill(img, oi + ni_);
    frand_fill(col, oc + nc);
    FOR_IM2COL(g, n, ii, cc, { ref[cc] = ii < 0 ? 0.0f : img[oi + ii]; })
    dlh_buffer *bi = upload(img, oi + ni_), *bc = upload(col, oc + nc);
    int rc = B->im2col(be->ctx, g, n, at(bi, oi), at(bc, oc));
    download(bc, col, oc + nc);
    ok(rc == 0 && memcmp(col + oc, ref, nc * sizeof(float)) == 0,
       "im2col %s: n=%d c=%d %dx%d k %dx%d s %dx%d p %dx%d d %dx%d -> %dx%d", what, n,
       g->c, g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->ph, g->pw, g->dh, g->dw, g->oh,
       g->ow);

    /* col2im accumulates into a non-zero image. */
    float *y = fvec(nc), *img2 = fvec(ni_);
    double *want = calloc(ni_, sizeof *want);
    frand_fill(y, nc);
    for (size_t i = 0; i < ni_; i++)
        want[i] = img[oi + i];
    FOR_IM2COL(g, n, ii, cc, { if (ii >= 0) want[ii] += y[cc]; })
    B->write(be->ctx, bc, oc * sizeof(float), y, nc * sizeof(float));
    rc = B->col2im(be->ctx, g, n, at(bc, oc), at(bi, oi));
    B->read(be->ctx, bi, oi * sizeof(float), img2, ni_ * sizeof(float));
    int good = rc == 0;
    for (size_t i = 0; i < ni_; i++)
        good &= fabs(img2[i] - want[i]) <= 1e-5 * (fabs(want[i]) > 1 ? fabs(want[i]) : 1);
    ok(good, "col2im %s accumulates the columns", what);

    /* Adjoint: <im2col(x), y> == <x, col2im(y)> with col2im into zeros. */
    float *x = fvec(ni_), *z = fvec(ni_);
    frand_fill(x, ni_);
    B->write(be->ctx, bi, oi * sizeof(float), x, ni_ * sizeof(float));
    B->im2col(be->ctx, g, n, at(bi, oi), at(bc, oc));
    B->read(be->ctx, bc, oc * sizeof(float), col + oc, nc * sizeof(float));
    B->fill(be->ctx, at(bi, oi), ni_, 0.0f);
    B->write(be->ctx, bc, oc * sizeof(float), y, nc * sizeof(float));
    B->col2im(be->ctx, g, n, at(bc, oc), at(bi, oi));
    B->read(be->ctx, bi, oi * sizeof(float), z, ni_ * sizeof(float));
    double lhs = 0, rhs = 0, mag = 0;
    for (size_t i = 0; i < nc; i++) {
        lhs += (double)col[oc + i] * y[i];
        mag += fabs((double)col[oc + i] * y[i]);
    }
    for (size_t i = 0; i < ni_; i++)
        rhs += (double)x[i] * z[i];
    ok(fabs(lhs - rhs) <= 1e-5 * mag + 1e-6,
       "col2im %s is the adjoint of im2col (%.9g vs %.9g)", what, lhs, rhs);
    B->free(be->ctx, bi);
    B->free(be->ctx, bc);
    free(img);
    free(col);
    free(ref);
    free(y);
    free(img2);
    free(want);
    free(x);
    free(z);
}

static void test_image(void)
{
    dlh_window2d g;
    g = window(3, 7, 6, 3, 2, 2, 2, 1, 1, 2, 2);
    test_im2col_case(&g, 2, "stride 2, padding 1, dilation 2");
    g = window(2, 5, 5, 1, 1, 1, 1, 0, 0, 1, 1);
    test_im2col_case(&g, 1, "1x1");
    g = window(1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1);
    test_im2col_case(&g, 1, "single pixel");
    g = window(2, 6, 9, 2, 3, 1, 2, 0, 2, 1, 3);
    test_im2col_case(&g, 3, "asymmetric");
    g = window(4, 5, 4, 3, 3, 1, 1, 2, 2, 1, 1);
    test_im2col_case(&g, 2, "padding 2");
    g = window(8, 20, 21, 3, 3, 1, 1, 1, 1, 1, 1);
    test_im2col_case(&g, 4, "large (threaded)");
    /* ABI 1.6: any oh, ow >= 1.  Larger: zeros below and right (padding
       "same" of an even kernel); smaller: the last outputs dropped. */
    g = window(2, 5, 6, 2, 4, 1, 1, 0, 1, 1, 1);
    g.oh++;
    g.ow++;
    test_im2col_case(&g, 2, "one more row and column than the window gives");
    g = window(1, 1, 1, 2, 2, 1, 1, 0, 0, 1, 1);
    g.oh = g.ow = 1;
    test_im2col_case(&g, 2, "2x2 window over one pixel, oh 1");
    g = window(3, 4, 5, 3, 3, 2, 3, 1, 2, 2, 1);
    g.oh += 2;
    g.ow--;
    test_im2col_case(&g, 1, "oh 2 more, ow 1 less");
    g = window(2, 7, 7, 3, 3, 2, 2, 1, 1, 1, 1);
    g.oh -= 2;
    g.ow -= 1;
    test_im2col_case(&g, 2, "stride 2, smaller oh and ow");

    /* Bad geometry. */
    dlh_buffer *x = upload(NULL, 4096);
    g = window(3, 7, 6, 3, 2, 2, 2, 1, 1, 2, 2);
    g.oh = 0;
    dlh_error_clear();
    ok(B->im2col(be->ctx, &g, 1, at(x, 0), at(x, 0)) == DLH_EINVAL &&
       strstr(dlh_error_get(), "output size 0x"), "im2col: oh 0 is refused (%s)",
       dlh_error_get());
    g = window(3, 7, 6, 3, 2, 2, 2, 1, 1, 2, 2);
    g.struct_size = 0;
    ok(B->im2col(be->ctx, &g, 1, at(x, 0), at(x, 0)) == DLH_EINVAL &&
       strstr(dlh_error_get(), "struct_size"), "im2col: struct_size 0 is refused");
    g = window(3, 7, 6, 3, 2, 2, 2, 1, 1, 2, 2);
    g.sh = 0;
    ok(B->im2col(be->ctx, &g, 1, at(x, 0), at(x, 0)) == DLH_EINVAL, "im2col: stride 0 is refused");
    g = window(1, 2, 2, 3, 3, 1, 1, 0, 0, 1, 1);
    ok(B->col2im(be->ctx, &g, 1, at(x, 0), at(x, 0)) == DLH_EINVAL &&
       strstr(dlh_error_get(), "output size 0x0"),
       "col2im: a window larger than the input (no output) is refused");
    g = window(8, 20, 21, 3, 3, 1, 1, 1, 1, 1, 1);
    ok(B->im2col(be->ctx, &g, 1, at(x, 0), at(x, 0)) == DLH_EINVAL &&
       strstr(dlh_error_get(), "outside"), "im2col: columns past the buffer end are refused");
    B->free(be->ctx, x);
}

/* ---- pooling ---- */

static void ref_pool(int op, const dlh_window2d *g, int n, const float *x, float *y,
                     int32_t *idx)
{
    for (int p = 0; p < n * g->c; p++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                double s = 0;
                float best = 0;
                int bi = -1, count = 0;
                for (int ky = 0; ky < g->kh; ky++)
                    for (int kx = 0; kx < g->kw; kx++) {
                        int iy = oy * g->sh - g->ph + ky * g->dh;
                        int ix = ox * g->sw - g->pw + kx * g->dw;
                        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                            continue;
                        float v = x[(size_t)p * g->h * g->w + iy * g->w + ix];
                        s += v;
                        count++;
                        if (bi < 0 || v > best) {
                            best = v;
                            bi = iy * g->w + ix;
                        }
                    }
                size_t o = (size_t)p * g->oh * g->ow + oy * g->ow + ox;
                if (op == DLH_POOL_MAX) {
                    y[o] = bi < 0 ? -INFINITY : best;
                    idx[o] = bi;
                } else {
                    y[o] = count ? (float)(s / count) : 0.0f;
                }
            }
}

static void ref_pool_backward(int op, const dlh_window2d *g, int n, const float *dy,
                              const int32_t *idx, double *dx)
{
    for (int p = 0; p < n * g->c; p++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                size_t o = (size_t)p * g->oh * g->ow + oy * g->ow + ox;
                double *plane = dx + (size_t)p * g->h * g->w;
                if (op == DLH_POOL_MAX) {
                    if (idx[o] >= 0)
                        plane[idx[o]] += dy[o];
                    continue;
                }
                int count = 0;
                for (int pass = 0; pass < 2; pass++)
                    for (int ky = 0; ky < g->kh; ky++)
                        for (int kx = 0; kx < g->kw; kx++) {
                            int iy = oy * g->sh - g->ph + ky * g->dh;
                            int ix = ox * g->sw - g->pw + kx * g->dw;
                            if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                                continue;
                            if (pass == 0)
                                count++;
                            else
                                plane[iy * g->w + ix] += (double)dy[o] / count;
                        }
            }
}

static void test_pool_case(int op, const dlh_window2d *g, int n, int ties, const char *what)
{
    size_t nx = img_size(g, n), ny = (size_t)n * g->c * g->oh * g->ow, ox = 2, oy = 3, oi = 1;
    float *x = fvec(ox + nx), *y = fvec(oy + ny), *yr = fvec(ny);
    int32_t *idx = calloc(oi + ny, sizeof *idx), *ir = calloc(ny, sizeof *ir);
    /* All negative: a padding zero that took part would win every border max. */
    for (size_t i = 0; i < ox + nx; i++)
        x[i] = ties ? -0.5f - (float)irand(3) : frand() - 1.5f;
    ref_pool(op, g, n, x + ox, yr, ir);
    dlh_buffer *bx = upload(x, ox + nx), *by = upload(NULL, oy + ny);
    dlh_buffer *bi = upload(NULL, oi + ny);
    int rc = B->pool2d(be->ctx, (dlh_pool_op)op, g, n, at(bx, ox), at(by, oy), at(bi, oi));
    if (rc != 0)
        diag("pool2d: %s", dlh_error_get());
    download(by, y, oy + ny);
    B->read(be->ctx, bi, 0, idx, (oi + ny) * sizeof(int32_t));
    int good = rc == 0;
    for (size_t i = 0; i < ny; i++) {
        if (op == DLH_POOL_MAX)
            good &= y[oy + i] == yr[i] && idx[oi + i] == ir[i];
        else
            good &= fabs(y[oy + i] - yr[i]) <= 1e-5 * (fabs(yr[i]) > 1 ? fabs(yr[i]) : 1);
    }
    ok(good, "pool2d %s %s: n=%d c=%d %dx%d k %dx%d s %dx%d p %dx%d d %dx%d", op ? "avg" :
       "max", what, n, g->c, g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->ph, g->pw, g->dh,
       g->dw);

    /* Backward accumulates into a non-zero dx. */
    float *dy = fvec(ny), *dx0 = fvec(ox + nx), *dx = fvec(nx);
    double *want = calloc(nx, sizeof *want);
    frand_fill(dy, ny);
    frand_fill(dx0, ox + nx);
    for (size_t i = 0; i < nx; i++)
        want[i] = dx0[ox + i];
    ref_pool_backward(op, g, n, dy, ir, want);
    dlh_buffer *bdy = upload(dy, ny), *bdx = upload(dx0, ox + nx);
    rc = B->pool2d_backward(be->ctx, (dlh_pool_op)op, g, n, at(bdy, 0), at(bi, oi),
                            at(bdx, ox));
    B->read(be->ctx, bdx, ox * sizeof(float), dx, nx * sizeof(float));
    good = rc == 0;
    for (size_t i = 0; i < nx; i++)
        good &= fabs(dx[i] - want[i]) <= 1e-5 * (fabs(want[i]) > 1 ? fabs(want[i]) : 1);
    ok(good, "pool2d_backward %s %s accumulates into dx", op ? "avg" : "max", what);
    B->free(be->ctx, bx);
    B->free(be->ctx, by);
    B->free(be->ctx, bi);
    B->free(be->ctx, bdy);
    B->free(be->ctx, bdx);
    free(x);
    free(y);
    free(yr);
    free(idx);
    free(ir);
    free(dy);
    free(dx0);
    free(dx);
    free(want);
}

static void test_pool(void)
{
    for (int op = 0; op < 2; op++) {
        dlh_window2d g = window(2, 5, 7, 3, 3, 2, 2, 1, 1, 1, 1);
        test_pool_case(op, &g, 2, 0, "3x3 s2 p1");
        test_pool_case(op, &g, 2, 1, "3x3 s2 p1 with ties");
        g = window(3, 8, 8, 2, 2, 2, 2, 0, 0, 1, 1);
        test_pool_case(op, &g, 1, 1, "2x2 s2");
        g = window(2, 7, 9, 2, 2, 2, 2, 0, 0, 1, 1);
        test_pool_case(op, &g, 3, 1, "2x2 s2 on odd sizes");
        g = window(16, 28, 28, 2, 2, 2, 2, 0, 0, 1, 1);
        test_pool_case(op, &g, 4, 0, "2x2 s2 large (threaded)");
        g = window(1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1);
        test_pool_case(op, &g, 1, 0, "1x1");
        g = window(2, 9, 7, 3, 2, 1, 3, 1, 1, 2, 1);
        test_pool_case(op, &g, 3, 1, "dilated, overlapping");
        g = window(1, 1, 1, 2, 1, 1, 1, 2, 0, 3, 1);
        test_pool_case(op, &g, 1, 0, "windows of padding alone");
        g = window(16, 24, 24, 3, 3, 1, 1, 1, 1, 1, 1);
        test_pool_case(op, &g, 4, 0, "large (threaded)");
    }
    /* The documented result for a window of padding alone. */
    dlh_window2d g = window(1, 1, 1, 2, 1, 1, 1, 2, 0, 3, 1);
    float x = 5, y[2];
    int32_t idx[2];
    dlh_buffer *bx = upload(&x, 1), *by = upload(NULL, 2), *bi = upload(NULL, 2);
    int rc = B->pool2d(be->ctx, DLH_POOL_MAX, &g, 1, at(bx, 0), at(by, 0), at(bi, 0));
    download(by, y, 2);
    B->read(be->ctx, bi, 0, idx, sizeof idx);
    ok(rc == 0 && g.oh == 2 && isinf(y[0]) && y[0] < 0 && idx[0] == -1 && idx[1] == -1,
       "max over a window of padding alone is -inf with index -1");
    /* The first NaN in window order wins a max, in the 2x2 stride-2 path as in
       the general one (2x2 s2 and 2x2 s1 with dilation 1 both see it). */
    float xn[8] = { 1, NAN, NAN, 7, 3, 2, 9, NAN }, yn[3];
    int32_t in_[3];
    dlh_buffer *bxn = upload(xn, 8), *byn = upload(NULL, 3), *bin = upload(NULL, 3);
    dlh_window2d gn = window(1, 2, 4, 2, 2, 2, 2, 0, 0, 1, 1);
    rc = B->pool2d(be->ctx, DLH_POOL_MAX, &gn, 1, at(bxn, 0), at(byn, 0), at(bin, 0));
    download(byn, yn, 2);
    B->read(be->ctx, bin, 0, in_, 2 * sizeof(int32_t));
    ok(rc == 0 && isnan(yn[0]) && in_[0] == 1 && isnan(yn[1]) && in_[1] == 2,
       "max 2x2 s2: the first NaN in a window wins");
    dlh_mem no_idx = { NULL, 0 };
    yn[0] = yn[1] = 0;
    B->write(be->ctx, byn, 0, yn, 2 * sizeof(float));
    rc = B->pool2d(be->ctx, DLH_POOL_MAX, &gn, 1, at(bxn, 0), at(byn, 0), no_idx);
    download(byn, yn, 2);
    ok(rc == 0 && isnan(yn[0]) && isnan(yn[1]), "max 2x2 s2 without indices: NaN wins");
    float xs[8] = { 1, 4, -2, 7, 3, 2, 9, -8 };
    B->write(be->ctx, bxn, 0, xs, sizeof xs);
    rc = B->pool2d(be->ctx, DLH_POOL_MAX, &gn, 1, at(bxn, 0), at(byn, 0), no_idx);
    download(byn, yn, 2);
    ok(rc == 0 && yn[0] == 4 && yn[1] == 9, "max 2x2 s2 without indices");
    B->write(be->ctx, bxn, 0, xn, sizeof xn);
    gn = window(1, 2, 4, 2, 2, 1, 1, 0, 0, 1, 1);
    rc = B->pool2d(be->ctx, DLH_POOL_MAX, &gn, 1, at(bxn, 0), at(byn, 0), at(bin, 0));
    download(byn, yn, 3);
    B->read(be->ctx, bin, 0, in_, 3 * sizeof(int32_t));
    ok(rc == 0 && isnan(yn[0]) && in_[0] == 1 && isnan(yn[1]) && in_[1] == 1 &&
       isnan(yn[2]) && in_[2] == 2, "max 2x2 s1: the first NaN in a window wins");
    B->free(be->ctx, bxn);
    B->free(be->ctx, byn);
    B->free(be->ctx, bin);
    ok(B->pool2d(be->ctx, 7, &g, 1, at(bx, 0), at(by, 0), at(bi, 0)) == DLH_EINVAL,
       "pool2d: an unknown op is refused");
    ok(B->pool2d(be->ctx, DLH_POOL_MAX, &g, 2, at(bx, 0), at(by, 0), at(bi, 0)) == DLH_EINVAL,
       "pool2d: x past the buffer end is refused");
    B->free(be->ctx, bx);
    B->free(be->ctx, by);
    B->free(be->ctx, bi);
}

/* ---- gather / scatter_add ---- */

static void test_index_case(int n, int cols, int src_rows, const int32_t *given)
{
    int32_t *idx = malloc((size_t)(n ? n : 1) * sizeof *idx);
    for (int i = 0; i < n; i++)
        idx[i] = given ? given[i] : irand(src_rows);
    size_t nsrc = (size_t)src_rows * cols, nd = (size_t)n * cols;
    float *src = fvec(nsrc + 2), *dst = fvec(nd + 1), *acc = fvec(nsrc + 2);
    frand_fill(src, nsrc + 2);
    dlh_buffer *bs = upload(src, nsrc + 2), *bd = upload(NULL, nd + 1);
    dlh_buffer *bi = NULL;
    B->alloc(be->ctx, (size_t)(n + 1) * sizeof(int32_t), &bi);
    B->write(be->ctx, bi, sizeof(int32_t), idx, (size_t)n * sizeof(int32_t));
    int rc = B->gather(be->ctx, n, cols, at(bs, 2), at(bi, 1), at(bd, 1));
    download(bd, dst, nd + 1);
    int good = rc == 0;
    for (int i = 0; i < n; i++)
        good &= memcmp(dst + 1 + (size_t)i * cols, src + 2 + (size_t)idx[i] * cols,
                       (size_t)cols * sizeof(float)) == 0;
    ok(good, "gather n=%d cols=%d from %d rows%s", n, cols, src_rows,
       given ? " (repeated indices)" : "");

    /* scatter_add the gathered rows back, onto the source values. */
    double *want = malloc(nsrc * sizeof *want);
    for (size_t i = 0; i < nsrc; i++)
        want[i] = src[2 + i];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < cols; j++)
            want[(size_t)idx[i] * cols + j] += dst[1 + (size_t)i * cols + j];
    rc = B->scatter_add(be->ctx, n, cols, at(bd, 1), at(bi, 1), at(bs, 2));
    download(bs, acc, nsrc + 2);
    good = rc == 0 && acc[0] == src[0] && acc[1] == src[1];
    for (size_t i = 0; i < nsrc; i++)
        good &= fabs(acc[2 + i] - want[i]) <= 1e-5 * (fabs(want[i]) > 1 ? fabs(want[i]) : 1);
    ok(good, "scatter_add n=%d cols=%d into %d rows%s", n, cols, src_rows,
       given ? " (repeated indices)" : "");
    B->free(be->ctx, bs);
    B->free(be->ctx, bd);
    B->free(be->ctx, bi);
    free(idx);
    free(src);
    free(dst);
    free(acc);
    free(want);
}

static void test_index(void)
{
    static const int32_t rep[] = { 2, 0, 2, 3, 2, 1 };
    test_index_case(6, 5, 4, rep);
    test_index_case(1, 1, 1, NULL);
    test_index_case(7, 1, 3, NULL);
    test_index_case(500, 300, 20, NULL);   /* threaded, many repeats */
    test_index_case(400, 100, 1000, NULL);

    int32_t bad[2] = { 1, -1 };
    dlh_buffer *bi = NULL, *x = upload(NULL, 12);
    B->alloc(be->ctx, sizeof bad, &bi);
    B->write(be->ctx, bi, 0, bad, sizeof bad);
    dlh_error_clear();
    ok(B->gather(be->ctx, 2, 3, at(x, 0), at(bi, 0), at(x, 6)) == DLH_EINVAL &&
       strstr(dlh_error_get(), "negative"), "gather: a negative index is refused (%s)",
       dlh_error_get());
    bad[1] = 4;
    B->write(be->ctx, bi, 0, bad, sizeof bad);
    ok(B->gather(be->ctx, 2, 3, at(x, 0), at(bi, 0), at(x, 6)) == DLH_EINVAL,
       "gather: an index past the source buffer is refused (%s)", dlh_error_get());
    ok(B->scatter_add(be->ctx, 2, 3, at(x, 0), at(bi, 0), at(x, 6)) == DLH_EINVAL,
       "scatter_add: an index past the destination buffer is refused");
    ok(B->gather(be->ctx, 3, 3, at(x, 0), at(bi, 0), at(x, 6)) == DLH_EINVAL,
       "gather: idx past its buffer end is refused");
    B->free(be->ctx, bi);
    B->free(be->ctx, x);
}

/* ---- rand ---- */

static void test_rand_case(size_t n, uint64_t seed, uint64_t stream, uint64_t offset)
{
    float *y = fvec(n + 1);
    dlh_buffer *b = upload(NULL, n + 1);
    static const char *names[] = { "uniform(-1, 2)", "normal(0.5, 2)", "bernoulli(0.25)" };
    for (int d = 0; d < 3; d++) {
        float pa = d == 0 ? -1.0f : d == 1 ? 0.5f : 0.25f, pb = 2.0f;
        int rc = B->rand(be->ctx, (dlh_rand_dist)d, at(b, 1), n, seed, stream, offset, pa, pb);
        download(b, y, n + 1);
        int good = rc == 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t c = offset + i;
            float got = y[1 + i];
            if (d == 0)
                good &= got == dlh_philox_uniform(seed, stream, c, pa, pb);
            else if (d == 2)
                good &= got == dlh_philox_bernoulli(seed, stream, c, pa);
            else {
                float w = dlh_philox_normal(seed, stream, c, pa, pb);
                good &= fabsf(got - w) <= 2e-6f * (fabsf(w) > 1 ? fabsf(w) : 1);
            }
        }
        ok(good, "rand %s n=%zu offset %llu equals philox.h element by element", names[d],
           n, (unsigned long long)offset);
    }
    B->free(be->ctx, b);
    free(y);
}

static void test_rand(void)
{
    test_rand_case(1, 0, 0, 0);
    test_rand_case(1000, 0x0123456789abcdefULL, 0xfedcba9876543210ULL, 0xfffffffdULL);
    test_rand_case(100000, 42, 7, 12345);

    /* A fill of 10 from offset 5 is elements 5..14 of a fill of 20. */
    float whole[20], part[10];
    dlh_buffer *b = upload(NULL, 30);
    B->rand(be->ctx, DLH_RAND_NORMAL, at(b, 0), 20, 9, 3, 0, 0.0f, 1.0f);
    B->rand(be->ctx, DLH_RAND_NORMAL, at(b, 20), 10, 9, 3, 5, 0.0f, 1.0f);
    download(b, whole, 20);
    B->read(be->ctx, b, 20 * sizeof(float), part, sizeof part);
    ok(memcmp(part, whole + 5, sizeof part) == 0, "rand: offset + i addressing is consistent");
    ok(B->rand(be->ctx, DLH_RAND_UNIFORM, at(b, 25), 10, 1, 2, 3, 0, 1) == DLH_EINVAL,
       "rand past the buffer end is refused");
    ok(B->rand(be->ctx, (dlh_rand_dist)9, at(b, 0), 10, 1, 2, 3, 0, 1) == DLH_EINVAL,
       "rand with an unknown distribution is refused");
    B->free(be->ctx, b);
}

/* ---- instances ---- */

static void test_describe(void)
{
    char buf[256];
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = online < 1 ? 1 : online > 1024 ? 1024 : (int)online;
    char want[32];
    snprintf(want, sizeof want, ", %d thread", threads);
    ok(B->describe(be->ctx, buf, sizeof buf) == 0 && strncmp(buf, "OpenBLAS ", 9) == 0 &&
       strstr(buf, want) != NULL, "describe: \"%s\" (default: %d threads)", buf, threads);
    ok(strcmp(be->name, "cpu") == 0, "the backend is named cpu");

    dlh_config *cfg = NULL;
    int rc = dlh_config_load_string("backend = { type = \"cpu\"; threads = 3; };\n"
                                    "bad = { type = \"cpu\"; threads = 0; };\n",
                                    "test.cfg", &cfg);
    if (rc != 0) {
        skip("threads parameter: the config parser failed");
        diag("%s", dlh_error_get());
        return;
    }
    static const char *const reserved[] = { "type", NULL };
    config_setting_t *root = dlh_config_root(cfg);
    dlh_params *p = dlh_params_new(cfg, config_setting_lookup(root, "backend"),
                                   "backend 'cpu'", reserved);
    dlh_backend *be3 = NULL;
    rc = dlh_backend_open("cpu", p, &be3);
    ok(rc == 0 && dlh_params_check_unused(p) == 0, "cpu backend with threads = 3 (%s)",
       rc ? dlh_error_get() : "ok");
    if (rc == 0) {
        be3->ops->describe(be3->ctx, buf, sizeof buf);
        ok(strstr(buf, ", 3 threads") != NULL, "describe: \"%s\"", buf);
    }
    dlh_backend_close(be3);
    dlh_params_free(p);

    p = dlh_params_new(cfg, config_setting_lookup(root, "bad"), "backend 'cpu'", reserved);
    be3 = NULL;
    rc = dlh_backend_open("cpu", p, &be3);
    ok(rc == DLH_ECONFIG && strstr(dlh_error_get(), "threads"),
       "threads = 0 is refused: %s", dlh_error_get());
    dlh_backend_close(be3);
    dlh_params_free(p);
    dlh_config_free(cfg);
}

/* Copies large enough to be split between the threads, at odd sizes and
   offsets, and the host address of a buffer (ABI 1.2 host_ptr). */
static void test_large_copies(void)
{
    const size_t n = (1u << 20) + 3;     /* bytes: over the split size, odd */
    unsigned char *src = malloc(n), *back = malloc(n);
    dlh_buffer *a = NULL, *c = NULL;
    if (!src || !back || B->alloc(be->ctx, n + 8, &a) != 0 ||
        B->alloc(be->ctx, n + 8, &c) != 0) {
        ok(0, "buffers for large copies");
        free(src);
        free(back);
        return;
    }
    for (size_t i = 0; i < n; i++)
        src[i] = (unsigned char)(i * 131 + (i >> 9));
    int rc = B->write(be->ctx, a, 5, src, n);
    rc |= B->read(be->ctx, a, 5, back, n);
    ok(rc == 0 && memcmp(src, back, n) == 0,
       "a write and read of 1 MiB + 3 bytes at offset 5 give the bytes back");
    memset(back, 0, n);
    rc = B->copy(be->ctx, c, 3, a, 5, n);
    rc |= B->read(be->ctx, c, 3, back, n);
    ok(rc == 0 && memcmp(src, back, n) == 0,
       "a copy of 1 MiB + 3 bytes between two buffers at offsets 5 and 3");

    ok(B->host_ptr != NULL, "the cpu backend offers host_ptr");
    unsigned char *h = B->host_ptr ? B->host_ptr(be->ctx, a) : NULL;
    ok(h && memcmp(h + 5, src, n) == 0, "host_ptr addresses what write wrote");
    if (h) {
        h[5] ^= 0xff;
        rc = B->read(be->ctx, a, 5, back, 1);
        ok(rc == 0 && back[0] == (unsigned char)(src[0] ^ 0xff),
           "and read sees what the host wrote there");
    }
    ok(B->host_ptr && B->host_ptr(be->ctx, NULL) == NULL, "host_ptr of NULL is NULL");
    B->free(be->ctx, a);
    B->free(be->ctx, c);
    free(src);
    free(back);
}

/* gemm gives the same bits for any thread count (backend.threads 1, 2, 3,
   adapt off): the MLP's shapes, cut by rows and by columns, and a batch of
   two large problems each cut into pieces (cpu_gemm.c). */
static void test_gemm_thread_bits(void)
{
    static const int shapes[][6] = {   /* m, n, k, trans_a, trans_b, batch */
        { 128, 512, 784, 0, 1, 1 }, { 512, 784, 128, 1, 0, 1 }, { 128, 784, 512, 0, 0, 1 },
        { 301, 97, 131, 1, 1, 1 }, { 67, 333, 129, 0, 0, 1 }, { 130, 140, 120, 0, 0, 2 },
    };
    dlh_config *cfg = NULL;
    if (dlh_config_load_string("t1 = { type = \"cpu\"; threads = 1; adapt = false; };\n"
                               "t2 = { type = \"cpu\"; threads = 2; adapt = false; };\n"
                               "t3 = { type = \"cpu\"; threads = 3; adapt = false; };\n",
                               "bits.cfg", &cfg) != 0) {
        skip("gemm thread bits: the config parser failed");
        return;
    }
    static const char *const reserved[] = { "type", NULL };
    static const char *const names[] = { "t1", "t2", "t3" };
    dlh_backend *bk[3] = { NULL, NULL, NULL };
    dlh_params *p[3] = { NULL, NULL, NULL };
    int opened = 1;
    for (int t = 0; t < 3; t++) {
        p[t] = dlh_params_new(cfg, config_setting_lookup(dlh_config_root(cfg), names[t]),
                              "backend 'cpu'", reserved);
        opened = opened && dlh_backend_open("cpu", p[t], &bk[t]) == 0;
    }
    ok(opened, "cpu backends with threads 1, 2, 3 and adapt = false (%s)",
       opened ? "ok" : dlh_error_get());
    for (size_t s = 0; opened && s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], ta = shapes[s][3];
        int tb = shapes[s][4], batch = shapes[s][5];
        size_t na = (size_t)m * k, nb = (size_t)k * n, nc = (size_t)m * n;
        float *a = fvec(na * batch), *b = fvec(nb * batch), *c0 = fvec(nc * batch);
        float *want = fvec(nc * batch), *got = fvec(nc * batch);
        frand_fill(a, na * batch);
        frand_fill(b, nb * batch);
        frand_fill(c0, nc * batch);
        dlh_buffer *da = upload(a, na * batch), *db = upload(b, nb * batch);
        dlh_buffer *dc = upload(NULL, nc * batch);
        int same = 1;
        for (int t = 0; t < 3; t++) {
            const dlh_backend_ops *o = bk[t]->ops;
            int rc = o->write(bk[t]->ctx, dc, 0, c0, nc * batch * sizeof(float));
            if (rc == 0 && batch == 1)
                rc = o->gemm(bk[t]->ctx, ta, tb, m, n, k, 1.0f, at(da, 0), ta ? m : k,
                             at(db, 0), tb ? k : n, 0.5f, at(dc, 0), n);
            else if (rc == 0)
                rc = o->gemm_batched(bk[t]->ctx, ta, tb, m, n, k, 1.0f, at(da, 0), ta ? m : k,
                                     (int64_t)na, at(db, 0), tb ? k : n, (int64_t)nb, 0.5f,
                                     at(dc, 0), n, (int64_t)nc, batch);
            download(dc, t == 0 ? want : got, nc * batch);
            same = same && rc == 0 &&
                   (t == 0 || memcmp(want, got, nc * batch * sizeof(float)) == 0);
        }
        ok(same, "gemm %dx%dx%d (trans %d%d, batch %d): the same bits with threads 1, 2 and 3",
           m, n, k, ta, tb, batch);
        B->free(be->ctx, da);
        B->free(be->ctx, db);
        B->free(be->ctx, dc);
        free(a);
        free(b);
        free(c0);
        free(want);
        free(got);
    }
    for (int t = 0; t < 3; t++) {
        dlh_backend_close(bk[t]);
        dlh_params_free(p[t]);
    }
    dlh_config_free(cfg);
}

int main(void)
{
    if (dlh_registry_load_all(0) != 0 || dlh_backend_open("cpu", NULL, &be) != 0) {
        printf("Bail out! cannot open the cpu backend: %s\n", dlh_error_get());
        return 1;
    }
    B = be->ops;
    test_describe();
    test_memory();
    test_large_copies();
    test_gemm();
    test_gemm_thread_bits();
    test_reduce();
    test_softmax();
    test_image();
    test_pool();
    test_index();
    test_rand();
    dlh_backend_close(be);
    dlh_registry_clear();
    return done_testing();
}
