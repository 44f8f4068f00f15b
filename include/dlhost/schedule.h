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

/* ABI 1.7: what create_ex is told besides the parameters. */
typedef struct dlh_schedule_setup {
    uint32_t struct_size;
    dlh_params *params;
    const char *monitor;        /* the metric ctx->metric carries ("val_loss") */
    int32_t goal;               /* its direction: 1 higher is better, -1 lower */
} dlh_schedule_setup;

typedef struct dlh_schedule_ops {
    uint32_t struct_size;
    int (*create)(const dlh_host *host, dlh_params *params, void **state);  /* optional */
    /* The learning rate for the step described by ctx. */
    int (*lr)(void *state, const dlh_schedule_ctx *ctx, double *lr);
    void (*destroy)(void *state);   /* optional */
    /* ABI 1.7 members go below this line. */
    /* Used instead of create when set: a schedule that steps on the
       monitored metric learns which one it is and which way it improves. */
    int (*create_ex)(const dlh_host *host, const dlh_schedule_setup *setup, void **state);
} dlh_schedule_ops;

#endif
