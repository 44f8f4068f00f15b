/* dlhost SDK — optimisers.
 *
 * An optimiser declares per-parameter state tensors by PyTorch's names
 * ("momentum_buffer", "exp_avg", ...), each the shape of its parameter and
 * zero at the start, and updates one parameter at a time in step.  Updates
 * follow PyTorch's torch/optim code for the same hyper-parameters.
 *
 * ABI 1.5 adds, for optimisers built against it:
 * - state tensors that start at a value (add_state_value: Adagrad's "sum"
 *   at initial_accumulator_value), per-parameter scalar states kept on the
 *   host (add_scalar: NAdam's "mu_product", ASGD's "eta" and "mu"), and
 *   scratch tensors shared by all parameters (add_scratch: LAMB's update
 *   and its norms);
 * - the optimiser's own default learning rate (setup->default_lr);
 * - in the step context: the learning rate in double, the parameter's own
 *   step count (PyTorch's state['step']), its name ("fc1.weight") and role
 *   (weight, bias, norm), its scalar states and the scratch tensors.
 * The core keeps every parameter's step count, and saves it in checkpoints
 * as "optim.<layer>.<param>.step" (a float32 scalar, as torch.optim keeps
 * state['step']) beside the state tensors "optim.<layer>.<param>.<state>"
 * and the scalar states, so the optimiser state of a checkpoint maps onto
 * torch.optim's state_dict()['state'] name for name.
 *
 * Norms (trust-ratio optimisers such as LAMB and LARS): the backend's
 * reduce(ctx, DLH_REDUCE_SUMSQ, 1, 1, n, x, out, no idx) writes the sum of
 * squares of n floats into one float of a scratch tensor, on the device;
 * an elementwise program reads it as a broadcast operand ({mem, 1, 1}: every
 * element sees out[0]) and takes its sqrt, so the update never waits for the
 * device.  plugins/optimizers/lamb.c does this.
 *
 * Parameter groups (PyTorch's param_groups, optimizer.groups in the
 * experiment): the core calls create once per group, with a dlh_params whose
 * keys are the group's over the optimizer group's, so each instance holds its
 * group's hyper-parameters in its own state; step then gets the group's
 * learning rate in ctx->lr and ctx->lr_d and its index in ctx->group (the
 * default group, the optimizer group's own settings, is the last).  Two
 * groups may differ in hyper-parameters that declare states (amsgrad's
 * max_exp_avg_sq): each parameter gets its group's.  Frozen parameters
 * (trainable = false) never reach step.  Keep per-group hyper-parameters in
 * the create state, never in globals. */
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
    /* ABI 1.5 members go below this line: the host sets struct_size to its
       own, so check setup->struct_size before using one. */
    /* As add_state, for a state tensor that starts at `value` everywhere. */
    int (*add_state_value)(dlh_optimizer_setup *s, const char *name, float value,
                           int *index);
    /* Declares a per-parameter scalar state `name`, starting at `value`:
       a float on the host that step reads and writes as ctx->scalars[*index]
       and that checkpoints keep as a float32 scalar "optim.<param>.<name>". */
    int (*add_scalar)(dlh_optimizer_setup *s, const char *name, float value, int *index);
    /* Declares a scratch tensor of per_element * numel(parameter) + fixed
       floats; step finds it in ctx->scratch[*index] (1-D, that many floats),
       its contents undefined.  One is shared by all parameters (sized for the
       largest) and not saved. */
    int (*add_scratch)(dlh_optimizer_setup *s, int64_t per_element, int64_t fixed,
                       int *index);
    /* Set by create: the learning rate when the experiment names none
       (PyTorch's default for this optimiser); 0 leaves the host's, 0.01. */
    double default_lr;
};

/* What a parameter is, for optimisers that treat them differently (LAMB and
   LARS commonly exempt biases and normalisation scales from weight decay).
   The core infers it as timm does: a tensor named "bias" is a bias, any
   other tensor of at most one dimension a norm scale, the rest weights. */
typedef enum dlh_param_role {
    DLH_ROLE_WEIGHT = 0,
    DLH_ROLE_BIAS = 1,
    DLH_ROLE_NORM = 2
} dlh_param_role;

typedef struct dlh_optimizer_ctx {
    uint32_t struct_size;
    const dlh_backend *backend;
    int64_t t;                      /* step number, 1 on the first step */
    float lr;                       /* learning rate for this step (after the schedule) */
    /* ABI 1.5 members go below this line: read them only when
       ctx->struct_size covers them (an older host's context does not). */
    double lr_d;                    /* the same learning rate in double, as torch
                                       passes group['lr'] */
    int64_t step;                   /* this parameter's updates including this one:
                                       torch's state['step'] after its increment */
    const char *name;               /* "<layer>.<param>": "fc1.weight" */
    int32_t role;                   /* dlh_param_role */
    int32_t group;                  /* parameter group (optimizer.groups order;
                                       the default group last) */
    float *scalars;                 /* this parameter's scalar states, add_scalar
                                       order; step may write them */
    const dlh_tensor *scratch;      /* add_scratch order, sized for this parameter */
} dlh_optimizer_ctx;

typedef struct dlh_optimizer_ops {
    uint32_t struct_size;
    int (*create)(const dlh_host *host, dlh_optimizer_setup *setup, void **state);
    /* Updates param in place from grad; states[] in add_state order. */
    int (*step)(void *state, const dlh_optimizer_ctx *ctx, const dlh_tensor *param,
                const dlh_tensor *grad, const dlh_tensor *states);
    void (*destroy)(void *state);   /* optional */
    /* ABI 1.5 members go below this line. */
} dlh_optimizer_ops;

#endif
