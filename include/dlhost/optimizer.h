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
/*
 * ABI 1.6 adds optimisers that see every parameter at once and may evaluate
 * the loss again (torch's `optimizer.step(closure)`; L-BFGS is the one
 * PyTorch ships, plugins/optimizers/lbfgs.c the example):
 * - ops->step_all, called once per training step instead of step for each
 *   parameter.  It receives every trainable parameter and gradient tensor (layers in
 *   model order, each layer's tensors in order: torch's model.parameters(),
 *   so torch's flat vector is their concatenation), the loss and gradients
 *   the core has just computed at the current values (torch's first
 *   `closure()` call of the step: step_all must not repeat it), and the
 *   closure ctx->closure(ctx->closure_ctx, &loss).  A closure call runs
 *   forward, loss and backward on the same batch with the parameters' current
 *   values, leaves fresh gradients in ctx->grads (overwritten, not added)
 *   and returns the loss (the float32 loss widened to double, as torch's
 *   float(closure())).  The core applies to every evaluation what it applies
 *   to the first: the check for a non-finite loss or gradient (the closure
 *   then returns DLH_ENUMERIC with the message set; step_all returns that
 *   code unchanged and the run stops with exit status 4), the L1/L2
 *   penalties (their value is in the loss) and gradient clipping.  Layers that keep running statistics (batchnorm) update them
 *   at every evaluation, as in torch; dropout draws the same masks at every
 *   evaluation of a step.  An optimiser with step_all may leave step NULL.
 * - setup->add_global declares a tensor of the whole optimiser rather than
 *   of each parameter (torch's state that LBFGS registers on its first
 *   parameter); a dimension DLH_OPT_NUMEL stands for N, the element count of
 *   all parameters together.  Saved globals go into checkpoints as
 *   "optim.<name>" and come back on --resume, so an optimiser that keeps its
 *   state there (and not in its own memory) resumes bit for bit.
 * - setup->flags: DLH_OPT_SINGLE_GROUP makes the core refuse parameter
 *   groups, with torch's words for LBFGS.
 * All vector work can stay on the device: dot products as an elementwise
 * product and a DLH_REDUCE_SUM reduction, maxima of |x| as abs and
 * DLH_REDUCE_MAX, and scalars that live on the device read as broadcast
 * operands ({mem, 1, 1}); only the numbers that decide control flow need a
 * read. */
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
    /* ABI 1.6 members go below this line. */
    /* Declares a tensor of the whole optimiser: ndim dimensions of `shape`
       (ndim 0: a scalar), where a dimension DLH_OPT_NUMEL is the element
       count of all parameters together; every element starts at `value`.
       step_all finds it in ctx->globals[*index].  With `saved` it goes into
       checkpoints as "optim.<name>" (float32); without, it is scratch whose
       contents persist between steps but not across a resume. */
    int (*add_global)(dlh_optimizer_setup *s, const char *name, int ndim,
                      const int64_t *shape, float value, int saved, int *index);
    /* Set by create: DLH_OPT_* bits. */
    uint32_t flags;
};

/* A dimension of add_global (ABI 1.6): the element count of all parameters. */
#define DLH_OPT_NUMEL (-1)
/* setup->flags (ABI 1.6): the optimiser takes one parameter group only (as
   torch.optim.LBFGS); the core refuses an experiment that defines groups
   with "<type> doesn't support per-parameter options (parameter groups)". */
#define DLH_OPT_SINGLE_GROUP 1u

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

/* The closure of step_all (ABI 1.6): re-evaluates the loss and the
   gradients at the parameters' current values; see the top of this file. */
typedef int (*dlh_closure_fn)(void *closure_ctx, double *loss);

/* What step_all sees (ABI 1.6); every array is the core's, valid for the
   call.  Parameter k (0 <= k < n_params) is params[k], its gradient
   grads[k], its name names[k] and role roles[k]; its add_state tensors start
   at states[k * n_states] (NULL when there are none). */
typedef struct dlh_optimizer_all_ctx {
    uint32_t struct_size;
    const dlh_backend *backend;
    int64_t t;                      /* step number, 1 on the first step */
    double lr;                      /* learning rate for this step (after the schedule) */
    int32_t n_params, n_states;
    const dlh_tensor *params;       /* updated in place by step_all */
    const dlh_tensor *grads;        /* at the current values; the closure refreshes them */
    const char *const *names;       /* "<layer>.<param>" */
    const int32_t *roles;           /* dlh_param_role */
    const dlh_tensor *states;
    const dlh_tensor *globals;      /* add_global order, DLH_OPT_NUMEL resolved */
    int64_t numel;                  /* N: elements of all parameters together */
    double loss;                    /* the loss at the current values */
    dlh_closure_fn closure;
    void *closure_ctx;
} dlh_optimizer_all_ctx;

typedef struct dlh_optimizer_ops {
    uint32_t struct_size;
    int (*create)(const dlh_host *host, dlh_optimizer_setup *setup, void **state);
    /* Updates param in place from grad; states[] in add_state order.
       Required unless step_all is set (ABI 1.6). */
    int (*step)(void *state, const dlh_optimizer_ctx *ctx, const dlh_tensor *param,
                const dlh_tensor *grad, const dlh_tensor *states);
    void (*destroy)(void *state);   /* optional */
    /* ABI 1.5 members go below this line. */
    /* ABI 1.6 members go below this line. */
    /* optional: one update of every parameter, which may call the closure;
       when set the core calls it instead of step. */
    int (*step_all)(void *state, const dlh_optimizer_all_ctx *ctx);
} dlh_optimizer_ops;

#endif
