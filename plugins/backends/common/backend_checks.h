/* Argument checks shared by the backends.
 *
 * Every backend validates a primitive's arguments the same way before it
 * touches memory: sizes, leading dimensions, window geometry, indices, and
 * that each operand's elements lie inside its buffer.  The checks live here,
 * one function per primitive, so that the cpu, opencl and any later backend
 * refuse the same calls with the same words.  Plugins cannot link each
 * other: this file is compiled into each backend plugin.
 *
 * A check reports through the backend's bchk_backend (its host, its name as
 * the message prefix, and how many bytes one of its buffers holds) and never
 * looks inside a dlh_buffer itself.  Each returns 0 when the call may go on,
 * else DLH_EINVAL with one message set through host->error, of the form
 * "<backend> <primitive>: ...".  host->error is thread-local: call the checks
 * before any parallel region.  A check writes nothing but its out-parameters. */
#ifndef DLHOST_BACKEND_CHECKS_H
#define DLHOST_BACKEND_CHECKS_H

#include <stddef.h>
#include <stdint.h>

#include <dlhost/dlhost.h>

/* What the checks need to know about a backend.  One per plugin, with host
   set by its dlh_plugin_init before any primitive runs. */
typedef struct bchk_backend {
    const dlh_host *host;       /* reports the errors */
    const char *name;           /* message prefix: "cpu", "opencl" */
    /* Bytes of a (non-NULL) buffer the primitives may use: what alloc was
       asked for. */
    size_t (*buffer_bytes)(const dlh_buffer *buf);
    /* The most taps (kh * kw) a pooling or im2col window may have, for
       kernels that index them with int; 0: no limit beyond the sizes'. */
    int64_t max_taps;
} bchk_backend;

/* ---- memory ---- */

/* 0 when `elems` elements of `elsize` bytes from m fit inside m's buffer
   (always 0 for elems == 0); else DLH_EINVAL naming primitive `prim` and
   operand `arg` ("no buffer (NULL)", or the elements that lie outside). */
int bchk_mem(const bchk_backend *bk, const char *prim, const char *arg, dlh_mem m,
             size_t elems, size_t elsize);

/* The byte range [off, off + bytes) of buf for write, read and copy: 0 when
   it lies inside buf (bytes may be 0); DLH_EINVAL when buf is NULL or the
   range does not fit.  `arg` names the buffer ("source", "destination"). */
int bchk_span(const bchk_backend *bk, const char *prim, const char *arg,
              const dlh_buffer *buf, size_t off, size_t bytes);

/* ---- gemm ---- */

/* gemm: sizes >= 0, each leading dimension at least the columns of its
   matrix as stored (and >= 1), C inside its buffer, and A and B inside
   theirs when k > 0 (with k == 0 they are not read and may be empty). */
int bchk_gemm(const bchk_backend *bk, int trans_a, int trans_b, int m, int n, int k,
              dlh_mem a, int lda, dlh_mem b, int ldb, dlh_mem c, int ldc);

/* gemm_batched: gemm's checks for each problem, batch and strides >= 0, no
   overflow of the address space, and all `batch` matrices of C (of A and B
   when k > 0) inside their buffers.  *c_elems gets the elements one C spans
   ((m-1) * ldc + n, 0 when m or n is 0), which tells whether the batch's C
   matrices overlap. */
int bchk_gemm_batched(const bchk_backend *bk, int trans_a, int trans_b, int m, int n,
                      int k, dlh_mem a, int lda, int64_t stride_a, dlh_mem b, int ldb,
                      int64_t stride_b, dlh_mem c, int ldc, int64_t stride_c, int batch,
                      size_t *c_elems);

/* Whether the batch's C matrices are disjoint, so that a GPU backend may
   compute them at the same time (one strided-batched call): one after
   another in memory, or side by side within the rows (ldc >= batch * n,
   stride_c >= n).  c_elems is bchk_gemm_batched's.  When not, the problems
   run one after another in batch order, as on the cpu. */
int bchk_gemm_c_disjoint(int m, int n, int ldc, int64_t stride_c, int batch, size_t c_elems);

/* ---- elementwise programs ---- */

/* The operands (a, b, c) each opcode reads: 0 (DLH_EW_INDEX) to 3. */
extern const unsigned char bchk_ew_n_src[DLH_EW_OPCODE_COUNT];

/* ew_prepare: the program's counts within DLH_EW_MAX_* and its tables
   present ("malformed program"), then each instruction in order: a known
   opcode; each operand it reads an array, scalar or constant in range or a
   register already written (a random draw's: the first of its key's
   DLH_EW_KEY_WORDS scalars, all in range); its destination a register in range or an
   array the program writes (DLH_EW_OUT).  The message names the first bad
   instruction ("instruction 3 of the program: ...").  A backend may
   translate a program that passes without checking it again. */
int bchk_ew_program(const bchk_backend *bk, const dlh_ew_program *prog);

/* ew_run, operand j of a run over n >= 1 elements: len and stride >= 1, a
   written operand full length and contiguous (len == n, stride 1), and the
   min(len, (n-1)/stride + 1) floats that elements i < n read, x[(i/s) % L],
   inside its buffer ("operand j" in the message). */
int bchk_ew_operand(const bchk_backend *bk, uint32_t j, size_t n, const dlh_ew_arg *arg,
                    int written);

/* ---- reductions ---- */

/* reduce: a known op, axis 0 or 1, sizes >= 0, x (rows * cols floats), out
   (*nout floats) and, for max with idx.buf != NULL, idx (*nout int32) inside
   their buffers, and no max over an empty axis while there is output.
   *nout gets the outputs (rows for axis 1, cols for axis 0), *len the
   elements each reduces (0: a sum is 0), *want_idx whether to write idx. */
int bchk_reduce(const bchk_backend *bk, dlh_reduce_op op, int axis, int rows, int cols,
                dlh_mem x, dlh_mem out, dlh_mem idx, size_t *nout, size_t *len,
                int *want_idx);

/* softmax: sizes >= 0, and x and y (rows * cols floats) inside their buffers. */
int bchk_softmax(const bchk_backend *bk, int rows, int cols, dlh_mem x, dlh_mem y);

/* ---- images (NCHW) ---- */

/* Element counts of one image call, checked for overflow. */
typedef struct bchk_image_sizes {
    size_t plane;       /* h * w (at most INT32_MAX) */
    size_t oplane;      /* oh * ow */
    size_t img;         /* n * c * h * w */
    size_t out;         /* n * c * oh * ow */
    size_t col;         /* n * c * kh * kw * oh * ow */
} bchk_image_sizes;

/* The geometry g of n images: g not NULL, struct_size current, n >= 0,
   padding >= 0 and the other fields >= 1, the dilated window no larger than
   the padded input, g->oh and g->ow what the window gives (for the pooling
   checks also dlh_pool2d_ceil_size's ceil_mode size), no size
   overflowing (nor kh * kw over bk->max_taps).  Fills *s. */
int bchk_window(const bchk_backend *bk, const char *prim, const dlh_window2d *g, int n,
                bchk_image_sizes *s);

/* im2col and col2im: bchk_window, except that g->oh and g->ow may be any
   size >= 1 (backend.h, ABI 1.6), then img (s->img floats) and col (s->col
   floats) inside their buffers, the input checked first. */
int bchk_im2col(const bchk_backend *bk, const dlh_window2d *g, int n, dlh_mem img,
                dlh_mem col, bchk_image_sizes *s);
int bchk_col2im(const bchk_backend *bk, const dlh_window2d *g, int n, dlh_mem col,
                dlh_mem img, bchk_image_sizes *s);

/* pool2d: a known op, bchk_window, x (s->img floats), y (s->out floats) and,
   for max with idx.buf != NULL, idx (s->out int32) inside their buffers.
   *want_idx gets whether to write idx (NULL skips the indices). */
int bchk_pool2d(const bchk_backend *bk, dlh_pool_op op, const dlh_window2d *g, int n,
                dlh_mem x, dlh_mem y, dlh_mem idx, bchk_image_sizes *s, int *want_idx);

/* pool2d_backward: a known op, bchk_window, dy (s->out floats), idx for max
   (s->out int32) and dx (s->img floats) inside their buffers. */
int bchk_pool2d_backward(const bchk_backend *bk, dlh_pool_op op, const dlh_window2d *g,
                         int n, dlh_mem dy, dlh_mem idx, dlh_mem dx, bchk_image_sizes *s);

/* ---- gather / scatter-add ----
   gather (src_indexed != 0): dst[i] = src[idx[i]]; scatter_add (0):
   dst[idx[i]] += src[i]; rows of `cols` floats.  The indices live in backend
   memory, so the check comes in two steps: the arguments, then the indices
   once the backend has them on the host. */

/* Step 1: n and cols >= 0, idx (n int32) and the operand not indexed
   (n * cols floats) inside their buffers. */
int bchk_index_args(const bchk_backend *bk, const char *prim, int n, int cols,
                    dlh_mem src, dlh_mem idx, dlh_mem dst, int src_indexed);

/* Step 2, ix[0..n) being idx's values: every index >= 0, and the row of the
   largest inside the indexed operand's buffer (the message says how many
   rows fit).  0 for n == 0. */
int bchk_index_rows(const bchk_backend *bk, const char *prim, const int32_t *ix, int n,
                    int cols, dlh_mem src, dlh_mem dst, int src_indexed);

/* Both steps for a backend whose indices live on a device: step 1, then
   the n indices read back with the backend's `read` primitive (a wait),
   then step 2.  DLH_ENOMEM when the host copy cannot be made. */
int bchk_index_device(const bchk_backend *bk, const char *prim, int n, int cols,
                      dlh_mem src, dlh_mem idx, dlh_mem dst, int src_indexed,
                      int (*read)(void *ctx, dlh_buffer *src, size_t src_off, void *dst,
                                  size_t bytes), void *ctx);

/* ---- random fill ---- */

/* rand: a known distribution, and dst (n floats) inside its buffer. */
int bchk_rand(const bchk_backend *bk, dlh_rand_dist dist, dlh_mem dst, size_t n);

#endif
