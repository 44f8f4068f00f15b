/* The lower bound of an MLP training step: its GEMMs alone, back to back,
 * with cblas_sgemm and the transposes dlhost's dense uses (weights stored
 * [out, in] as in PyTorch), no bias, activation, loss or optimiser.
 *
 *   sgemm_floor [--samples N] [--batch B] [--epochs E] [--threads T]
 *               [--gemm split|openblas] D0 D1 ... Dk
 *
 * D0..Dk are the layer widths (784 512 256 10).  Per step and layer:
 * forward Y = X W^T + Y (beta 1: dense puts the bias in Y first, as
 * torch.addmm), weight gradient dW = dY^T X (beta 0), and the input
 * gradient dX = dY W for every layer but the first (the data needs none).
 * An epoch is ceil(N / B) steps, the last one partial, as a training epoch
 * is.
 *
 * --gemm split (the default) runs every product the way the cpu backend
 * does (plugins/backends/cpu/cpu_gemm.c, gemm_split): OpenBLAS single-
 * threaded, a large product cut into one piece per CPU of the machine,
 * by rows or columns of C, the pieces shared by T OpenMP threads, each
 * running its own piece first (gemm_cut_walk in the same header).  That
 * cut is what makes the bits independent of the thread count; it is the
 * floor dlhost's epoch is measured against.  --gemm openblas runs each
 * product whole on OpenBLAS's own T threads: OpenBLAS cuts by the thread
 * count, so its bits change with T; a reference, not the floor.
 * Prints one line per epoch and a summary line for bench/compare.py:
 *   floor epoch_s=... samples_per_s=... gflops=...   (the fastest epoch) */
#include <cblas.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu_gemm_cut.h" /* plugins/backends/cpu: the backend's own cut */
#include "floor_args.h"

#define MAX_LAYERS FLOOR_MAX_LAYERS

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU_MAX_PANELS (cpu.h); keep in step. */
#define MAX_PANELS 16

static int panels = 1, split_threads = 1;

/* gemm_split: row-major C = alpha op(A) op(B) + beta C in pieces. */
static void gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    enum CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE opb = tb ? CblasTrans : CblasNoTrans;
    int parts = gemm_cut_pieces(panels, m, n, k);
    if (parts < 2) {
        cblas_sgemm(CblasRowMajor, opa, opb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    gemm_cut cut = gemm_cut_make(m, n, k, parts);
    int by_rows = cut.by_rows, len = cut.len, chunk = cut.chunk;
    int threads = split_threads < parts ? split_threads : parts;
    unsigned char claimed[MAX_PANELS] = { 0 };
    (void)threads;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        gemm_cut_walk w = gemm_cut_walk_begin(claimed, parts);
        for (int t; (t = gemm_cut_walk_next(&w)) >= 0;) {
            int lo = t * chunk, hi = lo + chunk < len ? lo + chunk : len;
            if (lo >= hi)
                continue;
            if (by_rows)
                cblas_sgemm(CblasRowMajor, opa, opb, hi - lo, n, k, alpha,
                            a + (ta ? (size_t)lo : (size_t)lo * (size_t)lda), lda, b, ldb,
                            beta, c + (size_t)lo * (size_t)ldc, ldc);
            else
                cblas_sgemm(CblasRowMajor, opa, opb, m, hi - lo, k, alpha, a, lda,
                            b + (tb ? (size_t)lo * (size_t)ldb : (size_t)lo), ldb, beta,
                            c + lo, ldc);
        }
    }
}

static float *filled(size_t n, unsigned seed)
{
    float *p = malloc(n * sizeof *p);
    if (!p)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) * (1.0f / 16777216.0f) - 0.5f;
    }
    return p;
}

static int usage(const char *why)
{
    fprintf(stderr, "sgemm_floor: %s\nusage: sgemm_floor [--samples N] [--batch B] "
            "[--epochs E] [--threads T] [--gemm split|openblas] D0 D1 ... Dk\n", why);
    return 2;
}

int main(int argc, char **argv)
{
    floor_args a;
    const char *how = "split";
    const char *why = floor_args_parse(&a, argc, argv, "--threads", "--gemm", &how);
    if (why)
        return usage(why);
    if (strcmp(how, "split") && strcmp(how, "openblas"))
        return usage("--gemm is split or openblas");
    int split = !strcmp(how, "split");
    const long samples = a.samples, batch = a.batch, epochs = a.epochs;
    const int *dims = a.dims, nd = a.nd;
    long threads = a.extra;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = online < 1 ? 1 : online;
    if (split) {
#ifndef _OPENMP
        if (threads > 1)
            return usage("--gemm split with several threads needs a build with -fopenmp");
#endif
        openblas_set_num_threads(1);
        panels = online < 1 ? 1 : online > MAX_PANELS ? MAX_PANELS : (int)online;
        split_threads = (int)threads;
    } else {
        openblas_set_num_threads((int)threads);
        panels = 1;
    }

    int nl = nd - 1;
    float *w[MAX_LAYERS], *dw[MAX_LAYERS], *act[MAX_LAYERS + 1], *grad[MAX_LAYERS + 1];
    int fail = 0;
    for (int l = 0; l < nl; l++) {
        w[l] = filled((size_t)dims[l] * dims[l + 1], 1u + (unsigned)l);
        dw[l] = filled((size_t)dims[l] * dims[l + 1], 100u + (unsigned)l);
        fail |= !w[l] || !dw[l];
    }
    for (int l = 0; l < nd; l++) {
        act[l] = filled((size_t)batch * dims[l], 200u + (unsigned)l);
        grad[l] = filled((size_t)batch * dims[l], 300u + (unsigned)l);
        fail |= !act[l] || !grad[l];
    }
    if (fail) {
        fprintf(stderr, "sgemm_floor: out of memory\n");
        return 1;
    }

    double flops_epoch = 0.0, best = 1e300;
    for (int e = 0; e < epochs; e++) {
        double t0 = now();
        for (long first = 0; first < samples; first += batch) {
            int b = (int)(samples - first < batch ? samples - first : batch);
            for (int l = 0; l < nl; l++) {
                int in = dims[l], out = dims[l + 1];
                gemm(0, 1, b, out, in, 1.0f, act[l], in, w[l], in, 1.0f, act[l + 1], out);
                if (e == 0)
                    flops_epoch += 2.0 * b * in * out;
            }
            for (int l = nl - 1; l >= 0; l--) {
                int in = dims[l], out = dims[l + 1];
                gemm(1, 0, out, in, b, 1.0f, grad[l + 1], out, act[l], in, 0.0f, dw[l], in);
                if (l > 0)
                    gemm(0, 0, b, in, out, 1.0f, grad[l + 1], out, w[l], in, 0.0f, grad[l], in);
                if (e == 0)
                    flops_epoch += 2.0 * b * in * out * (l > 0 ? 2 : 1);
            }
        }
        double dt = now() - t0;
        best = dt < best ? dt : best;
        printf("epoch %d/%ld  %.3f s  %.0f samples/s  %.1f GFLOP/s\n", e + 1, epochs, dt,
               (double)samples / dt, flops_epoch / dt * 1e-9);
    }
    printf("floor epoch_s=%.4f samples_per_s=%.0f gflops=%.1f gemm=%s threads=%ld\n", best,
           (double)samples / best, flops_epoch / best * 1e-9, split ? "split" : "openblas",
           threads);
    for (int l = 0; l < nl; l++) {
        free(w[l]);
        free(dw[l]);
    }
    for (int l = 0; l < nd; l++) {
        free(act[l]);
        free(grad[l]);
    }
    return 0;
}
