/* Row gather and scatter-add by int32 index, and the Philox random fill
 * (gpu_source.c's dlh_rand, the kernel the opencl backend runs, so the
 * same seed gives the same numbers).  As on the cpu, an index must be >= 0
 * and its row must lie inside the indexed buffer: the indices live on the
 * device, so checking them reads them back (a wait for the stream); neither
 * primitive is on the training step's path. */

#include "cuda_backend.h"

static int index_check(cu_ctx *c, const char *prim, int n, int cols, dlh_mem src,
                       dlh_mem idx, dlh_mem dst, int src_indexed)
{
    return bchk_index_device(&cu_checks, prim, n, cols, src, idx, dst, src_indexed, cu_read, c);
}

int cu_gather(void *ctx, int n, int cols, dlh_mem src, dlh_mem idx, dlh_mem dst)
{
    int rc = index_check(ctx, "gather", n, cols, src, idx, dst, 1);
    if (rc != 0 || n == 0 || cols == 0)
        return rc;
    unsigned long long total = (unsigned long long)n * (unsigned long long)cols,
                       so = src.off, io = idx.off, dso = dst.off;
    int ccols = cols;
    void *p[] = { &total, &ccols, &src.buf->ptr, &so, &idx.buf->ptr, &io, &dst.buf->ptr,
                  &dso };
    return cu_launch(ctx, GPU_K_GATHER, "gather", (size_t)total, p);
}

int cu_scatter_add(void *ctx, int n, int cols, dlh_mem src, dlh_mem idx, dlh_mem dst)
{
    int rc = index_check(ctx, "scatter_add", n, cols, src, idx, dst, 0);
    if (rc != 0 || n == 0 || cols == 0)
        return rc;
    unsigned long long so = src.off, io = idx.off, dso = dst.off;
    int cn = n, ccols = cols;
    void *p[] = { &cn, &ccols, &src.buf->ptr, &so, &idx.buf->ptr, &io, &dst.buf->ptr, &dso };
    return cu_launch(ctx, GPU_K_SCATTER_ADD, "scatter_add", (size_t)cols, p);
}

int cu_rand(void *ctx, dlh_rand_dist dist, dlh_mem dst, size_t n, uint64_t seed,
            uint64_t stream, uint64_t offset, float a, float b)
{
    int rc = bchk_rand(&cu_checks, dist, dst, n);
    if (rc != 0 || n == 0)
        return rc;
    int cdist = (int)dist;
    unsigned long long cn = n, dso = dst.off, cseed = seed, cstream = stream, coff = offset;
    void *p[] = { &cdist, &cn, &dst.buf->ptr, &dso, &cseed, &cstream, &coff, &a, &b };
    return cu_launch(ctx, GPU_K_RAND, "rand", n, p);
}
