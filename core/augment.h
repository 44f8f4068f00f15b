/* Running augmenters on a batch: their random streams, and the worker
 * threads that share a batch's samples.
 *
 * Sample p of the epoch's order (its position, whatever batch it falls in)
 * goes through augmenter j with Philox stream
 *     rng_stream(DLH_AUGMENT_RNG, epoch, p * 256 + j)
 * so a sample's transform is a function of (seed, epoch, p, j) alone: not of
 * the batch size, the number of workers, the backend, or a resume.  This
 * mapping is part of the checkpoint format: never change it.
 *
 * A pool of `workers` threads (the caller's included) applies the
 * augmenters to a batch: each worker takes one contiguous run of samples
 * through every augmenter in order.  An augmenter that wants the whole batch
 * (mixup) splits the list: the runs before it finish, it runs once on the
 * caller's thread, then the runs go on.  ABI 1.0-1.3 augmenters are called a
 * sample at a time under a lock of their own.  Nothing is allocated per
 * batch. */
#ifndef DLHOST_CORE_AUGMENT_H
#define DLHOST_CORE_AUGMENT_H

#include <stdint.h>

#include <dlhost/dlhost.h>

#include "registry.h"

/* rng_stream purpose of augmentation. */
#define DLH_AUGMENT_RNG 5
/* At most this many augmenters in data.augment (j < 256 keeps streams apart). */
#define DLH_AUGMENT_MAX 64
/* At most this many loader workers. */
#define DLH_AUGMENT_WORKERS_MAX 64

/* A created augmenter. */
typedef struct dlh_augment_inst {
    const dlh_augmenter_ops *ops;
    void *state;
    const char *type;               /* the component's name, for messages */
    int whole_batch;                /* dlh_augment_info.whole_batch */
    int wants_probabilities;        /* dlh_augment_info.wants_probabilities */
} dlh_augment_inst;

/* Creates registered augmenter c over the data `info` describes (what the
   augmenter sets in *info is kept in *out too).  Unused params are an
   error.  On failure the instance is destroyed and *out zeroed. */
int dlh_augmenter_new(const dlh_component *c, dlh_params *params, dlh_augment_info *info,
                      dlh_augment_inst *out);
void dlh_augmenter_free(dlh_augment_inst *a);

/* Sample `position` of the epoch through augmenter j. */
uint64_t dlh_augment_stream(uint64_t epoch, int64_t position, int j);

typedef struct dlh_augment_pool dlh_augment_pool;

/* A pool for batches of up to max_batch samples of x_numel floats and
   y_numel label floats (0: no labels), with `workers` threads in all (the
   caller counts as one; 1 starts none).  prob_classes > 0: the labels come
   in as class indices (one float a sample) and leave as probability rows of
   prob_classes floats (one-hot, then whatever the augmenters make of them),
   y_numel must then equal prob_classes and y hold max_batch rows.  aug is
   borrowed. */
int dlh_augment_pool_new(const dlh_augment_inst *aug, int n_aug, int workers,
                         int64_t max_batch, int64_t x_numel, int64_t y_numel,
                         int64_t prob_classes, dlh_augment_pool **out);
void dlh_augment_pool_free(dlh_augment_pool *p);   /* NULL is a no-op */
/* Applies every augmenter, in order, to the n samples in x (and y, may be
   NULL) at positions first, first + 1, ... of epoch `epoch`.  Returns 0, or
   the error of the first failing run of samples (its message set).  One call
   at a time. */
int dlh_augment_pool_run(dlh_augment_pool *p, float *x, float *y, int64_t n, int64_t first,
                         uint64_t seed, uint64_t epoch);
/* The statistics of an affine normalisation (batcher.h's dlh_norm: shift and
   scale, one pair per group, borrowed until the pool is freed) that every
   apply gets in ctx->norm_shift and ctx->norm_scale (augmenter.h, ABI 1.5).
   Not while a batch runs. */
void dlh_augment_pool_set_norm(dlh_augment_pool *p, const float *shift, const float *scale);
/* Fills the ABI 1.5 part of info for data.normalize kind `norm_kind`
   (dlh_norm_kind; a kind other than none, zscore and minmax is
   DLH_AUGMENT_NORM_OTHER) over samples of info->sample. */
void dlh_augment_info_set_norm(dlh_augment_info *info, int norm_kind);

#endif
