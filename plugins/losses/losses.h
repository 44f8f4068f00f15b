/* The "losses" plugin family: mse, cross_entropy, bce_with_logits (and, later,
 * l1, huber, ...). */
#ifndef DLHOST_PLUGIN_LOSSES_H
#define DLHOST_PLUGIN_LOSSES_H

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *losses_host;

/* The loss of `batch` samples of per_sample elements each from `elem`:
   `op` (DLH_REDUCE_SUM, or DLH_REDUCE_SUMSQ of differences) per sample into
   rows, each row times its sample weight when `omega` is not NULL (with
   `weigh`, compiled from LOSSES_WEIGH), then their sum into total (shorter
   float accumulations), read back; the mean over every element unless
   `sum`. */
int losses_total(const dlh_backend *be, dlh_reduce_op op, int64_t batch, int64_t per_sample,
                 dlh_mem elem, dlh_mem rows, dlh_mem total, const dlh_tensor *omega,
                 dlh_ew_kernel *weigh, int sum, float *loss);

/* Multiplies `batch` per-sample values by their weights: r = r*w, exact
   for w = 1. */
#define LOSSES_WEIGH "inout r; in w; r = r*w;"
int losses_weigh(dlh_ew_kernel *weigh, int64_t batch, dlh_mem rows,
                 const dlh_tensor *omega);

/* *omega = ctx->sample_weights, or NULL when it is NULL or the host's ctx
   predates the member (ABI 1.0-1.3).  DLH_ESHAPE, named with `who`, when
   it does not hold one weight per sample. */
int losses_sample_weights(const char *who, const dlh_loss_ctx *ctx,
                          const dlh_tensor **omega);

/* The sample-weight operand of an ew program over batch x per_sample
   elements: omega_n for every element of sample n, or the single 1.0f at
   `one` (a device float the loss keeps) for every element without
   weights, so one kernel serves both and multiplies by exactly 1. */
static inline dlh_ew_arg losses_omega_arg(const dlh_tensor *omega, dlh_mem one,
                                          size_t batch, size_t per_sample)
{
    dlh_ew_arg a = { one, 1, 1 };
    if (omega) {
        a.mem = omega->mem;
        a.len = batch;
        a.stride = per_sample;
    }
    return a;
}

/* Allocates a buffer of one float, 1.0f, on `be`. */
int losses_one_alloc(const dlh_backend *be, dlh_buffer **one);

extern const dlh_loss_ops mse_ops;
extern const dlh_loss_ops cross_entropy_ops;
extern const dlh_loss_ops bce_with_logits_ops;

#endif
