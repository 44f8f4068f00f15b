/* Evaluation of a built model (shared with the training loop) and the
 * `dlhost eval` command. */
#include "eval.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas_lib.h"
#include "error.h"
#include "experiment.h"
#include "graph.h"
#include "metrics.h"
#include "registry.h"
#include "report.h"
#include "safetensors.h"
#include "whiten.h"

static void *eval_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        dlh_error_set("out of memory");
    return p;
}

int dlh_evaluator_init(dlh_evaluator *ev, dlh_experiment *e)
{
    memset(ev, 0, sizeof *ev);
    ev->e = e;
    int64_t shape[DLH_MAX_DIMS];
    int ndim = 1;
    shape[0] = e->max_batch;
    /* The data's labels (a loss list's heads may read parts of them). */
    if (e->train.info.label_kind == DLH_LABEL_DENSE) {
        if (e->target.ndim + 1 > DLH_MAX_DIMS) {
            dlh_error_set("the label shape has too many dimensions for a batch");
            return DLH_ESHAPE;
        }
        for (int i = 0; i < e->target.ndim; i++)
            shape[ndim++] = e->target.dim[i];
    }
    int rc;
    if ((rc = dlh_tensor_alloc(e->backend, ndim, shape, &ev->y)) ||
        (rc = dlh_tensor_alloc(e->backend, 1, shape, &ev->amax)) ||
        (rc = dlh_tensor_alloc(e->backend, 1, shape, &ev->aidx)))
        return rc;
    ev->aidx.dtype = DLH_I32;
    if (!(ev->host_idx = eval_calloc((size_t)e->max_batch, sizeof *ev->host_idx)) ||
        !(ev->host_out = eval_calloc((size_t)e->max_batch, sizeof *ev->host_out)) ||
        !(ev->heads = eval_calloc((size_t)e->n_heads, sizeof *ev->heads)))
        return DLH_ENOMEM;
    int scaled = 0;
    for (int h = 0; h < e->n_heads; h++) {
        const dlh_exp_head *eh = &e->heads[h];
        dlh_eval_head *vh = &ev->heads[h];
        if (!(vh->scratch = eval_calloc((size_t)eh->loss->n_scratch, sizeof(dlh_tensor))))
            return DLH_ENOMEM;
        scaled |= eh->weight != 0.0 && eh->weight != 1.0;
        if (eh->slice_count == 0)
            continue;
        int64_t ys[2] = { e->max_batch, eh->slice_count };
        if ((rc = dlh_tensor_alloc(e->backend, 2, ys, &vh->y)))
            return rc;
        if (!(vh->host_y = eval_calloc((size_t)(e->max_batch * eh->slice_count),
                                       sizeof *vh->host_y)))
            return DLH_ENOMEM;
    }
    ev->loss_scratch = ev->heads[0].scratch;
    if (scaled && (rc = dlh_ew_compile(e->backend, "inout g; scalar w; g = w * g;",
                                       &ev->scale)))
        return rc;
    if (e->sample_weights && (rc = dlh_tensor_alloc(e->backend, 1, shape, &ev->w)))
        return rc;
    if (e->train_loss) {
        int64_t rows[2] = { e->max_batch, e->n_classes };
        if ((rc = dlh_tensor_alloc(e->backend, 2, rows, &ev->y_soft)))
            return rc;
        if (!(ev->train_loss_scratch = eval_calloc((size_t)e->train_loss->n_scratch,
                                                   sizeof(dlh_tensor))))
            return DLH_ENOMEM;
    }
    return 0;
}

void dlh_evaluator_release(dlh_evaluator *ev)
{
    if (!ev->e)
        return;
    const dlh_backend *be = ev->e->backend;
    dlh_tensor_free(be, &ev->y);
    dlh_tensor_free(be, &ev->amax);
    dlh_tensor_free(be, &ev->aidx);
    dlh_tensor_free(be, &ev->y_soft);
    dlh_tensor_free(be, &ev->w);
    free(ev->train_loss_scratch);
    free(ev->host_idx);
    free(ev->host_out);
    for (int h = 0; ev->heads && h < ev->e->n_heads; h++) {
        dlh_tensor_free(be, &ev->heads[h].y);
        free(ev->heads[h].host_y);
        free(ev->heads[h].scratch);
    }
    free(ev->heads);
    dlh_ew_free(ev->scale);
    memset(ev, 0, sizeof *ev);
}

int dlh_evaluator_direct(dlh_evaluator *ev, dlh_batcher *bt)
{
    dlh_experiment *e = ev->e;
    const dlh_backend *be = e->backend;
    if (!be->ops->host_ptr)
        return 0;
    dlh_tensor xb[2];
    float *p[2];
    int rc = dlh_graph_input_buffers(e->graph, xb);
    if (rc)
        return rc;
    for (int k = 0; k < 2; k++) {
        char *base = be->ops->host_ptr(be->ctx, xb[k].mem.buf);
        if (!base)
            return 0;
        p[k] = (float *)(void *)base + xb[k].mem.off;
    }
    if ((rc = dlh_batcher_set_x_buffers(bt, p[0], p[1])))
        return rc;
    ev->direct[0] = p[0];
    ev->direct[1] = p[1];
    return 0;
}

/* Head h's columns of the batch's dense labels into its target tensor;
   class indices checked first. */
static int eval_load_slice(dlh_evaluator *ev, int h, const dlh_batch *b)
{
    const dlh_experiment *e = ev->e;
    const dlh_backend *be = e->backend;
    const dlh_exp_head *eh = &e->heads[h];
    dlh_eval_head *vh = &ev->heads[h];
    int64_t width = dlh_shape_numel(&e->target), c = eh->slice_count;
    for (int64_t i = 0; i < b->n; i++)
        memcpy(vh->host_y + i * c, b->y + i * width + eh->slice_start,
               (size_t)c * sizeof *vh->host_y);
    for (int64_t i = 0; eh->target_kind == DLH_TARGET_CLASS && i < b->n; i++) {
        float v = vh->host_y[i];
        if (!(v >= 0.0f && v < (float)eh->n_classes && v == floorf(v)))
            return dlh_exp_error_at(eh->params_, "target", "loss[%d]: label column %" PRId64
                                    " holds %g (sample %" PRId64 " of the pass); with "
                                    "target = [%" PRId64 ", 1] loss '%s' reads it as a class "
                                    "index of layer '%s', a whole number in 0..%" PRId64, h,
                                    eh->slice_start, (double)v, b->first + i,
                                    eh->slice_start, eh->loss_type, eh->name,
                                    eh->n_classes - 1);
    }
    return be->ops->write(be->ctx, vh->y.mem.buf, vh->y.mem.off * sizeof(float), vh->host_y,
                          (size_t)(b->n * c) * sizeof(float));
}

int dlh_evaluator_load(dlh_evaluator *ev, const dlh_batch *b)
{
    const dlh_experiment *e = ev->e;
    const dlh_backend *be = e->backend;
    size_t nx = (size_t)b->n * (size_t)dlh_shape_numel(&e->train.info.sample);
    ev->soft = b->soft && e->train_loss;
    size_t ny = (size_t)b->n * (size_t)(ev->soft ? e->n_classes
                                        : e->train.info.label_kind == DLH_LABEL_DENSE
                                        ? dlh_shape_numel(&e->target) : 1);
    const dlh_tensor *yt = ev->soft ? &ev->y_soft : &ev->y;
    /* A batch the batcher wrote into an input buffer (direct is NULL
       otherwise). */
    int in_place = b->x == ev->direct[b->buffer];
    dlh_graph_select_input(e->graph, in_place ? b->buffer : 0);
    const dlh_tensor *x = dlh_graph_input(e->graph);
    int rc = in_place ? 0 : be->ops->write(be->ctx, x->mem.buf, x->mem.off * sizeof(float),
                                           b->x, nx * sizeof(float));
    if (rc == 0)
        rc = be->ops->write(be->ctx, yt->mem.buf, yt->mem.off * sizeof(float), b->y,
                            ny * sizeof(float));
    ev->weighted = b->w && ev->w.mem.buf;
    if (rc == 0 && ev->weighted)
        rc = be->ops->write(be->ctx, ev->w.mem.buf, ev->w.mem.off * sizeof(float), b->w,
                            (size_t)b->n * sizeof(float));
    for (int h = 0; rc == 0 && h < e->n_heads; h++)
        if (e->heads[h].slice_count > 0)
            rc = eval_load_slice(ev, h, b);
    return rc;
}

/* Head h's loss of the last forward (a loss list): its own value into
   ev->heads[h].loss and, with_grad, its gradient times its weight. */
static int eval_head_loss(dlh_evaluator *ev, int h, int64_t b, int with_grad)
{
    dlh_experiment *e = ev->e;
    const dlh_exp_head *eh = &e->heads[h];
    dlh_eval_head *vh = &ev->heads[h];
    dlh_loss_inst *l = eh->loss;
    dlh_loss_ctx ctx;
    dlh_loss_ctx_fill(l, b, &ctx, vh->scratch);
    dlh_tensor pred = *dlh_graph_node_output(e->graph, eh->node);
    dlh_tensor dpred = *dlh_graph_node_d_output(e->graph, eh->node), w = ev->w;
    dlh_tensor tgt = eh->slice_count > 0 ? vh->y : ev->y;
    pred.shape[0] = tgt.shape[0] = dpred.shape[0] = w.shape[0] = b;
    if (ev->weighted)
        ctx.sample_weights = &w;
    /* A head of weight 0 adds nothing: its loss is reported, its gradient 0. */
    int grad = with_grad && eh->weight != 0.0;
    int rc = l->ops->forward(l->state, &ctx, &pred, &tgt, &vh->loss, grad ? &dpred : NULL);
    size_t n = (size_t)b * (size_t)eh->n_outputs;
    if (rc == 0 && with_grad && !grad)
        rc = e->backend->ops->fill(e->backend->ctx, dpred.mem, n, 0.0f);
    if (rc == 0 && grad && eh->weight != 1.0) {
        dlh_ew_arg arg = dlh_ew_full(dpred.mem, n);
        float wt = (float)eh->weight;
        rc = dlh_ew_run(ev->scale, n, &arg, &wt);
    }
    if (rc) {
        if (!*dlh_error_get())
            dlh_error_set("%s", dlh_strerror(rc));
        dlh_error_prefix("loss[%d] '%s' (head '%s'): ", h, eh->loss_type, eh->name);
    }
    return rc;
}

int dlh_evaluator_loss(dlh_evaluator *ev, int64_t b, int with_grad, float *loss)
{
    dlh_experiment *e = ev->e;
    if (e->loss_list) {
        double total = 0.0;
        for (int h = 0; h < e->n_heads; h++) {
            int rc = eval_head_loss(ev, h, b, with_grad);
            if (rc)
                return rc;
            total += e->heads[h].weight * (double)ev->heads[h].loss;
        }
        *loss = (float)total;
        return 0;
    }
    dlh_loss_inst *l = ev->soft ? e->train_loss : e->loss;
    dlh_loss_ctx ctx;
    dlh_loss_ctx_fill(l, b, &ctx, ev->soft ? ev->train_loss_scratch : ev->loss_scratch);
    dlh_tensor pred = *dlh_graph_output(e->graph), tgt = ev->soft ? ev->y_soft : ev->y;
    dlh_tensor dpred = *dlh_graph_d_output(e->graph), w = ev->w;
    pred.shape[0] = tgt.shape[0] = dpred.shape[0] = w.shape[0] = b;
    if (ev->weighted)
        ctx.sample_weights = &w;
    int rc = l->ops->forward(l->state, &ctx, &pred, &tgt, loss, with_grad ? &dpred : NULL);
    if (rc) {
        if (!*dlh_error_get())
            dlh_error_set("%s", dlh_strerror(rc));
        dlh_error_prefix("loss '%s': ", e->loss_type);
    }
    ev->heads[0].loss = *loss;
    return rc;
}

int dlh_evaluator_correct(dlh_evaluator *ev, int64_t b, const float *y,
                          int64_t *correct, int64_t *confusion)
{
    return dlh_evaluator_head_correct(ev, 0, b, y, correct, confusion);
}

int dlh_evaluator_head_correct(dlh_evaluator *ev, int h, int64_t b, const float *y,
                               int64_t *correct, int64_t *confusion)
{
    dlh_experiment *e = ev->e;
    const dlh_backend *be = e->backend;
    const dlh_exp_head *eh = &e->heads[h];
    const dlh_tensor *out = dlh_graph_node_output(e->graph, eh->node);
    int64_t classes = eh->n_classes, n_outputs = eh->n_outputs;
    int rc;
    if (eh->slice_count > 0)
        y = ev->heads[h].host_y;
    if (n_outputs == 1) {
        if ((rc = be->ops->read(be->ctx, out->mem.buf, out->mem.off * sizeof(float),
                                ev->host_out, (size_t)b * sizeof(float))))
            return rc;
        for (int64_t i = 0; i < b; i++)
            ev->host_idx[i] = ev->host_out[i] > 0.0f;
    } else {
        /* The argmax on the backend: b ints cross, not b * classes floats. */
        if ((rc = be->ops->reduce(be->ctx, DLH_REDUCE_MAX, 1, (int)b, (int)n_outputs,
                                  out->mem, ev->amax.mem, ev->aidx.mem)) ||
            (rc = be->ops->read(be->ctx, ev->aidx.mem.buf, ev->aidx.mem.off * 4,
                                ev->host_idx, (size_t)b * sizeof(int32_t))))
            return rc;
    }
    int64_t c = 0;
    for (int64_t i = 0; i < b; i++) {
        int64_t truth = (int64_t)y[i], pred = ev->host_idx[i];
        if (ev->soft) {
            /* A probability row: its largest entry (the first of ties). */
            const float *row = y + i * classes;
            truth = 0;
            for (int64_t k = 1; k < classes; k++)
                truth = row[k] > row[truth] ? k : truth;
        }
        c += pred == truth;
        if (confusion && truth >= 0 && truth < classes && pred >= 0 && pred < classes)
            confusion[truth * classes + pred]++;
    }
    *correct += c;
    return 0;
}

int dlh_evaluate(dlh_evaluator *ev, dlh_batcher *bt, const int64_t *idx, int64_t n,
                 double *loss, double *accuracy, int64_t *confusion)
{
    dlh_experiment *e = ev->e;
    int acc = e->target_kind == DLH_TARGET_CLASS;
    double sum = 0.0;
    int64_t correct = 0;
    for (int h = 0; h < e->n_heads; h++) {
        ev->heads[h].sum = 0.0;
        ev->heads[h].correct = 0;
    }
    if (ev->metrics)
        dlh_metrics_reset(ev->metrics);
    int rc = dlh_batcher_start(bt, idx, n, e->max_batch, 0, e->seed, 0);
    if (rc)
        return rc;
    for (;;) {
        const dlh_batch *b;
        float l;
        if ((rc = dlh_batcher_next(bt, &b)))
            break;
        if (!b)
            break;
        if ((rc = dlh_evaluator_load(ev, b)) ||
            (rc = dlh_graph_forward(e->graph, b->n, 0, 0, e->seed)) ||
            (rc = dlh_evaluator_loss(ev, b->n, 0, &l)))
            break;
        sum += (double)l * (double)b->n;
        for (int h = 0; e->loss_list && rc == 0 && h < e->n_heads; h++) {
            dlh_eval_head *vh = &ev->heads[h];
            vh->sum += (double)vh->loss * (double)b->n;
            if (e->heads[h].target_kind == DLH_TARGET_CLASS)
                rc = dlh_evaluator_head_correct(ev, h, b->n, b->y, &vh->correct,
                                                h == 0 ? confusion : NULL);
        }
        if (rc)
            break;
        if (e->loss_list)
            correct = ev->heads[0].correct;
        else if (acc && (rc = dlh_evaluator_correct(ev, b->n, b->y, &correct, confusion)))
            break;
        if (ev->metrics && (rc = dlh_metrics_batch(ev->metrics, ev, b)))
            break;
    }
    if (rc == 0 && ev->metrics)
        rc = dlh_metrics_result(ev->metrics);
    if (rc) {
        dlh_batcher_stop(bt);
        return rc;
    }
    *loss = n > 0 ? sum / (double)n : NAN;
    *accuracy = acc && n > 0 ? (double)correct / (double)n : NAN;
    for (int h = 0; h < e->n_heads; h++) {
        dlh_eval_head *vh = &ev->heads[h];
        int cls = e->heads[h].target_kind == DLH_TARGET_CLASS;
        vh->eval_loss = n > 0 ? vh->sum / (double)n : NAN;
        vh->eval_accuracy = cls && n > 0 ? (double)vh->correct / (double)n : NAN;
    }
    if (!e->loss_list) {
        ev->heads[0].eval_loss = *loss;
        ev->heads[0].eval_accuracy = *accuracy;
    }
    return 0;
}

/* ------------------------------------------------------------ tensors */

/* "a.b", or "optim.a.b" when optim is set. */
static char *eval_name(const char *a, const char *b, int optim)
{
    size_t n = strlen(a) + strlen(b) + 8;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s.%s", optim ? "optim." : "", a, b);
    return s;
}

int dlh_model_tensors(const dlh_experiment *e, int with_optim, dlh_ckpt_tensor **out,
                      size_t *n)
{
    size_t count = 0;
    for (int i = 0; i < e->n_layers; i++)
        count += (size_t)e->layers[i]->n_params + (size_t)e->layers[i]->n_buffers +
                 (size_t)e->layers[i]->n_counters;
    /* Every trainable tensor's optimiser states, step count and scalar
       states (a frozen one has none, as in torch.optim). */
    for (int k = 0; with_optim && k < e->n_param_tensors; k++) {
        const dlh_optimizer_inst *o = e->groups[e->slots[k].group].opt;
        count += o ? (size_t)(o->n_states + 1 + o->n_scalars) : 0;
    }
    int whitens = e->whiten_t[0].mem.buf != NULL;
    count += whitens ? 2 : 0;
    /* The saved globals (ABI 1.6) of the optimiser of the step_all group,
       the only group such an optimiser takes: "optim.<name>". */
    const dlh_optimizer_inst *og = with_optim && e->n_groups > 0
                                   ? e->groups[e->n_groups - 1].opt : NULL;
    og = og && og->globals ? og : NULL;
    for (int g = 0; og && g < og->n_globals; g++)
        count += (size_t)og->global_decl[g].saved;
    dlh_ckpt_tensor *t = eval_calloc(count, sizeof *t);
    *out = t;
    *n = 0;
    if (!t)
        return DLH_ENOMEM;
    size_t k = 0;
    for (int i = 0; i < e->n_layers; i++) {
        const dlh_layer_inst *l = e->layers[i];
        for (int j = 0; j < l->n_params; j++, k++) {
            if (!(t[k].name = eval_name(l->name, l->params[j].name, 0)))
                goto nomem;
            t[k].t = &l->params[j].value;
            *n = k + 1;
        }
        for (int j = 0; j < l->n_buffers; j++, k++) {
            if (!(t[k].name = eval_name(l->name, l->buffers[j].name, 0)))
                goto nomem;
            t[k].t = &l->buffers[j].value;
            *n = k + 1;
        }
        for (int j = 0; j < l->n_counters; j++, k++) {
            if (!(t[k].name = eval_name(l->name, l->counter_names[j], 0)))
                goto nomem;
            t[k].t = &dlh_ckpt_counter_desc;
            t[k].host = &l->counters[j];
            *n = k + 1;
        }
    }
    /* The whitening statistics travel with the weights (best.safetensors
       too): the data of `dlhost eval` must be whitened the same way. */
    for (int i = 0; whitens && i < 2; i++, k++) {
        if (!(t[k].name = strdup(i ? DLH_WHITEN_KEY : DLH_WHITEN_MEAN_KEY)))
            goto nomem;
        t[k].t = &e->whiten_t[i];
        *n = k + 1;
    }
    for (int p = 0; with_optim && p < e->n_param_tensors; p++) {
        const dlh_param_slot *sl = &e->slots[p];
        const dlh_optimizer_inst *o = e->groups[sl->group].opt;
        int ns = o ? o->n_states : 0, nm = o ? 1 + o->n_scalars : 0;
        for (int s = 0; s < ns + nm; s++, k++) {
            const char *what = s < ns ? o->state_names[s] : s == ns ? "step"
                               : o->scalar_names[s - ns - 1];
            if (!(t[k].name = eval_name(sl->name, what, 1)))
                goto nomem;
            t[k].t = s < ns ? &sl->states[s] : &sl->mirror[s - ns];
            *n = k + 1;
        }
    }
    for (int g = 0; og && g < og->n_globals; g++) {
        if (!og->global_decl[g].saved)
            continue;
        if (!(t[k].name = eval_name("optim", og->global_decl[g].name, 0)))
            goto nomem;
        t[k].t = &og->globals[g];
        *n = ++k;
    }
    return 0;
nomem:
    dlh_error_set("out of memory");
    return DLH_ENOMEM;
}

void dlh_model_tensors_free(dlh_ckpt_tensor *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++)
        free((char *)t[i].name);
    free(t);
}

/* ------------------------------------------------------------ normalisation */

static const char *const eval_norm_names[] = { "none", "zscore", "minmax", "pca", "zca" };
#define EVAL_NORM_KINDS 5

static char *eval_floats(const float *v, int64_t n)
{
    size_t size = (size_t)n * 20 + 4, k = 0;
    char *s = malloc(size);
    if (!s)
        return NULL;
    k += (size_t)snprintf(s + k, size - k, "[");
    for (int64_t i = 0; i < n; i++)
        k += (size_t)snprintf(s + k, size - k, "%s%.9g", i ? ", " : "", (double)v[i]);
    snprintf(s + k, size - k, "]");
    return s;
}

int dlh_norm_to_meta(const dlh_norm *n, dlh_st_meta *meta, char **bufs)
{
    int kind = n ? n->kind : DLH_NORM_NONE;
    int64_t groups = kind != DLH_NORM_NONE && !DLH_NORM_WHITENS(kind) ? n->groups : 0;
    memset(bufs, 0, 5 * sizeof *bufs);
    bufs[0] = strdup(eval_norm_names[kind >= 0 && kind < EVAL_NORM_KINDS ? kind : 0]);
    bufs[1] = malloc(32);
    bufs[2] = malloc(32);
    bufs[3] = eval_floats(groups ? n->shift : NULL, groups);
    bufs[4] = eval_floats(groups ? n->scale : NULL, groups);
    for (int i = 0; i < 5; i++)
        if (!bufs[i]) {
            for (int j = 0; j < 5; j++)
                free(bufs[j]);
            dlh_error_set("out of memory");
            return DLH_ENOMEM;
        }
    snprintf(bufs[1], 32, "%" PRId64, groups);
    snprintf(bufs[2], 32, "%" PRId64, groups ? n->group_stride : (int64_t)0);
    static const char *const keys[5] = { "normalize", "norm_groups", "norm_group_stride",
                                         "norm_shift", "norm_scale" };
    for (int i = 0; i < 5; i++) {
        meta[i].key = keys[i];
        meta[i].value = bufs[i];
    }
    return 0;
}

/* pca, zca: mean and W from the checkpoint's tensors. */
static int eval_whiten_from(const dlh_st_file *f, const char *path, int kind, dlh_norm *out)
{
    const dlh_st_entry *m = dlh_st_find(f, DLH_WHITEN_MEAN_KEY);
    const dlh_st_entry *w = dlh_st_find(f, DLH_WHITEN_KEY);
    int64_t dim = m && m->ndim == 1 ? m->shape[0] : 0;
    if (!m || !w || m->dtype != DLH_F32 || w->dtype != DLH_F32 || dim < 1 ||
        dim > DLH_WHITEN_MAX_FEATURES || w->ndim != 2 || w->shape[0] != dim ||
        w->shape[1] != dim) {
        dlh_error_set("%s: normalize = \"%s\" needs the F32 tensors '%s' [D] and '%s' "
                      "[D, D] (D <= %d); they are missing or malformed", path,
                      eval_norm_names[kind], DLH_WHITEN_MEAN_KEY, DLH_WHITEN_KEY,
                      DLH_WHITEN_MAX_FEATURES);
        return DLH_EDATA;
    }
    int lrc = dlh_blas_load(path);
    if (lrc != 0)
        return lrc;
    out->mean = malloc((size_t)dim * sizeof(float));
    out->whiten = malloc((size_t)(dim * dim) * sizeof(float));
    if (!out->mean || !out->whiten) {
        dlh_norm_free(out);
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    memcpy(out->mean, m->data, (size_t)dim * sizeof(float));
    memcpy(out->whiten, w->data, (size_t)(dim * dim) * sizeof(float));
    for (int64_t i = 0; i < dim * dim; i++)
        if (!isfinite(out->whiten[i]) || (i < dim && !isfinite(out->mean[i]))) {
            dlh_norm_free(out);
            dlh_error_set("%s: the whitening tensors hold a non-finite value", path);
            return DLH_EDATA;
        }
    out->kind = kind;
    out->dim = dim;
    return 0;
}

/* "[f, f, ...]" of exactly n floats into v. */
static int eval_parse_floats(const char *s, float *v, int64_t n)
{
    const char *p = s;
    while (*p == ' ')
        p++;
    if (*p++ != '[')
        return -1;
    for (int64_t i = 0; i < n; i++) {
        char *end;
        while (*p == ' ' || (i > 0 && *p == ','))
            p++;
        v[i] = strtof(p, &end);
        if (end == p || !isfinite(v[i]))
            return -1;
        p = end;
    }
    while (*p == ' ')
        p++;
    return *p == ']' && p[1] == '\0' ? 0 : -1;
}

int dlh_norm_from_meta(const dlh_st_file *f, const char *path, dlh_norm *out)
{
    memset(out, 0, sizeof *out);
    const char *kind = dlh_st_meta_get(f, "normalize");
    if (!kind)
        return 0;           /* not a dlhost checkpoint: no statistics */
    int k = -1;
    for (int i = 0; i < EVAL_NORM_KINDS; i++)
        if (strcmp(kind, eval_norm_names[i]) == 0)
            k = i;
    if (DLH_NORM_WHITENS(k))
        return eval_whiten_from(f, path, k, out);
    const char *sg = dlh_st_meta_get(f, "norm_groups");
    const char *ss = dlh_st_meta_get(f, "norm_group_stride");
    const char *sh = dlh_st_meta_get(f, "norm_shift");
    const char *sc = dlh_st_meta_get(f, "norm_scale");
    const char *bad = k < 0 ? "normalize" : !sg ? "norm_groups" : !ss ? "norm_group_stride"
                    : !sh ? "norm_shift" : !sc ? "norm_scale" : NULL;
    char *end;
    int64_t groups = 0, stride = 0;
    if (!bad) {
        groups = strtoll(sg, &end, 10);
        if (*end || groups < 0 || groups > (int64_t)1 << 24)
            bad = "norm_groups";
        stride = strtoll(ss, &end, 10);
        if (!bad && (*end || stride < 0))
            bad = "norm_group_stride";
        if (!bad && k != DLH_NORM_NONE && (groups < 1 || stride < 1))
            bad = "norm_groups";
        /* Each number takes a character at least: the lists bound the
           allocation below, not the count the file claims. */
        if (!bad && (groups > (int64_t)strlen(sh) || groups > (int64_t)strlen(sc)))
            bad = "norm_groups";
    }
    if (bad) {
        dlh_error_set("%s: metadata '%s' is missing or malformed", path, bad);
        return DLH_EDATA;
    }
    out->kind = k;
    if (k == DLH_NORM_NONE)
        return 0;
    out->groups = groups;
    out->group_stride = stride;
    out->shift = malloc((size_t)groups * sizeof(float));
    out->scale = malloc((size_t)groups * sizeof(float));
    if (!out->shift || !out->scale) {
        dlh_norm_free(out);
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    if (eval_parse_floats(sh, out->shift, groups) ||
        eval_parse_floats(sc, out->scale, groups)) {
        dlh_norm_free(out);
        dlh_error_set("%s: metadata 'norm_shift'/'norm_scale' is not a list of %" PRId64
                      " numbers", path, groups);
        return DLH_EDATA;
    }
    return 0;
}

/* ------------------------------------------------------------ loading */

/* The checkpoint against the experiment: every weight present with its
   shape, the same class count and normalisation. */
static int eval_match(const dlh_experiment *e, const dlh_st_file *f, const char *path,
                      const dlh_ckpt_tensor *t, size_t n, const dlh_norm *norm)
{
    const char *cfg = dlh_config_path(e->cfg);
    for (size_t i = 0; i < n; i++) {
        const dlh_st_entry *s = dlh_st_find(f, t[i].name);
        if (!s && t[i].host)
            continue;           /* a counter the file predates (rundir.h) */
        if (!s) {
            dlh_error_set("%s: tensor '%s' is missing; the model of %s has it (is this "
                          "checkpoint from another experiment?)", path, t[i].name, cfg);
            return DLH_ECONFIG;
        }
        int same = s->ndim == t[i].t->ndim && s->dtype == t[i].t->dtype;
        for (int d = 0; same && d < s->ndim; d++)
            same = s->shape[d] == t[i].t->shape[d];
        if (!same) {
            dlh_shape a = { s->ndim, { 0 } }, b = { t[i].t->ndim, { 0 } };
            char sa[96], sb[96];
            for (int d = 0; d < s->ndim && d < DLH_MAX_DIMS; d++)
                a.dim[d] = s->shape[d];
            for (int d = 0; d < b.ndim; d++)
                b.dim[d] = t[i].t->shape[d];
            dlh_shape_format(&a, sa, sizeof sa);
            dlh_shape_format(&b, sb, sizeof sb);
            dlh_error_set("%s: tensor '%s' has shape %s%s, the model of %s expects %s",
                          path, t[i].name, sa,
                          s->dtype == t[i].t->dtype ? "" : s->dtype == DLH_I32 ? " (I32)"
                          : s->dtype == DLH_I64 ? " (I64)" : " (F32)",
                          cfg, sb);
            return DLH_ESHAPE;
        }
    }
    const char *cls = dlh_st_meta_get(f, "classes");
    if (cls && e->target_kind == DLH_TARGET_CLASS) {
        char *end;
        long long c = strtoll(cls, &end, 10);
        if (*end || c < 1) {
            dlh_error_set("%s: metadata 'classes' is malformed ('%s')", path, cls);
            return DLH_EDATA;
        }
        if (c != e->n_classes) {
            dlh_error_set("%s: the checkpoint has %lld classes, the experiment %s has "
                          "%lld", path, c, cfg, (long long)e->n_classes);
            return DLH_ECONFIG;
        }
    }
    /* Class names: the checkpoint's (class_name.K) and data.train's must
       agree where both exist: the same index must mean the same class. */
    for (int64_t k = 0; e->class_names && k < e->n_class_names; k++) {
        char key[48];
        snprintf(key, sizeof key, DLH_CLASS_NAME_KEY, k);
        const char *name = dlh_st_meta_get(f, key);
        if (name && strcmp(name, e->class_names[k]) != 0) {
            dlh_error_set("%s: class %" PRId64 " is '%s' in the checkpoint and '%s' in the "
                          "data of %s; the classes must be the same, in the same order",
                          path, k, name, e->class_names[k], cfg);
            return DLH_ECONFIG;
        }
    }
    if (dlh_st_meta_get(f, "normalize") && norm->kind != e->normalize) {
        dlh_error_set("%s: the checkpoint was trained with normalize = \"%s\", the "
                      "experiment %s says \"%s\"", path, eval_norm_names[norm->kind], cfg,
                      eval_norm_names[e->normalize]);
        return DLH_ECONFIG;
    }
    if (!dlh_st_meta_get(f, "normalize") && e->normalize != DLH_NORM_NONE) {
        dlh_error_set("%s: the checkpoint carries no normalisation statistics, but the "
                      "experiment %s asks for normalize = \"%s\"", path, cfg,
                      eval_norm_names[e->normalize]);
        return DLH_ECONFIG;
    }
    return 0;
}

int dlh_checkpoint_check(const dlh_experiment *e, const dlh_st_file *f, const char *path,
                         const dlh_ckpt_tensor *t, size_t n, dlh_norm *norm)
{
    int rc = dlh_norm_from_meta(f, path, norm);
    if (rc == 0 && (rc = eval_match(e, f, path, t, n, norm)) < 0)
        dlh_norm_free(norm);
    return rc;
}

/* ------------------------------------------------------------ dlhost eval */

/* The checkpoint's class names (all n or none), strdup'ed into names. */
int dlh_checkpoint_class_names(const dlh_st_file *f, int64_t n, char ***names)
{
    *names = NULL;
    if (n < 1)
        return 0;
    char **v = calloc((size_t)n, sizeof *v);
    if (!v) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    for (int64_t k = 0; k < n; k++) {
        char key[48];
        snprintf(key, sizeof key, DLH_CLASS_NAME_KEY, k);
        const char *name = dlh_st_meta_get(f, key);
        if (!name || !(v[k] = strdup(name))) {
            for (int64_t j = 0; j < k; j++)
                free(v[j]);
            free(v);
            if (!name)
                return 0;
            dlh_error_set("out of memory");
            return DLH_ENOMEM;
        }
    }
    *names = v;
    return 0;
}

void dlh_eval_print_head(FILE *out, const dlh_experiment *e, const dlh_evaluator *ev, int h)
{
    const dlh_exp_head *eh = &e->heads[h];
    fprintf(out, "      head '%s'  loss %.6f", eh->name, ev->heads[h].eval_loss);
    if (!isnan(ev->heads[h].eval_accuracy))
        fprintf(out, "  accuracy %.4f", ev->heads[h].eval_accuracy);
    fprintf(out, "  (loss[%d] %s, weight %g)\n", h, eh->loss_type, eh->weight);
}

static int eval_print(FILE *out, const dlh_experiment *e, const dlh_evaluator *ev,
                      double loss, double acc, const int64_t *conf, char *const *names,
                      const char *weights, const char *json)
{
    fprintf(out, "test  %" PRId64 " samples  loss %.6f", e->test.info.n_samples, loss);
    if (!isnan(acc))
        fprintf(out, "  accuracy %.4f", acc);
    fprintf(out, "\n");
    dlh_metrics_print(out, "test", e->metrics_val);
    for (int h = 0; e->loss_list && h < e->n_heads; h++)
        dlh_eval_print_head(out, e, ev, h);
    dlh_class_report rep;
    memset(&rep, 0, sizeof rep);
    int rc = conf ? dlh_class_report_new(conf, e->n_classes, &rep) : 0;
    if (rc)
        return rc;
    if (conf) {
        const char *head = e->loss_list ? e->heads[0].name : NULL;
        if (head)
            fprintf(out, "head '%s': ", head);
        fprintf(out, "classification report\n");
        dlh_class_report_print(out, &rep, names);
        fprintf(out, "\n");
        if (head)
            fprintf(out, "head '%s': ", head);
        dlh_confusion_print(out, conf, e->n_classes, names);
    } else if (!e->metrics_val || e->metrics_val->n == 0) {
        fprintf(out, "(regression targets: the loss only; list metrics = [\"mae\", "
                     "\"rmse\", \"r2\"] in the experiment for more)\n");
    }
    if (json) {
        dlh_eval_result res = { e->name, weights, e->loss_list ? e->heads[0].name : NULL,
                                e->test.info.n_samples, loss, acc, conf ? &rep : NULL,
                                conf, names, e->metrics_val };
        if ((rc = dlh_eval_json_write(json, &res)) == 0)
            fprintf(out, "wrote %s\n", json);
    }
    dlh_class_report_free(&rep);
    return rc;
}

int dlh_eval(dlh_config *cfg, const char *backend_override, const char *weights,
             FILE *out)
{
    return dlh_eval_json(cfg, backend_override, weights, NULL, out);
}

int dlh_eval_json(dlh_config *cfg, const char *backend_override, const char *weights,
                  const char *json, FILE *out)
{
    dlh_experiment *e = NULL;
    dlh_st_file *f = NULL;
    dlh_ckpt_tensor *t = NULL;
    size_t n = 0;
    dlh_norm norm;
    dlh_evaluator ev;
    dlh_batcher *bt = NULL;
    int64_t *idx = NULL, *conf = NULL;
    char **names = NULL;
    memset(&norm, 0, sizeof norm);
    memset(&ev, 0, sizeof ev);
    int rc = json ? dlh_eval_json_check(json) : 0;
    if (rc || (rc = dlh_experiment_new(cfg, backend_override, 0, &e)))
        return rc;
    if (!e->test.ops) {
        dlh_error_set("%s: eval needs data.test (the experiment has none)",
                      dlh_config_path(cfg));
        rc = DLH_ECONFIG;
        goto done;
    }
    if ((rc = dlh_st_read(weights, &f)) ||
        (rc = dlh_model_tensors(e, 0, &t, &n)) ||
        (rc = dlh_checkpoint_check(e, f, weights, t, n, &norm)) ||
        (rc = dlh_checkpoint_class_names(f, e->target_kind == DLH_TARGET_CLASS
                                         ? e->n_classes : 0, &names)))
        goto done;
    dlh_st_free(f);
    f = NULL;
    if ((rc = dlh_checkpoint_load(e->backend, weights, t, n, 1, NULL)))
        goto done;
    int64_t nt = e->test.info.n_samples;
    int classes = e->target_kind == DLH_TARGET_CLASS;
    if (!(idx = eval_calloc((size_t)nt, sizeof *idx)) ||
        (classes && !(conf = eval_calloc((size_t)(e->n_classes * e->n_classes),
                                         sizeof *conf)))) {
        rc = DLH_ENOMEM;
        goto done;
    }
    for (int64_t i = 0; i < nt; i++)
        idx[i] = i;
    if ((rc = dlh_evaluator_init(&ev, e)) ||
        (rc = dlh_batcher_new(e->test.ops, e->test.state, &e->test.info,
                              norm.kind != DLH_NORM_NONE ? &norm : NULL, e->max_batch,
                              &bt)))
        goto done;
    ev.metrics = e->metrics_val;
    double loss, acc;
    if ((rc = dlh_evaluate(&ev, bt, idx, nt, &loss, &acc, conf))) {
        dlh_error_prefix("data.test: ");
        goto done;
    }
    fprintf(out, "eval %s: %s (%s)\n", e->name, weights, e->backend_line);
    /* The data's class names where the checkpoint has none. */
    char *const *shown = names ? names : e->n_class_names == e->n_classes
                         ? (char *const *)e->class_names : NULL;
    rc = eval_print(out, e, &ev, loss, acc, conf, shown, weights, json);
    fflush(out);
done:
    for (int64_t k = 0; names && k < e->n_classes; k++)
        free(names[k]);
    free(names);
    dlh_batcher_free(bt);
    dlh_evaluator_release(&ev);
    free(idx);
    free(conf);
    dlh_norm_free(&norm);
    dlh_model_tensors_free(t, n);
    dlh_st_free(f);
    dlh_experiment_free(e);
    return rc;
}
