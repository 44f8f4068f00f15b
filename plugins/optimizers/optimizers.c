/* Entry point of the "optimizers" plugin. */
#include "optimizers.h"

const dlh_host *optimizers_host;

static int optimizers_init(const dlh_host *host, dlh_registrar *reg)
{
    optimizers_host = host;
    int rc;
    if ((rc = reg->add(reg, DLH_KIND_OPTIMIZER, "sgd", &sgd_ops,
                       "stochastic gradient descent with momentum (torch.optim.SGD)")) < 0 ||
        (rc = reg->add(reg, DLH_KIND_OPTIMIZER, "adam", &adam_ops,
                       "Adam with optional amsgrad (torch.optim.Adam)")) < 0 ||
        (rc = reg->add(reg, DLH_KIND_OPTIMIZER, "rmsprop", &rmsprop_ops,
                       "RMSprop with momentum and centering (torch.optim.RMSprop)")) < 0)
        return rc;
    return 0;
}

DLH_PLUGIN("optimizers", "0.1.0", "optimisers: sgd, adam, rmsprop", "MIT", optimizers_init)
