/* Training diagnostics and the newcomer traps (diagnose.h). */
#define _POSIX_C_SOURCE 200809L   /* open_memstream */
#include "diagnose.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "file.h"
#include "graph.h"
#include "safetensors.h"

/* The per-step results on the device, [3 n_nodes + 2 n_slots]: for node i
   the sum, sum of squares and zero count of its output, then for slot k
   ||w||^2 before the update and ||w_new - w_old||^2. */
enum { DIAG_SUM, DIAG_SUMSQ, DIAG_ZEROS, DIAG_PER_NODE };
enum { DIAG_W, DIAG_DW, DIAG_PER_SLOT };
/* Warning kinds, each printed once per layer. */
enum { WARN_DEAD, WARN_RATIO, WARN_GRAD, WARN_KINDS };

typedef struct diag_node {
    int stats;                      /* a row (not a view) */
    int64_t per, units, inner;      /* output numel a sample; units x inner */
    size_t unit_off;                /* into umax */
    int first_slot, n_slots;        /* its parameter tensors */
    int relu;                       /* dead units warned of */
    /* The epoch's sums (host). */
    double sum, sumsq, zeros, count;
    double gnorm, gnorm_max, ratio;
    int64_t steps, ratio_steps;
    char warned[WARN_KINDS];
} diag_node;

struct dlh_diag {
    dlh_experiment *e;
    const dlh_backend *be;
    dlh_graph *g;
    int on;                         /* train.diagnostics */
    int n, n_slots;
    diag_node *nodes;
    size_t *slot_off;               /* into snap, [n_slots] */
    dlh_tensor dev, rows, umax_step, umax, snap;
    dlh_tensor zero;                /* [2 max_batch max_per]: x^2, x == 0 */
    float *host;                    /* [3n + 2 n_slots] */
    float *host_units;              /* [total units] */
    size_t n_units;
    dlh_ew_kernel *k_zero, *k_max, *k_diff;
    int64_t b;                      /* samples of the step under way */
    /* The update ratio is measured every ratio_every-th step of an epoch
       (DLH_DIAG_RATIO_SAMPLES a epoch): step counts them. */
    int64_t step, ratio_every;
    int ratio_now;
    /* The overfitting trap: the losses of every epoch. */
    double *train_loss, *val_loss;  /* [epochs] */
    int64_t patience;
    int overfit_warned;
    char *path;                     /* dir/diagnostics.csv, at the first epoch */
    FILE *mem;                      /* the file so far, into csv[0..len) */
    char *csv;
    size_t len;
};

static const dlh_mem diag_no_idx = { NULL, 0 };

static int diag_oom(void)
{
    dlh_error_set("diagnostics: out of memory");
    return DLH_ENOMEM;
}

/* The layer node i stands for after views (flatten, reshape) are skipped. */
static int diag_through_views(const dlh_experiment *e, int i)
{
    while (i >= 0 && e->layers[i]->output_is_view && dlh_graph_n_inputs(e->graph, i) == 1)
        i = dlh_graph_input_of(e->graph, i, 0);
    return i;
}

int dlh_diag_check_model(const dlh_experiment *e)
{
    int warned = 0;
    for (int h = 0; h < e->n_heads; h++) {
        const dlh_exp_head *eh = &e->heads[h];
        int i = diag_through_views(e, eh->node);
        if (i < 0)
            continue;
        const char *type = e->layer_types[i], *name = e->layers[i]->name;
        int ce = strcmp(eh->loss_type, "cross_entropy") == 0;
        int nll = strcmp(eh->loss_type, "nll") == 0;
        if (ce && strcmp(type, "softmax") == 0) {
            dlh_log(DLH_LOG_WARN, "layer '%s' (softmax) feeds the loss 'cross_entropy', "
                    "which applies log_softmax itself: the model then trains on "
                    "log_softmax(softmax(x)), whose gradients vanish as the outputs "
                    "saturate; remove layer '%s' (softmax belongs to the predictions, "
                    "not the training graph)", name, name);
            warned++;
        } else if (ce && strcmp(type, "log_softmax") == 0) {
            dlh_log(DLH_LOG_WARN, "layer '%s' (log_softmax) feeds the loss "
                    "'cross_entropy', which applies log_softmax itself: remove layer "
                    "'%s', or keep it and use the loss 'nll'", name, name);
            warned++;
        } else if (nll && strcmp(type, "softmax") == 0) {
            dlh_log(DLH_LOG_WARN, "layer '%s' (softmax) feeds the loss 'nll', which "
                    "expects log-probabilities: use log_softmax, or drop the layer and "
                    "use the loss 'cross_entropy'", name);
            warned++;
        }
    }
    return warned;
}

int dlh_diag_loss_sums(dlh_experiment *e)
{
    config_setting_t *l = config_setting_get_member(dlh_config_root(e->cfg), "loss");
    const char *red;
    if (l && config_setting_is_list(l))
        l = config_setting_get_elem(l, 0);
    return l && config_setting_is_group(l) &&
           config_setting_lookup_string(l, "reduction", &red) == CONFIG_TRUE &&
           strcmp(red, "sum") == 0;
}

/* ------------------------------------------------------------ setup */

static int diag_alloc(const dlh_backend *be, int64_t n, dlh_tensor *t)
{
    int64_t shape[1] = { n > 0 ? n : 1 };
    return dlh_tensor_alloc(be, 1, shape, t);
}

static int diag_setup_stats(dlh_diag *d)
{
    dlh_experiment *e = d->e;
    int64_t max_per = 1, max_units = 1, n_params = 0;
    int rc;
    d->n_slots = e->n_param_tensors;
    if (!(d->slot_off = calloc((size_t)d->n_slots + 1, sizeof *d->slot_off)))
        return diag_oom();
    for (int i = 0, k = 0; i < d->n; i++) {
        diag_node *nd = &d->nodes[i];
        const dlh_shape *s = dlh_graph_shape(d->g, i);
        nd->stats = dlh_graph_node_calls(d->g, i, 0);
        nd->per = dlh_shape_numel(s);
        nd->units = s->ndim >= 1 ? s->dim[0] : 1;
        nd->inner = nd->units > 0 ? nd->per / nd->units : 1;
        nd->unit_off = d->n_units;
        if (nd->stats)
            d->n_units += (size_t)nd->units;
        nd->first_slot = k;
        nd->n_slots = e->layers[i]->n_params;
        for (int j = 0; j < nd->n_slots; j++, k++) {
            d->slot_off[k] = (size_t)n_params;
            n_params += dlh_tensor_numel(&e->slots[k].t->value);
        }
        nd->relu = strcmp(e->layer_types[i], "relu") == 0 ||
                   strcmp(e->layer_types[i], "relu6") == 0;
        if (nd->stats) {
            max_per = nd->per > max_per ? nd->per : max_per;
            max_units = nd->units > max_units ? nd->units : max_units;
        }
    }
    size_t n_dev = DIAG_PER_NODE * (size_t)d->n + DIAG_PER_SLOT * (size_t)d->n_slots;
    int64_t mb = e->max_batch;
    if (!(d->host = calloc(n_dev, sizeof *d->host)) ||
        !(d->host_units = calloc(d->n_units + 1, sizeof *d->host_units)))
        return diag_oom();
    if ((rc = diag_alloc(d->be, (int64_t)n_dev, &d->dev)) ||
        (rc = diag_alloc(d->be, mb * (max_units > 3 ? max_units : 3), &d->rows)) ||
        (rc = diag_alloc(d->be, 2 * mb * max_per, &d->zero)) ||
        (rc = diag_alloc(d->be, max_units, &d->umax_step)) ||
        (rc = diag_alloc(d->be, (int64_t)d->n_units, &d->umax)) ||
        (rc = diag_alloc(d->be, n_params, &d->snap)) ||
        (rc = dlh_ew_compile(d->be, "in x; out q, z; q = x*x; z = x == 0;", &d->k_zero)) ||
        (rc = dlh_ew_compile(d->be, "in m; inout a; a = max(a, m);", &d->k_max)) ||
        (rc = dlh_ew_compile(d->be, "in w; inout s; s = w - s;", &d->k_diff))) {
        dlh_error_prefix("diagnostics: ");
        return rc;
    }
    if (!(d->mem = open_memstream(&d->csv, &d->len)) ||
        fputs("epoch,layer,type,act_mean,act_std,zero_fraction,dead_fraction,grad_norm,"
              "update_ratio\n", d->mem) < 0)
        return diag_oom();
    return 0;
}

int dlh_diag_new(dlh_experiment *e, dlh_diag **out)
{
    *out = NULL;
    dlh_diag_check_model(e);
    dlh_diag *d = calloc(1, sizeof *d);
    if (!d)
        return diag_oom();
    d->e = e;
    d->be = e->backend;
    d->g = e->graph;
    d->on = e->diagnostics;
    d->n = dlh_graph_count(e->graph);
    d->patience = e->early_stopping && e->patience > 0 ? e->patience : 3;
    int rc = 0;
    if (!(d->nodes = calloc((size_t)d->n, sizeof *d->nodes)) ||
        !(d->train_loss = calloc((size_t)e->epochs, sizeof *d->train_loss)) ||
        !(d->val_loss = calloc((size_t)e->epochs, sizeof *d->val_loss)))
        rc = diag_oom();
    for (int64_t i = 0; rc == 0 && i < e->epochs; i++)
        d->train_loss[i] = d->val_loss[i] = NAN;
    if (rc == 0 && d->on)
        rc = diag_setup_stats(d);
    if (rc) {
        dlh_diag_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void dlh_diag_free(dlh_diag *d)
{
    if (!d)
        return;
    dlh_tensor *t[] = { &d->dev, &d->rows, &d->zero, &d->umax_step, &d->umax, &d->snap };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        dlh_tensor_free(d->be, t[i]);
    dlh_ew_free(d->k_zero);
    dlh_ew_free(d->k_max);
    dlh_ew_free(d->k_diff);
    free(d->nodes);
    free(d->slot_off);
    free(d->host);
    free(d->host_units);
    free(d->train_loss);
    free(d->val_loss);
    free(d->path);
    if (d->mem)
        fclose(d->mem);
    free(d->csv);
    free(d);
}

void dlh_diag_replay(dlh_diag *d, const dlh_epoch_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].epoch >= 1 && rows[i].epoch <= d->e->epochs) {
            d->train_loss[rows[i].epoch - 1] = rows[i].train_loss;
            d->val_loss[rows[i].epoch - 1] = rows[i].val_loss;
        }
}

/* ------------------------------------------------------------ steps */

int dlh_diag_epoch_begin(dlh_diag *d, int64_t steps)
{
    if (!d->on)
        return 0;
    d->step = 0;
    d->ratio_every = steps > DLH_DIAG_RATIO_SAMPLES ? steps / DLH_DIAG_RATIO_SAMPLES : 1;
    for (int i = 0; i < d->n; i++) {
        diag_node *nd = &d->nodes[i];
        nd->sum = nd->sumsq = nd->zeros = nd->count = 0.0;
        nd->gnorm = nd->gnorm_max = nd->ratio = 0.0;
        nd->steps = nd->ratio_steps = 0;
    }
    return d->n_units ? d->be->ops->fill(d->be->ctx, d->umax.mem, d->n_units, -FLT_MAX) : 0;
}

/* Node nd's output x of b samples: sum, sum of squares, zeros, unit maxima.
   Few backend calls (each may wake a thread team): x summed per row (no
   reduction wider than one sample), x^2 and x == 0 side by side in the
   scratch and summed per row after it, then the three sums at once. */
static int diag_node_step(dlh_diag *d, const diag_node *nd, int i, dlh_mem x, int64_t b)
{
    const dlh_backend *be = d->be;
    size_t at = DIAG_PER_NODE * (size_t)i, n = (size_t)(b * nd->per);
    dlh_ew_arg sa[3] = { dlh_ew_full(x, n), dlh_ew_full(d->zero.mem, n),
                         dlh_ew_full(dlh_mem_at(d->zero.mem, n), n) };
    int rc;
    if ((rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, (int)b, (int)nd->per, x,
                              d->rows.mem, diag_no_idx)) ||
        (rc = dlh_ew_run(d->k_zero, n, sa, NULL)) ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 2 * (int)b, (int)nd->per,
                              d->zero.mem, dlh_mem_at(d->rows.mem, (size_t)b),
                              diag_no_idx)) ||
        (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, DIAG_PER_NODE, (int)b,
                              d->rows.mem, dlh_mem_at(d->dev.mem, at), diag_no_idx)))
        return rc;
    /* Each unit's maximum over the samples (and its positions), then into
       the epoch's. */
    dlh_mem src = x;
    if (nd->inner > 1) {
        if ((rc = be->ops->reduce(be->ctx, DLH_REDUCE_MAX, 1, (int)(b * nd->units),
                                  (int)nd->inner, x, d->rows.mem, diag_no_idx)))
            return rc;
        src = d->rows.mem;
    }
    size_t u = (size_t)nd->units;
    if ((rc = be->ops->reduce(be->ctx, DLH_REDUCE_MAX, 0, (int)b, (int)nd->units, src,
                              d->umax_step.mem, diag_no_idx)))
        return rc;
    dlh_ew_arg ma[2] = { dlh_ew_full(d->umax_step.mem, u),
                         dlh_ew_full(dlh_mem_at(d->umax.mem, nd->unit_off), u) };
    return dlh_ew_run(d->k_max, u, ma, NULL);
}

static int diag_trainable(const dlh_diag *d, int k)
{
    return d->e->groups[d->e->slots[k].group].trainable;
}

int dlh_diag_forward(dlh_diag *d, int64_t b)
{
    const dlh_backend *be = d->be;
    int rc;
    d->b = b;
    d->ratio_now = d->step++ % d->ratio_every == 0;
    for (int i = 0; i < d->n; i++) {
        const diag_node *nd = &d->nodes[i];
        if (nd->stats &&
            (rc = diag_node_step(d, nd, i, dlh_graph_node_output(d->g, i)->mem, b))) {
            dlh_error_prefix("diagnostics: layer '%s': ", d->e->layers[i]->name);
            return rc;
        }
    }
    /* The weights before the update, and their squared norms. */
    size_t base = DIAG_PER_NODE * (size_t)d->n;
    for (int k = 0; d->ratio_now && k < d->n_slots; k++) {
        if (!diag_trainable(d, k))
            continue;
        const dlh_tensor *w = &d->e->slots[k].t->value;
        size_t m = (size_t)dlh_tensor_numel(w);
        dlh_mem s = dlh_mem_at(d->snap.mem, d->slot_off[k]);
        if ((rc = be->ops->copy(be->ctx, s.buf, s.off * sizeof(float), w->mem.buf,
                                w->mem.off * sizeof(float), m * sizeof(float))) ||
            (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUMSQ, 1, 1, (int)m, w->mem,
                                  dlh_mem_at(d->dev.mem, base + DIAG_PER_SLOT * (size_t)k +
                                             DIAG_W), diag_no_idx)))
            return rc;
    }
    return 0;
}

int dlh_diag_step(dlh_diag *d)
{
    const dlh_backend *be = d->be;
    const dlh_experiment *e = d->e;
    size_t base = DIAG_PER_NODE * (size_t)d->n;
    int rc;
    for (int k = 0; d->ratio_now && k < d->n_slots; k++) {
        if (!diag_trainable(d, k))
            continue;
        const dlh_tensor *w = &e->slots[k].t->value;
        size_t m = (size_t)dlh_tensor_numel(w);
        dlh_mem s = dlh_mem_at(d->snap.mem, d->slot_off[k]);
        dlh_ew_arg a[2] = { dlh_ew_full(w->mem, m), dlh_ew_full(s, m) };
        if ((rc = dlh_ew_run(d->k_diff, m, a, NULL)) ||
            (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUMSQ, 1, 1, (int)m, s,
                                  dlh_mem_at(d->dev.mem, base + DIAG_PER_SLOT * (size_t)k +
                                             DIAG_DW), diag_no_idx)))
            return rc;
    }
    size_t n_dev = base + DIAG_PER_SLOT * (size_t)d->n_slots;
    if ((rc = be->ops->read(be->ctx, d->dev.mem.buf, d->dev.mem.off * sizeof(float), d->host,
                            n_dev * sizeof(float)))) {
        dlh_error_prefix("diagnostics: ");
        return rc;
    }
    for (int i = 0; i < d->n; i++) {
        diag_node *nd = &d->nodes[i];
        const float *v = d->host + DIAG_PER_NODE * (size_t)i;
        if (nd->stats) {
            nd->sum += v[DIAG_SUM];
            nd->sumsq += v[DIAG_SUMSQ];
            nd->zeros += v[DIAG_ZEROS];
            nd->count += (double)d->b * (double)nd->per;
        }
        if (nd->n_slots == 0)
            continue;
        double g2 = 0.0, w2 = 0.0, dw2 = 0.0;
        for (int k = nd->first_slot; k < nd->first_slot + nd->n_slots; k++) {
            const float *s = d->host + base + DIAG_PER_SLOT * (size_t)k;
            g2 += (double)e->grad_sumsq[k];     /* 0 for a frozen tensor */
            if (diag_trainable(d, k)) {
                w2 += (double)s[DIAG_W];
                dw2 += (double)s[DIAG_DW];
            }
        }
        double gn = sqrt(g2);
        nd->gnorm += gn;
        nd->gnorm_max = gn > nd->gnorm_max ? gn : nd->gnorm_max;
        nd->steps++;
        /* Weights all zero (nothing to compare with): no ratio this step. */
        if (d->ratio_now && w2 > 0.0) {
            nd->ratio += sqrt(dw2 / w2);
            nd->ratio_steps++;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ epochs */

/* Validation loss rising in each of the last `patience` epochs while the
   training loss fell over them: said once. */
static void diag_overfit(dlh_diag *d, int64_t epoch)
{
    int64_t p = d->patience, t = epoch - 1;
    if (d->overfit_warned || t < p)
        return;
    for (int64_t k = t - p + 1; k <= t; k++)
        if (!(d->val_loss[k] > d->val_loss[k - 1]))
            return;
    if (!(d->train_loss[t] < d->train_loss[t - p]))
        return;
    d->overfit_warned = 1;
    dlh_log(DLH_LOG_WARN, "overfitting from epoch %" PRId64 ": val_loss rose for %" PRId64
            " epoch%s (%.4g at epoch %" PRId64 " to %.4g at epoch %" PRId64 ") while "
            "train_loss fell (%.4g to %.4g); train.early_stopping keeps the best epoch's "
            "weights, more data, augmentation or regularisation (dropout, weight decay) "
            "narrow the gap", t - p + 2, p, p == 1 ? "" : "s", d->val_loss[t - p],
            t - p + 1, d->val_loss[t], epoch, d->train_loss[t - p], d->train_loss[t]);
}

/* The file's path, and the rows of the epochs before `epoch` that a run
   resumed into the folder finds there (a fresh run has removed the file:
   rundir.h). */
static int diag_open(dlh_diag *d, const char *dir, int64_t epoch)
{
    size_t plen = strlen(dir) + sizeof "/diagnostics.csv", len;
    char *text;
    if (!(d->path = malloc(plen)))
        return diag_oom();
    snprintf(d->path, plen, "%s/diagnostics.csv", dir);
    if (access(d->path, F_OK) != 0)
        return 0;
    int rc = dlh_file_read_all(d->path, (size_t)1 << 30, &text, &len);
    if (rc)
        return rc;
    /* Past the header, rows "E,..." of E < epoch. */
    const char *line = strchr(text, '\n');
    while (line && *++line) {
        const char *end = strchr(line, '\n');
        char *num_end;
        long long e = strtoll(line, &num_end, 10);
        if (!end || num_end == line || *num_end != ',' || e < 1 || e >= epoch)
            break;
        fwrite(line, 1, (size_t)(end - line + 1), d->mem);
        line = end;
    }
    free(text);
    return 0;
}

static void diag_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, ",%.6g", v);
    else
        fputc(',', f);
}

/* The epoch's row of node i, and its warnings. */
static void diag_row(dlh_diag *d, int64_t epoch, int i)
{
    diag_node *nd = &d->nodes[i];
    const char *name = d->e->layers[i]->name;
    double mean = nd->count > 0.0 ? nd->sum / nd->count : NAN;
    double var = nd->count > 0.0 ? nd->sumsq / nd->count - mean * mean : NAN;
    double zero = nd->count > 0.0 ? nd->zeros / nd->count : NAN;
    int64_t dead = 0;
    for (int64_t u = 0; u < nd->units; u++)
        dead += !(d->host_units[nd->unit_off + (size_t)u] > 0.0f);
    double dead_frac = nd->count > 0.0 ? (double)dead / (double)nd->units : NAN;
    double gn = nd->steps ? nd->gnorm / (double)nd->steps : NAN;
    double ratio = nd->ratio_steps ? nd->ratio / (double)nd->ratio_steps : NAN;
    if (nd->n_slots > 0 && nd->steps && nd->ratio_steps == 0)
        ratio = 0.0;                /* frozen: nothing moved */
    fprintf(d->mem, "%" PRId64 ",%s,%s", epoch, name, d->e->layer_types[i]);
    diag_number(d->mem, mean);
    diag_number(d->mem, isnan(var) ? NAN : sqrt(fmax(var, 0.0)));
    diag_number(d->mem, zero);
    diag_number(d->mem, dead_frac);
    diag_number(d->mem, nd->n_slots ? gn : NAN);
    diag_number(d->mem, nd->n_slots ? ratio : NAN);
    fputc('\n', d->mem);

    if (nd->relu && !nd->warned[WARN_DEAD] && dead_frac > DLH_DIAG_DEAD_WARN) {
        nd->warned[WARN_DEAD] = 1;
        dlh_log(DLH_LOG_WARN, "%s: %.0f %% of units never fired in epoch %" PRId64
                " (%" PRId64 " of %" PRId64 " never above 0: dead ReLUs get no gradient; "
                "a lower learning rate, another initialisation or leaky_relu may help)",
                name, 100.0 * dead_frac, epoch, dead, nd->units);
    }
    if (nd->n_slots && !nd->warned[WARN_RATIO] && ratio > DLH_DIAG_RATIO_HIGH) {
        nd->warned[WARN_RATIO] = 1;
        dlh_log(DLH_LOG_WARN, "%s: update/weight ratio %.0e in epoch %" PRId64 ", learning "
                "rate likely too high (about 1e-3 is healthy)", name, ratio, epoch);
    }
    if (nd->n_slots && nd->steps && !nd->warned[WARN_GRAD] && nd->gnorm_max == 0.0) {
        int frozen = 1;
        for (int k = nd->first_slot; k < nd->first_slot + nd->n_slots; k++)
            frozen &= !diag_trainable(d, k);
        nd->warned[WARN_GRAD] = 1;
        dlh_log(DLH_LOG_WARN, "%s: gradient norm 0 in epoch %" PRId64 " — is this layer "
                "frozen? %s", name, epoch,
                frozen ? "optimizer.groups says so (trainable = false): nothing trains it"
                       : "it is trainable, but no gradient reaches it (dead units after "
                         "it, or an output the loss does not use)");
    }
}

int dlh_diag_epoch(dlh_diag *d, const char *dir, int64_t epoch, double train_loss,
                   double val_loss)
{
    if (epoch >= 1 && epoch <= d->e->epochs) {
        d->train_loss[epoch - 1] = train_loss;
        d->val_loss[epoch - 1] = val_loss;
        diag_overfit(d, epoch);
    }
    if (!d->on)
        return 0;
    int rc;
    if (!d->path && (rc = diag_open(d, dir, epoch)))
        return rc;
    if (d->n_units &&
        (rc = d->be->ops->read(d->be->ctx, d->umax.mem.buf, d->umax.mem.off * sizeof(float),
                               d->host_units, d->n_units * sizeof(float)))) {
        dlh_error_prefix("diagnostics: ");
        return rc;
    }
    for (int i = 0; i < d->n; i++)
        if (d->nodes[i].stats)
            diag_row(d, epoch, i);
    if (fflush(d->mem) != 0 || ferror(d->mem)) {
        dlh_error_set("%s: out of memory", d->path);
        return DLH_ENOMEM;
    }
    return dlh_file_write_atomic(d->path, d->csv, d->len);
}
