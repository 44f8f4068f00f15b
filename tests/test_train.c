/* The training loop end to end (core/run.c, core/eval.c) on small generated
 * class data: the run directory and metrics.csv, checkpoint metadata, the
 * validation split and the normalisation statistics of the training split
 * only, a checkpoint round trip into eval giving the run's test accuracy,
 * early stopping restoring the best epoch, the NaN guard naming the layer
 * (no checkpoint left), label and checkpoint mismatches; then a short real
 * Fashion-MNIST training reaching a stated accuracy. */
#define _GNU_SOURCE 1     /* open_memstream */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dlhost/dlhost.h>

#include "error.h"
#include "eval.h"
#include "params.h"
#include "registry.h"
#include "run.h"
#include "safetensors.h"
#include "tap.h"
#include "tmpdir.h"

static char dir[4096], runs[4200];

#define N_TRAIN 150
#define N_TEST 60

static double train_x[N_TRAIN][2];

/* Three noisy clusters around angles 0, 120 and 240 degrees (offset by
   `shift` so that the statistics are not zero), label last. */
static void put_blobs(const char *name, int rows, int seed, double shift, int keep)
{
    char *text = malloc((size_t)rows * 64 + 1);
    size_t n = 0;
    for (int i = 0; i < rows; i++) {
        int c = i % 3;
        uint32_t w[4];
        dlh_philox_words((uint64_t)seed, 9, (uint64_t)i, w);
        double u = (w[0] >> 8) / 16777216.0 - 0.5, v = (w[1] >> 8) / 16777216.0 - 0.5;
        double x1 = 3.0 + 2.0 * cos(2.0944 * c) + 3.6 * u;
        double x2 = shift + 2.0 * sin(2.0944 * c) + 3.6 * v;
        n += (size_t)snprintf(text + n, 64, "%.5f,%.5f,%d\n", x1, x2, c);
        if (keep) {
            train_x[i][0] = (float)x1;
            train_x[i][1] = (float)x2;
        }
    }
    tmpdir_put(dir, name, text);
    free(text);
}

static const char *base_cfg =
    "name = \"blobs\";\n"                                                     /* 1 */
    "seed = 17;\n"                                                            /* 2 */
    "data = {\n"                                                              /* 3 */
    "  train = { type = \"csv\"; path = \"train.csv\"; };\n"                 /* 4 */
    "  test = { type = \"csv\"; path = \"test.csv\"; };\n"                   /* 5 */
    "  validation_split = 0.2;\n"                                             /* 6 */
    "  normalize = \"zscore\";\n"                                             /* 7 */
    "};\n"                                                                    /* 8 */
    "model = (\n"                                                             /* 9 */
    "  { name = \"fc1\"; type = \"dense\"; units = 16; },\n"                 /* 10 */
    "  { type = \"relu\"; },\n"                                               /* 11 */
    "  { name = \"head\"; type = \"dense\"; units = 3; }\n"                  /* 12 */
    ");\n"                                                                    /* 13 */
    "loss = { type = \"cross_entropy\"; };\n"                                 /* 14 */
    "optimizer = { type = \"adam\"; lr = 0.02; };\n"                          /* 15 */
    "train = { epochs = 8; batch_size = 16; };\n"                            /* 16 */
    "metrics = [\"loss\", \"accuracy\"];\n";                                  /* 17 */

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

typedef struct result {
    int rc;
    char err[2048];
    char *out;
    size_t len;
} result;

/* mode 0: run, 1: eval of `weights`. */
static void go(result *r, int mode, const char *name, const char *text,
               const char *weights)
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
        FILE *out = open_memstream(&r->out, &r->len);
        dlh_run_options opt = { .runs_root = runs };
        r->rc = mode == 0 ? dlh_run_ex(cfg, NULL, &opt, out)
                          : dlh_eval(cfg, NULL, weights, out);
        fclose(out);
        dlh_config_free(cfg);
    }
    snprintf(r->err, sizeof r->err, "%s", r->rc ? dlh_error_get() : "");
    if (!r->out)
        r->out = strdup("");
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void run_path(char *buf, size_t size, const char *run, const char *file)
{
    snprintf(buf, size, "%s/%s/%s", runs, run, file);
}

/* The number after `key` in text, NAN when absent. */
static double number_after(const char *text, const char *key)
{
    const char *s = text ? strstr(text, key) : NULL;
    return s ? strtod(s + strlen(key), NULL) : NAN;
}

static void test_run_dir(void)
{
    result r;
    go(&r, 0, "blobs", base_cfg, NULL);
    ok(r.rc == 0, "run: 0 (%s)", r.err);
    ok(strstr(r.out, "120 samples (+ 30 validation)") != NULL,
       "validation_split 0.2 of 150 samples: 120 train, 30 validation");
    double acc = number_after(r.out, "test  loss ");
    const char *t = strstr(r.out, "\ntest  ");
    double test_acc = number_after(t, "accuracy ");
    /* Overlapping clusters: well above chance (1/3), below 1. */
    ok(!isnan(acc) && test_acc >= 0.7 && test_acc < 1.0, "the blobs are learnt: test "
       "accuracy %.4f in [0.7, 1)", test_acc);

    /* Exactly the four files: no temporary file left behind. */
    char path[4400];
    snprintf(path, sizeof path, "%s/blobs", runs);
    DIR *d = opendir(path);
    int n = 0, known = 0;
    for (struct dirent *de; d && (de = readdir(d)); ) {
        if (de->d_name[0] == '.')
            continue;
        n++;
        known += strcmp(de->d_name, "config.cfg") == 0 ||
                 strcmp(de->d_name, "metrics.csv") == 0 ||
                 strcmp(de->d_name, "curves.svg") == 0 ||
                 strcmp(de->d_name, "last.safetensors") == 0 ||
                 strcmp(de->d_name, "best.safetensors") == 0;
    }
    if (d)
        closedir(d);
    ok(n == 5 && known == 5, "the run directory holds config.cfg, metrics.csv, "
       "curves.svg, last.safetensors, best.safetensors and nothing else (%d files)", n);

    run_path(path, sizeof path, "blobs", "metrics.csv");
    char *csv = slurp(path);
    ok(csv && strncmp(csv, "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,"
                      "seconds,samples_per_s\n", 77) == 0, "metrics.csv header");
    int rows = 0, good = 1;
    for (char *line = csv ? strchr(csv, '\n') : NULL; line && line[1]; ) {
        line++;
        rows++;
        int commas = 0, empty = 0;
        char *end = strchr(line, '\n');
        for (char *c = line; c < end; c++) {
            commas += *c == ',';
            empty += *c == ',' && (c[1] == ',' || c[1] == '\n');
        }
        good &= commas == 7 && empty == 0 && atoi(line) == rows;
        line = end;
    }
    ok(rows == 8 && good, "metrics.csv: one full row per epoch, numbered 1..8 (%d rows)",
       rows);
    free(csv);

    dlh_st_file *f = NULL;
    run_path(path, sizeof path, "blobs", "last.safetensors");
    int rc = dlh_st_read(path, &f);
    ok(rc == 0, "last.safetensors reads back (%s)", rc ? dlh_error_get() : "");
    if (rc == 0) {
        const dlh_st_entry *w = dlh_st_find(f, "fc1.weight");
        ok(w && w->ndim == 2 && w->shape[0] == 16 && w->shape[1] == 2,
           "fc1.weight in nn.Linear's layout [16, 2]");
        ok(dlh_st_find(f, "head.bias") != NULL, "head.bias is saved");
        ok(dlh_st_find(f, "optim.fc1.weight.exp_avg") &&
           dlh_st_find(f, "optim.head.bias.exp_avg_sq"), "Adam's state is saved as "
           "optim.<layer>.<param>.<state>");
        const char *m;
        ok((m = dlh_st_meta_get(f, "epoch")) && strcmp(m, "8") == 0, "metadata epoch 8");
        /* 120 samples in batches of 16: 8 steps an epoch. */
        ok((m = dlh_st_meta_get(f, "step")) && strcmp(m, "64") == 0, "metadata step 64");
        ok((m = dlh_st_meta_get(f, "seed")) && strcmp(m, "17") == 0, "metadata seed");
        ok((m = dlh_st_meta_get(f, "classes")) && strcmp(m, "3") == 0, "metadata classes");
        ok((m = dlh_st_meta_get(f, "rng")) && strstr(m, "philox4x32-10 key=17"),
           "metadata rng state");
        m = dlh_st_meta_get(f, "plugins");
        ok(m && strstr(m, "optimizers ") && strstr(m, "losses ") && strstr(m, "(ABI 1."),
           "metadata names the plugins, versions and ABI ('%s')", m ? m : "");
        ok((m = dlh_st_meta_get(f, "config_hash")) && strncmp(m, "fnv1a64:", 8) == 0,
           "metadata config hash");
        ok((m = dlh_st_meta_get(f, "normalize")) && strcmp(m, "zscore") == 0,
           "metadata normalize");

        /* The statistics come from the 120 training samples alone: replay the
           seeded split (rng_stream(4, 0, 0), Fisher-Yates). */
        int64_t perm[N_TRAIN];
        for (int i = 0; i < N_TRAIN; i++)
            perm[i] = i;
        uint64_t stream = dlh_host_table()->rng_stream(4, 0, 0);
        for (int64_t i = N_TRAIN - 1; i > 0; i--) {
            uint32_t w4[4];
            dlh_philox_words(17, stream, (uint64_t)i, w4);
            uint64_t j = (((uint64_t)w4[0] << 32) | w4[1]) % (uint64_t)(i + 1);
            int64_t tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        double mean_train = 0.0, mean_all = 0.0;
        for (int i = 0; i < 120; i++)
            mean_train += train_x[perm[i]][1] / 120.0;
        for (int i = 0; i < N_TRAIN; i++)
            mean_all += train_x[i][1] / N_TRAIN;
        dlh_norm norm;
        rc = dlh_norm_from_meta(f, path, &norm);
        ok(rc == 0 && norm.kind == 1 && norm.groups == 2,
           "normalisation statistics parse back: zscore over 2 features");
        if (rc == 0 && norm.groups == 2) {
            is_float(norm.shift[1], mean_train, 1e-4, "shift = the mean of feature 2 over "
                     "the training split (%.5f; all 150 give %.5f)", mean_train, mean_all);
            ok(fabs(mean_train - mean_all) > 1e-3, "(the two means differ: the test can "
               "fail)");
        }
        dlh_norm_free(&norm);
        dlh_st_free(f);

        /* A count the lists cannot hold is refused before anything is
           allocated for it (2^24 groups: 128 MB for a file of bytes). */
        char big[4300];
        snprintf(big, sizeof big, "%s/big_groups.safetensors", dir);
        static const dlh_st_meta bad_meta[] = {
            { "normalize", "zscore" }, { "norm_groups", "16777216" },
            { "norm_group_stride", "1" }, { "norm_shift", "[0]" }, { "norm_scale", "[1]" },
        };
        f = NULL;
        if (dlh_st_write(big, NULL, 0, bad_meta, 5) == 0 && dlh_st_read(big, &f) == 0) {
            rc = dlh_norm_from_meta(f, big, &norm);
            ok(rc == DLH_EDATA && strstr(dlh_error_get(), "metadata 'norm_groups'"),
               "2^24 groups with lists of one number: refused (%s)", dlh_error_get());
        } else {
            ok(0, "write a checkpoint with 2^24 normalisation groups: %s", dlh_error_get());
        }
        dlh_st_free(f);
    }

    /* The checkpoint into eval: the run's final weights, the same numbers. */
    result ev;
    run_path(path, sizeof path, "blobs", "last.safetensors");
    go(&ev, 1, "blobs_eval", base_cfg, path);
    ok(ev.rc == 0, "eval of last.safetensors: 0 (%s)", ev.err);
    double eval_acc = number_after(ev.out, "accuracy ");
    ok(eval_acc == test_acc, "eval gives the run's test accuracy (%.4f vs %.4f)", eval_acc,
       test_acc);
    is_float(number_after(ev.out, "loss "), number_after(t, "loss "), 1e-5,
             "eval gives the run's test loss");
    ok(strstr(ev.out, "confusion matrix (rows = true class, columns = predicted class)\n")
       != NULL, "eval prints the confusion matrix");
    /* The rows sum to the 20 test samples of each class. */
    const char *cm = strstr(ev.out, "predicted class)\n");
    int sums_ok = cm != NULL;
    if (cm) {
        const char *line = strchr(cm, '\n') + 1;
        line = strchr(line, '\n') + 1;      /* the column header */
        for (int c = 0; c < 3 && sums_ok; c++) {
            char *p;
            long cls = strtol(line, &p, 10), sum = 0;
            for (int j = 0; j < 3; j++)
                sum += strtol(p, &p, 10);
            sums_ok = cls == c && sum == 20;
            line = strchr(line, '\n') + 1;
        }
    }
    ok(sums_ok, "confusion rows are the true classes (20 samples each)");
    if (!sums_ok)
        diag("%s", ev.out);
    free(ev.out);
    free(r.out);
}

static void test_early_stopping(void)
{
    result r;
    const char *cfg = edit_of(edit_of(base_cfg, "name = \"blobs\"", "name = \"es\""),
                              "epochs = 8;", "epochs = 40; early_stopping = { monitor = "
                              "\"val_accuracy\"; patience = 2; };");
    go(&r, 0, "es", cfg, NULL);
    ok(r.rc == 0, "early-stopping run: 0 (%s)", r.err);
    ok(strstr(r.out, "early stopping: val_accuracy has not improved for 2 epochs\n") !=
       NULL, "it stops before epoch 40");
    /* The best epoch by val_accuracy (the first of the highest), from
       metrics.csv. */
    char path[4400];
    run_path(path, sizeof path, "es", "metrics.csv");
    char *csv = slurp(path);
    int best = 0, rows = 0;
    double best_acc = -1.0;
    for (char *line = csv ? strchr(csv, '\n') : NULL; line && line[1];
         line = strchr(line + 1, '\n')) {
        rows++;
        char *p = line + 1;
        for (int k = 0; k < 4; k++)
            p = strchr(p, ',') + 1;
        double v = strtod(p, NULL);
        if (v > best_acc) {
            best_acc = v;
            best = rows;
        }
    }
    free(csv);
    ok(rows > 2 && rows < 40 && best == rows - 2, "stopped two epochs after the best "
       "(epoch %d of %d rows)", best, rows);
    char want[128];
    snprintf(want, sizeof want, "restored the weights of epoch %d (val_accuracy ", best);
    ok(strstr(r.out, want) != NULL, "restores epoch %d's weights", best);

    /* The restored weights are best.safetensors: eval of it gives the run's
       test accuracy. */
    result ev;
    run_path(path, sizeof path, "es", "best.safetensors");
    go(&ev, 1, "es_eval", cfg, path);
    const char *t = strstr(r.out, "\ntest  ");
    ok(ev.rc == 0 && number_after(ev.out, "accuracy ") == number_after(t, "accuracy ") &&
       fabs(number_after(ev.out, "loss ") - number_after(t, "loss ")) < 1e-5,
       "the test numbers after the run are best.safetensors' numbers");
    dlh_st_file *f;
    if (dlh_st_read(path, &f) == 0) {
        char e[16];
        snprintf(e, sizeof e, "%d", best);
        ok(strcmp(dlh_st_meta_get(f, "epoch"), e) == 0, "best.safetensors is epoch %d", best);
        dlh_st_free(f);
    } else
        ok(0, "best.safetensors reads (%s)", dlh_error_get());
    free(ev.out);
    free(r.out);
}

static void test_nan_guard(void)
{
    /* One sample of 3e38, 3e38 through weights drawn from U(0, 1): fc1's
       output overflows on its batch. */
    char path[4400], text[N_TRAIN * 64];
    snprintf(path, sizeof path, "%s/train.csv", dir);
    char *csv = slurp(path);
    snprintf(text, sizeof text, "%s3e38,3e38,0\n", csv ? csv : "");
    free(csv);
    tmpdir_put(dir, "huge.csv", text);
    const char *cfg = edit_of(base_cfg, "name = \"blobs\"", "name = \"nan\"");
    cfg = edit_of(cfg, "normalize = \"zscore\"", "normalize = \"none\"");
    cfg = edit_of(cfg, "units = 16;", "units = 16; init = \"uniform\";");
    cfg = edit_of(cfg, "path = \"train.csv\"", "path = \"huge.csv\"");
    /* No split: the huge sample must be a training sample. */
    cfg = edit_of(cfg, "  validation_split = 0.2;\n", "");
    result r;
    go(&r, 0, "nan", cfg, NULL);
    ok(r.rc == DLH_ENUMERIC, "a non-finite loss: DLH_ENUMERIC (%s)", dlh_strerror(r.rc));
    ok(strncmp(r.err, "epoch 1/8, step ", 16) == 0 && strstr(r.err, "stopped before the "
       "update") && strstr(r.err, "layer 'fc1' is the first whose output is non-finite"),
       "names epoch, step and layer: '%s'", r.err);
    run_path(path, sizeof path, "nan", "last.safetensors");
    ok(access(path, F_OK) != 0, "no checkpoint is written");
    run_path(path, sizeof path, "nan", "metrics.csv");
    char *m = slurp(path);
    ok(m && strchr(m, '\n') && strchr(m, '\n')[1] == '\0', "metrics.csv has no row");
    free(m);
    free(r.out);
}

static void test_bad(void)
{
    result r;
    char want[16800];
    go(&r, 0, "labels", edit_of(base_cfg, "units = 3;", "units = 2;"), NULL);
    snprintf(want, sizeof want, "%s/labels.cfg:4: data.train: label 2 is out of range for "
             "the model's 2 classes (layer 'head' outputs [2])", dir);
    ok(r.rc == DLH_ECONFIG && strcmp(r.err, want) == 0, "a label past the model's "
       "classes: '%s'", r.err);
    free(r.out);

    char path[4400];
    run_path(path, sizeof path, "blobs", "last.safetensors");
    go(&r, 1, "eval_shape", edit_of(base_cfg, "units = 16;", "units = 8;"), path);
    snprintf(want, sizeof want, "%s: tensor 'fc1.weight' has shape [16, 2], the model of "
             "%s/eval_shape.cfg expects [8, 2]", path, dir);
    ok(r.rc == DLH_ESHAPE && strcmp(r.err, want) == 0, "eval: another shape: '%s'", r.err);
    free(r.out);
    go(&r, 1, "eval_missing", edit_of(base_cfg, "name = \"fc1\"", "name = \"hidden\""),
       path);
    snprintf(want, sizeof want, "%s: tensor 'hidden.weight' is missing; the model of "
             "%s/eval_missing.cfg has it (is this checkpoint from another experiment?)",
             path, dir);
    ok(r.rc == DLH_ECONFIG && strcmp(r.err, want) == 0, "eval: a missing tensor: '%s'",
       r.err);
    free(r.out);
    go(&r, 1, "eval_norm", edit_of(base_cfg, "normalize = \"zscore\"",
                                   "normalize = \"minmax\""), path);
    ok(r.rc == DLH_ECONFIG && strstr(r.err, "trained with normalize = \"zscore\""),
       "eval: other normalisation: '%s'", r.err);
    free(r.out);

    /* A torn copy: corrupt, not a mismatch. */
    char *bytes = NULL;
    size_t n = 0;
    FILE *f = fopen(path, "rb");
    if (f) {
        bytes = malloc(1 << 20);
        n = fread(bytes, 1, 1 << 20, f);
        fclose(f);
    }
    char torn[4400];
    snprintf(torn, sizeof torn, "%s/torn.safetensors", dir);
    f = fopen(torn, "wb");
    if (f && bytes) {
        fwrite(bytes, 1, n - 7, f);
        fclose(f);
    }
    free(bytes);
    go(&r, 1, "eval_torn", base_cfg, torn);
    ok(r.rc == DLH_EDATA && strncmp(r.err, torn, strlen(torn)) == 0,
       "eval: a truncated file is DLH_EDATA naming it: '%s'", r.err);
    free(r.out);
    snprintf(torn, sizeof torn, "%s/absent.safetensors", dir);
    go(&r, 1, "eval_absent", base_cfg, torn);
    ok(r.rc == DLH_EIO, "eval: a missing file is DLH_EIO: '%s'", r.err);
    free(r.out);
}

static void test_fashion_mnist(void)
{
    const char *fm = "/usr/share/datasets/fashion-mnist";
    char img[512];
    snprintf(img, sizeof img, "%s/train-images-idx3-ubyte.gz", fm);
    if (access(img, R_OK) != 0) {
        skip("Fashion-MNIST is not installed (Debian package dataset-fashion-mnist, "
             "/usr/share/datasets/fashion-mnist)");
        return;
    }
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "name = \"fm\"; seed = 1;\n"
             "data = {\n"
             "  train = { type = \"idx\"; images = \"%s/train-images-idx3-ubyte.gz\";\n"
             "            labels = \"%s/train-labels-idx1-ubyte.gz\"; limit = 2000; };\n"
             "  test = { type = \"idx\"; images = \"%s/t10k-images-idx3-ubyte.gz\";\n"
             "           labels = \"%s/t10k-labels-idx1-ubyte.gz\"; limit = 1000; };\n"
             "  normalize = \"zscore\";\n"
             "};\n"
             "model = ( { type = \"flatten\"; }, { type = \"dense\"; units = 64; },\n"
             "          { type = \"relu\"; }, { type = \"dense\"; units = 10; } );\n"
             "loss = { type = \"cross_entropy\"; };\n"
             "optimizer = { type = \"adam\"; lr = 2e-3; };\n"
             "train = { epochs = 3; batch_size = 64; checkpoint = { every_epochs = 0; }; };\n",
             fm, fm, fm, fm);
    result r;
    go(&r, 0, "fm", cfg, NULL);
    ok(r.rc == 0, "Fashion-MNIST slice: 0 (%s)", r.err);
    double acc = number_after(strstr(r.out, "\ntest  "), "accuracy ");
    /* A 784-64-10 MLP on 2000 images for 3 epochs reaches about 0.78-0.80. */
    ok(acc >= 0.74, "2000 training images, 3 epochs: test accuracy %.4f >= 0.74 on 1000 "
       "test images", acc);
    diag("%s", r.out);
    free(r.out);
}

int main(void)
{
    if (!getenv("DLHOST_PLUGIN_PATH"))
        skip_all("DLHOST_PLUGIN_PATH is not set (run through make check)");
    tmpdir_make(dir, sizeof dir, NULL, "test_train");
    snprintf(runs, sizeof runs, "%s/runs", dir);
    put_blobs("train.csv", N_TRAIN, 1, 1.0, 1);
    put_blobs("test.csv", N_TEST, 2, 1.0, 0);
    dlh_registry_load_all(0);

    test_run_dir();
    test_early_stopping();
    test_nan_guard();
    test_bad();
    test_fashion_mnist();

    tmpdir_remove(dir);
    dlh_registry_clear();
    return done_testing();
}
