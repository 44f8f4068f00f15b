/* Entry point of the "activations" plugin: keeps the host table and
 * registers every activation of the family. */
#include <stdlib.h>

#include "activations.h"

const dlh_host *activations_host;

typedef struct pointwise_state {
    dlh_ew_kernel *fwd, *bwd;
    int bwd_from_output;
    float scalars[POINTWISE_MAX_SCALARS];
    int n_scalars;
    int variant;                /* pointwise_set_variant */
} pointwise_state;

int pointwise_create(const dlh_host *host, dlh_layer_setup *setup, void **state,
                     const char *name, const char *fwd_src, const char *bwd_src,
                     int bwd_from_output)
{
    return pointwise_create_scalars(host, setup, state, name, fwd_src, bwd_src,
                                    bwd_from_output, NULL, 0);
}

int pointwise_create_scalars(const dlh_host *host, dlh_layer_setup *setup, void **state,
                             const char *name, const char *fwd_src, const char *bwd_src,
                             int bwd_from_output, const float *scalars, int n_scalars)
{
    pointwise_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    if (setup->n_inputs != 1)
        return host->param_error(setup->params, NULL, "%s takes exactly one input, got %d",
                                 name, setup->n_inputs);
    setup->output = setup->inputs[0];
    st->bwd_from_output = bwd_from_output;
    if (n_scalars < 0 || n_scalars > POINTWISE_MAX_SCALARS) {
        host->error("%s: %d scalars (at most %d)", name, n_scalars, POINTWISE_MAX_SCALARS);
        return DLH_EINVAL;
    }
    for (int i = 0; i < n_scalars; i++)
        st->scalars[i] = scalars[i];
    st->n_scalars = n_scalars;
    int rc;
    if ((rc = host->ew_compile(setup->backend, fwd_src, &st->fwd)) < 0 ||
        (rc = host->ew_compile(setup->backend, bwd_src, &st->bwd)) < 0)
        return rc;
    return 0;
}

int pointwise_forward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                      const dlh_tensor *output)
{
    (void)ctx;
    const pointwise_state *st = state;
    size_t n = (size_t)dlh_tensor_numel(output);
    dlh_ew_arg args[2] = { dlh_ew_full(inputs[0].mem, n), dlh_ew_full(output->mem, n) };
    return activations_host->ew_run(st->fwd, n, args, st->n_scalars ? st->scalars : NULL);
}

int pointwise_backward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                       const dlh_tensor *output, const dlh_tensor *d_output,
                       const dlh_tensor *d_inputs)
{
    (void)ctx;
    const pointwise_state *st = state;
    if (!d_inputs[0].mem.buf)
        return 0;
    size_t n = (size_t)dlh_tensor_numel(d_output);
    dlh_ew_arg args[3] = {
        dlh_ew_full(st->bwd_from_output ? output->mem : inputs[0].mem, n),
        dlh_ew_full(d_output->mem, n),
        dlh_ew_full(d_inputs[0].mem, n),
    };
    return activations_host->ew_run(st->bwd, n, args, st->n_scalars ? st->scalars : NULL);
}

float pointwise_scalar(const void *state, int i)
{
    return ((const pointwise_state *)state)->scalars[i];
}

void pointwise_set_variant(void *state, int variant)
{
    ((pointwise_state *)state)->variant = variant;
}

int pointwise_variant(const void *state)
{
    return ((const pointwise_state *)state)->variant;
}

const char *act_onnx_scalar(dlh_onnx_builder *b, const char *hint, float v)
{
    return b->constant(b, hint, DLH_ONNX_FLOAT, 0, NULL, &v);
}

const char *act_onnx_op(dlh_onnx_builder *b, const char *op, const char *x, const char *y,
                        const char *out)
{
    const char *in[2] = { x, y };
    const char *v = out ? out : b->value(b, op);
    if (!v || !x)
        return NULL;
    return b->node(b, op, y ? 2 : 1, in, 1, &v) < 0 ? NULL : v;
}

void pointwise_destroy(void *state)
{
    pointwise_state *st = state;
    if (!st)
        return;
    activations_host->ew_free(st->fwd);
    activations_host->ew_free(st->bwd);
    free(st);
}

static const struct {
    const char *name;
    const dlh_layer_ops *ops;
    const char *description;
    const dlh_param_doc *params;
} activations_list[] = {
    { "relu", &relu_ops, "rectified linear unit max(x, 0) (nn.ReLU)",
      activations_no_params },
    { "leaky_relu", &leaky_relu_ops,
      "x for x > 0, else negative_slope * x (nn.LeakyReLU, slope 0.01)",
      leaky_relu_params },
    { "sigmoid", &sigmoid_ops, "logistic 1 / (1 + exp(-x)) (nn.Sigmoid)",
      activations_no_params },
    { "tanh", &tanh_ops, "hyperbolic tangent (nn.Tanh)",
      activations_no_params },
    { "elu", &elu_ops, "x for x > 0, else alpha (exp(x) - 1) (nn.ELU, alpha 1)",
      elu_params },
    { "selu", &selu_ops, "scale elu(x, alpha) with the fixed alpha and scale (nn.SELU)",
      activations_no_params },
    { "celu", &celu_ops, "max(0, x) + min(0, alpha (exp(x/alpha) - 1)) (nn.CELU, alpha 1)",
      celu_params },
    { "gelu", &gelu_ops,
      "x Phi(x), exact (erf) or approximate = \"tanh\" (nn.GELU)",
      gelu_params },
    { "silu", &silu_ops, "x sigmoid(x), swish (nn.SiLU)",
      activations_no_params },
    { "mish", &mish_ops, "x tanh(softplus(x)) (nn.Mish)",
      activations_no_params },
    { "softplus", &softplus_ops,
      "log(1 + exp(beta x))/beta, x where beta x > threshold (nn.Softplus, 1, 20)",
      softplus_params },
    { "hardtanh", &hardtanh_ops, "x clamped to [min_val, max_val] (nn.Hardtanh, -1, 1)",
      hardtanh_params },
    { "relu6", &relu6_ops, "min(max(x, 0), 6) (nn.ReLU6)",
      activations_no_params },
    { "hardswish", &hardswish_ops, "x relu6(x + 3)/6 (nn.Hardswish)",
      activations_no_params },
    { "hardsigmoid", &hardsigmoid_ops, "relu6(x + 3)/6 (nn.Hardsigmoid)",
      activations_no_params },
    { "softsign", &softsign_ops, "x/(1 + |x|) (nn.Softsign)",
      activations_no_params },
    { "softmax", &softmax_ops,
      "softmax over each sample's flattened features (nn.Softmax(dim=1))",
      activations_no_params },
    { "log_softmax", &log_softmax_ops,
      "log of softmax over each sample's flattened features (nn.LogSoftmax(dim=1))",
      activations_no_params },
    { "prelu", &prelu_ops,
      "x for x > 0, else a x with a learnable slope a, shared or per channel (nn.PReLU)",
      prelu_params },
};

static int activations_init(const dlh_host *host, dlh_registrar *reg)
{
    activations_host = host;
    for (size_t i = 0; i < sizeof activations_list / sizeof activations_list[0]; i++) {
        int rc = reg->add(reg, DLH_KIND_LAYER, activations_list[i].name,
                          activations_list[i].ops, activations_list[i].description);
        if (rc < 0 || (rc = reg->describe(reg, DLH_KIND_LAYER, activations_list[i].name,
                                          activations_list[i].params)) < 0)
            return rc;
    }
    return 0;
}

DLH_PLUGIN("activations", "0.1.0",
           "activation layers: relu, leaky_relu, sigmoid, tanh, elu, selu, celu, gelu, silu, "
           "mish, softplus, hardtanh, relu6, hardswish, hardsigmoid, softsign, softmax, "
           "log_softmax, prelu",
           "MIT", activations_init)

/* The table of an activation without parameters. */
const dlh_param_doc activations_no_params[] = {
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
