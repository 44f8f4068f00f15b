/* Elementwise programs as OpenCL kernels: the source is gpu_ew_source's
 * OpenCL rendering (plugins/backends/gpu/gpu_ew.c, shared with cuda).
 * Built programs are cached by source in the instance: programs that are
 * the same text (every relu layer's, say) are built once.  The driver's own
 * cache (PoCL's kcache, NVIDIA's ComputeCache) keeps them across runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencl.h"

struct ocl_ew_entry {
    ocl_ew_entry *next;
    char *source;
    cl_program program;
    cl_kernel kernel;
    size_t local;
    uint32_t n_arrays, n_scalars;
    unsigned char written[DLH_EW_MAX_OPERANDS];
};

/* ---- the cache ---- */

static int entry_build(ocl_ctx *c, const dlh_ew_program *prog, char *source,
                       const unsigned char *written, ocl_ew_entry **out)
{
    ocl_ew_entry *e = calloc(1, sizeof *e);
    if (e == NULL) {
        free(source);
        ocl_host->error("opencl ew: out of memory");
        return DLH_ENOMEM;
    }
    e->source = source;
    e->n_arrays = prog->n_arrays;
    e->n_scalars = prog->n_scalars;
    memcpy(e->written, written, sizeof e->written);
    int rc = ocl_build(c, source, "an elementwise program", &e->program);
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
        free(e->source);
        free(e);
        return rc;
    }
    e->local = 1;
    while (e->local * 2 <= OCL_WG && e->local * 2 <= kmax)
        e->local *= 2;
    e->next = c->ew_cache;
    c->ew_cache = e;
    *out = e;
    return 0;
}

int ocl_ew_prepare(void *ctx, const dlh_ew_program *prog, void **kernel)
{
    ocl_ctx *c = ctx;
    *kernel = NULL;
    int rc = bchk_ew_program(&ocl_checks, prog);
    if (rc != 0)
        return rc;
    char *source;
    unsigned char written[DLH_EW_MAX_OPERANDS] = { 0 };
    rc = gpu_ew_source(ocl_host, "opencl", GPU_OPENCL, prog, &source, written);
    if (rc != 0)
        return rc;
    for (ocl_ew_entry *e = c->ew_cache; e != NULL; e = e->next) {
        if (strcmp(e->source, source) == 0) {
            free(source);
            *kernel = e;
            return 0;
        }
    }
    ocl_ew_entry *e;
    if ((rc = entry_build(c, prog, source, written, &e)) != 0)
        return rc;
    *kernel = e;
    return 0;
}

/* Entries live in the instance's cache until it is destroyed. */
void ocl_ew_release(void *ctx, void *kernel)
{
    (void)ctx;
    (void)kernel;
}

void ocl_ew_cache_free(ocl_ctx *c)
{
    while (c->ew_cache != NULL) {
        ocl_ew_entry *e = c->ew_cache;
        c->ew_cache = e->next;
        clReleaseKernel(e->kernel);
        clReleaseProgram(e->program);
        free(e->source);
        free(e);
    }
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
    for (uint32_t j = 0; j < e->n_arrays && err == CL_SUCCESS; j++) {
        const dlh_ew_arg *a = &args[j];
        int rc = bchk_ew_operand(&ocl_checks, j, n, a, e->written[j]);
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
        if (err == CL_SUCCESS && !e->written[j])
            err = clSetKernelArg(e->kernel, k++, sizeof(cl_ulong), &meta[j][1]);
        if (err == CL_SUCCESS && !e->written[j])
            err = clSetKernelArg(e->kernel, k++, sizeof(cl_ulong), &meta[j][2]);
    }
    for (uint32_t j = 0; j < e->n_scalars && err == CL_SUCCESS; j++)
        err = clSetKernelArg(e->kernel, k++, sizeof(float), &scalars[j]);
    if (err != CL_SUCCESS)
        return ocl_fail("clSetKernelArg(ew)", err, "for argument %u", k - 1);
    return ocl_enqueue(c, e->kernel, "ew", n, e->local);
}
