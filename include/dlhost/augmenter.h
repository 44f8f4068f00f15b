/* dlhost SDK — data augmenters.
 *
 * Run on the host in the loader thread, on a batch of float samples, with the
 * batch's Philox stream; never on validation or test data. */
#ifndef DLHOST_AUGMENTER_H
#define DLHOST_AUGMENTER_H

#include <stdint.h>

#include "host.h"
#include "tensor.h"

typedef struct dlh_augment_ctx {
    uint32_t struct_size;
    uint64_t seed, stream;      /* this batch's stream; use sample offsets */
    int64_t batch;              /* samples in x */
    int64_t first_sample;       /* index of x's first sample in the epoch */
} dlh_augment_ctx;

typedef struct dlh_augmenter_ops {
    uint32_t struct_size;
    /* `sample` is the per-sample shape. */
    int (*create)(const dlh_host *host, dlh_params *params, const dlh_shape *sample,
                  void **state);
    /* Changes x (batch * numel(sample) floats) in place. */
    int (*apply)(void *state, const dlh_augment_ctx *ctx, float *x);
    void (*destroy)(void *state);   /* optional */
} dlh_augmenter_ops;

#endif
