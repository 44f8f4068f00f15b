/* add: the elementwise sum of two or more inputs of one shape (a residual
 * join).  Forward runs fused ew kernels of up to DLH_EW_MAX_OPERANDS - 1
 * inputs each (one pass for up to 15 inputs); backward copies d_output to
 * every d_input, since each input's gradient is d_output itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"

/* Inputs summed by one kernel: every operand but the output. */
#define ADD_PER_KERNEL (DLH_EW_MAX_OPERANDS - 1)

typedef struct add_state {
    int n_inputs;
    int n_kernels;
    dlh_ew_kernel **kernels;    /* kernel j sums inputs [j*ADD_PER_KERNEL, ...) */
} add_state;

/* "in x0, x1; out y; y = x0 + x1;" or, after the first, "...inout y; y = y + ...". */
static int add_compile(const dlh_host *host, const dlh_backend *be, int count, int first,
                       dlh_ew_kernel **out)
{
    char src[1024];
    size_t used = (size_t)snprintf(src, sizeof src, "in ");
    for (int i = 0; i < count; i++)
        used += (size_t)snprintf(src + used, sizeof src - used, "%sx%d", i ? ", " : "", i);
    used += (size_t)snprintf(src + used, sizeof src - used, "; %s y; y = %s",
                             first ? "out" : "inout", first ? "" : "y + ");
    for (int i = 0; i < count; i++)
        used += (size_t)snprintf(src + used, sizeof src - used, "%sx%d", i ? " + " : "", i);
    snprintf(src + used, sizeof src - used, ";");
    return host->ew_compile(be, src, out);
}

static int add_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    add_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    if (setup->n_inputs < 2)
        return host->param_error(setup->params, NULL, "add needs at least 2 inputs "
                                 "(name them with inputs = [\"a\", \"b\"]), got %d",
                                 setup->n_inputs);
    const dlh_shape *s0 = &setup->inputs[0];
    for (int i = 1; i < setup->n_inputs; i++) {
        const dlh_shape *si = &setup->inputs[i];
        int same = si->ndim == s0->ndim;
        for (int d = 0; same && d < s0->ndim; d++)
            same = si->dim[d] == s0->dim[d];
        if (!same) {
            char a[96], b[96];
            return host->param_error(setup->params, NULL, "add needs inputs of one shape: "
                                     "input 0 is %s, input %d is %s",
                                     layers_shape_str(s0, a, sizeof a), i,
                                     layers_shape_str(si, b, sizeof b));
        }
    }
    setup->output = *s0;
    st->n_inputs = setup->n_inputs;
    st->n_kernels = (setup->n_inputs + ADD_PER_KERNEL - 1) / ADD_PER_KERNEL;
    st->kernels = calloc((size_t)st->n_kernels, sizeof *st->kernels);
    if (!st->kernels) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    for (int j = 0; j < st->n_kernels; j++) {
        int left = setup->n_inputs - j * ADD_PER_KERNEL;
        int count = left < ADD_PER_KERNEL ? left : ADD_PER_KERNEL;
        int rc = add_compile(host, setup->backend, count, j == 0, &st->kernels[j]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int add_forward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                       const dlh_tensor *output)
{
    (void)ctx;
    const add_state *st = state;
    size_t n = (size_t)dlh_tensor_numel(output);
    if (n == 0)
        return 0;
    dlh_ew_arg args[DLH_EW_MAX_OPERANDS];
    for (int j = 0; j < st->n_kernels; j++) {
        int first = j * ADD_PER_KERNEL, left = st->n_inputs - first;
        int count = left < ADD_PER_KERNEL ? left : ADD_PER_KERNEL;
        for (int i = 0; i < count; i++)
            args[i] = dlh_ew_full(inputs[first + i].mem, n);
        args[count] = dlh_ew_full(output->mem, n);
        int rc = layers_host->ew_run(st->kernels[j], n, args, NULL);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int add_backward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                        const dlh_tensor *output, const dlh_tensor *d_output,
                        const dlh_tensor *d_inputs)
{
    (void)inputs;
    (void)output;
    const add_state *st = state;
    const dlh_backend *be = ctx->backend;
    size_t bytes = (size_t)dlh_tensor_numel(d_output) * sizeof(float);
    for (int i = 0; bytes && i < st->n_inputs; i++) {
        if (!d_inputs[i].mem.buf)
            continue;
        int rc = be->ops->copy(be->ctx, d_inputs[i].mem.buf,
                               d_inputs[i].mem.off * sizeof(float), d_output->mem.buf,
                               d_output->mem.off * sizeof(float), bytes);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void add_destroy(void *state)
{
    add_state *st = state;
    if (!st)
        return;
    for (int j = 0; st->kernels && j < st->n_kernels; j++)
        layers_host->ew_free(st->kernels[j]);
    free(st->kernels);
    free(st);
}

static int add_export(void *state, dlh_onnx_builder *b)
{
    (void)state;
    return b->node(b, "Sum", b->n_inputs, b->inputs, 1, &b->output);
}

const dlh_layer_ops add_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = add_create,
    .forward = add_forward,
    .backward = add_backward,
    .destroy = add_destroy,
    .export_onnx = add_export,
};
