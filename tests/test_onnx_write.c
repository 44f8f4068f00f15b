/* core/onnx_write.c: the protobuf wire format written by hand.  The bytes
 * of varints (300, -1 as ten bytes), fixed32 floats and length-delimited
 * fields against onnx.proto's field numbers; the ModelProto walked back by a
 * small decoder (every length inside its message); unique value names; and
 * every refusal.  tests/test_export_cli.sh holds whole models to onnx's own
 * checker and to OpenCV. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <dlhost/onnx.h>
#include <dlhost/status.h>

#include "error.h"
#include "onnx_write.h"
#include "tap.h"

/* Whether needle[0..n) occurs in hay[0..len). */
static int has_bytes(const uint8_t *hay, size_t len, const uint8_t *needle, size_t n)
{
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return 1;
    return 0;
}

/* A protobuf field: its number, wire type, value or payload. */
typedef struct field {
    int num, wire;
    uint64_t v;
    const uint8_t *p;
    size_t n;
} field;

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

/* The next field of [*p, end); -1 when malformed or past the end. */
static int next_field(const uint8_t **p, const uint8_t *end, field *f)
{
    uint64_t key;
    if (read_varint(p, end, &key))
        return -1;
    f->num = (int)(key >> 3);
    f->wire = (int)(key & 7);
    if (f->wire == 0)
        return read_varint(p, end, &f->v);
    if (f->wire == 5) {
        if (end - *p < 4)
            return -1;
        f->p = *p;
        *p += 4;
        return 0;
    }
    if (f->wire != 2 || read_varint(p, end, &f->v) || f->v > (uint64_t)(end - *p))
        return -1;
    f->p = *p;
    f->n = (size_t)f->v;
    *p += f->n;
    return 0;
}

/* Counts fields `num` of message [p, p + n) into *count; the first one's
   value into *first.  -1 when a field is malformed. */
static int count_fields(const uint8_t *p, size_t n, int num, int *count, field *first)
{
    const uint8_t *end = p + n;
    *count = 0;
    while (p < end) {
        field f;
        if (next_field(&p, end, &f))
            return -1;
        if (f.num == num && (*count)++ == 0 && first)
            *first = f;
    }
    return 0;
}

int main(void)
{
    dlh_onnx_model *m;
    ok(dlh_onnx_model_new(&m) == 0, "a model");
    ok(dlh_onnx_attr_int(m, "axis", 1) == DLH_EINVAL &&
       strstr(dlh_error_get(), "attribute before the first node"),
       "an attribute before any node is refused: %s", dlh_error_get());
    ok(dlh_onnx_reserve(m, "input") == 0 && dlh_onnx_reserve(m, "output") == 0,
       "input and output reserved");
    ok(dlh_onnx_reserve(m, "input") == DLH_EINVAL && strstr(dlh_error_get(), "'input' is taken"),
       "a name reserved twice is refused: %s", dlh_error_get());
    const char *a = dlh_onnx_value(m, "fc"), *b = dlh_onnx_value(m, "fc");
    const char *c = dlh_onnx_value(m, "fc"), *d = dlh_onnx_value(m, NULL);
    ok(a && b && c && d && strcmp(a, "fc") == 0 && strcmp(b, "fc_2") == 0 &&
       strcmp(c, "fc_3") == 0 && strcmp(d, "v") == 0,
       "fresh names: fc, fc_2, fc_3, v (got %s %s %s %s)", a, b, c, d);
    ok(dlh_onnx_value(m, "input") && strcmp(dlh_onnx_value(m, "output"), "output_2") == 0,
       "a reserved name is never handed out again");

    int64_t dims[2] = { 2, 3 }, bad[1] = { -1 };
    float w[6] = { 1, 2, 3, 4, 5, 6 };
    int64_t shape[3] = { 0, -1, 300 };
    const char *wn = dlh_onnx_initializer(m, "fc.weight", DLH_ONNX_FLOAT, 2, dims, w);
    const char *sn = dlh_onnx_initializer(m, "shape", DLH_ONNX_INT64, 1, (int64_t[]){ 3 },
                                          shape);
    ok(wn && strcmp(wn, "fc.weight") == 0 && sn, "a float and an int64 initializer");
    ok(!dlh_onnx_initializer(m, "x", 11, 1, dims, w) && strstr(dlh_error_get(), "data type 11"),
       "a double initializer is refused: %s", dlh_error_get());
    ok(!dlh_onnx_initializer(m, "x", DLH_ONNX_FLOAT, 1, bad, w) &&
       strstr(dlh_error_get(), "dimension 0 (-1) is out of range"),
       "a negative dimension is refused: %s", dlh_error_get());

    const char *in[3] = { "input", wn, "" }, *out[1] = { "output" };
    ok(dlh_onnx_node(m, "Gemm", 3, in, 1, out) == 0, "a node");
    ok(dlh_onnx_attr_int(m, "transB", 1) == 0 && dlh_onnx_attr_int(m, "neg", -1) == 0 &&
       dlh_onnx_attr_int(m, "big", 300) == 0 &&
       dlh_onnx_attr_ints(m, "pads", 3, shape) == 0 &&
       dlh_onnx_attr_float(m, "alpha", 0.5f) == 0 &&
       dlh_onnx_attr_floats(m, "scales", 2, (float[]){ 1.0f, -2.0f }) == 0 &&
       dlh_onnx_attr_string(m, "mode", "nearest") == 0, "attributes of every kind");
    ok(dlh_onnx_graph_input(m, "input", 2, (int64_t[]){ -1, 3 }) == 0 &&
       dlh_onnx_graph_output(m, "output", 2, (int64_t[]){ -1, 2 }) == 0,
       "graph input and output");

    uint8_t *buf = NULL;
    size_t len = 0;
    const char *keys[1] = { "k" }, *vals[1] = { "v" };
    ok(dlh_onnx_serialize(m, "9.9", "g", "doc", 1, keys, vals, &buf, &len) == 0 && buf,
       "serialized: %zu bytes", len);

    /* Bytes by hand from the encoding rules. */
    static const uint8_t ir[] = { 0x08, 0x08 };                 /* ir_version = 8 */
    static const uint8_t opset[] = { 0x0a, 0x00, 0x10, 0x11 };  /* domain "", version 17 */
    static const uint8_t i300[] = { 0x18, 0xac, 0x02 };         /* i = 300 */
    static const uint8_t ineg[] = { 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0x01 };               /* i = -1 */
    static const uint8_t fhalf[] = { 0x15, 0x00, 0x00, 0x00, 0x3f };   /* f = 0.5f */
    static const uint8_t fneg2[] = { 0x3d, 0x00, 0x00, 0x00, 0xc0 };   /* floats: -2 */
    static const uint8_t ints[] = { 0x40, 0x00, 0x40, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0x01, 0x40, 0xac, 0x02 };
    static const uint8_t types[] = { 0xa0, 0x01, 0x07 };        /* type = INTS (field 20) */
    static const uint8_t raw[] = { 0x4a, 0x18, 0x00, 0x00, 0x80, 0x3f };  /* raw_data, 1.0f */
    static const uint8_t dimn[] = { 0x0a, 0x03, 0x12, 0x01, 'N' };    /* dim_param "N" */
    ok(len > 4 && buf[0] == 0x08 && buf[1] == 0x08 && has_bytes(buf, len, ir, sizeof ir),
       "ir_version 8 first");
    ok(has_bytes(buf, len, opset, sizeof opset), "opset_import: domain \"\", version 17");
    ok(has_bytes(buf, len, i300, sizeof i300), "int 300 as the varint ac 02");
    ok(has_bytes(buf, len, ineg, sizeof ineg), "int -1 as ten bytes");
    ok(has_bytes(buf, len, fhalf, sizeof fhalf), "float 0.5 as fixed32, little-endian");
    ok(has_bytes(buf, len, fneg2, sizeof fneg2), "floats: -2 as fixed32 field 7");
    ok(has_bytes(buf, len, ints, sizeof ints), "ints: 0, -1, 300 unpacked (proto2)");
    ok(has_bytes(buf, len, types, sizeof types), "the attribute type, field 20");
    ok(has_bytes(buf, len, raw, sizeof raw), "raw_data: 24 bytes of little-endian floats");
    ok(has_bytes(buf, len, dimn, sizeof dimn), "the batch dimension is dim_param \"N\"");

    /* The structure, walked back. */
    int n;
    field g, f;
    ok(count_fields(buf, len, 7, &n, &g) == 0 && n == 1, "one graph in a well-formed model");
    ok(count_fields(buf, len, 2, &n, &f) == 0 && n == 1 && f.n == 6 &&
       memcmp(f.p, "dlhost", 6) == 0, "producer_name dlhost");
    ok(count_fields(buf, len, 14, &n, NULL) == 0 && n == 1, "one metadata entry");
    ok(count_fields(g.p, g.n, 1, &n, &f) == 0 && n == 1, "one node");
    int na, ni;
    ok(count_fields(f.p, f.n, 5, &na, NULL) == 0 && na == 7 &&
       count_fields(f.p, f.n, 1, &ni, NULL) == 0 && ni == 3,
       "the node has 7 attributes and 3 inputs (the empty one kept)");
    ok(count_fields(g.p, g.n, 5, &n, NULL) == 0 && n == 2, "two initializers");
    ok(count_fields(g.p, g.n, 11, &n, NULL) == 0 && n == 1 &&
       count_fields(g.p, g.n, 12, &n, NULL) == 0 && n == 1, "one input, one output");
    free(buf);
    dlh_onnx_model_free(m);
    dlh_onnx_model_free(NULL);
    return done_testing();
}
