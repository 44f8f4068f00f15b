/* rmse: the square root of scikit-learn's mean_squared_error with
 * sample_weight and multioutput="uniform_average": sqrt of the mean over
 * the outputs of sum_i w_i (y_i - f_i)^2 / sum_i w_i.  With one output this
 * is mean_squared_error(squared=False); with several, that one averages the
 * per-output roots instead.  NaN when the weights sum to 0. */
#include "metrics.h"

static int rmse_create(const dlh_host *host, dlh_metric_setup *setup, void **state)
{
    return regression_create(host, setup, state, "rmse", REGRESSION_RMSE);
}

const dlh_metric_ops rmse_ops = {
    .struct_size = sizeof(dlh_metric_ops),
    .create = rmse_create,
    .reset = regression_reset,
    .update = regression_update,
    .result = regression_result,
    .destroy = regression_free,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc rmse_params[] = {
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
