/* The "losses" plugin family: mse, cross_entropy, bce_with_logits (and, later,
 * l1, huber, ...). */
#ifndef DLHOST_PLUGIN_LOSSES_H
#define DLHOST_PLUGIN_LOSSES_H

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *losses_host;

extern const dlh_loss_ops mse_ops;
extern const dlh_loss_ops cross_entropy_ops;
extern const dlh_loss_ops bce_with_logits_ops;

#endif
