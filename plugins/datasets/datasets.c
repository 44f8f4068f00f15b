/* The "datasets" family plugin: registers its readers. */
#include "datasets.h"

const dlh_host *datasets_host;

static int datasets_init(const dlh_host *host, dlh_registrar *reg)
{
    datasets_host = host;
    int rc = reg->add(reg, DLH_KIND_DATASET, "csv", &csv_ops,
                      "numeric CSV file: features, then a class or dense label");
    if (rc || (rc = reg->describe(reg, DLH_KIND_DATASET, "csv", csv_params)))
        return rc;
    rc = reg->add(reg, DLH_KIND_DATASET, "idx", &idx_ops,
                  "IDX files (MNIST, Fashion-MNIST), raw or gzip: images and labels");
    if (rc || (rc = reg->describe(reg, DLH_KIND_DATASET, "idx", idx_params)))
        return rc;
    rc = reg->add(reg, DLH_KIND_DATASET, "npy", &npy_ops,
                  "NumPy .npy files or an .npz archive (stored or deflated): x and y");
    return rc ? rc : reg->describe(reg, DLH_KIND_DATASET, "npy", npy_params);
}

DLH_PLUGIN("datasets", "0.1.0", "dataset readers (csv, idx, npy)", "MIT", datasets_init)
