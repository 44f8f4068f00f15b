/* Philox random fills: element i is philox.h's scalar function of counter
 * offset + i, so the split over threads cannot change a single value. */
#include "cpu.h"

int cpu_rand(void *ctx, dlh_rand_dist dist, dlh_mem dst, size_t n, uint64_t seed,
             uint64_t stream, uint64_t offset, float a, float b)
{
    cpu_ctx *c = ctx;
    int rc = bchk_rand(&cpu_checks, dist, dst, n);
    if (rc != 0 || n == 0)
        return rc;
    float *y = cpu_f32(dst);
    /* Ten Philox rounds per element (plus log/cos for normal) is more work
       than most primitives do per element: threads pay off sooner. */
    int par = n >= CPU_PAR_MIN / 8;
    switch (dist) {
    case DLH_RAND_UNIFORM:
        #pragma omp parallel for num_threads(c->threads) if (par) schedule(static)
        for (size_t i = 0; i < n; i++)
            y[i] = dlh_philox_uniform(seed, stream, offset + i, a, b);
        break;
    case DLH_RAND_NORMAL:
        #pragma omp parallel for num_threads(c->threads) if (par) schedule(static)
        for (size_t i = 0; i < n; i++)
            y[i] = dlh_philox_normal(seed, stream, offset + i, a, b);
        break;
    case DLH_RAND_BERNOULLI:
        #pragma omp parallel for num_threads(c->threads) if (par) schedule(static)
        for (size_t i = 0; i < n; i++)
            y[i] = dlh_philox_bernoulli(seed, stream, offset + i, a);
        break;
    }
    return 0;
}
