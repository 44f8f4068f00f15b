/* The cuda backend's host side, against the fake driver and cuBLAS of
 * tests/fake_cuda/ ($DLHOST_CUDA_DRIVER and $DLHOST_CUBLAS name it).
 * KERNELS DO NOT RUN IN THE FAKE: launches are checked (the kernel exists
 * in the PTX NVRTC made, block and grid sizes) and counted, so this proves
 * create/destroy, the memory pool, staging and transfers, the kernel disk
 * cache (a second instance compiles nothing, a corrupt entry is compiled
 * again and rewritten, concurrent writers leave one whole entry), the
 * `device` parameter, argument checks, which kernel each primitive
 * launches, gemm's row-major to column-major mapping (the fake cuBLAS
 * computes on the host) and the conv2d primitives' mapping onto cuDNN's
 * descriptors (the fake cuDNN convolves on the host from them; held to
 * im2col + gemm on the host) -- not the numbers the kernels compute (the shared
 * source runs on PoCL in the opencl suites; tests/gpu/run-cuda-checks.sh
 * runs everything on a GPU).  NVRTC is real: SKIPs without it.
 *
 * With DLH_TEST_CUDA_CACHE set (tests/test_cuda_fake.sh under valgrind) it
 * uses that warm kernel cache and leaves out the cache tests, which
 * compile. */
#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dlhost/dlhost.h>

#include "error.h"
#include "ew.h"
#include "params.h"
#include "registry.h"
#include "capture.h"
#include "tap.h"
#include "tmpdir.h"
#include "fake_cuda/fake_cuda.h"
#include "../plugins/backends/cuda/cu_dnn.h"

static dlh_backend *be;
static dlh_backend *cpu;                /* the conv2d reference's im2col, col2im */
static const dlh_backend_ops *B;
static const fake_cuda_counters *(*drv)(void);
static const fake_cublas_counters *(*blas)(void);
static const fake_cudnn_counters *(*dnn)(void);
static void (*fail_over)(size_t);
static char dir[512], cache[600];

#define like(got, want, ...) ok(strstr((got), (want)) != NULL, __VA_ARGS__)

static int open_with(const char *keys, dlh_backend **out)
{
    char text[512];
    snprintf(text, sizeof text, "backend = { type = \"cuda\"; %s };\n", keys);
    dlh_config *cfg = NULL;
    *out = NULL;
    int rc = dlh_config_load_string(text, "cu.cfg", &cfg);
    if (rc != 0)
        return rc;
    static const char *const reserved[] = { "type", NULL };
    dlh_params *p = dlh_params_new(cfg, config_setting_lookup(dlh_config_root(cfg), "backend"),
                                   "backend 'cuda'", reserved);
    rc = p ? dlh_backend_open("cuda", p, out) : DLH_ENOMEM;
    dlh_params_free(p);
    dlh_config_free(cfg);
    return rc;
}

static cu_ctx *ctx_of(dlh_backend *b)
{
    return b->ctx;
}

static dlh_buffer *upload(const float *data, size_t n)
{
    dlh_buffer *b = NULL;
    if (B->alloc(be->ctx, n * 4, &b) != 0 ||
        (data != NULL && B->write(be->ctx, b, 0, data, n * 4) != 0)) {
        printf("Bail out! alloc/write of %zu values: %s\n", n, dlh_error_get());
        exit(1);
    }
    return b;
}

static dlh_mem at(dlh_buffer *b, size_t off)
{
    dlh_mem m = { b, off };
    return m;
}

static int count_files(const char *path, const char *suffix)
{
    DIR *d = opendir(path);
    int n = 0;
    if (d == NULL)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t l = strlen(e->d_name), sl = strlen(suffix);
        n += l > sl && strcmp(e->d_name + l - sl, suffix) == 0;
    }
    closedir(d);
    return n;
}

/* The one entry's path in a cache folder holding one. */
static int first_entry(const char *path, char *out, size_t size)
{
    DIR *d = opendir(path);
    int found = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL && !found;)
        if (strstr(e->d_name, ".ptx") && !strstr(e->d_name, ".tmp"))
            found = snprintf(out, size, "%s/%s", path, e->d_name) > 0;
    if (d)
        closedir(d);
    return found;
}

static void test_devices_describe(void)
{
    const dlh_component *c = dlh_registry_find(DLH_KIND_BACKEND, "cuda");
    const dlh_backend_ops *ops = c->ops;
    ok(ops->probe(dlh_host_table()) == 1, "probe says usable with the fake driver");
    char list[1024] = "";
    ops->devices(dlh_host_table(), list, sizeof list);
    like(list, "driver 13.0\n  device 0: Fake CUDA device 0 (compute capability 9.0, 132 "
         "SMs, 81920 MiB)", "devices lists the fake device (%s)", list);
    char d[256];
    B->describe(be->ctx, d, sizeof d);
    like(d, "cuBLAS 13.1.0, Fake CUDA device 0 (compute capability 9.0, 132 SMs, 81920 MiB), "
         "driver 13.0", "describe: cuBLAS, device, driver (%s)", d);
    ok(strcmp(ctx_of(be)->arch, "compute_90") == 0, "kernels are built for compute_90");
}

static void test_params(void)
{
    dlh_backend *o;
    int rc = open_with("device = 0;", &o);
    ok(rc == 0, "device = 0 opens (%s)", rc ? dlh_error_get() : "ok");
    dlh_backend_close(o);
    rc = open_with("device = 1;", &o);
    ok(rc == DLH_EINVAL && !o, "device = 1 with one device is refused");
    like(dlh_error_get(), "cuda: device 1 does not exist: the driver sees 1 CUDA device (0); "
         "`dlhost plugins --verbose` lists them", "...saying how many there are (%s)",
         dlh_error_get());
    rc = open_with("device = -1;", &o);
    ok(rc == DLH_ECONFIG && !o, "device = -1 is out of range");
    like(dlh_error_get(), "device", "...naming the key (%s)", dlh_error_get());
    rc = open_with("device = \"x\";", &o);
    ok(rc == DLH_ECONFIG && !o, "device = \"x\" is not an index (%s)", dlh_error_get());
}

static void test_memory(void)
{
    float in[1000], out[1000];
    for (int i = 0; i < 1000; i++)
        in[i] = (float)i * 0.5f - 7.0f;
    dlh_buffer *b = upload(in, 1000);
    memset(out, 0, sizeof out);
    ok(B->read(be->ctx, b, 0, out, sizeof out) == 0 && memcmp(in, out, sizeof in) == 0,
       "upload and download: the same 1000 floats");
    /* Staging: the caller's memory may change once write returns. */
    float tmp[4] = { 1, 2, 3, 4 };
    B->write(be->ctx, b, 16, tmp, sizeof tmp);
    tmp[0] = tmp[1] = tmp[2] = tmp[3] = -1;
    B->read(be->ctx, b, 16, out, sizeof tmp);
    ok(out[0] == 1 && out[3] == 4, "write copies the caller's bytes before it returns");
    /* Many writes: more than the staging memory holds. */
    long syncs = drv()->stream_sync;
    static float big[1 << 20];
    dlh_buffer *g = upload(NULL, 1 << 20);
    for (int r = 0; r < 20; r++) {
        for (int i = 0; i < 1 << 20; i++)
            big[i] = (float)(r * 7 + i % 13);
        B->write(be->ctx, g, 0, big, sizeof big);
    }
    B->read(be->ctx, g, 0, big, sizeof big);
    ok(big[0] == 133 && big[12] == 145 && big[(1 << 20) - 1] == (float)(133 + ((1 << 20) - 1) % 13),
       "20 writes of 4 MiB through 16 MiB of staging: the last one lands");
    ok(drv()->stream_sync - syncs >= 5, "the staging memory waits for the stream when full");
    /* copies: plain, overlapping both ways */
    dlh_buffer *c = upload(NULL, 1000);
    float outb[1000];
    B->copy(be->ctx, c, 0, b, 0, 4000);
    B->read(be->ctx, c, 0, out, 4000);
    B->read(be->ctx, b, 0, outb, 4000);
    ok(memcmp(out, outb, 4000) == 0 && out[4] == 1 && out[20] == in[20],
       "copy of a whole buffer");
    memcpy(in, outb, sizeof in);
    B->copy(be->ctx, c, 4, c, 0, 400);
    B->read(be->ctx, c, 0, out, 404);
    ok(out[0] == in[0] && out[1] == in[0] && out[100] == in[99], "an overlapping copy forward");
    B->fill(be->ctx, at(c, 10), 5, 2.5f);
    B->read(be->ctx, c, 0, out, 4000);
    ok(out[9] != 2.5f && out[10] == 2.5f && out[14] == 2.5f && out[15] != 2.5f,
       "fill at an offset");
    int rc = B->write(be->ctx, c, 3990, in, 16);
    ok(rc == DLH_EINVAL, "a write past the end is refused");
    like(dlh_error_get(), "cuda write: ", "...by the shared checks (%s)", dlh_error_get());
    ok(B->sync(be->ctx) == 0, "sync");
    B->free(be->ctx, b);
    B->free(be->ctx, c);
    B->free(be->ctx, g);
    B->free(be->ctx, NULL);

    {
        static const size_t ask[4] = { 0, 257, 1 << 20, (1 << 20) + 1 };
        static const size_t want[4] = { 256, 512, 1 << 20, 2 << 20 };
        int same = 1;
        for (int i = 0; i < 4; i++) {
            dlh_buffer *q = NULL;
            B->alloc(be->ctx, ask[i], &q);
            same &= q != NULL && q->cap == want[i] && q->bytes == ask[i];
            B->free(be->ctx, q);
        }
        ok(same, "pool classes: powers of two from 256 bytes, then whole MiB");
    }
    /* A training step's pattern: the same sizes allocated and freed. */
    static const size_t sizes[] = { 4, 100, 3136, 401408, 3 << 20, 3 << 20, 40000 };
    long before = 0;
    for (int step = 0; step < 5; step++) {
        if (step == 1)
            before = drv()->mem_alloc;
        dlh_buffer *bs[7];
        for (int i = 0; i < 7; i++)
            B->alloc(be->ctx, sizes[i], &bs[i]);
        for (int i = 0; i < 7; i++)
            B->free(be->ctx, bs[i]);
    }
    ok(drv()->mem_alloc == before, "steps 2 to 5 call cuMemAlloc %ld times (0)",
       drv()->mem_alloc - before);
    /* Out of memory: the pool gives its free blocks back and tries again. */
    long frees = drv()->mem_free;
    fail_over(5 << 20);
    dlh_buffer *huge = NULL;
    rc = B->alloc(be->ctx, 6 << 20, &huge);
    ok(rc == DLH_ENOMEM && huge == NULL && drv()->mem_free > frees,
       "out of device memory: the pool is trimmed, then DLH_ENOMEM");
    like(dlh_error_get(), "cuda: cuMemAlloc: out of memory (CUDA_ERROR_OUT_OF_MEMORY 2) for "
         "6291456 bytes on device 'Fake CUDA device 0'", "...with the driver's words (%s)",
         dlh_error_get());
    fail_over(0);
}

/* Row-major reference. */
static void ref_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++)
                s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) *
                     (tb ? b[j * ldb + p] : b[p * ldb + j]);
            c[i * ldc + j] = (float)(alpha * s + (double)beta * c[i * ldc + j]);
        }
}

static void test_gemm(void)
{
    enum { M = 5, N = 3, K = 4, LD = 7 };
    float a[2 * M * LD], b[2 * M * LD], c0[2 * M * LD], want[2 * M * LD], got[2 * M * LD];
    for (int i = 0; i < 2 * M * LD; i++) {
        a[i] = (float)((i * 7) % 11) - 5;
        b[i] = (float)((i * 5) % 9) - 4;
        c0[i] = (float)(i % 3);
    }
    dlh_buffer *A = upload(a, 2 * M * LD), *Bb = upload(b, 2 * M * LD), *C = upload(c0, 2 * M * LD);
    int all = 1;
    for (int t = 0; t < 4; t++) {
        int ta = t & 1, tb = t >> 1;
        memcpy(want, c0, sizeof want);
        ref_gemm(ta, tb, M, N, K, 1.5f, a + 1, LD, b + 2, LD, 0.5f, want + 3, LD);
        B->write(be->ctx, C, 0, c0, sizeof c0);
        int rc = B->gemm(be->ctx, ta, tb, M, N, K, 1.5f, at(A, 1), LD, at(Bb, 2), LD, 0.5f,
                         at(C, 3), LD);
        B->read(be->ctx, C, 0, got, sizeof got);
        int same = rc == 0 && memcmp(got, want, sizeof got) == 0;
        if (t == 1)     /* trans_a only: cuBLAS gets op N for B, op T for A */
            all &= blas()->last_m == N && blas()->last_n == M && blas()->last_ta == 0 &&
                   blas()->last_tb == 1;
        all &= same;
        ok(same, "gemm trans_a %d trans_b %d, offsets and lda 7: as row-major", ta, tb);
    }
    ok(all, "...by one cublasSgemm of the swapped operands (n x m, "
       "op(B)^T op(A)^T)");
    /* strided batch of 2, disjoint C: one strided-batched call */
    long nb = blas()->sgemm_batched, ns = blas()->sgemm;
    memcpy(want, c0, sizeof want);
    for (int i = 0; i < 2; i++)
        ref_gemm(0, 1, M, N, K, 1.0f, a + i * M * LD, LD, b + i * 3, LD, 0.0f,
                 want + i * M * LD, LD);
    B->write(be->ctx, C, 0, c0, sizeof c0);
    B->gemm_batched(be->ctx, 0, 1, M, N, K, 1.0f, at(A, 0), LD, M * LD, at(Bb, 0), LD, 3, 0.0f,
                    at(C, 0), LD, M * LD, 2);
    B->read(be->ctx, C, 0, got, sizeof got);
    ok(memcmp(got, want, sizeof got) == 0 && blas()->sgemm_batched == nb + 1,
       "gemm_batched of 2: one cublasSgemmStridedBatched, as row-major");
    /* stride_c 0: one C, the problems in order */
    memcpy(want, c0, sizeof want);
    for (int i = 0; i < 2; i++)
        ref_gemm(0, 0, M, N, K, 1.0f, a + i * 3, LD, b, LD, 1.0f, want, LD);
    B->write(be->ctx, C, 0, c0, sizeof c0);
    B->gemm_batched(be->ctx, 0, 0, M, N, K, 1.0f, at(A, 0), LD, 3, at(Bb, 0), LD, 0, 1.0f,
                    at(C, 0), LD, 0, 2);
    B->read(be->ctx, C, 0, got, sizeof got);
    ok(memcmp(got, want, sizeof got) == 0 && blas()->sgemm == ns + 2,
       "stride_c 0: two cublasSgemm in batch order");
    B->gemm(be->ctx, 0, 0, M, N, 0, 1.0f, at(A, 0), LD, at(Bb, 0), LD, 0.0f, at(C, 0), LD);
    ok(strcmp(drv()->last_kernel, "dlh_scale") == 0 && drv()->last_block == CU_BLOCK,
       "k = 0 launches dlh_scale");
    ok(B->gemm(be->ctx, 0, 0, M, N, K, 1.0f, at(A, 0), 2, at(Bb, 0), LD, 0, at(C, 0), LD) ==
       DLH_EINVAL, "a bad lda is refused by the shared checks (%s)", dlh_error_get());
    B->free(be->ctx, A);
    B->free(be->ctx, Bb);
    B->free(be->ctx, C);
}

/* Which kernel each primitive launches, with what block and grid. */
static void launched(const char *kernel, unsigned block, unsigned grid, const char *what)
{
    ok(strcmp(drv()->last_kernel, kernel) == 0 && drv()->last_block == block &&
       drv()->last_grid == grid, "%s launches %s, %u blocks of %u (got %s, %u of %u)", what,
       kernel, grid, block, drv()->last_kernel, drv()->last_grid, drv()->last_block);
}

static void test_launches(void)
{
    dlh_buffer *x = upload(NULL, 4096), *y = upload(NULL, 4096);
    int32_t ix[4] = { 0, 3, 1, 3 };
    dlh_buffer *I = NULL;
    B->alloc(be->ctx, sizeof ix, &I);
    B->write(be->ctx, I, 0, ix, sizeof ix);
    B->reduce(be->ctx, DLH_REDUCE_SUM, 1, 10, 300, at(x, 0), at(y, 0), at(NULL, 0));
    launched("dlh_reduce_rows", GPU_CUDA_ROW_WG, 10, "reduce axis 1");
    B->reduce(be->ctx, DLH_REDUCE_MAX, 0, 10, 300, at(x, 0), at(y, 0), at(I, 0));
    ok(B->reduce(be->ctx, DLH_REDUCE_MAX, 0, 10, 300, at(x, 0), at(y, 0), at(I, 0)) ==
       DLH_EINVAL, "reduce: an idx buffer too small is refused (%s)", dlh_error_get());
    B->reduce(be->ctx, DLH_REDUCE_SUM, 0, 10, 300, at(x, 0), at(y, 0), at(NULL, 0));
    launched("dlh_reduce_cols", CU_BLOCK, 2, "reduce axis 0");
    B->softmax(be->ctx, 1, 7, 100, at(x, 0), at(y, 0));
    launched("dlh_softmax", GPU_CUDA_ROW_WG, 7, "log_softmax");
    dlh_window2d g = { sizeof g, 2, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6, 6 };
    B->im2col(be->ctx, &g, 1, at(x, 0), at(y, 0));
    launched("dlh_im2col", CU_BLOCK, 3, "im2col (648 elements)");
    B->col2im(be->ctx, &g, 1, at(y, 0), at(x, 0));
    launched("dlh_col2im", CU_BLOCK, 1, "col2im (72 elements)");
    dlh_window2d p = { sizeof p, 2, 6, 6, 2, 2, 2, 2, 0, 0, 1, 1, 3, 3 };
    B->pool2d(be->ctx, DLH_POOL_MAX, &p, 1, at(x, 0), at(y, 0), at(y, 100));
    launched("dlh_pool", CU_BLOCK, 1, "pool2d max");
    B->pool2d_backward(be->ctx, DLH_POOL_MAX, &p, 1, at(y, 0), at(y, 100), at(x, 0));
    launched("dlh_pool_bwd_max", CU_BLOCK, 1, "pool2d_backward max");
    B->pool2d_backward(be->ctx, DLH_POOL_AVG, &p, 1, at(y, 0), at(NULL, 0), at(x, 0));
    launched("dlh_pool_bwd_avg", CU_BLOCK, 1, "pool2d_backward avg");
    B->gather(be->ctx, 4, 10, at(x, 0), at(I, 0), at(y, 0));
    launched("dlh_gather", CU_BLOCK, 1, "gather");
    B->scatter_add(be->ctx, 4, 10, at(x, 0), at(I, 0), at(y, 0));
    launched("dlh_scatter_add", CU_BLOCK, 1, "scatter_add");
    int32_t badix = 500;
    B->write(be->ctx, I, 4, &badix, 4);
    ok(B->gather(be->ctx, 4, 10, at(x, 0), at(I, 0), at(y, 0)) == DLH_EINVAL,
       "gather: an index past the source is refused on the host (%s)", dlh_error_get());
    B->rand(be->ctx, DLH_RAND_NORMAL, at(y, 0), 1000, 1, 2, 3, 0, 1);
    launched("dlh_rand", CU_BLOCK, 4, "rand (the Philox kernel opencl runs)");
    dlh_ew_program *prog;
    void *k = NULL;
    dlh_ew_parse("in x; out y; scalar s; y = max(x, 0) * s;", &prog);
    int rc = B->ew_prepare(be->ctx, prog, &k);
    ok(rc == 0, "ew_prepare compiles a program (%s)", rc ? dlh_error_get() : "ok");
    void *k2 = NULL;
    B->ew_prepare(be->ctx, prog, &k2);
    ok(k2 == k, "the same program text again: the instance's module");
    dlh_ew_arg args[2] = { { at(x, 0), 1000, 1 }, { at(y, 0), 1000, 1 } };
    float s = 2;
    rc = k ? B->ew_run(be->ctx, k, 1000, args, &s) : -1;
    ok(rc == 0, "ew_run");
    launched(GPU_EW_KERNEL, CU_BLOCK, 4, "ew_run over 1000 elements");
    B->ew_release(be->ctx, k);
    dlh_ew_program_free(prog);
    B->free(be->ctx, x);
    B->free(be->ctx, y);
    B->free(be->ctx, I);
}

/* ---- conv2d through cuDNN (the fake computes from the descriptors) ---- */

/* The reference: im2col + gemm, the layers' other path, with the cpu
   backend's im2col and col2im (proven against their own reference in
   tests/test_cpu_backend.c) and ref_gemm per image and group.  way 0:
   col = im2col(img); 1: img += col2im(col); n images. */
static void cpu_window(int way, const dlh_window2d *g, int n, float *img, float *col)
{
    const dlh_backend_ops *C = cpu->ops;
    size_t ni = (size_t)n * g->c * g->h * g->w * 4;
    size_t nc = (size_t)n * g->c * g->kh * g->kw * g->oh * g->ow * 4;
    dlh_buffer *I = NULL, *K = NULL;
    dlh_mem mi = { NULL, 0 }, mc = { NULL, 0 };
    int rc = C->alloc(cpu->ctx, ni, &I) || C->alloc(cpu->ctx, nc, &K) ||
             C->write(cpu->ctx, I, 0, img, ni) || C->write(cpu->ctx, K, 0, col, nc);
    mi.buf = I;
    mc.buf = K;
    if (way == 0)
        rc = rc || C->im2col(cpu->ctx, g, n, mi, mc) || C->read(cpu->ctx, K, 0, col, nc);
    else
        rc = rc || C->col2im(cpu->ctx, g, n, mc, mi) || C->read(cpu->ctx, I, 0, img, ni);
    if (rc) {
        printf("Bail out! the cpu backend's %s: %s\n", way ? "col2im" : "im2col",
               dlh_error_get());
        exit(1);
    }
    C->free(cpu->ctx, I);
    C->free(cpu->ctx, K);
}

/* y = conv(x, w) + b; dx from dy; dw, db from x and dy (summed over the
   batch, overwritten). */
static void ref_conv(const dlh_conv2d_desc *d, int n, const float *x, const float *w,
                     const float *b, const float *dy, float *y, float *dx, float *dw, float *db)
{
    const dlh_window2d *g = &d->g;
    int cg = g->c / d->groups, og = d->out_c / d->groups, P = g->oh * g->ow;
    int R = cg * g->kh * g->kw;
    size_t xs = (size_t)g->c * g->h * g->w, ys = (size_t)d->out_c * P;
    size_t cs = (size_t)n * d->groups * R * P;
    float *col = calloc(cs, sizeof *col), *cgrad = calloc(cs, sizeof *cgrad);
    memset(dx, 0, (size_t)n * xs * 4);
    memset(dw, 0, (size_t)d->out_c * R * 4);
    for (int k = 0; k < d->out_c; k++) {
        double s = 0;
        for (int i = 0; i < n; i++)
            for (int p = 0; p < P; p++)
                s += dy[i * ys + (size_t)k * P + p];
        db[k] = (float)s;
    }
    cpu_window(0, g, n, (float *)x, col);
    for (int i = 0; i < n; i++)
        for (int gi = 0; gi < d->groups; gi++) {
            const float *wg = w + (size_t)gi * og * R;
            float *yg = y + i * ys + (size_t)gi * og * P;
            const float *dyg = dy + i * ys + (size_t)gi * og * P;
            /* an image's column matrix is [c*kh*kw, P]: group gi's R rows */
            const float *cl = col + ((size_t)i * d->groups + gi) * R * P;
            ref_gemm(0, 0, og, P, R, 1.0f, wg, R, cl, P, 0.0f, yg, P);
            for (int o = 0; o < og; o++)
                for (int p = 0; p < P; p++)
                    yg[o * P + p] += b ? b[gi * og + o] : 0.0f;
            ref_gemm(1, 0, R, P, og, 1.0f, wg, R, dyg, P, 0.0f,
                     cgrad + ((size_t)i * d->groups + gi) * R * P, P);
            ref_gemm(0, 1, og, R, P, 1.0f, dyg, P, cl, P, 1.0f, dw + (size_t)gi * og * R, R);
        }
    cpu_window(1, g, n, dx, cgrad);
    free(col);
    free(cgrad);
}

static int close_to(const float *got, const float *want, size_t n, double *worst)
{
    *worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / (1.0 + fabs(want[i]));
        if (!(e <= *worst))
            *worst = e;
    }
    return *worst <= 1e-5;
}

static dlh_conv2d_desc conv_desc(int n, int c, int h, int w, int kh, int kw, int sh, int sw,
                                 int ph, int pw, int dh, int dw, int out_c, int groups,
                                 int bias)
{
    dlh_conv2d_desc d = { sizeof d, { sizeof d.g, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw,
                                      (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1,
                                      (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1 },
                          n, out_c, groups, bias };
    return d;
}

static float *values(size_t n, int seed)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)((int)((i * 37 + (size_t)seed * 11) % 23) - 11) / 8.0f;
    return v;
}

/* Forward, backward data and backward weights (beta 0, then 1) of one
   plan with a batch of n, operands at offset 3 of their buffers, against
   the reference. */
static int conv_case(const char *what, const dlh_conv2d_desc *d, void *plan, int n)
{
    const dlh_window2d *g = &d->g;
    enum { OFF = 3 };
    size_t xs = (size_t)n * g->c * g->h * g->w, ys = (size_t)n * d->out_c * g->oh * g->ow;
    size_t ws = (size_t)d->out_c * (g->c / d->groups) * g->kh * g->kw, bs = (size_t)d->out_c;
    float *x = values(xs, 1), *w = values(ws, 2), *b = values(bs, 3), *dy = values(ys, 4);
    float *y = malloc(ys * 4), *dx = malloc(xs * 4), *dw = malloc(ws * 4), *db = malloc(bs * 4);
    float *got = malloc((xs > ys ? (xs > ws ? xs : ws) : (ys > ws ? ys : ws)) * 4);
    ref_conv(d, n, x, w, d->has_bias ? b : NULL, dy, y, dx, dw, db);
    dlh_buffer *X = upload(NULL, xs + OFF), *W = upload(NULL, ws + OFF),
               *Bi = upload(NULL, bs + OFF), *Y = upload(NULL, ys + OFF),
               *DY = upload(NULL, ys + OFF), *DX = upload(NULL, xs + OFF),
               *DW = upload(NULL, ws + OFF), *DB = upload(NULL, bs + OFF);
    B->write(be->ctx, X, OFF * 4, x, xs * 4);
    B->write(be->ctx, W, OFF * 4, w, ws * 4);
    B->write(be->ctx, Bi, OFF * 4, b, bs * 4);
    B->write(be->ctx, DY, OFF * 4, dy, ys * 4);
    B->fill(be->ctx, at(Y, 0), ys + OFF, 5.0f);
    B->fill(be->ctx, at(DX, 0), xs + OFF, 5.0f);
    B->fill(be->ctx, at(DW, 0), ws + OFF, 0.5f);
    B->fill(be->ctx, at(DB, 0), bs + OFF, 0.5f);
    double e1 = 0, e2 = 0, e3 = 0, e4, e5 = 0, e6;
    int all = 1, rc;
    rc = B->conv2d_forward(be->ctx, plan, n, at(X, OFF), at(W, OFF),
                           d->has_bias ? at(Bi, OFF) : at(NULL, 0), at(Y, OFF));
    B->read(be->ctx, Y, OFF * 4, got, ys * 4);
    ok(rc == 0 && close_to(got, y, ys, &e1), "%s: forward as im2col + gemm%s (batch %d; "
       "worst %.1e%s%s)", what, d->has_bias ? " + bias" : "", n, e1, rc ? ": " : "",
       rc ? dlh_error_get() : "");
    all &= rc == 0;
    rc = B->conv2d_backward_data(be->ctx, plan, n, at(DY, OFF), at(W, OFF), at(DX, OFF));
    B->read(be->ctx, DX, OFF * 4, got, xs * 4);
    ok(rc == 0 && close_to(got, dx, xs, &e2), "%s: backward data overwrites dx (worst %.1e)",
       what, e2);
    all &= rc == 0;
    dlh_mem dbm = d->has_bias ? at(DB, OFF) : at(NULL, 0);
    rc = B->conv2d_backward_weights(be->ctx, plan, n, at(X, OFF), at(DY, OFF), 0.0f,
                                    at(DW, OFF), dbm);
    B->read(be->ctx, DW, OFF * 4, got, ws * 4);
    int okw = rc == 0 && close_to(got, dw, ws, &e3);
    B->read(be->ctx, DB, OFF * 4, got, bs * 4);
    e4 = 0;
    if (d->has_bias)
        okw &= close_to(got, db, bs, &e4);
    else
        okw &= got[0] == 0.5f;
    ok(okw, "%s: backward weights, beta 0: dw%s overwritten (worst %.1e, %.1e)", what,
       d->has_bias ? " and db" : "", e3, e4);
    for (size_t i = 0; i < ws; i++)
        dw[i] += dw[i];
    for (size_t i = 0; i < bs; i++)
        db[i] += db[i];
    rc = B->conv2d_backward_weights(be->ctx, plan, n, at(X, OFF), at(DY, OFF), 1.0f,
                                    at(DW, OFF), dbm);
    B->read(be->ctx, DW, OFF * 4, got, ws * 4);
    okw = rc == 0 && close_to(got, dw, ws, &e5);
    e6 = 0;
    if (d->has_bias) {
        B->read(be->ctx, DB, OFF * 4, got, bs * 4);
        okw &= close_to(got, db, bs, &e6);
    }
    ok(okw && dnn()->last_beta == 1.0f, "%s: backward weights, beta 1: the gradient added "
       "(worst %.1e, %.1e)", what, e5, e6);
    B->read(be->ctx, DW, 0, got, OFF * 4);
    ok(got[0] == 0.5f && got[OFF - 1] == 0.5f, "%s: nothing written before the offset", what);
    dlh_buffer *bufs[] = { X, W, Bi, Y, DY, DX, DW, DB };
    for (int i = 0; i < 8; i++)
        B->free(be->ctx, bufs[i]);
    free(x), free(w), free(b), free(dy), free(y), free(dx), free(dw), free(db), free(got);
    return all;
}

static void test_conv2d(void)
{
    ok(B->conv2d_prepare != NULL && B->conv2d_forward != NULL &&
       B->conv2d_backward_data != NULL && B->conv2d_backward_weights != NULL &&
       B->conv2d_release != NULL, "the cuda backend offers the conv2d primitives");
    struct {
        const char *what;
        dlh_conv2d_desc d;
    } cases[] = {
        { "3x3 pad 1, bias", conv_desc(2, 3, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 4, 1, 1) },
        { "3x2 stride (2,1) pad (1,0) dilation (1,2), 2 groups, bias",
          conv_desc(3, 4, 7, 6, 3, 2, 2, 1, 1, 0, 1, 2, 6, 2, 1) },
        { "1x1 stride 2, no bias", conv_desc(2, 5, 4, 4, 1, 1, 2, 2, 0, 0, 1, 1, 3, 1, 0) },
        { "depthwise 3x3 pad 2 dilation 2", conv_desc(2, 3, 6, 5, 3, 3, 1, 1, 2, 2, 2, 2, 3, 3,
                                                      1) },
    };
    long allocs = drv()->mem_alloc;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *plan = NULL;
        int rc = B->conv2d_prepare(be->ctx, &cases[i].d, &plan);
        ok(rc == 0 && plan != NULL, "%s: prepared (%s)", cases[i].what,
           rc ? dlh_error_get() : "ok");
        if (rc != 0)
            continue;
        conv_case(cases[i].what, &cases[i].d, plan, cases[i].d.n);
        ok(dnn()->last_groups == cases[i].d.groups && dnn()->last_math == CU_DNN_FMA_MATH,
           "%s: %d groups, CUDNN_FMA_MATH (no TF32)", cases[i].what, cases[i].d.groups);
        if (i == 1) {
            ok(dnn()->last_algo[0] == 1 && dnn()->last_algo[1] == 1 &&
               dnn()->last_algo[2] == 1, "the algorithms: the first deterministic float one "
               "within 256 MiB of workspace (%d %d %d)", dnn()->last_algo[0],
               dnn()->last_algo[1], dnn()->last_algo[2]);
            ok(dnn()->last_ws >= 64 * 3 + 1024 && dnn()->last_ws >= 256 * 3 + 512,
               "...with the workspace the largest wants (%zu bytes)", dnn()->last_ws);
            /* The last batch of an epoch: smaller than the plan's. */
            conv_case("...batch 1 of a plan for 3", &cases[i].d, plan, 1);
            long before = drv()->mem_alloc, fwd = dnn()->forward;
            for (int r = 0; r < 3; r++)
                conv_case("...again", &cases[i].d, plan, r == 1 ? 2 : 3);
            ok(drv()->mem_alloc == before && dnn()->forward == fwd + 3,
               "repeated runs (batches 3, 2, 3) call cuMemAlloc %ld times (0)",
               drv()->mem_alloc - before);
            ok(B->conv2d_forward(be->ctx, plan, 4, at(NULL, 0), at(NULL, 0), at(NULL, 0),
                                 at(NULL, 0)) == DLH_EINVAL,
               "a batch past the plan's is refused (%s)", dlh_error_get());
            ok(B->conv2d_backward_weights(be->ctx, plan, 1, at(NULL, 0), at(NULL, 0), 0.5f,
                                          at(NULL, 0), at(NULL, 0)) == DLH_EINVAL,
               "beta 0.5 is refused (%s)", dlh_error_get());
            dlh_buffer *small = upload(NULL, 10);
            ok(B->conv2d_forward(be->ctx, plan, 1, at(small, 0), at(small, 0), at(NULL, 0),
                                 at(small, 0)) == DLH_EINVAL,
               "an x too small for the batch is refused (%s)", dlh_error_get());
            B->free(be->ctx, small);
        }
        B->conv2d_release(be->ctx, plan);
    }
    ok(dnn()->descs == 0, "release destroys every descriptor (%ld left)", dnn()->descs);
    /* Prepared again: the workspace is the instance's, from the pool. */
    long before = drv()->mem_alloc;
    void *plan = NULL;
    B->conv2d_prepare(be->ctx, &cases[1].d, &plan);
    B->conv2d_release(be->ctx, plan);
    ok(allocs < before && drv()->mem_alloc == before,
       "a plan prepared again: no cuMemAlloc (one workspace per instance, from the "
       "pool)");
    B->conv2d_release(be->ctx, NULL);

    /* padding = "same" with a 2x2 kernel: one more row and column at the
       bottom and right, which cuDNN cannot pad. */
    dlh_conv2d_desc same = conv_desc(2, 3, 6, 6, 2, 2, 1, 1, 0, 0, 1, 1, 4, 1, 1);
    same.g.oh = same.g.ow = 6;
    plan = &plan;
    ok(B->conv2d_prepare(be->ctx, &same, &plan) == DLH_EUNSUPPORTED && plan == NULL,
       "asymmetric padding (padding = \"same\", 2x2 kernel): DLH_EUNSUPPORTED, so im2col + "
       "gemm");
    dlh_conv2d_desc bad = conv_desc(2, 4, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6, 3, 1);
    ok(B->conv2d_prepare(be->ctx, &bad, &plan) == DLH_EINVAL && plan == NULL,
       "3 groups of 4 channels: refused (%s)", dlh_error_get());
    ok(B->conv2d_forward(be->ctx, NULL, 1, at(NULL, 0), at(NULL, 0), at(NULL, 0),
                         at(NULL, 0)) == DLH_EINVAL, "a run without a plan is refused (%s)",
       dlh_error_get());

    /* No cuDNN: the primitives decline, with one line saying why. */
    char none[700];
    snprintf(none, sizeof none, "%s/none.so", dir);
    setenv("DLHOST_CUDNN", none, 1);
    dlh_backend *o = NULL;
    int rc = open_with("", &o);
    void *p1 = &p1, *p2 = &p2;
    capture_begin();
    int r1 = rc == 0 ? o->ops->conv2d_prepare(o->ctx, &cases[0].d, &p1) : rc;
    int r2 = rc == 0 ? o->ops->conv2d_prepare(o->ctx, &cases[1].d, &p2) : rc;
    char *err = capture_end();
    ok(r1 == DLH_EUNSUPPORTED && r2 == DLH_EUNSUPPORTED && p1 == NULL && p2 == NULL,
       "no cuDNN: conv2d_prepare returns DLH_EUNSUPPORTED (im2col + gemm)");
    char want[900];
    snprintf(want, sizeof want, "dlhost: warning: cuda: no cuDNN (%s: cannot open shared "
             "object file", none);
    diag("no cuDNN said: %.*s", (int)strcspn(err, "\n"), err);
    like(err, want, "...saying why once");
    like(err, "convolutions use im2col + gemm; install cuDNN 9, or set DLHOST_CUDNN to the "
         "library\n", "...and what to do");
    ok(strchr(err, '\n') == strrchr(err, '\n'), "...in one line for two prepares");
    free(err);
    dlh_backend_close(o);
    setenv("DLHOST_CUDNN", getenv("DLHOST_CUBLAS"), 1);

    /* cuDNN there but unusable (cudnnCreate fails, as without a driver). */
    setenv("FAKE_CUDNN_CREATE_FAILS", "1", 1);
    rc = open_with("", &o);
    p1 = &p1;
    capture_begin();
    r1 = rc == 0 ? o->ops->conv2d_prepare(o->ctx, &cases[0].d, &p1) : rc;
    err = capture_end();
    ok(r1 == DLH_EUNSUPPORTED && p1 == NULL, "cudnnCreate failing: DLH_EUNSUPPORTED too");
    like(err, "dlhost: warning: cuda: no cuDNN (cudnnCreate: CUDNN_STATUS_NOT_INITIALIZED "
         "(1001) with ", "...saying so: %.*s", (int)strcspn(err, "\n"), err);
    free(err);
    dlh_backend_close(o);
    unsetenv("FAKE_CUDNN_CREATE_FAILS");
}

/* `path` is the kernel folder, the cache folder's cuda/. */
static void set_cache(const char *path)
{
    char root[700];
    snprintf(root, sizeof root, "%s", path);
    char *slash = strrchr(root, '/');
    if (slash == NULL || strcmp(slash, "/cuda") != 0)
    {
        printf("Bail out! set_cache: %s does not end in /cuda\n", path);
        exit(1);
    }
    *slash = '\0';
    setenv("DLHOST_CACHE_DIR", root, 1);
}

static void test_disk_cache(void)
{
    char c1[700], entry[900];
    snprintf(c1, sizeof c1, "%s/c1/cuda", dir);
    set_cache(c1);
    dlh_backend *o = NULL;
    int rc = open_with("", &o);
    ok(rc == 0 && ctx_of(o)->n_compiled == 1 && ctx_of(o)->n_cached == 0,
       "a fresh cache folder: the backend kernels are compiled (%s)",
       rc ? dlh_error_get() : "ok");
    dlh_backend_close(o);
    ok(count_files(c1, ".ptx") == 1 && count_files(c1, ".tmp") == 0,
       "...and written to it, one entry, no temporary file left");
    struct stat s1, s2;
    first_entry(c1, entry, sizeof entry);
    stat(entry, &s1);
    rc = open_with("", &o);
    ok(rc == 0 && ctx_of(o)->n_compiled == 0 && ctx_of(o)->n_cached == 1,
       "a second instance compiles nothing: the kernels come from the cache");
    dlh_backend_close(o);
    stat(entry, &s2);
    ok(s1.st_ino == s2.st_ino && s1.st_mtime == s2.st_mtime, "...which it leaves alone");
    /* Corrupt the PTX (a byte of it changed) and, separately, truncate. */
    for (int how = 0; how < 2; how++) {
        FILE *f = fopen(entry, "r+b");
        fseek(f, how ? 0 : -20, how ? SEEK_SET : SEEK_END);
        if (how) {
            ok(ftruncate(fileno(f), 40) == 0, "truncate the entry to 40 bytes");
        } else {
            fputc('#', f);
        }
        fclose(f);
        rc = open_with("", &o);
        ok(rc == 0 && ctx_of(o)->n_compiled == 1 && ctx_of(o)->n_cached == 0,
           "a %s entry is ignored: compiled again (%s)", how ? "truncated" : "corrupt",
           rc ? dlh_error_get() : "ok");
        dlh_backend_close(o);
        rc = open_with("", &o);
        ok(rc == 0 && ctx_of(o)->n_cached == 1, "...and rewritten: the next instance reads it");
        dlh_backend_close(o);
    }
    /* Four processes fill one empty cache folder at the same time. */
    char c2[700];
    snprintf(c2, sizeof c2, "%s/c2/cuda", dir);
    set_cache(c2);
    pid_t pids[4];
    for (int i = 0; i < 4; i++) {
        fflush(stdout);
        if ((pids[i] = fork()) == 0) {
            dlh_backend *w = NULL;
            int r = open_with("", &w);
            dlh_backend_close(w);
            _exit(r == 0 ? 0 : 1);
        }
    }
    int good = 0;
    for (int i = 0; i < 4; i++) {
        int stt = 0;
        waitpid(pids[i], &stt, 0);
        good += WIFEXITED(stt) && WEXITSTATUS(stt) == 0;
    }
    ok(good == 4, "four concurrent writers of one entry all open (%d)", good);
    ok(count_files(c2, ".ptx") == 1 && count_files(c2, ".tmp") == 0,
       "...leaving one entry and no temporary file");
    rc = open_with("", &o);
    ok(rc == 0 && ctx_of(o)->n_cached == 1 && ctx_of(o)->n_compiled == 0,
       "...a whole one: the next instance reads it");
    dlh_backend_close(o);
    set_cache(cache);
}

int main(void)
{
    const char *b = getenv("DLHOST_BUILDDIR"), *warm = getenv("DLH_TEST_CUDA_CACHE");
    char lib[600];
    snprintf(lib, sizeof lib, "%s/tests/fake_cuda/.libs/fake_cuda.so", b ? b : ".");
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL)
        skip_all("the fake CUDA driver is not built (tests/fake_cuda)");
    drv = (const fake_cuda_counters *(*)(void))dlsym(h, "fake_cuda_stats");
    blas = (const fake_cublas_counters *(*)(void))dlsym(h, "fake_cublas_stats");
    dnn = (const fake_cudnn_counters *(*)(void))dlsym(h, "fake_cudnn_stats");
    fail_over = (void (*)(size_t))dlsym(h, "fake_cuda_fail_alloc_over");
    setenv("DLHOST_CUDA_DRIVER", lib, 1);
    setenv("DLHOST_CUBLAS", lib, 1);
    setenv("DLHOST_CUDNN", lib, 1);
    tmpdir_make(dir, sizeof dir, NULL, "cuda-backend");
    if (warm != NULL && *warm)
        snprintf(cache, sizeof cache, "%s", warm);
    else
        snprintf(cache, sizeof cache, "%s/cache/cuda", dir);
    set_cache(cache);
    if (dlh_registry_load_all(0) != 0) {
        printf("Bail out! plugins failed to load: %s\n", dlh_error_get());
        return 1;
    }
    if (!dlh_registry_find(DLH_KIND_BACKEND, "cuda")) {
        dlh_registry_clear();
        tmpdir_remove(dir);
        skip_all("the cuda plugin is not on the plugin path");
    }
    int rc = dlh_backend_open("cuda", NULL, &be);
    if (rc != 0 && strstr(dlh_error_get(), "no NVRTC")) {
        diag("%s", dlh_error_get());
        dlh_registry_clear();
        tmpdir_remove(dir);
        skip_all("cuda: no NVRTC here");
    }
    if (rc != 0) {
        printf("Bail out! cannot open the cuda backend on the fake driver: %s\n",
               dlh_error_get());
        return 1;
    }
    B = be->ops;
    if (dlh_backend_open("cpu", NULL, &cpu) != 0) {
        printf("Bail out! cannot open the cpu backend: %s\n", dlh_error_get());
        return 1;
    }
    ok(drv()->retained == 1 && drv()->streams == 1 && drv()->module_load == 1 &&
       blas()->handles == 1, "create: a primary context, a stream, one module, a cuBLAS "
       "handle");
    test_devices_describe();
    test_params();
    test_memory();
    test_gemm();
    test_launches();
    test_conv2d();
    ok(dnn()->handles == 1, "one cuDNN handle, made at the first conv2d_prepare");
    dlh_backend_close(be);
    dlh_backend_close(cpu);
    ok(drv()->retained == 0 && drv()->streams == 0 && drv()->modules_live == 0 &&
       drv()->mem_alloc == drv()->mem_free && drv()->host_alloc == drv()->host_free &&
       blas()->handles == 0 && dnn()->handles == 0 && dnn()->descs == 0,
       "destroy gives back the context, stream, modules, every pooled block, the staging "
       "memory and the cuBLAS and cuDNN handles");
    if (warm == NULL || !*warm)
        test_disk_cache();
    else
        skip("the disk cache tests (they compile): a warm cache was given");
    dlh_registry_clear();
    tmpdir_remove(dir);
    return done_testing();
}
