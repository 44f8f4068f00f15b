/* The "activations" plugin family: relu, leaky_relu, sigmoid, tanh, elu,
 * selu, celu, gelu, silu, mish, softplus, hardtanh, relu6, hardswish,
 * hardsigmoid, softsign (each a pair of fused elementwise kernels written as
 * PyTorch 1.13's CPU kernels compute, kinks included), softmax and
 * log_softmax (the backend's row primitive), and prelu (a learnable slope,
 * with the backend's row sums for its gradient).  One file per component; each
 * exports its ops struct for activations.c to register. */
#ifndef DLHOST_PLUGIN_ACTIVATIONS_H
#define DLHOST_PLUGIN_ACTIVATIONS_H

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *activations_host;

/* A pointwise activation made of two fused kernels with no parameters:
   forward `in x; out y;`, backward `in x, dy; out dx;` or, when
   bwd_from_output, `in y, dy; out dx;`.  relu, sigmoid and tanh are this
   with their own kernel text; create is the component's, the other slots
   are these. */
int pointwise_create(const dlh_host *host, dlh_layer_setup *setup, void **state,
                     const char *name, const char *fwd_src, const char *bwd_src,
                     int bwd_from_output);
int pointwise_forward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                      const dlh_tensor *output);
int pointwise_backward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                       const dlh_tensor *output, const dlh_tensor *d_output,
                       const dlh_tensor *d_inputs);
void pointwise_destroy(void *state);

/* The export of the pointwise layers: scalar i of pointwise_create_scalars,
   and a variant number a create may set (gelu's approximate) after
   pointwise_create succeeded. */
float pointwise_scalar(const void *state, int i);
void pointwise_set_variant(void *state, int variant);
int pointwise_variant(const void *state);
/* A float scalar constant; node op (unary when y is NULL) of x[, y] into
   out (NULL: a fresh value); the value's name, or NULL on failure. */
const char *act_onnx_scalar(dlh_onnx_builder *b, const char *hint, float v);
const char *act_onnx_op(dlh_onnx_builder *b, const char *op, const char *x, const char *y,
                        const char *out);

/* At most this many scalars for pointwise_create_scalars. */
#define POINTWISE_MAX_SCALARS 4

/* pointwise_create for kernels that declare scalars: both are run with
   scalars[0..n_scalars) (copied), in their `scalar` declaration order. */
int pointwise_create_scalars(const dlh_host *host, dlh_layer_setup *setup, void **state,
                             const char *name, const char *fwd_src, const char *bwd_src,
                             int bwd_from_output, const float *scalars, int n_scalars);

/* ew statements giving the local sp = log1p(exp(z)) for the name z, as
   torch's softplus and mish compute it: log1p(u) as log(w) u/(w - 1), w =
   1 + u (Goldberg's form: within a few ulp where log(1 + u) alone would lose
   a small u, e.g. 2e-9 at z = -20, which torch keeps), u itself when w
   rounds to 1, and z above 60, where log1p(exp(z)) is z in float (and
   u log(w) would overflow).  Uses the locals e and w too. */
#define ACT_LOG1P_EXP(z)                                                        \
    "e = exp(" z "); w = 1 + e;\n"                                             \
    "sp = select(" z " > 60, " z ", select(w == 1, e, log(w)*e/(w - 1)));\n"

/* hardtanh's kernels over [lo, hi] (hardtanh.c): relu6 is hardtanh(0, 6),
   as in PyTorch. */
int hardtanh_export(void *state, dlh_onnx_builder *b);   /* Clip, relu6's too */
int hardtanh_create_range(const dlh_host *host, dlh_layer_setup *setup, void **state,
                          const char *name, float lo, float hi);

extern const dlh_layer_ops relu_ops;
extern const dlh_layer_ops leaky_relu_ops;
extern const dlh_layer_ops sigmoid_ops;
extern const dlh_layer_ops tanh_ops;
extern const dlh_layer_ops elu_ops;
extern const dlh_layer_ops selu_ops;
extern const dlh_layer_ops celu_ops;
extern const dlh_layer_ops gelu_ops;
extern const dlh_layer_ops silu_ops;
extern const dlh_layer_ops mish_ops;
extern const dlh_layer_ops softplus_ops;
extern const dlh_layer_ops hardtanh_ops;
extern const dlh_layer_ops relu6_ops;
extern const dlh_layer_ops hardswish_ops;
extern const dlh_layer_ops hardsigmoid_ops;
extern const dlh_layer_ops softsign_ops;
extern const dlh_layer_ops softmax_ops;
extern const dlh_layer_ops log_softmax_ops;
extern const dlh_layer_ops prelu_ops;

/* Parameter tables (plugin.h), in each activation's file; the empty one
   the others share. */
extern const dlh_param_doc leaky_relu_params[];
extern const dlh_param_doc elu_params[];
extern const dlh_param_doc celu_params[];
extern const dlh_param_doc gelu_params[];
extern const dlh_param_doc softplus_params[];
extern const dlh_param_doc hardtanh_params[];
extern const dlh_param_doc activations_no_params[];
extern const dlh_param_doc prelu_params[];

#endif
