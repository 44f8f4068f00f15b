/* The model as a DAG of layer instances, with its activation memory.
 *
 * Nodes are added in topological order (the experiment file's order: a
 * layer may only name earlier layers as inputs); input -1 is the model input
 * (the data).  The last node is the output (a multi-output model has heads
 * too: dlh_graph_set_head).  dlh_graph_plan allocates, once,
 * every node's output and output-gradient tensors for max_batch samples, the
 * input tensor, and the scratch gradients of fan-outs; forward, backward and
 * the gradient checks then allocate nothing.
 *
 * Backward runs the nodes in reverse order.  When a node's output feeds
 * several inputs, the first of them to run backward writes the node's output
 * gradient directly; the others write a scratch gradient that an ew add then
 * accumulates into it.  The graph borrows its layers (the experiment owns
 * them) and is used from one thread at a time. */
#ifndef DLHOST_CORE_GRAPH_H
#define DLHOST_CORE_GRAPH_H

#include <stdint.h>

#include <dlhost/dlhost.h>

#include "instance.h"

typedef struct dlh_graph dlh_graph;

/* An empty graph over per-sample `input` shapes on `be`, for batches of up to
   max_batch samples. */
int dlh_graph_new(const dlh_backend *be, const dlh_shape *input, int64_t max_batch,
                  dlh_graph **out);
/* Frees the graph's memory (not its layers); NULL is a no-op. */
void dlh_graph_free(dlh_graph *g);

/* Appends `layer` (borrowed) reading inputs[0..n_inputs): indices of earlier
   nodes, or -1 for the model input.  Returns its node index (>= 0) or
   DLH_EINVAL for an index that is not earlier. */
int dlh_graph_add(dlh_graph *g, dlh_layer_inst *layer, int n_inputs, const int *inputs);
/* The node named `name`, or -1. */
int dlh_graph_find(const dlh_graph *g, const char *name);
/* The per-sample shape of node i's output (i = -1: the model input). */
const dlh_shape *dlh_graph_shape(const dlh_graph *g, int i);
int dlh_graph_count(const dlh_graph *g);
dlh_layer_inst *dlh_graph_layer(const dlh_graph *g, int i);
int dlh_graph_n_inputs(const dlh_graph *g, int i);
/* Node index of input k of node i (-1: the model input). */
int dlh_graph_input_of(const dlh_graph *g, int i, int k);
/* The first node (other than the last) whose output nobody reads, or -1. */
int dlh_graph_dangling(const dlh_graph *g);
/* How many input slots of later nodes read node i's output. */
int dlh_graph_consumers(const dlh_graph *g, int i);
/* Makes node i a head of a multi-output model (before plan): a loss writes
   its output gradient, which plan allocates as it does the last node's, and
   backward starts from it as from the last.  DLH_EINVAL for a node that
   another node reads (its gradient would be overwritten) or after plan. */
int dlh_graph_set_head(dlh_graph *g, int i);

/* fold 0 (before plan) runs every relu as its own layer, as written: for
   diagnostics, which watch each layer's output, and to compare (DLHOST_FOLD=0
   sets it for an experiment).  By default plan runs a relu that only a
   maxpool2d reads inside that pool, and one that alone reads a dense layer
   inside that layer (graph.c graph_fold). */
void dlh_graph_set_fold(dlh_graph *g, int on);

/* Allocates activations, gradients and fan-out scratch (once; after the last
   add).  DLH_ENOMEM / backend errors with the message set. */
int dlh_graph_plan(dlh_graph *g);

/* After the frozen flags of parameters change (train.unfreeze, at an epoch
   boundary): which nodes backward reaches, and which layers run in
   evaluation mode because every parameter they have is frozen.  Plan
   allocated for every tensor that unfreezes, so this allocates nothing. */
void dlh_graph_refresh(dlh_graph *g);

/* The model input, output and output-gradient tensors (batch max_batch;
   cut shape[0] to the batch in use). */
const dlh_tensor *dlh_graph_input(const dlh_graph *g);
/* The two buffers the model input can be (the second is allocated on the
   first call): a loader may fill one while a step reads the other, and
   dlh_graph_select_input(g, k) makes buffer k the input (without a copy).
   Buffer 0 is the input until then. */
int dlh_graph_input_buffers(dlh_graph *g, dlh_tensor out[2]);
void dlh_graph_select_input(dlh_graph *g, int k);
const dlh_tensor *dlh_graph_output(const dlh_graph *g);
const dlh_tensor *dlh_graph_d_output(const dlh_graph *g);
/* Node i's output tensor (max_batch). */
const dlh_tensor *dlh_graph_node_output(const dlh_graph *g, int i);
/* Node i's output gradient (max_batch); no memory (mem.buf NULL) unless
   backward reaches node i, it is the last node or a head. */
const dlh_tensor *dlh_graph_node_d_output(const dlh_graph *g, int i);
/* With arrays of dlh_graph_count(g) seconds, forward and backward add
   each node's time (the backend synchronised before and after it) into
   fwd[i] and bwd[i]; NULL, NULL stops the timing. */
void dlh_graph_time_nodes(dlh_graph *g, double *fwd, double *bwd);
/* Waits for the backend to finish what the graph gave it, then returns the
   monotonic time in seconds. */
double dlh_graph_mark(const dlh_graph *g);
/* Whether backward reaches node i (after plan): 1 when node i or a node
   before it has parameters.  Other nodes get no gradient buffer, their
   backward does not run, and their consumers get a NULL d_inputs buffer. */
int dlh_graph_node_has_grad(const dlh_graph *g, int i);
/* Whether node i's layer is called in forward (backward = 0) or backward
   (1): not where the node is a view sharing its input's memory, nor in
   backward where it has no gradient. */
int dlh_graph_node_calls(const dlh_graph *g, int i, int backward);
/* The name the profile gives node i: "relu1+pool1" or "fc1+relu1" for a
   layer a relu is folded into, else the layer's name. */
const char *dlh_graph_node_label(const dlh_graph *g, int i);
/* The node a folded relu runs inside, or -1 (after plan). */
int dlh_graph_folded_into(const dlh_graph *g, int i);

/* Runs every node on the first `batch` samples of the input.  training
   switches dropout and the like; step and seed key the layers' streams.
   Errors are prefixed "layer 'name': forward: ". */
int dlh_graph_forward(dlh_graph *g, int64_t batch, int training, int64_t step,
                      uint64_t seed);
/* Zeroes every parameter gradient, then back-propagates the output gradient
   (which the loss has written) through every node in reverse order. */
int dlh_graph_backward(dlh_graph *g, int64_t batch, int64_t step, uint64_t seed);
/* Called by dlh_graph_backward_with after a node's backward, with its layer:
   that layer's parameter gradients are final then (a layer is one node),
   and still in cache.  A non-zero return stops backward with that code. */
typedef int (*dlh_graph_layer_done)(void *ctx, const dlh_layer_inst *layer);
/* dlh_graph_backward, calling done(ctx, layer) after each layer that ran
   backward (done NULL: none). */
int dlh_graph_backward_with(dlh_graph *g, int64_t batch, int64_t step, uint64_t seed,
                            dlh_graph_layer_done done, void *ctx);

/* Parameter tensors of the whole model. */
int dlh_graph_param_count(const dlh_graph *g);
/* The first node (in order) whose output over `batch` samples holds a
   non-finite value, or -1 when all are finite; *node receives it. */
int dlh_graph_first_nonfinite_output(dlh_graph *g, int64_t batch, int *node);

#endif
