/* relu: y = max(x, 0); the gradient passes where x > 0 (0 at x = 0, as
 * PyTorch). */
#include <stdlib.h>

#include "activations.h"

typedef struct relu_state {
    dlh_ew_kernel *fwd, *bwd;
} relu_state;

static int relu_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    relu_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    if (setup->n_inputs != 1)
        return host->param_error(setup->params, NULL,
                                 "relu takes exactly one input, got %d", setup->n_inputs);
    setup->output = setup->inputs[0];
    int rc;
    if ((rc = host->ew_compile(setup->backend, "in x; out y; y = max(x, 0);",
                               &st->fwd)) < 0 ||
        (rc = host->ew_compile(setup->backend,
                               "in x, dy; out dx; dx = select(x > 0, dy, 0);",
                               &st->bwd)) < 0)
        return rc;
    return 0;
}

static int relu_forward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                        const dlh_tensor *output)
{
    (void)ctx;
    const relu_state *st = state;
    size_t n = (size_t)dlh_tensor_numel(output);
    dlh_ew_arg args[2] = { dlh_ew_full(inputs[0].mem, n), dlh_ew_full(output->mem, n) };
    return activations_host->ew_run(st->fwd, n, args, NULL);
}

static int relu_backward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                         const dlh_tensor *output, const dlh_tensor *d_output,
                         const dlh_tensor *d_inputs)
{
    (void)ctx;
    (void)output;
    const relu_state *st = state;
    if (!d_inputs[0].mem.buf)
        return 0;
    size_t n = (size_t)dlh_tensor_numel(d_output);
    dlh_ew_arg args[3] = {
        dlh_ew_full(inputs[0].mem, n),
        dlh_ew_full(d_output->mem, n),
        dlh_ew_full(d_inputs[0].mem, n),
    };
    return activations_host->ew_run(st->bwd, n, args, NULL);
}

static void relu_destroy(void *state)
{
    relu_state *st = state;
    if (!st)
        return;
    activations_host->ew_free(st->fwd);
    activations_host->ew_free(st->bwd);
    free(st);
}

const dlh_layer_ops relu_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = relu_create,
    .forward = relu_forward,
    .backward = relu_backward,
    .destroy = relu_destroy,
};
