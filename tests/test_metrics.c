/* The metrics of plugins/metrics/ against scikit-learn: each metric, loaded
 * through the registry and created from a config group the way the host
 * creates it (parameter table attached, unknown keys checked), is fed every
 * data set of tests/ref/metrics_ref.py whole, one sample at a time and in
 * batches of 7 and 5, with a reset between passes on the same instance; every
 * pass must give scikit-learn's values within 1e-9 relative (NaN where it
 * raises); the same for the third-party example
 * examples/plugins/example_metric.c (specificity).  Then the value names
 * and goals the host reads, and every refusal: bad parameters, a metric on
 * the wrong kind of targets, a target that is not a class. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "params.h"
#include "registry.h"
#include "tap.h"

#define TOL 1e-9

typedef struct metrics_set {
    const char *name;
    int32_t input;
    int64_t n, classes, width;
    int32_t binary;
    const double *prob;
    const float *pred;
    const float *target;
    const float *weight;
    const char *const *class_names;
} metrics_set;

typedef struct metrics_case {
    const char *set, *metric, *body;
    const double *values;
    int n_values;
} metrics_case;

#include "ref/metrics_ref.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

typedef struct metric {
    const dlh_metric_ops *ops;
    void *state;
    dlh_metric_setup setup;
} metric;

static void metric_free(metric *m)
{
    if (m->ops && m->ops->destroy)
        m->ops->destroy(m->state);
    m->ops = NULL;
    m->state = NULL;
}

/* Creates metric `type` for data set `s` from the group body as the host
   does: params with "type" reserved and the metric's table attached,
   create, then the unknown-key check.  On failure *m holds what create
   left, for metric_free. */
static int metric_new(const char *type, const char *body, const metrics_set *s, metric *m)
{
    static const char *const reserved[] = { "type", NULL };
    char text[1024], label[64];
    dlh_config *cfg = NULL;
    memset(m, 0, sizeof *m);
    snprintf(text, sizeof text, "metric = {\n  type = \"%s\";\n  %s\n};\n", type, body);
    snprintf(label, sizeof label, "metric '%s'", type);
    int rc = dlh_config_load_string(text, "test.cfg", &cfg);
    if (rc < 0)
        return rc;
    dlh_params *p = dlh_params_new(cfg, config_setting_get_member(dlh_config_root(cfg),
                                                                  "metric"),
                                   label, reserved);
    const dlh_component *c = dlh_registry_find(DLH_KIND_METRIC, type);
    if (!p)
        rc = DLH_ENOMEM;
    else if (!c)
        rc = DLH_ENOTFOUND;
    if (rc == 0) {
        dlh_params_set_doc(p, c->params, c->n_params);
        m->ops = c->ops;
        m->setup = (dlh_metric_setup){
            .struct_size = sizeof m->setup, .params = p, .input = s->input,
            .classes = s->classes,
            .width = s->input == DLH_METRIC_VALUES ? s->width : s->binary ? 1 : s->classes,
            .binary = s->binary, .class_names = s->class_names,
        };
        rc = m->ops->create(dlh_host_table(), &m->setup, &m->state);
    }
    if (rc == 0)
        rc = dlh_params_check_unused(p);
    m->setup.params = NULL;
    dlh_params_free(p);
    dlh_config_free(cfg);
    return rc;
}

/* Feeds samples [0, n) of `s` in batches of `batch`. */
static int metric_feed(metric *m, const metrics_set *s, int64_t batch)
{
    int64_t per = s->input == DLH_METRIC_VALUES ? s->width : 1;
    for (int64_t at = 0; at < s->n; at += batch) {
        int64_t n = s->n - at < batch ? s->n - at : batch;
        dlh_metric_batch b = {
            .struct_size = sizeof b, .n = n,
            .pred = s->pred ? s->pred + at * per : NULL,
            .prob = s->prob ? s->prob + at * s->classes : NULL,
            .target = s->target + at * per,
            .weight = s->weight ? s->weight + at : NULL,
        };
        int rc = m->ops->update(m->state, &b);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static double rel_err(double got, double want)
{
    if (isnan(want) || isnan(got))
        return isnan(want) && isnan(got) ? 0.0 : INFINITY;
    if (isinf(want) || isinf(got))
        return got == want ? 0.0 : INFINITY;
    return fabs(got - want) / fmax(fabs(want), 1e-12);
}

static const metrics_set *set_named(const char *name)
{
    for (size_t i = 0; i < N_OF(ref_sets); i++)
        if (strcmp(ref_sets[i].name, name) == 0)
            return &ref_sets[i];
    return NULL;
}

/* One case: four passes on one instance, each against the reference. */
static void check_case(const metrics_case *c)
{
    const metrics_set *s = set_named(c->set);
    metric m;
    int rc = s ? metric_new(c->metric, c->body, s, &m) : DLH_ENOTFOUND;
    if (!ok(rc == 0, "%s { %s } on %s is created", c->metric, c->body, c->set)) {
        diag("%s", dlh_error_get());
        metric_free(&m);
        return;
    }
    int is_table = strcmp(c->metric, "confusion") == 0;
    int want_n = is_table ? 0 : c->n_values;
    const int64_t batches[] = { s->n, 1, 7, 5 };
    double worst = 0.0, got_at = NAN, want_at = NAN;
    int bad = m.setup.n_values != want_n;
    if (bad)
        diag("n_values %d, expected %d", (int)m.setup.n_values, want_n);
    double values[64];
    for (size_t b = 0; !bad && b < N_OF(batches); b++) {
        m.ops->reset(m.state);
        const dlh_metric_table *table = NULL;
        if ((rc = metric_feed(&m, s, batches[b])) < 0 ||
            (rc = m.ops->result(m.state, values, &table)) < 0) {
            diag("%s", dlh_error_get());
            bad = 1;
            break;
        }
        const double *got = values;
        if (is_table) {
            if (!table || table->rows != s->classes || table->cols != s->classes ||
                table->rows * table->cols != c->n_values || strcmp(table->name, "confusion")) {
                diag("confusion: no table of %lld x %lld", (long long)s->classes,
                     (long long)s->classes);
                bad = 1;
                break;
            }
            got = table->values;
        }
        for (int k = 0; k < c->n_values; k++) {
            double e = rel_err(got[k], c->values[k]);
            if (e > worst || isinf(e)) {
                worst = e;
                got_at = got[k];
                want_at = c->values[k];
            }
        }
    }
    ok(!bad && worst <= TOL, "%s { %s } on %s: %d value%s, whole and in batches of 1, 7, 5, "
       "match scikit-learn (max rel err %.2e%s)", c->metric, c->body, c->set, c->n_values,
       c->n_values == 1 ? "" : "s", worst, "");
    if (worst > TOL)
        diag("worst: got %.17g, scikit-learn %.17g", got_at, want_at);
    metric_free(&m);
}

/* ------------------------------------------------------------ names, goals */

static void check_names(void)
{
    static const struct {
        const char *metric, *body, *set;
        int32_t goal;
        const char *names;          /* joined by spaces */
    } cases[] = {
        { "accuracy", "", "mc", DLH_METRIC_MAX, "accuracy" },
        { "top_k_accuracy", "k = 2;", "mc", DLH_METRIC_MAX, "top_k_accuracy" },
        { "precision", "", "mc", DLH_METRIC_MAX, "precision" },
        { "recall", "average = \"none\";", "mc", DLH_METRIC_MAX,
          "recall.0 recall.1 recall.2 recall.3" },
        { "f1", "average = \"none\";", "absent", DLH_METRIC_MAX, "f1.cat f1.dog f1.bird" },
        { "fbeta", "beta = 2; average = \"none\";", "two", DLH_METRIC_MAX,
          "fbeta.no fbeta.yes" },
        { "balanced_accuracy", "", "bin", DLH_METRIC_MAX, "balanced_accuracy" },
        { "confusion", "", "mc", 0, "" },
        { "auroc", "", "bin", DLH_METRIC_MAX, "auroc" },
        { "auroc", "average = \"none\";", "absent", DLH_METRIC_MAX,
          "auroc.cat auroc.dog auroc.bird" },
        { "average_precision", "", "mc", DLH_METRIC_MAX, "average_precision" },
        { "log_loss", "", "mc", DLH_METRIC_MIN, "log_loss" },
        { "mcc", "", "mc", DLH_METRIC_MAX, "mcc" },
        { "mae", "", "reg3", DLH_METRIC_MIN, "mae" },
        { "rmse", "", "reg3", DLH_METRIC_MIN, "rmse" },
        { "r2", "", "reg3", DLH_METRIC_MAX, "r2" },
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        metric m;
        char joined[256] = "";
        int rc = metric_new(cases[i].metric, cases[i].body, set_named(cases[i].set), &m);
        for (int32_t k = 0; rc == 0 && k < m.setup.n_values; k++) {
            size_t len = strlen(joined);
            snprintf(joined + len, sizeof joined - len, "%s%s", k ? " " : "",
                     m.setup.names[k]);
        }
        ok(rc == 0 && m.setup.goal == cases[i].goal && strcmp(joined, cases[i].names) == 0,
           "%s { %s } on %s: values \"%s\", goal %d", cases[i].metric, cases[i].body,
           cases[i].set, joined, (int)m.setup.goal);
        if (rc)
            diag("%s", dlh_error_get());
        metric_free(&m);
    }
    /* The confusion table names its rows and columns after the classes. */
    metric m;
    const dlh_metric_table *t = NULL;
    double none[1];
    int rc = metric_new("confusion", "", set_named("absent"), &m);
    if (rc == 0) {
        m.ops->reset(m.state);
        rc = m.ops->result(m.state, none, &t);
    }
    ok(rc == 0 && t && t->row_names && t->col_names && strcmp(t->row_names[2], "bird") == 0 &&
       strcmp(t->col_names[0], "cat") == 0 && t->values[0] == 0.0,
       "confusion: rows and columns named after the classes, zero before any sample");
    metric_free(&m);
    /* Before any sample the values are NaN. */
    rc = metric_new("precision", "average = \"none\";", set_named("mc"), &m);
    double v[4] = { 0 };
    if (rc == 0) {
        m.ops->reset(m.state);
        rc = m.ops->result(m.state, v, &t);
    }
    ok(rc == 0 && isnan(v[0]) && isnan(v[3]), "precision: NaN before any sample");
    metric_free(&m);
}

/* ------------------------------------------------------------ refusals */

static void check_refused(const char *type, const char *body, const char *set,
                          const char *want)
{
    metric m;
    int rc = metric_new(type, body, set_named(set), &m);
    const char *msg = dlh_error_get();
    ok(rc < 0 && strstr(msg, want), "%s { %s } on %s is refused: %s", type, body, set, msg);
    if (!(rc < 0 && strstr(msg, want)))
        diag("expected a message with: %s", want);
    metric_free(&m);
}

static void check_refusals(void)
{
    check_refused("precision", "average = \"bogus\";", "mc",
                  "test.cfg:3: metric 'precision': parameter 'average'");
    check_refused("precision", "average = \"bogus\";", "mc",
                  "expected one of \"binary\", \"micro\", \"macro\", \"weighted\", "
                  "\"none\", got \"bogus\"");
    check_refused("recall", "average = \"binary\";", "mc",
                  "parameter 'average': Target is multiclass but average='binary'. Please "
                  "choose another average setting, one of ['micro', 'macro', 'weighted', "
                  "'none'] (this model has 4 classes)");
    check_refused("auroc", "average = \"binary\";", "absent",
                  "Target is multiclass but average='binary'. Please choose another average "
                  "setting, one of ['macro', 'weighted', 'none'] (this model has 3 classes)");
    check_refused("auroc", "average = \"micro\";", "mc", "parameter 'average'");
    check_refused("fbeta", "", "mc", "'beta'");
    check_refused("fbeta", "beta = 0;", "mc", "parameter 'beta': expected a number > 0, got 0");
    check_refused("fbeta", "beta = -1.0;", "mc", "parameter 'beta'");
    check_refused("f1", "zero_division = 0.5;", "mc",
                  "parameter 'zero_division': Got zero_division=0.5. Must be one of [0, 1]");
    check_refused("f1", "zero_division = \"warn\";", "mc", "parameter 'zero_division'");
    check_refused("f1", "zero_division = 2;", "mc", "parameter 'zero_division'");
    check_refused("accuracy", "threshold = 0.3;", "mc",
                  "parameter 'threshold': only for a model with one sigmoid output; this one "
                  "has 4 classes");
    check_refused("accuracy", "threshold = 1.5;", "bin", "parameter 'threshold'");
    check_refused("top_k_accuracy", "k = 0;", "mc", "parameter 'k'");
    check_refused("confusion", "normalize = \"rows\";", "mc", "parameter 'normalize'");
    check_refused("balanced_accuracy", "adjusted = 1.5;", "mc", "parameter 'adjusted'");
    check_refused("precision", "averag = \"macro\";", "mc", "averag");
    static const char *const class_metrics[] = {
        "accuracy", "top_k_accuracy", "precision", "recall", "f1", "balanced_accuracy",
        "confusion", "auroc", "average_precision", "log_loss", "mcc",
    };
    char want[128];
    for (size_t i = 0; i < N_OF(class_metrics); i++) {
        snprintf(want, sizeof want, "metric '%s': needs class targets; this model has "
                 "regression targets", class_metrics[i]);
        check_refused(class_metrics[i], "", "reg3", want);
    }
    check_refused("fbeta", "beta = 1;", "reg1_w", "needs class targets");
    static const char *const value_metrics[] = { "mae", "rmse", "r2" };
    for (size_t i = 0; i < N_OF(value_metrics); i++) {
        snprintf(want, sizeof want, "test.cfg:1: metric '%s': needs regression targets; "
                 "this model has class targets", value_metrics[i]);
        check_refused(value_metrics[i], "", "mc", want);
    }
    /* A target that is not a class is refused by update. */
    static const float bad_targets[] = { 4.0f, 1.5f, -1.0f };
    static const char *const bad_metrics[] = { "accuracy", "auroc", "log_loss",
                                               "top_k_accuracy" };
    const metrics_set *mc = set_named("mc");
    for (size_t i = 0; i < N_OF(bad_metrics); i++)
        for (size_t k = 0; k < N_OF(bad_targets); k++) {
            metric m;
            int rc = metric_new(bad_metrics[i], "", mc, &m);
            float target[2] = { 0.0f, bad_targets[k] };
            dlh_metric_batch b = { sizeof b, 2, NULL, mc->prob, target, NULL };
            if (rc == 0) {
                m.ops->reset(m.state);
                rc = m.ops->update(m.state, &b);
            }
            snprintf(want, sizeof want, "metric '%s': the target of sample 1 is %g, not a "
                     "class in [0, 4)", bad_metrics[i], (double)bad_targets[k]);
            ok(rc == DLH_EINVAL && strstr(dlh_error_get(), want), "%s: target %g refused (%s)",
               bad_metrics[i], (double)bad_targets[k], dlh_error_get());
            metric_free(&m);
        }
}

int main(void)
{
    if (dlh_registry_load_all(0) < 0) {
        ok(0, "load plugins: %s", dlh_error_get());
        return done_testing();
    }
    static const char *const names[] = {
        "accuracy", "top_k_accuracy", "precision", "recall", "f1", "fbeta",
        "balanced_accuracy", "confusion", "auroc", "average_precision", "log_loss", "mcc",
        "mae", "rmse", "r2",
    };
    for (size_t i = 0; i < N_OF(names); i++)
        if (!ok(dlh_registry_find(DLH_KIND_METRIC, names[i]) != NULL,
                "metric '%s' is registered", names[i]))
            diag("%s", dlh_error_get());
    /* examples/plugins/example_metric.c, built as a test fixture */
    const char *fixtures = getenv("DLHOST_FIXTURES");
    char path[4096];
    int have_example = 0;
    if (fixtures && fixtures[0] == '/') {
        snprintf(path, sizeof path, "%s/example_metric.so", fixtures);
        have_example = ok(dlh_registry_load_file(path) >= 0 &&
                          dlh_registry_find(DLH_KIND_METRIC, "specificity") != NULL,
                          "examples/plugins/example_metric.c loads: metric 'specificity'");
        if (!have_example)
            diag("%s", dlh_error_get());
    }
    for (size_t i = 0; i < N_OF(ref_cases); i++) {
        if (!have_example && strcmp(ref_cases[i].metric, "specificity") == 0)
            skip("example_metric.so: DLHOST_FIXTURES is unset (run through make check)");
        else
            check_case(&ref_cases[i]);
    }
    check_names();
    check_refusals();
    return done_testing();
}
