/* Row and column reductions, and row softmax / log-softmax: the shared
 * checks (common/backend_checks.c), then gpu_source.c's kernels: a block of
 * GPU_CUDA_ROW_WG threads per row (axis 1, softmax) or a thread per column
 * (axis 0). */
#include "cuda_backend.h"

int cu_reduce(void *ctx, dlh_reduce_op op, int axis, int rows, int cols, dlh_mem x,
              dlh_mem out, dlh_mem idx)
{
    cu_ctx *c = ctx;
    size_t nout, len;
    int want_idx;
    int rc = bchk_reduce(&cu_checks, op, axis, rows, cols, x, out, idx, &nout, &len,
                         &want_idx);
    if (rc != 0 || nout == 0)
        return rc;
    if (len == 0)               /* a sum over nothing (bchk_reduce refuses a max) */
        return cu_fill(ctx, out, nout, 0.0f);
    int cop = (int)op, crows = rows, ccols = cols, cwant = want_idx;
    unsigned long long xo = x.off, oo = out.off, io = want_idx ? idx.off : 0;
    /* An unused idx still needs a pointer argument: out stands in. */
    cu_ptr im = want_idx ? idx.buf->ptr : out.buf->ptr;
    if (axis == 1) {
        void *p[] = { &cop, &ccols, &x.buf->ptr, &xo, &out.buf->ptr, &oo, &im, &io, &cwant };
        return cu_launch_groups(c, GPU_K_REDUCE_ROWS, "reduce", (size_t)rows, p);
    }
    void *p[] = { &cop, &crows, &ccols, &x.buf->ptr, &xo, &out.buf->ptr, &oo, &im, &io,
                  &cwant };
    return cu_launch(c, GPU_K_REDUCE_COLS, "reduce", (size_t)cols, p);
}

int cu_softmax(void *ctx, int use_log, int rows, int cols, dlh_mem x, dlh_mem y)
{
    cu_ctx *c = ctx;
    int rc = bchk_softmax(&cu_checks, rows, cols, x, y);
    if (rc != 0 || rows == 0 || cols == 0)
        return rc;
    int clog = use_log != 0, ccols = cols;
    unsigned long long xo = x.off, yo = y.off;
    void *p[] = { &clog, &ccols, &x.buf->ptr, &xo, &y.buf->ptr, &yo };
    return cu_launch_groups(c, GPU_K_SOFTMAX, "softmax", (size_t)rows, p);
}
