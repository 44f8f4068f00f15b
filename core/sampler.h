/* Samplers: the order in which an epoch visits the training samples
 * (train.sampler).
 *
 *   random       a permutation of the training samples (train.shuffle)
 *   sequential   the training samples in file order
 *   weighted     n draws with replacement, sample i with probability
 *                w_i / sum w (torch.utils.data.WeightedRandomSampler with
 *                replacement = True); w_i = the class weight of its label,
 *                "balanced" giving n / (classes * count_c) as scikit-learn
 *   oversample   every class brought up to the largest one: all of its
 *                samples, then draws with replacement among them
 *                (imbalanced-learn's RandomOverSampler), then shuffled
 *   undersample  every class cut down to the smallest one, drawn without
 *                replacement (RandomUnderSampler), then shuffled
 * Classes that have no training sample take no part.  An epoch's order is a
 * pure function of (seed, epoch): Philox draws from stream (6, epoch, 0),
 * the final shuffle from the run's shuffle stream (3, epoch, 0), so a resumed
 * run visits what the uninterrupted one visits.  Ordering allocates
 * nothing. */
#ifndef DLHOST_CORE_SAMPLER_H
#define DLHOST_CORE_SAMPLER_H

#include <stdint.h>

typedef enum dlh_sampler_kind {
    DLH_SAMPLER_RANDOM = 0,
    DLH_SAMPLER_SEQUENTIAL,
    DLH_SAMPLER_WEIGHTED,
    DLH_SAMPLER_OVERSAMPLE,
    DLH_SAMPLER_UNDERSAMPLE
} dlh_sampler_kind;

/* rng_stream purposes: the run's shuffle, and the samplers' draws. */
#define DLH_SAMPLER_RNG_SHUFFLE 3
#define DLH_SAMPLER_RNG_DRAW 6

/* "random", ..., NULL: the names train.sampler takes, in kind order. */
extern const char *const dlh_sampler_names[];

typedef struct dlh_sampler {
    int kind;                       /* dlh_sampler_kind */
    const int64_t *idx;             /* borrowed: the training samples */
    int64_t n;
    int64_t n_epoch;                /* samples an epoch visits */
    int64_t n_classes;
    int64_t *by_class;              /* [n]: idx entries grouped by class, file order */
    int64_t *class_start;           /* [n_classes + 1] */
    int64_t *scratch;               /* [n]: undersampling's draws */
    double *cdf;                    /* [n]: weighted, running sums of the weights */
    int64_t per_class;              /* oversample, undersample */
} dlh_sampler;

/* Sets up kind over idx[0..n) (borrowed).  labels[i] is the class of
   idx[i] (needed by weighted, oversample and undersample; else may be
   NULL); class_weights: n_classes weights for weighted, or NULL for
   "balanced".  num_samples: draws of a weighted epoch (<= 0: n).  Errors:
   DLH_EINVAL / DLH_ERANGE with the message set; *s is then empty. */
int dlh_sampler_init(dlh_sampler *s, int kind, const int64_t *idx, int64_t n,
                     const int32_t *labels, int64_t n_classes, const float *class_weights,
                     int64_t num_samples);
void dlh_sampler_free(dlh_sampler *s);
/* The epoch's order: s->n_epoch sample indices into order. */
void dlh_sampler_order(dlh_sampler *s, uint64_t seed, uint64_t epoch, int64_t *order);
/* Fisher-Yates over v[0..n) with Philox (seed, stream): the run's shuffle. */
void dlh_permute(int64_t *v, int64_t n, uint64_t seed, uint64_t stream);

#endif
