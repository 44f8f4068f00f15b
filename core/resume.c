/* `dlhost run --resume RUNDIR`: RUNDIR/last.safetensors checked against the
 * experiment and loaded into a run that has been set up but has not trained
 * (run.c), with what the epochs before it left in memory replayed: the best
 * value, early stopping's count and the schedule's state.  Checkpoints are
 * taken at epoch ends, where a run resumes at the first batch of the next
 * epoch, and where a signal stopped a run inside an epoch, where it resumes
 * at the next batch of that epoch, with the epoch's sums so far; on the cpu
 * backend its weights then equal the uninterrupted run's. */
#include <errno.h>
#include <stdio.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "curves.h"
#include "error.h"
#include "eval.h"
#include "run_state.h"
#include "safetensors.h"

/* Metadata `key` of the checkpoint as a finite number >= min. */
static int run_meta_f64(const dlh_st_file *f, const char *path, const char *key,
                        double min, double *out)
{
    const char *v = dlh_st_meta_get(f, key);
    char *end = NULL;
    errno = 0;
    double x = v ? strtod(v, &end) : 0.0;
    if (!v || end == v || *end || errno || !isfinite(x) || x < min) {
        dlh_error_set("%s: metadata '%s' is missing or malformed", path, key);
        return DLH_EDATA;
    }
    *out = x;
    return 0;
}

/* Metadata `key` of the checkpoint as an integer >= min. */
static int run_meta_i64(const dlh_st_file *f, const char *path, const char *key,
                        int64_t min, int64_t *out)
{
    const char *v = dlh_st_meta_get(f, key);
    char *end = NULL;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || end == v || *end || errno || x < min) {
        dlh_error_set("%s: metadata '%s' is missing or malformed", path, key);
        return DLH_EDATA;
    }
    *out = (int64_t)x;
    return 0;
}

/* Whether two "plugins" lists ("a 1.0 (ABI 1.1); b 1.0 (ABI 1.1)") hold the
   same items, in any order, leaving out the item a_skip of a and b_skip of b
   (each NULL for none): the backends, which a resumed run may change. */
static int run_same_plugins(const char *a, const char *a_skip, const char *b,
                            const char *b_skip)
{
    for (int pass = 0; pass < 2; pass++) {
        const char *x = pass ? b : a, *y = pass ? a : b;
        const char *x_skip = pass ? b_skip : a_skip, *y_skip = pass ? a_skip : b_skip;
        for (const char *p = x; *p;) {
            const char *q = strstr(p, "; ");
            size_t len = q ? (size_t)(q - p) : strlen(p);
            if (x_skip && strlen(x_skip) == len && memcmp(p, x_skip, len) == 0) {
                p = q ? q + 2 : p + len;
                continue;
            }
            int found = 0;
            for (const char *u = y; *u && !found;) {
                const char *v = strstr(u, "; ");
                size_t ul = v ? (size_t)(v - u) : strlen(u);
                found = ul == len && memcmp(u, p, len) == 0 &&
                        !(y_skip && strlen(y_skip) == ul && memcmp(u, y_skip, ul) == 0);
                u = v ? v + 2 : u + ul;
            }
            if (!found)
                return 0;
            p = q ? q + 2 : p + len;
        }
    }
    return 1;
}

/* Whether the training data give the checkpoint's statistics.  Whitening's
   matrix comes from a multithreaded BLAS whose last bits may depend on the
   thread count: its mean must be equal (the data did not change), W close
   (1e-4 of its largest entry), and the run continues with the checkpoint's
   W (copied into b by the caller). */
static int run_same_norm(const dlh_norm *a, const dlh_norm *b)
{
    if (a->kind != b->kind)
        return 0;
    if (a->kind == DLH_NORM_NONE)
        return 1;
    if (DLH_NORM_WHITENS(a->kind)) {
        if (a->dim != b->dim ||
            memcmp(a->mean, b->mean, (size_t)a->dim * sizeof(float)) != 0)
            return 0;
        int64_t dd = a->dim * a->dim;
        float top = 0.0f;
        for (int64_t i = 0; i < dd; i++)
            top = fabsf(a->whiten[i]) > top ? fabsf(a->whiten[i]) : top;
        for (int64_t i = 0; i < dd; i++)
            if (!(fabsf(a->whiten[i] - b->whiten[i]) <= 1e-4f * top))
                return 0;
        return 1;
    }
    size_t bytes = (size_t)a->groups * sizeof(float);
    return a->groups == b->groups && a->group_stride == b->group_stride &&
           memcmp(a->shift, b->shift, bytes) == 0 && memcmp(a->scale, b->scale, bytes) == 0;
}

/* "[v, v, ...]" of exactly n numbers (%.17g, nan allowed) into v. */
static int run_parse_history(const char *s, double *v, int64_t n)
{
    const char *p = s;
    if (!p || *p++ != '[')
        return -1;
    for (int64_t i = 0; i < n; i++) {
        char *end;
        if (i > 0) {
            if (*p++ != ',')
                return -1;
            while (*p == ' ')
                p++;
        }
        v[i] = strtod(p, &end);
        if (end == p)
            return -1;
        p = end;
    }
    return *p == ']' && p[1] == '\0' ? 0 : -1;
}

/* A loss list stopped inside an epoch: each head's loss sum and correct
   count over the epoch's `seen` samples so far. */
static int run_resume_head_sums(run_state *r, const dlh_st_file *f, const char *path,
                                int64_t seen)
{
    const dlh_experiment *e = r->e;
    if (!e->loss_list)
        return 0;
    const char *sums = dlh_st_meta_get(f, "epoch_head_loss_sums");
    const char *cors = dlh_st_meta_get(f, "epoch_head_correct");
    double *c = dlh_run_calloc((size_t)e->n_heads, sizeof *c);
    if (!c)
        return DLH_ENOMEM;
    int bad = run_parse_history(sums, r->head_sum, e->n_heads) ||
              run_parse_history(cors, c, e->n_heads);
    for (int h = 0; !bad && h < e->n_heads; h++) {
        bad = !(c[h] >= 0.0 && c[h] <= (double)seen && c[h] == floor(c[h]));
        r->head_correct[h] = bad ? 0 : (int64_t)c[h];
    }
    free(c);
    if (bad) {
        dlh_error_set("%s: metadata 'epoch_head_loss_sums'/'epoch_head_correct' is missing "
                      "or is not a list of %d numbers (one per loss of %s)", path,
                      e->n_heads, dlh_config_path(e->cfg));
        return DLH_EDATA;
    }
    return 0;
}

/* The checkpoint's metadata against this run, before anything is loaded:
   format, optimizer, plugins, config hash, epoch, monitored metric. */
static int run_resume_meta(run_state *r, const dlh_st_file *f, const char *path,
                           int64_t *epoch)
{
    dlh_experiment *e = r->e;
    const char *cfg = dlh_config_path(e->cfg);
    const char *v = dlh_st_meta_get(f, "format");
    if (v && strcmp(v, RUN_FORMAT) != 0 &&
        strncmp(v, RUN_FORMAT_OLD_PREFIX, strlen(RUN_FORMAT_OLD_PREFIX)) == 0) {
        dlh_error_set("%s: written by another dlhost (format '%s', this one writes '%s'), "
                      "which does not record what resuming needs; it cannot be resumed "
                      "(dlhost eval still reads it)", path, v, RUN_FORMAT);
        return DLH_ECONFIG;
    }
    if (!v || strcmp(v, RUN_FORMAT) != 0) {
        dlh_error_set("%s: not a dlhost training checkpoint (metadata 'format' is '%s', "
                      "expected '%s')", path, v ? v : "missing", RUN_FORMAT);
        return DLH_EDATA;
    }
    if (!(v = dlh_st_meta_get(f, "optimizer")) || strcmp(v, e->optimizer_type) != 0) {
        dlh_error_set("%s: the checkpoint was trained with optimizer '%s', %s asks for "
                      "'%s'; resume keeps the optimizer", path, v ? v : "?", cfg,
                      e->optimizer_type);
        return DLH_ECONFIG;
    }
    /* The backend may change; checkpoints without "backend_plugin" name it
       only in "plugins", which must then match whole. */
    const char *ckpt_backend = dlh_st_meta_get(f, "backend_plugin");
    if (!(v = dlh_st_meta_get(f, "plugins")) ||
        !run_same_plugins(v, ckpt_backend, r->plugins,
                          ckpt_backend ? r->backend_plugin : NULL)) {
        dlh_error_set("%s: the checkpoint was trained with the plugins '%s', this run "
                      "uses '%s'; resume needs the same plugins and versions (the "
                      "backend aside)", path, v ? v : "?", r->plugins);
        return DLH_ECONFIG;
    }
    if (ckpt_backend && strcmp(ckpt_backend, r->backend_plugin) != 0 &&
        !(r->resumed_backend = strdup(ckpt_backend))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    /* Checkpoints written before the fingerprint have no "data". */
    if ((v = dlh_st_meta_get(f, "data")) && strcmp(v, r->data_hash) != 0) {
        dlh_error_set("%s: data.train of %s differs from the checkpoint's (%s, now %s): "
                      "the data changed since it was written", path, cfg, v, r->data_hash);
        return DLH_ECONFIG;
    }
    if (!(v = dlh_st_meta_get(f, "config_hash")) || strcmp(v, r->config_hash) != 0) {
        dlh_error_set("%s: the model, loss or optimizer settings of %s differ from the "
                      "checkpoint's (config_hash %s, now %s); resume refuses a changed "
                      "model or optimizer", path, cfg, v ? v : "missing", r->config_hash);
        return DLH_ECONFIG;
    }
    int64_t step;
    int rc;
    if ((rc = run_meta_i64(f, path, "epoch", 0, epoch)) ||
        (rc = run_meta_i64(f, path, "step", 0, &step)) ||
        (rc = run_meta_i64(f, path, "best_epoch", 0, &r->best_epoch)) ||
        (rc = run_meta_i64(f, path, "best_step", 0, &r->best_step)))
        return rc;
    if (r->best_epoch > *epoch || r->best_step > step ||
        (r->best_epoch == 0) != (r->best_step == 0)) {
        dlh_error_set("%s: metadata 'best_epoch' %" PRId64 " and 'best_step' %" PRId64
                      " do not fit epoch %" PRId64 ", step %" PRId64, path, r->best_epoch,
                      r->best_step, *epoch, step);
        return DLH_EDATA;
    }
    struct run_partial *p = &r->start;
    memset(p, 0, sizeof *p);
    if (dlh_st_meta_get(f, "batch")) {
        /* Stopped inside epoch *epoch + 1: the same batches are needed. */
        int64_t bs, steps = dlh_run_steps(r);
        if ((rc = run_meta_i64(f, path, "batch", 1, &p->batch)) ||
            (rc = run_meta_i64(f, path, "batch_size", 1, &bs)) ||
            (rc = run_meta_i64(f, path, "epoch_correct", 0, &p->correct)) ||
            (rc = run_meta_f64(f, path, "epoch_loss_sum", -HUGE_VAL, &p->sum)) ||
            (rc = run_meta_f64(f, path, "epoch_seconds", 0.0, &p->seconds)) ||
            (rc = run_resume_head_sums(r, f, path, p->batch * bs)))
            return rc;
        if (bs != e->batch_size) {
            dlh_error_set("%s: stopped inside an epoch of batch size %" PRId64 ", and %s "
                          "asks for %" PRId64 "; resuming inside an epoch needs the same "
                          "train.batch_size", path, bs, cfg, e->batch_size);
            return DLH_ECONFIG;
        }
        /* (The epoch bound keeps *epoch * steps + batch from overflowing.) */
        if (p->batch >= steps || *epoch > (INT64_MAX - steps) / steps ||
            step != *epoch * steps + p->batch || p->correct > p->batch * bs) {
            dlh_error_set("%s: metadata 'step' %" PRId64 ", 'batch' %" PRId64 " and "
                          "'epoch_correct' %" PRId64 " do not fit epoch %" PRId64 " of %"
                          PRId64 " steps", path, step, p->batch, p->correct, *epoch + 1,
                          steps);
            return DLH_EDATA;
        }
    } else if (*epoch < 1 || step % *epoch != 0 || step / *epoch < 1 ||
               step / *epoch > r->n_epoch) {
        /* At an epoch end: whole epochs of at most one step per sample
           (this also bounds the schedule's replay). */
        dlh_error_set("%s: metadata 'step' %" PRId64 " is not a whole number of epochs "
                      "(%" PRId64 ") of at most %" PRId64 " steps", path, step, *epoch,
                      r->n_epoch);
        return DLH_EDATA;
    }
    /* At train.epochs the run had ended: it is resumed to what follows the
       last epoch (restoring the best weights, the test), so that a run
       killed after its last checkpoint ends as the uninterrupted one did. */
    if (*epoch > e->epochs || (*epoch == e->epochs && p->batch > 0)) {
        dlh_error_set("%s: the checkpoint is at epoch %" PRId64 "%s and train.epochs is "
                      "%" PRId64 ": nothing to resume (raise it, e.g. --set "
                      "train.epochs=%" PRId64 ")", path, *epoch, p->batch ? " and more" : "",
                      e->epochs, *epoch + 1);
        return DLH_ECONFIG;
    }
    r->finished = *epoch == e->epochs ? RUN_ENDED : 0;
    r->step = step;
    if (!(v = dlh_st_meta_get(f, "monitor")) || strcmp(v, r->monitor) != 0) {
        dlh_error_set("%s: the checkpoint monitored %s, this run monitors %s "
                      "(train.early_stopping.monitor, validation data); resume keeps "
                      "the monitored metric", path, v ? v : "?", r->monitor);
        return DLH_ECONFIG;
    }
    if (run_parse_history(dlh_st_meta_get(f, "monitored"), r->history, *epoch)) {
        dlh_error_set("%s: metadata 'monitored' is missing or not a list of %" PRId64
                      " numbers", path, *epoch);
        return DLH_EDATA;
    }
    return 0;
}

/* Replays what the epochs before `epoch` (and the steps of it a signal
   stopped) left in memory: the best value, early stopping's count, and the
   schedule's calls (a schedule such as reduce_on_plateau keeps state
   between them). */
static int run_resume_replay(run_state *r, int64_t epoch, const char *path)
{
    dlh_experiment *e = r->e;
    int improved = 0;
    int64_t saved_best = r->best_epoch;
    r->best_epoch = 0;
    for (int64_t k = 0; k < epoch; k++)
        improved = dlh_run_track_best(r, r->history[k], k + 1);
    if (r->best_epoch != saved_best) {
        dlh_error_set("%s: metadata 'best_epoch' is %" PRId64 ", but the monitored "
                      "values make epoch %" PRId64 " the best", path, saved_best,
                      r->best_epoch);
        return DLH_EDATA;
    }
    if (epoch > 0 && r->start.batch == 0 && !r->finished && dlh_run_stops(r, improved))
        r->finished = RUN_STOPPED_EARLY;
    int64_t steps = dlh_run_steps(r);
    /* Steps per epoch at the checkpoint's batch size (the same inside an
       epoch, which run_resume_meta checked). */
    int64_t done_steps = r->start.batch > 0 ? steps : r->step / epoch;
    for (int64_t k = 0; k <= epoch; k++)
        for (int64_t s = 0; s < (k < epoch ? done_steps : r->start.batch); s++) {
            int rc = dlh_optim_lrs(e, k, k * done_steps + s, steps,
                                   k > 0 ? r->history[k - 1] : NAN);
            if (rc) {
                dlh_error_prefix("replaying epoch %" PRId64 ": ", k + 1);
                return rc;
            }
        }
    r->monitored = epoch > 0 ? r->history[epoch - 1] : NAN;
    r->start_epoch = epoch;
    return 0;
}

/* Everything of RUNDIR/last.safetensors into this run, checked first:
   weights, optimiser state, step and epoch counters, normalisation
   statistics, best value and early stopping, the schedule's state; then the
   metrics rows before the resumed epoch.  Nothing is written to the run
   folder here. */
/* No last.safetensors in the run folder `dir`: a run that stopped before
   its first checkpoint goes on from the beginning, which is where it was.
   A run writes config.cfg first, so a folder without one (or without its
   metrics.csv, which comes next) holds no run and is refused. */
static int run_resume_nothing(run_state *r, const char *dir, const char *metrics)
{
    dlh_epoch_row *rows = NULL;
    size_t n = 0;
    struct stat st;
    char *config = dlh_run_join(dir, "config.cfg");
    if (!config)
        return DLH_ENOMEM;
    int started = stat(config, &st) == 0;
    free(config);
    if (r->e->checkpoint_every == 0 || !started) {
        dlh_error_set("--resume %s: no last.safetensors to resume from (a run writes it "
                      "every train.checkpoint.every_epochs epochs)%s", dir,
                      r->e->checkpoint_every == 0 ? ""
                      : ", and no config.cfg: no run started there (start one with "
                        "dlhost run)");
        return DLH_ECONFIG;
    }
    int rc = stat(metrics, &st) == 0 ? dlh_metrics_read(metrics, &rows, &n) : 0;
    free(rows);
    if (rc < 0)
        return rc;
    fprintf(r->out, "--resume %s: no checkpoint was written before the run stopped; it "
            "starts again from the beginning\n", dir);
    r->best_epoch = r->best_step = 0;
    return 0;
}

/* Whether last.safetensors (f) carries the copy of the best weights, with
   exactly the tensors that go with it. */
static int run_resume_has_copy(run_state *r, const dlh_st_file *f, const char *path,
                               int *has)
{
    *has = 0;
    if (r->n_weights == 0)
        return 0;
    size_t len = sizeof RUN_BEST_PREFIX + strlen(r->ckpt[0].name);
    char *probe = malloc(len);
    if (!probe) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    snprintf(probe, len, RUN_BEST_PREFIX "%s", r->ckpt[0].name);
    *has = dlh_st_find(f, probe) != NULL;
    free(probe);
    size_t want = r->n_ckpt + (*has ? r->n_weights : 0);
    /* A checkpoint from before a layer declared its counters has neither
       them nor their copies (rundir.h). */
    for (size_t i = 0; i < r->n_weights; i++)
        if (r->ckpt[i].host && !dlh_st_find(f, r->ckpt[i].name))
            want -= *has ? 2 : 1;
    if (*has && dlh_st_count(f) != want) {
        dlh_error_set("%s: holds %zu tensors, expected %zu (the weights, the optimiser "
                      "state and a copy of the best weights)", path, dlh_st_count(f), want);
        return DLH_EDATA;
    }
    return 0;
}

/* Counters (layer.h add_counter) start at the checkpoint's step count and
   their best copies at the best epoch's, for a checkpoint written before
   the layer had them: every training step ran each layer's forward once
   then.  Those in the file replace these when it loads. */
static void run_resume_counters(run_state *r)
{
    for (size_t i = 0; i < r->n_weights; i++)
        if (r->ckpt[i].host) {
            *r->ckpt[i].host = r->step;
            if (r->best)
                r->best_counts[i] = r->best_step;
        }
}

/* The tensors of last.safetensors into the run: weights and optimiser
   state, and where the run keeps the best weights (r->best) their copy:
   the file's "best.<name>" tensors, or the weights just loaded when they
   are the best epoch's. */
static int run_resume_load(run_state *r, const char *path, int64_t epoch, int has_copy)
{
    int rc;
    run_resume_counters(r);
    if (has_copy && r->best)
        return dlh_checkpoint_load(r->be, path, r->save, r->n_ckpt + r->n_weights, 0, NULL);
    /* A copy this run does not keep is left in the file. */
    if ((rc = dlh_checkpoint_load(r->be, path, r->ckpt, r->n_ckpt, has_copy, NULL)))
        return rc;
    if (!r->best || r->best_epoch == 0)
        return 0;
    if (r->best_epoch == epoch && r->start.batch == 0)
        return dlh_run_copy_best(r, 0);
    dlh_error_set("%s: holds no copy of the weights of epoch %" PRId64 ", the best so far, "
                  "which this run needs (for early stopping or best.safetensors): the run "
                  "that wrote it kept none (train.early_stopping was off and "
                  "train.checkpoint.keep_best false)", path, r->best_epoch);
    return DLH_ECONFIG;
}

/* Everything of RUNDIR/last.safetensors into this run, checked first:
   weights, optimiser state, the best weights, step and epoch counters,
   normalisation statistics, best value and early stopping, the schedule's
   state; then the metrics rows before the resumed epoch.  Nothing is
   written to the run folder here. */
int dlh_run_resume(run_state *r, const char *dir, dlh_epoch_row **rows, size_t *n_rows)
{
    dlh_experiment *e = r->e;
    const char *path = r->path_last;
    struct stat st;
    *rows = NULL;
    *n_rows = 0;
    char *metrics = dlh_run_join(dir, "metrics.csv");
    if (!metrics)
        return DLH_ENOMEM;
    if (lstat(path, &st) != 0 && errno == ENOENT) {
        int rc = run_resume_nothing(r, dir, metrics);
        free(metrics);
        return rc;
    }
    dlh_st_file *f = NULL;
    dlh_norm norm;
    int64_t epoch = 0;
    int has_copy = 0;
    memset(&norm, 0, sizeof norm);
    int rc = dlh_st_read(path, &f);
    if (rc == 0 && (rc = run_resume_meta(r, f, path, &epoch)) == 0 &&
        (rc = dlh_checkpoint_check(e, f, path, r->ckpt, r->n_ckpt, &norm)) == 0 &&
        !run_same_norm(&norm, &r->norm)) {
        dlh_error_set("%s: the normalisation statistics of the training data differ "
                      "from the checkpoint's: the data changed since it was written",
                      path);
        rc = DLH_ECONFIG;
    }
    if (rc == 0 && DLH_NORM_WHITENS(norm.kind))
        memcpy(r->norm.whiten, norm.whiten, (size_t)(norm.dim * norm.dim) * sizeof(float));
    if (rc == 0)
        rc = run_resume_has_copy(r, f, path, &has_copy);
    dlh_norm_free(&norm);
    dlh_st_free(f);
    if (rc < 0 || (rc = run_resume_replay(r, epoch, path)) ||
        (rc = run_resume_load(r, path, epoch, has_copy)) ||
        (rc = dlh_optim_sync(e, 0))) {
        free(metrics);
        return rc;
    }

    size_t n = 0;
    rc = dlh_metrics_read(metrics, rows, &n);
    if (rc == 0) {
        while (n > 0 && (*rows)[n - 1].epoch > epoch)
            n--;
        if (n != (size_t)epoch) {
            dlh_error_set("%s: %zu rows up to epoch %" PRId64 ", expected %" PRId64
                          " (one per epoch)", metrics, n, epoch, epoch);
            rc = DLH_EDATA;
        }
        for (size_t i = 0; rc == 0 && i < n; i++)
            if ((*rows)[i].n_extra != r->n_cols) {
                dlh_error_set("%s: %d columns after samples_per_s, this run writes %d (one "
                              "per head's metric)", metrics, (*rows)[i].n_extra, r->n_cols);
                rc = DLH_EDATA;
            }
    }
    free(metrics);
    if (rc < 0) {
        free(*rows);
        *rows = NULL;
        return rc;
    }
    *n_rows = n;
    return 0;
}

/* best.safetensors as the resumed run's state says it is: the weights of
   epoch r->best_epoch.  A crash between the writes of last and best (or a
   resume from a last older than best, with train.checkpoint.every_epochs
   > 1) leaves it behind or ahead of last; it is then rebuilt from the copy
   last holds, the same bytes the uninterrupted run wrote. */
int dlh_run_repair_best(run_state *r)
{
    dlh_experiment *e = r->e;
    if (!r->best || !e->keep_best || e->checkpoint_every == 0)
        return 0;
    const char *path = r->path_best;
    struct stat st;
    if (r->best_epoch == 0) {
        /* No epoch has ended yet: a best file is from a run that was lost. */
        if (lstat(path, &st) != 0)
            return 0;
        if (unlink(path) != 0) {
            dlh_error_set("%s: cannot remove it: %s", path, strerror(errno));
            return DLH_EIO;
        }
        fprintf(r->out, "%s: removed; no epoch of the resumed run has ended yet\n", path);
        return 0;
    }
    char why[256] = "";
    dlh_st_file *f = NULL;
    if (lstat(path, &st) != 0) {
        snprintf(why, sizeof why, "is missing");
    } else if (dlh_st_read(path, &f) < 0) {
        snprintf(why, sizeof why, "cannot be read (%.200s)", dlh_error_get());
    } else {
        const char *ep = dlh_st_meta_get(f, "epoch"), *sp = dlh_st_meta_get(f, "step");
        char want_ep[32], want_sp[32];
        snprintf(want_ep, sizeof want_ep, "%" PRId64, r->best_epoch);
        snprintf(want_sp, sizeof want_sp, "%" PRId64, r->best_step);
        if (!ep || !sp || strcmp(ep, want_ep) != 0 || strcmp(sp, want_sp) != 0)
            snprintf(why, sizeof why, "holds epoch %.20s", ep ? ep : "?");
    }
    dlh_st_free(f);
    dlh_error_clear();
    if (!why[0])
        return 0;
    fprintf(r->out, "%s %s, but the best epoch so far is %" PRId64 ": rebuilt from %s\n",
            path, why, r->best_epoch, r->path_last);
    return dlh_run_save_best(r);
}
