/* The fold assignment of `dlhost cv` (core/cv.h): every sample in exactly
 * one of the k folds, fold sizes within one of n / k, with labels each
 * class's count per fold within one of n_c / k; a pure function of (seed,
 * repeat); k = 1 and k > n refused.  And which way sweep ranks a metric. */
#include <stdlib.h>
#include <string.h>

#include <dlhost/dlhost.h>

#include "cv.h"
#include "error.h"
#include "sweep.h"
#include "tap.h"

#define N 103                       /* not a multiple of any k tried */
#define C 4

/* Sizes and per-class counts of an assignment within one of the ideal. */
static int balanced(const int32_t *fold, const int32_t *labels, int64_t n, int k)
{
    static int64_t size[N + 1], per[N + 1][C];
    int64_t n_c[C] = { 0 };
    memset(size, 0, sizeof size);
    memset(per, 0, sizeof per);
    for (int64_t i = 0; i < n; i++) {
        if (fold[i] < 0 || fold[i] >= k)
            return 0;               /* every sample in one of the k folds */
        size[fold[i]]++;
        if (labels) {
            per[fold[i]][labels[i]]++;
            n_c[labels[i]]++;
        }
    }
    for (int f = 0; f < k; f++) {
        if (size[f] < n / k || size[f] > (n + k - 1) / k)
            return 0;
        for (int c = 0; labels && c < C; c++)
            if (per[f][c] < n_c[c] / k || per[f][c] > (n_c[c] + k - 1) / k)
                return 0;
    }
    return 1;
}

int main(void)
{
    int32_t labels[N], a[N], b[N];
    /* Unbalanced classes: 60, 30, 10, 3. */
    for (int i = 0; i < N; i++)
        labels[i] = i < 60 ? 0 : i < 90 ? 1 : i < 100 ? 2 : 3;

    for (int k = 2; k <= 10; k++) {
        int rc = dlh_cv_assign(N, k, NULL, 0, 7, 0, a);
        ok(rc == 0 && balanced(a, NULL, N, k),
           "k = %d: the folds cover every sample once, sizes within one of n/k", k);
        rc = dlh_cv_assign(N, k, labels, C, 7, 0, b);
        ok(rc == 0 && balanced(b, labels, N, k),
           "k = %d stratified: each class's count per fold within one of n_c/k", k);
    }
    /* Leave-one-out: k = n. */
    ok(dlh_cv_assign(N, N, NULL, 0, 7, 0, a) == 0 && balanced(a, NULL, N, N),
       "k = n: one sample per fold");

    /* A pure function of (seed, repeat); another repeat or seed differs. */
    dlh_cv_assign(N, 5, labels, C, 7, 1, a);
    dlh_cv_assign(N, 5, labels, C, 7, 1, b);
    ok(memcmp(a, b, sizeof a) == 0, "the same seed and repeat give the same folds");
    dlh_cv_assign(N, 5, labels, C, 7, 2, b);
    ok(memcmp(a, b, sizeof a) != 0, "another repeat gives other folds");
    dlh_cv_assign(N, 5, labels, C, 8, 1, b);
    ok(memcmp(a, b, sizeof a) != 0, "another seed gives other folds");
    /* Shuffled: not the samples in file order dealt round robin. */
    int dealt = 1;
    dlh_cv_assign(N, 5, NULL, 0, 7, 0, a);
    for (int i = 0; i < N; i++)
        dealt &= a[i] == i % 5;
    ok(!dealt, "the folds are shuffled");

    /* Refusals. */
    dlh_error_clear();
    ok(dlh_cv_assign(N, 1, NULL, 0, 7, 0, a) == DLH_EINVAL &&
       strstr(dlh_error_get(), "expected from 2 to 103 folds"), "k = 1 is refused: %s",
       dlh_error_get());
    ok(dlh_cv_assign(N, N + 1, NULL, 0, 7, 0, a) == DLH_EINVAL, "k > n is refused");
    labels[5] = C;
    ok(dlh_cv_assign(N, 3, labels, C, 7, 0, a) == DLH_EINVAL &&
       strstr(dlh_error_get(), "sample 5 has label 4"), "a label out of range is refused: %s",
       dlh_error_get());

    return done_testing();
}
