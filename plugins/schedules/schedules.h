/* The "schedules" plugin family: constant, step, multistep, exponential,
 * linear, cosine (with linear warmup) and reduce_on_plateau, each following
 * the torch.optim.lr_scheduler class of the same hyper-parameters. */
#ifndef DLHOST_PLUGIN_SCHEDULES_H
#define DLHOST_PLUGIN_SCHEDULES_H

#include <stddef.h>

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *schedules_host;

extern const dlh_schedule_ops constant_ops;
extern const dlh_param_doc constant_params[];
extern const dlh_schedule_ops step_ops;
extern const dlh_param_doc step_params[];
extern const dlh_schedule_ops multistep_ops;
extern const dlh_param_doc multistep_params[];
extern const dlh_schedule_ops exponential_ops;
extern const dlh_param_doc exponential_params[];
extern const dlh_schedule_ops linear_ops;
extern const dlh_param_doc linear_params[];
extern const dlh_schedule_ops cosine_ops;
extern const dlh_param_doc cosine_params[];
extern const dlh_schedule_ops reduce_on_plateau_ops;
extern const dlh_param_doc reduce_on_plateau_params[];

/* Shared by the schedules (schedules.c). */

/* A state that is a copy of the `size` bytes at `src` (one malloc, freed by
   schedules_state_free); sets *state, or a message and DLH_ENOMEM. */
int schedules_state_new(const dlh_host *host, const void *src, size_t size, void **state);
/* The destroy slot of every schedule whose state is one block. */
void schedules_state_free(void *state);
/* Reads float `key` (default *def, NULL: required) and refuses, with one
   message, a value outside (0, max] (max HUGE_VAL: no upper bound): the
   decay factors multiply the rate. */
int schedules_positive(const dlh_host *host, dlh_params *p, const char *key,
                       const double *def, double max, double *out);

#endif
