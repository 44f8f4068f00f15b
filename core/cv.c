/* `dlhost cv`: k-fold cross-validation (cv.h).
 *
 * The folds are sklearn's KFold(shuffle=True) and StratifiedKFold in
 * spirit, not in their random numbers: a Philox permutation keyed by the
 * experiment's seed and the repeat, dealt round robin (by class when
 * stratified).  The summary's standard deviation is the sample one
 * (ddof = 1, as pandas' std), over the folds that have a value. */
#include "cv.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batcher.h"
#include "error.h"
#include "experiment.h"
#include "hash.h"
#include "registry.h"
#include "rundir.h"
#include "safetensors.h"
#include "sampler.h"

int dlh_cv_assign(int64_t n, int k, const int32_t *labels, int64_t n_classes,
                  uint64_t seed, int64_t repeat, int32_t *fold)
{
    if (k < 2 || (int64_t)k > n) {
        dlh_error_set("cv: %d folds of %" PRId64 " samples: expected from 2 to %" PRId64
                      " folds (one sample at least in each)", k, n, n);
        return DLH_EINVAL;
    }
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    int64_t *start = labels ? calloc((size_t)n_classes + 1, sizeof *start) : NULL;
    int64_t *sorted = labels ? malloc((size_t)n * sizeof *sorted) : NULL;
    int rc = 0;
    if (!perm || (labels && (!start || !sorted))) {
        dlh_error_set("out of memory");
        rc = DLH_ENOMEM;
        goto done;
    }
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    dlh_permute(perm, n, seed, dlh_host_table()->rng_stream(DLH_CV_RNG, (uint64_t)repeat, 0));
    if (labels) {
        /* A counting sort by class that keeps the permuted order in each. */
        for (int64_t i = 0; i < n; i++) {
            if (labels[i] < 0 || labels[i] >= n_classes) {
                dlh_error_set("cv: sample %" PRId64 " has label %d, outside [0, %" PRId64 ")",
                              i, (int)labels[i], n_classes);
                rc = DLH_EINVAL;
                goto done;
            }
            start[labels[i] + 1]++;
        }
        for (int64_t c = 0; c < n_classes; c++)
            start[c + 1] += start[c];
        for (int64_t i = 0; i < n; i++)
            sorted[start[labels[perm[i]]]++] = perm[i];
        memcpy(perm, sorted, (size_t)n * sizeof *perm);
    }
    for (int64_t i = 0; i < n; i++)
        fold[perm[i]] = (int32_t)(i % k);
done:
    free(perm);
    free(start);
    free(sorted);
    return rc;
}

/* ------------------------------------------------------------ rows */

void dlh_cv_row_free(dlh_cv_row *r)
{
    for (int i = 0; r->names && i < r->n; i++)
        free(r->names[i]);
    free(r->names);
    free(r->v);
    memset(r, 0, sizeof *r);
}

double dlh_cv_row_get(const dlh_cv_row *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->names[i], name) == 0)
            return r->v[i];
    return NAN;
}

static int cv_oom(void)
{
    dlh_error_set("out of memory");
    return DLH_ENOMEM;
}

/* A row of n columns (names copied from names[first..first+n)). */
static int cv_row_new(dlh_cv_row *r, char *const *names, int n)
{
    memset(r, 0, sizeof *r);
    if (!(r->names = calloc((size_t)n + 1, sizeof *r->names)) ||
        !(r->v = calloc((size_t)n + 1, sizeof *r->v)))
        return cv_oom();
    for (int i = 0; i < n; i++) {
        if (!(r->names[i] = strdup(names[i])))
            return cv_oom();
        r->n = i + 1;
        r->v[i] = NAN;
    }
    return 0;
}

static char *cv_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", a, b);
    else
        cv_oom();
    return s;
}

/* Splits line at commas in place (the newline cut); at most max fields. */
static int cv_fields(char *line, char **f, int max)
{
    line[strcspn(line, "\r\n")] = '\0';
    int n = 0;
    for (char *p = line;; ) {
        if (n == max)
            return -1;
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            return n;
        *c = '\0';
        p = c + 1;
    }
}

#define CV_MAX_COLS 256

/* The best epoch that last.safetensors in dir names, 0 when none. */
static int64_t cv_best_epoch(const char *dir)
{
    char *path = cv_join(dir, "last.safetensors");
    dlh_st_file *f = NULL;
    int64_t best = 0;
    struct stat st;
    if (path && stat(path, &st) == 0 && dlh_st_read(path, &f) == 0) {
        const char *v = dlh_st_meta_get(f, "best_epoch");
        if (v)
            best = strtoll(v, NULL, 10);
    }
    dlh_error_clear();
    dlh_st_free(f);
    free(path);
    return best;
}

int dlh_cv_best_row(const char *dir, dlh_cv_row *out)
{
    memset(out, 0, sizeof *out);
    char *path = cv_join(dir, "metrics.csv");
    if (!path)
        return DLH_ENOMEM;
    FILE *f = fopen(path, "r");
    if (!f) {
        dlh_error_set("%s: cannot open: %s", path, strerror(errno));
        free(path);
        return DLH_EIO;
    }
    int64_t best = cv_best_epoch(dir);
    char *header = NULL, *line = NULL, *keep = NULL;
    size_t cap_h = 0, cap = 0;
    char *names[CV_MAX_COLS], *fields[CV_MAX_COLS];
    int rc = 0, n_names = 0, got_best = 0;
    if (getline(&header, &cap_h, f) < 0 ||
        (n_names = cv_fields(header, names, CV_MAX_COLS)) < 2 ||
        strcmp(names[0], "epoch") != 0) {
        dlh_error_set("%s: not a metrics.csv (expected a header line starting with "
                      "'epoch')", path);
        rc = DLH_EDATA;
        goto done;
    }
    /* The best epoch's row, else the last one. */
    for (int64_t no = 2; getline(&line, &cap, f) >= 0; no++) {
        if (line[0] == '\n' || line[0] == '\0')
            continue;
        char *copy = strdup(line);
        if (!copy) {
            rc = cv_oom();
            goto done;
        }
        int nf = cv_fields(line, fields, CV_MAX_COLS);
        if (nf != n_names) {
            dlh_error_set("%s:%" PRId64 ": %d fields, the header names %d", path, no, nf,
                          n_names);
            free(copy);
            rc = DLH_EDATA;
            goto done;
        }
        if (got_best) {
            free(copy);
            continue;
        }
        free(keep);
        keep = copy;
        got_best = best > 0 && strtoll(fields[0], NULL, 10) == best;
    }
    if (!keep) {
        dlh_error_set("%s: no epoch yet", path);
        rc = DLH_EDATA;
        goto done;
    }
    cv_fields(keep, fields, CV_MAX_COLS);
    names[0] = "best_epoch";        /* the epoch column: which epoch was best */
    if ((rc = cv_row_new(out, names, n_names)))
        goto done;
    for (int i = 0; i < n_names; i++) {
        char *end;
        double v = strtod(fields[i], &end);
        out->v[i] = fields[i][0] && !*end ? v : NAN;
    }
done:
    if (rc)
        dlh_cv_row_free(out);
    fclose(f);
    free(header);
    free(line);
    free(keep);
    free(path);
    return rc;
}

/* ------------------------------------------------------------ configs */

int dlh_cv_config(const dlh_select *s, const char *const *extra, int n_extra,
                  dlh_config **out)
{
    dlh_config *cfg = NULL;
    int rc = dlh_config_load(s->cfg_path, &cfg);
    if (rc < 0)
        return rc == DLH_EIO ? DLH_ECONFIG : rc;   /* the user's file to fix */
    for (int i = 0; i < s->n_sets + n_extra && rc == 0; i++) {
        const char *a = i < s->n_sets ? s->sets[i] : extra[i - s->n_sets];
        rc = dlh_config_set(cfg, a);
    }
    if (rc) {
        dlh_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int dlh_cv_probe_new(dlh_config *cfg, const char *backend, const char *const *drop,
                     dlh_cv_probe *p)
{
    p->cfg = cfg;
    p->e = NULL;
    for (int i = 0; drop && drop[i]; i++) {
        const char *dot = strchr(drop[i], '.');
        char group[64];
        snprintf(group, sizeof group, "%.*s", (int)(dot - drop[i]), drop[i]);
        dlh_cv_config_remove(cfg, group, dot + 1);
    }
    int rc = dlh_experiment_new(cfg, backend, 1, &p->e);
    if (rc)
        dlh_cv_probe_free(p);
    return rc;
}

void dlh_cv_probe_free(dlh_cv_probe *p)
{
    dlh_experiment_free(p->e);
    dlh_config_free(p->cfg);
    p->e = NULL;
    p->cfg = NULL;
}

int dlh_cv_config_text(dlh_config *cfg, char **text, size_t *len)
{
    *text = NULL;
    FILE *mem = open_memstream(text, len);
    if (!mem)
        return cv_oom();
    config_write(dlh_config_root(cfg)->config, mem);
    int bad = ferror(mem);
    if (fclose(mem) != 0 || bad) {
        free(*text);
        *text = NULL;
        return cv_oom();
    }
    return 0;
}

void dlh_cv_config_remove(dlh_config *cfg, const char *group, const char *key)
{
    config_setting_t *g = config_setting_get_member(dlh_config_root(cfg), group);
    if (g && config_setting_is_group(g) && config_setting_get_member(g, key))
        config_setting_remove(g, key);
}

/* ------------------------------------------------------------ one run */

static int cv_exists(const char *dir, const char *file)
{
    char *p = cv_join(dir, file);
    struct stat st;
    int yes = p && stat(p, &st) == 0;
    free(p);
    return yes;
}

/* Whether dir/plan.txt holds exactly plan. */
static int cv_plan_matches(const char *dir, const char *plan)
{
    char *p = cv_join(dir, "plan.txt");
    FILE *f = p ? fopen(p, "r") : NULL;
    free(p);
    if (!f)
        return 0;
    size_t n = strlen(plan);
    char *buf = malloc(n + 2);
    size_t got = buf ? fread(buf, 1, n + 1, f) : 0;
    int same = buf && got == n && memcmp(buf, plan, n) == 0;
    free(buf);
    fclose(f);
    return same;
}

static int cv_write(const char *dir, const char *file, const char *text)
{
    char *p = cv_join(dir, file);
    if (!p)
        return DLH_ENOMEM;
    int rc = dlh_file_write_atomic(p, text, strlen(text));
    free(p);
    return rc;
}

static int cv_unlink(const char *dir, const char *file)
{
    char *p = cv_join(dir, file);
    if (!p)
        return DLH_ENOMEM;
    int rc = 0;
    if (unlink(p) != 0 && errno != ENOENT) {
        dlh_error_set("%s: cannot remove it: %s", p, strerror(errno));
        rc = DLH_EIO;
    }
    free(p);
    return rc;
}

int dlh_cv_train(dlh_config *cfg, const char *backend, const char *root, const char *name,
                 const char *plan, const dlh_run_options *opt, FILE *out)
{
    char *dir = cv_join(root, name);
    if (!dir)
        return DLH_ENOMEM;
    int rc = dlh_rundir_mkdirs(dir);
    dlh_run_options o = *opt;
    int same = rc == 0 && cv_plan_matches(dir, plan);
    if (rc) {
        /* reported below */
    } else if (same && cv_exists(dir, "done.txt")) {
        if (cv_exists(dir, "diverged.txt")) {
            dlh_error_set("%s: diverged earlier (kept; see its metrics.csv)", dir);
            rc = DLH_ENUMERIC;
        } else {
            fprintf(out, "%s: finished earlier, kept\n", dir);
        }
        goto done;
    } else if (same && cv_exists(dir, "last.safetensors")) {
        o.resume = dir;
        rc = dlh_run_ex(cfg, backend, &o, out);
    } else {
        /* A fresh start: nothing of another plan may be resumed later, so
           its checkpoint goes before the new plan is written. */
        o.runs_root = root;
        o.resume = NULL;
        if (!(rc = cv_unlink(dir, "done.txt")) && !(rc = cv_unlink(dir, "diverged.txt")) &&
            !(rc = cv_unlink(dir, "last.safetensors")) &&
            !(rc = cv_write(dir, "plan.txt", plan)))
            rc = dlh_run_ex(cfg, backend, &o, out);
    }
    /* A run that diverged has ended too: a rerun does not train it again.
       (diverged.txt first: done.txt alone means a good end.) */
    if (rc == DLH_ENUMERIC && (cv_write(dir, "diverged.txt", "diverged\n") ||
                               cv_write(dir, "done.txt", "diverged\n")))
        rc = DLH_EIO;
    if (rc == 0)
        rc = cv_write(dir, "done.txt", "finished\n");
done:
    fflush(out);
    free(dir);
    return rc;
}

char *dlh_cv_plan(dlh_config *cfg, const char *what)
{
    char *text;
    size_t len;
    if (dlh_cv_config_text(cfg, &text, &len))
        return NULL;
    uint64_t h = dlh_fnv1a64(DLH_FNV1A64_INIT, text, len);
    free(text);
    size_t n = strlen(what) + 64;
    char *plan = malloc(n);
    if (!plan) {
        cv_oom();
        return NULL;
    }
    snprintf(plan, n, "%s, config fnv1a64:%016" PRIx64 "\n", what, h);
    return plan;
}

/* ------------------------------------------------------------ folds */

typedef struct cv_split {
    const dlh_cv_options *o;
    int fold;                       /* from 0 */
    int64_t repeat;                 /* from 0 */
} cv_split;

/* The run's split hook (run.h): fold `fold`'s samples to the end. */
static int cv_split_hook(void *arg, struct dlh_experiment *e, int64_t *idx, int64_t n,
                         int64_t *n_val)
{
    const cv_split *sp = arg;
    int32_t *fold = malloc((size_t)n * sizeof *fold), *labels = NULL;
    float *y = NULL;
    int rc = fold ? 0 : cv_oom();
    if (rc == 0 && sp->o->stratified) {
        if (!(labels = malloc((size_t)n * sizeof *labels)) ||
            !(y = malloc((size_t)n * sizeof *y)))
            rc = cv_oom();
        else if (!(rc = dlh_read_labels(e->train.ops, e->train.state, &e->train.info, NULL, n,
                                        "data.train: cv", y)))
            for (int64_t i = 0; i < n; i++)
                labels[i] = (int32_t)y[i];
    }
    if (rc == 0)
        rc = dlh_cv_assign(n, sp->o->folds, labels, e->train.info.n_classes, e->seed,
                           sp->repeat, fold);
    if (rc == 0) {
        /* Stable: training samples first, then the fold, each in file order. */
        int64_t a = 0, v = 0;
        for (int64_t i = 0; i < n; i++)
            if (fold[i] != sp->fold)
                idx[a++] = i;
        for (int64_t i = 0; i < n; i++)
            if (fold[i] == sp->fold)
                idx[a + v++] = i;
        *n_val = v;
    }
    free(fold);
    free(labels);
    free(y);
    return rc;
}

/* What the folds need to know before the first: the training samples and
   the run's name; checks what cv refuses. */
static int cv_probe(const dlh_select *s, const char *const *extra, int n_extra,
                    const dlh_cv_options *o, int64_t *n, char **name, FILE *out)
{
    dlh_config *cfg;
    int rc = dlh_cv_config(s, extra, n_extra, &cfg);
    if (rc)
        return rc;
    config_setting_t *root = dlh_config_root(cfg);
    double split = 0.0;
    if (config_lookup(root->config, "data.validation")) {
        dlh_config_free(cfg);
        dlh_error_set("cv: %s gives data.validation; cv validates on folds of data.train "
                      "(remove data.validation)", s->cfg_path);
        return DLH_ECONFIG;
    }
    if (config_lookup_float(root->config, "data.validation_split", &split) && split > 0.0)
        fprintf(out, "cv: data.validation_split %g is not used: each fold's validation "
                "samples are fold k of %d\n", split, o->folds);
    /* The probe needs only data.train: what needs validation goes. */
    static const char *const drop[] = { "data.validation_split", "data.test",
                                        "train.early_stopping", NULL };
    dlh_cv_probe probe;
    if ((rc = dlh_cv_probe_new(cfg, s->backend, drop, &probe)))
        return rc;
    const dlh_experiment *e = probe.e;
    *n = e->train.info.n_samples;
    if ((int64_t)o->folds > *n) {
        dlh_error_set("cv: --folds %d but data.train has %" PRId64 " samples (at most one "
                      "fold per sample)", o->folds, *n);
        rc = DLH_ECONFIG;
    } else if (o->stratified && e->train.info.label_kind != DLH_LABEL_CLASS) {
        dlh_error_set("cv: --stratified needs class labels, and data.train's are not");
        rc = DLH_ECONFIG;
    } else if (o->stratified) {
        /* sklearn warns about the same: a fold then lacks the class. */
        int64_t nc = e->train.info.n_classes;
        float *y = malloc((size_t)*n * sizeof *y);
        int64_t *count = calloc((size_t)nc + 1, sizeof *count);
        if (!y || !count)
            rc = cv_oom();
        else if (!(rc = dlh_read_labels(e->train.ops, e->train.state, &e->train.info, NULL,
                                        *n, "data.train: cv", y))) {
            for (int64_t i = 0; i < *n; i++)
                if (y[i] >= 0 && (int64_t)y[i] < nc)
                    count[(int64_t)y[i]]++;
            for (int64_t c = 0; c < nc; c++)
                if (count[c] < o->folds) {
                    dlh_log(DLH_LOG_WARN, "cv: class %" PRId64 " has %" PRId64 " samples, "
                            "fewer than the %d folds: some folds validate without it", c,
                            count[c], o->folds);
                    break;
                }
        }
        free(y);
        free(count);
    }
    if (rc == 0 && !(*name = strdup(e->name)))
        rc = cv_oom();
    dlh_cv_probe_free(&probe);
    return rc;
}

/* The width of a column of the terminal's table. */
static int cv_width(const char *name)
{
    int w = (int)strlen(name);
    return w > 11 ? w : 11;
}

/* The summary: rows[0..n) with their mean and sample
   standard deviation, printed and written to dir/cv.csv. */
static int cv_summary(const char *dir, const dlh_cv_options *o, const dlh_cv_row *rows,
                      int n, dlh_cv_row *mean, FILE *out)
{
    const dlh_cv_row *c = &rows[0];
    dlh_cv_row sd;
    int rc;
    if ((rc = cv_row_new(mean, c->names, c->n)) || (rc = cv_row_new(&sd, c->names, c->n))) {
        dlh_cv_row_free(mean);
        return rc;
    }
    for (int j = 0; j < c->n; j++) {
        /* Sums of differences from the first value: equal values give
           their value and 0 exactly. */
        double first = NAN, sum = 0.0, ss = 0.0;
        int m = 0;
        for (int i = 0; i < n; i++) {
            double v = dlh_cv_row_get(&rows[i], c->names[j]);
            if (!isnan(v)) {
                if (m++ == 0)
                    first = v;
                sum += v - first;
            }
        }
        double mu = m ? first + sum / m : NAN;
        for (int i = 0; i < n; i++) {
            double v = dlh_cv_row_get(&rows[i], c->names[j]);
            if (!isnan(v))
                ss += (v - mu) * (v - mu);
        }
        mean->v[j] = mu;
        sd.v[j] = m >= 2 ? sqrt(ss / (m - 1)) : NAN;
    }

    /* cv.csv */
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) {
        dlh_cv_row_free(&sd);
        return cv_oom();
    }
    fputs("repeat,fold", mem);
    for (int j = 0; j < c->n; j++)
        fprintf(mem, ",%s", c->names[j]);
    fputc('\n', mem);
    for (int i = 0; i < n + 2; i++) {
        const dlh_cv_row *r = i < n ? &rows[i] : i == n ? mean : &sd;
        if (i < n)
            fprintf(mem, "%d,%d", i / o->folds + 1, i % o->folds + 1);
        else
            fputs(i == n ? "mean," : "std,", mem);
        for (int j = 0; j < c->n; j++) {
            double v = i < n ? dlh_cv_row_get(r, c->names[j]) : r->v[j];
            if (isnan(v))
                fputc(',', mem);
            else
                fprintf(mem, ",%.9g", v);
        }
        fputc('\n', mem);
    }
    int bad = ferror(mem);
    if (fclose(mem) != 0 || bad) {
        free(text);
        dlh_cv_row_free(&sd);
        return cv_oom();
    }
    char *path = cv_join(dir, "cv.csv");
    rc = path ? dlh_file_write_atomic(path, text, len) : DLH_ENOMEM;
    free(text);

    /* The terminal: the folds, then mean ± std per column. */
    if (rc == 0) {
        fprintf(out, "\ncv: %d fold%s%s%s, each at its best epoch\n%-6s", o->folds,
                o->folds == 1 ? "" : "s", o->stratified ? " (stratified)" : "",
                o->repeats > 1 ? ", repeated" : "", "fold");
        /* Columns without a value (train_accuracy of a regression) only
           in cv.csv. */
        for (int j = 0; j < c->n; j++)
            if (!isnan(mean->v[j]))
                fprintf(out, "  %*s", cv_width(c->names[j]), c->names[j]);
        fputc('\n', out);
        for (int i = 0; i < n; i++) {
            char lab[32];
            if (o->repeats > 1)
                snprintf(lab, sizeof lab, "%d.%d", i / o->folds + 1, i % o->folds + 1);
            else
                snprintf(lab, sizeof lab, "%d", i + 1);
            fprintf(out, "%-6s", lab);
            for (int j = 0; j < c->n; j++)
                if (!isnan(mean->v[j]))
                    fprintf(out, "  %*.6g", cv_width(c->names[j]),
                            dlh_cv_row_get(&rows[i], c->names[j]));
            fputc('\n', out);
        }
        fprintf(out, "mean ± sample standard deviation (ddof = 1) over %d runs:\n", n);
        for (int j = 0; j < c->n; j++)
            if (!isnan(mean->v[j]))
                fprintf(out, "  %-16s %.6g ± %.6g\n", c->names[j], mean->v[j], sd.v[j]);
        fprintf(out, "summary: %s\n", path);
    }
    free(path);
    dlh_cv_row_free(&sd);
    if (rc)
        dlh_cv_row_free(mean);
    return rc;
}

/* The folds after the probe (n: the training samples). */
static int cv_folds(const dlh_select *s, const char *const *extra, int n_extra,
                    const char *dir, const dlh_cv_options *o, int64_t n, dlh_cv_row *mean,
                    FILE *out)
{
    int rc = 0;
    int total = o->folds * o->repeats;
    dlh_cv_row *rows = calloc((size_t)total, sizeof *rows);
    const char **more = calloc((size_t)n_extra + 2, sizeof *more);
    if (!rows || !more) {
        free(rows);
        free(more);
        return cv_oom();
    }
    for (int i = 0; i < n_extra; i++)
        more[i] = extra[i];
    int done = 0;
    for (int i = 0; i < total && rc == 0; i++) {
        int r = i / o->folds, k = i % o->folds;
        char set_name[48], set_split[64], fname[32], what[128], rdir[32];
        snprintf(fname, sizeof fname, "fold-%d", k + 1);
        snprintf(set_name, sizeof set_name, "name=%s", fname);
        /* validation_split only passes the checks that need validation
           data (early stopping); the hook chooses the samples. */
        snprintf(set_split, sizeof set_split, "data.validation_split=%.17g",
                 ((double)(n / o->folds) + 0.25) / (double)n);
        more[n_extra] = set_name;
        more[n_extra + 1] = set_split;
        snprintf(rdir, sizeof rdir, "repeat-%d", r + 1);
        char *root = o->repeats > 1 ? cv_join(dir, rdir) : strdup(dir);
        dlh_config *cfg = NULL;
        char *plan = NULL;
        if (!root) {
            rc = cv_oom();
            break;
        }
        if (!(rc = dlh_cv_config(s, more, n_extra + 2, &cfg))) {
            dlh_cv_config_remove(cfg, "data", "test");     /* the test set waits for --refit */
            snprintf(what, sizeof what, "dlhost cv: fold %d of %d, repeat %d of %d, %s", k + 1,
                     o->folds, r + 1, o->repeats, o->stratified ? "stratified" : "plain");
            if (!(plan = dlh_cv_plan(cfg, what)))
                rc = DLH_ENOMEM;
        }
        if (rc == 0) {
            cv_split sp = { o, k, r };
            dlh_run_options opt = { 0 };
            opt.progress = -1;
            opt.pretrained_root = s->runs_root;
            opt.split = cv_split_hook;
            opt.split_arg = &sp;
            if (o->repeats > 1)
                fprintf(out, "== cv: repeat %d of %d, fold %d of %d ==\n", r + 1, o->repeats,
                        k + 1, o->folds);
            else
                fprintf(out, "== cv: fold %d of %d ==\n", k + 1, o->folds);
            rc = dlh_cv_train(cfg, s->backend, root, fname, plan, &opt, out);
            if (rc > 0)
                fprintf(out, "cv: stopped in fold %d; run the same command again to go on "
                        "(finished folds are kept, this one resumes)\n", k + 1);
        }
        if (rc == 0) {
            char *fdir = cv_join(root, fname);
            rc = fdir ? dlh_cv_best_row(fdir, &rows[i]) : DLH_ENOMEM;
            free(fdir);
            done = i + 1;
        }
        free(plan);
        free(root);
        dlh_config_free(cfg);
    }
    if (rc == 0)
        rc = cv_summary(dir, o, rows, total, mean, out);
    for (int i = 0; i < done; i++)
        dlh_cv_row_free(&rows[i]);
    free(rows);
    free(more);
    return rc;
}

int dlh_cv_in(const dlh_select *s, const char *const *extra, int n_extra, const char *dir,
              const dlh_cv_options *o, dlh_cv_row *mean, FILE *out)
{
    int64_t n = 0;
    char *name = NULL;
    int rc = cv_probe(s, extra, n_extra, o, &n, &name, out);
    free(name);
    return rc ? rc : cv_folds(s, extra, n_extra, dir, o, n, mean, out);
}

/* --refit: all of data.train, no validation, for the mean best epoch count;
   the run evaluates data.test itself. */
static int cv_refit(const dlh_select *s, const char *dir, const dlh_cv_row *mean, FILE *out)
{
    double best = dlh_cv_row_get(mean, "best_epoch");
    int64_t epochs = isnan(best) || best < 1.0 ? 1 : (int64_t)floor(best + 0.5);
    char set_epochs[64];
    snprintf(set_epochs, sizeof set_epochs, "train.epochs=%" PRId64, epochs);
    const char *extra[] = { "name=refit", set_epochs };
    dlh_config *cfg;
    int rc = dlh_cv_config(s, extra, 2, &cfg);
    if (rc)
        return rc;
    dlh_cv_config_remove(cfg, "data", "validation_split");
    dlh_cv_config_remove(cfg, "train", "early_stopping");
    fprintf(out, "\n== cv: refit on all of data.train for %" PRId64 " epoch%s (the mean best "
            "epoch %.3g) ==\n", epochs, epochs == 1 ? "" : "s", best);
    char *plan = dlh_cv_plan(cfg, "dlhost cv: refit");
    dlh_run_options opt = { 0 };
    opt.progress = -1;
    opt.pretrained_root = s->runs_root;
    rc = plan ? dlh_cv_train(cfg, s->backend, dir, "refit", plan, &opt, out) : DLH_ENOMEM;
    free(plan);
    dlh_config_free(cfg);
    return rc;
}

int dlh_cv(const dlh_select *s, const dlh_cv_options *o, FILE *out)
{
    int64_t n;
    char *name = NULL;
    /* The probe first: a refused experiment writes nothing. */
    int rc = cv_probe(s, NULL, 0, o, &n, &name, out);
    if (rc)
        return rc;
    char *dir = cv_join(s->runs_root ? s->runs_root : "runs", name);
    free(name);
    if (!dir)
        return DLH_ENOMEM;
    dlh_cv_row mean = { 0 };
    rc = cv_folds(s, NULL, 0, dir, o, n, &mean, out);
    if (rc == 0 && o->refit)
        rc = cv_refit(s, dir, &mean, out);
    dlh_cv_row_free(&mean);
    free(dir);
    return rc;
}
