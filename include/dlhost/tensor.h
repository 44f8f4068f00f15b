/* dlhost SDK — tensors and device memory references.
 *
 * Memory lives on a backend, behind an opaque dlh_buffer that only that
 * backend understands.  The host and the plugins address it as a buffer plus
 * an element offset (dlh_mem); a tensor adds dtype and a row-major shape
 * (images are NCHW).  Both are plain values, fixed for an ABI major version. */
#ifndef DLHOST_TENSOR_H
#define DLHOST_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define DLH_MAX_DIMS 5

typedef enum dlh_dtype {
    DLH_F32 = 0,
    DLH_I32 = 1,   /* indices (gather/scatter, argmax, pooling) */
    DLH_F16 = 2,   /* reserved */
    DLH_BF16 = 3,  /* reserved */
    /* ABI 1.6 dtypes go below this line. */
    DLH_I64 = 4    /* layer counters (layer.h add_counter) in checkpoints; host
                      memory only: no backend primitive takes it */
} dlh_dtype;

/* Backend-defined memory block; opaque to everyone but its backend. */
typedef struct dlh_buffer dlh_buffer;

/* A reference into a buffer: `off` counts elements of the dtype the
 * primitive documents (float for data, int32 for indices). */
typedef struct dlh_mem {
    dlh_buffer *buf;
    size_t off;
} dlh_mem;

typedef struct dlh_tensor {
    dlh_mem mem;
    int32_t dtype;                  /* dlh_dtype */
    int32_t ndim;                   /* 0..DLH_MAX_DIMS */
    int64_t shape[DLH_MAX_DIMS];    /* row-major; batch first where there is one */
} dlh_tensor;

/* Per-sample (or parameter) shape, without a batch dimension. */
typedef struct dlh_shape {
    int32_t ndim;
    int64_t dim[DLH_MAX_DIMS];
} dlh_shape;

/* Number of elements of a tensor (1 for ndim 0). */
static inline int64_t dlh_tensor_numel(const dlh_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

/* Number of elements of a shape (1 for ndim 0). */
static inline int64_t dlh_shape_numel(const dlh_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++)
        n *= s->dim[i];
    return n;
}

/* A reference offset by `elems` elements. */
static inline dlh_mem dlh_mem_at(dlh_mem m, size_t elems)
{
    m.off += elems;
    return m;
}

#endif
