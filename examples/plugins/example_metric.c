/* specificity — an out-of-tree metric built only against the installed SDK.
 *
 * Specificity (the true negative rate) of class k, one against the rest:
 * TN_k / (TN_k + FP_k), from a weighted confusion matrix kept over the pass
 * (scikit-learn: multilabel_confusion_matrix's tn / (tn + fp), with
 * sample_weight; 0 where nothing is negative, its zero_division).  With 2
 * classes the value is class 1's (the recall of class 0, scikit-learn's
 * recall_score(pos_label=0)); with more, the mean over the classes.  The
 * predicted class is the first most probable; `threshold` sets a one-sigmoid
 * model's (class 1 when p > threshold, default 0.5).
 *
 * What a metric plugin does (include/dlhost/metric.h): create checks the
 * input and fills n_values, names and goal; reset, update per batch on host
 * data, result at the end of the pass.  The state allocates in create only.
 *
 * Build: cc -O2 $(pkg-config --cflags dlhost) -shared -fPIC -o example_metric.so example_metric.c
 * Use:   metrics = ( "accuracy", { type = "specificity"; } ); */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <dlhost/dlhost.h>

typedef struct specificity {
    const dlh_host *host;           /* update gets no host of its own */
    int64_t classes;
    int binary;
    double threshold;
    double *cm;                     /* [classes * classes]: rows true, cols predicted */
    int64_t seen;
} specificity;

static const char *const specificity_names[] = { "specificity" };

static int specificity_create(const dlh_host *host, dlh_metric_setup *setup, void **state)
{
    const double half = 0.5;
    double threshold = 0.5;
    *state = NULL;
    if (setup->input != DLH_METRIC_CLASSES)
        return host->param_error(setup->params, NULL, "needs class targets; this model has "
                                 "regression targets");
    if (setup->binary) {
        int rc = host->param_float(setup->params, "threshold", &half, 0.0, 1.0, &threshold);
        if (rc < 0)
            return rc;
    }
    specificity *s = calloc(1, sizeof *s);
    *state = s;                     /* destroy runs even if the rest fails */
    if (s)
        s->cm = calloc((size_t)(setup->classes * setup->classes), sizeof *s->cm);
    if (!s || !s->cm) {
        host->error("specificity: out of memory");
        return DLH_ENOMEM;
    }
    s->host = host;
    s->classes = setup->classes;
    s->binary = setup->binary;
    s->threshold = threshold;
    setup->n_values = 1;
    setup->names = specificity_names;
    setup->goal = DLH_METRIC_MAX;
    return 0;
}

static void specificity_reset(void *state)
{
    specificity *s = state;
    memset(s->cm, 0, (size_t)(s->classes * s->classes) * sizeof *s->cm);
    s->seen = 0;
}

static int specificity_update(void *state, const dlh_metric_batch *batch)
{
    specificity *s = state;
    int64_t c = s->classes;
    for (int64_t i = 0; i < batch->n; i++) {
        float t = batch->target[i];
        if (!(t >= 0.0f && t < (float)c) || t != (float)(int64_t)t) {
            s->host->error("specificity: the target of sample %lld is %g, not a class in "
                           "[0, %lld)", (long long)i, (double)t, (long long)c);
            return DLH_EINVAL;
        }
        const double *row = batch->prob + i * c;
        int64_t p = 0;
        if (s->binary) {
            p = row[1] > s->threshold;
        } else {
            for (int64_t k = 1; k < c; k++)
                if (row[k] > row[p])
                    p = k;
        }
        s->cm[(int64_t)t * c + p] += batch->weight ? (double)batch->weight[i] : 1.0;
    }
    s->seen += batch->n;
    return 0;
}

/* TN_k / (TN_k + FP_k): the negatives of class k are the rows r != k. */
static double specificity_of(const specificity *s, int64_t k)
{
    int64_t c = s->classes;
    double tn = 0.0, fp = 0.0;
    for (int64_t r = 0; r < c; r++) {
        if (r == k)
            continue;
        for (int64_t p = 0; p < c; p++) {
            if (p == k)
                fp += s->cm[r * c + p];
            else
                tn += s->cm[r * c + p];
        }
    }
    return tn + fp > 0.0 ? tn / (tn + fp) : 0.0;
}

static int specificity_result(void *state, double *values, const dlh_metric_table **table)
{
    const specificity *s = state;
    (void)table;
    if (!s->seen) {
        values[0] = NAN;            /* no sample */
        return 0;
    }
    if (s->classes == 2) {
        values[0] = specificity_of(s, 1);
        return 0;
    }
    double sum = 0.0;
    for (int64_t k = 0; k < s->classes; k++)
        sum += specificity_of(s, k);
    values[0] = sum / (double)s->classes;
    return 0;
}

static void specificity_destroy(void *state)
{
    specificity *s = state;
    if (s)
        free(s->cm);
    free(s);
}

static const dlh_metric_ops specificity_ops = {
    .struct_size = sizeof(dlh_metric_ops),
    .create = specificity_create,
    .reset = specificity_reset,
    .update = specificity_update,
    .result = specificity_result,
    .destroy = specificity_destroy,
};

/* Its parameters, for `dlhost plugins --verbose` and the host's checks. */
static const dlh_param_doc specificity_params[] = {
    { "threshold", DLH_PARAM_FLOAT, "0.5", 0.0, 1.0, NULL,
      "one-sigmoid models: class 1 when the probability is above it" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};

static int specificity_init(const dlh_host *host, dlh_registrar *reg)
{
    (void)host;
    int rc = reg->add(reg, DLH_KIND_METRIC, "specificity", &specificity_ops,
                      "true negative rate, one class against the rest (macro over classes)");
    if (rc < 0)
        return rc;
    return reg->describe(reg, DLH_KIND_METRIC, "specificity", specificity_params);
}

DLH_PLUGIN("example_metric", "1.0.0", "specificity metric, an out-of-tree example", "MIT",
           specificity_init)
