/* OpenBLAS for the core (the orthogonal initialiser's QR, whitening's
 * covariance, eigenvectors and product), loaded by dlopen on first use
 * instead of linked (lazy_lib.h): a command that needs neither does not
 * load it before main, so dlh_blas_cap_check can set
 * OPENBLAS_NUM_THREADS=1 before OpenBLAS starts (and spins) its worker
 * threads, which dlhost never uses.  The cpu backend links OpenBLAS
 * itself; both then share the one copy. */
#ifndef DLH_BLAS_LIB_H
#define DLH_BLAS_LIB_H

#include <stddef.h>

#include <cblas.h>

/* Loads OpenBLAS (once) and fills the pointers below: 0, or
   DLH_EUNSUPPORTED with one message starting with for_what.  The file is
   $DLHOST_LIBOPENBLAS when set, else libopenblas.so.0. */
int dlh_blas_load(const char *for_what);

extern __typeof__(cblas_dsyrk) *dlh_cblas_dsyrk;
extern __typeof__(cblas_sgemm) *dlh_cblas_sgemm;

/* LAPACK, from OpenBLAS (no LAPACKE header in Debian's libopenblas-dev).
   QR: no character arguments, so no hidden lengths; dsyevd_: the trailing
   lengths are gfortran's hidden arguments for its two characters. */
extern void (*dlh_dgeqrf)(const int *m, const int *n, double *a, const int *lda,
                          double *tau, double *work, const int *lwork, int *info);
extern void (*dlh_dorgqr)(const int *m, const int *n, const int *k, double *a,
                          const int *lda, const double *tau, double *work, const int *lwork,
                          int *info);
extern void (*dlh_dsyevd)(const char *jobz, const char *uplo, const int *n, double *a,
                          const int *lda, double *w, double *work, const int *lwork,
                          int *iwork, const int *liwork, int *info, size_t jobz_len,
                          size_t uplo_len);

#endif
