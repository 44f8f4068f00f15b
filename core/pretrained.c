/* pretrained: start a run from the weights of a safetensors file (see
 * pretrained.h for the group and its globs). */
#include "pretrained.h"

#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "eval.h"
#include "rundir.h"
#include "safetensors.h"

typedef struct pt_rename {
    const char *from, *to;
} pt_rename;

typedef struct pt_cfg {
    dlh_params *p;
    const char *file;
    char *run_file;                 /* run = "...": <runs>/<run>/<checkpoint>.safetensors */
    const char *runs_root;          /* <runs>: the command's --runs, NULL: "runs" */
    int strict;
    pt_rename *rename;
    size_t n_rename;
    const char **skip;
    size_t n_skip;
} pt_cfg;

/* One model tensor and what the file has for it. */
typedef struct pt_match {
    const dlh_st_entry *src;        /* NULL: missing or skipped */
    int skipped, mismatch;
} pt_match;

/* A growing text. */
typedef struct pt_text {
    char *s;
    size_t n, cap;
    int oom;
} pt_text;

static void DLH_PRINTF(2, 3) pt_add(pt_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (t->oom || k < 0)
        return;
    if (t->n + (size_t)k + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->n + (size_t)k + 1)
            cap *= 2;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->oom = 1;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->n, t->cap - t->n, fmt, ap);
    va_end(ap);
    t->n += (size_t)k;
}

/* Glob match: '*' any run of characters, everything else itself. */
static int pt_glob(const char *g, const char *s)
{
    for (; *g; g++, s++) {
        if (*g == '*') {
            for (const char *t = s;; t++) {
                if (pt_glob(g + 1, t))
                    return 1;
                if (!*t)
                    return 0;
            }
        }
        if (*s != *g)
            return 0;
    }
    return *s == '\0';
}

/* The file name `name` under the first matching rename pair into a new
   string (or a copy of name). */
static char *pt_renamed(const pt_cfg *c, const char *name)
{
    for (size_t i = 0; i < c->n_rename; i++) {
        const char *from = c->rename[i].from, *to = c->rename[i].to;
        const char *star = strchr(from, '*');
        size_t pre = star ? (size_t)(star - from) : strlen(from);
        size_t len = strlen(name), post = star ? strlen(star + 1) : 0;
        if (!star ? strcmp(from, name) != 0
                  : len < pre + post || strncmp(name, from, pre) != 0 ||
                    strcmp(name + len - post, star + 1) != 0)
            continue;
        const char *cap = name + pre;
        size_t ncap = star ? len - pre - post : 0;
        const char *tstar = strchr(to, '*');
        size_t tpre = tstar ? (size_t)(tstar - to) : strlen(to);
        size_t tpost = tstar ? strlen(tstar + 1) : 0;
        char *out = malloc(tpre + (tstar ? ncap : 0) + tpost + 1);
        if (!out)
            return NULL;
        memcpy(out, to, tpre);
        if (tstar) {
            memcpy(out + tpre, cap, ncap);
            memcpy(out + tpre + ncap, tstar + 1, tpost);
        }
        out[tpre + (tstar ? ncap : 0) + tpost] = '\0';
        return out;
    }
    return strdup(name);
}

static int pt_skipped(const pt_cfg *c, const char *name)
{
    for (size_t i = 0; i < c->n_skip; i++)
        if (pt_glob(c->skip[i], name))
            return 1;
    return 0;
}

/* A list of strings `key` (a libconfig array or list); *n 0 when absent. */
static int pt_strings(pt_cfg *c, config_setting_t *g, const char *key, const char ***out,
                      size_t *n)
{
    config_setting_t *s = config_setting_get_member(g, key);
    *n = 0;
    if (!s)
        return 0;
    int t = config_setting_type(s);
    int len = t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST ? config_setting_length(s)
                                                              : -1;
    if (len < 0)
        return dlh_exp_error_at(c->p, key, "pretrained: %s: expected a list of globs "
                                "([\"head.*\"])", key);
    if (!(*out = calloc((size_t)(len ? len : 1), sizeof **out))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    for (int i = 0; i < len; i++) {
        const char *v = config_setting_get_string(config_setting_get_elem(s, (unsigned)i));
        if (!v || !*v)
            return dlh_exp_error_at(c->p, key, "pretrained: %s[%d]: expected a non-empty "
                                    "string (a glob)", key, i);
        (*out)[(*n)++] = v;
    }
    return 0;
}

static int pt_stars(const char *s)
{
    int k = 0;
    for (; *s; s++)
        k += *s == '*';
    return k;
}

static int pt_read_rename(pt_cfg *c, config_setting_t *g)
{
    config_setting_t *s = config_setting_get_member(g, "rename");
    if (!s)
        return 0;
    int t = config_setting_type(s);
    int len = t == CONFIG_TYPE_LIST ? config_setting_length(s) : -1;
    if (len < 0)
        return dlh_exp_error_at(c->p, "rename", "pretrained: rename: expected a list of "
                                "(\"from\", \"to\") pairs: ( (\"backbone.*\", \"*\") )");
    if (!(c->rename = calloc((size_t)(len ? len : 1), sizeof *c->rename))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    for (int i = 0; i < len; i++) {
        config_setting_t *pair = config_setting_get_elem(s, (unsigned)i);
        int pt = config_setting_type(pair);
        const char *from = NULL, *to = NULL;
        if ((pt == CONFIG_TYPE_LIST || pt == CONFIG_TYPE_ARRAY) &&
            config_setting_length(pair) == 2) {
            from = config_setting_get_string(config_setting_get_elem(pair, 0));
            to = config_setting_get_string(config_setting_get_elem(pair, 1));
        }
        if (!from || !to || !*from || !*to)
            return dlh_exp_error_at(c->p, "rename", "pretrained: rename[%d]: expected a "
                                    "pair of non-empty strings (\"from\", \"to\")", i);
        if (pt_stars(from) > 1 || pt_stars(to) > pt_stars(from))
            return dlh_exp_error_at(c->p, "rename", "pretrained: rename[%d]: (\"%s\", "
                                    "\"%s\"): \"from\" may hold one '*' and \"to\" one "
                                    "only where \"from\" has one", i, from, to);
        c->rename[c->n_rename].from = from;
        c->rename[c->n_rename++].to = to;
    }
    return 0;
}

/* run = "base"; checkpoint = "best": the checkpoint of the run folder
   <runs>/base of the runs root this command writes to (run --runs DIR). */
static int pt_run_file(pt_cfg *c)
{
    static const char *const which[] = { "best", "last", NULL };
    const char *run, *root = c->runs_root ? c->runs_root : "runs";
    int k, rc;
    if ((rc = dlh_param_string(c->p, "run", NULL, &run)) ||
        (rc = dlh_param_choice(c->p, "checkpoint", which, 0, &k)))
        return rc;
    if (dlh_run_name_check(run)) {
        char why[256];
        snprintf(why, sizeof why, "%s", dlh_error_get());
        return dlh_exp_error_at(c->p, "run", "pretrained: 'run': %s", why);
    }
    size_t n = strlen(root) + strlen(run) + strlen(which[k]) + 16;
    if (!(c->run_file = malloc(n))) {
        dlh_error_set("pretrained: out of memory");
        return DLH_ENOMEM;
    }
    snprintf(c->run_file, n, "%s/%s/%s.safetensors", root, run, which[k]);
    c->file = c->run_file;
    return 0;
}

static int pt_read_cfg(dlh_experiment *e, config_setting_t *g, pt_cfg *c)
{
    static const char *const reserved[] = { "rename", "skip", NULL };
    static const int no = 0;
    if (!(c->p = dlh_exp_params(e, g, "pretrained", reserved)))
        return DLH_ENOMEM;
    if (!config_setting_is_group(g))
        return dlh_exp_error_at(c->p, NULL, "pretrained: expected a group "
                                "{ file = \"...\"; }");
    int rc, has_run = dlh_param_has(c->p, "run");
    if (has_run == dlh_param_has(c->p, "file"))
        return dlh_exp_error_at(c->p, has_run ? "run" : NULL, "pretrained: give one of "
                                "'file' (a safetensors file) and 'run' (a run's name)");
    if (!has_run && dlh_param_has(c->p, "checkpoint"))
        return dlh_exp_error_at(c->p, "checkpoint", "pretrained: 'checkpoint' picks a "
                                "checkpoint of 'run'; 'file' names the file itself");
    if ((rc = has_run ? pt_run_file(c) : dlh_param_path(c->p, "file", NULL, &c->file)) ||
        (rc = dlh_param_bool(c->p, "strict", &no, &c->strict)) ||
        (rc = pt_read_rename(c, g)) ||
        (rc = pt_strings(c, g, "skip", &c->skip, &c->n_skip)))
        return rc;
    return dlh_params_check_unused(c->p);
}

static void pt_shape(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t k = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < size)
        snprintf(buf + k, size - k, "]");
}

static const char *pt_dtype(int32_t d)
{
    return d == DLH_F32 ? "F32" : d == DLH_F16 ? "F16" : d == DLH_BF16 ? "BF16"
           : d == DLH_ST_F64 ? "F64" : d == DLH_I32 ? "I32" : d == DLH_I64 ? "I64" : "?";
}

/* IEEE half to float, exactly (every half is a float). */
static float pt_half(uint16_t h)
{
    int sign = h >> 15, ex = (h >> 10) & 31, man = h & 1023;
    float v = ex == 0 ? ldexpf((float)man, -24)
              : ex == 31 ? (man ? NAN : INFINITY)
                         : ldexpf((float)(man | 1024), ex - 25);
    return sign ? -v : v;
}

/* Element i of file tensor e as a double (floats) or, with *ival, int64. */
static double pt_elem(const dlh_st_entry *e, int64_t i, int64_t *ival)
{
    const unsigned char *d = e->data;
    switch (e->dtype) {
    case DLH_F16: { uint16_t h; memcpy(&h, d + 2 * i, 2); return pt_half(h); }
    case DLH_BF16: {
        uint16_t h; memcpy(&h, d + 2 * i, 2);
        uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f;
    }
    case DLH_ST_F64: { double v; memcpy(&v, d + 8 * i, 8); return v; }
    case DLH_I32: { int32_t v; memcpy(&v, d + 4 * i, 4); *ival = v; return (double)v; }
    case DLH_I64: { int64_t v; memcpy(&v, d + 8 * i, 8); *ival = v; return (double)v; }
    default: { float v; memcpy(&v, d + 4 * i, 4); return v; }
    }
}

static void pt_free_cfg(pt_cfg *c)
{
    free(c->run_file);
    free(c->rename);
    free((void *)c->skip);
}

/* Names of the tensors i where pick(i) holds, comma-separated. */
static void pt_list(pt_text *r, const char *label, const char *const *names, const int *pick,
                    size_t n, const char *note)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += pick[i] != 0;
    pt_add(r, "  %-15s %zu%s%s", label, k, k && note ? " " : "", k && note ? note : "");
    for (size_t i = 0, j = 0; i < n; i++)
        if (pick[i])
            pt_add(r, "%s%s", j++ ? ", " : ": ", names[i]);
    pt_add(r, "\n");
}

int dlh_pretrained_apply(dlh_experiment *e, const char *runs_root, int load, char **report)
{
    *report = NULL;
    config_setting_t *g = config_setting_get_member(dlh_config_root(e->cfg), "pretrained");
    if (!g)
        return 0;
    pt_cfg c;
    memset(&c, 0, sizeof c);
    c.runs_root = runs_root;
    dlh_ckpt_tensor *t = NULL, *all = NULL;
    size_t n = 0, n_all = 0, nf = 0;
    dlh_st_file *f = NULL;
    char **fnames = NULL;           /* the file's names, renamed */
    const char **mnames = NULL;
    pt_match *m = NULL;
    int *pick = NULL, *fpick = NULL;
    pt_text r = { 0 }, err = { 0 };
    int rc = pt_read_cfg(e, g, &c);
    if (rc == 0)
        rc = dlh_model_tensors(e, 0, &all, &n_all);
    if (rc == 0 && (rc = dlh_st_read_ex(c.file, DLH_ST_READ_WIDE, &f)) < 0)
        dlh_error_prefix("pretrained: ");
    if (rc)
        goto done;
    /* The whitening statistics are the data's, not the model's. */
    t = all;
    n = n_all;
    while (n > 0 && (strcmp(t[n - 1].name, DLH_WHITEN_KEY) == 0 ||
                     strcmp(t[n - 1].name, DLH_WHITEN_MEAN_KEY) == 0))
        n--;
    nf = dlh_st_count(f);
    fnames = calloc(nf ? nf : 1, sizeof *fnames);
    mnames = calloc(n ? n : 1, sizeof *mnames);
    m = calloc(n ? n : 1, sizeof *m);
    pick = calloc(n ? n : 1, sizeof *pick);
    fpick = calloc(nf ? nf : 1, sizeof *fpick);
    if (!fnames || !mnames || !m || !pick || !fpick)
        goto nomem;
    for (size_t i = 0; i < nf; i++) {
        if (!(fnames[i] = pt_renamed(&c, dlh_st_at(f, i)->name)))
            goto nomem;
        for (size_t j = 0; j < i; j++)
            if (strcmp(fnames[i], fnames[j]) == 0) {
                rc = dlh_exp_error_at(c.p, "rename", "pretrained: rename maps the file's "
                                      "'%s' and '%s' both to '%s'", dlh_st_at(f, j)->name,
                                      dlh_st_at(f, i)->name, fnames[i]);
                goto done;
            }
    }
    /* Match every model tensor; the file's tensors matched by none are the
       unexpected ones (fpick 1), those only skipped ones take are not. */
    for (size_t i = 0; i < nf; i++)
        fpick[i] = 1;
    size_t n_mis = 0, n_missing = 0, n_loaded = 0;
    for (size_t k = 0; k < n; k++) {
        mnames[k] = t[k].name;
        m[k].skipped = pt_skipped(&c, t[k].name);
        for (size_t i = 0; i < nf; i++)
            if (strcmp(fnames[i], t[k].name) == 0) {
                m[k].src = dlh_st_at(f, i);
                fpick[i] = 0;
            }
        if (m[k].skipped) {
            m[k].src = NULL;
            continue;
        }
        const dlh_st_entry *s = m[k].src;
        if (!s) {
            n_missing++;
            continue;
        }
        const dlh_tensor *mt = t[k].t;
        int same = s->ndim == mt->ndim;
        for (int d = 0; same && d < mt->ndim; d++)
            same = s->shape[d] == mt->shape[d];
        char fs[160], ms[160];
        if (!same) {
            m[k].mismatch = 1;
            n_mis++;
            pt_shape(s->ndim, s->shape, fs, sizeof fs);
            pt_shape(mt->ndim, mt->shape, ms, sizeof ms);
            pt_add(&err, "%ssize mismatch for %s: copying a param with shape %s from "
                   "checkpoint, the shape in current model is %s", n_mis > 1 ? "; " : "",
                   t[k].name, fs, ms);
            continue;
        }
        int is_int = s->dtype == DLH_I32 || s->dtype == DLH_I64;
        if (!t[k].host && (mt->dtype != DLH_F32 ? s->dtype != mt->dtype : is_int)) {
            rc = dlh_exp_error_at(c.p, "file", "pretrained: %s: tensor '%s' is %s in the "
                                  "file, the model's '%s' is %s", c.file,
                                  s->name,
                                  pt_dtype(s->dtype), t[k].name, pt_dtype(mt->dtype));
            goto done;
        }
        if (t[k].host) {
            int64_t iv = -1;
            double v = pt_elem(s, 0, &iv);
            if (!is_int && (v >= 0.0 && v < 9.2e18 && v == floor(v)))
                iv = (int64_t)v;
            if (iv < 0) {
                rc = dlh_exp_error_at(c.p, "file", "pretrained: %s: counter '%s' is %g in "
                                      "the file, not a count", c.file, t[k].name, v);
                goto done;
            }
        }
        n_loaded++;
    }
    if (err.oom || r.oom)
        goto nomem;
    /* A dlhost checkpoint's optimiser state ("optim.*" beside its
       "optimizer" metadata) and whitening statistics are not model
       tensors: neither unexpected nor loaded. */
    size_t n_state = 0;
    const char *opt = dlh_st_meta_get(f, "optimizer");
    for (size_t i = 0; i < nf; i++) {
        const char *fn = dlh_st_at(f, i)->name;
        int state = opt && strncmp(fn, "optim.", 6) == 0;
        if (fpick[i] && (state || strcmp(fn, DLH_WHITEN_KEY) == 0 ||
                         strcmp(fn, DLH_WHITEN_MEAN_KEY) == 0)) {
            fpick[i] = 0;
            n_state += state;
        }
    }
    size_t n_unexp = 0;
    for (size_t i = 0; i < nf; i++)
        n_unexp += fpick[i] && !pt_skipped(&c, fnames[i]);
    if (n_mis > 0 || (c.strict && (n_missing > 0 || n_unexp > 0))) {
        pt_text why = { 0 };
        if (c.strict && n_missing > 0) {
            pt_add(&why, "missing key(s) in the file:");
            for (size_t k = 0, j = 0; k < n; k++)
                if (!m[k].skipped && !m[k].src)
                    pt_add(&why, "%s \"%s\"", j++ ? "," : "", t[k].name);
        }
        if (c.strict && n_unexp > 0) {
            pt_add(&why, "%sunexpected key(s) in the file:", why.n ? "; " : "");
            for (size_t i = 0, j = 0; i < nf; i++)
                if (fpick[i] && !pt_skipped(&c, fnames[i]))
                    pt_add(&why, "%s \"%s\"", j++ ? "," : "", fnames[i]);
        }
        if (n_mis > 0)
            pt_add(&why, "%s%s", why.n ? "; " : "", err.s);
        if (why.oom) {
            free(why.s);
            goto nomem;
        }
        rc = dlh_exp_error_at(c.p, c.strict ? "strict" : "file", "pretrained: error(s) in "
                              "loading %s%s: %s%s", c.file, c.strict ? " (strict = true)" : "",
                              why.s, n_mis > 0 ? " (skip a tensor to initialise it fresh)"
                                               : "");
        free(why.s);
        goto done;
    }

    /* The report. */
    pt_add(&r, "pretrained %s: %zu tensors in the file, strict = %s\n", c.file, nf,
           c.strict ? "true" : "false");
    for (size_t k = 0; k < n; k++)
        pick[k] = m[k].src != NULL;
    pt_add(&r, "  %-15s %zu", "loaded", n_loaded);
    for (size_t k = 0, j = 0; k < n; k++) {
        if (!pick[k])
            continue;
        const dlh_st_entry *s = m[k].src;
        pt_add(&r, "%s%s", j++ ? ", " : ": ", t[k].name);
        if (strcmp(s->name, t[k].name) != 0)
            pt_add(&r, " <- %s", s->name);
        int conv = t[k].host ? s->dtype != DLH_I64 : s->dtype != t[k].t->dtype;
        if (conv)
            pt_add(&r, " (%s)", pt_dtype(s->dtype));
    }
    pt_add(&r, "\n");
    for (size_t k = 0; k < n; k++)
        pick[k] = !m[k].skipped && !m[k].src;
    pt_list(&r, "missing", mnames, pick, n, "(initialised fresh)");
    for (size_t i = 0; i < nf; i++)
        fpick[i] = fpick[i] && !pt_skipped(&c, fnames[i]);
    pt_list(&r, "unexpected", (const char *const *)fnames, fpick, nf, "(ignored)");
    if (n_state > 0)
        pt_add(&r, "  %-15s %zu (ignored: %s's, of a dlhost checkpoint)\n", "optimiser state",
               n_state, opt);
    pt_add(&r, "  %-15s 0\n", "shape mismatch");
    for (size_t k = 0; k < n; k++)
        pick[k] = m[k].skipped;
    pt_list(&r, "skipped", mnames, pick, n, "(initialised fresh)");
    if (r.oom)
        goto nomem;

    /* Everything fits: write. */
    for (size_t k = 0; load && k < n && rc == 0; k++) {
        const dlh_st_entry *s = m[k].src;
        if (!s)
            continue;
        int64_t numel = 1, iv = -1;
        for (int d = 0; d < s->ndim; d++)
            numel *= s->shape[d];
        if (t[k].host) {
            double v = pt_elem(s, 0, &iv);
            *t[k].host = iv >= 0 ? iv : (int64_t)v;
            continue;
        }
        if (numel == 0)
            continue;
        const dlh_tensor *mt = t[k].t;
        float *buf = NULL;
        const void *src = s->data;
        if (s->dtype != mt->dtype) {
            if (!(buf = malloc((size_t)numel * sizeof *buf)))
                goto nomem;
            for (int64_t i = 0; i < numel; i++)
                buf[i] = (float)pt_elem(s, i, &iv);
            src = buf;
        }
        rc = e->backend->ops->write(e->backend->ctx, mt->mem.buf, mt->mem.off * 4, src,
                                    (size_t)numel * 4);
        free(buf);
        if (rc < 0)
            dlh_error_prefix("pretrained: writing tensor '%s' to the backend: ", t[k].name);
    }
    if (rc == 0) {
        *report = r.s;
        r.s = NULL;
    }
    goto done;
nomem:
    dlh_error_set("pretrained: out of memory");
    rc = DLH_ENOMEM;
done:
    free(r.s);
    free(err.s);
    for (size_t i = 0; fnames && i < nf; i++)
        free(fnames[i]);
    free(fnames);
    free(mnames);
    free(m);
    free(pick);
    free(fpick);
    dlh_st_free(f);
    dlh_model_tensors_free(all, n_all);
    pt_free_cfg(&c);
    return rc;
}

int dlh_pretrained_save(const char *dir, const char *report)
{
    size_t n = strlen(dir) + sizeof "/pretrained.txt";
    char *path = malloc(n);
    if (!path) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    snprintf(path, n, "%s/pretrained.txt", dir);
    int rc = dlh_file_write_atomic(path, report, strlen(report));
    free(path);
    return rc;
}
