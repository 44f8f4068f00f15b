/* `dlhost run`, first version: a plain, honest trainer of a chain of layers.
 *
 * Every buffer is allocated before the first step (device tensors for a
 * batch of batch_size, host staging for one batch, the shuffle permutation),
 * so the step loop allocates nothing.  Each epoch draws its shuffle from
 * Philox keyed by (seed, rng_stream(RUN_RNG_SHUFFLE, epoch, 0)), so the
 * order is a pure function of seed and epoch (what resume will need). */
#include "run.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "experiment.h"
#include "registry.h"

/* rng_stream purposes: 1 is parameter initialisation (instance.c). */
#define RUN_RNG_SHUFFLE 2

typedef struct run_state {
    dlh_experiment *e;
    const dlh_host *host;
    dlh_tensor x, y;                /* model input and target, max_batch first */
    dlh_tensor *act;                /* [n_layers] outputs */
    dlh_tensor *dact;               /* [n_layers] gradients of the outputs */
    dlh_tensor **scratch;           /* [n_layers] views handed to layer ctx */
    dlh_tensor *loss_scratch;
    float *hx, *hy, *hpred;         /* host staging for one batch */
    int64_t *perm, *idx;
    int64_t step;                   /* global optimiser steps taken */
} run_state;

static double run_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A batch-first tensor of max_batch samples of shape s. */
static int run_alloc(const dlh_experiment *e, const dlh_shape *s, dlh_tensor *t)
{
    int64_t shape[DLH_MAX_DIMS];
    if (s->ndim + 1 > DLH_MAX_DIMS) {
        char buf[96];
        dlh_shape_format(s, buf, sizeof buf);
        dlh_error_set("per-sample shape %s has too many dimensions for a batch "
                      "(at most %d)", buf, DLH_MAX_DIMS - 1);
        return DLH_ESHAPE;
    }
    shape[0] = e->max_batch;
    for (int i = 0; i < s->ndim; i++)
        shape[i + 1] = s->dim[i];
    return dlh_tensor_alloc(e->backend, s->ndim + 1, shape, t);
}

/* t with its batch dimension cut to b samples (same memory). */
static dlh_tensor run_view(const dlh_tensor *t, int64_t b)
{
    dlh_tensor v = *t;
    v.shape[0] = b;
    return v;
}

static void *run_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        dlh_error_set("out of memory");
    return p;
}

static void run_free(run_state *r)
{
    dlh_experiment *e = r->e;
    const dlh_backend *be = e->backend;
    dlh_tensor_free(be, &r->x);
    dlh_tensor_free(be, &r->y);
    for (int i = 0; i < e->n_layers; i++) {
        if (r->act)
            dlh_tensor_free(be, &r->act[i]);
        if (r->dact)
            dlh_tensor_free(be, &r->dact[i]);
        if (r->scratch)
            free(r->scratch[i]);
    }
    free(r->act);
    free(r->dact);
    free(r->scratch);
    free(r->loss_scratch);
    free(r->hx);
    free(r->hy);
    free(r->hpred);
    free(r->perm);
    free(r->idx);
}

static int run_setup(run_state *r)
{
    dlh_experiment *e = r->e;
    int L = e->n_layers;
    size_t mb = (size_t)e->max_batch;
    int64_t n_max = e->train.info.n_samples;
    if (e->test.ops && e->test.info.n_samples > n_max)
        n_max = e->test.info.n_samples;
    const dlh_shape *out = &e->layers[L - 1]->output;
    dlh_shape cls = { 0, { 0 } };
    const dlh_shape *tgt = e->target_kind == DLH_TARGET_CLASS ? &cls : &e->target;
    int rc;
    if ((rc = run_alloc(e, &e->train.info.sample, &r->x)) ||
        (rc = run_alloc(e, tgt, &r->y)))
        return rc;
    if (!(r->act = run_calloc((size_t)L, sizeof *r->act)) ||
        !(r->dact = run_calloc((size_t)L, sizeof *r->dact)) ||
        !(r->scratch = run_calloc((size_t)L, sizeof *r->scratch)) ||
        !(r->loss_scratch = run_calloc((size_t)e->loss->n_scratch, sizeof(dlh_tensor))))
        return DLH_ENOMEM;
    for (int i = 0; i < L; i++) {
        if ((rc = run_alloc(e, &e->layers[i]->output, &r->act[i])) ||
            (rc = run_alloc(e, &e->layers[i]->output, &r->dact[i])))
            return rc;
        if (!(r->scratch[i] = run_calloc((size_t)e->layers[i]->n_scratch,
                                         sizeof(dlh_tensor))))
            return DLH_ENOMEM;
    }
    size_t nx = (size_t)dlh_shape_numel(&e->train.info.sample);
    size_t ny = (size_t)dlh_shape_numel(tgt);
    size_t np = (size_t)dlh_shape_numel(out);
    if (!(r->hx = run_calloc(mb * nx, sizeof(float))) ||
        !(r->hy = run_calloc(mb * ny, sizeof(float))) ||
        !(r->hpred = run_calloc(mb * np, sizeof(float))) ||
        !(r->perm = run_calloc((size_t)n_max, sizeof(int64_t))) ||
        !(r->idx = run_calloc(mb, sizeof(int64_t))))
        return DLH_ENOMEM;
    return 0;
}

static int run_forward(run_state *r, int64_t b, int training)
{
    dlh_experiment *e = r->e;
    for (int i = 0; i < e->n_layers; i++) {
        dlh_layer_inst *l = e->layers[i];
        dlh_layer_ctx ctx;
        dlh_layer_ctx_fill(l, b, training, r->step, e->seed, &ctx, r->scratch[i]);
        dlh_tensor in = run_view(i ? &r->act[i - 1] : &r->x, b);
        dlh_tensor o = run_view(&r->act[i], b);
        int rc = l->ops->forward(l->state, &ctx, &in, &o);
        if (rc) {
            dlh_error_prefix("layer '%s': forward: ", l->name);
            return rc;
        }
    }
    return 0;
}

static int run_backward(run_state *r, int64_t b)
{
    dlh_experiment *e = r->e;
    for (int i = e->n_layers - 1; i >= 0; i--) {
        dlh_layer_inst *l = e->layers[i];
        dlh_layer_ctx ctx;
        dlh_layer_ctx_fill(l, b, 1, r->step, e->seed, &ctx, r->scratch[i]);
        dlh_tensor in = run_view(i ? &r->act[i - 1] : &r->x, b);
        dlh_tensor o = run_view(&r->act[i], b);
        dlh_tensor d_o = run_view(&r->dact[i], b);
        /* Nobody needs the gradient of the data. */
        dlh_tensor d_in;
        if (i)
            d_in = run_view(&r->dact[i - 1], b);
        else
            memset(&d_in, 0, sizeof d_in);
        int rc = l->ops->backward(l->state, &ctx, &in, &o, &d_o, &d_in);
        if (rc) {
            dlh_error_prefix("layer '%s': backward: ", l->name);
            return rc;
        }
    }
    return 0;
}

/* Reads samples idx[0..b) of d and writes them to the input and target. */
static int run_load(run_state *r, dlh_exp_data *d, const int64_t *idx, int64_t b,
                    const char *what)
{
    dlh_experiment *e = r->e;
    int rc = d->ops->read(d->state, idx, (size_t)b, r->hx, r->hy);
    if (rc) {
        dlh_error_prefix("%s: ", what);
        return rc;
    }
    dlh_tensor xv = run_view(&r->x, b), yv = run_view(&r->y, b);
    if ((rc = r->host->tensor_write(e->backend, &xv, r->hx)) ||
        (rc = r->host->tensor_write(e->backend, &yv, r->hy)))
        return rc;
    return 0;
}

static int run_loss(run_state *r, int64_t b, int with_grad, float *loss)
{
    dlh_experiment *e = r->e;
    int L = e->n_layers;
    dlh_loss_ctx ctx;
    dlh_loss_ctx_fill(e->loss, b, &ctx, r->loss_scratch);
    dlh_tensor pred = run_view(&r->act[L - 1], b), tgt = run_view(&r->y, b);
    dlh_tensor dpred = run_view(&r->dact[L - 1], b);
    int rc = e->loss->ops->forward(e->loss->state, &ctx, &pred, &tgt, loss,
                                   with_grad ? &dpred : NULL);
    if (rc)
        dlh_error_prefix("loss '%s': ", e->loss_type);
    return rc;
}

static int run_update(run_state *r, double lr)
{
    dlh_experiment *e = r->e;
    dlh_optimizer_ctx ctx = { sizeof ctx, e->backend, r->step + 1, (float)lr };
    int ns = e->optimizer->n_states;
    for (int i = 0, k = 0; i < e->n_layers; i++) {
        dlh_layer_inst *l = e->layers[i];
        for (int j = 0; j < l->n_params; j++, k++) {
            const dlh_tensor *st = e->opt_states ? &e->opt_states[(size_t)k * (size_t)ns]
                                                 : NULL;
            int rc = e->optimizer->ops->step(e->optimizer->state, &ctx,
                                             &l->params[j].value, &l->params[j].grad, st);
            if (rc) {
                dlh_error_prefix("optimizer '%s': %s.%s: ", e->optimizer_type, l->name,
                                 l->params[j].name);
                return rc;
            }
        }
    }
    return 0;
}

/* Fills r->perm with this epoch's order of n samples. */
static void run_shuffle(run_state *r, int64_t epoch, int64_t n)
{
    dlh_experiment *e = r->e;
    for (int64_t i = 0; i < n; i++)
        r->perm[i] = i;
    if (!e->shuffle)
        return;
    uint64_t stream = r->host->rng_stream(RUN_RNG_SHUFFLE, (uint64_t)epoch, 0);
    for (int64_t i = n - 1; i > 0; i--) {
        uint32_t w[4];
        dlh_philox_words(e->seed, stream, (uint64_t)i, w);
        /* A 64-bit draw: the modulo bias is below 2^-30 for any n here. */
        uint64_t j = (((uint64_t)w[0] << 32) | w[1]) % (uint64_t)(i + 1);
        int64_t t = r->perm[i];
        r->perm[i] = r->perm[j];
        r->perm[j] = t;
    }
}

static int run_epoch(run_state *r, int64_t epoch, double *mean_loss, double *last_lr)
{
    dlh_experiment *e = r->e;
    int64_t n = e->train.info.n_samples, bs = e->batch_size;
    int64_t steps = (n + bs - 1) / bs;
    double sum = 0.0;
    int rc;
    run_shuffle(r, epoch, n);
    for (int64_t s = 0; s < steps; s++) {
        int64_t b = n - s * bs < bs ? n - s * bs : bs;
        float loss;
        if ((rc = run_load(r, &e->train, r->perm + s * bs, b, "data.train")) ||
            (rc = run_forward(r, b, 1)) ||
            (rc = run_loss(r, b, 1, &loss)))
            goto fail;
        if (!isfinite(loss)) {
            dlh_error_set("epoch %" PRId64 "/%" PRId64 ", step %" PRId64 " (batch %"
                          PRId64 " of %" PRId64 "): the training loss is %g; stopped "
                          "before the update", epoch + 1, e->epochs, r->step + 1, s + 1,
                          steps, (double)loss);
            return DLH_ENUMERIC;
        }
        for (int i = 0; i < e->n_layers; i++)
            if ((rc = dlh_layer_zero_grad(e->layers[i])))
                goto fail;
        if ((rc = run_backward(r, b)))
            goto fail;
        dlh_schedule_ctx sc = { sizeof sc, e->lr, epoch, r->step, steps, e->epochs, NAN };
        double lr;
        if ((rc = e->schedule->lr(e->schedule_state, &sc, &lr))) {
            dlh_error_prefix("schedule '%s': ", e->schedule_type);
            goto fail;
        }
        if (!(isfinite(lr) && lr >= 0.0)) {
            dlh_error_set("schedule '%s': learning rate %g at step %" PRId64,
                          e->schedule_type, lr, r->step + 1);
            return DLH_ENUMERIC;
        }
        if ((rc = run_update(r, lr)))
            goto fail;
        *last_lr = lr;
        sum += (double)loss * (double)b;
        r->step++;
    }
    *mean_loss = sum / (double)n;
    return 0;
fail:
    dlh_error_prefix("epoch %" PRId64 ", step %" PRId64 ": ", epoch + 1, r->step + 1);
    return rc;
}

/* Mean loss (and accuracy for class targets with several outputs, else NaN)
   over the test set, in evaluation mode. */
static int run_test(run_state *r, double *mean_loss, double *accuracy)
{
    dlh_experiment *e = r->e;
    int64_t n = e->test.info.n_samples, bs = e->max_batch;
    int64_t classes = dlh_shape_numel(&e->layers[e->n_layers - 1]->output);
    int count_acc = e->target_kind == DLH_TARGET_CLASS && classes >= 2;
    double sum = 0.0;
    int64_t correct = 0;
    for (int64_t s = 0; s < n; s += bs) {
        int64_t b = n - s < bs ? n - s : bs;
        float loss;
        for (int64_t i = 0; i < b; i++)
            r->idx[i] = s + i;
        int rc;
        if ((rc = run_load(r, &e->test, r->idx, b, "data.test")) ||
            (rc = run_forward(r, b, 0)) ||
            (rc = run_loss(r, b, 0, &loss)))
            return rc;
        sum += (double)loss * (double)b;
        if (count_acc) {
            dlh_tensor pv = run_view(&r->act[e->n_layers - 1], b);
            if ((rc = r->host->tensor_read(e->backend, &pv, r->hpred)))
                return rc;
            for (int64_t i = 0; i < b; i++) {
                const float *p = r->hpred + i * classes;
                int64_t best = 0;
                for (int64_t c = 1; c < classes; c++)
                    if (p[c] > p[best])
                        best = c;
                correct += best == (int64_t)r->hy[i];
            }
        }
    }
    *mean_loss = sum / (double)n;
    *accuracy = count_acc ? (double)correct / (double)n : NAN;
    return 0;
}

int dlh_run(dlh_config *cfg, const char *backend_override, FILE *out)
{
    dlh_experiment *e;
    int rc = dlh_experiment_new(cfg, backend_override, 0, &e);
    if (rc)
        return rc;
    run_state r;
    memset(&r, 0, sizeof r);
    r.e = e;
    r.host = dlh_host_table();
    if ((rc = run_setup(&r)))
        goto done;
    fprintf(out, "run %s: %s (%s), %" PRId64 " samples, %" PRId64 " parameters, "
            "%" PRId64 " epochs of batch %" PRId64 "\n", e->name, e->backend->name,
            e->backend_line, e->train.info.n_samples, dlh_experiment_param_count(e),
            e->epochs, e->batch_size);
    fflush(out);
    for (int64_t epoch = 0; epoch < e->epochs; epoch++) {
        double t0 = run_now(), loss = 0.0, lr = e->lr;
        if ((rc = run_epoch(&r, epoch, &loss, &lr)))
            goto done;
        if (e->backend->ops->sync && (rc = e->backend->ops->sync(e->backend->ctx)))
            goto done;
        double dt = run_now() - t0;
        char took[32];
        if (dt >= 1.0)
            snprintf(took, sizeof took, "%.1fs", dt);
        else
            snprintf(took, sizeof took, "%.1fms", dt * 1e3);
        fprintf(out, "epoch %" PRId64 "/%" PRId64 "  train_loss %.6f  lr %.6g  %s  "
                "%.0f samples/s\n", epoch + 1, e->epochs, loss, lr, took,
                dt > 0.0 ? (double)e->train.info.n_samples / dt : 0.0);
        fflush(out);
    }
    if (e->test.ops) {
        double loss, acc;
        if ((rc = run_test(&r, &loss, &acc)))
            goto done;
        if (isnan(acc))
            fprintf(out, "test  loss %.6f  (%" PRId64 " samples)\n", loss,
                    e->test.info.n_samples);
        else
            fprintf(out, "test  loss %.6f  accuracy %.4f  (%" PRId64 " samples)\n", loss,
                    acc, e->test.info.n_samples);
        fflush(out);
    }
done:
    run_free(&r);
    dlh_experiment_free(e);
    return rc;
}
