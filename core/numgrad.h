/* Gradient checks by central differences, for layers and losses.
 *
 * For a layer instance and its per-sample input shapes, gradcheck_layer draws
 * random inputs x and a random projection R, takes the scalar
 * L = sum(layer(x) * R), runs backward with d_output = R and compares every
 * d_input and parameter-gradient element with (L(v + eps) - L(v - eps)) / 2eps.
 * It also checks the backward contract: parameter gradients are accumulated
 * (they start from random values that are subtracted again) and d_inputs are
 * overwritten (they start from garbage).
 *
 * The error of one element is |analytic - numeric| / max(|analytic|,
 * |numeric|, 1e-2 * the largest |analytic| of that tensor), so a gradient that
 * is near zero by chance does not dominate.  With float32 and eps = 1e-2, a
 * correct dense or relu gradient stays below 1e-3; a factor of 2 gives 0.5
 * and a missing transpose 1 or more (test_gradcheck runs a deliberately broken
 * layer to show that both fail GC_TOL). */
#ifndef DLHOST_CORE_NUMGRAD_H
#define DLHOST_CORE_NUMGRAD_H

#include <stdint.h>

#include "instance.h"
#include "params.h"

#define GC_TOL 1e-2

typedef struct gc_options {
    double eps;                 /* central-difference step; 0 = 1e-2 */
    double lo, hi;              /* inputs: |x| uniform in [lo, hi], random sign;
                                   0, 0 = [0, 1] (keep lo > eps across kinks) */
    uint64_t seed;              /* for inputs, R and the starting gradients */
    int64_t max_per_tensor;     /* check at most this many elements of each
                                   tensor, spread over it; 0 = all */
    int refine;                 /* an element that disagrees is differenced
                                   again at eps/16 and the closer estimate
                                   kept: random inputs near a kink (two
                                   values of a max-pool window within eps)
                                   are not a wrong gradient, a wrong
                                   gradient disagrees at both steps */
    int eval;                   /* forward and backward with ctx->training 0
                                   (a frozen batchnorm: running statistics) */
} gc_options;

typedef struct gc_report {
    double err_input;           /* largest error over all d_inputs */
    double err_param;           /* largest error over all parameter gradients */
    double err;                 /* the larger of the two */
    int64_t n_checked;          /* elements compared */
    char worst[160];            /* where err occurred ("param 'weight'[3]: ...") */
} gc_report;

/* Checks layer `l` on `batch` samples of the per-sample `inputs` shapes:
   d_inputs and the parameter gradients it adds onto starting values, and,
   when the layer can write its gradients (setup->overwrites_grads), the
   gradients it writes over NaN with ctx->overwrite_grads set.
   Returns 0 (the errors are in rep) or a DLH_E* code from the layer or the
   backend (message in dlh_error_get()). */
int gradcheck_layer(dlh_layer_inst *l, int64_t batch, int n_inputs,
                    const dlh_shape *inputs, const gc_options *opt, gc_report *rep);

/* Checks a loss's d_prediction against central differences of its value,
   for random predictions and dense targets of `pred` shape per sample. */
int gradcheck_loss(dlh_loss_inst *l, int64_t batch, const dlh_shape *pred,
                   const gc_options *opt, gc_report *rep);

/* As gradcheck_loss, with given targets instead of random ones: `target` is
   the per-sample target shape (ndim 0: one class index per sample) and
   `targets` holds batch x its numel values (class indices as floats, or
   dense values such as probabilities in [0, 1]). */
int gradcheck_loss_targets(dlh_loss_inst *l, int64_t batch, const dlh_shape *pred,
                           const dlh_shape *target, const float *targets,
                           const gc_options *opt, gc_report *rep);

/* As gradcheck_loss_targets, with per-sample weights: ctx->sample_weights
   holds the batch values of `omega` (NULL: none). */
int gradcheck_loss_weighted(dlh_loss_inst *l, int64_t batch, const dlh_shape *pred,
                            const dlh_shape *target, const float *targets,
                            const float *omega, const gc_options *opt, gc_report *rep);

/* As gradcheck_loss_weighted, at the given predictions `preds` (batch x
   the prediction's numel) instead of random ones: for losses defined on
   part of the line only (probabilities, positive rates), and to keep
   clear of kinks. */
int gradcheck_loss_at(dlh_loss_inst *l, int64_t batch, const dlh_shape *pred,
                      const dlh_shape *target, const float *targets, const float *preds,
                      const float *omega, const gc_options *opt, gc_report *rep);

#endif
