/* The time of one elementwise program on the cpu backend, as an optimiser
 * step runs it: Adam's update (plugins/optimizers/adam.c's program, torch's
 * defaults) over N parameters, best and median of R calls.
 *
 *   ew_step [--n N] [--reps R] [--program adam|adam-wd-amsgrad|sgd-nesterov|
 *            rmsprop-centered|relu|relu-backward|sumsq|colsum]
 *
 * N defaults to 535,818 (the Fashion-MNIST MLP); the backend has its default
 * threads (one per CPU).  Run it three ways to see
 * what the cpu runner's fused loops save (plugins/backends/cpu/cpu_ew.c):
 * as is; with DLHOST_CPU_EW_FUSE=0 (blockwise, each instruction its own loop
 * over a block); with DLHOST_CPU_EW_PLAIN=1 (each instruction over all N).
 * sumsq and colsum time the backend's reduce instead: the guard's sum of
 * squares of N floats, and the column sums of a [128, N/128] gradient (the
 * bias gradient).
 * Built and run from a build tree (bench/README.md):
 *   make bench/ew_step
 *   DLHOST_PLUGIN_PATH=$PWD/plugins/backends/cpu/.libs DLHOST_PLUGIN_PATH_ONLY=1 \
 *      bench/ew_step --program relu --n 65536 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dlhost/dlhost.h>

#include "error.h"
#include "ew.h"
#include "registry.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const struct {
    const char *name, *src;
    int n_arrays, n_scalars;
} programs[] = {
    { "adam", "in g; inout p, m, v; scalar step, b1, b1c, b2, b2c, bc2s, eps;\n"
              "d = g;\nm = b1*m + b1c*d;\nv = b2*v + b2c*(d*d);\n"
              "p = p - step*(m/(sqrt(v)/bc2s + eps));\n", 4, 7 },
    { "adam-wd-amsgrad", "in g; inout p, m, v, vmax; scalar step, b1, b1c, b2, b2c, bc2s, eps, wd;\n"
                         "d = g + wd*p;\nm = b1*m + b1c*d;\nv = b2*v + b2c*(d*d);\n"
                         "vmax = max(vmax, v);\np = p - step*(m/(sqrt(vmax)/bc2s + eps));\n",
      5, 8 },
    { "sgd-nesterov", "in g; inout p, buf; scalar lr, mu, damp1, wd, first;\n"
                      "d = g + wd*p;\nbuf = select(first, d, mu*buf + damp1*d);\n"
                      "p = p - lr*(d + mu*buf);\n", 3, 5 },
    { "rmsprop-centered", "in g; inout p, sq, ga; scalar alpha, alpha1, eps, lr;\n"
                          "d = g;\nsq = alpha*sq + alpha1*(d*d);\nga = alpha*ga + alpha1*d;\n"
                          "avg = sqrt(sq - ga*ga) + eps;\np = p - lr*(d/avg);\n", 4, 4 },
    { "relu", "in x; out y; y = max(x, 0);", 2, 0 },
    { "relu-backward", "in x, dy; out dx; dx = select(x > 0, dy, 0);", 3, 0 },
};

int main(int argc, char **argv)
{
    long n = 535818, reps = 1000;
    const char *prog = "adam";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n"))
            n = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            reps = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--program"))
            prog = argv[i + 1];
        else {
            fprintf(stderr, "ew_step: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    int red = !strcmp(prog, "sumsq") ? 1 : !strcmp(prog, "colsum") ? 2 : 0;
    if (red)
        prog = "relu";          /* two buffers of n floats */
    int which = -1;
    for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++)
        if (!strcmp(prog, programs[i].name))
            which = (int)i;
    if (which < 0 || n < 1 || reps < 1) {
        fprintf(stderr, "ew_step: --program adam|adam-wd-amsgrad|sgd-nesterov|"
                "rmsprop-centered|relu|relu-backward|sumsq|colsum, --n and --reps at least 1\n");
        return 2;
    }
    dlh_backend *be = NULL;
    int rc = dlh_registry_load_all(0);
    if (!rc)
        rc = dlh_backend_open("cpu", NULL, &be);
    dlh_ew_kernel *k = NULL;
    if (!rc)
        rc = dlh_ew_compile(be, programs[which].src, &k);
    if (rc) {
        fprintf(stderr, "ew_step: %s\n", dlh_error_get());
        return 1;
    }
    int na = programs[which].n_arrays;
    dlh_buffer *buf[8] = { NULL };
    dlh_ew_arg args[8];
    float *host = malloc((size_t)n * sizeof *host);
    double *t = malloc((size_t)reps * sizeof *t);
    if (!host || !t)
        return 1;
    for (int j = 0; j < na && !rc; j++) {
        for (long i = 0; i < n; i++)
            host[i] = j == 2 || j == 3 ? 1e-3f * (float)(i % 97) : 0.01f * (float)(i % 89 - 44);
        rc = be->ops->alloc(be->ctx, (size_t)n * sizeof(float), &buf[j]);
        if (!rc)
            rc = be->ops->write(be->ctx, buf[j], 0, host, (size_t)n * sizeof(float));
        args[j] = (dlh_ew_arg){ { buf[j], 0 }, (size_t)n, 1 };
    }
    const float sc[8] = { 1e-6f, 0.9f, 0.1f, 0.999f, 0.001f, 0.9f, 1e-8f, 0.0f };
    for (long r = 0; r < reps && !rc; r++) {
        double t0 = now();
        if (red == 1)
            rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUMSQ, 1, 1, (int)n, args[0].mem,
                                 args[1].mem, (dlh_mem){ NULL, 0 });
        else if (red == 2)
            rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 0, 128, (int)(n / 128), args[0].mem,
                                 args[1].mem, (dlh_mem){ NULL, 0 });
        else
            rc = dlh_ew_run(k, (size_t)n, args, sc);
        t[r] = now() - t0;
    }
    if (rc) {
        fprintf(stderr, "ew_step: %s\n", dlh_error_get());
        return 1;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    const char *fuse = getenv("DLHOST_CPU_EW_FUSE"), *plain = getenv("DLHOST_CPU_EW_PLAIN");
    if (red)
        prog = red == 1 ? "sumsq" : "colsum";
    printf("ew_step %s n=%ld reps=%ld%s%s%s%s: best %.4f ms, median %.4f ms\n", prog, n, reps,
           fuse ? " DLHOST_CPU_EW_FUSE=" : "", fuse ? fuse : "",
           plain ? " DLHOST_CPU_EW_PLAIN=" : "", plain ? plain : "", t[0] * 1e3,
           t[reps / 2] * 1e3);
    for (int j = 0; j < na; j++)
        be->ops->free(be->ctx, buf[j]);
    dlh_ew_free(k);
    dlh_backend_close(be);
    dlh_registry_clear();
    free(host);
    free(t);
    return 0;
}
