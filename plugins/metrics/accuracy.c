/* accuracy: scikit-learn's accuracy_score with sample_weight,
 *
 *   sum_i w_i [pred_i == y_i] / sum_i w_i,
 *
 * pred_i the first most probable class (numpy's argmax).  A binary model
 * (one sigmoid output) predicts class 1 when its probability is above
 * `threshold` (default 0.5; Keras' BinaryAccuracy).  NaN without samples
 * or when the weights sum to 0 (scikit-learn raises). */
#include <math.h>

#include "metrics.h"

static int accuracy_create(const dlh_host *host, dlh_metric_setup *setup, void **state)
{
    const double half = 0.5;
    double threshold = 0.5;
    *state = NULL;
    int rc = metrics_need(host, setup, DLH_METRIC_CLASSES);
    if (rc < 0)
        return rc;
    if (setup->binary) {
        rc = host->param_float(setup->params, "threshold", &half, 0.0, 1.0, &threshold);
    } else if (host->param_has(setup->params, "threshold")) {
        rc = host->param_error(setup->params, "threshold", "parameter 'threshold': only for "
                               "a model with one sigmoid output; this one has %lld classes "
                               "and predicts the most probable", (long long)setup->classes);
    }
    if (rc < 0 || (rc = metrics_cm_new(host, setup, "accuracy", sizeof(metrics_cm), state)) < 0)
        return rc;
    ((metrics_cm *)*state)->threshold = threshold;
    return metrics_names(host, *state, setup, 0, DLH_METRIC_MAX);
}

static int accuracy_result(void *state, double *values, const dlh_metric_table **table)
{
    const metrics_cm *cm = state;
    int64_t c = cm->base.classes;
    double hit = 0.0;
    (void)table;
    for (int64_t k = 0; k < c; k++)
        hit += cm->m[k * c + k];
    values[0] = cm->base.seen ? hit / metrics_cm_total(cm) : NAN;
    return 0;
}

const dlh_metric_ops accuracy_ops = {
    .struct_size = sizeof(dlh_metric_ops),
    .create = accuracy_create,
    .reset = metrics_cm_reset,
    .update = metrics_cm_update,
    .result = accuracy_result,
    .destroy = metrics_cm_free,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc accuracy_params[] = {
    { "threshold", DLH_PARAM_FLOAT, "0.5", 0.0, 1.0, NULL, "binary models only: class 1 when the probability is above it" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
