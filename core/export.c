/* `dlhost export --onnx` (export.h): the experiment built as `dlhost
 * predict` builds it, the checkpoint checked and loaded, then each layer the
 * primary head depends on adds its nodes through the builder of onnx.h,
 * whose calls land in onnx_write.c's model. */
#include "config.h"

#include "export.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "batcher.h"
#include "error.h"
#include "eval.h"
#include "experiment.h"
#include "graph.h"
#include "onnx_write.h"
#include "rundir.h"
#include "safetensors.h"

/* The builder handed to a layer, and what its calls need. */
typedef struct export_layer {
    dlh_onnx_builder b;
    dlh_onnx_model *m;
    const dlh_layer_inst *l;
    const dlh_backend *be;
} export_layer;

static dlh_onnx_model *model_of(dlh_onnx_builder *b)
{
    return ((export_layer *)b->host_ctx)->m;
}

static int b_node(dlh_onnx_builder *b, const char *op_type, int n_in, const char *const *in,
                  int n_out, const char *const *out)
{
    if (!op_type || !*op_type || n_in < 0 || n_out < 1 || (n_in && !in) || !out) {
        dlh_error_set("onnx: node '%s': no op_type, or no outputs",
                      op_type ? op_type : "(null)");
        return DLH_EINVAL;
    }
    for (int i = 0; i < n_out; i++)
        if (!out[i] || !*out[i]) {
            dlh_error_set("onnx: node '%s': output %d has no name", op_type, i);
            return DLH_EINVAL;
        }
    return dlh_onnx_node(model_of(b), op_type, n_in, in, n_out, out);
}

static int b_attr_int(dlh_onnx_builder *b, const char *name, int64_t v)
{
    return dlh_onnx_attr_int(model_of(b), name, v);
}

static int b_attr_ints(dlh_onnx_builder *b, const char *name, int n, const int64_t *v)
{
    return dlh_onnx_attr_ints(model_of(b), name, n, v);
}

static int b_attr_float(dlh_onnx_builder *b, const char *name, float v)
{
    return dlh_onnx_attr_float(model_of(b), name, v);
}

static int b_attr_floats(dlh_onnx_builder *b, const char *name, int n, const float *v)
{
    return dlh_onnx_attr_floats(model_of(b), name, n, v);
}

static int b_attr_string(dlh_onnx_builder *b, const char *name, const char *v)
{
    return dlh_onnx_attr_string(model_of(b), name, v);
}

static const char *b_constant(dlh_onnx_builder *b, const char *hint, int dtype, int ndim,
                              const int64_t *dims, const void *data)
{
    if (ndim < 0 || ndim > DLH_MAX_DIMS + 1 || (ndim && !dims) || !data) {
        dlh_error_set("onnx: constant '%s': bad shape or no data", hint ? hint : "");
        return NULL;
    }
    char name[192];
    snprintf(name, sizeof name, "%s.%s", b->layer, hint && *hint ? hint : "const");
    return dlh_onnx_initializer(model_of(b), name, dtype, ndim, dims, data);
}

static const char *b_value(dlh_onnx_builder *b, const char *hint)
{
    char name[192];
    snprintf(name, sizeof name, "%s.%s", b->layer, hint && *hint ? hint : "v");
    return dlh_onnx_value(model_of(b), name);
}

/* The layer's parameter or buffer `name` read back from the backend. */
static const char *b_param(dlh_onnx_builder *b, const char *name, int ndim,
                           const int64_t *dims)
{
    export_layer *x = b->host_ctx;
    const dlh_layer_inst *l = x->l;
    const dlh_tensor *t = NULL;
    for (int i = 0; i < l->n_params && !t; i++)
        if (strcmp(l->params[i].name, name) == 0)
            t = &l->params[i].value;
    for (int i = 0; i < l->n_buffers && !t; i++)
        if (strcmp(l->buffers[i].name, name) == 0)
            t = &l->buffers[i].value;
    if (!t) {
        dlh_error_set("onnx: the layer has no tensor '%s'", name);
        return NULL;
    }
    int64_t numel = dlh_tensor_numel(t), n = 1;
    for (int d = 0; d < ndim; d++)
        n *= dims[d];
    if (ndim < 0 || ndim > DLH_MAX_DIMS + 1 || (ndim > 0 && n != numel)) {
        dlh_error_set("onnx: tensor '%s' of %lld elements cannot take a shape of %lld",
                      name, (long long)numel, (long long)n);
        return NULL;
    }
    float *host = malloc((size_t)(numel ? numel : 1) * sizeof *host);
    if (!host) {
        dlh_error_set("out of memory");
        return NULL;
    }
    const char *v = NULL;
    int rc = numel ? x->be->ops->read(x->be->ctx, t->mem.buf, t->mem.off * sizeof(float),
                                      host, (size_t)numel * sizeof(float)) : 0;
    if (rc == 0) {
        char key[192];
        snprintf(key, sizeof key, "%s.%s", l->name, name);
        v = dlh_onnx_initializer(x->m, key, DLH_ONNX_FLOAT, ndim ? ndim : t->ndim,
                                 ndim ? dims : t->shape, host);
    }
    free(host);
    return v;
}

/* dims = [-1 (N), s...] */
static int batch_dims(const dlh_shape *s, int64_t *dims)
{
    dims[0] = -1;
    for (int d = 0; d < s->ndim; d++)
        dims[d + 1] = s->dim[d];
    return s->ndim + 1;
}

/* The nodes of the checkpoint's normalisation from "input" to *out. */
static int export_norm(dlh_onnx_model *m, const dlh_norm *n, const dlh_shape *s,
                       const char **out)
{
    int64_t numel = dlh_shape_numel(s);
    const char *x = "input";
    *out = x;
    if (n->kind == DLH_NORM_NONE)
        return 0;
    if (DLH_NORM_WHITENS(n->kind)) {
        int64_t d = n->dim;
        /* X' = (X - mean) W^T: W^T is the MatMul's right operand. */
        float *wt = malloc((size_t)(d * d) * sizeof *wt);
        if (!wt) {
            dlh_error_set("out of memory");
            return DLH_ENOMEM;
        }
        for (int64_t i = 0; i < d; i++)
            for (int64_t j = 0; j < d; j++)
                wt[j * d + i] = n->whiten[i * d + j];
        int64_t dd[2] = { d, d };
        const char *mean = dlh_onnx_initializer(m, DLH_WHITEN_MEAN_KEY, DLH_ONNX_FLOAT, 1,
                                                &d, n->mean);
        const char *w = mean ? dlh_onnx_initializer(m, "normalize.whiten_t", DLH_ONNX_FLOAT,
                                                    2, dd, wt) : NULL;
        free(wt);
        const char *flat = w ? dlh_onnx_value(m, "normalize.flat") : NULL;
        const char *sub = flat ? dlh_onnx_value(m, "normalize.centred") : NULL;
        const char *mm = sub ? dlh_onnx_value(m, "normalize.whitened") : NULL;
        if (!mm)
            return DLH_ENOMEM;
        int rc;
        const char *in1[] = { x }, *in2[] = { flat, mean }, *in3[] = { sub, w };
        if ((rc = dlh_onnx_node(m, "Flatten", 1, in1, 1, &flat)) ||
            (rc = dlh_onnx_attr_int(m, "axis", 1)) ||
            (rc = dlh_onnx_node(m, "Sub", 2, in2, 1, &sub)) ||
            (rc = dlh_onnx_node(m, "MatMul", 2, in3, 1, &mm)))
            return rc;
        *out = mm;
        if (s->ndim == 1)
            return 0;
        int64_t shape[DLH_MAX_DIMS + 1], nd = s->ndim + 1;
        batch_dims(s, shape);
        shape[0] = 0;           /* Reshape: copies N */
        const char *sh = dlh_onnx_initializer(m, "normalize.shape", DLH_ONNX_INT64, 1, &nd,
                                              shape);
        const char *y = sh ? dlh_onnx_value(m, "normalize.out") : NULL;
        const char *in4[] = { mm, sh };
        if (!y || (rc = dlh_onnx_node(m, "Reshape", 2, in4, 1, &y)))
            return y ? rc : DLH_ENOMEM;
        *out = y;
        return 0;
    }
    /* (x - shift) * scale per group: per channel of [C, H, W] ([C, 1, 1]),
       else per feature (the sample's shape). */
    int64_t dims[DLH_MAX_DIMS];
    int nd;
    if (n->group_stride == 1 && n->groups == numel) {
        nd = s->ndim;
        for (int d = 0; d < nd; d++)
            dims[d] = s->dim[d];
    } else if (s->ndim == 3 && n->groups == s->dim[0] &&
               n->group_stride == s->dim[1] * s->dim[2]) {
        nd = 3;
        dims[0] = n->groups;
        dims[1] = dims[2] = 1;
    } else {
        dlh_error_set("export: the normalisation statistics (%lld groups of %lld) do not "
                      "fit the sample", (long long)n->groups, (long long)n->group_stride);
        return DLH_ESHAPE;
    }
    const char *sh = dlh_onnx_initializer(m, "normalize.shift", DLH_ONNX_FLOAT, nd, dims,
                                          n->shift);
    const char *sc = sh ? dlh_onnx_initializer(m, "normalize.scale", DLH_ONNX_FLOAT, nd,
                                               dims, n->scale) : NULL;
    const char *c = sc ? dlh_onnx_value(m, "normalize.centred") : NULL;
    const char *y = c ? dlh_onnx_value(m, "normalize.out") : NULL;
    if (!y)
        return DLH_ENOMEM;
    const char *in1[] = { x, sh }, *in2[] = { c, sc };
    int rc;
    if ((rc = dlh_onnx_node(m, "Sub", 2, in1, 1, &c)) ||
        (rc = dlh_onnx_node(m, "Mul", 2, in2, 1, &y)))
        return rc;
    *out = y;
    return 0;
}

/* "probs" from "output" [N, width]: what dlh_output_probs computes. */
static int export_probs(dlh_onnx_model *m, const dlh_exp_head *h, int32_t output)
{
    const char *in[] = { "output" }, *probs = "probs";
    int rc;
    if (h->n_outputs == 1) {
        /* One output: [1 - p, p]. */
        const char *p = "output";
        if (output == DLH_LOSS_OUTPUT_LOGITS || output == DLH_LOSS_OUTPUT_LOG_PROB) {
            p = dlh_onnx_value(m, "probs.p");
            if (!p || (rc = dlh_onnx_node(m, output == DLH_LOSS_OUTPUT_LOGITS ? "Sigmoid"
                                                                              : "Exp", 1,
                                          in, 1, &p)))
                return p ? rc : DLH_ENOMEM;
        }
        float one = 1.0f;
        const char *k1 = dlh_onnx_initializer(m, "probs.one", DLH_ONNX_FLOAT, 0, NULL, &one);
        const char *q = k1 ? dlh_onnx_value(m, "probs.q") : NULL;
        if (!q)
            return DLH_ENOMEM;
        const char *in2[] = { k1, p }, *in3[] = { q, p };
        if ((rc = dlh_onnx_node(m, "Sub", 2, in2, 1, &q)) ||
            (rc = dlh_onnx_node(m, "Concat", 2, in3, 1, &probs)))
            return rc;
        return dlh_onnx_attr_int(m, "axis", 1);
    }
    if (output == DLH_LOSS_OUTPUT_PROB)
        return dlh_onnx_node(m, "Identity", 1, in, 1, &probs);
    if (output == DLH_LOSS_OUTPUT_LOG_PROB)
        return dlh_onnx_node(m, "Exp", 1, in, 1, &probs);
    if ((rc = dlh_onnx_node(m, "Softmax", 1, in, 1, &probs)))
        return rc;
    return dlh_onnx_attr_int(m, "axis", 1);
}

/* Marks in need[] the head and what it reads, back to the input; a layer
   among them without an export is DLH_EUNSUPPORTED, before anything is
   read. */
static int export_needed(const dlh_experiment *e, char *need)
{
    const dlh_graph *g = e->graph;
    need[e->heads[0].node] = 1;
    for (int i = e->heads[0].node; i >= 0; i--)
        for (int k = 0; need[i] && k < dlh_graph_n_inputs(g, i); k++)
            if (dlh_graph_input_of(g, i, k) >= 0)
                need[dlh_graph_input_of(g, i, k)] = 1;
    for (int i = 0; i < dlh_graph_count(g); i++) {
        const dlh_layer_inst *l = dlh_graph_layer(g, i);
        if (need[i] && !l->ops->export_onnx) {
            dlh_error_set("export: layer '%s' (type %s) has no ONNX export", l->name,
                          e->layer_types[i]);
            return DLH_EUNSUPPORTED;
        }
    }
    return 0;
}

/* Builds the whole graph (the layers marked in need) into m. */
static int export_graph(dlh_experiment *e, const char *need, const dlh_norm *norm, int probs,
                        dlh_onnx_model *m)
{
    dlh_graph *g = e->graph;
    int n = dlh_graph_count(g), rc = 0;
    const dlh_exp_head *h = &e->heads[0];
    const dlh_shape *in_shape = dlh_graph_shape(g, -1);
    const char **names = calloc((size_t)n, sizeof *names);
    if (!names) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    int64_t dims[DLH_MAX_DIMS + 1];
    const char *x = NULL;
    if (rc == 0 && !(rc = dlh_onnx_reserve(m, "input")) && !(rc = dlh_onnx_reserve(m, "output")) &&
        !(rc = probs ? dlh_onnx_reserve(m, "probs") : 0) &&
        !(rc = dlh_onnx_graph_input(m, "input", batch_dims(in_shape, dims), dims)))
        rc = export_norm(m, norm, in_shape, &x);
    for (int i = 0; i < n && rc == 0; i++) {
        if (!need[i])
            continue;
        dlh_layer_inst *l = dlh_graph_layer(g, i);
        int ni = dlh_graph_n_inputs(g, i);
        const char **in = calloc((size_t)ni + 1, sizeof *in);
        dlh_shape *shapes = calloc((size_t)ni + 1, sizeof *shapes);
        if (!in || !shapes) {
            free(in);
            free(shapes);
            dlh_error_set("out of memory");
            rc = DLH_ENOMEM;
            break;
        }
        for (int k = 0; k < ni; k++) {
            int j = dlh_graph_input_of(g, i, k);
            in[k] = j < 0 ? x : names[j];
            shapes[k] = *dlh_graph_shape(g, j);
        }
        names[i] = i == h->node ? "output" : dlh_onnx_value(m, l->name);
        if (!names[i]) {
            free(in);
            free(shapes);
            rc = DLH_ENOMEM;
            break;
        }
        export_layer xl = {
            .b = {
                .struct_size = sizeof(dlh_onnx_builder), .layer = l->name, .n_inputs = ni,
                .inputs = in, .input_shapes = shapes, .output = names[i],
                .output_shape = l->output, .node = b_node, .attr_int = b_attr_int,
                .attr_ints = b_attr_ints, .attr_float = b_attr_float,
                .attr_floats = b_attr_floats, .attr_string = b_attr_string,
                .param = b_param, .constant = b_constant, .value = b_value,
            },
            .m = m, .l = l, .be = e->backend,
        };
        xl.b.host_ctx = &xl;
        dlh_error_clear();
        if ((rc = l->ops->export_onnx(l->state, &xl.b)) < 0) {
            if (!*dlh_error_get())
                dlh_error_set("%s", dlh_strerror(rc));
            dlh_error_prefix("export: layer '%s' (type %s): ", l->name, e->layer_types[i]);
        }
        free(in);
        free(shapes);
    }
    if (rc == 0)
        rc = dlh_onnx_graph_output(m, "output", batch_dims(dlh_graph_shape(g, h->node), dims),
                                   dims);
    if (rc == 0 && probs) {
        dims[1] = h->n_outputs == 1 ? 2 : h->n_outputs;
        if (!(rc = export_probs(m, h, h->loss->ops->output)))
            rc = dlh_onnx_graph_output(m, "probs", 2, dims);
    }
    free(names);
    return rc;
}

int dlh_export_onnx(dlh_config *cfg, const char *backend, const char *weights,
                    const char *onnx, int probs, FILE *msg)
{
    struct stat st;
    if (stat(onnx, &st) == 0 && S_ISDIR(st.st_mode)) {
        dlh_error_set("export: --onnx %s is a folder", onnx);
        return DLH_EIO;
    }
    dlh_experiment *e;
    int rc = dlh_experiment_new(cfg, backend, 1, &e);
    if (rc)
        return rc;
    const dlh_exp_head *h = &e->heads[0];
    if (probs && h->target_kind != DLH_TARGET_CLASS) {
        dlh_error_set("%s: export: --probs needs class targets (head '%s' has loss '%s' on "
                      "values)", dlh_config_path(cfg), h->name, h->loss_type);
        dlh_experiment_free(e);
        return DLH_ECONFIG;
    }
    if (probs && h->n_outputs != h->n_classes && h->n_outputs != 1) {
        dlh_error_set("%s: export: --probs needs one row of class scores per sample (head "
                      "'%s' has %lld outputs for %lld classes)", dlh_config_path(cfg),
                      h->name, (long long)h->n_outputs, (long long)h->n_classes);
        dlh_experiment_free(e);
        return DLH_ECONFIG;
    }
    dlh_st_file *f = NULL;
    dlh_ckpt_tensor *t = NULL;
    size_t n = 0;
    dlh_norm norm;
    memset(&norm, 0, sizeof norm);
    dlh_onnx_model *m = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    char *need = calloc((size_t)dlh_graph_count(e->graph), 1);
    if (!need) {
        dlh_error_set("out of memory");
        rc = DLH_ENOMEM;
    }
    if (!rc && !(rc = export_needed(e, need)) && !(rc = dlh_st_read(weights, &f)) &&
        !(rc = dlh_model_tensors(e, 0, &t, &n)) &&
        !(rc = dlh_checkpoint_check(e, f, weights, t, n, &norm)))
        rc = dlh_checkpoint_load(e->backend, weights, t, n, 1, NULL);
    dlh_st_free(f);
    dlh_model_tensors_free(t, n);
    if (rc == 0 && !(rc = dlh_onnx_model_new(&m)) &&
        !(rc = export_graph(e, need, &norm, probs, m))) {
        static const char *const norm_names[] = { "none", "zscore", "minmax", "pca", "zca" };
        const char *keys[] = { "dlhost.experiment", "dlhost.weights", "dlhost.loss",
                               "dlhost.normalize" };
        const char *vals[] = { e->name, weights, h->loss_type,
                               (unsigned)norm.kind < 5 ? norm_names[norm.kind] : "?" };
        rc = dlh_onnx_serialize(m, PACKAGE_VERSION, e->name,
                                "input: the raw sample as dlhost predict reads it; output: "
                                "the model's raw output; probs: class probabilities", 4,
                                keys, vals, &buf, &len);
    }
    if (rc == 0)
        rc = dlh_file_write_atomic(onnx, buf, len);
    if (rc == 0)
        fprintf(msg, "export %s: %s (%s) -> %s: ONNX opset %d, %zu bytes%s\n", e->name,
                weights, e->backend_line, onnx, DLH_ONNX_OPSET, len,
                probs ? ", outputs 'output' and 'probs'" : "");
    free(buf);
    free(need);
    dlh_onnx_model_free(m);
    dlh_norm_free(&norm);
    dlh_experiment_free(e);
    return rc;
}
