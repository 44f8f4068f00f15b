/* The "normalization" plugin family: batchnorm, layernorm, groupnorm and
 * instancenorm2d.  One file per component; each exports its ops struct and
 * parameter table for normalization.c to register.  normalization.c also
 * holds what layernorm, groupnorm and instancenorm2d share: normalisation
 * over the rows of the input viewed as [R, M] (the norm_rows_* helpers). */
#ifndef DLHOST_PLUGIN_NORMALIZATION_H
#define DLHOST_PLUGIN_NORMALIZATION_H

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *normalization_host;

extern const dlh_layer_ops batchnorm_ops, layernorm_ops, groupnorm_ops, instancenorm2d_ops;
/* plugin.h */
extern const dlh_param_doc batchnorm_params[], layernorm_params[], groupnorm_params[],
    instancenorm2d_params[];

/* Writes the input shape of `batch` samples ("[N, 3, 5]" for batch < 0). */
const char *norm_shape_str(const dlh_shape *s, int64_t batch, char *buf, size_t size);

/* Reads `eps` (default 1e-5) and checks it as torch's layers need it:
   finite and > 0 (0 divides by zero for a constant row). */
int norm_read_eps(const dlh_host *host, dlh_params *p, float *eps);

/* The learnable affine of a normalisation layer, of `shape`, initialised as
   torch's: "weight" ones and "bias" zeros into *w_index and *b_index;
   nothing when affine is 0. */
int norm_affine_params(dlh_layer_setup *setup, int affine, const dlh_shape *shape,
                       int *w_index, int *b_index);

/* Normalisation over rows.  Each sample is `rows` rows of `m` values
   (R = batch * rows rows in all); training takes each row's mean and biased
   variance, y = (x - mean) * rsqrt(var + eps) (* weight + bias).  The
   affine weight and bias (length P) apply to element i as index
   (i / s) % P: layernorm P = prod(normalized_shape), s = 1; groupnorm and
   instancenorm2d P = C, s = H*W.  Mean and invstd may instead come from
   elsewhere (instancenorm2d's running statistics in evaluation): the
   helpers take them as operands. */
typedef struct norm_rows {
    const char *layer;          /* the layer's type, for messages */
    int64_t rows, m;            /* rows per sample, values per row */
    int64_t p, s;               /* affine operand: length, inner stride */
    int64_t numel;              /* per sample: rows * m */
    int affine;
    float eps;
    int w_index, b_index;       /* params, when affine (set by the layer) */
    int sum_index, sq_index;    /* scratch [R]: sums (backward: a, c) */
    int mean_index, invstd_index;   /* scratch [R] */
    int psum_index;             /* scratch [N * numel / s] (s > 1) */
    int pacc_index;             /* fixed [2P]: sum dy*xh, sum dy */
    dlh_ew_kernel *center;      /* y = x - s*inv */
    dlh_ew_kernel *stats;       /* mean, invstd from sum, sq */
    dlh_ew_kernel *norm;        /* y = (x - mean)*invstd (*w + b) */
    dlh_ew_kernel *prod;        /* t = dy*xh */
    dlh_ew_kernel *gprod;       /* t = dy*w (affine) */
    dlh_ew_kernel *gxprod;      /* t = dy*w*xh (affine) */
    dlh_ew_kernel *acc;         /* gw += sdx, gb += sdy (affine) */
    dlh_ew_kernel *dx;          /* batch statistics */
    dlh_ew_kernel *dxc;         /* constant statistics */
} norm_rows;

/* Declares the scratch and compiles the kernels of r, whose rows, m, p, s,
   affine, eps and (when affine) w_index, b_index the layer has set. */
int norm_rows_setup(const dlh_host *host, dlh_layer_setup *setup, norm_rows *r);
void norm_rows_free(norm_rows *r);
/* forward, backward and destroy of a layer whose state starts with its
   norm_rows and normalises with the batch's statistics in training and
   evaluation alike (layernorm, groupnorm); the state is freed with free(). */
int norm_rows_layer_forward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                            const dlh_tensor *output);
int norm_rows_layer_backward(void *state, const dlh_layer_ctx *ctx,
                             const dlh_tensor *inputs, const dlh_tensor *output,
                             const dlh_tensor *d_output, const dlh_tensor *d_inputs);
void norm_rows_layer_destroy(void *state);
/* export_onnx: a constant [c] of c copies of v (an absent weight or bias). */
const char *norm_onnx_fill(dlh_onnx_builder *b, const char *hint, int64_t c, float v);
/* export_onnx: the [c] weight and bias of an affine layer, else ones and
   zeros, in in[0] and in[1]; DLH_ENOMEM when one is missing. */
int norm_onnx_affine(dlh_onnx_builder *b, int affine, int64_t c, const char **in);
/* The batch as an int for reduce and gemm, or an error naming `layer`. */
int norm_rows_batch(const norm_rows *r, const dlh_layer_ctx *ctx, const char *layer,
                    int *n);
/* Scratch k (sum_index, mean_index, ...) of this step. */
dlh_mem norm_rows_scratch(const dlh_layer_ctx *ctx, int k);
/* A per-row operand over n samples: element i uses row i / M. */
dlh_ew_arg norm_rows_arg(const norm_rows *r, int n, dlh_mem m);
/* Training statistics of the batch's n samples of x: row means and invstd
   in scratch, and the sums of squares of x - mean (sq_index); y is used as
   the centred x. */
int norm_rows_stats(const norm_rows *r, const dlh_layer_ctx *ctx, int n, dlh_mem x,
                    dlh_mem y);
/* y = (x - mean)*invstd (* weight + bias) with the given operands. */
int norm_rows_normalize(const norm_rows *r, const dlh_layer_ctx *ctx, int n, dlh_mem x,
                        dlh_mem y, dlh_ew_arg mean, dlh_ew_arg invstd);
/* Backward: parameter gradients added (when affine), d_input (when its
   buf is not NULL) overwritten.  batch_stats: mean and invstd were the
   rows' own (training), so dx carries their gradient; else they were
   constants.  When there is no d_input the output is used as scratch and
   recomputed. */
int norm_rows_backward(const norm_rows *r, const dlh_layer_ctx *ctx, int n, dlh_mem x,
                       dlh_mem dy, dlh_mem out, dlh_mem dx, dlh_ew_arg mean,
                       dlh_ew_arg invstd, int batch_stats);

#endif
