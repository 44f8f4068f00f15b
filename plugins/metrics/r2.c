/* r2: scikit-learn's r2_score with sample_weight, per output
 * 1 - sum_i w_i (y_i - f_i)^2 / sum_i w_i (y_i - ybar)^2 (ybar the weighted
 * mean), averaged over the outputs (multioutput="uniform_average").  A
 * constant target gives 1 when predicted exactly, else 0 (force_finite);
 * fewer than 2 samples give NaN, as scikit-learn. */
#include "metrics.h"

static int r2_create(const dlh_host *host, dlh_metric_setup *setup, void **state)
{
    return regression_create(host, setup, state, "r2", REGRESSION_R2);
}

const dlh_metric_ops r2_ops = {
    .struct_size = sizeof(dlh_metric_ops),
    .create = r2_create,
    .reset = regression_reset,
    .update = regression_update,
    .result = regression_result,
    .destroy = regression_free,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc r2_params[] = {
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
