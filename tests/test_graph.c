/* core/graph.c through experiment files: a DAG with a skip connection builds
 * with the right shapes and inputs, the gradient at a fan-out (one output
 * read by three inputs, two of them of one layer) matches central
 * differences, backward skips the layers no parameter depends on, a DAG
 * trains, and each bad graph gets its exact message with file:line. */
#define _GNU_SOURCE 1     /* open_memstream */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dlhost/dlhost.h>

#include "check.h"
#include "error.h"
#include "eval.h"
#include "experiment.h"
#include "graph.h"
#include "params.h"
#include "registry.h"
#include "run.h"
#include "tap.h"
#include "tmpdir.h"

static char dir[4096];

/* A skip connection: relu1's output feeds fc2 and the add. */
static const char *skip_cfg =
    "name = \"skip\";\n"                                                      /* 1 */
    "seed = 3;\n"                                                             /* 2 */
    "data = { train = { type = \"csv\"; path = \"train.csv\"; label = \"dense\"; }; };\n"
    "model = (\n"                                                             /* 4 */
    "  { name = \"fc1\"; type = \"dense\"; units = 8; },\n"                  /* 5 */
    "  { name = \"relu1\"; type = \"relu\"; },\n"                             /* 6 */
    "  { name = \"fc2\"; type = \"dense\"; units = 8; },\n"                  /* 7 */
    "  { name = \"sum\"; type = \"add\"; inputs = [\"relu1\", \"fc2\"]; },\n" /* 8 */
    "  { name = \"head\"; type = \"dense\"; units = 1; }\n"                  /* 9 */
    ");\n"                                                                    /* 10 */
    "loss = { type = \"mse\"; };\n"                                           /* 11 */
    "optimizer = { type = \"sgd\"; lr = 0.05; momentum = 0.9; };\n"           /* 12 */
    "train = { epochs = 8; batch_size = 8; };\n";                             /* 13 */

/* A fan-out of three: fc1 feeds fc2 and (twice) the add. */
static const char *fan_cfg =
    "seed = 11;\n"
    "data = { train = { type = \"csv\"; path = \"train.csv\"; label = \"dense\"; }; };\n"
    "model = (\n"
    "  { name = \"fc1\"; type = \"dense\"; units = 3; },\n"
    "  { name = \"fc2\"; type = \"dense\"; units = 3; },\n"
    "  { name = \"sum\"; type = \"add\"; inputs = [\"fc1\", \"fc2\", \"fc1\"]; },\n"
    "  { name = \"act\"; type = \"tanh\"; },\n"
    "  { name = \"head\"; type = \"dense\"; units = 1; }\n"
    ");\n"
    "loss = { type = \"mse\"; };\n"
    "optimizer = { type = \"sgd\"; lr = 0.1; };\n"
    "train = { batch_size = 4; };\n";

/* Backward reaches no layer before fc1: "pre" gets no gradient and the add
   no gradient for its first input, yet fc1 and head get theirs. */
static const char *pre_cfg =
    "seed = 5;\n"
    "data = { train = { type = \"csv\"; path = \"train.csv\"; label = \"dense\"; }; };\n"
    "model = (\n"
    "  { name = \"pre\"; type = \"tanh\"; },\n"
    "  { name = \"fc1\"; type = \"dense\"; units = 2; },\n"
    "  { name = \"sum\"; type = \"add\"; inputs = [\"pre\", \"fc1\"]; },\n"
    "  { name = \"act\"; type = \"tanh\"; },\n"
    "  { name = \"head\"; type = \"dense\"; units = 1; }\n"
    ");\n"
    "loss = { type = \"mse\"; };\n"
    "optimizer = { type = \"sgd\"; lr = 0.1; };\n"
    "train = { batch_size = 4; };\n";

/* Views: r reshapes fc1 and is the first to write fc1's gradient (its
   backward is fc1's gradient memory), f flattens r; t reads fc1 too and adds
   into that gradient afterwards. */
static const char *view_cfg =
    "seed = 13;\n"
    "data = { train = { type = \"csv\"; path = \"train.csv\"; label = \"dense\"; }; };\n"
    "model = (\n"
    "  { name = \"fc1\"; type = \"dense\"; units = 4; },\n"
    "  { name = \"t\"; type = \"tanh\"; },\n"
    "  { name = \"r\"; type = \"reshape\"; shape = [2, 2]; inputs = [\"fc1\"]; },\n"
    "  { name = \"f\"; type = \"flatten\"; },\n"
    "  { name = \"sum\"; type = \"add\"; inputs = [\"t\", \"f\"]; },\n"
    "  { name = \"head\"; type = \"dense\"; units = 1; }\n"
    ");\n"
    "loss = { type = \"mse\"; };\n"
    "optimizer = { type = \"sgd\"; lr = 0.1; };\n"
    "train = { batch_size = 4; };\n";

/* A view that is not the first to write its input's gradient: the add
   writes fc1's, so r's backward copies and the graph adds. */
static const char *view_copy_cfg =
    "seed = 17;\n"
    "data = { train = { type = \"csv\"; path = \"train.csv\"; label = \"dense\"; }; };\n"
    "model = (\n"
    "  { name = \"fc1\"; type = \"dense\"; units = 4; },\n"
    "  { name = \"r\"; type = \"reshape\"; shape = [2, 2]; },\n"
    "  { name = \"f\"; type = \"flatten\"; },\n"
    "  { name = \"t\"; type = \"tanh\"; },\n"
    "  { name = \"sum\"; type = \"add\"; inputs = [\"fc1\", \"t\"]; },\n"
    "  { name = \"head\"; type = \"dense\"; units = 1; }\n"
    ");\n"
    "loss = { type = \"mse\"; };\n"
    "optimizer = { type = \"sgd\"; lr = 0.1; };\n"
    "train = { batch_size = 4; };\n";

/* A flatten straight on the data: its output is whichever input buffer the
   batch is in. */
static const char *view_data_cfg =
    "seed = 19;\n"
    "data = { train = { type = \"csv\"; path = \"train.csv\"; label = \"dense\"; }; };\n"
    "model = (\n"
    "  { name = \"flat\"; type = \"flatten\"; },\n"
    "  { name = \"head\"; type = \"dense\"; units = 1; }\n"
    ");\n"
    "loss = { type = \"mse\"; };\n"
    "optimizer = { type = \"sgd\"; lr = 0.1; };\n"
    "train = { batch_size = 4; };\n";

/* src with `from` replaced by `to`. */
static char *edit(const char *src, const char *from, const char *to)
{
    static char buf[8192];
    const char *at = strstr(src, from);
    if (!at) {
        printf("Bail out! test bug: '%s' is not in the config\n", from);
        exit(1);
    }
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - src), src, to, at + strlen(from));
    return buf;
}

static int load(const char *name, const char *text, dlh_config **cfg)
{
    char file[256], path[4400];
    snprintf(file, sizeof file, "%s.cfg", name);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    tmpdir_put(dir, file, text);
    dlh_error_clear();
    return dlh_config_load(path, cfg);
}

/* Loads `text` as name.cfg and builds its experiment; the test "`what`
   builds" passes when both work (0 is returned and nothing is left
   otherwise). */
static int build(const char *name, const char *text, const char *what, dlh_config **cfg,
                 dlh_experiment **e)
{
    *e = NULL;
    int rc = load(name, text, cfg);
    if (rc == 0)
        rc = dlh_experiment_new(*cfg, NULL, 0, e);
    if (!ok(rc == 0, "%s builds (%s)", what, dlh_error_get())) {
        dlh_config_free(*cfg);
        return 0;
    }
    return 1;
}

static void test_shapes(void)
{
    dlh_config *cfg;
    dlh_experiment *e;
    if (!build("skip", skip_cfg, "the skip-connection model", &cfg, &e))
        return;
    int rc;
    dlh_graph *g = e->graph;
    ok(dlh_graph_count(g) == 5, "five nodes");
    int sum = dlh_graph_find(g, "sum");
    ok(sum == 3, "'sum' is node 3");
    ok(dlh_graph_n_inputs(g, sum) == 2 && dlh_graph_input_of(g, sum, 0) == 1 &&
       dlh_graph_input_of(g, sum, 1) == 2, "'sum' reads relu1 and fc2");
    ok(dlh_graph_n_inputs(g, 0) == 1 && dlh_graph_input_of(g, 0, 0) == -1,
       "fc1 reads the data");
    ok(dlh_graph_input_of(g, 2, 0) == 1, "fc2 reads the previous layer, relu1");
    const dlh_shape *s = dlh_graph_shape(g, sum);
    ok(s->ndim == 1 && s->dim[0] == 8, "'sum' outputs [8]");
    s = dlh_graph_shape(g, -1);
    ok(s->ndim == 1 && s->dim[0] == 2, "the model input is [2]");
    const dlh_tensor *out = dlh_graph_output(g);
    ok(out->ndim == 2 && out->shape[0] == 8 && out->shape[1] == 1,
       "the output tensor is planned for the batch: [8, 1]");
    ok(dlh_graph_dangling(g) == -1, "every layer's output is read");
    ok(dlh_graph_param_count(g) == 6, "six parameter tensors");
    dlh_experiment_free(e);
    dlh_config_free(cfg);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    load("skip", skip_cfg, &cfg);
    rc = dlh_check(cfg, NULL, f);
    fclose(f);
    ok(rc == 0 && strstr(text, "sum    add    [8]              0           relu1, fc2\n"),
       "check prints the join and its inputs");
    if (rc || !strstr(text, "relu1, fc2"))
        diag("%s", text ? text : "");
    free(text);
    dlh_config_free(cfg);

    /* "data" names the model input: a second branch straight from it. */
    text = NULL;
    f = open_memstream(&text, &len);
    load("data_input", edit(skip_cfg, "{ name = \"fc2\"; type = \"dense\"; units = 8; }",
                            "{ name = \"fc2\"; type = \"dense\"; units = 8; "
                            "inputs = [\"data\"]; }"), &cfg);
    rc = dlh_check(cfg, NULL, f);
    fclose(f);
    ok(rc == 0 && strstr(text, "fc2    dense  [8]              24          data\n"),
       "inputs = [\"data\"] reads the model input (%s)", rc ? dlh_error_get() : "");
    free(text);
    dlh_config_free(cfg);
}

static double loss_of(dlh_experiment *e, dlh_evaluator *ev, int64_t b)
{
    float l = NAN;
    if (dlh_graph_forward(e->graph, b, 1, 0, e->seed) ||
        dlh_evaluator_loss(ev, b, 0, &l))
        return NAN;
    return l;
}

/* The most values of one parameter tensor check_gradients holds on its stack. */
#define MAX_PARAM 16

/* Analytic gradients of the parameters of the layers named in `layers`
   against central differences of the loss; `has_grad` lists, per node,
   whether backward reaches it. */
static void check_gradients(const char *name, const char *text, const char *has_grad,
                            const int *layers, int n_layers, const char *what)
{
    dlh_config *cfg;
    dlh_experiment *e = NULL;
    dlh_evaluator ev;
    memset(&ev, 0, sizeof ev);
    int rc = load(name, text, &cfg);
    if (rc == 0)
        rc = dlh_experiment_new(cfg, NULL, 0, &e);
    if (rc == 0)
        rc = dlh_evaluator_init(&ev, e);
    if (!ok(rc == 0, "the %s model builds (%s)", name, dlh_error_get())) {
        dlh_experiment_free(e);
        dlh_config_free(cfg);
        return;
    }
    const dlh_backend *be = e->backend;
    const dlh_host *host = dlh_host_table();
    const int64_t b = 4;
    float x[8] = { 0.5f, -1.0f, 1.5f, 0.25f, -0.75f, 0.3f, 1.1f, -0.6f };
    float y[4] = { 0.3f, -0.2f, 0.8f, 0.1f };
    dlh_tensor xv = *dlh_graph_input(e->graph), yv = ev.y;
    xv.shape[0] = yv.shape[0] = b;
    host->tensor_write(be, &xv, x);
    host->tensor_write(be, &yv, y);

    float l;
    rc = dlh_graph_forward(e->graph, b, 1, 0, e->seed);
    if (rc == 0)
        rc = dlh_evaluator_loss(&ev, b, 1, &l);
    if (rc == 0)
        rc = dlh_graph_backward(e->graph, b, 0, e->seed);
    ok(rc == 0, "%s: forward, loss and backward run (%s)", name,
       rc ? dlh_error_get() : "");
    char got[16] = "";
    for (int i = 0; i < dlh_graph_count(e->graph) && i < 15; i++)
        got[i] = dlh_graph_node_has_grad(e->graph, i) ? '1' : '0';
    ok(strcmp(got, has_grad) == 0, "%s: backward reaches nodes %s (expected %s)", name,
       got, has_grad);

    for (int li = 0; li < n_layers; li++) {
        dlh_layer_inst *layer = dlh_graph_layer(e->graph, layers[li]);
        for (int p = 0; p < layer->n_params; p++) {
            dlh_named_tensor *t = &layer->params[p];
            int64_t n = dlh_tensor_numel(&t->value);
            float w[MAX_PARAM], gr[MAX_PARAM];
            if (n > MAX_PARAM) {
                ok(0, "%s: %s.%s has %lld values, the check holds %d", name,
                   layer->name, t->name, (long long)n, MAX_PARAM);
                continue;
            }
            host->tensor_read(be, &t->grad, gr);
            host->tensor_read(be, &t->value, w);
            double worst = 0.0;
            const float h = 1e-2f;
            for (int64_t i = 0; i < n; i++) {
                float keep = w[i];
                w[i] = keep + h;
                host->tensor_write(be, &t->value, w);
                double lp = loss_of(e, &ev, b);
                w[i] = keep - h;
                host->tensor_write(be, &t->value, w);
                double lm = loss_of(e, &ev, b);
                w[i] = keep;
                host->tensor_write(be, &t->value, w);
                double num = (lp - lm) / (2.0 * h);
                double err = fabs(num - gr[i]) / fmax(1e-2, fabs(num));
                if (err > worst)
                    worst = err;
            }
            ok(worst < 2e-2, "%s: %s.%s: %s matches central differences (worst relative "
               "error %.2g)", name, layer->name, t->name, what, worst);
        }
    }
    dlh_layer_inst *fc1 = dlh_graph_layer(e->graph, layers[0]);
    int64_t n1 = dlh_tensor_numel(&fc1->params[0].grad);
    float g1[MAX_PARAM] = { 0 }, g2[MAX_PARAM] = { 0 };
    if (n1 <= MAX_PARAM) {
        host->tensor_read(be, &fc1->params[0].grad, g1);
        /* The activations of the unperturbed weights again, then backward. */
        loss_of(e, &ev, b);
        dlh_graph_backward(e->graph, b, 0, e->seed);
        host->tensor_read(be, &fc1->params[0].grad, g2);
    }
    ok(n1 <= MAX_PARAM && memcmp(g1, g2, sizeof g1) == 0, "%s: backward zeroes the "
       "gradients first: a second backward gives the same gradient", name);
    dlh_evaluator_release(&ev);
    dlh_experiment_free(e);
    dlh_config_free(cfg);
}

static void test_gradients(void)
{
    /* fc1's output fans out three ways. */
    check_gradients("fan", fan_cfg, "11111", (const int[]){ 0 }, 1,
                    "the gradient summed over three consumers");
    check_gradients("pre", pre_cfg, "01111", (const int[]){ 1, 4 }, 2,
                    "the gradient past a layer backward does not reach");
    check_gradients("view", view_cfg, "111111", (const int[]){ 0, 5 }, 2,
                    "the gradient through views that share its memory");
    check_gradients("view_copy", view_copy_cfg, "111111", (const int[]){ 0, 5 }, 2,
                    "the gradient through a view that copies it");
}

static int same_mem(const dlh_tensor *a, const dlh_tensor *b)
{
    return a->mem.buf == b->mem.buf && a->mem.off == b->mem.off;
}

/* flatten and reshape take their input's memory instead of copying. */
static void test_views(void)
{
    dlh_config *cfg;
    dlh_experiment *e;
    if (!build("view", view_cfg, "the view model", &cfg, &e))
        return;
    dlh_graph *g = e->graph;
    const dlh_host *host = dlh_host_table();
    const float x[8] = { 0.5f, -1.0f, 1.5f, 0.25f, -0.75f, 0.3f, 1.1f, -0.6f };
    dlh_tensor xv = *dlh_graph_input(g);
    xv.shape[0] = 4;
    host->tensor_write(e->backend, &xv, x);
    int rc = dlh_graph_forward(g, 4, 1, 0, e->seed);
    ok(rc == 0 && same_mem(dlh_graph_node_output(g, 2), dlh_graph_node_output(g, 0)) &&
       same_mem(dlh_graph_node_output(g, 3), dlh_graph_node_output(g, 0)),
       "reshape and flatten outputs are fc1's memory");
    const dlh_tensor *o = dlh_graph_node_output(g, 3);
    ok(o->ndim == 2 && o->shape[0] == 4 && o->shape[1] == 4, "with their own shape");
    dlh_experiment_free(e);
    dlh_config_free(cfg);

    if (!build("view_data", view_data_cfg, "the flatten-first model", &cfg, &e))
        return;
    g = e->graph;
    dlh_tensor bufs[2];
    rc = dlh_graph_input_buffers(g, bufs);
    int follows = rc == 0;
    for (int k = 0; follows && k < 2; k++) {
        xv = bufs[k];
        xv.shape[0] = 4;
        host->tensor_write(e->backend, &xv, x);
        dlh_graph_select_input(g, k);
        follows = dlh_graph_forward(g, 4, 1, 0, e->seed) == 0 &&
                  same_mem(dlh_graph_node_output(g, 0), &bufs[k]);
    }
    ok(follows, "flatten's output follows the input buffer the batch is in");
    dlh_experiment_free(e);
    dlh_config_free(cfg);
}

static int losses(const char *out, double *v, int max)
{
    int n = 0;
    for (const char *s = out; s && (s = strstr(s, "train_loss ")) && n < max; s++)
        v[n++] = strtod(s + 11, NULL);
    return n;
}

static void test_training(void)
{
    dlh_config *cfg;
    char runs[4200], *text = NULL;
    size_t len = 0;
    snprintf(runs, sizeof runs, "%s/runs", dir);
    load("skip", skip_cfg, &cfg);
    FILE *f = open_memstream(&text, &len);
    dlh_run_options opt = { .runs_root = runs };
    int rc = dlh_run_ex(cfg, NULL, &opt, f);
    fclose(f);
    ok(rc == 0, "the skip-connection model trains (%s)", rc ? dlh_error_get() : "");
    double v[16];
    int n = losses(text, v, 16);
    ok(n == 8 && v[7] < 0.5 * v[0], "its train loss falls below half in 8 epochs "
       "(%g -> %g)", n ? v[0] : 0.0, n ? v[n - 1] : 0.0);
    if (rc || n != 8)
        diag("%s", text ? text : "");
    free(text);
    dlh_config_free(cfg);
}

static void bad(const char *name, const char *text, int want_rc, const char *want)
{
    dlh_config *cfg;
    char *out = NULL, full[8400];
    size_t len = 0;
    int rc = load(name, text, &cfg);
    if (rc == 0) {
        FILE *f = open_memstream(&out, &len);
        rc = dlh_check(cfg, NULL, f);
        fclose(f);
        dlh_config_free(cfg);
    }
    snprintf(full, sizeof full, "%s/%s.cfg:%s", dir, name, want);
    ok(rc == want_rc, "%s: rc %d (%s)", name, rc, dlh_strerror(rc));
    if (!ok(strcmp(dlh_error_get(), full) == 0, "%s: message", name))
        diag("got  '%s'\n#   want '%s'", dlh_error_get(), full);
    free(out);
}

static void test_bad(void)
{
    bad("unknown_input", edit(skip_cfg, "[\"relu1\", \"fc2\"]", "[\"relu\", \"fc2\"]"),
        DLH_ECONFIG, "8: layer 'sum': unknown input 'relu' (did you mean 'relu1'?)");
    bad("later_input", edit(skip_cfg, "[\"relu1\", \"fc2\"]", "[\"relu1\", \"head\"]"),
        DLH_ECONFIG, "8: layer 'sum': input 'head' is a later layer (layer 5); inputs "
        "must name earlier layers, so the model has no cycles");
    bad("cycle", edit(skip_cfg, "{ name = \"fc2\"; type = \"dense\"; units = 8; }",
                      "{ name = \"fc2\"; type = \"dense\"; units = 8; inputs = [\"sum\"]; }"),
        DLH_ECONFIG, "7: layer 'fc2': input 'sum' is a later layer (layer 4); inputs must "
        "name earlier layers, so the model has no cycles");
    bad("add_shapes", edit(skip_cfg, "{ name = \"fc2\"; type = \"dense\"; units = 8; }",
                           "{ name = \"fc2\"; type = \"dense\"; units = 5; }"),
        DLH_ECONFIG, "8: layer 'sum': add needs inputs of one shape: input 0 is [8], "
        "input 1 is [5]");
    bad("dangling", edit(skip_cfg, "[\"relu1\", \"fc2\"]", "[\"relu1\", \"relu1\"]"),
        DLH_ECONFIG, "7: layer 'fc2': no layer reads its output (the model's output is "
        "the last layer, 'head'; name it in a later layer's 'inputs')");
}

int main(void)
{
    if (!getenv("DLHOST_PLUGIN_PATH"))
        skip_all("DLHOST_PLUGIN_PATH is not set (run through make check)");
    tmpdir_make(dir, sizeof dir, NULL, "test_graph");
    /* y = x1 * x2 + 0.5 x1 - x2 on a grid: needs the hidden layers. */
    char text[8192];
    size_t n = 0;
    for (int i = 0; i < 64; i++) {
        double x1 = (i % 8) / 3.5 - 1.0, x2 = (i / 8) / 3.5 - 1.0;
        n += (size_t)snprintf(text + n, sizeof text - n, "%.4f,%.4f,%.4f\n", x1, x2,
                              x1 * x2 + 0.5 * x1 - x2);
    }
    tmpdir_put(dir, "train.csv", text);
    dlh_registry_load_all(0);

    test_shapes();
    test_gradients();
    test_views();
    test_training();
    test_bad();

    tmpdir_remove(dir);
    dlh_registry_clear();
    return done_testing();
}
