/* auroc: scikit-learn's roc_auc_score with sample_weight: the area under the
 * ROC curve (true against false positive rate, trapezoids between the
 * points of distinct scores, so ties count half).  average "binary" (the
 * default with 2 classes) ranks prob[:, 1] against class 1; "macro",
 * "weighted" and "none" are one-vs-rest (multi_class="ovr").  NaN where
 * scikit-learn raises: a class absent from the targets, or only one class
 * present.  The scores are kept for the pass (ranking.c). */
#include "metrics.h"

static int auroc_create(const dlh_host *host, dlh_metric_setup *setup, void **state)
{
    return ranking_create(host, setup, state, "auroc", 0);
}

const dlh_metric_ops auroc_ops = {
    .struct_size = sizeof(dlh_metric_ops),
    .create = auroc_create,
    .reset = ranking_reset,
    .update = ranking_update,
    .result = ranking_result,
    .destroy = ranking_free,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc auroc_params[] = {
    { "average", DLH_PARAM_CHOICE, "", 0, 0, METRICS_RANKING_AVERAGE_CHOICES, METRICS_AVERAGE_HELP },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
