/* Row gather and scatter-add by int32 index, and the Philox random fill.
 * As on the cpu, an index must be >= 0 and its row must lie inside the
 * indexed buffer: a bad index is an error, never a stray device access.
 * The indices live on the device, so checking them reads them back (a wait
 * for the queue); neither primitive is on the training step's path. */
#include <stdlib.h>

#include "opencl.h"

/* Checks the shared arguments, including every index against the indexed
   buffer's rows. */
static int index_check(ocl_ctx *c, const char *prim, const char *indexed, int n, int cols,
                       dlh_mem src, dlh_mem idx, dlh_mem dst, int src_indexed)
{
    if (n < 0 || cols < 0) {
        ocl_host->error("opencl %s: sizes must be >= 0 (n=%d, cols=%d)", prim, n, cols);
        return DLH_EINVAL;
    }
    size_t nn = (size_t)n, nc = (size_t)cols;
    int rc = ocl_check_mem(prim, "idx", idx, nn, sizeof(int32_t));
    if (rc == 0)
        rc = ocl_check_mem(prim, src_indexed ? "dst" : "src", src_indexed ? dst : src,
                           nn * nc, sizeof(float));
    if (rc != 0 || nn == 0)
        return rc;
    int32_t *ix = malloc(nn * sizeof *ix);
    if (ix == NULL) {
        ocl_host->error("opencl %s: out of memory reading %zu indices", prim, nn);
        return DLH_ENOMEM;
    }
    if ((rc = ocl_read(c, idx.buf, idx.off * sizeof(int32_t), ix, nn * sizeof *ix)) != 0) {
        free(ix);
        return rc;
    }
    int32_t mx = 0;
    for (size_t i = 0; i < nn; i++) {
        if (ix[i] < 0) {
            ocl_host->error("opencl %s: idx[%zu] = %d is negative", prim, i, (int)ix[i]);
            free(ix);
            return DLH_EINVAL;
        }
        if (ix[i] > mx)
            mx = ix[i];
    }
    free(ix);
    dlh_mem m = src_indexed ? src : dst;
    if (nc == 0 || m.buf == NULL)
        return ocl_check_mem(prim, indexed, m, nc, sizeof(float));
    size_t cap = m.buf->bytes / sizeof(float);
    if (m.off > cap || ((size_t)mx + 1) * nc > cap - m.off) {
        ocl_host->error("opencl %s: index %d addresses a row of %s past the end of its "
                        "buffer (%zu rows of %d fit)", prim, (int)mx, indexed,
                        m.off > cap ? 0 : (cap - m.off) / nc, cols);
        return DLH_EINVAL;
    }
    return 0;
}

int ocl_gather(void *ctx, int n, int cols, dlh_mem src, dlh_mem idx, dlh_mem dst)
{
    int rc = index_check(ctx, "gather", "src", n, cols, src, idx, dst, 1);
    if (rc != 0 || n == 0 || cols == 0)
        return rc;
    cl_ulong total = (cl_ulong)n * (cl_ulong)cols, so = src.off, io = idx.off, dso = dst.off;
    cl_int ccols = cols;
    const ocl_arg args[] = { OCL_ARG(total), OCL_ARG(ccols), OCL_ARG(src.buf->mem),
                             OCL_ARG(so), OCL_ARG(idx.buf->mem), OCL_ARG(io),
                             OCL_ARG(dst.buf->mem), OCL_ARG(dso) };
    return ocl_launch(ctx, OCL_K_GATHER, "gather", (size_t)total, args, 8);
}

int ocl_scatter_add(void *ctx, int n, int cols, dlh_mem src, dlh_mem idx, dlh_mem dst)
{
    int rc = index_check(ctx, "scatter_add", "dst", n, cols, src, idx, dst, 0);
    if (rc != 0 || n == 0 || cols == 0)
        return rc;
    cl_ulong so = src.off, io = idx.off, dso = dst.off;
    cl_int cn = n, ccols = cols;
    const ocl_arg args[] = { OCL_ARG(cn), OCL_ARG(ccols), OCL_ARG(src.buf->mem),
                             OCL_ARG(so), OCL_ARG(idx.buf->mem), OCL_ARG(io),
                             OCL_ARG(dst.buf->mem), OCL_ARG(dso) };
    return ocl_launch(ctx, OCL_K_SCATTER_ADD, "scatter_add", (size_t)cols, args, 8);
}

int ocl_rand(void *ctx, dlh_rand_dist dist, dlh_mem dst, size_t n, uint64_t seed,
             uint64_t stream, uint64_t offset, float a, float b)
{
    if (dist != DLH_RAND_UNIFORM && dist != DLH_RAND_NORMAL && dist != DLH_RAND_BERNOULLI) {
        ocl_host->error("opencl rand: unknown distribution %d (expected uniform 0, "
                        "normal 1, bernoulli 2)", (int)dist);
        return DLH_EINVAL;
    }
    int rc = ocl_check_mem("rand", "dst", dst, n, sizeof(float));
    if (rc != 0 || n == 0)
        return rc;
    cl_int cdist = (cl_int)dist;
    cl_ulong cn = n, dso = dst.off, cseed = seed, cstream = stream, coff = offset;
    const ocl_arg args[] = { OCL_ARG(cdist), OCL_ARG(cn), OCL_ARG(dst.buf->mem),
                             OCL_ARG(dso), OCL_ARG(cseed), OCL_ARG(cstream), OCL_ARG(coff),
                             OCL_ARG(a), OCL_ARG(b) };
    return ocl_launch(ctx, OCL_K_RAND, "rand", n, args, 9);
}
