/* dlhost SDK — layers.
 *
 * A layer reads its parameters and per-sample input shapes in create,
 * returns its per-sample output shape and declares its trainable tensors
 * (with a default initialiser) and scratch memory.  The core allocates all
 * memory once; forward and backward never allocate.  Tensors passed to
 * forward/backward carry the batch as shape[0]. */
#ifndef DLHOST_LAYER_H
#define DLHOST_LAYER_H

#include <stdint.h>

#include "backend.h"
#include "host.h"
#include "tensor.h"

typedef enum dlh_init_kind {
    DLH_INIT_ZEROS = 0,
    DLH_INIT_CONSTANT,        /* a */
    DLH_INIT_UNIFORM,         /* U(a, b) */
    DLH_INIT_NORMAL,          /* N(a, b^2): mean a, std b */
    DLH_INIT_XAVIER_UNIFORM,  /* gain a (0 = 1) */
    DLH_INIT_XAVIER_NORMAL,   /* gain a (0 = 1) */
    DLH_INIT_HE_UNIFORM,      /* fan_in, gain sqrt(2) */
    DLH_INIT_HE_NORMAL,
    DLH_INIT_IDENTITY,        /* eye for 2-D, Dirac for conv weights */
    DLH_INIT_KIND_COUNT
} dlh_init_kind;

/* An initialiser; fans come from the shape as PyTorch computes them
 * (fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field). */
typedef struct dlh_init {
    int32_t kind;       /* dlh_init_kind */
    float a, b;
} dlh_init;

typedef struct dlh_layer_setup dlh_layer_setup;
struct dlh_layer_setup {
    uint32_t struct_size;
    const char *name;               /* the layer's name in the experiment */
    dlh_params *params;
    const dlh_backend *backend;
    int n_inputs;
    const dlh_shape *inputs;        /* [n_inputs] per-sample shapes */
    dlh_shape output;               /* set by create */
    /* Declares a trainable tensor `name` (PyTorch's: "weight", "bias") of
       `shape`; *index is its position in ctx->params and ctx->grads.
       The experiment's `init` overrides `def` for tensors named "weight". */
    int (*add_param)(dlh_layer_setup *s, const char *name, const dlh_shape *shape,
                     dlh_init def, int *index);
    /* Declares a non-trainable tensor that is saved with the weights
       (batchnorm's running_mean); it appears in ctx->buffers. */
    int (*add_buffer)(dlh_layer_setup *s, const char *name, const dlh_shape *shape,
                      dlh_init def, int *index);
    /* Declares scratch memory of per_sample * batch + fixed floats, kept
       between forward and backward of one step; it appears in ctx->scratch. */
    int (*add_scratch)(dlh_layer_setup *s, int64_t per_sample, int64_t fixed,
                       int *index);
    void *host_ctx;                 /* the host's; do not touch */
    /* ABI 1.2 members go below this line. */
    /* Set by create to 1 when backward honours ctx->overwrite_grads: the
       core then skips zeroing the gradients before each backward. */
    int32_t overwrites_grads;
    /* ABI 1.3 members go below this line. */
    /* Set by create to 1 when the output is the first and only input's
       elements unchanged and in the same order (flatten, reshape).  The core
       may then hand the output the input's memory and skip forward, and hand
       the input's gradient the output gradient's memory and skip backward.
       forward and backward must still copy: the core calls them wherever it
       cannot share the memory. */
    int32_t output_is_view;
};

typedef struct dlh_layer_ctx {
    uint32_t struct_size;
    const dlh_backend *backend;
    int64_t batch;
    int training;                   /* 1 in training, 0 in evaluation */
    int64_t step;                   /* global optimiser step, from 0 */
    uint64_t seed, stream;          /* this layer's Philox stream for this step */
    const dlh_tensor *params;       /* in add_param order */
    const dlh_tensor *grads;        /* same shapes; backward adds into them
                                       (or overwrites them, below) */
    const dlh_tensor *buffers;      /* in add_buffer order */
    const dlh_tensor *scratch;      /* in add_scratch order, sized for batch */
    /* ABI 1.2 members go below this line. */
    /* 1 only for a layer that set setup->overwrites_grads, when ctx->grads
       hold nothing of this step (not even zeros): backward then writes every
       element of them instead of adding. */
    int32_t overwrite_grads;
} dlh_layer_ctx;

typedef struct dlh_layer_ops {
    uint32_t struct_size;
    /* Reads params and setup->inputs, sets setup->output, declares tensors.
       destroy is called even when create fails. */
    int (*create)(const dlh_host *host, dlh_layer_setup *setup, void **state);
    /* output = f(inputs). */
    int (*forward)(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                   const dlh_tensor *output);
    /* Given d_output, overwrites each d_inputs[i] whose mem.buf is not NULL and
       adds parameter gradients into ctx->grads (writes them when
       ctx->overwrite_grads is 1).  inputs and output hold the
       values of the last forward. */
    int (*backward)(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                    const dlh_tensor *output, const dlh_tensor *d_output,
                    const dlh_tensor *d_inputs);
    void (*destroy)(void *state);   /* optional: NULL when state needs no cleanup */
} dlh_layer_ops;

#endif
