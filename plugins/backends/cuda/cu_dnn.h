/* cuDNN's legacy convolution API as the cuda backend loads it (cu_dnn.c),
 * and the conv2d primitives made of it (cu_conv.c).  Values of cudnn.h
 * (cuDNN 9) declared here so nothing needs that header to build. */
#ifndef DLHOST_CU_DNN_H
#define DLHOST_CU_DNN_H

#include "cuda_backend.h"

enum {
    CU_DNN_TENSOR_NCHW = 0,             /* cudnnTensorFormat_t */
    CU_DNN_DATA_FLOAT = 0,              /* cudnnDataType_t */
    CU_DNN_CROSS_CORRELATION = 1,       /* cudnnConvolutionMode_t */
    CU_DNN_FMA_MATH = 3,                /* cudnnMathType_t: no tensor cores, no TF32 */
    CU_DNN_DETERMINISTIC = 1,           /* cudnnDeterminism_t */
    CU_DNN_ALGO_MAX = 10                /* more than any *_ALGO_COUNT of cuDNN 9 */
};

/* cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t: one layout for all three. */
typedef struct cu_dnn_perf {
    int algo;
    int status;
    float time;
    size_t memory;                      /* workspace bytes */
    int determinism;
    int math_type;
    int reserved[3];
} cu_dnn_perf;

struct cu_dnn {
    void *lib;
    void *handle;
    char path[700];
    long version;
    /* One workspace for every plan (they run one after another on the one
       stream): grown at prepare to the most a plan needs, from the pool. */
    dlh_buffer *ws;
    size_t ws_bytes;
    size_t (*get_version)(void);
    const char *(*error_string)(int status);
    int (*create)(void **handle);
    int (*destroy)(void *handle);
    int (*set_stream)(void *handle, void *stream);
    int (*tensor_create)(void **desc);
    int (*tensor_set)(void *desc, int format, int type, int n, int c, int h, int w);
    int (*tensor_destroy)(void *desc);
    int (*filter_create)(void **desc);
    int (*filter_set)(void *desc, int type, int format, int k, int c, int h, int w);
    int (*filter_destroy)(void *desc);
    int (*conv_create)(void **desc);
    int (*conv_set)(void *desc, int pad_h, int pad_w, int u, int v, int dil_h, int dil_w,
                    int mode, int type);
    int (*conv_groups)(void *desc, int groups);
    int (*conv_math)(void *desc, int math);
    int (*conv_destroy)(void *desc);
    int (*fwd_algos)(void *h, void *x, void *w, void *conv, void *y, int want, int *got,
                     cu_dnn_perf *perf);
    int (*bwd_data_algos)(void *h, void *w, void *dy, void *conv, void *dx, int want,
                          int *got, cu_dnn_perf *perf);
    int (*bwd_filter_algos)(void *h, void *x, void *dy, void *conv, void *dw, int want,
                            int *got, cu_dnn_perf *perf);
    int (*fwd_ws)(void *h, void *x, void *w, void *conv, void *y, int algo, size_t *bytes);
    int (*bwd_data_ws)(void *h, void *w, void *dy, void *conv, void *dx, int algo,
                       size_t *bytes);
    int (*bwd_filter_ws)(void *h, void *x, void *dy, void *conv, void *dw, int algo,
                         size_t *bytes);
    int (*forward)(void *h, const float *alpha, void *xd, const void *x, void *wd,
                   const void *w, void *conv, int algo, void *ws, size_t ws_bytes,
                   const float *beta, void *yd, void *y);
    int (*backward_data)(void *h, const float *alpha, void *wd, const void *w, void *dyd,
                         const void *dy, void *conv, int algo, void *ws, size_t ws_bytes,
                         const float *beta, void *dxd, void *dx);
    int (*backward_filter)(void *h, const float *alpha, void *xd, const void *x, void *dyd,
                           const void *dy, void *conv, int algo, void *ws, size_t ws_bytes,
                           const float *beta, void *dwd, void *dw);
    int (*backward_bias)(void *h, const float *alpha, void *dyd, const void *dy,
                         const float *beta, void *dbd, void *db);
    int (*add_tensor)(void *h, const float *alpha, void *ad, const void *a,
                      const float *beta, void *cd, void *c);
};

/* The instance's cuDNN, opened (and its handle made on the instance's
   stream) at the first call; NULL when there is none, said once as a
   warning with the reason. */
cu_dnn *cu_dnn_get(cu_ctx *c);
/* "cuda: CALL: CUDNN_STATUS_X (n): cuDNN's text DETAIL"; DLH_ENOMEM for the
   allocation failures, else DLH_EDEVICE. */
int cu_dnn_fail(const cu_dnn *dn, const char *call, int status, const char *detail);

#endif
