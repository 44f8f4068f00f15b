/* dlhost SDK — optimisers.
 *
 * An optimiser declares per-parameter state tensors by PyTorch's names
 * ("momentum_buffer", "exp_avg", ...), each the shape of its parameter and
 * zero at the start, and updates one parameter at a time in step.  Updates
 * follow PyTorch's torch/optim code for the same hyper-parameters. */
#ifndef DLHOST_OPTIMIZER_H
#define DLHOST_OPTIMIZER_H

#include <stdint.h>

#include "backend.h"
#include "host.h"
#include "tensor.h"

typedef struct dlh_optimizer_setup dlh_optimizer_setup;
struct dlh_optimizer_setup {
    uint32_t struct_size;
    dlh_params *params;
    const dlh_backend *backend;
    /* Declares a state tensor per parameter; *index is its position in the
       states array passed to step. */
    int (*add_state)(dlh_optimizer_setup *s, const char *name, int *index);
    void *host_ctx;
};

typedef struct dlh_optimizer_ctx {
    uint32_t struct_size;
    const dlh_backend *backend;
    int64_t t;                      /* step number, 1 on the first step */
    float lr;                       /* learning rate for this step (after the schedule) */
} dlh_optimizer_ctx;

typedef struct dlh_optimizer_ops {
    uint32_t struct_size;
    int (*create)(const dlh_host *host, dlh_optimizer_setup *setup, void **state);
    /* Updates param in place from grad; states[] in add_state order. */
    int (*step)(void *state, const dlh_optimizer_ctx *ctx, const dlh_tensor *param,
                const dlh_tensor *grad, const dlh_tensor *states);
    void (*destroy)(void *state);   /* optional */
} dlh_optimizer_ops;

#endif
