/* The cuda backend's host side, against the fake driver and cuBLAS of
 * tests/fake_cuda/ ($DLHOST_CUDA_DRIVER and $DLHOST_CUBLAS name it).
 * KERNELS DO NOT RUN IN THE FAKE: launches are checked (the kernel exists
 * in the PTX NVRTC made, block and grid sizes) and counted, so this proves
 * create/destroy, the memory pool, staging and transfers, the kernel disk
 * cache (a second instance compiles nothing, a corrupt entry is compiled
 * again and rewritten, concurrent writers leave one whole entry), the
 * `device` parameter, argument checks, which kernel each primitive
 * launches, and gemm's row-major to column-major mapping (the fake cuBLAS
 * computes on the host) -- not the numbers the kernels compute (the shared
 * source runs on PoCL in the opencl suites; tests/gpu/run-cuda-checks.sh
 * runs everything on a GPU).  NVRTC is real: SKIPs without it.
 *
 * With DLH_TEST_CUDA_CACHE set (tests/test_cuda_fake.sh under valgrind) it
 * uses that warm kernel cache and leaves out the cache tests, which
 * compile. */
#include <dirent.h>
#include <dlfcn.h>
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
#include "tap.h"
#include "tmpdir.h"
#include "fake_cuda/fake_cuda.h"
#include "../plugins/backends/cuda/cuda_backend.h"

static dlh_backend *be;
static const dlh_backend_ops *B;
static const fake_cuda_counters *(*drv)(void);
static const fake_cublas_counters *(*blas)(void);
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
    fail_over = (void (*)(size_t))dlsym(h, "fake_cuda_fail_alloc_over");
    setenv("DLHOST_CUDA_DRIVER", lib, 1);
    setenv("DLHOST_CUBLAS", lib, 1);
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
    ok(drv()->retained == 1 && drv()->streams == 1 && drv()->module_load == 1 &&
       blas()->handles == 1, "create: a primary context, a stream, one module, a cuBLAS "
       "handle");
    test_devices_describe();
    test_params();
    test_memory();
    test_gemm();
    test_launches();
    dlh_backend_close(be);
    ok(drv()->retained == 0 && drv()->streams == 0 && drv()->modules_live == 0 &&
       drv()->mem_alloc == drv()->mem_free && drv()->host_alloc == drv()->host_free &&
       blas()->handles == 0, "destroy gives back the context, stream, modules, every "
       "pooled block, the staging memory and the cuBLAS handle");
    if (warm == NULL || !*warm)
        test_disk_cache();
    else
        skip("the disk cache tests (they compile): a warm cache was given");
    dlh_registry_clear();
    tmpdir_remove(dir);
    return done_testing();
}
