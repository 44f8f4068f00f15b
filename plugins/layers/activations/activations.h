/* The "activations" plugin family: relu (and, later, sigmoid, tanh, ...),
 * each a pair of fused elementwise kernels. */
#ifndef DLHOST_PLUGIN_ACTIVATIONS_H
#define DLHOST_PLUGIN_ACTIVATIONS_H

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *activations_host;

extern const dlh_layer_ops relu_ops;

#endif
