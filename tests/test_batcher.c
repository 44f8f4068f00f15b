/* The loader thread and normalisation statistics (core/batcher.h), over a
 * fake dataset reader registered as a plain ops struct: its values are a
 * known function of (sample, element), and it records which thread called
 * it and in what order, so the test can see the thread read ahead by exactly
 * one batch, errors cross threads with their message, and abandoned passes
 * and frees never hang. */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dlhost/philox.h>

#include "batcher.h"
#include "error.h"
#include "registry.h"
#include "tap.h"

/* ---------------------------------------------------------------- fake reader */

#define LOG_MAX 4096

typedef struct fake {
    dlh_dataset_info info;
    int64_t fail_at;                /* a read including this sample fails; -1 none */
    int delay_us;                   /* per read call */
    int offset;                     /* added to every value (zscore stability) */
    pthread_mutex_t mu;             /* guards the log below */
    int n_reads;
    int64_t log_first[LOG_MAX];     /* first sample index of each call */
    int64_t log_n[LOG_MAX];
    int other_thread;               /* every read came from a thread not main's */
} fake;

static pthread_t main_thread;

static float fake_value(const fake *f, int64_t i, int64_t j)
{
    /* Varies across samples and elements, a few constant columns (j % 11 == 5),
       and per-channel spreads that differ. */
    if (j % 11 == 5)
        return 3.0f + (float)f->offset;
    return (float)f->offset + (float)((i * 37 + j * 11) % 101) * 0.25f +
           (float)(j % 7) - 0.5f * (float)(i % 3);
}

static float fake_label(int64_t i)
{
    return (float)(i % 10);
}

static int fake_read(void *state, const int64_t *idx, size_t n, float *x, float *y)
{
    fake *f = state;
    pthread_mutex_lock(&f->mu);
    if (f->n_reads < LOG_MAX) {
        f->log_first[f->n_reads] = n ? idx[0] : -1;
        f->log_n[f->n_reads] = (int64_t)n;
    }
    f->n_reads++;
    if (pthread_equal(pthread_self(), main_thread))
        f->other_thread = 0;
    int delay = f->delay_us;
    pthread_mutex_unlock(&f->mu);
    if (delay)
        usleep((useconds_t)delay);     /* after logging: a logged read is in progress */
    int64_t numel = dlh_shape_numel(&f->info.sample);
    for (size_t s = 0; s < n; s++) {
        if (idx[s] == f->fail_at) {
            dlh_error_set("fake.idx: sample %lld is unreadable", (long long)idx[s]);
            return DLH_EIO;
        }
        for (int64_t j = 0; j < numel; j++)
            x[(int64_t)s * numel + j] = fake_value(f, idx[s], j);
        if (y) {
            if (f->info.label_kind == DLH_LABEL_CLASS) {
                y[s] = fake_label(idx[s]);
            } else {
                int64_t ln = dlh_shape_numel(&f->info.label);
                for (int64_t j = 0; j < ln; j++)
                    y[(int64_t)s * ln + j] = (float)(idx[s] * 2 + j);
            }
        }
    }
    return 0;
}

static const dlh_dataset_ops fake_ops = {
    .struct_size = sizeof(dlh_dataset_ops),
    .read = fake_read,
};

static void fake_init(fake *f, int64_t n_samples, int ndim, const int64_t *dims)
{
    memset(f, 0, sizeof *f);
    f->info.struct_size = sizeof f->info;
    f->info.n_samples = n_samples;
    f->info.sample.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        f->info.sample.dim[i] = dims[i];
    f->info.label_kind = DLH_LABEL_CLASS;
    f->info.n_classes = 10;
    f->fail_at = -1;
    f->other_thread = 1;
    pthread_mutex_init(&f->mu, NULL);
}

static int fake_reads(fake *f)
{
    pthread_mutex_lock(&f->mu);
    int r = f->n_reads;
    pthread_mutex_unlock(&f->mu);
    return r;
}

/* Waits up to 5 s for the reader to have been called `want` times. */
static int wait_reads(fake *f, int want)
{
    for (int t = 0; t < 5000; t++) {
        if (fake_reads(f) >= want)
            return 1;
        usleep(1000);
    }
    return 0;
}

/* Runs fn(arg) on a helper thread and waits up to 10 s for it: 1 when it
   returned.  A deadlock is reported and ends the test (the stuck threads
   cannot be cleaned up). */
typedef struct watch {
    void (*fn)(void *);
    void *arg;
    pthread_mutex_t mu;
    int done;
} watch;

static void *watch_main(void *p)
{
    watch *w = p;
    w->fn(w->arg);
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static int returns_within_10s(void (*fn)(void *), void *arg, const char *what)
{
    watch w = { .fn = fn, .arg = arg };
    pthread_t t;
    pthread_mutex_init(&w.mu, NULL);
    if (pthread_create(&t, NULL, watch_main, &w) != 0)
        return 0;
    int done = 0;
    for (int i = 0; i < 10000 && !done; i++) {
        usleep(1000);
        pthread_mutex_lock(&w.mu);
        done = w.done;
        pthread_mutex_unlock(&w.mu);
    }
    if (!done) {
        ok(0, "%s returns (it hung for 10 s)", what);
        printf("Bail out! deadlock in %s\n", what);
        fflush(stdout);
        _exit(1);
    }
    pthread_join(t, NULL);
    pthread_mutex_destroy(&w.mu);
    return 1;
}

static void do_stop(void *b)
{
    dlh_batcher_stop(b);
}

static void do_free(void *b)
{
    dlh_batcher_free(b);
}

/* ---------------------------------------------------------------- naive stats */

/* Statistics computed the obvious way: two passes in double over idx. */
static void naive_stats(const fake *f, int kind, const int64_t *idx, int64_t n,
                        int64_t groups, int64_t stride, double *shift, double *scale)
{
    int64_t numel = dlh_shape_numel(&f->info.sample);
    for (int64_t g = 0; g < groups; g++) {
        double sum = 0, lo = INFINITY, hi = -INFINITY, cnt = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = g * stride; j < (g + 1) * stride; j++) {
                double v = fake_value(f, idx[i], j);
                sum += v;
                cnt++;
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        double mean = sum / cnt, ss = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = g * stride; j < (g + 1) * stride; j++) {
                double d = fake_value(f, idx[i], j) - mean;
                ss += d * d;
            }
        double sd = sqrt(ss / cnt);
        if (kind == DLH_NORM_ZSCORE) {
            shift[g] = mean;
            scale[g] = sd > 0 ? 1.0 / sd : 1.0;
        } else {
            shift[g] = lo;
            scale[g] = hi > lo ? 1.0 / (hi - lo) : 1.0;
        }
    }
    (void)numel;
}

static void test_norm_stats(void)
{
    /* (3, 64, 64): channel groups, 12288 elements, so the 1 MiB chunk holds 21
       samples and 50 samples take three chunks.  (2, 2048): feature groups,
       64 samples a chunk, 150 samples in three chunks. */
    const int64_t chw[3] = { 3, 64, 64 }, feat[2] = { 2, 2048 };
    struct { int ndim; const int64_t *dims; int64_t n; int64_t groups, stride;
             const char *what; } cases[2] = {
        { 3, chw, 50, 3, 64 * 64, "per channel (3,64,64)" },
        { 2, feat, 150, 4096, 1, "per feature (2,2048)" },
    };
    for (int c = 0; c < 2; c++) {
        for (int kind = DLH_NORM_ZSCORE; kind <= DLH_NORM_MINMAX; kind++) {
            const char *kn = kind == DLH_NORM_ZSCORE ? "zscore" : "minmax";
            fake f;
            fake_init(&f, 400, cases[c].ndim, cases[c].dims);
            /* A large offset: a one-pass E[x^2] - E[x]^2 in float would lose
               the spread; the merged-chunk accumulation must not. */
            f.offset = kind == DLH_NORM_ZSCORE ? 10000 : 0;
            int64_t n = cases[c].n, *idx = malloc((size_t)n * sizeof *idx);
            for (int64_t i = 0; i < n; i++)
                idx[i] = (i * 7 + 3) % 400;         /* a subset, out of order */
            dlh_norm nm;
            int rc = dlh_norm_compute(kind, 0.0, &fake_ops, &f, &f.info, idx, n, &nm);
            ok(rc == 0, "%s %s: computed (%s)", kn, cases[c].what, dlh_error_get());
            ok(nm.kind == kind && nm.groups == cases[c].groups &&
               nm.group_stride == cases[c].stride,
               "%s %s: %lld groups of %lld", kn, cases[c].what, (long long)nm.groups,
               (long long)nm.group_stride);
            int64_t groups = cases[c].groups;
            double *sh = malloc((size_t)groups * sizeof *sh);
            double *sc = malloc((size_t)groups * sizeof *sc);
            naive_stats(&f, kind, idx, n, groups, cases[c].stride, sh, sc);
            int bad = 0, ones = 0;
            double worst = 0;
            for (int64_t g = 0; rc == 0 && g < groups; g++) {
                double e1 = fabs(nm.shift[g] - sh[g]) / fmax(1.0, fabs(sh[g]));
                double e2 = fabs(nm.scale[g] - sc[g]) / fmax(1.0, fabs(sc[g]));
                worst = fmax(worst, fmax(e1, e2));
                if (e1 > 1e-6 || e2 > 1e-5)
                    bad++;
                if (sc[g] == 1.0 && nm.scale[g] == 1.0f)
                    ones++;
            }
            ok(rc == 0 && bad == 0, "%s %s: shift and scale match a two-pass naive "
               "computation (worst relative error %.2g)", kn, cases[c].what, worst);
            if (cases[c].stride == 1)
                ok(ones == groups / 11 + (groups % 11 > 5),
                   "%s %s: constant features get scale 1 (%d)", kn, cases[c].what, ones);
            if (c == 0 && kind == DLH_NORM_ZSCORE && rc == 0) {
                /* Spot check one value by hand: channel 0 of this data has a
                   mean near 10000 + 15. */
                ok(nm.shift[0] > 10010.0f && nm.shift[0] < 10025.0f,
                   "zscore channel 0 mean %.3f is near 10000 + 15", nm.shift[0]);
            }
            /* apply = (x - shift) * scale, sample by sample. */
            int64_t numel = dlh_shape_numel(&f.info.sample);
            float *x = malloc((size_t)(2 * numel) * sizeof *x);
            int64_t two[2] = { idx[0], idx[1] };
            fake_read(&f, two, 2, x, NULL);
            dlh_norm_apply(&nm, x, 2, numel, NULL);
            int applied = rc == 0;
            for (int64_t s = 0; applied && s < 2; s++)
                for (int64_t j = 0; j < numel; j++) {
                    int64_t g = j / cases[c].stride;
                    float want = (fake_value(&f, two[s], j) - nm.shift[g]) * nm.scale[g];
                    if (x[s * numel + j] != want) {
                        applied = 0;
                        break;
                    }
                }
            ok(applied, "%s %s: apply gives (x - shift) * scale", kn, cases[c].what);
            free(x);
            free(sh);
            free(sc);
            free(idx);
            dlh_norm_free(&nm);
            pthread_mutex_destroy(&f.mu);
        }
    }
}

static void test_norm_errors(void)
{
    const int64_t dims[1] = { 4 };
    fake f;
    fake_init(&f, 10, 1, dims);
    int64_t idx[3] = { 1, 2, 3 };
    dlh_norm nm;
    int rc = dlh_norm_compute(DLH_NORM_NONE, 0.0, &fake_ops, &f, &f.info, idx, 3, &nm);
    ok(rc == 0 && nm.kind == DLH_NORM_NONE && nm.groups == 0 && !nm.shift,
       "kind none gives an empty set");
    dlh_norm_free(&nm);
    rc = dlh_norm_compute(DLH_NORM_ZSCORE, 0.0, &fake_ops, &f, &f.info, idx, 0, &nm);
    ok(rc == DLH_EINVAL && strstr(dlh_error_get(), "no training samples"),
       "no samples: %s", dlh_error_get());
    idx[1] = 10;
    rc = dlh_norm_compute(DLH_NORM_ZSCORE, 0.0, &fake_ops, &f, &f.info, idx, 3, &nm);
    ok(rc == DLH_ERANGE && strstr(dlh_error_get(), "index 10 (position 1)"),
       "index out of range: %s", dlh_error_get());
    idx[1] = 2;
    f.fail_at = 3;
    rc = dlh_norm_compute(DLH_NORM_MINMAX, 0.0, &fake_ops, &f, &f.info, idx, 3, &nm);
    ok(rc == DLH_EIO && !strcmp(dlh_error_get(), "fake.idx: sample 3 is unreadable") &&
       !nm.shift && !nm.scale, "a reader error comes back with its message: %s",
       dlh_error_get());
    pthread_mutex_destroy(&f.mu);
}

/* ---------------------------------------------------------------- batches */

/* Checks a batch's values against a direct read of its samples, normalised. */
static int batch_matches(fake *f, const dlh_norm *nm, const int64_t *idx,
                         const dlh_batch *bt)
{
    int64_t numel = dlh_shape_numel(&f->info.sample);
    for (int64_t s = 0; s < bt->n; s++) {
        int64_t i = idx[bt->first + s];
        for (int64_t j = 0; j < numel; j++) {
            float want = fake_value(f, i, j);
            if (nm && nm->kind != DLH_NORM_NONE) {
                int64_t g = j / nm->group_stride;
                want = (want - nm->shift[g]) * nm->scale[g];
            }
            if (bt->x[s * numel + j] != want)
                return 0;
        }
        if (bt->y && bt->y[s] != fake_label(i))
            return 0;
    }
    return 1;
}

static void test_order_and_values(void)
{
    const int64_t dims[3] = { 2, 3, 5 };
    fake f;
    fake_init(&f, 103, 3, dims);
    int64_t idx[103];
    for (int i = 0; i < 103; i++)
        idx[i] = (i * 37) % 103;                    /* a permutation */
    dlh_norm nm;
    int rc = dlh_norm_compute(DLH_NORM_ZSCORE, 0.0, &fake_ops, &f, &f.info, idx, 80, &nm);
    ok(rc == 0, "statistics from the first 80 samples");
    f.other_thread = 1;             /* statistics are read on this thread */
    dlh_batcher *b;
    rc = dlh_batcher_new(&fake_ops, &f, &f.info, &nm, 16, &b);
    ok(rc == 0, "batcher created (%s)", dlh_error_get());
    if (rc < 0)
        return;
    for (int pass = 0; pass < 2; pass++) {
        rc = dlh_batcher_start(b, idx, 103, 10, 0, 1, (uint64_t)pass);
        const dlh_batch *bt;
        int64_t k = 0, seen = 0, order = 1, values = 1;
        while ((rc = dlh_batcher_next(b, &bt)) == 0 && bt) {
            if (bt->index != k || bt->first != 10 * k || bt->n != (k < 10 ? 10 : 3))
                order = 0;
            if (!batch_matches(&f, &nm, idx, bt))
                values = 0;
            seen += bt->n;
            k++;
        }
        ok(rc == 0 && k == 11 && seen == 103 && order,
           "pass %d: 11 batches in order, the last of 3, covering 103 samples", pass);
        ok(values, "pass %d: values equal a direct read normalised, labels as read", pass);
        rc = dlh_batcher_next(b, &bt);
        ok(rc == 0 && !bt, "pass %d: after the end, next gives NULL again", pass);
    }
    ok(f.other_thread, "every read ran on the batcher thread");
    /* The reader saw one call per batch, in order. */
    int calls_ok = fake_reads(&f) == 2 * 11 + 1;    /* +1: the stats chunk */
    for (int c = 1; calls_ok && c < f.n_reads; c++)
        if (f.log_first[c] != idx[((c - 1) % 11) * 10] ||
            f.log_n[c] != ((c - 1) % 11 < 10 ? 10 : 3))
            calls_ok = 0;
    ok(calls_ok, "one read per batch, in pass order (%d reads)", f.n_reads);

    /* A pass begun at batch 7 (a resumed epoch): batches 7..10, as before. */
    rc = dlh_batcher_start_at(b, idx, 103, 10, 0, 1, 0, 7);
    {
        const dlh_batch *bt;
        int64_t k = 7, values = 1, order = 1;
        while ((rc = dlh_batcher_next(b, &bt)) == 0 && bt) {
            if (bt->index != k || bt->first != 10 * k || bt->n != (k < 10 ? 10 : 3))
                order = 0;
            if (!batch_matches(&f, &nm, idx, bt))
                values = 0;
            k++;
        }
        ok(rc == 0 && k == 11 && order && values,
           "a pass from batch 7 gives batches 7 to 10 of the whole pass");
    }
    rc = dlh_batcher_start_at(b, idx, 103, 10, 0, 1, 0, 11);
    const dlh_batch *end = (const dlh_batch *)1;
    ok(rc == 0 && dlh_batcher_next(b, &end) == 0 && !end,
       "a pass from its end gives no batch");
    rc = dlh_batcher_start_at(b, idx, 103, 10, 0, 1, 0, 12);
    ok(rc == DLH_EINVAL && strstr(dlh_error_get(), "first batch 12 is outside the pass's "
                                  "0..11"), "a first batch past the end: %s",
       dlh_error_get());

    /* Empty pass. */
    rc = dlh_batcher_start(b, idx, 0, 10, 0, 1, 9);
    const dlh_batch *bt = (const dlh_batch *)1;
    int rc2 = dlh_batcher_next(b, &bt);
    ok(rc == 0 && rc2 == 0 && !bt, "an empty pass ends at once");

    /* Bad arguments. */
    rc = dlh_batcher_start(b, idx, 103, 17, 0, 1, 0);
    ok(rc == DLH_EINVAL && strstr(dlh_error_get(), "batch size 17 is outside 1..16"),
       "batch size over max_batch: %s", dlh_error_get());
    idx[50] = 103;
    rc = dlh_batcher_start(b, idx, 103, 10, 0, 1, 0);
    ok(rc == DLH_ERANGE && strstr(dlh_error_get(), "index 103 (position 50"),
       "sample index out of range: %s", dlh_error_get());
    idx[50] = (50 * 37) % 103;
    dlh_batcher_free(b);

    /* Statistics that do not fit the samples are refused. */
    dlh_norm wrong = nm;
    wrong.groups = 3;
    rc = dlh_batcher_new(&fake_ops, &f, &f.info, &wrong, 16, &b);
    ok(rc == DLH_ESHAPE && !b && strstr(dlh_error_get(), "do not match samples of 30"),
       "mismatched statistics: %s", dlh_error_get());
    dlh_norm_free(&nm);
    pthread_mutex_destroy(&f.mu);
}

static void test_labels(void)
{
    const int64_t dims[1] = { 3 };
    fake f;
    fake_init(&f, 20, 1, dims);
    int64_t idx[20];
    for (int i = 0; i < 20; i++)
        idx[i] = 19 - i;
    /* No labels: y is NULL. */
    f.info.label_kind = DLH_LABEL_NONE;
    dlh_batcher *b;
    int rc = dlh_batcher_new(&fake_ops, &f, &f.info, NULL, 8, &b);
    const dlh_batch *bt = NULL;
    if (rc == 0) {
        dlh_batcher_start(b, idx, 20, 8, 0, 0, 0);
        rc = dlh_batcher_next(b, &bt);
        ok(rc == 0 && bt && !bt->y && batch_matches(&f, NULL, idx, bt),
           "no labels: y is NULL, x as read");
        dlh_batcher_free(b);
    }
    /* Dense labels of shape (2). */
    f.info.label_kind = DLH_LABEL_DENSE;
    f.info.label.ndim = 1;
    f.info.label.dim[0] = 2;
    rc = dlh_batcher_new(&fake_ops, &f, &f.info, NULL, 8, &b);
    if (rc == 0) {
        dlh_batcher_start(b, idx, 20, 8, 0, 0, 0);
        int good = 1, k = 0;
        while (dlh_batcher_next(b, &bt) == 0 && bt) {
            for (int64_t s = 0; s < bt->n; s++)
                for (int j = 0; j < 2; j++)
                    if (bt->y[s * 2 + j] != (float)(idx[bt->first + s] * 2 + j))
                        good = 0;
            k++;
        }
        ok(good && k == 3, "dense labels: n * label numel floats per batch");
        dlh_batcher_free(b);
    }
    pthread_mutex_destroy(&f.mu);
}

static void test_read_ahead(void)
{
    const int64_t dims[1] = { 64 };
    fake f;
    fake_init(&f, 100, 1, dims);
    int64_t idx[100];
    for (int i = 0; i < 100; i++)
        idx[i] = i;
    dlh_batcher *b;
    if (dlh_batcher_new(&fake_ops, &f, &f.info, NULL, 10, &b) < 0) {
        ok(0, "batcher created: %s", dlh_error_get());
        return;
    }
    dlh_batcher_start(b, idx, 100, 10, 0, 0, 0);
    /* Before the caller asks, the thread prepares batches 0 and 1, no more. */
    ok(wait_reads(&f, 2), "the first two batches are read before any next()");
    usleep(100000);
    ok(fake_reads(&f) == 2, "and no third while both buffers are full (%d reads)",
       fake_reads(&f));
    const dlh_batch *b0, *b1;
    dlh_batcher_next(b, &b0);
    const float *x0 = b0 ? b0->x : NULL;    /* b0 is only valid until the next call */
    usleep(50000);
    ok(b0 && b0->index == 0 && fake_reads(&f) == 2,
       "holding batch 0 with batch 1 ready: still 2 reads");
    dlh_batcher_next(b, &b1);
    ok(b1 && b1->index == 1 && wait_reads(&f, 3),
       "batch 0 given back: batch 2 is read while the caller holds batch 1");
    usleep(50000);
    ok(fake_reads(&f) == 3, "exactly one batch ahead (%d reads)", fake_reads(&f));
    ok(batch_matches(&f, NULL, idx, b1),
       "batch 1 is intact after batch 2 was written to the other buffer");
    ok(x0 && b1 && x0 != b1->x, "two buffers alternate");
    pthread_mutex_lock(&f.mu);
    ok(f.log_first[2] == 20 && f.log_n[2] == 10, "the third read was batch 2");
    pthread_mutex_unlock(&f.mu);
    dlh_batcher_free(b);
    ok(f.other_thread, "reads ran on the batcher thread only");
    pthread_mutex_destroy(&f.mu);
}

static void test_errors_and_stop(void)
{
    const int64_t dims[2] = { 4, 4 };
    fake f;
    fake_init(&f, 200, 2, dims);
    int64_t idx[200];
    for (int i = 0; i < 200; i++)
        idx[i] = (i * 3) % 200;
    dlh_batcher *b;
    if (dlh_batcher_new(&fake_ops, &f, &f.info, NULL, 32, &b) < 0) {
        ok(0, "batcher created: %s", dlh_error_get());
        return;
    }
    /* Sample 57 sits at position 19 (19 * 3 = 57): batch 1 of batches of 16. */
    f.fail_at = 57;
    dlh_batcher_start(b, idx, 200, 16, 0, 0, 0);
    const dlh_batch *bt;
    dlh_error_clear();
    int rc0 = dlh_batcher_next(b, &bt);
    ok(rc0 == 0 && bt && bt->index == 0 && batch_matches(&f, NULL, idx, bt),
       "the batch before the failing one comes intact");
    int rc = dlh_batcher_next(b, &bt);
    ok(rc == DLH_EIO && !bt, "the failing batch returns the reader's status");
    ok(!strcmp(dlh_error_get(), "fake.idx: sample 57 is unreadable"),
       "with the reader's message, carried across threads: '%s'", dlh_error_get());
    dlh_error_clear();
    rc = dlh_batcher_next(b, &bt);
    ok(rc == DLH_EIO && strstr(dlh_error_get(), "sample 57"), "the error repeats");
    /* A new pass after the error, without the bad sample, works. */
    f.fail_at = -1;
    rc = dlh_batcher_start(b, idx, 200, 16, 0, 0, 1);
    int k = 0, good = 1;
    while ((rc = dlh_batcher_next(b, &bt)) == 0 && bt) {
        good &= batch_matches(&f, NULL, idx, bt) && bt->index == k;
        k++;
    }
    ok(rc == 0 && k == 13 && good, "a new pass after an error runs to its end");

    /* Stop in the middle, then a pass with other indices and batch size. */
    dlh_batcher_start(b, idx, 200, 16, 0, 0, 2);
    for (int i = 0; i < 3; i++)
        dlh_batcher_next(b, &bt);
    dlh_batcher_stop(b);
    rc = dlh_batcher_next(b, &bt);
    ok(rc == 0 && !bt, "after stop, next gives NULL");
    int64_t idx2[50];
    for (int i = 0; i < 50; i++)
        idx2[i] = 199 - 2 * i;
    dlh_batcher_start(b, idx2, 50, 32, 0, 0, 3);
    k = 0;
    good = 1;
    while ((rc = dlh_batcher_next(b, &bt)) == 0 && bt) {
        good &= batch_matches(&f, NULL, idx2, bt) && bt->index == k &&
                bt->n == (k == 0 ? 32 : 18);
        k++;
    }
    ok(rc == 0 && k == 2 && good, "stopped mid-pass, the next pass is whole and right");

    /* A start while a pass is still running abandons it (slow reader: the
       thread is inside read when the new pass starts). */
    f.delay_us = 20000;
    dlh_batcher_start(b, idx, 200, 16, 0, 0, 4);
    dlh_batcher_next(b, &bt);
    dlh_batcher_start(b, idx2, 50, 10, 0, 0, 5);
    k = 0;
    good = 1;
    while ((rc = dlh_batcher_next(b, &bt)) == 0 && bt) {
        good &= batch_matches(&f, NULL, idx2, bt) && bt->index == k;
        k++;
    }
    ok(rc == 0 && k == 5 && good, "a start during a read drops the old pass's batch");
    /* Stop while the thread is inside a slow read: waits for it, no hang. */
    int before = fake_reads(&f);
    dlh_batcher_start(b, idx, 200, 16, 0, 0, 6);
    wait_reads(&f, before + 1);     /* the read has begun (it logs, then copies) */
    ok(returns_within_10s(do_stop, b, "stop during a read"), "stop during a read returns");
    int after = fake_reads(&f);
    usleep(50000);
    rc = dlh_batcher_next(b, &bt);
    ok(rc == 0 && !bt && fake_reads(&f) == after,
       "after stop the thread is idle (%d reads, then %d) and next gives NULL", after,
       fake_reads(&f));
    f.delay_us = 0;
    dlh_batcher_free(b);

    /* Free while the thread waits with both buffers full. */
    rc = dlh_batcher_new(&fake_ops, &f, &f.info, NULL, 32, &b);
    before = fake_reads(&f);
    dlh_batcher_start(b, idx, 200, 16, 0, 0, 0);
    int full = wait_reads(&f, before + 2);
    ok(rc == 0 && full && returns_within_10s(do_free, b, "free on a full pipeline"),
       "free while the thread waits on a full pipeline returns");
    /* Free in the middle of a pass, the thread inside a slow read. */
    f.delay_us = 30000;
    rc = dlh_batcher_new(&fake_ops, &f, &f.info, NULL, 32, &b);
    dlh_batcher_start(b, idx, 200, 16, 0, 0, 0);
    dlh_batcher_next(b, &bt);
    ok(rc == 0 && returns_within_10s(do_free, b, "free during a read"),
       "free in the middle of a pass, during a read, returns");
    f.delay_us = 0;
    /* Free with no pass ever started. */
    rc = dlh_batcher_new(&fake_ops, &f, &f.info, NULL, 32, &b);
    ok(rc == 0 && returns_within_10s(do_free, b, "free of an idle batcher"),
       "free of a batcher that never started a pass returns");
    dlh_batcher_free(NULL);
    pthread_mutex_destroy(&f.mu);
}

/* ---------------------------------------------------------------- augmenters */

/* An ABI 1.4 augmenter: x[0] of each sample becomes x[0] * mul + add + a
   draw of the sample's own stream, its label gains `ladd`; it records the
   calls and how many threads were in it at once. */
typedef struct aug_rec {
    float mul, add, ladd;
    int fail_at_position;           /* -1: never */
    pthread_mutex_t mu;
    int calls, inside, max_inside;
    int64_t samples;                /* over all calls */
    int64_t max_batch_seen;
    int bad_ctx;                    /* a ctx member was not what the host promises */
} aug_rec;

static void aug_rec_init(aug_rec *r, float mul, float add)
{
    memset(r, 0, sizeof *r);
    r->mul = mul;
    r->add = add;
    r->fail_at_position = -1;
    pthread_mutex_init(&r->mu, NULL);
}

static float aug_draw(uint64_t seed, uint64_t stream)
{
    return dlh_philox_uniform(seed, stream, 0, 0.0f, 1.0f);
}

static int aug_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    aug_rec *r = state;
    pthread_mutex_lock(&r->mu);
    r->calls++;
    r->inside++;
    if (r->inside > r->max_inside)
        r->max_inside = r->inside;
    r->samples += ctx->batch;
    if (ctx->batch > r->max_batch_seen)
        r->max_batch_seen = ctx->batch;
    if (ctx->struct_size < sizeof *ctx || !ctx->streams || ctx->stream != ctx->streams[0] ||
        ctx->label_numel != 1 || !ctx->y)
        r->bad_ctx = 1;
    pthread_mutex_unlock(&r->mu);
    usleep(200);                    /* long enough for other workers to overlap */
    int rc = 0;
    for (int64_t i = 0; i < ctx->batch; i++) {
        if (ctx->first_sample + i == r->fail_at_position) {
            dlh_error_set("noise: stddev went negative");
            rc = DLH_ERANGE;
            break;
        }
        x[i * 4] = x[i * 4] * r->mul + r->add + aug_draw(ctx->seed, ctx->streams[i]);
        if (ctx->y)
            ctx->y[i] += r->ladd;
    }
    pthread_mutex_lock(&r->mu);
    r->inside--;
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static int aug_create_ex(const dlh_host *host, dlh_params *params, dlh_augment_info *info,
                         void **state)
{
    (void)host, (void)params, (void)info, (void)state;
    return 0;
}

static const dlh_augmenter_ops aug_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = aug_apply,
    .create_ex = aug_create_ex,
};

/* The same, built against ABI 1.0: no create_ex, and ctx ends at
   first_sample as far as it knows. */
static int legacy_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    aug_rec *r = state;
    pthread_mutex_lock(&r->mu);
    r->calls++;
    r->inside++;
    if (r->inside > r->max_inside)
        r->max_inside = r->inside;
    r->samples += ctx->batch;
    if (ctx->batch > r->max_batch_seen)
        r->max_batch_seen = ctx->batch;
    pthread_mutex_unlock(&r->mu);
    usleep(50);
    for (int64_t i = 0; i < ctx->batch; i++)
        x[i * 4] = x[i * 4] * r->mul + r->add + aug_draw(ctx->seed, ctx->stream);
    pthread_mutex_lock(&r->mu);
    r->inside--;
    pthread_mutex_unlock(&r->mu);
    return 0;
}

static const dlh_augmenter_ops legacy_ops = {
    .struct_size = offsetof(dlh_augmenter_ops, destroy) + sizeof(void (*)(void *)),
    .apply = legacy_apply,
};

/* All batches of a pass over idx[0..n) in batches of bs with the given
   augmenters and workers, copied into x (n * 4) and y (n). */
static int aug_pass(fake *f, const dlh_norm *nm, const int64_t *idx, int64_t n, int64_t bs,
                    const dlh_augment_inst *aug, int n_aug, int workers, uint64_t epoch,
                    float *x, float *y, char *err, size_t err_size)
{
    dlh_batcher *b;
    int rc = dlh_batcher_new(&fake_ops, f, &f->info, nm, bs, &b);
    if (rc == 0)
        rc = dlh_batcher_set_augment(b, aug, n_aug, workers, 0);
    if (rc == 0)
        rc = dlh_batcher_start(b, idx, n, bs, 1, 77, epoch);
    const dlh_batch *bt;
    while (rc == 0 && (rc = dlh_batcher_next(b, &bt)) == 0 && bt) {
        memcpy(x + bt->first * 4, bt->x, (size_t)bt->n * 4 * sizeof(float));
        memcpy(y + bt->first, bt->y, (size_t)bt->n * sizeof(float));
    }
    if (rc && err)
        snprintf(err, err_size, "%s", dlh_error_get());
    dlh_batcher_free(b);
    return rc;
}

static void test_augment(void)
{
    const int64_t dims[3] = { 1, 2, 2 };
    fake f;
    fake_init(&f, 30, 3, dims);
    int64_t idx[30];
    for (int i = 0; i < 30; i++)
        idx[i] = (i * 7) % 30;
    dlh_norm nm;
    dlh_norm_compute(DLH_NORM_MINMAX, 0.0, &fake_ops, &f, &f.info, idx, 30, &nm);
    aug_rec r1, r2, rl;
    aug_rec_init(&r1, 2.0f, 0.0f);
    aug_rec_init(&r2, 1.0f, 1000.0f);
    aug_rec_init(&rl, 1.0f, -10.0f);
    r1.ladd = 0.5f;
    dlh_augment_inst aug[3] = { { .ops = &aug_ops, .state = &r1, .type = "double" },
                                { .ops = &aug_ops, .state = &r2, .type = "shift" },
                                { .ops = &legacy_ops, .state = &rl, .type = "legacy" } };
    float x1[30 * 4], y1[30], x2[30 * 4], y2[30], x3[30 * 4], y3[30];
    char err[512] = "";

    int rc = aug_pass(&f, &nm, idx, 30, 8, aug, 3, 1, 4, x1, y1, err, sizeof err);
    ok(rc == 0, "a pass with three augmenters, one worker (%s)", err);
    /* Each sample: normalised, then (v * 2 + u1) + 1000 + u2 - 10 + u3, the
       u's from the sample's own streams (seed 77, epoch 4, position p, j). */
    int values = 1, labels = 1, rest = 1;
    for (int p = 0; p < 30; p++) {
        float v = (fake_value(&f, idx[p], 0) - nm.shift[0]) * nm.scale[0];
        v = v * 2.0f + aug_draw(77, dlh_augment_stream(4, p, 0));
        v = v + 1000.0f + aug_draw(77, dlh_augment_stream(4, p, 1));
        v = v - 10.0f + aug_draw(77, dlh_augment_stream(4, p, 2));
        values &= x1[p * 4] == v;
        labels &= y1[p] == fake_label(idx[p]) + 0.5f;
        for (int j = 1; j < 4; j++)
            rest &= x1[p * 4 + j] == (fake_value(&f, idx[p], j) - nm.shift[0]) * nm.scale[0];
    }
    ok(values, "every sample went through the augmenters in order, each drawing from "
       "(seed, epoch, position, augmenter)");
    ok(labels, "an augmenter may change the labels");
    ok(rest, "elements the augmenters leave alone are the normalised data");
    ok(!r1.bad_ctx && !r2.bad_ctx, "an ABI 1.4 augmenter gets streams, labels and "
       "label_numel");
    ok(r1.max_batch_seen == 8 && rl.max_batch_seen == 1 && rl.samples == 30,
       "ABI 1.4 augmenters get runs of samples, ABI 1.0 ones one sample at a time");
    ok(dlh_augment_stream(4, 0, 0) != dlh_augment_stream(4, 0, 1) &&
       dlh_augment_stream(4, 0, 0) != dlh_augment_stream(4, 1, 0) &&
       dlh_augment_stream(4, 0, 0) != dlh_augment_stream(5, 0, 0),
       "augmenters, positions and epochs draw from distinct streams");

    aug_rec_init(&r1, 2.0f, 0.0f);
    r1.ladd = 0.5f;
    aug_rec_init(&rl, 1.0f, -10.0f);
    rc = aug_pass(&f, &nm, idx, 30, 5, aug, 3, 1, 4, x2, y2, err, sizeof err);
    ok(rc == 0 && !memcmp(x1, x2, sizeof x1) && !memcmp(y1, y2, sizeof y1),
       "batches of 5 give every sample what batches of 8 gave it, bit for bit");

    aug_rec_init(&r1, 2.0f, 0.0f);
    r1.ladd = 0.5f;
    aug_rec_init(&rl, 1.0f, -10.0f);
    rc = aug_pass(&f, &nm, idx, 30, 8, aug, 3, 3, 4, x3, y3, err, sizeof err);
    ok(rc == 0 && !memcmp(x1, x3, sizeof x1) && !memcmp(y1, y3, sizeof y1),
       "three workers give what one gave, bit for bit");
    ok(r1.max_inside > 1, "three workers run an ABI 1.4 augmenter at once (%d)",
       r1.max_inside);
    ok(rl.max_inside == 1, "an ABI 1.0 augmenter is never run by two threads at once");

    aug_rec_init(&r1, 2.0f, 0.0f);
    rc = aug_pass(&f, &nm, idx, 30, 8, aug, 3, 1, 5, x2, y2, err, sizeof err);
    ok(rc == 0 && memcmp(x1, x2, sizeof x1), "another epoch draws other numbers");

    /* A pass started without `augment` (validation, test) runs none. */
    dlh_batcher *b;
    dlh_batcher_new(&fake_ops, &f, &f.info, &nm, 8, &b);
    dlh_batcher_set_augment(b, aug, 3, 2, 0);
    aug_rec_init(&r1, 2.0f, 0.0f);
    dlh_batcher_start(b, idx, 30, 8, 0, 77, 5);
    const dlh_batch *bt;
    values = 1;
    while (dlh_batcher_next(b, &bt) == 0 && bt)
        values &= batch_matches(&f, &nm, idx, bt);
    ok(r1.calls == 0 && values, "a pass without augment leaves the data as normalised");

    /* Augmenters do not change under a running pass. */
    dlh_batcher_start(b, idx, 30, 8, 1, 77, 5);
    dlh_batcher_next(b, &bt);
    rc = dlh_batcher_set_augment(b, aug, 2, 1, 0);
    ok(rc == DLH_EINVAL && strstr(dlh_error_get(), "while a pass runs"),
       "set_augment during a pass: DLH_EINVAL (%s)", dlh_error_get());
    dlh_batcher_stop(b);

    /* An augmenter's error comes back after the batches before it, located:
       the augmenter's number, name and the samples of the failing run. */
    aug_rec_init(&r2, 1.0f, 1000.0f);
    r2.fail_at_position = 11;
    dlh_batcher_set_augment(b, aug, 3, 2, 0);
    dlh_batcher_start(b, idx, 30, 8, 1, 77, 6);
    int rc0 = dlh_batcher_next(b, &bt);
    rc = dlh_batcher_next(b, &bt);
    ok(rc0 == 0 && rc == DLH_ERANGE &&
       !strcmp(dlh_error_get(), "augmenter 2 'shift' on samples 8..11 of the epoch: "
               "noise: stddev went negative"),
       "an augmenter error propagates with its place: %s", dlh_error_get());
    dlh_batcher_free(b);
    dlh_norm_free(&nm);
    pthread_mutex_destroy(&r1.mu);
    pthread_mutex_destroy(&r2.mu);
    pthread_mutex_destroy(&rl.mu);
    pthread_mutex_destroy(&f.mu);
}

/* Batches written into two buffers of the caller's (a backend's memory the
   host may address): alternating, intact, and no change mid-pass. */
static void test_x_buffers(void)
{
    const int64_t dims[1] = { 5 };
    fake f;
    fake_init(&f, 30, 1, dims);
    int64_t idx[30];
    for (int i = 0; i < 30; i++)
        idx[i] = (i * 7) % 30;
    float x0[8 * 5], x1[8 * 5];
    dlh_batcher *b;
    if (dlh_batcher_new(&fake_ops, &f, &f.info, NULL, 8, &b) < 0) {
        ok(0, "batcher created: %s", dlh_error_get());
        return;
    }
    int rc = dlh_batcher_set_x_buffers(b, x0, x1);
    ok(rc == 0, "set_x_buffers while idle (%s)", rc ? dlh_error_get() : "");
    dlh_batcher_start(b, idx, 30, 8, 0, 0, 0);
    const dlh_batch *bt;
    int k = 0, placed = 1, good = 1;
    while (dlh_batcher_next(b, &bt) == 0 && bt) {
        const float *want = k % 2 ? x1 : x0;
        placed &= bt->x == want && bt->buffer == k % 2;
        good &= batch_matches(&f, NULL, idx, bt);
        if (k == 0) {
            rc = dlh_batcher_set_x_buffers(b, x1, x0);
            ok(rc == DLH_EINVAL && strstr(dlh_error_get(), "while a pass runs"),
               "set_x_buffers during a pass: DLH_EINVAL (%s)", dlh_error_get());
        }
        k++;
    }
    ok(k == 4 && placed, "batches alternate between the two given buffers (%d batches)",
       k);
    ok(good, "and hold the samples as read");
    ok(dlh_batcher_set_x_buffers(b, x0, NULL) == DLH_EINVAL,
       "set_x_buffers with a NULL buffer: DLH_EINVAL");
    dlh_batcher_free(b);
    pthread_mutex_destroy(&f.mu);
}

int main(void)
{
    main_thread = pthread_self();
    test_norm_stats();
    test_norm_errors();
    test_order_and_values();
    test_labels();
    test_read_ahead();
    test_errors_and_stop();
    test_augment();
    test_x_buffers();
    return done_testing();
}
