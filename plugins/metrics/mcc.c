/* mcc: scikit-learn's matthews_corrcoef, multi-class (Gorodkin's R_K),
 * from the weighted confusion matrix C with t = row sums, p = column sums,
 * s = their total and c = the trace:
 *
 *   (c s - t.p) / sqrt((s^2 - t.t) (s^2 - p.p)),   0 when the product is 0. */
#include <math.h>

#include "metrics.h"

static int mcc_create(const dlh_host *host, dlh_metric_setup *setup, void **state)
{
    int rc;
    *state = NULL;
    if ((rc = metrics_need(host, setup, DLH_METRIC_CLASSES)) < 0 ||
        (rc = metrics_cm_new(host, setup, "mcc", sizeof(metrics_cm), state)) < 0)
        return rc;
    return metrics_names(host, *state, setup, 0, DLH_METRIC_MAX);
}

static int mcc_result(void *state, double *values, const dlh_metric_table **table)
{
    const metrics_cm *cm = state;
    const double *m = cm->m;
    int64_t c = cm->base.classes;
    double correct = 0.0, samples = 0.0, tp = 0.0, pp = 0.0, tt = 0.0;
    (void)table;
    for (int64_t k = 0; k < c; k++) {
        double t = 0.0, p = 0.0;
        for (int64_t j = 0; j < c; j++) {
            t += m[k * c + j];
            p += m[j * c + k];
        }
        correct += m[k * c + k];
        samples += p;
        tp += t * p;
        pp += p * p;
        tt += t * t;
    }
    double cov_ytyp = correct * samples - tp;
    double cov_ypyp = samples * samples - pp;
    double cov_ytyt = samples * samples - tt;
    if (!cm->base.seen)
        values[0] = NAN;
    else if (cov_ypyp * cov_ytyt == 0.0)
        values[0] = 0.0;
    else
        values[0] = cov_ytyp / sqrt(cov_ytyt * cov_ypyp);
    return 0;
}

const dlh_metric_ops mcc_ops = {
    .struct_size = sizeof(dlh_metric_ops),
    .create = mcc_create,
    .reset = metrics_cm_reset,
    .update = metrics_cm_update,
    .result = mcc_result,
    .destroy = metrics_cm_free,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc mcc_params[] = {
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
