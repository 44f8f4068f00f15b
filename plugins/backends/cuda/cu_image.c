/* im2col / col2im and 2-D pooling over NCHW images: the shared geometry
 * checks (common/backend_checks.c), then one kernel each (gpu/gpu_source.c,
 * the same as the opencl backend's). */
#include <stdint.h>

#include "cuda_backend.h"

/* The geometry as the kernels' int16 (a struct of 16 ints in CUDA). */
typedef struct { int32_t s[16]; } cu_int16;

static cu_int16 geometry(const dlh_window2d *g)
{
    cu_int16 v = { { 0 } };
    const int32_t f[13] = { g->c, g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->ph, g->pw,
                            g->dh, g->dw, g->oh, g->ow };
    for (int i = 0; i < 13; i++)
        v.s[i] = f[i];
    return v;
}

int cu_im2col(void *ctx, const dlh_window2d *g, int n, dlh_mem img, dlh_mem col)
{
    bchk_image_sizes s;
    int rc = bchk_im2col(&cu_checks, g, n, img, col, &s);
    if (rc != 0 || n == 0)
        return rc;
    cu_int16 gv = geometry(g);
    unsigned long long total = s.col, io = img.off, co = col.off;
    void *p[] = { &gv, &total, &img.buf->ptr, &io, &col.buf->ptr, &co };
    return cu_launch(ctx, GPU_K_IM2COL, "im2col", s.col, p);
}

int cu_col2im(void *ctx, const dlh_window2d *g, int n, dlh_mem col, dlh_mem img)
{
    bchk_image_sizes s;
    int rc = bchk_col2im(&cu_checks, g, n, col, img, &s);
    if (rc != 0 || n == 0)
        return rc;
    cu_int16 gv = geometry(g);
    unsigned long long total = s.img, co = col.off, io = img.off;
    void *p[] = { &gv, &total, &col.buf->ptr, &co, &img.buf->ptr, &io };
    return cu_launch(ctx, GPU_K_COL2IM, "col2im", s.img, p);
}

/* pool2d; relu: pool2d_max_relu (the kernel's op 3). */
static int pool_forward(void *ctx, dlh_pool_op op, int relu, const dlh_window2d *g, int n,
                        dlh_mem x, dlh_mem y, dlh_mem idx)
{
    bchk_image_sizes s;
    int want_idx;
    int rc = bchk_pool2d(&cu_checks, op, g, n, x, y, idx, &s, &want_idx);
    if (rc != 0 || n == 0)
        return rc;
    cu_int16 gv = geometry(g);
    int cop = relu ? 3 : (int)op, cwant = want_idx;
    unsigned long long total = s.out, xo = x.off, yo = y.off, io = want_idx ? idx.off : 0;
    cu_ptr im = want_idx ? idx.buf->ptr : y.buf->ptr;
    void *p[] = { &gv, &cop, &total, &x.buf->ptr, &xo, &y.buf->ptr, &yo, &im, &io, &cwant };
    return cu_launch(ctx, GPU_K_POOL, relu ? "pool2d_max_relu" : "pool2d", s.out, p);
}

int cu_pool2d(void *ctx, dlh_pool_op op, const dlh_window2d *g, int n, dlh_mem x, dlh_mem y,
              dlh_mem idx)
{
    return pool_forward(ctx, op, 0, g, n, x, y, idx);
}

int cu_pool2d_max_relu(void *ctx, const dlh_window2d *g, int n, dlh_mem x, dlh_mem y,
                       dlh_mem idx)
{
    return pool_forward(ctx, DLH_POOL_MAX, 1, g, n, x, y, idx);
}

/* pool2d_backward; set: pool2d_max_backward_set (op max, dx zeroed first
   by the same kernel, plane by plane). */
static int pool_backward(void *ctx, dlh_pool_op op, int set, const dlh_window2d *g, int n,
                         dlh_mem dy, dlh_mem idx, dlh_mem dx)
{
    bchk_image_sizes s;
    int rc = bchk_pool2d_backward(&cu_checks, op, g, n, dy, idx, dx, &s);
    if (rc != 0 || n == 0)
        return rc;
    cu_int16 gv = geometry(g);
    unsigned long long dyo = dy.off, dxo = dx.off;
    if (op == DLH_POOL_MAX) {
        unsigned long long planes = (unsigned long long)n * (unsigned long long)g->c,
                           io = idx.off;
        int cset = set;
        void *p[] = { &gv, &planes, &dy.buf->ptr, &dyo, &idx.buf->ptr, &io, &dx.buf->ptr,
                      &dxo, &cset };
        return cu_launch(ctx, GPU_K_POOL_BWD_MAX,
                         set ? "pool2d_max_backward_set" : "pool2d_backward", (size_t)planes,
                         p);
    }
    unsigned long long total = s.img;
    int cop = (int)op;
    void *p[] = { &gv, &total, &dy.buf->ptr, &dyo, &dx.buf->ptr, &dxo, &cop };
    return cu_launch(ctx, GPU_K_POOL_BWD_AVG, "pool2d_backward", s.img, p);
}

int cu_pool2d_backward(void *ctx, dlh_pool_op op, const dlh_window2d *g, int n, dlh_mem dy,
                       dlh_mem idx, dlh_mem dx)
{
    return pool_backward(ctx, op, 0, g, n, dy, idx, dx);
}

int cu_pool2d_max_backward_set(void *ctx, const dlh_window2d *g, int n, dlh_mem dy,
                               dlh_mem idx, dlh_mem dx)
{
    return pool_backward(ctx, DLH_POOL_MAX, 1, g, n, dy, idx, dx);
}
