/* concat: the inputs joined along a per-sample `axis` (torch.cat along
 * axis + 1 of the batch tensors); every other dimension must match.
 *
 * Seen per sample, dimensions before the axis make `outer` blocks; in each,
 * input i contributes a contiguous run of inner_i = dim_i[axis] * (product of
 * the later dimensions) floats.  Forward and backward copy those runs with
 * the backend's copy, one call per (sample, outer block, input): batch *
 * inputs calls for axis 0, batch * outer * inputs beyond it.  That is cheap
 * on the cpu (a memcpy each) but many launches on a device backend; a
 * strided-copy primitive would make it one call per input. */
#include <stdio.h>
#include <stdlib.h>

#include "layers.h"

typedef struct concat_state {
    int n_inputs;
    int64_t outer;              /* blocks per sample before the axis */
    int64_t total;              /* floats of one output block */
    int64_t *inner;             /* [n_inputs] floats of input i in a block */
} concat_state;

static int concat_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    concat_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    dlh_params *p = setup->params;
    int64_t axis, def_axis = 0;
    int rc = host->param_int(p, "axis", &def_axis, -DLH_MAX_DIMS, DLH_MAX_DIMS - 1, &axis);
    if (rc < 0)
        return rc;
    if (setup->n_inputs < 2)
        return host->param_error(p, NULL, "concat needs at least 2 inputs (name them "
                                 "with inputs = [\"a\", \"b\"]), got %d",
                                 setup->n_inputs);
    const dlh_shape *s0 = &setup->inputs[0];
    int ndim = s0->ndim;
    char a[96], b[96];
    if (axis < -ndim || axis >= ndim)
        return host->param_error(p, "axis", "concat axis %lld is out of range for "
                                 "samples of shape %s (axis counts per-sample "
                                 "dimensions: %d to %d)", (long long)axis,
                                 layers_shape_str(s0, a, sizeof a), -ndim, ndim - 1);
    if (axis < 0)
        axis += ndim;
    dlh_shape out = *s0;
    for (int i = 1; i < setup->n_inputs; i++) {
        const dlh_shape *si = &setup->inputs[i];
        int same = si->ndim == ndim;
        for (int d = 0; same && d < ndim; d++)
            same = d == axis || si->dim[d] == s0->dim[d];
        if (!same)
            return host->param_error(p, NULL, "concat along axis %lld needs inputs that "
                                     "differ only on that axis: input 0 is %s, input %d "
                                     "is %s", (long long)axis,
                                     layers_shape_str(s0, a, sizeof a), i,
                                     layers_shape_str(si, b, sizeof b));
        out.dim[axis] += si->dim[axis];
    }
    st->n_inputs = setup->n_inputs;
    st->inner = calloc((size_t)st->n_inputs, sizeof *st->inner);
    if (!st->inner) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    int64_t after = 1;
    st->outer = 1;
    for (int d = 0; d < ndim; d++) {
        if (d < axis)
            st->outer *= s0->dim[d];
        else if (d > axis)
            after *= s0->dim[d];
    }
    for (int i = 0; i < st->n_inputs; i++)
        st->inner[i] = setup->inputs[i].dim[axis] * after;
    st->total = out.dim[axis] * after;
    setup->output = out;
    return 0;
}

/* Copies every run between the inputs (x) and the output (y); to_output
   picks the direction. */
static int concat_copy(const concat_state *st, const dlh_backend *be, int64_t batch,
                       const dlh_tensor *x, const dlh_tensor *y, int to_output)
{
    const size_t f = sizeof(float);
    int64_t blocks = batch * st->outer, off = 0;
    for (int i = 0; i < st->n_inputs; i++) {
        int64_t at = off;
        off += st->inner[i];
        if (!x[i].mem.buf || st->inner[i] == 0)
            continue;
        size_t bytes = (size_t)st->inner[i] * f;
        for (int64_t blk = 0; blk < blocks; blk++) {
            size_t xo = (x[i].mem.off + (size_t)(blk * st->inner[i])) * f;
            size_t yo = (y->mem.off + (size_t)(blk * st->total + at)) * f;
            int rc = to_output
                ? be->ops->copy(be->ctx, y->mem.buf, yo, x[i].mem.buf, xo, bytes)
                : be->ops->copy(be->ctx, x[i].mem.buf, xo, y->mem.buf, yo, bytes);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static int concat_forward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                          const dlh_tensor *output)
{
    return concat_copy(state, ctx->backend, ctx->batch, inputs, output, 1);
}

static int concat_backward(void *state, const dlh_layer_ctx *ctx,
                           const dlh_tensor *inputs, const dlh_tensor *output,
                           const dlh_tensor *d_output, const dlh_tensor *d_inputs)
{
    (void)inputs;
    (void)output;
    /* A d_input without memory (no gradient wanted) is skipped. */
    return concat_copy(state, ctx->backend, ctx->batch, d_inputs, d_output, 0);
}

static void concat_destroy(void *state)
{
    concat_state *st = state;
    if (!st)
        return;
    free(st->inner);
    free(st);
}

/* Concat on the axis the output differs from input 0 (one input: Identity). */
static int concat_export(void *state, dlh_onnx_builder *b)
{
    (void)state;
    if (b->n_inputs == 1)
        return dlh_onnx_unary(b, "Identity");
    int axis = 0;
    while (axis < b->output_shape.ndim &&
           b->output_shape.dim[axis] == b->input_shapes[0].dim[axis])
        axis++;
    int rc = b->node(b, "Concat", b->n_inputs, b->inputs, 1, &b->output);
    return rc < 0 ? rc : b->attr_int(b, "axis", axis + 1);
}

const dlh_layer_ops concat_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = concat_create,
    .forward = concat_forward,
    .backward = concat_backward,
    .destroy = concat_destroy,
    .export_onnx = concat_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc concat_params[] = {
    { "axis", DLH_PARAM_INT, "0", -DLH_MAX_DIMS, DLH_MAX_DIMS - 1, NULL, "per-sample axis (the batch excluded), negative from the end" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
