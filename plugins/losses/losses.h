/* The "losses" plugin family: mse, cross_entropy, bce_with_logits (and, later,
 * l1, huber, ...). */
#ifndef DLHOST_PLUGIN_LOSSES_H
#define DLHOST_PLUGIN_LOSSES_H

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *losses_host;

/* The loss of `batch` samples of per_sample elements each from `elem`:
   `op` (DLH_REDUCE_SUM, or DLH_REDUCE_SUMSQ of differences) per sample into
   rows, then their sum into total (shorter float accumulations), read back;
   the mean over every element unless `sum`. */
int losses_total(const dlh_backend *be, dlh_reduce_op op, int64_t batch, int64_t per_sample,
                 dlh_mem elem, dlh_mem rows, dlh_mem total, int sum, float *loss);

extern const dlh_loss_ops mse_ops;
extern const dlh_loss_ops cross_entropy_ops;
extern const dlh_loss_ops bce_with_logits_ops;

#endif
