/* Compiled (not run) by tests/test_cudnn_abi.sh against the toolkit's
 * cudnn.h: the cuda backend's own declarations of cuDNN (cu_dnn.h, which
 * it uses so that nothing needs cudnn.h to build) must be cuDNN's.  Each
 * entry point is called through a wrapper with cu_dnn.h's parameter types
 * (a count or a kind of argument that differs is a compile error with
 * -Werror), each wrapper is stored in the cu_dnn slot (the slot's type must
 * be the wrapper's), and the enum values and the perf struct's layout are
 * asserted. */
#include <stddef.h>

#include <cudnn.h>

#include "../plugins/backends/cuda/cu_dnn.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#pragma GCC diagnostic ignored "-Wenum-compare"

_Static_assert(CU_DNN_TENSOR_NCHW == CUDNN_TENSOR_NCHW, "NCHW");
_Static_assert(CU_DNN_DATA_FLOAT == CUDNN_DATA_FLOAT, "float");
_Static_assert(CU_DNN_CROSS_CORRELATION == CUDNN_CROSS_CORRELATION, "cross-correlation");
_Static_assert(CU_DNN_FMA_MATH == CUDNN_FMA_MATH, "FMA math");
_Static_assert(CU_DNN_DETERMINISTIC == CUDNN_DETERMINISTIC, "deterministic");
_Static_assert(CUDNN_TENSOR_OP_MATH == 1 && CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION == 2,
               "the tensor-core math types cu_conv.c skips");
_Static_assert(CU_DNN_ALGO_MAX >= CUDNN_CONVOLUTION_FWD_ALGO_COUNT &&
               CU_DNN_ALGO_MAX >= CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT &&
               CU_DNN_ALGO_MAX >= CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, "algo count");
#define SAME_LAYOUT(T)                                                                     \
    _Static_assert(sizeof(T) == sizeof(cu_dnn_perf) &&                                     \
                   offsetof(T, algo) == offsetof(cu_dnn_perf, algo) &&                     \
                   offsetof(T, status) == offsetof(cu_dnn_perf, status) &&                 \
                   offsetof(T, memory) == offsetof(cu_dnn_perf, memory) &&                 \
                   offsetof(T, determinism) == offsetof(cu_dnn_perf, determinism) &&       \
                   offsetof(T, mathType) == offsetof(cu_dnn_perf, math_type) &&            \
                   sizeof(((T *)0)->algo) == sizeof(int), #T)
SAME_LAYOUT(cudnnConvolutionFwdAlgoPerf_t);
SAME_LAYOUT(cudnnConvolutionBwdDataAlgoPerf_t);
SAME_LAYOUT(cudnnConvolutionBwdFilterAlgoPerf_t);
_Static_assert(sizeof(cudnnStatus_t) == sizeof(int) && sizeof(cudnnHandle_t) == sizeof(void *),
               "statuses are ints, handles pointers");

static size_t w_get_version(void) { return cudnnGetVersion(); }
static const char *w_error_string(int s) { return cudnnGetErrorString(s); }
static int w_create(void **h) { return cudnnCreate((cudnnHandle_t *)h); }
static int w_destroy(void *h) { return cudnnDestroy(h); }
static int w_set_stream(void *h, void *s) { return cudnnSetStream(h, s); }
static int w_tensor_create(void **d)
{
    return cudnnCreateTensorDescriptor((cudnnTensorDescriptor_t *)d);
}
static int w_tensor_set(void *d, int f, int t, int n, int c, int h, int w)
{
    return cudnnSetTensor4dDescriptor(d, f, t, n, c, h, w);
}
static int w_tensor_destroy(void *d) { return cudnnDestroyTensorDescriptor(d); }
static int w_filter_create(void **d)
{
    return cudnnCreateFilterDescriptor((cudnnFilterDescriptor_t *)d);
}
static int w_filter_set(void *d, int t, int f, int k, int c, int h, int w)
{
    return cudnnSetFilter4dDescriptor(d, t, f, k, c, h, w);
}
static int w_filter_destroy(void *d) { return cudnnDestroyFilterDescriptor(d); }
static int w_conv_create(void **d)
{
    return cudnnCreateConvolutionDescriptor((cudnnConvolutionDescriptor_t *)d);
}
static int w_conv_set(void *d, int ph, int pw, int u, int v, int dh, int dw, int mode, int type)
{
    return cudnnSetConvolution2dDescriptor(d, ph, pw, u, v, dh, dw, mode, type);
}
static int w_conv_groups(void *d, int g) { return cudnnSetConvolutionGroupCount(d, g); }
static int w_conv_math(void *d, int m) { return cudnnSetConvolutionMathType(d, m); }
static int w_conv_destroy(void *d) { return cudnnDestroyConvolutionDescriptor(d); }
static int w_fwd_algos(void *h, void *x, void *w, void *cv, void *y, int want, int *got,
                       cu_dnn_perf *p)
{
    return cudnnGetConvolutionForwardAlgorithm_v7(h, x, w, cv, y, want, got,
                                                  (cudnnConvolutionFwdAlgoPerf_t *)p);
}
static int w_bwd_data_algos(void *h, void *w, void *dy, void *cv, void *dx, int want, int *got,
                            cu_dnn_perf *p)
{
    return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, w, dy, cv, dx, want, got,
                                                       (cudnnConvolutionBwdDataAlgoPerf_t *)p);
}
static int w_bwd_filter_algos(void *h, void *x, void *dy, void *cv, void *dw, int want,
                              int *got, cu_dnn_perf *p)
{
    return cudnnGetConvolutionBackwardFilterAlgorithm_v7(
        h, x, dy, cv, dw, want, got, (cudnnConvolutionBwdFilterAlgoPerf_t *)p);
}
static int w_fwd_ws(void *h, void *x, void *w, void *cv, void *y, int a, size_t *b)
{
    return cudnnGetConvolutionForwardWorkspaceSize(h, x, w, cv, y, a, b);
}
static int w_bwd_data_ws(void *h, void *w, void *dy, void *cv, void *dx, int a, size_t *b)
{
    return cudnnGetConvolutionBackwardDataWorkspaceSize(h, w, dy, cv, dx, a, b);
}
static int w_bwd_filter_ws(void *h, void *x, void *dy, void *cv, void *dw, int a, size_t *b)
{
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, x, dy, cv, dw, a, b);
}
static int w_forward(void *h, const float *al, void *xd, const void *x, void *wd, const void *w,
                     void *cv, int a, void *ws, size_t wsb, const float *be, void *yd, void *y)
{
    return cudnnConvolutionForward(h, al, xd, x, wd, w, cv, a, ws, wsb, be, yd, y);
}
static int w_backward_data(void *h, const float *al, void *wd, const void *w, void *dyd,
                           const void *dy, void *cv, int a, void *ws, size_t wsb,
                           const float *be, void *dxd, void *dx)
{
    return cudnnConvolutionBackwardData(h, al, wd, w, dyd, dy, cv, a, ws, wsb, be, dxd, dx);
}
static int w_backward_filter(void *h, const float *al, void *xd, const void *x, void *dyd,
                             const void *dy, void *cv, int a, void *ws, size_t wsb,
                             const float *be, void *dwd, void *dw)
{
    return cudnnConvolutionBackwardFilter(h, al, xd, x, dyd, dy, cv, a, ws, wsb, be, dwd, dw);
}
static int w_backward_bias(void *h, const float *al, void *dyd, const void *dy, const float *be,
                           void *dbd, void *db)
{
    return cudnnConvolutionBackwardBias(h, al, dyd, dy, be, dbd, db);
}
static int w_add_tensor(void *h, const float *al, void *ad, const void *a, const float *be,
                        void *cd, void *c)
{
    return cudnnAddTensor(h, al, ad, a, be, cd, c);
}

int main(void)
{
    struct cu_dnn d = {
        .get_version = w_get_version, .error_string = w_error_string, .create = w_create,
        .destroy = w_destroy, .set_stream = w_set_stream, .tensor_create = w_tensor_create,
        .tensor_set = w_tensor_set, .tensor_destroy = w_tensor_destroy,
        .filter_create = w_filter_create, .filter_set = w_filter_set,
        .filter_destroy = w_filter_destroy, .conv_create = w_conv_create,
        .conv_set = w_conv_set, .conv_groups = w_conv_groups, .conv_math = w_conv_math,
        .conv_destroy = w_conv_destroy, .fwd_algos = w_fwd_algos,
        .bwd_data_algos = w_bwd_data_algos, .bwd_filter_algos = w_bwd_filter_algos,
        .fwd_ws = w_fwd_ws, .bwd_data_ws = w_bwd_data_ws, .bwd_filter_ws = w_bwd_filter_ws,
        .forward = w_forward, .backward_data = w_backward_data,
        .backward_filter = w_backward_filter, .backward_bias = w_backward_bias,
        .add_tensor = w_add_tensor,
    };
    return d.get_version == NULL;
}
