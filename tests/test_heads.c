/* Multi-output models (a loss list, core/experiment.c, eval.c, graph.c)
 * against PyTorch: a shared dense-tanh trunk with a cross_entropy head on
 * the class column of a dense label (target = [2, 1]) and an mse head on
 * its two regression columns (target = [0, 2]), weighted.  The six tensors
 * start from fixed values written through the host table; after one
 * forward, loss and backward through the core's own entry points
 * (dlh_evaluator_load, dlh_graph_forward, dlh_evaluator_loss,
 * dlh_graph_backward) the objective, each head's loss and every parameter
 * gradient equal tests/ref/heads_ref.py's; then 20 optimiser steps in
 * run.c's order (dlh_optim_gradients, _clip, _lrs, _update) follow torch's
 * trajectory, within 1e-5 of each tensor's largest value.  Bad loss lists
 * are refused with the key's file:line.
 *
 * Built twice: on cpu, and as test_heads_opencl on the backend HD_BACKEND
 * names (SKIPped where it is absent). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlhost/dlhost.h>

#include "batcher.h"
#include "error.h"
#include "eval.h"
#include "experiment.h"
#include "graph.h"
#include "params.h"
#include "registry.h"
#include "tap.h"
#include "tmpdir.h"

#ifndef HD_BACKEND
#define HD_BACKEND "cpu"
#endif

#define TOL 1e-5

typedef struct hd_case {
    const char *name, *optimizer;
    double weights[2];
    double loss, heads[2];
    double grads[41];
    double step_loss[20];
    double w[20][41];
} hd_case;

#include "ref/heads_ref.h"          /* tests/ref/heads_ref.py */

static char dir[4096];

static const char *cfg_model =
    "backend = { type = \"" HD_BACKEND "\"; };\n"
    "data = { train = { type = \"csv\"; path = \"train.csv\"; label = \"dense\"; "
    "label_columns = 3; }; };\n"
    "model = (\n"
    "  { name = \"fc1\"; type = \"dense\"; units = 4; },\n"
    "  { name = \"act\"; type = \"tanh\"; },\n"
    "  { name = \"head_a\"; type = \"dense\"; units = 3; inputs = [\"act\"]; },\n"
    "  { name = \"head_b\"; type = \"dense\"; units = 2; inputs = [\"act\"]; }\n"
    ");\n"
    "train = { epochs = 1; batch_size = 4; };\n";

/* Builds the experiment with `loss` and `optimizer` as given. */
static int hd_build(const char *loss, const char *optimizer, dlh_experiment **e,
                    dlh_config **cfg)
{
    char text[4096], path[4200];
    snprintf(text, sizeof text, "%sloss = %s;\noptimizer = { %s };\n", cfg_model, loss,
             optimizer);
    snprintf(path, sizeof path, "%s/exp.cfg", dir);
    tmpdir_put(dir, "exp.cfg", text);
    *e = NULL;
    *cfg = NULL;
    int rc = dlh_config_load(path, cfg);
    return rc ? rc : dlh_experiment_new(*cfg, NULL, 0, e);
}

/* Every tensor's values (grads = 0) or gradients (1), in slot order: read
   into v, or written from it (write = 1). */
static int hd_tensors(dlh_experiment *e, int write, int grads, double *v)
{
    const dlh_host *h = dlh_host_table();
    float buf[41];
    int at = 0;
    for (int k = 0; k < e->n_param_tensors; k++) {
        const dlh_named_tensor *t = e->slots[k].t;
        const dlh_tensor *x = grads ? &t->grad : &t->value;
        int64_t n = dlh_tensor_numel(&t->value);
        for (int64_t i = 0; write && i < n; i++)
            buf[i] = (float)v[at + i];
        int rc = write ? h->tensor_write(e->backend, x, buf) : h->tensor_read(e->backend, x, buf);
        if (rc)
            return rc;
        for (int64_t i = 0; !write && i < n; i++)
            v[at + i] = buf[i];
        at += (int)n;
    }
    return 0;
}

/* The largest error of tensor k of got against want, relative to want's
   largest value. */
static double hd_err(const dlh_experiment *e, int k, const double *got, const double *want)
{
    int at = 0;
    for (int j = 0; j < k; j++)
        at += (int)dlh_tensor_numel(&e->slots[j].t->value);
    int n = (int)dlh_tensor_numel(&e->slots[k].t->value);
    double scale = 1e-30, err = 0.0;
    for (int i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[at + i]));
    for (int i = 0; i < n; i++)
        err = fmax(err, fabs(got[at + i] - want[at + i]) / scale);
    return err;
}

static float fx[HD_SAMPLES * 3], fy[HD_SAMPLES * 3];

/* Batch `first` .. first + 3 as the loader hands it out. */
static dlh_batch hd_batch(int first)
{
    dlh_batch b;
    memset(&b, 0, sizeof b);
    b.n = HD_BATCH;
    b.first = first;
    b.x = fx + first * 3;
    b.y = fy + first * 3;
    return b;
}

static char hd_loss_text[512];

static const char *hd_loss(const double *w)
{
    snprintf(hd_loss_text, sizeof hd_loss_text,
             "( { type = \"cross_entropy\"; output = \"head_a\"; weight = %.17g; "
             "target = [2, 1]; },\n"
             "  { type = \"mse\"; output = \"head_b\"; weight = %.17g; target = [0, 2]; } )",
             w[0], w[1]);
    return hd_loss_text;
}

static void hd_run(const hd_case *c)
{
    dlh_experiment *e;
    dlh_config *cfg;
    dlh_evaluator ev;
    memset(&ev, 0, sizeof ev);
    int rc = hd_build(hd_loss(c->weights), c->optimizer, &e, &cfg);
    if (rc == 0)
        rc = dlh_evaluator_init(&ev, e);
    if (rc || e->n_param_tensors != 6 || e->n_heads != 2) {
        ok(0, "%s: build: %s", c->name, dlh_error_get());
        dlh_evaluator_release(&ev);
        dlh_experiment_free(e);
        dlh_config_free(cfg);
        return;
    }
    double got[HD_N], w0[HD_N];
    float loss = NAN;
    memcpy(w0, hd_w0, sizeof w0);
    dlh_batch b = hd_batch(0);
    if ((rc = hd_tensors(e, 1, 0, w0)) == 0 &&
        (rc = dlh_evaluator_load(&ev, &b)) == 0 &&
        (rc = dlh_graph_forward(e->graph, HD_BATCH, 1, 0, e->seed)) == 0 &&
        (rc = dlh_evaluator_loss(&ev, HD_BATCH, 1, &loss)) == 0 &&
        (rc = dlh_graph_backward(e->graph, HD_BATCH, 0, e->seed)) == 0)
        rc = hd_tensors(e, 0, 1, got);
    ok(rc == 0, "%s: one forward, loss and backward: %s", c->name, rc ? dlh_error_get() : "");
    ok(fabs(loss - c->loss) <= TOL * fabs(c->loss),
       "%s: the objective %.9g is torch's %.9g", c->name, (double)loss, c->loss);
    for (int h = 0; h < 2; h++)
        ok(fabs(ev.heads[h].loss - c->heads[h]) <= TOL * fabs(c->heads[h]),
           "%s: head %d's own loss %.9g is torch's %.9g", c->name, h,
           (double)ev.heads[h].loss, c->heads[h]);
    for (int k = 0; k < 6; k++) {
        double err = hd_err(e, k, got, c->grads);
        ok(rc == 0 && err <= TOL, "%s: the gradient of %s is torch's (error %.3g)", c->name,
           e->slots[k].name, err);
    }

    /* Steps from the start again: torch's loop, run.c's order. */
    double worst[6] = { 0 }, loss_worst = 0.0;
    rc = hd_tensors(e, 1, 0, w0);
    for (int t = 1; rc == 0 && t <= HD_STEPS; t++) {
        double penalty;
        int bad;
        b = hd_batch(((t - 1) % 2) * HD_BATCH);
        if ((rc = dlh_evaluator_load(&ev, &b)) ||
            (rc = dlh_graph_forward(e->graph, HD_BATCH, 1, t - 1, e->seed)) ||
            (rc = dlh_evaluator_loss(&ev, HD_BATCH, 1, &loss)) ||
            (rc = dlh_graph_backward(e->graph, HD_BATCH, t - 1, e->seed)) ||
            (rc = dlh_optim_gradients(e, &penalty, &bad)) ||
            (rc = dlh_optim_clip(e)) ||
            (rc = dlh_optim_lrs(e, 0, t - 1, HD_STEPS, NAN)) ||
            (rc = dlh_optim_update(e, t)) ||
            (rc = hd_tensors(e, 0, 0, got)))
            break;
        loss_worst = fmax(loss_worst, fabs(loss - c->step_loss[t - 1]) /
                                          fabs(c->step_loss[t - 1]));
        for (int k = 0; k < 6; k++)
            worst[k] = fmax(worst[k], hd_err(e, k, got, c->w[t - 1]));
    }
    ok(rc == 0, "%s: %d steps run: %s", c->name, HD_STEPS, rc ? dlh_error_get() : "");
    ok(loss_worst <= TOL, "%s: the objective before every step is torch's (worst %.3g)",
       c->name, loss_worst);
    for (int k = 0; k < 6; k++)
        ok(worst[k] <= TOL, "%s: %s within %g of torch over %d steps (worst %.3g)", c->name,
           e->slots[k].name, TOL, HD_STEPS, worst[k]);
    dlh_evaluator_release(&ev);
    dlh_experiment_free(e);
    dlh_config_free(cfg);
}

/* A bad loss list: refused when built, the message located in exp.cfg. */
static void hd_bad(const char *loss, const char *want, const char *what)
{
    dlh_experiment *e;
    dlh_config *cfg;
    int rc = hd_build(loss, "type = \"sgd\";", &e, &cfg);
    const char *msg = dlh_error_get();
    ok(rc == DLH_ECONFIG && strstr(msg, want) && strstr(msg, "exp.cfg:"),
       "%s: refused (rc %d: %s)", what, rc, msg);
    dlh_experiment_free(e);
    dlh_config_free(cfg);
}

static void hd_bad_cases(void)
{
    const char *ce = "{ type = \"cross_entropy\"; output = \"head_a\"; target = [2, 1]; }";
    const char *mse = "{ type = \"mse\"; output = \"head_b\"; target = [0, 2]; }";
    char t[1024];
    snprintf(t, sizeof t, "( %s, { type = \"mse\"; output = \"head_c\"; } )", ce);
    hd_bad(t, "loss[1]: output 'head_c' is not a layer of the model (did you mean "
           "'head_a'?)", "an unknown output layer");
    snprintf(t, sizeof t, "( %s, %s, { type = \"mse\"; output = \"act\"; target = [0, 2]; } )",
             ce, mse);
    hd_bad(t, "loss[2]: layer 'act' is read by layer 'head_a'; a loss's output must be a "
           "layer that no other layer reads (a head)", "a head read by another layer");
    snprintf(t, sizeof t, "( %s )", ce);
    hd_bad(t, "layer 'head_b': no layer reads its output and no loss names it",
           "an unnamed layer nobody reads");
    snprintf(t, sizeof t, "( %s, %s, { type = \"l1\"; output = \"head_b\"; "
             "target = [0, 2]; } )", ce, mse);
    hd_bad(t, "loss[2]: layer 'head_b' is already the output of loss[1]; a head takes one "
           "loss", "two losses on one head");
    snprintf(t, sizeof t, "( %s, { type = \"mse\"; output = \"head_b\"; target = [2, 2]; } )",
             ce);
    hd_bad(t, "loss[1]: target = [2, 2] is not a slice of the dense label of data.train, "
           "which has 3 values per sample", "a slice past the label");
    snprintf(t, sizeof t, "( %s, { type = \"mse\"; output = \"head_b\"; target = [-1, 2]; } )",
             ce);
    hd_bad(t, "is not a slice of the dense label", "a negative start");
    snprintf(t, sizeof t, "( %s, { type = \"mse\"; output = \"head_b\"; target = [0, 0]; } )",
             ce);
    hd_bad(t, "is not a slice of the dense label", "an empty slice");
    snprintf(t, sizeof t, "( %s, { type = \"mse\"; output = \"head_b\"; "
             "target = [0.5, 2.0]; } )", ce);
    hd_bad(t, "loss[1]: parameter 'target': expected [start, count], two whole numbers",
           "a slice of fractional columns");
    snprintf(t, sizeof t, "( %s, { type = \"mse\"; output = \"head_b\"; target = [0]; } )",
             ce);
    hd_bad(t, "expected [start, count]", "a slice of one number");
    snprintf(t, sizeof t, "( %s, { type = \"mse\"; output = \"head_b\"; target = [0, 3]; } )",
             ce);
    hd_bad(t, "loss[1]: target = [0, 3] gives 3 values per sample; layer 'head_b' outputs "
           "[2]", "a slice of the wrong width");
    snprintf(t, sizeof t, "( %s, { type = \"mse\"; output = \"head_b\"; } )", ce);
    hd_bad(t, "loss[1]: the output shape [2] of layer 'head_b' differs from the dense label "
           "shape [3] of data.train", "a head on the whole label of another shape");
    snprintf(t, sizeof t, "( %s, { type = \"mse\"; output = \"head_b\"; weight = -1.0; "
             "target = [0, 2]; } )", ce);
    hd_bad(t, "parameter 'weight': expected a number >= 0", "a negative weight");
    snprintf(t, sizeof t, "( %s, { type = \"bce\"; output = \"head_b\"; weight = 2.0; "
             "target = [0, 2]; } )", ce);
    hd_bad(t, "loss[1]: loss 'bce' has a parameter 'weight' of its own",
           "a loss whose own parameter is 'weight'");
    snprintf(t, sizeof t, "( %s, { type = \"mse\"; output = \"head_b\"; target = [0, 2]; "
             "reduce = \"sum\"; } )", ce);
    hd_bad(t, "unknown parameter 'reduce'", "a misspelt loss parameter in an entry");
    snprintf(t, sizeof t, "( %s, 3 )", ce);
    hd_bad(t, "loss: element 2 must be a group", "an entry that is not a group");
    hd_bad("()", "loss: the list has no entries", "an empty list");
    hd_bad("{ type = \"mse\"; }", "layer 'head_a': no layer reads its output (the model's "
           "output is the last layer, 'head_b'", "a single loss group: one output, the last "
           "layer (today's message)");
}

/* Class columns are whole numbers in range, checked as batches load. */
static void hd_bad_labels(void)
{
    dlh_experiment *e;
    dlh_config *cfg;
    dlh_evaluator ev;
    memset(&ev, 0, sizeof ev);
    int rc = hd_build(hd_loss(hd_cases[0].weights), "type = \"sgd\";", &e, &cfg);
    if (rc == 0)
        rc = dlh_evaluator_init(&ev, e);
    ok(rc == 0, "build for the label checks: %s", rc ? dlh_error_get() : "");
    if (rc == 0) {
        static const float bad[2] = { 2.5f, 3.0f };
        static const char *const why[2] = { "holds 2.5", "holds 3" };
        for (int k = 0; k < 2; k++) {
            float keep = fy[1 * 3 + 2];
            fy[1 * 3 + 2] = bad[k];
            dlh_batch b = hd_batch(0);
            rc = dlh_evaluator_load(&ev, &b);
            fy[1 * 3 + 2] = keep;
            const char *msg = dlh_error_get();
            ok(rc == DLH_ECONFIG && strstr(msg, "exp.cfg:") && strstr(msg, why[k]) &&
               strstr(msg, "loss[0]: label column 2") &&
               strstr(msg, "a whole number in 0..2"),
               "a class column holding %g is refused: %s", (double)bad[k], msg);
        }
    }
    dlh_evaluator_release(&ev);
    dlh_experiment_free(e);
    dlh_config_free(cfg);
}

int main(void)
{
    if (!getenv("DLHOST_PLUGIN_PATH"))
        skip_all("DLHOST_PLUGIN_PATH is not set (run through make check)");
    dlh_registry_load_all(0);
    if (strcmp(HD_BACKEND, "cpu") != 0 && !dlh_registry_find(DLH_KIND_BACKEND, HD_BACKEND)) {
        dlh_registry_clear();
        skip_all(HD_BACKEND ": no plugin on the plugin path registers it");
    }
    dlh_backend *probe;
    if (dlh_backend_open(HD_BACKEND, NULL, &probe)) {
        printf("1..0 # SKIP " HD_BACKEND ": %s\n", dlh_error_get());
        dlh_registry_clear();
        return 0;
    }
    dlh_backend_close(probe);
    tmpdir_make(dir, sizeof dir, NULL, "test_heads");
    char csv[2048];
    size_t k = 0;
    for (int i = 0; i < HD_SAMPLES; i++) {
        for (int j = 0; j < 3; j++) {
            fx[i * 3 + j] = (float)hd_x[i][j];
            fy[i * 3 + j] = (float)hd_y[i][j];
        }
        k += (size_t)snprintf(csv + k, sizeof csv - k, "%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n",
                              (double)fx[i * 3], (double)fx[i * 3 + 1],
                              (double)fx[i * 3 + 2], (double)fy[i * 3],
                              (double)fy[i * 3 + 1], (double)fy[i * 3 + 2]);
    }
    tmpdir_put(dir, "train.csv", csv);
    for (size_t i = 0; i < sizeof hd_cases / sizeof *hd_cases; i++)
        hd_run(&hd_cases[i]);
    hd_bad_cases();
    hd_bad_labels();
    tmpdir_remove(dir);
    dlh_registry_clear();
    return done_testing();
}
