/* The data loader thread and the normalisation statistics.
 *
 * One pthread per batcher.  The pass is a counter protocol under one mutex:
 * the thread prepares batch `produced` into slot produced % 2 while
 * produced < released + 2, where `released` counts the batches the caller has
 * given back (a batch is given back by the next call of dlh_batcher_next, or
 * by stop/start).  So the caller's current batch k sits in one slot while the
 * thread fills k + 1 into the other, and never further ahead.  The reader,
 * the normalisation and the augmenters run with the mutex released; a
 * generation number, bumped by every start and stop, makes the thread drop a
 * batch that belongs to a pass abandoned while it was being read.
 *
 * Order within a batch: read, normalise, then augment, so augmenter settings
 * (noise stddev, fill values) are in normalised units, as with a layer that
 * sits at the model's input. */
#include "batcher.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "registry.h"
#include "whiten.h"

/* Bytes of the chunk buffer dlh_norm_compute reads through. */
#define NORM_CHUNK_BYTES ((size_t)1 << 20)
#define BATCHER_MSG_MAX 4096

struct dlh_batcher {
    const dlh_dataset_ops *ops;
    void *state;
    dlh_dataset_info info;
    const dlh_norm *norm;
    int64_t max_batch, x_numel, y_numel;   /* y_numel 0: no labels */
    float *xbuf[2], *ybuf[2];
    float *wbuf[2];                 /* sample weights, when the reader gives them */
    float *scratch;                 /* whitening: max_batch samples */
    dlh_augment_pool *pool;         /* NULL: no augmenters; used by the thread only */
    int64_t prob_classes;           /* the pool's: augmenting passes give rows */
    int x_borrowed;                 /* xbuf set by dlh_batcher_set_x_buffers */
    dlh_batch slot[2];

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work;            /* the thread waits here for something to do */
    pthread_cond_t ready;           /* the caller waits here for a batch or idleness */

    /* Everything below is guarded by mu. */
    int quit, active, busy;
    uint64_t generation;
    const int64_t *idx;
    int64_t n, batch_size, n_batches;
    int64_t produced, handed, released;
    int augment;                    /* this pass applies the pool */
    uint64_t seed, epoch;
    int err;                        /* sticky until the next start/stop */
    char errmsg[BATCHER_MSG_MAX];
};

/* ---------------------------------------------------------------- norm */

void dlh_norm_free(dlh_norm *n)
{
    if (!n)
        return;
    free(n->shift);
    free(n->scale);
    free(n->mean);
    free(n->whiten);
    memset(n, 0, sizeof *n);
}

void dlh_norm_apply(const dlh_norm *n, float *x, int64_t count, int64_t sample_numel,
                    float *scratch)
{
    if (n && DLH_NORM_WHITENS(n->kind)) {
        /* dlh_batcher_new refuses statistics of another sample size. */
        if (n->dim == sample_numel && scratch)
            dlh_whiten_apply(n, x, count, scratch);
        return;
    }
    if (!n || n->kind == DLH_NORM_NONE || n->groups <= 0 || n->group_stride <= 0)
        return;
    /* A statistics set that does not cover the sample exactly is refused by
       dlh_batcher_new; here it is only kept inside the sample. */
    int64_t groups = n->groups;
    if (groups > sample_numel / n->group_stride)
        groups = sample_numel / n->group_stride;
    for (int64_t s = 0; s < count; s++) {
        float *p = x + s * sample_numel;
        if (n->group_stride == 1) {         /* per feature */
            const float *sh = n->shift, *sc = n->scale;
            #pragma omp simd
            for (int64_t g = 0; g < groups; g++)
                p[g] = (p[g] - sh[g]) * sc[g];
            continue;
        }
        for (int64_t g = 0; g < groups; g++) {
            const float sh = n->shift[g], sc = n->scale[g];
            #pragma omp simd
            for (int64_t j = 0; j < n->group_stride; j++)
                p[j] = (p[j] - sh) * sc;
            p += n->group_stride;
        }
    }
}

void dlh_norm_layout(const dlh_shape *s, int64_t numel, int64_t *groups, int64_t *stride)
{
    if (s->ndim == 3 && s->dim[0] > 0) {
        *groups = s->dim[0];
        *stride = s->dim[1] * s->dim[2];
    } else {
        *groups = numel;
        *stride = 1;
    }
}

/* 1/spread as a float, or 1 where the spread is zero or too small to invert
   in float (a constant feature is left unscaled rather than blown up). */
static float norm_inverse(double spread)
{
    if (!(spread > 0.0))
        return 1.0f;
    float r = (float)(1.0 / spread);
    return isfinite(r) ? r : 1.0f;
}

int dlh_norm_read_chunk(const dlh_dataset_ops *ops, void *state, const int64_t *idx,
                        int64_t first, int64_t m, int64_t numel, float *buf)
{
    dlh_error_clear();
    int rc = ops->read(state, idx + first, (size_t)m, buf, NULL);
    if (rc > 0) {
        dlh_error_set("normalisation: the dataset reader returned %d, which is not a "
                      "status code", rc);
        return DLH_EPLUGIN;
    }
    if (rc < 0) {
        if (!*dlh_error_get())
            dlh_error_set("normalisation: reading samples failed (%s)", dlh_strerror(rc));
        return rc;
    }
    for (int64_t s = 0; s < m; s++)
        for (int64_t j = 0; j < numel; j++)
            if (!isfinite(buf[s * numel + j])) {
                dlh_error_set("normalisation: sample %lld has a non-finite value at "
                              "element %lld", (long long)idx[first + s], (long long)j);
                return DLH_EDATA;
            }
    return 0;
}

int dlh_norm_compute(dlh_norm_kind kind, double eps, const dlh_dataset_ops *ops,
                     void *state, const dlh_dataset_info *info, const int64_t *idx,
                     int64_t n, dlh_norm *out)
{
    if (!out || !ops || !ops->read || !info || (n > 0 && !idx)) {
        dlh_error_set("normalisation: missing reader, info, indices or output");
        return DLH_EINVAL;
    }
    memset(out, 0, sizeof *out);
    if (kind == DLH_NORM_NONE)
        return 0;
    if (kind != DLH_NORM_ZSCORE && kind != DLH_NORM_MINMAX && !DLH_NORM_WHITENS(kind)) {
        dlh_error_set("normalisation: unknown kind %d", (int)kind);
        return DLH_EINVAL;
    }
    if (n <= 0) {
        dlh_error_set("normalisation: no training samples to compute statistics from");
        return DLH_EINVAL;
    }
    int64_t numel = dlh_shape_numel(&info->sample);
    if (info->sample.ndim < 0 || info->sample.ndim > DLH_MAX_DIMS || numel <= 0 ||
        (uint64_t)numel > SIZE_MAX / sizeof(double) / 4) {
        dlh_error_set("normalisation: bad per-sample shape (%lld elements)",
                      (long long)numel);
        return DLH_EINVAL;
    }
    for (int64_t i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= info->n_samples) {
            dlh_error_set("normalisation: sample index %lld (position %lld) is outside "
                          "the dataset's %lld samples", (long long)idx[i],
                          (long long)i, (long long)info->n_samples);
            return DLH_ERANGE;
        }
    }
    if (DLH_NORM_WHITENS(kind))
        return dlh_whiten_compute(kind, eps, ops, state, info, idx, n, out);
    int64_t groups, stride;
    dlh_norm_layout(&info->sample, numel, &groups, &stride);

    int64_t chunk = (int64_t)(NORM_CHUNK_BYTES / sizeof(float)) / numel;
    if (chunk < 1)
        chunk = 1;
    if (chunk > n)
        chunk = n;
    float *buf = malloc((size_t)chunk * (size_t)numel * sizeof(float));
    /* zscore: running mean and sum of squared deviations (a, b), and the
       chunk's sums (c) merged in with Chan et al.'s pairwise update, stable
       where E[x^2] - E[x]^2 would cancel; d holds the chunk's squared
       deviations from its own mean.  minmax: min in a, max in b. */
    double *a = malloc((size_t)groups * sizeof(double));
    double *bb = malloc((size_t)groups * sizeof(double));
    double *c = malloc((size_t)groups * sizeof(double));
    double *d = malloc((size_t)groups * sizeof(double));
    out->shift = malloc((size_t)groups * sizeof(float));
    out->scale = malloc((size_t)groups * sizeof(float));
    int rc = 0;
    if (!buf || !a || !bb || !c || !d || !out->shift || !out->scale) {
        dlh_error_set("normalisation: out of memory");
        rc = DLH_ENOMEM;
        goto done;
    }
    for (int64_t g = 0; g < groups; g++) {
        a[g] = kind == DLH_NORM_MINMAX ? INFINITY : 0.0;
        bb[g] = kind == DLH_NORM_MINMAX ? -INFINITY : 0.0;
    }
    double count = 0.0;             /* values per group so far */
    for (int64_t first = 0; first < n; first += chunk) {
        int64_t m = n - first < chunk ? n - first : chunk;
        if ((rc = dlh_norm_read_chunk(ops, state, idx, first, m, numel, buf)))
            goto done;
        if (kind == DLH_NORM_MINMAX) {
            for (int64_t s = 0; s < m; s++) {
                const float *p = buf + s * numel;
                for (int64_t g = 0; g < groups; g++)
                    for (int64_t j = 0; j < stride; j++, p++) {
                        if (*p < a[g])
                            a[g] = *p;
                        if (*p > bb[g])
                            bb[g] = *p;
                    }
            }
            continue;
        }
        double cm = (double)m * (double)stride;     /* values per group here */
        memset(c, 0, (size_t)groups * sizeof(double));
        for (int64_t s = 0; s < m; s++) {
            const float *p = buf + s * numel;
            for (int64_t g = 0; g < groups; g++)
                for (int64_t j = 0; j < stride; j++, p++)
                    c[g] += *p;
        }
        for (int64_t g = 0; g < groups; g++) {
            c[g] /= cm;                             /* the chunk's mean */
            d[g] = 0.0;
        }
        for (int64_t s = 0; s < m; s++) {
            const float *p = buf + s * numel;
            for (int64_t g = 0; g < groups; g++)
                for (int64_t j = 0; j < stride; j++, p++) {
                    double dev = *p - c[g];
                    d[g] += dev * dev;
                }
        }
        for (int64_t g = 0; g < groups; g++) {
            double delta = c[g] - a[g], tot = count + cm;
            a[g] += delta * (cm / tot);
            bb[g] += d[g] + delta * delta * (count * cm / tot);
        }
        count += cm;
    }
    out->kind = kind;
    out->groups = groups;
    out->group_stride = stride;
    for (int64_t g = 0; g < groups; g++) {
        out->shift[g] = (float)a[g];
        out->scale[g] = norm_inverse(kind == DLH_NORM_MINMAX ? bb[g] - a[g]
                                                             : sqrt(bb[g] / count));
    }
done:
    free(buf);
    free(a);
    free(bb);
    free(c);
    free(d);
    if (rc < 0)
        dlh_norm_free(out);
    return rc;
}

int dlh_read_labels(const dlh_dataset_ops *ops, void *state, const dlh_dataset_info *info,
                    const int64_t *idx, int64_t n, const char *label, float *labels)
{
    int64_t numel = dlh_shape_numel(&info->sample);
    int64_t chunk = (int64_t)(NORM_CHUNK_BYTES / sizeof(float)) / (numel > 0 ? numel : 1);
    chunk = chunk < 1 ? 1 : chunk > n ? n : chunk;
    float *x = malloc((size_t)(chunk * numel) * sizeof *x);
    int64_t *ids = idx ? NULL : malloc((size_t)chunk * sizeof *ids);
    int rc = 0;
    if (!x || (!idx && !ids)) {
        dlh_error_set("%s: out of memory", label);
        rc = DLH_ENOMEM;
    }
    for (int64_t first = 0; rc == 0 && first < n; first += chunk) {
        int64_t m = n - first < chunk ? n - first : chunk;
        for (int64_t i = 0; ids && i < m; i++)
            ids[i] = first + i;
        dlh_error_clear();
        rc = ops->read(state, idx ? idx + first : ids, (size_t)m, x, labels + first);
        if (rc > 0)
            rc = DLH_EPLUGIN;
        if (rc < 0) {
            if (!*dlh_error_get())
                dlh_error_set("reading labels failed (%s)", dlh_strerror(rc));
            dlh_error_prefix("%s: ", label);
        }
    }
    free(x);
    free(ids);
    return rc;
}

/* ---------------------------------------------------------------- thread */

/* Fills slot k % 2 with batch k of the pass described by the arguments
   (copied out of the batcher under the mutex).  Runs unlocked. */
static int batcher_prepare(dlh_batcher *b, int64_t k, const int64_t *idx, int64_t n,
                           int64_t bs, int augment, uint64_t seed, uint64_t epoch)
{
    int64_t first = k * bs, cnt = n - first < bs ? n - first : bs;
    int s = (int)(k & 1);
    float *x = b->xbuf[s], *y = b->ybuf[s];
    dlh_error_clear();
    int rc = b->ops->read(b->state, idx + first, (size_t)cnt, x, y);
    if (rc > 0) {
        dlh_error_set("dataset reader returned %d, which is not a status code", rc);
        return DLH_EPLUGIN;
    }
    if (rc < 0) {
        if (!*dlh_error_get())
            dlh_error_set("dataset read of samples %lld..%lld of the pass failed (%s)",
                          (long long)first, (long long)(first + cnt - 1),
                          dlh_strerror(rc));
        return rc;
    }
    float *w = b->wbuf[s];
    if (w) {
        dlh_error_clear();
        if ((rc = b->ops->read_weights(b->state, idx + first, (size_t)cnt, w)) != 0) {
            if (rc > 0)
                rc = DLH_EPLUGIN;
            if (!*dlh_error_get())
                dlh_error_set("reading the weights of samples %lld..%lld of the pass "
                              "failed (%s)", (long long)first, (long long)(first + cnt - 1),
                              dlh_strerror(rc));
            return rc;
        }
        for (int64_t i = 0; i < cnt; i++) {
            if (!(w[i] >= 0.0f) || !isfinite(w[i])) {
                dlh_error_set("sample %lld has weight %g; sample weights must be finite "
                              "and >= 0", (long long)idx[first + i], (double)w[i]);
                return DLH_EDATA;
            }
        }
    }
    dlh_norm_apply(b->norm, x, cnt, b->x_numel, b->scratch);
    int soft = augment && b->pool && b->prob_classes > 0;
    if (augment && b->pool &&
        (rc = dlh_augment_pool_run(b->pool, x, y, cnt, first, seed, epoch)) < 0)
        return rc;
    b->slot[s].n = cnt;
    b->slot[s].first = first;
    b->slot[s].index = k;
    b->slot[s].x = x;
    b->slot[s].y = y;
    b->slot[s].buffer = s;
    b->slot[s].soft = soft;
    b->slot[s].w = w;
    return 0;
}

static void *batcher_main(void *arg)
{
    dlh_batcher *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->quit && !(b->active && !b->err && b->produced < b->n_batches &&
                             b->produced < b->released + 2))
            pthread_cond_wait(&b->work, &b->mu);
        if (b->quit)
            break;
        int64_t k = b->produced;
        uint64_t gen = b->generation;
        const int64_t *idx = b->idx;
        int64_t n = b->n, bs = b->batch_size;
        int augment = b->augment;
        uint64_t seed = b->seed, epoch = b->epoch;
        b->busy = 1;
        pthread_mutex_unlock(&b->mu);

        int rc = batcher_prepare(b, k, idx, n, bs, augment, seed, epoch);

        pthread_mutex_lock(&b->mu);
        b->busy = 0;
        if (gen == b->generation) {
            if (rc < 0) {
                b->err = rc;
                /* The message is thread-local: carry it to the caller. */
                snprintf(b->errmsg, sizeof b->errmsg, "%s", dlh_error_get());
            } else {
                b->produced++;
            }
        }
        pthread_cond_broadcast(&b->ready);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---------------------------------------------------------------- API */

int dlh_batcher_new(const dlh_dataset_ops *ops, void *state, const dlh_dataset_info *info,
                    const dlh_norm *norm, int64_t max_batch, dlh_batcher **out)
{
    if (!out || !ops || !ops->read || !info) {
        dlh_error_set("batcher: missing reader, dataset info or output");
        return DLH_EINVAL;
    }
    *out = NULL;
    if (max_batch < 1) {
        dlh_error_set("batcher: batch size %lld must be at least 1", (long long)max_batch);
        return DLH_EINVAL;
    }
    int64_t x_numel = dlh_shape_numel(&info->sample), y_numel = 0;
    if (info->sample.ndim < 0 || info->sample.ndim > DLH_MAX_DIMS || x_numel <= 0) {
        dlh_error_set("batcher: bad per-sample shape (%lld elements)", (long long)x_numel);
        return DLH_EINVAL;
    }
    if (info->label_kind == DLH_LABEL_CLASS) {
        y_numel = 1;
    } else if (info->label_kind == DLH_LABEL_DENSE) {
        y_numel = dlh_shape_numel(&info->label);
        if (info->label.ndim < 0 || info->label.ndim > DLH_MAX_DIMS || y_numel <= 0) {
            dlh_error_set("batcher: bad per-sample label shape (%lld elements)",
                          (long long)y_numel);
            return DLH_EINVAL;
        }
    } else if (info->label_kind != DLH_LABEL_NONE) {
        dlh_error_set("batcher: unknown label kind %d", (int)info->label_kind);
        return DLH_EINVAL;
    }
    if (norm && DLH_NORM_WHITENS(norm->kind) &&
        (norm->dim != x_numel || !norm->mean || !norm->whiten)) {
        dlh_error_set("batcher: whitening statistics of %lld features do not match "
                      "samples of %lld elements", (long long)norm->dim, (long long)x_numel);
        return DLH_ESHAPE;
    }
    if (norm && norm->kind != DLH_NORM_NONE && !DLH_NORM_WHITENS(norm->kind) &&
        (norm->groups <= 0 || norm->group_stride <= 0 || !norm->shift || !norm->scale ||
         norm->groups > x_numel / norm->group_stride ||
         norm->groups * norm->group_stride != x_numel)) {
        dlh_error_set("batcher: normalisation statistics (%lld groups of %lld) do not "
                      "match samples of %lld elements", (long long)norm->groups,
                      (long long)norm->group_stride, (long long)x_numel);
        return DLH_ESHAPE;
    }
    /* Weights: a reader that says it has them and can give them (ABI 1.4). */
    int weights = info->struct_size >= offsetof(dlh_dataset_info, sample_weights) +
                                       sizeof info->sample_weights &&
                  info->sample_weights && ops->read_weights;
    int64_t per = x_numel > y_numel ? x_numel : y_numel;
    if ((uint64_t)max_batch > (SIZE_MAX / sizeof(float) / 2) / (uint64_t)per) {
        dlh_error_set("batcher: %lld samples of %lld elements do not fit in memory",
                      (long long)max_batch, (long long)per);
        return DLH_ENOMEM;
    }

    dlh_batcher *b = calloc(1, sizeof *b);
    if (!b) {
        dlh_error_set("batcher: out of memory");
        return DLH_ENOMEM;
    }
    b->ops = ops;
    b->state = state;
    b->info = *info;
    b->norm = norm && norm->kind != DLH_NORM_NONE ? norm : NULL;
    b->max_batch = max_batch;
    b->x_numel = x_numel;
    b->y_numel = y_numel;
    for (int s = 0; s < 2; s++) {
        b->xbuf[s] = malloc((size_t)max_batch * (size_t)x_numel * sizeof(float));
        if (y_numel)
            b->ybuf[s] = malloc((size_t)max_batch * (size_t)y_numel * sizeof(float));
        if (weights)
            b->wbuf[s] = malloc((size_t)max_batch * sizeof(float));
        if (s == 0 && b->norm && DLH_NORM_WHITENS(b->norm->kind))
            b->scratch = malloc((size_t)max_batch * (size_t)x_numel * sizeof(float));
        if (!b->xbuf[s] || (y_numel && !b->ybuf[s]) || (weights && !b->wbuf[s]) ||
            (b->norm && DLH_NORM_WHITENS(b->norm->kind) && !b->scratch)) {
            for (int t = 0; t <= s; t++) {
                free(b->xbuf[t]);
                free(b->ybuf[t]);
                free(b->wbuf[t]);
            }
            free(b->scratch);
            free(b);
            dlh_error_set("batcher: out of memory for two batches of %lld samples",
                          (long long)max_batch);
            return DLH_ENOMEM;
        }
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->work, NULL);
    pthread_cond_init(&b->ready, NULL);
    /* Signals (Ctrl-C on a run) go to the training thread, never to this one. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&b->thread, NULL, batcher_main, b);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        pthread_cond_destroy(&b->ready);
        pthread_cond_destroy(&b->work);
        pthread_mutex_destroy(&b->mu);
        for (int s = 0; s < 2; s++) {
            free(b->xbuf[s]);
            free(b->ybuf[s]);
            free(b->wbuf[s]);
        }
        free(b);
        dlh_error_set("batcher: cannot start the loader thread (%s)", strerror(e));
        return DLH_ENOMEM;
    }
    *out = b;
    return 0;
}

/* Abandons the pass and waits until the thread holds no batch.  Locked. */
static void batcher_stop_locked(dlh_batcher *b)
{
    b->active = 0;
    b->generation++;
    b->err = 0;
    b->errmsg[0] = '\0';
    while (b->busy)
        pthread_cond_wait(&b->ready, &b->mu);
}

void dlh_batcher_free(dlh_batcher *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->quit = 1;
    b->active = 0;
    b->generation++;
    pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    pthread_cond_destroy(&b->ready);
    pthread_cond_destroy(&b->work);
    pthread_mutex_destroy(&b->mu);
    for (int s = 0; s < 2; s++) {
        if (!b->x_borrowed)
            free(b->xbuf[s]);
        free(b->ybuf[s]);
        free(b->wbuf[s]);
    }
    free(b->scratch);
    dlh_augment_pool_free(b->pool);
    free(b);
}

int dlh_batcher_set_x_buffers(dlh_batcher *b, float *x0, float *x1)
{
    if (!x0 || !x1) {
        dlh_error_set("batcher: two x buffers expected");
        return DLH_EINVAL;
    }
    pthread_mutex_lock(&b->mu);
    int idle = !b->active && !b->busy;
    if (idle) {
        for (int s = 0; s < 2; s++)
            if (!b->x_borrowed)
                free(b->xbuf[s]);
        b->xbuf[0] = x0;
        b->xbuf[1] = x1;
        b->x_borrowed = 1;
    }
    pthread_mutex_unlock(&b->mu);
    if (!idle) {
        dlh_error_set("batcher: x buffers cannot change while a pass runs");
        return DLH_EINVAL;
    }
    return 0;
}

int dlh_batcher_set_augment(dlh_batcher *b, const dlh_augment_inst *aug, int n_aug,
                            int workers, int64_t prob_classes)
{
    dlh_augment_pool *pool = NULL;
    float *rows[2] = { NULL, NULL };
    int rc;
    if (n_aug == 0)
        prob_classes = 0;
    if (prob_classes > 0 && (b->info.label_kind != DLH_LABEL_CLASS ||
                             (uint64_t)b->max_batch >
                                 SIZE_MAX / sizeof(float) / (uint64_t)prob_classes)) {
        dlh_error_set("batcher: probability rows of %lld classes need class labels and "
                      "memory", (long long)prob_classes);
        return DLH_EINVAL;
    }
    if (n_aug > 0 && (rc = dlh_augment_pool_new(aug, n_aug, workers, b->max_batch,
                                                b->x_numel,
                                                prob_classes > 0 ? prob_classes : b->y_numel,
                                                prob_classes, &pool)))
        return rc;
    if (pool && b->norm &&
        (b->norm->kind == DLH_NORM_ZSCORE || b->norm->kind == DLH_NORM_MINMAX))
        dlh_augment_pool_set_norm(pool, b->norm->shift, b->norm->scale);
    for (int s = 0; s < 2 && prob_classes > 0; s++) {
        if (!(rows[s] = malloc((size_t)b->max_batch * (size_t)prob_classes *
                               sizeof(float)))) {
            free(rows[0]);
            dlh_augment_pool_free(pool);
            dlh_error_set("batcher: out of memory for label rows");
            return DLH_ENOMEM;
        }
    }
    pthread_mutex_lock(&b->mu);
    int idle = !b->active && !b->busy;
    if (idle) {
        dlh_augment_pool *old = b->pool;
        b->pool = pool;
        pool = old;
        b->prob_classes = prob_classes;
        if (prob_classes > 0) {
            /* Rows are wider than the class indices they start as. */
            for (int s = 0; s < 2; s++) {
                float *t = b->ybuf[s];
                b->ybuf[s] = rows[s];
                rows[s] = t;
            }
        }
    }
    pthread_mutex_unlock(&b->mu);
    dlh_augment_pool_free(pool);
    free(rows[0]);
    free(rows[1]);
    if (!idle) {
        dlh_error_set("batcher: augmenters cannot change while a pass runs");
        return DLH_EINVAL;
    }
    return 0;
}

int dlh_batcher_start(dlh_batcher *b, const int64_t *idx, int64_t n, int64_t batch_size,
                      int augment, uint64_t seed, uint64_t epoch)
{
    return dlh_batcher_start_at(b, idx, n, batch_size, augment, seed, epoch, 0);
}

int dlh_batcher_start_at(dlh_batcher *b, const int64_t *idx, int64_t n, int64_t batch_size,
                         int augment, uint64_t seed, uint64_t epoch, int64_t first_batch)
{
    if (!b) {
        dlh_error_set("batcher: no batcher");
        return DLH_EINVAL;
    }
    if (n < 0 || (n > 0 && !idx)) {
        dlh_error_set("batcher: a pass needs a list of sample indices (got %lld)",
                      (long long)n);
        return DLH_EINVAL;
    }
    if (batch_size < 1 || batch_size > b->max_batch) {
        dlh_error_set("batcher: batch size %lld is outside 1..%lld",
                      (long long)batch_size, (long long)b->max_batch);
        return DLH_EINVAL;
    }
    int64_t n_batches = (n + batch_size - 1) / batch_size;
    if (first_batch < 0 || first_batch > n_batches) {
        dlh_error_set("batcher: first batch %lld is outside the pass's 0..%lld",
                      (long long)first_batch, (long long)n_batches);
        return DLH_EINVAL;
    }
    for (int64_t i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= b->info.n_samples) {
            dlh_error_set("batcher: sample index %lld (position %lld of the pass) is "
                          "outside the dataset's %lld samples", (long long)idx[i],
                          (long long)i, (long long)b->info.n_samples);
            return DLH_ERANGE;
        }
    }
    pthread_mutex_lock(&b->mu);
    batcher_stop_locked(b);
    b->augment = augment != 0;
    b->idx = idx;
    b->n = n;
    b->batch_size = batch_size;
    b->n_batches = n_batches;
    /* The counters are batch indices of the pass: the thread prepares batch
       `produced` next. */
    b->produced = b->handed = b->released = first_batch;
    b->seed = seed;
    b->epoch = epoch;
    b->active = 1;
    pthread_cond_signal(&b->work);
    pthread_mutex_unlock(&b->mu);
    return 0;
}

int dlh_batcher_next(dlh_batcher *b, const dlh_batch **out)
{
    if (!b || !out) {
        dlh_error_set("batcher: no batcher or no output");
        return DLH_EINVAL;
    }
    *out = NULL;
    int rc = 0;
    pthread_mutex_lock(&b->mu);
    if (b->active) {
        /* The batch handed out last is given back now. */
        if (b->released < b->handed) {
            b->released = b->handed;
            pthread_cond_signal(&b->work);
        }
        while (b->handed < b->n_batches && b->produced <= b->handed && !b->err)
            pthread_cond_wait(&b->ready, &b->mu);
        if (b->produced > b->handed) {
            *out = &b->slot[b->handed & 1];
            b->handed++;
        } else if (b->err) {
            rc = b->err;
            dlh_error_set("%s", b->errmsg);
        } else {
            b->active = 0;          /* end of the pass: idx is no longer used */
        }
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

void dlh_batcher_stop(dlh_batcher *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    batcher_stop_locked(b);
    pthread_mutex_unlock(&b->mu);
}
