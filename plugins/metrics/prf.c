/* precision, recall, f1 and fbeta: scikit-learn's
 * precision_recall_fscore_support, from the weighted confusion matrix with
 * labels = [0, classes):
 *
 *   precision_k = tp_k / pred_k     recall_k = tp_k / true_k
 *   F_k = (1 + b^2) P_k R_k / (b^2 P_k + R_k)     (0 when the denominator is)
 *
 * a ratio over 0 being zero_division (0 or 1).  average "binary": class 1's
 * (pos_label 1, 2 classes only); "micro": of the summed counts; "macro": the
 * mean over the classes; "weighted": the mean weighted by true_k (with no
 * true weight at all: every value zero_division when nothing was predicted
 * either, else precision and F 0 and recall zero_division); "none": one
 * value per class.  Unlike scikit-learn without `labels`, a class neither
 * in the targets nor predicted still counts (with zero_division) in macro:
 * the classes are the model's, not the batch's. */
#include <math.h>

#include "metrics.h"

typedef struct prf_state {
    metrics_cm cm;
    int which, average;
    double beta2, zero_division;
} prf_state;

int prf_create(const dlh_host *host, dlh_metric_setup *setup, void **state,
               const char *metric, int which, int has_beta)
{
    prf_state st = { .which = which, .beta2 = 1.0 };
    *state = NULL;
    int rc;
    if ((rc = metrics_need(host, setup, DLH_METRIC_CLASSES)) < 0)
        return rc;
    if (has_beta) {
        double beta;
        if ((rc = host->param_float(setup->params, "beta", NULL, 0.0, HUGE_VAL, &beta)) < 0)
            return rc;
        if (!(beta > 0.0))
            return host->param_error(setup->params, "beta", "parameter 'beta': expected a "
                                     "number > 0, got %g", beta);
        st.beta2 = beta * beta;
    }
    if ((rc = metrics_average(host, setup, 1, &st.average)) < 0 ||
        (rc = metrics_zero_division(host, setup->params, &st.zero_division)) < 0 ||
        (rc = metrics_cm_new(host, setup, metric, sizeof(prf_state), state)) < 0)
        return rc;
    prf_state *s = *state;
    st.cm = s->cm;
    *s = st;
    return metrics_names(host, &s->cm.base, setup, st.average == METRICS_NONE,
                         DLH_METRIC_MAX);
}

/* The chosen score of counts tp, pred, true. */
static double prf_score(const prf_state *st, double tp, double pred, double truth)
{
    double zd = st->zero_division;
    double p = pred == 0.0 ? zd : tp / pred;
    double r = truth == 0.0 ? zd : tp / truth;
    if (st->which == PRF_PRECISION)
        return p;
    if (st->which == PRF_RECALL)
        return r;
    double denom = st->beta2 * p + r;
    if (denom == 0.0)
        denom = 1.0;
    return (1.0 + st->beta2) * p * r / denom;
}

int prf_result(void *state, double *values, const dlh_metric_table **table)
{
    const prf_state *st = state;
    const double *m = st->cm.m;
    int64_t c = st->cm.base.classes;
    (void)table;
    if (!st->cm.base.seen) {
        for (int32_t i = 0; i < st->cm.base.n_names; i++)
            values[i] = NAN;
        return 0;
    }
    double tp_all = 0.0, pred_all = 0.0, true_all = 0.0, sum = 0.0, wsum = 0.0;
    for (int64_t k = 0; k < c; k++) {
        double tp = m[k * c + k], pred = 0.0, truth = 0.0;
        for (int64_t j = 0; j < c; j++) {
            pred += m[j * c + k];
            truth += m[k * c + j];
        }
        double s = prf_score(st, tp, pred, truth);
        if (st->average == METRICS_NONE)
            values[k] = s;
        else if (st->average == METRICS_BINARY && k == 1)
            values[0] = s;
        tp_all += tp;
        pred_all += pred;
        true_all += truth;
        sum += st->average == METRICS_WEIGHTED ? s * truth : s;
        wsum += truth;
    }
    if (st->average == METRICS_MICRO) {
        values[0] = prf_score(st, tp_all, pred_all, true_all);
    } else if (st->average == METRICS_MACRO) {
        values[0] = sum / (double)c;
    } else if (st->average == METRICS_WEIGHTED) {
        double zd = st->zero_division;
        if (wsum == 0.0)
            values[0] = pred_all == 0.0 ? zd : st->which == PRF_RECALL ? zd : 0.0;
        else
            values[0] = sum / wsum;
    }
    return 0;
}
