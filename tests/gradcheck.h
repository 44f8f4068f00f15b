/* Helpers of the gradient tests (tests/gradcheck.c) over the checker of
 * core/numgrad.h. */
#ifndef DLHOST_TESTS_GRADCHECK_H
#define DLHOST_TESTS_GRADCHECK_H

#include "numgrad.h"

/* Parameters from the body of a group ("rate = 0.2;"), named `label` in
   their messages ("layer 'bn'"); p is NULL (and the reason printed) when the
   text does not parse. */
typedef struct tparams {
    dlh_config *cfg;
    dlh_params *p;
} tparams;
tparams tp_new(const char *body, const char *label);
void tp_free(tparams *t);
/* A per-sample shape of ndim dims. */
dlh_shape shape_of(int ndim, const int64_t *dims);

/* Layer `type` named "act" from the parameter body `body` over n_inputs
   copies of the per-sample shape (ndim, dims), for up to 64 samples, on be;
   0 or a DLH_E* code (message in dlh_error_get(), *out NULL). */
int gc_layer_make(const dlh_backend *be, const char *type, const char *body, int n_inputs,
                  int ndim, const int64_t *dims, dlh_layer_inst **out);
/* Forward of `batch` samples of host x into host y, then, when dy is not
   NULL, backward into host dx, with one ctx (training, step, seed); for a
   layer whose output shape is its input's.  ctx_out, when not NULL,
   receives that ctx (its seed and stream).  0 or a DLH_E* code. */
int gc_layer_fwd_bwd(const dlh_backend *be, dlh_layer_inst *l, int64_t batch, int training,
                 int64_t step, uint64_t seed, const float *x, float *y, const float *dy,
                 float *dx, dlh_layer_ctx *ctx_out);
/* gc_layer_fwd_bwd for any layer: the input has per-sample shape `in`, the
   output the layer's; the parameter gradients are zeroed first, so backward
   leaves this pass's in them. */
int gc_layer_run(const dlh_backend *be, dlh_layer_inst *l, const dlh_shape *in,
                 int64_t batch, int training, int64_t step, uint64_t seed, const float *x,
                 float *y, const float *dy, float *dx, dlh_layer_ctx *ctx_out);

#endif
