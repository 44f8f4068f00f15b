/* `dlhost sweep`: grid and random search (sweep.h). */
#include "sweep.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <dlhost/philox.h>

#include "error.h"
#include "experiment.h"
#include "registry.h"
#include "safetensors.h"

/* rng_stream purpose of the random draws: (8, draw, 0), element = key. */
#define SWEEP_RNG 8
/* Grid combinations at most (a typo of a long list should not start 10^9 runs). */
#define SWEEP_MAX_RUNS 100000

typedef struct sw_key {
    char *key;                      /* "optimizer.lr" */
    const char *shown;              /* its last part, or all of it when ambiguous */
    char **values;                  /* a --grid's values */
    int n_values;
    int range, log, ints;           /* a --range: lin or log, whole numbers */
    double lo, hi;
} sw_key;

typedef struct sw_run {
    char **sets;                    /* "key=value" of each key */
    char *id;
    double score, best_epoch;
    int diverged, order;
} sw_run;

static int sw_oom(void)
{
    dlh_error_set("out of memory");
    return DLH_ENOMEM;
}

static void sw_keys_free(sw_key *k, int n)
{
    for (int i = 0; k && i < n; i++) {
        free(k[i].key);
        for (int j = 0; j < k[i].n_values; j++)
            free(k[i].values[j]);
        free(k[i].values);
    }
    free(k);
}

static void sw_run_clear(sw_run *r, int n_keys)
{
    for (int j = 0; r->sets && j < n_keys; j++)
        free(r->sets[j]);
    free(r->sets);
    free(r->id);
    memset(r, 0, sizeof *r);
}

static void sw_runs_free(sw_run *r, int n, int n_keys)
{
    for (int i = 0; r && i < n; i++)
        sw_run_clear(&r[i], n_keys);
    free(r);
}

/* "KEY=..." into k->key and *value (what follows '='). */
static int sw_key_of(const char *arg, const char *opt, sw_key *k, const char **value)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1]) {
        dlh_error_set("sweep: %s '%s': expected KEY=%s", opt, arg,
                      strcmp(opt, "--grid") == 0 ? "V1,V2,..." : "LO:HI[:log|lin]");
        return DLH_ECONFIG;
    }
    if (!(k->key = strndup(arg, (size_t)(eq - arg))))
        return sw_oom();
    *value = eq + 1;
    return 0;
}

static int sw_parse_grid(const char *arg, sw_key *k)
{
    const char *v;
    int rc = sw_key_of(arg, "--grid", k, &v);
    if (rc)
        return rc;
    int n = 1;
    for (const char *p = v; *p; p++)
        n += *p == ',';
    if (!(k->values = calloc((size_t)n, sizeof *k->values)))
        return sw_oom();
    for (const char *p = v;; ) {
        size_t len = strcspn(p, ",");
        if (len == 0) {
            dlh_error_set("sweep: --grid '%s': an empty value", arg);
            return DLH_ECONFIG;
        }
        if (!(k->values[k->n_values++] = strndup(p, len)))
            return sw_oom();
        if (!p[len])
            return 0;
        p += len + 1;
    }
}

/* A whole number when the text has no '.', 'e' or 'E'. */
static int sw_number(const char *s, size_t len, double *v, int *whole)
{
    char buf[64], *end;
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    *v = strtod(buf, &end);
    *whole = !strpbrk(buf, ".eE");
    return *end || !isfinite(*v) ? -1 : 0;
}

static int sw_parse_range(const char *arg, sw_key *k)
{
    const char *v;
    int rc = sw_key_of(arg, "--range", k, &v);
    if (rc)
        return rc;
    k->range = 1;
    const char *c1 = strchr(v, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    int w1 = 0, w2 = 0;
    if (!c1 || sw_number(v, (size_t)(c1 - v), &k->lo, &w1) ||
        sw_number(c1 + 1, c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1), &k->hi, &w2) ||
        (c2 && strcmp(c2 + 1, "log") != 0 && strcmp(c2 + 1, "lin") != 0)) {
        dlh_error_set("sweep: --range '%s': expected KEY=LO:HI, KEY=LO:HI:log or "
                      "KEY=LO:HI:lin (LO and HI numbers)", arg);
        return DLH_ECONFIG;
    }
    k->log = c2 && strcmp(c2 + 1, "log") == 0;
    k->ints = w1 && w2;
    if (!(k->lo < k->hi)) {
        dlh_error_set("sweep: --range '%s': expected LO < HI", arg);
        return DLH_ECONFIG;
    }
    if (k->log && !(k->lo > 0.0)) {
        dlh_error_set("sweep: --range '%s': a log range needs LO > 0", arg);
        return DLH_ECONFIG;
    }
    return 0;
}

/* A uniform double in [0, 1) with 53 random bits: draw j, key i. */
static double sw_uniform(uint64_t seed, int64_t j, int i)
{
    uint32_t w[4];
    dlh_philox_words(seed, dlh_host_table()->rng_stream(SWEEP_RNG, (uint64_t)j, 0),
                     (uint64_t)i, w);
    return ((double)(w[0] >> 5) * 67108864.0 + (double)(w[1] >> 6)) / 9007199254740992.0;
}

/* The value text of key k at u in [0, 1): ints stay ints; floats keep a
   '.' or an exponent, so libconfig reads them as floats. */
static void sw_draw(const sw_key *k, double u, char *buf, size_t size)
{
    if (k->ints) {
        /* lo..hi inclusive: a real in [lo, hi + 1) cut to its floor. */
        double a = k->lo, b = k->hi + 1.0;
        double x = k->log ? exp(log(a) + u * (log(b) - log(a))) : a + u * (b - a);
        double v = floor(x);
        snprintf(buf, size, "%lld", (long long)(v > k->hi ? k->hi : v));
        return;
    }
    double x = k->log ? exp(log(k->lo) + u * (log(k->hi) - log(k->lo)))
                      : k->lo + u * (k->hi - k->lo);
    snprintf(buf, size, "%.4g", x);
    if (!strpbrk(buf, ".eEni"))
        strncat(buf, ".0", size - strlen(buf) - 1);
}

/* The run's id from its values: "shown=value,..." with '/' as '_' and no
   leading '.' (a run name, rundir.h). */
static char *sw_id(const sw_key *keys, int n_keys, char *const *sets)
{
    size_t len = 1;
    for (int i = 0; i < n_keys; i++)
        len += strlen(keys[i].shown) + strlen(strchr(sets[i], '=')) + 1;
    char *id = malloc(len);
    if (!id) {
        sw_oom();
        return NULL;
    }
    size_t k = 0;
    for (int i = 0; i < n_keys; i++)
        k += (size_t)snprintf(id + k, len - k, "%s%s%s", i ? "," : "", keys[i].shown,
                              strchr(sets[i], '='));
    for (char *p = id; *p; p++)
        if (*p == '/')
            *p = '_';
    if (id[0] == '.')
        id[0] = '_';
    return id;
}

/* The runs: every grid combination (last key fastest), or the draws. */
static int sw_plan(const sw_key *keys, int n_keys, const dlh_sweep_options *o, uint64_t seed,
                   sw_run **out, int *n_out)
{
    int64_t total = 1;
    if (o->random > 0) {
        total = o->random;
    } else {
        for (int i = 0; i < n_keys; i++)
            if ((total *= keys[i].n_values) > SWEEP_MAX_RUNS) {
                dlh_error_set("sweep: more than %d combinations; use --random N",
                              SWEEP_MAX_RUNS);
                return DLH_ECONFIG;
            }
    }
    sw_run *runs = calloc((size_t)total, sizeof *runs);
    if (!runs)
        return sw_oom();
    int n = 0, rc = 0;
    for (int64_t r = 0; r < total && rc == 0; r++) {
        sw_run *run = &runs[n];
        if (!(run->sets = calloc((size_t)n_keys, sizeof *run->sets))) {
            rc = sw_oom();
            break;
        }
        int64_t rest = r;
        for (int i = n_keys - 1; i >= 0 && rc == 0; i--) {
            const sw_key *k = &keys[i];
            char value[64];
            const char *v = value;
            if (o->random > 0 && k->range) {
                sw_draw(k, sw_uniform(seed, r, i), value, sizeof value);
            } else if (o->random > 0) {
                int c = (int)(sw_uniform(seed, r, i) * k->n_values);
                v = k->values[c < k->n_values ? c : k->n_values - 1];
            } else {
                v = k->values[rest % k->n_values];
                rest /= k->n_values;
            }
            size_t len = strlen(k->key) + strlen(v) + 2;
            if (!(run->sets[i] = malloc(len)))
                rc = sw_oom();
            else
                snprintf(run->sets[i], len, "%s=%s", k->key, v);
        }
        if (rc == 0 && !(run->id = sw_id(keys, n_keys, run->sets)))
            rc = DLH_ENOMEM;
        n++;
        /* A repeated draw (few choices) is the same run: once is enough. */
        for (int j = 0; rc == 0 && j + 1 < n; j++)
            if (strcmp(runs[j].id, run->id) == 0) {
                sw_run_clear(run, n_keys);
                n--;
                break;
            }
    }
    if (rc) {
        sw_runs_free(runs, n, n_keys);
        return rc;
    }
    *out = runs;
    *n_out = n;
    return 0;
}

/* The keys of o, checked: no key twice, --range only with --random. */
static int sw_keys(const dlh_sweep_options *o, sw_key **out, int *n_out)
{
    int n = o->n_grid + o->n_ranges, rc = 0;
    if (n == 0) {
        dlh_error_set("sweep: nothing to vary (--grid KEY=V1,V2,... or --random N "
                      "--range KEY=LO:HI)");
        return DLH_ECONFIG;
    }
    if (o->n_ranges > 0 && o->random <= 0) {
        dlh_error_set("sweep: --range draws values: it needs --random N");
        return DLH_ECONFIG;
    }
    sw_key *keys = calloc((size_t)n, sizeof *keys);
    if (!keys)
        return sw_oom();
    for (int i = 0; i < n && rc == 0; i++)
        rc = i < o->n_grid ? sw_parse_grid(o->grid[i], &keys[i])
                           : sw_parse_range(o->ranges[i - o->n_grid], &keys[i]);
    for (int i = 0; i < n && rc == 0; i++) {
        const char *dot = strrchr(keys[i].key, '.');
        keys[i].shown = dot ? dot + 1 : keys[i].key;
        for (int j = 0; j < i && rc == 0; j++)
            if (strcmp(keys[i].key, keys[j].key) == 0) {
                dlh_error_set("sweep: '%s' is varied twice", keys[i].key);
                rc = DLH_ECONFIG;
            }
    }
    /* Two keys of one last part (model.fc1.units, model.fc2.units): ids
       name the whole keys. */
    for (int i = 0; i < n && rc == 0; i++)
        for (int j = 0; j < n; j++)
            if (i != j && strcmp(keys[i].shown, keys[j].shown) == 0)
                keys[i].shown = keys[i].key;
    if (rc) {
        sw_keys_free(keys, n);
        return rc;
    }
    *out = keys;
    *n_out = n;
    return 0;
}

/* The base experiment: its name, seed, monitored metric (train.monitor or
   train.early_stopping.monitor, else val_loss where the runs validate, else
   train_loss) and the direction it improves in, as the experiment resolves
   them (the metrics declare theirs). */
static int sw_probe(const dlh_select *s, const dlh_sweep_options *o, char **name,
                    uint64_t *seed, char **monitor, int *minimize)
{
    dlh_config *cfg;
    /* A cv gives each fold its validation data: the probe gets a split so
       that a val_ monitor resolves. */
    const char *split[1] = { "data.validation_split=0.5" };
    static const char *const drop[] = { "data.validation", NULL };
    int cv = o->cv.folds > 0;
    dlh_cv_probe probe;
    int rc = dlh_cv_config(s, cv ? split : NULL, cv ? 1 : 0, &cfg);
    if (rc || (rc = dlh_cv_probe_new(cfg, s->backend, cv ? drop : NULL, &probe)))
        return rc;
    const dlh_experiment *e = probe.e;
    *seed = e->seed;
    *minimize = e->monitor_goal < 0;
    if (!(*name = strdup(e->name)) || !(*monitor = strdup(e->monitor)))
        rc = sw_oom();
    dlh_cv_probe_free(&probe);
    return rc;
}

/* One run of the sweep into root/id (or a cv in it): its score. */
static int sw_one(const dlh_select *s, const dlh_sweep_options *o, const char *root,
                  sw_run *run, int n_keys, const char *monitor, FILE *out)
{
    const char *const *sets = (const char *const *)run->sets;
    size_t len = strlen(root) + strlen(run->id) + 2;
    char *dir = malloc(len);
    if (!dir)
        return sw_oom();
    snprintf(dir, len, "%s/%s", root, run->id);
    dlh_cv_row row = { 0 };
    int rc;
    if (o->cv.folds > 0) {
        rc = dlh_cv_in(s, sets, n_keys, dir, &o->cv, &row, out);
    } else {
        dlh_config *cfg = NULL;
        char *plan = NULL;
        if (!(rc = dlh_cv_config(s, sets, n_keys, &cfg))) {
            /* Runs are chosen on validation data: the test set waits for
               best.cfg. */
            dlh_cv_config_remove(cfg, "data", "test");
            /* The run's name is its id (a string, whatever it looks like). */
            config_setting_t *r = dlh_config_root(cfg);
            config_setting_t *nm = config_setting_get_member(r, "name");
            if (!nm)
                nm = config_setting_add(r, "name", CONFIG_TYPE_STRING);
            if (!nm || config_setting_type(nm) != CONFIG_TYPE_STRING ||
                !config_setting_set_string(nm, run->id)) {
                dlh_error_set("sweep: cannot name the run '%s'", run->id);
                rc = DLH_ECONFIG;
            } else if (!(plan = dlh_cv_plan(cfg, "dlhost sweep"))) {
                rc = DLH_ENOMEM;
            }
        }
        if (rc == 0) {
            dlh_run_options opt = { 0 };
            opt.progress = -1;
            opt.pretrained_root = s->runs_root;
            rc = dlh_cv_train(cfg, s->backend, root, run->id, plan, &opt, out);
        }
        if (rc == 0)
            rc = dlh_cv_best_row(dir, &row);
        free(plan);
        dlh_config_free(cfg);
    }
    if (rc == DLH_ENUMERIC) {
        /* Too high a learning rate is an answer too: listed, not fatal. */
        fprintf(out, "sweep: %s diverged: %s\n", run->id, dlh_error_get());
        dlh_error_clear();
        run->diverged = 1;
        run->score = run->best_epoch = NAN;
        rc = 0;
    } else if (rc == 0) {
        run->score = dlh_cv_row_get(&row, monitor);
        run->best_epoch = dlh_cv_row_get(&row, "best_epoch");
    }
    dlh_cv_row_free(&row);
    free(dir);
    return rc;
}

/* Whether run x ranks before run y: the better score, diverged and
   missing last, ties in the order run. */
static int sw_before(const sw_run *x, const sw_run *y, int minimize)
{
    int nx = isnan(x->score), ny = isnan(y->score);
    if (nx != ny)
        return ny;
    if (!nx && x->score != y->score)
        return (x->score < y->score) == minimize;
    return x->order < y->order;
}

/* Insertion sort (a sweep has few runs; qsort would need a global). */
static void sw_sort(sw_run *runs, int n, int minimize)
{
    for (int i = 1; i < n; i++) {
        sw_run t = runs[i];
        int j = i;
        for (; j > 0 && sw_before(&t, &runs[j - 1], minimize); j--)
            runs[j] = runs[j - 1];
        runs[j] = t;
    }
}

static void sw_csv_value(FILE *f, const char *v)
{
    if (strpbrk(v, ",\"\n")) {
        fputc('"', f);
        for (; *v; v++) {
            if (*v == '"')
                fputc('"', f);
            fputc(*v, f);
        }
        fputc('"', f);
    } else {
        fputs(v, f);
    }
}

/* sweep.csv and the terminal's table. */
static int sw_board(const char *base, const sw_key *keys, int n_keys, const sw_run *runs,
                    int n, const char *monitor, int minimize, FILE *out)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return sw_oom();
    fputs("rank,run", mem);
    for (int i = 0; i < n_keys; i++) {
        fputc(',', mem);
        sw_csv_value(mem, keys[i].key);
    }
    fprintf(mem, ",%s,best_epoch,status\n", monitor);
    for (int r = 0; r < n; r++) {
        fprintf(mem, "%d,", r + 1);
        sw_csv_value(mem, runs[r].id);
        for (int i = 0; i < n_keys; i++) {
            fputc(',', mem);
            sw_csv_value(mem, strchr(runs[r].sets[i], '=') + 1);
        }
        if (isnan(runs[r].score))
            fputc(',', mem);
        else
            fprintf(mem, ",%.9g", runs[r].score);
        if (isnan(runs[r].best_epoch))
            fputc(',', mem);
        else
            fprintf(mem, ",%.9g", runs[r].best_epoch);
        fprintf(mem, ",%s\n", runs[r].diverged ? "diverged" : "ok");
    }
    int bad = ferror(mem);
    if (fclose(mem) != 0 || bad) {
        free(text);
        return sw_oom();
    }
    size_t plen = strlen(base) + sizeof "/sweep.csv";
    char *path = malloc(plen);
    int rc = path ? 0 : sw_oom();
    if (path) {
        snprintf(path, plen, "%s/sweep.csv", base);
        rc = dlh_file_write_atomic(path, text, len);
    }
    free(text);
    if (rc == 0) {
        int w = 3;
        for (int r = 0; r < n; r++)
            if ((int)strlen(runs[r].id) > w)
                w = (int)strlen(runs[r].id);
        fprintf(out, "\nsweep: %d run%s, best first by %s (%s is better)\n", n,
                n == 1 ? "" : "s", monitor, minimize ? "lower" : "higher");
        fprintf(out, "%4s  %-*s  %12s  %10s\n", "rank", w, "run", monitor, "best_epoch");
        for (int r = 0; r < n; r++) {
            if (runs[r].diverged)
                fprintf(out, "%4d  %-*s  %12s  %10s\n", r + 1, w, runs[r].id, "diverged", "");
            else
                fprintf(out, "%4d  %-*s  %12.6g  %10.4g\n", r + 1, w, runs[r].id,
                        runs[r].score, runs[r].best_epoch);
        }
        fprintf(out, "leaderboard: %s\n", path);
    }
    free(path);
    return rc;
}

/* The path of `to` seen from folder `from`, both absolute and without "."
   or ".." parts (malloc'ed). */
static char *sw_relative(const char *from, const char *to)
{
    size_t c = 0, i = 0;
    /* The common folders: up to the last '/' both share. */
    for (; from[i] && from[i] == to[i]; i++)
        if (from[i] == '/')
            c = i;
    if (!from[i] && (to[i] == '/' || !to[i]))
        c = i;
    int up = 0;
    for (const char *p = from + c; *p; p++)
        up += *p == '/' && p[1];
    const char *rest = to[c] == '/' ? to + c + 1 : to + c;
    size_t len = 3 * (size_t)up + strlen(rest) + 2;
    char *r = malloc(len);
    if (!r) {
        sw_oom();
        return NULL;
    }
    r[0] = '\0';
    for (int k = 0; k < up; k++)
        strcat(r, "../");
    strcat(r, *rest ? rest : ".");
    return r;
}

/* The datasets' relative paths of cfg (its parameters of type path)
   rewritten to be seen from folder dir, where cfg is written. */
static int sw_move_paths(dlh_config *cfg, const char *dir)
{
    config_setting_t *data = config_setting_get_member(dlh_config_root(cfg), "data");
    char *cdir = realpath(dlh_config_dir(cfg), NULL), *ddir = realpath(dir, NULL);
    int rc = cdir && ddir ? 0 : sw_oom();
    for (int i = 0; rc == 0 && data && i < config_setting_length(data); i++) {
        config_setting_t *g = config_setting_get_elem(data, (unsigned)i);
        const char *type;
        if (!config_setting_is_group(g) || !config_setting_lookup_string(g, "type", &type))
            continue;
        const dlh_component *c = dlh_registry_find(DLH_KIND_DATASET, type);
        dlh_error_clear();
        for (size_t k = 0; c && k < c->n_params && rc == 0; k++) {
            config_setting_t *ps = c->params[k].type == DLH_PARAM_PATH
                                       ? config_setting_get_member(g, c->params[k].key)
                                       : NULL;
            const char *v = ps ? config_setting_get_string(ps) : NULL;
            if (!v || !v[0] || v[0] == '/')
                continue;
            size_t len = strlen(cdir) + strlen(v) + 2;
            char *full = malloc(len), *real = NULL, *rel = NULL;
            if (full) {
                snprintf(full, len, "%s/%s", cdir, v);
                real = realpath(full, NULL);
                rel = sw_relative(ddir, real ? real : full);
            }
            if (!rel || !config_setting_set_string(ps, rel))
                rc = sw_oom();
            free(full);
            free(real);
            free(rel);
        }
    }
    free(cdir);
    free(ddir);
    return rc;
}

/* base/best.cfg: the experiment with the winner's values. */
static int sw_best_cfg(const dlh_select *s, const char *base, const sw_run *best, int n_keys,
                       FILE *out)
{
    dlh_config *cfg;
    int rc = dlh_cv_config(s, (const char *const *)best->sets, n_keys, &cfg);
    if (rc)
        return rc;
    char *text = NULL, *path = NULL;
    size_t len = 0, plen = strlen(base) + sizeof "/best.cfg";
    if (!(rc = sw_move_paths(cfg, base)) && !(rc = dlh_cv_config_text(cfg, &text, &len))) {
        if (!(path = malloc(plen)))
            rc = sw_oom();
        else {
            snprintf(path, plen, "%s/best.cfg", base);
            rc = dlh_file_write_atomic(path, text, len);
        }
    }
    if (rc == 0)
        fprintf(out, "best: %s; its configuration: %s\n", best->id, path);
    free(text);
    free(path);
    dlh_config_free(cfg);
    return rc;
}

int dlh_sweep(const dlh_select *s, const dlh_sweep_options *o, FILE *out)
{
    sw_key *keys = NULL;
    sw_run *runs = NULL;
    int n_keys = 0, n_runs = 0;
    char *name = NULL, *monitor = NULL, *base = NULL, *root = NULL;
    uint64_t seed = 0;
    int minimize = 1;
    int rc = sw_keys(o, &keys, &n_keys);
    /* The seed first (for the draws), then the plan, then every run's
       assignments applied once: a bad key is refused before anything
       trains. */
    if (rc == 0)
        rc = sw_probe(s, o, &name, &seed, &monitor, &minimize);
    if (rc == 0)
        rc = sw_plan(keys, n_keys, o, seed, &runs, &n_runs);
    for (int i = 0; i < n_runs && rc == 0; i++) {
        dlh_config *c;
        if ((rc = dlh_cv_config(s, (const char *const *)runs[i].sets, n_keys, &c)) == 0)
            dlh_config_free(c);
    }
    if (rc == 0) {
        size_t len = strlen(s->runs_root ? s->runs_root : "runs") + strlen(name) + 8;
        if (!(base = malloc(len)) || !(root = malloc(len)))
            rc = sw_oom();
        else {
            snprintf(base, len, "%s/%s", s->runs_root ? s->runs_root : "runs", name);
            snprintf(root, len, "%s/sweep", base);
        }
    }
    for (int i = 0; i < n_runs && rc == 0; i++) {
        fprintf(out, "== sweep: run %d of %d: %s ==\n", i + 1, n_runs, runs[i].id);
        runs[i].order = i;
        rc = sw_one(s, o, root, &runs[i], n_keys, monitor, out);
        if (rc > 0)
            fprintf(out, "sweep: stopped in %s; run the same command again to go on "
                    "(finished runs are kept, this one resumes)\n", runs[i].id);
    }
    if (rc == 0) {
        sw_sort(runs, n_runs, minimize);
        rc = sw_board(base, keys, n_keys, runs, n_runs, monitor, minimize, out);
        if (rc == 0 && !isnan(runs[0].score))
            rc = sw_best_cfg(s, base, &runs[0], n_keys, out);
    }
    sw_runs_free(runs, n_runs, n_keys);
    sw_keys_free(keys, n_keys);
    free(name);
    free(monitor);
    free(base);
    free(root);
    return rc;
}
