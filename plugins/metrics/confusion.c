/* confusion: scikit-learn's confusion_matrix with labels = [0, classes)
 * and sample_weight, reported as the table "confusion" (rows the true
 * class, columns the predicted one, named after the classes when the data
 * names them) and no value.  normalize = "true" divides each row by its sum,
 * "pred" each column, "all" every cell by the total; a 0/0 is 0
 * (scikit-learn's nan_to_num). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

enum { CONFUSION_NONE, CONFUSION_TRUE, CONFUSION_PRED, CONFUSION_ALL };

typedef struct confusion_state {
    metrics_cm cm;
    int normalize;
    double *shown;                  /* [classes * classes], the table's values */
    char **class_names;             /* [classes] copies, or NULL */
    dlh_metric_table table;
} confusion_state;

static void confusion_free(void *state)
{
    confusion_state *st = state;
    if (!st)
        return;
    if (st->class_names)
        for (int64_t k = 0; k < st->cm.base.classes; k++)
            free(st->class_names[k]);
    free(st->class_names);
    free(st->shown);
    metrics_cm_free(st);
}

static int confusion_create(const dlh_host *host, dlh_metric_setup *setup, void **state)
{
    static const char *const modes[] = { "none", "true", "pred", "all", NULL };
    int normalize, rc;
    *state = NULL;
    if ((rc = metrics_need(host, setup, DLH_METRIC_CLASSES)) < 0 ||
        (rc = host->param_choice(setup->params, "normalize", modes, 0, &normalize)) < 0 ||
        (rc = metrics_cm_new(host, setup, "confusion", sizeof(confusion_state), state)) < 0)
        return rc;
    confusion_state *st = *state;
    int64_t c = setup->classes;
    st->normalize = normalize;
    st->shown = calloc((size_t)(c * c), sizeof *st->shown);
    if (!st->shown)
        goto nomem;
    if (setup->class_names) {
        st->class_names = calloc((size_t)c, sizeof *st->class_names);
        if (!st->class_names)
            goto nomem;
        for (int64_t k = 0; k < c; k++) {
            const char *name = setup->class_names[k] ? setup->class_names[k] : "";
            if (!(st->class_names[k] = strdup(name)))
                goto nomem;
        }
    }
    st->table = (dlh_metric_table){
        .name = "confusion", .rows = c, .cols = c,
        .row_names = (const char *const *)st->class_names,
        .col_names = (const char *const *)st->class_names,
        .values = st->shown,
    };
    setup->n_values = 0;
    setup->names = NULL;
    setup->goal = 0;
    return 0;
nomem:
    host->error("out of memory");
    return DLH_ENOMEM;
}

static int confusion_result(void *state, double *values, const dlh_metric_table **table)
{
    confusion_state *st = state;
    const double *m = st->cm.m;
    int64_t c = st->cm.base.classes;
    double total = metrics_cm_total(&st->cm);
    (void)values;
    for (int64_t r = 0; r < c; r++)
        for (int64_t k = 0; k < c; k++) {
            double d = 1.0;
            if (st->normalize == CONFUSION_ALL) {
                d = total;
            } else if (st->normalize != CONFUSION_NONE) {
                d = 0.0;
                for (int64_t j = 0; j < c; j++)
                    d += st->normalize == CONFUSION_TRUE ? m[r * c + j] : m[j * c + k];
            }
            double v = m[r * c + k] / d;
            st->shown[r * c + k] = isnan(v) ? 0.0 : v;
        }
    *table = &st->table;
    return 0;
}

const dlh_metric_ops confusion_ops = {
    .struct_size = sizeof(dlh_metric_ops),
    .create = confusion_create,
    .reset = metrics_cm_reset,
    .update = metrics_cm_update,
    .result = confusion_result,
    .destroy = confusion_free,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc confusion_params[] = {
    { "normalize", DLH_PARAM_CHOICE, "none", 0, 0, "none|true|pred|all", "counts, or divided by the row (true), column (pred) or grand (all) total" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
