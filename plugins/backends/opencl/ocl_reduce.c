/* Row and column reductions, and row softmax / log-softmax: the shared
 * checks (common/backend_checks.c), then a work-group per row (axis 1,
 * softmax) or a work-item per column (axis 0). */
#include "opencl.h"

int ocl_reduce(void *ctx, dlh_reduce_op op, int axis, int rows, int cols, dlh_mem x,
               dlh_mem out, dlh_mem idx)
{
    ocl_ctx *c = ctx;
    size_t nout, len;
    int want_idx;
    int rc = bchk_reduce(&ocl_checks, op, axis, rows, cols, x, out, idx, &nout, &len,
                         &want_idx);
    if (rc != 0 || nout == 0)
        return rc;
    if (len == 0)               /* a sum over nothing (bchk_reduce refuses a max) */
        return ocl_fill(ctx, out, nout, 0.0f);
    size_t nr = (size_t)rows, nc = (size_t)cols;
    cl_int cop = (cl_int)op, crows = rows, ccols = cols, cwant = want_idx;
    cl_ulong xo = x.off, oo = out.off, io = want_idx ? idx.off : 0;
    /* An unused idx still needs a buffer argument: out stands in. */
    cl_mem im = want_idx ? idx.buf->mem : out.buf->mem;
    if (axis == 1) {
        const ocl_arg args[] = { OCL_ARG(cop), OCL_ARG(ccols), OCL_ARG(x.buf->mem),
                                 OCL_ARG(xo), OCL_ARG(out.buf->mem), OCL_ARG(oo),
                                 OCL_ARG(im), OCL_ARG(io), OCL_ARG(cwant) };
        return ocl_launch_groups(c, GPU_K_REDUCE_ROWS, "reduce", nr, args, 9);
    }
    const ocl_arg args[] = { OCL_ARG(cop), OCL_ARG(crows), OCL_ARG(ccols),
                             OCL_ARG(x.buf->mem), OCL_ARG(xo), OCL_ARG(out.buf->mem),
                             OCL_ARG(oo), OCL_ARG(im), OCL_ARG(io), OCL_ARG(cwant) };
    return ocl_launch(c, GPU_K_REDUCE_COLS, "reduce", nc, args, 10);
}

int ocl_softmax(void *ctx, int use_log, int rows, int cols, dlh_mem x, dlh_mem y)
{
    ocl_ctx *c = ctx;
    int rc = bchk_softmax(&ocl_checks, rows, cols, x, y);
    size_t nr = (size_t)rows, nc = (size_t)cols;
    if (rc != 0 || nr == 0 || nc == 0)
        return rc;
    cl_int clog = use_log != 0, ccols = cols;
    cl_ulong xo = x.off, yo = y.off;
    const ocl_arg args[] = { OCL_ARG(clog), OCL_ARG(ccols), OCL_ARG(x.buf->mem),
                             OCL_ARG(xo), OCL_ARG(y.buf->mem), OCL_ARG(yo) };
    return ocl_launch_groups(c, GPU_K_SOFTMAX, "softmax", nr, args, 6);
}
