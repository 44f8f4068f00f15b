/* PCA and ZCA whitening (data.normalize = "pca" | "zca").
 *
 * Statistics from the training split: the mean m and the covariance
 * S = (X - m)^T (X - m) / (n - 1) over the flattened samples (D features),
 * accumulated in double with OpenBLAS's dsyrk, and S's eigenvectors v_k and
 * eigenvalues l_k (LAPACK dsyevd, from OpenBLAS), in decreasing order of l_k.
 * Each sample becomes x' = W (x - m) with
 *   pca: row k of W = v_k / sqrt(l_k + eps)          (scikit-learn's
 *        PCA(whiten=True) for eps = 0: coefficients in the principal axes)
 *   zca: W = sum_k v_k v_k^T / sqrt(l_k + eps)      (Keras's zca_whitening:
 *        whitened data that stays close to the original space)
 * An eigenvector's sign is arbitrary; v_k is taken with its entry of largest
 * magnitude positive (the first such on a tie), so pca's output is a
 * function of the data.  Samples of at most DLH_WHITEN_MAX_FEATURES
 * features (W is D x D). */
#ifndef DLHOST_CORE_WHITEN_H
#define DLHOST_CORE_WHITEN_H

#include <stdint.h>

#include <dlhost/dlhost.h>

#include "batcher.h"

#define DLH_WHITEN_MAX_FEATURES 4096

/* Fills out (kind, dim, mean, whiten) from samples idx[0..n) of the reader
   (n >= 2), reading through a buffer of fixed size.  eps >= 0; with eps = 0
   a singular covariance (a constant feature, or features that are linear
   combinations of others) is refused, since its inverse square root does
   not exist.  Errors as dlh_norm_compute's. */
int dlh_whiten_compute(dlh_norm_kind kind, double eps, const dlh_dataset_ops *ops,
                       void *state, const dlh_dataset_info *info, const int64_t *idx,
                       int64_t n, dlh_norm *out);

/* x[count][dim] = W (x - mean) in place, through scratch (count * dim
   floats). */
void dlh_whiten_apply(const dlh_norm *n, float *x, int64_t count, float *scratch);

#endif
