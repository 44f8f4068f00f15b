/* im2col / col2im and 2-D pooling over NCHW images. */
#include <math.h>
#include <string.h>

#include "cpu.h"

static int64_t ceil_div(int64_t a, int64_t b)
{
    return a <= 0 ? 0 : (a + b - 1) / b;
}

/* The outputs o in [*lo, *hi) whose input coordinate o*stride + off lies in
   [0, size). */
static void valid_range(int64_t off, int stride, int size, int64_t count, int64_t *lo,
                        int64_t *hi)
{
    int64_t l = ceil_div(-off, stride), h = ceil_div(size - off, stride);
    if (h > count)
        h = count;
    if (l > h)
        l = h;
    *lo = l;
    *hi = h;
}

/* DLH_POOL_AVG_PAD's divisor along one axis: the taps of a window starting
   at `off` that lie inside the padded input [-pad, size + pad) (PyTorch's
   count_include_pad; in ceil_mode a window may reach past the padding). */
static int64_t pad_cells(int64_t off, int dil, int size, int pad, int64_t taps)
{
    int64_t lo, hi;
    valid_range(off + pad, dil, size + 2 * pad, taps, &lo, &hi);
    return hi - lo;
}

/* Rows of a convolution are short (10 to 30 floats): inline loops beat
   memcpy calls, and restrict lets them vectorise. */
static inline void row_copy(float *restrict dst, const float *restrict src, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = src[i];
}

static inline void row_add(float *restrict dst, const float *restrict src, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] += src[i];
}

int cpu_im2col(void *ctx, const dlh_window2d *g, int n, dlh_mem img, dlh_mem col)
{
    cpu_ctx *c = ctx;
    bchk_image_sizes s;
    int rc = bchk_im2col(&cpu_checks, g, n, img, col, &s);
    if (rc != 0 || n == 0)
        return rc;
    const float *src = cpu_f32(img);
    float *dst = cpu_f32(col);
    const int64_t rows = (int64_t)g->c * g->kh * g->kw, oh = g->oh, ow = g->ow;
    const int64_t tasks = (int64_t)n * rows;
    /* One task per (image, column row): each writes its own oh*ow slice. */
    #pragma omp parallel for num_threads(c->threads) if (s.col >= CPU_PAR_MIN) schedule(static)
    for (int64_t t = 0; t < tasks; t++) {
        int64_t ni = t / rows, r = t % rows;
        int64_t ch = r / ((int64_t)g->kh * g->kw), ky = r / g->kw % g->kh, kx = r % g->kw;
        const float *plane = src + (size_t)(ni * g->c + ch) * s.plane;
        float *d = dst + (size_t)t * s.oplane;
        int64_t xoff = kx * g->dw - g->pw, xlo, xhi;
        valid_range(xoff, g->sw, g->w, ow, &xlo, &xhi);
        for (int64_t oy = 0; oy < oh; oy++, d += ow) {
            int64_t iy = oy * g->sh - g->ph + ky * g->dh;
            if (iy < 0 || iy >= g->h) {
                memset(d, 0, (size_t)ow * sizeof(float));
                continue;
            }
            const float *in = plane + (size_t)iy * (size_t)g->w;
            for (int64_t ox = 0; ox < xlo; ox++)
                d[ox] = 0.0f;
            if (g->sw == 1) {
                row_copy(d + xlo, in + xlo + xoff, xhi - xlo);
            } else {
                for (int64_t ox = xlo; ox < xhi; ox++)
                    d[ox] = in[ox * g->sw + xoff];
            }
            for (int64_t ox = xhi; ox < ow; ox++)
                d[ox] = 0.0f;
        }
    }
    return 0;
}

int cpu_col2im(void *ctx, const dlh_window2d *g, int n, dlh_mem col, dlh_mem img)
{
    cpu_ctx *c = ctx;
    bchk_image_sizes s;
    int rc = bchk_col2im(&cpu_checks, g, n, col, img, &s);
    if (rc != 0 || n == 0)
        return rc;
    const float *src = cpu_f32(col);
    float *dst = cpu_f32(img);
    const int64_t kk = (int64_t)g->kh * g->kw, oh = g->oh, ow = g->ow;
    const int64_t planes = (int64_t)n * g->c;
    /* One task per (image, channel) plane: the column rows of a channel add
       only into its own plane, so tasks never write the same element. */
    #pragma omp parallel for num_threads(c->threads) if (s.col >= CPU_PAR_MIN) schedule(static)
    for (int64_t p = 0; p < planes; p++) {
        float *plane = dst + (size_t)p * s.plane;
        const float *d = src + (size_t)p * (size_t)kk * s.oplane;
        for (int64_t r = 0; r < kk; r++) {
            int64_t ky = r / g->kw, kx = r % g->kw;
            int64_t xoff = kx * g->dw - g->pw, xlo, xhi;
            valid_range(xoff, g->sw, g->w, ow, &xlo, &xhi);
            for (int64_t oy = 0; oy < oh; oy++, d += ow) {
                int64_t iy = oy * g->sh - g->ph + ky * g->dh;
                if (iy < 0 || iy >= g->h)
                    continue;
                float *out = plane + (size_t)iy * (size_t)g->w;
                if (g->sw == 1)
                    row_add(out + xlo + xoff, d + xlo, xhi - xlo);
                else
                    for (int64_t ox = xlo; ox < xhi; ox++)
                        out[ox * g->sw + xoff] += d[ox];
            }
        }
    }
    return 0;
}

/* The common 2x2, stride 2, unpadded max pool of one plane, with the
   general loop's rules: the first maximum in window order wins, and so does
   the first NaN.  Written as ifs on a cell "greater than the best so far, or
   a NaN while the best is not", a form GCC vectorises (branch-free), with the
   index as an offset from the window's corner. */
#define MAX2X2_CELL(v, off)                                      \
    if ((v) > best || ((v) != (v) && best == best)) {            \
        best = (v);                                              \
        at = (off);                                              \
    }

/* The relu layer's value of a cell: x > 0 ? x : +0 (a NaN gives +0). */
static inline float relu_cell(float v)
{
    return v > 0.0f ? v : 0.0f;
}

/* With relu, the cells are relu_cell's and the index is -1 where the
   maximum is not above 0 (backend.h pool2d_max_relu). */
#define MAX2X2_ROW(name, RELU)                                                     \
    static void name(const float *restrict r0, const float *restrict r1,          \
                     float *restrict o, int32_t *restrict io, size_t ow,           \
                     int32_t base, int32_t w)                                      \
    {                                                                              \
        for (size_t ox = 0; ox < ow; ox++) {                                       \
            float best = RELU(r0[2 * ox]);                                         \
            int32_t at = 0;                                                        \
            MAX2X2_CELL(RELU(r0[2 * ox + 1]), 1)                                   \
            MAX2X2_CELL(RELU(r1[2 * ox]), w)                                       \
            MAX2X2_CELL(RELU(r1[2 * ox + 1]), w + 1)                               \
            o[ox] = best;                                                          \
            if (io != NULL)                                                        \
                io[ox] = base + 2 * (int32_t)ox + at;                              \
        }                                                                          \
    }
#define MAX2X2_AS_IS(v) (v)
MAX2X2_ROW(max2x2_row, MAX2X2_AS_IS)
MAX2X2_ROW(max2x2_row_relu, relu_cell)
#undef MAX2X2_ROW
#undef MAX2X2_AS_IS

typedef void (*max2x2_fn)(const dlh_window2d *g, const float *in, float *out, int32_t *oi,
                          int relu);

static void max2x2_plane(const dlh_window2d *g, const float *in, float *out, int32_t *oi,
                         int relu)
{
    const size_t ow = (size_t)g->ow;
    for (int32_t oy = 0; oy < g->oh; oy++) {
        const float *r0 = in + (size_t)(2 * oy) * (size_t)g->w;
        float *o = out + (size_t)oy * ow;
        int32_t *io = oi != NULL ? oi + (size_t)oy * ow : NULL;
        if (!relu) {
            max2x2_row(r0, r0 + g->w, o, io, ow, 2 * oy * g->w, g->w);
            continue;
        }
        max2x2_row_relu(r0, r0 + g->w, o, io, ow, 2 * oy * g->w, g->w);
        for (size_t ox = 0; io != NULL && ox < ow; ox++)
            if (!(o[ox] > 0.0f))
                io[ox] = -1;
    }
}

/* pool2d, and with relu pool2d_max_relu (op DLH_POOL_MAX). */
static int pool_forward(cpu_ctx *c, dlh_pool_op op, int relu, const dlh_window2d *g, int n,
                        dlh_mem x, dlh_mem y, dlh_mem idx)
{
    bchk_image_sizes s;
    int want_idx;
    int rc = bchk_pool2d(&cpu_checks, op, g, n, x, y, idx, &s, &want_idx);
    if (rc != 0 || n == 0)
        return rc;
    const float *px = cpu_f32(x);
    float *py = cpu_f32(y);
    int32_t *pi = want_idx ? cpu_i32(idx) : NULL;
    const int64_t planes = (int64_t)n * g->c;
    /* (ceil_mode may add a window that leaves the input: not this path.) */
    if (op == DLH_POOL_MAX && g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 &&
        g->ph == 0 && g->pw == 0 && g->dh == 1 && g->dw == 1 &&
        2 * (int64_t)g->oh <= g->h && 2 * (int64_t)g->ow <= g->w) {
        /* The same bits from each (cpu_pool2x2.c). */
        int level = cpu_isa_level();
        max2x2_fn plane = CPU_ISA_PICK(level, max2x2_plane, cpu_max2x2_plane_avx2,
                                       cpu_max2x2_plane_avx512);
        #pragma omp parallel for num_threads(c->threads) if (s.img >= CPU_PAR_MIN) schedule(static)
        for (int64_t p = 0; p < planes; p++)
            plane(g, px + (size_t)p * s.plane, py + (size_t)p * s.oplane,
                  pi ? pi + (size_t)p * s.oplane : NULL, relu);
        return 0;
    }
    #pragma omp parallel for num_threads(c->threads) if (s.img >= CPU_PAR_MIN) schedule(static)
    for (int64_t p = 0; p < planes; p++) {
        const float *in = px + (size_t)p * s.plane;
        float *out = py + (size_t)p * s.oplane;
        int32_t *oi = pi ? pi + (size_t)p * s.oplane : NULL;
        for (int64_t oy = 0; oy < g->oh; oy++) {
            for (int64_t ox = 0; ox < g->ow; ox++) {
                int64_t y0 = oy * g->sh - g->ph, x0 = ox * g->sw - g->pw;
                float best = -INFINITY, sum = 0.0f;
                int64_t bi = -1, count = 0;
                /* Only cells inside the input take part: padding never wins
                   a max and is not counted by an average. */
                for (int64_t ky = 0; ky < g->kh; ky++) {
                    int64_t iy = y0 + ky * g->dh;
                    if (iy < 0 || iy >= g->h)
                        continue;
                    for (int64_t kx = 0; kx < g->kw; kx++) {
                        int64_t ix = x0 + kx * g->dw;
                        if (ix < 0 || ix >= g->w)
                            continue;
                        float v = in[iy * g->w + ix];
                        if (relu)
                            v = relu_cell(v);
                        if (op != DLH_POOL_MAX) {
                            sum += v;
                        } else if (bi < 0 || (!(v <= best) && best == best)) {
                            best = v;             /* first max; a NaN wins */
                            bi = iy * g->w + ix;
                        }
                        count++;
                    }
                }
                size_t o = (size_t)(oy * g->ow + ox);
                /* A window of padding alone (possible with dilation) gives
                   -inf with index -1 for max and 0 for avg. */
                if (op == DLH_POOL_AVG_PAD && count)
                    count = pad_cells(y0, g->dh, g->h, g->ph, g->kh) *
                            pad_cells(x0, g->dw, g->w, g->pw, g->kw);
                if (op != DLH_POOL_MAX) {
                    out[o] = count ? sum / (float)count : 0.0f;
                } else {
                    out[o] = best;
                    if (oi != NULL)
                        oi[o] = relu && !(best > 0.0f) ? -1 : (int32_t)bi;
                }
            }
        }
    }
    return 0;
}

int cpu_pool2d(void *ctx, dlh_pool_op op, const dlh_window2d *g, int n, dlh_mem x,
               dlh_mem y, dlh_mem idx)
{
    return pool_forward(ctx, op, 0, g, n, x, y, idx);
}

int cpu_pool2d_max_relu(void *ctx, const dlh_window2d *g, int n, dlh_mem x, dlh_mem y,
                        dlh_mem idx)
{
    return pool_forward(ctx, DLH_POOL_MAX, 1, g, n, x, y, idx);
}

/* dy added into the plane's cells at the max pool's indices, in output
   order; -1 (a window of padding alone, or relu passing nothing) adds
   nothing. */
static void max_scatter_plane(const float *gy, const int32_t *ix, float *gx, size_t oplane,
                              int64_t plane)
{
    for (size_t o = 0; o < oplane; o++)
        if (ix[o] >= 0 && ix[o] < plane)
            gx[ix[o]] += gy[o];
}

/* One plane of the 2x2, stride 2 max pool's backward where the windows
   cover the plane exactly: each cell is 0 + dy (fill's +0 plus the
   gradient: never -0) where its window's index points at it, else +0. */
static void max2x2_back_plane(const dlh_window2d *g, const float *dy, const int32_t *idx,
                              float *dx)
{
    const int32_t w = g->w, ow = g->ow;
    for (int32_t oy = 0; oy < g->oh; oy++) {
        float *r0 = dx + (size_t)(2 * oy) * (size_t)w, *r1 = r0 + w;
        const float *gy = dy + (size_t)oy * (size_t)ow;
        const int32_t *ix = idx + (size_t)oy * (size_t)ow;
        const int32_t base = 2 * oy * w;
        for (int32_t ox = 0; ox < ow; ox++) {
            int32_t at = ix[ox] - (base + 2 * ox);
            float v = 0.0f + gy[ox];
            r0[2 * ox] = at == 0 ? v : 0.0f;
            r0[2 * ox + 1] = at == 1 ? v : 0.0f;
            r1[2 * ox] = at == w ? v : 0.0f;
            r1[2 * ox + 1] = at == w + 1 ? v : 0.0f;
        }
    }
}

/* pool2d_backward, and with set pool2d_max_backward_set (op max): dx
   overwritten, a plane that 2x2, stride-2 windows cover exactly written
   once, other planes zeroed and added into.  Per plane, on the thread that
   pooled it forward (the same static share): windows overlap within a
   plane, never across planes. */
static int pool_backward(cpu_ctx *c, dlh_pool_op op, int set, const dlh_window2d *g, int n,
                         dlh_mem dy, dlh_mem idx, dlh_mem dx)
{
    bchk_image_sizes s;
    int rc = bchk_pool2d_backward(&cpu_checks, op, g, n, dy, idx, dx, &s);
    if (rc != 0 || n == 0)
        return rc;
    const float *pdy = cpu_f32(dy);
    const int32_t *pi = op == DLH_POOL_MAX ? cpu_i32(idx) : NULL;
    float *pdx = cpu_f32(dx);
    const int64_t planes = (int64_t)n * g->c;
    const int64_t plane = (int64_t)s.plane;
    int dense = set && g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 &&
                g->pw == 0 && g->dh == 1 && g->dw == 1 && 2 * (int64_t)g->oh == g->h &&
                2 * (int64_t)g->ow == g->w;
    int level = cpu_isa_level();   /* no AVX2 copy: the baseline's there */
    max2x2_back_fn back = CPU_ISA_PICK(level, max2x2_back_plane, max2x2_back_plane,
                                       cpu_max2x2_back_plane_avx512);
    #pragma omp parallel for num_threads(c->threads) if (s.img >= CPU_PAR_MIN) schedule(static)
    for (int64_t p = 0; p < planes; p++) {
        const float *gy = pdy + (size_t)p * s.oplane;
        float *gx = pdx + (size_t)p * s.plane;
        if (op == DLH_POOL_MAX) {
            const int32_t *ix = pi + (size_t)p * s.oplane;
            if (dense) {
                back(g, gy, ix, gx);
                continue;
            }
            for (int64_t i = 0; set && i < plane; i++)
                gx[i] = 0.0f;
            max_scatter_plane(gy, ix, gx, s.oplane, plane);
            continue;
        }
        for (int64_t oy = 0; oy < g->oh; oy++) {
            for (int64_t ox = 0; ox < g->ow; ox++) {
                int64_t y0 = oy * g->sh - g->ph, x0 = ox * g->sw - g->pw;
                int64_t ylo, yhi, xlo, xhi;
                valid_range(y0, g->dh, g->h, g->kh, &ylo, &yhi);
                valid_range(x0, g->dw, g->w, g->kw, &xlo, &xhi);
                int64_t count = (yhi - ylo) * (xhi - xlo);
                if (count == 0)
                    continue;
                if (op == DLH_POOL_AVG_PAD)
                    count = pad_cells(y0, g->dh, g->h, g->ph, g->kh) *
                            pad_cells(x0, g->dw, g->w, g->pw, g->kw);
                float v = gy[oy * g->ow + ox] / (float)count;
                for (int64_t ky = ylo; ky < yhi; ky++)
                    for (int64_t kx = xlo; kx < xhi; kx++)
                        gx[(y0 + ky * g->dh) * g->w + x0 + kx * g->dw] += v;
            }
        }
    }
    return 0;
}

int cpu_pool2d_backward(void *ctx, dlh_pool_op op, const dlh_window2d *g, int n,
                        dlh_mem dy, dlh_mem idx, dlh_mem dx)
{
    return pool_backward(ctx, op, 0, g, n, dy, idx, dx);
}

int cpu_pool2d_max_backward_set(void *ctx, const dlh_window2d *g, int n, dlh_mem dy,
                                dlh_mem idx, dlh_mem dx)
{
    return pool_backward(ctx, DLH_POOL_MAX, 1, g, n, dy, idx, dx);
}
