/* dlhost SDK — learning-rate schedules. */
#ifndef DLHOST_SCHEDULE_H
#define DLHOST_SCHEDULE_H

#include <stdint.h>

#include "host.h"

typedef struct dlh_schedule_ctx {
    uint32_t struct_size;
    double base_lr;
    int64_t epoch;              /* from 0 */
    int64_t step;               /* global step, from 0 */
    int64_t steps_per_epoch;
    int64_t epochs;             /* planned epochs */
    double metric;              /* the monitored metric of the last epoch, NaN if none */
} dlh_schedule_ctx;

typedef struct dlh_schedule_ops {
    uint32_t struct_size;
    int (*create)(const dlh_host *host, dlh_params *params, void **state);  /* optional */
    /* The learning rate for the step described by ctx. */
    int (*lr)(void *state, const dlh_schedule_ctx *ctx, double *lr);
    void (*destroy)(void *state);   /* optional */
} dlh_schedule_ops;

#endif
