/* optimizer.groups, frozen tensors, L1/L2 penalties, clip_norm with
 * norm_type, clip_value and max_norm (core/optim.c) against PyTorch: the
 * four tensors of a dense-relu-dense experiment start from fixed values and
 * take 25 steps on fixed gradients through the core's step functions in
 * run.c's order (dlh_optim_gradients, _clip, _lrs, _update) with an
 * exponential schedule; every tensor after every step, the penalty value and
 * each tensor's step count against tests/ref/param_groups_ref.py (torch.optim
 * param_groups, torch.nn.utils.clip_grad_norm_/clip_grad_value_,
 * torch.renorm), within 1e-5 of the tensor's largest value.  Frozen tensors
 * keep their values and get no optimiser state; the graph computes no
 * gradient below the last trainable layer.
 *
 * Built twice: on cpu, and as test_param_groups_opencl on the backend
 * PG_BACKEND names (SKIPped where it is absent). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlhost/dlhost.h>

#include "error.h"
#include "eval.h"
#include "experiment.h"
#include "graph.h"
#include "params.h"
#include "registry.h"
#include "tap.h"
#include "tmpdir.h"

#ifndef PG_BACKEND
#define PG_BACKEND "cpu"
#endif

#define TOL 1e-5

typedef struct pg_case {
    const char *name, *optimizer;
    double w[25][26];           /* every tensor after each step */
    double penalty[25];
    int64_t steps[4];
} pg_case;

#include "ref/param_groups_ref.h"   /* tests/ref/param_groups_ref.py */

static char dir[4096];

static const char *cfg_head =
    "backend = { type = \"" PG_BACKEND "\"; };\n"
    "data = { train = { type = \"csv\"; path = \"train.csv\"; label_column = 3; }; };\n"
    "model = (\n"
    "  { name = \"fc1\"; type = \"dense\"; units = 4; },\n"
    "  { type = \"relu\"; },\n"
    "  { name = \"fc2\"; type = \"dense\"; units = 2; }\n"
    ");\n"
    "loss = { type = \"cross_entropy\"; };\n"
    "schedule = { type = \"exponential\"; gamma = 0.95; };\n"
    "train = { epochs = 1; batch_size = 4; };\n";

/* Builds the experiment with optimizer = { body }; rc and message out. */
static int pg_build(const char *body, dlh_experiment **e, dlh_config **cfg)
{
    char text[4096], path[4200];
    snprintf(text, sizeof text, "%soptimizer = { %s };\n", cfg_head, body);
    snprintf(path, sizeof path, "%s/exp.cfg", dir);
    tmpdir_put(dir, "exp.cfg", text);
    *e = NULL;
    int rc = dlh_config_load(path, cfg);
    return rc ? rc : dlh_experiment_new(*cfg, NULL, 0, e);
}

/* Copies the four tensors (or, with grads, their gradients) from v, or
   with out set, the tensors' values into v. */
static int pg_copy(dlh_experiment *e, double *v, int grads, int out)
{
    const dlh_host *h = dlh_host_table();
    float buf[26];
    int at = 0;
    for (int k = 0; k < e->n_param_tensors; k++) {
        const dlh_named_tensor *t = e->slots[k].t;
        const dlh_tensor *x = grads ? &t->grad : &t->value;
        int64_t n = dlh_tensor_numel(x);
        for (int64_t i = 0; !out && i < n; i++)
            buf[i] = (float)v[at + i];
        int rc = out ? h->tensor_read(e->backend, x, buf) : h->tensor_write(e->backend, x, buf);
        if (rc)
            return rc;
        for (int64_t i = 0; out && i < n; i++)
            v[at + i] = buf[i];
        at += (int)n;
    }
    return 0;
}

static void pg_run(const pg_case *c)
{
    dlh_experiment *e;
    dlh_config *cfg = NULL;
    int rc = pg_build(c->optimizer, &e, &cfg);
    if (rc || e->n_param_tensors != 4) {
        ok(0, "%s: build: %s", c->name, dlh_error_get());
        dlh_experiment_free(e);
        dlh_config_free(cfg);
        return;
    }
    double worst[4] = { 0 }, pen_worst = 0.0, got[PG_N];
    int worst_step[4] = { 0 };
    rc = pg_copy(e, (double *)pg_w0, 0, 0);
    for (int t = 1; rc == 0 && t <= PG_STEPS; t++) {
        double penalty;
        int bad;
        if ((rc = pg_copy(e, (double *)pg_grads[t - 1], 1, 0)) ||
            (rc = dlh_optim_gradients(e, &penalty, &bad)) ||
            (rc = dlh_optim_clip(e)) ||
            (rc = dlh_optim_lrs(e, t - 1, t - 1, 1, NAN)) ||
            (rc = dlh_optim_update(e, t)) ||
            (rc = pg_copy(e, got, 0, 1)))
            break;
        double pe = fabs(penalty - c->penalty[t - 1]) / fmax(fabs(c->penalty[t - 1]), 1e-30);
        pen_worst = fmax(pen_worst, c->penalty[t - 1] == 0.0 ? fabs(penalty) : pe);
        for (int k = 0, at = 0; k < 4; k++) {
            int n = (int)dlh_tensor_numel(&e->slots[k].t->value);
            double scale = 0.0, err = 0.0;
            for (int i = 0; i < n; i++)
                scale = fmax(scale, fabs(c->w[t - 1][at + i]));
            for (int i = 0; i < n; i++)
                err = fmax(err, fabs(got[at + i] - c->w[t - 1][at + i]) / scale);
            if (err > worst[k]) {
                worst[k] = err;
                worst_step[k] = t;
            }
            at += n;
        }
    }
    ok(rc == 0, "%s: 25 steps run: %s", c->name, rc ? dlh_error_get() : "");
    for (int k = 0; k < 4; k++)
        ok(worst[k] <= TOL, "%s: %s within %g of torch over 25 steps (worst %.3g at step %d)",
           c->name, e->slots[k].name, TOL, worst[k], worst_step[k]);
    ok(pen_worst <= TOL, "%s: the penalty equals torch's every step (worst %.3g)", c->name,
       pen_worst);
    int steps_ok = 1, frozen_ok = 1;
    for (int k = 0; k < 4; k++) {
        const dlh_param_slot *sl = &e->slots[k];
        steps_ok &= sl->step == c->steps[k];
        if (c->steps[k] == 0)   /* frozen: no state, marked for the graph */
            frozen_ok &= sl->states == NULL && sl->t->frozen &&
                         !e->groups[sl->group].trainable;
    }
    ok(steps_ok, "%s: every tensor's step count is torch's state['step']", c->name);
    ok(frozen_ok, "%s: frozen tensors hold no optimiser state", c->name);
    dlh_experiment_free(e);
    dlh_config_free(cfg);
}

/* Bad settings: one message each, located at the key. */
static void pg_bad(const char *body, const char *want, const char *what)
{
    dlh_experiment *e;
    dlh_config *cfg = NULL;
    int rc = pg_build(body, &e, &cfg);
    const char *msg = dlh_error_get();
    ok(rc == DLH_ECONFIG && strstr(msg, want) && strstr(msg, "exp.cfg:"),
       "%s: refused (rc %d: %s)", what, rc, msg);
    dlh_experiment_free(e);
    dlh_config_free(cfg);
}

static void pg_bad_cases(void)
{
    pg_bad("type = \"sgd\"; groups = ( { params = [\"fc9.*\"]; } );",
           "optimizer.groups[0]: pattern 'fc9.*' matches no parameter (the model has: "
           "fc1.weight, fc1.bias, fc2.weight, fc2.bias)", "a pattern that matches nothing");
    pg_bad("type = \"sgd\"; groups = ( { params = [\"*\"]; }, { params = [\"fc1.*\"]; } );",
           "optimizer.groups[1]: every parameter its patterns match belongs to an earlier "
           "group", "a group left empty by an earlier one");
    pg_bad("type = \"sgd\"; groups = ( { lr = 0.1; } );",
           "optimizer.groups[0]: missing required parameter 'params'", "a group without params");
    pg_bad("type = \"sgd\"; groups = ( { params = [1]; } );", "params[0] is not a string",
           "a pattern that is not a string");
    pg_bad("type = \"sgd\"; groups = ( { params = \"fc1.*\"; momentum = -1.0; } );",
           "optimizer.groups[0]: parameter 'momentum': expected a number >= 0, got -1",
           "an optimiser hyper-parameter out of range in a group");
    pg_bad("type = \"sgd\"; groups = ( { params = \"fc1.*\"; momentun = 0.9; } );",
           "unknown parameter 'momentun'", "a misspelt key in a group");
    pg_bad("type = \"sgd\"; groups = ( { params = \"fc1.*\"; lr = 0.1; lr_mult = 2.0; } );",
           "give 'lr' or 'lr_mult', not both", "lr and lr_mult");
    pg_bad("type = \"sgd\"; groups = ( { params = \"fc1.*\"; lr = -0.1; } );",
           "Invalid learning rate: -0.1", "a negative group lr");
    pg_bad("type = \"sgd\"; groups = ( { params = \"fc1.*\"; trainable = false; lr = 0.1; } );",
           "'lr' has no effect on a frozen group", "settings on a frozen group");
    pg_bad("type = \"sgd\"; groups = ( { params = \"fc1.*\"; clip_norm = 1.0; } );",
           "'clip_norm' acts on the whole optimizer and cannot be set per group",
           "clipping per group");
    pg_bad("type = \"sgd\"; groups = { params = \"fc1.*\"; };",
           "'groups' expects a list", "groups that is not a list");
    pg_bad("type = \"sgd\"; regularization = { l3 = 0.1; };", "unknown parameter 'l3'",
           "an unknown penalty");
    pg_bad("type = \"sgd\"; regularization = { l1 = -0.1; };", "'l1'", "a negative l1");
    pg_bad("type = \"sgd\"; regularization = 0.1;", "expected a group { l1 = ...; l2 = ...; }",
           "regularization that is not a group");
    pg_bad("type = \"sgd\"; norm_type = 2.0;", "norm_type without clip_norm has no effect",
           "norm_type alone");
    pg_bad("type = \"sgd\"; clip_norm = 1.0; norm_type = \"two\";",
           "norm_type 'two': expected a number > 0 or \"inf\"", "a norm_type word");
    pg_bad("type = \"sgd\"; clip_norm = 1.0; grad_clip = 1.0;",
           "'grad_clip' is the old name of 'clip_norm'; keep one", "grad_clip and clip_norm");
    pg_bad("type = \"sgd\"; max_norm = -1.0;", "'max_norm'", "a negative max_norm");
    pg_bad("type = \"sgd\"; trainable = false;", "unknown parameter 'trainable'",
           "trainable outside a group");
}

/* A frozen first layer: backward never reaches it. */
static void pg_frozen_graph(void)
{
    dlh_experiment *e;
    dlh_config *cfg = NULL;
    int rc = pg_build("type = \"sgd\"; groups = ( { params = \"fc1.*\"; trainable = false; "
                      "} );", &e, &cfg);
    ok(rc == 0, "frozen fc1: builds: %s", rc ? dlh_error_get() : "");
    if (rc == 0) {
        ok(!dlh_graph_node_has_grad(e->graph, 0) && !dlh_graph_node_has_grad(e->graph, 1) &&
           dlh_graph_node_has_grad(e->graph, 2),
           "frozen fc1: backward runs fc2 only (nothing below needs a gradient)");
        size_t n;
        dlh_ckpt_tensor *t;
        rc = dlh_model_tensors(e, 1, &t, &n);
        int optim_fc1 = 0;
        for (size_t i = 0; rc == 0 && i < n; i++)
            optim_fc1 |= strncmp(t[i].name, "optim.fc1.", 10) == 0;
        ok(rc == 0 && !optim_fc1 && n == 4 + 2 * 1,
           "frozen fc1: checkpoints hold its weights and no optimiser state (%zu tensors)", n);
        dlh_model_tensors_free(t, n);
    }
    dlh_experiment_free(e);
    dlh_config_free(cfg);
}

int main(void)
{
    if (!getenv("DLHOST_PLUGIN_PATH"))
        skip_all("DLHOST_PLUGIN_PATH is not set (run through make check)");
    dlh_registry_load_all(0);
    if (strcmp(PG_BACKEND, "cpu") != 0 && !dlh_registry_find(DLH_KIND_BACKEND, PG_BACKEND)) {
        dlh_registry_clear();
        skip_all(PG_BACKEND ": no plugin on the plugin path registers it");
    }
    dlh_backend *probe;
    if (dlh_backend_open(PG_BACKEND, NULL, &probe)) {
        printf("1..0 # SKIP " PG_BACKEND ": %s\n", dlh_error_get());
        dlh_registry_clear();
        return 0;
    }
    dlh_backend_close(probe);
    tmpdir_make(dir, sizeof dir, NULL, "test_param_groups");
    tmpdir_put(dir, "train.csv", "0.5,0.1,0.2,1\n0.25,0.2,-0.3,0\n-0.5,0.4,0.1,1\n"
               "0.3,-0.2,0.6,0\n");
    for (size_t i = 0; i < sizeof pg_cases / sizeof pg_cases[0]; i++)
        pg_run(&pg_cases[i]);
    pg_frozen_graph();
    pg_bad_cases();
    tmpdir_remove(dir);
    dlh_registry_clear();
    return done_testing();
}
