/* cuBLAS loaded with dlopen, like the driver and NVRTC: $DLHOST_CUBLAS when
 * set (a path; the tests give a fake), else libcublas.so.13 then .12 from
 * the toolkit folder ($DLHOST_CUDA_DIR, else configure's --with-cuda), else
 * from the loader's path.  The few entry points are declared here (cuBLAS's
 * ABI: handles are pointers, statuses ints, cublasOperation_t an int), so
 * nothing needs cublas_v2.h.
 *
 * Row-major to column-major: a row-major m x n matrix with row stride ld is
 * the column-major n x m matrix of its transpose with the same ld, so
 * C = op(A) op(B) (row-major) is C^T = op(B)^T op(A)^T (column-major), one
 * cublasSgemm with the operands swapped and m and n swapped; no transposed
 * copies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"

struct cu_blas {
    void *lib;
    void *handle;
    char path[700];
    int (*create)(void **handle);
    int (*destroy)(void *handle);
    int (*set_stream)(void *handle, void *stream);
    int (*get_version)(void *handle, int *version);
    int (*sgemm)(void *handle, int ta, int tb, int m, int n, int k, const float *alpha,
                 const float *a, int lda, const float *b, int ldb, const float *beta,
                 float *c, int ldc);
    int (*sgemm_strided)(void *handle, int ta, int tb, int m, int n, int k,
                         const float *alpha, const float *a, int lda, long long sa,
                         const float *b, int ldb, long long sb, const float *beta, float *c,
                         int ldc, long long sc, int batch);
    int version;
};

/* cublasStatus_t names of cublas_api.h */
static const char *status_name(int s)
{
    switch (s) {
    case 1: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case 3: return "CUBLAS_STATUS_ALLOC_FAILED";
    case 7: return "CUBLAS_STATUS_INVALID_VALUE";
    case 8: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case 11: return "CUBLAS_STATUS_MAPPING_ERROR";
    case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case 14: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case 15: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case 16: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "cublasStatus_t";
    }
}

static int blas_fail(const char *call, int s, const char *detail)
{
    cu_host->error("cuda: %s: %s (%d)%s%s", call, status_name(s), s, *detail ? " " : "",
                   detail);
    return s == 3 ? DLH_ENOMEM : DLH_EDEVICE;
}

int cu_blas_open(cu_ctx *c)
{
    cu_blas *b = calloc(1, sizeof *b);
    if (b == NULL) {
        cu_host->error("cuda: out of memory");
        return DLH_ENOMEM;
    }
    c->blas = b;
    static const char *const names[] = { "libcublas.so.13", "libcublas.so.12", NULL };
    static const char *const subdirs[] = { "lib64", NULL };
    char why[700] = "";
    b->lib = gpu_dl_open("DLHOST_CUBLAS", cu_toolkit_dir(), subdirs, names, b->path,
                         sizeof b->path, why, sizeof why);
    if (b->lib == NULL) {
        cu_host->error("cuda: no cuBLAS (%s): install the CUDA toolkit's cuBLAS, or set "
                       "DLHOST_CUBLAS to the library", why);
        return DLH_EDEVICE;
    }
    const gpu_dl_sym syms[] = {
        { "cublasCreate_v2", (void **)&b->create },
        { "cublasDestroy_v2", (void **)&b->destroy },
        { "cublasSetStream_v2", (void **)&b->set_stream },
        { "cublasGetVersion_v2", (void **)&b->get_version },
        { "cublasSgemm_v2", (void **)&b->sgemm },
        { "cublasSgemmStridedBatched", (void **)&b->sgemm_strided },
    };
    const char *missing = gpu_dl_syms(b->lib, syms, sizeof syms / sizeof syms[0]);
    if (missing != NULL) {
        cu_host->error("cuda: cuBLAS %s has no %s (too old?)", b->path, missing);
        return DLH_EDEVICE;
    }
    int rc = cu_current(c);
    if (rc != 0)
        return rc;
    int s = b->create(&b->handle);
    if (s != 0) {
        b->handle = NULL;
        return blas_fail("cublasCreate", s, b->path);
    }
    if ((s = b->set_stream(b->handle, c->stream)) != 0)
        return blas_fail("cublasSetStream", s, "");
    if (b->get_version(b->handle, &b->version) != 0)
        b->version = 0;
    return 0;
}

/* The library stays loaded for the process, as the driver does. */
void cu_blas_close(cu_ctx *c)
{
    if (c->blas == NULL)
        return;
    if (c->blas->handle != NULL)
        c->blas->destroy(c->blas->handle);
    free(c->blas);
    c->blas = NULL;
}

void cu_blas_version(cu_ctx *c, char *buf, size_t size)
{
    /* CUBLAS_VERSION: major * 10000 + minor * 100 + patch (major * 1000 +
       minor * 100 + patch before 12). */
    gpu_dl_version(buf, size, "cuBLAS", c->blas ? c->blas->version : 0, 10000);
}

int cu_blas_sgemm(cu_ctx *c, int trans_a, int trans_b, int m, int n, int k, float alpha,
                  cu_ptr a, int lda, long long stride_a, cu_ptr b, int ldb,
                  long long stride_b, float beta, cu_ptr cm, int ldc, long long stride_c,
                  int batch)
{
    cu_blas *bl = c->blas;
    int rc = cu_current(c);
    if (rc != 0)
        return rc;
    /* C^T (n x m) = op(B)^T (n x k) op(A)^T (k x m), column-major. */
    int ta = trans_b ? 1 : 0, tb = trans_a ? 1 : 0;   /* CUBLAS_OP_T : CUBLAS_OP_N */
    const float *A = (const float *)(uintptr_t)b, *B = (const float *)(uintptr_t)a;
    float *C = (float *)(uintptr_t)cm;
    int s;
    if (batch == 1)
        s = bl->sgemm(bl->handle, ta, tb, n, m, k, &alpha, A, ldb, B, lda, &beta, C, ldc);
    else
        s = bl->sgemm_strided(bl->handle, ta, tb, n, m, k, &alpha, A, ldb, stride_b, B, lda,
                              stride_a, &beta, C, ldc, stride_c, batch);
    if (s != 0) {
        char d[96];
        snprintf(d, sizeof d, "(m=%d, n=%d, k=%d, batch %d)", m, n, k, batch);
        return blas_fail(batch == 1 ? "cublasSgemm" : "cublasSgemmStridedBatched", s, d);
    }
    return 0;
}
