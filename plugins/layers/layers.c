/* Entry point of the "layers" plugin: keeps the host table and registers
 * every layer of the family. */
#include "layers.h"

const dlh_host *layers_host;

static int layers_init(const dlh_host *host, dlh_registrar *reg)
{
    layers_host = host;
    return reg->add(reg, DLH_KIND_LAYER, "dense", &dense_ops,
                    "fully connected layer y = x W^T + b (nn.Linear)");
}

DLH_PLUGIN("layers", "0.1.0", "core layers: dense", "MIT", layers_init)
