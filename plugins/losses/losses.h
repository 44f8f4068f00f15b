/* The "losses" plugin family: one file per loss (mse.c, cross_entropy.c,
 * l1.c, ...), the helpers they share in losses.c. */
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

/* Reductions a loss's `reduction` names; LOSSES_BATCHMEAN (kl_div) divides
   the sum by the batch. */
enum { LOSSES_MEAN = 0, LOSSES_SUM = 1, LOSSES_BATCHMEAN = 2 };

/* Reads `reduction`: "mean" (default) or "sum", and "batchmean" too when
   batchmean is set. */
int losses_reduction(const dlh_host *host, dlh_params *p, int batchmean, int *out);

/* Reads `key` (default `def`), any number that is finite as a float; the
   caller checks torch's range with torch's words. */
int losses_param_real(const dlh_host *host, dlh_params *p, const char *key, double def,
                      double *out);

/* Reads `key`, weights broadcast over a sample as torch broadcasts them
   against the prediction: one value, one per value of the last dimension,
   or one per value of a sample; each finite and >= 0.  *len = 0 when the
   key is absent; else *buf holds the *len values on `be` (the caller frees
   it). */
int losses_read_elem_weights(const dlh_host *host, dlh_params *p, const char *key,
                             const dlh_backend *be, const dlh_shape *pred, size_t *len,
                             dlh_buffer **buf);

/* Reads `key`, one value per class (`classes`), each finite and >= 0, into
   w (classes floats; all 1 when the key is absent); *given says whether
   it was. */
int losses_read_class_weights(const dlh_host *host, dlh_params *p, const char *key,
                              int64_t classes, float *w, int *given);

/* An elementwise loss: per element e = f(x, t) of the prediction x and a
 * dense target t of the prediction's shape, and its derivative g = de/dx,
 * written as ew statements over `x`, `t`, the loss's scalars and, when the
 * loss has element weights, `w`; a program that checks its input also sets
 * `b` to 1 on a bad element.  The helper runs them fused, with the sample
 * weights: l_n = sum_d e[n,d], the total sum_n omega_n l_n over N D (mean),
 * 1 (sum) or N (batchmean), and d x = k omega_n g with k the same 1/D'. */
typedef struct losses_ew {
    const dlh_backend *be;
    const char *who;            /* the loss's name, for messages */
    const char *bad_msg;        /* the error when some b is 1 (torch's wording) */
    int reduction;
    int class_ok;               /* class targets too, for one value per sample */
    int64_t per_sample;
    int n_scalars;
    float scalars[9];           /* the loss's, then k */
    size_t w_len;               /* element weights (0: none) */
    dlh_buffer *w;
    dlh_buffer *one;
    int elem_index;             /* scratch: e (then b) per element */
    int rows_index;             /* scratch: per-sample sums, then the totals */
    dlh_ew_kernel *fwd, *fwd_grad, *weigh;
} losses_ew;

/* Builds `le` for `setup` (dense targets of the prediction's shape): the
   scalars named in `scalar_names` ("beta, half", or "" for none) take
   `scalars`; `body` sets e (and b when bad_msg is not NULL) and `grad` sets
   g.  le->reduction, le->w_len and le->w must be set before. */
/* Allocates a losses_ew into *state (for the ops' destroy) and reads its
   `reduction` ("batchmean" allowed when batchmean is set). */
int losses_ew_new(const dlh_host *host, dlh_loss_setup *setup, int batchmean,
                  void **state, losses_ew **out);
/* (le->class_ok: class-index targets are taken too, as the dense target of
   a prediction of one value per sample.) */
int losses_ew_create(const dlh_host *host, dlh_loss_setup *setup, losses_ew *le,
                     const char *who, const char *scalar_names, const float *scalars,
                     int n_scalars, const char *body, const char *grad,
                     const char *bad_msg);
int losses_ew_forward(const losses_ew *le, const dlh_loss_ctx *ctx,
                      const dlh_tensor *prediction, const dlh_tensor *target, float *loss,
                      const dlh_tensor *d_prediction);
void losses_ew_destroy(losses_ew *le);
/* A dlh_loss_ops.forward and .destroy for a state that is a losses_ew. */
int losses_ew_forward_ops(void *state, const dlh_loss_ctx *ctx,
                          const dlh_tensor *prediction, const dlh_tensor *target,
                          float *loss, const dlh_tensor *d_prediction);
void losses_ew_destroy_ops(void *state);

/* Class-index targets (DLH_TARGET_CLASS) over per-sample [C] predictions:
   the classes and, on the device, their indices 0..C-1, then C class
   weights (all 1 without), then 1.0f (the sample weight without weights). */
typedef struct losses_cls {
    int64_t classes;
    int weighted;               /* class weights given */
    dlh_buffer *consts;
} losses_cls;

/* Checks that the setup has class targets and a prediction of shape [C]
   (C = setup's classes), reads the class weights under `weights_key`
   (NULL: none) and uploads the constants. */
int losses_cls_create(const dlh_host *host, dlh_loss_setup *setup, const char *weights_key,
                      losses_cls *lc);
void losses_cls_destroy(const dlh_backend *be, losses_cls *lc);
/* The ew operands of the class indices, the class weights (both of length C)
   and the 1.0f. */
dlh_ew_arg losses_cls_index(const losses_cls *lc);
dlh_ew_arg losses_cls_weight(const losses_cls *lc);
dlh_mem losses_cls_one(const losses_cls *lc);
/* Called when a batch's one-hot rows do not add up: finds the first target
   that is neither a class index in [0, C) nor `ignore` (NaN: no
   ignore_index) and reports it in torch's words ("Target 5 is out of
   bounds."), with the sample; DLH_EINVAL. */
int losses_bad_class(const char *who, const dlh_backend *be, const dlh_tensor *target,
                     int64_t batch, int64_t classes, float ignore);

/* A prediction whose per-sample values, flattened, are `parts` equal parts
   of `d` values each (gaussian_nll: mean and variance; margin_ranking:
   x1 and x2).  split copies a batch [N, parts*d] into parts-major
   [parts][N][d] (each part contiguous, for ew programs); merge copies such
   parts (gradients) back into [N, parts*d].  Both are one gemm_batched with
   an identity of parts x parts. */
typedef struct losses_parts {
    int parts;
    int64_t d;
    dlh_buffer *eye;
} losses_parts;
int losses_parts_create(const dlh_host *host, dlh_loss_setup *setup, int parts,
                        losses_parts *lp);
void losses_parts_destroy(const dlh_backend *be, losses_parts *lp);
int losses_parts_split(const dlh_backend *be, const losses_parts *lp, int64_t batch,
                       dlh_mem src, dlh_mem dst);
int losses_parts_merge(const dlh_backend *be, const losses_parts *lp, int64_t batch,
                       dlh_mem src, dlh_mem dst);

/* A loss per element of the two halves of a prediction (losses_parts of 2:
 * gaussian_nll's mu and v, margin_ranking's x1 and x2) and a target: `fwd`
 * is an ew program "in X1, X2, t; out e, b; scalar S...;" setting the loss
 * e and b = 1 on a bad element; `fwd_grad` the same with "om" after t, the
 * two halves' gradients after b (each times k om) and the scalar k last.
 * The helper runs them with the sample weights: the total sum_n omega_n l_n
 * over N D (mean) or 1 (sum), and bad_msg when some b is 1. */
typedef struct losses_halves {
    const dlh_backend *be;
    const char *who;            /* the loss's name, for messages */
    const char *bad_msg;        /* the error when some b is 1 (torch's wording) */
    int sum;
    int n_scalars;
    float scalars[4];           /* the loss's; k is put after them */
    losses_parts parts;
    dlh_buffer *one;
    int split_index, elem_index, grad_index, rows_index;
    dlh_ew_kernel *fwd, *fwd_grad, *weigh;
} losses_halves;
/* Sets lh->be and splits the prediction in halves (lh->parts.d values
   each): the loss checks its target against d, then compiles. */
int losses_halves_create(const dlh_host *host, dlh_loss_setup *setup, losses_halves *lh);
/* Takes the scratch and compiles fwd and fwd_grad. */
int losses_halves_compile(const dlh_host *host, dlh_loss_setup *setup, losses_halves *lh,
                          const char *fwd, const char *fwd_grad);
/* The loss of a batch whose prediction and d_prediction the caller checked
   (2 N d values); `target` is t's ew operand over N d elements. */
int losses_halves_forward(const losses_halves *lh, const dlh_loss_ctx *ctx,
                          const dlh_tensor *prediction, dlh_ew_arg target, float *loss,
                          const dlh_tensor *d_prediction);
/* Frees what create and compile made (not lh). */
void losses_halves_destroy(losses_halves *lh);

extern const dlh_loss_ops mse_ops;
extern const dlh_loss_ops cross_entropy_ops;
extern const dlh_loss_ops bce_with_logits_ops;
extern const dlh_loss_ops l1_ops;
extern const dlh_loss_ops smooth_l1_ops;
extern const dlh_loss_ops huber_ops;
extern const dlh_loss_ops bce_ops;
extern const dlh_loss_ops poisson_nll_ops;
extern const dlh_loss_ops hinge_embedding_ops;
extern const dlh_loss_ops kl_div_ops;
extern const dlh_loss_ops nll_ops;
extern const dlh_loss_ops multi_margin_ops;
extern const dlh_loss_ops focal_ops;
extern const dlh_loss_ops gaussian_nll_ops;
extern const dlh_loss_ops margin_ranking_ops;
extern const dlh_loss_ops cosine_embedding_ops;
extern const dlh_loss_ops triplet_margin_ops;
extern const dlh_loss_ops dice_ops;

/* Parameter tables (plugin.h), one per loss, in its file; the
   `reduction` entry they share (losses_reduction's choices). */
#define LOSSES_REDUCTION_DOC \
    { "reduction", DLH_PARAM_CHOICE, "mean", 0, 0, "mean|sum", \
      "the batch's loss: the mean (the divisor is the loss's own) or the sum" }
#define LOSSES_REDUCTION_BATCHMEAN_DOC \
    { "reduction", DLH_PARAM_CHOICE, "mean", 0, 0, "mean|sum|batchmean", \
      "the mean over elements, the sum, or the sum over the batch size" }
extern const dlh_param_doc mse_params[];
extern const dlh_param_doc cross_entropy_params[];
extern const dlh_param_doc bce_with_logits_params[];
extern const dlh_param_doc l1_params[];
extern const dlh_param_doc smooth_l1_params[];
extern const dlh_param_doc huber_params[];
extern const dlh_param_doc bce_params[];
extern const dlh_param_doc poisson_nll_params[];
extern const dlh_param_doc hinge_embedding_params[];
extern const dlh_param_doc kl_div_params[];
extern const dlh_param_doc nll_params[];
extern const dlh_param_doc multi_margin_params[];
extern const dlh_param_doc focal_params[];
extern const dlh_param_doc gaussian_nll_params[];
extern const dlh_param_doc margin_ranking_params[];
extern const dlh_param_doc cosine_embedding_params[];
extern const dlh_param_doc triplet_margin_params[];
extern const dlh_param_doc dice_params[];

#endif
