/* Row and column reductions, and row softmax / log-softmax.
 * Sums accumulate in double, so results do not depend on the thread count or
 * drift with long rows.  A NaN wins a max (as in PyTorch): it shows up in the
 * result instead of being skipped. */
#include <math.h>

#include "cpu.h"

/* Columns per block of a column (axis 0) reduction: the block's accumulators
   live on the stack and the row slices it reads stay in cache. */
#define REDUCE_COLS 256
/* Elements per piece when a few long rows are split between threads, and the
   most pieces a row is cut into. */
#define REDUCE_CHUNK 16384
#define REDUCE_MAX_CHUNKS 256
#define REDUCE_FEW_ROWS 8

/* The first maximum of r[0..n), or its first NaN; returns its index. */
static size_t row_argmax(size_t n, const float *r, float *best)
{
    float v = r[0];
    size_t bi = 0;
    for (size_t j = 1; j < n && v == v; j++) {
        if (!(r[j] <= v)) {               /* greater, or NaN */
            v = r[j];
            bi = j;
        }
    }
    *best = v;
    return bi;
}

/* Built for AVX-512 and AVX2 too where GCC can pick at load time: the
   reductions' double arithmetic gets four times the baseline's lanes.  The
   code fixes the order of every addition, so each build gives the same
   bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__has_attribute)
#if __has_attribute(target_clones)
#define REDUCE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef REDUCE_CLONES
#define REDUCE_CLONES
#endif

/* Lanes of the row sum: element j goes to partial sum j % REDUCE_LANES. */
#define REDUCE_LANES 32

/* The sum (or sum of squares) of r[0..n) in double: REDUCE_LANES partial
   sums, added pairwise at the end. */
REDUCE_CLONES
static double row_sum(dlh_reduce_op op, size_t n, const float *r)
{
    double acc[REDUCE_LANES] = { 0 };
    size_t full = n / REDUCE_LANES * REDUCE_LANES;
    if (op == DLH_REDUCE_SUM) {
        for (size_t j = 0; j < full; j += REDUCE_LANES)
            for (int l = 0; l < REDUCE_LANES; l++)
                acc[l] += r[j + l];
        for (size_t j = full; j < n; j++)
            acc[j - full] += r[j];
    } else {
        for (size_t j = 0; j < full; j += REDUCE_LANES)
            for (int l = 0; l < REDUCE_LANES; l++)
                acc[l] += (double)r[j + l] * r[j + l];
        for (size_t j = full; j < n; j++)
            acc[j - full] += (double)r[j] * r[j];
    }
    for (int w = REDUCE_LANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++)
            acc[l] += acc[l + w];
    return acc[0];
}

static void reduce_rows(dlh_reduce_op op, size_t cols, const float *r, float *out,
                        int32_t *idx)
{
    if (op == DLH_REDUCE_MAX) {
        size_t bi = row_argmax(cols, r, out);
        if (idx != NULL)
            *idx = (int32_t)bi;
        return;
    }
    *out = (float)row_sum(op, cols, r);
}

/* Columns [j0, j0 + nc) of a rows x cols matrix, rows >= 1. */
REDUCE_CLONES
static void reduce_cols(dlh_reduce_op op, size_t rows, size_t cols, size_t j0, size_t nc,
                        const float *x, float *out, int32_t *idx)
{
    if (op == DLH_REDUCE_MAX) {
        float best[REDUCE_COLS];
        int32_t bi[REDUCE_COLS];
        for (size_t j = 0; j < nc; j++) {
            best[j] = x[j0 + j];
            bi[j] = 0;
        }
        for (size_t i = 1; i < rows; i++) {
            const float *r = x + i * cols + j0;
            for (size_t j = 0; j < nc; j++) {
                if (!(r[j] <= best[j]) && best[j] == best[j]) {
                    best[j] = r[j];
                    bi[j] = (int32_t)i;
                }
            }
        }
        for (size_t j = 0; j < nc; j++) {
            out[j0 + j] = best[j];
            if (idx != NULL)
                idx[j0 + j] = bi[j];
        }
        return;
    }
    double acc[REDUCE_COLS] = { 0 };
    for (size_t i = 0; i < rows; i++) {
        const float *r = x + i * cols + j0;
        if (op == DLH_REDUCE_SUM) {
            #pragma omp simd
            for (size_t j = 0; j < nc; j++)
                acc[j] += r[j];
        } else {
            #pragma omp simd
            for (size_t j = 0; j < nc; j++)
                acc[j] += (double)r[j] * r[j];
        }
    }
    for (size_t j = 0; j < nc; j++)
        out[j0 + j] = (float)acc[j];
}

/* One row of cols elements in `chunks` pieces of REDUCE_CHUNK, in parallel;
   partial sums stay in double and are added in chunk order. */
static void reduce_row_chunked(const cpu_ctx *c, dlh_reduce_op op, size_t cols,
                               size_t chunks, const float *r, float *out, int32_t *idx)
{
    double part[REDUCE_MAX_CHUNKS];
    float best[REDUCE_MAX_CHUNKS];
    int32_t at[REDUCE_MAX_CHUNKS];
    size_t per = REDUCE_CHUNK, nparts = chunks;
    if (nparts > REDUCE_MAX_CHUNKS) {          /* very long rows: bigger pieces */
        per = (cols + REDUCE_MAX_CHUNKS - 1) / REDUCE_MAX_CHUNKS;
        nparts = (cols + per - 1) / per;
    }
    int par = !c->passive || cols >= CPU_PAR_MIN_PASSIVE;
    #pragma omp parallel for num_threads(c->threads) if (par) schedule(static)
    for (size_t k = 0; k < nparts; k++) {
        size_t j0 = k * per, n = cols - j0 < per ? cols - j0 : per;
        if (op == DLH_REDUCE_MAX)
            at[k] = (int32_t)(j0 + row_argmax(n, r + j0, &best[k]));
        else
            part[k] = row_sum(op, n, r + j0);
    }
    if (op == DLH_REDUCE_MAX) {
        /* The first maximum, or the first NaN, in row order. */
        size_t b = row_argmax(nparts, best, out);
        if (idx != NULL)
            *idx = at[b];
        return;
    }
    double s = 0.0;
    for (size_t k = 0; k < nparts; k++)
        s += part[k];
    *out = (float)s;
}

int cpu_reduce(void *ctx, dlh_reduce_op op, int axis, int rows, int cols, dlh_mem x,
               dlh_mem out, dlh_mem idx)
{
    cpu_ctx *c = ctx;
    size_t nout, len;
    int want_idx;
    int rc = bchk_reduce(&cpu_checks, op, axis, rows, cols, x, out, idx, &nout, &len,
                         &want_idx);
    if (rc != 0 || nout == 0)
        return rc;
    size_t nr = (size_t)rows, nc = (size_t)cols;
    float *y = cpu_f32(out);
    int32_t *yi = want_idx ? cpu_i32(idx) : NULL;
    if (len == 0) {             /* a sum over nothing (bchk_reduce refuses a max) */
        for (size_t i = 0; i < nout; i++)
            y[i] = 0.0f;
        return 0;
    }
    const float *px = cpu_f32(x);
    /* Each output's sum (or a chunked row's pieces, combined in order) is
       the same whichever thread computes it: the bar moves no bit. */
    int par = nr * nc >= (c->passive ? CPU_PAR_MIN_PASSIVE : CPU_PAR_MIN);
    if (axis == 1 && nr < REDUCE_FEW_ROWS && nc >= 2 * REDUCE_CHUNK) {
        /* Few long rows (a whole gradient's sum of squares): each row in
           pieces of a fixed size, reduced side by side and combined in piece
           order; the shape alone picks this path, so the result does not
           depend on the thread count. */
        size_t chunks = (nc + REDUCE_CHUNK - 1) / REDUCE_CHUNK;
        for (size_t i = 0; i < nr; i++)
            reduce_row_chunked(c, op, nc, chunks, px + i * nc, y + i, yi ? yi + i : NULL);
    } else if (axis == 1) {
        #pragma omp parallel for num_threads(c->threads) if (par) schedule(static)
        for (size_t i = 0; i < nr; i++)
            reduce_rows(op, nc, px + i * nc, y + i, yi ? yi + i : NULL);
    } else {
        size_t blocks = (nc + REDUCE_COLS - 1) / REDUCE_COLS;
        #pragma omp parallel for num_threads(c->threads) if (par && blocks > 1) schedule(static)
        for (size_t bk = 0; bk < blocks; bk++) {
            size_t j0 = bk * REDUCE_COLS;
            size_t w = nc - j0 < REDUCE_COLS ? nc - j0 : REDUCE_COLS;
            reduce_cols(op, nr, nc, j0, w, px, y, yi);
        }
    }
    return 0;
}

static void softmax_row(int use_log, size_t cols, const float *x, float *y)
{
    float mx = x[0];
    for (size_t j = 1; j < cols && mx == mx; j++)
        if (!(x[j] <= mx))
            mx = x[j];
    /* y may be x: each pass reads element j before writing it. */
    double s = 0.0;
    if (use_log) {
        for (size_t j = 0; j < cols; j++)
            s += expf(x[j] - mx);
        float ls = (float)log(s);
        for (size_t j = 0; j < cols; j++)
            y[j] = (x[j] - mx) - ls;
    } else {
        for (size_t j = 0; j < cols; j++) {
            float e = expf(x[j] - mx);
            y[j] = e;
            s += e;
        }
        float inv = (float)(1.0 / s);
        for (size_t j = 0; j < cols; j++)
            y[j] *= inv;
    }
}

int cpu_softmax(void *ctx, int use_log, int rows, int cols, dlh_mem x, dlh_mem y)
{
    cpu_ctx *c = ctx;
    int rc = bchk_softmax(&cpu_checks, rows, cols, x, y);
    size_t nr = (size_t)rows, nc = (size_t)cols;
    if (rc != 0 || nr == 0 || nc == 0)
        return rc;
    const float *px = cpu_f32(x);
    float *py = cpu_f32(y);
    #pragma omp parallel for num_threads(c->threads) if (nr * nc >= CPU_PAR_MIN) schedule(static)
    for (size_t i = 0; i < nr; i++)
        softmax_row(use_log, nc, px + i * nc, py + i * nc);
    return 0;
}
