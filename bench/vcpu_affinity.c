/* How far apart this machine's first two CPUs are, and what it costs a
 * training step when one thread updates what the other wrote (bench/
 * README.md, "Which vCPU runs which piece").  Three measurements:
 *
 *   1. ping-pong: a cache line bounced between threads pinned to CPU 0 and
 *      CPU 1, the mean round trip;
 *   2. race: in 20,000 two-iteration `schedule(dynamic, 1)` loops (what
 *      cpu_gemm.c used to share its pieces with), how often iteration 0
 *      ran on the worker rather than the master;
 *   3. fc1: the MLP's first layer step, OpenBLAS single-threaded inside two
 *      OpenMP threads as the cpu backend runs it: forward y = x W^T (cut by
 *      columns), dW = dy^T x (cut by rows), the sum of squares of dW and
 *      Adam over W's 401,408 parameters in static halves; the mean time of
 *      each, with Adam's halves on the threads that wrote them ("same"),
 *      on the other thread ("crossed"), and on one thread.
 *
 *   cc -O2 -std=gnu11 -fopenmp -fno-math-errno -o vcpu_affinity bench/vcpu_affinity.c \
 *      -lopenblas -lm -lpthread
 *   ./vcpu_affinity            (GOMP_SPINCOUNT as core/loader.c sets it:
 *                               30000 on a quiet machine) */
#define _GNU_SOURCE
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ROUNDS 200000
#define RACES 20000
#define STEPS 1500

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

static _Atomic int flag __attribute__((aligned(64)));

static void *pong(void *arg)
{
    (void)arg;
    pin(1);
    for (int i = 0; i < ROUNDS; i++) {
        while (atomic_load(&flag) != 2 * i + 1)
            ;
        atomic_store(&flag, 2 * i + 2);
    }
    return NULL;
}

static double ping_pong(void)
{
    pthread_t t;
    pin(0);
    if (pthread_create(&t, NULL, pong, NULL) != 0)
        return -1.0;
    double t0 = now();
    for (int i = 0; i < ROUNDS; i++) {
        atomic_store(&flag, 2 * i + 1);
        while (atomic_load(&flag) != 2 * i + 2)
            ;
    }
    double dt = now() - t0;
    pthread_join(t, NULL);
    return dt / ROUNDS;
}

static double race(void)
{
    int worker_first = 0, who[2] = { 0, 0 };
    for (int r = 0; r < RACES; r++) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(2)
        for (int t = 0; t < 2; t++) {
            who[t] = omp_get_thread_num();
            volatile double s = 0.0;
            for (int i = 0; i < 20000; i++)
                s += i;
        }
        worker_first += who[0] != 0;
    }
    return (double)worker_first / RACES;
}

static float *filled(size_t n, float scale)
{
    float *p = aligned_alloc(64, (n * sizeof *p + 63) / 64 * 64);
    for (size_t i = 0; p && i < n; i++)
        p[i] = scale * (float)((i * 7919u) % 1000u) / 1000.0f;
    return p;
}

/* fc1's step on `threads` threads; crossed: Adam's and the sum's halves on
   the thread that did not write them.  Mean microseconds of each part. */
static int fc1(int threads, int crossed, double us[4])
{
    enum { B = 128, IN = 784, OUT = 512 };
    size_t nw = (size_t)IN * OUT;
    float *x = filled((size_t)B * IN, 1.0f), *w = filled(nw, 0.01f);
    float *y = filled((size_t)B * OUT, 1.0f), *dy = filled((size_t)B * OUT, 0.01f);
    float *dw = filled(nw, 0.0f), *m = filled(nw, 0.0f), *v = filled(nw, 0.0f);
    if (!x || !w || !y || !dy || !dw || !m || !v)
        return -1;
    double sum[4] = { 0, 0, 0, 0 }, part[2] = { 0, 0 };
#pragma omp parallel num_threads(threads)
    pin(omp_get_thread_num());
    for (int r = 0; r < STEPS; r++) {
        double t[5];
        t[0] = now();
#pragma omp parallel num_threads(threads)
        for (int p = 0; p < 2; p++)     /* thread p runs piece p */
            if (omp_get_num_threads() == 1 || p == omp_get_thread_num())
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, OUT / 2, IN, 1.0f,
                            x, IN, w + (size_t)p * (OUT / 2) * IN, IN, 1.0f,
                            y + p * (OUT / 2), OUT);
        t[1] = now();
#pragma omp parallel num_threads(threads)
        for (int p = 0; p < 2; p++)
            if (omp_get_num_threads() == 1 || p == omp_get_thread_num())
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OUT / 2, IN, B, 1.0f,
                            dy + p * (OUT / 2), OUT, x, IN, 0.0f,
                            dw + (size_t)p * (OUT / 2) * IN, IN);
        t[2] = now();
#pragma omp parallel num_threads(threads)
        {
            int nt = omp_get_num_threads(), h = omp_get_thread_num();
            if (crossed && nt == 2)
                h = 1 - h;
            double s = 0.0;
            for (size_t i = nw * h / nt; i < nw * (h + 1) / nt; i++)
                s += (double)dw[i] * dw[i];
            part[h] = s;
        }
        t[3] = now();
#pragma omp parallel num_threads(threads)
        {
            int nt = omp_get_num_threads(), h = omp_get_thread_num();
            if (crossed && nt == 2)
                h = 1 - h;
            size_t lo = nw * h / nt, hi = nw * (h + 1) / nt;
#pragma omp simd
            for (size_t i = lo; i < hi; i++) {
                float g = dw[i];
                m[i] = 0.9f * m[i] + 0.1f * g;
                v[i] = 0.999f * v[i] + 0.001f * (g * g);
                w[i] = w[i] - 1e-3f * (m[i] / (sqrtf(v[i]) / 0.5f + 1e-8f));
            }
        }
        t[4] = now();
        for (int j = 0; r >= 100 && j < 4; j++)
            sum[j] += t[j + 1] - t[j];
    }
    for (int j = 0; j < 4; j++)
        us[j] = sum[j] / (STEPS - 100) * 1e6;
    free(x), free(w), free(y), free(dy), free(dw), free(m), free(v);
    return part[0] + part[1] > 0.0 ? 0 : -1;
}

int main(void)
{
    openblas_set_num_threads(1);
    printf("ping-pong CPU 0 <-> CPU 1: %.0f ns a round trip\n", ping_pong() * 1e9);
    printf("schedule(dynamic, 1), 2 pieces: piece 0 ran on the worker in %.1f %% of %d "
           "regions\n", 100.0 * race(), RACES);
    const char *name[3] = { "2 threads, same", "2 threads, crossed", "1 thread" };
    int cfg[3][2] = { { 2, 0 }, { 2, 1 }, { 1, 0 } };
    for (int c = 0; c < 3; c++) {
        double us[4];
        if (fc1(cfg[c][0], cfg[c][1], us) != 0) {
            fprintf(stderr, "vcpu_affinity: out of memory\n");
            return 1;
        }
        printf("fc1 %-19s forward %6.1f  dW %6.1f  sum of squares %6.1f  Adam %6.1f us\n",
               name[c], us[0], us[1], us[2], us[3]);
    }
    return 0;
}
