/* Entry point of the "metrics" plugin, and the helpers its metrics share:
 * the state's common part, the input check, value names, the average and
 * zero_division parameters, and the weighted confusion matrix. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

const dlh_host *metrics_host;

int metrics_state_new(const dlh_host *host, const dlh_metric_setup *setup,
                      const char *metric, size_t size, void **state)
{
    metrics_base *b = calloc(1, size);
    *state = b;
    if (!b) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    b->metric = metric;
    b->classes = setup->classes;
    b->width = setup->width;
    b->binary = setup->binary;
    return 0;
}

void metrics_base_free(metrics_base *b)
{
    if (!b->names)
        return;
    for (int32_t i = 0; i < b->n_names; i++)
        free(b->names[i]);
    free(b->names);
    b->names = NULL;
}

void metrics_state_free(void *state)
{
    if (!state)
        return;
    metrics_base_free(state);
    free(state);
}

int metrics_need(const dlh_host *host, const dlh_metric_setup *setup, int32_t input)
{
    static const char *const what[] = { "an unknown input", "class targets",
                                        "regression targets" };
    int32_t got = setup->input;
    if (got != input)
        return host->param_error(setup->params, NULL, "needs %s; this model has %s",
                                 what[input],
                                 what[got == DLH_METRIC_CLASSES || got == DLH_METRIC_VALUES
                                      ? got : 0]);
    if (input == DLH_METRIC_CLASSES && setup->classes < 2)
        return host->param_error(setup->params, NULL, "needs at least 2 classes, got "
                                 "%lld", (long long)setup->classes);
    if (input == DLH_METRIC_VALUES && setup->width < 1)
        return host->param_error(setup->params, NULL, "needs at least 1 value per "
                                 "sample, got %lld", (long long)setup->width);
    return 0;
}

int metrics_names(const dlh_host *host, metrics_base *b, dlh_metric_setup *setup,
                  int per_class, int32_t goal)
{
    int32_t n = per_class ? (int32_t)b->classes : 1;
    b->names = calloc((size_t)n, sizeof *b->names);
    if (!b->names) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    b->n_names = n;
    for (int32_t i = 0; i < n; i++) {
        char index[24];
        const char *cls = NULL;
        if (per_class) {
            cls = setup->class_names ? setup->class_names[i] : NULL;
            if (!cls) {
                snprintf(index, sizeof index, "%d", (int)i);
                cls = index;
            }
        }
        size_t len = strlen(b->metric) + (cls ? strlen(cls) + 1 : 0) + 1;
        b->names[i] = malloc(len);
        if (!b->names[i]) {
            host->error("out of memory");
            return DLH_ENOMEM;
        }
        snprintf(b->names[i], len, cls ? "%s.%s" : "%s", b->metric, cls ? cls : "");
    }
    setup->n_values = n;
    setup->names = (const char *const *)b->names;
    setup->goal = goal;
    return 0;
}

int metrics_class(const metrics_base *b, const dlh_metric_batch *batch, int64_t i,
                  int64_t *cls)
{
    float t = batch->target[i];
    if (!(t >= 0.0f && t < (float)b->classes) || t != floorf(t)) {
        metrics_host->error("metric '%s': the target of sample %lld is %g, not a class "
                            "in [0, %lld)", b->metric, (long long)i, (double)t,
                            (long long)b->classes);
        return DLH_EINVAL;
    }
    *cls = (int64_t)t;
    return 0;
}

int64_t metrics_argmax(const double *row, int64_t classes)
{
    int64_t best = 0;
    for (int64_t k = 1; k < classes; k++)
        if (row[k] > row[best])
            best = k;
    return best;
}

int metrics_average(const dlh_host *host, dlh_metric_setup *setup, int micro, int *average)
{
    static const char *const all[] = { "binary", "micro", "macro", "weighted", "none", NULL };
    static const char *const ranking[] = { "binary", "macro", "weighted", "none", NULL };
    static const int ranking_enum[] = { METRICS_BINARY, METRICS_MACRO, METRICS_WEIGHTED,
                                        METRICS_NONE };
    if (!host->param_has(setup->params, "average")) {
        *average = setup->classes == 2 ? METRICS_BINARY : METRICS_MACRO;
        return 0;
    }
    int rc = host->param_choice(setup->params, "average", micro ? all : ranking, -1, average);
    if (rc < 0)
        return rc;
    if (!micro)
        *average = ranking_enum[*average];
    if (*average == METRICS_BINARY && setup->classes != 2)
        return host->param_error(setup->params, "average", "parameter 'average': Target is "
                                 "multiclass but average='binary'. Please choose another "
                                 "average setting, one of [%s'macro', 'weighted', 'none'] "
                                 "(this model has %lld classes)", micro ? "'micro', " : "",
                                 (long long)setup->classes);
    return 0;
}

int metrics_zero_division(const dlh_host *host, dlh_params *p, double *out)
{
    const double zero = 0.0;
    int rc = host->param_float(p, "zero_division", &zero, 0.0, 1.0, out);
    if (rc < 0)
        return rc;
    if (*out != 0.0 && *out != 1.0)
        return host->param_error(p, "zero_division", "parameter 'zero_division': Got "
                                 "zero_division=%g. Must be one of [0, 1] (scikit-learn's "
                                 "\"warn\" is 0)", *out);
    return 0;
}

void metrics_ratio_reset(void *state)
{
    metrics_ratio *r = state;
    r->sum = r->total = 0.0;
    r->base.seen = 0;
}

int metrics_ratio_result(void *state, double *values, const dlh_metric_table **table)
{
    const metrics_ratio *r = state;
    (void)table;
    values[0] = r->base.seen ? r->sum / r->total : NAN;
    return 0;
}

/* ---------------------------------------------------------------- confusion matrix */

int metrics_cm_new(const dlh_host *host, const dlh_metric_setup *setup, const char *metric,
                   size_t size, void **state)
{
    int rc = metrics_state_new(host, setup, metric, size, state);
    if (rc < 0)
        return rc;
    metrics_cm *cm = *state;
    int64_t c = cm->base.classes;
    cm->threshold = 0.5;
    cm->m = calloc((size_t)(c * c), sizeof *cm->m);
    if (!cm->m) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    return 0;
}

void metrics_cm_reset(void *state)
{
    metrics_cm *cm = state;
    int64_t c = cm->base.classes;
    memset(cm->m, 0, (size_t)(c * c) * sizeof *cm->m);
    cm->base.seen = 0;
}

int metrics_cm_update(void *state, const dlh_metric_batch *batch)
{
    metrics_cm *cm = state;
    int64_t c = cm->base.classes;
    for (int64_t i = 0; i < batch->n; i++) {
        int64_t t, p;
        int rc = metrics_class(&cm->base, batch, i, &t);
        if (rc < 0)
            return rc;
        const double *row = batch->prob + i * c;
        p = cm->base.binary ? row[1] > cm->threshold : metrics_argmax(row, c);
        cm->m[t * c + p] += metrics_weight(batch, i);
    }
    cm->base.seen += batch->n;
    return 0;
}

void metrics_cm_free(void *state)
{
    metrics_cm *cm = state;
    if (!cm)
        return;
    free(cm->m);
    metrics_state_free(cm);
}

double metrics_cm_total(const metrics_cm *cm)
{
    double s = 0.0;
    for (int64_t i = 0; i < cm->base.classes * cm->base.classes; i++)
        s += cm->m[i];
    return s;
}

/* ---------------------------------------------------------------- entry */

static int metrics_init(const dlh_host *host, dlh_registrar *reg)
{
    static const struct {
        const char *name;
        const dlh_metric_ops *ops;
        const char *description;
        const dlh_param_doc *params;
    } list[] = {
        { "accuracy", &accuracy_ops, "fraction of samples whose top class is the target "
          "(sklearn accuracy_score; binary models: prob > threshold)", accuracy_params },
        { "top_k_accuracy", &top_k_accuracy_ops, "fraction of samples whose target is among "
          "the k most probable classes (sklearn top_k_accuracy_score)",
          top_k_accuracy_params },
        { "precision", &precision_ops, "tp / (tp + fp) (sklearn precision_score)",
          precision_params },
        { "recall", &recall_ops, "tp / (tp + fn) (sklearn recall_score)", recall_params },
        { "f1", &f1_ops, "harmonic mean of precision and recall (sklearn f1_score)",
          f1_params },
        { "fbeta", &fbeta_ops, "weighted harmonic mean of precision and recall "
          "(sklearn fbeta_score)", fbeta_params },
        { "balanced_accuracy", &balanced_accuracy_ops, "mean recall over the classes "
          "present (sklearn balanced_accuracy_score)", balanced_accuracy_params },
        { "confusion", &confusion_ops, "the confusion matrix as a table, rows true, "
          "columns predicted (sklearn confusion_matrix)", confusion_params },
        { "auroc", &auroc_ops, "area under the ROC curve, binary or one-vs-rest "
          "(sklearn roc_auc_score)", auroc_params },
        { "average_precision", &average_precision_ops, "area under the precision-recall "
          "step curve, binary or one-vs-rest (sklearn average_precision_score)",
          average_precision_params },
        { "log_loss", &log_loss_ops, "mean negative log-likelihood of the target class "
          "(sklearn log_loss)", log_loss_params },
        { "mcc", &mcc_ops, "Matthews correlation coefficient, multi-class "
          "(sklearn matthews_corrcoef)", mcc_params },
        { "mae", &mae_ops, "mean absolute error (sklearn mean_absolute_error)", mae_params },
        { "rmse", &rmse_ops, "root of the mean squared error "
          "(sklearn mean_squared_error, square-rooted)", rmse_params },
        { "r2", &r2_ops, "coefficient of determination (sklearn r2_score)", r2_params },
    };
    metrics_host = host;
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
        int rc = reg->add(reg, DLH_KIND_METRIC, list[i].name, list[i].ops,
                          list[i].description);
        if (rc < 0 ||
            (rc = reg->describe(reg, DLH_KIND_METRIC, list[i].name, list[i].params)) < 0)
            return rc;
    }
    return 0;
}

DLH_PLUGIN("metrics", "0.1.0",
           "evaluation metrics as scikit-learn defines them: accuracy, top_k_accuracy, "
           "precision, recall, f1, fbeta, balanced_accuracy, confusion, auroc, "
           "average_precision, log_loss, mcc, mae, rmse, r2", "MIT", metrics_init)
