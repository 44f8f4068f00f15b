/* An ONNX model built in memory and written as protobuf (onnx.proto's
 * ModelProto), by hand: varints, length-delimited fields and the field
 * numbers of onnx.proto (ONNX 1.12).  Only what `dlhost export` needs:
 * nodes of the default domain with int, ints, float, floats and string
 * attributes, float32 and int64 initializers (raw_data, little-endian),
 * float32 graph inputs and outputs whose first dimension may be the
 * symbolic "N".  Value names are unique: dlh_onnx_value makes fresh ones,
 * and every name handed out lives until the model is freed. */
#ifndef DLHOST_CORE_ONNX_WRITE_H
#define DLHOST_CORE_ONNX_WRITE_H

#include <stddef.h>
#include <stdint.h>

typedef struct dlh_onnx_model dlh_onnx_model;

int dlh_onnx_model_new(dlh_onnx_model **out);
void dlh_onnx_model_free(dlh_onnx_model *m);        /* NULL is a no-op */

/* Claims `name` as it is (DLH_EINVAL when it is taken): the graph's own
   input and output names. */
int dlh_onnx_reserve(dlh_onnx_model *m, const char *name);
/* A fresh unique value name made of hint ("v" for NULL or ""): hint itself
   when free, else hint_2, hint_3, ... NULL when out of memory (message set). */
const char *dlh_onnx_value(dlh_onnx_model *m, const char *hint);

/* Appends a node; the attribute calls add to the node appended last
   (DLH_EINVAL before the first). */
int dlh_onnx_node(dlh_onnx_model *m, const char *op_type, int n_in, const char *const *in,
                  int n_out, const char *const *out);
int dlh_onnx_attr_int(dlh_onnx_model *m, const char *name, int64_t v);
int dlh_onnx_attr_ints(dlh_onnx_model *m, const char *name, int n, const int64_t *v);
int dlh_onnx_attr_float(dlh_onnx_model *m, const char *name, float v);
int dlh_onnx_attr_floats(dlh_onnx_model *m, const char *name, int n, const float *v);
int dlh_onnx_attr_string(dlh_onnx_model *m, const char *name, const char *v);

/* An initializer of dtype DLH_ONNX_FLOAT or DLH_ONNX_INT64 (onnx.h), shape
   dims[0..ndim), data copied; its name is dlh_onnx_value(hint).  NULL on
   failure (message set). */
const char *dlh_onnx_initializer(dlh_onnx_model *m, const char *hint, int dtype, int ndim,
                                 const int64_t *dims, const void *data);

/* A float32 graph input or output `name` (reserved or made by the caller)
   of shape dims[0..ndim); a dimension < 0 is the symbolic "N". */
int dlh_onnx_graph_input(dlh_onnx_model *m, const char *name, int ndim, const int64_t *dims);
int dlh_onnx_graph_output(dlh_onnx_model *m, const char *name, int ndim,
                          const int64_t *dims);

/* The ModelProto (IR version and opset of onnx.h, producer "dlhost"
   `version`, graph `graph_name`, doc_string `doc`, metadata_props
   keys[i] = vals[i]) into a malloc'ed *buf of *len bytes. */
int dlh_onnx_serialize(const dlh_onnx_model *m, const char *version, const char *graph_name,
                       const char *doc, int n_meta, const char *const *keys,
                       const char *const *vals, uint8_t **buf, size_t *len);

#endif
