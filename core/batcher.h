/* The data loader: prepares the next mini-batch on its own thread while the
 * current one trains.
 *
 * A batcher reads samples by index from one dataset reader (only ever from
 * its thread, so reader calls never overlap), applies the normalisation and,
 * for training passes, the augmenters, and hands out host batches in order.
 * Two host buffers of max_batch samples are allocated at creation; nothing is
 * allocated per batch.  A pass is a list of sample indices cut into batches
 * of batch_size, the last partial batch kept. */
#ifndef DLHOST_CORE_BATCHER_H
#define DLHOST_CORE_BATCHER_H

#include <stdint.h>

#include <dlhost/dlhost.h>

#include "augment.h"

typedef enum dlh_norm_kind {
    DLH_NORM_NONE = 0,
    DLH_NORM_ZSCORE = 1,            /* (x - mean) / std */
    DLH_NORM_MINMAX = 2,            /* (x - min) / (max - min) */
    DLH_NORM_PCA = 3,               /* W (x - mean), whiten.h */
    DLH_NORM_ZCA = 4
} dlh_norm_kind;

/* PCA or ZCA whitening: one matrix over the whole sample. */
#define DLH_NORM_WHITENS(kind) ((kind) == DLH_NORM_PCA || (kind) == DLH_NORM_ZCA)

/* Normalisation statistics.  zscore and minmax: one (shift, scale) pair
   per group of features; x' = (x - shift[g]) * scale[g].  Groups are
   channels for per-sample shapes of 3 dimensions (C, H, W), else single
   features.  A zero spread gives scale 1.  pca and zca: x' = W (x - mean)
   over the dim features of a sample (whiten.h).  Statistics come from the
   training split only and travel in the checkpoint. */
typedef struct dlh_norm {
    int32_t kind;                   /* dlh_norm_kind */
    int64_t groups;                 /* number of (shift, scale) pairs */
    int64_t group_stride;           /* features per group run (H*W for channels, 1) */
    float *shift, *scale;           /* [groups], owned */
    int64_t dim;                    /* pca, zca: features per sample */
    float *mean, *whiten;           /* [dim] and [dim][dim] row-major, owned */
} dlh_norm;

/* Computes statistics over samples idx[0..n) of the reader, accumulated in
   double (zscore: mean and population std; minmax: min and max - min).  Reads
   in chunks through a buffer of fixed size (about 1 MiB): no allocation
   proportional to n.  A non-finite value or an index outside the dataset is
   an error.  kind NONE gives an empty set (groups 0).  eps is the whitening
   epsilon (pca, zca; whiten.h).  *out is owned by the caller
   (dlh_norm_free) on success, zeroed on failure. */
/* Reads samples idx[first..first+m) of numel values each into buf and
   checks every value is finite: the reader's error, DLH_EPLUGIN for a
   positive status, DLH_EDATA naming the sample and element otherwise. */
int dlh_norm_read_chunk(const dlh_dataset_ops *ops, void *state, const int64_t *idx,
                        int64_t first, int64_t m, int64_t numel, float *buf);
int dlh_norm_compute(dlh_norm_kind kind, double eps, const dlh_dataset_ops *ops,
                     void *state, const dlh_dataset_info *info, const int64_t *idx,
                     int64_t n, dlh_norm *out);
void dlh_norm_free(dlh_norm *n);
/* The class labels of samples idx[0..n) (idx NULL: samples 0..n-1) into
   labels, read through a buffer of about 1 MiB (no allocation proportional
   to n beyond the caller's labels).  Messages are prefixed with `label`
   ("data.train: sampler"). */
int dlh_read_labels(const dlh_dataset_ops *ops, void *state, const dlh_dataset_info *info,
                    const int64_t *idx, int64_t n, const char *label, float *labels);
/* Applies in place to `count` samples of `sample_numel` features; whitening
   goes through scratch (count * sample_numel floats; NULL for the others). */
void dlh_norm_apply(const dlh_norm *n, float *x, int64_t count, int64_t sample_numel,
                    float *scratch);
/* The groups dlh_norm_compute makes for samples of shape s (numel values):
   channels of (C, H, W) (groups C, stride H*W), else single features
   (groups numel, stride 1). */
void dlh_norm_layout(const dlh_shape *s, int64_t numel, int64_t *groups, int64_t *stride);

typedef struct dlh_batch {
    int64_t n;                      /* samples in this batch */
    int64_t first;                  /* position of its first sample in the pass */
    int64_t index;                  /* batch number within the pass, from 0 */
    const float *x;                 /* n * sample numel, normalised */
    const float *y;                 /* n labels (class index as float) or n * label numel */
    int buffer;                     /* 0 or 1: which of the two x buffers holds x */
    int soft;                       /* y holds probability rows (augment.h) */
    const float *w;                 /* n sample weights, or NULL (the reader has none) */
} dlh_batch;

typedef struct dlh_batcher dlh_batcher;

/* A batcher over reader (ops, state) described by info, for batches of up to
   max_batch samples; with the reader's sample weights in each batch when
   info says it has them (checked finite and >= 0).  norm and augmenters are borrowed (may be NULL / 0). */
int dlh_batcher_new(const dlh_dataset_ops *ops, void *state, const dlh_dataset_info *info,
                    const dlh_norm *norm, int64_t max_batch, dlh_batcher **out);
void dlh_batcher_free(dlh_batcher *b);          /* stops the thread; NULL is a no-op */
/* Makes x0 and x1 (borrowed, max_batch samples each) the two buffers batches
   are written into, in place of the batcher's own: a backend whose memory
   the host can address gets its batches without a copy.  Only while no pass
   runs (else DLH_EINVAL). */
int dlh_batcher_set_x_buffers(dlh_batcher *b, float *x0, float *x1);
/* Makes aug[0..n_aug) (borrowed) the augmenters of passes started with
   `augment` set, run by `workers` threads (the loader thread among them;
   augment.h).  prob_classes > 0 (class labels only): those passes hand out
   labels as probability rows of prob_classes floats (batch.soft), which
   label-mixing augmenters need.  Only while no pass runs (else DLH_EINVAL);
   n_aug 0 removes them. */
int dlh_batcher_set_augment(dlh_batcher *b, const dlh_augment_inst *aug, int n_aug,
                            int workers, int64_t prob_classes);

/* Starts a pass over idx[0..n) (borrowed until the pass ends) in batches of
   batch_size.  augment: apply the augmenters (training passes only), sample
   at position p of the pass with the streams of (seed, epoch, p).  The first
   batches are prepared at once in the background. */
int dlh_batcher_start(dlh_batcher *b, const int64_t *idx, int64_t n, int64_t batch_size,
                      int augment, uint64_t seed, uint64_t epoch);
/* dlh_batcher_start beginning at batch first_batch (0..number of batches) of
   the pass, as a resumed epoch does: the batches before it are skipped, and
   the ones after it are exactly those of the whole pass. */
int dlh_batcher_start_at(dlh_batcher *b, const int64_t *idx, int64_t n, int64_t batch_size,
                         int augment, uint64_t seed, uint64_t epoch, int64_t first_batch);
/* The next batch of the pass (valid until the following call), or
   *out = NULL at the end of the pass (and after it, or with no pass).  Reader
   and augmenter errors come back here, in order after the batches before
   them, with their message; the error repeats until the next start or stop. */
int dlh_batcher_next(dlh_batcher *b, const dlh_batch **out);
/* Abandons the current pass (e.g. on a diverged step) and waits for the
   thread to be idle. */
void dlh_batcher_stop(dlh_batcher *b);

#endif
