/* im2col / col2im and 2-D pooling over NCHW images: the shared geometry
 * checks (common/backend_checks.c), then one kernel each (gpu/gpu_source.c).
 * On CPU devices im2col and col2im take a work-item per row instead of one
 * per element: PoCL runs a work-item's 64-bit index divisions in scalar
 * code, and per element they cost more than the copy (bench/README.md). */
#include "opencl.h"

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
    bchk_image_sizes s;
    int rc = bchk_im2col(&ocl_checks, g, n, img, col, &s);
    if (rc != 0 || n == 0 || s.col == 0)
        return rc;
    cl_int16 gv = geometry(g);
    ocl_ctx *c = ctx;
    int rows = (c->type & CL_DEVICE_TYPE_CPU) != 0;
    cl_ulong total = rows ? s.col / (size_t)g->ow : s.col, io = img.off, co = col.off;
    const ocl_arg args[] = { OCL_ARG(gv), OCL_ARG(total), OCL_ARG(img.buf->mem),
                             OCL_ARG(io), OCL_ARG(col.buf->mem), OCL_ARG(co) };
    return ocl_launch(c, rows ? GPU_K_IM2COL_ROWS : GPU_K_IM2COL, "im2col", total, args, 6);
}

int ocl_col2im(void *ctx, const dlh_window2d *g, int n, dlh_mem col, dlh_mem img)
{
    bchk_image_sizes s;
    int rc = bchk_col2im(&ocl_checks, g, n, col, img, &s);
    if (rc != 0 || n == 0 || s.img == 0)
        return rc;
    cl_int16 gv = geometry(g);
    ocl_ctx *c = ctx;
    int rows = (c->type & CL_DEVICE_TYPE_CPU) != 0;
    cl_ulong total = rows ? s.img / (size_t)g->w : s.img, co = col.off, io = img.off;
    const ocl_arg args[] = { OCL_ARG(gv), OCL_ARG(total), OCL_ARG(col.buf->mem),
                             OCL_ARG(co), OCL_ARG(img.buf->mem), OCL_ARG(io) };
    return ocl_launch(c, rows ? GPU_K_COL2IM_ROWS : GPU_K_COL2IM, "col2im", total, args, 6);
}

/* pool2d; relu: pool2d_max_relu (the kernel's op 3). */
static int pool_forward(void *ctx, dlh_pool_op op, int relu, const dlh_window2d *g, int n,
                        dlh_mem x, dlh_mem y, dlh_mem idx)
{
    bchk_image_sizes s;
    int want_idx;
    int rc = bchk_pool2d(&ocl_checks, op, g, n, x, y, idx, &s, &want_idx);
    if (rc != 0 || n == 0)
        return rc;
    cl_int16 gv = geometry(g);
    cl_int cop = relu ? 3 : (cl_int)op, cwant = want_idx;
    cl_ulong total = s.out, xo = x.off, yo = y.off, io = want_idx ? idx.off : 0;
    cl_mem im = want_idx ? idx.buf->mem : y.buf->mem;
    const ocl_arg args[] = { OCL_ARG(gv), OCL_ARG(cop), OCL_ARG(total), OCL_ARG(x.buf->mem),
                             OCL_ARG(xo), OCL_ARG(y.buf->mem), OCL_ARG(yo), OCL_ARG(im),
                             OCL_ARG(io), OCL_ARG(cwant) };
    return ocl_launch(ctx, GPU_K_POOL, relu ? "pool2d_max_relu" : "pool2d", s.out, args, 10);
}

int ocl_pool2d(void *ctx, dlh_pool_op op, const dlh_window2d *g, int n, dlh_mem x,
               dlh_mem y, dlh_mem idx)
{
    return pool_forward(ctx, op, 0, g, n, x, y, idx);
}

int ocl_pool2d_max_relu(void *ctx, const dlh_window2d *g, int n, dlh_mem x, dlh_mem y,
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
    int rc = bchk_pool2d_backward(&ocl_checks, op, g, n, dy, idx, dx, &s);
    if (rc != 0 || n == 0)
        return rc;
    cl_int16 gv = geometry(g);
    cl_ulong dyo = dy.off, dxo = dx.off;
    if (op == DLH_POOL_MAX) {
        cl_ulong planes = (cl_ulong)n * (cl_ulong)g->c, io = idx.off;
        cl_int cset = set;
        const ocl_arg args[] = { OCL_ARG(gv), OCL_ARG(planes), OCL_ARG(dy.buf->mem),
                                 OCL_ARG(dyo), OCL_ARG(idx.buf->mem), OCL_ARG(io),
                                 OCL_ARG(dx.buf->mem), OCL_ARG(dxo), OCL_ARG(cset) };
        return ocl_launch(ctx, GPU_K_POOL_BWD_MAX,
                          set ? "pool2d_max_backward_set" : "pool2d_backward",
                          (size_t)planes, args, 9);
    }
    cl_ulong total = s.img;
    cl_int cop = (cl_int)op;
    const ocl_arg args[] = { OCL_ARG(gv), OCL_ARG(total), OCL_ARG(dy.buf->mem),
                             OCL_ARG(dyo), OCL_ARG(dx.buf->mem), OCL_ARG(dxo),
                             OCL_ARG(cop) };
    return ocl_launch(ctx, GPU_K_POOL_BWD_AVG, "pool2d_backward", s.img, args, 7);
}

int ocl_pool2d_backward(void *ctx, dlh_pool_op op, const dlh_window2d *g, int n,
                        dlh_mem dy, dlh_mem idx, dlh_mem dx)
{
    return pool_backward(ctx, op, 0, g, n, dy, idx, dx);
}

int ocl_pool2d_max_backward_set(void *ctx, const dlh_window2d *g, int n, dlh_mem dy,
                                dlh_mem idx, dlh_mem dx)
{
    return pool_backward(ctx, DLH_POOL_MAX, 1, g, n, dy, idx, dx);
}
