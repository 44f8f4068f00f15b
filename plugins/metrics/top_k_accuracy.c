/* top_k_accuracy: scikit-learn's top_k_accuracy_score with sample_weight:
 * the weighted fraction of samples whose target is among the k classes of
 * highest probability.  Ties as scikit-learn breaks them (a stable argsort,
 * reversed): among equal probabilities the higher class index ranks first.
 * With 2 classes scikit-learn scores prob[:, 1] alone: k = 1 predicts class
 * 1 when it is above 0.5, k >= 2 is always right.  k defaults to 5 (k at or
 * above the class count gives 1, where scikit-learn warns). */
#include <math.h>

#include "metrics.h"

typedef struct topk_state {
    metrics_ratio r;                /* sum: the weight of the hits */
    int64_t k;
} topk_state;

static int topk_create(const dlh_host *host, dlh_metric_setup *setup, void **state)
{
    const int64_t def_k = 5;
    int64_t k;
    *state = NULL;
    int rc;
    if ((rc = metrics_need(host, setup, DLH_METRIC_CLASSES)) < 0 ||
        (rc = host->param_int(setup->params, "k", &def_k, 1, INT32_MAX, &k)) < 0 ||
        (rc = metrics_state_new(host, setup, "top_k_accuracy", sizeof(topk_state),
                                state)) < 0)
        return rc;
    ((topk_state *)*state)->k = k;
    return metrics_names(host, *state, setup, 0, DLH_METRIC_MAX);
}

static int topk_update(void *state, const dlh_metric_batch *batch)
{
    topk_state *st = state;
    int64_t c = st->r.base.classes;
    for (int64_t i = 0; i < batch->n; i++) {
        int64_t t;
        int rc = metrics_class(&st->r.base, batch, i, &t);
        if (rc < 0)
            return rc;
        const double *row = batch->prob + i * c;
        int hit;
        if (c == 2) {
            hit = st->k >= 2 || (row[1] > 0.5) == (t == 1);
        } else {
            int64_t above = 0;
            for (int64_t j = 0; j < c; j++)
                above += row[j] > row[t] || (j > t && row[j] == row[t]);
            hit = above < st->k;
        }
        double w = metrics_weight(batch, i);
        st->r.sum += hit ? w : 0.0;
        st->r.total += w;
    }
    st->r.base.seen += batch->n;
    return 0;
}

const dlh_metric_ops top_k_accuracy_ops = {
    .struct_size = sizeof(dlh_metric_ops),
    .create = topk_create,
    .reset = metrics_ratio_reset,
    .update = topk_update,
    .result = metrics_ratio_result,
    .destroy = metrics_state_free,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc top_k_accuracy_params[] = {
    { "k", DLH_PARAM_INT, "5", 1, INT32_MAX, NULL, "how many of the most probable classes count as a hit" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
