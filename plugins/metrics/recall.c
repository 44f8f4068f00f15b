/* recall: scikit-learn's recall_score, tp / (tp + fn) per class, averaged as
 * `average` says; zero_division is the value of a class with no sample of the class.
 * The shared definition is in prf.c. */
#include "metrics.h"

static int recall_create(const dlh_host *host, dlh_metric_setup *setup, void **state)
{
    return prf_create(host, setup, state, "recall", PRF_RECALL, 0);
}

const dlh_metric_ops recall_ops = {
    .struct_size = sizeof(dlh_metric_ops),
    .create = recall_create,
    .reset = metrics_cm_reset,
    .update = metrics_cm_update,
    .result = prf_result,
    .destroy = metrics_cm_free,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc recall_params[] = {
    METRICS_PRF_PARAMS,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
