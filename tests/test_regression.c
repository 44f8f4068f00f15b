/* End to end without core/experiment.c: the components wired by hand (the
 * way a program embedding libdlhost would) train a small regression.
 * cpu backend, csv data written to a temp file, dense(16)-relu-dense(1),
 * mse, sgd with momentum, constant schedule, a hand-written loop; the full
 * data loss must fall below half its starting value and every epoch's loss
 * must be finite. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlhost/dlhost.h>

#include "error.h"
#include "instance.h"
#include "params.h"
#include "registry.h"
#include "tap.h"
#include "tmpdir.h"

#define ROWS 256
#define BATCH 32
#define EPOCHS 8
#define LR 0.02

static const char *params_text =
    "data = { path = \"%s\"; header = true; label = \"dense\"; };\n"
    "fc1 = { units = 16; };\n"
    "act = { };\n"
    "out = { units = 1; };\n"
    "loss = { };\n"
    "opt = { momentum = 0.9; };\n"
    "sched = { };\n";

typedef struct net {
    dlh_backend *be;
    dlh_layer_inst *l[3];
    dlh_loss_inst *loss;
    dlh_optimizer_inst *opt;
    dlh_tensor x, y, act[3], dact[3];
    dlh_tensor scratch[3][8], loss_scratch[8];
    dlh_tensor states[6][4];
    int n_states[6];
} net;

static int fail(const char *what, int rc)
{
    printf("Bail out! %s: %s (%s)\n", what, dlh_error_get(), dlh_strerror(rc));
    exit(1);
}

/* y = sin(x1) + 0.5 x2^2 - x3 on x ~ U(-2, 2)^3 from Philox (seed 7). */
static void write_data(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        fail(path, DLH_EIO);
    fprintf(f, "x1,x2,x3,y\n");
    for (int i = 0; i < ROWS; i++) {
        float x[3];
        for (int k = 0; k < 3; k++)
            x[k] = dlh_philox_uniform(7, 1, (uint64_t)(3 * i + k), -2.0f, 2.0f);
        fprintf(f, "%.6f,%.6f,%.6f,%.6f\n", x[0], x[1], x[2],
                sin(x[0]) + 0.5 * x[1] * x[1] - x[2]);
    }
    if (fclose(f) != 0)
        fail(path, DLH_EIO);
}

static dlh_tensor view(const dlh_tensor *t, int64_t b)
{
    dlh_tensor v = *t;
    v.shape[0] = b;
    return v;
}

static void alloc2(net *n, dlh_tensor *t, int64_t cols)
{
    int64_t shape[2] = { BATCH, cols };
    int rc = dlh_tensor_alloc(n->be, 2, shape, t);
    if (rc)
        fail("tensor", rc);
}

static int forward(net *n, int64_t b, int training, int64_t step)
{
    for (int i = 0; i < 3; i++) {
        dlh_layer_ctx ctx;
        dlh_layer_ctx_fill(n->l[i], b, training, step, 1, &ctx, n->scratch[i]);
        dlh_tensor in = view(i ? &n->act[i - 1] : &n->x, b), o = view(&n->act[i], b);
        int rc = n->l[i]->ops->forward(n->l[i]->state, &ctx, &in, &o);
        if (rc)
            return rc;
    }
    return 0;
}

static int loss_of(net *n, int64_t b, float *loss, int grad)
{
    dlh_loss_ctx ctx;
    dlh_loss_ctx_fill(n->loss, b, &ctx, n->loss_scratch);
    dlh_tensor p = view(&n->act[2], b), t = view(&n->y, b), d = view(&n->dact[2], b);
    return n->loss->ops->forward(n->loss->state, &ctx, &p, &t, loss, grad ? &d : NULL);
}

static int backward(net *n, int64_t b, int64_t step)
{
    for (int i = 2; i >= 0; i--) {
        int rc = dlh_layer_zero_grad(n->l[i]);
        if (rc)
            return rc;
        dlh_layer_ctx ctx;
        dlh_layer_ctx_fill(n->l[i], b, 1, step, 1, &ctx, n->scratch[i]);
        dlh_tensor in = view(i ? &n->act[i - 1] : &n->x, b), o = view(&n->act[i], b);
        dlh_tensor d_o = view(&n->dact[i], b), d_in;
        if (i)
            d_in = view(&n->dact[i - 1], b);
        else
            memset(&d_in, 0, sizeof d_in);
        if ((rc = n->l[i]->ops->backward(n->l[i]->state, &ctx, &in, &o, &d_o, &d_in)))
            return rc;
    }
    return 0;
}

static int load(net *n, const dlh_dataset_ops *ds, void *st, const int64_t *idx, int64_t b,
                float *hx, float *hy)
{
    const dlh_host *host = dlh_host_table();
    int rc = ds->read(st, idx, (size_t)b, hx, hy);
    dlh_tensor xv = view(&n->x, b), yv = view(&n->y, b);
    if (!rc)
        rc = host->tensor_write(n->be, &xv, hx);
    if (!rc)
        rc = host->tensor_write(n->be, &yv, hy);
    return rc;
}

/* Mean loss over all rows, in evaluation mode. */
static double full_loss(net *n, const dlh_dataset_ops *ds, void *st, float *hx, float *hy)
{
    int64_t idx[BATCH];
    double sum = 0.0;
    for (int64_t s = 0; s < ROWS; s += BATCH) {
        int64_t b = ROWS - s < BATCH ? ROWS - s : BATCH;
        for (int64_t i = 0; i < b; i++)
            idx[i] = s + i;
        float l;
        int rc;
        if ((rc = load(n, ds, st, idx, b, hx, hy)) || (rc = forward(n, b, 0, 0)) ||
            (rc = loss_of(n, b, &l, 0)))
            fail("evaluation", rc);
        sum += (double)l * (double)b;
    }
    return sum / ROWS;
}

int main(void)
{
    if (!getenv("DLHOST_PLUGIN_PATH"))
        skip_all("DLHOST_PLUGIN_PATH is not set (run through make check)");
    char dir[4096], path[4200], text[8400];
    tmpdir_make(dir, sizeof dir, NULL, "test_regression");
    snprintf(path, sizeof path, "%s/data.csv", dir);
    write_data(path);

    dlh_registry_load_all(0);
    const dlh_host *host = dlh_host_table();
    net n;
    memset(&n, 0, sizeof n);
    int rc;
    if ((rc = dlh_backend_open("cpu", NULL, &n.be)))
        fail("cpu backend", rc);

    dlh_config *cfg;
    snprintf(text, sizeof text, params_text, path);
    if ((rc = dlh_config_load_string(text, "regression.cfg", &cfg)))
        fail("params", rc);
    config_setting_t *root = dlh_config_root(cfg);
#define GROUP(key, label) dlh_params_new(cfg, config_setting_get_member(root, key), label, NULL)
    dlh_params *p_data = GROUP("data", "data"), *p_fc1 = GROUP("fc1", "layer 'fc1'"),
               *p_act = GROUP("act", "layer 'act'"), *p_out = GROUP("out", "layer 'out'"),
               *p_loss = GROUP("loss", "loss"), *p_opt = GROUP("opt", "optimizer"),
               *p_sched = GROUP("sched", "schedule");

    /* data */
    const dlh_component *c = dlh_registry_find(DLH_KIND_DATASET, "csv");
    if (!c)
        fail("csv", DLH_ENOTFOUND);
    const dlh_dataset_ops *ds = c->ops;
    void *ds_state = NULL;
    dlh_dataset_info info = { .struct_size = sizeof info };
    if ((rc = ds->open(host, p_data, &ds_state)) || (rc = dlh_params_check_unused(p_data)) ||
        (rc = ds->info(ds_state, &info)))
        fail("csv open", rc);
    ok(info.n_samples == ROWS && info.sample.ndim == 1 && info.sample.dim[0] == 3 &&
       info.label_kind == DLH_LABEL_DENSE && info.label.dim[0] == 1,
       "csv: %d samples of [3] with a dense [1] label", ROWS);

    /* model */
    dlh_init he = { DLH_INIT_HE_NORMAL, 0, 0 };
    if ((rc = dlh_layer_new(n.be, "dense", "fc1", p_fc1, 1, &info.sample, BATCH, &he, 3,
                            &n.l[0])) ||
        (rc = dlh_layer_new(n.be, "relu", "act", p_act, 1, &n.l[0]->output, BATCH, NULL, 3,
                            &n.l[1])) ||
        (rc = dlh_layer_new(n.be, "dense", "out", p_out, 1, &n.l[1]->output, BATCH, NULL, 3,
                            &n.l[2])))
        fail("layers", rc);
    ok(n.l[2]->output.ndim == 1 && n.l[2]->output.dim[0] == 1, "model output shape [1]");
    ok(n.l[0]->n_params == 2 && dlh_tensor_numel(&n.l[0]->params[0].value) == 48,
       "fc1 has weight [16, 3] and bias");
    if ((rc = dlh_loss_new(n.be, "mse", p_loss, &n.l[2]->output, DLH_TARGET_DENSE, 0, BATCH,
                           &n.loss)) ||
        (rc = dlh_optimizer_new(n.be, "sgd", p_opt, &n.opt)))
        fail("loss/optimizer", rc);
    ok(n.opt->n_states == 1 && strcmp(n.opt->state_names[0], "momentum_buffer") == 0,
       "sgd with momentum keeps a momentum_buffer");
    c = dlh_registry_find(DLH_KIND_SCHEDULE, "constant");
    if (!c)
        fail("constant", DLH_ENOTFOUND);
    const dlh_schedule_ops *sched = c->ops;
    void *sched_state = NULL;
    if ((sched->create && (rc = sched->create(host, p_sched, &sched_state))) ||
        (rc = dlh_params_check_unused(p_sched)))
        fail("schedule", rc);

    /* memory, all of it before the loop */
    int64_t xs[2] = { BATCH, 3 };
    if ((rc = dlh_tensor_alloc(n.be, 2, xs, &n.x)))
        fail("x", rc);
    alloc2(&n, &n.y, 1);
    for (int i = 0; i < 3; i++) {
        alloc2(&n, &n.act[i], n.l[i]->output.dim[0]);
        alloc2(&n, &n.dact[i], n.l[i]->output.dim[0]);
        if (n.l[i]->n_scratch > 8)
            fail("too much scratch for this test", DLH_EINVAL);
    }
    if (n.loss->n_scratch > 8)
        fail("too much loss scratch for this test", DLH_EINVAL);
    int np = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < n.l[i]->n_params; j++, np++)
            if ((rc = dlh_optimizer_states_alloc(n.opt, &n.l[i]->params[j].value,
                                                 n.states[np])))
                fail("states", rc);
    float hx[BATCH * 3], hy[BATCH];
    int64_t perm[ROWS];

    double initial = full_loss(&n, ds, ds_state, hx, hy);
    diag("initial loss %.6f", initial);
    ok(isfinite(initial) && initial > 0.5, "initial loss is finite and large (%.4f)", initial);

    int64_t step = 0, steps = (ROWS + BATCH - 1) / BATCH;
    int all_finite = 1;
    double lr_seen = 0.0;
    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        for (int64_t i = 0; i < ROWS; i++)
            perm[i] = i;
        uint64_t stream = host->rng_stream(2, (uint64_t)epoch, 0);
        for (int64_t i = ROWS - 1; i > 0; i--) {
            uint32_t w[4];
            dlh_philox_words(3, stream, (uint64_t)i, w);
            int64_t j = (int64_t)(w[0] % (uint32_t)(i + 1)), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        double sum = 0.0;
        for (int64_t s = 0; s < steps; s++) {
            int64_t b = ROWS - s * BATCH < BATCH ? ROWS - s * BATCH : BATCH;
            float l;
            if ((rc = load(&n, ds, ds_state, perm + s * BATCH, b, hx, hy)) ||
                (rc = forward(&n, b, 1, step)) || (rc = loss_of(&n, b, &l, 1)) ||
                (rc = backward(&n, b, step)))
                fail("step", rc);
            dlh_schedule_ctx sc = { sizeof sc, LR, epoch, step, steps, EPOCHS, NAN };
            double lr;
            if ((rc = sched->lr(sched_state, &sc, &lr)))
                fail("lr", rc);
            lr_seen = lr;
            dlh_optimizer_ctx oc = { .struct_size = sizeof oc, .backend = n.be, .t = step + 1,
                .lr = (float)lr };
            for (int i = 0, k = 0; i < 3; i++)
                for (int j = 0; j < n.l[i]->n_params; j++, k++)
                    if ((rc = n.opt->ops->step(n.opt->state, &oc, &n.l[i]->params[j].value,
                                               &n.l[i]->params[j].grad, n.states[k])))
                        fail("optimizer step", rc);
            sum += (double)l * (double)b;
            step++;
        }
        double mean = sum / ROWS;
        diag("epoch %d train_loss %.6f", epoch + 1, mean);
        all_finite &= isfinite(mean);
    }
    ok(all_finite, "every epoch's training loss is finite");
    is_float(lr_seen, LR, 1e-12, "constant schedule gives the base lr");
    double final = full_loss(&n, ds, ds_state, hx, hy);
    diag("final loss %.6f", final);
    ok(final < 0.5 * initial, "loss fell below half: %.6f -> %.6f", initial, final);

    for (int k = 0; k < np; k++)
        for (int s = 0; s < n.opt->n_states; s++)
            dlh_tensor_free(n.be, &n.states[k][s]);
    dlh_tensor_free(n.be, &n.x);
    dlh_tensor_free(n.be, &n.y);
    for (int i = 0; i < 3; i++) {
        dlh_tensor_free(n.be, &n.act[i]);
        dlh_tensor_free(n.be, &n.dact[i]);
        dlh_layer_free(n.l[i]);
    }
    dlh_loss_free(n.loss);
    dlh_optimizer_free(n.opt);
    if (sched->destroy && sched_state)
        sched->destroy(sched_state);
    ds->close(ds_state);
    dlh_params_free(p_data);
    dlh_params_free(p_fc1);
    dlh_params_free(p_act);
    dlh_params_free(p_out);
    dlh_params_free(p_loss);
    dlh_params_free(p_opt);
    dlh_params_free(p_sched);
    dlh_config_free(cfg);
    dlh_backend_close(n.be);
    dlh_registry_clear();
    tmpdir_remove(dir);
    return done_testing();
}
