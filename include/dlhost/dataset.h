/* dlhost SDK — dataset readers.
 *
 * A reader opens a data source named by its parameters, describes it, and
 * reads samples by index into host floats.  read may be called from the
 * loader thread; calls on one reader never overlap.  Untrusted files never
 * size an allocation from a header alone. */
#ifndef DLHOST_DATASET_H
#define DLHOST_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "host.h"
#include "tensor.h"

typedef enum dlh_label_kind {
    DLH_LABEL_NONE = 0,
    DLH_LABEL_CLASS = 1,    /* one class index per sample */
    DLH_LABEL_DENSE = 2     /* a float vector of shape `label` per sample */
} dlh_label_kind;

typedef struct dlh_dataset_info {
    uint32_t struct_size;
    int64_t n_samples;
    dlh_shape sample;       /* per-sample shape */
    int32_t label_kind;     /* dlh_label_kind */
    int64_t n_classes;      /* class labels: 1 + the largest label seen, else 0 */
    dlh_shape label;        /* dense labels: per-sample shape */
    /* ABI 1.4 members go below this line: the host sets struct_size to its
       own size and zeroes the rest before info; a reader fills a member
       only when struct_size covers it. */
    int32_t sample_weights; /* 1: read_weights gives a weight per sample */
    /* ABI 1.5 members go below this line (the same rule). */
    /* Samples that are signals in time (audio: (T) or (C, T) waveforms, and
       spectrograms made from them): their sample rate in Hz, else 0. */
    double sample_rate;
} dlh_dataset_info;

typedef struct dlh_dataset_ops {
    uint32_t struct_size;
    /* Opens the source described by params (file names via param_path). */
    int (*open)(const dlh_host *host, dlh_params *params, void **state);
    int (*info)(void *state, dlh_dataset_info *info);
    /* Samples idx[0..n) into x (n * numel(sample) floats) and, when y is not
       NULL, their labels (class index as float, or the dense vector). */
    int (*read)(void *state, const int64_t *idx, size_t n, float *x, float *y);
    void (*close)(void *state);     /* called even when open fails */
    /* ABI 1.4 members go below this line. */

    /* optional (ABI 1.4): the name of class k (0 <= k < info.n_classes),
       e.g. the sub-folder an image folder's class comes from; NULL when the
       reader has no name for it or k is out of range.  The string lives
       until close.  NULL slot: the classes have no names.  The host reads
       it only when the plugin's struct_size covers it. */
    const char *(*class_name)(void *state, int64_t k);
    /* optional (ABI 1.4), used when info set sample_weights: the weights of
       samples idx[0..n) into w (finite, >= 0), which the loss multiplies
       each sample's loss by (loss.h). */
    int (*read_weights)(void *state, const int64_t *idx, size_t n, float *w);
} dlh_dataset_ops;

#endif
