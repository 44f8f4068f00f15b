/* reshape: each sample to `shape` (a list without the batch dimension; at
 * most one -1, inferred from the element count), like torch.reshape of
 * every sample.  The data does not change: the output is declared a view
 * (see flatten.c), and forward and backward are one backend copy each where
 * the core calls them. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "layers.h"

/* The batch takes one of the tensor's DLH_MAX_DIMS dimensions. */
#define RESHAPE_MAX_DIMS (DLH_MAX_DIMS - 1)

static int reshape_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    *state = NULL;
    dlh_params *p = setup->params;
    float v[RESHAPE_MAX_DIMS];
    size_t n = 0;
    int rc;
    if (!host->param_has(p, "shape")) {
        /* The host's own message for a missing key, with its did-you-mean. */
        const char *unused;
        rc = host->param_string(p, "shape", NULL, &unused);
        return rc < 0 ? rc : DLH_ECONFIG;
    }
    if ((rc = host->param_floats(p, "shape", v, RESHAPE_MAX_DIMS, &n)) < 0)
        return rc;
    if (n == 0)
        return host->param_error(p, "shape", "parameter 'shape': expected a list of 1 "
                                 "to %d sizes, got an empty list", RESHAPE_MAX_DIMS);
    if (setup->n_inputs != 1)
        return host->param_error(p, NULL, "reshape takes exactly one input, got %d",
                                 setup->n_inputs);
    char in_s[96];
    const dlh_shape *in = &setup->inputs[0];
    int64_t numel = dlh_shape_numel(in), known = 1;
    int infer = -1;
    dlh_shape out = { (int32_t)n, { 0 } };
    for (size_t i = 0; i < n; i++) {
        if (v[i] == -1.0f && infer < 0) {
            infer = (int)i;
            out.dim[i] = 1;
            continue;
        }
        if (v[i] != floorf(v[i]) || v[i] < 1.0f || v[i] > (float)((int64_t)1 << 24))
            return host->param_error(p, "shape", "parameter 'shape': entry %zu is %g; "
                                     "expected sizes >= 1 and at most one -1", i,
                                     (double)v[i]);
        out.dim[i] = (int64_t)v[i];
        /* Saturates: anything that large is a mismatch anyway. */
        if (__builtin_mul_overflow(known, out.dim[i], &known))
            known = INT64_MAX;
    }
    if (infer >= 0) {
        if (known > numel || numel % known != 0)
            return host->param_error(p, "shape", "cannot reshape %s (%lld elements) to "
                                     "a shape with -1 and %lld other elements",
                                     layers_shape_str(in, in_s, sizeof in_s),
                                     (long long)numel, (long long)known);
        out.dim[infer] = numel / known;
    } else if (known != numel) {
        char out_s[96];
        return host->param_error(p, "shape", "cannot reshape %s (%lld elements) to %s "
                                 "(%lld elements)",
                                 layers_shape_str(in, in_s, sizeof in_s),
                                 (long long)numel, layers_shape_str(&out, out_s,
                                                                    sizeof out_s),
                                 (long long)known);
    }
    setup->output = out;
    setup->output_is_view = 1;
    return 0;
}

/* Reshape to [N (0: kept), output...]. */
static int reshape_export(void *state, dlh_onnx_builder *b)
{
    (void)state;
    int64_t dims[DLH_MAX_DIMS + 1], n = b->output_shape.ndim + 1;
    dims[0] = 0;
    for (int d = 0; d < b->output_shape.ndim; d++)
        dims[d + 1] = b->output_shape.dim[d];
    const char *in[2] = { b->inputs[0], b->constant(b, "shape", DLH_ONNX_INT64, 1, &n, dims) };
    return in[1] ? b->node(b, "Reshape", 2, in, 1, &b->output) : DLH_ENOMEM;
}

const dlh_layer_ops reshape_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = reshape_create,
    .forward = layers_view_forward,
    .backward = layers_view_backward,
    .destroy = NULL,
    .export_onnx = reshape_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc reshape_params[] = {
    { "shape", DLH_PARAM_OTHER, NULL, 0, 0, NULL, "list of the per-sample dimensions (the batch excluded), one of them -1 to infer" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
