/* The opencl backend's internals: one context and in-order queue per
 * instance, device buffers, CLBlast for gemm, one program of fixed kernels
 * (plugins/backends/gpu/gpu_source.c) built at create, and elementwise programs turned into
 * kernel source and built once per distinct source (ocl_ew.c).
 *
 * Work is queued without waiting; read and sync wait, and so do the few
 * calls whose arguments must be checked on the host (gather and scatter_add
 * read their indices back).  Errors from OpenCL calls carry the call and the
 * error's name: "opencl: clCreateBuffer: CL_MEM_OBJECT_ALLOCATION_FAILURE ...". */
#ifndef DLHOST_OPENCL_H
#define DLHOST_OPENCL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif

#include <stddef.h>
#include <stdint.h>

#include <CL/cl.h>

#include <dlhost/dlhost.h>

#include "../common/backend_checks.h"
#include "../gpu/gpu_ew_cache.h"
#include "../gpu/gpu_source.h"

/* A device buffer; `bytes` is what the caller asked for (the cl_mem may be
   larger: an empty buffer still gets a few bytes). */
struct dlh_buffer {
    cl_mem mem;
    size_t bytes;
};

/* The fixed kernels are gpu_source.c's, by gpu_kid. */
typedef gpu_kid ocl_kid;

/* Work-items per group of the row kernels (reduce, softmax); the source
   sizes its local arrays with it. */
#define OCL_ROW_WG 64
/* Work-items per group of the 1-D kernels (capped by the device). */
#define OCL_WG 64


typedef struct ocl_ctx {
    const dlh_host *host;
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    cl_program program;                 /* the fixed kernels */
    cl_kernel kernels[GPU_K_COUNT];
    size_t local[GPU_K_COUNT];          /* work-group size per kernel */
    char *options;                      /* build options: ours, then the user's */
    char platform_name[128], device_name[128], driver[64], cl_version[64];
    cl_device_type type;
    cl_uint units;
    cl_ulong max_alloc, global_mem;
    cl_ulong in_use;                    /* bytes of live buffers */
    int fp64;
    int counted;                        /* counts toward live instances */
    gpu_ew_entry *ew_cache;             /* built elementwise programs */
    int tiled_gemm;                     /* gemm by ocl_tiled.c, not CLBlast */
    cl_program tiled_program;
    cl_kernel tiled[2];
} ocl_ctx;

extern const dlh_host *ocl_host;        /* set by dlh_plugin_init */
/* The argument checks' view of this backend (ocl_mem.c); host set at init. */
extern bchk_backend ocl_checks;

/* ocl_error.c: the name of an OpenCL error code ("CL_OUT_OF_RESOURCES"),
   NULL when unknown; the same for CLBlast's status codes. */
const char *ocl_error_name(cl_int err);
const char *ocl_clblast_name(int status);
/* Sets "opencl: CALL: NAME" plus " " and the formatted detail when fmt is
   not NULL; returns DLH_ENOMEM for out-of-memory codes, else DLH_EDEVICE. */
int ocl_fail(const char *call, cl_int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ocl_device.c: platform and device discovery.  ocl_select picks them by
   the parameters (see ocl_device.c). */
int ocl_select(const dlh_host *host, dlh_params *params, cl_platform_id *platform,
               cl_device_id *device);
/* dlh_backend_ops.probe and .devices. */
int ocl_probe(const dlh_host *host);
int ocl_list_devices(const dlh_host *host, char *buf, size_t size);
/* "CPU", "GPU", "accelerator", ... */
const char *ocl_type_name(cl_device_type t);

/* ocl_program.c: builds `source` for the instance's device with its options;
   a failure prints the build log.  `what` names the program in messages. */
int ocl_build(ocl_ctx *c, const char *source, const char *what, cl_program *out);
/* Creates the fixed kernels from c->program and sizes their work-groups. */
int ocl_kernels_create(ocl_ctx *c);

/* ocl_mem.c */
int ocl_alloc(void *ctx, size_t bytes, dlh_buffer **out);
void ocl_free(void *ctx, dlh_buffer *buf);
int ocl_write(void *ctx, dlh_buffer *dst, size_t dst_off, const void *src, size_t bytes);
int ocl_read(void *ctx, dlh_buffer *src, size_t src_off, void *dst, size_t bytes);
int ocl_copy(void *ctx, dlh_buffer *dst, size_t dst_off, dlh_buffer *src, size_t src_off,
             size_t bytes);
int ocl_fill(void *ctx, dlh_mem dst, size_t n, float value);
int ocl_sync(void *ctx);

/* ocl_program.c: kernel arguments and launches. */
typedef struct ocl_arg {
    size_t size;
    const void *value;
} ocl_arg;
#define OCL_ARG(v) ((ocl_arg){ sizeof(v), &(v) })
/* Sets args[0..n) on kernel `id` and queues it over `items` work-items
   (rounded up to its work-group size; kernels check their bound).
   `prim` names the primitive in messages.  items == 0 is a no-op. */
int ocl_launch(ocl_ctx *c, ocl_kid id, const char *prim, size_t items,
               const ocl_arg *args, cl_uint n);
/* The same for a kernel of one work-group per row: `groups` groups. */
int ocl_launch_groups(ocl_ctx *c, ocl_kid id, const char *prim, size_t groups,
                      const ocl_arg *args, cl_uint n);
/* Queues `kernel` (any) over `items` work-items in groups of `local`. */
int ocl_enqueue(ocl_ctx *c, cl_kernel kernel, const char *prim, size_t items,
                size_t local);

/* ocl_gemm.c */
int ocl_gemm(void *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
             dlh_mem a, int lda, dlh_mem b, int ldb, float beta, dlh_mem c, int ldc);
int ocl_gemm_batched(void *ctx, int trans_a, int trans_b, int m, int n, int k,
                     float alpha, dlh_mem a, int lda, int64_t stride_a, dlh_mem b,
                     int ldb, int64_t stride_b, float beta, dlh_mem c, int ldc,
                     int64_t stride_c, int batch);
/* One gemm problem, or `batch` of them sa, sb, sc floats apart (offsets
   in floats). */
typedef struct ocl_gemm_args {
    int ta, tb, m, n, k, lda, ldb, ldc, batch;
    float alpha, beta;
    dlh_buffer *a, *b, *c;
    size_t ao, bo, co;
    int64_t sa, sb, sc;
} ocl_gemm_args;
/* ocl_tiled.c: the tiled sgemm kernels of CPU devices.  ocl_tiled_gemm
   takes every case but ta && tb (k > 0, alpha != 0, C matrices disjoint). */
int ocl_tiled_init(ocl_ctx *c);
void ocl_tiled_free(ocl_ctx *c);
int ocl_tiled_gemm(ocl_ctx *c, const ocl_gemm_args *g);
/* ocl_ew.c */
int ocl_ew_prepare(void *ctx, const dlh_ew_program *prog, void **kernel);
void ocl_ew_release(void *ctx, void *kernel);
int ocl_ew_run(void *ctx, void *kernel, size_t n, const dlh_ew_arg *args,
               const float *scalars);
void ocl_ew_cache_free(ocl_ctx *c);
/* ocl_reduce.c */
int ocl_reduce(void *ctx, dlh_reduce_op op, int axis, int rows, int cols, dlh_mem x,
               dlh_mem out, dlh_mem idx);
int ocl_softmax(void *ctx, int log, int rows, int cols, dlh_mem x, dlh_mem y);
/* ocl_image.c */
int ocl_im2col(void *ctx, const dlh_window2d *g, int n, dlh_mem img, dlh_mem col);
int ocl_col2im(void *ctx, const dlh_window2d *g, int n, dlh_mem col, dlh_mem img);
int ocl_pool2d(void *ctx, dlh_pool_op op, const dlh_window2d *g, int n, dlh_mem x,
               dlh_mem y, dlh_mem idx);
int ocl_pool2d_max_relu(void *ctx, const dlh_window2d *g, int n, dlh_mem x, dlh_mem y,
                     dlh_mem idx);
int ocl_pool2d_max_backward_set(void *ctx, const dlh_window2d *g, int n, dlh_mem dy,
                             dlh_mem idx, dlh_mem dx);
int ocl_pool2d_backward(void *ctx, dlh_pool_op op, const dlh_window2d *g, int n,
                        dlh_mem dy, dlh_mem idx, dlh_mem dx);
/* ocl_index.c: gather, scatter_add and the Philox fill. */
int ocl_gather(void *ctx, int n, int cols, dlh_mem src, dlh_mem idx, dlh_mem dst);
int ocl_scatter_add(void *ctx, int n, int cols, dlh_mem src, dlh_mem idx, dlh_mem dst);
int ocl_rand(void *ctx, dlh_rand_dist dist, dlh_mem dst, size_t n, uint64_t seed,
             uint64_t stream, uint64_t offset, float a, float b);

#endif
