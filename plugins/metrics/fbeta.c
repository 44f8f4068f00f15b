/* fbeta: scikit-learn's fbeta_score, (1 + b^2) P R / (b^2 P + R) per class
 * (0 when the denominator is 0), averaged as `average` says.  beta is
 * required and > 0 (recall weighs beta times as much as precision).
 * The shared definition is in prf.c. */
#include "metrics.h"

static int fbeta_create(const dlh_host *host, dlh_metric_setup *setup, void **state)
{
    return prf_create(host, setup, state, "fbeta", PRF_F, 1);
}

const dlh_metric_ops fbeta_ops = {
    .struct_size = sizeof(dlh_metric_ops),
    .create = fbeta_create,
    .reset = metrics_cm_reset,
    .update = metrics_cm_update,
    .result = prf_result,
    .destroy = metrics_cm_free,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc fbeta_params[] = {
    { "beta", DLH_PARAM_FLOAT, NULL, 0.0, DLH_PARAM_NO_MAX, NULL, "weight of recall against precision, > 0" },
    METRICS_PRF_PARAMS,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
