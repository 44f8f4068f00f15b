/* The CUDA driver by dlopen: see cuda_driver.h. */
#include "cuda_driver.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef DLH_CUDA_DIR
#define DLH_CUDA_DIR ""
#endif

const char *cu_toolkit_dir(void)
{
    const char *dir = getenv("DLHOST_CUDA_DIR");
    return dir != NULL && *dir ? dir : DLH_CUDA_DIR;
}

static cu_driver driver;
static const cu_driver *loaded;
static char reason[512];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* cuda.h's words for the results cuInit and the device queries give on a
   machine that cannot run CUDA, for drivers whose cuGetErrorString cannot
   say (the toolkit's stub library answers every call with error 34). */
static const struct {
    int rc;
    const char *name, *text;
} known[] = {
    { 3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error" },
    { 34, "CUDA_ERROR_STUB_LIBRARY", "CUDA driver is a stub library" },
    { 35, "CUDA_ERROR_INSUFFICIENT_DRIVER",
      "CUDA driver version is insufficient for CUDA runtime version" },
    { 46, "CUDA_ERROR_DEVICES_UNAVAILABLE", "CUDA-capable device(s) is/are busy or unavailable" },
    { 100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected" },
    { 101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal" },
    { 304, "CUDA_ERROR_OPERATING_SYSTEM", "OS call failed or operation not supported on this OS" },
    { 999, "CUDA_ERROR_UNKNOWN", "unknown error" },
};

/* "cuInit: CUDA driver is a stub library (CUDA_ERROR_STUB_LIBRARY 34)":
   the driver's words (cuGetErrorString, cuGetErrorName), else ours. */
void cu_driver_error(const cu_driver *d, const char *call, int rc, char *buf, size_t size)
{
    const char *text = NULL, *name = NULL;
    if (d->error_string(rc, &text) != 0)
        text = NULL;
    if (d->error_name(rc, &name) != 0)
        name = NULL;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i].rc == rc) {
            text = text ? text : known[i].text;
            name = name ? name : known[i].name;
        }
    if (text == NULL)
        text = "unknown error";
    if (name == NULL)
        name = "CUresult";
    snprintf(buf, size, "%s: %s (%s %d)", call, text, name, rc);
}

static void driver_error(const char *call, int rc)
{
    cu_driver_error(&driver, call, rc, reason, sizeof reason);
}

static void load(void)
{
    static const char *const names[] = { "libcuda.so.1", NULL };
    const char *env = getenv("DLHOST_CUDA_DRIVER");
    char lib[256], why[400];
    driver.lib = gpu_dl_open("DLHOST_CUDA_DRIVER", NULL, NULL, names, lib, sizeof lib, why,
                             sizeof why);
    if (driver.lib == NULL) {
        if (env != NULL && *env)
            snprintf(reason, sizeof reason, "no CUDA driver (%s)", why);
        else
            snprintf(reason, sizeof reason, "no CUDA driver (libcuda.so.1 not found)");
        return;
    }
    const gpu_dl_sym syms[] = {
        { "cuInit", (void **)&driver.init },
        { "cuDriverGetVersion", (void **)&driver.driver_version },
        { "cuDeviceGetCount", (void **)&driver.device_count },
        { "cuDeviceGet", (void **)&driver.device_get },
        { "cuDeviceGetName", (void **)&driver.device_name },
        { "cuDeviceGetAttribute", (void **)&driver.device_attribute },
        { "cuDeviceTotalMem_v2", (void **)&driver.device_total_mem },
        { "cuGetErrorString", (void **)&driver.error_string },
        { "cuGetErrorName", (void **)&driver.error_name },
        { "cuDevicePrimaryCtxRetain", (void **)&driver.primary_retain },
        { "cuDevicePrimaryCtxRelease_v2", (void **)&driver.primary_release },
        { "cuCtxSetCurrent", (void **)&driver.ctx_set_current },
        { "cuStreamCreate", (void **)&driver.stream_create },
        { "cuStreamDestroy_v2", (void **)&driver.stream_destroy },
        { "cuStreamSynchronize", (void **)&driver.stream_sync },
        { "cuMemAlloc_v2", (void **)&driver.mem_alloc },
        { "cuMemFree_v2", (void **)&driver.mem_free },
        { "cuMemAllocHost_v2", (void **)&driver.mem_alloc_host },
        { "cuMemFreeHost", (void **)&driver.mem_free_host },
        { "cuMemGetInfo_v2", (void **)&driver.mem_info },
        { "cuMemcpyHtoDAsync_v2", (void **)&driver.htod_async },
        { "cuMemcpyDtoHAsync_v2", (void **)&driver.dtoh_async },
        { "cuMemcpyDtoDAsync_v2", (void **)&driver.dtod_async },
        { "cuMemsetD32Async", (void **)&driver.memset_d32_async },
        { "cuModuleLoadData", (void **)&driver.module_load_data },
        { "cuModuleUnload", (void **)&driver.module_unload },
        { "cuModuleGetFunction", (void **)&driver.module_get_function },
        { "cuLaunchKernel", (void **)&driver.launch },
    };
    const char *missing = gpu_dl_syms(driver.lib, syms, sizeof syms / sizeof syms[0]);
    if (missing != NULL) {
        snprintf(reason, sizeof reason, "the CUDA driver %s has no %s (too old?)", lib,
                 missing);
        return;
    }
    int rc = driver.init(0);
    if (rc != 0) {
        driver_error("cuInit", rc);
        return;
    }
    if ((rc = driver.driver_version(&driver.version)) != 0) {
        driver_error("cuDriverGetVersion", rc);
        return;
    }
    if ((rc = driver.device_count(&driver.n_devices)) != 0) {
        driver_error("cuDeviceGetCount", rc);
        return;
    }
    if (driver.n_devices < 1) {
        snprintf(reason, sizeof reason, "no CUDA device (driver %d.%d)",
                 driver.version / 1000, driver.version % 1000 / 10);
        return;
    }
    loaded = &driver;
}

/* The handle stays open for the process, as the plugin loader keeps its
   own: the driver's threads may outlive any one instance. */
const cu_driver *cu_driver_get(const char **why)
{
    pthread_once(&once, load);
    *why = loaded ? NULL : reason;
    return loaded;
}
