/* gemm and strided-batched gemm through OpenBLAS's row-major cblas_sgemm. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#else
static inline int omp_get_num_threads(void) { return 1; }
static inline int omp_get_thread_num(void) { return 0; }
#endif

#include "cpu.h"
#include "cpu_gemm_cut.h"

/* The cpu backend has one thread pool, OpenMP's.  OpenBLAS runs single-
   threaded (cpu.c sets it once); a large gemm is cut into one block of C per
   CPU, each an sgemm of its own that some OpenMP thread runs, and a batch of
   small problems runs side by side.  OpenBLAS's own pthread pool stays asleep: its workers spin on
   sched_yield for a while after every threaded call and took a core from the
   OpenMP team between gemms (a quarter of a CNN run's samples).  The cut
   itself is in cpu_gemm_cut.h, shared with bench/sgemm_floor.c. */

/* C = beta C, for k == 0 where sgemm's handling varies between BLAS builds.
   beta == 0 overwrites (NaN in C does not survive), as BLAS specifies. */
static void gemm_scale(int m, int n, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++) {
        float *row = c + (size_t)i * (size_t)ldc;
        if (beta == 0.0f) {
            for (int j = 0; j < n; j++)
                row[j] = 0.0f;
        } else {
            for (int j = 0; j < n; j++)
                row[j] *= beta;
        }
    }
}

/* OpenBLAS's thread count is process-wide: keep it at one in case something
   else in the process changed it. */
static void gemm_single_threaded(void)
{
    if (openblas_get_num_threads() != 1)
        openblas_set_num_threads(1);
}

static void gemm_one(int trans_a, int trans_b, int m, int n, int k, float alpha,
                     const float *a, int lda, const float *b, int ldb, float beta,
                     float *c, int ldc)
{
    if (k == 0) {
        gemm_scale(m, n, beta, c, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb,
                beta, c, ldc);
}

/* The pieces a problem of m*n*k multiply-adds is cut into: the machine's
   CPU count (cx->panels), fewer where a piece would fall under half of
   GEMM_SPLIT_MNK, one below GEMM_SPLIT_MNK.  The shape and the machine
   alone decide, never the thread count: OpenBLAS's sgemm gives other bits
   for an element of C when C is cut differently (its edge kernels and
   small-matrix path sum in another order; on the MLP's shapes, 128x512x784
   cut in two differs from the whole in 1814 of 65536 elements), so cutting
   by the thread count made threads = 1 and 2 train different weights. */
int cpu_gemm_pieces(const cpu_ctx *cx, int m, int n, int k)
{
    return gemm_cut_pieces(cx->panels, m, n, k);
}

/* A dense layer's bias and activation around a gemm (gemm_bias_act): C's
   rows set to the bias before the product (which then runs with beta 1),
   relu (x > 0 ? x : +0, the relu layer's bits) after it; both on the piece
   that computes those elements, while they are in its core's cache. */
typedef struct gemm_ep {
    const float *bias;          /* [n], or NULL */
    int relu;
} gemm_ep;

/* The rows r0..r1 and columns c0..c1 of C: the bias (before) or relu. */
static void gemm_ep_block(const gemm_ep *ep, int before, int r0, int r1, int c0, int c1,
                          float *c, int ldc)
{
    for (int i = r0; i < r1; i++) {
        float *row = c + (size_t)i * (size_t)ldc;
        if (before)
            for (int j = c0; j < c1; j++)
                row[j] = ep->bias[j];
        else
            for (int j = c0; j < c1; j++)
                row[j] = row[j] > 0.0f ? row[j] : 0.0f;
    }
}

/* Piece t of a cut problem: one sequential sgemm over rows t * chunk.. of C
   (by_rows) or its columns, inside ep's bias and relu when ep is not NULL. */
static void gemm_piece(const gemm_cut *cut, int t, int trans_a, int trans_b, int m, int n,
                       int k, float alpha, const float *a, int lda, const float *b, int ldb,
                       float beta, float *c, int ldc, const gemm_ep *ep)
{
    int lo = t * cut->chunk, hi = lo + cut->chunk < cut->len ? lo + cut->chunk : cut->len;
    if (lo >= hi)
        return;
    int r0 = cut->by_rows ? lo : 0, r1 = cut->by_rows ? hi : m;
    int c0 = cut->by_rows ? 0 : lo, c1 = cut->by_rows ? n : hi;
    if (ep != NULL && ep->bias != NULL)
        gemm_ep_block(ep, 1, r0, r1, c0, c1, c, ldc);
    if (cut->by_rows)   /* rows lo..hi of op(A) and of C */
        gemm_one(trans_a, trans_b, hi - lo, n, k, alpha,
                 a + (trans_a ? (size_t)lo : (size_t)lo * (size_t)lda), lda, b, ldb, beta,
                 c + (size_t)lo * (size_t)ldc, ldc);
    else                /* columns lo..hi of op(B) and of C */
        gemm_one(trans_a, trans_b, m, hi - lo, k, alpha, a, lda,
                 b + (trans_b ? (size_t)lo * (size_t)ldb : (size_t)lo), ldb, beta, c + lo,
                 ldc);
    if (ep != NULL && ep->relu)
        gemm_ep_block(ep, 0, r0, r1, c0, c1, c, ldc);
}

/* One problem cut into gemm_pieces() pieces, which the threads share: by
   rows of C when C or A is the largest operand, else by columns, so that the
   largest one is cut into pieces rather than read whole by every piece.
   On the MLP's shapes (OpenBLAS Cooperlake kernels, 2 pieces) this picked
   the faster cut every time: rows for dW = dy^T x (258 against 215
   GFLOP/s for 512x784x128), columns for y = x W^T and dx = dy W.  A piece
   is one sequential sgemm, whichever thread runs it; a thread runs its own
   piece first (gemm_cut_walk), then any piece left unclaimed, so with
   fewer threads than pieces (cpu_adapt.c) a thread runs several. */
static void gemm_split(const cpu_ctx *cx, int trans_a, int trans_b, int m, int n, int k,
                       float alpha, const float *a, int lda, const float *b, int ldb,
                       float beta, float *c, int ldc, const gemm_ep *ep)
{
    int parts = cpu_gemm_pieces(cx, m, n, k);
    gemm_cut cut = gemm_cut_make(m, n, k, parts);
    if (parts < 2) {
        if (ep == NULL) {
            gemm_one(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        gemm_cut whole = { 1, m, m };
        gemm_piece(&whole, 0, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                   ep);
        return;
    }
    int threads = cx->threads < parts ? cx->threads : parts;
    unsigned char claimed[CPU_MAX_PANELS] = { 0 };
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        gemm_cut_walk w = gemm_cut_walk_begin(claimed, parts);
        for (int t; (t = gemm_cut_walk_next(&w)) >= 0;)
            gemm_piece(&cut, t, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                       ldc, ep);
    }
}

int cpu_gemm(void *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
             dlh_mem a, int lda, dlh_mem b, int ldb, float beta, dlh_mem c, int ldc)
{
    int rc = bchk_gemm(&cpu_checks, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
    if (rc != 0 || m == 0 || n == 0)
        return rc;
    cpu_ctx *cx = ctx;
    cpu_adapt(cx);
#ifdef HAVE_DNNL
    if (cx->bf16 != NULL && k > 0)
        return cpu_bf16_gemm(cx, trans_a, trans_b, m, n, k, alpha, cpu_f32(a), lda, 0,
                             cpu_f32(b), ldb, 0, beta, cpu_f32(c), ldc, 0, 1, 0);
#endif
    gemm_single_threaded();
    gemm_split(ctx, trans_a, trans_b, m, n, k, alpha, k ? cpu_f32(a) : NULL, lda,
               k ? cpu_f32(b) : NULL, ldb, beta, cpu_f32(c), ldc, NULL);
    return 0;
}

int cpu_gemm_bias_act(void *ctx, int m, int n, int k, dlh_mem a, int lda, dlh_mem b, int ldb,
                      dlh_mem bias, int act, dlh_mem c, int ldc)
{
    int rc = bchk_gemm(&cpu_checks, 0, 1, m, n, k, a, lda, b, ldb, c, ldc);
    if (rc == 0 && bias.buf != NULL)
        rc = bchk_mem(&cpu_checks, "gemm_bias_act", "bias", bias, (size_t)n, sizeof(float));
    if (rc == 0 && act != 0 && act != 1) {
        cpu_host->error("cpu gemm_bias_act: act %d is neither 0 (none) nor 1 (relu)", act);
        rc = DLH_EINVAL;
    }
    if (rc != 0 || m == 0 || n == 0)
        return rc;
    cpu_ctx *cx = ctx;
    gemm_ep ep = { bias.buf != NULL ? cpu_f32(bias) : NULL, act };
    float beta = ep.bias != NULL ? 1.0f : 0.0f;
#ifdef HAVE_DNNL
    if (cx->bf16 != NULL && k > 0) {
        /* The layer's three steps, one after another. */
        cpu_adapt(cx);
        if (ep.bias != NULL)
            gemm_ep_block(&ep, 1, 0, m, 0, n, cpu_f32(c), ldc);
        rc = cpu_bf16_gemm(cx, 0, 1, m, n, k, 1.0f, cpu_f32(a), lda, 0, cpu_f32(b), ldb, 0,
                           beta, cpu_f32(c), ldc, 0, 1, 0);
        if (rc == 0 && act)
            gemm_ep_block(&ep, 0, 0, m, 0, n, cpu_f32(c), ldc);
        return rc;
    }
#endif
    cpu_adapt(cx);
    gemm_single_threaded();
    gemm_split(ctx, 0, 1, m, n, k, 1.0f, k ? cpu_f32(a) : NULL, lda, k ? cpu_f32(b) : NULL,
               ldb, beta, cpu_f32(c), ldc, &ep);
    return 0;
}

int cpu_gemm_batched(void *ctx, int trans_a, int trans_b, int m, int n, int k,
                     float alpha, dlh_mem a, int lda, int64_t stride_a, dlh_mem b,
                     int ldb, int64_t stride_b, float beta, dlh_mem c, int ldc,
                     int64_t stride_c, int batch)
{
    size_t ec;
    int rc = bchk_gemm_batched(&cpu_checks, trans_a, trans_b, m, n, k, a, lda, stride_a,
                               b, ldb, stride_b, c, ldc, stride_c, batch, &ec);
    if (rc != 0 || m == 0 || n == 0 || batch == 0)
        return rc;
    cpu_ctx *cx = ctx;
    cpu_adapt(cx);
    gemm_single_threaded();
    const float *pa = k ? cpu_f32(a) : NULL, *pb = k ? cpu_f32(b) : NULL;
    float *pc = cpu_f32(c);
    /* Problems whose outputs do not overlap run whole, side by side, when
       there are enough of them (or each is too small to cut); otherwise one
       after another, each cut into pieces.  The shape alone picks, so the
       bits do not depend on the thread count.  A shared C (stride_c == 0)
       sees the problems in batch order. */
    double mnk = (double)m * (double)n * (double)k;
    int disjoint = stride_c > 0 && (size_t)stride_c >= ec;
    int side_by_side = batch > 1 && disjoint &&
                       (batch >= 2 * cx->panels || cpu_gemm_pieces(cx, m, n, k) < 2);
    int threads = cx->threads > 1 && mnk * batch >= 4.0 * CPU_PAR_MIN ? cx->threads : 1;
#ifdef HAVE_DNNL
    if (cx->bf16 != NULL && k > 0)
        return cpu_bf16_gemm(cx, trans_a, trans_b, m, n, k, alpha, pa, lda, stride_a, pb,
                             ldb, stride_b, beta, pc, ldc, stride_c, batch, side_by_side);
#endif
    if (side_by_side) {
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
        for (int i = 0; i < batch; i++)
            gemm_one(trans_a, trans_b, m, n, k, alpha,
                     pa ? pa + (size_t)i * (size_t)stride_a : NULL, lda,
                     pb ? pb + (size_t)i * (size_t)stride_b : NULL, ldb, beta,
                     pc + (size_t)i * (size_t)stride_c, ldc);
        return 0;
    }
    for (int i = 0; i < batch; i++)
        gemm_split(cx, trans_a, trans_b, m, n, k, alpha,
                   pa ? pa + (size_t)i * (size_t)stride_a : NULL, lda,
                   pb ? pb + (size_t)i * (size_t)stride_b : NULL, ldb, beta,
                   pc + (size_t)i * (size_t)stride_c, ldc, NULL);
    return 0;
}
