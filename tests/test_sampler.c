/* The samplers of train.sampler (core/sampler.h): what each epoch visits,
 * checked against each sampler's definition over many epochs, and that an
 * epoch's order is a pure function of (seed, epoch). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "registry.h"
#include "sampler.h"
#include "tap.h"

#define N 100                       /* training samples: 80 of class 0, 15 of 1, 5 of 3 */

static int64_t idx[N];
static int32_t labels[N];

static int32_t class_of(int64_t sample)
{
    for (int i = 0; i < N; i++)
        if (idx[i] == sample)
            return labels[i];
    return -1;
}

static void setup(void)
{
    for (int i = 0; i < N; i++) {
        idx[i] = 3 * i + 1;         /* sample indices, not positions */
        labels[i] = i < 80 ? 0 : i < 95 ? 1 : 3;
    }
}

static void test_random_sequential(void)
{
    dlh_sampler s;
    int64_t a[N], b[N];
    int rc = dlh_sampler_init(&s, DLH_SAMPLER_SEQUENTIAL, idx, N, NULL, 0, NULL, 0);
    dlh_sampler_order(&s, 9, 1, a);
    ok(rc == 0 && s.n_epoch == N && !memcmp(a, idx, sizeof a),
       "sequential: the training samples in file order");
    dlh_sampler_free(&s);

    rc = dlh_sampler_init(&s, DLH_SAMPLER_RANDOM, idx, N, NULL, 0, NULL, 0);
    dlh_sampler_order(&s, 9, 1, a);
    memcpy(b, idx, sizeof b);
    dlh_permute(b, N, 9, dlh_host_table()->rng_stream(DLH_SAMPLER_RNG_SHUFFLE, 1, 0));
    ok(rc == 0 && s.n_epoch == N && !memcmp(a, b, sizeof a),
       "random: the run's shuffle of (seed, epoch), as before samplers existed");
    int64_t sa[N], sb[N];
    memcpy(sa, a, sizeof sa);
    memcpy(sb, idx, sizeof sb);
    int perm = 1;
    for (int i = 0; i < N; i++) {
        int found = 0;
        for (int j = 0; j < N; j++)
            found |= sa[j] == sb[i];
        perm &= found;
    }
    ok(perm, "random: a permutation of the training samples");
    dlh_sampler_order(&s, 9, 2, b);
    ok(memcmp(a, b, sizeof a) != 0, "random: another epoch, another order");
    dlh_sampler_free(&s);
}

static void test_weighted(void)
{
    dlh_sampler s;
    int rc = dlh_sampler_init(&s, DLH_SAMPLER_WEIGHTED, idx, N, labels, 4, NULL, 0);
    ok(rc == 0 && s.n_epoch == N, "weighted: an epoch of n draws by default");
    /* balanced: w_c = n / (present classes * count_c), so each present class
       draws 1/3 of the time. */
    int64_t order[N], count[4] = { 0 }, per_sample[N] = { 0 };
    const int epochs = 300;
    for (int ep = 1; ep <= epochs; ep++) {
        dlh_sampler_order(&s, 5, (uint64_t)ep, order);
        for (int k = 0; k < N; k++) {
            count[class_of(order[k])]++;
            per_sample[(order[k] - 1) / 3]++;
        }
    }
    double total = (double)epochs * N, third = total / 3.0;
    double sd = sqrt(total * (1.0 / 3.0) * (2.0 / 3.0));
    int near = 1;
    for (int c = 0; c < 4; c += c == 1 ? 2 : 1)
        near &= fabs((double)count[c] - third) < 4.0 * sd;
    /* "balanced" as scikit-learn's compute_class_weight('balanced') for
       these labels (80, 15 and 5 samples of classes 0, 1 and 3), pasted from
       sklearn 1.2: the cdf rises by the sample's class weight. */
    static const double sk_balanced[4] = { 0.41666667, 2.22222222, 0.0, 6.66666667 };
    int sk = 1;
    for (int i = 0; i < N; i++) {
        double step = s.cdf[i] - (i ? s.cdf[i - 1] : 0.0);
        sk &= fabs(step - sk_balanced[labels[i]]) < 1e-7;
    }
    ok(sk, "weighted \"balanced\": scikit-learn's class weights 0.4167, 2.2222, 6.6667");
    ok(near && count[2] == 0, "weighted balanced: each class drawn a third of the time "
       "(%lld, %lld, %lld of %.0f; none of the absent class 2)", (long long)count[0],
       (long long)count[1], (long long)count[3], total);
    /* Within a class every sample is equally likely: class 3's five samples. */
    double each = third / 5.0, sd5 = sqrt(third * 0.2 * 0.8);
    int even = 1;
    for (int i = 95; i < 100; i++)
        even &= fabs((double)per_sample[i] - each) < 4.0 * sd5;
    ok(even, "weighted: the samples of a class are drawn alike");
    int64_t a[N], b[N];
    dlh_sampler_order(&s, 5, 7, a);
    dlh_sampler_order(&s, 5, 7, b);
    ok(!memcmp(a, b, sizeof a), "weighted: an epoch's draws are a function of (seed, epoch)");
    dlh_sampler_free(&s);

    const float w[4] = { 0.0f, 1.0f, 5.0f, 0.0f };
    rc = dlh_sampler_init(&s, DLH_SAMPLER_WEIGHTED, idx, N, labels, 4, w, 250);
    int64_t big[250];
    dlh_sampler_order(&s, 5, 1, big);
    int only1 = rc == 0 && s.n_epoch == 250;
    for (int k = 0; k < 250; k++)
        only1 &= class_of(big[k]) == 1;
    ok(only1, "weighted with class weights [0, 1, 5, 0] and num_samples 250: 250 draws, "
       "all of class 1");
    dlh_sampler_free(&s);

    const float zero[4] = { 0.0f, 0.0f, 1.0f, 0.0f };
    rc = dlh_sampler_init(&s, DLH_SAMPLER_WEIGHTED, idx, N, labels, 4, zero, 0);
    ok(rc == DLH_ERANGE && strstr(dlh_error_get(), "every training sample has weight 0"),
       "weighted: weights that leave nothing to draw are refused (%s)", dlh_error_get());
    const float neg[4] = { 1.0f, -1.0f, 1.0f, 1.0f };
    rc = dlh_sampler_init(&s, DLH_SAMPLER_WEIGHTED, idx, N, labels, 4, neg, 0);
    ok(rc == DLH_ERANGE && strstr(dlh_error_get(), "class 1 has weight -1"),
       "weighted: a negative class weight is refused (%s)", dlh_error_get());
}

static void test_balancing(int kind, const char *name, int64_t per_class)
{
    dlh_sampler s;
    int rc = dlh_sampler_init(&s, kind, idx, N, labels, 4, NULL, 0);
    ok(rc == 0 && s.n_epoch == 3 * per_class, "%s: an epoch of 3 classes x %lld samples",
       name, (long long)per_class);
    int64_t order[3 * 80];
    int exact = 1, all_minority = 1, majority_once = 1, no_dup = 1;
    int64_t seen_major[N] = { 0 };
    for (int ep = 1; ep <= 400; ep++) {
        int64_t per[4] = { 0 }, times[N] = { 0 };
        dlh_sampler_order(&s, 11, (uint64_t)ep, order);
        for (int64_t k = 0; k < s.n_epoch; k++) {
            per[class_of(order[k])]++;
            times[(order[k] - 1) / 3]++;
        }
        exact &= per[0] == per_class && per[1] == per_class && per[3] == per_class &&
                 per[2] == 0;
        for (int i = 0; i < N; i++) {
            if (kind == DLH_SAMPLER_OVERSAMPLE) {
                all_minority &= times[i] >= 1;
                if (i < 80)
                    majority_once &= times[i] == 1;
            } else {
                no_dup &= times[i] <= 1;
                seen_major[i] += times[i];
            }
        }
    }
    ok(exact, "%s: every epoch holds each present class exactly %lld times", name,
       (long long)per_class);
    if (kind == DLH_SAMPLER_OVERSAMPLE) {
        ok(all_minority, "oversample: every sample appears in every epoch");
        ok(majority_once, "oversample: the largest class appears once each, as it is");
    } else {
        ok(no_dup, "undersample: no sample twice in an epoch (drawn without replacement)");
        int reached = 1;
        for (int i = 0; i < 80; i++)
            reached &= seen_major[i] > 0;
        ok(reached, "undersample: over 400 epochs every sample of the largest class is used");
    }
    int64_t a[3 * 80], b[3 * 80];
    dlh_sampler_order(&s, 11, 3, a);
    dlh_sampler_order(&s, 11, 3, b);
    ok(!memcmp(a, b, (size_t)s.n_epoch * sizeof *a),
       "%s: an epoch's order is a function of (seed, epoch)", name);
    dlh_sampler_free(&s);
}

static void test_errors(void)
{
    dlh_sampler s;
    int rc = dlh_sampler_init(&s, DLH_SAMPLER_OVERSAMPLE, idx, N, NULL, 4, NULL, 0);
    ok(rc == DLH_EINVAL && strstr(dlh_error_get(), "sampler 'oversample' needs class labels"),
       "a balancing sampler without labels is refused (%s)", dlh_error_get());
    labels[7] = 4;
    rc = dlh_sampler_init(&s, DLH_SAMPLER_UNDERSAMPLE, idx, N, labels, 4, NULL, 0);
    ok(rc == DLH_ERANGE && strstr(dlh_error_get(), "sample 22 has class 4, outside 0..3"),
       "a label outside the classes is refused (%s)", dlh_error_get());
    labels[7] = 0;
    dlh_sampler_free(&s);
    dlh_sampler_free(NULL);
}

int main(void)
{
    setup();
    test_random_sequential();
    test_weighted();
    test_balancing(DLH_SAMPLER_OVERSAMPLE, "oversample", 80);
    test_balancing(DLH_SAMPLER_UNDERSAMPLE, "undersample", 5);
    test_errors();
    return done_testing();
}
