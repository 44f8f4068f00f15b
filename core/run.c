/* `dlhost run`: the training loop.
 *
 * Everything is allocated before the first step (the graph's activations,
 * the evaluator's targets and argmax buffers, the loader's two host batches,
 * index lists, the gradient-norm vector), so the step loop allocates nothing;
 * per-epoch work (metrics, checkpoints) may.
 *
 * Random numbers are Philox keyed by the experiment's seed; the streams are
 * host->rng_stream(purpose, a, b) with the purposes below (1 and 2 belong to
 * instance.c: parameter initialisation and the layers' per-step draws), so
 * the shuffle of an epoch is a pure function of (seed, epoch). */
#include "run.h"

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batcher.h"
#include "diagnose.h"
#include "error.h"
#include "eval.h"
#include "experiment.h"
#include "graph.h"
#include "hash.h"
#include "metrics.h"
#include "pretrained.h"
#include "registry.h"
#include "run_state.h"
#include "rundir.h"
#include "safetensors.h"

#define RUN_RNG_SHUFFLE 3       /* (3, epoch, 0): the epoch's order */
#define RUN_RNG_SPLIT 4         /* (4, 0, 0): the validation split */

/* SIGINT or SIGTERM during training: the number of the signal, which the
   step loop sees after the step it interrupted. */
static volatile sig_atomic_t run_signal;

static void run_on_signal(int sig)
{
    run_signal = sig;
}

static double run_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void *dlh_run_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        dlh_error_set("out of memory");
    return p;
}

char *dlh_run_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", a, b);
    else
        dlh_error_set("out of memory");
    return s;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void run_fnv(uint64_t *h, const char *s)
{
    *h = dlh_fnv1a64_str(*h, s);
}

/* Feeds a setting (its name, type and value, groups and lists member by
   member) into the hash in a canonical text form: the same values hash the
   same however the file spells them (1e-3 and 0.001). */
static void run_hash_setting(uint64_t *h, const config_setting_t *s)
{
    char buf[64];
    const char *name = config_setting_name(s);
    run_fnv(h, name ? name : "");
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        snprintf(buf, sizeof buf, "=%lld;", (long long)config_setting_get_int64(s));
        run_fnv(h, buf);
        break;
    case CONFIG_TYPE_FLOAT:
        snprintf(buf, sizeof buf, "=%.17g;", config_setting_get_float(s));
        run_fnv(h, buf);
        break;
    case CONFIG_TYPE_BOOL:
        run_fnv(h, config_setting_get_bool(s) ? "=true;" : "=false;");
        break;
    case CONFIG_TYPE_STRING:
        run_fnv(h, "=\"");
        run_fnv(h, config_setting_get_string(s));
        run_fnv(h, "\";");
        break;
    default:                        /* group, list, array */
        run_fnv(h, config_setting_type(s) == CONFIG_TYPE_GROUP ? "{" : "(");
        for (int i = 0; i < config_setting_length(s); i++)
            run_hash_setting(h, config_setting_get_elem(s, (unsigned)i));
        run_fnv(h, "}");
        break;
    }
}

/* The checkpoint's "config_hash": FNV-1a 64 of the settings a resumed run
   must not change (the model, the loss, the optimizer), as 16 hex digits. */
static void run_hash_config(dlh_config *cfg, char *out, size_t size)
{
    static const char *const keys[] = { "model", "loss", "optimizer" };
    uint64_t h = DLH_FNV1A64_INIT;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        config_setting_t *s = config_setting_get_member(dlh_config_root(cfg), keys[i]);
        run_fnv(&h, keys[i]);
        if (s)
            run_hash_setting(&h, s);
    }
    snprintf(out, size, "fnv1a64:%016" PRIx64, h);
}

/* Appends "file name version (ABI M.m)" of the plugin of (kind, name) to
   buf unless it is there already. */
static void run_plugin_note(char *buf, size_t size, dlh_kind kind, const char *name)
{
    const dlh_component *c = name ? dlh_registry_find(kind, name) : NULL;
    dlh_error_clear();
    if (!c || !c->plugin)
        return;
    const dlh_plugin_info *p = &c->plugin->info;
    char item[256];
    snprintf(item, sizeof item, "%s %s (ABI %u.%u)", p->name, p->version,
             (unsigned)p->abi_major, (unsigned)p->abi_minor);
    if (strstr(buf, item))
        return;
    size_t n = strlen(buf);
    snprintf(buf + n, size - n, "%s%s", n ? "; " : "", item);
}

/* Samples of data.train the fingerprint reads (evenly spaced, the first
   and last included). */
#define RUN_FP_SAMPLES 256

/* r->data_hash: what --resume compares to tell changed training data even
   without normalisation statistics: the sample count and an FNV-1a hash of
   the values and labels of up to RUN_FP_SAMPLES samples, read through the
   dataset reader (so a change in samples it does not read goes unseen). */
static int run_data_fingerprint(run_state *r)
{
    dlh_experiment *e = r->e;
    const dlh_dataset_info *info = &e->train.info;
    int64_t n = info->n_samples, xn = dlh_shape_numel(&info->sample);
    int64_t yn = info->label_kind == DLH_LABEL_CLASS   ? 1
                 : info->label_kind == DLH_LABEL_DENSE ? dlh_shape_numel(&info->label)
                                                       : 0;
    int64_t k = n < RUN_FP_SAMPLES ? n : RUN_FP_SAMPLES;
    float *x = dlh_run_calloc((size_t)xn, sizeof *x);
    float *y = dlh_run_calloc((size_t)yn, sizeof *y);
    uint64_t h = DLH_FNV1A64_INIT;
    int rc = x && y ? 0 : DLH_ENOMEM;
    for (int64_t i = 0; i < k && rc == 0; i++) {
        int64_t idx = k > 1 ? i * (n - 1) / (k - 1) : 0;
        if ((rc = e->train.ops->read(e->train.state, &idx, 1, x, yn ? y : NULL)) < 0) {
            dlh_error_prefix("data.train: fingerprint: ");
            break;
        }
        h = dlh_fnv1a64(h, x, (size_t)xn * sizeof *x);
        h = dlh_fnv1a64(h, y, (size_t)yn * sizeof *y);
    }
    free(x);
    free(y);
    if (rc == 0)
        snprintf(r->data_hash, sizeof r->data_hash, "%" PRId64 " samples, fnv1a64 %016"
                 PRIx64 " of %" PRId64, n, h, k);
    return rc > 0 ? DLH_EPLUGIN : rc;
}

/* The device copies of the best weights, and the lists that save them:
   r->save (the checkpoint's tensors, then "best.<name>" of each copy, for
   last.safetensors) and r->best_ckpt (the copies under the weights' own
   names, for best.safetensors). */
static int run_setup_best(run_state *r)
{
    size_t nw = r->n_weights;
    if (!(r->best = dlh_run_calloc(nw, sizeof *r->best)) ||
        !(r->best_counts = dlh_run_calloc(nw, sizeof *r->best_counts)) ||
        !(r->save = dlh_run_calloc(r->n_ckpt + nw, sizeof *r->save)) ||
        !(r->best_ckpt = dlh_run_calloc(nw, sizeof *r->best_ckpt)))
        return DLH_ENOMEM;
    memcpy(r->save, r->ckpt, r->n_ckpt * sizeof *r->save);
    for (size_t i = 0; i < nw; i++) {
        int rc = 0;
        int64_t *host = r->ckpt[i].host ? &r->best_counts[i] : NULL;
        if (host)
            r->best[i] = *r->ckpt[i].t;     /* a counter: its copy is host memory */
        else
            rc = dlh_tensor_alloc(r->be, r->ckpt[i].t->ndim, r->ckpt[i].t->shape,
                                  &r->best[i]);
        if (rc)
            return rc;
        size_t len = sizeof RUN_BEST_PREFIX + strlen(r->ckpt[i].name);
        char *name = malloc(len);
        if (!name) {
            dlh_error_set("out of memory");
            return DLH_ENOMEM;
        }
        snprintf(name, len, RUN_BEST_PREFIX "%s", r->ckpt[i].name);
        r->save[r->n_ckpt + i] = (dlh_ckpt_tensor){ name, &r->best[i], host };
        r->best_ckpt[i] = (dlh_ckpt_tensor){ r->ckpt[i].name, &r->best[i], host };
    }
    return 0;
}

/* The sampler of train.sampler over the training split; the balancing ones
   read the split's labels once (through a buffer of about 1 MiB). */
static int run_sampler(run_state *r)
{
    dlh_experiment *e = r->e;
    int32_t *labels = NULL;
    float *y = NULL;
    int rc = 0;
    if (e->sampler != DLH_SAMPLER_RANDOM && e->sampler != DLH_SAMPLER_SEQUENTIAL) {
        labels = dlh_run_calloc((size_t)r->n_train, sizeof *labels);
        y = dlh_run_calloc((size_t)r->n_train, sizeof *y);
        if (!labels || !y) {
            rc = DLH_ENOMEM;
            goto done;
        }
        if ((rc = dlh_read_labels(e->train.ops, e->train.state, &e->train.info,
                                  r->train_idx, r->n_train, "data.train: sampler", y)))
            goto done;
        for (int64_t i = 0; i < r->n_train; i++)
            labels[i] = (int32_t)y[i];
    }
    if ((rc = dlh_sampler_init(&r->sampler, e->sampler, r->train_idx, r->n_train, labels,
                               e->n_classes, e->class_weights, e->sampler_samples))) {
        dlh_error_prefix("train: ");
        goto done;
    }
    r->n_epoch = r->sampler.n_epoch;
    if (!(r->order = dlh_run_calloc((size_t)r->n_epoch, sizeof *r->order)))
        rc = DLH_ENOMEM;
done:
    free(labels);
    free(y);
    return rc;
}

/* Copies the whitening statistics into the tensors checkpoints save. */
static int run_whiten_upload(run_state *r)
{
    const dlh_backend *be = r->e->backend;
    const dlh_norm *n = &r->norm;
    int rc = be->ops->write(be->ctx, r->e->whiten_t[0].mem.buf,
                            r->e->whiten_t[0].mem.off * sizeof(float), n->mean,
                            (size_t)n->dim * sizeof(float));
    if (rc == 0)
        rc = be->ops->write(be->ctx, r->e->whiten_t[1].mem.buf,
                            r->e->whiten_t[1].mem.off * sizeof(float), n->whiten,
                            (size_t)(n->dim * n->dim) * sizeof(float));
    if (rc < 0)
        dlh_error_prefix("data.train: whitening statistics to the backend: ");
    return rc;
}

/* metrics.csv's columns after the fixed 8 (metrics.h): each head's of a
   loss list, then the metrics' (run_extra_values); the names are e->cols'. */
static int run_setup_columns(run_state *r)
{
    const dlh_experiment *e = r->e;
    if (e->loss_list &&
        (!(r->head_sum = dlh_run_calloc((size_t)e->n_heads, sizeof *r->head_sum)) ||
         !(r->head_correct = dlh_run_calloc((size_t)e->n_heads, sizeof *r->head_correct))))
        return DLH_ENOMEM;
    if (!(r->cols = dlh_run_calloc((size_t)e->n_cols, sizeof *r->cols)))
        return DLH_ENOMEM;
    for (int i = 0; i < e->n_cols; i++)
        r->cols[i] = e->cols[i].name;
    r->n_cols = e->n_cols;
    return 0;
}

/* The metric values of set into v[*k...] in column order; a value named
   "accuracy" goes to *acc instead.  NaN everywhere when !valid. */
static void run_set_values(const dlh_metric_set *set, int valid, double *v, int *k,
                           double *acc)
{
    for (int j = 0; set && j < set->n; j++)
        for (int i = 0; i < set->m[j].n_values; i++) {
            const char *u = strchr(set->m[j].cols[i], '_');
            double x = valid ? set->m[j].values[i] : NAN;
            if (u && strcmp(u + 1, "accuracy") == 0)
                *acc = x;
            else
                v[(*k)++] = x;
        }
}

/* The extra values of an epoch of n training samples, in the order of
   r->cols, into row->extra (NaN where a value does not apply); metrics
   named accuracy into the row's accuracy columns. */
static void run_extra_values(const run_state *r, int has_val, int train_valid,
                             dlh_epoch_row *row)
{
    const dlh_experiment *e = r->e;
    double n = (double)r->n_epoch, *v = row->extra;
    int k = 0;
    for (int h = 0; e->loss_list && h < e->n_heads; h++) {
        int cls = e->heads[h].target_kind == DLH_TARGET_CLASS;
        const dlh_eval_head *vh = &r->ev.heads[h];
        v[k++] = r->head_sum[h] / n;
        if (cls)
            v[k++] = (double)r->head_correct[h] / n;
        v[k++] = has_val ? vh->eval_loss : NAN;
        if (cls)
            v[k++] = has_val ? vh->eval_accuracy : NAN;
    }
    run_set_values(e->metrics_train, train_valid, v, &k, &row->train_accuracy);
    run_set_values(e->metrics_val, has_val, v, &k, &row->val_accuracy);
    row->n_extra = k;
}

/* The value of column `name` in row (NaN when it has none). */
static double run_row_value(const run_state *r, const dlh_epoch_row *row, const char *name)
{
    const double v[DLH_METRICS_N_FIXED] = { row->train_loss, row->train_accuracy,
                                            row->val_loss, row->val_accuracy };
    for (int i = 0; i < DLH_METRICS_N_FIXED; i++)
        if (strcmp(name, dlh_metrics_fixed[i]) == 0)
            return v[i];
    for (int c = 0; c < r->n_cols && c < row->n_extra; c++)
        if (strcmp(name, r->cols[c]) == 0)
            return row->extra[c];
    return NAN;
}

/* Each table of the validation metrics as <table>/epoch-N.csv in the run
   folder (the confusion matrix: rows the true class, columns predicted). */
static int run_write_tables(run_state *r, int64_t epoch)
{
    const dlh_metric_set *set = r->e->metrics_val;
    for (int j = 0; set && j < set->n; j++) {
        const dlh_metric_table *t = set->m[j].table;
        if (!t)
            continue;
        int rc = dlh_rundir_table(r->rd, t, epoch);
        if (rc)
            return rc;
    }
    return 0;
}

static int run_setup(run_state *r, const dlh_run_options *opt)
{
    dlh_experiment *e = r->e;
    int rc;
    int64_t n = e->train.info.n_samples;

    /* The validation split: a seeded choice of samples, both parts kept in
       file order so that an unshuffled run reads the file in order. */
    r->n_val = e->validation_split > 0.0
                   ? (int64_t)floor(e->validation_split * (double)n) : 0;
    r->n_train = n - r->n_val;
    if (!(r->train_idx = dlh_run_calloc((size_t)n, sizeof *r->train_idx)))
        return DLH_ENOMEM;
    for (int64_t i = 0; i < n; i++)
        r->train_idx[i] = i;
    /* dlhost cv: the fold's validation samples, moved to the end. */
    if (opt && opt->split) {
        if ((rc = opt->split(opt->split_arg, e, r->train_idx, n, &r->n_val)))
            return rc;
        r->n_train = n - r->n_val;
    }
    if (r->n_val > 0) {
        if (!(opt && opt->split))
            dlh_permute(r->train_idx, n, e->seed, r->host->rng_stream(RUN_RNG_SPLIT, 0, 0));
        r->val_idx = r->train_idx + r->n_train;
        qsort(r->val_idx, (size_t)r->n_val, sizeof *r->val_idx, cmp_i64);
        qsort(r->train_idx, (size_t)r->n_train, sizeof *r->train_idx, cmp_i64);
    } else if (e->validation.ops) {
        r->n_val = e->validation.info.n_samples;
        if (!(r->val_idx = dlh_run_calloc((size_t)r->n_val, sizeof *r->val_idx)))
            return DLH_ENOMEM;
        for (int64_t i = 0; i < r->n_val; i++)
            r->val_idx[i] = i;
    }
    if (e->test.ops) {
        r->n_test = e->test.info.n_samples;
        if (!(r->test_idx = dlh_run_calloc((size_t)r->n_test, sizeof *r->test_idx)))
            return DLH_ENOMEM;
        for (int64_t i = 0; i < r->n_test; i++)
            r->test_idx[i] = i;
    }

    if ((rc = run_data_fingerprint(r)) || (rc = run_sampler(r)))
        return rc;
    if (e->n_class_names > 0) {
        if (!(r->class_keys = dlh_run_calloc((size_t)e->n_class_names, sizeof(char *))))
            return DLH_ENOMEM;
        for (int64_t k = 0; k < e->n_class_names; k++) {
            char key[48];
            snprintf(key, sizeof key, DLH_CLASS_NAME_KEY, k);
            if (!(r->class_keys[k] = strdup(key))) {
                dlh_error_set("out of memory");
                return DLH_ENOMEM;
            }
        }
    }
    if (e->normalize != DLH_NORM_NONE &&
        (rc = dlh_norm_compute(e->normalize, e->whiten_epsilon, e->train.ops,
                               e->train.state, &e->train.info, r->train_idx, r->n_train,
                               &r->norm))) {
        dlh_error_prefix("data.train: normalisation statistics: ");
        return rc;
    }
    if (DLH_NORM_WHITENS(e->normalize) && (rc = run_whiten_upload(r)))
        return rc;
    const dlh_norm *norm = e->normalize != DLH_NORM_NONE ? &r->norm : NULL;
    if ((rc = dlh_batcher_new(e->train.ops, e->train.state, &e->train.info, norm,
                              e->max_batch, &r->bt_train)) ||
        (e->validation.ops &&
         (rc = dlh_batcher_new(e->validation.ops, e->validation.state,
                               &e->validation.info, norm, e->max_batch, &r->bt_val))) ||
        (e->test.ops &&
         (rc = dlh_batcher_new(e->test.ops, e->test.state, &e->test.info, norm,
                               e->max_batch, &r->bt_test))) ||
        (rc = dlh_batcher_set_augment(r->bt_train, e->augment, e->n_augment,
                                      (int)e->workers,
                                      e->soft_labels ? e->n_classes : 0)))
        return rc;
    /* Training batches straight into the model input where the backend
       lets the host address its memory (cpu): no copy per step. */
    if ((rc = dlh_evaluator_init(&r->ev, e)) ||
        (rc = dlh_evaluator_direct(&r->ev, r->bt_train)))
        return rc;
    r->ev.metrics = e->metrics_val;

    size_t nw;
    dlh_ckpt_tensor *w;
    if ((rc = dlh_model_tensors(e, 0, &w, &nw)))
        return rc;
    dlh_model_tensors_free(w, nw);
    r->n_weights = nw;
    if ((rc = dlh_model_tensors(e, 1, &r->ckpt, &r->n_ckpt)))
        return rc;
    if (e->early_stopping || (e->keep_best && e->checkpoint_every > 0)) {
        if ((rc = run_setup_best(r)))
            return rc;
    }

    char plugins[2048] = "";
    run_plugin_note(plugins, sizeof plugins, DLH_KIND_BACKEND, r->be->name);
    if (!(r->backend_plugin = strdup(plugins))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    run_plugin_note(plugins, sizeof plugins, DLH_KIND_DATASET, e->train.type);
    run_plugin_note(plugins, sizeof plugins, DLH_KIND_DATASET, e->validation.type);
    run_plugin_note(plugins, sizeof plugins, DLH_KIND_DATASET, e->test.type);
    for (int i = 0; i < e->n_layers; i++)
        run_plugin_note(plugins, sizeof plugins, DLH_KIND_LAYER, e->layer_types[i]);
    for (int h = 0; h < e->n_heads; h++)
        run_plugin_note(plugins, sizeof plugins, DLH_KIND_LOSS, e->heads[h].loss_type);
    run_plugin_note(plugins, sizeof plugins, DLH_KIND_OPTIMIZER, e->optimizer_type);
    run_plugin_note(plugins, sizeof plugins, DLH_KIND_SCHEDULE, e->schedule_type);
    if (!(r->plugins = strdup(plugins))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    if (!(r->history = dlh_run_calloc((size_t)e->epochs, sizeof *r->history)))
        return DLH_ENOMEM;
    r->monitor = e->monitor;
    r->monitor_goal = e->monitor_goal;
    if (r->n_val == 0 && strncmp(r->monitor, "val_", 4) == 0) {
        /* A validation split too small to hold a sample. */
        r->monitor = "train_loss";
        r->monitor_goal = DLH_METRIC_MIN;
    }
    if ((rc = dlh_diag_new(e, &r->diag)))
        return rc;
    return run_setup_columns(r);
}

static void run_free(run_state *r)
{
    dlh_batcher_free(r->bt_train);
    dlh_batcher_free(r->bt_val);
    dlh_batcher_free(r->bt_test);
    dlh_evaluator_release(&r->ev);
    dlh_norm_free(&r->norm);
    free(r->train_idx);
    if (r->e && r->e->validation.ops)
        free(r->val_idx);
    free(r->order);
    dlh_sampler_free(&r->sampler);
    free(r->test_idx);
    for (size_t i = 0; r->best && i < r->n_weights; i++)
        dlh_tensor_free(r->be, &r->best[i]);
    free(r->best);
    free(r->best_counts);
    for (size_t i = 0; r->save && i < r->n_weights; i++)
        free((char *)r->save[r->n_ckpt + i].name);
    free(r->save);
    free(r->best_ckpt);
    dlh_model_tensors_free(r->ckpt, r->n_ckpt);
    dlh_profile_free(r->prof);
    dlh_diag_free(r->diag);
    dlh_rundir_close(r->rd);
    free(r->path_last);
    free(r->path_best);
    free(r->plugins);
    for (int64_t k = 0; r->class_keys && k < r->e->n_class_names; k++)
        free(r->class_keys[k]);
    free(r->class_keys);
    free(r->backend_plugin);
    free(r->resumed_backend);
    free(r->history);
    free(r->head_sum);
    free(r->head_correct);
    free(r->cols);
}

/* ------------------------------------------------------------ checkpoints */

/* Writes the checkpoint `path` with tensors t[0..n) and the metadata of
   the run after `epoch` whole epochs and `step` steps (and, when p, the
   steps of the next epoch a signal stopped it after). */
static int run_write(run_state *r, const char *path, const dlh_ckpt_tensor *t, size_t n_t,
                     int64_t epoch, int64_t step, const struct run_partial *p)
{
    dlh_experiment *e = r->e;
    char s_epoch[32], s_step[32], s_seed[32], s_classes[32], rng[512];
    char s_best[32], s_best_step[32];
    char s_batch[32], s_bs[32], s_sum[40], s_correct[32], s_secs[40];
    char *norm_bufs[5], *head_sums = NULL, *head_correct = NULL;
    /* 32 of the run's own, then "class_name.K" of each named class. */
    dlh_st_meta *meta = malloc((32 + (size_t)e->n_class_names) * sizeof *meta);
    if (!meta) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    size_t n = 0;
    int rc = dlh_norm_to_meta(e->normalize != DLH_NORM_NONE ? &r->norm : NULL, meta + n,
                              norm_bufs);
    if (rc) {
        free(meta);
        return rc;
    }
    n += 5;
    /* The monitored metric of every epoch so far, exactly (%.17g): a resumed
       run replays it to recover the best value, early stopping's patience
       count and the schedule's state. */
    size_t hsize = (size_t)epoch * 26 + 4, k = 0;
    char *history = malloc(hsize);
    if (!history) {
        for (int i = 0; i < 5; i++)
            free(norm_bufs[i]);
        free(meta);
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    k += (size_t)snprintf(history, hsize, "[");
    for (int64_t i = 0; i < epoch; i++)
        k += (size_t)snprintf(history + k, hsize - k, "%s%.17g", i ? ", " : "",
                              r->history[i]);
    snprintf(history + k, hsize - k, "]");
    snprintf(s_epoch, sizeof s_epoch, "%" PRId64, epoch);
    snprintf(s_step, sizeof s_step, "%" PRId64, step);
    snprintf(s_seed, sizeof s_seed, "%" PRIu64, e->seed);
    snprintf(s_classes, sizeof s_classes, "%" PRId64,
             e->target_kind == DLH_TARGET_CLASS ? e->n_classes : (int64_t)0);
    snprintf(s_best, sizeof s_best, "%" PRId64, r->best_epoch);
    snprintf(s_best_step, sizeof s_best_step, "%" PRId64, r->best_step);
    /* The whole RNG state: Philox 4x32-10 keyed by the seed; every stream is
       rng_stream(purpose, a, b) of a purpose and counters listed here. */
    snprintf(rng, sizeof rng, "philox4x32-10 key=%" PRIu64 "; streams rng_stream("
             "purpose, a, b): init (1, fnv1a(layer), tensor), layer steps (2, "
             "fnv1a(layer), step), shuffle (%d, epoch, 0), split (%d, 0, 0); next "
             "epoch %" PRId64 ", next step %" PRId64, e->seed, RUN_RNG_SHUFFLE,
             RUN_RNG_SPLIT, epoch, step);
    meta[n++] = (dlh_st_meta){ "format", RUN_FORMAT };
    meta[n++] = (dlh_st_meta){ "name", e->name };
    meta[n++] = (dlh_st_meta){ "epoch", s_epoch };
    meta[n++] = (dlh_st_meta){ "step", s_step };
    meta[n++] = (dlh_st_meta){ "seed", s_seed };
    meta[n++] = (dlh_st_meta){ "rng", rng };
    meta[n++] = (dlh_st_meta){ "classes", s_classes };
    meta[n++] = (dlh_st_meta){ "plugins", r->plugins };
    meta[n++] = (dlh_st_meta){ "backend_plugin", r->backend_plugin };
    meta[n++] = (dlh_st_meta){ "config_hash", r->config_hash };
    meta[n++] = (dlh_st_meta){ "optimizer", e->optimizer_type };
    meta[n++] = (dlh_st_meta){ "monitor", r->monitor };
    meta[n++] = (dlh_st_meta){ "monitored", history };
    meta[n++] = (dlh_st_meta){ "data", r->data_hash };
    meta[n++] = (dlh_st_meta){ "best_epoch", s_best };
    meta[n++] = (dlh_st_meta){ "best_step", s_best_step };
    /* Stopped inside an epoch: where, and the epoch's sums so far, exactly. */
    if (p) {
        snprintf(s_batch, sizeof s_batch, "%" PRId64, p->batch);
        snprintf(s_bs, sizeof s_bs, "%" PRId64, e->batch_size);
        snprintf(s_sum, sizeof s_sum, "%.17g", p->sum);
        snprintf(s_correct, sizeof s_correct, "%" PRId64, p->correct);
        snprintf(s_secs, sizeof s_secs, "%.17g", p->seconds);
        meta[n++] = (dlh_st_meta){ "batch", s_batch };
        meta[n++] = (dlh_st_meta){ "batch_size", s_bs };
        meta[n++] = (dlh_st_meta){ "epoch_loss_sum", s_sum };
        meta[n++] = (dlh_st_meta){ "epoch_correct", s_correct };
        meta[n++] = (dlh_st_meta){ "epoch_seconds", s_secs };
        /* A loss list: each head's sums too, so its columns resume exactly. */
        if (e->loss_list) {
            size_t hs = (size_t)e->n_heads * 26 + 4, a = 0, b = 0;
            head_sums = malloc(hs);
            head_correct = malloc(hs);
            if (!head_sums || !head_correct) {
                rc = DLH_ENOMEM;
                dlh_error_set("out of memory");
                goto out;
            }
            a += (size_t)snprintf(head_sums, hs, "[");
            b += (size_t)snprintf(head_correct, hs, "[");
            for (int h = 0; h < e->n_heads; h++) {
                a += (size_t)snprintf(head_sums + a, hs - a, "%s%.17g", h ? ", " : "",
                                      r->head_sum[h]);
                b += (size_t)snprintf(head_correct + b, hs - b, "%s%" PRId64, h ? ", " : "",
                                      r->head_correct[h]);
            }
            snprintf(head_sums + a, hs - a, "]");
            snprintf(head_correct + b, hs - b, "]");
            meta[n++] = (dlh_st_meta){ "epoch_head_loss_sums", head_sums };
            meta[n++] = (dlh_st_meta){ "epoch_head_correct", head_correct };
        }
    }
    for (int64_t c = 0; c < e->n_class_names; c++)
        meta[n++] = (dlh_st_meta){ r->class_keys[c], e->class_names[c] };
    rc = dlh_checkpoint_save(r->be, path, t, n_t, meta, n);
out:
    free(head_sums);
    free(head_correct);
    for (int i = 0; i < 5; i++)
        free(norm_bufs[i]);
    free(history);
    free(meta);
    return rc;
}

/* last.safetensors after `epoch` whole epochs (and r->stopped.batch steps
   of the next when a signal stopped the run): weights, optimiser state and,
   where the weights are not the best epoch's, the copy of the best ones, so
   that --resume needs no other file. */
static int run_save_last(run_state *r, int64_t epoch)
{
    const struct run_partial *p = r->stopped.batch > 0 ? &r->stopped : NULL;
    int with_best = r->best && r->best_epoch > 0 && (p || r->best_epoch != epoch);
    int rc = dlh_optim_sync(r->e, 1);
    if (rc)
        return rc;
    return run_write(r, r->path_last, with_best ? r->save : r->ckpt,
                     r->n_ckpt + (with_best ? r->n_weights : 0), epoch, r->step, p);
}

/* best.safetensors: the best epoch's weights (no optimiser state) and the
   metadata of the run as it was at that epoch's end, all from what
   last.safetensors holds too, so it can be rebuilt the same byte for byte. */
int dlh_run_save_best(run_state *r)
{
    return run_write(r, r->path_best, r->best_ckpt, r->n_weights, r->best_epoch,
                     r->best_step, NULL);
}

/* Copies the weights to or from the early-stopping copies. */
int dlh_run_copy_best(run_state *r, int restore)
{
    for (size_t i = 0; i < r->n_weights; i++) {
        if (r->ckpt[i].host) {
            int64_t *w = r->ckpt[i].host, *b = &r->best_counts[i];
            *(restore ? w : b) = *(restore ? b : w);
            continue;
        }
        const dlh_tensor *w = r->ckpt[i].t, *b = &r->best[i];
        size_t bytes = (size_t)dlh_tensor_numel(w) * sizeof(float);
        const dlh_tensor *dst = restore ? w : b, *src = restore ? b : w;
        int rc = r->be->ops->copy(r->be->ctx, dst->mem.buf, dst->mem.off * sizeof(float),
                                  src->mem.buf, src->mem.off * sizeof(float), bytes);
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ steps */

static void run_progress(run_state *r, int64_t epoch, int64_t s, int64_t steps,
                         double loss, int64_t seen, double t0, double *last_draw)
{
    double now = run_now();
    if (s + 1 < steps && now - *last_draw < 0.1)
        return;
    *last_draw = now;
    double dt = now - t0, rate = dt > 0.0 ? (double)seen / dt : 0.0;
    double eta = rate > 0.0 ? (double)(r->n_epoch - seen) / rate : 0.0;
    fprintf(r->out, "\repoch %" PRId64 "/%" PRId64 "  %" PRId64 "/%" PRId64 "  loss %.4f"
            "  %.0f samples/s  ETA %.0fs \033[K", epoch + 1, r->e->epochs, s + 1, steps,
            loss, rate, eta);
    fflush(r->out);
}

/* Names what went non-finite at this step: the first layer whose output is
   non-finite for a loss, the first parameter gradient otherwise. */
int dlh_run_diverged(run_state *r, int64_t epoch, int64_t s, int64_t steps, int64_t b,
                     float loss, int grad_k)
{
    dlh_experiment *e = r->e;
    char where[512] = "";
    if (grad_k < 0) {
        int node = -1;
        if (dlh_graph_first_nonfinite_output(r->g, b, &node) == 0 && node >= 0)
            snprintf(where, sizeof where, "; layer '%s' is the first whose output is "
                     "non-finite", dlh_graph_layer(r->g, node)->name);
        else
            snprintf(where, sizeof where, "; every layer's output is finite, the loss "
                     "'%s' itself is not", e->loss_type);
        for (int h = 0; e->loss_list && h < e->n_heads; h++)
            if (!isfinite(r->ev.heads[h].loss)) {
                size_t k = strlen(where);
                snprintf(where + k, sizeof where - k, " (loss[%d] '%s' on head '%s' is %g)",
                         h, e->heads[h].loss_type, e->heads[h].name,
                         (double)r->ev.heads[h].loss);
                break;
            }
        dlh_error_set("epoch %" PRId64 "/%" PRId64 ", step %" PRId64 " (batch %" PRId64
                      " of %" PRId64 "): the training loss is %g%s; stopped before the "
                      "update", epoch + 1, e->epochs, r->step + 1, s + 1, steps,
                      (double)loss, where);
    } else {
        const dlh_param_slot *sl = &e->slots[grad_k];
        dlh_error_set("epoch %" PRId64 "/%" PRId64 ", step %" PRId64 " (batch %" PRId64
                      " of %" PRId64 "): the gradient of layer '%s' (parameter '%s') is "
                      "non-finite (loss %g); stopped before the update", epoch + 1,
                      e->epochs, r->step + 1, s + 1, steps, sl->layer->name, sl->t->name,
                      (double)loss);
    }
    return DLH_ENUMERIC;
}

int dlh_run_grads(run_state *r, int64_t epoch, int64_t s, int64_t steps, int64_t b,
                  float *loss)
{
    dlh_experiment *e = r->e;
    double penalty;
    int bad, rc;
    if ((rc = dlh_optim_gradients(e, &penalty, &bad)))
        return rc;
    if (bad >= 0)
        return dlh_run_diverged(r, epoch, s, steps, b, *loss, bad);
    /* The objective is the loss plus the penalties (Keras reports both). */
    *loss = (float)((double)*loss + penalty);
    return dlh_optim_clip(e);
}

/* The first batch's loss against what an untrained classifier gives. */
static void run_sanity(run_state *r, float loss)
{
    dlh_experiment *e = r->e;
    if (strcmp(e->loss_type, "cross_entropy") != 0 || e->n_classes < 2)
        return;
    double expect = log((double)e->n_classes), mean = (double)loss;
    if (dlh_diag_loss_sums(e))      /* reduction "sum": the first batch's total */
        mean /= (double)(e->batch_size < r->n_epoch ? e->batch_size : r->n_epoch);
    if (mean < expect / 4.0 || mean > expect * 4.0)
        dlh_log(DLH_LOG_WARN, "the first batch's loss %.4g is far from ln(%" PRId64
                ") = %.4g, what an untrained classifier gives; check the "
                "initialisation, the labels and the normalisation", mean,
                e->n_classes, expect);
}

/* dlh_graph_layer_done of the training step: the layer's part of the
   gradient guard, timed as the guard. */
static int run_guard_layer(void *ctx, const dlh_layer_inst *layer)
{
    run_state *r = ctx;
    double t = r->prof ? dlh_profile_mark(r->prof) : 0.0;
    int rc = dlh_optim_guard_layer(r->e, layer);
    if (r->prof)
        dlh_profile_add(r->prof, DLH_PROF_GUARD, t);
    if (rc)
        dlh_error_prefix("layer '%s': gradient guard: ", layer->name);
    return rc;
}

/* One pass over the training samples. */
static int run_epoch(run_state *r, int64_t epoch, double *mean_loss, double *accuracy,
                     double *last_lr)
{
    dlh_experiment *e = r->e;
    int64_t n = r->n_epoch, bs = e->batch_size;
    int64_t steps = dlh_run_steps(r), correct = 0, seen = 0;
    double sum = 0.0, t0 = run_now(), last_draw = 0.0;
    int rc;
    /* A resumed epoch goes on from where the signal stopped it. */
    int64_t first = epoch == r->start_epoch ? r->start.batch : 0;
    if (first > 0) {
        sum = r->start.sum;
        correct = r->start.correct;
        seen = first * bs;
        t0 -= r->start.seconds;
    }

    for (int h = 0; first == 0 && h < (e->loss_list ? e->n_heads : 0); h++) {
        r->head_sum[h] = 0.0;
        r->head_correct[h] = 0;
    }
    /* Training metrics (train.metrics_on_train) are not checkpointed: an
       epoch resumed inside reports none. */
    r->train_metrics_valid = first == 0;
    if (e->metrics_train)
        dlh_metrics_reset(e->metrics_train);

    /* train.unfreeze: groups whose epoch has come train from here on (a
       resumed run gets every boundary it passed). */
    if (dlh_optim_unfreeze(e, epoch) > 0)
        fprintf(r->out, "epoch %" PRId64 ": train.unfreeze: more tensors train from here on\n",
                epoch + 1);
    if (r->prof)
        dlh_profile_begin(r->prof);
    if ((rc = dlh_diag_epoch_begin(r->diag, steps)))
        return rc;
    dlh_sampler_order(&r->sampler, e->seed, (uint64_t)epoch, r->order);
    if ((rc = dlh_batcher_start_at(r->bt_train, r->order, n, bs, 1, e->seed,
                                   (uint64_t)epoch, first)))
        return rc;
    dlh_profile *pf = r->prof;
    for (int64_t s = first;; s++) {
        const dlh_batch *bt;
        float loss;
        double tp = pf ? dlh_profile_mark(pf) : 0.0;
        if ((rc = dlh_batcher_next(r->bt_train, &bt))) {
            dlh_error_prefix("data.train: ");
            goto fail;
        }
        if (!bt)
            break;
        int64_t b = bt->n;
        if (pf)
            tp = dlh_profile_add(pf, DLH_PROF_DATA, tp);
        if ((rc = dlh_evaluator_load(&r->ev, bt)))
            goto fail;
        if (pf)
            tp = dlh_profile_add(pf, DLH_PROF_LOAD, tp);
        if ((rc = dlh_graph_forward(r->g, b, 1, r->step, e->seed)))
            goto fail;
        if (e->diagnostics && (rc = dlh_diag_forward(r->diag, b)))
            goto fail;
        if (pf)
            tp = dlh_profile_mark(pf);  /* the layers timed themselves */
        if ((rc = dlh_evaluator_loss(&r->ev, b, 1, &loss)))
            goto fail;
        if (!isfinite(loss)) {
            rc = dlh_run_diverged(r, epoch, s, steps, b, loss, -1);
            dlh_batcher_stop(r->bt_train);
            return rc;
        }
        if (r->step == 0)
            run_sanity(r, e->loss_list ? r->ev.heads[0].loss : loss);
        for (int h = 0; e->loss_list && h < e->n_heads; h++) {
            r->head_sum[h] += (double)r->ev.heads[h].loss * (double)b;
            if (e->heads[h].target_kind == DLH_TARGET_CLASS &&
                (rc = dlh_evaluator_head_correct(&r->ev, h, b, bt->y, &r->head_correct[h],
                                                 NULL)))
                goto fail;
            correct = r->head_correct[0];
        }
        if (!e->loss_list && e->accuracy &&
            (rc = dlh_evaluator_correct(&r->ev, b, bt->y, &correct, NULL)))
            goto fail;
        if (e->metrics_train && (rc = dlh_metrics_batch(e->metrics_train, &r->ev, bt)))
            goto fail;
        if (pf)
            tp = dlh_profile_add(pf, DLH_PROF_LOSS, tp);
        /* Each layer's share of the guard runs right after its backward,
           while its gradients are in cache (dlh_optim_guard_layer). */
        dlh_optim_guard_begin(e);
        if ((rc = dlh_graph_backward_with(r->g, b, r->step, e->seed, run_guard_layer, r)))
            goto fail;
        if (pf)
            tp = dlh_profile_mark(pf);
        if ((rc = dlh_run_grads(r, epoch, s, steps, b, &loss)) == DLH_ENUMERIC) {
            dlh_batcher_stop(r->bt_train);
            return rc;
        }
        if (rc)
            goto fail;
        if (pf)
            tp = dlh_profile_add(pf, DLH_PROF_GUARD, tp);
        if ((rc = dlh_optim_lrs(e, epoch, r->step, steps, r->monitored)) == DLH_ENUMERIC) {
            dlh_batcher_stop(r->bt_train);
            return rc;
        }
        if (rc)
            goto fail;
        /* An optimiser with step_all (ABI 1.6) updates every parameter at
           once and may evaluate the batch again (closure.c). */
        dlh_run_at at = { epoch, s, steps, b };
        rc = dlh_optim_step_all(e) ? dlh_run_step_all(r, loss, &at)
                                   : dlh_optim_update(e, r->step + 1);
        if (rc == DLH_ENUMERIC && r->closure_diverged) {
            dlh_batcher_stop(r->bt_train);
            return rc;
        }
        if (rc)
            goto fail;
        if (pf)
            dlh_profile_add(pf, DLH_PROF_UPDATE, tp);
        if (e->diagnostics && (rc = dlh_diag_step(r->diag)))
            goto fail;
        *last_lr = e->groups[e->n_groups - 1].lr_now;
        sum += (double)loss * (double)b;
        seen += b;
        r->step++;
        if (r->tty)
            run_progress(r, epoch, s, steps, sum / (double)seen, seen, t0, &last_draw);
        if (r->interrupt_step > 0 && r->step == r->interrupt_step)
            raise(SIGINT);
        /* After an epoch's last step the epoch ends first (run_train). */
        if (run_signal && s + 1 < steps) {
            dlh_batcher_stop(r->bt_train);
            r->stopped = (struct run_partial){ s + 1, correct, sum, run_now() - t0 };
            break;
        }
    }
    if (r->tty) {
        fprintf(r->out, "\r\033[K");
        fflush(r->out);
    }
    if (r->stopped.batch > 0)
        return 0;
    *mean_loss = sum / (double)n;
    *accuracy = e->accuracy ? (double)correct / (double)n : NAN;
    if (e->metrics_train && (rc = dlh_metrics_result(e->metrics_train)))
        goto fail;
    return 0;
fail:
    dlh_batcher_stop(r->bt_train);
    if (!*dlh_error_get())
        dlh_error_set("%s", dlh_strerror(rc));
    dlh_error_prefix("epoch %" PRId64 ", step %" PRId64 ": ", epoch + 1, r->step + 1);
    return rc;
}

static void run_seconds(double dt, char *buf, size_t size)
{
    if (dt >= 1.0)
        snprintf(buf, size, "%.1fs", dt);
    else
        snprintf(buf, size, "%.1fms", dt * 1e3);
}

/* Counts epoch's monitored value m against the best so far; 1 when it is
   the new best (the first epoch always is). */
int dlh_run_track_best(run_state *r, double m, int64_t epoch)
{
    int up = r->monitor_goal > 0;
    if (r->best_epoch == 0 || (up ? m > r->best_value : m < r->best_value)) {
        r->best_value = m;
        r->best_epoch = epoch;
        r->wait = 0;
        return 1;
    }
    r->wait++;
    return 0;
}

/* Whether early stopping ends the run after an epoch. */
int dlh_run_stops(const run_state *r, int improved)
{
    return r->e->early_stopping && !improved && r->wait >= r->e->patience;
}

/* The run stopped by a signal after `done` whole epochs (and, when
   r->stopped.batch > 0, that many steps into the next one): the position
   into last.safetensors when the run keeps checkpoints, and where to go on
   from. */
static int run_interrupted(run_state *r, int64_t done)
{
    dlh_experiment *e = r->e;
    const char *sig = run_signal == SIGTERM ? "SIGTERM" : "SIGINT";
    int rc;
    if (r->stopped.batch > 0) {
        if (e->checkpoint_every > 0 && (rc = run_save_last(r, done)))
            return rc;
        fprintf(r->out, "interrupted (%s) in epoch %" PRId64 "/%" PRId64 " after batch %"
                PRId64 " of %" PRId64, sig, done + 1, e->epochs, r->stopped.batch,
                dlh_run_steps(r));
    } else {
        fprintf(r->out, "interrupted (%s) after epoch %" PRId64 "/%" PRId64, sig, done,
                e->epochs);
    }
    if (e->checkpoint_every > 0)
        fprintf(r->out, ": saved in %s; continue with\n  dlhost run %s --resume %s\n",
                r->path_last, dlh_config_path(e->cfg), dlh_rundir_path(r->rd));
    else
        fprintf(r->out, "; nothing saved (train.checkpoint.every_epochs is 0)\n");
    fflush(r->out);
    r->interrupted = run_signal;
    return 0;
}

/* The training epochs, with validation, checkpoints and early stopping. */
static int run_train(run_state *r)
{
    dlh_experiment *e = r->e;
    int has_val = r->n_val > 0;
    int rc;
    for (int64_t epoch = r->start_epoch; !r->finished && epoch < e->epochs; epoch++) {
        double t0 = run_now(), loss = NAN, acc = NAN, lr = dlh_optim_lr(e);
        if (epoch == r->start_epoch)
            t0 -= r->start.seconds;
        if ((rc = run_epoch(r, epoch, &loss, &acc, &lr)))
            return rc;
        if (r->stopped.batch > 0)
            return run_interrupted(r, epoch);
        if (e->backend->ops->sync && (rc = e->backend->ops->sync(e->backend->ctx)))
            return rc;
        double t_train = run_now() - t0, vloss = NAN, vacc = NAN;
        if (r->prof && (rc = dlh_profile_epoch(r->prof, epoch + 1, t_train)))
            return rc;
        if (has_val) {
            dlh_batcher *bv = r->bt_val ? r->bt_val : r->bt_train;
            if ((rc = dlh_evaluate(&r->ev, bv, r->val_idx, r->n_val, &vloss, &vacc,
                                   NULL))) {
                dlh_error_prefix("epoch %" PRId64 ": validation: ", epoch + 1);
                return rc;
            }
        }
        double dt = run_now() - t0;
        double speed = t_train > 0.0 ? (double)r->n_epoch / t_train : 0.0;
        dlh_epoch_row row = { epoch + 1, loss, acc, vloss, vacc, lr, dt, speed, 0, { 0 } };
        run_extra_values(r, has_val, r->train_metrics_valid, &row);
        acc = row.train_accuracy;
        vacc = row.val_accuracy;
        char took[32], line[512 + 64 * DLH_METRICS_MAX_EXTRA];
        size_t k = 0;
        run_seconds(dt, took, sizeof took);
        k += (size_t)snprintf(line + k, sizeof line - k, "epoch %" PRId64 "/%" PRId64
                              "  train_loss %.6f", epoch + 1, e->epochs, loss);
        if (!isnan(acc))
            k += (size_t)snprintf(line + k, sizeof line - k, "  train_accuracy %.4f", acc);
        if (has_val)
            k += (size_t)snprintf(line + k, sizeof line - k, "  val_loss %.6f", vloss);
        if (!isnan(vacc))
            k += (size_t)snprintf(line + k, sizeof line - k, "  val_accuracy %.4f", vacc);
        for (int c = 0; c < row.n_extra && k < sizeof line; c++)
            if (!isnan(row.extra[c]))
                k += (size_t)snprintf(line + k, sizeof line - k,
                                      strstr(r->cols[c], "_loss.") ? "  %s %.6f" : "  %s %.4f",
                                      r->cols[c], row.extra[c]);
        if (k >= sizeof line)
            k = sizeof line - 1;
        snprintf(line + k, sizeof line - k, "  lr %.6g  %s  %.0f samples/s", lr, took,
                 speed);
        fprintf(r->out, "%s\n", line);
        fflush(r->out);
        if ((rc = dlh_diag_epoch(r->diag, dlh_rundir_path(r->rd), epoch + 1, loss, vloss)))
            return rc;

        if ((rc = dlh_rundir_metrics(r->rd, &row)) ||
            (has_val && (rc = run_write_tables(r, epoch + 1))))
            return rc;
        double m = run_row_value(r, &row, r->monitor);
        r->monitored = m;
        r->history[epoch] = m;
        int improved = dlh_run_track_best(r, m, epoch + 1);
        if (improved) {
            r->best_step = r->step;
            if (r->best && (rc = dlh_run_copy_best(r, 0)))
                return rc;
        }
        int last = epoch + 1 == e->epochs;
        int stop = dlh_run_stops(r, improved);
        /* last first, then best: a crash between the two leaves a last that
           names the best epoch and holds its weights, and --resume rebuilds
           best.safetensors from it (dlh_run_repair_best). */
        if (e->checkpoint_every > 0 &&
            ((epoch + 1) % e->checkpoint_every == 0 || last || stop || run_signal) &&
            (rc = run_save_last(r, epoch + 1)))
            return rc;
        if (improved && e->keep_best && e->checkpoint_every > 0 &&
            (rc = dlh_run_save_best(r)))
            return rc;
        if (run_signal)
            return run_interrupted(r, epoch + 1);
        if (stop) {
            fprintf(r->out, "early stopping: %s has not improved for %" PRId64
                    " epochs\n", r->monitor, r->wait);
            break;
        }
    }
    if (e->early_stopping && r->best) {
        if ((rc = dlh_run_copy_best(r, 1)))
            return rc;
        fprintf(r->out, "restored the weights of epoch %" PRId64 " (%s %.6f)\n",
                r->best_epoch, r->monitor, r->best_value);
    }
    return 0;
}

/* r->path_last and r->path_best: the checkpoints in r's run folder. */
static int run_paths(run_state *r)
{
    const char *dir = dlh_rundir_path(r->rd);
    if (!(r->path_last = dlh_run_join(dir, "last.safetensors")) ||
        !(r->path_best = dlh_run_join(dir, "best.safetensors")))
        return DLH_ENOMEM;
    return 0;
}

int dlh_run_ex(dlh_config *cfg, const char *backend_override,
               const dlh_run_options *opt, FILE *out)
{
    dlh_experiment *e;
    int rc = dlh_experiment_new(cfg, backend_override, 0, &e);
    if (rc)
        return rc;
    run_state r;
    memset(&r, 0, sizeof r);
    r.e = e;
    r.be = e->backend;
    r.g = e->graph;
    r.host = dlh_host_table();
    r.out = out;
    r.monitored = NAN;
    int progress = opt ? opt->progress : -1;
    r.tty = progress < 0 ? isatty(fileno(out)) : progress;
    const char *resume = opt ? opt->resume : NULL;
    dlh_epoch_row *rows = NULL;
    size_t n_rows = 0;
    char *pretrained = NULL;        /* its report; --resume ignores the group */
    run_hash_config(cfg, r.config_hash, sizeof r.config_hash);
    if ((rc = run_setup(&r, opt)))
        goto done;
    if (resume) {
        /* Locked first, then checked and loaded before anything is written
           but the lock. */
        if ((rc = dlh_rundir_attach(resume, &r.rd)))
            goto done;
        if ((rc = run_paths(&r)) ||
            (r.n_cols && (rc = dlh_rundir_columns(r.rd, r.cols, r.n_cols))))
            goto done;
        rc = dlh_run_resume(&r, dlh_rundir_path(r.rd), &rows, &n_rows);
        if (rc == 0)
            dlh_diag_replay(r.diag, rows, n_rows);
        if (rc == 0)
            rc = dlh_rundir_restart(r.rd, cfg, rows, n_rows);
        free(rows);
        if (rc == 0)
            rc = dlh_run_repair_best(&r);
        if (rc)
            goto done;
    } else {
        const char *root = !opt ? NULL : opt->pretrained_root ? opt->pretrained_root
                                                              : opt->runs_root;
        if ((rc = dlh_pretrained_apply(e, root, 1, &pretrained)) ||
            (rc = dlh_rundir_open(opt ? opt->runs_root : NULL, e->name, cfg, &r.rd)) ||
            (pretrained && (rc = dlh_pretrained_save(dlh_rundir_path(r.rd), pretrained))))
            goto done;
        /* A loss list's per-head columns: metrics.csv again with them. */
        if ((r.n_cols && ((rc = dlh_rundir_columns(r.rd, r.cols, r.n_cols)) ||
                          (rc = dlh_rundir_restart(r.rd, NULL, NULL, 0)))) ||
            (rc = run_paths(&r)))
            goto done;
    }
    const char *dir = dlh_rundir_path(r.rd);
    if (opt && opt->profile && (rc = dlh_profile_new(r.g, dir, &r.prof)))
        goto done;

    fprintf(out, "run %s: %s (%s), %" PRId64 " samples", e->name, e->backend->name,
            e->backend_line, r.n_train);
    if (r.n_val > 0)
        fprintf(out, " (+ %" PRId64 " validation)", r.n_val);
    fprintf(out, ", %" PRId64 " parameters, %" PRId64 " epochs of batch %" PRId64 "\n",
            dlh_experiment_param_count(e), e->epochs, e->batch_size);
    fprintf(out, "run directory: %s\n", dir);
    if (resume) {
        fprintf(out, "resumed from %s: epoch %" PRId64 ", step %" PRId64, r.path_last,
                r.start_epoch, r.step);
        if (r.start.batch > 0)
            fprintf(out, ", batch %" PRId64 " of epoch %" PRId64, r.start.batch,
                    r.start_epoch + 1);
        fputc('\n', out);
    }
    if (pretrained)
        fputs(pretrained, out);
    if (r.finished == RUN_ENDED)
        fprintf(out, "the run had trained all %" PRId64 " epochs: nothing left to train "
                "(raise train.epochs to go on)\n", e->epochs);
    else if (r.finished == RUN_STOPPED_EARLY)
        fprintf(out, "the run had stopped early at epoch %" PRId64 " (%s had not improved "
                "for %" PRId64 " epochs): nothing left to train (raise "
                "train.early_stopping.patience to go on)\n", r.start_epoch, r.monitor,
                r.wait);
    if (r.resumed_backend)
        fprintf(out, "trained on %s so far, continued on %s: the result differs from an "
                "uninterrupted run on either by rounding\n", r.resumed_backend,
                r.backend_plugin);
    fflush(out);
    /* SIGINT or SIGTERM ends the step under way, saves the position and
       stops; a second one acts at once (SA_RESETHAND). */
    const char *test_step = getenv("DLHOST_TEST_INTERRUPT_STEP");
    r.interrupt_step = test_step ? strtoll(test_step, NULL, 10) : 0;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = run_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    run_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    rc = run_train(&r);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rc)
        goto done;
    if (r.interrupted) {
        rc = r.interrupted;
        goto done;
    }
    if (r.prof)
        dlh_profile_print(r.prof, out);
    if (e->test.ops) {
        double loss, acc;
        if ((rc = dlh_evaluate(&r.ev, r.bt_test, r.test_idx, r.n_test, &loss, &acc,
                               NULL))) {
            dlh_error_prefix("data.test: ");
            goto done;
        }
        if (isnan(acc))
            fprintf(out, "test  loss %.6f  (%" PRId64 " samples)\n", loss, r.n_test);
        else
            fprintf(out, "test  loss %.6f  accuracy %.4f  (%" PRId64 " samples)\n", loss,
                    acc, r.n_test);
        dlh_metrics_print(out, "test", e->metrics_val);
        for (int h = 0; e->loss_list && h < e->n_heads; h++)
            dlh_eval_print_head(out, e, &r.ev, h);
        fflush(out);
    }
done:
    free(pretrained);
    run_free(&r);
    dlh_experiment_free(e);
    return rc;
}

int dlh_run(dlh_config *cfg, const char *backend_override, FILE *out)
{
    return dlh_run_ex(cfg, backend_override, NULL, out);
}
