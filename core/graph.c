/* The model DAG: topological order is the order of dlh_graph_add (inputs must
 * be earlier nodes), so forward is one pass in order and backward one pass in
 * reverse.  All memory is allocated by dlh_graph_plan; the passes only make
 * views of it. */
#include "graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "ew.h"

enum { GRAPH_FOLD_NONE = 0, GRAPH_FOLD_IN = 1, GRAPH_FOLD_OUT = 2 };

/* Where backward writes the gradient of one input slot. */
enum { GRAPH_TO_NONE = -1, GRAPH_TO_DIRECT = 0 /* >0: scratch slot k-1 */ };

typedef struct graph_node {
    dlh_layer_inst *layer;
    int n_in;
    int *in;                        /* producer node, -1 = model input */
    int *to;                        /* per input slot: GRAPH_TO_* or scratch slot + 1 */
    int n_consumers;
    int needs_grad;                 /* a layer with parameters is here or upstream */
    int frozen;                     /* every parameter of its layer is frozen: it runs
                                       in evaluation mode (dlh_graph_refresh) */
    int head;                       /* a loss writes its gradient (dlh_graph_set_head) */
    dlh_tensor out, dout;           /* max_batch; dout only where needs_grad */
    /* A view layer (flatten, reshape) whose output is its input's memory,
       set again at every forward (the model input alternates between two
       buffers): it runs no forward.  When its input's gradient is written
       here first, dout is that gradient's memory and it runs no backward. */
    int view_out, view_dout;
    /* A relu run inside a neighbour (graph_fold) runs nothing.  Folded
       into the layer that reads it (GRAPH_FOLD_IN), it has no memory and
       its reader takes the relu's input with ctx->input_relu set; folded
       into the layer it reads (GRAPH_FOLD_OUT), its output and gradient are
       that layer's memory, which the layer (ctx->output_relu) fills with
       relu's values.  in[] keeps the model as written. */
    int folded;                     /* GRAPH_FOLD_*: this relu runs inside folded_into */
    int folded_into;
    int input_relu;                 /* input 0 is a relu folded in */
    int output_relu;                /* a relu reading this node is folded in */
    char *label;                    /* "relu1+pool1" for the profile, or NULL */
    dlh_tensor *in_v, *din_v;       /* views handed to the layer, [n_in] */
    dlh_tensor *scratch_v;          /* layer scratch views, [layer->n_scratch] */
} graph_node;

struct dlh_graph {
    const dlh_backend *be;
    dlh_shape input_shape;
    int64_t max_batch;
    graph_node *nodes;
    int n, cap;
    int planned;
    int fold;                       /* fold relus into their readers (default) */
    dlh_tensor x;                   /* the model input: x_buf[0] or x_buf[1] */
    dlh_tensor x_buf[2];            /* x_buf[1] only once asked for */
    int n_gscratch;
    dlh_tensor *gscratch;           /* fan-out gradients, each max numel * max_batch */
    dlh_ew_kernel *acc;
    int n_params;
    dlh_tensor sq;                  /* [n] per-node sums (output probe) */
    dlh_tensor rows;                /* [max_batch] per-row sums (output probe) */
    float *host_sq;                 /* [n] */
    double *time_fwd, *time_bwd;    /* [n] seconds per node, or NULL */
};

int dlh_graph_new(const dlh_backend *be, const dlh_shape *input, int64_t max_batch,
                  dlh_graph **out)
{
    *out = NULL;
    if (!be || !input || max_batch < 1 || input->ndim < 0 || input->ndim > DLH_MAX_DIMS) {
        dlh_error_set("graph: invalid arguments");
        return DLH_EINVAL;
    }
    dlh_graph *g = calloc(1, sizeof *g);
    if (!g) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    g->be = be;
    g->input_shape = *input;
    g->max_batch = max_batch;
    g->fold = 1;
    *out = g;
    return 0;
}

static void graph_node_free(const dlh_backend *be, graph_node *nd)
{
    if (!nd->view_out && !nd->folded)
        dlh_tensor_free(be, &nd->out);
    if (!nd->view_dout && !nd->folded)
        dlh_tensor_free(be, &nd->dout);
    free(nd->in);
    free(nd->to);
    free(nd->in_v);
    free(nd->din_v);
    free(nd->scratch_v);
    free(nd->label);
}

void dlh_graph_free(dlh_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n; i++)
        graph_node_free(g->be, &g->nodes[i]);
    free(g->nodes);
    dlh_tensor_free(g->be, &g->x_buf[0]);
    dlh_tensor_free(g->be, &g->x_buf[1]);
    for (int i = 0; g->gscratch && i < g->n_gscratch; i++)
        dlh_tensor_free(g->be, &g->gscratch[i]);
    free(g->gscratch);
    dlh_ew_free(g->acc);
    dlh_tensor_free(g->be, &g->sq);
    dlh_tensor_free(g->be, &g->rows);
    free(g->host_sq);
    free(g);
}

int dlh_graph_add(dlh_graph *g, dlh_layer_inst *layer, int n_inputs, const int *inputs)
{
    if (g->planned || !layer || n_inputs < 1) {
        dlh_error_set("graph: cannot add layer '%s'", layer ? layer->name : "?");
        return DLH_EINVAL;
    }
    for (int k = 0; k < n_inputs; k++)
        if (inputs[k] < -1 || inputs[k] >= g->n) {
            dlh_error_set("layer '%s': input %d is not an earlier layer", layer->name, k + 1);
            return DLH_EINVAL;
        }
    if (g->n == g->cap) {
        int cap = g->cap ? 2 * g->cap : 8;
        graph_node *nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) {
            dlh_error_set("out of memory");
            return DLH_ENOMEM;
        }
        g->nodes = nn;
        g->cap = cap;
    }
    graph_node *nd = &g->nodes[g->n];
    memset(nd, 0, sizeof *nd);
    nd->layer = layer;
    nd->n_in = n_inputs;
    nd->in = malloc((size_t)n_inputs * sizeof *nd->in);
    nd->to = malloc((size_t)n_inputs * sizeof *nd->to);
    nd->in_v = calloc((size_t)n_inputs, sizeof *nd->in_v);
    nd->din_v = calloc((size_t)n_inputs, sizeof *nd->din_v);
    nd->scratch_v = calloc((size_t)layer->n_scratch + 1, sizeof *nd->scratch_v);
    if (!nd->in || !nd->to || !nd->in_v || !nd->din_v || !nd->scratch_v) {
        graph_node_free(g->be, nd);
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    memcpy(nd->in, inputs, (size_t)n_inputs * sizeof *nd->in);
    for (int k = 0; k < n_inputs; k++)
        if (inputs[k] >= 0)
            g->nodes[inputs[k]].n_consumers++;
    return g->n++;
}

int dlh_graph_find(const dlh_graph *g, const char *name)
{
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->nodes[i].layer->name, name) == 0)
            return i;
    return -1;
}

const dlh_shape *dlh_graph_shape(const dlh_graph *g, int i)
{
    return i < 0 ? &g->input_shape : &g->nodes[i].layer->output;
}

int dlh_graph_count(const dlh_graph *g)
{
    return g->n;
}

dlh_layer_inst *dlh_graph_layer(const dlh_graph *g, int i)
{
    return g->nodes[i].layer;
}

int dlh_graph_n_inputs(const dlh_graph *g, int i)
{
    return g->nodes[i].n_in;
}

int dlh_graph_input_of(const dlh_graph *g, int i, int k)
{
    return g->nodes[i].in[k];
}

int dlh_graph_consumers(const dlh_graph *g, int i)
{
    return g->nodes[i].n_consumers;
}

int dlh_graph_set_head(dlh_graph *g, int i)
{
    if (g->planned || i < 0 || i >= g->n || g->nodes[i].n_consumers > 0) {
        dlh_error_set("graph: node %d cannot be a head", i);
        return DLH_EINVAL;
    }
    g->nodes[i].head = 1;
    return 0;
}

int dlh_graph_dangling(const dlh_graph *g)
{
    for (int i = 0; i + 1 < g->n; i++)
        if (g->nodes[i].n_consumers == 0)
            return i;
    return -1;
}

/* t without memory: a batch-first tensor of max_batch samples of per-sample
   shape s. */
static int graph_shape(const dlh_graph *g, const dlh_shape *s, dlh_tensor *t)
{
    if (s->ndim + 1 > DLH_MAX_DIMS) {
        dlh_error_set("per-sample shape with %d dimensions has no room for the batch "
                      "(at most %d)", (int)s->ndim, DLH_MAX_DIMS - 1);
        return DLH_ESHAPE;
    }
    memset(t, 0, sizeof *t);
    t->dtype = DLH_F32;
    t->ndim = s->ndim + 1;
    t->shape[0] = g->max_batch;
    for (int i = 0; i < s->ndim; i++)
        t->shape[i + 1] = s->dim[i];
    return 0;
}

/* The same tensor with its memory. */
static int graph_alloc(const dlh_graph *g, const dlh_shape *s, dlh_tensor *t)
{
    dlh_tensor shaped;
    int rc = graph_shape(g, s, &shaped);
    return rc ? rc : dlh_tensor_alloc(g->be, shaped.ndim, shaped.shape, t);
}

/* The node whose output input slot k of nd reads when the step runs: a
   folded relu's input in its place. */
static int graph_src(const dlh_graph *g, const graph_node *nd, int k)
{
    return k == 0 && nd->input_relu ? g->nodes[nd->in[0]].in[0] : nd->in[k];
}

void dlh_graph_set_fold(dlh_graph *g, int on)
{
    if (!g->planned)
        g->fold = on != 0;
}

/* "a+b" as node m's profile label. */
static int graph_label(graph_node *m, const char *a, const char *b)
{
    size_t len = strlen(a) + strlen(b) + 2;
    if (!(m->label = malloc(len))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    snprintf(m->label, len, "%s+%s", a, b);
    return 0;
}

/* Runs each relu that only one single-input layer able to take it reads
   (dlh_layer_setup.accepts_input_relu: maxpool2d), and that no loss or
   metric reads, inside that layer; then each other relu that alone reads a
   layer that can apply it (accepts_output_relu: dense), and whose input no
   loss or metric reads, inside that layer.  One pass over the data less
   forward and backward, and the same bits (layer.h). */
static int graph_fold(dlh_graph *g)
{
    for (int i = 0; g->fold && i + 1 < g->n; i++) {
        graph_node *r = &g->nodes[i];
        if (!r->layer->is_relu || r->n_in != 1 || r->head || r->n_consumers != 1)
            continue;
        for (int j = i + 1; j < g->n; j++) {
            graph_node *m = &g->nodes[j];
            if (m->n_in != 1 || m->in[0] != i)
                continue;
            if (!m->layer->accepts_input_relu || m->input_relu)
                break;
            if (graph_label(m, r->layer->name, m->layer->name))
                return DLH_ENOMEM;
            r->folded = GRAPH_FOLD_IN;
            r->folded_into = j;
            m->input_relu = 1;
            break;
        }
    }
    for (int i = 0; g->fold && i + 1 < g->n; i++) {
        graph_node *r = &g->nodes[i];
        int p = r->in[0];
        if (!r->layer->is_relu || r->n_in != 1 || r->head || r->folded || p < 0)
            continue;
        graph_node *d = &g->nodes[p];
        if (!d->layer->accepts_output_relu || d->n_consumers != 1 || d->head ||
            d->output_relu || d->folded || d->layer->output_is_view)
            continue;
        if (graph_label(d, d->layer->name, r->layer->name))
            return DLH_ENOMEM;
        r->folded = GRAPH_FOLD_OUT;
        r->folded_into = p;
        d->output_relu = 1;
    }
    return 0;
}

/* Backward reaches a node only when a layer with trainable parameters
   is at or before it: the gradient of anything else is never used (the
   first dense layer after a flatten computes no gradient for its input;
   nothing below the last frozen layer of a fine-tuned model runs).  With
   later, tensors that train.unfreeze unfreezes count as trainable. */
static void graph_needs(dlh_graph *g, int later)
{
    for (int i = 0; i < g->n; i++) {
        graph_node *nd = &g->nodes[i];
        const dlh_layer_inst *l = nd->layer;
        nd->needs_grad = 0;
        for (int j = 0; j < l->n_params; j++)
            nd->needs_grad |= !l->params[j].frozen || (later && l->params[j].unfreezes);
        /* A layer whose parameters are all frozen runs as in evaluation
           (torchvision's FrozenBatchNorm2d): running statistics used, not
           updated.  A layer without parameters (dropout) keeps training. */
        nd->frozen = l->n_params > 0 && !nd->needs_grad;
        for (int k = 0; k < nd->n_in; k++)
            if (nd->in[k] >= 0 && g->nodes[nd->in[k]].needs_grad)
                nd->needs_grad = 1;
    }
}

void dlh_graph_refresh(dlh_graph *g)
{
    if (g->planned)
        graph_needs(g, 0);
}

int dlh_graph_plan(dlh_graph *g)
{
    int rc;
    if (g->planned || g->n < 1) {
        dlh_error_set("graph: nothing to plan");
        return DLH_EINVAL;
    }
    if ((rc = graph_alloc(g, &g->input_shape, &g->x_buf[0])) || (rc = graph_fold(g)))
        return rc;
    g->x = g->x_buf[0];
    /* Plan for the gradients that any epoch needs (train.unfreeze makes
       more tensors trainable later); dlh_graph_refresh then narrows
       backward to the ones trained now. */
    graph_needs(g, 1);
    /* Backward order decides who writes a producer's gradient first. */
    char *written = calloc((unsigned)g->n, 1);
    if (!written) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    g->n_gscratch = 0;
    for (int i = g->n - 1; i >= 0; i--) {
        graph_node *nd = &g->nodes[i];
        int used = 0;
        for (int k = 0; k < nd->n_in; k++) {
            int p = graph_src(g, nd, k);
            if (nd->folded || p < 0 || !g->nodes[p].needs_grad)
                nd->to[k] = GRAPH_TO_NONE;
            else if (!written[p]) {
                nd->to[k] = GRAPH_TO_DIRECT;
                written[p] = 1;
            } else
                nd->to[k] = ++used;
        }
        g->n_gscratch = used > g->n_gscratch ? used : g->n_gscratch;
    }
    free(written);
    int64_t max_numel = 1;
    for (int i = 0; i < g->n; i++) {
        graph_node *nd = &g->nodes[i];
        nd->view_out = nd->layer->output_is_view;     /* one input (instance.c) */
        nd->view_dout = nd->view_out && nd->to[0] == GRAPH_TO_DIRECT;
        /* The loss writes the gradient of the last node and of every head
           in any case. */
        if (nd->folded == GRAPH_FOLD_OUT) {
            /* The producer's memory, relu's values and their gradient. */
            const graph_node *d = &g->nodes[nd->folded_into];
            if ((rc = graph_shape(g, &nd->layer->output, &nd->out)) ||
                (rc = graph_shape(g, &nd->layer->output, &nd->dout))) {
                dlh_error_prefix("layer '%s': ", nd->layer->name);
                return rc;
            }
            nd->out.mem = d->out.mem;
            nd->dout.mem = d->dout.mem;
            continue;
        }
        int grad = !nd->folded && (nd->needs_grad || nd->head || i == g->n - 1);
        dlh_tensor *dout = grad && !nd->view_dout ? &nd->dout : NULL;
        rc = nd->view_out || nd->folded ? graph_shape(g, &nd->layer->output, &nd->out)
                          : graph_alloc(g, &nd->layer->output, &nd->out);
        if (rc == 0 && nd->view_dout) {
            /* Producers come first, so a chain of views shares one buffer. */
            rc = graph_shape(g, &nd->layer->output, &nd->dout);
            nd->dout.mem = g->nodes[nd->in[0]].dout.mem;
        }
        if (rc || (dout && (rc = graph_alloc(g, &nd->layer->output, dout)))) {
            dlh_error_prefix("layer '%s': ", nd->layer->name);
            return rc;
        }
        int64_t n = dlh_shape_numel(&nd->layer->output);
        max_numel = n > max_numel ? n : max_numel;
    }
    if (g->n_gscratch > 0) {
        g->gscratch = calloc((size_t)g->n_gscratch, sizeof *g->gscratch);
        if (!g->gscratch) {
            dlh_error_set("out of memory");
            return DLH_ENOMEM;
        }
        dlh_shape flat = { 1, { max_numel } };
        for (int s = 0; s < g->n_gscratch; s++)
            if ((rc = graph_alloc(g, &flat, &g->gscratch[s])))
                return rc;
        if ((rc = dlh_ew_compile(g->be, "in s; inout g; g = g + s;", &g->acc)))
            return rc;
    }
    g->n_params = 0;
    for (int i = 0; i < g->n; i++)
        g->n_params += g->nodes[i].layer->n_params;
    if (!(g->host_sq = calloc((size_t)g->n, sizeof *g->host_sq))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    int64_t nsq = g->n, nrows = g->max_batch;
    if ((rc = dlh_tensor_alloc(g->be, 1, &nsq, &g->sq)) ||
        (rc = dlh_tensor_alloc(g->be, 1, &nrows, &g->rows)))
        return rc;
    g->planned = 1;
    graph_needs(g, 0);
    return 0;
}

const dlh_tensor *dlh_graph_input(const dlh_graph *g)
{
    return &g->x;
}

int dlh_graph_input_buffers(dlh_graph *g, dlh_tensor out[2])
{
    int rc;
    if (!g->x_buf[1].mem.buf && (rc = graph_alloc(g, &g->input_shape, &g->x_buf[1])))
        return rc;
    out[0] = g->x_buf[0];
    out[1] = g->x_buf[1];
    return 0;
}

void dlh_graph_select_input(dlh_graph *g, int k)
{
    if ((k == 0 || k == 1) && g->x_buf[k].mem.buf)
        g->x = g->x_buf[k];
}

const dlh_tensor *dlh_graph_output(const dlh_graph *g)
{
    return &g->nodes[g->n - 1].out;
}

const dlh_tensor *dlh_graph_d_output(const dlh_graph *g)
{
    return &g->nodes[g->n - 1].dout;
}

const dlh_tensor *dlh_graph_node_output(const dlh_graph *g, int i)
{
    return &g->nodes[i].out;
}

const dlh_tensor *dlh_graph_node_d_output(const dlh_graph *g, int i)
{
    return &g->nodes[i].dout;
}

int dlh_graph_node_has_grad(const dlh_graph *g, int i)
{
    return g->nodes[i].needs_grad;
}

int dlh_graph_node_calls(const dlh_graph *g, int i, int backward)
{
    const graph_node *nd = &g->nodes[i];
    if (nd->folded)
        return 0;
    return backward ? nd->needs_grad && !nd->view_dout : !nd->view_out;
}

const char *dlh_graph_node_label(const dlh_graph *g, int i)
{
    return g->nodes[i].label ? g->nodes[i].label : g->nodes[i].layer->name;
}

int dlh_graph_folded_into(const dlh_graph *g, int i)
{
    return g->nodes[i].folded ? g->nodes[i].folded_into : -1;
}

static dlh_tensor graph_view(const dlh_tensor *t, int64_t b)
{
    dlh_tensor v = *t;
    v.shape[0] = b;
    return v;
}

/* The input views of node nd for b samples. */
static void graph_inputs(dlh_graph *g, graph_node *nd, int64_t b)
{
    for (int k = 0; k < nd->n_in; k++) {
        int p = graph_src(g, nd, k);
        nd->in_v[k] = graph_view(p < 0 ? &g->x : &g->nodes[p].out, b);
    }
}

void dlh_graph_time_nodes(dlh_graph *g, double *fwd, double *bwd)
{
    g->time_fwd = fwd;
    g->time_bwd = bwd;
}

double dlh_graph_mark(const dlh_graph *g)
{
    /* A failed sync shows again at the next call that needs the device. */
    if (g->be->ops->sync)
        (void)g->be->ops->sync(g->be->ctx);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int dlh_graph_forward(dlh_graph *g, int64_t batch, int training, int64_t step,
                      uint64_t seed)
{
    for (int i = 0; i < g->n; i++) {
        graph_node *nd = &g->nodes[i];
        if (nd->folded)
            continue;
        if (nd->view_out) {
            int p = nd->in[0];
            nd->out.mem = p < 0 ? g->x.mem : g->nodes[p].out.mem;
            continue;
        }
        dlh_layer_ctx ctx;
        dlh_layer_ctx_fill(nd->layer, batch, training && !nd->frozen, step, seed, &ctx,
                           nd->scratch_v);
        ctx.input_relu = nd->input_relu;
        ctx.output_relu = nd->output_relu;
        graph_inputs(g, nd, batch);
        dlh_tensor o = graph_view(&nd->out, batch);
        double t0 = g->time_fwd ? dlh_graph_mark(g) : 0.0;
        int rc = nd->layer->ops->forward(nd->layer->state, &ctx, nd->in_v, &o);
        if (g->time_fwd)
            g->time_fwd[i] += dlh_graph_mark(g) - t0;
        if (rc) {
            if (!*dlh_error_get())
                dlh_error_set("%s", dlh_strerror(rc));
            dlh_error_prefix("layer '%s': forward: ", nd->layer->name);
            return rc;
        }
    }
    return 0;
}

int dlh_graph_backward(dlh_graph *g, int64_t batch, int64_t step, uint64_t seed)
{
    return dlh_graph_backward_with(g, batch, step, seed, NULL, NULL);
}

int dlh_graph_backward_with(dlh_graph *g, int64_t batch, int64_t step, uint64_t seed,
                            dlh_graph_layer_done done, void *done_ctx)
{
    int rc;
    for (int i = g->n - 1; i >= 0; i--) {
        graph_node *nd = &g->nodes[i];
        if (!nd->needs_grad || nd->view_dout || nd->folded)
            continue;
        double t0 = g->time_bwd ? dlh_graph_mark(g) : 0.0;
        dlh_layer_ctx ctx;
        dlh_layer_ctx_fill(nd->layer, batch, !nd->frozen, step, seed, &ctx, nd->scratch_v);
        ctx.input_relu = nd->input_relu;
        ctx.output_relu = nd->output_relu;
        /* A layer that can write its gradients does; the others get them zeroed
           just before they add into them, while the zeros are in cache. */
        if (nd->layer->overwrites_grads)
            ctx.overwrite_grads = 1;
        else if ((rc = dlh_layer_zero_grad(nd->layer)))
            return rc;
        graph_inputs(g, nd, batch);
        for (int k = 0; k < nd->n_in; k++) {
            int p = graph_src(g, nd, k);
            if (nd->to[k] == GRAPH_TO_NONE || !g->nodes[p].needs_grad) {
                /* Nobody needs the gradient of the data or of a node with
                   no parameters upstream: a NULL buffer. */
                memset(&nd->din_v[k], 0, sizeof nd->din_v[k]);
                nd->din_v[k].ndim = nd->in_v[k].ndim;
                memcpy(nd->din_v[k].shape, nd->in_v[k].shape, sizeof nd->din_v[k].shape);
            } else if (nd->to[k] == GRAPH_TO_DIRECT) {
                nd->din_v[k] = graph_view(&g->nodes[p].dout, batch);
            } else {
                /* Same memory, the producer's shape. */
                nd->din_v[k] = graph_view(&g->nodes[p].dout, batch);
                nd->din_v[k].mem = g->gscratch[nd->to[k] - 1].mem;
            }
        }
        dlh_tensor o = graph_view(&nd->out, batch);
        dlh_tensor d_o = graph_view(&nd->dout, batch);
        rc = nd->layer->ops->backward(nd->layer->state, &ctx, nd->in_v, &o, &d_o,
                                      nd->din_v);
        if (rc) {
            if (!*dlh_error_get())
                dlh_error_set("%s", dlh_strerror(rc));
            dlh_error_prefix("layer '%s': backward: ", nd->layer->name);
            return rc;
        }
        for (int k = 0; k < nd->n_in; k++) {
            int p = graph_src(g, nd, k);
            if (nd->to[k] <= GRAPH_TO_DIRECT || !g->nodes[p].needs_grad)
                continue;
            size_t n = (size_t)batch * (size_t)dlh_shape_numel(&g->nodes[p].layer->output);
            dlh_ew_arg args[2] = {
                dlh_ew_full(g->gscratch[nd->to[k] - 1].mem, n),
                dlh_ew_full(g->nodes[p].dout.mem, n),
            };
            if ((rc = dlh_ew_run(g->acc, n, args, NULL))) {
                dlh_error_prefix("layer '%s': gradient accumulation: ",
                                 g->nodes[p].layer->name);
                return rc;
            }
        }
        if (g->time_bwd)
            g->time_bwd[i] += dlh_graph_mark(g) - t0;
        if (done && nd->layer->n_params > 0 && (rc = done(done_ctx, nd->layer)))
            return rc;
    }
    return 0;
}

int dlh_graph_param_count(const dlh_graph *g)
{
    return g->n_params;
}

static const dlh_mem graph_no_idx = { NULL, 0 };

int dlh_graph_first_nonfinite_output(dlh_graph *g, int64_t batch, int *node)
{
    const dlh_backend *be = g->be;
    int rc;
    *node = -1;
    /* Per-row sums first, so no reduction is wider than one sample. */
    for (int i = 0; i < g->n; i++) {
        int64_t per = dlh_shape_numel(&g->nodes[i].layer->output);
        if (g->nodes[i].folded) {
            /* No output of its own: its reader's comes next. */
            if ((rc = be->ops->fill(be->ctx, dlh_mem_at(g->sq.mem, (size_t)i), 1, 0.0f)))
                return rc;
            continue;
        }
        if ((rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUMSQ, 1, (int)batch, (int)per,
                                  g->nodes[i].out.mem, g->rows.mem, graph_no_idx)) ||
            (rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 1, (int)batch, g->rows.mem,
                                  dlh_mem_at(g->sq.mem, (size_t)i), graph_no_idx)))
            return rc;
    }
    if ((rc = be->ops->read(be->ctx, g->sq.mem.buf, g->sq.mem.off * sizeof(float),
                            g->host_sq, (size_t)g->n * sizeof(float))))
        return rc;
    for (int i = 0; i < g->n; i++)
        if (!isfinite(g->host_sq[i])) {
            *node = i;
            return 0;
        }
    return 0;
}
