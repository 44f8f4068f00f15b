/* Live component instances built from the registry: a backend, and layers,
 * losses and optimisers with the memory the core allocates for them.  The
 * training graph (next issue) composes these; tests and `dlhost check` use
 * them directly. */
#ifndef DLHOST_CORE_INSTANCE_H
#define DLHOST_CORE_INSTANCE_H

#include <stdint.h>

#include <dlhost/dlhost.h>

/* Allocates a contiguous f32 tensor of `shape` (batch first if any). */
int dlh_tensor_alloc(const dlh_backend *be, int ndim, const int64_t *shape,
                     dlh_tensor *out);
void dlh_tensor_free(const dlh_backend *be, dlh_tensor *t);

/* Fills t with initialiser `init`, drawing from (seed, stream) (init.h has
   the full form, dlh_init_fill_spec). */
int dlh_init_fill(const dlh_backend *be, const dlh_tensor *t, dlh_init init,
                  uint64_t seed, uint64_t stream);
/* "he_normal" -> DLH_INIT_HE_NORMAL; -1 when unknown. */
int dlh_init_parse(const char *name);

typedef struct dlh_init_override dlh_init_override;

typedef struct dlh_named_tensor {
    char *name;                     /* "weight" */
    dlh_init_spec init;
    dlh_tensor value, grad;         /* grad unused (buf NULL) for buffers */
    int frozen;                     /* a parameter the optimiser leaves alone
                                       (optimizer.groups trainable = false) */
    int unfreezes;                  /* frozen now, trained from a later epoch
                                       (train.unfreeze): the graph plans its
                                       gradients */
} dlh_named_tensor;

/* A created layer with its declared tensors allocated (scratch for
   max_batch samples). */
typedef struct dlh_layer_inst {
    const dlh_layer_ops *ops;
    void *state;
    char *name;
    dlh_shape output;
    int n_params, n_buffers, n_scratch;
    dlh_named_tensor *params;
    dlh_named_tensor *buffers;
    dlh_tensor *scratch;
    int64_t *scratch_per_sample, *scratch_fixed;
    /* Arrays handed to ops in dlh_layer_ctx. */
    dlh_tensor *param_values, *param_grads, *buffer_values;
    int64_t max_batch;
    const dlh_backend *backend;
    int overwrites_grads;           /* its backward can write ctx->grads */
    int output_is_view;             /* output = its one input, reshaped */
    int is_relu;                    /* relu: may run inside its reader (graph.c) */
    int accepts_input_relu;         /* can run a relu folded into it */
    int accepts_output_relu;        /* can apply a relu that reads it */
    /* Its integer counters (layer.h add_counter), in host memory: names
       and values, [n_counters] each. */
    int n_counters;
    char **counter_names;
    int64_t *counters;
} dlh_layer_inst;

/* Creates layer component `type` named `name` over per-sample `inputs`,
   checks unused params, allocates its tensors for up to max_batch samples and
   initialises parameters (experiment `init` override given by init_override,
   NULL for none).  Errors are prefixed with "layer 'name': ". */
int dlh_layer_new(const dlh_backend *be, const char *type, const char *name,
                  dlh_params *params, int n_inputs, const dlh_shape *inputs,
                  int64_t max_batch, const dlh_init *init_override, uint64_t seed,
                  dlh_layer_inst **out);
/* dlh_layer_new with the experiment's initialisers (init.h): each of
   overrides[0..n_overrides) replaces the default of the tensor it names; one
   that names no tensor of the layer is DLH_ECONFIG listing the layer's
   tensors, located at its key. */
int dlh_layer_new_ex(const dlh_backend *be, const char *type, const char *name,
                     dlh_params *params, int n_inputs, const dlh_shape *inputs,
                     int64_t max_batch, const dlh_init_override *overrides, int n_overrides,
                     uint64_t seed, dlh_layer_inst **out);
void dlh_layer_free(dlh_layer_inst *l);
/* A ctx for forward/backward of `batch` samples (scratch views resized). */
void dlh_layer_ctx_fill(dlh_layer_inst *l, int64_t batch, int training, int64_t step,
                        uint64_t seed, dlh_layer_ctx *ctx, dlh_tensor *scratch_views);
/* Zeroes every parameter gradient. */
int dlh_layer_zero_grad(dlh_layer_inst *l);

typedef struct dlh_loss_inst {
    const dlh_loss_ops *ops;
    void *state;
    int n_scratch;
    dlh_tensor *scratch;
    int64_t *scratch_per_sample, *scratch_fixed;
    int64_t max_batch;
    const dlh_backend *backend;
} dlh_loss_inst;

int dlh_loss_new(const dlh_backend *be, const char *type, dlh_params *params,
                 const dlh_shape *prediction, int target_kind, int64_t n_classes,
                 int64_t max_batch, dlh_loss_inst **out);
/* As dlh_loss_new, with the per-sample shape of dense targets (NULL: the
   prediction's); one that differs from the prediction's is refused unless
   the loss sets DLH_LOSS_TARGET_SHAPE (ABI 1.5), whose create checks it. */
int dlh_loss_new_target(const dlh_backend *be, const char *type, dlh_params *params,
                        const dlh_shape *prediction, int target_kind,
                        const dlh_shape *target, int64_t n_classes, int64_t max_batch,
                        dlh_loss_inst **out);
void dlh_loss_free(dlh_loss_inst *l);
void dlh_loss_ctx_fill(dlh_loss_inst *l, int64_t batch, dlh_loss_ctx *ctx,
                       dlh_tensor *scratch_views);

/* At most this many scratch tensors per optimiser (ctx views live on the
   caller's stack). */
#define DLH_OPT_MAX_SCRATCH 8

typedef struct dlh_optimizer_inst {
    const dlh_optimizer_ops *ops;
    void *state;
    int n_states;
    char **state_names;
    float *state_values;            /* [n_states] each state's start value */
    int n_scalars;
    char **scalar_names;
    float *scalar_values;           /* [n_scalars] start values */
    int n_scratch;
    int64_t scratch_per_element[DLH_OPT_MAX_SCRATCH], scratch_fixed[DLH_OPT_MAX_SCRATCH];
    dlh_tensor scratch[DLH_OPT_MAX_SCRATCH];   /* after dlh_optimizer_scratch_alloc */
    double default_lr;              /* the plugin's, or 0 */
    const dlh_backend *backend;
    /* ABI 1.6: tensors of the whole optimiser (add_global), allocated by
       dlh_optimizer_bind, and the create's DLH_OPT_* flags. */
    int n_globals;
    struct dlh_opt_global {
        char *name;
        float value;
        int saved, ndim;
        int64_t shape[DLH_MAX_DIMS];        /* DLH_OPT_NUMEL until bound */
    } *global_decl;
    dlh_tensor *globals;            /* [n_globals] after dlh_optimizer_bind or
                                       dlh_optimizer_globals_alloc */
    uint32_t flags;
    /* For step_all, after dlh_optimizer_bind: the model's parameters and
       gradients in order (the caller fills them), and N, their element
       count together. */
    int n_bound;
    dlh_tensor *params, *grads;
    int64_t numel;
} dlh_optimizer_inst;

int dlh_optimizer_new(const dlh_backend *be, const char *type, dlh_params *params,
                      dlh_optimizer_inst **out);
void dlh_optimizer_free(dlh_optimizer_inst *o);
/* Allocates the state tensors (n_states of them) for a parameter, each
   filled with its start value. */
int dlh_optimizer_states_alloc(const dlh_optimizer_inst *o, const dlh_tensor *param,
                               dlh_tensor *states);
/* Writes the start values of the n_scalars scalar states into scalars. */
void dlh_optimizer_scalars_init(const dlh_optimizer_inst *o, float *scalars);
/* Allocates the scratch tensors for parameters of up to max_numel elements
   (freed by dlh_optimizer_free). */
int dlh_optimizer_scratch_alloc(dlh_optimizer_inst *o, int64_t max_numel);
/* Fills the ABI 1.5 part of ctx for a parameter of numel elements: lr_d,
   step, name, role, scalars and the scratch views (views: n_scratch
   entries, e.g. DLH_OPT_MAX_SCRATCH on the caller's stack). */
void dlh_optimizer_ctx_fill(const dlh_optimizer_inst *o, dlh_optimizer_ctx *ctx,
                            int64_t numel, double lr, int64_t step, const char *name,
                            int role, float *scalars, dlh_tensor *views);
/* ABI 1.6: readies o for a model of n_params parameter tensors with numel
   elements in all: allocates o->params and o->grads ([n_params], for the
   caller to fill in model order) and the global tensors at their start
   values (DLH_OPT_NUMEL becomes numel). */
int dlh_optimizer_bind(dlh_optimizer_inst *o, int n_params, int64_t numel);
/* The global tensors alone, as dlh_optimizer_bind allocates them (for an
   optimiser that declares globals but is not bound to every parameter). */
int dlh_optimizer_globals_alloc(dlh_optimizer_inst *o, int64_t numel);
/* Whether o, of component `type`, takes an experiment with n_groups
   parameter groups: DLH_ECONFIG with torch.optim.LBFGS's words ("lbfgs
   doesn't support per-parameter options (parameter groups)") when its
   create set DLH_OPT_SINGLE_GROUP and n_groups > 1, else 0.  The caller
   adds the location. */
int dlh_optimizer_check_groups(const dlh_optimizer_inst *o, const char *type, int n_groups);

/* The role the core gives a parameter tensor `name` ("weight") of `ndim`
   dimensions: DLH_ROLE_BIAS for "bias", DLH_ROLE_NORM for any other of at
   most one dimension, else DLH_ROLE_WEIGHT. */
int dlh_param_role_of(const char *name, int ndim);

#endif
