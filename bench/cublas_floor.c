/* The lower bound of an MLP training step on a CUDA GPU: its GEMMs alone,
 * back to back on one stream with cublasSgemm, no bias, activation, loss
 * or optimiser: bench/sgemm_floor.c's steps (the same GEMMs, the same
 * transposes, weights stored [out, in]) on the GPU.
 *
 *   cublas_floor [--samples N] [--batch B] [--epochs E] [--device I] D0 D1 ... Dk
 *
 * Per step and layer: forward Y = X W^T, weight gradient dW = dY^T X, and
 * the input gradient dX = dY W for every layer but the first.  An epoch is
 * ceil(N / B) steps, the last one partial, timed from a synchronised stream
 * to a synchronised stream (cuStreamSynchronize, then the clock), so the
 * figure is what the GPU took, not how fast the host queued.  The data
 * stays on the device (no copies inside the epoch): the floor has no input
 * pipeline.
 *
 * The driver and cuBLAS are loaded with dlopen as the cuda backend loads
 * them (plugins/backends/gpu/gpu_dl.c, compiled in): $DLHOST_CUDA_DRIVER
 * else libcuda.so.1; $DLHOST_CUBLAS else libcublas.so.13/.12 from
 * $DLHOST_CUDA_DIR/lib64 (else DLH_CUDA_DIR, the toolkit compare.sh gives),
 * else from the loader's path.  cuBLAS's default math mode (FP32, no TF32),
 * as the backend uses it.  Row-major GEMMs map onto column-major cuBLAS by
 * swapping the operands, as the backend does (cu_blas.c).
 *
 * After the timed epochs one more step is checked against the host (double
 * sums): the forward of layer 1, its weight gradient and the input gradient
 * of the last layer, so a floor that computes nothing cannot pass.
 *
 * Prints "device ..." and one line per epoch, then the summary line that
 * bench/compare.py reads:
 *   floor epoch_s=... samples_per_s=... gflops=...   (the fastest epoch)
 * Exit status: 0; 1 when CUDA or cuBLAS is missing or fails, or the check
 * fails (one line on stderr says why); 2 on bad arguments. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "floor_args.h"
#include "gpu_dl.h"

#ifndef DLH_CUDA_DIR
#define DLH_CUDA_DIR ""
#endif

#define MAX_LAYERS FLOOR_MAX_LAYERS

typedef unsigned long long devptr;

/* The driver's and cuBLAS's functions used, each named as the API names it
   without its prefix (cu, cublas), so that CU and BLAS below can name a
   failed call. */
static struct {
    int (*Init)(unsigned);
    int (*DeviceGet)(int *, int);
    int (*DeviceGetName)(char *, int, int);
    int (*DriverGetVersion)(int *);
    int (*DevicePrimaryCtxRetain)(void **, int);
    int (*DevicePrimaryCtxRelease)(int);
    int (*CtxSetCurrent)(void *);
    int (*StreamCreate)(void **, unsigned);
    int (*StreamDestroy)(void *);
    int (*StreamSynchronize)(void *);
    int (*MemAlloc)(devptr *, size_t);
    int (*MemFree)(devptr);
    int (*MemcpyHtoDAsync)(devptr, const void *, size_t, void *);
    int (*MemcpyDtoHAsync)(void *, devptr, size_t, void *);
    int (*GetErrorString)(int, const char **);
} cu;

static struct {
    int (*Create)(void **);
    int (*Destroy)(void *);
    int (*SetStream)(void *, void *);
    int (*GetVersion)(void *, int *);
    int (*Sgemm)(void *, int, int, int, int, int, const float *, const float *, int,
                 const float *, int, const float *, float *, int);
} blas;

/* Everything allocated, so that a failure can exit at once. */
static void *stream, *handle;
static devptr w[MAX_LAYERS], dw[MAX_LAYERS], act[MAX_LAYERS + 1], grad[MAX_LAYERS + 1];
static float *host_w[MAX_LAYERS], *host_act0, *host_top;

static int usage(const char *why)
{
    fprintf(stderr, "cublas_floor: %s\nusage: cublas_floor [--samples N] [--batch B] "
            "[--epochs E] [--device I] D0 D1 ... Dk\n", why);
    return 2;
}

static void cu_check(int rc, const char *call)
{
    if (rc == 0)
        return;
    const char *s = NULL;
    if (cu.GetErrorString == NULL || cu.GetErrorString(rc, &s) != 0 || s == NULL)
        s = "error";
    fprintf(stderr, "cublas_floor: %s: %s (CUresult %d)\n", call, s, rc);
    exit(1);
}

static void blas_check(int rc, const char *call)
{
    if (rc == 0)
        return;
    fprintf(stderr, "cublas_floor: %s: cublasStatus_t %d\n", call, rc);
    exit(1);
}

/* A checked call: exits with one line naming cuF or cublasF when it fails. */
#define CU(f, ...) cu_check(cu.f(__VA_ARGS__), "cu" #f)
#define BLAS(f, ...) blas_check(blas.f(__VA_ARGS__), "cublas" #f)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *filled(size_t n, unsigned seed)
{
    float *p = malloc(n * sizeof *p);
    if (p == NULL) {
        fprintf(stderr, "cublas_floor: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) * (1.0f / 16777216.0f) - 0.5f;
    }
    return p;
}

/* A device array of n floats, filled as sgemm_floor fills its arrays; the
   host copy is kept when keep is not NULL. */
static devptr device_filled(size_t n, unsigned seed, float **keep)
{
    devptr d;
    CU(MemAlloc, &d, n * sizeof(float));
    float *h = filled(n, seed);
    CU(MemcpyHtoDAsync, d, h, n * sizeof(float), stream);
    CU(StreamSynchronize, stream);
    if (keep != NULL)
        *keep = h;
    else
        free(h);
    return d;
}

/* Row-major C (m x n) = op(A) op(B): column-major C^T = op(B)^T op(A)^T, one
   cublasSgemm with the operands and m, n swapped (cu_blas.c). */
static void sgemm_rm(int ta, int tb, int m, int n, int k, devptr a, int lda, devptr b, int ldb,
                     devptr c, int ldc)
{
    const float one = 1.0f, zero = 0.0f;
    BLAS(Sgemm, handle, tb, ta, n, m, k, &one, (const float *)(uintptr_t)b, ldb,
         (const float *)(uintptr_t)a, lda, &zero, (float *)(uintptr_t)c, ldc);
}

/* One training step's GEMMs on batch b; returns its flops. */
static double step(const int *dims, int nl, int b)
{
    double flops = 0.0;
    for (int l = 0; l < nl; l++) {
        int in = dims[l], out = dims[l + 1];
        sgemm_rm(0, 1, b, out, in, act[l], in, w[l], in, act[l + 1], out);
        flops += 2.0 * b * in * out;
    }
    for (int l = nl - 1; l >= 0; l--) {
        int in = dims[l], out = dims[l + 1];
        sgemm_rm(1, 0, out, in, b, grad[l + 1], out, act[l], in, dw[l], in);
        if (l > 0)
            sgemm_rm(0, 0, b, in, out, grad[l + 1], out, w[l], in, grad[l], in);
        flops += 2.0 * b * in * out * (l > 0 ? 2 : 1);
    }
    return flops;
}

/* Largest |got - ref| over the largest |ref| of C (m x n) = A B (row-major,
   A m x k with strides (sa_r, sa_c), B k x n with strides (sb_r, sb_c)). */
static double check_gemm(const float *got, int m, int n, int k, const float *a, size_t sa_r,
                         size_t sa_c, const float *b, size_t sb_r, size_t sb_c)
{
    double err = 0.0, big = 1e-30;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int p = 0; p < k; p++)
                s += (double)a[i * sa_r + p * sa_c] * b[p * sb_r + j * sb_c];
            err = fmax(err, fabs(got[(size_t)i * n + j] - s));
            big = fmax(big, fabs(s));
        }
    return err / big;
}

static float *download(devptr d, size_t n)
{
    float *h = malloc(n * sizeof *h);
    if (h == NULL) {
        fprintf(stderr, "cublas_floor: out of memory\n");
        exit(1);
    }
    CU(MemcpyDtoHAsync, h, d, n * sizeof *h, stream);
    CU(StreamSynchronize, stream);
    return h;
}

/* The step's forward of layer 1, weight gradient of layer 1 and input
   gradient of the last layer against double sums on the host. */
static int verify(const int *dims, int nl, int b)
{
    step(dims, nl, b);
    int d0 = dims[0], d1 = dims[1];
    float *y1 = download(act[1], (size_t)b * d1);
    float *g1 = download(grad[1], (size_t)b * d1);
    float *w0 = download(dw[0], (size_t)d1 * d0);
    /* Y1 = X W0^T; dW0 = dY1^T X (dY1 as the step left it) */
    double e1 = check_gemm(y1, b, d1, d0, host_act0, d0, 1, host_w[0], 1, d0);
    double e2 = check_gemm(w0, d1, d0, b, g1, 1, d1, host_act0, d0, 1);
    double e3 = 0.0;
    if (nl > 1) {
        int in = dims[nl - 1], out = dims[nl];
        float *gl = download(grad[nl - 1], (size_t)b * in);
        e3 = check_gemm(gl, b, in, out, host_top, out, 1, host_w[nl - 1], in, 1);
        free(gl);
    }
    free(y1);
    free(g1);
    free(w0);
    double worst = fmax(e1, fmax(e2, e3));
    printf("check: forward %.2g, weight gradient %.2g, input gradient %.2g (largest error "
           "over largest value, against the host in double)\n", e1, e2, e3);
    if (!(worst <= 1e-4)) {
        fprintf(stderr, "cublas_floor: the GEMMs are wrong: largest relative error %.3g "
                "(over 1e-4) against the host\n", worst);
        return 1;
    }
    return 0;
}

static int load(int device)
{
    static const char *const drv[] = { "libcuda.so.1", NULL };
    static const char *const bl[] = { "libcublas.so.13", "libcublas.so.12", NULL };
    static const char *const sub[] = { "lib64", NULL };
    char path[512], why[512];
    void *lib = gpu_dl_open("DLHOST_CUDA_DRIVER", NULL, NULL, drv, path, sizeof path, why,
                            sizeof why);
    if (lib == NULL) {
        fprintf(stderr, "cublas_floor: no CUDA driver (%s)\n", why);
        return 1;
    }
    const gpu_dl_sym ds[] = {
        { "cuInit", (void **)&cu.Init },
        { "cuDeviceGet", (void **)&cu.DeviceGet },
        { "cuDeviceGetName", (void **)&cu.DeviceGetName },
        { "cuDriverGetVersion", (void **)&cu.DriverGetVersion },
        { "cuDevicePrimaryCtxRetain", (void **)&cu.DevicePrimaryCtxRetain },
        { "cuDevicePrimaryCtxRelease_v2", (void **)&cu.DevicePrimaryCtxRelease },
        { "cuCtxSetCurrent", (void **)&cu.CtxSetCurrent },
        { "cuStreamCreate", (void **)&cu.StreamCreate },
        { "cuStreamDestroy_v2", (void **)&cu.StreamDestroy },
        { "cuStreamSynchronize", (void **)&cu.StreamSynchronize },
        { "cuMemAlloc_v2", (void **)&cu.MemAlloc },
        { "cuMemFree_v2", (void **)&cu.MemFree },
        { "cuMemcpyHtoDAsync_v2", (void **)&cu.MemcpyHtoDAsync },
        { "cuMemcpyDtoHAsync_v2", (void **)&cu.MemcpyDtoHAsync },
        { "cuGetErrorString", (void **)&cu.GetErrorString },
    };
    const char *missing = gpu_dl_syms(lib, ds, sizeof ds / sizeof ds[0]);
    if (missing != NULL) {
        fprintf(stderr, "cublas_floor: the CUDA driver %s has no %s\n", path, missing);
        return 1;
    }
    const char *dir = getenv("DLHOST_CUDA_DIR");
    lib = gpu_dl_open("DLHOST_CUBLAS", dir && *dir ? dir : DLH_CUDA_DIR, sub, bl, path,
                      sizeof path, why, sizeof why);
    if (lib == NULL) {
        fprintf(stderr, "cublas_floor: no cuBLAS (%s)\n", why);
        return 1;
    }
    const gpu_dl_sym bs[] = {
        { "cublasCreate_v2", (void **)&blas.Create },
        { "cublasDestroy_v2", (void **)&blas.Destroy },
        { "cublasSetStream_v2", (void **)&blas.SetStream },
        { "cublasGetVersion_v2", (void **)&blas.GetVersion },
        { "cublasSgemm_v2", (void **)&blas.Sgemm },
    };
    if ((missing = gpu_dl_syms(lib, bs, sizeof bs / sizeof bs[0])) != NULL) {
        fprintf(stderr, "cublas_floor: cuBLAS %s has no %s\n", path, missing);
        return 1;
    }
    int dev, dv = 0, bv = 0;
    void *ctx;
    char name[128] = "?", ver[32];
    CU(Init, 0);
    CU(DeviceGet, &dev, device);
    CU(DeviceGetName, name, sizeof name, dev);
    CU(DriverGetVersion, &dv);
    CU(DevicePrimaryCtxRetain, &ctx, dev);
    CU(CtxSetCurrent, ctx);
    CU(StreamCreate, &stream, 1);
    BLAS(Create, &handle);
    BLAS(SetStream, handle, stream);
    BLAS(GetVersion, handle, &bv);
    gpu_dl_version(ver, sizeof ver, "cuBLAS", bv, 10000);
    printf("device %d: %s (driver %d.%d, %s %s)\n", device, name, dv / 1000, dv % 1000 / 10,
           ver, path);
    return 0;
}

int main(int argc, char **argv)
{
    floor_args a;
    const char *why = floor_args_parse(&a, argc, argv, "--device", NULL, NULL);
    if (why)
        return usage(why);
    const long samples = a.samples, batch = a.batch, epochs = a.epochs, device = a.extra;
    const int *dims = a.dims, nd = a.nd;
    if (load((int)device) != 0)
        return 1;

    int nl = nd - 1;
    for (int l = 0; l < nl; l++) {
        w[l] = device_filled((size_t)dims[l] * dims[l + 1], 1u + (unsigned)l, &host_w[l]);
        dw[l] = device_filled((size_t)dims[l] * dims[l + 1], 100u + (unsigned)l, NULL);
    }
    for (int l = 0; l < nd; l++) {
        act[l] = device_filled((size_t)batch * dims[l], 200u + (unsigned)l,
                               l == 0 ? &host_act0 : NULL);
        grad[l] = device_filled((size_t)batch * dims[l], 300u + (unsigned)l,
                                l == nl ? &host_top : NULL);
    }

    double flops_epoch = 0.0, best = 1e300;
    for (int e = 0; e < epochs; e++) {
        double flops = 0.0;
        CU(StreamSynchronize, stream);
        double t0 = now();
        for (long first = 0; first < samples; first += batch)
            flops += step(dims, nl, (int)(samples - first < batch ? samples - first : batch));
        CU(StreamSynchronize, stream);
        double dt = now() - t0;
        flops_epoch = flops;
        best = dt < best ? dt : best;
        printf("epoch %d/%ld  %.3f s  %.0f samples/s  %.1f GFLOP/s\n", e + 1, epochs, dt,
               (double)samples / dt, flops / dt * 1e-9);
    }
    printf("floor epoch_s=%.4f samples_per_s=%.0f gflops=%.1f\n", best,
           (double)samples / best, flops_epoch / best * 1e-9);
    int rc = verify(dims, nl, (int)batch);

    BLAS(Destroy, handle);
    for (int l = 0; l < nl; l++) {
        CU(MemFree, w[l]);
        CU(MemFree, dw[l]);
        free(host_w[l]);
    }
    for (int l = 0; l < nd; l++) {
        CU(MemFree, act[l]);
        CU(MemFree, grad[l]);
    }
    free(host_act0);
    free(host_top);
    CU(StreamDestroy, stream);
    CU(DevicePrimaryCtxRelease, (int)device);
    return rc;
}
