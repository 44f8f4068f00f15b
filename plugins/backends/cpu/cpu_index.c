/* Row gather and scatter-add by int32 index.
 * The backend does not know how many rows the indexed matrix has; callers
 * validate indices against it.  Here an index must be >= 0 and its row must
 * lie inside the indexed buffer, so a bad index is an error, never a stray
 * memory access. */
#include <string.h>

#include "cpu.h"

/* Both steps of the shared index checks: the indices are host memory. */
static int index_check(const char *prim, int n, int cols, dlh_mem src, dlh_mem idx,
                       dlh_mem dst, int src_indexed)
{
    int rc = bchk_index_args(&cpu_checks, prim, n, cols, src, idx, dst, src_indexed);
    if (rc != 0 || n == 0)
        return rc;
    return bchk_index_rows(&cpu_checks, prim, cpu_i32(idx), n, cols, src, dst,
                           src_indexed);
}

int cpu_gather(void *ctx, int n, int cols, dlh_mem src, dlh_mem idx, dlh_mem dst)
{
    cpu_ctx *c = ctx;
    int rc = index_check("gather", n, cols, src, idx, dst, 1);
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
    int rc = index_check("scatter_add", n, cols, src, idx, dst, 0);
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
