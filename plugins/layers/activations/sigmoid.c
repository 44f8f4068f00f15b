/* sigmoid: y = 1 / (1 + exp(-x)) (nn.Sigmoid), computed without overflow for
 * large |x|.  Backward uses the saved output, dy * y (1 - y), so it needs
 * neither x nor another exp. */
#include <stdlib.h>

#include "activations.h"

typedef struct sigmoid_state {
    dlh_ew_kernel *fwd, *bwd;
} sigmoid_state;

static int sigmoid_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    sigmoid_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    if (setup->n_inputs != 1)
        return host->param_error(setup->params, NULL,
                                 "sigmoid takes exactly one input, got %d",
                                 setup->n_inputs);
    setup->output = setup->inputs[0];
    int rc;
    if ((rc = host->ew_compile(setup->backend, "in x; out y; y = sigmoid(x);",
                               &st->fwd)) < 0 ||
        (rc = host->ew_compile(setup->backend, "in y, dy; out dx; dx = dy*y*(1 - y);",
                               &st->bwd)) < 0)
        return rc;
    return 0;
}

static int sigmoid_forward(void *state, const dlh_layer_ctx *ctx,
                           const dlh_tensor *inputs, const dlh_tensor *output)
{
    (void)ctx;
    const sigmoid_state *st = state;
    size_t n = (size_t)dlh_tensor_numel(output);
    dlh_ew_arg args[2] = { dlh_ew_full(inputs[0].mem, n), dlh_ew_full(output->mem, n) };
    return activations_host->ew_run(st->fwd, n, args, NULL);
}

static int sigmoid_backward(void *state, const dlh_layer_ctx *ctx,
                            const dlh_tensor *inputs, const dlh_tensor *output,
                            const dlh_tensor *d_output, const dlh_tensor *d_inputs)
{
    (void)ctx;
    (void)inputs;
    const sigmoid_state *st = state;
    if (!d_inputs[0].mem.buf)
        return 0;
    size_t n = (size_t)dlh_tensor_numel(d_output);
    dlh_ew_arg args[3] = {
        dlh_ew_full(output->mem, n),
        dlh_ew_full(d_output->mem, n),
        dlh_ew_full(d_inputs[0].mem, n),
    };
    return activations_host->ew_run(st->bwd, n, args, NULL);
}

static void sigmoid_destroy(void *state)
{
    sigmoid_state *st = state;
    if (!st)
        return;
    activations_host->ew_free(st->fwd);
    activations_host->ew_free(st->bwd);
    free(st);
}

const dlh_layer_ops sigmoid_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = sigmoid_create,
    .forward = sigmoid_forward,
    .backward = sigmoid_backward,
    .destroy = sigmoid_destroy,
};
