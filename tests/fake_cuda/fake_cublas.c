/* A fake cuBLAS for the tests (loaded through $DLHOST_CUBLAS; part of the
 * fake driver's library, fake_cuda.c): handles, and
 * single-precision gemm computed on the host in cuBLAS's column-major
 * convention (the fake driver's device pointers are host pointers).  So
 * the cuda backend's mapping of row-major gemm onto column-major cuBLAS
 * (operands swapped, no copies) is checked numerically here.
 * $FAKE_CUBLAS_WRONG (set, non-empty) makes cublasSgemm's results 1e-3 off,
 * for a test of a program that checks them (bench/cublas_floor.c).  A call first
 * does the stream's queued copies: it runs after them, as on a stream. */
/* The exported entry points are the driver's and cuBLAS's ABI, declared by
   the libraries that call them. */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#include <stdlib.h>

#include "fake_cuda.h"

static float skew(void)
{
    const char *e = getenv("FAKE_CUBLAS_WRONG");
    return e && *e ? 1.001f : 1.0f;
}

static fake_cublas_counters st;

const fake_cublas_counters *fake_cublas_stats(void)
{
    return &st;
}

int cublasCreate_v2(void **h)
{
    *h = malloc(8);
    st.handles++;
    return *h ? 0 : 3;
}

int cublasDestroy_v2(void *h)
{
    free(h);
    st.handles--;
    return 0;
}

int cublasSetStream_v2(void *h, void *s)
{
    return h && s ? 0 : 7;
}

int cublasGetVersion_v2(void *h, int *v)
{
    (void)h;
    *v = 130100;
    return 0;
}

/* column-major: element (i, j) of X with leading dimension ld is X[i + j ld] */
static void gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc)
{
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int p = 0; p < k; p++) {
                float x = ta ? a[p + (size_t)i * lda] : a[i + (size_t)p * lda];
                float y = tb ? b[j + (size_t)p * ldb] : b[p + (size_t)j * ldb];
                s += (double)x * y;
            }
            float *o = &c[i + (size_t)j * ldc];
            *o = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * *o));
        }
}

static int bad(int ta, int tb, int m, int n, int k, int lda, int ldb, int ldc)
{
    return ta < 0 || ta > 1 || tb < 0 || tb > 1 || m < 0 || n < 0 || k < 0 ||
           lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m || lda < 1 || ldb < 1;
}

int cublasSgemm_v2(void *h, int ta, int tb, int m, int n, int k, const float *alpha,
                   const float *a, int lda, const float *b, int ldb, const float *beta,
                   float *c, int ldc)
{
    if (h == NULL || bad(ta, tb, m, n, k, lda, ldb, ldc))
        return 7;
    fake_cuda_flush();
    st.sgemm++;
    st.last_ta = ta, st.last_tb = tb, st.last_m = m, st.last_n = n, st.last_k = k;
    gemm(ta, tb, m, n, k, *alpha * skew(), a, lda, b, ldb, *beta, c, ldc);
    return 0;
}

int cublasSgemmStridedBatched(void *h, int ta, int tb, int m, int n, int k,
                              const float *alpha, const float *a, int lda, long long sa,
                              const float *b, int ldb, long long sb, const float *beta,
                              float *c, int ldc, long long sc, int batch)
{
    if (h == NULL || bad(ta, tb, m, n, k, lda, ldb, ldc) || batch < 0)
        return 7;
    fake_cuda_flush();
    st.sgemm_batched++;
    st.last_ta = ta, st.last_tb = tb, st.last_m = m, st.last_n = n, st.last_k = k;
    for (int i = 0; i < batch; i++)
        gemm(ta, tb, m, n, k, *alpha, a + i * sa, lda, b + i * sb, ldb, *beta, c + i * sc, ldc);
    return 0;
}
