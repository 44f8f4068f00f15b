/* What auroc and average_precision share: every score of the pass is kept
 * (they rank the samples), and each class's binary curve is built as
 * scikit-learn's _binary_clf_curve builds it: samples by decreasing score,
 * one point per distinct score with the weighted true and false positives
 * above and at it, so tied scores move both counts in one step.
 *
 * Memory: the scores grow with the pass (m doubles, a class and a weight
 * per sample, m = 1 for average "binary", else the class count), in
 * buffers that update doubles when full; reset keeps them, so from the
 * second pass on nothing is allocated.  The sort buffer grows with them.
 *
 * One-vs-rest (average macro, weighted, none) is scikit-learn's roc_auc_score
 * multi_class="ovr" (average_precision_score of the binarised targets):
 * class k's scores are prob[:, k] against "target == k".  A class absent
 * from the targets has no ROC curve: scikit-learn raises, auroc gives NaN
 * (for that class with "none", else for the average); average precision
 * without positives is 0, as scikit-learn's.  "weighted" weighs class k by
 * the weight of its samples and gives 0 when they sum to (about) 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

typedef struct ranking_pair {
    double score, weight;
    int positive;
} ranking_pair;

typedef struct ranking_state {
    metrics_base base;
    int ap, average;
    int64_t m;                      /* scores kept per sample */
    int64_t n, cap;
    double *scores;                 /* [cap * m] */
    int64_t *target;                /* [cap] */
    double *weight;                 /* [cap] */
    ranking_pair *pairs;            /* [cap]: one class's curve */
} ranking_state;

int ranking_create(const dlh_host *host, dlh_metric_setup *setup, void **state,
                   const char *metric, int ap)
{
    int average, rc;
    *state = NULL;
    if ((rc = metrics_need(host, setup, DLH_METRIC_CLASSES)) < 0 ||
        (rc = metrics_average(host, setup, 0, &average)) < 0 ||
        (rc = metrics_state_new(host, setup, metric, sizeof(ranking_state), state)) < 0)
        return rc;
    ranking_state *st = *state;
    st->ap = ap;
    st->average = average;
    st->m = average == METRICS_BINARY ? 1 : setup->classes;
    return metrics_names(host, &st->base, setup, average == METRICS_NONE, DLH_METRIC_MAX);
}

void ranking_reset(void *state)
{
    ranking_state *st = state;
    st->n = 0;
    st->base.seen = 0;
}

/* Room for `need` samples: capacity at least doubles. */
static int ranking_reserve(ranking_state *st, int64_t need)
{
    if (need <= st->cap)
        return 0;
    int64_t cap = st->cap * 2 > need ? st->cap * 2 : need;
    if (cap < 256)
        cap = 256;
    double *scores = realloc(st->scores, (size_t)(cap * st->m) * sizeof *scores);
    if (scores)
        st->scores = scores;
    int64_t *target = realloc(st->target, (size_t)cap * sizeof *target);
    if (target)
        st->target = target;
    double *weight = realloc(st->weight, (size_t)cap * sizeof *weight);
    if (weight)
        st->weight = weight;
    ranking_pair *pairs = realloc(st->pairs, (size_t)cap * sizeof *pairs);
    if (pairs)
        st->pairs = pairs;
    if (!scores || !target || !weight || !pairs) {
        metrics_host->error("metric '%s': out of memory keeping the scores of %lld samples",
                            st->base.metric, (long long)need);
        return DLH_ENOMEM;
    }
    st->cap = cap;
    return 0;
}

int ranking_update(void *state, const dlh_metric_batch *batch)
{
    ranking_state *st = state;
    int64_t c = st->base.classes;
    int rc = ranking_reserve(st, st->n + batch->n);
    if (rc < 0)
        return rc;
    for (int64_t i = 0; i < batch->n; i++) {
        int64_t t, at = st->n + i;
        if ((rc = metrics_class(&st->base, batch, i, &t)) < 0)
            return rc;
        const double *row = batch->prob + i * c;
        if (st->m == 1)
            st->scores[at] = row[1];
        else
            memcpy(st->scores + at * st->m, row, (size_t)c * sizeof *row);
        st->target[at] = t;
        st->weight[at] = metrics_weight(batch, i);
    }
    st->n += batch->n;
    st->base.seen += batch->n;
    return 0;
}

static int ranking_descending(const void *a, const void *b)
{
    double x = ((const ranking_pair *)a)->score, y = ((const ranking_pair *)b)->score;
    return (x < y) - (x > y);
}

/* The score of class k's binary problem (column `col` of the kept scores). */
static double ranking_class(ranking_state *st, int64_t k, int64_t col)
{
    ranking_pair *pr = st->pairs;
    int64_t n = st->n, npos = 0;
    for (int64_t i = 0; i < n; i++) {
        pr[i].score = st->scores[i * st->m + col];
        pr[i].weight = st->weight[i];
        pr[i].positive = st->target[i] == k;
        npos += pr[i].positive;
    }
    if (!st->ap && (npos == 0 || npos == n))
        return NAN;                 /* "Only one class present in y_true" */
    qsort(pr, (size_t)n, sizeof *pr, ranking_descending);
    double tp = 0.0, fp = 0.0;
    for (int64_t i = 0; i < n; i++) {
        tp += pr[i].positive ? pr[i].weight : 0.0;
        fp += pr[i].positive ? 0.0 : pr[i].weight;
    }
    double tps = 0.0, fps = 0.0, prev_tps = 0.0, prev_fps = 0.0, area = 0.0;
    if (st->ap && tp == 0.0)
        return 0.0;                 /* recall is 1 everywhere, precision 0 at the top */
    for (int64_t i = 0; i < n; i++) {
        tps += pr[i].positive ? pr[i].weight : 0.0;
        fps += pr[i].positive ? 0.0 : pr[i].weight;
        if (i + 1 < n && pr[i + 1].score == pr[i].score)
            continue;
        if (st->ap) {
            double ps = tps + fps;
            area += (tps / tp - prev_tps / tp) * (ps != 0.0 ? tps / ps : 0.0);
        } else {
            area += (fps / fp - prev_fps / fp) * (tps / tp + prev_tps / tp) / 2.0;
        }
        prev_tps = tps;
        prev_fps = fps;
    }
    return area;
}

int ranking_result(void *state, double *values, const dlh_metric_table **table)
{
    ranking_state *st = state;
    int64_t c = st->base.classes;
    (void)table;
    if (!st->n) {
        for (int32_t i = 0; i < st->base.n_names; i++)
            values[i] = NAN;
        return 0;
    }
    if (st->average == METRICS_BINARY) {
        values[0] = ranking_class(st, 1, 0);
        return 0;
    }
    if (st->average == METRICS_NONE) {
        for (int64_t k = 0; k < c; k++)
            values[k] = ranking_class(st, k, k);
        return 0;
    }
    double sum = 0.0, wsum = 0.0;
    if (st->average == METRICS_WEIGHTED) {
        for (int64_t i = 0; i < st->n; i++)
            wsum += st->weight[i];
        if (fabs(wsum) <= 1e-8) {   /* numpy's isclose(sum, 0) */
            values[0] = 0.0;
            return 0;
        }
    }
    for (int64_t k = 0; k < c; k++) {
        double s = ranking_class(st, k, k), w = 0.0;
        if (st->average != METRICS_WEIGHTED) {
            sum += s;
            continue;
        }
        int64_t npos = 0;
        for (int64_t i = 0; i < st->n; i++) {
            npos += st->target[i] == k;
            w += st->target[i] == k ? st->weight[i] : 0.0;
        }
        /* scikit-learn raises for an absent class before it forces the
           scores of classes of weight 0 to 0 */
        if (!st->ap && (npos == 0 || npos == st->n))
            sum = NAN;
        else
            sum += w == 0.0 ? 0.0 : s * w;
    }
    values[0] = st->average == METRICS_WEIGHTED ? sum / wsum : sum / (double)c;
    return 0;
}

void ranking_free(void *state)
{
    ranking_state *st = state;
    if (!st)
        return;
    free(st->scores);
    free(st->target);
    free(st->weight);
    free(st->pairs);
    metrics_state_free(st);
}
