/* Metrics as the core runs them (see metrics.h). */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "eval.h"
#include "experiment.h"
#include "graph.h"
#include "instance.h"
#include "registry.h"
#include "rundir.h"

static void *metrics_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        dlh_error_set("out of memory");
    return p;
}

/* "file:line: " of a setting, or the experiment file. */
static void metrics_where(const dlh_experiment *e, const config_setting_t *s, char *buf,
                          size_t size)
{
    const char *file = s ? config_setting_source_file(s) : NULL;
    int line = s ? config_setting_source_line(s) : 0;
    file = file ? file : dlh_config_path(e->cfg);
    if (line > 0)
        snprintf(buf, size, "%s:%d: ", file, line);
    else
        snprintf(buf, size, "%s: ", file);
}

/* What the metrics see of e's primary head (metric.h). */
static void metrics_input(const dlh_experiment *e, dlh_metric_set *set)
{
    const dlh_exp_head *h = &e->heads[0];
    int32_t out = h->loss->ops->output;
    set->width = h->n_outputs;
    set->output = out;
    if (h->target_kind == DLH_TARGET_CLASS) {
        set->input = DLH_METRIC_CLASSES;
        set->classes = h->n_classes;
        set->binary = h->n_outputs == 1;
    } else if (h->n_outputs == 1 &&
               (out == DLH_LOSS_OUTPUT_LOGITS || out == DLH_LOSS_OUTPUT_PROB ||
                out == DLH_LOSS_OUTPUT_LOG_PROB)) {
        /* One sigmoid output on 0/1 targets (bce): a binary classifier. */
        set->input = DLH_METRIC_CLASSES;
        set->classes = 2;
        set->binary = 1;
    } else {
        set->input = DLH_METRIC_VALUES;
    }
}

/* Checks a column name: something metrics.csv can hold unquoted. */
static int metrics_col_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s == ',' || *s == '"' || (unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

/* "<split>_<v>", the part of v before its first '.' replaced by rename. */
static char *metrics_col(const char *split, const char *rename, const char *v)
{
    const char *dot = strchr(v, '.');
    const char *tail = rename ? (dot ? dot : "") : v;
    const char *head = rename ? rename : "";
    size_t len = strlen(split) + 1 + strlen(head) + strlen(tail) + 1;
    char *c = malloc(len);
    if (!c) {
        dlh_error_set("out of memory");
        return NULL;
    }
    snprintf(c, len, "%s_%s%s", split, head, tail);
    return c;
}

static int metrics_open_one(dlh_experiment *e, dlh_metric_set *set, config_setting_t *entry,
                            dlh_metric_inst *mi)
{
    static const char *const reserved[] = { "type", "name", NULL };
    /* A name in the list is located at the list (libconfig gives its
       elements no line of their own), a group at itself. */
    int group = config_setting_is_group(entry);
    char where[512];
    metrics_where(e, group ? entry : e->metrics_cfg, where, sizeof where);
    const char *type = group ? NULL : config_setting_get_string(entry);
    const char *rename = NULL;
    int rc;
    dlh_params *p = dlh_exp_params(e, group ? entry : e->metrics_cfg, "metrics",
                                   group ? reserved : NULL);
    if (!p)
        return DLH_ENOMEM;
    if (group && ((rc = dlh_param_string(p, "type", NULL, &type)) ||
                  (rc = dlh_param_string(p, "name", "", &rename))))
        return dlh_exp_locate(p, NULL, rc);
    rename = rename && *rename ? rename : NULL;
    const dlh_component *c = dlh_registry_find(DLH_KIND_METRIC, type);
    if (!c) {
        dlh_error_prefix("%smetrics: ", where);
        return DLH_ECONFIG;
    }
    /* The metric's own view: its messages name it ("f.cfg:9: metrics:
       metric 'mae': needs regression targets"). */
    char label[256];
    snprintf(label, sizeof label, "metrics: metric '%s'", type);
    if (!(p = dlh_exp_params(e, group ? entry : e->metrics_cfg, label,
                             group ? reserved : NULL)))
        return DLH_ENOMEM;
    dlh_params_set_doc(p, c->params, c->n_params);
    mi->ops = c->ops;
    mi->type = type;
    dlh_metric_setup s = { sizeof s, p, set->input, set->input == DLH_METRIC_CLASSES
                                                        ? set->classes : 0,
                           set->width, set->binary, NULL, 0, NULL, 0 };
    if (set->input == DLH_METRIC_CLASSES && e->class_names && e->n_class_names == set->classes)
        s.class_names = e->class_names;
    if ((rc = mi->ops->create(dlh_host_table(), &s, &mi->state))) {
        mi->state = NULL;
        return dlh_exp_locate_label(p, NULL, rc);
    }
    if (group && (rc = dlh_params_check_unused(p)))
        return rc;
    if (s.n_values < 0 || (s.n_values > 0 && !s.names)) {
        dlh_error_set("%smetric '%s': its create gave %d values without names (a plugin "
                      "bug)", where, type, (int)s.n_values);
        return DLH_EPLUGIN;
    }
    mi->n_values = s.n_values;
    mi->goal = s.goal > 0 ? DLH_METRIC_MAX : s.goal < 0 ? DLH_METRIC_MIN : 0;
    if (!(mi->cols = metrics_calloc((size_t)s.n_values, sizeof *mi->cols)) ||
        !(mi->values = metrics_calloc((size_t)s.n_values, sizeof *mi->values)))
        return DLH_ENOMEM;
    for (int i = 0; i < s.n_values; i++) {
        if (!s.names[i] || !(mi->cols[i] = metrics_col(set->split, rename, s.names[i])))
            return s.names[i] ? DLH_ENOMEM : DLH_EPLUGIN;
        if (!metrics_col_ok(mi->cols[i])) {
            dlh_error_set("%smetric '%s': value name '%s' cannot be a metrics.csv column "
                          "(no commas, quotes or control characters)", where, type,
                          mi->cols[i]);
            return DLH_ECONFIG;
        }
        mi->values[i] = NAN;
    }
    return 0;
}

/* Whether column `col` is already taken in set (instances before `upto`)
   or by the first `k` values of instance upto. */
static int metrics_taken(const dlh_metric_set *set, int upto, int k, const char *col)
{
    for (int j = 0; j <= upto; j++)
        for (int i = 0; i < (j < upto ? set->m[j].n_values : k); i++)
            if (strcmp(set->m[j].cols[i], col) == 0)
                return 1;
    return 0;
}

int dlh_metrics_open(dlh_experiment *e, const char *split, dlh_metric_set *set)
{
    memset(set, 0, sizeof *set);
    set->split = split;
    config_setting_t *list = e->metrics_cfg;
    int n = list ? config_setting_length(list) : 0;
    if (n == 0)
        return 0;
    metrics_input(e, set);
    set->max_batch = e->max_batch;
    if (!(set->m = metrics_calloc((size_t)n, sizeof *set->m)))
        return DLH_ENOMEM;
    for (int i = 0; i < n; i++) {
        config_setting_t *entry = config_setting_get_elem(list, (unsigned)i);
        const char *bare = config_setting_is_group(entry) ? NULL
                                                           : config_setting_get_string(entry);
        /* The loss is always reported; so is a class-target model's top-1
           accuracy, with the argmax on the backend (eval.c). */
        if (bare && (strcmp(bare, "loss") == 0 ||
                     (strcmp(bare, "accuracy") == 0 && e->target_kind == DLH_TARGET_CLASS)))
            continue;
        dlh_metric_inst *mi = &set->m[set->n++];
        int rc = metrics_open_one(e, set, entry, mi);
        if (rc)
            return rc;
        for (int k = 0; k < mi->n_values; k++)
            if (metrics_taken(set, set->n - 1, k, mi->cols[k])) {
                char where[512];
                metrics_where(e, entry, where, sizeof where);
                dlh_error_set("%smetrics: column '%s' twice; give one entry a name: "
                              "{ type = \"%s\"; name = \"...\"; }", where, mi->cols[k],
                              mi->type);
                return DLH_ECONFIG;
            }
    }
    size_t cls = set->input == DLH_METRIC_CLASSES ? (size_t)set->classes : 0;
    size_t mb = (size_t)set->max_batch, w = (size_t)set->width;
    if (set->n > 0 &&
        (!(set->pred = metrics_calloc(mb * w, sizeof *set->pred)) ||
         !(set->target = metrics_calloc(mb * (cls ? 1 : w), sizeof *set->target)) ||
         (cls && !(set->prob = metrics_calloc(mb * cls, sizeof *set->prob)))))
        return DLH_ENOMEM;
    return 0;
}

void dlh_metrics_close(dlh_metric_set *set)
{
    for (int j = 0; set->m && j < set->n; j++) {
        dlh_metric_inst *mi = &set->m[j];
        if (mi->state && mi->ops->destroy)
            mi->ops->destroy(mi->state);
        for (int i = 0; mi->cols && i < mi->n_values; i++)
            free(mi->cols[i]);
        free(mi->cols);
        free(mi->values);
    }
    free(set->m);
    free(set->pred);
    free(set->target);
    free(set->prob);
    memset(set, 0, sizeof *set);
}

void dlh_metrics_reset(dlh_metric_set *set)
{
    for (int j = 0; j < set->n; j++) {
        set->m[j].ops->reset(set->m[j].state);
        set->m[j].table = NULL;
    }
}

/* Probability rows of the b outputs in set->pred (metric.h). */
void dlh_output_probs(int32_t output, int binary, const float *x, int64_t classes,
                      double *p)
{
    if (binary) {
        double v = x[0];
        double p1 = output == DLH_LOSS_OUTPUT_PROB ? v
                    : output == DLH_LOSS_OUTPUT_LOG_PROB ? exp(v)
                    : 1.0 / (1.0 + exp(-v));
        p[0] = 1.0 - p1;
        p[1] = p1;
    } else if (output == DLH_LOSS_OUTPUT_PROB) {
        for (int64_t k = 0; k < classes; k++)
            p[k] = x[k];
    } else if (output == DLH_LOSS_OUTPUT_LOG_PROB) {
        for (int64_t k = 0; k < classes; k++)
            p[k] = exp((double)x[k]);
    } else {
        double m = x[0], s = 0.0;
        for (int64_t k = 1; k < classes; k++)
            m = x[k] > m ? x[k] : m;
        for (int64_t k = 0; k < classes; k++)
            s += p[k] = exp((double)x[k] - m);
        for (int64_t k = 0; k < classes; k++)
            p[k] /= s;
    }
}

static void metrics_prob(dlh_metric_set *set, int64_t b)
{
    for (int64_t i = 0; i < b; i++)
        dlh_output_probs(set->output, set->binary, set->pred + i * set->width, set->classes,
                         set->prob + i * set->classes);
}

int dlh_metrics_batch(dlh_metric_set *set, dlh_evaluator *ev, const dlh_batch *bt)
{
    if (set->n == 0)
        return 0;
    dlh_experiment *e = ev->e;
    const dlh_backend *be = e->backend;
    const dlh_exp_head *h = &e->heads[0];
    const dlh_tensor *out = dlh_graph_node_output(e->graph, h->node);
    int64_t b = bt->n, w = set->width;
    int rc = be->ops->read(be->ctx, out->mem.buf, out->mem.off * sizeof(float), set->pred,
                           (size_t)(b * w) * sizeof(float));
    if (rc)
        return rc;
    const float *y = h->slice_count > 0 ? ev->heads[0].host_y : bt->y;
    const float *target = y;
    if (set->input == DLH_METRIC_CLASSES) {
        metrics_prob(set, b);
        for (int64_t i = 0; i < b; i++) {
            float t = y[i];
            if (ev->soft) {
                /* A probability row: its largest entry (the first of ties). */
                const float *row = y + i * set->classes;
                int64_t k = 0;
                for (int64_t j = 1; j < set->classes; j++)
                    k = row[j] > row[k] ? j : k;
                t = (float)k;
            } else if (h->target_kind != DLH_TARGET_CLASS) {
                t = t >= 0.5f ? 1.0f : 0.0f;
            }
            set->target[i] = t;
        }
        target = set->target;
    }
    dlh_metric_batch mb = { sizeof mb, b, set->pred, set->prob, target, bt->w };
    for (int j = 0; j < set->n; j++) {
        dlh_metric_inst *mi = &set->m[j];
        if ((rc = mi->ops->update(mi->state, &mb))) {
            dlh_error_prefix("metric '%s': ", mi->type);
            return rc;
        }
    }
    return 0;
}

int dlh_metrics_result(dlh_metric_set *set)
{
    for (int j = 0; j < set->n; j++) {
        dlh_metric_inst *mi = &set->m[j];
        mi->table = NULL;
        int rc = mi->ops->result(mi->state, mi->values, &mi->table);
        if (rc) {
            dlh_error_prefix("metric '%s': ", mi->type);
            return rc;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- columns */

static int metrics_add_col(dlh_metric_col *cols, int *n, const char *name, int goal)
{
    if (*n >= DLH_METRICS_MAX_EXTRA) {
        dlh_error_set("metrics.csv: more than %d columns (each head's and each metric's "
                      "values count)", DLH_METRICS_MAX_EXTRA);
        return DLH_ECONFIG;
    }
    if (!(cols[*n].name = strdup(name))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    cols[(*n)++].goal = goal;
    return 0;
}

static int metrics_set_cols(const dlh_metric_set *set, dlh_metric_col *cols, int *n)
{
    for (int j = 0; set && j < set->n; j++)
        for (int i = 0; i < set->m[j].n_values; i++) {
            const char *c = set->m[j].cols[i];
            const char *u = strchr(c, '_');
            if (u && strcmp(u + 1, "accuracy") == 0)
                continue;           /* the fixed column */
            int rc = metrics_add_col(cols, n, c, set->m[j].goal);
            if (rc)
                return rc;
        }
    return 0;
}

int dlh_metrics_columns(const dlh_experiment *e, dlh_metric_col **out, int *n_out)
{
    dlh_metric_col *cols = metrics_calloc(DLH_METRICS_MAX_EXTRA, sizeof *cols);
    int n = 0, rc = 0;
    *out = NULL;
    *n_out = 0;
    if (!cols)
        return DLH_ENOMEM;
    for (int h = 0; rc == 0 && e->loss_list && h < e->n_heads; h++)
        for (int k = 0; rc == 0 && k < DLH_METRICS_N_FIXED; k++) {
            if ((k & 1) && e->heads[h].target_kind != DLH_TARGET_CLASS)
                continue;
            char name[256];
            snprintf(name, sizeof name, "%s.%s", dlh_metrics_fixed[k], e->heads[h].name);
            rc = metrics_add_col(cols, &n, name, k & 1 ? DLH_METRIC_MAX : DLH_METRIC_MIN);
        }
    if (rc == 0)
        rc = metrics_set_cols(e->metrics_train, cols, &n);
    if (rc == 0)
        rc = metrics_set_cols(e->metrics_val, cols, &n);
    if (rc) {
        dlh_metrics_columns_free(cols, n);
        return rc;
    }
    *out = cols;
    *n_out = n;
    return 0;
}

void dlh_metrics_columns_free(dlh_metric_col *cols, int n)
{
    for (int i = 0; cols && i < n; i++)
        free(cols[i].name);
    free(cols);
}

/* Whether set has a value named "<split>_accuracy". */
static int metrics_has_accuracy(const dlh_metric_set *set)
{
    for (int j = 0; set && j < set->n; j++)
        for (int i = 0; i < set->m[j].n_values; i++) {
            const char *u = strchr(set->m[j].cols[i], '_');
            if (u && strcmp(u + 1, "accuracy") == 0)
                return 1;
        }
    return 0;
}

int dlh_metrics_goal(const dlh_experiment *e, const char *name, int *goal)
{
    int cls = e->target_kind == DLH_TARGET_CLASS;
    for (int k = 0; k < DLH_METRICS_N_FIXED; k++) {
        if (strcmp(name, dlh_metrics_fixed[k]) != 0)
            continue;
        if (!(k & 1)) {
            *goal = DLH_METRIC_MIN;
            return 1;
        }
        if (cls || metrics_has_accuracy(k < 2 ? e->metrics_train : e->metrics_val)) {
            *goal = DLH_METRIC_MAX;
            return 1;
        }
    }
    for (int i = 0; i < e->n_cols; i++)
        if (strcmp(e->cols[i].name, name) == 0) {
            *goal = e->cols[i].goal;
            return 1;
        }
    return 0;
}

int dlh_metrics_run_columns(const dlh_experiment *e, const char **names)
{
    int has_val = e->validation.ops || e->validation_split > 0.0, goal, k = 0;
    for (int i = 0; i < DLH_METRICS_N_FIXED; i++)
        if ((i < 2 || has_val) && dlh_metrics_goal(e, dlh_metrics_fixed[i], &goal))
            names[k++] = dlh_metrics_fixed[i];
    for (int i = 0; i < e->n_cols; i++)
        if (has_val || strncmp(e->cols[i].name, "val_", 4) != 0)
            names[k++] = e->cols[i].name;
    return k;
}

void dlh_metrics_print(FILE *out, const char *lead, const dlh_metric_set *set)
{
    int k = 0;
    for (int j = 0; set && j < set->n; j++)
        for (int i = 0; i < set->m[j].n_values; i++) {
            const char *c = set->m[j].cols[i], *u = strchr(c, '_');
            double v = set->m[j].values[i];
            if (k++ == 0)
                fputs(lead, out);
            if (isnan(v))
                fprintf(out, "  %s -", u ? u + 1 : c);
            else
                fprintf(out, "  %s %.4f", u ? u + 1 : c, v);
        }
    if (k)
        fputc('\n', out);
}
