/* PCA and ZCA whitening: the statistics (two passes over the training
 * samples, then an eigendecomposition) and the per-batch transform (one
 * sgemm).  See whiten.h for the definitions. */
#include "config.h"

#include "whiten.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas_lib.h"
#include "error.h"


/* Bytes of the chunk of samples read at a time. */
#define WHITEN_CHUNK_BYTES ((size_t)1 << 20)

/* The mean (pass 1) and the covariance's upper triangle, row-major (pass 2),
   of samples idx[0..n). */
static int whiten_moments(const dlh_dataset_ops *ops, void *state, const int64_t *idx,
                          int64_t n, int64_t dim, double *mean, double *cov)
{
    int64_t chunk = (int64_t)(WHITEN_CHUNK_BYTES / sizeof(double)) / dim;
    chunk = chunk < 1 ? 1 : chunk > n ? n : chunk;
    float *buf = malloc((size_t)(chunk * dim) * sizeof *buf);
    double *dx = malloc((size_t)(chunk * dim) * sizeof *dx);
    int rc = 0;
    if (!buf || !dx) {
        dlh_error_set("normalisation: out of memory");
        rc = DLH_ENOMEM;
        goto done;
    }
    memset(mean, 0, (size_t)dim * sizeof *mean);
    for (int64_t first = 0; first < n; first += chunk) {
        int64_t m = n - first < chunk ? n - first : chunk;
        if ((rc = dlh_norm_read_chunk(ops, state, idx, first, m, dim, buf)))
            goto done;
        for (int64_t s = 0; s < m; s++)
            for (int64_t j = 0; j < dim; j++)
                mean[j] += buf[s * dim + j];
    }
    for (int64_t j = 0; j < dim; j++)
        mean[j] /= (double)n;
    memset(cov, 0, (size_t)(dim * dim) * sizeof *cov);
    for (int64_t first = 0; first < n; first += chunk) {
        int64_t m = n - first < chunk ? n - first : chunk;
        if ((rc = dlh_norm_read_chunk(ops, state, idx, first, m, dim, buf)))
            goto done;
        for (int64_t s = 0; s < m; s++)
            for (int64_t j = 0; j < dim; j++)
                dx[s * dim + j] = (double)buf[s * dim + j] - mean[j];
        dlh_cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)dim, (int)m, 1.0, dx,
                    (int)dim, 1.0, cov, (int)dim);
    }
    for (int64_t i = 0; i < dim; i++)
        for (int64_t j = i; j < dim; j++)
            cov[i * dim + j] /= (double)(n - 1);
done:
    free(buf);
    free(dx);
    return rc;
}

/* Eigenvalues (ascending) into w and eigenvectors into the rows of a
   (a row-major upper triangle is LAPACK's column-major lower one, and
   LAPACK's eigenvector columns are then our rows). */
static int whiten_eigen(double *a, int64_t dim, double *w)
{
    int n = (int)dim, info = 0, lwork = -1, liwork = -1, iw = 0;
    double wq = 0.0;
    dlh_dsyevd("V", "L", &n, a, &n, w, &wq, &lwork, &iw, &liwork, &info, 1, 1);
    if (info != 0) {
        dlh_error_set("normalisation: LAPACK dsyevd workspace query failed (info %d)",
                      info);
        return DLH_EINVAL;
    }
    lwork = (int)wq;
    liwork = iw;
    double *work = malloc((size_t)lwork * sizeof *work);
    int *iwork = malloc((size_t)liwork * sizeof *iwork);
    if (!work || !iwork) {
        free(work);
        free(iwork);
        dlh_error_set("normalisation: out of memory for the eigendecomposition");
        return DLH_ENOMEM;
    }
    dlh_dsyevd("V", "L", &n, a, &n, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    free(work);
    free(iwork);
    if (info != 0) {
        dlh_error_set("normalisation: the eigendecomposition of the covariance did not "
                      "converge (LAPACK dsyevd info %d)", info);
        return DLH_EDATA;
    }
    return 0;
}

int dlh_whiten_compute(dlh_norm_kind kind, double eps, const dlh_dataset_ops *ops,
                       void *state, const dlh_dataset_info *info, const int64_t *idx,
                       int64_t n, dlh_norm *out)
{
    memset(out, 0, sizeof *out);
    int64_t dim = dlh_shape_numel(&info->sample);
    if (!DLH_NORM_WHITENS(kind) || !(eps >= 0.0) || !isfinite(eps)) {
        dlh_error_set("normalisation: bad whitening kind %d or epsilon %g", (int)kind, eps);
        return DLH_EINVAL;
    }
    if (dim < 1 || dim > DLH_WHITEN_MAX_FEATURES) {
        dlh_error_set("normalisation: whitening needs a %lld x %lld matrix; samples may "
                      "have at most %d features", (long long)dim, (long long)dim,
                      DLH_WHITEN_MAX_FEATURES);
        return DLH_ERANGE;
    }
    if (n < 2) {
        dlh_error_set("normalisation: whitening needs at least 2 training samples, "
                      "got %lld", (long long)n);
        return DLH_EINVAL;
    }
    int lrc = dlh_blas_load("normalisation");
    if (lrc != 0)
        return lrc;
    size_t dd = (size_t)(dim * dim);
    double *mean = malloc((size_t)dim * sizeof *mean);
    double *cov = malloc(dd * sizeof *cov);
    double *lam = malloc((size_t)dim * sizeof *lam);
    out->mean = malloc((size_t)dim * sizeof *out->mean);
    out->whiten = malloc(dd * sizeof *out->whiten);
    int rc = 0;
    if (!mean || !cov || !lam || !out->mean || !out->whiten) {
        dlh_error_set("normalisation: out of memory for a %lld x %lld covariance",
                      (long long)dim, (long long)dim);
        rc = DLH_ENOMEM;
        goto done;
    }
    if ((rc = whiten_moments(ops, state, idx, n, dim, mean, cov)) ||
        (rc = whiten_eigen(cov, dim, lam)))
        goto done;
    double top = lam[dim - 1] > 0.0 ? lam[dim - 1] : 0.0;
    double tol = top * (double)dim * DBL_EPSILON;
    if (eps == 0.0 && !(lam[0] > tol)) {
        int64_t rank = 0;
        for (int64_t k = 0; k < dim; k++)
            rank += lam[k] > tol;
        dlh_error_set("normalisation: the covariance of the %lld training features is "
                      "singular (rank %lld): a constant feature, or features that depend "
                      "on others; set data.whiten_epsilon > 0", (long long)dim,
                      (long long)rank);
        rc = DLH_EDATA;
        goto done;
    }
    /* Row r of cov becomes v_k * s_k with k = dim-1-r (decreasing l_k),
       s_k = (l_k + eps)^(-1/2) for pca and its square root for zca, whose
       W = sum_k (v_k sqrt(s_k)) (v_k sqrt(s_k))^T is then one dsyrk. */
    for (int64_t r = 0; r < dim / 2; r++) {
        double *a = cov + r * dim, *b = cov + (dim - 1 - r) * dim;
        for (int64_t j = 0; j < dim; j++) {
            double t = a[j];
            a[j] = b[j];
            b[j] = t;
        }
        double t = lam[r];
        lam[r] = lam[dim - 1 - r];
        lam[dim - 1 - r] = t;
    }
    for (int64_t r = 0; r < dim; r++) {
        double *v = cov + r * dim;
        int64_t big = 0;
        for (int64_t j = 1; j < dim; j++)
            if (fabs(v[j]) > fabs(v[big]))
                big = j;
        double l = lam[r] > 0.0 ? lam[r] : 0.0;
        double s = 1.0 / sqrt(l + eps);
        if (kind == DLH_NORM_ZCA)
            s = sqrt(s);
        if (v[big] < 0.0)
            s = -s;
        for (int64_t j = 0; j < dim; j++)
            v[j] *= s;
    }
    if (kind == DLH_NORM_PCA) {
        for (size_t i = 0; i < dd; i++)
            out->whiten[i] = (float)cov[i];
    } else {
        double *w = malloc(dd * sizeof *w);
        if (!w) {
            dlh_error_set("normalisation: out of memory");
            rc = DLH_ENOMEM;
            goto done;
        }
        dlh_cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)dim, (int)dim, 1.0, cov,
                    (int)dim, 0.0, w, (int)dim);
        for (int64_t i = 0; i < dim; i++)
            for (int64_t j = i; j < dim; j++)
                out->whiten[i * dim + j] = out->whiten[j * dim + i] = (float)w[i * dim + j];
        free(w);
    }
    for (int64_t j = 0; j < dim; j++)
        out->mean[j] = (float)mean[j];
    out->kind = kind;
    out->dim = dim;
done:
    free(mean);
    free(cov);
    free(lam);
    if (rc < 0)
        dlh_norm_free(out);
    return rc;
}

void dlh_whiten_apply(const dlh_norm *n, float *x, int64_t count, float *scratch)
{
    int64_t dim = n->dim;
    if (count <= 0)
        return;
    for (int64_t s = 0; s < count; s++) {
        float *p = x + s * dim;
        for (int64_t j = 0; j < dim; j++)
            p[j] -= n->mean[j];
    }
    /* x'[s] = W x[s]: X' = X W^T, rows of samples.  OpenBLAS is loaded:
       dlh_whiten_compute and eval.c's eval_whiten_from load it before
       they make a whitening dlh_norm, the only ways one is made. */
    dlh_cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)count, (int)dim, (int)dim,
                1.0f, x, (int)dim, n->whiten, (int)dim, 0.0f, scratch, (int)dim);
    memcpy(x, scratch, (size_t)(count * dim) * sizeof *x);
}
