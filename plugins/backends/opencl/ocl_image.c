/* im2col / col2im and 2-D pooling over NCHW images: the cpu backend's
 * geometry checks, then one kernel each (ocl_source.c). */
#include "opencl.h"

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
        ocl_host->error("opencl %s: no window geometry (NULL)", prim);
        return DLH_EINVAL;
    }
    if (g->struct_size < sizeof(dlh_window2d)) {
        ocl_host->error("opencl %s: dlh_window2d.struct_size is %u, expected at least %zu "
                        "(set it to sizeof(dlh_window2d))", prim, g->struct_size,
                        sizeof(dlh_window2d));
        return DLH_EINVAL;
    }
    if (n < 0 || g->c < 1 || g->h < 1 || g->w < 1 || g->kh < 1 || g->kw < 1 ||
        g->sh < 1 || g->sw < 1 || g->ph < 0 || g->pw < 0 || g->dh < 1 || g->dw < 1) {
        ocl_host->error("opencl %s: bad window: n=%d c=%d h=%d w=%d kernel %dx%d stride "
                        "%dx%d padding %dx%d dilation %dx%d (expected n >= 0, padding "
                        ">= 0, the others >= 1)", prim, n, g->c, g->h, g->w, g->kh,
                        g->kw, g->sh, g->sw, g->ph, g->pw, g->dh, g->dw);
        return DLH_EINVAL;
    }
    int64_t eh = (int64_t)g->dh * (g->kh - 1) + 1, ew = (int64_t)g->dw * (g->kw - 1) + 1;
    int64_t ph = (int64_t)g->h + 2 * (int64_t)g->ph, pw = (int64_t)g->w + 2 * (int64_t)g->pw;
    if (eh > ph || ew > pw) {
        ocl_host->error("opencl %s: the dilated %lldx%lld window is larger than the padded "
                        "%lldx%lld input", prim, (long long)eh, (long long)ew,
                        (long long)ph, (long long)pw);
        return DLH_EINVAL;
    }
    int64_t oh = (ph - eh) / g->sh + 1, ow = (pw - ew) / g->sw + 1;
    if (g->oh != oh || g->ow != ow) {
        ocl_host->error("opencl %s: output size %dx%d does not match the window (expected "
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
    /* The kernels index a plane and a window's taps with int. */
    if (!fits || plane > INT32_MAX || (int64_t)g->kh * g->kw > INT32_MAX) {
        ocl_host->error("opencl %s: sizes overflow (n=%d c=%d h=%d w=%d)", prim, n, g->c,
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

/* The geometry as the kernels' int16. */
static cl_int16 geometry(const dlh_window2d *g)
{
    cl_int16 v = { { 0 } };
    const int32_t f[13] = { g->c, g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->ph, g->pw,
                            g->dh, g->dw, g->oh, g->ow };
    for (int i = 0; i < 13; i++)
        v.s[i] = f[i];
    return v;
}

int ocl_im2col(void *ctx, const dlh_window2d *g, int n, dlh_mem img, dlh_mem col)
{
    image_sizes s;
    int rc = window_check("im2col", g, n, &s);
    if (rc == 0)
        rc = ocl_check_mem("im2col", "img", img, s.img, sizeof(float));
    if (rc == 0)
        rc = ocl_check_mem("im2col", "col", col, s.col, sizeof(float));
    if (rc != 0 || n == 0)
        return rc;
    cl_int16 gv = geometry(g);
    cl_ulong total = s.col, io = img.off, co = col.off;
    const ocl_arg args[] = { OCL_ARG(gv), OCL_ARG(total), OCL_ARG(img.buf->mem),
                             OCL_ARG(io), OCL_ARG(col.buf->mem), OCL_ARG(co) };
    return ocl_launch(ctx, OCL_K_IM2COL, "im2col", s.col, args, 6);
}

int ocl_col2im(void *ctx, const dlh_window2d *g, int n, dlh_mem col, dlh_mem img)
{
    image_sizes s;
    int rc = window_check("col2im", g, n, &s);
    if (rc == 0)
        rc = ocl_check_mem("col2im", "col", col, s.col, sizeof(float));
    if (rc == 0)
        rc = ocl_check_mem("col2im", "img", img, s.img, sizeof(float));
    if (rc != 0 || n == 0)
        return rc;
    cl_int16 gv = geometry(g);
    cl_ulong total = s.img, co = col.off, io = img.off;
    const ocl_arg args[] = { OCL_ARG(gv), OCL_ARG(total), OCL_ARG(col.buf->mem),
                             OCL_ARG(co), OCL_ARG(img.buf->mem), OCL_ARG(io) };
    return ocl_launch(ctx, OCL_K_COL2IM, "col2im", s.img, args, 6);
}

static int pool_op_check(const char *prim, dlh_pool_op op)
{
    if (op != DLH_POOL_MAX && op != DLH_POOL_AVG) {
        ocl_host->error("opencl %s: unknown op %d (expected max 0, avg 1)", prim, (int)op);
        return DLH_EINVAL;
    }
    return 0;
}

int ocl_pool2d(void *ctx, dlh_pool_op op, const dlh_window2d *g, int n, dlh_mem x,
               dlh_mem y, dlh_mem idx)
{
    image_sizes s;
    int rc = pool_op_check("pool2d", op);
    if (rc == 0)
        rc = window_check("pool2d", g, n, &s);
    /* The indices are only needed by a later backward: NULL skips them. */
    int want_idx = op == DLH_POOL_MAX && idx.buf != NULL;
    if (rc == 0)
        rc = ocl_check_mem("pool2d", "x", x, s.img, sizeof(float));
    if (rc == 0)
        rc = ocl_check_mem("pool2d", "y", y, s.out, sizeof(float));
    if (rc == 0 && want_idx)
        rc = ocl_check_mem("pool2d", "idx", idx, s.out, sizeof(int32_t));
    if (rc != 0 || n == 0)
        return rc;
    cl_int16 gv = geometry(g);
    cl_int cop = (cl_int)op, cwant = want_idx;
    cl_ulong total = s.out, xo = x.off, yo = y.off, io = want_idx ? idx.off : 0;
    cl_mem im = want_idx ? idx.buf->mem : y.buf->mem;
    const ocl_arg args[] = { OCL_ARG(gv), OCL_ARG(cop), OCL_ARG(total), OCL_ARG(x.buf->mem),
                             OCL_ARG(xo), OCL_ARG(y.buf->mem), OCL_ARG(yo), OCL_ARG(im),
                             OCL_ARG(io), OCL_ARG(cwant) };
    return ocl_launch(ctx, OCL_K_POOL, "pool2d", s.out, args, 10);
}

int ocl_pool2d_backward(void *ctx, dlh_pool_op op, const dlh_window2d *g, int n,
                        dlh_mem dy, dlh_mem idx, dlh_mem dx)
{
    image_sizes s;
    int rc = pool_op_check("pool2d_backward", op);
    if (rc == 0)
        rc = window_check("pool2d_backward", g, n, &s);
    if (rc == 0)
        rc = ocl_check_mem("pool2d_backward", "dy", dy, s.out, sizeof(float));
    if (rc == 0 && op == DLH_POOL_MAX)
        rc = ocl_check_mem("pool2d_backward", "idx", idx, s.out, sizeof(int32_t));
    if (rc == 0)
        rc = ocl_check_mem("pool2d_backward", "dx", dx, s.img, sizeof(float));
    if (rc != 0 || n == 0)
        return rc;
    cl_int16 gv = geometry(g);
    cl_ulong dyo = dy.off, dxo = dx.off;
    if (op == DLH_POOL_MAX) {
        cl_ulong planes = (cl_ulong)n * (cl_ulong)g->c, io = idx.off;
        const ocl_arg args[] = { OCL_ARG(gv), OCL_ARG(planes), OCL_ARG(dy.buf->mem),
                                 OCL_ARG(dyo), OCL_ARG(idx.buf->mem), OCL_ARG(io),
                                 OCL_ARG(dx.buf->mem), OCL_ARG(dxo) };
        return ocl_launch(ctx, OCL_K_POOL_BWD_MAX, "pool2d_backward", (size_t)planes, args,
                          8);
    }
    cl_ulong total = s.img;
    const ocl_arg args[] = { OCL_ARG(gv), OCL_ARG(total), OCL_ARG(dy.buf->mem),
                             OCL_ARG(dyo), OCL_ARG(dx.buf->mem), OCL_ARG(dxo) };
    return ocl_launch(ctx, OCL_K_POOL_BWD_AVG, "pool2d_backward", s.img, args, 6);
}
