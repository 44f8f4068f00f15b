/* Row and column reductions, and row softmax / log-softmax: the cpu
 * backend's checks, then a work-group per row (axis 1, softmax) or a
 * work-item per column (axis 0). */
#include "opencl.h"

int ocl_reduce(void *ctx, dlh_reduce_op op, int axis, int rows, int cols, dlh_mem x,
               dlh_mem out, dlh_mem idx)
{
    ocl_ctx *c = ctx;
    if (op != DLH_REDUCE_SUM && op != DLH_REDUCE_MAX && op != DLH_REDUCE_SUMSQ) {
        ocl_host->error("opencl reduce: unknown op %d (expected sum 0, max 1, sumsq 2)",
                        (int)op);
        return DLH_EINVAL;
    }
    if (axis != 0 && axis != 1) {
        ocl_host->error("opencl reduce: axis %d (expected 0: per column, 1: per row)", axis);
        return DLH_EINVAL;
    }
    if (rows < 0 || cols < 0) {
        ocl_host->error("opencl reduce: sizes must be >= 0 (rows=%d, cols=%d)", rows, cols);
        return DLH_EINVAL;
    }
    size_t nr = (size_t)rows, nc = (size_t)cols;
    size_t nout = axis == 1 ? nr : nc, len = axis == 1 ? nc : nr;
    int want_idx = op == DLH_REDUCE_MAX && idx.buf != NULL;
    int rc = ocl_check_mem("reduce", "x", x, nr * nc, sizeof(float));
    if (rc == 0)
        rc = ocl_check_mem("reduce", "out", out, nout, sizeof(float));
    if (rc == 0 && want_idx)
        rc = ocl_check_mem("reduce", "idx", idx, nout, sizeof(int32_t));
    if (rc != 0 || nout == 0)
        return rc;
    if (len == 0) {
        if (op == DLH_REDUCE_MAX) {
            ocl_host->error("opencl reduce: max over an empty axis (rows=%d, cols=%d, "
                            "axis %d)", rows, cols, axis);
            return DLH_EINVAL;
        }
        return ocl_fill(ctx, out, nout, 0.0f);
    }
    cl_int cop = (cl_int)op, crows = rows, ccols = cols, cwant = want_idx;
    cl_ulong xo = x.off, oo = out.off, io = want_idx ? idx.off : 0;
    /* An unused idx still needs a buffer argument: out stands in. */
    cl_mem im = want_idx ? idx.buf->mem : out.buf->mem;
    if (axis == 1) {
        const ocl_arg args[] = { OCL_ARG(cop), OCL_ARG(ccols), OCL_ARG(x.buf->mem),
                                 OCL_ARG(xo), OCL_ARG(out.buf->mem), OCL_ARG(oo),
                                 OCL_ARG(im), OCL_ARG(io), OCL_ARG(cwant) };
        return ocl_launch_groups(c, OCL_K_REDUCE_ROWS, "reduce", nr, args, 9);
    }
    const ocl_arg args[] = { OCL_ARG(cop), OCL_ARG(crows), OCL_ARG(ccols),
                             OCL_ARG(x.buf->mem), OCL_ARG(xo), OCL_ARG(out.buf->mem),
                             OCL_ARG(oo), OCL_ARG(im), OCL_ARG(io), OCL_ARG(cwant) };
    return ocl_launch(c, OCL_K_REDUCE_COLS, "reduce", nc, args, 10);
}

int ocl_softmax(void *ctx, int use_log, int rows, int cols, dlh_mem x, dlh_mem y)
{
    ocl_ctx *c = ctx;
    if (rows < 0 || cols < 0) {
        ocl_host->error("opencl softmax: sizes must be >= 0 (rows=%d, cols=%d)", rows, cols);
        return DLH_EINVAL;
    }
    size_t nr = (size_t)rows, nc = (size_t)cols;
    int rc = ocl_check_mem("softmax", "x", x, nr * nc, sizeof(float));
    if (rc == 0)
        rc = ocl_check_mem("softmax", "y", y, nr * nc, sizeof(float));
    if (rc != 0 || nr == 0 || nc == 0)
        return rc;
    cl_int clog = use_log != 0, ccols = cols;
    cl_ulong xo = x.off, yo = y.off;
    const ocl_arg args[] = { OCL_ARG(clog), OCL_ARG(ccols), OCL_ARG(x.buf->mem),
                             OCL_ARG(xo), OCL_ARG(y.buf->mem), OCL_ARG(yo) };
    return ocl_launch_groups(c, OCL_K_SOFTMAX, "softmax", nr, args, 6);
}
