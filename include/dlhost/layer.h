/* dlhost SDK — layers.
 *
 * A layer reads its parameters and per-sample input shapes in create,
 * returns its per-sample output shape and declares its trainable tensors
 * (with a default initialiser) and scratch memory.  The core allocates all
 * memory once; forward and backward never allocate.  Tensors passed to
 * forward/backward carry the batch as shape[0]. */
#ifndef DLHOST_LAYER_H
#define DLHOST_LAYER_H

#include <stdint.h>

#include "backend.h"
#include "host.h"
#include "onnx.h"
#include "tensor.h"

typedef enum dlh_init_kind {
    DLH_INIT_ZEROS = 0,
    DLH_INIT_CONSTANT,        /* a */
    DLH_INIT_UNIFORM,         /* U(a, b) */
    DLH_INIT_NORMAL,          /* N(a, b^2): mean a, std b */
    DLH_INIT_XAVIER_UNIFORM,  /* gain a (0 = 1) */
    DLH_INIT_XAVIER_NORMAL,   /* gain a (0 = 1) */
    DLH_INIT_HE_UNIFORM,      /* kaiming_uniform_: fan_in, gain sqrt(2) */
    DLH_INIT_HE_NORMAL,       /* kaiming_normal_: fan_in, gain sqrt(2) */
    DLH_INIT_IDENTITY,        /* eye for 2-D, Dirac for conv weights */
    /* ABI 1.5 kinds go below this line. */
    DLH_INIT_ONES,
    DLH_INIT_EYE,             /* eye_: 2-D only */
    DLH_INIT_DIRAC,           /* dirac_: 3-5-D (groups 1; dlh_init_spec: any) */
    DLH_INIT_TRUNC_NORMAL,    /* mean a, std b, cut at [-2, 2] (torch's default) */
    DLH_INIT_ORTHOGONAL,      /* gain a (0 = 1) */
    DLH_INIT_SPARSE,          /* sparsity a, std b */
    DLH_INIT_KIND_COUNT
} dlh_init_kind;

/* An initialiser; fans come from the shape as PyTorch computes them
 * (fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field).
 * a and b mean what the kind's comment says; dlh_init_spec (ABI 1.5) carries
 * every parameter of torch.nn.init. */
typedef struct dlh_init {
    int32_t kind;       /* dlh_init_kind */
    float a, b;
} dlh_init;

/* ABI 1.5: an initialiser with all of torch.nn.init's parameters, for
 * add_param_spec / add_buffer_spec.  Start from dlh_init_spec_of(kind),
 * which sets torch's defaults, then change what differs.  Fields a kind does
 * not use are ignored.  The host copies struct_size bytes of it. */
typedef enum dlh_init_mode { DLH_INIT_FAN_IN = 0, DLH_INIT_FAN_OUT = 1 } dlh_init_mode;

typedef struct dlh_init_spec {
    uint32_t struct_size;       /* sizeof(dlh_init_spec) */
    int32_t kind;               /* dlh_init_kind */
    double a, b;                /* uniform: [a, b); trunc_normal: cut-offs */
    double mean, std;           /* normal, trunc_normal; sparse: std */
    double value;               /* constant */
    double gain;                /* xavier_*, kaiming_* (torch's calculate_gain of
                                   the nonlinearity), orthogonal */
    double sparsity;            /* sparse: fraction of each column set to 0 */
    int64_t groups;             /* dirac */
    int32_t mode;               /* kaiming_*: dlh_init_mode */
    int32_t reserved_;          /* 0 */
} dlh_init_spec;

/* torch.nn.init's defaults for `kind`: uniform a 0, b 1; normal and
   trunc_normal mean 0, std 1 (trunc_normal a -2, b 2); gains 1 (kaiming:
   sqrt(2), leaky_relu with slope 0, fan_in); sparse std 0.01 (sparsity has
   no default in torch: 0 here, set it); constant value 0; dirac groups 1. */
static inline dlh_init_spec dlh_init_spec_of(int32_t kind)
{
    dlh_init_spec s = { sizeof(dlh_init_spec), kind, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0,
                        1, DLH_INIT_FAN_IN, 0 };
    if (kind == DLH_INIT_TRUNC_NORMAL) {
        s.a = -2.0;
        s.b = 2.0;
    } else if (kind == DLH_INIT_SPARSE) {
        s.std = 0.01;
    } else if (kind == DLH_INIT_HE_UNIFORM || kind == DLH_INIT_HE_NORMAL) {
        s.gain = 1.4142135623730951;    /* math.sqrt(2.0 / (1 + 0 ** 2)) */
    }
    return s;
}

typedef struct dlh_layer_setup dlh_layer_setup;
struct dlh_layer_setup {
    uint32_t struct_size;
    const char *name;               /* the layer's name in the experiment */
    dlh_params *params;
    const dlh_backend *backend;
    int n_inputs;
    const dlh_shape *inputs;        /* [n_inputs] per-sample shapes */
    dlh_shape output;               /* set by create */
    /* Declares a trainable tensor `name` (PyTorch's: "weight", "bias") of
       `shape`; *index is its position in ctx->params and ctx->grads.
       The experiment may replace `def` for any tensor by name (`init`,
       `bias_init`; README "Initialisers"). */
    int (*add_param)(dlh_layer_setup *s, const char *name, const dlh_shape *shape,
                     dlh_init def, int *index);
    /* Declares a non-trainable tensor that is saved with the weights
       (batchnorm's running_mean); it appears in ctx->buffers. */
    int (*add_buffer)(dlh_layer_setup *s, const char *name, const dlh_shape *shape,
                      dlh_init def, int *index);
    /* Declares scratch memory of per_sample * batch + fixed floats, kept
       between forward and backward of one step; it appears in ctx->scratch. */
    int (*add_scratch)(dlh_layer_setup *s, int64_t per_sample, int64_t fixed,
                       int *index);
    void *host_ctx;                 /* the host's; do not touch */
    /* ABI 1.2 members go below this line. */
    /* Set by create to 1 when backward honours ctx->overwrite_grads: the
       core then skips zeroing the gradients before each backward. */
    int32_t overwrites_grads;
    /* ABI 1.3 members go below this line. */
    /* Set by create to 1 when the output is the first and only input's
       elements unchanged and in the same order (flatten, reshape).  The core
       may then hand the output the input's memory and skip forward, and hand
       the input's gradient the output gradient's memory and skip backward.
       forward and backward must still copy: the core calls them wherever it
       cannot share the memory. */
    int32_t output_is_view;
    /* ABI 1.5 members go below this line. */
    /* add_param and add_buffer with an initialiser that carries every
       parameter of torch.nn.init (def->struct_size bytes are read). */
    int (*add_param_spec)(dlh_layer_setup *s, const char *name, const dlh_shape *shape,
                          const dlh_init_spec *def, int *index);
    int (*add_buffer_spec)(dlh_layer_setup *s, const char *name, const dlh_shape *shape,
                           const dlh_init_spec *def, int *index);
    /* ABI 1.6 members go below this line. */
    /* Declares an integer counter `name`, PyTorch's int64 scalar buffers
       (batchnorm's num_batches_tracked).  It starts at 0 and lives in host
       memory, at ctx->counters[*index]: the layer reads and updates it in
       forward as plain int64 arithmetic (exact to 2^63, unlike a float32
       buffer, which stops counting at 2^24), with no device traffic.  The
       core saves it with the weights as a 0-d safetensors "I64" tensor
       "<layer>.<name>", the name and dtype of torch's state_dict, and loads
       it back exactly on --resume and `dlhost eval --weights`.  A
       checkpoint without it (written before the layer declared it) still
       loads: --resume sets it to the checkpoint's step count (one training
       forward per step, as every dlhost before ABI 1.6 ran), eval leaves it
       at 0 (torch's BatchNorm loads such a state_dict with 0).  Counters
       share the name space of params and buffers; the experiment cannot
       initialise them. */
    int (*add_counter)(dlh_layer_setup *s, const char *name, int *index);
    /* ABI 1.10 members go below this line. */
    /* Set by create to 1 when the layer is relu: one input, the output
       (x > 0 ? x : +0) element by element (a NaN gives +0) and the gradient
       dy where x > 0, else 0.  The core may then run it inside the layer
       that reads it (accepts_input_relu). */
    int32_t is_relu;
    /* Set by create to 1 when the layer can also run on the input of a relu
       folded into it: forward and backward then see ctx->input_relu = 1,
       inputs[0] is the relu's input x, and the layer computes f(relu(x)),
       and the gradient with respect to x, exactly (to the bit) as the two
       layers would.  The core folds a relu whose output only this layer
       reads, as its only input, and that no loss or metric names (maxpool2d
       takes it).  The input shape is the same either way. */
    int32_t accepts_input_relu;
    /* Set by create to 1 when the layer can also apply a relu that reads
       its output: forward and backward then see ctx->output_relu = 1, the
       layer writes relu(f(x)) to its output, is handed the gradient of
       that, and passes on the gradient with respect to x, exactly (to the
       bit) as the two layers would.  The core folds a relu that alone
       reads such a layer's output, where no loss or metric names that
       output (dense takes it). */
    int32_t accepts_output_relu;
};

typedef struct dlh_layer_ctx {
    uint32_t struct_size;
    const dlh_backend *backend;
    int64_t batch;
    int training;                   /* 1 in training, 0 in evaluation */
    int64_t step;                   /* global optimiser step, from 0 */
    uint64_t seed, stream;          /* this layer's Philox stream for this step */
    const dlh_tensor *params;       /* in add_param order */
    const dlh_tensor *grads;        /* same shapes; backward adds into them
                                       (or overwrites them, below) */
    const dlh_tensor *buffers;      /* in add_buffer order */
    const dlh_tensor *scratch;      /* in add_scratch order, sized for batch */
    /* ABI 1.2 members go below this line. */
    /* 1 only for a layer that set setup->overwrites_grads, when ctx->grads
       hold nothing of this step (not even zeros): backward then writes every
       element of them instead of adding. */
    int32_t overwrite_grads;
    /* ABI 1.6 members go below this line. */
    int64_t *counters;              /* in add_counter order (setup->add_counter) */
    /* ABI 1.10 members go below this line. */
    /* 1: a relu is folded into this layer (setup->accepts_input_relu):
       inputs[0] is the relu's input, d_inputs[0] its input's gradient. */
    int32_t input_relu;
    /* 1: a relu that reads this layer is folded into it
       (setup->accepts_output_relu): output is relu's, d_output its
       gradient. */
    int32_t output_relu;
} dlh_layer_ctx;

typedef struct dlh_layer_ops {
    uint32_t struct_size;
    /* Reads params and setup->inputs, sets setup->output, declares tensors.
       destroy is called even when create fails. */
    int (*create)(const dlh_host *host, dlh_layer_setup *setup, void **state);
    /* output = f(inputs). */
    int (*forward)(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                   const dlh_tensor *output);
    /* Given d_output, overwrites each d_inputs[i] whose mem.buf is not NULL and
       adds parameter gradients into ctx->grads (writes them when
       ctx->overwrite_grads is 1).  inputs and output hold the
       values of the last forward. */
    int (*backward)(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                    const dlh_tensor *output, const dlh_tensor *d_output,
                    const dlh_tensor *d_inputs);
    void (*destroy)(void *state);   /* optional: NULL when state needs no cleanup */
    /* ABI 1.8 members go below this line. */
    /* optional: adds the ONNX nodes of the layer in evaluation mode (onnx.h)
       after create; NULL: `dlhost export` refuses the model, naming the
       layer. */
    int (*export_onnx)(void *state, dlh_onnx_builder *b);
} dlh_layer_ops;

#endif
