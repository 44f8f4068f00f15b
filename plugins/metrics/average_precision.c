/* average_precision: scikit-learn's average_precision_score with
 * sample_weight: sum_n (R_n - R_n-1) P_n over the distinct scores in
 * decreasing order (no interpolation).  average "binary" (the default with
 * 2 classes) ranks prob[:, 1] against class 1; "macro", "weighted" and
 * "none" are one-vs-rest on the binarised targets.  A class without
 * positives scores 0, as in scikit-learn.  The scores are kept for the pass
 * (ranking.c). */
#include "metrics.h"

static int average_precision_create(const dlh_host *host, dlh_metric_setup *setup, void **state)
{
    return ranking_create(host, setup, state, "average_precision", 1);
}

const dlh_metric_ops average_precision_ops = {
    .struct_size = sizeof(dlh_metric_ops),
    .create = average_precision_create,
    .reset = ranking_reset,
    .update = ranking_update,
    .result = ranking_result,
    .destroy = ranking_free,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc average_precision_params[] = {
    { "average", DLH_PARAM_CHOICE, "", 0, 0, METRICS_RANKING_AVERAGE_CHOICES, METRICS_AVERAGE_HELP },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
