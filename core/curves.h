/* Learning curves: metrics.csv read back, and curves.svg drawn from its rows
 * (train and validation loss on the left, accuracy on the right, one point
 * per epoch).  The run directory rewrites curves.svg with metrics.csv after
 * every epoch; `dlhost plot RUNDIR` draws it again from metrics.csv. */
#ifndef DLHOST_CORE_CURVES_H
#define DLHOST_CORE_CURVES_H

#include <stddef.h>

#include "rundir.h"

/* Reads a metrics.csv that dlhost wrote: the exact header (and the names
   of up to DLH_METRICS_MAX_EXTRA extra columns, rundir.h), then rows of 8
   fields and one per extra column (an empty field is NaN; the extras into
   extra[], n_extra), epochs counting up from 1.  *rows is
   malloc'ed (free it); an empty file body gives *n = 0.  Errors name the
   file and line (DLH_EDATA), or the file (DLH_EIO). */
int dlh_metrics_read(const char *path, dlh_epoch_row **rows, size_t *n);

/* The SVG text of the curves of n rows (n may be 0) titled `title` (escaped
   here); *text is malloc'ed. */
int dlh_curves_svg(const dlh_epoch_row *rows, size_t n, const char *title, char **text,
                   size_t *len);

/* dlh_curves_svg written atomically to path. */
int dlh_curves_write(const char *path, const dlh_epoch_row *rows, size_t n,
                     const char *title);

#endif
