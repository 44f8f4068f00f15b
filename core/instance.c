/* Component instances: create a registered layer, loss or optimiser, record
 * what it declares, and allocate and initialise that memory on the backend
 * once, so that forward, backward and step never allocate. */
#include "instance.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hash.h"
#include "init.h"
#include "params.h"
#include "registry.h"

/* Random-stream purpose of parameter initialisation (host->rng_stream). */
#define INST_RNG_INIT 1
/* Random-stream purpose of a layer's per-step draws (dropout, noise). */
#define INST_RNG_LAYER_STEP 2

static char *inst_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* A layer's name keys its random streams, so inserting a layer elsewhere in
   the model leaves this one's weights unchanged. */
static uint64_t inst_fnv1a(const char *s)
{
    return dlh_fnv1a64_str(DLH_FNV1A64_INIT, s);
}

/* Whether msg already begins with a location ("exp.cfg:14: ...").  Such
   messages come from parameter accessors and already name the component. */
static int inst_has_location(const char *msg)
{
    const char *colon = strchr(msg, ':');
    if (!colon || colon == msg)
        return 0;
    /* "ew:LINE:COL:" locates a kernel's text, not the experiment. */
    if (colon - msg == 2 && strncmp(msg, "ew", 2) == 0)
        return 0;
    for (const char *p = msg; p < colon; p++)
        if (isspace((unsigned char)*p))
            return 0;
    const char *d = colon + 1;
    if (!isdigit((unsigned char)*d))
        return 0;
    while (isdigit((unsigned char)*d))
        d++;
    return *d == ':';
}

static void inst_prefix(const char *what, const char *name)
{
    if (!inst_has_location(dlh_error_get()))
        dlh_error_prefix("%s '%s': ", what, name);
}

/* ------------------------------------------------------------ tensors */

static int shape_valid(int ndim, const int64_t *shape, int64_t *numel)
{
    if (ndim < 0 || ndim > DLH_MAX_DIMS)
        return 0;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1 || n > INT64_MAX / shape[i])
            return 0;
        n *= shape[i];
    }
    *numel = n;
    return 1;
}

int dlh_tensor_alloc(const dlh_backend *be, int ndim, const int64_t *shape,
                     dlh_tensor *out)
{
    int64_t n;
    memset(out, 0, sizeof *out);
    if (!shape_valid(ndim, shape, &n)) {
        dlh_error_set("invalid tensor shape (%d dimensions)", ndim);
        return DLH_ESHAPE;
    }
    if ((uint64_t)n > SIZE_MAX / sizeof(float)) {
        dlh_error_set("tensor of %lld elements is too large", (long long)n);
        return DLH_ENOMEM;
    }
    dlh_buffer *buf = NULL;
    int rc = be->ops->alloc(be->ctx, (size_t)n * sizeof(float), &buf);
    if (rc < 0)
        return rc;
    out->mem.buf = buf;
    out->mem.off = 0;
    out->dtype = DLH_F32;
    out->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        out->shape[i] = shape[i];
    return 0;
}

void dlh_tensor_free(const dlh_backend *be, dlh_tensor *t)
{
    if (t && t->mem.buf)
        be->ops->free(be->ctx, t->mem.buf);
    if (t)
        t->mem.buf = NULL;
}

static int tensor_zero(const dlh_backend *be, const dlh_tensor *t)
{
    return be->ops->fill(be->ctx, t->mem, (size_t)dlh_tensor_numel(t), 0.0f);
}

/* ------------------------------------------------------------ declarations */

typedef struct inst_decl {
    char *name;
    dlh_shape shape;
    dlh_init_spec init;
} inst_decl;

typedef struct inst_scratch_decl {
    int64_t per_sample, fixed;
} inst_scratch_decl;

/* What create declared, gathered by the setup callbacks. */
typedef struct inst_decls {
    inst_decl *params, *buffers, *counters;     /* counters: shape and init unused */
    int n_params, n_buffers, n_counters;
    inst_scratch_decl *scratch;
    int n_scratch;
} inst_decls;

static void decls_free(inst_decls *d)
{
    for (int i = 0; i < d->n_params; i++)
        free(d->params[i].name);
    for (int i = 0; i < d->n_buffers; i++)
        free(d->buffers[i].name);
    for (int i = 0; i < d->n_counters; i++)
        free(d->counters[i].name);
    free(d->params);
    free(d->buffers);
    free(d->counters);
    free(d->scratch);
    memset(d, 0, sizeof *d);
}

/* Appends declaration `name` to params (kind 0), buffers (1) or counters
   (2), which share one namespace: all become "<layer>.<name>". */
static int decl_push(inst_decls *d, int kind, const char *what, const char *name,
                     const dlh_shape *shape, const dlh_init_spec *def, int *index)
{
    for (int i = 0; i < d->n_params; i++)
        if (strcmp(d->params[i].name, name) == 0)
            goto duplicate;
    for (int i = 0; i < d->n_buffers; i++)
        if (strcmp(d->buffers[i].name, name) == 0)
            goto duplicate;
    for (int i = 0; i < d->n_counters; i++)
        if (strcmp(d->counters[i].name, name) == 0)
            goto duplicate;

    inst_decl **arr = kind == 2 ? &d->counters : kind ? &d->buffers : &d->params;
    int *count = kind == 2 ? &d->n_counters : kind ? &d->n_buffers : &d->n_params;
    inst_decl *grown = realloc(*arr, (size_t)(*count + 1) * sizeof *grown);
    if (!grown) {
        dlh_error_set("%s: out of memory", what);
        return DLH_ENOMEM;
    }
    *arr = grown;
    inst_decl *e = &grown[*count];
    e->name = inst_strdup(name);
    if (!e->name) {
        dlh_error_set("%s: out of memory", what);
        return DLH_ENOMEM;
    }
    e->shape = *shape;
    e->init = *def;
    if (index)
        *index = *count;
    (*count)++;
    return 0;

duplicate:
    dlh_error_set("%s: tensor '%s' is declared twice", what, name);
    return DLH_EINVAL;
}

static int decl_add(inst_decls *d, int buffer, const char *name, const dlh_shape *shape,
                    const dlh_init_spec *def, int *index)
{
    const char *what = buffer ? "add_buffer" : "add_param";
    int64_t n;
    if (!name || !*name || !shape) {
        dlh_error_set("%s: a tensor needs a name and a shape", what);
        return DLH_EINVAL;
    }
    if (!shape_valid(shape->ndim, shape->dim, &n)) {
        dlh_error_set("%s: tensor '%s' has an invalid shape (%d dimensions, each >= 1 "
                      "expected)", what, name, (int)shape->ndim);
        return DLH_ESHAPE;
    }
    if (def->kind < 0 || def->kind >= DLH_INIT_KIND_COUNT) {
        dlh_error_set("%s: tensor '%s' has an unknown initialiser kind %d", what, name,
                      (int)def->kind);
        return DLH_EINVAL;
    }
    if (dlh_init_spec_check(def) < 0) {
        dlh_error_prefix("%s: tensor '%s': ", what, name);
        return DLH_EINVAL;
    }
    return decl_push(d, buffer, what, name, shape, def, index);
}

static int decl_scratch(inst_decls *d, int64_t per_sample, int64_t fixed, int *index)
{
    if (per_sample < 0 || fixed < 0) {
        dlh_error_set("add_scratch: negative size (per sample %lld, fixed %lld)",
                      (long long)per_sample, (long long)fixed);
        return DLH_EINVAL;
    }
    inst_scratch_decl *grown = realloc(d->scratch, (size_t)(d->n_scratch + 1) *
                                       sizeof *grown);
    if (!grown) {
        dlh_error_set("add_scratch: out of memory");
        return DLH_ENOMEM;
    }
    d->scratch = grown;
    grown[d->n_scratch].per_sample = per_sample;
    grown[d->n_scratch].fixed = fixed;
    if (index)
        *index = d->n_scratch;
    d->n_scratch++;
    return 0;
}

static int layer_add_param(dlh_layer_setup *s, const char *name, const dlh_shape *shape,
                           dlh_init def, int *index)
{
    dlh_init_spec spec = dlh_init_spec_from(def);
    return decl_add(s->host_ctx, 0, name, shape, &spec, index);
}

static int layer_add_buffer(dlh_layer_setup *s, const char *name, const dlh_shape *shape,
                            dlh_init def, int *index)
{
    dlh_init_spec spec = dlh_init_spec_from(def);
    return decl_add(s->host_ctx, 1, name, shape, &spec, index);
}

static int layer_add_spec(dlh_layer_setup *s, int buffer, const char *name,
                          const dlh_shape *shape, const dlh_init_spec *def, int *index)
{
    dlh_init_spec spec;
    if (dlh_init_spec_copy(def, &spec) < 0) {
        dlh_error_prefix("%s: tensor '%s': ", buffer ? "add_buffer_spec" : "add_param_spec",
                         name ? name : "?");
        return DLH_EINVAL;
    }
    return decl_add(s->host_ctx, buffer, name, shape, &spec, index);
}

static int layer_add_param_spec(dlh_layer_setup *s, const char *name, const dlh_shape *shape,
                                const dlh_init_spec *def, int *index)
{
    return layer_add_spec(s, 0, name, shape, def, index);
}

static int layer_add_buffer_spec(dlh_layer_setup *s, const char *name,
                                 const dlh_shape *shape, const dlh_init_spec *def,
                                 int *index)
{
    return layer_add_spec(s, 1, name, shape, def, index);
}

static int layer_add_scratch(dlh_layer_setup *s, int64_t per_sample, int64_t fixed,
                             int *index)
{
    return decl_scratch(s->host_ctx, per_sample, fixed, index);
}

static int layer_add_counter(dlh_layer_setup *s, const char *name, int *index)
{
    if (!name || !*name) {
        dlh_error_set("add_counter: a counter needs a name");
        return DLH_EINVAL;
    }
    const dlh_shape scalar = { 0, { 0 } };
    const dlh_init_spec zero = dlh_init_spec_of(DLH_INIT_ZEROS);
    return decl_push(s->host_ctx, 2, "add_counter", name, &scalar, &zero, index);
}

static int loss_add_scratch(dlh_loss_setup *s, int64_t per_sample, int64_t fixed,
                            int *index)
{
    return decl_scratch(s->host_ctx, per_sample, fixed, index);
}

/* Allocates the scratch tensors of `d` for max_batch samples. */
static int scratch_alloc(const dlh_backend *be, const inst_decls *d, int64_t max_batch,
                         dlh_tensor **tensors, int64_t **per_sample, int64_t **fixed)
{
    if (d->n_scratch == 0)
        return 0;
    *tensors = calloc((size_t)d->n_scratch, sizeof **tensors);
    *per_sample = calloc((size_t)d->n_scratch, sizeof **per_sample);
    *fixed = calloc((size_t)d->n_scratch, sizeof **fixed);
    if (!*tensors || !*per_sample || !*fixed) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    for (int i = 0; i < d->n_scratch; i++) {
        int64_t ps = d->scratch[i].per_sample, fx = d->scratch[i].fixed;
        if ((ps > 0 && max_batch > (INT64_MAX - fx) / ps)) {
            dlh_error_set("scratch of %lld floats per sample for %lld samples is too "
                          "large", (long long)ps, (long long)max_batch);
            return DLH_ENOMEM;
        }
        /* Allocate at least one float so every scratch has a real buffer. */
        int64_t n = ps * max_batch + fx;
        if (n < 1)
            n = 1;
        int rc = dlh_tensor_alloc(be, 1, &n, &(*tensors)[i]);
        if (rc < 0)
            return rc;
        (*per_sample)[i] = ps;
        (*fixed)[i] = fx;
    }
    return 0;
}

static void scratch_free(const dlh_backend *be, int n, dlh_tensor *tensors)
{
    if (tensors)
        for (int i = 0; i < n; i++)
            dlh_tensor_free(be, &tensors[i]);
    free(tensors);
}

/* Views of each scratch sized for `batch` samples. */
static void scratch_views(int n, const dlh_tensor *scratch, const int64_t *per_sample,
                          const int64_t *fixed, int64_t batch, dlh_tensor *views)
{
    for (int i = 0; i < n; i++) {
        views[i] = scratch[i];
        views[i].ndim = 1;
        views[i].shape[0] = per_sample[i] * batch + fixed[i];
    }
}

/* ------------------------------------------------------------ layers */

/* The override for tensor `name`, or NULL. */
static const dlh_init_override *layer_override(const dlh_init_override *ov, int n,
                                               const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(ov[i].tensor, name) == 0)
            return &ov[i];
    return NULL;
}

/* "file:line: layer 'fc1': init.alpha: " in front of the message. */
static void layer_override_prefix(const char *layer, const dlh_init_override *o)
{
    if (o->where[0])
        dlh_error_prefix("%s: layer '%s': %s: ", o->where, layer, o->key);
    else
        dlh_error_prefix("layer '%s': %s: ", layer, o->key);
}

/* Every override must name a tensor the layer declared. */
static int layer_check_overrides(const char *layer, const inst_decls *d,
                                 const dlh_init_override *ov, int n)
{
    for (int i = 0; i < n; i++) {
        int found = ov[i].optional;
        for (int j = 0; !found && j < d->n_params; j++)
            found = strcmp(d->params[j].name, ov[i].tensor) == 0;
        for (int j = 0; !found && j < d->n_buffers; j++)
            found = strcmp(d->buffers[j].name, ov[i].tensor) == 0;
        if (found)
            continue;
        char names[512] = "";
        size_t k = 0;
        for (int j = 0; j < d->n_params + d->n_buffers && k < sizeof names; j++)
            k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", j ? ", " : "",
                                  j < d->n_params ? d->params[j].name
                                                  : d->buffers[j - d->n_params].name);
        dlh_error_set("the layer has no tensor '%s' to initialise; %s%s", ov[i].tensor,
                      k ? "its tensors are " : "it has no tensors", names);
        layer_override_prefix(layer, &ov[i]);
        return DLH_ECONFIG;
    }
    return 0;
}

static int layer_alloc_tensors(dlh_layer_inst *l, const inst_decls *d,
                               const dlh_init_override *ov, int n_ov, uint64_t seed)
{
    const dlh_backend *be = l->backend;
    const dlh_host *host = dlh_host_table();
    uint64_t key = inst_fnv1a(l->name);
    int rc;

    l->params = calloc((size_t)d->n_params + 1, sizeof *l->params);
    l->buffers = calloc((size_t)d->n_buffers + 1, sizeof *l->buffers);
    l->param_values = calloc((size_t)d->n_params + 1, sizeof *l->param_values);
    l->param_grads = calloc((size_t)d->n_params + 1, sizeof *l->param_grads);
    l->buffer_values = calloc((size_t)d->n_buffers + 1, sizeof *l->buffer_values);
    if (!l->params || !l->buffers || !l->param_values || !l->param_grads ||
        !l->buffer_values) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }

    for (int i = 0; i < d->n_params; i++) {
        const inst_decl *e = &d->params[i];
        dlh_named_tensor *p = &l->params[i];
        p->name = inst_strdup(e->name);
        if (!p->name) {
            dlh_error_set("out of memory");
            return DLH_ENOMEM;
        }
        l->n_params = i + 1;
        const dlh_init_override *o = layer_override(ov, n_ov, e->name);
        p->init = o ? o->spec : e->init;
        if ((rc = dlh_tensor_alloc(be, e->shape.ndim, e->shape.dim, &p->value)) < 0 ||
            (rc = dlh_tensor_alloc(be, e->shape.ndim, e->shape.dim, &p->grad)) < 0 ||
            (rc = tensor_zero(be, &p->grad)) < 0)
            return rc;
        rc = dlh_init_fill_spec(be, &p->value, &p->init, seed,
                                host->rng_stream(INST_RNG_INIT, key, (uint64_t)i));
        if (rc < 0) {
            dlh_error_prefix("parameter '%s': ", e->name);
            if (o)
                layer_override_prefix(l->name, o);
            return rc;
        }
        l->param_values[i] = p->value;
        l->param_grads[i] = p->grad;
    }
    for (int i = 0; i < d->n_buffers; i++) {
        const inst_decl *e = &d->buffers[i];
        dlh_named_tensor *b = &l->buffers[i];
        b->name = inst_strdup(e->name);
        if (!b->name) {
            dlh_error_set("out of memory");
            return DLH_ENOMEM;
        }
        l->n_buffers = i + 1;
        const dlh_init_override *o = layer_override(ov, n_ov, e->name);
        b->init = o ? o->spec : e->init;
        if ((rc = dlh_tensor_alloc(be, e->shape.ndim, e->shape.dim, &b->value)) < 0)
            return rc;
        /* Buffers draw after the parameters: streams n_params + i. */
        rc = dlh_init_fill_spec(be, &b->value, &b->init, seed,
                                host->rng_stream(INST_RNG_INIT, key,
                                                 (uint64_t)(d->n_params + i)));
        if (rc < 0) {
            dlh_error_prefix("buffer '%s': ", e->name);
            if (o)
                layer_override_prefix(l->name, o);
            return rc;
        }
        l->buffer_values[i] = b->value;
    }
    l->counter_names = calloc((size_t)d->n_counters + 1, sizeof *l->counter_names);
    l->counters = calloc((size_t)d->n_counters + 1, sizeof *l->counters);
    if (!l->counter_names || !l->counters) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    for (int i = 0; i < d->n_counters; i++) {
        if (!(l->counter_names[i] = inst_strdup(d->counters[i].name))) {
            dlh_error_set("out of memory");
            return DLH_ENOMEM;
        }
        l->n_counters = i + 1;
    }
    rc = scratch_alloc(be, d, l->max_batch, &l->scratch, &l->scratch_per_sample,
                       &l->scratch_fixed);
    l->n_scratch = d->n_scratch;
    return rc;
}

int dlh_layer_new(const dlh_backend *be, const char *type, const char *name,
                  dlh_params *params, int n_inputs, const dlh_shape *inputs,
                  int64_t max_batch, const dlh_init *init_override, uint64_t seed,
                  dlh_layer_inst **out)
{
    dlh_init_override o;
    memset(&o, 0, sizeof o);
    if (init_override) {
        o.tensor = "weight";
        snprintf(o.key, sizeof o.key, "init");
        o.optional = 1;
        o.spec = dlh_init_spec_from(*init_override);
    }
    return dlh_layer_new_ex(be, type, name, params, n_inputs, inputs, max_batch, &o,
                            init_override ? 1 : 0, seed, out);
}

int dlh_layer_new_ex(const dlh_backend *be, const char *type, const char *name,
                     dlh_params *params, int n_inputs, const dlh_shape *inputs,
                     int64_t max_batch, const dlh_init_override *overrides, int n_overrides,
                     uint64_t seed, dlh_layer_inst **out)
{
    *out = NULL;
    if (!name)
        name = type ? type : "?";
    if (!be || !type || !params || n_inputs < 0 || (n_inputs > 0 && !inputs) ||
        max_batch < 1) {
        dlh_error_set("layer '%s': invalid arguments to dlh_layer_new", name);
        return DLH_EINVAL;
    }
    const dlh_component *comp = dlh_registry_find(DLH_KIND_LAYER, type);
    if (!comp) {
        inst_prefix("layer", name);
        return DLH_ENOTFOUND;
    }
    dlh_layer_inst *l = calloc(1, sizeof *l);
    if (!l || !(l->name = inst_strdup(name))) {
        free(l);
        dlh_error_set("layer '%s': out of memory", name);
        return DLH_ENOMEM;
    }
    l->ops = comp->ops;
    l->backend = be;
    l->max_batch = max_batch;

    inst_decls d = { 0 };
    dlh_layer_setup setup;
    memset(&setup, 0, sizeof setup);
    setup.struct_size = sizeof setup;
    setup.name = l->name;
    setup.params = params;
    setup.backend = be;
    setup.n_inputs = n_inputs;
    setup.inputs = inputs;
    setup.add_param = layer_add_param;
    setup.add_buffer = layer_add_buffer;
    setup.add_scratch = layer_add_scratch;
    setup.host_ctx = &d;
    setup.add_param_spec = layer_add_param_spec;
    setup.add_buffer_spec = layer_add_buffer_spec;
    setup.add_counter = layer_add_counter;

    dlh_params_set_doc(params, comp->params, comp->n_params);
    dlh_error_clear();
    int rc = l->ops->create(dlh_host_table(), &setup, &l->state);
    int64_t n_out;
    if (rc == 0 && !shape_valid(setup.output.ndim, setup.output.dim, &n_out)) {
        dlh_error_set("create returned an invalid output shape (%d dimensions)",
                      (int)setup.output.ndim);
        rc = DLH_EPLUGIN;
    }
    if (rc > 0) {
        dlh_error_set("create returned %d (0 or a negative DLH_E* code expected)", rc);
        rc = DLH_EPLUGIN;
    }
    if (rc == 0)
        rc = dlh_params_check_unused(params);
    if (rc < 0) {
        if (!*dlh_error_get())
            dlh_error_set("%s", dlh_strerror(rc));
        inst_prefix("layer", name);
        goto fail;
    }
    l->output = setup.output;
    l->overwrites_grads = setup.overwrites_grads != 0;
    l->output_is_view = setup.output_is_view != 0 && setup.n_inputs == 1 &&
                        n_out == dlh_shape_numel(&setup.inputs[0]);
    l->is_relu = setup.is_relu != 0 && setup.n_inputs == 1 &&
                 n_out == dlh_shape_numel(&setup.inputs[0]);
    l->accepts_input_relu = setup.accepts_input_relu != 0 && setup.n_inputs == 1;
    l->accepts_output_relu = setup.accepts_output_relu != 0;
    if ((rc = layer_check_overrides(l->name, &d, overrides, n_overrides)) < 0 ||
        (rc = layer_alloc_tensors(l, &d, overrides, n_overrides, seed)) < 0) {
        inst_prefix("layer", name);
        goto fail;
    }
    decls_free(&d);
    *out = l;
    return 0;

fail:
    decls_free(&d);
    dlh_layer_free(l);
    return rc;
}

void dlh_layer_free(dlh_layer_inst *l)
{
    if (!l)
        return;
    /* destroy runs even after a failed create (the contract of layer.h). */
    if (l->ops && l->ops->destroy)
        l->ops->destroy(l->state);
    const dlh_backend *be = l->backend;
    if (l->params)
        for (int i = 0; i < l->n_params; i++) {
            dlh_tensor_free(be, &l->params[i].value);
            dlh_tensor_free(be, &l->params[i].grad);
            free(l->params[i].name);
        }
    if (l->buffers)
        for (int i = 0; i < l->n_buffers; i++) {
            dlh_tensor_free(be, &l->buffers[i].value);
            free(l->buffers[i].name);
        }
    for (int i = 0; l->counter_names && i < l->n_counters; i++)
        free(l->counter_names[i]);
    free(l->counter_names);
    free(l->counters);
    scratch_free(be, l->n_scratch, l->scratch);
    free(l->params);
    free(l->buffers);
    free(l->param_values);
    free(l->param_grads);
    free(l->buffer_values);
    free(l->scratch_per_sample);
    free(l->scratch_fixed);
    free(l->name);
    free(l);
}

void dlh_layer_ctx_fill(dlh_layer_inst *l, int64_t batch, int training, int64_t step,
                        uint64_t seed, dlh_layer_ctx *ctx, dlh_tensor *views)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->struct_size = sizeof *ctx;
    ctx->backend = l->backend;
    ctx->batch = batch;
    ctx->training = training;
    ctx->step = step;
    ctx->seed = seed;
    /* Keyed by name and step: a layer's draws do not depend on its position. */
    ctx->stream = dlh_host_table()->rng_stream(INST_RNG_LAYER_STEP, inst_fnv1a(l->name),
                                               (uint64_t)step);
    ctx->params = l->param_values;
    ctx->grads = l->param_grads;
    ctx->buffers = l->buffer_values;
    ctx->counters = l->counters;
    if (l->n_scratch > 0 && views)
        scratch_views(l->n_scratch, l->scratch, l->scratch_per_sample,
                      l->scratch_fixed, batch, views);
    ctx->scratch = l->n_scratch > 0 ? views : NULL;
}

int dlh_layer_zero_grad(dlh_layer_inst *l)
{
    for (int i = 0; i < l->n_params; i++) {
        int rc = tensor_zero(l->backend, &l->params[i].grad);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ losses */

int dlh_loss_new(const dlh_backend *be, const char *type, dlh_params *params,
                 const dlh_shape *prediction, int target_kind, int64_t n_classes,
                 int64_t max_batch, dlh_loss_inst **out)
{
    return dlh_loss_new_target(be, type, params, prediction, target_kind, NULL, n_classes,
                               max_batch, out);
}

int dlh_loss_new_target(const dlh_backend *be, const char *type, dlh_params *params,
                        const dlh_shape *prediction, int target_kind,
                        const dlh_shape *target, int64_t n_classes, int64_t max_batch,
                        dlh_loss_inst **out)
{
    *out = NULL;
    const char *name = type ? type : "?";
    int64_t n_pred;
    if (!be || !type || !params || !prediction || max_batch < 1 ||
        !shape_valid(prediction->ndim, prediction->dim, &n_pred)) {
        dlh_error_set("loss '%s': invalid arguments to dlh_loss_new", name);
        return DLH_EINVAL;
    }
    const dlh_component *comp = dlh_registry_find(DLH_KIND_LOSS, type);
    if (!comp)
        return DLH_ENOTFOUND;
    const dlh_loss_ops *ops = comp->ops;
    int64_t n_target;
    if (target_kind == DLH_TARGET_DENSE && target &&
        (!shape_valid(target->ndim, target->dim, &n_target) ||
         (!(ops->flags & DLH_LOSS_TARGET_SHAPE) &&
          (target->ndim != prediction->ndim ||
           memcmp(target->dim, prediction->dim,
                  (size_t)target->ndim * sizeof target->dim[0]) != 0)))) {
        dlh_error_set("loss '%s': dense targets must have the prediction's shape", name);
        return DLH_ESHAPE;
    }
    dlh_loss_inst *l = calloc(1, sizeof *l);
    if (!l) {
        dlh_error_set("loss '%s': out of memory", name);
        return DLH_ENOMEM;
    }
    l->ops = comp->ops;
    l->backend = be;
    l->max_batch = max_batch;

    inst_decls d = { 0 };
    dlh_loss_setup setup;
    memset(&setup, 0, sizeof setup);
    setup.struct_size = sizeof setup;
    setup.params = params;
    setup.backend = be;
    setup.prediction = *prediction;
    setup.target_kind = target_kind;
    if (target_kind == DLH_TARGET_DENSE)
        setup.target = target ? *target : *prediction;
    setup.n_classes = n_classes;
    setup.add_scratch = loss_add_scratch;
    setup.host_ctx = &d;

    dlh_params_set_doc(params, comp->params, comp->n_params);
    dlh_error_clear();
    int rc = l->ops->create(dlh_host_table(), &setup, &l->state);
    if (rc > 0) {
        dlh_error_set("create returned %d (0 or a negative DLH_E* code expected)", rc);
        rc = DLH_EPLUGIN;
    }
    if (rc == 0)
        rc = dlh_params_check_unused(params);
    if (rc == 0)
        rc = scratch_alloc(be, &d, max_batch, &l->scratch, &l->scratch_per_sample,
                           &l->scratch_fixed);
    l->n_scratch = d.n_scratch;
    decls_free(&d);
    if (rc < 0) {
        if (!*dlh_error_get())
            dlh_error_set("%s", dlh_strerror(rc));
        inst_prefix("loss", name);
        dlh_loss_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

void dlh_loss_free(dlh_loss_inst *l)
{
    if (!l)
        return;
    if (l->ops && l->ops->destroy)
        l->ops->destroy(l->state);
    scratch_free(l->backend, l->n_scratch, l->scratch);
    free(l->scratch_per_sample);
    free(l->scratch_fixed);
    free(l);
}

void dlh_loss_ctx_fill(dlh_loss_inst *l, int64_t batch, dlh_loss_ctx *ctx,
                       dlh_tensor *views)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->struct_size = sizeof *ctx;
    ctx->backend = l->backend;
    ctx->batch = batch;
    if (l->n_scratch > 0 && views)
        scratch_views(l->n_scratch, l->scratch, l->scratch_per_sample,
                      l->scratch_fixed, batch, views);
    ctx->scratch = l->n_scratch > 0 ? views : NULL;
    /* All 1 until the batcher carries weights; only a loss with
       DLH_LOSS_SAMPLE_WEIGHTS may be given any. */
    ctx->sample_weights = NULL;
}

/* ------------------------------------------------------------ optimisers */

/* A name not yet declared as a state, a scalar or a global; "step" is the
   core's. */
static int optimizer_name_free(const dlh_optimizer_inst *o, const char *what,
                               const char *name)
{
    if (!name || !*name) {
        dlh_error_set("%s: a state needs a name", what);
        return DLH_EINVAL;
    }
    int taken = strcmp(name, "step") == 0;
    for (int i = 0; !taken && i < o->n_states; i++)
        taken = strcmp(o->state_names[i], name) == 0;
    for (int i = 0; !taken && i < o->n_scalars; i++)
        taken = strcmp(o->scalar_names[i], name) == 0;
    for (int i = 0; !taken && i < o->n_globals; i++)
        taken = strcmp(o->global_decl[i].name, name) == 0;
    if (taken) {
        dlh_error_set("%s: state '%s' is %s", what, name,
                      strcmp(name, "step") == 0 ? "the core's step count" : "declared twice");
        return DLH_EINVAL;
    }
    return 0;
}

/* Appends name and value to a names/values pair of arrays of *n entries. */
static int optimizer_append(const char *what, char ***names, float **values, int *n,
                            const char *name, float value, int *index)
{
    char **grown = realloc(*names, (size_t)(*n + 1) * sizeof *grown);
    if (grown)
        *names = grown;
    float *vals = grown ? realloc(*values, (size_t)(*n + 1) * sizeof *vals) : NULL;
    if (vals)
        *values = vals;
    if (!grown || !vals || !(grown[*n] = inst_strdup(name))) {
        dlh_error_set("%s: out of memory", what);
        return DLH_ENOMEM;
    }
    vals[*n] = value;
    if (index)
        *index = *n;
    (*n)++;
    return 0;
}

static int optimizer_add_state_value(dlh_optimizer_setup *s, const char *name, float value,
                                     int *index)
{
    dlh_optimizer_inst *o = s->host_ctx;
    int rc = optimizer_name_free(o, "add_state", name);
    if (rc == 0 && !isfinite(value)) {
        dlh_error_set("add_state: state '%s' starts at %g, not a finite number", name,
                      (double)value);
        rc = DLH_EINVAL;
    }
    return rc < 0 ? rc : optimizer_append("add_state", &o->state_names, &o->state_values,
                                          &o->n_states, name, value, index);
}

static int optimizer_add_state(dlh_optimizer_setup *s, const char *name, int *index)
{
    return optimizer_add_state_value(s, name, 0.0f, index);
}

static int optimizer_add_scalar(dlh_optimizer_setup *s, const char *name, float value,
                                int *index)
{
    dlh_optimizer_inst *o = s->host_ctx;
    int rc = optimizer_name_free(o, "add_scalar", name);
    return rc < 0 ? rc : optimizer_append("add_scalar", &o->scalar_names,
                                          &o->scalar_values, &o->n_scalars, name, value,
                                          index);
}

static int optimizer_add_scratch(dlh_optimizer_setup *s, int64_t per_element, int64_t fixed,
                                 int *index)
{
    dlh_optimizer_inst *o = s->host_ctx;
    if (o->n_scratch >= DLH_OPT_MAX_SCRATCH) {
        dlh_error_set("add_scratch: at most %d scratch tensors", DLH_OPT_MAX_SCRATCH);
        return DLH_EINVAL;
    }
    if (per_element < 0 || fixed < 0 || per_element > 64 || fixed > ((int64_t)1 << 40) ||
        (per_element == 0 && fixed == 0)) {
        dlh_error_set("add_scratch: %lld per element + %lld floats is not a size",
                      (long long)per_element, (long long)fixed);
        return DLH_EINVAL;
    }
    o->scratch_per_element[o->n_scratch] = per_element;
    o->scratch_fixed[o->n_scratch] = fixed;
    if (index)
        *index = o->n_scratch;
    o->n_scratch++;
    return 0;
}

/* ABI 1.6.  A global's name becomes the checkpoint key "optim.<name>":
   letters, digits and '_' only, so it cannot meet "optim.<layer>.<param>...". */
static int optimizer_add_global(dlh_optimizer_setup *s, const char *name, int ndim,
                                const int64_t *shape, float value, int saved, int *index)
{
    dlh_optimizer_inst *o = s->host_ctx;
    int rc = optimizer_name_free(o, "add_global", name);
    if (rc < 0)
        return rc;
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_') {
            dlh_error_set("add_global: '%s' is not a name (letters, digits and '_')", name);
            return DLH_EINVAL;
        }
    if (ndim < 0 || ndim > DLH_MAX_DIMS || (ndim > 0 && !shape) || !isfinite(value)) {
        dlh_error_set("add_global: '%s': %d dimensions, start value %g", name, ndim,
                      (double)value);
        return DLH_EINVAL;
    }
    for (int i = 0; i < ndim; i++)
        if (shape[i] != DLH_OPT_NUMEL && !(shape[i] > 0 && shape[i] <= ((int64_t)1 << 40))) {
            dlh_error_set("add_global: '%s': dimension %d is %lld", name, i,
                          (long long)shape[i]);
            return DLH_EINVAL;
        }
    struct dlh_opt_global *grown = realloc(o->global_decl,
                                           (size_t)(o->n_globals + 1) * sizeof *grown);
    if (!grown) {
        dlh_error_set("add_global: out of memory");
        return DLH_ENOMEM;
    }
    o->global_decl = grown;
    struct dlh_opt_global *g = &grown[o->n_globals];
    memset(g, 0, sizeof *g);
    if (!(g->name = inst_strdup(name))) {
        dlh_error_set("add_global: out of memory");
        return DLH_ENOMEM;
    }
    g->value = value;
    g->saved = saved != 0;
    g->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        g->shape[i] = shape[i];
    if (index)
        *index = o->n_globals;
    o->n_globals++;
    return 0;
}

int dlh_optimizer_new(const dlh_backend *be, const char *type, dlh_params *params,
                      dlh_optimizer_inst **out)
{
    *out = NULL;
    const char *name = type ? type : "?";
    if (!be || !type || !params) {
        dlh_error_set("optimizer '%s': invalid arguments to dlh_optimizer_new", name);
        return DLH_EINVAL;
    }
    const dlh_component *comp = dlh_registry_find(DLH_KIND_OPTIMIZER, type);
    if (!comp)
        return DLH_ENOTFOUND;
    dlh_optimizer_inst *o = calloc(1, sizeof *o);
    if (!o) {
        dlh_error_set("optimizer '%s': out of memory", name);
        return DLH_ENOMEM;
    }
    o->ops = comp->ops;
    o->backend = be;

    dlh_optimizer_setup setup;
    memset(&setup, 0, sizeof setup);
    setup.struct_size = sizeof setup;
    setup.params = params;
    setup.backend = be;
    setup.add_state = optimizer_add_state;
    setup.host_ctx = o;
    setup.add_state_value = optimizer_add_state_value;
    setup.add_scalar = optimizer_add_scalar;
    setup.add_scratch = optimizer_add_scratch;
    setup.add_global = optimizer_add_global;

    dlh_params_set_doc(params, comp->params, comp->n_params);
    dlh_error_clear();
    int rc = o->ops->create(dlh_host_table(), &setup, &o->state);
    if (rc > 0) {
        dlh_error_set("create returned %d (0 or a negative DLH_E* code expected)", rc);
        rc = DLH_EPLUGIN;
    }
    if (rc == 0)
        rc = dlh_params_check_unused(params);
    if (rc == 0 && !(setup.default_lr >= 0.0 && setup.default_lr <= 1e6)) {
        dlh_error_set("create set default_lr %g (a learning rate in [0, 1e6] expected)",
                      setup.default_lr);
        rc = DLH_EPLUGIN;
    }
    o->default_lr = setup.default_lr;
    o->flags = setup.flags;
    if (rc < 0) {
        if (!*dlh_error_get())
            dlh_error_set("%s", dlh_strerror(rc));
        inst_prefix("optimizer", name);
        dlh_optimizer_free(o);
        return rc;
    }
    *out = o;
    return 0;
}

void dlh_optimizer_free(dlh_optimizer_inst *o)
{
    if (!o)
        return;
    if (o->ops && o->ops->destroy)
        o->ops->destroy(o->state);
    for (int i = 0; i < o->n_states; i++)
        free(o->state_names[i]);
    free(o->state_names);
    free(o->state_values);
    for (int i = 0; i < o->n_scalars; i++)
        free(o->scalar_names[i]);
    free(o->scalar_names);
    free(o->scalar_values);
    for (int i = 0; i < o->n_scratch; i++)
        if (o->scratch[i].mem.buf)
            dlh_tensor_free(o->backend, &o->scratch[i]);
    for (int i = 0; i < o->n_globals; i++) {
        free(o->global_decl[i].name);
        if (o->globals && o->globals[i].mem.buf)
            dlh_tensor_free(o->backend, &o->globals[i]);
    }
    free(o->global_decl);
    free(o->globals);
    free(o->params);
    free(o->grads);
    free(o);
}

int dlh_optimizer_bind(dlh_optimizer_inst *o, int n_params, int64_t numel)
{
    o->n_bound = n_params;
    size_t n = n_params > 0 ? (size_t)n_params : 1;
    if (!(o->params = calloc(n, sizeof *o->params)) ||
        !(o->grads = calloc(n, sizeof *o->grads))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    return dlh_optimizer_globals_alloc(o, numel);
}

int dlh_optimizer_globals_alloc(dlh_optimizer_inst *o, int64_t numel)
{
    o->numel = numel;
    if (o->n_globals && !(o->globals = calloc((size_t)o->n_globals, sizeof *o->globals))) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    for (int i = 0; i < o->n_globals; i++) {
        const struct dlh_opt_global *g = &o->global_decl[i];
        int64_t shape[DLH_MAX_DIMS];
        for (int d = 0; d < g->ndim; d++)
            shape[d] = g->shape[d] == DLH_OPT_NUMEL ? numel : g->shape[d];
        int rc = dlh_tensor_alloc(o->backend, g->ndim, shape, &o->globals[i]);
        if (rc == 0)
            rc = o->backend->ops->fill(o->backend->ctx, o->globals[i].mem,
                                       (size_t)dlh_tensor_numel(&o->globals[i]), g->value);
        if (rc < 0) {
            dlh_error_prefix("optimizer state '%s': ", g->name);
            return rc;
        }
    }
    return 0;
}

int dlh_optimizer_check_groups(const dlh_optimizer_inst *o, const char *type, int n_groups)
{
    if (!(o->flags & DLH_OPT_SINGLE_GROUP) || n_groups <= 1)
        return 0;
    dlh_error_set("%s doesn't support per-parameter options (parameter groups)", type);
    return DLH_ECONFIG;
}

int dlh_optimizer_states_alloc(const dlh_optimizer_inst *o, const dlh_tensor *param,
                               dlh_tensor *states)
{
    for (int i = 0; i < o->n_states; i++) {
        int rc = dlh_tensor_alloc(o->backend, param->ndim, param->shape, &states[i]);
        if (rc == 0 && o->state_values[i] == 0.0f)
            rc = tensor_zero(o->backend, &states[i]);
        else if (rc == 0)
            rc = o->backend->ops->fill(o->backend->ctx, states[i].mem,
                                       (size_t)dlh_tensor_numel(&states[i]),
                                       o->state_values[i]);
        if (rc < 0) {
            for (int j = 0; j <= i; j++)
                dlh_tensor_free(o->backend, &states[j]);
            dlh_error_prefix("optimizer state '%s': ", o->state_names[i]);
            return rc;
        }
    }
    return 0;
}

void dlh_optimizer_scalars_init(const dlh_optimizer_inst *o, float *scalars)
{
    for (int i = 0; i < o->n_scalars; i++)
        scalars[i] = o->scalar_values[i];
}

int dlh_optimizer_scratch_alloc(dlh_optimizer_inst *o, int64_t max_numel)
{
    for (int i = 0; i < o->n_scratch; i++) {
        if (o->scratch[i].mem.buf)
            dlh_tensor_free(o->backend, &o->scratch[i]);
        int64_t pe = o->scratch_per_element[i];
        if (max_numel > 0 && pe > (INT64_MAX - o->scratch_fixed[i]) / max_numel) {
            dlh_error_set("optimizer scratch %d: too large", i);
            return DLH_ENOMEM;
        }
        int64_t n = pe * max_numel + o->scratch_fixed[i];
        int rc = dlh_tensor_alloc(o->backend, 1, &n, &o->scratch[i]);
        if (rc == 0)            /* defined contents, for valgrind's sake */
            rc = tensor_zero(o->backend, &o->scratch[i]);
        if (rc < 0) {
            dlh_error_prefix("optimizer scratch %d: ", i);
            return rc;
        }
    }
    return 0;
}

void dlh_optimizer_ctx_fill(const dlh_optimizer_inst *o, dlh_optimizer_ctx *ctx,
                            int64_t numel, double lr, int64_t step, const char *name,
                            int role, float *scalars, dlh_tensor *views)
{
    ctx->lr_d = lr;
    ctx->step = step;
    ctx->name = name;
    ctx->role = role;
    ctx->group = 0;
    ctx->scalars = o->n_scalars > 0 ? scalars : NULL;
    scratch_views(o->n_scratch, o->scratch, o->scratch_per_element, o->scratch_fixed, numel,
                  views);
    ctx->scratch = o->n_scratch > 0 ? views : NULL;
}

int dlh_param_role_of(const char *name, int ndim)
{
    if (strcmp(name, "bias") == 0)
        return DLH_ROLE_BIAS;
    return ndim <= 1 ? DLH_ROLE_NORM : DLH_ROLE_WEIGHT;
}
