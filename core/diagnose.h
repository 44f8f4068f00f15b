/* Looking inside a run: `train.diagnostics = true` (or `dlhost run
 * --diagnose`) and the warnings for the traps a newcomer falls into.
 *
 * With diagnostics on, every training step reduces each layer's output on
 * the device (sum, sum of squares, exact zeros, and each unit's maximum:
 * a unit is an output feature, or a channel of a [C, ...] output) and, for
 * every trainable tensor, ||w||^2 before the update and ||w_new - w_old||^2
 * after it, then reads the small vector of results once; the gradient norms
 * come from the guard's own reduction (optim.h).  Every buffer is
 * allocated by dlh_diag_new: the step hooks allocate nothing.  After each
 * epoch diagnostics.csv in the run folder is rewritten atomically:
 *
 *   epoch,layer,type,act_mean,act_std,zero_fraction,dead_fraction,
 *   grad_norm,update_ratio
 *
 * one row per layer that computes an output (views such as flatten have
 * none): the mean and population standard deviation of every output value
 * of the epoch's training steps, the fraction of them exactly 0, the
 * fraction of units whose output was never > 0 over the epoch, the mean
 * over steps of the layer's gradient L2 norm (before clipping) and of
 * ||update|| / ||weights|| (that one over at most DLH_DIAG_RATIO_SAMPLES
 * evenly spaced steps); the last two empty for a layer without
 * parameters.  Warnings (once per kind and layer): more than half of a
 * relu/relu6 layer's units never fired, an update/weight ratio above 0.1,
 * a gradient norm of 0 over a whole epoch.
 *
 * The traps, warned of with or without diagnostics: a softmax or
 * log_softmax layer feeding cross_entropy (or softmax feeding nll),
 * dlh_diag_check_model; validation loss rising for `patience` epochs while
 * the training loss falls, dlh_diag_epoch. */
#ifndef DLHOST_CORE_DIAGNOSE_H
#define DLHOST_CORE_DIAGNOSE_H

#include <stdint.h>

#include "experiment.h"
#include "rundir.h"

/* Warns of a model that trips a known trap (checked by `dlhost check` and
   `dlhost run`): a softmax or log_softmax layer (through views) right before
   a cross_entropy head, or a softmax before an nll head.  Returns how many
   warnings it printed. */
int dlh_diag_check_model(const dlh_experiment *e);

/* Whether the primary head's loss sums over the batch (reduction = "sum"),
   so that run.c's first-batch check of the loss against ln(classes) divides
   by the batch first. */
int dlh_diag_loss_sums(dlh_experiment *e);

/* The update/weight ratio above which a layer's learning rate is called too
   high (100 times the 1e-3 of the usual heuristic), and the fraction of a
   ReLU layer's units that may be dead before a warning. */
#define DLH_DIAG_RATIO_HIGH 1e-1
#define DLH_DIAG_DEAD_WARN 0.5
/* Steps of an epoch at which the update ratio is measured (evenly spaced,
   the first included; every step of a shorter epoch): the copy and the two
   passes over the weights cost about an optimiser update each. */
#define DLH_DIAG_RATIO_SAMPLES 32

typedef struct dlh_diag dlh_diag;

/* A run's diagnostics over e (borrowed); warns of the model's traps
   (dlh_diag_check_model) and, when e->diagnostics is on, allocates every
   buffer the step hooks use.  DLH_ENOMEM or a backend error, message set. */
int dlh_diag_new(dlh_experiment *e, dlh_diag **out);
/* NULL is a no-op. */
void dlh_diag_free(dlh_diag *d);

/* --resume: the epochs before the resumed one (their losses, for the
   overfitting trap; rows copied). */
void dlh_diag_replay(dlh_diag *d, const dlh_epoch_row *rows, size_t n);

/* Before an epoch of `steps` steps: clears the epoch's sums. */
int dlh_diag_epoch_begin(dlh_diag *d, int64_t steps);
/* Step hooks, only with e->diagnostics on: after the training forward of
   b samples (the activations; the weights before the update), and after
   the update (the updates, the gradient norms; one device read). */
int dlh_diag_forward(dlh_diag *d, int64_t b);
int dlh_diag_step(dlh_diag *d);
/* After epoch `epoch` (from 1) with its mean training loss and validation
   loss (NaN: none): the overfitting trap, then with diagnostics the rows of
   `dir`/diagnostics.csv (rewritten atomically) and their warnings. */
int dlh_diag_epoch(dlh_diag *d, const char *dir, int64_t epoch, double train_loss,
                   double val_loss);

#endif
