/* The "optimizers" plugin family: sgd (and, later, adam, adamw, ...). */
#ifndef DLHOST_PLUGIN_OPTIMIZERS_H
#define DLHOST_PLUGIN_OPTIMIZERS_H

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *optimizers_host;

extern const dlh_optimizer_ops sgd_ops;

#endif
