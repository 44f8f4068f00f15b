/* The cpu backend's internals: host memory buffers, OpenBLAS for gemm blocks,
 * OpenMP for the threads (OpenBLAS itself runs single-threaded). */
#ifndef DLHOST_CPU_H
#define DLHOST_CPU_H

#include <stddef.h>
#include <stdint.h>

#include <dlhost/dlhost.h>

#include "../common/backend_checks.h"

/* A cpu buffer is 64-byte aligned host memory. */
struct dlh_buffer {
    void *ptr;
    size_t bytes;
};

/* precision = "bf16": oneDNN's matmul state (cpu_bf16.c). */
typedef struct cpu_bf16_state cpu_bf16_state;

typedef struct cpu_ctx {
    const dlh_host *host;
    int threads;            /* OpenMP threads now: max_threads or fewer (cpu_adapt.c) */
    int max_threads;        /* backend.threads, or the CPU count */
    int panels;             /* pieces of a split gemm: the CPU count (cpu_gemm.c) */
    int adapt;              /* backend.adapt: follow other processes' load */
    int passive;            /* OMP_WAIT_POLICY is passive: a region costs a wake */
    /* cpu_adapt.c's last sample: monotonic and own CPU seconds, and the
       machine's busy and total jiffies (/proc/stat). */
    double adapt_wall, adapt_own;
    unsigned long long adapt_busy, adapt_total;
    cpu_bf16_state *bf16;   /* precision = "bf16", else NULL (fp32) */
    int onednn;             /* backend.onednn: convolutions through oneDNN */
    struct cpu_dnnl *dnnl;  /* its engine and streams (cpu_conv.c), made on first use */
} cpu_ctx;

extern const dlh_host *cpu_host;   /* set by dlh_plugin_init */
/* The argument checks' view of this backend (cpu.c); host set at init. */
extern bchk_backend cpu_checks;

static inline float *cpu_f32(dlh_mem m)
{
    return (float *)m.buf->ptr + m.off;
}

static inline int32_t *cpu_i32(dlh_mem m)
{
    return (int32_t *)m.buf->ptr + m.off;
}

/* Below this many elements of work a primitive runs on one thread: waking
   the OpenMP team costs more than it saves. */
#define CPU_PAR_MIN 32768
/* The same when the workers wait passively (OMP_WAIT_POLICY=passive, which
   core/loader.c picks on a loaded machine): every region then pays a futex
   wake, 10-40 us median here.  Measured on 2 cores, best and median of
   2,000 calls (bench/ew_step.c): the sum of squares of 401,408 floats 23 us
   median on one thread against 50 on two, column sums of [128, 512] 6.5
   against 19.  Elementwise programs weigh n by their arrays (cpu_ew.c). */
#define CPU_PAR_MIN_PASSIVE (1024 * 1024)
/* The most pieces a gemm is cut into (cpu_gemm.c). */
#define CPU_MAX_PANELS 16

/* 1 when the backend runs precision = "bf16": its products take bf16
   operands (rounded to nearest even) and accumulate in fp32.  cpu_gemm and
   cpu_gemm_batched honour it; a convolution that does not go through them
   may ask here to do the same. */
static inline int cpu_bf16(const cpu_ctx *c)
{
    return c->bf16 != NULL;
}

/* cpu_adapt.c */
void cpu_adapt_start(cpu_ctx *c);
void cpu_adapt(cpu_ctx *c);
/* cpu_gemm.c */
int cpu_gemm(void *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
             dlh_mem a, int lda, dlh_mem b, int ldb, float beta, dlh_mem c, int ldc);
int cpu_gemm_batched(void *ctx, int trans_a, int trans_b, int m, int n, int k,
                     float alpha, dlh_mem a, int lda, int64_t stride_a, dlh_mem b,
                     int ldb, int64_t stride_b, float beta, dlh_mem c, int ldc,
                     int64_t stride_c, int batch);
/* The pieces a gemm of m x n x k is cut into, from the shape and the
   machine alone (never the thread count, so the bits do not change with it). */
int cpu_gemm_pieces(const cpu_ctx *cx, int m, int n, int k);
/* cpu_bf16.c, built with oneDNN (HAVE_DNNL) only.  start: checks that the
   CPU has native bf16 and sets c->bf16 (a config error at `precision` when
   not); destroy: frees it (NULL is fine).  gemm: the strided-batched
   product with bf16 operands, k > 0; side_by_side: the problems' outputs are
   disjoint and run whole, in parallel, rather than one after another, each
   cut into cpu_gemm_pieces; round_f32: dst = src rounded to bf16 (to
   nearest even), kept as fp32. */
int cpu_bf16_start(cpu_ctx *c, dlh_params *params);
void cpu_bf16_destroy(cpu_ctx *c);
void cpu_bf16_round_f32(float *dst, const float *src, size_t n);
int cpu_bf16_gemm(cpu_ctx *cx, int trans_a, int trans_b, int m, int n, int k, float alpha,
                  const float *a, int lda, int64_t stride_a, const float *b, int ldb,
                  int64_t stride_b, float beta, float *c, int ldc, int64_t stride_c,
                  int batch, int side_by_side);
/* cpu_ew.c */
int cpu_ew_prepare(void *ctx, const dlh_ew_program *prog, void **kernel);
void cpu_ew_release(void *ctx, void *kernel);
int cpu_ew_run(void *ctx, void *kernel, size_t n, const dlh_ew_arg *args,
               const float *scalars);
/* cpu_reduce.c */
int cpu_reduce(void *ctx, dlh_reduce_op op, int axis, int rows, int cols, dlh_mem x,
               dlh_mem out, dlh_mem idx);
int cpu_softmax(void *ctx, int log, int rows, int cols, dlh_mem x, dlh_mem y);
/* cpu_image.c */
int cpu_im2col(void *ctx, const dlh_window2d *g, int n, dlh_mem img, dlh_mem col);
int cpu_col2im(void *ctx, const dlh_window2d *g, int n, dlh_mem col, dlh_mem img);
int cpu_pool2d(void *ctx, dlh_pool_op op, const dlh_window2d *g, int n, dlh_mem x,
               dlh_mem y, dlh_mem idx);
int cpu_pool2d_backward(void *ctx, dlh_pool_op op, const dlh_window2d *g, int n,
                        dlh_mem dy, dlh_mem idx, dlh_mem dx);
int cpu_pool2d_max_relu(void *ctx, const dlh_window2d *g, int n, dlh_mem x, dlh_mem y,
                        dlh_mem idx);
int cpu_pool2d_max_backward_set(void *ctx, const dlh_window2d *g, int n, dlh_mem dy,
                                dlh_mem idx, dlh_mem dx);
/* cpu_gemm.c */
int cpu_gemm_bias_act(void *ctx, int m, int n, int k, dlh_mem a, int lda, dlh_mem b, int ldb,
                      dlh_mem bias, int act, dlh_mem c, int ldc);
/* cpu_index.c */
int cpu_gather(void *ctx, int n, int cols, dlh_mem src, dlh_mem idx, dlh_mem dst);
int cpu_scatter_add(void *ctx, int n, int cols, dlh_mem src, dlh_mem idx, dlh_mem dst);
/* cpu_conv.c, built with oneDNN (HAVE_DNNL) */
void cpu_conv_done(cpu_ctx *c);
int cpu_conv2d_prepare(void *ctx, const dlh_conv2d_desc *desc, void **plan);
void cpu_conv2d_release(void *ctx, void *plan);
int cpu_conv2d_forward(void *ctx, void *plan, int n, dlh_mem x, dlh_mem w, dlh_mem bias,
                       dlh_mem y);
int cpu_conv2d_backward_data(void *ctx, void *plan, int n, dlh_mem dy, dlh_mem w,
                             dlh_mem dx);
int cpu_conv2d_backward_weights(void *ctx, void *plan, int n, dlh_mem x, dlh_mem dy,
                                float beta, dlh_mem dw, dlh_mem db);
/* cpu_conv_direct.c: a direct convolution for groups 1, stride 1,
   dilation 1 and in_channels * kh * kw <= CPU_CONV_DIRECT_TAPS, fp32 (not
   bf16: fits says).  init fills k and returns the floats of scratch one piece
   needs (either path's); fwd runs n samples (b may be NULL), wgt writes the
   gradient of n samples into dw (out_c x taps) and db (NULL: none), data
   writes dx of n samples. */
#define CPU_CONV_DIRECT_TAPS 32
typedef struct cpu_conv_direct cpu_conv_direct;
struct cpu_conv_direct {
    int c, h, w, kh, kw, ph, pw, oh, ow, out_c;
    int hp, wpp, nch;       /* the zero-bordered sample's rows and columns; 16-column chunks of ow */
    size_t pad_floats;      /* the zero-bordered sample's floats, rounded up */
    size_t dy_floats;       /* one sample's dy, rows of nch * 16 */
    void (*fwd)(const cpu_conv_direct *k, int n, const float *x, const float *w,
                const float *b, float *y, float *scratch);
    void (*wgt)(const cpu_conv_direct *k, int n, const float *x, const float *dy,
                float *dw, float *db, float *scratch);
    /* Backward data (cpu_conv_direct_data_fits): dy's zero-bordered rows of
       dwpp floats, dnch 16-column chunks of w, its floats (rounded up). */
    int dwpp, dnch;
    size_t ddy_floats;
    void (*data)(const cpu_conv_direct *k, int n, const float *dy, const float *w,
                 float *dx, float *scratch);
};
int cpu_conv_direct_fits(const dlh_conv2d_desc *d, int bf16);
/* Backward data alone, for few input channels (CPU_CONV_DIRECT_DATA_C), where
   oneDNN pads them to 16. */
#define CPU_CONV_DIRECT_DATA_C 8
int cpu_conv_direct_data_fits(const dlh_conv2d_desc *d, int bf16);
size_t cpu_conv_direct_init(cpu_conv_direct *k, const dlh_conv2d_desc *d);
/* cpu_pool2x2.c: cpu_image.c's 2x2, stride 2, unpadded max pool of one
   plane (idx may be NULL), with relu pool2d_max_relu's, in AVX2 and AVX-512
   (x86-64 GCC builds). */
void cpu_max2x2_plane_avx2(const dlh_window2d *g, const float *in, float *out, int32_t *oi,
                           int relu);
void cpu_max2x2_plane_avx512(const dlh_window2d *g, const float *in, float *out,
                             int32_t *oi, int relu);
/* Its backward over a plane the windows cover exactly, writing every cell
   (cpu_image.c max2x2_back_plane's bits), AVX-512. */
typedef void (*max2x2_back_fn)(const dlh_window2d *g, const float *dy, const int32_t *idx,
                               float *dx);
void cpu_max2x2_back_plane_avx512(const dlh_window2d *g, const float *dy, const int32_t *idx,
                                  float *dx);
/* cpu_ew.c: the widest vector ISA to use, 0 the x86-64 baseline, 1 AVX2,
   2 AVX-512; DLHOST_CPU_EW_ISA=baseline or avx2 caps it. */
int cpu_isa_level(void);
/* x86-64 GCC builds compile AVX2 and AVX-512 copies of the vector loops
   besides the baseline (#pragma GCC target); other builds the baseline
   alone, and cpu_isa_level() is 0 there. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CPU_ISA_COPIES 1
#endif
/* Of three copies of one thing (a function, a table), the one for level:
   cpu_isa_level() read once into a variable by the caller (the macro reads
   level twice).  Without CPU_ISA_COPIES it is base, and avx2 and avx512
   need not exist. */
#ifdef CPU_ISA_COPIES
#define CPU_ISA_PICK(level, base, avx2, avx512) \
    ((level) == 2 ? (avx512) : (level) == 1 ? (avx2) : (base))
#else
#define CPU_ISA_PICK(level, base, avx2, avx512) ((void)(level), (base))
#endif
/* cpu_rand.c */
int cpu_rand(void *ctx, dlh_rand_dist dist, dlh_mem dst, size_t n, uint64_t seed,
             uint64_t stream, uint64_t offset, float a, float b);

#endif
