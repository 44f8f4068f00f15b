/* NVRTC (the CUDA runtime compiler) loaded with dlopen, so that nothing
 * links it: the cuda backend compiles its kernels with it, and
 * tests/test_cuda_nvrtc.c checks that every kernel the suite produces
 * compiles.  The few functions used are declared here, not taken from
 * nvrtc.h, so this builds without the toolkit. */
#ifndef DLHOST_GPU_NVRTC_H
#define DLHOST_GPU_NVRTC_H

#include <stddef.h>

typedef struct gpu_nvrtc {
    void *lib;
    int major, minor;                   /* nvrtcVersion */
    char path[256];                     /* the library that was loaded */
    int (*create)(void **prog, const char *src, const char *name, int n_headers,
                  const char *const *headers, const char *const *include_names);
    int (*compile)(void *prog, int n_options, const char *const *options);
    int (*log_size)(void *prog, size_t *size);
    int (*log)(void *prog, char *log);
    int (*ptx_size)(void *prog, size_t *size);
    int (*ptx)(void *prog, char *ptx);
    int (*destroy)(void **prog);
    const char *(*error_string)(int result);
    int (*version)(int *major, int *minor);
} gpu_nvrtc;

/* Loads NVRTC (gpu_dl_open): libnvrtc.so.13, then .12, from `toolkit`/lib64
   when toolkit is not NULL or "", else (or when absent there) from the
   system's loader path.  0, or -1 with the reason (dlerror's, or the
   missing symbol) in why. */
int gpu_nvrtc_open(gpu_nvrtc *nv, const char *toolkit, char *why, size_t size);
void gpu_nvrtc_close(gpu_nvrtc *nv);

/* Compiles `source` (named `name` in messages) to PTX with `options`
   (n of them).  0 with *ptx malloc'd; else the NVRTC result (> 0) or -1
   when out of memory, with *log malloc'd (the compiler's log, or NULL). */
int gpu_nvrtc_ptx(const gpu_nvrtc *nv, const char *source, const char *name,
                  int n_options, const char *const *options, char **ptx, char **log);

/* The options every dlhost kernel is compiled with for virtual
   architecture `arch` ("compute_75"), into opts (GPU_NVRTC_OPTS of them,
   pointing into buf); returns their count.  No contraction, IEEE division
   and sqrt, C++17, the row kernels' work-group size. */
#define GPU_NVRTC_OPTS 6
#define GPU_CUDA_ROW_WG 256
int gpu_nvrtc_options(const char *arch, char *buf, size_t size, const char **opts);

#endif
