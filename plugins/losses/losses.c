/* Entry point of the "losses" plugin. */
#include "losses.h"

const dlh_host *losses_host;

static int losses_init(const dlh_host *host, dlh_registrar *reg)
{
    losses_host = host;
    return reg->add(reg, DLH_KIND_LOSS, "mse", &mse_ops,
                    "mean squared error (nn.MSELoss), dense targets");
}

DLH_PLUGIN("losses", "0.1.0", "loss functions: mse", "MIT", losses_init)
