/* The "activations" plugin family: relu, leaky_relu, sigmoid, tanh (each a
 * pair of fused elementwise kernels), softmax and log_softmax (the backend's
 * row primitive).  One file per component; each exports its ops struct for
 * activations.c to register. */
#ifndef DLHOST_PLUGIN_ACTIVATIONS_H
#define DLHOST_PLUGIN_ACTIVATIONS_H

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *activations_host;

extern const dlh_layer_ops relu_ops;
extern const dlh_layer_ops leaky_relu_ops;
extern const dlh_layer_ops sigmoid_ops;
extern const dlh_layer_ops tanh_ops;
extern const dlh_layer_ops softmax_ops;
extern const dlh_layer_ops log_softmax_ops;

#endif
