/* Entry point of the "activations" plugin: keeps the host table and
 * registers every activation of the family. */
#include "activations.h"

const dlh_host *activations_host;

static const struct {
    const char *name;
    const dlh_layer_ops *ops;
    const char *description;
} activations_list[] = {
    { "relu", &relu_ops, "rectified linear unit max(x, 0) (nn.ReLU)" },
    { "leaky_relu", &leaky_relu_ops,
      "x for x > 0, else negative_slope * x (nn.LeakyReLU, slope 0.01)" },
    { "sigmoid", &sigmoid_ops, "logistic 1 / (1 + exp(-x)) (nn.Sigmoid)" },
    { "tanh", &tanh_ops, "hyperbolic tangent (nn.Tanh)" },
    { "softmax", &softmax_ops,
      "softmax over each sample's flattened features (nn.Softmax(dim=1))" },
    { "log_softmax", &log_softmax_ops,
      "log of softmax over each sample's flattened features (nn.LogSoftmax(dim=1))" },
};

static int activations_init(const dlh_host *host, dlh_registrar *reg)
{
    activations_host = host;
    for (size_t i = 0; i < sizeof activations_list / sizeof activations_list[0]; i++) {
        int rc = reg->add(reg, DLH_KIND_LAYER, activations_list[i].name,
                          activations_list[i].ops, activations_list[i].description);
        if (rc < 0)
            return rc;
    }
    return 0;
}

DLH_PLUGIN("activations", "0.1.0",
           "activation layers: relu, leaky_relu, sigmoid, tanh, softmax, log_softmax",
           "MIT", activations_init)
