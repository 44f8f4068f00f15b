/* The "normalization" plugin family: batchnorm (and, later, other layers that
 * normalise activations by statistics).  One file per component; each exports
 * its ops struct for normalization.c to register. */
#ifndef DLHOST_PLUGIN_NORMALIZATION_H
#define DLHOST_PLUGIN_NORMALIZATION_H

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *normalization_host;

extern const dlh_layer_ops batchnorm_ops;
extern const dlh_param_doc batchnorm_params[];  /* plugin.h */

#endif
