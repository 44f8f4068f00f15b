/* What a step pays to rewrite a buffer the other vCPU has read (bench/
 * README.md, "Which vCPU runs which piece"): thread 0 writes
 * y = max(x, 0) over 65,536 floats (a 128 x 512 layer output), then
 *
 *   mode 0: both threads read y whole (as a gemm cut by columns reads its A);
 *   mode 1: only thread 0 reads y;
 *   mode 2: thread 1 reads x only (shared, never written);
 *
 * and prints the mean time of the write in each mode.
 *
 *   cc -O3 -march=native -std=gnu11 -fopenmp -o vcpu_rfo bench/vcpu_rfo.c
 *   OMP_PROC_BIND=true GOMP_SPINCOUNT=30000 ./vcpu_rfo */
#define _GNU_SOURCE
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { N = 65536, ROUNDS = 2000 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(void)
{
    static const char *what[3] = { "the other thread reads y", "only the writer reads y",
                                   "the other thread reads x only" };
    float *x = aligned_alloc(64, N * sizeof(float)), *y = aligned_alloc(64, N * sizeof(float));
    if (x == NULL || y == NULL) {
        fprintf(stderr, "vcpu_rfo: out of memory\n");
        return 1;
    }
    for (int i = 0; i < N; i++)
        x[i] = (float)(i % 7) - 3.0f;
    volatile float sink;
    for (int mode = 0; mode < 3; mode++) {
        double write_s = 0;
        float s = 0;
        #pragma omp parallel num_threads(2) reduction(+ : s)
        {
            int t = omp_get_thread_num();
            for (int r = 0; r < ROUNDS; r++) {
                #pragma omp barrier
                if (t == 0) {
                    double a = now();
                    for (int i = 0; i < N; i++)
                        y[i] = x[i] > 0 ? x[i] : 0;
                    write_s += now() - a;
                }
                #pragma omp barrier
                if (mode == 0 || t == 0)
                    for (int i = 0; i < N; i += 16)
                        s += y[i];
                if (mode == 2 && t == 1)
                    for (int i = 0; i < N; i += 16)
                        s += x[i];
            }
        }
        sink = s;
        printf("mode %d (%s): the write %.1f us\n", mode, what[mode], write_s / ROUNDS * 1e6);
    }
    (void)sink;
    free(x);
    free(y);
    return 0;
}
