/* f1: scikit-learn's f1_score, 2 P R / (P + R) per class (0 when P + R is
 * 0), averaged as `average` says; zero_division enters through P and R.
 * The shared definition is in prf.c. */
#include "metrics.h"

static int f1_create(const dlh_host *host, dlh_metric_setup *setup, void **state)
{
    return prf_create(host, setup, state, "f1", PRF_F, 0);
}

const dlh_metric_ops f1_ops = {
    .struct_size = sizeof(dlh_metric_ops),
    .create = f1_create,
    .reset = metrics_cm_reset,
    .update = metrics_cm_update,
    .result = prf_result,
    .destroy = metrics_cm_free,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc f1_params[] = {
    METRICS_PRF_PARAMS,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
