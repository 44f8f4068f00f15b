/* Experiment file -> live backend, datasets, model, loss, optimizer, schedule.
 * Reads every key through the params accessors so that each one is either
 * used or reported as unknown with a did-you-mean, and locates every message
 * at the file:line it comes from. */
#include "experiment.h"

#include <ctype.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "augment.h"
#include "batcher.h"
#include "error.h"
#include "graph.h"
#include "init.h"
#include "metrics.h"
#include "registry.h"
#include "rundir.h"
#include "sampler.h"
#include "subset.h"
#include "whiten.h"

void dlh_shape_format(const dlh_shape *s, char *buf, size_t size)
{
    size_t n = 0;
    if (size == 0)
        return;
    buf[0] = '\0';
    n += (size_t)snprintf(buf + n, size - n, "[");
    for (int i = 0; i < s->ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? ", " : "",
                              (long long)s->dim[i]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
}

static int exp_shape_equal(const dlh_shape *a, const dlh_shape *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dim[i] != b->dim[i])
            return 0;
    return 1;
}

/* 1 when msg already names a place: "file:line: " anywhere (components
   put their own prefix in front of a params error) or a --set assignment. */
static int exp_has_location(const char *msg)
{
    if (strstr(msg, "--set "))
        return 1;
    for (const char *c = strchr(msg, ':'); c; c = strchr(c + 1, ':')) {
        if (c == msg || isspace((unsigned char)c[-1]) || !isdigit((unsigned char)c[1]))
            continue;
        const char *d = c + 1;
        while (isdigit((unsigned char)*d))
            d++;
        if (*d == ':')
            return 1;
    }
    return 0;
}

static void exp_where(dlh_params *p, const char *key, char *buf, size_t size)
{
    dlh_params_where(p, key, buf, size);
    /* The root group has no line of its own: "exp.cfg", not "exp.cfg:0". */
    size_t n = strlen(buf);
    if (n > 2 && strcmp(buf + n - 2, ":0") == 0)
        buf[n - 2] = '\0';
}

/* Puts "<file:line of key>: " in front of the current message. */
static void exp_prefix_where(dlh_params *p, const char *key)
{
    char where[512];
    exp_where(p, key, where, sizeof where);
    dlh_error_prefix("%s: ", where);
}

/* Whether the current message is located already: a file:line in it, or,
   for a group the program made (no line of its own), p's file in front. */
static int exp_located(dlh_params *p)
{
    const char *msg = dlh_error_get();
    if (exp_has_location(msg))
        return 1;
    char where[512];
    exp_where(p, NULL, where, sizeof where);
    size_t n = strlen(where);
    return n > 0 && strncmp(msg, where, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ';
}

int dlh_exp_locate(dlh_params *p, const char *key, int rc)
{
    if (!exp_located(p))
        exp_prefix_where(p, key);
    return rc;
}

int dlh_exp_locate_label(dlh_params *p, const char *key, int rc)
{
    if (!exp_located(p)) {
        dlh_error_prefix("%s: ", dlh_params_label(p));
        exp_prefix_where(p, key);
    }
    return rc;
}

int dlh_exp_error_at(dlh_params *p, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dlh_error_setv(fmt, ap);
    va_end(ap);
    exp_prefix_where(p, key);
    return DLH_ECONFIG;
}

/* A params view kept until the experiment is freed. */
dlh_params *dlh_exp_params(dlh_experiment *e, config_setting_t *group,
                           const char *label, const char *const *reserved)
{
    if (e->n_params_ == e->cap_params_) {
        size_t cap = e->cap_params_ ? 2 * e->cap_params_ : 16;
        dlh_params **np = realloc(e->params_, cap * sizeof *np);
        if (!np)
            return NULL;
        e->params_ = np;
        e->cap_params_ = cap;
    }
    dlh_params *p = group ? dlh_params_new(e->cfg, group, label, reserved)
                          : dlh_params_empty(e->cfg, label);
    if (p)
        e->params_[e->n_params_++] = p;
    else
        dlh_error_set("out of memory");
    return p;
}

/* The group (or list, when list is set) under key of p, or NULL when absent;
   another kind of setting is an error. */
static int exp_member(dlh_params *p, config_setting_t *parent, const char *key,
                      int list, int required, config_setting_t **out)
{
    *out = NULL;
    if (!dlh_param_has(p, key)) {
        if (required)
            return dlh_exp_error_at(p, NULL, "%s: missing required %s '%s'",
                                dlh_params_label(p), list ? "list" : "group", key);
        return 0;
    }
    config_setting_t *s = config_setting_get_member(parent, key);
    if (!s || (list ? !config_setting_is_list(s) : !config_setting_is_group(s)))
        return dlh_exp_error_at(p, key, "%s: '%s' must be a %s", dlh_params_label(p), key,
                            list ? "list of groups: ( { type = \"...\"; ... }, ... )"
                                 : "group: { type = \"...\"; ... }");
    *out = s;
    return 0;
}

/* The component `type` of kind, or DLH_ECONFIG located at the type key:
   always, since the registry's message names no place, though the name it
   quotes may look like one ("unknown layer 'x:3:'"). */
static int exp_find(dlh_params *p, dlh_kind kind, const char *type,
                    const dlh_component **out)
{
    *out = dlh_registry_find(kind, type);
    if (!*out) {
        exp_prefix_where(p, "type");
        return DLH_ECONFIG;
    }
    return 0;
}

static int exp_open_data(dlh_experiment *e, config_setting_t *group, const char *label,
                         dlh_exp_data *d, dlh_params **params)
{
    static const char *const reserved[] = { "type", NULL };
    dlh_params *p = *params = d->params_ = dlh_exp_params(e, group, label, reserved);
    if (!p)
        return DLH_ENOMEM;
    const char *type;
    const dlh_component *c;
    int rc;
    if ((rc = dlh_param_string(p, "type", NULL, &type)) ||
        (rc = exp_find(p, DLH_KIND_DATASET, type, &c)))
        return rc;
    d->type = type;
    d->ops = c->ops;
    dlh_params_set_doc(p, c->params, c->n_params);
    rc = d->ops->open(dlh_host_table(), p, &d->state);
    if (rc) {
        /* The reader's own messages name its data file and line; the rest
           (no such file) gets the experiment's location. */
        return dlh_exp_locate_label(p, NULL, rc);
    }
    if ((rc = dlh_params_check_unused(p)))
        return rc;
    memset(&d->info, 0, sizeof d->info);
    d->info.struct_size = sizeof d->info;
    if ((rc = d->ops->info(d->state, &d->info)))
        return dlh_exp_locate(p, NULL, rc);
    int bad = d->info.n_samples < 1 || d->info.sample.ndim < 1 ||
              d->info.sample.ndim > DLH_MAX_DIMS;
    for (int i = 0; !bad && i < d->info.sample.ndim; i++)
        bad = d->info.sample.dim[i] < 1;
    if (!bad && d->info.label_kind == DLH_LABEL_DENSE) {
        bad = d->info.label.ndim < 1 || d->info.label.ndim > DLH_MAX_DIMS;
        for (int i = 0; !bad && i < d->info.label.ndim; i++)
            bad = d->info.label.dim[i] < 1;
    }
    if (bad || (d->info.label_kind == DLH_LABEL_CLASS && d->info.n_classes < 1)) {
        dlh_error_set("%s: dataset '%s' describes itself badly (%lld samples, "
                      "%d-d samples, label kind %d)", label, type,
                      (long long)d->info.n_samples, d->info.sample.ndim,
                      d->info.label_kind);
        return dlh_exp_locate(p, NULL, DLH_EPLUGIN);
    }
    int train = strcmp(label, "data.train") == 0;
    int64_t per_class = train ? e->samples_per_class : 0;
    if (e->n_keep_classes > 0 || per_class > 0) {
        void *view;
        const int64_t *keep = e->keep_classes;
        int n_keep = e->n_keep_classes;
        int64_t *all = NULL;
        if (n_keep == 0) {
            /* samples_per_class alone: every class, in its own order. */
            if (d->info.label_kind == DLH_LABEL_CLASS && d->info.n_classes <= INT_MAX) {
                if (!(all = malloc((size_t)d->info.n_classes * sizeof *all))) {
                    dlh_error_set("out of memory");
                    return DLH_ENOMEM;
                }
                for (int64_t k = 0; k < d->info.n_classes; k++)
                    all[k] = k;
                n_keep = (int)d->info.n_classes;
            }
            keep = all;
        }
        rc = dlh_subset_open(d->ops, d->state, &d->info, keep, n_keep, per_class, label,
                             train, &view, &d->info);
        free(all);
        if (rc)
            return dlh_exp_locate(e->data_params_, e->n_keep_classes > 0 ? "classes"
                                                   : "samples_per_class", rc);
        d->ops = &dlh_subset_ops;
        d->state = view;
    }
    return 0;
}

static const char *exp_label_kind(int kind)
{
    return kind == DLH_LABEL_CLASS ? "class" : kind == DLH_LABEL_DENSE ? "dense" : "none";
}

/* A second dataset (test, validation) must describe the same samples and
   labels as data.train. */
static int exp_same_data(dlh_experiment *e, const char *label, const dlh_exp_data *other)
{
    const dlh_dataset_info *a = &e->train.info, *b = &other->info;
    dlh_params *tp = other->params_;
    char sa[96], sb[96];
    if (!exp_shape_equal(&a->sample, &b->sample)) {
        dlh_shape_format(&a->sample, sa, sizeof sa);
        dlh_shape_format(&b->sample, sb, sizeof sb);
        dlh_error_set("%s: sample shape %s differs from data.train's %s", label, sb, sa);
        return dlh_exp_locate(tp, NULL, DLH_ESHAPE);
    }
    if (a->label_kind != b->label_kind &&
        !(b->label_kind == DLH_LABEL_NONE && other == &e->test &&
          (e->flags_ & DLH_EXP_UNLABELLED_TEST)))
        return dlh_exp_error_at(tp, NULL, "%s: %s labels, but data.train has %s labels", label,
                            exp_label_kind(b->label_kind), exp_label_kind(a->label_kind));
    if (b->label_kind == DLH_LABEL_DENSE && !exp_shape_equal(&a->label, &b->label)) {
        dlh_shape_format(&a->label, sa, sizeof sa);
        dlh_shape_format(&b->label, sb, sizeof sb);
        dlh_error_set("%s: label shape %s differs from data.train's %s", label, sb, sa);
        return dlh_exp_locate(tp, NULL, DLH_ESHAPE);
    }
    return 0;
}

/* data.augment: augmenters over data.train's samples, in order. */
static int exp_augment(dlh_experiment *e, dlh_params *data, config_setting_t *list)
{
    static const char *const reserved[] = { "type", NULL };
    int n = config_setting_length(list);
    if (n > DLH_AUGMENT_MAX)
        return dlh_exp_error_at(data, "augment", "data: 'augment' lists %d augmenters; at "
                            "most %d are allowed", n, DLH_AUGMENT_MAX);
    if (n == 0)
        return 0;
    if (!(e->augment = calloc((size_t)n, sizeof *e->augment))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        if (!config_setting_is_group(g)) {
            const char *file = config_setting_source_file(g);
            dlh_error_set("%s:%d: data.augment: element %d must be a group: "
                          "{ type = \"...\"; }", file ? file : dlh_config_path(e->cfg),
                          config_setting_source_line(g), i + 1);
            return DLH_ECONFIG;
        }
        const char *ctype = NULL;
        char label[160];
        if (config_setting_lookup_string(g, "type", &ctype))
            snprintf(label, sizeof label, "augmenter '%s'", ctype);
        else
            snprintf(label, sizeof label, "data.augment element %d", i + 1);
        dlh_params *p = dlh_exp_params(e, g, label, reserved);
        if (!p)
            return DLH_ENOMEM;
        const char *type;
        const dlh_component *c;
        int rc;
        if ((rc = dlh_param_string(p, "type", NULL, &type)) ||
            (rc = exp_find(p, DLH_KIND_AUGMENTER, type, &c)))
            return rc;
        const dlh_dataset_info *tr = &e->train.info;
        dlh_augment_info info;
        memset(&info, 0, sizeof info);
        info.sample = tr->sample;
        info.label_kind = tr->label_kind;
        info.n_classes = tr->label_kind == DLH_LABEL_CLASS ? tr->n_classes : 0;
        info.label = tr->label;
        dlh_augment_info_set_norm(&info, e->normalize);
        if ((rc = dlh_augmenter_new(c, p, &info, &e->augment[i])))
            return dlh_exp_locate(p, NULL, rc);
        e->n_augment = i + 1;
        e->soft_labels |= info.wants_probabilities != 0;
    }
    return 0;
}

/* data.classes: the classes kept, renumbered in list order (subset.h). */
static int exp_classes(dlh_experiment *e, dlh_params *p, config_setting_t *group)
{
    e->data_params_ = p;
    if (!dlh_param_has(p, "classes"))
        return 0;
    config_setting_t *c = config_setting_get_member(group, "classes");
    int n = c && (config_setting_is_array(c) || config_setting_is_list(c))
                ? config_setting_length(c) : 0;
    for (int i = 0; i < n; i++) {
        int t = config_setting_type(config_setting_get_elem(c, (unsigned)i));
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
            n = 0;
    }
    if (n < 1)
        return dlh_exp_error_at(p, "classes", "data: 'classes': expected a list of class "
                            "numbers, [3, 5, 7]");
    if (!(e->keep_classes = calloc((size_t)n, sizeof *e->keep_classes))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    for (int i = 0; i < n; i++)
        e->keep_classes[i] = config_setting_get_int64_elem(c, (unsigned)i);
    e->n_keep_classes = n;
    return 0;
}

/* The names of data.train's classes, when its reader knows them (the
   dataset ABI 1.4 class_name slot): all of them or none. */
static int exp_class_names(dlh_experiment *e)
{
    const dlh_exp_data *d = &e->train;
    if (d->info.label_kind != DLH_LABEL_CLASS || !d->ops->class_name ||
        d->info.n_classes < 1)
        return 0;
    if (!(e->class_names = calloc((size_t)d->info.n_classes, sizeof *e->class_names))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    for (int64_t k = 0; k < d->info.n_classes; k++) {
        if (!(e->class_names[k] = d->ops->class_name(d->state, k))) {
            free(e->class_names);
            e->class_names = NULL;
            return 0;
        }
    }
    e->n_class_names = d->info.n_classes;
    return 0;
}

/* pca/zca: the backend tensors that carry mean and W in checkpoints. */
static int exp_whiten(dlh_experiment *e, dlh_params *p)
{
    int64_t dim = dlh_shape_numel(&e->train.info.sample);
    if (dim > DLH_WHITEN_MAX_FEATURES)
        return dlh_exp_error_at(p, "normalize", "data: normalize = \"%s\" needs a %lld x %lld "
                            "matrix; samples of data.train have %lld features, whitening "
                            "takes at most %d", e->normalize == DLH_NORM_PCA ? "pca" : "zca",
                            (long long)dim, (long long)dim, (long long)dim,
                            DLH_WHITEN_MAX_FEATURES);
    const int64_t shape[2] = { dim, dim };
    int rc;
    if ((rc = dlh_tensor_alloc(e->backend, 1, shape, &e->whiten_t[0])) ||
        (rc = dlh_tensor_alloc(e->backend, 2, shape, &e->whiten_t[1])))
        return rc;
    return 0;
}

static int exp_data(dlh_experiment *e, config_setting_t *group)
{
    static const char *const keys[] = { "train", "test", "validation", "augment", "classes",
                                        "samples_per_class", NULL };
    static const char *const norms[] = { "none", "zscore", "minmax", "pca", "zca", NULL };
    dlh_params *p = dlh_exp_params(e, group, "data", keys);
    if (!p)
        return DLH_ENOMEM;
    config_setting_t *train, *test, *val, *augment;
    const double def_split = 0.0, def_eps = 1e-6;
    const int64_t def_workers = 0, all_samples = 0;
    int rc;
    /* Unknown keys first: 'tarin' explains a missing 'train'. */
    if ((rc = dlh_param_float(p, "validation_split", &def_split, 0.0, 1.0,
                              &e->validation_split)) ||
        (rc = dlh_param_choice(p, "normalize", norms, 0, &e->normalize)) ||
        (rc = dlh_param_float(p, "whiten_epsilon", &def_eps, 0.0, HUGE_VAL,
                              &e->whiten_epsilon)) ||
        (rc = dlh_param_int(p, "workers", &def_workers, 0, DLH_AUGMENT_WORKERS_MAX,
                            &e->workers)) ||
        (rc = dlh_param_int(p, "samples_per_class", &all_samples, 1, INT64_MAX,
                            &e->samples_per_class)) ||
        (rc = dlh_params_check_unused(p)) ||
        (rc = exp_member(p, group, "augment", 1, 0, &augment)) ||
        (rc = exp_classes(e, p, group)) ||
        (rc = exp_member(p, group, "train", 0, 1, &train)) ||
        (rc = exp_member(p, group, "validation", 0, 0, &val)) ||
        (rc = exp_member(p, group, "test", 0, 0, &test)))
        return rc;
    if (dlh_param_has(p, "whiten_epsilon") && !DLH_NORM_WHITENS(e->normalize))
        return dlh_exp_error_at(p, "whiten_epsilon", "data: 'whiten_epsilon' applies to "
                            "normalize = \"pca\" or \"zca\" only");
    if (!(e->validation_split < 1.0))
        return dlh_exp_error_at(p, "validation_split", "data: parameter 'validation_split': "
                            "expected a fraction in [0, 1), got %g", e->validation_split);
    if (val && e->validation_split > 0.0)
        return dlh_exp_error_at(p, "validation_split", "data: 'validation_split' and "
                            "'validation' both give validation data; keep one");
    dlh_params *tp;
    if ((rc = exp_open_data(e, train, "data.train", &e->train, &tp)))
        return rc;
    if (DLH_NORM_WHITENS(e->normalize) && (rc = exp_whiten(e, p)))
        return rc;
    if (e->validation_split > 0.0) {
        double nv = floor(e->validation_split * (double)e->train.info.n_samples);
        if (nv < 1.0 || nv >= (double)e->train.info.n_samples)
            return dlh_exp_error_at(p, "validation_split", "data: 'validation_split' %g of "
                                "%lld samples leaves %s", e->validation_split,
                                (long long)e->train.info.n_samples,
                                nv < 1.0 ? "no validation sample"
                                         : "no training sample");
    }
    if (val && ((rc = exp_open_data(e, val, "data.validation", &e->validation, &tp)) ||
                (rc = exp_same_data(e, "data.validation", &e->validation))))
        return rc;
    if (test && ((rc = exp_open_data(e, test, "data.test", &e->test, &tp)) ||
                 (rc = exp_same_data(e, "data.test", &e->test))))
        return rc;
    if (augment && (rc = exp_augment(e, p, augment)))
        return rc;
    if ((rc = exp_class_names(e)))
        return rc;
    if (e->workers == 0) {
        /* What keeps the step fed: a thread per core, up to 4, when there
           is augmenting to share. */
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        e->workers = e->n_augment == 0 || cores < 1 ? 1 : cores > 4 ? 4 : cores;
    }
    return 0;
}

static int exp_backend(dlh_experiment *e, config_setting_t *group, const char *override)
{
    static const char *const reserved[] = { "type", NULL };
    dlh_params *p = dlh_exp_params(e, group, "backend", reserved);
    if (!p)
        return DLH_ENOMEM;
    const char *type;
    int rc = dlh_param_string(p, "type", "cpu", &type);
    if (rc)
        return rc;
    /* auto (issue 15): cuda, an OpenCL GPU or cpu; the run line says why
       the ones before the pick were passed over. */
    char passed[640] = "";
    int is_auto = strcmp(override ? override : type, "auto") == 0;
    /* The file's backend keys belong to the backend it named; those --set
       wrote belong to --backend's, named on the same command line. */
    int other = override && strcmp(override, type) != 0;
    if (other) {
        type = override;
        char label[160];
        snprintf(label, sizeof label, is_auto ? "backend" : "backend '%s'", type);
        if (!(p = dlh_exp_params(e, group, label, reserved)))
            return DLH_ENOMEM;
        dlh_params_sets_only(p);
    }
    if (is_auto) {
        if ((rc = dlh_backend_auto(&e->backend, passed, sizeof passed)))
            return dlh_exp_locate(p, NULL, rc);
    } else if (other) {
        if (!dlh_registry_find(DLH_KIND_BACKEND, type)) {
            dlh_error_prefix("--backend: ");
            return DLH_ECONFIG;
        }
    } else {
        const dlh_component *c;
        if ((rc = exp_find(p, DLH_KIND_BACKEND, type, &c)))
            return rc;
        /* The backend reads its keys as "backend 'cpu'", so that its
           messages read "file:line: backend 'cpu': ..." and
           dlh_backend_open puts no second name in front of them. */
        char label[160];
        snprintf(label, sizeof label, "backend '%s'", type);
        if (!(p = dlh_exp_params(e, group, label, reserved)))
            return DLH_ENOMEM;
    }
    if (!is_auto && (rc = dlh_backend_open(type, p, &e->backend)))
        return dlh_exp_locate(p, NULL, rc);
    if ((rc = dlh_params_check_unused(p)))
        return rc;
    e->backend_line[0] = '\0';
    if (e->backend->ops->describe &&
        (rc = e->backend->ops->describe(e->backend->ctx, e->backend_line,
                                        sizeof e->backend_line)))
        return dlh_exp_locate(p, NULL, rc);
    e->backend_line[sizeof e->backend_line - 1] = '\0';
    if (is_auto) {
        size_t n = strlen(e->backend_line);
        snprintf(e->backend_line + n, sizeof e->backend_line - n, "; picked by auto%s%s%s",
                 *passed ? " (passed over " : "", passed, *passed ? ")" : "");
    }
    return 0;
}

/* The name layer j of the model list has (explicit, or the default
   "<type><count>"), into buf; "" when it has no type to count by. */
static void exp_layer_name(config_setting_t *list, int j, char *buf, size_t size)
{
    config_setting_t *g = config_setting_get_elem(list, (unsigned)j);
    const char *name = NULL, *type = NULL;
    buf[0] = '\0';
    if (!g || !config_setting_is_group(g))
        return;
    if (config_setting_lookup_string(g, "name", &name)) {
        snprintf(buf, size, "%s", name);
        return;
    }
    if (!config_setting_lookup_string(g, "type", &type))
        return;
    int count = 1;
    for (int i = 0; i < j; i++) {
        config_setting_t *h = config_setting_get_elem(list, (unsigned)i);
        const char *t;
        if (h && config_setting_is_group(h) && config_setting_lookup_string(h, "type", &t))
            count += strcmp(t, type) == 0;
    }
    snprintf(buf, size, "%s%d", type, count);
}

/* Resolves `inputs` of layer `index` (named `name`) into node indices
   (in[0..*n)); without the key, the previous layer (or the data).  The name
   "data" stands for the model input. */
static int exp_inputs(dlh_experiment *e, dlh_params *p, config_setting_t *list,
                      config_setting_t *g, int index, const char *label,
                      const char *name, int **in, int *n)
{
    *n = 0;
    if (!dlh_param_has(p, "inputs")) {
        if (!(*in = malloc(sizeof **in))) {
            dlh_error_set("out of memory");
            return DLH_ENOMEM;
        }
        (*in)[0] = index - 1;
        *n = 1;
        return 0;
    }
    config_setting_t *s = config_setting_get_member(g, "inputs");
    int len = s && (config_setting_is_array(s) || config_setting_is_list(s))
                  ? config_setting_length(s) : 0;
    for (int k = 0; k < len; k++)
        if (config_setting_type(config_setting_get_elem(s, (unsigned)k)) !=
            CONFIG_TYPE_STRING)
            len = 0;
    if (len < 1)
        return dlh_exp_error_at(p, "inputs", "%s: 'inputs' must be a non-empty list of layer "
                            "names: [\"a\", \"b\"]", label);
    if (!(*in = malloc((size_t)len * sizeof **in))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    for (int k = 0; k < len; k++) {
        const char *want = config_setting_get_string_elem(s, (unsigned)k);
        int node = dlh_graph_find(e->graph, want);
        /* "data" is the model input unless a layer took the name. */
        if (node < 0 && strcmp(want, "data") == 0) {
            (*in)[(*n)++] = -1;
            continue;
        }
        if (node >= 0) {
            (*in)[(*n)++] = node;
            continue;
        }
        if (strcmp(want, name) == 0)
            return dlh_exp_error_at(p, "inputs", "%s: input '%s' is the layer itself (a model "
                                "has no cycles)", label, want);
        int total = config_setting_length(list);
        char other[160];
        for (int j = index + 1; j < total; j++) {
            exp_layer_name(list, j, other, sizeof other);
            if (strcmp(other, want) == 0)
                return dlh_exp_error_at(p, "inputs", "%s: input '%s' is a later layer (layer "
                                    "%d); inputs must name earlier layers, so the model "
                                    "has no cycles", label, want, j + 1);
        }
        const char **known = malloc((size_t)(index + 1) * sizeof *known);
        if (!known) {
            dlh_error_set("out of memory");
            return DLH_ENOMEM;
        }
        for (int j = 0; j < index; j++)
            known[j] = e->layers[j]->name;
        const char *near = dlh_closest(want, known, (size_t)index);
        char hint[200] = "";
        if (near)
            snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
        int rc = dlh_exp_error_at(p, "inputs", "%s: unknown input '%s'%s", label, want, hint);
        free(known);
        return rc;
    }
    return 0;
}

static int exp_layer(dlh_experiment *e, config_setting_t *list, int index)
{
    static const char *const reserved[] = { "name", "type", "init", "bias_init", "inputs",
                                            NULL };
    config_setting_t *g = config_setting_get_elem(list, (unsigned)index);
    /* The label needs the name before the accessors can read it (they
       check the same keys again below, with located messages). */
    const char *cname = NULL, *ctype = NULL;
    char label[160], def_name[96];
    if (!config_setting_lookup_string(g, "type", &ctype))
        ctype = NULL;
    if (!config_setting_lookup_string(g, "name", &cname))
        cname = NULL;
    /* Default names count per type, from 1: dense1, relu1, dense2. */
    int count = 1;
    for (int i = 0; ctype && i < index; i++)
        count += strcmp(e->layer_types[i], ctype) == 0;
    snprintf(def_name, sizeof def_name, "%s%d", ctype ? ctype : "layer", count);
    if (cname || ctype)
        snprintf(label, sizeof label, "layer '%s'", cname ? cname : def_name);
    else
        snprintf(label, sizeof label, "layer %d", index + 1);
    dlh_params *p = dlh_exp_params(e, g, label, reserved);
    if (!p)
        return DLH_ENOMEM;

    const char *type, *name;
    int rc;
    if ((rc = dlh_param_string(p, "type", NULL, &type)))
        return rc;
    if ((rc = dlh_param_string(p, "name", def_name, &name)))
        return rc;
    if (!*name)
        return dlh_exp_error_at(p, "name", "%s: parameter 'name': expected a non-empty name",
                            label);
    for (int i = 0; i < index; i++)
        if (strcmp(e->layers[i]->name, name) == 0)
            return dlh_exp_error_at(p, cname ? "name" : NULL, "%s: layer name '%s' is already "
                                "used by layer %d; names must be unique", label, name, i + 1);
    dlh_init_override *inits = NULL;
    int n_inits = 0;
    if ((rc = dlh_init_overrides_read(e->cfg, g, label, &inits, &n_inits)))
        return rc;
    const dlh_component *c;
    int *in = NULL, n_in = 0;
    dlh_shape *shapes = NULL;
    if ((rc = exp_find(p, DLH_KIND_LAYER, type, &c)))
        goto done;
    e->layer_types[index] = type;
    if ((rc = exp_inputs(e, p, list, g, index, label, name, &in, &n_in)))
        goto done;
    if (!(shapes = malloc((size_t)n_in * sizeof *shapes))) {
        dlh_error_set("out of memory");
        rc = DLH_ENOMEM;
        goto done;
    }
    for (int k = 0; k < n_in; k++)
        shapes[k] = *dlh_graph_shape(e->graph, in[k]);
    rc = dlh_layer_new_ex(e->backend, type, name, p, n_in, shapes, e->max_batch, inits,
                          n_inits, e->seed, &e->layers[index]);
    if (rc) {
        rc = dlh_exp_locate(p, NULL, rc);
        goto done;
    }
    e->n_layers = index + 1;
    rc = dlh_graph_add(e->graph, e->layers[index], n_in, in);
    rc = rc < 0 ? rc : 0;
done:
    free(inits);
    free(in);
    free(shapes);
    return rc;
}

static int exp_model(dlh_experiment *e, dlh_params *root, config_setting_t *list)
{
    int n = config_setting_length(list);
    if (n < 1)
        return dlh_exp_error_at(root, "model", "model: the list has no layers");
    e->layers = calloc((size_t)n, sizeof *e->layers);
    e->layer_types = calloc((size_t)n, sizeof *e->layer_types);
    if (!e->layers || !e->layer_types) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    int rc = dlh_graph_new(e->backend, &e->train.info.sample, e->max_batch, &e->graph);
    if (rc)
        return rc;
    for (int i = 0; i < n; i++) {
        config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        if (!config_setting_is_group(g)) {
            const char *file = config_setting_source_file(g);
            dlh_error_set("%s:%d: model: element %d must be a group: { type = \"...\"; }",
                          file ? file : dlh_config_path(e->cfg),
                          config_setting_source_line(g), i + 1);
            return DLH_ECONFIG;
        }
        if ((rc = exp_layer(e, list, i)))
            return rc;
    }
    /* A loss list names its heads: exp_heads checks every unread layer. */
    int dangling = e->loss_list ? -1 : dlh_graph_dangling(e->graph);
    if (dangling >= 0) {
        config_setting_t *g = config_setting_get_elem(list, (unsigned)dangling);
        const char *file = config_setting_source_file(g);
        dlh_error_set("%s:%d: layer '%s': no layer reads its output (the model's output "
                      "is the last layer, '%s'; name it in a later layer's 'inputs')",
                      file ? file : dlh_config_path(e->cfg), config_setting_source_line(g),
                      e->layers[dangling]->name, e->layers[n - 1]->name);
        return DLH_ECONFIG;
    }
    e->n_outputs = dlh_shape_numel(&e->layers[n - 1]->output);
    return 0;       /* planned by exp_optimizer, which knows the frozen tensors */
}

static int exp_heads(dlh_experiment *e, config_setting_t *list);

/* The class labels of every data set against the n_classes of `layer`'s
   output. */
static int exp_class_range(dlh_experiment *e, int64_t n_classes, const dlh_layer_inst *layer)
{
    const dlh_exp_data *sets[3] = { &e->train, &e->validation, &e->test };
    const char *names[3] = { "data.train", "data.validation", "data.test" };
    for (int i = 0; i < 3; i++) {
        if (!sets[i]->ops || sets[i]->info.n_classes <= n_classes)
            continue;
        char so[96];
        dlh_shape_format(&layer->output, so, sizeof so);
        return dlh_exp_error_at(sets[i]->params_, NULL, "%s: label %lld is out of range "
                            "for the model's %lld classes (layer '%s' outputs %s)",
                            names[i], (long long)(sets[i]->info.n_classes - 1),
                            (long long)n_classes, layer->name, so);
    }
    return 0;
}

static int exp_loss(dlh_experiment *e, config_setting_t *group)
{
    if (e->loss_list)
        return exp_heads(e, group);
    static const char *const reserved[] = { "type", NULL };
    dlh_params *p = dlh_exp_params(e, group, "loss", reserved);
    if (!p)
        return DLH_ENOMEM;
    if (!(e->heads = calloc(1, sizeof *e->heads))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    e->n_heads = 1;
    const char *type;
    const dlh_component *c;
    int rc;
    if ((rc = dlh_param_string(p, "type", NULL, &type)) ||
        (rc = exp_find(p, DLH_KIND_LOSS, type, &c)))
        return rc;
    e->loss_type = type;
    const dlh_layer_inst *last = e->layers[e->n_layers - 1];
    const dlh_dataset_info *tr = &e->train.info;
    memset(&e->target, 0, sizeof e->target);
    if (tr->label_kind == DLH_LABEL_CLASS) {
        e->target_kind = DLH_TARGET_CLASS;
        /* A single output is one logit of a binary model: labels 0 and 1. */
        e->n_classes = e->n_outputs >= 2 ? e->n_outputs : 2;
        if ((rc = exp_class_range(e, e->n_classes, last)))
            return rc;
    } else if (tr->label_kind == DLH_LABEL_DENSE) {
        e->target_kind = DLH_TARGET_DENSE;
        e->target = tr->label;
        /* A loss with DLH_LOSS_TARGET_SHAPE checks the shape itself. */
        if (!(((const dlh_loss_ops *)c->ops)->flags & DLH_LOSS_TARGET_SHAPE) &&
            !exp_shape_equal(&tr->label, &last->output)) {
            char so[96], sl[96];
            dlh_shape_format(&last->output, so, sizeof so);
            dlh_shape_format(&tr->label, sl, sizeof sl);
            dlh_error_set("loss: the model's output shape %s (layer '%s') differs from "
                          "the dense label shape %s of data.train", so, last->name, sl);
            return dlh_exp_locate(p, NULL, DLH_ESHAPE);
        }
    } else {
        return dlh_exp_error_at(p, NULL, "loss: data.train has no labels (label kind none); "
                            "training needs targets");
    }
    rc = dlh_loss_new_target(e->backend, type, p, &last->output, e->target_kind,
                             e->target_kind == DLH_TARGET_DENSE ? &e->target : NULL,
                             e->n_classes, e->max_batch, &e->heads[0].loss);
    if (rc)
        return dlh_exp_locate(p, NULL, rc);
    e->loss = e->heads[0].loss;
    e->heads[0] = (dlh_exp_head){ last->name, e->n_layers - 1, type, e->loss, 1.0,
                                  e->target_kind, e->n_classes, e->n_outputs, e->target,
                                  0, 0, p };
    if ((rc = dlh_params_check_unused(p)))
        return rc;
    /* Per-sample weights from the data go to a loss that takes them. */
    const dlh_exp_data *sets[3] = { &e->train, &e->validation, &e->test };
    for (int i = 0; i < 3; i++)
        e->sample_weights |= sets[i]->ops && sets[i]->info.sample_weights &&
                             sets[i]->ops->read_weights;
    if (e->sample_weights && !(e->loss->ops->flags & DLH_LOSS_SAMPLE_WEIGHTS))
        return dlh_exp_error_at(p, "type", "loss: '%s' does not take per-sample weights, and "
                            "the data gives them (weight_column, weights)", type);
    if (!e->soft_labels)
        return 0;
    /* Label-mixing augmenters train on probability rows: a second instance
       of the loss takes them (as timm trains with soft targets and
       validates with class indices); validation and test keep e->loss. */
    if (e->n_outputs != e->n_classes) {
        char so[96];
        dlh_shape_format(&last->output, so, sizeof so);
        return dlh_exp_error_at(p, NULL, "loss: data.augment mixes labels into probabilities, "
                            "which needs one output per class; layer '%s' outputs %s",
                            last->name, so);
    }
    dlh_params *p2 = dlh_exp_params(e, group, "loss", reserved);
    if (!p2)
        return DLH_ENOMEM;
    if ((rc = dlh_loss_new(e->backend, type, p2, &last->output, DLH_TARGET_DENSE, 0,
                           e->max_batch, &e->train_loss))) {
        dlh_error_prefix("with the probability targets of data.augment: ");
        return dlh_exp_locate(p2, NULL, rc);
    }
    return dlh_params_check_unused(p2);
}

/* `loss`: one group, or a list of groups (heads, exp_heads). */
static int exp_loss_member(dlh_experiment *e, dlh_params *p, config_setting_t *root,
                           config_setting_t **out)
{
    config_setting_t *s = config_setting_get_member(root, "loss");
    e->loss_list = s && config_setting_is_list(s);
    return exp_member(p, root, "loss", e->loss_list, 1, out);
}

/* The name of a layer that reads node `of`, or NULL. */
static const char *exp_reader_of(const dlh_experiment *e, int of)
{
    for (int i = of + 1; i < e->n_layers; i++)
        for (int k = 0; k < dlh_graph_n_inputs(e->graph, i); k++)
            if (dlh_graph_input_of(e->graph, i, k) == of)
                return e->layers[i]->name;
    return NULL;
}

/* loss[i].output: the head's node, a layer no other layer reads, named by
   no earlier entry and usable as a metrics.csv column name. */
static int exp_head_output(dlh_experiment *e, dlh_params *p, const char *label, int index,
                           dlh_exp_head *h)
{
    const char *out;
    int rc = dlh_param_string(p, "output", e->layers[e->n_layers - 1]->name, &out);
    if (rc)
        return rc;
    int node = dlh_graph_find(e->graph, out);
    if (node < 0) {
        const char **names = malloc((size_t)e->n_layers * sizeof *names);
        if (!names) {
            dlh_error_set("out of memory");
            return DLH_ENOMEM;
        }
        for (int i = 0; i < e->n_layers; i++)
            names[i] = e->layers[i]->name;
        const char *near = dlh_closest(out, names, (size_t)e->n_layers);
        char hint[200] = "";
        if (near)
            snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
        rc = dlh_exp_error_at(p, "output", "%s: output '%s' is not a layer of the model%s",
                              label, out, hint);
        free(names);
        return rc;
    }
    const char *reader = exp_reader_of(e, node);
    if (reader)
        return dlh_exp_error_at(p, "output", "%s: layer '%s' is read by layer '%s'; a loss's "
                                "output must be a layer that no other layer reads (a head)",
                                label, out, reader);
    for (int j = 0; j < index; j++)
        if (e->heads[j].node == node)
            return dlh_exp_error_at(p, "output", "%s: layer '%s' is already the output of "
                                    "loss[%d]; a head takes one loss", label, out, j);
    for (const char *c = out; *c; c++)
        if (*c == ',' || *c == '"' || (unsigned char)*c < 0x20)
            return dlh_exp_error_at(p, "output", "%s: layer name '%s' cannot head a "
                                    "metrics.csv column (no commas, quotes or control "
                                    "characters)", label, out);
    h->name = e->layers[node]->name;
    h->node = node;
    h->n_outputs = dlh_shape_numel(&e->layers[node]->output);
    return 0;
}

/* loss[i].target = [start, count]: a slice of the data's dense label. */
static int exp_head_slice(dlh_experiment *e, dlh_params *p, const char *label,
                          dlh_exp_head *h)
{
    const dlh_dataset_info *tr = &e->train.info;
    if (!dlh_param_has(p, "target"))
        return 0;
    if (tr->label_kind != DLH_LABEL_DENSE)
        return dlh_exp_error_at(p, "target", "%s: 'target' takes a slice of a dense label "
                                "(csv label = \"dense\"); data.train has %s", label,
                                tr->label_kind == DLH_LABEL_CLASS ? "class labels"
                                                                  : "no labels");
    float v[2];
    size_t n;
    int rc = dlh_param_floats(p, "target", v, 2, &n);
    if (rc)
        return rc;
    int64_t width = dlh_shape_numel(&tr->label);
    if (n != 2 || v[0] != floorf(v[0]) || v[1] != floorf(v[1]))
        return dlh_exp_error_at(p, "target", "%s: parameter 'target': expected [start, count], "
                                "two whole numbers", label);
    if (v[0] < 0.0f || v[1] < 1.0f || (double)v[0] + (double)v[1] > (double)width)
        return dlh_exp_error_at(p, "target", "%s: target = [%g, %g] is not a slice of the "
                                "dense label of data.train, which has %lld values per sample "
                                "(start >= 0, count >= 1, start + count <= %lld)", label,
                                (double)v[0], (double)v[1], (long long)width,
                                (long long)width);
    h->slice_start = (int64_t)v[0];
    h->slice_count = (int64_t)v[1];
    return 0;
}

/* The target kind, shape and class count of head h for loss component c,
   and the check of the data's class labels against its classes. */
static int exp_head_targets(dlh_experiment *e, dlh_params *p, const char *label,
                            const dlh_component *c, dlh_exp_head *h)
{
    const dlh_dataset_info *tr = &e->train.info;
    const dlh_shape *out = &e->layers[h->node]->output;
    int own_shape = (((const dlh_loss_ops *)c->ops)->flags & DLH_LOSS_TARGET_SHAPE) != 0;
    char so[96], sl[96];
    dlh_shape_format(out, so, sizeof so);
    memset(&h->target, 0, sizeof h->target);
    if (tr->label_kind == DLH_LABEL_CLASS) {
        h->target_kind = DLH_TARGET_CLASS;
        h->n_classes = h->n_outputs >= 2 ? h->n_outputs : 2;
        return exp_class_range(e, h->n_classes, e->layers[h->node]);
    }
    if (tr->label_kind != DLH_LABEL_DENSE)
        return dlh_exp_error_at(p, NULL, "%s: data.train has no labels (label kind none); "
                                "training needs targets", label);
    h->target_kind = DLH_TARGET_DENSE;
    if (h->slice_count == 0) {
        h->target = tr->label;
        if (own_shape || exp_shape_equal(&tr->label, out))
            return 0;
        dlh_shape_format(&tr->label, sl, sizeof sl);
        return dlh_exp_error_at(p, NULL, "%s: the output shape %s of layer '%s' differs "
                                "from the dense label shape %s of data.train (take a part "
                                "of the label with target = [start, count])", label, so,
                                h->name, sl);
    }
    if (h->slice_count == h->n_outputs) {
        h->target = *out;
    } else if (own_shape) {
        h->target = (dlh_shape){ 1, { h->slice_count } };
    } else if (h->slice_count == 1) {
        /* One column for a head of several outputs: class indices. */
        h->target_kind = DLH_TARGET_CLASS;
        h->n_classes = h->n_outputs;
    } else {
        return dlh_exp_error_at(p, "target", "%s: target = [%lld, %lld] gives %lld values per "
                                "sample; layer '%s' outputs %s (a dense target needs one "
                                "value per output, class indices one column)", label,
                                (long long)h->slice_start, (long long)h->slice_count,
                                (long long)h->slice_count, h->name, so);
    }
    return 0;
}

/* Entry `index` of the loss list: a loss on a head, with its weight. */
static int exp_head(dlh_experiment *e, config_setting_t *g, int index)
{
    static const char *const reserved[] = { "type", "output", "weight", "target", NULL };
    dlh_exp_head *h = &e->heads[index];
    char label[32];
    snprintf(label, sizeof label, "loss[%d]", index);
    if (!config_setting_is_group(g)) {
        const char *file = config_setting_source_file(g);
        dlh_error_set("%s:%d: loss: element %d must be a group: { type = \"...\"; "
                      "output = \"...\"; }", file ? file : dlh_config_path(e->cfg),
                      config_setting_source_line(g), index + 1);
        return DLH_ECONFIG;
    }
    dlh_params *p = h->params_ = dlh_exp_params(e, g, label, reserved);
    if (!p)
        return DLH_ENOMEM;
    const double one = 1.0;
    const dlh_component *c;
    int rc;
    if ((rc = dlh_param_string(p, "type", NULL, &h->loss_type)) ||
        (rc = exp_find(p, DLH_KIND_LOSS, h->loss_type, &c)) ||
        (rc = exp_head_output(e, p, label, index, h)) ||
        (rc = dlh_param_float(p, "weight", &one, 0.0, DBL_MAX, &h->weight)) ||
        (rc = exp_head_slice(e, p, label, h)) ||
        (rc = exp_head_targets(e, p, label, c, h)))
        return rc;
    /* A loss with a `weight` of its own (bce) would read the head's. */
    for (size_t k = 0; k < c->n_params && dlh_param_has(p, "weight"); k++)
        if (strcmp(c->params[k].key, "weight") == 0)
            return dlh_exp_error_at(p, "weight", "%s: loss '%s' has a parameter 'weight' of "
                                    "its own, which a loss list cannot give it: 'weight' "
                                    "there is the head's weight in the objective", label,
                                    h->loss_type);
    rc = dlh_loss_new_target(e->backend, h->loss_type, p, &e->layers[h->node]->output,
                             h->target_kind,
                             h->target_kind == DLH_TARGET_DENSE ? &h->target : NULL,
                             h->n_classes, e->max_batch, &h->loss);
    if (rc) {
        if (h->slice_count)
            dlh_error_prefix("with target = [%lld, %lld] (%s): ", (long long)h->slice_start,
                             (long long)h->slice_count,
                             h->target_kind == DLH_TARGET_CLASS ? "class indices"
                                                                : "dense values");
        return dlh_exp_locate(p, NULL, rc);
    }
    if ((rc = dlh_params_check_unused(p)))
        return rc;
    if (e->sample_weights && !(h->loss->ops->flags & DLH_LOSS_SAMPLE_WEIGHTS))
        return dlh_exp_error_at(p, "type", "%s: '%s' does not take per-sample weights, and "
                                "the data gives them (weight_column, weights)", label,
                                h->loss_type);
    return 0;
}

/* `loss` as a list: one head per entry.  Every layer that no other layer
   reads must be the output of an entry; heads[0] is the primary head. */
static int exp_heads(dlh_experiment *e, config_setting_t *list)
{
    int n = config_setting_length(list);
    if (n < 1) {
        const char *file = config_setting_source_file(list);
        dlh_error_set("%s:%d: loss: the list has no entries", file ? file : dlh_config_path(
                      e->cfg), config_setting_source_line(list));
        return DLH_ECONFIG;
    }
    if (n > DLH_MAX_HEADS) {
        const char *file = config_setting_source_file(list);
        dlh_error_set("%s:%d: loss: %d entries, at most %d (one per head)",
                      file ? file : dlh_config_path(e->cfg), config_setting_source_line(list),
                      n, DLH_MAX_HEADS);
        return DLH_ECONFIG;
    }
    if (!(e->heads = calloc((size_t)n, sizeof *e->heads))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    const dlh_exp_data *sets[3] = { &e->train, &e->validation, &e->test };
    for (int i = 0; i < 3; i++)
        e->sample_weights |= sets[i]->ops && sets[i]->info.sample_weights &&
                             sets[i]->ops->read_weights;
    int rc;
    for (int i = 0; i < n; i++) {
        e->heads[i].node = -1;
        e->n_heads = i + 1;
        if ((rc = exp_head(e, config_setting_get_elem(list, (unsigned)i), i)))
            return rc;
    }
    config_setting_t *model = config_setting_get_member(dlh_config_root(e->cfg), "model");
    for (int i = 0; i < e->n_layers; i++) {
        int head = 0;
        for (int h = 0; h < n; h++)
            head |= e->heads[h].node == i;
        if (head || dlh_graph_consumers(e->graph, i) > 0)
            continue;
        config_setting_t *g = config_setting_get_elem(model, (unsigned)i);
        const char *file = config_setting_source_file(g);
        dlh_error_set("%s:%d: layer '%s': no layer reads its output and no loss names it "
                      "(name it in a later layer's 'inputs' or as a loss's 'output')",
                      file ? file : dlh_config_path(e->cfg), config_setting_source_line(g),
                      e->layers[i]->name);
        return DLH_ECONFIG;
    }
    for (int h = 0; h < n; h++)
        if ((rc = dlh_graph_set_head(e->graph, e->heads[h].node)))
            return rc;
    if (e->soft_labels)
        return dlh_exp_error_at(e->heads[0].params_, NULL, "loss: data.augment mixes labels "
                                "into probabilities, which a loss list does not take (give "
                                "one loss group)");
    const dlh_exp_head *h0 = &e->heads[0];
    e->loss_type = h0->loss_type;
    e->loss = h0->loss;
    e->target_kind = h0->target_kind;
    e->n_classes = h0->n_classes;
    /* e->target stays the data's dense label shape: the evaluator's y. */
    memset(&e->target, 0, sizeof e->target);
    if (e->train.info.label_kind == DLH_LABEL_DENSE)
        e->target = e->train.info.label;
    return 0;
}

static int exp_optimizer(dlh_experiment *e, config_setting_t *group)
{
    int rc = dlh_optim_new(e, group);
    /* Diagnostics watch every layer's output, a relu's too; DLHOST_FOLD=0
       runs the model exactly as written, to compare. */
    const char *fold = getenv("DLHOST_FOLD");
    dlh_graph_set_fold(e->graph, !e->diagnostics && !(fold && strcmp(fold, "0") == 0));
    /* Frozen tensors are known now: the graph plans backward around them. */
    return rc ? rc : dlh_graph_plan(e->graph);
}

static int exp_schedule(dlh_experiment *e, config_setting_t *group)
{
    static const char *const reserved[] = { "type", NULL };
    dlh_params *p = dlh_exp_params(e, group, "schedule", reserved);
    if (!p)
        return DLH_ENOMEM;
    const char *type;
    const dlh_component *c;
    int rc;
    if ((rc = dlh_param_string(p, "type", "constant", &type)) ||
        (rc = exp_find(p, DLH_KIND_SCHEDULE, type, &c)))
        return rc;
    e->schedule_type = type;
    e->schedule = c->ops;
    dlh_params_set_doc(p, c->params, c->n_params);
    if ((rc = dlh_optim_schedules(e, e->schedule, p)))
        return dlh_exp_locate(p, NULL, rc);
    return dlh_params_check_unused(p);
}

/* train.sampler, and the weighted sampler's class_weights and num_samples
   (sampler.h); `shuffle = false` is the sequential sampler. */
static int exp_sampler(dlh_experiment *e, dlh_params *p, config_setting_t *group)
{
    const int64_t def_samples = 0;
    int given = dlh_param_has(p, "sampler");
    e->sampler = e->shuffle ? DLH_SAMPLER_RANDOM : DLH_SAMPLER_SEQUENTIAL;
    int rc;
    if (given && (rc = dlh_param_choice(p, "sampler", dlh_sampler_names, 0, &e->sampler)))
        return rc;
    if (given && !e->shuffle && e->sampler != DLH_SAMPLER_SEQUENTIAL)
        return dlh_exp_error_at(p, "sampler", "train: 'shuffle = false' asks for file order, "
                            "sampler '%s' for another; keep one",
                            dlh_sampler_names[e->sampler]);
    int weighted = e->sampler == DLH_SAMPLER_WEIGHTED;
    if (!weighted) {
        for (const char *const *k = (const char *const[]){ "class_weights", "num_samples",
                                                           NULL }; *k; k++)
            if (dlh_param_has(p, *k))
                return dlh_exp_error_at(p, *k, "train: '%s' belongs to sampler 'weighted'; "
                                    "this run's sampler is '%s'", *k,
                                    dlh_sampler_names[e->sampler]);
        return 0;
    }
    if ((rc = dlh_param_int(p, "num_samples", &def_samples, 1, (int64_t)1 << 40,
                            &e->sampler_samples)))
        return rc;
    config_setting_t *cw = group ? config_setting_get_member(group, "class_weights") : NULL;
    if (!dlh_param_has(p, "class_weights") ||
        (cw && config_setting_type(cw) == CONFIG_TYPE_STRING)) {
        static const char *const balanced[] = { "balanced", NULL };
        int one;
        return dlh_param_choice(p, "class_weights", balanced, 0, &one);
    }
    int n = cw ? config_setting_length(cw) : 0;
    if (n < 1)
        return dlh_exp_error_at(p, "class_weights", "train: 'class_weights': expected "
                            "\"balanced\" or a list of one weight per class");
    if (!(e->class_weights = calloc((size_t)n, sizeof *e->class_weights))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    size_t got;
    if ((rc = dlh_param_floats(p, "class_weights", e->class_weights, (size_t)n, &got)))
        return rc;
    e->n_class_weights = (int64_t)got;
    for (size_t i = 0; i < got; i++)
        if (!(e->class_weights[i] >= 0.0f) || !isfinite(e->class_weights[i]))
            return dlh_exp_error_at(p, "class_weights", "train: 'class_weights': weight %zu is "
                                "%g; expected finite weights >= 0", i, e->class_weights[i]);
    return 0;
}

static int exp_train(dlh_experiment *e, config_setting_t *group)
{
    static const char *const reserved[] = { "early_stopping", "checkpoint",
                                            "unfreeze" /* optim.c */, NULL };
    static const char *const modes[] = { "auto", "min", "max", NULL };
    dlh_params *p = dlh_exp_params(e, group, "train", reserved);
    if (!p)
        return DLH_ENOMEM;
    const int64_t def_epochs = 10, def_batch = 32, def_patience = 5, def_every = 1;
    const int def_true = 1, def_false = 0;
    config_setting_t *es, *ck;
    const char *monitor;
    int rc;
    if ((rc = dlh_param_int(p, "epochs", &def_epochs, 1, INT32_MAX, &e->epochs)) ||
        (rc = dlh_param_int(p, "batch_size", &def_batch, 1, (int64_t)1 << 20,
                            &e->batch_size)) ||
        (rc = dlh_param_bool(p, "shuffle", &def_true, &e->shuffle)) ||
        (rc = exp_sampler(e, p, group)) ||
        (rc = dlh_param_string(p, "monitor", "", &monitor)) ||
        (rc = dlh_param_bool(p, "metrics_on_train", &def_false, &e->metrics_on_train)) ||
        (rc = dlh_param_bool(p, "diagnostics", &def_false, &e->diagnostics)) ||
        (rc = dlh_params_check_unused(p)) ||
        (rc = exp_member(p, group, "early_stopping", 0, 0, &es)) ||
        (rc = exp_member(p, group, "checkpoint", 0, 0, &ck)))
        return rc;
    dlh_params *ep = dlh_exp_params(e, es, "train.early_stopping", NULL);
    dlh_params *cp = dlh_exp_params(e, ck, "train.checkpoint", NULL);
    if (!ep || !cp)
        return DLH_ENOMEM;
    e->train_params_ = p;
    e->early_params_ = ep;
    e->early_stopping = es != NULL;
    e->monitor = *monitor ? monitor : NULL;
    e->monitor_mode = 0;
    e->patience = def_patience;
    const char *es_monitor = "";
    if (es && ((rc = dlh_param_string(ep, "monitor", "", &es_monitor)) ||
               (rc = dlh_param_choice(ep, "mode", modes, 0, &e->monitor_mode)) ||
               (rc = dlh_param_int(ep, "patience", &def_patience, 0, INT32_MAX,
                                   &e->patience)) ||
               (rc = dlh_params_check_unused(ep))))
        return rc;
    if (*es_monitor && e->monitor && strcmp(es_monitor, e->monitor) != 0)
        return dlh_exp_error_at(ep, "monitor", "train.early_stopping: monitor '%s', but "
                                "train.monitor is '%s': a run monitors one metric (its best "
                                "checkpoint, early stopping and reduce_on_plateau)",
                                es_monitor, e->monitor);
    if (*es_monitor)
        e->monitor = es_monitor;
    if ((rc = dlh_param_int(cp, "every_epochs", &def_every, 0, INT32_MAX,
                            &e->checkpoint_every)) ||
        (rc = dlh_param_bool(cp, "keep_best", &def_true, &e->keep_best)))
        return rc;
    return dlh_params_check_unused(cp);
}

/* `metrics`: what a run reports besides the loss (metrics.h): one
   instance set for validation and, with train.metrics_on_train, one for the
   training batches. */
static int exp_metrics(dlh_experiment *e, dlh_params *root, config_setting_t *root_set)
{
    e->accuracy = e->target_kind == DLH_TARGET_CLASS;
    if (!dlh_param_has(root, "metrics"))
        return 0;
    config_setting_t *m = config_setting_get_member(root_set, "metrics");
    int n = m && (config_setting_is_array(m) || config_setting_is_list(m))
                ? config_setting_length(m) : -1;
    for (int i = 0; i < n; i++) {
        int t = config_setting_type(config_setting_get_elem(m, (unsigned)i));
        if (t != CONFIG_TYPE_STRING && t != CONFIG_TYPE_GROUP)
            n = -1;
    }
    if (n < 0)
        return dlh_exp_error_at(root, "metrics", "metrics: expected a list of names or "
                                "groups: [\"accuracy\", \"f1\"] or (\"f1\", { type = "
                                "\"fbeta\"; beta = 2.0; })");
    e->metrics_cfg = m;
    if (!(e->metrics_val = calloc(1, sizeof *e->metrics_val)) ||
        (e->metrics_on_train && !(e->metrics_train = calloc(1, sizeof *e->metrics_train)))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    int rc = dlh_metrics_open(e, "val", e->metrics_val);
    if (rc == 0 && e->metrics_train)
        rc = dlh_metrics_open(e, "train", e->metrics_train);
    return rc;
}

/* The run's monitored metric (train.monitor or train.early_stopping.monitor;
   val_loss with validation data, else train_loss) and the direction it
   improves in; an explicit mode must agree with the metric. */
static int exp_monitor(dlh_experiment *e)
{
    int has_val = e->validation.ops || e->validation_split > 0.0;
    int explicit = e->monitor != NULL;
    dlh_params *p = e->early_params_ && dlh_param_has(e->early_params_, "monitor")
                        ? e->early_params_ : e->train_params_;
    if (!explicit)
        e->monitor = has_val ? "val_loss" : "train_loss";
    int goal = 0;
    if (explicit && !has_val && strncmp(e->monitor, "val_", 4) == 0)
        return dlh_exp_error_at(p, "monitor", "%s: monitor '%s' needs validation data "
                                "(data.validation_split or data.validation)",
                                dlh_params_label(p), e->monitor);
    if (!dlh_metrics_goal(e, e->monitor, &goal)) {
        const char **names = calloc((size_t)e->n_cols + DLH_METRICS_N_FIXED, sizeof *names);
        if (!names) {
            dlh_error_set("out of memory");
            return DLH_ENOMEM;
        }
        int k = dlh_metrics_run_columns(e, names);
        const char *near = dlh_closest(e->monitor, names, (size_t)k);
        char list[1024] = "";
        size_t len = 0;
        for (int i = 0; i < k && len < sizeof list; i++)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
                                    names[i]);
        int rc = dlh_exp_error_at(p, "monitor", "%s: monitor '%s' is not a column of this "
                                  "run's metrics.csv%s%s%s; known: %s", dlh_params_label(p),
                                  e->monitor, near ? " (did you mean '" : "", near ? near : "",
                                  near ? "'?)" : "", list);
        free(names);
        return rc;
    }
    if (goal == 0)
        return dlh_exp_error_at(p, "monitor", "%s: monitor '%s' has no direction to improve "
                                "in (its metric declares none)", dlh_params_label(p),
                                e->monitor);
    if (e->monitor_mode != 0 && (e->monitor_mode == 2) != (goal > 0))
        return dlh_exp_error_at(e->early_params_, "mode", "train.early_stopping: mode '%s' "
                                "but '%s' improves %s", e->monitor_mode == 2 ? "max" : "min",
                                e->monitor, goal > 0 ? "upward" : "downward");
    e->monitor_goal = goal;
    return 0;
}

/* Settings that depend on the data: early stopping needs validation data. */
static int exp_cross_check(dlh_experiment *e, config_setting_t *train)
{
    if (e->sampler != DLH_SAMPLER_RANDOM && e->sampler != DLH_SAMPLER_SEQUENTIAL) {
        config_setting_t *s = config_setting_get_member(train, "sampler");
        const char *file = config_setting_source_file(s);
        int line = config_setting_source_line(s);
        file = file ? file : dlh_config_path(e->cfg);
        if (e->target_kind != DLH_TARGET_CLASS ||
            e->train.info.label_kind != DLH_LABEL_CLASS) {
            dlh_error_set("%s:%d: train: sampler '%s' balances classes, which needs class "
                          "labels; data.train has dense labels", file, line,
                          dlh_sampler_names[e->sampler]);
            return DLH_ECONFIG;
        }
        if (e->class_weights && e->n_class_weights != e->n_classes) {
            config_setting_t *cw = config_setting_get_member(train, "class_weights");
            dlh_error_set("%s:%d: train: 'class_weights' has %lld weights; the model has "
                          "%lld classes", file, config_setting_source_line(cw),
                          (long long)e->n_class_weights, (long long)e->n_classes);
            return DLH_ECONFIG;
        }
    }
    if (!e->early_stopping)
        return 0;
    config_setting_t *es = config_setting_get_member(train, "early_stopping");
    const char *file = config_setting_source_file(es);
    file = file ? file : dlh_config_path(e->cfg);
    int line = config_setting_source_line(es);
    if (!e->validation.ops && !(e->validation_split > 0.0)) {
        dlh_error_set("%s:%d: train.early_stopping: needs validation data "
                      "(data.validation_split or data.validation)", file, line);
        return DLH_ECONFIG;
    }
    return 0;
}

/* The file's base name without its extension. */
static int exp_default_name(dlh_experiment *e, const char **out)
{
    const char *path = dlh_config_path(e->cfg);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    e->name_buf_ = strdup(base);
    if (!e->name_buf_) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    char *dot = strrchr(e->name_buf_, '.');
    if (dot && dot != e->name_buf_)
        *dot = '\0';
    *out = e->name_buf_;
    return 0;
}

/* The run name names the folder runs/<name> and goes into every
   checkpoint: checked here, so that `dlhost check` refuses what the first
   checkpoint would fail on. */
static int exp_run_name(dlh_experiment *e, dlh_params *p, const char *def_name)
{
    int rc = dlh_run_name_check(e->name);
    if (rc == 0)
        return 0;
    if (e->name == def_name)
        dlh_error_prefix("the file name gives the run its name unless 'name' is set: ");
    /* Always: the name quoted in the message may look like a place. */
    exp_prefix_where(p, "name");
    return rc;
}

static int exp_build(dlh_experiment *e, const char *backend_override, int64_t max_batch)
{
    /* Reserved so that a misspelt key gets a did-you-mean even when the key
       it meant is absent (all of them are read below). */
    static const char *const keys[] = { "name", "seed", "backend", "data", "model", "loss",
                                        "optimizer", "schedule", "train", "metrics",
                                        "pretrained", NULL };
    config_setting_t *root = dlh_config_root(e->cfg);
    dlh_params *p = dlh_exp_params(e, root, "experiment", keys);
    if (!p)
        return DLH_ENOMEM;
    const char *def_name;
    const int64_t def_seed = 0;
    int64_t seed;
    config_setting_t *backend, *data, *model, *loss, *optimizer, *schedule, *train;
    int rc;
    /* Unknown keys first: 'modle' explains a missing 'model'. */
    if ((rc = exp_default_name(e, &def_name)) ||
        (rc = dlh_param_string(p, "name", def_name, &e->name)) ||
        (rc = exp_run_name(e, p, def_name)) ||
        (rc = dlh_param_int(p, "seed", &def_seed, 0, INT64_MAX, &seed)) ||
        (rc = dlh_params_check_unused(p)) ||
        (rc = exp_member(p, root, "backend", 0, 0, &backend)) ||
        (rc = exp_member(p, root, "data", 0, 1, &data)) ||
        (rc = exp_member(p, root, "model", 1, 1, &model)) ||
        (rc = exp_loss_member(e, p, root, &loss)) ||
        (rc = exp_member(p, root, "optimizer", 0, 1, &optimizer)) ||
        (rc = exp_member(p, root, "schedule", 0, 0, &schedule)) ||
        (rc = exp_member(p, root, "train", 0, 0, &train)))
        return rc;
    e->seed = (uint64_t)seed;
    /* Settings first: a typo there is cheaper to report than a dataset load. */
    if ((rc = exp_train(e, train)))
        return rc;
    e->max_batch = max_batch > 0 ? max_batch : e->batch_size;
    if ((rc = exp_backend(e, backend, backend_override)) ||
        (rc = exp_data(e, data)) ||
        (rc = exp_model(e, p, model)) ||
        (rc = exp_loss(e, loss)) ||
        (rc = exp_metrics(e, p, root)) ||
        (rc = dlh_metrics_columns(e, &e->cols, &e->n_cols)) ||
        (rc = exp_monitor(e)) ||
        (rc = exp_optimizer(e, optimizer)) ||
        (rc = exp_schedule(e, schedule)) ||
        (rc = exp_cross_check(e, train)))
        return rc;
    return 0;
}

int dlh_experiment_new(dlh_config *cfg, const char *backend_override, int64_t max_batch,
                       dlh_experiment **out)
{
    return dlh_experiment_new_ex(cfg, backend_override, max_batch, 0, out);
}

int dlh_experiment_new_ex(dlh_config *cfg, const char *backend_override, int64_t max_batch,
                          int flags, dlh_experiment **out)
{
    *out = NULL;
    dlh_experiment *e = calloc(1, sizeof *e);
    if (!e) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    e->cfg = cfg;
    e->flags_ = flags;
    int rc = exp_build(e, backend_override, max_batch);
    if (rc) {
        dlh_experiment_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

static void exp_close_data(dlh_exp_data *d)
{
    /* close is called even when open failed. */
    if (d->ops)
        d->ops->close(d->state);
}

void dlh_experiment_free(dlh_experiment *e)
{
    if (!e)
        return;
    dlh_optim_free(e);
    if (e->metrics_val)
        dlh_metrics_close(e->metrics_val);
    if (e->metrics_train)
        dlh_metrics_close(e->metrics_train);
    free(e->metrics_val);
    free(e->metrics_train);
    dlh_metrics_columns_free(e->cols, e->n_cols);
    for (int i = 0; i < 2; i++)
        if (e->whiten_t[i].mem.buf)
            dlh_tensor_free(e->backend, &e->whiten_t[i]);
    for (int h = 0; e->heads && h < e->n_heads; h++)
        dlh_loss_free(e->heads[h].loss);      /* e->loss is heads[0]'s */
    free(e->heads);
    dlh_loss_free(e->train_loss);
    for (int i = 0; i < e->n_augment; i++)
        dlh_augmenter_free(&e->augment[i]);
    free(e->augment);
    free(e->class_weights);
    free(e->keep_classes);
    free(e->class_names);
    dlh_graph_free(e->graph);
    for (int i = 0; i < e->n_layers; i++)
        dlh_layer_free(e->layers[i]);
    free(e->layers);
    free(e->layer_types);
    exp_close_data(&e->test);
    exp_close_data(&e->validation);
    exp_close_data(&e->train);
    dlh_backend_close(e->backend);
    for (size_t i = 0; i < e->n_params_; i++)
        dlh_params_free(e->params_[i]);
    free(e->params_);
    free(e->name_buf_);
    free(e);
}

int64_t dlh_experiment_param_count(const dlh_experiment *e)
{
    int64_t n = 0;
    for (int i = 0; i < e->n_layers; i++)
        for (int j = 0; j < e->layers[i]->n_params; j++)
            n += dlh_tensor_numel(&e->layers[i]->params[j].value);
    return n;
}
