/* Entry point of the "activations" plugin. */
#include "activations.h"

const dlh_host *activations_host;

static int activations_init(const dlh_host *host, dlh_registrar *reg)
{
    activations_host = host;
    return reg->add(reg, DLH_KIND_LAYER, "relu", &relu_ops,
                    "rectified linear unit max(x, 0) (nn.ReLU)");
}

DLH_PLUGIN("activations", "0.1.0", "activation layers: relu", "MIT", activations_init)
