/* dlhost SDK — losses.
 *
 * A loss compares a batch of predictions with targets and returns the mean
 * over the batch; when asked, it also writes the gradient of that mean with
 * respect to the predictions. */
#ifndef DLHOST_LOSS_H
#define DLHOST_LOSS_H

#include <stdint.h>

#include "backend.h"
#include "host.h"
#include "tensor.h"

typedef enum dlh_target_kind {
    DLH_TARGET_CLASS = 1,   /* one class index per sample, stored as float, shape [batch] */
    DLH_TARGET_DENSE = 2    /* same shape as the prediction */
} dlh_target_kind;

typedef struct dlh_loss_setup dlh_loss_setup;
struct dlh_loss_setup {
    uint32_t struct_size;
    dlh_params *params;
    const dlh_backend *backend;
    dlh_shape prediction;           /* per-sample */
    int32_t target_kind;            /* dlh_target_kind */
    int64_t n_classes;              /* for class targets, else 0 */
    /* As dlh_layer_setup.add_scratch. */
    int (*add_scratch)(dlh_loss_setup *s, int64_t per_sample, int64_t fixed,
                       int *index);
    void *host_ctx;
};

typedef struct dlh_loss_ctx {
    uint32_t struct_size;
    const dlh_backend *backend;
    int64_t batch;
    const dlh_tensor *scratch;
} dlh_loss_ctx;

typedef struct dlh_loss_ops {
    uint32_t struct_size;
    int (*create)(const dlh_host *host, dlh_loss_setup *setup, void **state);
    /* *loss = mean over the batch; when d_prediction is not NULL it is
       overwritten with d(*loss)/d(prediction). */
    int (*forward)(void *state, const dlh_loss_ctx *ctx, const dlh_tensor *prediction,
                   const dlh_tensor *target, float *loss,
                   const dlh_tensor *d_prediction);
    void (*destroy)(void *state);   /* optional */
} dlh_loss_ops;

#endif
