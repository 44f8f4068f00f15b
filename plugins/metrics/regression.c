/* What mae, rmse and r2 share: per output j, over the pass, the weight
 * total W, sum_i w_i |y_ij - f_ij|, sum_i w_i (y_ij - f_ij)^2 and, for r2,
 * the targets' weighted mean and squared deviations about it, merged batch
 * by batch (Chan, Golub and LeVeque's pairwise update, so the result does
 * not depend on how the pass is cut into batches beyond rounding) and their
 * least and largest value (a constant target's deviations are exactly 0,
 * as scikit-learn finds them).  Fixed memory: 6 doubles per output.
 * Several outputs are averaged uniformly (multioutput="uniform_average"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

enum { ACC_ABS, ACC_SQ, ACC_MEAN, ACC_M2, ACC_LO, ACC_HI, ACC_COUNT };

typedef struct regression_state {
    metrics_base base;
    int which;
    double total;
    double *acc;                    /* [ACC_COUNT * width] */
} regression_state;

int regression_create(const dlh_host *host, dlh_metric_setup *setup, void **state,
                      const char *metric, int which)
{
    int rc;
    *state = NULL;
    if ((rc = metrics_need(host, setup, DLH_METRIC_VALUES)) < 0 ||
        (rc = metrics_state_new(host, setup, metric, sizeof(regression_state), state)) < 0)
        return rc;
    regression_state *st = *state;
    st->which = which;
    st->acc = calloc((size_t)(ACC_COUNT * setup->width), sizeof *st->acc);
    if (!st->acc) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    regression_reset(st);
    return metrics_names(host, &st->base, setup, 0,
                         which == REGRESSION_R2 ? DLH_METRIC_MAX : DLH_METRIC_MIN);
}

void regression_reset(void *state)
{
    regression_state *st = state;
    int64_t w = st->base.width;
    memset(st->acc, 0, (size_t)(ACC_COUNT * w) * sizeof *st->acc);
    for (int64_t j = 0; j < w; j++) {
        st->acc[ACC_LO * w + j] = INFINITY;
        st->acc[ACC_HI * w + j] = -INFINITY;
    }
    st->total = 0.0;
    st->base.seen = 0;
}

int regression_update(void *state, const dlh_metric_batch *batch)
{
    regression_state *st = state;
    int64_t width = st->base.width, n = batch->n;
    double *acc = st->acc, wb = 0.0;
    for (int64_t i = 0; i < n; i++)
        wb += metrics_weight(batch, i);
    for (int64_t j = 0; j < width; j++) {
        double sum_abs = 0.0, sum_sq = 0.0, sum_y = 0.0, m2 = 0.0;
        double lo = acc[ACC_LO * width + j], hi = acc[ACC_HI * width + j];
        for (int64_t i = 0; i < n; i++) {
            double w = metrics_weight(batch, i), y = batch->target[i * width + j];
            double d = y - (double)batch->pred[i * width + j];
            sum_abs += w * fabs(d);
            sum_sq += w * d * d;
            sum_y += w * y;
            lo = fmin(lo, y);
            hi = fmax(hi, y);
        }
        acc[ACC_ABS * width + j] += sum_abs;
        acc[ACC_SQ * width + j] += sum_sq;
        acc[ACC_LO * width + j] = lo;
        acc[ACC_HI * width + j] = hi;
        if (st->which != REGRESSION_R2 || wb == 0.0)
            continue;
        double mean = sum_y / wb;
        for (int64_t i = 0; i < n; i++) {
            double d = batch->target[i * width + j] - mean;
            m2 += metrics_weight(batch, i) * d * d;
        }
        double wa = st->total, wt = wa + wb, delta = mean - acc[ACC_MEAN * width + j];
        acc[ACC_MEAN * width + j] += delta * (wb / wt);
        acc[ACC_M2 * width + j] += m2 + delta * delta * (wa * wb / wt);
    }
    st->total += wb;
    st->base.seen += n;
    return 0;
}

/* r2 of output j, scikit-learn's force_finite rules: 1 - num/den, 0 for a
   constant target predicted imperfectly, 1 for a perfect prediction. */
static double regression_r2(const regression_state *st, int64_t j)
{
    int64_t width = st->base.width;
    const double *acc = st->acc;
    double num = acc[ACC_SQ * width + j];
    double den = acc[ACC_LO * width + j] == acc[ACC_HI * width + j]
                     ? 0.0 : acc[ACC_M2 * width + j];
    if (num == 0.0)
        return 1.0;
    return den == 0.0 ? 0.0 : 1.0 - num / den;
}

int regression_result(void *state, double *values, const dlh_metric_table **table)
{
    const regression_state *st = state;
    int64_t width = st->base.width;
    double sum = 0.0;
    (void)table;
    /* scikit-learn raises for weights summing to 0; r2 is NaN below 2 samples */
    if (!st->base.seen || st->total == 0.0 ||
        (st->which == REGRESSION_R2 && st->base.seen < 2)) {
        values[0] = NAN;
        return 0;
    }
    for (int64_t j = 0; j < width; j++) {
        if (st->which == REGRESSION_MAE)
            sum += st->acc[ACC_ABS * width + j] / st->total;
        else if (st->which == REGRESSION_RMSE)
            sum += st->acc[ACC_SQ * width + j] / st->total;
        else
            sum += regression_r2(st, j);
    }
    sum /= (double)width;
    values[0] = st->which == REGRESSION_RMSE ? sqrt(sum) : sum;
    return 0;
}

void regression_free(void *state)
{
    regression_state *st = state;
    if (!st)
        return;
    free(st->acc);
    metrics_state_free(st);
}
