/* The "regularization" plugin family: dropout (and, later, other layers that
 * act only in training).  One file per component; each exports its ops
 * struct for regularization.c to register. */
#ifndef DLHOST_PLUGIN_REGULARIZATION_H
#define DLHOST_PLUGIN_REGULARIZATION_H

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *regularization_host;

extern const dlh_layer_ops dropout_ops;
extern const dlh_param_doc dropout_params[];  /* plugin.h */

#endif
