/* `dlhost check`: build the experiment exactly as a run would (tensors for
 * one sample are enough to prove every shape), print what was built. */
#include "check.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "diagnose.h"
#include "experiment.h"
#include "metrics.h"
#include "pretrained.h"
#include "rundir.h"
#include "graph.h"
#include "sampler.h"

static void check_data(FILE *out, const char *key, const dlh_exp_data *d)
{
    char shape[96], label[96];
    dlh_shape_format(&d->info.sample, shape, sizeof shape);
    if (d->info.label_kind == DLH_LABEL_CLASS)
        snprintf(label, sizeof label, "class labels, %" PRId64 " classes",
                 d->info.n_classes);
    else if (d->info.label_kind == DLH_LABEL_DENSE) {
        char ls[80];
        dlh_shape_format(&d->info.label, ls, sizeof ls);
        snprintf(label, sizeof label, "dense labels %s", ls);
    } else
        snprintf(label, sizeof label, "no labels");
    fprintf(out, "%-11s %s: %" PRId64 " samples, sample %s, %s\n", key, d->type,
            d->info.n_samples, shape, label);
}

/* optimizer.groups: what each group holds and what it changes. */
static void check_groups(const dlh_experiment *e, FILE *out)
{
    for (int g = 0; g < e->n_groups; g++) {
        const dlh_opt_group *gr = &e->groups[g];
        int64_t numel = 0;
        for (int k = 0; k < e->n_param_tensors; k++)
            if (e->slots[k].group == g)
                numel += dlh_tensor_numel(&e->slots[k].t->value);
        if (e->n_groups == 1 && gr->l1 == 0.0 && gr->l2 == 0.0 && gr->max_norm == 0.0)
            return;
        int first_unf = g;
        while (first_unf > 0 && e->groups[first_unf - 1].unfreeze_epoch > 0)
            first_unf--;
        fprintf(out, "%-11s %s: %d tensor%s, %" PRId64 " parameters", "",
                gr->unfreeze_epoch > 0 ? "unfreezes"
                : g + 1 < e->n_groups  ? "group" : "default group", gr->n_tensors,
                gr->n_tensors == 1 ? "" : "s", numel);
        if (gr->unfreeze_epoch > 0)
            fprintf(out, " (train.unfreeze[%d]), frozen until epoch %" PRId64 ", then lr %g\n",
                    g - first_unf, gr->unfreeze_epoch, gr->lr);
        else if (g + 1 < e->n_groups)
            fprintf(out, " (groups[%d])", g);
        if (gr->unfreeze_epoch > 0)
            continue;
        if (!gr->trainable) {
            fprintf(out, ", frozen\n");
            continue;
        }
        fprintf(out, ", lr %g", gr->lr);
        if (gr->l1 > 0.0 || gr->l2 > 0.0)
            fprintf(out, ", l1 %g, l2 %g", gr->l1, gr->l2);
        if (gr->max_norm > 0.0)
            fprintf(out, ", max_norm %g", gr->max_norm);
        fprintf(out, "\n");
    }
}

/* optimizer.lr_decay_by_depth: each layer's rate, head first. */
static void check_depth(const dlh_experiment *e, FILE *out)
{
    int any = 0;
    for (int k = 0; k < e->n_param_tensors; k++)
        any |= e->slots[k].lr_scale != 1.0;
    if (!any)
        return;
    fprintf(out, "%-11s", "lr by depth");
    const dlh_layer_inst *last = NULL;
    for (int k = e->n_param_tensors - 1, n = 0; k >= 0; k--) {
        const dlh_param_slot *sl = &e->slots[k];
        const dlh_opt_group *g = &e->groups[sl->group];
        if (sl->layer == last || !(g->trainable || g->unfreeze_epoch > 0))
            continue;
        last = sl->layer;
        fprintf(out, "%s%s %g", n++ ? ", " : " ", sl->layer->name, g->lr * sl->lr_scale);
    }
    fprintf(out, "\n");
}

/* "metrics     train_loss, val_loss, val_f1 (monitored: val_f1, higher is
   better)": the columns of metrics.csv that get values, and the monitor. */
static void check_metrics(const dlh_experiment *e, FILE *out)
{
    const char **names = calloc((size_t)e->n_cols + DLH_METRICS_N_FIXED, sizeof *names);
    if (!names)
        return;
    int n = dlh_metrics_run_columns(e, names);
    fprintf(out, "%-11s ", "metrics");
    for (int i = 0; i < n; i++)
        fprintf(out, "%s%s", i ? ", " : "", names[i]);
    fprintf(out, " (monitored: %s, %s is better)\n", e->monitor,
            e->monitor_goal > 0 ? "higher" : "lower");
    free(names);
}

int dlh_check(dlh_config *cfg, const char *backend_override, FILE *out)
{
    dlh_experiment *e;
    int rc = dlh_experiment_new(cfg, backend_override, 1, &e);
    if (rc)
        return rc;
    fprintf(out, "%-11s %s (%s)\n", "experiment", e->name, dlh_config_path(cfg));
    fprintf(out, "%-11s %s: %s\n", "backend", e->backend->name, e->backend_line);
    check_data(out, "data.train", &e->train);
    if (e->validation.ops)
        check_data(out, "data.validation", &e->validation);
    else if (e->validation_split > 0.0)
        fprintf(out, "%-11s %g of data.train\n", "validation", e->validation_split);
    if (e->test.ops)
        check_data(out, "data.test", &e->test);
    static const char *const norms[] = { "none", "zscore", "minmax" };
    if (e->normalize)
        fprintf(out, "%-11s %s (statistics from the training split)\n", "normalize",
                norms[e->normalize]);
    if (e->n_augment > 0) {
        fprintf(out, "%-11s", "augment");
        for (int i = 0; i < e->n_augment; i++)
            fprintf(out, "%s%s", i ? ", " : " ", e->augment[i].type);
        fprintf(out, " (training batches; %lld loader thread%s)\n", (long long)e->workers,
                e->workers == 1 ? "" : "s");
    }
    int wname = 5, wtype = 4;
    for (int i = 0; i < e->n_layers; i++) {
        int n = (int)strlen(e->layers[i]->name), t = (int)strlen(e->layer_types[i]);
        wname = n > wname ? n : wname;
        wtype = t > wtype ? t : wtype;
    }
    fprintf(out, "%-11s %-*s  %-*s  %-16s %-11s %s\n", "model", wname, "layer", wtype,
            "type", "output", "parameters", "inputs");
    for (int i = 0; i < e->n_layers; i++) {
        const dlh_layer_inst *l = e->layers[i];
        char shape[96];
        int64_t n = 0;
        for (int j = 0; j < l->n_params; j++)
            n += dlh_tensor_numel(&l->params[j].value);
        dlh_shape_format(&l->output, shape, sizeof shape);
        /* The inputs: "data" for the model input, else the layers' names. */
        char inputs[512] = "";
        size_t k = 0;
        for (int j = 0; j < dlh_graph_n_inputs(e->graph, i) && k < sizeof inputs; j++) {
            int p = dlh_graph_input_of(e->graph, i, j);
            k += (size_t)snprintf(inputs + k, sizeof inputs - k, "%s%s", j ? ", " : "",
                                  p < 0 ? "data" : e->layers[p]->name);
        }
        fprintf(out, "%-11s %-*s  %-*s  %-16s %-11" PRId64 " %s\n", "", wname, l->name,
                wtype, e->layer_types[i], shape, n, inputs);
    }
    fprintf(out, "%-11s %" PRId64 "\n", "parameters", dlh_experiment_param_count(e));
    if (!e->loss_list)
        fprintf(out, "%-11s %s\n", "loss", e->loss_type);
    for (int h = 0; e->loss_list && h < e->n_heads; h++) {
        const dlh_exp_head *eh = &e->heads[h];
        fprintf(out, "%-11s %s on '%s', weight %g", h ? "" : "loss", eh->loss_type, eh->name,
                eh->weight);
        if (eh->slice_count)
            fprintf(out, ", target [%" PRId64 ", %" PRId64 "]", eh->slice_start,
                    eh->slice_count);
        if (eh->target_kind == DLH_TARGET_CLASS)
            fprintf(out, " (class indices, %" PRId64 " classes)", eh->n_classes);
        fprintf(out, "\n");
    }
    check_metrics(e, out);
    fprintf(out, "%-11s %s (lr %g", "optimizer", e->optimizer_type, dlh_optim_lr(e));
    if (e->clip.norm > 0.0)
        fprintf(out, ", gradient norm clipped at %g (norm_type %g)", e->clip.norm,
                e->clip.norm_type);
    if (e->clip.value > 0.0)
        fprintf(out, ", gradients clamped to [-%g, %g]", e->clip.value, e->clip.value);
    fprintf(out, ")\n");
    check_groups(e, out);
    check_depth(e, out);
    fprintf(out, "%-11s %s\n", "schedule", e->schedule_type);
    static const char *const order[] = { "shuffled", "not shuffled", "weighted sampling "
                                         "with replacement", "classes oversampled to the "
                                         "largest", "classes undersampled to the smallest" };
    fprintf(out, "%-11s %" PRId64 " epochs, batch size %" PRId64 ", %s", "train",
            e->epochs, e->batch_size, order[e->sampler]);
    if (e->sampler == DLH_SAMPLER_WEIGHTED)
        fprintf(out, " (%s class weights)", e->class_weights ? "given" : "balanced");
    fprintf(out, "\n");
    if (e->early_stopping)
        fprintf(out, "%-11s early stopping on %s, patience %" PRId64 "\n", "",
                e->monitor,
                e->patience);
    if (e->checkpoint_every > 0)
        fprintf(out, "%-11s checkpoint every %" PRId64 " epoch%s%s\n", "",
                e->checkpoint_every, e->checkpoint_every == 1 ? "" : "s",
                e->keep_best ? ", keeping the best" : "");
    else
        fprintf(out, "%-11s no checkpoints\n", "");
    char *pre = NULL;
    if ((rc = dlh_pretrained_apply(e, NULL, 0, &pre))) {
        dlh_experiment_free(e);
        return rc;
    }
    if (pre)
        fputs(pre, out);
    free(pre);
    fflush(out);
    dlh_diag_check_model(e);
    fprintf(out, "ok\n");
    fflush(out);
    dlh_experiment_free(e);
    return 0;
}
