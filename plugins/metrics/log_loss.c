/* log_loss: scikit-learn's log_loss with labels = [0, classes) and
 * sample_weight: each probability clipped to [eps, 1 - eps] (eps "auto":
 * float64's machine epsilon, the host's probabilities being doubles), the
 * row renormalised to sum 1, and
 *
 *   sum_i w_i (-log q_i,y_i) / sum_i w_i.
 *
 * NaN without samples or when the weights sum to 0 (scikit-learn raises). */
#include <float.h>
#include <math.h>

#include "metrics.h"

static int log_loss_create(const dlh_host *host, dlh_metric_setup *setup, void **state)
{
    int rc;
    *state = NULL;
    if ((rc = metrics_need(host, setup, DLH_METRIC_CLASSES)) < 0 ||
        (rc = metrics_state_new(host, setup, "log_loss", sizeof(metrics_ratio), state)) < 0)
        return rc;
    return metrics_names(host, *state, setup, 0, DLH_METRIC_MIN);
}

static double log_loss_clip(double p)
{
    return fmin(fmax(p, DBL_EPSILON), 1.0 - DBL_EPSILON);
}

static int log_loss_update(void *state, const dlh_metric_batch *batch)
{
    metrics_ratio *st = state;
    int64_t c = st->base.classes;
    for (int64_t i = 0; i < batch->n; i++) {
        int64_t t;
        int rc = metrics_class(&st->base, batch, i, &t);
        if (rc < 0)
            return rc;
        const double *row = batch->prob + i * c;
        double sum = 0.0;
        for (int64_t k = 0; k < c; k++)
            sum += log_loss_clip(row[k]);
        double w = metrics_weight(batch, i);
        st->sum += w * -log(log_loss_clip(row[t]) / sum);
        st->total += w;
    }
    st->base.seen += batch->n;
    return 0;
}

const dlh_metric_ops log_loss_ops = {
    .struct_size = sizeof(dlh_metric_ops),
    .create = log_loss_create,
    .reset = metrics_ratio_reset,
    .update = log_loss_update,
    .result = metrics_ratio_result,
    .destroy = metrics_state_free,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc log_loss_params[] = {
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
