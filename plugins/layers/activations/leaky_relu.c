/* leaky_relu: y = x for x > 0, negative_slope * x otherwise (nn.LeakyReLU,
 * default slope 0.01); the gradient at x = 0 takes the slope, as PyTorch's. */
#include <float.h>
#include <stdlib.h>

#include "activations.h"

typedef struct leaky_relu_state {
    float slope;
    dlh_ew_kernel *fwd, *bwd;
} leaky_relu_state;

static int leaky_relu_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    leaky_relu_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    const double def_slope = 0.01;
    double slope;
    int rc;
    if ((rc = host->param_float(setup->params, "negative_slope", &def_slope, -DBL_MAX,
                                DBL_MAX, &slope)) < 0)
        return rc;
    if (setup->n_inputs != 1)
        return host->param_error(setup->params, NULL,
                                 "leaky_relu takes exactly one input, got %d",
                                 setup->n_inputs);
    st->slope = (float)slope;
    setup->output = setup->inputs[0];
    if ((rc = host->ew_compile(setup->backend,
                               "in x; out y; scalar a; y = select(x > 0, x, a*x);",
                               &st->fwd)) < 0 ||
        (rc = host->ew_compile(setup->backend, "in x, dy; out dx; scalar a; "
                               "dx = select(x > 0, dy, a*dy);", &st->bwd)) < 0)
        return rc;
    return 0;
}

static int leaky_relu_forward(void *state, const dlh_layer_ctx *ctx,
                              const dlh_tensor *inputs, const dlh_tensor *output)
{
    (void)ctx;
    const leaky_relu_state *st = state;
    size_t n = (size_t)dlh_tensor_numel(output);
    dlh_ew_arg args[2] = { dlh_ew_full(inputs[0].mem, n), dlh_ew_full(output->mem, n) };
    return activations_host->ew_run(st->fwd, n, args, &st->slope);
}

static int leaky_relu_backward(void *state, const dlh_layer_ctx *ctx,
                               const dlh_tensor *inputs, const dlh_tensor *output,
                               const dlh_tensor *d_output, const dlh_tensor *d_inputs)
{
    (void)ctx;
    (void)output;
    const leaky_relu_state *st = state;
    if (!d_inputs[0].mem.buf)
        return 0;
    size_t n = (size_t)dlh_tensor_numel(d_output);
    dlh_ew_arg args[3] = {
        dlh_ew_full(inputs[0].mem, n),
        dlh_ew_full(d_output->mem, n),
        dlh_ew_full(d_inputs[0].mem, n),
    };
    return activations_host->ew_run(st->bwd, n, args, &st->slope);
}

static void leaky_relu_destroy(void *state)
{
    leaky_relu_state *st = state;
    if (!st)
        return;
    activations_host->ew_free(st->fwd);
    activations_host->ew_free(st->bwd);
    free(st);
}

static int leaky_relu_export(void *state, dlh_onnx_builder *b)
{
    int rc = dlh_onnx_unary(b, "LeakyRelu");
    return rc < 0 ? rc : b->attr_float(b, "alpha", ((const leaky_relu_state *)state)->slope);
}

const dlh_layer_ops leaky_relu_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = leaky_relu_create,
    .forward = leaky_relu_forward,
    .backward = leaky_relu_backward,
    .destroy = leaky_relu_destroy,
    .export_onnx = leaky_relu_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc leaky_relu_params[] = {
    { "negative_slope", DLH_PARAM_FLOAT, "0.01", -DBL_MAX, DBL_MAX, NULL, "slope for x < 0" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
