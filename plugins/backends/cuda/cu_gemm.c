/* gemm and strided-batched gemm through cuBLAS (cu_blas.c maps row-major
 * to column-major by swapping the operands), with the shared checks
 * (common/backend_checks.c) and the edge cases of the other backends:
 * k = 0 scales C by beta (beta = 0 writes zeros) with the fixed kernel
 * dlh_scale, and batches whose C matrices overlap (stride_c = 0 sums into
 * one matrix) run one after another, in batch order, as on the cpu. */
#include "cuda_backend.h"

/* C = beta C (k == 0) */
static int gemm_scale(cu_ctx *c, int m, int n, float beta, dlh_mem cm, size_t off, int ldc)
{
    unsigned long long co = off;
    int mm = m, nn = n, ld = ldc;
    void *p[] = { &cm.buf->ptr, &co, &mm, &nn, &ld, &beta };
    return cu_launch(c, GPU_K_SCALE, "gemm", (size_t)m * (size_t)n, p);
}

static int gemm_one(cu_ctx *c, int trans_a, int trans_b, int m, int n, int k, float alpha,
                    dlh_mem a, size_t ao, int lda, dlh_mem b, size_t bo, int ldb, float beta,
                    dlh_mem cm, size_t co, int ldc)
{
    if (k == 0)
        return gemm_scale(c, m, n, beta, cm, co, ldc);
    return cu_blas_sgemm(c, trans_a, trans_b, m, n, k, alpha, a.buf->ptr + ao * sizeof(float),
                         lda, 0, b.buf->ptr + bo * sizeof(float), ldb, 0, beta,
                         cm.buf->ptr + co * sizeof(float), ldc, 0, 1);
}

int cu_gemm(void *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
            dlh_mem a, int lda, dlh_mem b, int ldb, float beta, dlh_mem c, int ldc)
{
    int rc = bchk_gemm(&cu_checks, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
    if (rc != 0 || m == 0 || n == 0)
        return rc;
    return gemm_one(ctx, trans_a, trans_b, m, n, k, alpha, a, a.off, lda, b, b.off, ldb, beta,
                    c, c.off, ldc);
}

int cu_gemm_batched(void *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
                    dlh_mem a, int lda, int64_t stride_a, dlh_mem b, int ldb,
                    int64_t stride_b, float beta, dlh_mem c, int ldc, int64_t stride_c,
                    int batch)
{
    cu_ctx *cx = ctx;
    size_t ec;
    int rc = bchk_gemm_batched(&cu_checks, trans_a, trans_b, m, n, k, a, lda, stride_a, b,
                               ldb, stride_b, c, ldc, stride_c, batch, &ec);
    if (rc != 0 || m == 0 || n == 0 || batch == 0)
        return rc;
    if (k > 0 && batch > 1 && bchk_gemm_c_disjoint(m, n, ldc, stride_c, batch, ec))
        return cu_blas_sgemm(cx, trans_a, trans_b, m, n, k, alpha,
                             a.buf->ptr + a.off * sizeof(float), lda, stride_a,
                             b.buf->ptr + b.off * sizeof(float), ldb, stride_b, beta,
                             c.buf->ptr + c.off * sizeof(float), ldc, stride_c, batch);
    /* In order on the one stream: a shared C sees the problems in batch
       order, deterministically. */
    for (int i = 0; i < batch && rc == 0; i++)
        rc = gemm_one(cx, trans_a, trans_b, m, n, k, alpha, a,
                      a.off + (size_t)i * (size_t)stride_a, lda, b,
                      b.off + (size_t)i * (size_t)stride_b, ldb, beta, c,
                      c.off + (size_t)i * (size_t)stride_c, ldc);
    return rc;
}
