/* The counters of the fake CUDA driver (fake_cuda.c), fake cuBLAS
 * (fake_cublas.c) and fake cuDNN (fake_cudnn.c), for the tests that load
 * them. */
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

typedef struct fake_cudnn_counters {
    long handles, descs;                /* live */
    long forward, backward_data, backward_filter, backward_bias, add_tensor;
    int last_algo[3];                   /* forward, backward data, backward filter */
    int last_math, last_groups;
    size_t last_ws;                     /* workspace bytes of the last run */
    float last_beta;                    /* of the last backward filter */
} fake_cudnn_counters;

const fake_cudnn_counters *fake_cudnn_stats(void);

#endif
