/* Augmenter instances, their streams, and the worker pool (augment.h).
 *
 * The pool is a job counter under one mutex: the caller publishes a job (a
 * batch and a range of augmenters), bumps `job` and wakes the workers; worker
 * w takes samples [n w / W, n (w + 1) / W) through the range, the caller
 * doing w = 0, and the last to finish wakes the caller.  Each worker keeps
 * its status and message in its own slot (messages are thread-local), and
 * the caller reports the lowest failing slot, so the message does not
 * depend on which thread finished first. */
#include "augment.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batcher.h"
#include "error.h"
#include "params.h"
#include "registry.h"

#define POOL_MSG_MAX 1024

typedef struct pool_worker {
    struct dlh_augment_pool *pool;
    int id;
    int rc;
    char msg[POOL_MSG_MAX];
} pool_worker;

struct dlh_augment_pool {
    const dlh_augment_inst *aug;
    int n_aug, workers;
    int64_t max_batch, x_numel, y_numel;
    int64_t prob_classes;           /* > 0: class labels become probability rows */
    uint64_t *streams;              /* [n_aug][max_batch] */
    pthread_mutex_t *legacy;        /* [n_aug]: one caller at a time for ABI 1.0 ones */
    pool_worker *slot;              /* [workers] */
    pthread_t *threads;             /* [workers - 1] */
    int n_threads;

    pthread_mutex_t mu;
    pthread_cond_t go, done;
    /* Guarded by mu. */
    uint64_t job;
    int quit, pending;
    /* The job: written by the caller before `job` is bumped. */
    float *x, *y;
    int64_t n, first;
    uint64_t seed, epoch;
    int j0, j1;
    const float *norm_shift, *norm_scale;   /* dlh_augment_pool_set_norm, or NULL */
};

/* ---------------------------------------------------------------- instances */

int dlh_augmenter_new(const dlh_component *c, dlh_params *params, dlh_augment_info *info,
                      dlh_augment_inst *out)
{
    memset(out, 0, sizeof *out);
    const char *type = c->name;
    out->ops = c->ops;
    out->type = c->name;
    info->struct_size = sizeof *info;
    info->wants_probabilities = 0;
    info->whole_batch = 0;
    dlh_params_set_doc(params, c->params, c->n_params);
    dlh_error_clear();
    int rc = out->ops->create_ex
                 ? out->ops->create_ex(dlh_host_table(), params, info, &out->state)
                 : out->ops->create(dlh_host_table(), params, &info->sample, &out->state);
    if (rc > 0) {
        dlh_error_set("augmenter '%s': create returned %d (0 or a negative DLH_E* code "
                      "expected)", type, rc);
        rc = DLH_EPLUGIN;
    }
    if (rc == 0 && info->wants_probabilities && info->label_kind != DLH_LABEL_CLASS) {
        dlh_error_set("augmenter '%s' mixes labels into probabilities, which needs class "
                      "labels; the data has %s labels", type,
                      info->label_kind == DLH_LABEL_DENSE ? "dense" : "no");
        rc = DLH_ECONFIG;
    }
    if (rc == 0)
        rc = dlh_params_check_unused(params);
    if (rc < 0) {
        if (!*dlh_error_get())
            dlh_error_set("augmenter '%s': %s", type, dlh_strerror(rc));
        dlh_augmenter_free(out);
        return rc;
    }
    out->whole_batch = info->whole_batch != 0;
    out->wants_probabilities = info->wants_probabilities != 0;
    return 0;
}

void dlh_augmenter_free(dlh_augment_inst *a)
{
    if (!a)
        return;
    /* destroy runs even after a failed create (augmenter.h, as layer.h). */
    if (a->ops && a->ops->destroy)
        a->ops->destroy(a->state);
    memset(a, 0, sizeof *a);
}

void dlh_augment_info_set_norm(dlh_augment_info *info, int norm_kind)
{
    info->norm = norm_kind == DLH_NORM_NONE ? DLH_AUGMENT_NORM_NONE
               : norm_kind == DLH_NORM_ZSCORE || norm_kind == DLH_NORM_MINMAX
                   ? DLH_AUGMENT_NORM_AFFINE : DLH_AUGMENT_NORM_OTHER;
    info->norm_groups = info->norm_group_stride = 0;
    if (info->norm == DLH_AUGMENT_NORM_AFFINE)
        dlh_norm_layout(&info->sample, dlh_shape_numel(&info->sample), &info->norm_groups,
                        &info->norm_group_stride);
}

uint64_t dlh_augment_stream(uint64_t epoch, int64_t position, int j)
{
    return dlh_host_table()->rng_stream(DLH_AUGMENT_RNG, epoch,
                                        ((uint64_t)position << 8) | (uint64_t)(j & 0xff));
}

/* ---------------------------------------------------------------- applying */

/* Augmenter j over samples [s0, s1) of the pool's job. */
static int pool_apply(dlh_augment_pool *p, int j, int64_t s0, int64_t s1)
{
    const dlh_augment_inst *a = &p->aug[j];
    const uint64_t *st = p->streams + (size_t)j * (size_t)p->max_batch;
    dlh_augment_ctx ctx = {
        .struct_size = sizeof ctx,
        .seed = p->seed,
        .stream = st[s0],
        .batch = s1 - s0,
        .first_sample = p->first + s0,
        .streams = st + s0,
        .y = p->y ? p->y + s0 * p->y_numel : NULL,
        .label_numel = p->y ? p->y_numel : 0,
        .epoch = (int64_t)p->epoch,
        .norm_shift = p->norm_shift,
        .norm_scale = p->norm_scale,
    };
    float *x = p->x + s0 * p->x_numel;
    int rc = 0;
    dlh_error_clear();
    if (a->ops->create_ex) {
        rc = a->ops->apply(a->state, &ctx, x);
    } else {
        /* Built before ABI 1.4: a sample at a time, its stream in `stream`,
           and never two threads in it at once. */
        pthread_mutex_lock(&p->legacy[j]);
        for (int64_t i = s0; i < s1 && rc == 0; i++) {
            ctx.stream = st[i];
            ctx.batch = 1;
            ctx.first_sample = p->first + i;
            ctx.streams = st + i;
            ctx.y = p->y ? p->y + i * p->y_numel : NULL;
            rc = a->ops->apply(a->state, &ctx, p->x + i * p->x_numel);
        }
        pthread_mutex_unlock(&p->legacy[j]);
    }
    if (rc == 0)
        return 0;
    if (rc > 0) {
        dlh_error_set("returned %d (0 or a negative DLH_E* code expected)", rc);
        rc = DLH_EPLUGIN;
    } else if (!*dlh_error_get()) {
        dlh_error_set("%s", dlh_strerror(rc));
    }
    dlh_error_prefix("augmenter %d '%s' on samples %lld..%lld of the epoch: ", j + 1,
                     a->type, (long long)(p->first + s0), (long long)(p->first + s1 - 1));
    return rc;
}

/* Worker w's run of the job through augmenters [j0, j1). */
static void pool_work(dlh_augment_pool *p, pool_worker *w)
{
    int64_t s0 = p->n * w->id / p->workers, s1 = p->n * (w->id + 1) / p->workers;
    w->rc = 0;
    w->msg[0] = '\0';
    for (int j = p->j0; j < p->j1 && s0 < s1; j++) {
        if ((w->rc = pool_apply(p, j, s0, s1)) < 0) {
            snprintf(w->msg, sizeof w->msg, "%s", dlh_error_get());
            return;
        }
    }
}

static void *pool_main(void *arg)
{
    pool_worker *w = arg;
    dlh_augment_pool *p = w->pool;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->job == seen)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->quit)
            break;
        seen = p->job;
        pthread_mutex_unlock(&p->mu);
        pool_work(p, w);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Augmenters [j0, j1) over the whole job, split among the workers. */
static int pool_split(dlh_augment_pool *p, int j0, int j1)
{
    p->j0 = j0;
    p->j1 = j1;
    if (p->n_threads > 0) {
        pthread_mutex_lock(&p->mu);
        p->pending = p->n_threads;
        p->job++;
        pthread_cond_broadcast(&p->go);
        pthread_mutex_unlock(&p->mu);
    }
    pool_work(p, &p->slot[0]);
    if (p->n_threads > 0) {
        pthread_mutex_lock(&p->mu);
        while (p->pending > 0)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    for (int w = 0; w < p->workers; w++) {
        if (p->slot[w].rc < 0) {
            dlh_error_set("%s", p->slot[w].msg);
            return p->slot[w].rc;
        }
    }
    return 0;
}

int dlh_augment_pool_run(dlh_augment_pool *p, float *x, float *y, int64_t n, int64_t first,
                         uint64_t seed, uint64_t epoch)
{
    if (!p || !x || n < 0 || n > p->max_batch || first < 0) {
        dlh_error_set("augment: bad batch (%lld samples)", (long long)n);
        return DLH_EINVAL;
    }
    if (n == 0 || p->n_aug == 0)
        return 0;
    for (int j = 0; j < p->n_aug; j++) {
        uint64_t *st = p->streams + (size_t)j * (size_t)p->max_batch;
        for (int64_t i = 0; i < n; i++)
            st[i] = dlh_augment_stream(epoch, first + i, j);
    }
    if (p->prob_classes > 0 && y) {
        /* Class indices to one-hot rows, from the last sample down: row i
           starts at i * C >= i, so no index is overwritten before use. */
        int64_t C = p->prob_classes;
        for (int64_t i = n - 1; i >= 0; i--) {
            float c = y[i];
            if (!(c >= 0.0f && c < (float)C) || c != floorf(c)) {
                dlh_error_set("augment: sample %lld of the epoch has label %g, not a class "
                              "in 0..%lld", (long long)(first + i), (double)c,
                              (long long)C - 1);
                return DLH_EDATA;
            }
            float *row = y + i * C;
            memset(row, 0, (size_t)C * sizeof *row);
            row[(int64_t)c] = 1.0f;
        }
    }
    p->x = x;
    p->y = p->y_numel > 0 ? y : NULL;
    p->n = n;
    p->first = first;
    p->seed = seed;
    p->epoch = epoch;
    int rc = 0;
    for (int j = 0; j < p->n_aug && rc == 0;) {
        if (p->aug[j].whole_batch) {
            if ((rc = pool_apply(p, j, 0, n)) < 0)
                return rc;
            j++;
            continue;
        }
        int j1 = j + 1;
        while (j1 < p->n_aug && !p->aug[j1].whole_batch)
            j1++;
        rc = pool_split(p, j, j1);
        j = j1;
    }
    return rc;
}

/* ---------------------------------------------------------------- pool */

void dlh_augment_pool_set_norm(dlh_augment_pool *p, const float *shift, const float *scale)
{
    p->norm_shift = shift;
    p->norm_scale = scale;
}

static void pool_stop(dlh_augment_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int t = 0; t < p->n_threads; t++)
        pthread_join(p->threads[t], NULL);
    p->n_threads = 0;
}

void dlh_augment_pool_free(dlh_augment_pool *p)
{
    if (!p)
        return;
    pool_stop(p);
    if (p->legacy)
        for (int j = 0; j < p->n_aug; j++)
            pthread_mutex_destroy(&p->legacy[j]);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->go);
    pthread_mutex_destroy(&p->mu);
    free(p->legacy);
    free(p->streams);
    free(p->slot);
    free(p->threads);
    free(p);
}

int dlh_augment_pool_new(const dlh_augment_inst *aug, int n_aug, int workers,
                         int64_t max_batch, int64_t x_numel, int64_t y_numel,
                         int64_t prob_classes, dlh_augment_pool **out)
{
    *out = NULL;
    if (n_aug < 0 || n_aug > DLH_AUGMENT_MAX || (n_aug > 0 && !aug) || workers < 1 ||
        workers > DLH_AUGMENT_WORKERS_MAX || max_batch < 1 || x_numel < 1 || y_numel < 0 ||
        prob_classes < 0 || (prob_classes > 0 && y_numel != prob_classes)) {
        dlh_error_set("augment: bad pool (%d augmenters, %d workers, batch %lld)", n_aug,
                      workers, (long long)max_batch);
        return DLH_EINVAL;
    }
    for (int j = 0; j < n_aug; j++) {
        if (!aug[j].ops || !aug[j].ops->apply) {
            dlh_error_set("augment: augmenter %d has no apply", j + 1);
            return DLH_EINVAL;
        }
    }
    dlh_augment_pool *p = calloc(1, sizeof *p);
    if (!p) {
        dlh_error_set("augment: out of memory");
        return DLH_ENOMEM;
    }
    p->aug = aug;
    p->n_aug = n_aug;
    p->workers = workers;
    p->max_batch = max_batch;
    p->x_numel = x_numel;
    p->y_numel = y_numel;
    p->prob_classes = prob_classes;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    size_t ns = (size_t)(n_aug > 0 ? n_aug : 1) * (size_t)max_batch;
    p->streams = malloc(ns * sizeof *p->streams);
    p->legacy = calloc((size_t)(n_aug > 0 ? n_aug : 1), sizeof *p->legacy);
    p->slot = calloc((size_t)workers, sizeof *p->slot);
    p->threads = calloc((size_t)workers, sizeof *p->threads);
    if (!p->streams || !p->legacy || !p->slot || !p->threads) {
        free(p->legacy);
        p->legacy = NULL;
        dlh_augment_pool_free(p);
        dlh_error_set("augment: out of memory for %lld samples", (long long)max_batch);
        return DLH_ENOMEM;
    }
    for (int j = 0; j < n_aug; j++)
        pthread_mutex_init(&p->legacy[j], NULL);
    for (int w = 0; w < workers; w++) {
        p->slot[w].pool = p;
        p->slot[w].id = w;
    }
    /* Signals (Ctrl-C on a run) go to the training thread, never to these. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = 0;
    for (int w = 1; w < workers && e == 0; w++) {
        e = pthread_create(&p->threads[w - 1], NULL, pool_main, &p->slot[w]);
        if (e == 0)
            p->n_threads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        dlh_augment_pool_free(p);
        dlh_error_set("augment: cannot start %d loader workers (%s)", workers - 1,
                      strerror(e));
        return DLH_ENOMEM;
    }
    *out = p;
    return 0;
}
