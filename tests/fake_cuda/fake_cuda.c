/* A fake CUDA driver for the tests (loaded through $DLHOST_CUDA_DRIVER; the
 * same library is the fake cuBLAS of fake_cublas.c, $DLHOST_CUBLAS):
 * the driver API calls the cuda backend makes, on host memory.  Devices,
 * contexts, streams, allocation, copies and memsets are real (a device
 * pointer is a host pointer).  Like a real stream, copies and memsets are
 * queued and done in order at cuStreamSynchronize (or before a cuBLAS call
 * or cuMemFree, which wait as the real ones do), and the source of an
 * upload is read then, not when it was queued: a backend that reuses its
 * staging memory too early or reads before waiting gets wrong bytes here.
 * cuModuleLoadData
 * checks that it got PTX text and cuModuleGetFunction that the PTX defines
 * the kernel; launches are checked (block size, parameters) and counted
 * but NOT RUN: no kernel of the cuda backend executes here.  So the tests
 * prove the host side (pool, staging, caches, argument checks, the calls
 * made), not the numbers kernels compute; those are proven on PoCL through
 * the shared source, and on a GPU by tests/gpu/run-cuda-checks.sh.
 *
 * fake_cuda_stats() gives the counters to a test that dlopens the same
 * library; $FAKE_CUDA_DEVICES sets the device count (default 1);
 * $FAKE_CUDA_REPORT names a file that gets the counters at exit. */
#include <stdint.h>
#include <stdio.h>
/* The exported entry points are the driver's and cuBLAS's ABI, declared by
   the libraries that call them. */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#include <stdlib.h>
#include <string.h>

#include "fake_cuda.h"

static fake_cuda_counters st;

/* The stream's queue: copies (n bytes from src to dst) and memsets. */
typedef struct fake_op {
    void *dst;
    const void *src;
    size_t n;
    unsigned value;
    int memset;
} fake_op;
static fake_op *queue;
static size_t queued, queue_cap;

static int enqueue(void *dst, const void *src, size_t n, unsigned value, int memset32)
{
    if (queued == queue_cap) {
        size_t cap = queue_cap ? 2 * queue_cap : 64;
        fake_op *q = realloc(queue, cap * sizeof *q);
        if (q == NULL)
            return 2;
        queue = q;
        queue_cap = cap;
    }
    queue[queued++] = (fake_op){ dst, src, n, value, memset32 };
    return 0;
}

void fake_cuda_flush(void)
{
    for (size_t i = 0; i < queued; i++) {
        fake_op *o = &queue[i];
        if (o->memset)
            for (size_t j = 0; j < o->n; j++)
                ((unsigned *)o->dst)[j] = o->value;
        else
            memcpy(o->dst, o->src, o->n);
    }
    queued = 0;
}

void fake_cuda_fail_alloc_over(size_t bytes)
{
    st.fail_alloc_over = bytes;
}
static int primary_ctx;                 /* its address is the context */
static int initialised;

const fake_cuda_counters *fake_cuda_stats(void)
{
    return &st;
}

static void report(void)
{
    free(queue);
    queue = NULL;
    const char *path = getenv("FAKE_CUDA_REPORT");
    FILE *f = path && *path ? fopen(path, "w") : NULL;
    if (f == NULL)
        return;
    fprintf(f, "mem_alloc %ld\nmem_free %ld\nlive %ld\nmodule_load %ld\nlaunch %ld\n"
            "stream_sync %ld\nhost_alloc %ld\nretained %ld\nsgemm %ld\nsgemm_batched %ld\n",
            st.mem_alloc, st.mem_free, st.mem_alloc - st.mem_free, st.module_load, st.launch,
            st.stream_sync, st.host_alloc - st.host_free, st.retained, fake_cublas_stats()->sgemm,
            fake_cublas_stats()->sgemm_batched);
    fclose(f);
}

static int n_devices(void)
{
    const char *e = getenv("FAKE_CUDA_DEVICES");
    return e && *e ? atoi(e) : 1;
}

int cuInit(unsigned flags)
{
    if (flags != 0)
        return 1;
    if (!initialised)
        atexit(report);
    initialised = 1;
    return 0;
}

int cuDriverGetVersion(int *v)
{
    *v = 13000;
    return 0;
}

int cuDeviceGetCount(int *n)
{
    *n = n_devices();
    return initialised ? 0 : 3;
}

int cuDeviceGet(int *dev, int ordinal)
{
    if (ordinal < 0 || ordinal >= n_devices())
        return 101;
    *dev = ordinal;
    return 0;
}

int cuDeviceGetName(char *name, int len, int dev)
{
    snprintf(name, (size_t)len, "Fake CUDA device %d", dev);
    return 0;
}

int cuDeviceGetAttribute(int *v, int attr, int dev)
{
    (void)dev;
    *v = attr == 75 ? 9 : attr == 76 ? 0 : attr == 16 ? 132 : 0;
    return 0;
}

int cuDeviceTotalMem_v2(size_t *bytes, int dev)
{
    (void)dev;
    *bytes = (size_t)80 << 30;
    return 0;
}

int cuGetErrorString(int rc, const char **s)
{
    *s = rc == 2 ? "out of memory" : rc == 101 ? "invalid device ordinal"
       : rc == 201 ? "invalid device context" : rc == 218 ? "a PTX JIT compilation failed"
       : rc == 500 ? "named symbol not found" : rc == 1 ? "invalid argument" : NULL;
    return *s ? 0 : 1;
}

int cuGetErrorName(int rc, const char **s)
{
    *s = rc == 2 ? "CUDA_ERROR_OUT_OF_MEMORY" : rc == 101 ? "CUDA_ERROR_INVALID_DEVICE"
       : rc == 201 ? "CUDA_ERROR_INVALID_CONTEXT" : rc == 218 ? "CUDA_ERROR_INVALID_PTX"
       : rc == 500 ? "CUDA_ERROR_NOT_FOUND" : rc == 1 ? "CUDA_ERROR_INVALID_VALUE" : NULL;
    return *s ? 0 : 1;
}

int cuDevicePrimaryCtxRetain(void **ctx, int dev)
{
    if (dev < 0 || dev >= n_devices())
        return 101;
    *ctx = &primary_ctx;
    st.retained++;
    return 0;
}

int cuDevicePrimaryCtxRelease_v2(int dev)
{
    (void)dev;
    if (st.retained <= 0)
        return 201;
    st.retained--;
    return 0;
}

int cuCtxSetCurrent(void *ctx)
{
    return ctx == &primary_ctx && st.retained > 0 ? 0 : 201;
}

int cuStreamCreate(void **s, unsigned flags)
{
    (void)flags;
    *s = malloc(16);
    st.streams++;
    return *s ? 0 : 2;
}

int cuStreamDestroy_v2(void *s)
{
    free(s);
    st.streams--;
    return 0;
}

int cuStreamSynchronize(void *s)
{
    fake_cuda_flush();
    st.stream_sync++;
    return s ? 0 : 1;
}

int cuMemAlloc_v2(unsigned long long *p, size_t bytes)
{
    if (bytes == 0 || (st.fail_alloc_over && bytes > st.fail_alloc_over))
        return bytes ? 2 : 1;
    void *m = malloc(bytes);
    if (m == NULL)
        return 2;
    memset(m, 0xa5, bytes);     /* device memory starts as garbage */
    *p = (unsigned long long)(uintptr_t)m;
    st.mem_alloc++;
    return 0;
}

int cuMemFree_v2(unsigned long long p)
{
    fake_cuda_flush();
    free((void *)(uintptr_t)p);
    st.mem_free++;
    return 0;
}

int cuMemAllocHost_v2(void **p, size_t bytes)
{
    *p = malloc(bytes);
    st.host_alloc++;
    return *p ? 0 : 2;
}

int cuMemFreeHost(void *p)
{
    fake_cuda_flush();
    free(p);
    st.host_free++;
    return 0;
}

int cuMemGetInfo_v2(size_t *free_bytes, size_t *total)
{
    *free_bytes = *total = (size_t)80 << 30;
    return 0;
}

int cuMemcpyHtoDAsync_v2(unsigned long long dst, const void *src, size_t n, void *s)
{
    (void)s;
    st.copies++;
    return enqueue((void *)(uintptr_t)dst, src, n, 0, 0);
}

int cuMemcpyDtoHAsync_v2(void *dst, unsigned long long src, size_t n, void *s)
{
    (void)s;
    st.copies++;
    return enqueue(dst, (const void *)(uintptr_t)src, n, 0, 0);
}

int cuMemcpyDtoDAsync_v2(unsigned long long dst, unsigned long long src, size_t n, void *s)
{
    (void)s;
    st.copies++;
    return enqueue((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n, 0, 0);
}

int cuMemsetD32Async(unsigned long long dst, unsigned v, size_t n, void *s)
{
    (void)s;
    return enqueue((void *)(uintptr_t)dst, NULL, n, v, 1);
}

typedef struct fake_fn {
    struct fake_fn *next;
    char name[64];
} fake_fn;

typedef struct fake_module {
    char *ptx;
    fake_fn *fns;
} fake_module;

int cuModuleLoadData(void **mod, const void *image)
{
    const char *ptx = image;
    /* PTX as NVRTC writes it: a comment header, .version, .target, entries. */
    if (ptx == NULL || strncmp(ptx, "//", 2) != 0 || !strstr(ptx, "\n.version ") ||
        !strstr(ptx, "\n.target sm_") || !strstr(ptx, ".entry "))
        return 218;
    fake_module *m = calloc(1, sizeof *m);
    if (m == NULL || (m->ptx = strdup(ptx)) == NULL) {
        free(m);
        return 2;
    }
    *mod = m;
    st.module_load++;
    st.modules_live++;
    return 0;
}

int cuModuleUnload(void *mod)
{
    fake_module *m = mod;
    while (m->fns) {
        fake_fn *f = m->fns;
        m->fns = f->next;
        free(f);
    }
    free(m->ptx);
    free(m);
    st.modules_live--;
    return 0;
}

int cuModuleGetFunction(void **fn, void *mod, const char *name)
{
    fake_module *m = mod;
    char entry[96];
    snprintf(entry, sizeof entry, ".entry %s(", name);
    if (!strstr(m->ptx, entry))
        return 500;
    fake_fn *f = calloc(1, sizeof *f);
    if (f == NULL)
        return 2;
    snprintf(f->name, sizeof f->name, "%s", name);
    f->next = m->fns;
    m->fns = f;
    *fn = f;
    return 0;
}

int cuLaunchKernel(void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                   unsigned bz, unsigned shared, void *stream, void **params, void **extra)
{
    const fake_fn *f = fn;
    if (f == NULL || gx == 0 || gy != 1 || gz != 1 || bx == 0 || bx > 1024 || by != 1 ||
        bz != 1 || shared != 0 || stream == NULL || params == NULL || extra != NULL)
        return 1;
    st.launch++;
    snprintf(st.last_kernel, sizeof st.last_kernel, "%s", f->name);
    st.last_grid = gx;
    st.last_block = bx;
    return 0;
}
