/* cuDNN loaded with dlopen for the conv2d primitives (cu_conv.c), as cuBLAS
 * is (cu_blas.c): $DLHOST_CUDNN when set (a path; the tests give a fake),
 * else libcudnn.so.9 from the toolkit folder's lib64/ then lib/
 * ($DLHOST_CUDA_DIR, else configure's --with-cuda), else from the loader's
 * path.  The entry points of cuDNN 9's legacy convolution API are declared
 * here (its ABI: handles and descriptors are pointers, statuses and enums
 * ints), so nothing needs cudnn.h.
 *
 * Opened at the first conv2d_prepare, not at create: cudnnCreate loads
 * cuDNN's sub-libraries (hundreds of MB), which a model without
 * convolutions never needs.  A missing or broken cuDNN is no error: the
 * instance says why once (a warning) and conv2d_prepare answers
 * DLH_EUNSUPPORTED from then on, so the layers use im2col + gemm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu_dnn.h"

/* cudnnStatus_t names of cudnn_graph.h (cuDNN 9: category * 1000 + detail) */
static const char *status_name(int s)
{
    switch (s) {
    case 1001: return "CUDNN_STATUS_NOT_INITIALIZED";
    case 1002: return "CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH";
    case 1008: return "CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED";
    case 2000: return "CUDNN_STATUS_BAD_PARAM";
    case 2001: return "CUDNN_STATUS_INVALID_VALUE";
    case 3000: return "CUDNN_STATUS_NOT_SUPPORTED";
    case 3007: return "CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH";
    case 4000: return "CUDNN_STATUS_INTERNAL_ERROR";
    case 4003: return "CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED";
    case 4004: return "CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED";
    case 5000: return "CUDNN_STATUS_EXECUTION_FAILED";
    default: return "cudnnStatus_t";
    }
}

int cu_dnn_fail(const cu_dnn *dn, const char *call, int s, const char *detail)
{
    const char *name = status_name(s);
    /* cuDNN's own name for a code the table above lacks */
    if (strcmp(name, "cudnnStatus_t") == 0 && dn != NULL && dn->error_string != NULL &&
        dn->error_string(s) != NULL)
        name = dn->error_string(s);
    cu_host->error("cuda: %s: %s (%d)%s%s", call, name, s, *detail ? " " : "", detail);
    return s / 1000 == 4 && s % 1000 >= 3 && s % 1000 <= 4 ? DLH_ENOMEM : DLH_EDEVICE;
}

/* Loads the library and its entry points into dn, or says why not. */
static int dnn_load(cu_dnn *dn, char *why, size_t size)
{
    static const char *const names[] = { "libcudnn.so.9", NULL };
    static const char *const subdirs[] = { "lib64", "lib", NULL };
    dn->lib = gpu_dl_open("DLHOST_CUDNN", cu_toolkit_dir(), subdirs, names, dn->path,
                          sizeof dn->path, why, size);
    if (dn->lib == NULL)
        return -1;
    const gpu_dl_sym syms[] = {
        { "cudnnGetVersion", (void **)&dn->get_version },
        { "cudnnGetErrorString", (void **)&dn->error_string },
        { "cudnnCreate", (void **)&dn->create },
        { "cudnnDestroy", (void **)&dn->destroy },
        { "cudnnSetStream", (void **)&dn->set_stream },
        { "cudnnCreateTensorDescriptor", (void **)&dn->tensor_create },
        { "cudnnSetTensor4dDescriptor", (void **)&dn->tensor_set },
        { "cudnnDestroyTensorDescriptor", (void **)&dn->tensor_destroy },
        { "cudnnCreateFilterDescriptor", (void **)&dn->filter_create },
        { "cudnnSetFilter4dDescriptor", (void **)&dn->filter_set },
        { "cudnnDestroyFilterDescriptor", (void **)&dn->filter_destroy },
        { "cudnnCreateConvolutionDescriptor", (void **)&dn->conv_create },
        { "cudnnSetConvolution2dDescriptor", (void **)&dn->conv_set },
        { "cudnnSetConvolutionGroupCount", (void **)&dn->conv_groups },
        { "cudnnSetConvolutionMathType", (void **)&dn->conv_math },
        { "cudnnDestroyConvolutionDescriptor", (void **)&dn->conv_destroy },
        { "cudnnGetConvolutionForwardAlgorithm_v7", (void **)&dn->fwd_algos },
        { "cudnnGetConvolutionBackwardDataAlgorithm_v7", (void **)&dn->bwd_data_algos },
        { "cudnnGetConvolutionBackwardFilterAlgorithm_v7", (void **)&dn->bwd_filter_algos },
        { "cudnnGetConvolutionForwardWorkspaceSize", (void **)&dn->fwd_ws },
        { "cudnnGetConvolutionBackwardDataWorkspaceSize", (void **)&dn->bwd_data_ws },
        { "cudnnGetConvolutionBackwardFilterWorkspaceSize", (void **)&dn->bwd_filter_ws },
        { "cudnnConvolutionForward", (void **)&dn->forward },
        { "cudnnConvolutionBackwardData", (void **)&dn->backward_data },
        { "cudnnConvolutionBackwardFilter", (void **)&dn->backward_filter },
        { "cudnnConvolutionBackwardBias", (void **)&dn->backward_bias },
        { "cudnnAddTensor", (void **)&dn->add_tensor },
    };
    const char *missing = gpu_dl_syms(dn->lib, syms, sizeof syms / sizeof syms[0]);
    if (missing != NULL) {
        snprintf(why, size, "%s has no %s: not cuDNN 9's legacy API", dn->path, missing);
        return -1;
    }
    return 0;
}

/* Makes the handle on the instance's stream; *why says why not. */
static int dnn_start(cu_ctx *c, cu_dnn *dn, char *why, size_t size)
{
    if (cu_current(c) != 0) {
        snprintf(why, size, "the context could not be made current");
        return -1;
    }
    int s = dn->create(&dn->handle);
    if (s != 0) {
        dn->handle = NULL;
        snprintf(why, size, "cudnnCreate: %s (%d) with %s", status_name(s), s, dn->path);
        return -1;
    }
    if ((s = dn->set_stream(dn->handle, c->stream)) != 0) {
        snprintf(why, size, "cudnnSetStream: %s (%d)", status_name(s), s);
        return -1;
    }
    dn->version = (long)dn->get_version();
    return 0;
}

cu_dnn *cu_dnn_get(cu_ctx *c)
{
    if (c->dnn != NULL)
        return c->dnn;
    if (c->dnn_failed)
        return NULL;
    char why[900] = "";
    cu_dnn *dn = calloc(1, sizeof *dn);
    if (dn == NULL)
        snprintf(why, sizeof why, "out of memory");
    else if (dnn_load(dn, why, sizeof why) == 0 && dnn_start(c, dn, why, sizeof why) == 0) {
        c->dnn = dn;
        char v[32];
        cu_dnn_version(c, v, sizeof v);
        cu_host->log(DLH_LOG_DEBUG, "cuda: %s (%s) for the convolutions", v, dn->path);
        return dn;
    }
    if (dn != NULL && dn->handle != NULL)
        dn->destroy(dn->handle);
    free(dn);
    c->dnn_failed = 1;
    cu_host->log(DLH_LOG_WARN, "cuda: no cuDNN (%s): convolutions use im2col + gemm; "
                 "install cuDNN 9, or set DLHOST_CUDNN to the library", why);
    return NULL;
}

/* The library stays loaded for the process, as cuBLAS does. */
void cu_dnn_close(cu_ctx *c)
{
    if (c->dnn == NULL)
        return;
    if (c->dnn->handle != NULL)
        c->dnn->destroy(c->dnn->handle);
    cu_free(c, c->dnn->ws);
    free(c->dnn);
    c->dnn = NULL;
}

void cu_dnn_version(cu_ctx *c, char *buf, size_t size)
{
    /* CUDNN_VERSION: major * 10000 + minor * 100 + patch (major * 1000 +
       minor * 100 + patch before 9). */
    gpu_dl_version(buf, size, "cuDNN", c->dnn ? c->dnn->version : 0, 90000);
}
