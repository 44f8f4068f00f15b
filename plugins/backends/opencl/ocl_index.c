/* Row gather and scatter-add by int32 index, and the Philox random fill.
 * As on the cpu, an index must be >= 0 and its row must lie inside the
 * indexed buffer: a bad index is an error, never a stray device access.
 * The indices live on the device, so checking them reads them back (a wait
 * for the queue); neither primitive is on the training step's path. */

#include "opencl.h"

/* Both steps of the shared index checks, reading the indices back to the
   host in between. */
static int index_check(ocl_ctx *c, const char *prim, int n, int cols, dlh_mem src,
                       dlh_mem idx, dlh_mem dst, int src_indexed)
{
    return bchk_index_device(&ocl_checks, prim, n, cols, src, idx, dst, src_indexed, ocl_read, c);
}

int ocl_gather(void *ctx, int n, int cols, dlh_mem src, dlh_mem idx, dlh_mem dst)
{
    int rc = index_check(ctx, "gather", n, cols, src, idx, dst, 1);
    if (rc != 0 || n == 0 || cols == 0)
        return rc;
    cl_ulong total = (cl_ulong)n * (cl_ulong)cols, so = src.off, io = idx.off, dso = dst.off;
    cl_int ccols = cols;
    const ocl_arg args[] = { OCL_ARG(total), OCL_ARG(ccols), OCL_ARG(src.buf->mem),
                             OCL_ARG(so), OCL_ARG(idx.buf->mem), OCL_ARG(io),
                             OCL_ARG(dst.buf->mem), OCL_ARG(dso) };
    return ocl_launch(ctx, GPU_K_GATHER, "gather", (size_t)total, args, 8);
}

int ocl_scatter_add(void *ctx, int n, int cols, dlh_mem src, dlh_mem idx, dlh_mem dst)
{
    int rc = index_check(ctx, "scatter_add", n, cols, src, idx, dst, 0);
    if (rc != 0 || n == 0 || cols == 0)
        return rc;
    cl_ulong so = src.off, io = idx.off, dso = dst.off;
    cl_int cn = n, ccols = cols;
    const ocl_arg args[] = { OCL_ARG(cn), OCL_ARG(ccols), OCL_ARG(src.buf->mem),
                             OCL_ARG(so), OCL_ARG(idx.buf->mem), OCL_ARG(io),
                             OCL_ARG(dst.buf->mem), OCL_ARG(dso) };
    return ocl_launch(ctx, GPU_K_SCATTER_ADD, "scatter_add", (size_t)cols, args, 8);
}

int ocl_rand(void *ctx, dlh_rand_dist dist, dlh_mem dst, size_t n, uint64_t seed,
             uint64_t stream, uint64_t offset, float a, float b)
{
    int rc = bchk_rand(&ocl_checks, dist, dst, n);
    if (rc != 0 || n == 0)
        return rc;
    cl_int cdist = (cl_int)dist;
    cl_ulong cn = n, dso = dst.off, cseed = seed, cstream = stream, coff = offset;
    const ocl_arg args[] = { OCL_ARG(cdist), OCL_ARG(cn), OCL_ARG(dst.buf->mem),
                             OCL_ARG(dso), OCL_ARG(cseed), OCL_ARG(cstream), OCL_ARG(coff),
                             OCL_ARG(a), OCL_ARG(b) };
    return ocl_launch(ctx, GPU_K_RAND, "rand", n, args, 9);
}
