/* The cuda backend's internals (issue 15, second slice): one primary
 * context, one stream, one cuBLAS handle and one module of fixed kernels
 * (plugins/backends/gpu/gpu_source.c rendered as CUDA C++) per instance;
 * elementwise programs rendered by gpu_ew.c and compiled with NVRTC once
 * per program text (cu_ew.c), PTX kept in a disk cache (cu_program.c);
 * device memory from a caching pool (cu_mem.c); convolutions through
 * cuDNN when it is there (cu_dnn.c, cu_conv.c).
 *
 * Every primitive is queued on the instance's stream and returns; read and
 * sync wait (and gather/scatter_add, which check their indices on the
 * host).  write copies the caller's bytes into pinned staging memory and
 * queues the upload, so the caller's memory is free once it returns.
 *
 * NOT YET RUN ON A GPU: this code was written and tested on a machine
 * without one, against the fake driver of tests/fake_cuda/ (memory, copies
 * and cuBLAS real on host memory, kernels recorded but not run).
 * tests/gpu/run-cuda-checks.sh is the check on a machine with a GPU. */
#ifndef DLHOST_CUDA_BACKEND_H
#define DLHOST_CUDA_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include <dlhost/dlhost.h>

#include "../common/backend_checks.h"
#include "../gpu/gpu_ew_cache.h"
#include "../gpu/gpu_nvrtc.h"
#include "../gpu/gpu_source.h"
#include "cuda_driver.h"

/* A device buffer from the pool: `bytes` is what the caller asked for,
   `cap` the pool block's size (its size class). */
struct dlh_buffer {
    cu_ptr ptr;
    size_t bytes, cap;
    struct dlh_buffer *next;            /* in the pool's free list */
};

/* Threads per block of the 1-D kernels; the row kernels (reduce, softmax)
   use GPU_CUDA_ROW_WG, the size their shared arrays are compiled for. */
#define CU_BLOCK 256
/* Pinned staging memory for write (bytes). */
#define CU_STAGING_BYTES ((size_t)16 << 20)

typedef struct cu_blas cu_blas;
typedef struct cu_dnn cu_dnn;

typedef struct cu_ctx {
    const dlh_host *host;
    const cu_driver *d;
    int ordinal, device;                /* the parameter, the CUdevice */
    int cc_major, cc_minor, sms;
    char name[128];
    size_t total_mem;
    void *context;                      /* the device's primary context */
    int retained;
    void *stream;
    /* the pool: a free list per size class (cu_mem.c's pool_list), n_pool
       of them, and what is held */
    dlh_buffer **pool;
    size_t n_pool;
    size_t pool_bytes, live_bytes;
    /* pinned staging for write: [0, staged) is queued, not yet waited for */
    unsigned char *staging;
    size_t staged;
    /* NVRTC (opened at the first compile), the disk cache folder */
    gpu_nvrtc nv;
    int nv_open;
    char arch[32];                      /* "compute_90" */
    char cache_dir[1024];               /* "" when there is none */
    int n_compiled, n_cached;           /* NVRTC runs, disk cache hits */
    /* the fixed kernels */
    void *module;
    void *fn[GPU_K_COUNT];
    gpu_ew_entry *ew_cache;
    cu_blas *blas;
    cu_dnn *dnn;                        /* opened at the first conv2d_prepare */
    int dnn_failed;                     /* no cuDNN: said once, not tried again */
} cu_ctx;

extern const dlh_host *cu_host;         /* set by dlh_plugin_init */
extern bchk_backend cu_checks;

/* cuda.c: "cuda: CALL: text (NAME n)" plus the formatted detail;
   DLH_ENOMEM for CUDA_ERROR_OUT_OF_MEMORY, else DLH_EDEVICE. */
int cu_fail(cu_ctx *c, const char *call, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Makes the instance's context the calling thread's current one. */
int cu_current(cu_ctx *c);

/* cu_mem.c */
int cu_alloc(void *ctx, size_t bytes, dlh_buffer **out);
void cu_free(void *ctx, dlh_buffer *buf);
int cu_write(void *ctx, dlh_buffer *dst, size_t dst_off, const void *src, size_t bytes);
int cu_read(void *ctx, dlh_buffer *src, size_t src_off, void *dst, size_t bytes);
int cu_copy(void *ctx, dlh_buffer *dst, size_t dst_off, dlh_buffer *src, size_t src_off,
            size_t bytes);
int cu_fill(void *ctx, dlh_mem dst, size_t n, float value);
int cu_sync(void *ctx);
/* The pool's size class of a request (bytes rounded up). */
size_t cu_pool_class(size_t bytes);
/* Frees every pooled block and the staging memory (destroy; the stream is
   idle). */
void cu_pool_release(cu_ctx *c);

/* cu_program.c: NVRTC compile with the disk cache, modules, launches. */
/* The PTX of `source` (malloc'd into *ptx): from the disk cache when it
   holds it, else compiled with NVRTC and stored there. */
int cu_ptx(cu_ctx *c, const char *source, const char *what, char **ptx);
/* cu_ptx, then cuModuleLoadData. */
int cu_module(cu_ctx *c, const char *source, const char *what, void **module);
/* Loads the fixed kernels into c->module and c->fn. */
int cu_kernels_load(cu_ctx *c);
/* The cache folder's cuda/ (core/cache_dir.h), created; "" when caching
   is off or no folder can be made. */
void cu_cache_dir(char *buf, size_t size);
/* cu_cache_trim.c: the cache folder's bound in bytes ($DLHOST_CUDA_CACHE_MB,
   default 256 MiB; a bad value is warned about and the default used). */
long long cu_cache_cap(void);
/* Removes the least recently used entries of the cache folder dir until
   they take at most cap bytes, and writers' temporary files a day old;
   never another file, never fails.  Returns the count removed. */
int cu_cache_trim(const char *dir, long long cap);
/* Queues `fn` over `items` threads in blocks of `block` (items == 0 is a
   no-op); params as cuLaunchKernel takes them. */
int cu_launch_fn(cu_ctx *c, void *fn, const char *prim, size_t items, unsigned block,
                 void **params);
/* A fixed kernel over `items` threads (CU_BLOCK a block), or over `groups`
   blocks of GPU_CUDA_ROW_WG (the row kernels). */
int cu_launch(cu_ctx *c, gpu_kid id, const char *prim, size_t items, void **params);
int cu_launch_groups(cu_ctx *c, gpu_kid id, const char *prim, size_t groups, void **params);

/* cu_blas.c: cuBLAS by dlopen. */
int cu_blas_open(cu_ctx *c);
void cu_blas_close(cu_ctx *c);
/* "cuBLAS 13.0.2" into buf */
void cu_blas_version(cu_ctx *c, char *buf, size_t size);
int cu_blas_sgemm(cu_ctx *c, int trans_a, int trans_b, int m, int n, int k, float alpha,
                  cu_ptr a, int lda, long long stride_a, cu_ptr b, int ldb,
                  long long stride_b, float beta, cu_ptr cm, int ldc, long long stride_c,
                  int batch);

/* cu_dnn.c: cuDNN by dlopen, at the first conv2d_prepare (cu_dnn.h). */
void cu_dnn_close(cu_ctx *c);
/* "cuDNN 9.19.0" into buf ("cuDNN 0.0.0" when it is not open) */
void cu_dnn_version(cu_ctx *c, char *buf, size_t size);
/* cu_conv.c: the conv2d primitives (ABI 1.9) through cuDNN. */
int cu_conv2d_prepare(void *ctx, const dlh_conv2d_desc *desc, void **plan);
void cu_conv2d_release(void *ctx, void *plan);
int cu_conv2d_forward(void *ctx, void *plan, int n, dlh_mem x, dlh_mem w, dlh_mem bias,
                      dlh_mem y);
int cu_conv2d_backward_data(void *ctx, void *plan, int n, dlh_mem dy, dlh_mem w, dlh_mem dx);
int cu_conv2d_backward_weights(void *ctx, void *plan, int n, dlh_mem x, dlh_mem dy,
                               float beta, dlh_mem dw, dlh_mem db);

/* cu_gemm.c */
int cu_gemm(void *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
            dlh_mem a, int lda, dlh_mem b, int ldb, float beta, dlh_mem c, int ldc);
int cu_gemm_batched(void *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
                    dlh_mem a, int lda, int64_t stride_a, dlh_mem b, int ldb,
                    int64_t stride_b, float beta, dlh_mem c, int ldc, int64_t stride_c,
                    int batch);
/* cu_ew.c */
int cu_ew_prepare(void *ctx, const dlh_ew_program *prog, void **kernel);
void cu_ew_release(void *ctx, void *kernel);
int cu_ew_run(void *ctx, void *kernel, size_t n, const dlh_ew_arg *args,
              const float *scalars);
void cu_ew_cache_free(cu_ctx *c);
/* cu_reduce.c */
int cu_reduce(void *ctx, dlh_reduce_op op, int axis, int rows, int cols, dlh_mem x,
              dlh_mem out, dlh_mem idx);
int cu_softmax(void *ctx, int log, int rows, int cols, dlh_mem x, dlh_mem y);
/* cu_image.c */
int cu_im2col(void *ctx, const dlh_window2d *g, int n, dlh_mem img, dlh_mem col);
int cu_col2im(void *ctx, const dlh_window2d *g, int n, dlh_mem col, dlh_mem img);
int cu_pool2d(void *ctx, dlh_pool_op op, const dlh_window2d *g, int n, dlh_mem x,
              dlh_mem y, dlh_mem idx);
int cu_pool2d_max_relu(void *ctx, const dlh_window2d *g, int n, dlh_mem x, dlh_mem y,
                    dlh_mem idx);
int cu_pool2d_max_backward_set(void *ctx, const dlh_window2d *g, int n, dlh_mem dy,
                            dlh_mem idx, dlh_mem dx);
int cu_pool2d_backward(void *ctx, dlh_pool_op op, const dlh_window2d *g, int n,
                       dlh_mem dy, dlh_mem idx, dlh_mem dx);
/* cu_index.c */
int cu_gather(void *ctx, int n, int cols, dlh_mem src, dlh_mem idx, dlh_mem dst);
int cu_scatter_add(void *ctx, int n, int cols, dlh_mem src, dlh_mem idx, dlh_mem dst);
int cu_rand(void *ctx, dlh_rand_dist dist, dlh_mem dst, size_t n, uint64_t seed,
            uint64_t stream, uint64_t offset, float a, float b);

#endif
