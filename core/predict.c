/* `dlhost predict` and `dlhost embed` (predict.h). */
#include "predict.h"

#include <inttypes.h>
#include <libconfig.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batcher.h"
#include "error.h"
#include "eval.h"
#include "experiment.h"
#include "graph.h"
#include "metrics.h"
#include "registry.h"
#include "rundir.h"
#include "safetensors.h"

/* Samples whose indices are held at a time: the index list is this long
   whatever the data's size. */
#define PREDICT_CHUNK 4096
/* Bytes of output gathered before each write. */
#define PREDICT_BUF 65536

/* ------------------------------------------------------------ the input */

/* Copies setting src (its value, members, elements) into a new member
   `name` (NULL in a list or array) of parent. */
static int predict_copy(config_setting_t *parent, const char *name,
                        const config_setting_t *src)
{
    int type = config_setting_type(src);
    config_setting_t *d = config_setting_add(parent, name, type);
    if (!d)
        return -1;
    switch (type) {
    case CONFIG_TYPE_INT: return config_setting_set_int(d, config_setting_get_int(src)) - 1;
    case CONFIG_TYPE_INT64:
        return config_setting_set_int64(d, config_setting_get_int64(src)) - 1;
    case CONFIG_TYPE_FLOAT:
        return config_setting_set_float(d, config_setting_get_float(src)) - 1;
    case CONFIG_TYPE_BOOL: return config_setting_set_bool(d, config_setting_get_bool(src)) - 1;
    case CONFIG_TYPE_STRING:
        return config_setting_set_string(d, config_setting_get_string(src)) - 1;
    default:
        break;
    }
    for (int i = 0; i < config_setting_length(src); i++) {
        const config_setting_t *m = config_setting_get_elem(src, (unsigned)i);
        if (predict_copy(d, type == CONFIG_TYPE_GROUP ? config_setting_name(m) : NULL, m))
            return -1;
    }
    return 0;
}

/* The file parameter of the readers dlhost ships ("x" or "path" for npy,
   by the input's name), else NULL. */
static const char *predict_file_key(const char *type, const char *input)
{
    size_t n = strlen(input);
    if (strcmp(type, "csv") == 0 || strcmp(type, "imagefolder") == 0)
        return "path";
    if (strcmp(type, "idx") == 0)
        return "images";
    if (strcmp(type, "npy") == 0)
        return n > 4 && strcmp(input + n - 4, ".npz") == 0 ? "path" : "x";
    return NULL;
}

/* 1 when the file starts as a PNG or a JPEG does. */
static int predict_is_image(const char *path)
{
    unsigned char m[8] = { 0 };
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(m, 1, sizeof m, f) : 0;
    if (f)
        fclose(f);
    return (got >= 8 && memcmp(m, "\x89PNG\r\n\x1a\n", 8) == 0) ||
           (got >= 3 && m[0] == 0xff && m[1] == 0xd8 && m[2] == 0xff);
}

/* 1 when folder `path` holds a sub-folder (not hidden): a class folder. */
static int predict_has_subfolder(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    int found = 0;
    while (d && !found && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *p = malloc(strlen(path) + strlen(de->d_name) + 2);
        struct stat st;
        if (p) {
            sprintf(p, "%s/%s", path, de->d_name);
            found = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
        }
        free(p);
    }
    if (d)
        closedir(d);
    return found;
}

/* The field count of the first data line of CSV file `path` (after the
   header line with `header`), or -1 when it cannot be read. */
static int64_t predict_csv_fields(const char *path, int header, char delim)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    int64_t n = -1, line = 0;
    int c = 0;
    while (n < 0 && c != EOF) {
        int64_t k = 1, any = 0;
        while ((c = getc(f)) != EOF && c != '\n') {
            k += c == delim;
            any |= c != ' ' && c != '\t' && c != '\r';
        }
        if (line++ >= (header ? 1 : 0) && any)
            n = k;
    }
    fclose(f);
    return n;
}

/* src's file (member key) resolved as the reader would: relative to the
   experiment file's folder. */
static char *predict_cfg_file(dlh_config *cfg, config_setting_t *src, const char *key)
{
    const char *v = NULL, *cp = dlh_config_path(cfg);
    if (!config_setting_lookup_string(src, key, &v))
        return NULL;
    const char *slash = strrchr(cp, '/');
    size_t nd = v[0] == '/' || !slash ? 0 : (size_t)(slash - cp) + 1;
    char *s = malloc(nd + strlen(v) + 1);
    if (s) {
        memcpy(s, cp, nd);
        strcpy(s + nd, v);
    }
    return s;
}

/* A CSV input without the label (and weight) columns of `src`, whose file
   has them: one field per feature. */
static int predict_csv_unlabelled(dlh_config *cfg, config_setting_t *src,
                                  const char *input)
{
    int header = 0, ival = 1;
    const char *delim = ",", *label = "class";
    config_setting_lookup_bool(src, "header", &header);
    config_setting_lookup_string(src, "delimiter", &delim);
    config_setting_lookup_string(src, "label", &label);
    if (strcmp(label, "none") == 0 || strlen(delim) != 1)
        return 0;
    int64_t nl = 1;
    if (strcmp(label, "dense") == 0 && config_setting_lookup_int(src, "label_columns", &ival))
        nl = ival;
    nl += config_setting_lookup(src, "weight_column") != NULL;
    char *ref = predict_cfg_file(cfg, src, "path");
    int64_t want = ref ? predict_csv_fields(ref, header, delim[0]) : -1;
    int64_t have = predict_csv_fields(input, header, delim[0]);
    free(ref);
    return want > nl && have == want - nl;
}

int dlh_predict_input(dlh_config *cfg, const char *input, const char *reader)
{
    config_setting_t *data = config_setting_lookup(dlh_config_root(cfg), "data");
    config_setting_t *train = data ? config_setting_lookup(data, "train") : NULL;
    config_setting_t *old = data ? config_setting_lookup(data, "test") : NULL;
    const char *cfgp = dlh_config_path(cfg);
    const char *ttype = NULL, *otype = NULL;
    if (!train || !config_setting_is_group(train) ||
        !config_setting_lookup_string(train, "type", &ttype)) {
        dlh_error_set("%s: --input needs data.train (its reader reads the input)", cfgp);
        return DLH_ECONFIG;
    }
    struct stat st;
    if (stat(input, &st) != 0) {
        dlh_error_set("--input %s: %s", input, strerror(errno));
        return DLH_ECONFIG;
    }
    /* The reader: --reader, an image file's, or data.train's. */
    int image = S_ISREG(st.st_mode) && predict_is_image(input);
    const char *type = reader ? reader : image ? "imagefolder" : ttype;
    const dlh_component *comp = dlh_registry_find(DLH_KIND_DATASET, type);
    if (!comp) {
        dlh_error_prefix("--reader: ");
        return DLH_ECONFIG;
    }
    /* Its parameters: those of data.test or data.train where it is their
       reader, else data.train's that it declares. */
    if (old && !(config_setting_is_group(old) &&
                 config_setting_lookup_string(old, "type", &otype) && strcmp(otype, type) == 0))
        old = NULL;
    config_setting_t *src = old ? old : train;
    int same = old || strcmp(ttype, type) == 0;
    const char *key = predict_file_key(type, input);
    if (!key)
        key = config_setting_lookup(src, "path") ? "path"
              : config_setting_lookup(src, "images") ? "images"
              : config_setting_lookup(src, "x") ? "x" : NULL;
    if (!key) {
        dlh_error_set("%s: data.train has no 'path', 'images' or 'x' parameter: --input "
                      "cannot name its reader's file", cfgp);
        return DLH_ECONFIG;
    }
    int npy_files = strcmp(type, "npy") == 0 && strcmp(key, "x") == 0;
    int csv_bare = strcmp(type, "csv") == 0 && same && predict_csv_unlabelled(cfg, src, input);
    /* An image, or a folder of images without class folders. */
    int img_bare = strcmp(type, "imagefolder") == 0 &&
                   (S_ISREG(st.st_mode) || !predict_has_subfolder(input));
    int bare = npy_files || csv_bare || img_bare;
    /* Read one batch at a time where the reader can (README). */
    int stream = (strcmp(type, "csv") == 0 || strcmp(type, "npy") == 0 ||
                  strcmp(type, "idx") == 0) && !config_setting_lookup(src, "stream");
    const char *drop[] = { "limit", "weights", "type",
                           npy_files ? "y" : "", bare ? "label" : "",
                           strcmp(key, "images") == 0 ? "labels" : "",
                           csv_bare ? "label_column" : "",
                           csv_bare ? "label_columns" : "", csv_bare ? "weight_column" : "" };
    char *abs = NULL;
    if (input[0] == '/') {
        abs = strdup(input);
    } else {
        char *cwd = getcwd(NULL, 0);
        if (cwd && (abs = malloc(strlen(cwd) + strlen(input) + 2)))
            sprintf(abs, "%s/%s", cwd, input);
        free(cwd);
    }
    if (!abs) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    /* An old data.test is replaced; where it gives the parameters, they
       are read from a copy of it. */
    int bad = 0;
    if (old) {
        config_setting_t *tmp = config_setting_add(data, "predict_src_", CONFIG_TYPE_GROUP);
        for (int i = 0; tmp && !bad && i < config_setting_length(old); i++) {
            const config_setting_t *m = config_setting_get_elem(old, (unsigned)i);
            bad = predict_copy(tmp, config_setting_name(m), m) != 0;
        }
        bad = bad || !tmp;
        src = tmp;
    }
    if (config_setting_lookup(data, "test"))
        config_setting_remove(data, "test");
    config_setting_t *test = bad ? NULL : config_setting_add(data, "test", CONFIG_TYPE_GROUP);
    bad = !test;
    config_setting_t *s = bad ? NULL : config_setting_add(test, "type", CONFIG_TYPE_STRING);
    bad = bad || !s || !config_setting_set_string(s, type);
    for (int i = 0; !bad && i < config_setting_length(src); i++) {
        const config_setting_t *m = config_setting_get_elem(src, (unsigned)i);
        const char *name = config_setting_name(m);
        /* Another reader's files are not this one's. */
        int files = strcmp(name, "path") == 0 || strcmp(name, "images") == 0 ||
                    strcmp(name, "x") == 0 || strcmp(name, "y") == 0;
        int skip = strcmp(name, key) == 0 ||
                   (!same && (files || !dlh_component_param(comp, name)));
        for (size_t k = 0; k < sizeof drop / sizeof *drop; k++)
            skip |= strcmp(name, drop[k]) == 0;
        if (!skip)
            bad = predict_copy(test, name, m) != 0;
    }
    s = bad ? NULL : config_setting_add(test, key, CONFIG_TYPE_STRING);
    bad = bad || !s || !config_setting_set_string(s, abs);
    /* npy's x without y, a CSV of features only, bare images: no labels. */
    if (!bad && bare) {
        s = config_setting_add(test, "label", CONFIG_TYPE_STRING);
        bad = !s || !config_setting_set_string(s, "none");
    }
    if (!bad && stream) {
        s = config_setting_add(test, "stream", CONFIG_TYPE_BOOL);
        bad = !s || !config_setting_set_bool(s, 1);
    }
    free(abs);
    if (config_setting_lookup(data, "predict_src_"))
        config_setting_remove(data, "predict_src_");
    if (bad) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    return 0;
}

/* ------------------------------------------------------------ common */

typedef struct predict_ctx {
    dlh_experiment *e;
    dlh_exp_data *data;             /* e->test or e->train */
    const char *data_name;
    dlh_norm norm;
    char **names;                   /* the class names shown, or NULL */
    char **ck_names;                /* the checkpoint's, owned */
    dlh_batcher *bt;
    int64_t idx[PREDICT_CHUNK];
} predict_ctx;

static void predict_free(predict_ctx *c)
{
    for (int64_t k = 0; c->ck_names && k < c->e->n_classes; k++)
        free(c->ck_names[k]);
    free(c->ck_names);
    dlh_batcher_free(c->bt);
    dlh_norm_free(&c->norm);
    dlh_experiment_free(c->e);
    free(c);
}

/* Builds the experiment, loads `weights` into it and opens the batcher
   over its data (data.test, else with train_too data.train). */
static int predict_open(dlh_config *cfg, const char *backend, const char *weights,
                        const char *cmd, int train_too, int64_t batch, predict_ctx **out)
{
    predict_ctx *c = calloc(1, sizeof *c);
    dlh_st_file *f = NULL;
    dlh_ckpt_tensor *t = NULL;
    size_t n = 0;
    if (!c) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    int rc = dlh_experiment_new_ex(cfg, backend, batch, DLH_EXP_UNLABELLED_TEST, &c->e);
    if (rc) {
        free(c);
        return rc;
    }
    dlh_experiment *e = c->e;
    c->data = e->test.ops ? &e->test : train_too ? &e->train : NULL;
    c->data_name = c->data == &e->test ? "data.test" : "data.train";
    if (!c->data) {
        dlh_error_set("%s: %s needs --input DATA or data.test (the experiment has none)",
                      dlh_config_path(cfg), cmd);
        rc = DLH_ECONFIG;
    }
    if (rc == 0 && !(rc = dlh_st_read(weights, &f)) &&
        !(rc = dlh_model_tensors(e, 0, &t, &n)) &&
        !(rc = dlh_checkpoint_check(e, f, weights, t, n, &c->norm)) &&
        !(rc = dlh_checkpoint_class_names(f, e->target_kind == DLH_TARGET_CLASS
                                          ? e->n_classes : 0, &c->ck_names)))
        rc = dlh_checkpoint_load(e->backend, weights, t, n, 1, NULL);
    dlh_st_free(f);
    dlh_model_tensors_free(t, n);
    if (rc == 0)
        rc = dlh_batcher_new(c->data->ops, c->data->state, &c->data->info,
                             c->norm.kind != DLH_NORM_NONE ? &c->norm : NULL, e->max_batch,
                             &c->bt);
    if (rc) {
        predict_free(c);
        return rc;
    }
    /* The data's class names where the checkpoint has none. */
    c->names = c->ck_names ? c->ck_names : e->n_class_names == e->n_classes
               ? (char **)e->class_names : NULL;
    *out = c;
    return 0;
}

/* Runs the model over every sample of c's data: for each batch, after its
   forward, calls fn(arg, batch). */
typedef int (*predict_fn)(void *arg, predict_ctx *c, const dlh_batch *b);

static int predict_pass(predict_ctx *c, predict_fn fn, void *arg)
{
    dlh_experiment *e = c->e;
    const dlh_backend *be = e->backend;
    int64_t total = c->data->info.n_samples;
    for (int64_t at = 0; at < total; at += PREDICT_CHUNK) {
        int64_t m = total - at < PREDICT_CHUNK ? total - at : PREDICT_CHUNK;
        for (int64_t i = 0; i < m; i++)
            c->idx[i] = at + i;
        int rc = dlh_batcher_start(c->bt, c->idx, m, e->max_batch, 0, e->seed, 0);
        while (rc == 0) {
            const dlh_batch *b;
            if ((rc = dlh_batcher_next(c->bt, &b)) || !b)
                break;
            dlh_graph_select_input(e->graph, 0);
            const dlh_tensor *x = dlh_graph_input(e->graph);
            size_t nx = (size_t)b->n * (size_t)dlh_shape_numel(&c->data->info.sample);
            if ((rc = be->ops->write(be->ctx, x->mem.buf, x->mem.off * sizeof(float), b->x,
                                     nx * sizeof(float))) ||
                (rc = dlh_graph_forward(e->graph, b->n, 0, 0, e->seed)))
                break;
            rc = fn(arg, c, b);
        }
        if (rc) {
            dlh_batcher_stop(c->bt);
            dlh_error_prefix("%s: ", c->data_name);
            return rc;
        }
    }
    return 0;
}

/* Output gathered in a buffer and written through an atomic file or to
   stdout. */
typedef struct predict_out {
    const char *path;
    FILE *fp;                       /* stdout, or NULL */
    dlh_atomic_file af;
    char buf[PREDICT_BUF];
    size_t len;
} predict_out;

static int out_open(predict_out *o, const char *path)
{
    o->path = path;
    o->len = 0;
    if (strcmp(path, "-") == 0) {
        o->fp = stdout;
        return 0;
    }
    o->fp = NULL;
    return dlh_atomic_open(&o->af, path);
}

static int out_flush(predict_out *o)
{
    int rc = 0;
    if (o->fp && o->len && fwrite(o->buf, 1, o->len, o->fp) != o->len) {
        dlh_error_set("%s: write failed", o->path);
        rc = DLH_EIO;
    } else if (!o->fp) {
        rc = dlh_atomic_write(&o->af, o->buf, o->len);
    }
    o->len = 0;
    return rc;
}

static int out_put(predict_out *o, const void *data, size_t n)
{
    if (o->len + n > sizeof o->buf) {
        int rc = out_flush(o);
        if (rc)
            return rc;
    }
    if (n > sizeof o->buf)
        return o->fp ? (fwrite(data, 1, n, o->fp) == n ? 0 : DLH_EIO)
                     : dlh_atomic_write(&o->af, data, n);
    memcpy(o->buf + o->len, data, n);
    o->len += n;
    return 0;
}

static int out_printf(predict_out *o, const char *fmt, ...) DLH_PRINTF(2, 3);
static int out_printf(predict_out *o, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    return out_put(o, line, n < (int)sizeof line ? (size_t)n : sizeof line - 1);
}

/* Ends the output: commit (rc 0) or abort. */
static int out_close(predict_out *o, int rc)
{
    if (rc == 0)
        rc = out_flush(o);
    if (o->fp)
        return rc == 0 && fflush(o->fp) != 0 ? DLH_EIO : rc;
    if (rc == 0)
        return dlh_atomic_commit(&o->af);
    dlh_atomic_abort(&o->af);
    return rc;
}

/* ------------------------------------------------------------ predict */

typedef struct predict_run {
    predict_out *o;
    const dlh_exp_head *h;
    int classes;                    /* class probabilities, not values */
    int binary;
    int64_t n_classes, width, top;
    float *host;                    /* [max_batch * width] */
    double *prob;                   /* [n_classes] */
    int64_t *order;                 /* [n_classes] */
    int64_t written;
} predict_run;

/* A CSV field: the name quoted where it holds a delimiter or a quote. */
static int put_name(predict_out *o, const char *s)
{
    if (!strpbrk(s, ",\"\r\n"))
        return out_printf(o, ",%s", s);
    int rc = out_put(o, ",\"", 2);
    for (; rc == 0 && *s; s++)
        rc = *s == '"' ? out_put(o, "\"\"", 2) : out_put(o, s, 1);
    return rc ? rc : out_put(o, "\"", 1);
}

static int predict_batch(void *arg, predict_ctx *c, const dlh_batch *b)
{
    predict_run *r = arg;
    const dlh_backend *be = c->e->backend;
    const dlh_tensor *out = dlh_graph_node_output(c->e->graph, r->h->node);
    int rc = be->ops->read(be->ctx, out->mem.buf, out->mem.off * sizeof(float), r->host,
                           (size_t)(b->n * r->width) * sizeof(float));
    for (int64_t i = 0; rc == 0 && i < b->n; i++) {
        const float *x = r->host + i * r->width;
        rc = out_printf(r->o, "%" PRId64, r->written++);
        if (!r->classes) {
            for (int64_t k = 0; rc == 0 && k < r->width; k++)
                rc = out_printf(r->o, ",%.9g", (double)x[k]);
            rc = rc ? rc : out_put(r->o, "\n", 1);
            continue;
        }
        dlh_output_probs(r->h->loss->ops->output, r->binary, x, r->n_classes, r->prob);
        /* The top classes by probability, ties to the lower index. */
        for (int64_t k = 0; k < r->n_classes; k++)
            r->order[k] = k;
        for (int64_t k = 0; k < r->top; k++)
            for (int64_t j = k + 1; j < r->n_classes; j++)
                if (r->prob[r->order[j]] > r->prob[r->order[k]]) {
                    int64_t t = r->order[k];
                    r->order[k] = r->order[j];
                    r->order[j] = t;
                }
        for (int64_t k = 0; rc == 0 && k < r->top; k++) {
            int64_t cl = r->order[k];
            rc = out_printf(r->o, ",%" PRId64, cl);
            if (rc == 0 && c->names)
                rc = put_name(r->o, c->names[cl]);
            if (rc == 0)
                rc = out_printf(r->o, ",%.9g", r->prob[cl]);
        }
        rc = rc ? rc : out_put(r->o, "\n", 1);
    }
    return rc;
}

int dlh_predict(dlh_config *cfg, const char *backend, const char *weights, const char *out,
                int top, int64_t batch, FILE *msg)
{
    predict_ctx *c;
    int rc = predict_open(cfg, backend, weights, "predict", 0, batch, &c);
    if (rc)
        return rc;
    dlh_experiment *e = c->e;
    predict_out *o = calloc(1, sizeof *o);
    predict_run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.h = &e->heads[0];
    r.width = r.h->n_outputs;
    r.classes = r.h->target_kind == DLH_TARGET_CLASS;
    r.binary = r.classes && r.width == 1;
    r.n_classes = r.classes ? r.h->n_classes : 0;
    r.top = top < 1 ? (r.n_classes < 5 ? r.n_classes : 5)
            : top < r.n_classes ? top : r.n_classes;
    r.host = calloc((size_t)(e->max_batch * r.width), sizeof *r.host);
    r.prob = calloc((size_t)(r.n_classes + 1), sizeof *r.prob);
    r.order = calloc((size_t)(r.n_classes + 1), sizeof *r.order);
    if (!o || !r.host || !r.prob || !r.order) {
        dlh_error_set("out of memory");
        rc = DLH_ENOMEM;
    }
    if (rc == 0 && (rc = out_open(o, out)) == 0) {
        rc = out_printf(o, "index");
        for (int64_t k = 0; rc == 0 && k < (r.classes ? r.top : r.width); k++) {
            char sfx[32] = "";
            if (k > 0)
                snprintf(sfx, sizeof sfx, "_%" PRId64, k + 1);
            if (!r.classes)
                rc = out_printf(o, ",output_%" PRId64, k);
            else
                rc = out_printf(o, ",class%s%s%s,prob%s", sfx, c->names ? ",name" : "",
                                c->names ? sfx : "", sfx);
        }
        rc = rc ? rc : out_put(o, "\n", 1);
        if (rc == 0)
            rc = predict_pass(c, predict_batch, &r);
        rc = out_close(o, rc);
    }
    if (rc == 0 && strcmp(out, "-") != 0)
        fprintf(msg, "predict %s: %s: %" PRId64 " samples of %s (%s) -> %s\n", e->name,
                weights, r.written, c->data_name, e->backend_line, out);
    free(r.host);
    free(r.prob);
    free(r.order);
    free(o);
    predict_free(c);
    return rc;
}

/* ------------------------------------------------------------ embed */

/* The header of a version 1.0 .npy file of shape (n, dims...): 64-byte
   aligned as numpy writes it. */
static int npy_header(predict_out *o, const char *descr, int64_t n, const int64_t *dims,
                      int ndims)
{
    char dict[256];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, "
                       "'shape': (%" PRId64 ",", descr, n);
    for (int d = 0; d < ndims; d++)
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%s%" PRId64, d ? ", " : " ",
                        dims[d]);
    len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
    size_t total = 10 + (size_t)len + 1;
    size_t pad = (64 - total % 64) % 64;
    unsigned char head[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0 };
    size_t hl = (size_t)len + pad + 1;
    head[8] = (unsigned char)(hl & 0xff);
    head[9] = (unsigned char)(hl >> 8);
    int rc = out_put(o, head, 10);
    rc = rc ? rc : out_put(o, dict, (size_t)len);
    for (size_t i = 0; rc == 0 && i < pad; i++)
        rc = out_put(o, " ", 1);
    return rc ? rc : out_put(o, "\n", 1);
}

typedef struct embed_run {
    predict_out *o, *lo;            /* features, labels (or NULL) */
    int node;
    int64_t dim, label_numel;
    int class_labels;
    float *host;                    /* [max_batch * dim] */
} embed_run;

static int embed_batch(void *arg, predict_ctx *c, const dlh_batch *b)
{
    embed_run *r = arg;
    const dlh_backend *be = c->e->backend;
    const dlh_tensor *out = dlh_graph_node_output(c->e->graph, r->node);
    int rc = be->ops->read(be->ctx, out->mem.buf, out->mem.off * sizeof(float), r->host,
                           (size_t)(b->n * r->dim) * sizeof(float));
    rc = rc ? rc : out_put(r->o, r->host, (size_t)(b->n * r->dim) * sizeof(float));
    if (rc || !r->lo)
        return rc;
    if (!r->class_labels)
        return out_put(r->lo, b->y, (size_t)(b->n * r->label_numel) * sizeof(float));
    for (int64_t i = 0; rc == 0 && i < b->n; i++) {
        int64_t v = (int64_t)b->y[i];
        rc = out_put(r->lo, &v, sizeof v);
    }
    return rc;
}

int dlh_embed(dlh_config *cfg, const char *backend, const char *weights, const char *layer,
              const char *out, int64_t batch, FILE *msg)
{
    predict_ctx *c;
    int rc = predict_open(cfg, backend, weights, "embed", 1, batch, &c);
    if (rc)
        return rc;
    dlh_experiment *e = c->e;
    int node = dlh_graph_find(e->graph, layer);
    if (node < 0) {
        const char **names = calloc((size_t)e->n_layers + 1, sizeof *names);
        for (int i = 0; names && i < e->n_layers; i++)
            names[i] = e->layers[i]->name;
        const char *near = names ? dlh_closest(layer, names, (size_t)e->n_layers) : NULL;
        if (near)
            dlh_error_set("%s: embed: the model has no layer '%s' (did you mean '%s'?)",
                          dlh_config_path(cfg), layer, near);
        else
            dlh_error_set("%s: embed: the model has no layer '%s' (its first is '%s', its "
                          "last '%s')", dlh_config_path(cfg), layer, e->layers[0]->name,
                          e->layers[e->n_layers - 1]->name);
        free(names);
        predict_free(c);
        return DLH_ECONFIG;
    }
    size_t olen = strlen(out);
    size_t stem = olen > 4 && strcmp(out + olen - 4, ".npy") == 0 ? olen - 4 : olen;
    char *lpath = malloc(stem + sizeof "_labels.npy");
    predict_out *o = calloc(1, sizeof *o), *lo = NULL;
    embed_run r;
    memset(&r, 0, sizeof r);
    r.node = node;
    r.dim = dlh_shape_numel(dlh_graph_shape(e->graph, node));
    const dlh_dataset_info *info = &c->data->info;
    int labels = info->label_kind != DLH_LABEL_NONE;
    r.class_labels = info->label_kind == DLH_LABEL_CLASS;
    r.label_numel = info->label_kind == DLH_LABEL_DENSE ? dlh_shape_numel(&info->label) : 1;
    r.host = calloc((size_t)(e->max_batch * r.dim), sizeof *r.host);
    if (!lpath || !o || !r.host || (labels && !(lo = calloc(1, sizeof *lo)))) {
        dlh_error_set("out of memory");
        rc = DLH_ENOMEM;
    } else {
        memcpy(lpath, out, stem);
        strcpy(lpath + stem, "_labels.npy");
    }
    r.o = o;
    r.lo = lo;
    int64_t n = info->n_samples;
    int opened = 0, lopened = 0;
    if (rc == 0 && (rc = out_open(o, out)) == 0)
        opened = 1;
    if (rc == 0 && lo && (rc = out_open(lo, lpath)) == 0)
        lopened = 1;
    if (rc == 0)
        rc = npy_header(o, "<f4", n, &r.dim, 1);
    if (rc == 0 && lo)
        rc = r.class_labels ? npy_header(lo, "<i8", n, NULL, 0)
             : npy_header(lo, "<f4", n, info->label.dim, info->label.ndim);
    if (rc == 0)
        rc = predict_pass(c, embed_batch, &r);
    /* Labels first: the features file appears only once both are whole. */
    if (lopened)
        rc = out_close(lo, rc);
    if (opened)
        rc = out_close(o, rc);
    if (rc == 0) {
        fprintf(msg, "embed %s: %s: layer '%s', %" PRId64 " samples of %s x %" PRId64
                " features (%s) -> %s", e->name, weights, layer, n, c->data_name, r.dim,
                e->backend_line, out);
        if (lo)
            fprintf(msg, ", labels -> %s", lpath);
        fprintf(msg, "\n");
    }
    free(r.host);
    free(lpath);
    free(o);
    free(lo);
    predict_free(c);
    return rc;
}
