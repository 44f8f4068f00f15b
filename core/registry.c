/* The component registry: validated, host-sized copies of every ops struct
 * the plugins registered, looked up by kind and name.  Not thread-safe:
 * components are registered at start-up, before any training thread runs. */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "manifest.h"
#include "params.h"

#define NAME_MAX_LEN 64
/* No ABI of ours will grow an ops struct this far; a larger struct_size is
   garbage, not a newer plugin. */
#define OPS_MAX_SIZE (64u * 1024u)

/* End of a member: the struct_size an ops struct needs to contain it. */
#define END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
#define SLOT(type, member) { offsetof(type, member), #member }

typedef struct slot {
    size_t off;
    const char *name;
} slot;

static const slot backend_slots[] = {
    SLOT(dlh_backend_ops, create), SLOT(dlh_backend_ops, destroy),
    SLOT(dlh_backend_ops, alloc), SLOT(dlh_backend_ops, free),
    SLOT(dlh_backend_ops, write), SLOT(dlh_backend_ops, read),
    SLOT(dlh_backend_ops, copy), SLOT(dlh_backend_ops, fill),
    SLOT(dlh_backend_ops, sync), SLOT(dlh_backend_ops, gemm),
    SLOT(dlh_backend_ops, gemm_batched), SLOT(dlh_backend_ops, ew_prepare),
    SLOT(dlh_backend_ops, ew_release), SLOT(dlh_backend_ops, ew_run),
    SLOT(dlh_backend_ops, reduce), SLOT(dlh_backend_ops, softmax),
    SLOT(dlh_backend_ops, im2col), SLOT(dlh_backend_ops, col2im),
    SLOT(dlh_backend_ops, pool2d), SLOT(dlh_backend_ops, pool2d_backward),
    SLOT(dlh_backend_ops, gather), SLOT(dlh_backend_ops, scatter_add),
    SLOT(dlh_backend_ops, rand),
};
static const slot layer_slots[] = {
    SLOT(dlh_layer_ops, create), SLOT(dlh_layer_ops, forward),
    SLOT(dlh_layer_ops, backward),
};
static const slot loss_slots[] = {
    SLOT(dlh_loss_ops, create), SLOT(dlh_loss_ops, forward),
};
/* step or step_all (ABI 1.6): checked on its own in dlh_registry_add. */
static const slot optimizer_slots[] = {
    SLOT(dlh_optimizer_ops, create),
};
static const slot schedule_slots[] = {
    SLOT(dlh_schedule_ops, lr),
};
/* create or create_ex: checked on its own in dlh_registry_add. */
static const slot augmenter_slots[] = {
    SLOT(dlh_augmenter_ops, apply),
};
static const slot metric_slots[] = {
    SLOT(dlh_metric_ops, create), SLOT(dlh_metric_ops, reset),
    SLOT(dlh_metric_ops, update), SLOT(dlh_metric_ops, result),
};
static const slot dataset_slots[] = {
    SLOT(dlh_dataset_ops, open), SLOT(dlh_dataset_ops, info),
    SLOT(dlh_dataset_ops, read), SLOT(dlh_dataset_ops, close),
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Per kind: the host's struct size, the size a plugin must declare (the end
   of the last ABI 1.0 member: it stays put when 1.1 appends members), and
   the slots that may not be NULL. */
static const struct kind_info {
    const char *name;
    size_t host_size;
    size_t min_size;
    const slot *slots;
    size_t n_slots;
} kinds[DLH_KIND_COUNT] = {
    [DLH_KIND_BACKEND] = { "backend", sizeof(dlh_backend_ops),
        END_OF(dlh_backend_ops, rand), backend_slots, N_OF(backend_slots) },
    [DLH_KIND_LAYER] = { "layer", sizeof(dlh_layer_ops),
        END_OF(dlh_layer_ops, destroy), layer_slots, N_OF(layer_slots) },
    [DLH_KIND_LOSS] = { "loss", sizeof(dlh_loss_ops),
        END_OF(dlh_loss_ops, destroy), loss_slots, N_OF(loss_slots) },
    [DLH_KIND_OPTIMIZER] = { "optimizer", sizeof(dlh_optimizer_ops),
        END_OF(dlh_optimizer_ops, destroy), optimizer_slots, N_OF(optimizer_slots) },
    [DLH_KIND_SCHEDULE] = { "schedule", sizeof(dlh_schedule_ops),
        END_OF(dlh_schedule_ops, destroy), schedule_slots, N_OF(schedule_slots) },
    [DLH_KIND_AUGMENTER] = { "augmenter", sizeof(dlh_augmenter_ops),
        END_OF(dlh_augmenter_ops, destroy), augmenter_slots, N_OF(augmenter_slots) },
    [DLH_KIND_DATASET] = { "dataset", sizeof(dlh_dataset_ops),
        END_OF(dlh_dataset_ops, close), dataset_slots, N_OF(dataset_slots) },
    [DLH_KIND_METRIC] = { "metric", sizeof(dlh_metric_ops),
        END_OF(dlh_metric_ops, destroy), metric_slots, N_OF(metric_slots) },
};

/* Components are allocated one by one so that pointers handed out by
   dlh_registry_find stay valid while more are registered. */
static dlh_component **components;
static size_t n_components, cap_components;

const char *dlh_kind_name(dlh_kind kind)
{
    if ((unsigned)kind >= DLH_KIND_COUNT)
        return "component";
    return kinds[kind].name;
}

static const char *plugin_where(const dlh_plugin_file *plugin)
{
    return plugin && plugin->path ? plugin->path : "(built-in)";
}

static int valid_name(const char *name)
{
    size_t n = 0;
    for (const char *c = name; *c; c++, n++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return 0;
    }
    return n > 0 && n <= NAME_MAX_LEN;
}

static const dlh_component *lookup(dlh_kind kind, const char *name)
{
    for (size_t i = 0; i < n_components; i++) {
        if (components[i]->kind == kind && strcmp(components[i]->name, name) == 0)
            return components[i];
    }
    return NULL;
}

/* Another component of c's kind and name registered after c. */
static const dlh_component *lookup_after(const dlh_component *c)
{
    int seen = 0;
    for (size_t i = 0; i < n_components; i++) {
        if (components[i] == c)
            seen = 1;
        else if (seen && components[i]->kind == c->kind &&
                 strcmp(components[i]->name, c->name) == 0)
            return components[i];
    }
    return NULL;
}

/* "plugin:name": the component `name` of the plugin whose dlh_plugin name
   is `plugin` ("builtin" for components registered without a plugin). */
static const dlh_component *find_qualified(dlh_kind kind, const char *full,
                                           const char *colon)
{
    size_t pl = (size_t)(colon - full);
    const char *name = colon + 1, *kname = kinds[kind].name;
    for (size_t i = 0; i < n_components; i++) {
        const dlh_component *t = components[i];
        const char *pn = t->plugin ? t->plugin->info.name : "builtin";
        if (t->kind == kind && strcmp(t->name, name) == 0 && strlen(pn) == pl &&
            strncmp(pn, full, pl) == 0)
            return t;
    }
    char list[512];
    size_t k = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n_components && k < sizeof list; i++) {
        const dlh_component *t = components[i];
        if (t->kind == kind && strcmp(t->name, name) == 0)
            k += (size_t)snprintf(list + k, sizeof list - k, "%s'%s'", k ? ", " : "",
                                  t->plugin ? t->plugin->info.name : "builtin");
    }
    if (k)
        dlh_error_set("unknown %s '%s': no plugin '%.*s' has a %s '%s' (plugins that do: "
                      "%s)", kname, full, (int)pl, full, kname, name, list);
    else
        dlh_error_set("unknown %s '%s': no plugin has a %s '%s'", kname, full, kname, name);
    return NULL;
}

static void component_free(dlh_component *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->description);
    free((void *)c->ops);
    free(c);
}

int dlh_registry_add(dlh_kind kind, const char *name, const void *ops,
                     const char *description, const dlh_plugin_file *plugin)
{
    const char *where = plugin_where(plugin);
    if ((unsigned)kind >= DLH_KIND_COUNT) {
        dlh_error_set("%s: component '%s': unknown kind %d", where, name ? name : "(null)",
                      (int)kind);
        return DLH_EPLUGIN;
    }
    const struct kind_info *ki = &kinds[kind];
    if (!name || !valid_name(name)) {
        dlh_error_set("%s: %s name '%s' is not valid (expected 1 to %d of a-z, 0-9, _)",
                      where, ki->name, name ? name : "(null)", NAME_MAX_LEN);
        return DLH_EPLUGIN;
    }
    if (!ops) {
        dlh_error_set("%s: %s '%s': ops is NULL", where, ki->name, name);
        return DLH_EPLUGIN;
    }
    uint32_t size;
    memcpy(&size, ops, sizeof size);
    if (size < ki->min_size || size > OPS_MAX_SIZE) {
        dlh_error_set("%s: %s '%s': ops struct_size %u is not valid (expected %zu to %u; "
                      "was struct_size set to sizeof the ops struct?)",
                      where, ki->name, name, size, ki->min_size, OPS_MAX_SIZE);
        return DLH_EPLUGIN;
    }
    /* Two plugins may both have a component of this name: the experiment
       then names one as "plugin:name" (dlh_registry_find).  One plugin
       registering a name twice is a bug of its own. */
    for (size_t i = 0; i < n_components; i++) {
        const dlh_component *t = components[i];
        if (t->kind == kind && t->plugin == plugin && strcmp(t->name, name) == 0) {
            dlh_error_set("%s: %s '%s' is already registered by this plugin", where,
                          ki->name, name);
            return DLH_EPLUGIN;
        }
    }

    /* Slots past the plugin's struct_size read as NULL: "not provided". */
    void *copy = calloc(1, ki->host_size);
    if (!copy) {
        dlh_error_set("out of memory registering %s '%s'", ki->name, name);
        return DLH_ENOMEM;
    }
    memcpy(copy, ops, size < ki->host_size ? size : ki->host_size);
    for (size_t i = 0; i < ki->n_slots; i++) {
        void (*fn)(void);
        memcpy(&fn, (const char *)copy + ki->slots[i].off, sizeof fn);
        if (!fn) {
            dlh_error_set("%s: %s '%s': required slot '%s' is NULL", where, ki->name, name,
                          ki->slots[i].name);
            free(copy);
            return DLH_EPLUGIN;
        }
    }
    if (kind == DLH_KIND_OPTIMIZER && !((const dlh_optimizer_ops *)copy)->step &&
        !((const dlh_optimizer_ops *)copy)->step_all) {
        dlh_error_set("%s: %s '%s': required slot 'step' (or 'step_all') is NULL", where,
                      ki->name, name);
        free(copy);
        return DLH_EPLUGIN;
    }
    if (kind == DLH_KIND_AUGMENTER && !((const dlh_augmenter_ops *)copy)->create &&
        !((const dlh_augmenter_ops *)copy)->create_ex) {
        dlh_error_set("%s: %s '%s': required slot 'create' (or 'create_ex') is NULL", where,
                      ki->name, name);
        free(copy);
        return DLH_EPLUGIN;
    }

    dlh_component *c = calloc(1, sizeof *c);
    if (c) {
        c->name = strdup(name);
        c->description = strdup(description ? description : "");
    }
    if (n_components == cap_components && c) {
        size_t cap = cap_components ? 2 * cap_components : 32;
        dlh_component **grown = realloc(components, cap * sizeof *grown);
        if (grown) {
            components = grown;
            cap_components = cap;
        }
    }
    if (!c || !c->name || !c->description || n_components == cap_components) {
        if (c)
            c->ops = copy;
        else
            free(copy);
        component_free(c);
        dlh_error_set("out of memory registering %s '%s'", ki->name, name);
        return DLH_ENOMEM;
    }
    c->kind = kind;
    c->ops = copy;
    c->plugin_struct_size = size;
    c->plugin = plugin;
    components[n_components++] = c;
    return 0;
}

const char *dlh_param_type_name(int type)
{
    static const char *const names[] = { "?", "int", "float", "bool", "string", "choice",
                                         "floats", "path", "other" };
    return type >= DLH_PARAM_INT && type <= DLH_PARAM_OTHER ? names[type] : names[0];
}

int dlh_registry_describe(dlh_kind kind, const char *name, const dlh_param_doc *params,
                          const dlh_plugin_file *plugin)
{
    const char *where = plugin_where(plugin);
    const char *kn = dlh_kind_name(kind);
    dlh_component *c = NULL;
    for (size_t i = 0; name && (unsigned)kind < DLH_KIND_COUNT && i < n_components; i++)
        if (components[i]->kind == kind && strcmp(components[i]->name, name) == 0)
            c = components[i];
    if (!c || c->plugin != plugin) {
        dlh_error_set("%s: describe: %s '%s' is not registered by this plugin", where, kn,
                      name ? name : "(null)");
        return DLH_EPLUGIN;
    }
    if (!params) {
        dlh_error_set("%s: describe: %s '%s': the parameter table is NULL", where, kn, name);
        return DLH_EPLUGIN;
    }
    size_t n = 0;
    for (; params[n].key; n++) {
        const dlh_param_doc *d = &params[n];
        const char *bad = !d->key[0] ? "an empty key"
                        : d->type < DLH_PARAM_INT || d->type > DLH_PARAM_OTHER ? "an unknown type"
                        : !d->help || !d->help[0] ? "no help line"
                        : d->type == DLH_PARAM_CHOICE && (!d->choices || !d->choices[0])
                            ? "a choice without choices"
                        : (d->type == DLH_PARAM_INT || d->type == DLH_PARAM_FLOAT) &&
                          !(d->min <= d->max) ? "min > max" : NULL;
        for (size_t j = 0; !bad && j < n; j++)
            if (strcmp(params[j].key, d->key) == 0)
                bad = "a key listed twice";
        if (bad) {
            dlh_error_set("%s: describe: %s '%s': parameter '%s' has %s", where, kn, name,
                          d->key, bad);
            return DLH_EPLUGIN;
        }
        if (n > 4096) {
            dlh_error_set("%s: describe: %s '%s': the table has no end (key NULL)", where,
                          kn, name);
            return DLH_EPLUGIN;
        }
    }
    c->params = params;
    c->n_params = n;
    return 0;
}

const dlh_param_doc *dlh_component_param(const dlh_component *c, const char *key)
{
    for (size_t i = 0; c && key && i < c->n_params; i++)
        if (strcmp(c->params[i].key, key) == 0)
            return &c->params[i];
    return NULL;
}

/* dlh_registry_find among the plugins loaded so far. */
static const dlh_component *find_loaded(dlh_kind kind, const char *name)
{
    if ((unsigned)kind >= DLH_KIND_COUNT) {
        dlh_error_set("unknown component kind %d", (int)kind);
        return NULL;
    }
    const char *kname = kinds[kind].name;
    if (!name) {
        dlh_error_set("no %s name given", kname);
        return NULL;
    }
    const char *colon = strchr(name, ':');
    if (colon)
        return find_qualified(kind, name, colon);
    const dlh_component *c = lookup(kind, name);
    if (c && !lookup_after(c))
        return c;
    if (c) {
        /* Registered by two plugins or more: the experiment must say which. */
        char list[1024];
        size_t k = 0;
        list[0] = '\0';
        const char *first = NULL;
        for (size_t i = 0; i < n_components && k < sizeof list; i++) {
            const dlh_component *t = components[i];
            if (t->kind != kind || strcmp(t->name, name) != 0)
                continue;
            const char *pn = t->plugin ? t->plugin->info.name : "builtin";
            first = first ? first : pn;
            k += (size_t)snprintf(list + k, sizeof list - k, "%s%s (plugin '%s')",
                                  k ? ", " : "", plugin_where(t->plugin), pn);
        }
        dlh_error_set("%s '%s' is registered by more than one plugin: %s; name the one "
                      "to use, e.g. type = \"%s:%s\"", kname, name, list, first, name);
        return NULL;
    }

    size_t n = 0;
    for (size_t i = 0; i < n_components; i++)
        n += components[i]->kind == kind;
    if (n == 0) {
        dlh_error_set("unknown %s '%s': no %s plugin is loaded (searched %s)", kname, name,
                      kname, dlh_plugin_dirs());
        return NULL;
    }
    const char **names = malloc(n * sizeof *names);
    if (!names) {
        dlh_error_set("unknown %s '%s'", kname, name);
        return NULL;
    }
    n = 0;
    for (size_t i = 0; i < n_components; i++) {
        if (components[i]->kind == kind)
            names[n++] = components[i]->name;
    }
    const char *near = dlh_closest(name, names, n);
    if (near) {
        dlh_error_set("unknown %s '%s' (did you mean '%s'?)", kname, name, near);
    } else {
        /* No close match: list what there is, the next best help. */
        char list[512];
        size_t used = 0;
        list[0] = '\0';
        for (size_t i = 0; i < n; i++) {
            size_t room = sizeof list - used;
            int w = snprintf(list + used, room, "%s%s", i ? ", " : "", names[i]);
            if (w < 0 || (size_t)w >= room) {
                strcpy(list + sizeof list - 4, "...");
                break;
            }
            used += (size_t)w;
        }
        dlh_error_set("unknown %s '%s' (known: %s)", kname, name, list);
    }
    free(names);
    return NULL;
}

const dlh_component *dlh_registry_find(dlh_kind kind, const char *name)
{
    int named = (unsigned)kind < DLH_KIND_COUNT && name;
    if (named) {
        const char *colon = strchr(name, ':');
        dlh_manifest_want(kind, colon ? colon + 1 : name);
    }
    const dlh_component *c = find_loaded(kind, name);
    /* Not where the manifest says: a plugin installed since may have it. */
    if (!c && named && dlh_manifest_load_rest())
        c = find_loaded(kind, name);
    return c;
}

void dlh_registry_sort(long (*rank)(const dlh_component *c))
{
    for (size_t i = 1; i < n_components; i++) {
        dlh_component *c = components[i];
        long r = rank(c);
        size_t j = i;
        for (; j > 0 && rank(components[j - 1]) > r; j--)
            components[j] = components[j - 1];
        components[j] = c;
    }
}

size_t dlh_registry_count(void)
{
    return n_components;
}

const dlh_component *dlh_registry_at(size_t i)
{
    return i < n_components ? components[i] : NULL;
}

void dlh_registry_truncate(size_t n)
{
    while (n_components > n)
        component_free(components[--n_components]);
    if (n_components == 0) {
        free(components);
        components = NULL;
        cap_components = 0;
    }
}

/* Probes, then creates an instance; `params` NULL gets an empty group so
   the backend sees its defaults. */
int dlh_backend_open(const char *name, dlh_params *params, dlh_backend **out)
{
    *out = NULL;
    const dlh_component *c = dlh_registry_find(DLH_KIND_BACKEND, name);
    if (!c)
        return DLH_ECONFIG;
    const dlh_backend_ops *ops = c->ops;
    const dlh_host *host = dlh_host_table();
    if (ops->probe) {
        dlh_error_clear();
        int usable = ops->probe(host);
        if (usable < 0) {
            dlh_error_prefix("backend '%s': probe failed: ", c->name);
            return usable;
        }
        if (usable == 0) {
            /* The probe may have said why ("no OpenCL platform found"). */
            if (*dlh_error_get())
                dlh_error_prefix("backend '%s' is not usable on this machine: ", c->name);
            else
                dlh_error_set("backend '%s' is not usable on this machine", c->name);
            return DLH_EDEVICE;
        }
    }

    dlh_backend *be = calloc(1, sizeof *be);
    dlh_params *own = NULL;
    if (!params) {
        char label[NAME_MAX_LEN + 16];
        snprintf(label, sizeof label, "backend '%s'", c->name);
        params = own = dlh_params_empty(NULL, label);
    }
    if (!be || !params) {
        free(be);
        dlh_params_free(own);
        dlh_error_set("backend '%s': out of memory", c->name);
        return DLH_ENOMEM;
    }
    dlh_params_set_doc(params, c->params, c->n_params);
    dlh_error_clear();
    void *ctx = NULL;
    int rc = ops->create(host, params, &ctx);
    dlh_params_free(own);
    if (rc < 0) {
        if (!*dlh_error_get())
            dlh_error_set("%s", dlh_strerror(rc));
        /* A parameter error already reads "file:line: backend 'x': ...". */
        char label[NAME_MAX_LEN + 16];
        snprintf(label, sizeof label, "backend '%s': ", c->name);
        if (!strstr(dlh_error_get(), label))
            dlh_error_prefix("%s", label);
        ops->destroy(ctx);          /* the contract: always, even after a failed create */
        free(be);
        return rc;
    }
    be->ops = ops;
    be->ctx = ctx;
    be->name = c->name;
    *out = be;
    return 0;
}

void dlh_backend_close(dlh_backend *be)
{
    if (!be)
        return;
    be->ops->destroy(be->ctx);
    free(be);
}
