/* Entry point of the "normalization" plugin: keeps the host table and
 * registers every layer of the family. */
#include "normalization.h"

const dlh_host *normalization_host;

static int normalization_init(const dlh_host *host, dlh_registrar *reg)
{
    normalization_host = host;
    int rc = reg->add(reg, DLH_KIND_LAYER, "batchnorm", &batchnorm_ops,
                      "batch normalisation per channel of [C], [C, L] or [C, H, W] "
                      "samples (nn.BatchNorm1d, nn.BatchNorm2d)");
    return rc < 0 ? rc : reg->describe(reg, DLH_KIND_LAYER, "batchnorm", batchnorm_params);
}

DLH_PLUGIN("normalization", "0.1.0", "normalization layers: batchnorm", "MIT",
           normalization_init)
