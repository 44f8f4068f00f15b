/* Elementwise programs as CUDA kernels: the source is gpu_ew_source's CUDA
 * rendering (plugins/backends/gpu/gpu_ew.c, the generator the opencl
 * backend uses), compiled with NVRTC once per distinct text in the instance
 * (gpu_ew_cache: every relu layer's program is one module) and kept across
 * runs by the disk cache of cu_program.c. */

#include "cuda_backend.h"

/* An entry of the instance's gpu_ew_cache: the module and its kernel. */
typedef struct cu_ew_entry {
    gpu_ew_entry base;
    void *module, *fn;
} cu_ew_entry;

static int cu_ew_build(void *ctx, gpu_ew_entry *base)
{
    cu_ctx *c = ctx;
    cu_ew_entry *e = (cu_ew_entry *)base;
    int rc = cu_module(c, base->source, "an elementwise program", &e->module);
    if (rc == 0) {
        int err = c->d->module_get_function(&e->fn, e->module, GPU_EW_KERNEL);
        if (err != 0)
            rc = cu_fail(c, "cuModuleGetFunction", err, "for an elementwise program");
    }
    if (rc != 0 && e->module != NULL)
        c->d->module_unload(e->module);
    return rc;
}

static void cu_ew_drop(void *ctx, gpu_ew_entry *base)
{
    cu_ctx *c = ctx;
    c->d->module_unload(((cu_ew_entry *)base)->module);
}

int cu_ew_prepare(void *ctx, const dlh_ew_program *prog, void **kernel)
{
    cu_ctx *c = ctx;
    return gpu_ew_cache_get(&c->ew_cache, &cu_checks, cu_host, "cuda", GPU_CUDA, prog,
                            sizeof(cu_ew_entry), cu_ew_build, c, kernel);
}

/* Entries live in the instance's cache until it is destroyed. */
void cu_ew_release(void *ctx, void *kernel)
{
    (void)ctx;
    (void)kernel;
}

void cu_ew_cache_free(cu_ctx *c)
{
    gpu_ew_cache_free(&c->ew_cache, cu_ew_drop, c);
}

int cu_ew_run(void *ctx, void *kernel, size_t n, const dlh_ew_arg *args, const float *scalars)
{
    cu_ctx *c = ctx;
    cu_ew_entry *e = kernel;
    if (n == 0)
        return 0;
    unsigned long long nn = n, meta[DLH_EW_MAX_OPERANDS][3];
    void *p[1 + 4 * DLH_EW_MAX_OPERANDS + DLH_EW_MAX_SCALARS];
    int k = 0;
    p[k++] = &nn;
    for (uint32_t j = 0; j < e->base.n_arrays; j++) {
        const dlh_ew_arg *a = &args[j];
        int rc = bchk_ew_operand(&cu_checks, j, n, a, e->base.written[j]);
        if (rc != 0)
            return rc;
        /* (i / 1) % L == i for every i < n <= L: the kernel skips the modulo. */
        int full = a->stride == 1 && a->len >= n;
        meta[j][0] = a->mem.off;
        meta[j][1] = full ? 0 : a->len;
        meta[j][2] = a->stride;
        p[k++] = &a->mem.buf->ptr;
        p[k++] = &meta[j][0];
        if (!e->base.written[j]) {
            p[k++] = &meta[j][1];
            p[k++] = &meta[j][2];
        }
    }
    /* A key word's parameter is a uint: the float's four bytes are its bits. */
    for (uint32_t j = 0; j < e->base.n_scalars; j++)
        p[k++] = (void *)&scalars[j];
    return cu_launch_fn(c, e->fn, "ew", n, CU_BLOCK, p);
}
