/* gemm and strided-batched gemm through CLBlast (row-major), with the cpu
 * backend's checks and edge cases: k = 0 scales C by beta (beta = 0 writes
 * zeros), and batches whose C matrices overlap (stride_c = 0 sums into one
 * matrix) run one after another, in batch order, as on the cpu. */
#include <stdio.h>

#include "opencl.h"

#include <clblast_c.h>

/* Checks sizes and leading dimensions of one problem; *ea, *eb, *ec get the
   elements each matrix spans. */
static int gemm_check(const char *prim, int trans_a, int trans_b, int m, int n, int k,
                      int lda, int ldb, int ldc, size_t *ea, size_t *eb, size_t *ec)
{
    if (m < 0 || n < 0 || k < 0) {
        ocl_host->error("opencl %s: sizes must be >= 0 (m=%d, n=%d, k=%d)", prim, m, n, k);
        return DLH_EINVAL;
    }
    /* As stored: A is m x k (k x m transposed), B is k x n (n x k). */
    int ar = trans_a ? k : m, ac = trans_a ? m : k;
    int br = trans_b ? n : k, bc = trans_b ? k : n;
    if (lda < (ac > 1 ? ac : 1)) {
        ocl_host->error("opencl %s: lda=%d is less than the %d columns of A as stored "
                        "(%s)", prim, lda, ac, trans_a ? "transposed" : "not transposed");
        return DLH_EINVAL;
    }
    if (ldb < (bc > 1 ? bc : 1)) {
        ocl_host->error("opencl %s: ldb=%d is less than the %d columns of B as stored "
                        "(%s)", prim, ldb, bc, trans_b ? "transposed" : "not transposed");
        return DLH_EINVAL;
    }
    if (ldc < (n > 1 ? n : 1)) {
        ocl_host->error("opencl %s: ldc=%d is less than the %d columns of C", prim, ldc, n);
        return DLH_EINVAL;
    }
    *ea = ar && ac ? (size_t)(ar - 1) * (size_t)lda + (size_t)ac : 0;
    *eb = br && bc ? (size_t)(br - 1) * (size_t)ldb + (size_t)bc : 0;
    *ec = m && n ? (size_t)(m - 1) * (size_t)ldc + (size_t)n : 0;
    return 0;
}

static int clblast_fail(const char *call, int status, int m, int n, int k, int batch)
{
    const char *name = ocl_clblast_name(status);
    char code[48];
    if (name == NULL) {
        snprintf(code, sizeof code, "CLBlast status %d", status);
        name = code;
    }
    ocl_host->error("opencl: %s: %s (m=%d, n=%d, k=%d, batch %d)", call, name, m, n, k,
                    batch);
    return status == CLBlastTempBufferAllocFailure || status == CLBlastOpenCLOutOfResources ||
                   status == CLBlastOpenCLOutOfHostMemory
               ? DLH_ENOMEM : DLH_EDEVICE;
}

/* C = beta C (k == 0) */
static int gemm_scale(ocl_ctx *c, int m, int n, float beta, dlh_mem cm, size_t off,
                      int ldc)
{
    cl_ulong co = off;
    cl_int mm = m, nn = n, ld = ldc;
    const ocl_arg args[] = { OCL_ARG(cm.buf->mem), OCL_ARG(co), OCL_ARG(mm), OCL_ARG(nn),
                             OCL_ARG(ld), OCL_ARG(beta) };
    return ocl_launch(c, OCL_K_SCALE, "gemm", (size_t)m * (size_t)n, args, 6);
}

static CLBlastTranspose tr(int t)
{
    return t ? CLBlastTransposeYes : CLBlastTransposeNo;
}

static int gemm_one(ocl_ctx *c, int trans_a, int trans_b, int m, int n, int k, float alpha,
                    dlh_mem a, size_t ao, int lda, dlh_mem b, size_t bo, int ldb,
                    float beta, dlh_mem cm, size_t co, int ldc)
{
    if (k == 0)
        return gemm_scale(c, m, n, beta, cm, co, ldc);
    CLBlastStatusCode s = CLBlastSgemm(CLBlastLayoutRowMajor, tr(trans_a), tr(trans_b),
                                       (size_t)m, (size_t)n, (size_t)k, alpha, a.buf->mem,
                                       ao, (size_t)lda, b.buf->mem, bo, (size_t)ldb, beta,
                                       cm.buf->mem, co, (size_t)ldc, &c->queue, NULL);
    return s == CLBlastSuccess ? 0 : clblast_fail("CLBlastSgemm", s, m, n, k, 1);
}

int ocl_gemm(void *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
             dlh_mem a, int lda, dlh_mem b, int ldb, float beta, dlh_mem c, int ldc)
{
    size_t ea, eb, ec;
    int rc = gemm_check("gemm", trans_a, trans_b, m, n, k, lda, ldb, ldc, &ea, &eb, &ec);
    if (rc == 0)
        rc = ocl_check_mem("gemm", "C", c, ec, sizeof(float));
    if (rc == 0 && k > 0)
        rc = ocl_check_mem("gemm", "A", a, ea, sizeof(float));
    if (rc == 0 && k > 0)
        rc = ocl_check_mem("gemm", "B", b, eb, sizeof(float));
    if (rc != 0 || m == 0 || n == 0)
        return rc;
    return gemm_one(ctx, trans_a, trans_b, m, n, k, alpha, a, a.off, lda, b, b.off, ldb,
                    beta, c, c.off, ldc);
}

/* Elements spanned by `batch` matrices of `each` elements, `stride` apart;
   0 on overflow (with *ok cleared). */
static size_t batch_span(size_t each, int64_t stride, int batch, int *ok)
{
    if (each == 0 || batch == 0)
        return 0;
    size_t s = (size_t)stride, last = (size_t)(batch - 1);
    if (last != 0 && s > (SIZE_MAX - each) / last) {
        *ok = 0;
        return 0;
    }
    return last * s + each;
}

/* Whether the batch's C matrices are disjoint, so that they may be computed
   at the same time: one after another in memory, or side by side within
   the rows (ldc >= batch * n, stride_c >= n). */
static int c_disjoint(int m, int n, int ldc, int64_t stride_c, int batch, size_t ec)
{
    if (batch <= 1 || (size_t)stride_c >= ec)
        return 1;
    return m >= 1 && stride_c >= n &&
           (uint64_t)(batch - 1) * (uint64_t)stride_c + (uint64_t)n <= (uint64_t)ldc;
}

int ocl_gemm_batched(void *ctx, int trans_a, int trans_b, int m, int n, int k,
                     float alpha, dlh_mem a, int lda, int64_t stride_a, dlh_mem b,
                     int ldb, int64_t stride_b, float beta, dlh_mem c, int ldc,
                     int64_t stride_c, int batch)
{
    ocl_ctx *cx = ctx;
    size_t ea, eb, ec;
    int rc = gemm_check("gemm_batched", trans_a, trans_b, m, n, k, lda, ldb, ldc,
                        &ea, &eb, &ec);
    if (rc != 0)
        return rc;
    if (batch < 0 || stride_a < 0 || stride_b < 0 || stride_c < 0) {
        ocl_host->error("opencl gemm_batched: batch and strides must be >= 0 (batch=%d, "
                        "stride_a=%lld, stride_b=%lld, stride_c=%lld)", batch,
                        (long long)stride_a, (long long)stride_b, (long long)stride_c);
        return DLH_EINVAL;
    }
    int fits = 1;
    size_t sa = batch_span(ea, stride_a, batch, &fits);
    size_t sb = batch_span(eb, stride_b, batch, &fits);
    size_t sc = batch_span(ec, stride_c, batch, &fits);
    if (!fits) {
        ocl_host->error("opencl gemm_batched: %d matrices at these strides overflow the "
                        "address space", batch);
        return DLH_EINVAL;
    }
    rc = ocl_check_mem("gemm_batched", "C", c, sc, sizeof(float));
    if (rc == 0 && k > 0)
        rc = ocl_check_mem("gemm_batched", "A", a, sa, sizeof(float));
    if (rc == 0 && k > 0)
        rc = ocl_check_mem("gemm_batched", "B", b, sb, sizeof(float));
    if (rc != 0 || m == 0 || n == 0 || batch == 0)
        return rc;
    if (k > 0 && batch > 1 && c_disjoint(m, n, ldc, stride_c, batch, ec)) {
        CLBlastStatusCode s = CLBlastSgemmStridedBatched(
            CLBlastLayoutRowMajor, tr(trans_a), tr(trans_b), (size_t)m, (size_t)n,
            (size_t)k, alpha, a.buf->mem, a.off, (size_t)lda, (size_t)stride_a, b.buf->mem,
            b.off, (size_t)ldb, (size_t)stride_b, beta, c.buf->mem, c.off, (size_t)ldc,
            (size_t)stride_c, (size_t)batch, &cx->queue, NULL);
        return s == CLBlastSuccess ? 0 : clblast_fail("CLBlastSgemmStridedBatched", s, m, n,
                                                      k, batch);
    }
    /* In order on the in-order queue: a shared C sees the problems in batch
       order, deterministically. */
    for (int i = 0; i < batch && rc == 0; i++)
        rc = gemm_one(cx, trans_a, trans_b, m, n, k, alpha, a,
                      a.off + (size_t)i * (size_t)stride_a, lda, b,
                      b.off + (size_t)i * (size_t)stride_b, ldb, beta, c,
                      c.off + (size_t)i * (size_t)stride_c, ldc);
    return rc;
}
