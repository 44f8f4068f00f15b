/* The opencl backend: registration, instances and describe.
 *
 * Parameters (backend = { type = "opencl"; ... }):
 *   platform       index or name substring (default: the default device's)
 *   device         index within the platform, or name substring (default:
 *                  the first GPU on any platform, else the first device)
 *   build_options  extra OpenCL C compiler options for every kernel we build
 *   gemm           "auto" (the tiled kernels of ocl_tiled.c on CPU devices,
 *                  CLBlast on others), "clblast" or "tiled"
 * A platform or device that does not exist is DLH_EINVAL with a message
 * naming what there is; a machine without OpenCL is DLH_EDEVICE (and probe
 * says 0, so "auto" skips this backend). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* opencl.h first: it sets the OpenCL version the headers target. */
#include "opencl.h"

#include <clblast_c.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

const dlh_host *ocl_host;

/* Live instances: CLBlast's program cache keeps every context it has seen
   alive, so it is cleared when the last instance goes. */
static atomic_int ocl_live;

static int device_info(ocl_ctx *c)
{
    struct {
        cl_device_info what;
        void *where;
        size_t size;
    } q[] = {
        { CL_DEVICE_NAME, c->device_name, sizeof c->device_name },
        { CL_DRIVER_VERSION, c->driver, sizeof c->driver },
        { CL_DEVICE_OPENCL_C_VERSION, c->cl_version, sizeof c->cl_version },
        { CL_DEVICE_TYPE, &c->type, sizeof c->type },
        { CL_DEVICE_MAX_COMPUTE_UNITS, &c->units, sizeof c->units },
        { CL_DEVICE_MAX_MEM_ALLOC_SIZE, &c->max_alloc, sizeof c->max_alloc },
        { CL_DEVICE_GLOBAL_MEM_SIZE, &c->global_mem, sizeof c->global_mem },
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        cl_int err = clGetDeviceInfo(c->device, q[i].what, q[i].size, q[i].where, NULL);
        if (err != CL_SUCCESS)
            return ocl_fail("clGetDeviceInfo", err, "(query %#x)", (unsigned)q[i].what);
    }
    c->device_name[sizeof c->device_name - 1] = '\0';
    c->driver[sizeof c->driver - 1] = '\0';
    c->cl_version[sizeof c->cl_version - 1] = '\0';
    if (clGetPlatformInfo(c->platform, CL_PLATFORM_NAME, sizeof c->platform_name,
                          c->platform_name, NULL) != CL_SUCCESS)
        snprintf(c->platform_name, sizeof c->platform_name, "?");
    c->platform_name[sizeof c->platform_name - 1] = '\0';
    /* Optional queries: a device without doubles may refuse them. */
    cl_device_fp_config dfp = 0;
    if (clGetDeviceInfo(c->device, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof dfp, &dfp, NULL) !=
        CL_SUCCESS)
        dfp = 0;
    c->fp64 = dfp != 0;
    return 0;
}

/* Our options, then the user's (so that theirs win where both set one). */
static int make_options(ocl_ctx *c, const char *user)
{
    cl_device_fp_config sfp = 0;
    clGetDeviceInfo(c->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof sfp, &sfp, NULL);
    const char *exact = (sfp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT)
                            ? " -cl-fp32-correctly-rounded-divide-sqrt" : "";
    size_t size = strlen(user) + 128;
    c->options = malloc(size);
    if (c->options == NULL) {
        ocl_host->error("opencl: out of memory");
        return DLH_ENOMEM;
    }
    snprintf(c->options, size, "-DOCL_ROW_WG=%d%s%s%s%s", OCL_ROW_WG,
             c->fp64 ? " -DDLH_FP64" : "", exact, *user ? " " : "", user);
    return 0;
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int ocl_create(const dlh_host *host, dlh_params *params, void **out)
{
    ocl_ctx *c = calloc(1, sizeof *c);
    *out = c;
    if (c == NULL) {
        host->error("opencl: out of memory");
        return DLH_ENOMEM;
    }
    c->host = host;
    const char *user = "";
    static const char *const gemm_modes[] = { "auto", "clblast", "tiled", NULL };
    int rc = 0, gemm = 0;
    if (params != NULL &&
        ((rc = host->param_string(params, "build_options", "", &user)) != 0 ||
         (rc = host->param_choice(params, "gemm", gemm_modes, 0, &gemm)) < 0))
        return rc;
    /* bf16 products are the cpu backend's alone for now (cpu_bf16.c). */
    static const char *const precisions[] = { "fp32", "bf16", NULL };
    int precision = 0;
    if (params != NULL &&
        (rc = host->param_choice(params, "precision", precisions, 0, &precision)) != 0)
        return rc;
    if (precision != 0)
        return host->param_error(params, "precision", "precision \"bf16\" is not yet on opencl "
                                 "(the cpu backend has it); use \"fp32\"");
    if ((rc = ocl_select(host, params, &c->platform, &c->device)) != 0 ||
        (rc = device_info(c)) != 0 || (rc = make_options(c, user)) != 0)
        return rc;

    cl_int err;
    c->context = clCreateContext(NULL, 1, &c->device, NULL, NULL, &err);
    if (err != CL_SUCCESS)
        return ocl_fail("clCreateContext", err, "for device '%s'", c->device_name);
    c->queue = clCreateCommandQueue(c->context, c->device, 0, &err);
    if (err != CL_SUCCESS)
        return ocl_fail("clCreateCommandQueue", err, "for device '%s'", c->device_name);
    atomic_fetch_add(&ocl_live, 1);
    c->counted = 1;

    double t0 = seconds();
    if ((rc = ocl_build(c, gpu_kernel_source(GPU_OPENCL), "the backend kernels", &c->program)) != 0 ||
        (rc = ocl_kernels_create(c)) != 0)
        return rc;
    c->tiled_gemm = gemm == 2 || (gemm == 0 && (c->type & CL_DEVICE_TYPE_CPU));
    if (c->tiled_gemm && (rc = ocl_tiled_init(c)) != 0)
        return rc;
    host->log(DLH_LOG_DEBUG, "opencl: built the backend kernels for '%s' in %.2f s",
              c->device_name, seconds() - t0);
    return 0;
}

static void ocl_destroy(void *ctx)
{
    ocl_ctx *c = ctx;
    if (c == NULL)
        return;
    if (c->queue != NULL)
        clFinish(c->queue);
    ocl_ew_cache_free(c);
    ocl_tiled_free(c);
    for (int i = 0; i < GPU_K_COUNT; i++)
        if (c->kernels[i] != NULL)
            clReleaseKernel(c->kernels[i]);
    if (c->program != NULL)
        clReleaseProgram(c->program);
    if (c->queue != NULL)
        clReleaseCommandQueue(c->queue);
    if (c->context != NULL)
        clReleaseContext(c->context);
    if (c->counted && atomic_fetch_sub(&ocl_live, 1) == 1)
        CLBlastClearCache();
    free(c->options);
    free(c);
}

static int ocl_describe(void *ctx, char *buf, size_t size)
{
    ocl_ctx *c = ctx;
    if (buf == NULL || size == 0) {
        ocl_host->error("opencl describe: no output buffer");
        return DLH_EINVAL;
    }
    snprintf(buf, size, "CLBlast %d.%d.%d%s, %s (%s, %u compute unit%s), %s %s",
             CLBLAST_VERSION_MAJOR, CLBLAST_VERSION_MINOR, CLBLAST_VERSION_PATCH,
             c->tiled_gemm ? " (gemm: dlhost's tiled kernels)" : "",
             c->device_name, ocl_type_name(c->type), c->units, c->units == 1 ? "" : "s",
             c->platform_name, c->driver);
    return 0;
}

static const dlh_backend_ops ocl_ops = {
    .struct_size = sizeof(dlh_backend_ops),
    .probe = ocl_probe,
    .create = ocl_create,
    .destroy = ocl_destroy,
    .describe = ocl_describe,
    .alloc = ocl_alloc,
    .free = ocl_free,
    .write = ocl_write,
    .read = ocl_read,
    .copy = ocl_copy,
    .fill = ocl_fill,
    .sync = ocl_sync,
    .gemm = ocl_gemm,
    .gemm_batched = ocl_gemm_batched,
    .ew_prepare = ocl_ew_prepare,
    .ew_release = ocl_ew_release,
    .ew_run = ocl_ew_run,
    .reduce = ocl_reduce,
    .softmax = ocl_softmax,
    .im2col = ocl_im2col,
    .col2im = ocl_col2im,
    .pool2d = ocl_pool2d,
    .pool2d_backward = ocl_pool2d_backward,
    .gather = ocl_gather,
    .scatter_add = ocl_scatter_add,
    .rand = ocl_rand,
    .devices = ocl_list_devices,
    .pool2d_max_relu = ocl_pool2d_max_relu,
    .pool2d_max_backward_set = ocl_pool2d_max_backward_set,
};

/* Parameter table (plugin.h): checked by the host against every read
   (platform and device by ocl_device.c's param_pick). */
static const dlh_param_doc ocl_params[] = {
    { "precision", DLH_PARAM_CHOICE, "fp32", 0, 0, "fp32|bf16", "gemm operands: fp32 only (bf16 is refused: the cpu backend has it)" },
    { "build_options", DLH_PARAM_STRING, "", 0, 0, NULL, "extra options for the OpenCL C compiler (clBuildProgram), after dlhost's own" },
    { "gemm", DLH_PARAM_CHOICE, "auto", 0, 0, "auto|clblast|tiled", "gemm's kernels: dlhost's register-tiled ones (tiled), CLBlast's, or auto: tiled on CPU devices (PoCL), CLBlast on others" },
    { "platform", DLH_PARAM_OTHER, "", 0, 0, NULL, "the platform: an index (0, 1, ...) or a substring of its name; unset: the default device's" },
    { "device", DLH_PARAM_OTHER, "", 0, 0, NULL, "the device: an index within the platform or a substring of its name; unset: the first GPU, else the first device" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};

static int ocl_plugin_init(const dlh_host *host, dlh_registrar *reg)
{
    ocl_host = host;
    ocl_checks.host = host;
    int rc = reg->add(reg, DLH_KIND_BACKEND, "opencl", &ocl_ops,
                      "OpenCL devices; CLBlast gemm, generated elementwise kernels");
    return rc < 0 ? rc : reg->describe(reg, DLH_KIND_BACKEND, "opencl", ocl_params);
}

DLH_PLUGIN("opencl", PACKAGE_VERSION, "OpenCL backend (CLBlast + generated kernels)",
           "MIT", ocl_plugin_init)
