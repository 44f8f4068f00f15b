/* `dlhost eval`'s classification report: per-class precision, recall, F1
 * and support from a confusion matrix, printed in scikit-learn's
 * classification_report layout, the confusion matrix with class names, and
 * the same numbers as JSON for tools (--json).  Definitions as
 * scikit-learn 1.2's precision_recall_fscore_support with labels = every
 * class of the model and zero_division = "warn" (an undefined ratio is 0). */
#ifndef DLHOST_CORE_REPORT_H
#define DLHOST_CORE_REPORT_H

#include <stdint.h>
#include <stdio.h>

typedef struct dlh_class_report {
    int64_t classes;
    double *precision, *recall, *f1;    /* [classes] */
    int64_t *support;                   /* [classes]: true samples of each class */
    int64_t total, correct;
    double accuracy;                    /* correct / total (NaN for no sample) */
    /* precision, recall, f1 averaged: unweighted, weighted by support, and
       over all samples (micro: the accuracy when every class occurs). */
    double macro[3], weighted[3], micro[3];
    /* scikit-learn prints the micro line as "accuracy" when every class is
       among the true or the predicted labels, else as "micro avg". */
    int micro_is_accuracy;
} dlh_class_report;

/* The report of conf ([classes][classes], rows true, columns predicted);
   r owns its arrays (dlh_class_report_free). */
int dlh_class_report_new(const int64_t *conf, int64_t classes, dlh_class_report *r);
void dlh_class_report_free(dlh_class_report *r);    /* zeroed or made */

/* classification_report(digits=2)'s text: names[k] or "k" per row. */
void dlh_class_report_print(FILE *out, const dlh_class_report *r, char *const *names);

/* The confusion matrix, rows true and columns predicted, in aligned columns
   headed by the class names (or indices when names is NULL). */
void dlh_confusion_print(FILE *out, const int64_t *conf, int64_t classes,
                         char *const *names);

/* What `dlhost eval --json` writes. */
typedef struct dlh_eval_result {
    const char *experiment, *weights, *head;    /* head: a loss list's class head, or NULL */
    int64_t samples;
    double loss, accuracy;                      /* NaN: none (written as null) */
    const dlh_class_report *report;             /* NULL without class targets */
    const int64_t *confusion;
    char *const *names;                         /* NULL: "0", "1", ... */
    const struct dlh_metric_set *metrics;       /* the experiment's metrics, or NULL */
} dlh_eval_result;

/* The JSON text of res into path, atomically (the old file or the new one,
   never part of one); DLH_EIO with "path: ..." when it cannot be written. */
int dlh_eval_json_write(const char *path, const dlh_eval_result *res);

/* Fails early (DLH_EIO, "--json PATH: ...") when the folder of path does
   not exist or is not a folder, before any work is done. */
int dlh_eval_json_check(const char *path);

#endif
