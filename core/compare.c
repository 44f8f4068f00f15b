/* `dlhost compare` (see compare.h). */
#include "compare.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cv.h"
#include "error.h"
#include "experiment.h"
#include "file.h"
#include "metrics.h"
#include "safetensors.h"

void dlh_compare_free(dlh_compare *c)
{
    for (size_t r = 0; c->runs && r < c->n; r++) {
        free(c->runs[r].dir);
        free(c->runs[r].name);
        free(c->runs[r].monitor);
        free(c->runs[r].goal);
        dlh_metrics_table_free(&c->runs[r].t);
    }
    free(c->runs);
    memset(c, 0, sizeof *c);
}

static int compare_has_values(const dlh_metrics_table *t, int col)
{
    for (size_t i = 0; col >= 0 && i < t->n_rows; i++)
        if (isfinite(t->v[i * (size_t)t->n_cols + col]))
            return 1;
    return 0;
}

/* run->goal from the experiment of the run's config.cfg, and that
   experiment's monitored metric into *monitor (malloc'ed); nothing when
   there is no config.cfg or it does not build (its data moved, a plugin
   gone): the message is dropped, the names decide. */
static int compare_goals(dlh_compare_run *run, char **monitor)
{
    *monitor = NULL;
    size_t len = strlen(run->dir) + sizeof "/config.cfg";
    char *path = malloc(len), *text = NULL;
    if (!path) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    snprintf(path, len, "%s/config.cfg", run->dir);
    size_t size;
    dlh_config *cfg;
    dlh_cv_probe probe = { 0 };
    /* The copy keeps the experiment file's relative paths: from here. */
    int rc = dlh_file_read_all(path, (size_t)16 << 20, &text, &size);
    if (rc == 0 && (rc = dlh_config_load_string(text, "config.cfg", &cfg)) == 0)
        rc = dlh_cv_probe_new(cfg, "cpu", NULL, &probe);
    free(text);
    free(path);
    if (rc == DLH_ENOMEM)
        return rc;
    dlh_error_clear();
    if (rc)
        return 0;
    const dlh_experiment *e = probe.e;
    if (!(run->goal = calloc((size_t)run->t.n_cols + 1, sizeof *run->goal)) ||
        !(*monitor = strdup(e->monitor))) {
        dlh_cv_probe_free(&probe);
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    for (int k = 0; k < run->t.n_cols; k++)
        if (!dlh_metrics_goal(e, run->t.names[k], &run->goal[k]))
            run->goal[k] = 0;
    dlh_cv_probe_free(&probe);
    return 0;
}

/* The run's monitored metric: the "monitor" its checkpoint records, else
   the one of its config.cfg's experiment, else val_loss where it has
   values, else train_loss. */
static int compare_monitor(dlh_compare_run *run)
{
    char *resolved;
    int rc = compare_goals(run, &resolved);
    if (rc)
        return rc;
    size_t len = strlen(run->dir) + sizeof "/last.safetensors";
    char *path = malloc(len);
    if (!path) {
        free(resolved);
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    snprintf(path, len, "%s/last.safetensors", run->dir);
    dlh_st_file *f = NULL;
    struct stat st;
    const char *m = NULL;
    if (stat(path, &st) == 0 && dlh_st_read(path, &f) == 0)
        m = dlh_st_meta_get(f, "monitor");
    dlh_error_clear();          /* no checkpoint, or a damaged one: guessed */
    if ((!m || dlh_metrics_table_col(&run->t, m) < 0) && resolved &&
        dlh_metrics_table_col(&run->t, resolved) >= 0)
        m = resolved;
    if (!m || dlh_metrics_table_col(&run->t, m) < 0) {
        run->monitor_assumed = 1;
        m = compare_has_values(&run->t, dlh_metrics_table_col(&run->t, "val_loss"))
            ? "val_loss" : "train_loss";
    }
    run->monitor = strdup(m);
    dlh_st_free(f);
    free(path);
    free(resolved);
    if (!run->monitor) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    return 0;
}

static int compare_load_one(const char *dir, dlh_compare_run *run)
{
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    if (!(run->dir = strndup(dir, dl))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    const char *base = run->dir + dl;
    while (base > run->dir && base[-1] != '/')
        base--;
    if (!(run->name = strdup(base))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    struct stat st;
    if (stat(run->dir, &st) != 0) {
        dlh_error_set("%s: not a run folder (%s)", run->dir, strerror(errno));
        return DLH_ECONFIG;
    }
    if (!S_ISDIR(st.st_mode)) {
        dlh_error_set("%s: not a run folder (not a folder at all; dlhost compare takes the "
                      "folders that dlhost run writes, runs/<name>)", run->dir);
        return DLH_ECONFIG;
    }
    size_t len = dl + sizeof "/metrics.csv";
    char *metrics = malloc(len);
    if (!metrics) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    snprintf(metrics, len, "%s/metrics.csv", run->dir);
    int rc;
    if (stat(metrics, &st) != 0 && errno == ENOENT) {
        dlh_error_set("%s: not a run folder (it has no metrics.csv; dlhost run writes one "
                      "into runs/<name>)", run->dir);
        rc = DLH_ECONFIG;
    } else {
        rc = dlh_metrics_table_read(metrics, &run->t);
    }
    free(metrics);
    return rc ? rc : compare_monitor(run);
}

int dlh_compare_load(const char *const *dirs, size_t n, dlh_compare *c)
{
    memset(c, 0, sizeof *c);
    if (n < 1) {
        dlh_error_set("compare: no run folder given (dlhost compare RUNDIR...)");
        return DLH_EINVAL;
    }
    if (!(c->runs = calloc(n, sizeof *c->runs))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    c->n = n;
    for (size_t r = 0; r < n; r++) {
        int rc = compare_load_one(dirs[r], &c->runs[r]);
        if (rc) {
            dlh_compare_free(c);
            return rc;
        }
    }
    /* Two runs of one name (runs/a/mnist, runs/b/mnist): each by its path. */
    char *shared = calloc(n, 1);
    for (size_t r = 0; shared && r < n; r++)
        for (size_t q = 0; q < n; q++)
            shared[r] |= q != r && strcmp(c->runs[r].name, c->runs[q].name) == 0;
    for (size_t r = 0; shared && r < n; r++) {
        char *d = shared[r] ? strdup(c->runs[r].dir) : NULL;
        if (d) {
            free(c->runs[r].name);
            c->runs[r].name = d;
        } else if (shared[r]) {
            free(shared);
            shared = NULL;
        }
    }
    if (!shared) {
        dlh_compare_free(c);
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    free(shared);
    return 0;
}

static int ends_with(const char *s, size_t len, const char *tail)
{
    size_t tl = strlen(tail);
    return len >= tl && strncmp(s + len - tl, tail, tl) == 0;
}

int dlh_compare_direction(const char *column)
{
    const char *s = column;
    static const char *const prefixes[] = { "train_", "val_", "test_" };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0) {
            s += strlen(prefixes[i]);
            break;
        }
    const char *dot = strchr(s, '.');
    size_t len = dot ? (size_t)(dot - s) : strlen(s);
    if (s == column && (strcmp(s, "epoch") == 0 || strcmp(s, "lr") == 0 ||
                        strcmp(s, "seconds") == 0 || strcmp(s, "samples_per_s") == 0))
        return 0;
    if (ends_with(s, len, "loss") || (len == 3 && strncmp(s, "mae", 3) == 0) ||
        (len == 3 && strncmp(s, "mse", 3) == 0) || (len == 4 && strncmp(s, "rmse", 4) == 0))
        return -1;
    return 1;
}

/* The direction of column `name` in run: its config.cfg's, else by name. */
static int compare_run_direction(const dlh_compare_run *run, int col, const char *name)
{
    if (run->goal && col >= 0 && run->goal[col] != 0)
        return run->goal[col];
    return dlh_compare_direction(name);
}

/* Column name's best value in run (by direction; ties: the first epoch)
   and its epoch (0: none), or for lr the last value, seconds the sum and
   samples_per_s the mean.  The cell text into buf. */
static void compare_cell(const dlh_compare_run *run, const char *name, char *buf,
                         size_t size, int64_t *epoch_out)
{
    const dlh_metrics_table *t = &run->t;
    int col = dlh_metrics_table_col(t, name), dir = compare_run_direction(run, col, name);
    double best = NAN, sum = 0.0, last = NAN;
    int64_t epoch = 0, count = 0;
    for (size_t i = 0; col >= 0 && i < t->n_rows; i++) {
        double v = t->v[i * (size_t)t->n_cols + col];
        if (!isfinite(v))
            continue;
        sum += v;
        count++;
        last = v;
        if (epoch == 0 || (dir < 0 ? v < best : v > best)) {
            best = v;
            epoch = (int64_t)i + 1;
        }
    }
    if (epoch_out)
        *epoch_out = dir != 0 ? epoch : 0;
    if (count == 0)
        snprintf(buf, size, "-");
    else if (dir != 0)
        snprintf(buf, size, "%.6g @%lld", best, (long long)epoch);
    else if (strcmp(name, "lr") == 0)
        snprintf(buf, size, "%.6g (last)", last);
    else if (strcmp(name, "seconds") == 0)
        snprintf(buf, size, "%.6g (total)", sum);
    else
        snprintf(buf, size, "%.6g (mean)", sum / (double)count);
}

/* Every column of any run but epoch, in first-seen order, into names. */
static size_t compare_columns(const dlh_compare *c, const char **names)
{
    size_t n = 0;
    for (size_t r = 0; r < c->n; r++)
        for (int k = 1; k < c->runs[r].t.n_cols; k++) {
            const char *s = c->runs[r].t.names[k];
            size_t j = 0;
            while (j < n && strcmp(names[j], s) != 0)
                j++;
            if (j == n)
                names[n++] = s;
        }
    return n;
}

#define CELL 64

void dlh_compare_print(FILE *out, const dlh_compare *c)
{
    size_t max_cols = 0;
    for (size_t r = 0; r < c->n; r++)
        max_cols += (size_t)c->runs[r].t.n_cols;
    const char **rows = malloc((max_cols + 1) * sizeof *rows);
    size_t n_rows = rows ? compare_columns(c, rows) : 0;
    /* The cells: [row][run], then the epochs and best-epoch rows. */
    size_t total = (n_rows + 2) * c->n;
    char (*cell)[CELL] = malloc((total ? total : 1) * sizeof *cell);
    if (!rows || !cell) {
        free(rows);
        free(cell);
        fprintf(out, "compare: out of memory\n");
        return;
    }
    int first = (int)strlen("best epoch"), *width = calloc(c->n, sizeof *width);
    for (size_t i = 0; i < n_rows; i++) {
        int len = (int)strlen(rows[i]);
        first = len > first ? len : first;
        for (size_t r = 0; r < c->n; r++)
            compare_cell(&c->runs[r], rows[i], cell[i * c->n + r], CELL, NULL);
    }
    for (size_t r = 0; r < c->n; r++) {
        const dlh_compare_run *run = &c->runs[r];
        int64_t epoch = 0;
        char tmp[CELL];
        compare_cell(run, run->monitor, tmp, sizeof tmp, &epoch);
        snprintf(cell[n_rows * c->n + r], CELL, "%zu", run->t.n_rows);
        if (epoch > 0)
            snprintf(cell[(n_rows + 1) * c->n + r], CELL, "%lld (%.40s%s)", (long long)epoch,
                     run->monitor, run->monitor_assumed ? "?" : "");
        else
            snprintf(cell[(n_rows + 1) * c->n + r], CELL, "-");
    }
    for (size_t r = 0; width && r < c->n; r++) {
        width[r] = (int)strlen(c->runs[r].name);
        for (size_t i = 0; i < n_rows + 2; i++) {
            int len = (int)strlen(cell[i * c->n + r]);
            width[r] = len > width[r] ? len : width[r];
        }
    }
    fprintf(out, "%-*s", first, "run");
    for (size_t r = 0; r < c->n; r++)
        fprintf(out, "  %-*s", r + 1 < c->n && width ? width[r] : 0, c->runs[r].name);
    fprintf(out, "\n");
    for (size_t i = 0; i < n_rows + 2; i++) {
        const char *label = i < n_rows ? rows[i] : i == n_rows ? "epochs" : "best epoch";
        fprintf(out, "%-*s", first, label);
        for (size_t r = 0; r < c->n; r++) {
            /* No padding after the last column. */
            int w = r + 1 < c->n && width ? width[r] : 0;
            fprintf(out, "  %-*s", w, cell[i * c->n + r]);
        }
        fprintf(out, "\n");
    }
    int assumed = 0;
    size_t by_name = 0;
    for (size_t r = 0; r < c->n; r++) {
        assumed |= c->runs[r].monitor_assumed;
        by_name += !c->runs[r].goal;
    }
    /* Where each run's directions came from. */
    fputs("(best value @ its epoch: ", out);
    if (by_name < c->n)
        fprintf(out, "lowest or highest as %s config.cfg resolves the column%s",
                by_name ? "the run's" : "each run's", by_name ? "; " : "");
    if (by_name) {
        fputs("by the column's name for ", out);
        for (size_t r = 0, k = 0; r < c->n; r++)
            if (!c->runs[r].goal)
                fprintf(out, "%s%s", k++ ? ", " : "", c->runs[r].name);
        fputs(" (no config.cfg that builds here): lowest for losses, mae, mse, rmse; "
              "highest for the others", out);
    }
    fprintf(out, "%s)\n",
            assumed ? "; '?': no last.safetensors names the monitored metric, assumed" : "");
    free(width);
    free(cell);
    free(rows);
}

int dlh_compare_svg(const dlh_compare *c, const char *svg)
{
    const char **names = malloc((c->n + 1) * sizeof *names);
    dlh_metrics_table *t = malloc((c->n + 1) * sizeof *t);
    int rc = DLH_ENOMEM;
    if (names && t) {
        for (size_t r = 0; r < c->n; r++) {
            names[r] = c->runs[r].name;
            t[r] = c->runs[r].t;
        }
        rc = dlh_curves_compare_write(svg, names, t, c->n);
    } else {
        dlh_error_set("out of memory");
    }
    free(names);
    free(t);
    return rc;
}
