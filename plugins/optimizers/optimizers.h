/* The "optimizers" plugin family: sgd, adam, rmsprop (and, later, adamw, ...). */
#ifndef DLHOST_PLUGIN_OPTIMIZERS_H
#define DLHOST_PLUGIN_OPTIMIZERS_H

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *optimizers_host;

extern const dlh_optimizer_ops sgd_ops;
extern const dlh_optimizer_ops adam_ops;
extern const dlh_optimizer_ops rmsprop_ops;

#endif
