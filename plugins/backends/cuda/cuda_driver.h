/* The CUDA driver API, loaded with dlopen("libcuda.so.1") when the cuda
 * backend is probed or created: the plugin links nothing of CUDA, so it
 * loads on every machine, and a machine without a driver or a device gets
 * one line that says so.  The few entry points used are declared here (the
 * driver's ABI: CUresult is an int, CUdevice an int). */
#ifndef DLHOST_CUDA_DRIVER_H
#define DLHOST_CUDA_DRIVER_H

#include <stddef.h>

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
} cu_driver;

/* CUdevice_attribute values of cuda.h */
#define CU_ATTR_CC_MAJOR 75
#define CU_ATTR_CC_MINOR 76
#define CU_ATTR_SM_COUNT 16

/* The driver, loaded and initialised once per process: NULL when it is
   absent, fails cuInit or has no device, with the reason in one line
   (stable for the process).  The library is $DLHOST_CUDA_DRIVER when set
   (a path; tests use the toolkit's stub), else libcuda.so.1 from the
   loader's path. */
const cu_driver *cu_driver_get(const char **why);

#endif
