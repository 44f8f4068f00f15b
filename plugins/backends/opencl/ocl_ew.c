/* Elementwise programs as OpenCL kernels: the source is gpu_ew_source's
 * OpenCL rendering (plugins/backends/gpu/gpu_ew.c, shared with cuda).
 * Built programs are cached by source in the instance (gpu_ew_cache):
 * programs that are the same text (every relu layer's, say) are built
 * once.  The driver's own cache (PoCL's kcache, NVIDIA's ComputeCache)
 * keeps them across runs. */

#include "opencl.h"

/* An entry of the instance's gpu_ew_cache: the program, its kernel and
   the work-group size it is run with. */
typedef struct ocl_ew_entry {
    gpu_ew_entry base;
    cl_program program;
    cl_kernel kernel;
    size_t local;
} ocl_ew_entry;

static int ocl_ew_build(void *ctx, gpu_ew_entry *base)
{
    ocl_ctx *c = ctx;
    ocl_ew_entry *e = (ocl_ew_entry *)base;
    int rc = ocl_build(c, base->source, "an elementwise program", &e->program);
    cl_int err = CL_SUCCESS;
    if (rc == 0) {
        e->kernel = clCreateKernel(e->program, GPU_EW_KERNEL, &err);
        if (err != CL_SUCCESS)
            rc = ocl_fail("clCreateKernel", err, "for an elementwise program");
    }
    size_t kmax = OCL_WG;
    if (rc == 0 &&
        (err = clGetKernelWorkGroupInfo(e->kernel, c->device, CL_KERNEL_WORK_GROUP_SIZE,
                                        sizeof kmax, &kmax, NULL)) != CL_SUCCESS)
        rc = ocl_fail("clGetKernelWorkGroupInfo", err, "for an elementwise program");
    if (rc != 0) {
        if (e->kernel != NULL)
            clReleaseKernel(e->kernel);
        if (e->program != NULL)
            clReleaseProgram(e->program);
        return rc;
    }
    e->local = 1;
    while (e->local * 2 <= OCL_WG && e->local * 2 <= kmax)
        e->local *= 2;
    return 0;
}

static void ocl_ew_drop(void *ctx, gpu_ew_entry *base)
{
    (void)ctx;
    ocl_ew_entry *e = (ocl_ew_entry *)base;
    clReleaseKernel(e->kernel);
    clReleaseProgram(e->program);
}

int ocl_ew_prepare(void *ctx, const dlh_ew_program *prog, void **kernel)
{
    ocl_ctx *c = ctx;
    return gpu_ew_cache_get(&c->ew_cache, &ocl_checks, ocl_host, "opencl", GPU_OPENCL, prog,
                            sizeof(ocl_ew_entry), ocl_ew_build, c, kernel);
}

/* Entries live in the instance's cache until it is destroyed. */
void ocl_ew_release(void *ctx, void *kernel)
{
    (void)ctx;
    (void)kernel;
}

void ocl_ew_cache_free(ocl_ctx *c)
{
    gpu_ew_cache_free(&c->ew_cache, ocl_ew_drop, c);
}

int ocl_ew_run(void *ctx, void *kernel, size_t n, const dlh_ew_arg *args,
               const float *scalars)
{
    ocl_ctx *c = ctx;
    ocl_ew_entry *e = kernel;
    if (n == 0)
        return 0;
    cl_ulong nn = n, meta[DLH_EW_MAX_OPERANDS][3];
    cl_uint k = 0;
    cl_int err = clSetKernelArg(e->kernel, k++, sizeof nn, &nn);
    for (uint32_t j = 0; j < e->base.n_arrays && err == CL_SUCCESS; j++) {
        const dlh_ew_arg *a = &args[j];
        int rc = bchk_ew_operand(&ocl_checks, j, n, a, e->base.written[j]);
        if (rc != 0)
            return rc;
        /* (i / 1) % L == i for every i < n <= L: the kernel skips the modulo. */
        int full = a->stride == 1 && a->len >= n;
        meta[j][0] = a->mem.off;
        meta[j][1] = full ? 0 : a->len;
        meta[j][2] = a->stride;
        err = clSetKernelArg(e->kernel, k++, sizeof(cl_mem), &a->mem.buf->mem);
        if (err == CL_SUCCESS)
            err = clSetKernelArg(e->kernel, k++, sizeof(cl_ulong), &meta[j][0]);
        if (err == CL_SUCCESS && !e->base.written[j])
            err = clSetKernelArg(e->kernel, k++, sizeof(cl_ulong), &meta[j][1]);
        if (err == CL_SUCCESS && !e->base.written[j])
            err = clSetKernelArg(e->kernel, k++, sizeof(cl_ulong), &meta[j][2]);
    }
    for (uint32_t j = 0; j < e->base.n_scalars && err == CL_SUCCESS; j++)
        err = clSetKernelArg(e->kernel, k++, sizeof(float), &scalars[j]);
    if (err != CL_SUCCESS)
        return ocl_fail("clSetKernelArg(ew)", err, "for argument %u", k - 1);
    return ocl_enqueue(c, e->kernel, "ew", n, e->local);
}
