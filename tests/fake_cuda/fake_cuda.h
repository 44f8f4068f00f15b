/* The counters of the fake CUDA driver (fake_cuda.c) and fake cuBLAS
 * (fake_cublas.c), for the tests that load them. */
#ifndef DLHOST_FAKE_CUDA_H
#define DLHOST_FAKE_CUDA_H

#include <stddef.h>

typedef struct fake_cuda_counters {
    long mem_alloc, mem_free, host_alloc, host_free, module_load, modules_live;
    long launch, stream_sync, copies, streams, retained;
    size_t fail_alloc_over;             /* set by a test: larger cuMemAllocs fail */
    char last_kernel[64];
    unsigned last_grid, last_block;
} fake_cuda_counters;

const fake_cuda_counters *fake_cuda_stats(void);
/* Does the queued copies and memsets (cuStreamSynchronize's work). */
void fake_cuda_flush(void);
/* Makes cuMemAlloc of more than `bytes` fail with out of memory (0: never). */
void fake_cuda_fail_alloc_over(size_t bytes);

typedef struct fake_cublas_counters {
    long handles, sgemm, sgemm_batched;
    int last_ta, last_tb, last_m, last_n, last_k;
} fake_cublas_counters;

const fake_cublas_counters *fake_cublas_stats(void);

#endif
