/* The "datasets" plugin family: readers of training data files.
 * One plugin object registers every reader of the family; each reader lives
 * in its own file and reaches the host through datasets_host. */
#ifndef DLHOST_PLUGIN_DATASETS_H
#define DLHOST_PLUGIN_DATASETS_H

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *datasets_host;

/* csv.c: numeric CSV files read whole at open. */
extern const dlh_dataset_ops csv_ops;
/* idx.c: MNIST-style IDX files, raw or gzip, kept in their own type. */
extern const dlh_dataset_ops idx_ops;

#endif
