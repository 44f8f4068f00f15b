/* PCA and ZCA whitening (core/whiten.h) against scikit-learn's
 * PCA(whiten=True) and NumPy's ZCA (tests/ref/whiten_ref.py), through the
 * same path the loader takes: dlh_norm_compute over a dataset reader, then
 * dlh_norm_apply on batches; and the data it refuses. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batcher.h"
#include "error.h"
#include "tap.h"
#include "whiten.h"

#include "ref/whiten_ref.h"   /* tests/ref/whiten_ref.py; test_ref_live.sh re-checks it */

/* A reader of rows of `values` (n x d), one constant column when `flat` >= 0,
   a NaN at sample `nan_at`. */
typedef struct table {
    dlh_dataset_info info;
    const double *values;
    int64_t d;
    int64_t flat, nan_at;
} table;

static int table_read(void *state, const int64_t *idx, size_t n, float *x, float *y)
{
    const table *t = state;
    for (size_t s = 0; s < n; s++) {
        for (int64_t j = 0; j < t->d; j++) {
            float v = t->values ? (float)t->values[idx[s] * t->d + j]
                                : (float)((idx[s] * 7 + j * 3) % 11);
            x[(int64_t)s * t->d + j] = j == t->flat ? 2.5f : idx[s] == t->nan_at ? NAN : v;
        }
        if (y)
            y[s] = 0.0f;
    }
    return 0;
}

static const dlh_dataset_ops table_ops = {
    .struct_size = sizeof(dlh_dataset_ops),
    .read = table_read,
};

static void table_init(table *t, const double *values, int64_t n, int ndim,
                       const int64_t *dims)
{
    memset(t, 0, sizeof *t);
    t->info.struct_size = sizeof t->info;
    t->info.n_samples = n;
    t->info.sample.ndim = ndim;
    t->d = 1;
    for (int i = 0; i < ndim; i++) {
        t->info.sample.dim[i] = dims[i];
        t->d *= dims[i];
    }
    t->info.label_kind = DLH_LABEL_CLASS;
    t->info.n_classes = 1;
    t->values = values;
    t->flat = -1;
    t->nan_at = -1;
}

/* Whitens the reference data with `kind` and eps, applied in batches of 7
   (the last one partial), and compares with want[]. */
static void check(dlh_norm_kind kind, double eps, const double *want, const char *what)
{
    table t;
    const int64_t dims[1] = { WHITEN_D };
    table_init(&t, whiten_x, WHITEN_N, 1, dims);
    int64_t idx[WHITEN_N];
    for (int64_t i = 0; i < WHITEN_N; i++)
        idx[i] = i;
    dlh_norm nm;
    int rc = dlh_norm_compute(kind, eps, &table_ops, &t, &t.info, idx, WHITEN_N, &nm);
    if (!ok(rc == 0 && nm.kind == (int)kind && nm.dim == WHITEN_D, "%s: statistics (%s)",
            what, dlh_error_get()))
        return;
    float x[WHITEN_N * WHITEN_D], scratch[7 * WHITEN_D];
    for (int64_t i = 0; i < WHITEN_N * WHITEN_D; i++)
        x[i] = (float)whiten_x[i];
    for (int64_t first = 0; first < WHITEN_N; first += 7) {
        int64_t m = WHITEN_N - first < 7 ? WHITEN_N - first : 7;
        dlh_norm_apply(&nm, x + first * WHITEN_D, m, WHITEN_D, scratch);
    }
    double worst = 0.0;
    for (int64_t i = 0; i < WHITEN_N * WHITEN_D; i++) {
        double err = fabs(x[i] - want[i]);
        worst = err > worst ? err : worst;
    }
    ok(worst < 2e-5, "%s: equals the reference (max abs err %.2e)", what, worst);
    dlh_norm_free(&nm);
}

/* Whitened training data have the identity covariance (eps = 0). */
static void identity_covariance(dlh_norm_kind kind, const char *what)
{
    table t;
    const int64_t dims[3] = { 1, 2, 3 };          /* an image shape: one matrix all the same */
    static double v[60 * 6];
    uint32_t h = 12345u;
    for (int i = 0; i < 60 * 6; i++) {          /* correlated pseudo-random features */
        h = h * 1664525u + 1013904223u;
        v[i] = (double)(h >> 8) / 16777216.0 * (1 + i % 6) + (i % 6 == 2 ? 2.0 * v[i - 1] : 0.0);
    }
    table_init(&t, v, 60, 3, dims);
    int64_t idx[60];
    for (int i = 0; i < 60; i++)
        idx[i] = i;
    dlh_norm nm;
    if (!ok(dlh_norm_compute(kind, 0.0, &table_ops, &t, &t.info, idx, 60, &nm) == 0,
            "%s: statistics over (1, 2, 3) samples (%s)", what, dlh_error_get()))
        return;
    float x[60 * 6], scratch[60 * 6];
    table_read(&t, idx, 60, x, NULL);
    dlh_norm_apply(&nm, x, 60, 6, scratch);
    double worst = 0.0;
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++) {
            double m_a = 0, m_b = 0, c = 0;
            for (int s = 0; s < 60; s++) {
                m_a += x[s * 6 + a] / 60.0;
                m_b += x[s * 6 + b] / 60.0;
            }
            for (int s = 0; s < 60; s++)
                c += (x[s * 6 + a] - m_a) * (x[s * 6 + b] - m_b) / 59.0;
            worst = fmax(worst, fabs(c - (a == b)));
        }
    ok(worst < 1e-4, "%s: the whitened training data have the identity covariance "
       "(max err %.2e)", what, worst);
    dlh_norm_free(&nm);
}

static void refused(void)
{
    table t;
    const int64_t dims[1] = { 4 };
    int64_t idx[20];
    for (int i = 0; i < 20; i++)
        idx[i] = i;
    dlh_norm nm;

    table_init(&t, NULL, 20, 1, dims);
    t.flat = 2;
    int rc = dlh_norm_compute(DLH_NORM_ZCA, 0.0, &table_ops, &t, &t.info, idx, 20, &nm);
    ok(rc == DLH_EDATA && strstr(dlh_error_get(), "singular (rank 3)") &&
       strstr(dlh_error_get(), "whiten_epsilon > 0"),
       "a constant feature with epsilon 0: singular, says to set whiten_epsilon (%s)",
       dlh_error_get());
    ok(nm.whiten == NULL && nm.mean == NULL, "nothing is left allocated on failure");
    rc = dlh_norm_compute(DLH_NORM_ZCA, 1e-3, &table_ops, &t, &t.info, idx, 20, &nm);
    ok(rc == 0, "the same data with epsilon 1e-3 whiten (%s)", dlh_error_get());
    dlh_norm_free(&nm);

    table_init(&t, NULL, 20, 1, dims);
    t.nan_at = 13;
    rc = dlh_norm_compute(DLH_NORM_PCA, 0.0, &table_ops, &t, &t.info, idx, 20, &nm);
    ok(rc == DLH_EDATA && strstr(dlh_error_get(), "sample 13 has a non-finite value"),
       "a NaN is refused with its sample (%s)", dlh_error_get());

    table_init(&t, NULL, 20, 1, dims);
    rc = dlh_norm_compute(DLH_NORM_PCA, 0.0, &table_ops, &t, &t.info, idx, 1, &nm);
    ok(rc == DLH_EINVAL && strstr(dlh_error_get(), "at least 2 training samples"),
       "one sample is refused (%s)", dlh_error_get());

    const int64_t big[1] = { DLH_WHITEN_MAX_FEATURES + 1 };
    table_init(&t, NULL, 20, 1, big);
    rc = dlh_norm_compute(DLH_NORM_ZCA, 0.0, &table_ops, &t, &t.info, idx, 20, &nm);
    ok(rc == DLH_ERANGE && strstr(dlh_error_get(), "at most 4096 features"),
       "more than %d features is refused before any allocation (%s)",
       DLH_WHITEN_MAX_FEATURES, dlh_error_get());
}

int main(void)
{
    check(DLH_NORM_PCA, 0.0, whiten_pca, "pca");
    check(DLH_NORM_PCA, WHITEN_EPS, whiten_pca_eps, "pca, eps 0.5");
    check(DLH_NORM_ZCA, 0.0, whiten_zca, "zca");
    check(DLH_NORM_ZCA, WHITEN_EPS, whiten_zca_eps, "zca, eps 0.5");
    identity_covariance(DLH_NORM_PCA, "pca");
    identity_covariance(DLH_NORM_ZCA, "zca");
    refused();
    return done_testing();
}
