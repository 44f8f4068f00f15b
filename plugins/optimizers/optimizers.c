/* Entry point of the "optimizers" plugin. */
#include "optimizers.h"

const dlh_host *optimizers_host;

static int optimizers_init(const dlh_host *host, dlh_registrar *reg)
{
    optimizers_host = host;
    return reg->add(reg, DLH_KIND_OPTIMIZER, "sgd", &sgd_ops,
                    "stochastic gradient descent with momentum (torch.optim.SGD)");
}

DLH_PLUGIN("optimizers", "0.1.0", "optimisers: sgd", "MIT", optimizers_init)
