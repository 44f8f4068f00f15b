/* The "layers" plugin family: dense, conv2d, maxpool2d, avgpool2d, flatten,
 * reshape, add, concat, maxout and identity.  One file per component; each exports its ops
 * struct for layers.c to register.  layers.c also holds the small helpers the
 * spatial layers share. */
#ifndef DLHOST_PLUGIN_LAYERS_H
#define DLHOST_PLUGIN_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *layers_host;

/* flatten.c: forward and backward of a layer whose output is its input
   under another shape (flatten, reshape): one backend copy each way. */
int layers_view_forward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                        const dlh_tensor *output);
int layers_view_backward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                         const dlh_tensor *output, const dlh_tensor *d_output,
                         const dlh_tensor *d_inputs);

extern const dlh_layer_ops dense_ops;
extern const dlh_layer_ops conv2d_ops;
extern const dlh_layer_ops maxpool2d_ops;
extern const dlh_layer_ops avgpool2d_ops;
extern const dlh_layer_ops flatten_ops;
extern const dlh_layer_ops reshape_ops;
extern const dlh_layer_ops add_ops;
extern const dlh_layer_ops concat_ops;
extern const dlh_layer_ops maxout_ops;
extern const dlh_layer_ops identity_ops;

/* Parameter tables (plugin.h), one per layer, in its file; the entry the
   spatial layers share.  name, type, inputs and init are the core's. */
#define LAYERS_KERNEL_SIZE_DOC \
    { "kernel_size", DLH_PARAM_OTHER, NULL, 0, 0, NULL, \
      "window size: an integer in [1, 65536] or a list [h, w] of them" }
extern const dlh_param_doc dense_params[];
extern const dlh_param_doc conv2d_params[];
extern const dlh_param_doc maxpool2d_params[];
extern const dlh_param_doc avgpool2d_params[];
extern const dlh_param_doc reshape_params[];
extern const dlh_param_doc concat_params[];
extern const dlh_param_doc maxout_params[];
extern const dlh_param_doc layers_no_params[];

/* dense.c: y = x W^T + b over the flattened sample with nn.Linear's
   tensors "weight" [out, in] and "bias" [out] (when bias) and its default
   initialisation, for dense and maxout.  create declares them (and the
   bias's scratch) for the one input of setup, refusing more than INT_MAX
   input features in `name`'s words; forward writes y [batch, out];
   backward writes or adds the parameter gradients (ctx->overwrite_grads)
   and writes dx unless dx.buf is NULL.  destroy frees the kernels, not
   lin. */
typedef struct layers_linear {
    int in, out;
    int has_bias;
    int w_index, b_index;
    int colsum_index;           /* scratch: column sums of dy, [out] */
    dlh_ew_kernel *put_bias;    /* y = b broadcast over rows */
    dlh_ew_kernel *acc;         /* g += s */
    /* dense, where the backend has gemm_bias_act (ABI 1.10): the forward in
       one call, and a relu folded in (ctx->output_relu) */
    int bias_act;
    int dz_index;               /* scratch: relu's gradient of the product, [out] */
    dlh_ew_kernel *relu_bwd;    /* dz = select(y > 0, dy, 0) */
} layers_linear;
int layers_linear_create(const dlh_host *host, dlh_layer_setup *setup, const char *name,
                         int64_t out, int bias, layers_linear *lin);
int layers_linear_forward(const layers_linear *lin, const dlh_layer_ctx *ctx, dlh_mem x,
                          dlh_mem y);
int layers_linear_backward(const layers_linear *lin, const dlh_layer_ctx *ctx, dlh_mem x,
                           dlh_mem dy, dlh_mem dx);
/* The ONNX nodes of lin over the builder's first input into value y: a
   Flatten when the sample has several axes, then Gemm with transB. */
int layers_linear_export(const layers_linear *lin, dlh_onnx_builder *b, const char *y);
/* export_onnx of conv2d and conv_transpose2d: node op (Conv, ConvTranspose)
   from the layer's input, weight and bias (has_bias) to its output, with
   g's kernel_shape, strides and dilations, pads [4] and group. */
int layers_conv_export(dlh_onnx_builder *b, const char *op, const dlh_window2d *g,
                       const int64_t *pads, int groups, int has_bias);
void layers_linear_destroy(layers_linear *lin);

/* Reads `key` as one integer (used for both dimensions) or a list of two
   ([h, w]), each in [min, max], into out[0], out[1].  An absent key gives
   `def` for both, or is a "missing required parameter" error when def < 0.
   Errors are located at the key; returns 0 or DLH_ECONFIG. */
int layers_param_pair(dlh_params *p, const char *key, int64_t def, int64_t min,
                      int64_t max, int32_t out[2]);

/* The one [C, H, W] input of 2-D window layer `name` (conv2d, pools) and the
   window of kernel ks, stride, padding pad and dilation dil over it, into g
   (oh and ow left for the caller); *eh, *ew get the dilated window's extent.
   Errors through param_error (DLH_ECONFIG). */
int layers_window2d(const dlh_layer_setup *setup, const char *name, const int32_t ks[2],
                    const int32_t stride[2], const int32_t pad[2], const int32_t dil[2],
                    dlh_window2d *g, int64_t *eh, int64_t *ew);

/* Writes "[1, 28, 28]" into buf and returns buf. */
const char *layers_shape_str(const dlh_shape *s, char *buf, size_t size);

/* A dlh_mem that refers to nothing (the "no indices" argument). */
static inline dlh_mem layers_no_mem(void)
{
    dlh_mem m = { NULL, 0 };
    return m;
}

/* separable.c: y = Ah x Aw^T for every [H, W] plane x of a batch, the map
   adaptive_avgpool2d and upsample share (two gemms each way).  setup
   allocates the host copies ah [oh, H] and aw [ow, W] (zeroed, for the
   caller to fill in create) and declares two scratch tensors; forward writes
   y [N, C, oh, ow] and backward overwrites dx [N, C, H, W]. */
typedef struct layers_sep2d {
    int c, h, w, oh, ow;
    float *ah, *aw;             /* aw points into ah's allocation */
    int mat_index, tmp_index;   /* scratch: the matrices, the [C H, ow] middle */
    const dlh_buffer *written;  /* where the matrices were last written */
    size_t written_off;
    const dlh_backend *written_be;
    int ident_h, ident_w;       /* Ah or Aw is the identity: its gemm is skipped */
} layers_sep2d;

int layers_sep2d_setup(dlh_layer_setup *setup, const char *name, layers_sep2d *s,
                       int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow);
int layers_sep2d_forward(layers_sep2d *s, const dlh_layer_ctx *ctx, dlh_mem x, dlh_mem y);
int layers_sep2d_backward(layers_sep2d *s, const dlh_layer_ctx *ctx, dlh_mem dy,
                          dlh_mem dx);
void layers_sep2d_free(layers_sep2d *s);

extern const dlh_layer_ops adaptive_avgpool2d_ops;
extern const dlh_layer_ops global_avgpool_ops;
extern const dlh_layer_ops upsample_ops;
extern const dlh_param_doc adaptive_avgpool2d_params[];
extern const dlh_param_doc upsample_params[];
/* conv2d.c, shared with conv_transpose2d.c: the gemms of a grouped
   convolution.  For each of `batch` samples and each group g:
   C[n][g] = op(A[g]) B[n][g], with A[g] m x k (stored k x m when trans_a),
   row stride lda, groups (trans_a ? k : m) * lda elements apart and shared
   by the batch; B[n][g] k x n and C[n][g] m x n contiguous, groups one after
   the other within a sample (the NCHW channel blocks of a group).  C is
   overwritten. */
int layers_conv_gemm(const dlh_backend *be, int groups, int batch, int trans_a, int m, int n,
                     int k, dlh_mem a, int lda, dlh_mem b, dlh_mem c);

/* A weight gradient dW[g] += sum over samples of A[n][g] B[n][g]^T, with
   A[n][g] m x p, B[n][g] k x p and dW[g] m x k laid out as layers_conv_gemm's
   C, B and A.  plan declares the scratch (partials, ones) in create; run
   fills the ones (batch of them) and adds into dw. */
typedef struct layers_wgrad {
    int groups, m, k, p;
    int chunk;              /* samples per batched call; 0 = all, 1 = one gemm each */
    int part_index;         /* per-sample partials */
    int ones_index;         /* [N] ones, for sums over the batch */
} layers_wgrad;
int layers_wgrad_plan(dlh_layer_setup *setup, layers_wgrad *w, int groups, int m, int k,
                      int p);
int layers_wgrad_run(const layers_wgrad *w, const dlh_layer_ctx *ctx, int batch, dlh_mem a,
                     dlh_mem b, dlh_mem dw);

/* db[c] += the sum of dy [batch, c, plane] over the batch and the plane;
   rowsum is scratch of batch * c floats; after layers_wgrad_run (its ones). */
int layers_bias_grad(const layers_wgrad *w, const dlh_layer_ctx *ctx, int batch, int c,
                     int plane, dlh_mem dy, dlh_mem rowsum, dlh_mem db);

/* Reads `groups` (default 1) and checks it as nn.Conv2d does, with its
   words, against in_c and out_c; DLH_ECONFIG on a bad value. */
int layers_groups(dlh_params *p, int64_t in_c, int64_t out_c, int *groups);

extern const dlh_layer_ops conv_transpose2d_ops;
extern const dlh_param_doc conv_transpose2d_params[];
/* Table entries conv2d and conv_transpose2d share. */
#define LAYERS_OUT_CHANNELS_DOC \
    { "out_channels", DLH_PARAM_INT, NULL, 1, 1048576, NULL, "output channels" }
#define LAYERS_STRIDE_DOC \
    { "stride", DLH_PARAM_FLOATS, "1", 0, 0, NULL, \
      "an integer in [1, 65536] or a list [h, w] of them" }
#define LAYERS_DILATION_DOC \
    { "dilation", DLH_PARAM_FLOATS, "1", 0, 0, NULL, \
      "spacing of the kernel's taps: an integer in [1, 65536] or a list [h, w] of them" }
#define LAYERS_GROUPS_DOC \
    { "groups", DLH_PARAM_INT, "1", 1, 1048576, NULL, \
      "blocked connections: in and out channels split into this many groups, each " \
      "convolved with its own filters (groups = in channels: depthwise)" }
#define LAYERS_CONV_BIAS_DOC \
    { "bias", DLH_PARAM_BOOL, "true", 0, 0, NULL, "add a learned bias per output channel" }

#endif
