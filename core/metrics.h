/* Metrics as the core runs them (include/dlhost/metric.h): the instances
 * the experiment's `metrics` list names, fed the primary head's output and
 * targets batch by batch on the host, and the columns of metrics.csv they
 * and a loss list's heads add after the 8 fixed ones.
 *
 *   metrics = [ "precision", "f1",
 *               { type = "fbeta"; beta = 2.0; name = "f2"; } ];
 *
 * A value named v becomes the column "<split>_v" ("val_precision"); an
 * entry's `name` replaces the part of v before its first '.'.  A value
 * named "accuracy" fills the fixed column <split>_accuracy.  The entries
 * "loss" and, for class targets, a bare "accuracy" add no instance: the
 * loss is always reported, and top-1 accuracy is computed with the argmax
 * on the backend (eval.c). */
#ifndef DLHOST_CORE_METRICS_H
#define DLHOST_CORE_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include <dlhost/metric.h>

#include "batcher.h"

struct dlh_experiment;
struct dlh_evaluator;

typedef struct dlh_metric_inst {
    const dlh_metric_ops *ops;
    void *state;
    const char *type;
    int n_values;
    int goal;                       /* DLH_METRIC_MAX, _MIN or 0 */
    char **cols;                    /* [n_values]: "val_precision" */
    double *values;                 /* [n_values]: the last result */
    const dlh_metric_table *table;  /* the last result's table, or NULL */
} dlh_metric_inst;

typedef struct dlh_metric_set {
    const char *split;              /* "val", "train", "test" */
    int n;
    dlh_metric_inst *m;
    int32_t input;                  /* dlh_metric_input */
    int64_t classes, width;
    int binary, output;             /* output: DLH_LOSS_OUTPUT_* of the primary head */
    int64_t max_batch;
    float *pred, *target;           /* [max_batch * width], [max_batch * width or 1] */
    double *prob;                   /* [max_batch * classes] */
} dlh_metric_set;

/* The instances of e's `metrics` list for `split` (static string), or none
   (set->n 0) without the key.  Each value's column name is checked: unique
   in the set and free of the characters a CSV field cannot hold. */
int dlh_metrics_open(struct dlh_experiment *e, const char *split, dlh_metric_set *set);
void dlh_metrics_close(dlh_metric_set *set);  /* zeroed or opened */
void dlh_metrics_reset(dlh_metric_set *set);
/* Feeds the last forward's primary-head output for batch b. */
int dlh_metrics_batch(dlh_metric_set *set, struct dlh_evaluator *ev, const dlh_batch *b);
/* Every instance's values and table of the samples since the last reset. */
int dlh_metrics_result(dlh_metric_set *set);

/* "<lead>  precision 0.8125  f1 0.7933 ..." (the values of the last
   result, without the split's prefix; "-" for NaN), one line; nothing
   without values. */
void dlh_metrics_print(FILE *out, const char *lead, const dlh_metric_set *set);

/* A column of metrics.csv after the 8 fixed ones. */
typedef struct dlh_metric_col {
    char *name;                     /* "val_precision", "val_loss.head_a" */
    int goal;                       /* DLH_METRIC_MAX, _MIN or 0 */
} dlh_metric_col;

/* The metrics.csv columns of e after the fixed 8: each head's of a loss
   list (train_loss.H, train_accuracy.H for class heads, val_loss.H,
   val_accuracy.H), then the training metrics, then the validation ones
   (the value "accuracy" excepted: it fills a fixed column). */
int dlh_metrics_columns(const struct dlh_experiment *e, dlh_metric_col **cols, int *n);
/* (dlh_experiment_new builds them once, as e->cols.) */
void dlh_metrics_columns_free(dlh_metric_col *cols, int n);

/* Whether `name` of e's columns (fixed or not; e->cols) exists, and its
   goal. */
int dlh_metrics_goal(const struct dlh_experiment *e, const char *name, int *goal);

/* The columns of e's metrics.csv that get values, in its order: the fixed
   loss and accuracy columns that apply, then e->cols (the val_ ones only
   with validation data).  names must hold DLH_METRICS_N_FIXED + e->n_cols
   (static strings and e's); returns how many. */
int dlh_metrics_run_columns(const struct dlh_experiment *e, const char **names);

/* One sample's class probabilities p[0..classes) from its model output row
   x as the loss reads it (DLH_LOSS_OUTPUT_*, loss.h): softmax of logits,
   exp of log-probabilities, probabilities as they are; binary (one output,
   classes 2): the sigmoid (or the probability) of x[0] as p[1], 1 - p[1] as
   p[0].  The metrics and `dlhost predict` share it. */
void dlh_output_probs(int32_t output, int binary, const float *x, int64_t classes,
                      double *p);

#endif
