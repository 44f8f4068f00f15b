/* The lower bound of an MLP training step: its GEMMs alone, back to back,
 * with cblas_sgemm and the transposes a framework would use (weights stored
 * [out, in] as in PyTorch), no bias, activation, loss or optimiser.
 *
 *   sgemm_floor [--samples N] [--batch B] [--epochs E] [--threads T] D0 D1 ... Dk
 *
 * D0..Dk are the layer widths (784 512 256 10).  Per step and layer:
 * forward Y = X W^T, weight gradient dW = dY^T X, and the input gradient
 * dX = dY W for every layer but the first (the data needs none).  An epoch
 * is ceil(N / B) steps, the last one partial, as a training epoch is.
 * Prints one line per epoch and a summary line for bench/compare.py:
 *   floor epoch_s=... samples_per_s=... gflops=...   (the fastest epoch) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LAYERS 16

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
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
            "[--epochs E] [--threads T] D0 D1 ... Dk\n", why);
    return 2;
}

int main(int argc, char **argv)
{
    long samples = 60000, batch = 128, epochs = 3, threads = 0;
    int dims[MAX_LAYERS + 1], nd = 0;
    for (int i = 1; i < argc; i++) {
        long *opt = !strcmp(argv[i], "--samples") ? &samples
                  : !strcmp(argv[i], "--batch") ? &batch
                  : !strcmp(argv[i], "--epochs") ? &epochs
                  : !strcmp(argv[i], "--threads") ? &threads : NULL;
        char *end;
        if (opt) {
            if (++i >= argc)
                return usage("an option needs a value");
            *opt = strtol(argv[i], &end, 10);
            if (*end || *opt < 0)
                return usage("option values are non-negative integers");
            continue;
        }
        if (nd > MAX_LAYERS)
            return usage("too many layer widths");
        long d = strtol(argv[i], &end, 10);
        if (*end || d < 1 || d > 1 << 20)
            return usage("layer widths are positive integers");
        dims[nd++] = (int)d;
    }
    if (nd < 2)
        return usage("give at least two layer widths");
    if (samples < 1 || batch < 1 || epochs < 1)
        return usage("samples, batch and epochs must be at least 1");
    if (threads > 0)
        openblas_set_num_threads((int)threads);

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
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, out, in, 1.0f,
                            act[l], in, w[l], in, 0.0f, act[l + 1], out);
                if (e == 0)
                    flops_epoch += 2.0 * b * in * out;
            }
            for (int l = nl - 1; l >= 0; l--) {
                int in = dims[l], out = dims[l + 1];
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, b, 1.0f,
                            grad[l + 1], out, act[l], in, 0.0f, dw[l], in);
                if (l > 0)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, in, out, 1.0f,
                                grad[l + 1], out, w[l], in, 0.0f, grad[l], in);
                if (e == 0)
                    flops_epoch += 2.0 * b * in * out * (l > 0 ? 2 : 1);
            }
        }
        double dt = now() - t0;
        best = dt < best ? dt : best;
        printf("epoch %d/%ld  %.3f s  %.0f samples/s  %.1f GFLOP/s\n", e + 1, epochs, dt,
               (double)samples / dt, flops_epoch / dt * 1e-9);
    }
    printf("floor epoch_s=%.4f samples_per_s=%.0f gflops=%.1f\n", best,
           (double)samples / best, flops_epoch / best * 1e-9);
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
