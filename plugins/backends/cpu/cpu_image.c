/* im2col / col2im and 2-D pooling over NCHW images. */
#include <math.h>
#include <string.h>

#include "cpu.h"

/* Element counts of one call, checked for overflow. */
typedef struct image_sizes {
    size_t plane;       /* h * w */
    size_t oplane;      /* oh * ow */
    size_t img;         /* n * c * h * w */
    size_t out;         /* n * c * oh * ow */
    size_t col;         /* n * c * kh * kw * oh * ow */
} image_sizes;

static int size_mul(size_t *acc, int64_t v)
{
    size_t r;
    if (v < 0 || __builtin_mul_overflow(*acc, (size_t)v, &r))
        return 0;
    *acc = r;
    return 1;
}

/* Validates the geometry (including the caller's oh, ow) and computes sizes. */
static int window_check(const char *prim, const dlh_window2d *g, int n, image_sizes *s)
{
    if (g == NULL) {
        cpu_host->error("cpu %s: no window geometry (NULL)", prim);
        return DLH_EINVAL;
    }
    if (g->struct_size < sizeof(dlh_window2d)) {
        cpu_host->error("cpu %s: dlh_window2d.struct_size is %u, expected at least %zu "
                        "(set it to sizeof(dlh_window2d))", prim, g->struct_size,
                        sizeof(dlh_window2d));
        return DLH_EINVAL;
    }
    if (n < 0 || g->c < 1 || g->h < 1 || g->w < 1 || g->kh < 1 || g->kw < 1 ||
        g->sh < 1 || g->sw < 1 || g->ph < 0 || g->pw < 0 || g->dh < 1 || g->dw < 1) {
        cpu_host->error("cpu %s: bad window: n=%d c=%d h=%d w=%d kernel %dx%d stride "
                        "%dx%d padding %dx%d dilation %dx%d (expected n >= 0, padding "
                        ">= 0, the others >= 1)", prim, n, g->c, g->h, g->w, g->kh,
                        g->kw, g->sh, g->sw, g->ph, g->pw, g->dh, g->dw);
        return DLH_EINVAL;
    }
    int64_t eh = (int64_t)g->dh * (g->kh - 1) + 1, ew = (int64_t)g->dw * (g->kw - 1) + 1;
    int64_t ph = (int64_t)g->h + 2 * (int64_t)g->ph, pw = (int64_t)g->w + 2 * (int64_t)g->pw;
    if (eh > ph || ew > pw) {
        cpu_host->error("cpu %s: the dilated %lldx%lld window is larger than the padded "
                        "%lldx%lld input", prim, (long long)eh, (long long)ew,
                        (long long)ph, (long long)pw);
        return DLH_EINVAL;
    }
    int64_t oh = (ph - eh) / g->sh + 1, ow = (pw - ew) / g->sw + 1;
    if (g->oh != oh || g->ow != ow) {
        cpu_host->error("cpu %s: output size %dx%d does not match the window (expected "
                        "%lldx%lld = (in + 2 pad - dilation (kernel-1) - 1)/stride + 1)",
                        prim, g->oh, g->ow, (long long)oh, (long long)ow);
        return DLH_EINVAL;
    }
    size_t plane = 1, oplane = 1, img = 1, out, col;
    int fits = size_mul(&plane, g->h) && size_mul(&plane, g->w) &&
               size_mul(&oplane, oh) && size_mul(&oplane, ow) &&
               size_mul(&img, n) && size_mul(&img, g->c);
    out = img;
    fits = fits && size_mul(&out, (int64_t)oplane);
    col = out;
    fits = fits && size_mul(&col, g->kh) && size_mul(&col, g->kw) &&
           size_mul(&img, (int64_t)plane);
    if (!fits || plane > INT32_MAX) {
        cpu_host->error("cpu %s: sizes overflow (n=%d c=%d h=%d w=%d)", prim, n, g->c,
                        g->h, g->w);
        return DLH_EINVAL;
    }
    s->plane = plane;
    s->oplane = oplane;
    s->img = img;
    s->out = out;
    s->col = col;
    return 0;
}

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
    image_sizes s;
    int rc = window_check("im2col", g, n, &s);
    if (rc == 0)
        rc = cpu_check_mem("im2col", "img", img, s.img, sizeof(float));
    if (rc == 0)
        rc = cpu_check_mem("im2col", "col", col, s.col, sizeof(float));
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
    image_sizes s;
    int rc = window_check("col2im", g, n, &s);
    if (rc == 0)
        rc = cpu_check_mem("col2im", "col", col, s.col, sizeof(float));
    if (rc == 0)
        rc = cpu_check_mem("col2im", "img", img, s.img, sizeof(float));
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

static int pool_op_check(const char *prim, dlh_pool_op op)
{
    if (op != DLH_POOL_MAX && op != DLH_POOL_AVG) {
        cpu_host->error("cpu %s: unknown op %d (expected max 0, avg 1)", prim, (int)op);
        return DLH_EINVAL;
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

static void max2x2_row(const float *restrict r0, const float *restrict r1,
                       float *restrict o, int32_t *restrict io, size_t ow,
                       int32_t base, int32_t w)
{
    for (size_t ox = 0; ox < ow; ox++) {
        float best = r0[2 * ox];
        int32_t at = 0;
        MAX2X2_CELL(r0[2 * ox + 1], 1)
        MAX2X2_CELL(r1[2 * ox], w)
        MAX2X2_CELL(r1[2 * ox + 1], w + 1)
        o[ox] = best;
        io[ox] = base + 2 * (int32_t)ox + at;
    }
}

static void max2x2_row_noidx(const float *restrict r0, const float *restrict r1,
                             float *restrict o, size_t ow)
{
    for (size_t ox = 0; ox < ow; ox++) {
        float best = r0[2 * ox];
        int32_t at = 0;
        MAX2X2_CELL(r0[2 * ox + 1], 1)
        MAX2X2_CELL(r1[2 * ox], 2)
        MAX2X2_CELL(r1[2 * ox + 1], 3)
        (void)at;
        o[ox] = best;
    }
}

static void max2x2_plane(const dlh_window2d *g, const float *in, float *out, int32_t *oi)
{
    const size_t ow = (size_t)g->ow;
    for (int32_t oy = 0; oy < g->oh; oy++) {
        const float *r0 = in + (size_t)(2 * oy) * (size_t)g->w;
        if (oi != NULL)
            max2x2_row(r0, r0 + g->w, out + (size_t)oy * ow, oi + (size_t)oy * ow, ow,
                       2 * oy * g->w, g->w);
        else
            max2x2_row_noidx(r0, r0 + g->w, out + (size_t)oy * ow, ow);
    }
}

int cpu_pool2d(void *ctx, dlh_pool_op op, const dlh_window2d *g, int n, dlh_mem x,
               dlh_mem y, dlh_mem idx)
{
    cpu_ctx *c = ctx;
    image_sizes s;
    int rc = pool_op_check("pool2d", op);
    if (rc == 0)
        rc = window_check("pool2d", g, n, &s);
    /* The indices are only needed by a later backward: NULL skips them. */
    int want_idx = op == DLH_POOL_MAX && idx.buf != NULL;
    if (rc == 0)
        rc = cpu_check_mem("pool2d", "x", x, s.img, sizeof(float));
    if (rc == 0)
        rc = cpu_check_mem("pool2d", "y", y, s.out, sizeof(float));
    if (rc == 0 && want_idx)
        rc = cpu_check_mem("pool2d", "idx", idx, s.out, sizeof(int32_t));
    if (rc != 0 || n == 0)
        return rc;
    const float *px = cpu_f32(x);
    float *py = cpu_f32(y);
    int32_t *pi = want_idx ? cpu_i32(idx) : NULL;
    const int64_t planes = (int64_t)n * g->c;
    if (op == DLH_POOL_MAX && g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 &&
        g->ph == 0 && g->pw == 0 && g->dh == 1 && g->dw == 1) {
        #pragma omp parallel for num_threads(c->threads) if (s.img >= CPU_PAR_MIN) schedule(static)
        for (int64_t p = 0; p < planes; p++)
            max2x2_plane(g, px + (size_t)p * s.plane, py + (size_t)p * s.oplane,
                         pi ? pi + (size_t)p * s.oplane : NULL);
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
                        if (op == DLH_POOL_AVG) {
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
                if (op == DLH_POOL_AVG) {
                    out[o] = count ? sum / (float)count : 0.0f;
                } else {
                    out[o] = best;
                    if (oi != NULL)
                        oi[o] = (int32_t)bi;
                }
            }
        }
    }
    return 0;
}

int cpu_pool2d_backward(void *ctx, dlh_pool_op op, const dlh_window2d *g, int n,
                        dlh_mem dy, dlh_mem idx, dlh_mem dx)
{
    cpu_ctx *c = ctx;
    image_sizes s;
    int rc = pool_op_check("pool2d_backward", op);
    if (rc == 0)
        rc = window_check("pool2d_backward", g, n, &s);
    if (rc == 0)
        rc = cpu_check_mem("pool2d_backward", "dy", dy, s.out, sizeof(float));
    if (rc == 0 && op == DLH_POOL_MAX)
        rc = cpu_check_mem("pool2d_backward", "idx", idx, s.out, sizeof(int32_t));
    if (rc == 0)
        rc = cpu_check_mem("pool2d_backward", "dx", dx, s.img, sizeof(float));
    if (rc != 0 || n == 0)
        return rc;
    const float *pdy = cpu_f32(dy);
    const int32_t *pi = op == DLH_POOL_MAX ? cpu_i32(idx) : NULL;
    float *pdx = cpu_f32(dx);
    const int64_t planes = (int64_t)n * g->c;
    const int64_t plane = (int64_t)s.plane;
    /* Per plane: windows overlap within a plane, never across planes. */
    #pragma omp parallel for num_threads(c->threads) if (s.img >= CPU_PAR_MIN) schedule(static)
    for (int64_t p = 0; p < planes; p++) {
        const float *gy = pdy + (size_t)p * s.oplane;
        float *gx = pdx + (size_t)p * s.plane;
        if (op == DLH_POOL_MAX) {
            const int32_t *ix = pi + (size_t)p * s.oplane;
            for (size_t o = 0; o < s.oplane; o++)
                if (ix[o] >= 0 && ix[o] < plane)   /* -1: a window of padding alone */
                    gx[ix[o]] += gy[o];
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
                float v = gy[oy * g->ow + ox] / (float)count;
                for (int64_t ky = ylo; ky < yhi; ky++)
                    for (int64_t kx = xlo; kx < xhi; kx++)
                        gx[(y0 + ky * g->dh) * g->w + x0 + kx * g->dw] += v;
            }
        }
    }
    return 0;
}
