/* The "activations" plugin family: relu, leaky_relu, sigmoid, tanh (each a
 * pair of fused elementwise kernels), softmax and log_softmax (the backend's
 * row primitive).  One file per component; each exports its ops struct for
 * activations.c to register. */
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

extern const dlh_layer_ops relu_ops;
extern const dlh_layer_ops leaky_relu_ops;
extern const dlh_layer_ops sigmoid_ops;
extern const dlh_layer_ops tanh_ops;
extern const dlh_layer_ops softmax_ops;
extern const dlh_layer_ops log_softmax_ops;

#endif
