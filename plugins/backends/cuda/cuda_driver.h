/* The CUDA driver API, loaded with dlopen("libcuda.so.1") when the cuda
 * backend is probed or created: the plugin links nothing of CUDA, so it
 * loads on every machine, and a machine without a driver or a device gets
 * one line that says so.  The few entry points used are declared here (the
 * driver's ABI: CUresult is an int, CUdevice an int). */
#ifndef DLHOST_CUDA_DRIVER_H
#define DLHOST_CUDA_DRIVER_H

#include <stddef.h>

#include "../gpu/gpu_dl.h"

typedef struct cu_driver {
    void *lib;
    int version;                /* cuDriverGetVersion: 1000 major + 10 minor */
    int n_devices;
    int (*init)(unsigned flags);
    int (*driver_version)(int *version);
    int (*device_count)(int *count);
    int (*device_get)(int *device, int ordinal);
    int (*device_name)(char *name, int len, int device);
    int (*device_attribute)(int *value, int attribute, int device);
    int (*device_total_mem)(size_t *bytes, int device);
    int (*error_string)(int result, const char **text);
    int (*error_name)(int result, const char **text);
    /* issue 15's second slice: what an instance needs.  CUcontext, CUstream,
       CUmodule and CUfunction are opaque pointers, CUdeviceptr a 64-bit
       integer (cu_ptr). */
    int (*primary_retain)(void **ctx, int device);
    int (*primary_release)(int device);
    int (*ctx_set_current)(void *ctx);
    int (*stream_create)(void **stream, unsigned flags);
    int (*stream_destroy)(void *stream);
    int (*stream_sync)(void *stream);
    int (*mem_alloc)(unsigned long long *ptr, size_t bytes);
    int (*mem_free)(unsigned long long ptr);
    int (*mem_alloc_host)(void **ptr, size_t bytes);
    int (*mem_free_host)(void *ptr);
    int (*mem_info)(size_t *free_bytes, size_t *total_bytes);
    int (*htod_async)(unsigned long long dst, const void *src, size_t bytes, void *stream);
    int (*dtoh_async)(void *dst, unsigned long long src, size_t bytes, void *stream);
    int (*dtod_async)(unsigned long long dst, unsigned long long src, size_t bytes,
                      void *stream);
    int (*memset_d32_async)(unsigned long long dst, unsigned value, size_t n, void *stream);
    int (*module_load_data)(void **module, const void *image);
    int (*module_unload)(void *module);
    int (*module_get_function)(void **function, void *module, const char *name);
    int (*launch)(void *function, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                  unsigned by, unsigned bz, unsigned shared_bytes, void *stream,
                  void **params, void **extra);
} cu_driver;

/* A device address (CUdeviceptr). */
typedef unsigned long long cu_ptr;

/* CUdevice_attribute values of cuda.h */
#define CU_ATTR_CC_MAJOR 75
#define CU_ATTR_CC_MINOR 76
#define CU_ATTR_SM_COUNT 16
/* CU_STREAM_NON_BLOCKING, CUDA_ERROR_OUT_OF_MEMORY */
#define CU_STREAM_NON_BLOCKING 1
#define CU_ERROR_OUT_OF_MEMORY 2

/* The driver, loaded and initialised once per process: NULL when it is
   absent, fails cuInit or has no device, with the reason in one line
   (stable for the process).  The library is $DLHOST_CUDA_DRIVER when set
   (a path; tests use the toolkit's stub), else libcuda.so.1 from the
   loader's path. */
const cu_driver *cu_driver_get(const char **why);

/* "CALL: the driver's text (NAME N)" for result rc into buf. */
void cu_driver_error(const cu_driver *d, const char *call, int rc, char *buf, size_t size);

/* The CUDA toolkit folder the libraries are looked for in:
   $DLHOST_CUDA_DIR when set, else configure's --with-cuda ("" when none). */
const char *cu_toolkit_dir(void);

#endif
