/* mae: scikit-learn's mean_absolute_error with sample_weight,
 * sum_i w_i |y_i - f_i| / sum_i w_i per output, averaged over the outputs
 * (multioutput="uniform_average").  NaN when the weights sum to 0. */
#include "metrics.h"

static int mae_create(const dlh_host *host, dlh_metric_setup *setup, void **state)
{
    return regression_create(host, setup, state, "mae", REGRESSION_MAE);
}

const dlh_metric_ops mae_ops = {
    .struct_size = sizeof(dlh_metric_ops),
    .create = mae_create,
    .reset = regression_reset,
    .update = regression_update,
    .result = regression_result,
    .destroy = regression_free,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc mae_params[] = {
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
