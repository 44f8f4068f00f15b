/* The "losses" plugin family: mse (and, later, l1, huber, cross_entropy, ...). */
#ifndef DLHOST_PLUGIN_LOSSES_H
#define DLHOST_PLUGIN_LOSSES_H

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *losses_host;

extern const dlh_loss_ops mse_ops;

#endif
