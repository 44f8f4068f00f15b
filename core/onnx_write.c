/* ONNX protobuf written by hand (onnx_write.h).  onnx.proto is proto2:
 * repeated scalars are written unpacked (one tag each), which every
 * protobuf parser reads.  Messages are built bottom-up into growable byte
 * buffers and nested as length-delimited fields. */
#include "onnx_write.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlhost/onnx.h>
#include <dlhost/status.h>

#include "error.h"

/* Wire types. */
#define WT_VARINT 0
#define WT_LEN 2
#define WT_FIXED32 5

/* onnx.proto field numbers. */
enum {
    MODEL_IR_VERSION = 1, MODEL_PRODUCER_NAME = 2, MODEL_PRODUCER_VERSION = 3,
    MODEL_DOC_STRING = 6, MODEL_GRAPH = 7, MODEL_OPSET_IMPORT = 8, MODEL_METADATA = 14,
    OPSET_DOMAIN = 1, OPSET_VERSION = 2,
    ENTRY_KEY = 1, ENTRY_VALUE = 2,
    GRAPH_NODE = 1, GRAPH_NAME = 2, GRAPH_INITIALIZER = 5, GRAPH_INPUT = 11,
    GRAPH_OUTPUT = 12,
    NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5,
    ATTR_NAME = 1, ATTR_F = 2, ATTR_I = 3, ATTR_S = 4, ATTR_FLOATS = 7, ATTR_INTS = 8,
    ATTR_TYPE = 20,
    TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_NAME = 8, TENSOR_RAW_DATA = 9,
    VALUE_NAME = 1, VALUE_TYPE = 2,
    TYPE_TENSOR = 1, TTENSOR_ELEM_TYPE = 1, TTENSOR_SHAPE = 2,
    SHAPE_DIM = 1, DIM_VALUE = 1, DIM_PARAM = 2,
};
/* AttributeProto.AttributeType */
enum { ATYPE_FLOAT = 1, ATYPE_INT = 2, ATYPE_STRING = 3, ATYPE_FLOATS = 6, ATYPE_INTS = 7 };

typedef struct pb {
    uint8_t *p;
    size_t len, cap;
    int oom;
} pb;

static void pb_put(pb *b, const void *data, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void pb_varint(pb *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    pb_put(b, tmp, n);
}

static void pb_tag(pb *b, int field, int wire)
{
    pb_varint(b, ((uint64_t)field << 3) | (uint64_t)wire);
}

/* int64 fields: a negative value is its two's complement, ten bytes. */
static void pb_int(pb *b, int field, int64_t v)
{
    pb_tag(b, field, WT_VARINT);
    pb_varint(b, (uint64_t)v);
}

static void pb_bytes(pb *b, int field, const void *data, size_t n)
{
    pb_tag(b, field, WT_LEN);
    pb_varint(b, n);
    pb_put(b, data, n);
}

static void pb_str(pb *b, int field, const char *s)
{
    pb_bytes(b, field, s, strlen(s));
}

static void pb_sub(pb *b, int field, const pb *sub)
{
    if (sub->oom)
        b->oom = 1;
    pb_bytes(b, field, sub->p, sub->len);
}

static void pb_float(pb *b, int field, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint8_t le[4] = { (uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24) };
    pb_tag(b, field, WT_FIXED32);
    pb_put(b, le, 4);
}

static void pb_free(pb *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* A list of messages. */
typedef struct pb_list {
    pb *m;
    size_t n, cap;
} pb_list;

static pb *list_add(pb_list *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        pb *m = realloc(l->m, cap * sizeof *m);
        if (!m)
            return NULL;
        l->m = m;
        l->cap = cap;
    }
    pb *b = &l->m[l->n++];
    memset(b, 0, sizeof *b);
    return b;
}

static void list_free(pb_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        pb_free(&l->m[i]);
    free(l->m);
}

struct dlh_onnx_model {
    pb_list nodes, inits, inputs, outputs;
    char **names;                   /* every value name handed out */
    size_t n_names, cap_names;
};

int dlh_onnx_model_new(dlh_onnx_model **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    return 0;
}

void dlh_onnx_model_free(dlh_onnx_model *m)
{
    if (!m)
        return;
    list_free(&m->nodes);
    list_free(&m->inits);
    list_free(&m->inputs);
    list_free(&m->outputs);
    for (size_t i = 0; i < m->n_names; i++)
        free(m->names[i]);
    free(m->names);
    free(m);
}

static int name_taken(const dlh_onnx_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_names; i++)
        if (strcmp(m->names[i], name) == 0)
            return 1;
    return 0;
}

static const char *name_add(dlh_onnx_model *m, char *name)
{
    if (name && m->n_names == m->cap_names) {
        size_t cap = m->cap_names ? 2 * m->cap_names : 64;
        char **names = realloc(m->names, cap * sizeof *names);
        if (!names) {
            free(name);
            name = NULL;
        } else {
            m->names = names;
            m->cap_names = cap;
        }
    }
    if (!name) {
        dlh_error_set("out of memory");
        return NULL;
    }
    m->names[m->n_names++] = name;
    return name;
}

int dlh_onnx_reserve(dlh_onnx_model *m, const char *name)
{
    if (name_taken(m, name)) {
        dlh_error_set("onnx: value name '%s' is taken", name);
        return DLH_EINVAL;
    }
    return name_add(m, strdup(name)) ? 0 : DLH_ENOMEM;
}

const char *dlh_onnx_value(dlh_onnx_model *m, const char *hint)
{
    if (!hint || !*hint)
        hint = "v";
    size_t len = strlen(hint) + 24;
    char *name = malloc(len);
    if (!name)
        return name_add(m, NULL);
    snprintf(name, len, "%s", hint);
    for (unsigned long k = 2; name_taken(m, name); k++)
        snprintf(name, len, "%s_%lu", hint, k);
    return name_add(m, name);
}

static int check_oom(const pb *b)
{
    if (b->oom) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    return 0;
}

int dlh_onnx_node(dlh_onnx_model *m, const char *op_type, int n_in, const char *const *in,
                  int n_out, const char *const *out)
{
    pb *b = list_add(&m->nodes);
    if (!b) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    for (int i = 0; i < n_in; i++)
        pb_str(b, NODE_INPUT, in[i] ? in[i] : "");
    for (int i = 0; i < n_out; i++)
        pb_str(b, NODE_OUTPUT, out[i]);
    char name[64];
    snprintf(name, sizeof name, "%.40s_%zu", op_type, m->nodes.n);
    pb_str(b, NODE_NAME, name);
    pb_str(b, NODE_OP_TYPE, op_type);
    return check_oom(b);
}

/* The node appended last, or NULL with the message set. */
static pb *last_node(dlh_onnx_model *m)
{
    if (m->nodes.n == 0) {
        dlh_error_set("onnx: an attribute before the first node");
        return NULL;
    }
    return &m->nodes.m[m->nodes.n - 1];
}

/* Adds attribute a (its fields filled by the caller) to the last node. */
static int attr_add(dlh_onnx_model *m, pb *a)
{
    pb *node = last_node(m);
    if (!node) {
        pb_free(a);
        return DLH_EINVAL;
    }
    pb_sub(node, NODE_ATTRIBUTE, a);
    pb_free(a);
    return check_oom(node);
}

int dlh_onnx_attr_int(dlh_onnx_model *m, const char *name, int64_t v)
{
    pb a = { 0 };
    pb_str(&a, ATTR_NAME, name);
    pb_int(&a, ATTR_I, v);
    pb_int(&a, ATTR_TYPE, ATYPE_INT);
    return attr_add(m, &a);
}

int dlh_onnx_attr_ints(dlh_onnx_model *m, const char *name, int n, const int64_t *v)
{
    pb a = { 0 };
    pb_str(&a, ATTR_NAME, name);
    for (int i = 0; i < n; i++)
        pb_int(&a, ATTR_INTS, v[i]);
    pb_int(&a, ATTR_TYPE, ATYPE_INTS);
    return attr_add(m, &a);
}

int dlh_onnx_attr_float(dlh_onnx_model *m, const char *name, float v)
{
    pb a = { 0 };
    pb_str(&a, ATTR_NAME, name);
    pb_float(&a, ATTR_F, v);
    pb_int(&a, ATTR_TYPE, ATYPE_FLOAT);
    return attr_add(m, &a);
}

int dlh_onnx_attr_floats(dlh_onnx_model *m, const char *name, int n, const float *v)
{
    pb a = { 0 };
    pb_str(&a, ATTR_NAME, name);
    for (int i = 0; i < n; i++)
        pb_float(&a, ATTR_FLOATS, v[i]);
    pb_int(&a, ATTR_TYPE, ATYPE_FLOATS);
    return attr_add(m, &a);
}

int dlh_onnx_attr_string(dlh_onnx_model *m, const char *name, const char *v)
{
    pb a = { 0 };
    pb_str(&a, ATTR_NAME, name);
    pb_str(&a, ATTR_S, v);
    pb_int(&a, ATTR_TYPE, ATYPE_STRING);
    return attr_add(m, &a);
}

const char *dlh_onnx_initializer(dlh_onnx_model *m, const char *hint, int dtype, int ndim,
                                 const int64_t *dims, const void *data)
{
    if (dtype != DLH_ONNX_FLOAT && dtype != DLH_ONNX_INT64) {
        dlh_error_set("onnx: constant '%s': data type %d is neither float (%d) nor int64 (%d)",
                      hint ? hint : "", dtype, DLH_ONNX_FLOAT, DLH_ONNX_INT64);
        return NULL;
    }
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (dims[d] < 0 || (dims[d] > 0 && numel > INT64_MAX / 8 / dims[d])) {
            dlh_error_set("onnx: constant '%s': dimension %d (%lld) is out of range",
                          hint ? hint : "", d, (long long)dims[d]);
            return NULL;
        }
        numel *= dims[d];
    }
    const char *name = dlh_onnx_value(m, hint);
    pb *b = name ? list_add(&m->inits) : NULL;
    if (!b) {
        if (name)
            dlh_error_set("out of memory");
        return NULL;
    }
    for (int d = 0; d < ndim; d++)
        pb_int(b, TENSOR_DIMS, dims[d]);
    pb_int(b, TENSOR_DATA_TYPE, dtype);
    pb_str(b, TENSOR_NAME, name);
    /* raw_data is little-endian whatever this machine is. */
    size_t esize = dtype == DLH_ONNX_FLOAT ? 4 : 8, n = (size_t)numel * esize;
    pb_tag(b, TENSOR_RAW_DATA, WT_LEN);
    pb_varint(b, n);
    const uint8_t *src = data;
    for (size_t i = 0; i < (size_t)numel && !b->oom; i++) {
        uint8_t le[8];
        uint64_t u = 0;
        if (esize == 4) {
            uint32_t w;
            memcpy(&w, src + 4 * i, 4);
            u = w;
        } else {
            memcpy(&u, src + 8 * i, 8);
        }
        for (size_t k = 0; k < esize; k++)
            le[k] = (uint8_t)(u >> (8 * k));
        pb_put(b, le, esize);
    }
    return check_oom(b) ? NULL : name;
}

/* A ValueInfoProto of a float32 tensor. */
static int value_info(pb_list *l, const char *name, int ndim, const int64_t *dims)
{
    pb shape = { 0 }, tt = { 0 }, type = { 0 };
    for (int d = 0; d < ndim; d++) {
        pb dim = { 0 };
        if (dims[d] < 0)
            pb_str(&dim, DIM_PARAM, "N");
        else
            pb_int(&dim, DIM_VALUE, dims[d]);
        pb_sub(&shape, SHAPE_DIM, &dim);
        pb_free(&dim);
    }
    pb_int(&tt, TTENSOR_ELEM_TYPE, DLH_ONNX_FLOAT);
    pb_sub(&tt, TTENSOR_SHAPE, &shape);
    pb_sub(&type, TYPE_TENSOR, &tt);
    pb *b = list_add(l);
    if (b) {
        pb_str(b, VALUE_NAME, name);
        pb_sub(b, VALUE_TYPE, &type);
    }
    int rc = !b || type.oom ? DLH_ENOMEM : check_oom(b);
    if (!b)
        dlh_error_set("out of memory");
    pb_free(&shape);
    pb_free(&tt);
    pb_free(&type);
    return rc;
}

int dlh_onnx_graph_input(dlh_onnx_model *m, const char *name, int ndim, const int64_t *dims)
{
    return value_info(&m->inputs, name, ndim, dims);
}

int dlh_onnx_graph_output(dlh_onnx_model *m, const char *name, int ndim,
                          const int64_t *dims)
{
    return value_info(&m->outputs, name, ndim, dims);
}

static void put_list(pb *b, int field, const pb_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        pb_sub(b, field, &l->m[i]);
}

int dlh_onnx_serialize(const dlh_onnx_model *m, const char *version, const char *graph_name,
                       const char *doc, int n_meta, const char *const *keys,
                       const char *const *vals, uint8_t **buf, size_t *len)
{
    pb graph = { 0 }, opset = { 0 }, model = { 0 };
    put_list(&graph, GRAPH_NODE, &m->nodes);
    pb_str(&graph, GRAPH_NAME, graph_name);
    put_list(&graph, GRAPH_INITIALIZER, &m->inits);
    put_list(&graph, GRAPH_INPUT, &m->inputs);
    put_list(&graph, GRAPH_OUTPUT, &m->outputs);
    pb_str(&opset, OPSET_DOMAIN, "");
    pb_int(&opset, OPSET_VERSION, DLH_ONNX_OPSET);
    pb_int(&model, MODEL_IR_VERSION, DLH_ONNX_IR_VERSION);
    pb_str(&model, MODEL_PRODUCER_NAME, "dlhost");
    pb_str(&model, MODEL_PRODUCER_VERSION, version);
    if (doc && *doc)
        pb_str(&model, MODEL_DOC_STRING, doc);
    pb_sub(&model, MODEL_GRAPH, &graph);
    pb_sub(&model, MODEL_OPSET_IMPORT, &opset);
    for (int i = 0; i < n_meta; i++) {
        pb e = { 0 };
        pb_str(&e, ENTRY_KEY, keys[i]);
        pb_str(&e, ENTRY_VALUE, vals[i]);
        pb_sub(&model, MODEL_METADATA, &e);
        pb_free(&e);
    }
    pb_free(&graph);
    pb_free(&opset);
    int rc = check_oom(&model);
    if (rc) {
        pb_free(&model);
        return rc;
    }
    *buf = model.p;
    *len = model.len;
    return 0;
}
