/* dlhost SDK — data augmenters.
 *
 * An augmenter changes training samples (and, if it wants, their labels) on
 * the host, in the loader, after normalisation and before the batch reaches
 * the backend; never validation or test data, never `dlhost eval`.  The
 * experiment lists them under data.augment and they run in that order.
 *
 * Random numbers come from the host: each sample of a call has its own
 * Philox stream, ctx->streams[i], keyed by (seed, augment purpose, epoch,
 * the sample's position in the epoch's order, the augmenter's position in
 * data.augment).  Draw from (ctx->seed, ctx->streams[i], c) with counters
 * c = 0, 1, 2, ... (philox.h); each counter gives four 32-bit words.  So a
 * sample's transform depends neither on the batch size, nor on how many
 * loader threads run, nor on the backend, and a resumed run draws what the
 * uninterrupted one drew.
 *
 * ABI 1.4 (create_ex present): apply may run on several threads at once,
 * each call on its own run of samples of a batch; state must not change in
 * apply.  An augmenter built against ABI 1.0-1.3 (create only) is called one
 * sample at a time (batch 1, stream = that sample's stream, first_sample =
 * its position), never on two threads at once, and sees neither the labels
 * nor ctx members past first_sample. */
#ifndef DLHOST_AUGMENTER_H
#define DLHOST_AUGMENTER_H

#include <stdint.h>

#include "dataset.h"
#include "host.h"
#include "tensor.h"

/* What create_ex learns of the data (ABI 1.4). */
typedef struct dlh_augment_info {
    uint32_t struct_size;
    dlh_shape sample;           /* per-sample shape: (C, H, W) for images */
    int32_t label_kind;         /* dlh_label_kind of the dataset */
    int64_t n_classes;          /* class labels: the number of classes, else 0 */
    dlh_shape label;            /* dense labels: per-sample shape */
    /* Set by create_ex: 1 to receive class labels as probability rows of
       n_classes floats (one-hot, 1 at the class) that apply may change, as
       mixup and cutmix do; the loss then gets probability targets.  Left 0,
       ctx->y holds what the dataset gives (a class index as float, or the
       dense label). */
    int32_t wants_probabilities;
    /* Set by create_ex: 1 when apply needs the whole batch in one call
       (it mixes samples, as mixup does).  It is then called once per batch,
       on one thread, never twice at once (its state may hold scratch it
       writes), after the augmenters before it have finished the batch; its
       result then depends on how samples fall into batches. */
    int32_t whole_batch;
    /* ABI 1.5 members go below this line: an augmenter reads them only when
       info->struct_size covers them (an older host leaves them out). */
    /* How the host maps the reader's values to the x apply sees
       (data.normalize), so that one defined on raw values (color_jitter:
       pixels in [0, 1]) can map back and forth, or refuse. */
    int32_t norm;               /* dlh_augment_norm */
    /* DLH_AUGMENT_NORM_AFFINE: value e of a sample (C order) belongs to group
       e / norm_group_stride of norm_groups, the channel of (C, H, W)
       samples (stride H*W), else the feature itself (stride 1). */
    int64_t norm_groups, norm_group_stride;
} dlh_augment_info;

/* dlh_augment_info.norm (ABI 1.5). */
typedef enum dlh_augment_norm {
    DLH_AUGMENT_NORM_NONE = 0,      /* x holds the reader's values */
    /* x = (raw - shift[g]) * scale[g] per group g, statistics of the
       training split in ctx->norm_shift and ctx->norm_scale (they are
       computed after create, and each run computes its own) */
    DLH_AUGMENT_NORM_AFFINE = 1,
    DLH_AUGMENT_NORM_OTHER = 2      /* another map (whitening): no way back to raw values */
} dlh_augment_norm;

typedef struct dlh_augment_ctx {
    uint32_t struct_size;
    uint64_t seed, stream;      /* stream: samples[0]'s (ABI 1.0 plugins) */
    int64_t batch;              /* samples in x */
    int64_t first_sample;       /* position of x's first sample in the epoch's order */
    /* ABI 1.4 members go below this line. */
    const uint64_t *streams;    /* [batch]: sample i draws from (seed, streams[i], c) */
    float *y;                   /* [batch * label_numel] labels (changeable), or NULL */
    int64_t label_numel;        /* floats per sample in y; 0 when y is NULL */
    int64_t epoch;              /* from 1 */
    /* ABI 1.5 members go below this line. */
    /* [info.norm_groups] each when info.norm is DLH_AUGMENT_NORM_AFFINE,
       else NULL: raw = x / norm_scale[g] + norm_shift[g]. */
    const float *norm_shift, *norm_scale;
} dlh_augment_ctx;

typedef struct dlh_augmenter_ops {
    uint32_t struct_size;
    /* ABI 1.0 create; `sample` is the per-sample shape.  Not called when
       create_ex is set (it may then be NULL). */
    int (*create)(const dlh_host *host, dlh_params *params, const dlh_shape *sample,
                  void **state);
    /* Changes x (batch * numel(sample) floats) in place, and ctx->y if it
       wants. */
    int (*apply)(void *state, const dlh_augment_ctx *ctx, float *x);
    void (*destroy)(void *state);   /* optional */
    /* ABI 1.4 members go below this line. */
    /* Reads params, checks the data suits it (an image augmenter on 1-D
       samples is a params error, located by host->param_error), may set
       info->wants_probabilities. */
    int (*create_ex)(const dlh_host *host, dlh_params *params, dlh_augment_info *info,
                     void **state);
} dlh_augmenter_ops;

#endif
