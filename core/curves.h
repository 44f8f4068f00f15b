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

/* metrics.csv read generically, whatever its columns: the header's names
   ("epoch" first, each once, at most DLH_METRICS_MAX_COLS) and the rows'
   values (an empty field is NaN; epochs counting up from 1), row after row
   in v[row * n_cols + col].  The refusals are dlh_metrics_read's. */
#define DLH_METRICS_MAX_COLS 1024
typedef struct dlh_metrics_table {
    int n_cols;
    char **names;                   /* [n_cols] */
    size_t n_rows;
    double *v;                      /* [n_rows * n_cols] */
} dlh_metrics_table;

int dlh_metrics_table_read(const char *path, dlh_metrics_table *t);
void dlh_metrics_table_free(dlh_metrics_table *t);     /* zeroed or read */
/* The index of column `name`, or -1. */
int dlh_metrics_table_col(const dlh_metrics_table *t, const char *name);

/* The SVG text of the curves of n rows (n may be 0) titled `title` (escaped
   here); *text is malloc'ed.  _cols also names the rows' extra columns
   (",name,name", as metrics.csv's header after its fixed 8; NULL: none):
   their validation metrics (val_<m>, not a loss) are drawn in a third
   panel below, up to 10, with the matching train_<m> dashed. */
int dlh_curves_svg(const dlh_epoch_row *rows, size_t n, const char *title, char **text,
                   size_t *len);
int dlh_curves_svg_cols(const dlh_epoch_row *rows, size_t n, const char *columns,
                        const char *title, char **text, size_t *len);

/* `dlhost compare`: the curves of n_runs runs overlaid in one SVG (loss and
   accuracy panels; per run one colour, train dashed, validation solid; a
   legend of names[r]), from each table's train_loss, val_loss,
   train_accuracy and val_accuracy columns where it has them.  *text is
   malloc'ed; _write writes it atomically to path. */
int dlh_curves_compare_svg(const char *const *names, const dlh_metrics_table *tables,
                           size_t n_runs, char **text, size_t *len);
int dlh_curves_compare_write(const char *path, const char *const *names,
                             const dlh_metrics_table *tables, size_t n_runs);

/* dlh_curves_svg_cols written atomically to path. */
int dlh_curves_write(const char *path, const dlh_epoch_row *rows, size_t n,
                     const char *columns, const char *title);

#endif
