/* core/experiment.c through dlh_check and dlh_run: what check prints for a
 * good file, one exact message (with file:line) for each kind of bad file,
 * (the keys of the training-loop issue too), and a short real run: the loss
 * falls, the same seed gives the same numbers, a diverging run stops with
 * DLH_ENUMERIC naming the step. */
#define _GNU_SOURCE 1     /* open_memstream */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dlhost/dlhost.h>

#include "check.h"
#include "error.h"
#include "params.h"
#include "registry.h"
#include "run.h"
#include "tap.h"
#include "tmpdir.h"

static char dir[4096], runs[4200];

/* The base experiment; each bad case replaces one piece of it. */
static const char *base_cfg =
    "name = \"t\";\n"                                                        /* 1 */
    "seed = 5;\n"                                                            /* 2 */
    "backend = { type = \"cpu\"; };\n"                                       /* 3 */
    "data = {\n"                                                             /* 4 */
    "  train = { type = \"csv\"; path = \"train.csv\"; label = \"dense\"; };\n" /* 5 */
    "  test = { type = \"csv\"; path = \"test.csv\"; label = \"dense\"; };\n"   /* 6 */
    "};\n"                                                                   /* 7 */
    "model = (\n"                                                            /* 8 */
    "  { type = \"dense\"; units = 8; init = \"he_normal\"; },\n"           /* 9 */
    "  { type = \"relu\"; },\n"                                              /* 10 */
    "  { type = \"dense\"; units = 1; }\n"                                   /* 11 */
    ");\n"                                                                   /* 12 */
    "loss = { type = \"mse\"; };\n"                                          /* 13 */
    "optimizer = { type = \"sgd\"; lr = 0.05; momentum = 0.9; };\n"          /* 14 */
    "train = { epochs = 6; batch_size = 10; };\n";                           /* 15 */

/* y = x1 - 2 x2 + 0.5 on a grid: learnable by the little net. */
static void put_data(const char *name, int rows, int offset)
{
    char text[8192];
    size_t n = 0;
    for (int i = 0; i < rows; i++) {
        double x1 = ((i + offset) % 7) / 3.0 - 1.0, x2 = ((i + offset) % 5) / 2.0 - 1.0;
        n += (size_t)snprintf(text + n, sizeof text - n, "%.4f,%.4f,%.4f\n", x1, x2,
                              x1 - 2.0 * x2 + 0.5);
    }
    tmpdir_put(dir, name, text);
}

/* src with `from` replaced by `to` (from must occur); the result lives
   until the fourth call after this one. */
static char *edit_of(const char *src, const char *from, const char *to)
{
    static char bufs[4][8192];
    static int next;
    char *out = bufs[next++ % 4];
    const char *at = strstr(src, from);
    if (!at) {
        printf("Bail out! test bug: '%s' is not in the config\n", from);
        exit(1);
    }
    snprintf(out, sizeof bufs[0], "%.*s%s%s", (int)(at - src), src, to, at + strlen(from));
    return out;
}

static char *edit(const char *from, const char *to)
{
    return edit_of(base_cfg, from, to);
}

typedef struct result {
    int rc;
    char err[2048];
    char *out;
    size_t out_len;
} result;

/* Runs check (run = 0) or run on text saved as NAME.cfg in the temp folder. */
static void go(result *r, int run, const char *name, const char *text,
               const char *backend)
{
    char file[256], path[4400];
    snprintf(file, sizeof file, "%s.cfg", name);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    tmpdir_put(dir, file, text);
    memset(r, 0, sizeof *r);
    dlh_config *cfg;
    dlh_error_clear();
    r->rc = dlh_config_load(path, &cfg);
    if (r->rc == 0) {
        FILE *out = open_memstream(&r->out, &r->out_len);
        dlh_run_options opt = { .runs_root = runs };
        r->rc = run ? dlh_run_ex(cfg, backend, &opt, out) : dlh_check(cfg, backend, out);
        fclose(out);
        dlh_config_free(cfg);
    }
    snprintf(r->err, sizeof r->err, "%s", r->rc ? dlh_error_get() : "");
}

/* check of text fails with rc and exactly "<dir>/NAME.cfg:<want>". */
static void bad_text(const char *name, const char *text, int rc, const char *want)
{
    result r;
    char full[8400];
    go(&r, 0, name, text, NULL);
    snprintf(full, sizeof full, "%s/%s.cfg:%s", dir, name, want);
    ok(r.rc == rc, "%s: rc %d (%s)", name, r.rc, dlh_strerror(r.rc));
    if (!ok(strcmp(r.err, full) == 0, "%s: message", name))
        diag("got  '%s'\n#   want '%s'", r.err, full);
    free(r.out);
}

/* The same for the base file with one edit. */
static void bad(const char *name, const char *from, const char *to, int rc,
                const char *want)
{
    bad_text(name, edit(from, to), rc, want);
}

/* The same with validation data (a quarter of the training file) and the
   train group's "batch_size = 10;" replaced by to: its line is 15. */
static void bad_val(const char *name, const char *to, int rc, const char *want)
{
    bad_text(name, edit_of(edit("data = {\n", "data = { validation_split = 0.25;\n"),
                           "batch_size = 10;", to), rc, want);
}

static void test_check_good(void)
{
    result r;
    go(&r, 0, "good", base_cfg, NULL);
    ok(r.rc == 0, "check of a good file: 0 (%s)", r.err);
    const char *out = r.out ? r.out : "";
    ok(strstr(out, "backend     cpu: ") != NULL, "prints the backend line");
    ok(strstr(out, "data.train  csv: 40 samples, sample [2], dense labels [1]\n") != NULL,
       "prints data.train");
    ok(strstr(out, "data.test   csv: 12 samples, sample [2], dense labels [1]\n") != NULL,
       "prints data.test");
    /* Default names count per type: dense1, relu1, dense2. */
    ok(strstr(out, "layer   type   output           parameters  inputs\n") != NULL,
       "model header");
    ok(strstr(out, "dense1  dense  [8]              24          data\n") != NULL,
       "dense1: output [8], 2*8 + 8 = 24 parameters, reads the data");
    ok(strstr(out, "relu1   relu   [8]              0           dense1\n") != NULL,
       "relu1: no parameters, reads dense1");
    ok(strstr(out, "dense2  dense  [1]              9           relu1\n") != NULL,
       "dense2: 8 + 1 = 9");
    ok(strstr(out, "checkpoint every 1 epoch, keeping the best\n") != NULL,
       "checkpoints default to every epoch, keeping the best");
    ok(strstr(out, "parameters  33\n") != NULL, "total 33 parameters");
    ok(strstr(out, "optimizer   sgd (lr 0.05)\n") != NULL, "optimizer and lr");
    ok(strstr(out, "schedule    constant\n") != NULL, "schedule defaults to constant");
    ok(strstr(out, "train       6 epochs, batch size 10, shuffled\n") != NULL,
       "train settings (shuffle defaults to true)");
    size_t n = strlen(out);
    ok(n >= 3 && strcmp(out + n - 3, "ok\n") == 0, "ends with ok");
    if (r.rc)
        diag("%s", out);
    free(r.out);
}

static void test_check_bad(void)
{
    bad("unknown_data", "  test = {", "  tst = {", DLH_ECONFIG,
        "6: data: unknown parameter 'tst' \u2014 did you mean 'test'?");
    bad("no_model", "model = (", "mdel = (", DLH_ECONFIG,
        "8: experiment: unknown parameter 'mdel' \u2014 did you mean 'model'?");
    /* 'train' is absent, yet suggested: the core reserves its top-level keys. */
    bad("unknown_top", "train = { epochs", "trian = { epochs", DLH_ECONFIG,
        "15: experiment: unknown parameter 'trian' \u2014 did you mean 'train'?");
    bad("unknown_train", "epochs = 6", "epoch = 6", DLH_ECONFIG,
        "15: train: unknown parameter 'epoch' \u2014 did you mean 'epochs'?");
    bad("epochs_zero", "epochs = 6", "epochs = 0", DLH_ECONFIG,
        "15: train: parameter 'epochs': expected an integer in [1, 2147483647], got 0");
    bad("no_train", "  train = { type = \"csv\"; path = \"train.csv\"; label = \"dense\"; };\n",
        "", DLH_ECONFIG, "4: data: missing required group 'train'");
    bad("no_loss", "loss = { type = \"mse\"; };\n", "", DLH_ECONFIG,
        " experiment: missing required group 'loss'");
    bad("class_metric", "seed = 5;", "seed = 5; metrics = [\"loss\", \"f1\"];",
        DLH_ECONFIG, "2: metrics: metric 'f1': needs class targets; this model has "
        "regression targets");
    bad("unknown_metric", "seed = 5;", "seed = 5; metrics = [\"acuracy\"];", DLH_ECONFIG,
        "2: metrics: unknown metric 'acuracy' (did you mean 'accuracy'?)");
    bad("accuracy_dense", "seed = 5;", "seed = 5; metrics = [\"accuracy\"];", DLH_ECONFIG,
        "2: metrics: metric 'accuracy': needs class targets; this model has regression "
        "targets");
    bad("split_range", "data = {\n", "data = { validation_split = 1.0;\n", DLH_ECONFIG,
        "4: data: parameter 'validation_split': expected a fraction in [0, 1), got 1");
    bad("split_tiny", "data = {\n", "data = { validation_split = 0.01;\n", DLH_ECONFIG,
        "4: data: 'validation_split' 0.01 of 40 samples leaves no validation sample");
    bad("split_and_set", "data = {\n",
        "data = { validation_split = 0.2; validation = { type = \"csv\"; "
        "path = \"test.csv\"; label = \"dense\"; };\n", DLH_ECONFIG,
        "4: data: 'validation_split' and 'validation' both give validation data; keep one");
    bad("normalize", "data = {\n", "data = { normalize = \"zscor\";\n", DLH_ECONFIG,
        "4: data: parameter 'normalize': expected one of \"none\", \"zscore\", "
        "\"minmax\", \"pca\", \"zca\", got \"zscor\"");
    bad("es_no_val", "batch_size = 10;",
        "batch_size = 10;\n early_stopping = { patience = 2; };", DLH_ECONFIG,
        "16: train.early_stopping: needs validation data (data.validation_split or "
        "data.validation)");
    bad("es_monitor_no_val", "batch_size = 10;",
        "batch_size = 10; early_stopping = { monitor = \"val_loss\"; };", DLH_ECONFIG,
        "15: train.early_stopping: monitor 'val_loss' needs validation data "
        "(data.validation_split or data.validation)");
    bad_val("es_monitor", "batch_size = 10; early_stopping = { monitor = \"val_los\"; };",
        DLH_ECONFIG, "15: train.early_stopping: monitor 'val_los' is not a column of this "
        "run's metrics.csv (did you mean 'val_loss'?); known: train_loss, val_loss");
    bad_val("es_monitor_accuracy", "batch_size = 10; early_stopping = { monitor = \"val_accuracy\"; };",
        DLH_ECONFIG, "15: train.early_stopping: monitor 'val_accuracy' is not a column of "
        "this run's metrics.csv; known: train_loss, val_loss");
    bad_val("es_mode", "batch_size = 10; early_stopping = { mode = \"max\"; };",
        DLH_ECONFIG, "15: train.early_stopping: mode 'max' but 'val_loss' improves downward");
    bad_val("two_monitors", "batch_size = 10; monitor = \"train_loss\"; "
        "early_stopping = { monitor = \"val_loss\"; };",
        DLH_ECONFIG, "15: train.early_stopping: monitor 'val_loss', but train.monitor is "
        "'train_loss': a run monitors one metric (its best checkpoint, early stopping and "
        "reduce_on_plateau)");
    bad("ckpt_key", "batch_size = 10;",
        "batch_size = 10; checkpoint = { every_epoch = 2; };", DLH_ECONFIG,
        "15: train.checkpoint: unknown parameter 'every_epoch' \u2014 did you mean "
        "'every_epochs'?");
    bad("grad_clip", "lr = 0.05;", "lr = 0.05; grad_clip = -1.0;", DLH_ECONFIG,
        "14: optimizer: parameter 'grad_clip': expected a number in [0, 1e+30], got -1");
    bad("loss_not_group", "loss = { type = \"mse\"; };", "loss = \"mse\";", DLH_ECONFIG,
        "13: experiment: 'loss' must be a group: { type = \"...\"; ... }");
    bad("layer_type", "{ type = \"relu\"; }", "{ type = \"rlu\"; }", DLH_ECONFIG,
        "10: unknown layer 'rlu' (did you mean 'relu'?)");
    bad("dataset_type", "train = { type = \"csv\"", "train = { type = \"cvs\"", DLH_ECONFIG,
        "5: unknown dataset 'cvs' (did you mean 'csv'?)");
    bad("loss_type", "type = \"mse\"", "type = \"mae\"", DLH_ECONFIG,
        "13: unknown loss 'mae' (did you mean 'mse'?)");
    bad("inputs_unknown", "{ type = \"relu\"; }",
        "{ type = \"relu\"; inputs = [\"dense9\"]; }", DLH_ECONFIG,
        "10: layer 'relu1': unknown input 'dense9' (did you mean 'dense1'?)");
    bad("inputs_later", "{ type = \"relu\"; }",
        "{ type = \"relu\"; inputs = [\"dense2\"]; }", DLH_ECONFIG,
        "10: layer 'relu1': input 'dense2' is a later layer (layer 3); inputs must name "
        "earlier layers, so the model has no cycles");
    bad("inputs_self", "{ type = \"relu\"; }",
        "{ type = \"relu\"; inputs = [\"relu1\"]; }", DLH_ECONFIG,
        "10: layer 'relu1': input 'relu1' is the layer itself (a model has no cycles)");
    bad("inputs_type", "{ type = \"relu\"; }", "{ type = \"relu\"; inputs = 3; }",
        DLH_ECONFIG, "10: layer 'relu1': 'inputs' must be a non-empty list of layer "
        "names: [\"a\", \"b\"]");
    bad("dangling", "{ type = \"dense\"; units = 1; }",
        "{ type = \"dense\"; units = 1; inputs = [\"dense1\"]; }", DLH_ECONFIG,
        "10: layer 'relu1': no layer reads its output (the model's output is the last "
        "layer, 'dense2'; name it in a later layer's 'inputs')");
    bad("duplicate", "{ type = \"relu\"; }", "{ name = \"dense1\"; type = \"relu\"; }",
        DLH_ECONFIG, "10: layer 'dense1': layer name 'dense1' is already used by layer 1; "
        "names must be unique");
    bad("init", "init = \"he_normal\"", "init = \"he_norml\"", DLH_ECONFIG,
        "9: layer 'dense1': unknown initialiser 'he_norml' (did you mean 'he_normal'?); "
        "known: zeros, ones, constant, uniform, normal, trunc_normal, xavier_uniform, "
        "xavier_normal, kaiming_uniform (he_uniform), kaiming_normal (he_normal), "
        "orthogonal, sparse, eye, dirac, identity");
    bad("out_shape", "units = 1;", "units = 3;", DLH_ESHAPE,
        "13: loss: the model's output shape [3] (layer 'dense2') differs from the dense "
        "label shape [1] of data.train");
    bad("lr", "lr = 0.05", "lr = 0.0", DLH_ECONFIG,
        "14: optimizer: parameter 'lr': expected a number > 0, got 0");
    /* The backend's own parameters: located, and named once (found by the
       experiment fuzz target: "backend 'cpu': file:3: backend: ..." before). */
    bad("backend_threads", "type = \"cpu\"; };", "type = \"cpu\"; threads = 0; };",
        DLH_ECONFIG, "3: backend 'cpu': parameter 'threads': expected an integer in "
        "[1, 1024], got 0");
    bad("backend_unknown_key", "type = \"cpu\"; };", "type = \"cpu\"; thread = 2; };",
        DLH_ECONFIG, "3: backend 'cpu': unknown parameter 'thread' \u2014 did you mean "
        "'threads'?");
    bad_text("no_labels", edit_of(edit("path = \"train.csv\"; label = \"dense\"",
                                       "path = \"train.csv\"; label = \"none\""),
                                  "path = \"test.csv\"; label = \"dense\"",
                                  "path = \"test.csv\"; label = \"none\""),
             DLH_ECONFIG, "13: loss: data.train has no labels (label kind none); "
             "training needs targets");
    bad("label_kinds", "path = \"train.csv\"; label = \"dense\"",
        "path = \"class.csv\"; label = \"class\"", DLH_ECONFIG, "6: data.test: dense labels, "
        "but data.train has class labels");
    bad("test_shape", "path = \"test.csv\"", "path = \"wide.csv\"", DLH_ESHAPE,
        "6: data.test: sample shape [3] differs from data.train's [2]");

    result r;
    /* Class targets reach the loss, and mse refuses them: located at the loss. */
    go(&r, 0, "class_mse",
       edit_of(edit("path = \"train.csv\"; label = \"dense\"",
                    "path = \"class.csv\"; label = \"class\""),
               "  test = { type = \"csv\"; path = \"test.csv\"; label = \"dense\"; };\n", ""),
       NULL);
    char loc[4400];
    snprintf(loc, sizeof loc, "%s/class_mse.cfg:12: loss: mse needs dense targets", dir);
    ok(r.rc == DLH_ECONFIG && strncmp(r.err, loc, strlen(loc)) == 0,
       "class labels with mse: refused at the loss (%s)", r.err);
    free(r.out);

    /* A name that looks like a place is still located (found by the fuzz
       target: "unknown layer 'relu':9:'' ..." went out without file:line). */
    go(&r, 0, "type_like_place", edit("{ type = \"relu\"; }", "{ type = \"relu':9:'\"; }"),
       NULL);
    snprintf(loc, sizeof loc, "%s/type_like_place.cfg:10: unknown layer 'relu':9:''", dir);
    ok(r.rc == DLH_ECONFIG && strncmp(r.err, loc, strlen(loc)) == 0,
       "an unknown type that looks like file:line: located (%s)", r.err);
    free(r.out);

    go(&r, 0, "missing_csv", edit("path = \"test.csv\"", "path = \"nope.csv\""), NULL);
    char want[8400];
    snprintf(want, sizeof want, "%s/missing_csv.cfg:6: data.test: parameter 'path': no "
             "such file: '%s/nope.csv'", dir, dir);
    ok(r.rc == DLH_ECONFIG && strcmp(r.err, want) == 0, "missing data file: '%s'", r.err);
    free(r.out);

    go(&r, 0, "backend_override", base_cfg, "cpx");
    ok(r.rc == DLH_ECONFIG &&
       strcmp(r.err, "--backend: unknown backend 'cpx' (did you mean 'cpu'?)") == 0,
       "--backend with an unknown name: '%s'", r.err);
    free(r.out);
    go(&r, 0, "backend_same", base_cfg, "cpu");
    ok(r.rc == 0, "--backend cpu over a cpu file checks");
    free(r.out);
}

/* The train_loss numbers of every "epoch" line, and their count. */
static int losses(const char *out, double *v, int max)
{
    int n = 0;
    for (const char *s = out; s && (s = strstr(s, "train_loss ")) && n < max; s++)
        v[n++] = strtod(s + 11, NULL);
    return n;
}

static void test_run(void)
{
    result a, b;
    go(&a, 1, "run", base_cfg, NULL);
    ok(a.rc == 0, "run: 0 (%s)", a.err);
    const char *out = a.out ? a.out : "";
    double la[8], lb[8];
    int na = losses(out, la, 8);
    ok(na == 6, "one line per epoch (%d)", na);
    ok(strstr(out, "epoch 6/6  train_loss ") != NULL, "epoch lines say 'epoch k/n'");
    ok(strstr(out, "samples/s\n") != NULL, "epoch lines give the speed");
    ok(na == 6 && la[5] < 0.5 * la[0], "train loss falls below half (%g -> %g)",
       na ? la[0] : 0.0, na == 6 ? la[5] : 0.0);
    ok(strstr(out, "\ntest  loss ") != NULL, "prints the test loss");
    char path[4400];
    snprintf(path, sizeof path, "%s/t/last.safetensors", runs);
    ok(access(path, R_OK) == 0, "the run directory has last.safetensors");
    diag("%s", out);

    go(&b, 1, "run", base_cfg, NULL);
    int nb = losses(b.out, lb, 8);
    int same = na == nb && na == 6;
    for (int i = 0; same && i < na; i++)
        same = la[i] == lb[i];
    ok(same, "the same seed gives the same losses");
    free(b.out);
    go(&b, 1, "run_seed", edit("seed = 5;", "seed = 6;"), NULL);
    nb = losses(b.out, lb, 8);
    ok(nb == 6 && lb[0] != la[0], "another seed gives other losses (%g vs %g)", lb[0], la[0]);
    free(b.out);
    go(&b, 1, "run_noshuffle", edit("batch_size = 10;", "batch_size = 7; shuffle = false;"),
       NULL);
    nb = losses(b.out, lb, 8);
    ok(b.rc == 0 && nb == 6 && lb[0] != la[0],
       "unshuffled run with a partial last batch (40 = 5*7 + 5): runs, other losses");
    free(b.out);
    free(a.out);

    go(&a, 1, "diverge", edit("lr = 0.05", "lr = 1e4"), NULL);
    ok(a.rc == DLH_ENUMERIC, "a diverging run: DLH_ENUMERIC (%s)", dlh_strerror(a.rc));
    ok(strncmp(a.err, "epoch 1/6, step ", 16) == 0 &&
       strstr(a.err, "the training loss is ") && strstr(a.err, "stopped before the update"),
       "names epoch and step: '%s'", a.err);
    free(a.out);
}

/* Rows of two features and three class probabilities, a soft version of
   "which third of the line x1 + x2 lies in". */
static void put_prob_data(const char *name, int rows)
{
    char text[8192];
    size_t n = 0;
    for (int i = 0; i < rows; i++) {
        double x1 = (i % 7) / 3.0 - 1.0, x2 = (i % 5) / 2.0 - 1.0, s = x1 + x2;
        int k = s < -0.6 ? 0 : s < 0.6 ? 1 : 2;
        double p[3] = { 0.1, 0.1, 0.1 };
        p[k] = 0.8;
        n += (size_t)snprintf(text + n, sizeof text - n, "%.4f,%.4f,%.1f,%.1f,%.1f\n", x1,
                              x2, p[0], p[1], p[2]);
    }
    tmpdir_put(dir, name, text);
}

/* cross_entropy on dense labels of the model's output shape: probability
   targets; dense labels of another shape stay refused by the core. */
static void test_prob_targets(void)
{
    const char *data = "path = \"train.csv\"; label = \"dense\"; };\n"
                       "  test = { type = \"csv\"; path = \"test.csv\"; label = \"dense\"; };";
    const char *prob = "path = \"prob.csv\"; label = \"dense\"; label_columns = 3; };\n"
                       "  test = { type = \"csv\"; path = \"prob.csv\"; label = \"dense\"; "
                       "label_columns = 3; };";
    char *cfg = edit_of(edit_of(edit(data, prob), "units = 1;", "units = 3;"),
                        "type = \"mse\";", "type = \"cross_entropy\";");
    result r;
    go(&r, 1, "prob", cfg, NULL);
    ok(r.rc == 0, "cross_entropy with dense labels [3] and a model output [3] runs (%s)",
       r.err);
    double l[8];
    int n = losses(r.out, l, 8);
    ok(n == 6 && l[5] < l[0], "its train loss falls (%g -> %g)", n ? l[0] : 0.0,
       n == 6 ? l[5] : 0.0);
    /* The floor is the targets' entropy, 0.639 nats, not 0. */
    ok(n == 6 && l[5] > 0.6, "and stays above the targets' entropy (%g)",
       n == 6 ? l[5] : 0.0);
    free(r.out);

    bad_text("prob_ignore", edit_of(cfg, "type = \"cross_entropy\";",
                                    "type = \"cross_entropy\"; ignore_index = 0;"),
             DLH_ECONFIG, "13: loss: ignore_index is only for class-index "
             "targets, but the data gives probability targets (dense labels of the "
             "model's output shape); remove it");
    bad_text("prob_shape", edit_of(edit("units = 1;", "units = 3;"), "type = \"mse\";",
                                   "type = \"cross_entropy\";"),
             DLH_ESHAPE, "13: loss: the model's output shape [3] (layer 'dense2') differs "
             "from the dense label shape [1] of data.train");
}

int main(void)
{
    if (!getenv("DLHOST_PLUGIN_PATH"))
        skip_all("DLHOST_PLUGIN_PATH is not set (run through make check)");
    tmpdir_make(dir, sizeof dir, NULL, "test_experiment");
    snprintf(runs, sizeof runs, "%s/runs", dir);
    put_data("train.csv", 40, 0);
    put_data("test.csv", 12, 3);
    tmpdir_put(dir, "class.csv", "0.5,0.1,1\n0.25,0.2,0\n");
    tmpdir_put(dir, "wide.csv", "1,2,3,4\n");
    put_prob_data("prob.csv", 40);
    dlh_registry_load_all(0);

    test_check_good();
    test_check_bad();
    test_run();
    test_prob_targets();

    /* Every file in the folder was made here. */
    tmpdir_remove(dir);
    dlh_registry_clear();
    return done_testing();
}
