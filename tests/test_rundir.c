/* The run directory: config.cfg that re-loads to the same values,
 * metrics.csv rows with empty fields, checkpoints saved from and loaded
 * into cpu-backend tensors bit for bit, with the refusals of a load; run
 * names, the folder's lock, and what a new run clears away. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "instance.h"
#include "params.h"
#include "registry.h"
#include "rundir.h"
#include "safetensors.h"
#include "tap.h"
#include "tmpdir.h"

static char dir[4096];
static dlh_backend *be;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    } else
        p[n] = '\0';
    fclose(f);
    return p;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Same type, name and value, recursively (floats compared exactly). */
static int same_setting(const config_setting_t *a, const config_setting_t *b, char *where,
                        size_t size)
{
    const char *na = config_setting_name(a), *nb = config_setting_name(b);
    snprintf(where, size, "%s", na ? na : "(element)");
    if (config_setting_type(a) != config_setting_type(b) || (!na) != (!nb) ||
        (na && strcmp(na, nb) != 0))
        return 0;
    switch (config_setting_type(a)) {
    case CONFIG_TYPE_INT:
        return config_setting_get_int(a) == config_setting_get_int(b);
    case CONFIG_TYPE_INT64:
        return config_setting_get_int64(a) == config_setting_get_int64(b);
    case CONFIG_TYPE_FLOAT: {
        double x = config_setting_get_float(a), y = config_setting_get_float(b);
        return x == y && signbit(x) == signbit(y);
    }
    case CONFIG_TYPE_STRING:
        return strcmp(config_setting_get_string(a), config_setting_get_string(b)) == 0;
    case CONFIG_TYPE_BOOL:
        return config_setting_get_bool(a) == config_setting_get_bool(b);
    case CONFIG_TYPE_GROUP:
    case CONFIG_TYPE_ARRAY:
    case CONFIG_TYPE_LIST: {
        int n = config_setting_length(a);
        if (n != config_setting_length(b))
            return 0;
        for (int i = 0; i < n; i++)
            if (!same_setting(config_setting_get_elem(a, (unsigned)i),
                              config_setting_get_elem(b, (unsigned)i), where, size))
                return 0;
        return 1;
    }
    default:
        return 0;
    }
}

static const char experiment[] =
    "name = \"fashion-mlp\";\n"
    "seed = 42;\n"
    "big = 12345678901L;\n"
    "mask = 0x1F;\n"
    "backend = { type = \"cpu\"; threads = 2; };\n"
    "data = { train = { type = \"csv\"; path = \"a \\\"quoted\\\" \\\\ path\\n.csv\"; };\n"
    "         validation_split = 0.1; normalize = \"zscore\"; };\n"
    "model = ( { name = \"fc1\"; type = \"dense\"; units = 512; init = \"he_normal\"; },\n"
    "          { type = \"relu\"; },\n"
    "          { type = \"dropout\"; rate = 0.2; } );\n"
    "optimizer = { type = \"adam\"; lr = 1e-3; betas = [ 0.9, 0.999 ]; eps = 1e-08;\n"
    "              amsgrad = false; };\n"
    "odd = { tiny = 2.5e-300; huge = 1e20; negzero = -0.0; third = 0.333333333333333;\n"
    "        empty = ( ); unicode = \"\xc3\xa9t\xc3\xa9\"; };\n"
    "train = { epochs = 10; batch_size = 128; shuffle = true; };\n";

/* Names that are not valid UTF-8 or hold control characters used to pass
   and fail only at the first checkpoint (issue 10, defect 6). */
static void test_names(const char *root, dlh_config *cfg)
{
    static const struct { const char *name, *why, *shown; } bad[] = {
        { "a\x01" "b", "must not contain control characters", "a\\x01b" },
        { "tab\there", "must not contain control characters", "tab\\x09here" },
        { "del\x7f", "must not contain control characters", "del\\x7f" },
        { "nel\xc2\x85", "must not contain control characters", "nel\\xc2\\x85" },
        { "latin1-\xe9t\xe9", "is not valid UTF-8", "latin1-\\xe9t\\xe9" },
        { "overlong-\xc0\xaf", "is not valid UTF-8", NULL },
        { "surrogate-\xed\xa0\x80", "is not valid UTF-8", NULL },
        { "past-max-\xf4\x90\x80\x80", "is not valid UTF-8", NULL },
        { "cut-\xe2\x82", "is not valid UTF-8", NULL },
    };
    char shown[128];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        dlh_rundir *r = (dlh_rundir *)1;
        int rc = dlh_rundir_open(root, bad[i].name, cfg, &r);
        int good = rc == DLH_ECONFIG && r == NULL && strstr(dlh_error_get(), bad[i].why);
        if (bad[i].shown) {
            snprintf(shown, sizeof shown, "run name '%s' ", bad[i].shown);
            good = good && strstr(dlh_error_get(), shown);
        }
        ok(good, "run name %zu refused: %s", i, dlh_error_get());
    }
    char longest[257];
    memset(longest, 'n', 256);
    longest[256] = '\0';
    ok(dlh_run_name_check(longest) == DLH_ECONFIG &&
       strstr(dlh_error_get(), "longer than a file name"), "a 256-byte name is refused");
    longest[255] = '\0';
    ok(dlh_run_name_check(longest) == 0, "a 255-byte name is accepted");
    static const char *const good[] = { "caf\xc3\xa9", "\xe6\xbc\xa2\xe5\xad\x97",
                                        "emoji-\xf0\x9f\x99\x82", "a b-c_d.e" };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        ok(dlh_run_name_check(good[i]) == 0, "UTF-8 name %zu accepted", i);
}

/* The folder's lock: a second holder is refused with the first one's pid
   (flock locks belong to open file descriptions, so one process can test
   it), readers need none, and closing releases it. */
static void test_lock(const char *root)
{
    dlh_rundir *a = NULL, *b = NULL;
    int rc = dlh_rundir_open(root, "locked", NULL, &a);
    ok(rc == 0, "the first run takes the folder");
    if (rc)
        return;
    char want[4400];
    snprintf(want, sizeof want, "%s/locked is in use by process %lld (started ", root,
             (long long)getpid());
    rc = dlh_rundir_open(root, "locked", NULL, &b);
    ok(rc == DLH_ECONFIG && b == NULL && strstr(dlh_error_get(), want),
       "a second run of the same name is refused: %s", dlh_error_get());
    char path[4400];
    snprintf(path, sizeof path, "%s/locked", root);
    rc = dlh_rundir_attach(path, &b);
    ok(rc == DLH_ECONFIG && b == NULL && strstr(dlh_error_get(), want),
       "so is --resume of the folder while the run holds it");
    dlh_rundir_close(a);
    rc = dlh_rundir_attach(path, &b);
    ok(rc == 0, "once closed, the folder can be taken again");
    dlh_rundir_close(b);
    snprintf(path, sizeof path, "%s/locked/.lock", root);
    char *text = slurp(path);
    char head[64];
    snprintf(head, sizeof head, "pid %lld\nstarted ", (long long)getpid());
    ok(text && strncmp(text, head, strlen(head)) == 0, "the lock file names its holder");
    free(text);
}

/* A new run in a folder removes what a crash left (temporary files) and
   the previous run's checkpoints, before it writes anything; --resume
   (attach) removes the temporary files only. */
static void test_clear(const char *root)
{
    static const char *const stale[] = { ".last.safetensors.tmp-Ab12Cd",
                                         ".metrics.csv.tmp-zzzzzz" };
    static const char *const kept[] = { "notes.txt", ".last.safetensors.tmp-short",
                                        "x.tmp-ABCDEF", ".hidden" };
    static const char *const previous[] = { "last.safetensors", "best.safetensors" };
    char folder[4300], path[4400];
    snprintf(folder, sizeof folder, "%s/cleared", root);
    for (int pass = 0; pass < 2; pass++) {
        mkdir(root, 0755);
        mkdir(folder, 0755);
        for (size_t i = 0; i < 2; i++)
            tmpdir_put(folder, stale[i], "half a file");
        for (size_t i = 0; i < 4; i++)
            tmpdir_put(folder, kept[i], "mine");
        for (size_t i = 0; i < 2; i++)
            tmpdir_put(folder, previous[i], "an old run");
        dlh_rundir *r = NULL;
        int rc = pass == 0 ? dlh_rundir_open(root, "cleared", NULL, &r)
                           : dlh_rundir_attach(folder, &r);
        const char *how = pass == 0 ? "a new run" : "--resume";
        ok(rc == 0, "%s in a folder with stale files", how);
        int gone = 1, here = 1, old = 0;
        for (size_t i = 0; i < 2; i++) {
            snprintf(path, sizeof path, "%s/%s", folder, stale[i]);
            gone &= access(path, F_OK) != 0;
            snprintf(path, sizeof path, "%s/%s", folder, previous[i]);
            old += access(path, F_OK) == 0;
        }
        for (size_t i = 0; i < 4; i++) {
            snprintf(path, sizeof path, "%s/%s", folder, kept[i]);
            here &= access(path, F_OK) == 0;
        }
        ok(gone, "%s removes the temporary files a crash left", how);
        ok(here, "%s keeps files that only look alike", how);
        ok(pass == 0 ? old == 0 : old == 2, "%s %s the previous checkpoints", how,
           pass == 0 ? "removes" : "keeps");
        dlh_rundir_close(r);
    }
}

static void test_open_and_config(void)
{
    dlh_config *cfg = NULL;
    int rc = dlh_config_load_string(experiment, "exp.cfg", &cfg);
    if (!ok(rc == 0, "parse the experiment"))
        diag("%s", dlh_error_get());
    if (rc)
        return;
    ok(dlh_config_set(cfg, "train.epochs=3") == 0, "--set train.epochs=3");

    char root[4200];
    snprintf(root, sizeof root, "%s/out/nested/runs", dir);
    dlh_rundir *r = NULL;
    rc = dlh_rundir_open(root, "exp1", cfg, &r);
    if (!ok(rc == 0 && r, "open a run folder under a nested root that does not exist"))
        diag("%s", dlh_error_get());
    if (rc) {
        dlh_config_free(cfg);
        return;
    }
    char want[4300];
    snprintf(want, sizeof want, "%s/exp1", root);
    ok(strcmp(dlh_rundir_path(r), want) == 0, "dlh_rundir_path is root/name");
    struct stat st;
    ok(stat(want, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0755,
       "run folder created with mode 0755");

    char path[4400];
    snprintf(path, sizeof path, "%s/config.cfg", want);
    dlh_config *again = NULL;
    rc = dlh_config_load(path, &again);
    if (!ok(rc == 0, "config.cfg re-loads with dlh_config_load"))
        diag("%s", dlh_error_get());
    if (rc == 0) {
        char where[256] = "";
        int same = same_setting(dlh_config_root(cfg), dlh_config_root(again), where,
                                sizeof where);
        if (!ok(same, "config.cfg has every value of the resolved experiment"))
            diag("first difference at '%s'", where);
        int epochs = 0;
        config_lookup_int(dlh_config_root(again)->config, "train.epochs", &epochs);
        ok(epochs == 3, "the --set override is in config.cfg");
        dlh_config_free(again);
    }

    snprintf(path, sizeof path, "%s/metrics.csv", want);
    char *text = slurp(path);
    static const char header[] =
        "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,samples_per_s\n";
    ok(text && strcmp(text, header) == 0, "a fresh metrics.csv holds the header only");
    free(text);

    dlh_epoch_row r1 = { 1, 0.5, 0.8125, NAN, NAN, 0.001, 1.25, 48000, 0, { 0 } };
    dlh_epoch_row r2 = { 2, (double)0.345678926f, 0.875, 0.4, 0.85, 0.0005, 1.5, 40000.123, 0, { 0 } };
    dlh_epoch_row r3 = { 3, NAN, NAN, 1.0 / 3.0, 1, 1e-7, 0.000123456789, 0, 0, { 0 } };
    ok(dlh_rundir_metrics(r, &r1) == 0, "append row 1");
    text = slurp(path);
    char expect[1024];
    snprintf(expect, sizeof expect, "%s%s", header, "1,0.5,0.8125,,,0.001,1.25,48000\n");
    ok(text && strcmp(text, expect) == 0, "row 1 with empty validation fields");
    free(text);
    ok(dlh_rundir_metrics(r, &r2) == 0 && dlh_rundir_metrics(r, &r3) == 0,
       "append rows 2 and 3");
    text = slurp(path);
    snprintf(expect, sizeof expect, "%s%s%s%s", header, "1,0.5,0.8125,,,0.001,1.25,48000\n",
             "2,0.345678926,0.875,0.4,0.85,0.0005,1.5,40000.1\n",
             "3,,,0.333333333,1,1e-07,0.000123457,0\n");
    if (!ok(text && strcmp(text, expect) == 0, "every row rewritten, %%.9g and %%.6g"))
        diag("got:\n%s", text ? text : "(none)");
    free(text);
    dlh_rundir_close(r);

    /* Reusing the folder starts metrics.csv afresh. */
    rc = dlh_rundir_open(root, "exp1", cfg, &r);
    text = slurp(path);
    ok(rc == 0 && text && strcmp(text, header) == 0, "re-opened run: fresh metrics.csv");
    free(text);
    dlh_rundir_close(r);

    static const char *const bad_names[] = { "a/b", ".hidden", "..", "", "/abs" };
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
        r = (dlh_rundir *)1;
        rc = dlh_rundir_open(root, bad_names[i], cfg, &r);
        ok(rc == DLH_ECONFIG && r == NULL && strstr(dlh_error_get(), "run name"),
           "run name '%s' refused: %s", bad_names[i], dlh_error_get());
    }
    test_names(root, cfg);
    snprintf(path, sizeof path, "%s/a", root);
    ok(!is_dir(path), "a refused name creates nothing");

    /* A root that is a file. */
    snprintf(path, sizeof path, "%s/afile", dir);
    FILE *f = fopen(path, "w");
    fclose(f);
    rc = dlh_rundir_open(path, "x", cfg, &r);
    ok(rc == DLH_EIO && strstr(dlh_error_get(), "exists and is not a folder"),
       "a root that is a file: %s", dlh_error_get());
    unlink(path);

    /* The default root is "runs" in the current folder. */
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) && chdir(dir) == 0) {
        rc = dlh_rundir_open(NULL, "dflt", NULL, &r);
        ok(rc == 0 && strcmp(dlh_rundir_path(r), "runs/dflt") == 0 && is_dir("runs/dflt") &&
           access("runs/dflt/metrics.csv", F_OK) == 0 &&
           access("runs/dflt/config.cfg", F_OK) != 0,
           "root NULL is runs/; no config given, no config.cfg");
        dlh_rundir_close(r);
        if (chdir(cwd) != 0)
            diag("chdir back failed");
    } else
        skip("cannot change into the temporary folder");
    dlh_config_free(cfg);
}

/* Tensors under test: host originals and their backend copies. */
enum { W, B, IDX, STEP, TAIL, NT };

static const uint32_t w_bits[12] = {
    0x7fc00001u, 0xffc12345u, 0x7f800001u, 0x80000000u, 0x00000001u, 0x807fffffu,
    0x3f800000u, 0xbf000000u, 0x7f7fffffu, 0xff800000u, 0x7f800000u, 0x00800000u,
};
static const float b_vals[3] = { 0.125f, -3.5f, 1e-30f };
static const int32_t idx_vals[5] = { INT32_MIN, -1, 0, 7, INT32_MAX };
static const float step_val[1] = { 1234.0f };

typedef struct model {
    dlh_tensor t[NT];               /* TAIL is a view into W's buffer */
} model;

static const char *const names[NT] = { "fc1.weight", "fc1.bias", "pool.idx",
                                       "optim.step", "fc1.weight.tail" };

static int model_alloc(model *m, int64_t w_rows, int64_t w_cols)
{
    int64_t ws[2] = { w_rows, w_cols }, bs[1] = { 3 }, is[1] = { 5 };
    memset(m, 0, sizeof *m);
    if (dlh_tensor_alloc(be, 2, ws, &m->t[W]) < 0 || dlh_tensor_alloc(be, 1, bs, &m->t[B]) < 0 ||
        dlh_tensor_alloc(be, 1, is, &m->t[IDX]) < 0 ||
        dlh_tensor_alloc(be, 0, NULL, &m->t[STEP]) < 0)
        return -1;
    m->t[IDX].dtype = DLH_I32;
    m->t[TAIL] = m->t[W];
    m->t[TAIL].mem = dlh_mem_at(m->t[W].mem, 4);
    m->t[TAIL].ndim = 1;
    m->t[TAIL].shape[0] = w_rows * w_cols - 4;
    for (int i = 0; i < NT; i++)
        if (i != TAIL && be->ops->fill(be->ctx, m->t[i].mem, (size_t)dlh_tensor_numel(&m->t[i]),
                                       0.0f) < 0)
            return -1;
    return 0;
}

static void model_free(model *m)
{
    for (int i = 0; i < NT; i++)
        if (i != TAIL)
            dlh_tensor_free(be, &m->t[i]);
}

static void model_list(model *m, dlh_ckpt_tensor *list)
{
    for (int i = 0; i < NT; i++)
        list[i] = (dlh_ckpt_tensor){ names[i], &m->t[i], NULL };
}

static int read_back(const dlh_tensor *t, void *out)
{
    return be->ops->read(be->ctx, t->mem.buf, t->mem.off * 4, out,
                         (size_t)dlh_tensor_numel(t) * 4);
}

static int model_equals_originals(model *m)
{
    uint32_t w[12], b[3], step[1];
    int32_t idx[5];
    if (read_back(&m->t[W], w) < 0 || read_back(&m->t[B], b) < 0 ||
        read_back(&m->t[IDX], idx) < 0 || read_back(&m->t[STEP], step) < 0)
        return 0;
    return memcmp(w, w_bits, sizeof w) == 0 && memcmp(b, b_vals, sizeof b) == 0 &&
           memcmp(idx, idx_vals, sizeof idx) == 0 && memcmp(step, step_val, 4) == 0;
}

static int all_zero(const dlh_tensor *t)
{
    uint32_t v[16];
    size_t n = (size_t)dlh_tensor_numel(t);
    if (n > 16 || read_back(t, v) < 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (v[i])
            return 0;
    return 1;
}

static void expect_load_error(const char *path, model *m, const dlh_ckpt_tensor *list,
                              size_t n, int allow_extra, const char *what,
                              const char *want1, const char *want2)
{
    dlh_st_file *file = (dlh_st_file *)1;
    int rc = dlh_checkpoint_load(be, path, list, n, allow_extra, &file);
    const char *msg = dlh_error_get();
    int good = rc == DLH_EDATA && file == NULL && strncmp(msg, path, strlen(path)) == 0 &&
               strstr(msg, want1) && (!want2 || strstr(msg, want2));
    if (!ok(good, "%s refused", what))
        diag("rc %d, message '%s'", rc, msg);
    ok(all_zero(&m->t[B]) && all_zero(&m->t[W]), "%s: nothing was written", what);
}

static void test_checkpoint(const char *run)
{
    model src, dst;
    if (model_alloc(&src, 3, 4) < 0 || model_alloc(&dst, 3, 4) < 0) {
        ok(0, "allocate tensors: %s", dlh_error_get());
        return;
    }
    be->ops->write(be->ctx, src.t[W].mem.buf, 0, w_bits, sizeof w_bits);
    be->ops->write(be->ctx, src.t[B].mem.buf, 0, b_vals, sizeof b_vals);
    be->ops->write(be->ctx, src.t[IDX].mem.buf, 0, idx_vals, sizeof idx_vals);
    be->ops->write(be->ctx, src.t[STEP].mem.buf, 0, step_val, sizeof step_val);

    dlh_ckpt_tensor ls[NT], ld[NT];
    model_list(&src, ls);
    model_list(&dst, ld);
    char path[4400];
    snprintf(path, sizeof path, "%s/last.safetensors", run);
    dlh_st_meta meta[] = { { "epoch", "3" }, { "rng", "seed=42 step=1170" } };
    int rc = dlh_checkpoint_save(be, path, ls, NT, meta, 2);
    if (!ok(rc == 0, "save 5 tensors (one a view at an offset, one I32, one scalar)"))
        diag("%s", dlh_error_get());

    /* The file itself, independent of the load path. */
    dlh_st_file *f = NULL;
    rc = dlh_st_read(path, &f);
    ok(rc == 0 && dlh_st_count(f) == NT, "the checkpoint is a valid safetensors file");
    if (rc == 0) {
        const dlh_st_entry *w = dlh_st_find(f, "fc1.weight");
        const dlh_st_entry *i = dlh_st_find(f, "pool.idx");
        const dlh_st_entry *t = dlh_st_find(f, "fc1.weight.tail");
        const dlh_st_entry *s = dlh_st_find(f, "optim.step");
        ok(w && w->dtype == DLH_F32 && w->ndim == 2 && w->shape[0] == 3 && w->shape[1] == 4 &&
           memcmp(w->data, w_bits, sizeof w_bits) == 0, "fc1.weight: F32 [3, 4], every bit");
        ok(i && i->dtype == DLH_I32 && memcmp(i->data, idx_vals, sizeof idx_vals) == 0,
           "pool.idx saved as I32");
        ok(t && t->shape[0] == 8 && memcmp(t->data, w_bits + 4, 32) == 0,
           "a view saves from its own offset");
        ok(s && s->ndim == 0 && memcmp(s->data, step_val, 4) == 0, "a scalar saves as shape []");
        ok(strcmp(dlh_st_at(f, 0)->name, "fc1.weight") == 0 &&
           strcmp(dlh_st_at(f, 4)->name, "fc1.weight.tail") == 0, "saved in the given order");
        dlh_st_free(f);
    }

    dlh_st_file *file = NULL;
    rc = dlh_checkpoint_load(be, path, ld, NT, 0, &file);
    if (!ok(rc == 0, "load into fresh tensors"))
        diag("%s", dlh_error_get());
    ok(model_equals_originals(&dst), "loaded tensors equal the saved ones bit for bit");
    const char *epoch = file ? dlh_st_meta_get(file, "epoch") : NULL;
    ok(epoch && strcmp(epoch, "3") == 0, "*file gives the metadata");
    dlh_st_free(file);
    ok(dlh_checkpoint_load(be, path, ld, NT, 0, NULL) == 0, "load with file NULL");

    /* A second save of changed values (reusing the staging buffer). */
    float nb[3] = { 9.0f, 8.0f, 7.0f };
    be->ops->write(be->ctx, src.t[B].mem.buf, 0, nb, sizeof nb);
    ok(dlh_checkpoint_save(be, path, ls, NT, meta, 2) == 0, "save again");
    float got[3] = { 0 };
    ok(dlh_checkpoint_load(be, path, ld, NT, 0, NULL) == 0 && read_back(&dst.t[B], got) == 0 &&
       memcmp(got, nb, sizeof nb) == 0, "the second save holds the new values");
    be->ops->write(be->ctx, src.t[B].mem.buf, 0, b_vals, sizeof b_vals);
    ok(dlh_checkpoint_save(be, path, ls, NT, meta, 2) == 0, "save the originals back");
    model_free(&dst);

    /* Refusals; each leaves the destination untouched (all zero). */
    model bad;
    if (model_alloc(&bad, 4, 3) < 0) {
        ok(0, "allocate tensors: %s", dlh_error_get());
        model_free(&src);
        return;
    }
    dlh_ckpt_tensor lb[NT];
    model_list(&bad, lb);
    expect_load_error(path, &bad, lb, NT, 0, "wrong shape", "tensor 'fc1.weight'",
                      "shape [3, 4] in the file, the model expects [4, 3]");
    model_free(&bad);

    model fresh;
    model_alloc(&fresh, 3, 4);
    dlh_ckpt_tensor lf[NT + 1];
    model_list(&fresh, lf);
    lf[NT] = lf[B];
    lf[NT].name = "fc2.bias";
    expect_load_error(path, &fresh, lf, NT + 1, 1, "missing tensor",
                      "tensor 'fc2.bias' is missing from the file", NULL);
    expect_load_error(path, &fresh, lf, 2, 0, "extra tensors with allow_extra 0",
                      "tensor 'pool.idx' in the file is not part of the model", NULL);
    rc = dlh_checkpoint_load(be, path, lf, 2, 1, NULL);
    uint32_t w[12];
    ok(rc == 0 && read_back(&fresh.t[W], w) == 0 && memcmp(w, w_bits, sizeof w) == 0,
       "extra tensors with allow_extra 1: the asked ones load");
    be->ops->fill(be->ctx, fresh.t[W].mem, 12, 0.0f);
    be->ops->fill(be->ctx, fresh.t[B].mem, 3, 0.0f);
    dlh_tensor as_f32 = fresh.t[IDX];
    as_f32.dtype = DLH_F32;
    dlh_ckpt_tensor wrong_dtype = { "pool.idx", &as_f32, NULL };
    expect_load_error(path, &fresh, &wrong_dtype, 1, 1, "dtype mismatch",
                      "tensor 'pool.idx' is I32 in the file, the model expects F32", NULL);

    /* A torn file (what the atomic write prevents) is named, not loaded. */
    char torn[4400];
    snprintf(torn, sizeof torn, "%s/torn.safetensors", run);
    char *bytes = NULL;
    FILE *in = fopen(path, "rb");
    long len = 0;
    if (in && fseek(in, 0, SEEK_END) == 0 && (len = ftell(in)) > 0 && fseek(in, 0, SEEK_SET) == 0) {
        bytes = malloc((size_t)len);
        if (fread(bytes, 1, (size_t)len, in) != (size_t)len)
            len = 0;
    }
    if (in)
        fclose(in);
    FILE *out = fopen(torn, "wb");
    if (out && bytes && len > 10)
        fwrite(bytes, 1, (size_t)len - 10, out);
    if (out)
        fclose(out);
    free(bytes);
    expect_load_error(torn, &fresh, lf, NT, 0, "truncated checkpoint", "file too short", NULL);
    unlink(torn);
    rc = dlh_checkpoint_load(be, torn, lf, NT, 0, NULL);
    ok(rc == DLH_EIO && strstr(dlh_error_get(), "cannot open"), "a missing checkpoint: DLH_EIO");
    model_free(&fresh);

    char nowhere[4400];
    snprintf(nowhere, sizeof nowhere, "%s/missing/last.safetensors", run);
    ok(dlh_checkpoint_save(be, nowhere, ls, NT, NULL, 0) == DLH_EIO,
       "save into a missing folder: DLH_EIO");
    dlh_ckpt_tensor dup[2] = { ls[0], ls[0] };
    ok(dlh_checkpoint_save(be, path, dup, 2, NULL, 0) == DLH_EINVAL &&
       strstr(dlh_error_get(), "given twice"), "save refuses a name given twice");
    ok(dlh_checkpoint_save(be, path, NULL, 0, NULL, 0) == 0, "save with no tensors");
    model_free(&src);
}

/* Layer counters (layer.h add_counter): host int64 saved as 0-d I64, loaded
   back exactly; one missing from the file keeps its value; a negative one
   is refused. */
static void test_counters(const char *run)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/counters.safetensors", run);
    int64_t count = (INT64_C(1) << 40) + 3, back = 0, absent = 11;
    dlh_ckpt_tensor save = { "bn.num_batches_tracked", &dlh_ckpt_counter_desc, &count };
    ok(dlh_checkpoint_save(be, path, &save, 1, NULL, 0) == 0, "save a counter");
    dlh_ckpt_tensor load[2] = {
        { "bn.num_batches_tracked", &dlh_ckpt_counter_desc, &back },
        { "bn2.num_batches_tracked", &dlh_ckpt_counter_desc, &absent },
    };
    int rc = dlh_checkpoint_load(be, path, load, 2, 0, NULL);
    ok(rc == 0 && back == count, "it loads back exactly (2^40 + 3: %lld)", (long long)back);
    ok(rc == 0 && absent == 11, "a counter the file lacks keeps its value");
    count = -1;
    ok(dlh_checkpoint_save(be, path, &save, 1, NULL, 0) == 0 &&
       dlh_checkpoint_load(be, path, load, 1, 0, NULL) == DLH_EDATA &&
       strstr(dlh_error_get(), "tensor 'bn.num_batches_tracked' is -1, not a count"),
       "a negative count is refused (%s)", dlh_error_get());
}

int main(void)
{
    if (!getenv("DLHOST_PLUGIN_PATH"))
        skip_all("DLHOST_PLUGIN_PATH is not set (run through make check)");
    tmpdir_make(dir, sizeof dir, NULL, "test_rundir");
    if (dlh_registry_load_all(0) < 0 || dlh_backend_open("cpu", NULL, &be) < 0) {
        ok(0, "load plugins and open the cpu backend: %s", dlh_error_get());
        return done_testing();
    }
    test_open_and_config();
    char runs[4200];
    snprintf(runs, sizeof runs, "%s/lockruns", dir);
    test_lock(runs);
    test_clear(runs);

    dlh_rundir *r = NULL;
    char root[4200];
    snprintf(root, sizeof root, "%s/runs", dir);
    if (dlh_rundir_open(root, "ckpt", NULL, &r) == 0) {
        test_checkpoint(dlh_rundir_path(r));
        test_counters(dlh_rundir_path(r));
        dlh_rundir_close(r);
    } else
        ok(0, "open a run folder: %s", dlh_error_get());

    dlh_backend_close(be);
    dlh_registry_clear();
    if (tmpdir_remove(dir) != 0)
        diag("could not remove %s: %s", dir, strerror(errno));
    return done_testing();
}
