/* dlhost SDK — exporting a layer to ONNX (ABI 1.8).
 *
 * `dlhost export CFG --weights FILE --onnx model.onnx` writes the model as an
 * ONNX graph (opset 17, IR version 8).  The host walks the layers in order
 * and calls each one's dlh_layer_ops.export_onnx with a builder: the layer
 * adds the nodes that compute its output value from its input values, with
 * the builder's calls below.  The host then writes the file.  A layer
 * without export_onnx (or a plugin built before ABI 1.8) makes export fail
 * naming it; the layer itself may refuse a configuration that has no ONNX
 * form by setting the message (host->error) and returning DLH_EUNSUPPORTED.
 *
 * Values are named by strings.  Every tensor a layer sees carries the batch
 * as its first dimension ("N", dynamic), then the per-sample shape: the
 * builder's input_shapes and output_shape are per sample, as in
 * dlh_layer_setup.  Data is float32 unless a constant says otherwise.
 * Strings handed to the builder are copied; strings it returns live until
 * the export ends.  Every call returns 0 (or a name) on success and sets the
 * message on failure (negative DLH_E* / NULL). */
#ifndef DLHOST_ONNX_H
#define DLHOST_ONNX_H

#include <stdint.h>

#include "tensor.h"

/* TensorProto data types the builder accepts for constants. */
#define DLH_ONNX_FLOAT 1
#define DLH_ONNX_INT64 7

/* The ONNX opset and IR version the host writes. */
#define DLH_ONNX_OPSET 17
#define DLH_ONNX_IR_VERSION 8

typedef struct dlh_onnx_builder dlh_onnx_builder;
struct dlh_onnx_builder {
    uint32_t struct_size;
    const char *layer;              /* the layer's name in the experiment */
    int n_inputs;
    const char *const *inputs;      /* [n_inputs] value names of its inputs */
    const dlh_shape *input_shapes;  /* [n_inputs] per-sample shapes */
    const char *output;             /* the value the layer's nodes must produce */
    dlh_shape output_shape;         /* per sample */
    /* Adds node op_type (default domain) reading in[0..n_in) and writing
       out[0..n_out); an empty input name is an omitted optional input.
       The attribute calls below apply to the node added last. */
    int (*node)(dlh_onnx_builder *b, const char *op_type, int n_in, const char *const *in,
                int n_out, const char *const *out);
    int (*attr_int)(dlh_onnx_builder *b, const char *name, int64_t v);
    int (*attr_ints)(dlh_onnx_builder *b, const char *name, int n, const int64_t *v);
    int (*attr_float)(dlh_onnx_builder *b, const char *name, float v);
    int (*attr_floats)(dlh_onnx_builder *b, const char *name, int n, const float *v);
    int (*attr_string)(dlh_onnx_builder *b, const char *name, const char *v);
    /* The value name of the layer's own parameter or buffer `name` (as given
       to add_param / add_buffer: "weight"), as an initializer whose data the
       host takes from the loaded weights.  ndim 0 keeps the declared shape;
       else dims[0..ndim) give another shape of the same element count (a
       per-channel slope [C] as [C, 1, 1]).  NULL when the layer has no such
       tensor or the counts differ. */
    const char *(*param)(dlh_onnx_builder *b, const char *name, int ndim,
                         const int64_t *dims);
    /* A constant tensor initializer of type DLH_ONNX_FLOAT (data: float) or
       DLH_ONNX_INT64 (int64_t) and shape dims[0..ndim) (ndim 0: a scalar),
       its data copied; hint (may be NULL) goes into its name. */
    const char *(*constant)(dlh_onnx_builder *b, const char *hint, int dtype, int ndim,
                            const int64_t *dims, const void *data);
    /* A fresh value name, unique in the graph, for an intermediate result. */
    const char *(*value)(dlh_onnx_builder *b, const char *hint);
    void *host_ctx;                 /* the host's; do not touch */
};

/* One node op_type from the layer's first input to its output, the form of
   most pointwise layers ("Relu"). */
static inline int dlh_onnx_unary(dlh_onnx_builder *b, const char *op_type)
{
    return b->node(b, op_type, 1, b->inputs, 1, &b->output);
}

#endif
