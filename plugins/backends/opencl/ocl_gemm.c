/* gemm and strided-batched gemm (row-major) through CLBlast, or on CPU
 * devices through the tiled kernels of ocl_tiled.c (parameter gemm), with
 * the shared checks (common/backend_checks.c) and the cpu backend's edge
 * cases:
 * k = 0 scales C by beta (beta = 0 writes zeros), and batches whose C
 * matrices overlap (stride_c = 0 sums into one matrix) run one after
 * another, in batch order, as on the cpu. */
#include <stdio.h>

#include "opencl.h"

#include <clblast_c.h>

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
    return ocl_launch(c, GPU_K_SCALE, "gemm", (size_t)m * (size_t)n, args, 6);
}

static CLBlastTranspose tr(int t)
{
    return t ? CLBlastTransposeYes : CLBlastTransposeNo;
}

/* Whether the tiled kernels take this problem (ocl_tiled.c). */
static int tiled_takes(const ocl_ctx *c, int trans_a, int trans_b, float alpha)
{
    return c->tiled_gemm && !(trans_a && trans_b) && alpha != 0.0f;
}

static int gemm_one(ocl_ctx *c, int trans_a, int trans_b, int m, int n, int k, float alpha,
                    dlh_mem a, size_t ao, int lda, dlh_mem b, size_t bo, int ldb,
                    float beta, dlh_mem cm, size_t co, int ldc)
{
    if (k == 0)
        return gemm_scale(c, m, n, beta, cm, co, ldc);
    if (tiled_takes(c, trans_a, trans_b, alpha)) {
        const ocl_gemm_args g = { .ta = trans_a, .tb = trans_b, .m = m, .n = n, .k = k,
                                  .lda = lda, .ldb = ldb, .ldc = ldc, .batch = 1,
                                  .alpha = alpha, .beta = beta, .a = a.buf, .b = b.buf,
                                  .c = cm.buf, .ao = ao, .bo = bo, .co = co };
        return ocl_tiled_gemm(c, &g);
    }
    CLBlastStatusCode s = CLBlastSgemm(CLBlastLayoutRowMajor, tr(trans_a), tr(trans_b),
                                       (size_t)m, (size_t)n, (size_t)k, alpha, a.buf->mem,
                                       ao, (size_t)lda, b.buf->mem, bo, (size_t)ldb, beta,
                                       cm.buf->mem, co, (size_t)ldc, &c->queue, NULL);
    return s == CLBlastSuccess ? 0 : clblast_fail("CLBlastSgemm", s, m, n, k, 1);
}

int ocl_gemm(void *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
             dlh_mem a, int lda, dlh_mem b, int ldb, float beta, dlh_mem c, int ldc)
{
    int rc = bchk_gemm(&ocl_checks, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
    if (rc != 0 || m == 0 || n == 0)
        return rc;
    return gemm_one(ctx, trans_a, trans_b, m, n, k, alpha, a, a.off, lda, b, b.off, ldb,
                    beta, c, c.off, ldc);
}

int ocl_gemm_batched(void *ctx, int trans_a, int trans_b, int m, int n, int k,
                     float alpha, dlh_mem a, int lda, int64_t stride_a, dlh_mem b,
                     int ldb, int64_t stride_b, float beta, dlh_mem c, int ldc,
                     int64_t stride_c, int batch)
{
    ocl_ctx *cx = ctx;
    size_t ec;
    int rc = bchk_gemm_batched(&ocl_checks, trans_a, trans_b, m, n, k, a, lda, stride_a,
                               b, ldb, stride_b, c, ldc, stride_c, batch, &ec);
    if (rc != 0 || m == 0 || n == 0 || batch == 0)
        return rc;
    if (k > 0 && batch > 1 && bchk_gemm_c_disjoint(m, n, ldc, stride_c, batch, ec)) {
        if (tiled_takes(cx, trans_a, trans_b, alpha)) {
            const ocl_gemm_args g = {
                .ta = trans_a, .tb = trans_b, .m = m, .n = n, .k = k, .lda = lda,
                .ldb = ldb, .ldc = ldc, .batch = batch, .alpha = alpha, .beta = beta,
                .a = a.buf, .b = b.buf, .c = c.buf, .ao = a.off, .bo = b.off, .co = c.off,
                .sa = stride_a, .sb = stride_b, .sc = stride_c
            };
            return ocl_tiled_gemm(cx, &g);
        }
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
