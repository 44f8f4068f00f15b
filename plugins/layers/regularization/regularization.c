/* Entry point of the "regularization" plugin: keeps the host table and
 * registers every layer of the family. */
#include "regularization.h"

const dlh_host *regularization_host;

static int regularization_init(const dlh_host *host, dlh_registrar *reg)
{
    regularization_host = host;
    int rc = reg->add(reg, DLH_KIND_LAYER, "dropout", &dropout_ops,
                      "inverted dropout: zeroes with probability rate in training, "
                      "scales by 1/(1-rate) (nn.Dropout)");
    return rc < 0 ? rc : reg->describe(reg, DLH_KIND_LAYER, "dropout", dropout_params);
}

DLH_PLUGIN("regularization", "0.1.0", "regularization layers: dropout", "MIT",
           regularization_init)
