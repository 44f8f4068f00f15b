/* The cpu backend: registration, instances and host memory. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cblas.h>

#include "cpu.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

const dlh_host *cpu_host;

static size_t cpu_buffer_bytes(const dlh_buffer *buf)
{
    return buf->bytes;
}

bchk_backend cpu_checks = { .name = "cpu", .buffer_bytes = cpu_buffer_bytes };

/* ---- instances ---- */

static int cpu_create(const dlh_host *host, dlh_params *params, void **out)
{
    cpu_ctx *c = calloc(1, sizeof *c);
    *out = c;
    if (c == NULL) {
        host->error("cpu: out of memory");
        return DLH_ENOMEM;
    }
    c->host = host;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t threads = online < 1 ? 1 : online > 1024 ? 1024 : online;
    /* The default is the machine's: no table default, so read only when
       present. */
    if (params != NULL && host->param_has(params, "threads")) {
        int rc = host->param_int(params, "threads", NULL, 1, 1024, &threads);
        if (rc != 0)
            return rc;
    }
    c->max_threads = (int)threads;
    /* A gemm is cut into as many pieces as the machine has CPUs whatever the
       thread count, so that the bits do not depend on it (cpu_gemm.c). */
    c->panels = online < 1 ? 1 : online > CPU_MAX_PANELS ? CPU_MAX_PANELS : (int)online;
    static const int adapt_default = 1;
    int adapt = adapt_default;
    if (params != NULL) {
        int rc = host->param_bool(params, "adapt", &adapt_default, &adapt);
        if (rc != 0)
            return rc;
    }
    c->adapt = adapt;
    /* core/loader.c has set the policy before this plugin pulled libgomp in. */
    const char *policy = getenv("OMP_WAIT_POLICY");
    c->passive = policy && strcasecmp(policy, "passive") == 0;
    /* precision: fp32, or bf16 products (cpu_bf16.c) */
    static const char *const precisions[] = { "fp32", "bf16", NULL };
    int precision = 0;
    if (params != NULL) {
        int rc = host->param_choice(params, "precision", precisions, 0, &precision);
        if (rc != 0)
            return rc;
    }
    if (precision == 1) {
#ifdef HAVE_DNNL
        int rc = cpu_bf16_start(c, params);
        if (rc != 0)
            return rc;
#else
        return host->param_error(params, "precision", "precision \"bf16\" needs oneDNN, "
                                 "and this dlhost was built without it (install "
                                 "libdnnl-dev and configure again)");
#endif
    }
    static const int onednn_default = 1;
    int onednn = onednn_default;
    if (params != NULL) {
        int rc = host->param_bool(params, "onednn", &onednn_default, &onednn);
        if (rc != 0)
            return rc;
    }
    c->onednn = onednn;
    cpu_adapt_start(c);
    /* One thread pool: OpenMP's threads split the gemms (cpu_gemm.c), and
       each block is a single-threaded OpenBLAS call. */
    openblas_set_num_threads(1);
    return 0;
}

static void cpu_destroy(void *ctx)
{
#ifdef HAVE_DNNL
    if (ctx != NULL) {
        cpu_bf16_destroy(ctx);
        cpu_conv_done(ctx);
    }
#endif
    free(ctx);
}

static int cpu_describe(void *ctx, char *buf, size_t size)
{
    cpu_ctx *c = ctx;
    if (buf == NULL || size == 0) {
        cpu_host->error("cpu describe: no output buffer");
        return DLH_EINVAL;
    }
    /* The config string is "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ...": keep
       the name and version only. */
    const char *cfg = openblas_get_config();
    int len = 0, words = 0;
    while (cfg != NULL && cfg[len] != '\0') {
        if (cfg[len] == ' ' && ++words == 2)
            break;
        len++;
    }
    const char *core = openblas_get_corename();
    /* How the OpenMP workers wait between regions (core/loader.c picks it
       unless the user did): it changes the speed by half or more. */
    const char *policy = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    char wait[48] = "";
    if (c->max_threads > 1 && policy && *policy)
        snprintf(wait, sizeof wait, ", %s wait", strcasecmp(policy, "passive") == 0
                                                     ? "passive" : "active");
    else if (c->max_threads > 1 && spin && *spin)
        snprintf(wait, sizeof wait, ", spin %.16s", spin);
    snprintf(buf, size, "%.*s, %s, %d thread%s%s%s", len, cfg != NULL ? cfg : "",
             core != NULL ? core : "unknown core", c->max_threads,
             c->max_threads == 1 ? "" : "s", wait,
             cpu_bf16(c) ? ", bf16 gemm (oneDNN matmul)" : "");
    return 0;
}

/* ---- memory ---- */

static int cpu_alloc(void *ctx, size_t bytes, dlh_buffer **out)
{
    (void)ctx;
    *out = NULL;
    dlh_buffer *b = malloc(sizeof *b);
    if (b == NULL) {
        cpu_host->error("cpu alloc: out of memory");
        return DLH_ENOMEM;
    }
    /* 64 bytes even for an empty buffer, so ptr is never NULL. */
    size_t rounded = bytes <= SIZE_MAX - 63 ? (bytes + 63) & ~(size_t)63 : 0;
    if (rounded == 0 && bytes != 0) {
        free(b);
        cpu_host->error("cpu alloc: %zu bytes is too large", bytes);
        return DLH_ENOMEM;
    }
    if (posix_memalign(&b->ptr, 64, rounded ? rounded : 64) != 0) {
        free(b);
        cpu_host->error("cpu alloc: out of memory for %zu bytes", bytes);
        return DLH_ENOMEM;
    }
    b->bytes = bytes;
    *out = b;
    return 0;
}

static void cpu_free(void *ctx, dlh_buffer *buf)
{
    (void)ctx;
    if (buf == NULL)
        return;
    free(buf->ptr);
    free(buf);
}

/* Bytes from which a copy between distinct memory is shared out over the
   threads (a batch of MNIST images is 400 KB), and the piece alignment. */
#define CPU_COPY_PAR_MIN (256 * 1024)
#define CPU_COPY_ALIGN 64

/* memcpy of non-overlapping memory, in one piece per thread when large. */
static void cpu_memcpy(const cpu_ctx *c, void *dst, const void *src, size_t bytes)
{
    int parts = c->threads;
    if (parts < 2 || bytes < CPU_COPY_PAR_MIN) {
        memcpy(dst, src, bytes);
        return;
    }
    size_t per = (bytes / (size_t)parts + CPU_COPY_ALIGN - 1) / CPU_COPY_ALIGN *
                 CPU_COPY_ALIGN;
    #pragma omp parallel for num_threads(parts) schedule(static)
    for (int t = 0; t < parts; t++) {
        size_t lo = (size_t)t * per;
        if (lo < bytes)
            memcpy((char *)dst + lo, (const char *)src + lo,
                   bytes - lo < per ? bytes - lo : per);
    }
}

static int cpu_write(void *ctx, dlh_buffer *dst, size_t dst_off, const void *src,
                     size_t bytes)
{
    int rc = bchk_span(&cpu_checks, "write", "destination", dst, dst_off, bytes);
    if (rc != 0)
        return rc;
    if (bytes != 0)
        cpu_memcpy(ctx, (char *)dst->ptr + dst_off, src, bytes);
    return 0;
}

static int cpu_read(void *ctx, dlh_buffer *src, size_t src_off, void *dst, size_t bytes)
{
    int rc = bchk_span(&cpu_checks, "read", "source", src, src_off, bytes);
    if (rc != 0)
        return rc;
    if (bytes != 0)
        cpu_memcpy(ctx, dst, (const char *)src->ptr + src_off, bytes);
    return 0;
}

static int cpu_copy(void *ctx, dlh_buffer *dst, size_t dst_off, dlh_buffer *src,
                    size_t src_off, size_t bytes)
{
    int rc = bchk_span(&cpu_checks, "copy", "destination", dst, dst_off, bytes);
    if (rc == 0)
        rc = bchk_span(&cpu_checks, "copy", "source", src, src_off, bytes);
    if (rc != 0)
        return rc;
    /* memmove: a copy within one buffer may overlap. */
    if (bytes != 0 && dst == src)
        memmove((char *)dst->ptr + dst_off, (const char *)src->ptr + src_off, bytes);
    else if (bytes != 0)
        cpu_memcpy(ctx, (char *)dst->ptr + dst_off, (const char *)src->ptr + src_off,
                   bytes);
    return 0;
}

static int cpu_fill(void *ctx, dlh_mem dst, size_t n, float value)
{
    cpu_ctx *c = ctx;
    int rc = bchk_mem(&cpu_checks, "fill", "dst", dst, n, sizeof(float));
    if (rc != 0 || n == 0)
        return rc;
    float *y = cpu_f32(dst);
    #pragma omp parallel for num_threads(c->threads) if (n >= 16 * CPU_PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] = value;
    return 0;
}

static int cpu_sync(void *ctx)
{
    (void)ctx;
    return 0;
}

/* Host memory, and every call has finished when it returns. */
static void *cpu_host_ptr(void *ctx, dlh_buffer *buf)
{
    (void)ctx;
    return buf ? buf->ptr : NULL;
}

static const dlh_backend_ops cpu_ops = {
    .struct_size = sizeof(dlh_backend_ops),
    .probe = NULL,
    .create = cpu_create,
    .destroy = cpu_destroy,
    .describe = cpu_describe,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .write = cpu_write,
    .read = cpu_read,
    .copy = cpu_copy,
    .fill = cpu_fill,
    .sync = cpu_sync,
    .gemm = cpu_gemm,
    .gemm_batched = cpu_gemm_batched,
    .ew_prepare = cpu_ew_prepare,
    .ew_release = cpu_ew_release,
    .ew_run = cpu_ew_run,
    .reduce = cpu_reduce,
    .softmax = cpu_softmax,
    .im2col = cpu_im2col,
    .col2im = cpu_col2im,
    .pool2d = cpu_pool2d,
    .pool2d_backward = cpu_pool2d_backward,
    .gather = cpu_gather,
    .scatter_add = cpu_scatter_add,
    .rand = cpu_rand,
    .host_ptr = cpu_host_ptr,
#ifdef HAVE_DNNL
    .conv2d_prepare = cpu_conv2d_prepare,
    .conv2d_release = cpu_conv2d_release,
    .conv2d_forward = cpu_conv2d_forward,
    .conv2d_backward_data = cpu_conv2d_backward_data,
    .conv2d_backward_weights = cpu_conv2d_backward_weights,
#endif
    .pool2d_max_relu = cpu_pool2d_max_relu,
    .pool2d_max_backward_set = cpu_pool2d_max_backward_set,
    .gemm_bias_act = cpu_gemm_bias_act,
};

/* Parameter table (plugin.h): checked by the host against every read. */
static const dlh_param_doc cpu_params[] = {
    { "threads", DLH_PARAM_INT, "", 1, 1024, NULL, "OpenMP threads; unset: the CPU count (at most 1024)" },
    { "adapt", DLH_PARAM_BOOL, "true", 0, 0, NULL, "size the team (at most threads) to the cores other processes leave" },
    { "precision", DLH_PARAM_CHOICE, "fp32", 0, 0, "fp32|bf16", "gemm operands: fp32, or bf16 rounded from the fp32 weights, accumulating in fp32 (oneDNN, a CPU with avx512_bf16 or AMX)" },
    { "onednn", DLH_PARAM_BOOL, "true", 0, 0, NULL, "convolutions through oneDNN (when built with it; false: im2col + gemm)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};

static int cpu_plugin_init(const dlh_host *host, dlh_registrar *reg)
{
    cpu_host = host;
    cpu_checks.host = host;
    int rc = reg->add(reg, DLH_KIND_BACKEND, "cpu", &cpu_ops,
                      "host memory; OpenBLAS gemm, oneDNN convolutions when built with it, "
                      "OpenMP for the other primitives");
    return rc < 0 ? rc : reg->describe(reg, DLH_KIND_BACKEND, "cpu", cpu_params);
}

DLH_PLUGIN("cpu", PACKAGE_VERSION, "CPU backend (OpenBLAS + OpenMP)", "MIT",
           cpu_plugin_init)
