/* The cuda backend (issue 15): registration, probe, the device listing,
 * instances and describe.  The driver (cuda_driver.c), NVRTC
 * (gpu/gpu_nvrtc.c), cuBLAS (cu_blas.c) and cuDNN (cu_dnn.c; optional:
 * without it convolutions use im2col + gemm) are loaded with dlopen, never
 * linked, so the plugin loads on every machine.  Probe and create say in
 * one line why the backend cannot be used: no driver ("no CUDA driver
 * (libcuda.so.1 not found)"), the driver's own reason (cuInit's error
 * through cuGetErrorString), no device, no cuBLAS or NVRTC; so
 * `backend = auto` passes over it with that reason, and an explicit
 * `--backend cuda` stops with exit status 1 and the line.
 *
 * Parameters (backend = { type = "cuda"; ... }):
 *   device   the device's index (default 0), checked against the driver's
 *            count
 * Kernels are cached on disk (cu_program.c) in the cache folder's cuda/
 * (core/cache_dir.h: $DLHOST_CACHE_DIR, else $XDG_CACHE_HOME/dlhost, else
 * ~/.cache/dlhost), bounded to $DLHOST_CUDA_CACHE_MB MiB (default 256; the
 * least recently used go first, at the end of each instance:
 * cu_cache_trim.c).
 *
 * Written and tested without a GPU (see cuda_backend.h): the fake driver of
 * tests/fake_cuda/ runs everything here but the kernels. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

const dlh_host *cu_host;

int cu_fail(cu_ctx *c, const char *call, int rc, const char *fmt, ...)
{
    char head[600], tail[1200] = "";
    cu_driver_error(c->d, call, rc, head, sizeof head);
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        tail[0] = ' ';
        vsnprintf(tail + 1, sizeof tail - 1, fmt, ap);
        va_end(ap);
    }
    cu_host->error("cuda: %s%s", head, tail);
    return rc == CU_ERROR_OUT_OF_MEMORY ? DLH_ENOMEM : DLH_EDEVICE;
}

int cu_current(cu_ctx *c)
{
    int err = c->d->ctx_set_current(c->context);
    return err == 0 ? 0 : cu_fail(c, "cuCtxSetCurrent", err, "(device %d)", c->ordinal);
}

/* 1 usable, 0 not (with the reason through host->error). */
static int cu_probe(const dlh_host *host)
{
    const char *why;
    if (cu_driver_get(&why) == NULL) {
        host->error("%s", why);
        return 0;
    }
    return 1;
}

static int device_info(cu_ctx *c)
{
    const cu_driver *d = c->d;
    int err = d->device_get(&c->device, c->ordinal);
    if (err != 0)
        return cu_fail(c, "cuDeviceGet", err, "(device %d)", c->ordinal);
    if (d->device_name(c->name, sizeof c->name, c->device) != 0)
        snprintf(c->name, sizeof c->name, "device %d", c->ordinal);
    c->name[sizeof c->name - 1] = '\0';
    if ((err = d->device_attribute(&c->cc_major, CU_ATTR_CC_MAJOR, c->device)) != 0 ||
        (err = d->device_attribute(&c->cc_minor, CU_ATTR_CC_MINOR, c->device)) != 0)
        return cu_fail(c, "cuDeviceGetAttribute", err, "(compute capability of '%s')",
                       c->name);
    if (d->device_attribute(&c->sms, CU_ATTR_SM_COUNT, c->device) != 0)
        c->sms = 0;
    if (d->device_total_mem(&c->total_mem, c->device) != 0)
        c->total_mem = 0;
    snprintf(c->arch, sizeof c->arch, "compute_%d%d", c->cc_major, c->cc_minor);
    return 0;
}

static int cu_create(const dlh_host *host, dlh_params *params, void **out)
{
    cu_ctx *c = calloc(1, sizeof *c);
    *out = c;
    if (c == NULL) {
        host->error("cuda: out of memory");
        return DLH_ENOMEM;
    }
    c->host = host;
    /* bf16 products are the cpu backend's alone for now (cpu_bf16.c): said
       before the driver is looked for. */
    static const char *const precisions[] = { "fp32", "bf16", NULL };
    int precision = 0, rc;
    if (params != NULL &&
        (rc = host->param_choice(params, "precision", precisions, 0, &precision)) != 0)
        return rc;
    if (precision != 0)
        return host->param_error(params, "precision", "precision \"bf16\" is not yet on cuda "
                                 "(the cpu backend has it); use \"fp32\"");
    const char *why;
    if ((c->d = cu_driver_get(&why)) == NULL) {
        host->error("cuda: %s", why);
        return DLH_EDEVICE;
    }
    int64_t ordinal = 0, def = 0;
    if (params != NULL && (rc = host->param_int(params, "device", &def, 0, 1023, &ordinal)) != 0)
        return rc;
    if (ordinal >= c->d->n_devices) {
        char range[32] = "0";
        if (c->d->n_devices > 1)
            snprintf(range, sizeof range, "0 to %d", c->d->n_devices - 1);
        host->error("cuda: device %lld does not exist: the driver sees %d CUDA device%s "
                    "(%s); `dlhost plugins --verbose` lists them", (long long)ordinal,
                    c->d->n_devices, c->d->n_devices == 1 ? "" : "s", range);
        return DLH_EINVAL;
    }
    c->ordinal = (int)ordinal;
    if ((rc = device_info(c)) != 0)
        return rc;
    int err = c->d->primary_retain(&c->context, c->device);
    if (err != 0)
        return cu_fail(c, "cuDevicePrimaryCtxRetain", err, "for '%s'", c->name);
    c->retained = 1;
    if ((rc = cu_current(c)) != 0)
        return rc;
    if ((err = c->d->stream_create(&c->stream, CU_STREAM_NON_BLOCKING)) != 0) {
        c->stream = NULL;
        return cu_fail(c, "cuStreamCreate", err, "on '%s'", c->name);
    }
    if ((err = c->d->mem_alloc_host((void **)&c->staging, CU_STAGING_BYTES)) != 0) {
        c->staging = NULL;
        return cu_fail(c, "cuMemAllocHost", err, "(%zu bytes of pinned staging memory)",
                       CU_STAGING_BYTES);
    }
    cu_cache_dir(c->cache_dir, sizeof c->cache_dir);
    if ((rc = cu_blas_open(c)) != 0 || (rc = cu_kernels_load(c)) != 0)
        return rc;
    host->log(DLH_LOG_DEBUG, "cuda: '%s' (%s), kernels: %d compiled, %d from the cache %s",
              c->name, c->arch, c->n_compiled, c->n_cached,
              c->cache_dir[0] ? c->cache_dir : "(none: no HOME)");
    return 0;
}

static void cu_destroy(void *ctx)
{
    cu_ctx *c = ctx;
    if (c == NULL)
        return;
    if (c->d != NULL && c->retained) {
        c->d->ctx_set_current(c->context);
        if (c->stream != NULL)
            c->d->stream_sync(c->stream);
        cu_dnn_close(c);
        cu_blas_close(c);
        cu_ew_cache_free(c);
        if (c->module != NULL)
            c->d->module_unload(c->module);
        cu_pool_release(c);
        if (c->stream != NULL)
            c->d->stream_destroy(c->stream);
        c->d->primary_release(c->device);
    } else {
        free(c->blas);
    }
    if (c->live_bytes != 0)
        cu_host->log(DLH_LOG_DEBUG, "cuda: %zu bytes of buffers were not freed",
                     c->live_bytes);
    gpu_nvrtc_close(&c->nv);
    if (c->cache_dir[0])
        cu_cache_trim(c->cache_dir, cu_cache_cap());
    free(c);
}

static int cu_describe(void *ctx, char *buf, size_t size)
{
    cu_ctx *c = ctx;
    if (buf == NULL || size == 0) {
        cu_host->error("cuda describe: no output buffer");
        return DLH_EINVAL;
    }
    char blas[64];
    cu_blas_version(c, blas, sizeof blas);
    snprintf(buf, size, "%s, %s (compute capability %d.%d, %d SMs, %zu MiB), driver %d.%d",
             blas, c->name, c->cc_major, c->cc_minor, c->sms, c->total_mem >> 20,
             c->d->version / 1000, c->d->version % 1000 / 10);
    return 0;
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
    .conv2d_prepare = cu_conv2d_prepare,
    .conv2d_release = cu_conv2d_release,
    .conv2d_forward = cu_conv2d_forward,
    .conv2d_backward_data = cu_conv2d_backward_data,
    .conv2d_backward_weights = cu_conv2d_backward_weights,
    .pool2d_max_relu = cu_pool2d_max_relu,
    .pool2d_max_backward_set = cu_pool2d_max_backward_set,
};

/* Parameter table (plugin.h): checked by the host against every read. */
static const dlh_param_doc cu_params[] = {
    { "precision", DLH_PARAM_CHOICE, "fp32", 0, 0, "fp32|bf16", "gemm operands: fp32 only (bf16 is refused: the cpu backend has it)" },
    { "device", DLH_PARAM_INT, "0", 0, 1023, NULL, "the CUDA device's index (dlhost plugins --verbose lists them)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};

static int cu_plugin_init(const dlh_host *host, dlh_registrar *reg)
{
    cu_host = host;
    cu_checks.host = host;
    int rc = reg->add(reg, DLH_KIND_BACKEND, "cuda", &cu_ops,
                      "NVIDIA GPUs: cuBLAS gemm, cuDNN convolutions when present, "
                      "NVRTC-built kernels (driver, cuBLAS, cuDNN and NVRTC by dlopen)");
    return rc < 0 ? rc : reg->describe(reg, DLH_KIND_BACKEND, "cuda", cu_params);
}

DLH_PLUGIN("cuda", PACKAGE_VERSION, "CUDA backend (cuBLAS + NVRTC kernels)", "MIT",
           cu_plugin_init)
