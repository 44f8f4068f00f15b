/* The "datasets" family plugin: registers its readers. */
#include "datasets.h"

const dlh_host *datasets_host;

static int datasets_init(const dlh_host *host, dlh_registrar *reg)
{
    datasets_host = host;
    return reg->add(reg, DLH_KIND_DATASET, "csv", &csv_ops,
                    "numeric CSV file: features, then a class or dense label");
}

DLH_PLUGIN("datasets", "0.1.0", "dataset readers (csv)", "MIT", datasets_init)
