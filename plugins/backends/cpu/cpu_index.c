/* Row gather and scatter-add by int32 index.
 * The backend does not know how many rows the indexed matrix has; callers
 * validate indices against it.  Here an index must be >= 0 and its row must
 * lie inside the indexed buffer, so a bad index is an error, never a stray
 * memory access. */
#include <string.h>

#include "cpu.h"

/* Checks the shared arguments and finds the largest index. */
static int index_check(const char *prim, const char *indexed, int n, int cols,
                       dlh_mem src, dlh_mem idx, dlh_mem dst, int src_indexed,
                       int32_t *max_idx)
{
    if (n < 0 || cols < 0) {
        cpu_host->error("cpu %s: sizes must be >= 0 (n=%d, cols=%d)", prim, n, cols);
        return DLH_EINVAL;
    }
    size_t nn = (size_t)n, nc = (size_t)cols;
    int rc = cpu_check_mem(prim, "idx", idx, nn, sizeof(int32_t));
    if (rc == 0)
        rc = cpu_check_mem(prim, src_indexed ? "dst" : "src", src_indexed ? dst : src,
                           nn * nc, sizeof(float));
    if (rc != 0 || nn == 0)
        return rc;
    const int32_t *ix = cpu_i32(idx);
    int32_t mx = 0;
    for (size_t i = 0; i < nn; i++) {
        if (ix[i] < 0) {
            cpu_host->error("cpu %s: idx[%zu] = %d is negative", prim, i, (int)ix[i]);
            return DLH_EINVAL;
        }
        if (ix[i] > mx)
            mx = ix[i];
    }
    *max_idx = mx;
    dlh_mem m = src_indexed ? src : dst;
    if (nc == 0 || m.buf == NULL)
        return cpu_check_mem(prim, indexed, m, nc, sizeof(float));
    size_t cap = m.buf->bytes / sizeof(float);
    if (m.off > cap || ((size_t)mx + 1) * nc > cap - m.off) {
        cpu_host->error("cpu %s: index %d addresses a row of %s past the end of its "
                        "buffer (%zu rows of %d fit)", prim, (int)mx, indexed,
                        m.off > cap ? 0 : (cap - m.off) / nc, cols);
        return DLH_EINVAL;
    }
    return 0;
}

int cpu_gather(void *ctx, int n, int cols, dlh_mem src, dlh_mem idx, dlh_mem dst)
{
    cpu_ctx *c = ctx;
    int32_t mx;
    int rc = index_check("gather", "src", n, cols, src, idx, dst, 1, &mx);
    if (rc != 0 || n == 0 || cols == 0)
        return rc;
    const float *s = cpu_f32(src);
    const int32_t *ix = cpu_i32(idx);
    float *d = cpu_f32(dst);
    size_t nc = (size_t)cols;
    #pragma omp parallel for num_threads(c->threads) if ((size_t)n * nc >= CPU_PAR_MIN) schedule(static)
    for (int i = 0; i < n; i++)
        memcpy(d + (size_t)i * nc, s + (size_t)ix[i] * nc, nc * sizeof(float));
    return 0;
}

/* Columns per task of a parallel scatter-add. */
#define SCATTER_COLS 64

int cpu_scatter_add(void *ctx, int n, int cols, dlh_mem src, dlh_mem idx, dlh_mem dst)
{
    cpu_ctx *c = ctx;
    int32_t mx;
    int rc = index_check("scatter_add", "dst", n, cols, src, idx, dst, 0, &mx);
    if (rc != 0 || n == 0 || cols == 0)
        return rc;
    const float *s = cpu_f32(src);
    const int32_t *ix = cpu_i32(idx);
    float *d = cpu_f32(dst);
    size_t nc = (size_t)cols;
    /* Indices may repeat, so threads split the columns, not the rows: each
       destination element is then added to by one thread, in row order. */
    size_t blocks = (nc + SCATTER_COLS - 1) / SCATTER_COLS;
    #pragma omp parallel for num_threads(c->threads) if ((size_t)n * nc >= CPU_PAR_MIN && blocks > 1) schedule(static)
    for (size_t b = 0; b < blocks; b++) {
        size_t j0 = b * SCATTER_COLS, j1 = j0 + SCATTER_COLS < nc ? j0 + SCATTER_COLS : nc;
        for (int i = 0; i < n; i++) {
            const float *sr = s + (size_t)i * nc;
            float *dr = d + (size_t)ix[i] * nc;
            for (size_t j = j0; j < j1; j++)
                dr[j] += sr[j];
        }
    }
    return 0;
}
