/* dlhost SDK — losses.
 *
 * A loss compares a batch of predictions with targets and returns the mean
 * over the batch; when asked, it also writes the gradient of that mean with
 * respect to the predictions.
 *
 * Per-sample weights (ABI 1.4), as Keras's sample_weight: a loss whose ops
 * set DLH_LOSS_SAMPLE_WEIGHTS reads ctx->sample_weights, omega_n for the
 * batch's samples n, and returns
 *
 *   "sum":   sum_n omega_n l_n
 *   "mean":  sum_n omega_n l_n / D
 *
 * where l_n is the sample's own (unreduced, PyTorch reduction='none') loss
 * and D is the denominator the loss uses without weights (the batch, the
 * number of elements, or for class-weighted cross_entropy the sum of the
 * targets' class weights): weights never change D, so omega = 1 everywhere
 * gives the unweighted result bit for bit, and omega_n = 0 drops sample n
 * (when l_n is finite: 0 * inf is NaN, as in Keras and torch).  The
 * gradient is that of the weighted value.  The host checks that every
 * omega_n is finite and >= 0 before it passes them; a loss without the flag
 * is never given weights.
 *
 * Target shapes (ABI 1.5): dense targets have the prediction's per-sample
 * shape, which the host checks, unless the loss sets DLH_LOSS_TARGET_SHAPE:
 * the host then hands it the data's shape in setup->target and create
 * accepts or refuses it (gaussian_nll takes targets of half the
 * prediction's size, the pair losses one label per sample). */
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
    /* ABI 1.5 members go below this line: read them only when struct_size
       covers them. */
    /* The per-sample shape of dense targets (DLH_TARGET_DENSE), else ndim 0.
       It differs from `prediction` only for a loss with
       DLH_LOSS_TARGET_SHAPE. */
    dlh_shape target;
};

typedef struct dlh_loss_ctx {
    uint32_t struct_size;
    const dlh_backend *backend;
    int64_t batch;
    const dlh_tensor *scratch;
    /* ABI 1.4 members go below this line. */
    /* [batch] f32 weights omega_n on ctx->backend, finite and >= 0, or NULL
       for all 1.  Set only for a loss with DLH_LOSS_SAMPLE_WEIGHTS; a loss
       reads it only when struct_size covers it (an older host's ctx does
       not: no weights). */
    const dlh_tensor *sample_weights;
} dlh_loss_ctx;

/* dlh_loss_ops.flags */
#define DLH_LOSS_SAMPLE_WEIGHTS 1u  /* forward honours ctx->sample_weights */
#define DLH_LOSS_TARGET_SHAPE 2u    /* ABI 1.5: create checks setup->target itself */

typedef struct dlh_loss_ops {
    uint32_t struct_size;
    int (*create)(const dlh_host *host, dlh_loss_setup *setup, void **state);
    /* *loss = the loss of the batch (its mean, or its sum, weighted by
       ctx->sample_weights when the flags say so); when d_prediction is not
       NULL it is overwritten with d(*loss)/d(prediction). */
    int (*forward)(void *state, const dlh_loss_ctx *ctx, const dlh_tensor *prediction,
                   const dlh_tensor *target, float *loss,
                   const dlh_tensor *d_prediction);
    void (*destroy)(void *state);   /* optional */
    /* ABI 1.4 members go below this line. */
    uint32_t flags;                 /* DLH_LOSS_*; 0 (older plugins) = none */
    /* ABI 1.7 members go below this line. */
    /* What the loss reads the model's output as (DLH_LOSS_OUTPUT_*), so
       that metrics see probabilities; 0 (older plugins): logits for class
       targets, plain values for dense ones. */
    int32_t output;
} dlh_loss_ops;

/* dlh_loss_ops.output */
#define DLH_LOSS_OUTPUT_LOGITS 1    /* softmax over a row; sigmoid of one output */
#define DLH_LOSS_OUTPUT_LOG_PROB 2  /* log-probabilities (nll, kl_div's input) */
#define DLH_LOSS_OUTPUT_PROB 3      /* probabilities (bce) */
#define DLH_LOSS_OUTPUT_VALUES 4    /* regression outputs */

#endif
