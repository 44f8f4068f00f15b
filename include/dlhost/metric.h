/* dlhost SDK — metrics (ABI 1.7).
 *
 * A metric accumulates over the batches of one pass over some data (an
 * epoch's validation, its training batches when train.metrics_on_train,
 * `dlhost eval`'s test set), on the host, and reports at its end one or
 * more named numbers and, optionally, one table (a confusion matrix).  The
 * host creates one instance per place it measures, calls reset before each
 * pass, update for every batch of it and result after its last batch.
 *
 * What a metric sees (dlh_metric_setup.input):
 *
 *   DLH_METRIC_CLASSES  classification.  batch->target[i] is sample i's
 *       class in [0, classes), batch->prob[i * classes + k] the model's
 *       probability of class k (the host turns the model's output into
 *       probabilities as its loss reads it: softmax of logits, exp of
 *       log-probabilities, [1 - p, p] for a model with one sigmoid output,
 *       whose classes is 2 and `binary` 1; probability rows a mixup target
 *       gives are reduced to their largest class).  Dense 0/1 targets of a
 *       single-output model are classes too (target >= 0.5 is class 1).
 *   DLH_METRIC_VALUES   regression: batch->pred and batch->target are
 *       [n, width] and prob is NULL.
 *
 * batch->weight holds per-sample weights (finite, >= 0), or NULL for all 1,
 * as scikit-learn's sample_weight.  Results are doubles; NaN where a value
 * is undefined (it is written as an empty field of metrics.csv). */
#ifndef DLHOST_METRIC_H
#define DLHOST_METRIC_H

#include <stdint.h>

#include "host.h"

typedef enum dlh_metric_input {
    DLH_METRIC_CLASSES = 1,
    DLH_METRIC_VALUES = 2
} dlh_metric_input;

/* dlh_metric_setup.goal: which way a value improves, for
   train.early_stopping.monitor and reduce_on_plateau (0: not monitorable). */
#define DLH_METRIC_MAX 1
#define DLH_METRIC_MIN (-1)

typedef struct dlh_metric_setup {
    uint32_t struct_size;
    dlh_params *params;
    int32_t input;                  /* dlh_metric_input */
    int64_t classes;                /* DLH_METRIC_CLASSES: >= 2, else 0 */
    int64_t width;                  /* values per sample of batch->pred */
    int32_t binary;                 /* one sigmoid output: prob[:, 1] is it */
    const char *const *class_names; /* [classes] when the data names them, else NULL */
    /* Set by create: the values result() writes, their names (owned by
       the state, alive until destroy; "precision", or "precision.<class>"
       per class), and the direction they improve in. */
    int32_t n_values;
    const char *const *names;
    int32_t goal;                   /* DLH_METRIC_MAX, DLH_METRIC_MIN or 0 */
} dlh_metric_setup;

typedef struct dlh_metric_batch {
    uint32_t struct_size;
    int64_t n;                      /* samples */
    const float *pred;              /* [n, width]: the model's output as is */
    const double *prob;             /* CLASSES: [n, classes]; VALUES: NULL */
    const float *target;            /* CLASSES: [n] classes; VALUES: [n, width] */
    const float *weight;            /* [n], or NULL: every weight 1 */
} dlh_metric_batch;

/* A table a metric reports with its values; the host writes it as CSV
   (confusion/epoch-N.csv for `name` "confusion") and prints it in
   `dlhost eval`.  Everything it points to is owned by the metric's state
   and valid until its next reset, update or destroy. */
typedef struct dlh_metric_table {
    const char *name;               /* file stem: letters, digits, '_' */
    int64_t rows, cols;
    const char *const *row_names;   /* [rows], or NULL: the indices */
    const char *const *col_names;   /* [cols], or NULL: the indices */
    const double *values;           /* [rows * cols], row-major */
} dlh_metric_table;

typedef struct dlh_metric_ops {
    uint32_t struct_size;
    /* Reads setup->params, checks setup->input (a message naming what it
       needs otherwise: "needs class targets"), fills n_values, names and
       goal. */
    int (*create)(const dlh_host *host, dlh_metric_setup *setup, void **state);
    void (*reset)(void *state);
    int (*update)(void *state, const dlh_metric_batch *batch);
    /* values[n_values] of the samples since the last reset; *table (may
       be left NULL) the metric's table, if any. */
    int (*result)(void *state, double *values, const dlh_metric_table **table);
    void (*destroy)(void *state);   /* optional */
} dlh_metric_ops;

#endif
