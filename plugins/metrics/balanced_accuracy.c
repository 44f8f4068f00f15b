/* balanced_accuracy: scikit-learn's balanced_accuracy_score with
 * sample_weight: the mean over the classes present in the targets (a row
 * of the weighted confusion matrix that sums to more than 0) of
 * tp_k / true_k.  adjusted = true rescales it so that chance is 0 and
 * perfect 1: (score - 1/K) / (1 - 1/K), K the classes present (with one
 * class present that divides by 0, as scikit-learn does). */
#include <math.h>

#include "metrics.h"

typedef struct balanced_state {
    metrics_cm cm;
    int adjusted;
} balanced_state;

static int balanced_create(const dlh_host *host, dlh_metric_setup *setup, void **state)
{
    const int no = 0;
    int adjusted, rc;
    *state = NULL;
    if ((rc = metrics_need(host, setup, DLH_METRIC_CLASSES)) < 0 ||
        (rc = host->param_bool(setup->params, "adjusted", &no, &adjusted)) < 0 ||
        (rc = metrics_cm_new(host, setup, "balanced_accuracy", sizeof(balanced_state),
                             state)) < 0)
        return rc;
    ((balanced_state *)*state)->adjusted = adjusted;
    return metrics_names(host, *state, setup, 0, DLH_METRIC_MAX);
}

static int balanced_result(void *state, double *values, const dlh_metric_table **table)
{
    const balanced_state *st = state;
    const double *m = st->cm.m;
    int64_t c = st->cm.base.classes, present = 0;
    double sum = 0.0;
    (void)table;
    for (int64_t k = 0; k < c; k++) {
        double truth = 0.0;
        for (int64_t j = 0; j < c; j++)
            truth += m[k * c + j];
        if (truth != 0.0) {
            sum += m[k * c + k] / truth;
            present++;
        }
    }
    double score = present ? sum / (double)present : NAN;
    if (st->adjusted && present) {
        double chance = 1.0 / (double)present;
        score = (score - chance) / (1.0 - chance);
    }
    values[0] = score;
    return 0;
}

const dlh_metric_ops balanced_accuracy_ops = {
    .struct_size = sizeof(dlh_metric_ops),
    .create = balanced_create,
    .reset = metrics_cm_reset,
    .update = metrics_cm_update,
    .result = balanced_result,
    .destroy = metrics_cm_free,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc balanced_accuracy_params[] = {
    { "adjusted", DLH_PARAM_BOOL, "false", 0, 0, NULL, "rescale so that chance scores 0 and perfect 1" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
