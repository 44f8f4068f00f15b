/* dlhost SDK — compute backends.
 *
 * A backend is a vtable of primitives that layers, losses and optimisers
 * compose: memory, gemm, fused elementwise programs, reductions, softmax,
 * im2col/col2im, pooling, gather/scatter and Philox random fills.  Every
 * primitive works on float32 unless documented otherwise, takes element
 * offsets through dlh_mem, returns 0 or a negative DLH_E* code (message set
 * through host->error), and may run asynchronously until `sync` or `read`.
 * A backend instance is used from one thread at a time. */
#ifndef DLHOST_BACKEND_H
#define DLHOST_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "ew.h"
#include "tensor.h"

struct dlh_host;
struct dlh_params;

typedef enum dlh_reduce_op {
    DLH_REDUCE_SUM = 0,
    DLH_REDUCE_MAX = 1,     /* also writes the argmax (int32) when idx.buf != NULL */
    DLH_REDUCE_SUMSQ = 2
} dlh_reduce_op;

typedef enum dlh_pool_op {
    DLH_POOL_MAX = 0,       /* forward records int32 argmax within the input plane */
    DLH_POOL_AVG = 1,       /* averages over the window cells inside the input
                               (padding excluded: PyTorch count_include_pad=False) */
    /* ABI 1.6 ops go below this line; a backend built for 1.5 refuses them. */
    DLH_POOL_AVG_PAD = 2    /* sum over the cells inside the input divided by the
                               window cells inside the padded input (PyTorch
                               count_include_pad=True, ceil_mode included) */
} dlh_pool_op;

typedef enum dlh_rand_dist {
    DLH_RAND_UNIFORM = 0,   /* a + (b-a) u, u in [0,1) */
    DLH_RAND_NORMAL = 1,    /* mean a, standard deviation b */
    DLH_RAND_BERNOULLI = 2  /* 1 with probability a, else 0 */
} dlh_rand_dist;

/* Geometry of a 2-D window (convolution or pooling) over C x H x W planes. */
typedef struct dlh_window2d {
    uint32_t struct_size;
    int32_t c, h, w;          /* input channels and size */
    int32_t kh, kw;           /* window */
    int32_t sh, sw;           /* stride */
    int32_t ph, pw;           /* zero padding on each side */
    int32_t dh, dw;           /* dilation (1 = none) */
    int32_t oh, ow;           /* output size; filled by the caller:
                                 (h + 2ph - dh(kh-1) - 1)/sh + 1; pool2d also
                                 takes dlh_pool2d_ceil_size's, im2col and
                                 col2im others (ABI 1.6, see there) */
} dlh_window2d;

/* PyTorch's ceil_mode output size of a pooling window of `extent` cells
   (dilation included) over `size` cells padded by `pad` on each side, taken
   `stride` apart: ceil((size + 2 pad - extent) / stride) + 1, less one when
   that last window would start in the right padding.  0 when the window does
   not fit.  (ABI 1.6) */
static inline int64_t dlh_pool2d_ceil_size(int64_t size, int64_t pad, int64_t extent,
                                           int64_t stride)
{
    int64_t span = size + 2 * pad - extent, out;
    if (span < 0 || stride < 1)
        return 0;
    out = (span + stride - 1) / stride + 1;
    if ((out - 1) * stride >= size + pad)
        out--;
    return out;
}

/* A 2-D convolution for the optional conv2d primitives (ABI 1.9): x is
   NCHW [n, g.c, g.h, g.w], the weight [out_c, g.c/groups, g.kh, g.kw]
   (PyTorch's layout), the bias [out_c], y [n, out_c, g.oh, g.ow].  g.oh and
   g.ow are what im2col takes: a size past the window's own pads the bottom
   (right) beyond g.ph (g.pw), as padding = "same" with an even kernel does. */
typedef struct dlh_conv2d_desc {
    uint32_t struct_size;
    dlh_window2d g;
    int32_t n;              /* the largest batch the plan runs */
    int32_t out_c;
    int32_t groups;         /* g.c and out_c divisible by it; 1 = dense */
    int32_t has_bias;
} dlh_conv2d_desc;

typedef struct dlh_backend_ops {
    uint32_t struct_size;

    /* optional: 1 when usable on this machine, 0 when not (skipped, not an
       error; host->error may say why); NULL means always usable. */
    int (*probe)(const struct dlh_host *host);
    /* Reads its parameters and makes an instance; *ctx is passed back to
       every call.  destroy is called even when create fails. */
    int (*create)(const struct dlh_host *host, struct dlh_params *params, void **ctx);
    void (*destroy)(void *ctx);
    /* One line: library, version, device, threads ("OpenBLAS 0.3.21, Zen, 2 threads"). */
    int (*describe)(void *ctx, char *buf, size_t size);

    /* ---- memory; offsets and sizes in bytes ---- */
    int (*alloc)(void *ctx, size_t bytes, dlh_buffer **out);
    void (*free)(void *ctx, dlh_buffer *buf);                 /* NULL is a no-op */
    int (*write)(void *ctx, dlh_buffer *dst, size_t dst_off, const void *src, size_t bytes);
    int (*read)(void *ctx, dlh_buffer *src, size_t src_off, void *dst, size_t bytes); /* waits */
    int (*copy)(void *ctx, dlh_buffer *dst, size_t dst_off, dlh_buffer *src,
                size_t src_off, size_t bytes);
    int (*fill)(void *ctx, dlh_mem dst, size_t n, float value);
    int (*sync)(void *ctx);                                   /* waits for queued work */

    /* ---- dense linear algebra, row-major ----
       C = alpha op(A) op(B) + beta C; op(A) is m x k, op(B) k x n, C m x n;
       lda/ldb/ldc are row strides of A, B, C as stored. */
    int (*gemm)(void *ctx, int trans_a, int trans_b, int m, int n, int k,
                float alpha, dlh_mem a, int lda, dlh_mem b, int ldb,
                float beta, dlh_mem c, int ldc);
    /* The same for `batch` problems whose matrices start stride_* elements
       apart (a stride of 0 shares one matrix across the batch). */
    int (*gemm_batched)(void *ctx, int trans_a, int trans_b, int m, int n, int k,
                        float alpha, dlh_mem a, int lda, int64_t stride_a,
                        dlh_mem b, int ldb, int64_t stride_b, float beta,
                        dlh_mem c, int ldc, int64_t stride_c, int batch);

    /* ---- fused elementwise programs ----
       ew_prepare turns a host-compiled program into a backend kernel once
       (the program outlives the kernel); ew_run runs it over n elements with
       args[] in the program's array order and scalars[] in its scalar order. */
    int (*ew_prepare)(void *ctx, const dlh_ew_program *prog, void **kernel);
    void (*ew_release)(void *ctx, void *kernel);
    int (*ew_run)(void *ctx, void *kernel, size_t n, const dlh_ew_arg *args,
                  const float *scalars);

    /* ---- reductions over a rows x cols matrix ----
       axis 1: one result per row (out has rows elements);
       axis 0: one result per column (out has cols elements).
       For DLH_REDUCE_MAX, idx (int32) receives the first index of the maximum
       along the reduced axis when idx.buf is not NULL.  out (and idx) are
       overwritten, never added to: whatever they held is ignored, so a sum
       over several calls needs a buffer per call (or an ew program) to add. */
    int (*reduce)(void *ctx, dlh_reduce_op op, int axis, int rows, int cols,
                  dlh_mem x, dlh_mem out, dlh_mem idx);

    /* y = softmax(x) (or log_softmax when log != 0) over each row of a
       rows x cols matrix; y may alias x. */
    int (*softmax)(void *ctx, int log, int rows, int cols, dlh_mem x, dlh_mem y);

    /* ---- image helpers, NCHW, n images ----
       im2col: col holds, for each image, a [c*kh*kw, oh*ow] matrix
       (rows ordered channel, ky, kx as PyTorch's weight layout).
       col2im adds such columns back into img (img is accumulated, not
       overwritten).  ABI 1.6: both take any oh, ow >= 1, not only the
       window's own size: window positions past the padded input read zeros
       (im2col) and add nothing (col2im).  A larger oh pads the bottom (ow
       the right) beyond ph (pw), as PyTorch's padding="same" does for an
       even kernel; a smaller one drops the last rows (a transposed
       convolution's output_padding). */
    int (*im2col)(void *ctx, const dlh_window2d *g, int n, dlh_mem img, dlh_mem col);
    int (*col2im)(void *ctx, const dlh_window2d *g, int n, dlh_mem col, dlh_mem img);

    /* Pooling over n*c planes of h x w (g->c is the channel count).
       Forward writes y (n, c, oh, ow) and for DLH_POOL_MAX idx (int32 index
       within the h*w input plane; -1 for a window of padding alone, whose
       y is -inf).  Backward accumulates into dx (not overwritten) from dy
       using idx (max; a negative index adds nothing) or the window (avg). */
    int (*pool2d)(void *ctx, dlh_pool_op op, const dlh_window2d *g, int n,
                  dlh_mem x, dlh_mem y, dlh_mem idx);
    int (*pool2d_backward)(void *ctx, dlh_pool_op op, const dlh_window2d *g, int n,
                           dlh_mem dy, dlh_mem idx, dlh_mem dx);

    /* Rows of width `cols`: gather: dst[i,:] = src[idx[i],:] for i < n;
       scatter_add: dst[idx[i],:] += src[i,:].  idx is int32. */
    int (*gather)(void *ctx, int n, int cols, dlh_mem src, dlh_mem idx, dlh_mem dst);
    int (*scatter_add)(void *ctx, int n, int cols, dlh_mem src, dlh_mem idx, dlh_mem dst);

    /* n values from the Philox mapping of philox.h: element i uses counter
       offset + i of (seed, stream).  Same numbers on every backend. */
    int (*rand)(void *ctx, dlh_rand_dist dist, dlh_mem dst, size_t n, uint64_t seed,
                uint64_t stream, uint64_t offset, float a, float b);
    /* ABI 1.1 members go below this line. */

    /* optional (ABI 1.1): lists the devices the backend can see, one per
       line under its platform ("platform 0: ...\n  device 0: ...\n"), into
       buf (NUL-terminated, cut at size); needs no instance.  NULL: the
       backend has nothing to list.  The host reads it only when the
       plugin's struct_size covers it. */
    int (*devices)(const struct dlh_host *host, char *buf, size_t size);
    /* ABI 1.2 members go below this line. */

    /* optional (ABI 1.2): the address of buf's memory when the host may
       read and write it directly, else NULL; valid until buf is freed.  Only
       a backend whose calls have finished when they return may offer it
       (the host writes there while no call runs on that memory).  The core
       then has the loader write batches straight into the model input. */
    void *(*host_ptr)(void *ctx, dlh_buffer *buf);
    /* ABI 1.3 members go below this line. */

    /* optional (ABI 1.9): convolution by a library made for it (oneDNN,
       cuDNN).  A layer uses them when conv2d_prepare is not NULL and returns
       0; NULL or DLH_EUNSUPPORTED (a shape the library does not take, no
       message needed) means im2col + gemm, the path every backend keeps.
       The results equal that path's up to float32 rounding (sums may run in
       another order) and do not depend on the thread count.  prepare may
       allocate (primitives, workspace); the three runs may not, for any
       batch 1 <= n <= desc->n.
       forward:          y = conv(x, w) + bias (bias.buf NULL: none);
                         y is overwritten.
       backward_data:    dx = the gradient of y's sum weighted by dy with
                         respect to x; dx is overwritten.
       backward_weights: dw = grad_w + beta dw and db = grad_b + beta db
                         (db.buf NULL: no bias); beta is 0 or 1. */
    int (*conv2d_prepare)(void *ctx, const dlh_conv2d_desc *desc, void **plan);
    void (*conv2d_release)(void *ctx, void *plan);            /* NULL plan: no-op */
    int (*conv2d_forward)(void *ctx, void *plan, int n, dlh_mem x, dlh_mem w,
                          dlh_mem bias, dlh_mem y);
    int (*conv2d_backward_data)(void *ctx, void *plan, int n, dlh_mem dy, dlh_mem w,
                                dlh_mem dx);
    int (*conv2d_backward_weights)(void *ctx, void *plan, int n, dlh_mem x, dlh_mem dy,
                                   float beta, dlh_mem dw, dlh_mem db);
    /* ABI 1.9 members go below this line. */

    /* optional (ABI 1.10): max pooling of relu(x), for a relu layer the core
       runs inside the max pool that reads it (dlh_layer_setup.is_relu).  y is
       what pool2d(DLH_POOL_MAX) gives over the cells r = (x > 0 ? x : +0),
       the relu layer's values (a NaN gives +0), bit for bit; idx (int32, may
       be NULL) the first maximum's index where y > 0 and -1 where not, so
       that pool2d_backward(DLH_POOL_MAX), which adds nothing at a negative
       index, passes dy exactly where relu's backward would.  A window of
       padding alone gives -inf and -1, as pool2d.  NULL: the layer pools and
       then runs relu over y. */
    int (*pool2d_max_relu)(void *ctx, const dlh_window2d *g, int n, dlh_mem x,
                           dlh_mem y, dlh_mem idx);
    /* optional (ABI 1.10): pool2d_backward(DLH_POOL_MAX) into a dx that it
       overwrites: the bits of filling dx with +0 and then adding dy at the
       indices (so 0 + dy, never -0), in one pass where the backend can.
       idx as pool2d or pool2d_max_relu wrote it.  NULL: the layer fills dx
       and calls pool2d_backward. */
    int (*pool2d_max_backward_set)(void *ctx, const dlh_window2d *g, int n, dlh_mem dy,
                                   dlh_mem idx, dlh_mem dx);
    /* optional (ABI 1.10): a dense layer's forward, C = act(bias + A B^T)
       with A m x k, B n x k and C m x n (gemm's trans_a 0, trans_b 1):
       the bits of writing the bias [n] into every row of C (bias.buf NULL:
       none), gemm with alpha 1 and beta 1 (0 without a bias), then for act
       1 relu's (x > 0 ? x : +0); act 0 is none.  A backend that cuts the
       product applies the bias and relu to each piece where it computes it.
       NULL: the layer runs the three. */
    int (*gemm_bias_act)(void *ctx, int m, int n, int k, dlh_mem a, int lda, dlh_mem b,
                         int ldb, dlh_mem bias, int act, dlh_mem c, int ldc);
    /* ABI 1.10 members go below this line. */
} dlh_backend_ops;

/* 1 when the backend's table covers the optional primitive `member` (its
   plugin was built for the ABI minor that added it) and fills it in:
   DLH_BACKEND_HAS(be->ops, pool2d_max_relu).  (ABI 1.10) */
#define DLH_BACKEND_HAS(ops, member)                                           \
    ((ops)->struct_size >= offsetof(dlh_backend_ops, member) + sizeof (ops)->member && \
     (ops)->member != NULL)

/* A live backend instance: the object plugins call into. */
typedef struct dlh_backend {
    const dlh_backend_ops *ops;
    void *ctx;
    const char *name;           /* component name ("cpu") */
} dlh_backend;

#endif
