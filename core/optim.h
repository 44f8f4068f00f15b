/* The optimiser side of an experiment and of each training step:
 * parameter groups (optimizer.groups, PyTorch's param_groups), frozen
 * tensors, L1/L2 penalties, gradient clipping (torch.nn.utils'
 * clip_grad_norm_ and clip_grad_value_), the update, and max-norm
 * constraints.
 *
 * Every trainable tensor of the model is a slot (layers in order, each
 * layer's tensors in order), and every slot belongs to one group: the first
 * listed group one of whose glob patterns matches "<layer>.<param>", else
 * the default group, which has the optimizer group's own settings and comes
 * last.  Each group has its own optimiser instance (created from its
 * settings over the optimizer group's: PyTorch's per-group hyper-
 * parameters) and its own schedule instance over its base learning rate.
 *
 * train.unfreeze entries are groups too (after the listed ones, before the
 * default): their tensors are frozen until the entry's epoch, then train
 * with the entry's settings and fresh optimiser state (torch's
 * optimizer.add_param_group at that epoch).  optimizer.lr_decay_by_depth
 * scales each slot's rate by its layer's depth below the head. */
#ifndef DLHOST_CORE_OPTIM_H
#define DLHOST_CORE_OPTIM_H

#include <stdint.h>

#include <libconfig.h>

#include <dlhost/schedule.h>

#include "instance.h"
#include "params.h"

typedef struct dlh_opt_group {
    dlh_params *params;             /* its view, falling back on the optimizer's */
    dlh_optimizer_inst *opt;        /* NULL for a frozen group */
    void *schedule_state;
    double lr;                      /* base learning rate (the schedule's base_lr) */
    double lr_now;                  /* this step's, after the schedule */
    double l1, l2;                  /* penalties l1 * sum|w| + l2 * sum w^2 */
    double max_norm;                /* renorm of each row after the update; 0: off */
    int trainable;
    int n_tensors;                  /* slots in the group */
    /* A train.unfreeze entry's group: frozen (trainable 0, but with its
       optimiser and fresh state) until epoch unfreeze_epoch (from 1),
       trainable from its start on; 0 for every other group. */
    int64_t unfreeze_epoch;
    /* Its slots' names and roles, and their optimiser states (n_states a
       slot, slot order): what step_all sees (optimizer.h, ABI 1.6). */
    const char **names;
    int32_t *roles;
    dlh_tensor *states;
} dlh_opt_group;

typedef struct dlh_param_slot {
    char *name;                     /* "<layer>.<param>" */
    const dlh_layer_inst *layer;    /* the layer it belongs to (borrowed) */
    int32_t role;                   /* dlh_param_role */
    int group;                      /* index into the experiment's groups */
    int64_t step;                   /* updates so far: torch's state['step'] */
    dlh_named_tensor *t;            /* the layer's tensor (borrowed) */
    dlh_tensor *states;             /* the group optimiser's n_states (in the
                                       group's block), or NULL */
    float *scalars;                 /* its n_scalars scalar states */
    dlh_tensor *mirror;             /* step, then scalars, as float32 scalars for
                                       checkpoints (views into one buffer) */
    double lr_scale;                /* optimizer.lr_decay_by_depth ^ depth of its
                                       layer (1 without): times the group's lr */
    int guarded;                    /* dlh_optim_guard_layer did its gradient's part
                                       of dlh_optim_gradients this step */
} dlh_param_slot;

/* Clipping of the whole gradient before the update; 0 = off. */
typedef struct dlh_opt_clip {
    double norm;                    /* clip_norm (grad_clip): max total norm */
    double norm_type;               /* p of the norm; INFINITY for "inf" */
    double value;                   /* clip_value: |g| at most this */
} dlh_opt_clip;

struct dlh_experiment;

/* optimizer = { ... } of the experiment: groups, instances, slots and
   their state.  Marks frozen tensors so that the graph, planned after this,
   computes no gradient where nothing trainable needs it. */
int dlh_optim_new(struct dlh_experiment *e, config_setting_t *group);
/* At the start of epoch `epoch` (from 0): every train.unfreeze group whose
   epoch has come becomes trainable, its tensors no longer frozen, and the
   graph recomputes where backward runs.  Idempotent (a resumed run calls it
   for its first epoch and gets every boundary it passed); allocates
   nothing.  The number of groups it unfroze now. */
int dlh_optim_unfreeze(struct dlh_experiment *e, int64_t epoch);
/* One schedule instance per group (ops->create over p, when it has one). */
int dlh_optim_schedules(struct dlh_experiment *e, const dlh_schedule_ops *ops,
                        dlh_params *p);
/* optimizer.lr: the default group's base learning rate (each listed
   group's own is in its dlh_opt_group). */
double dlh_optim_lr(const struct dlh_experiment *e);
/* Every group's lr_now from the schedule, for global step `step` (epoch
   `epoch`, from 0, of steps_per_epoch steps of the experiment's epochs;
   metric: the last epoch's monitored value, NaN if none), at each group's
   base learning rate.  A non-finite or negative rate is DLH_ENUMERIC. */
int dlh_optim_lrs(struct dlh_experiment *e, int64_t epoch, int64_t step,
                  int64_t steps_per_epoch, double metric);
/* After backward: adds the gradient of the L1/L2 penalties to every
   trainable slot's gradient, puts the squared L2 norm of each trainable
   gradient in e->grad_sumsq (frozen slots: 0), with one device read for
   all of it.  *penalty: the penalties' value at the weights before the
   update; *bad: the first slot whose gradient is non-finite, or -1. */
int dlh_optim_gradients(struct dlh_experiment *e, double *penalty, int *bad);
/* The per-tensor part of dlh_optim_gradients (the penalties' gradient, the
   sums of squares and p-norms, left on the device) for the trainable
   tensors of `layer`, run by the training step right after the layer's
   backward while its gradients are in cache: the same operations on the
   same values, so the same bits.  dlh_optim_gradients then only reads the
   sums of those tensors.  dlh_optim_guard_begin forgets what an earlier,
   unfinished step did; call it before the backward. */
void dlh_optim_guard_begin(struct dlh_experiment *e);
int dlh_optim_guard_layer(struct dlh_experiment *e, const dlh_layer_inst *layer);
/* The total gradient norm of the trainable slots after dlh_optim_gradients,
   of order norm_type when clip_norm is on, else 2. */
double dlh_optim_grad_norm(const struct dlh_experiment *e);
/* clip_norm then clip_value over the trainable gradients. */
int dlh_optim_clip(struct dlh_experiment *e);
/* Updates every trainable slot at its group's lr_now (step t of the run,
   from 1); then the max-norm constraints. */
int dlh_optim_update(struct dlh_experiment *e, int64_t t);
/* The group whose optimiser updates all its tensors at once (ABI 1.6
   step_all, with a closure: run.c and closure.c call it), or NULL when
   every group's optimiser has step. */
dlh_opt_group *dlh_optim_step_all(struct dlh_experiment *e);
/* The max_norm constraints alone (after a step_all update). */
int dlh_optim_constrain(struct dlh_experiment *e);
/* Copies every slot's step count and scalar states into their float32
   checkpoint mirror (to_mirror = 1, before a save) or back (0, after a load:
   a step that is not a whole number >= 0 is DLH_EDATA). */
int dlh_optim_sync(struct dlh_experiment *e, int to_mirror);
void dlh_optim_free(struct dlh_experiment *e);

#endif
