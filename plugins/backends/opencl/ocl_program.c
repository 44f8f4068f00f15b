/* Building programs (a failure shows the compiler's build log), creating
 * the fixed kernels, and queueing kernels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencl.h"

/* The part of a build log a message shows: the first errors matter most,
   and the host's message buffer is 4 KiB. */
#define OCL_LOG_MAX 2400

int ocl_build(ocl_ctx *c, const char *source, const char *what, cl_program *out)
{
    *out = NULL;
    cl_int err;
    const char *sources[1] = { source };
    cl_program p = clCreateProgramWithSource(c->context, 1, sources, NULL, &err);
    if (err != CL_SUCCESS)
        return ocl_fail("clCreateProgramWithSource", err, "for %s", what);
    err = clBuildProgram(p, 1, &c->device, c->options, NULL, NULL);
    if (err == CL_SUCCESS) {
        *out = p;
        return 0;
    }
    size_t n = 0;
    char *log = NULL;
    if (clGetProgramBuildInfo(p, c->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n) ==
            CL_SUCCESS && n > 0 && (log = malloc(n + 1)) != NULL) {
        if (clGetProgramBuildInfo(p, c->device, CL_PROGRAM_BUILD_LOG, n, log, NULL) !=
            CL_SUCCESS)
            n = 0;
        log[n] = '\0';
        while (n > 0 && (log[n - 1] == '\n' || log[n - 1] == ' ' || log[n - 1] == '\0'))
            log[--n] = '\0';
    }
    int rc = ocl_fail("clBuildProgram", err, "building %s for '%s' with options \"%s\"; "
                      "build log:\n%.*s%s", what, c->device_name, c->options,
                      OCL_LOG_MAX, log != NULL && n > 0 ? log : "(empty)",
                      n > OCL_LOG_MAX ? "\n[... build log truncated]" : "");
    free(log);
    clReleaseProgram(p);
    return rc == DLH_ENOMEM ? rc : DLH_EDEVICE;
}

/* The largest power of two <= v (v >= 1). */
static size_t pow2_floor(size_t v)
{
    size_t p = 1;
    while (p <= v / 2)
        p *= 2;
    return p;
}

int ocl_kernels_create(ocl_ctx *c)
{
    size_t dev_max = 1;
    cl_int err = clGetDeviceInfo(c->device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof dev_max,
                                 &dev_max, NULL);
    if (err != CL_SUCCESS)
        return ocl_fail("clGetDeviceInfo", err, "(CL_DEVICE_MAX_WORK_GROUP_SIZE)");
    for (int i = 0; i < GPU_K_COUNT; i++) {
        c->kernels[i] = clCreateKernel(c->program, gpu_kernel_names[i], &err);
        if (err != CL_SUCCESS)
            return ocl_fail("clCreateKernel", err, "for kernel %s", gpu_kernel_names[i]);
        size_t kmax = dev_max;
        err = clGetKernelWorkGroupInfo(c->kernels[i], c->device, CL_KERNEL_WORK_GROUP_SIZE,
                                       sizeof kmax, &kmax, NULL);
        if (err != CL_SUCCESS)
            return ocl_fail("clGetKernelWorkGroupInfo", err, "for kernel %s",
                            gpu_kernel_names[i]);
        size_t want = i == GPU_K_REDUCE_ROWS || i == GPU_K_SOFTMAX ? OCL_ROW_WG : OCL_WG;
        if (kmax > dev_max)
            kmax = dev_max;
        /* One size per kernel: PoCL compiles a kernel again for every new
           work-group size. The row kernels need a power of two. */
        c->local[i] = pow2_floor(want < kmax ? want : kmax > 0 ? kmax : 1);
    }
    return 0;
}

int ocl_enqueue(ocl_ctx *c, cl_kernel kernel, const char *prim, size_t items, size_t local)
{
    if (items == 0)
        return 0;
    if (items > SIZE_MAX - local) {
        ocl_host->error("opencl %s: %zu work-items are too many", prim, items);
        return DLH_EINVAL;
    }
    size_t global = (items + local - 1) / local * local;
    cl_int err = clEnqueueNDRangeKernel(c->queue, kernel, 1, NULL, &global, &local, 0, NULL,
                                        NULL);
    if (err != CL_SUCCESS) {
        char what[64];
        snprintf(what, sizeof what, "clEnqueueNDRangeKernel(%s)", prim);
        return ocl_fail(what, err, "for %zu work-items", items);
    }
    return 0;
}

static int set_args(ocl_ctx *c, ocl_kid id, const char *prim, const ocl_arg *args,
                    cl_uint n)
{
    for (cl_uint i = 0; i < n; i++) {
        cl_int err = clSetKernelArg(c->kernels[id], i, args[i].size, args[i].value);
        if (err != CL_SUCCESS) {
            char what[64];
            snprintf(what, sizeof what, "clSetKernelArg(%s)", prim);
            return ocl_fail(what, err, "for argument %u of %s", i, gpu_kernel_names[id]);
        }
    }
    return 0;
}

int ocl_launch(ocl_ctx *c, ocl_kid id, const char *prim, size_t items, const ocl_arg *args,
               cl_uint n)
{
    if (items == 0)
        return 0;
    int rc = set_args(c, id, prim, args, n);
    return rc ? rc : ocl_enqueue(c, c->kernels[id], prim, items, c->local[id]);
}

int ocl_launch_groups(ocl_ctx *c, ocl_kid id, const char *prim, size_t groups,
                      const ocl_arg *args, cl_uint n)
{
    if (groups == 0)
        return 0;
    size_t local = c->local[id];
    if (groups > SIZE_MAX / local) {
        ocl_host->error("opencl %s: %zu work-groups are too many", prim, groups);
        return DLH_EINVAL;
    }
    int rc = set_args(c, id, prim, args, n);
    return rc ? rc : ocl_enqueue(c, c->kernels[id], prim, groups * local, local);
}
