/* OpenBLAS loaded on first use: blas_lib.h. */
#include "config.h"

#include "blas_lib.h"

#include "lazy_lib.h"

__typeof__(cblas_dsyrk) *dlh_cblas_dsyrk;
__typeof__(cblas_sgemm) *dlh_cblas_sgemm;
void (*dlh_dgeqrf)(const int *, const int *, double *, const int *, double *, double *,
                   const int *, int *);
void (*dlh_dorgqr)(const int *, const int *, const int *, double *, const int *,
                   const double *, double *, const int *, int *);
void (*dlh_dsyevd)(const char *, const char *, const int *, double *, const int *, double *,
                   double *, const int *, int *, const int *, int *, size_t, size_t);

static const dlh_lazy_sym blas_syms[] = {
    { "cblas_dsyrk", (void **)&dlh_cblas_dsyrk },
    { "cblas_sgemm", (void **)&dlh_cblas_sgemm },
    { "dgeqrf_", (void **)&dlh_dgeqrf },
    { "dorgqr_", (void **)&dlh_dorgqr },
    { "dsyevd_", (void **)&dlh_dsyevd },
};

static dlh_lazy_lib blas_lib = { "OpenBLAS", "DLHOST_LIBOPENBLAS", "libopenblas.so.0",
                                 "libopenblas0", blas_syms,
                                 sizeof blas_syms / sizeof blas_syms[0], NULL, 0, "" };

int dlh_blas_load(const char *for_what)
{
    return dlh_lazy_lib_load(&blas_lib, for_what);
}
