/* The cuda backend, first slice (issue 15): registration, probe and the
 * device listing.  The driver is loaded with dlopen("libcuda.so.1") at probe
 * and create (cuda_driver.c), never linked, so the plugin loads on every
 * machine.  Probe and create say in one line why the backend cannot be
 * used: no driver ("no CUDA driver (libcuda.so.1 not found)"), the driver's
 * own reason (cuInit's error through cuGetErrorString), no device, or, on a
 * machine with a device, that this build implements no primitives yet: the
 * kernels exist (plugins/backends/gpu/, compiled for cuda by NVRTC in
 * tests/test_cuda_nvrtc.c) but memory, launches and cuBLAS are the next
 * slice.  So `backend = auto` passes over it with that reason, and an
 * explicit `--backend cuda` stops with exit status 1 and the line.  The
 * primitive slots are filled (the host requires them) but unreachable:
 * create never makes an instance. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <stdio.h>

#include <dlhost/dlhost.h>

#include "cuda_driver.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

static const dlh_host *cu_host;

static const char not_yet[] =
    "found %d CUDA device%s (driver %d.%d), but this build's cuda backend implements "
    "no primitives yet (issue 15's next slice): use --backend opencl or cpu";

/* 1 usable, 0 not (with the reason through host->error). */
static int cu_probe(const dlh_host *host)
{
    const char *why;
    const cu_driver *d = cu_driver_get(&why);
    if (d == NULL) {
        host->error("%s", why);
        return 0;
    }
    host->error(not_yet, d->n_devices, d->n_devices == 1 ? "" : "s", d->version / 1000,
                d->version % 1000 / 10);
    return 0;
}

static int cu_create(const dlh_host *host, dlh_params *params, void **ctx)
{
    (void)params;
    *ctx = NULL;
    const char *why;
    const cu_driver *d = cu_driver_get(&why);
    if (d == NULL) {
        host->error("cuda: %s", why);
        return DLH_EDEVICE;
    }
    host->error(not_yet, d->n_devices, d->n_devices == 1 ? "" : "s", d->version / 1000,
                d->version % 1000 / 10);
    return DLH_EUNSUPPORTED;
}

static void cu_destroy(void *ctx)
{
    (void)ctx;
}

static int cu_devices(const dlh_host *host, char *buf, size_t size)
{
    (void)host;
    if (buf == NULL || size == 0) {
        cu_host->error("cuda devices: no output buffer");
        return DLH_EINVAL;
    }
    buf[0] = '\0';
    const char *why;
    const cu_driver *d = cu_driver_get(&why);
    if (d == NULL) {
        snprintf(buf, size, "%s\n", why);
        return 0;
    }
    size_t used = 0;
    int w = snprintf(buf, size, "driver %d.%d\n", d->version / 1000, d->version % 1000 / 10);
    used = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < d->n_devices && used < size; i++) {
        int dev = 0, major = 0, minor = 0, sms = 0;
        size_t mem = 0;
        char name[256] = "?";
        if (d->device_get(&dev, i) != 0 || d->device_name(name, sizeof name, dev) != 0)
            snprintf(name, sizeof name, "?");
        d->device_attribute(&major, CU_ATTR_CC_MAJOR, dev);
        d->device_attribute(&minor, CU_ATTR_CC_MINOR, dev);
        d->device_attribute(&sms, CU_ATTR_SM_COUNT, dev);
        d->device_total_mem(&mem, dev);
        w = snprintf(buf + used, size - used,
                     "  device %d: %s (compute capability %d.%d, %d SMs, %zu MiB)\n", i, name,
                     major, minor, sms, mem >> 20);
        used += w > 0 ? (size_t)w : 0;
    }
    return 0;
}

static int cu_describe(void *ctx, char *buf, size_t size)
{
    (void)ctx;
    if (buf && size)
        snprintf(buf, size, "cuda (no instance)");
    return 0;
}

/* ---- the primitive slots: unreachable, create makes no instance ---- */

static int none(const char *prim)
{
    cu_host->error("cuda %s: this build's cuda backend implements no primitives yet", prim);
    return DLH_EUNSUPPORTED;
}

static int cu_alloc(void *c, size_t n, dlh_buffer **o)
{
    (void)c, (void)n;
    *o = NULL;
    return none("alloc");
}
static void cu_free(void *c, dlh_buffer *b)
{
    (void)c, (void)b;
}
static int cu_write(void *c, dlh_buffer *d, size_t o, const void *s, size_t n)
{
    (void)c, (void)d, (void)o, (void)s, (void)n;
    return none("write");
}
static int cu_read(void *c, dlh_buffer *s, size_t o, void *d, size_t n)
{
    (void)c, (void)s, (void)o, (void)d, (void)n;
    return none("read");
}
static int cu_copy(void *c, dlh_buffer *d, size_t doff, dlh_buffer *s, size_t soff, size_t n)
{
    (void)c, (void)d, (void)doff, (void)s, (void)soff, (void)n;
    return none("copy");
}
static int cu_fill(void *c, dlh_mem d, size_t n, float v)
{
    (void)c, (void)d, (void)n, (void)v;
    return none("fill");
}
static int cu_sync(void *c)
{
    (void)c;
    return none("sync");
}
static int cu_gemm(void *c, int ta, int tb, int m, int n, int k, float al, dlh_mem a, int lda,
                   dlh_mem b, int ldb, float be, dlh_mem cc, int ldc)
{
    (void)c, (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)al, (void)a, (void)lda;
    (void)b, (void)ldb, (void)be, (void)cc, (void)ldc;
    return none("gemm");
}
static int cu_gemm_batched(void *c, int ta, int tb, int m, int n, int k, float al, dlh_mem a,
                           int lda, int64_t sa, dlh_mem b, int ldb, int64_t sb, float be,
                           dlh_mem cc, int ldc, int64_t sc, int batch)
{
    (void)c, (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)al, (void)a, (void)lda;
    (void)sa, (void)b, (void)ldb, (void)sb, (void)be, (void)cc, (void)ldc, (void)sc;
    (void)batch;
    return none("gemm_batched");
}
static int cu_ew_prepare(void *c, const dlh_ew_program *p, void **k)
{
    (void)c, (void)p;
    *k = NULL;
    return none("ew_prepare");
}
static void cu_ew_release(void *c, void *k)
{
    (void)c, (void)k;
}
static int cu_ew_run(void *c, void *k, size_t n, const dlh_ew_arg *a, const float *s)
{
    (void)c, (void)k, (void)n, (void)a, (void)s;
    return none("ew_run");
}
static int cu_reduce(void *c, dlh_reduce_op op, int axis, int rows, int cols, dlh_mem x,
                     dlh_mem out, dlh_mem idx)
{
    (void)c, (void)op, (void)axis, (void)rows, (void)cols, (void)x, (void)out, (void)idx;
    return none("reduce");
}
static int cu_softmax(void *c, int lg, int rows, int cols, dlh_mem x, dlh_mem y)
{
    (void)c, (void)lg, (void)rows, (void)cols, (void)x, (void)y;
    return none("softmax");
}
static int cu_im2col(void *c, const dlh_window2d *g, int n, dlh_mem img, dlh_mem col)
{
    (void)c, (void)g, (void)n, (void)img, (void)col;
    return none("im2col");
}
static int cu_col2im(void *c, const dlh_window2d *g, int n, dlh_mem col, dlh_mem img)
{
    (void)c, (void)g, (void)n, (void)col, (void)img;
    return none("col2im");
}
static int cu_pool2d(void *c, dlh_pool_op op, const dlh_window2d *g, int n, dlh_mem x,
                     dlh_mem y, dlh_mem idx)
{
    (void)c, (void)op, (void)g, (void)n, (void)x, (void)y, (void)idx;
    return none("pool2d");
}
static int cu_pool2d_backward(void *c, dlh_pool_op op, const dlh_window2d *g, int n,
                              dlh_mem dy, dlh_mem idx, dlh_mem dx)
{
    (void)c, (void)op, (void)g, (void)n, (void)dy, (void)idx, (void)dx;
    return none("pool2d_backward");
}
static int cu_gather(void *c, int n, int cols, dlh_mem s, dlh_mem idx, dlh_mem d)
{
    (void)c, (void)n, (void)cols, (void)s, (void)idx, (void)d;
    return none("gather");
}
static int cu_scatter_add(void *c, int n, int cols, dlh_mem s, dlh_mem idx, dlh_mem d)
{
    (void)c, (void)n, (void)cols, (void)s, (void)idx, (void)d;
    return none("scatter_add");
}
static int cu_rand(void *c, dlh_rand_dist dist, dlh_mem d, size_t n, uint64_t seed,
                   uint64_t stream, uint64_t off, float a, float b)
{
    (void)c, (void)dist, (void)d, (void)n, (void)seed, (void)stream, (void)off, (void)a;
    (void)b;
    return none("rand");
}

static const dlh_backend_ops cu_ops = {
    .struct_size = sizeof(dlh_backend_ops),
    .probe = cu_probe,
    .create = cu_create,
    .destroy = cu_destroy,
    .describe = cu_describe,
    .alloc = cu_alloc,
    .free = cu_free,
    .write = cu_write,
    .read = cu_read,
    .copy = cu_copy,
    .fill = cu_fill,
    .sync = cu_sync,
    .gemm = cu_gemm,
    .gemm_batched = cu_gemm_batched,
    .ew_prepare = cu_ew_prepare,
    .ew_release = cu_ew_release,
    .ew_run = cu_ew_run,
    .reduce = cu_reduce,
    .softmax = cu_softmax,
    .im2col = cu_im2col,
    .col2im = cu_col2im,
    .pool2d = cu_pool2d,
    .pool2d_backward = cu_pool2d_backward,
    .gather = cu_gather,
    .scatter_add = cu_scatter_add,
    .rand = cu_rand,
    .devices = cu_devices,
};

/* No parameters yet (device selection arrives with the primitives). */
static const dlh_param_doc cu_params[] = {
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};

static int cu_plugin_init(const dlh_host *host, dlh_registrar *reg)
{
    cu_host = host;
    int rc = reg->add(reg, DLH_KIND_BACKEND, "cuda", &cu_ops,
                      "NVIDIA GPUs through the CUDA driver (this build: probe and devices "
                      "only)");
    return rc < 0 ? rc : reg->describe(reg, DLH_KIND_BACKEND, "cuda", cu_params);
}

DLH_PLUGIN("cuda", PACKAGE_VERSION, "CUDA backend (driver by dlopen; primitives: next slice)",
           "MIT", cu_plugin_init)
