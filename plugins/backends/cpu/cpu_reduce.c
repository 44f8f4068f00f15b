/* Row and column reductions, and row softmax / log-softmax.
 * Sums accumulate in double, so results do not depend on the thread count or
 * drift with long rows.  A NaN wins a max (as in PyTorch): it shows up in the
 * result instead of being skipped. */
#include <math.h>

#include "cpu.h"

/* Columns per block of a column (axis 0) reduction: the block's accumulators
   live on the stack and the row slices it reads stay in cache. */
#define REDUCE_COLS 256

static void reduce_rows(dlh_reduce_op op, size_t cols, const float *r, float *out,
                        int32_t *idx)
{
    if (op == DLH_REDUCE_MAX) {
        float best = r[0];
        size_t bi = 0;
        for (size_t j = 1; j < cols && best == best; j++) {
            if (!(r[j] <= best)) {        /* greater, or NaN */
                best = r[j];
                bi = j;
            }
        }
        *out = best;
        if (idx != NULL)
            *idx = (int32_t)bi;
        return;
    }
    double s = 0.0;
    if (op == DLH_REDUCE_SUM) {
        #pragma omp simd reduction(+:s)
        for (size_t j = 0; j < cols; j++)
            s += r[j];
    } else {
        #pragma omp simd reduction(+:s)
        for (size_t j = 0; j < cols; j++)
            s += (double)r[j] * r[j];
    }
    *out = (float)s;
}

/* Columns [j0, j0 + nc) of a rows x cols matrix, rows >= 1. */
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

int cpu_reduce(void *ctx, dlh_reduce_op op, int axis, int rows, int cols, dlh_mem x,
               dlh_mem out, dlh_mem idx)
{
    cpu_ctx *c = ctx;
    if (op != DLH_REDUCE_SUM && op != DLH_REDUCE_MAX && op != DLH_REDUCE_SUMSQ) {
        cpu_host->error("cpu reduce: unknown op %d (expected sum 0, max 1, sumsq 2)",
                        (int)op);
        return DLH_EINVAL;
    }
    if (axis != 0 && axis != 1) {
        cpu_host->error("cpu reduce: axis %d (expected 0: per column, 1: per row)", axis);
        return DLH_EINVAL;
    }
    if (rows < 0 || cols < 0) {
        cpu_host->error("cpu reduce: sizes must be >= 0 (rows=%d, cols=%d)", rows, cols);
        return DLH_EINVAL;
    }
    size_t nr = (size_t)rows, nc = (size_t)cols;
    size_t nout = axis == 1 ? nr : nc, len = axis == 1 ? nc : nr;
    int want_idx = op == DLH_REDUCE_MAX && idx.buf != NULL;
    int rc = cpu_check_mem("reduce", "x", x, nr * nc, sizeof(float));
    if (rc == 0)
        rc = cpu_check_mem("reduce", "out", out, nout, sizeof(float));
    if (rc == 0 && want_idx)
        rc = cpu_check_mem("reduce", "idx", idx, nout, sizeof(int32_t));
    if (rc != 0 || nout == 0)
        return rc;
    float *y = cpu_f32(out);
    int32_t *yi = want_idx ? cpu_i32(idx) : NULL;
    if (len == 0) {
        if (op == DLH_REDUCE_MAX) {
            cpu_host->error("cpu reduce: max over an empty axis (rows=%d, cols=%d, "
                            "axis %d)", rows, cols, axis);
            return DLH_EINVAL;
        }
        for (size_t i = 0; i < nout; i++)
            y[i] = 0.0f;
        return 0;
    }
    const float *px = cpu_f32(x);
    int par = nr * nc >= CPU_PAR_MIN;
    if (axis == 1) {
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
    if (rows < 0 || cols < 0) {
        cpu_host->error("cpu softmax: sizes must be >= 0 (rows=%d, cols=%d)", rows, cols);
        return DLH_EINVAL;
    }
    size_t nr = (size_t)rows, nc = (size_t)cols;
    int rc = cpu_check_mem("softmax", "x", x, nr * nc, sizeof(float));
    if (rc == 0)
        rc = cpu_check_mem("softmax", "y", y, nr * nc, sizeof(float));
    if (rc != 0 || nr == 0 || nc == 0)
        return rc;
    const float *px = cpu_f32(x);
    float *py = cpu_f32(y);
    #pragma omp parallel for num_threads(c->threads) if (nr * nc >= CPU_PAR_MIN) schedule(static)
    for (size_t i = 0; i < nr; i++)
        softmax_row(use_log, nc, px + i * nc, py + i * nc);
    return 0;
}
