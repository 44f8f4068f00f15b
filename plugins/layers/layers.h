/* The "layers" plugin family: dense (and, later, conv2d, pooling, ...).
 * One file per component; each exports its ops struct for layers.c to
 * register. */
#ifndef DLHOST_PLUGIN_LAYERS_H
#define DLHOST_PLUGIN_LAYERS_H

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *layers_host;

extern const dlh_layer_ops dense_ops;

#endif
