/* The "metrics" plugin family: one file per metric (accuracy.c, precision.c,
 * auroc.c, mae.c, ...), each defined as scikit-learn 1.2 defines it; the
 * helpers they share in metrics.c (inputs, names, the weighted confusion
 * matrix), prf.c (precision, recall, f1, fbeta), ranking.c (auroc,
 * average_precision) and regression.c (mae, rmse, r2). */
#ifndef DLHOST_PLUGIN_METRICS_H
#define DLHOST_PLUGIN_METRICS_H

#include <stddef.h>

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *metrics_host;

#define METRICS_LIST(X)                                                                    \
    X(accuracy) X(top_k_accuracy) X(precision) X(recall) X(f1) X(fbeta)                    \
    X(balanced_accuracy) X(confusion) X(auroc) X(average_precision) X(log_loss) X(mcc)     \
    X(mae) X(rmse) X(r2)
#define METRICS_DECLARE(m) extern const dlh_metric_ops m##_ops; \
    extern const dlh_param_doc m##_params[];
METRICS_LIST(METRICS_DECLARE)
#undef METRICS_DECLARE

/* ---- what every built-in state begins with (metrics.c) */

typedef struct metrics_base {
    const char *metric;             /* the component's name, for messages */
    int64_t classes, width;         /* the setup's */
    int binary;
    int64_t seen;                   /* samples since the last reset */
    int32_t n_names;
    char **names;                   /* [n_names], owned */
} metrics_base;

/* A zeroed state of `size` bytes that begins with a metrics_base filled from
   `setup`; sets *state (the host calls destroy even after a failed create),
   or a message and DLH_ENOMEM. */
int metrics_state_new(const dlh_host *host, const dlh_metric_setup *setup,
                      const char *metric, size_t size, void **state);
/* Frees the base's names; the state itself is the caller's. */
void metrics_base_free(metrics_base *b);
/* The destroy slot of states that own nothing beyond their base. */
void metrics_state_free(void *state);

/* Refuses, with one message located at the metric's group ("needs class
   targets; this model has regression targets"), a setup whose
   input is not `input` (DLH_METRIC_CLASSES or DLH_METRIC_VALUES). */
int metrics_need(const dlh_host *host, const dlh_metric_setup *setup, int32_t input);

/* Sets the value names: `metric` alone, or "<metric>.<class>" per class
   (the class's name when the data names it, else its index) when
   per_class; fills setup->n_values, names and goal. */
int metrics_names(const dlh_host *host, metrics_base *b, dlh_metric_setup *setup,
                  int per_class, int32_t goal);

/* Sample i's class from batch->target, checked against [0, classes): a
   message naming the metric and DLH_EINVAL otherwise. */
int metrics_class(const metrics_base *b, const dlh_metric_batch *batch, int64_t i,
                  int64_t *cls);
/* Sample i's weight (1 without weights). */
static inline double metrics_weight(const dlh_metric_batch *batch, int64_t i)
{
    return batch->weight ? (double)batch->weight[i] : 1.0;
}
/* The first largest of row[0..classes) (numpy's argmax). */
int64_t metrics_argmax(const double *row, int64_t classes);

/* A state that sums a numerator and the weight total over the pass (what
   top_k_accuracy and log_loss keep); its result is their ratio, NaN
   without samples or with weights summing to 0. */
typedef struct metrics_ratio {
    metrics_base base;
    double sum, total;
} metrics_ratio;
void metrics_ratio_reset(void *state);
int metrics_ratio_result(void *state, double *values, const dlh_metric_table **table);

/* ---- parameters shared by several metrics (metrics.c) */

enum { METRICS_BINARY, METRICS_MICRO, METRICS_MACRO, METRICS_WEIGHTED, METRICS_NONE };
/* Reads `average`: "binary" | "micro" | "macro" | "weighted" | "none" (or,
   without micro, the same less "micro", as *choice still in that enum);
   unset: "binary" with 2 classes, else "macro".  "binary" with more
   classes is refused in scikit-learn's words. */
int metrics_average(const dlh_host *host, dlh_metric_setup *setup, int micro, int *average);
/* The average choices as the tables list them. */
#define METRICS_AVERAGE_CHOICES "binary|micro|macro|weighted|none"
#define METRICS_RANKING_AVERAGE_CHOICES "binary|macro|weighted|none"
#define METRICS_AVERAGE_HELP "unset: binary with 2 classes (class 1 positive), else macro; " \
    "none: one value per class"
/* The table rows of average and zero_division (precision, recall, f1, fbeta). */
#define METRICS_PRF_PARAMS                                                                   \
    { "average", DLH_PARAM_CHOICE, "", 0, 0, METRICS_AVERAGE_CHOICES, METRICS_AVERAGE_HELP }, \
    { "zero_division", DLH_PARAM_FLOAT, "0", 0.0, 1.0, NULL,                                  \
      "the value of a ratio over 0: 0 (sklearn's \"warn\") or 1" }
/* Reads zero_division (0 or 1, default 0: scikit-learn's "warn"). */
int metrics_zero_division(const dlh_host *host, dlh_params *p, double *out);

/* ---- the weighted confusion matrix (metrics.c) */

typedef struct metrics_cm {
    metrics_base base;
    double threshold;               /* binary models: class 1 when prob > threshold */
    double *m;                      /* [classes * classes]: rows true, cols predicted */
} metrics_cm;

/* metrics_state_new of a state of `size` bytes that begins with a
   metrics_cm, and its matrix (threshold 0.5, which is argmax for a binary
   model). */
int metrics_cm_new(const dlh_host *host, const dlh_metric_setup *setup, const char *metric,
                   size_t size, void **state);
void metrics_cm_reset(void *state);
int metrics_cm_update(void *state, const dlh_metric_batch *batch);
void metrics_cm_free(void *state);
/* Sum of every cell. */
double metrics_cm_total(const metrics_cm *cm);

/* ---- precision, recall, f1, fbeta (prf.c) */

enum { PRF_PRECISION, PRF_RECALL, PRF_F };
int prf_create(const dlh_host *host, dlh_metric_setup *setup, void **state,
               const char *metric, int which, int has_beta);
/* Their shared result; reset, update and destroy are metrics_cm_*'s. */
int prf_result(void *state, double *values, const dlh_metric_table **table);

/* ---- auroc, average_precision (ranking.c) */

int ranking_create(const dlh_host *host, dlh_metric_setup *setup, void **state,
                   const char *metric, int ap);
void ranking_reset(void *state);
int ranking_update(void *state, const dlh_metric_batch *batch);
int ranking_result(void *state, double *values, const dlh_metric_table **table);
void ranking_free(void *state);

/* ---- mae, rmse, r2 (regression.c) */

enum { REGRESSION_MAE, REGRESSION_RMSE, REGRESSION_R2 };
int regression_create(const dlh_host *host, dlh_metric_setup *setup, void **state,
                      const char *metric, int which);
void regression_reset(void *state);
int regression_update(void *state, const dlh_metric_batch *batch);
int regression_result(void *state, double *values, const dlh_metric_table **table);
void regression_free(void *state);

#endif
