/* The "datasets" plugin family: readers of training data files.
 * One plugin object registers every reader of the family; each reader lives
 * in its own file and reaches the host through datasets_host. */
#ifndef DLHOST_PLUGIN_DATASETS_H
#define DLHOST_PLUGIN_DATASETS_H

#include <stdio.h>
#include <sys/stat.h>

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *datasets_host;

/* Opens the data file `path` (named by parameter `key` of p) for reading
   if it is a regular file, with *st its fstat; else NULL, *rc set and the
   message given: a missing file at the key (param_error; p NULL: an
   error naming the file, DLH_EIO, for a file opened after open), a FIFO or
   a device refused by name without blocking on it. */
FILE *datasets_fopen(dlh_params *p, const char *key, const char *path, struct stat *st,
                     int *rc);

/* csv.c: numeric CSV files read whole at open. */
extern const dlh_dataset_ops csv_ops;
/* idx.c: MNIST-style IDX files, raw or gzip, kept in their own type. */
extern const dlh_dataset_ops idx_ops;
/* npy.c: NumPy .npy files and .npz archives, converted to floats at open. */
extern const dlh_dataset_ops npy_ops;

/* Parameter tables (plugin.h), one per reader, in its file. */
extern const dlh_param_doc csv_params[];
extern const dlh_param_doc idx_params[];
extern const dlh_param_doc npy_params[];

#endif
