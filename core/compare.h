/* `dlhost compare RUNDIR...`: the runs' best metrics side by side and their
 * curves overlaid in one SVG.  metrics.csv is read by its header
 * (curves.h's dlh_metrics_table), so columns a run adds (metric plugins'
 * "val_precision", a loss list's "val_loss.head") are compared as they
 * come; a column one run lacks is "-" in its column. */
#ifndef DLHOST_CORE_COMPARE_H
#define DLHOST_CORE_COMPARE_H

#include <stddef.h>
#include <stdio.h>

#include "curves.h"

typedef struct dlh_compare_run {
    char *dir;                      /* as given, without trailing slashes */
    char *name;                     /* the folder's last part, or dir when two runs share it */
    char *monitor;                  /* the run's monitored column */
    int monitor_assumed;            /* 1: not in last.safetensors, guessed from the columns */
    dlh_metrics_table t;
    /* [t.n_cols]: each column's direction (as dlh_compare_direction) as the
       experiment of the run's config.cfg resolves it, 0 where it knows none;
       NULL without a config.cfg that builds (the names decide). */
    int *goal;
} dlh_compare_run;

typedef struct dlh_compare {
    dlh_compare_run *runs;
    size_t n;
} dlh_compare;

/* Reads each run folder's metrics.csv, the direction of each column from
   the experiment its config.cfg builds (relative paths in it taken from the
   current folder, where dlhost run ran; on the cpu backend) and its
   monitored metric from last.safetensors, else from that experiment, else
   val_loss where the run has it, else train_loss.  A config.cfg that is
   missing or no longer builds leaves the directions to the column names.
   A folder that does not exist or has no metrics.csv is DLH_ECONFIG ("X:
   not a run folder ..."), an unreadable or malformed metrics.csv DLH_EIO
   or DLH_EDATA naming file and line; n < 1 is DLH_EINVAL. */
int dlh_compare_load(const char *const *dirs, size_t n, dlh_compare *c);
void dlh_compare_free(dlh_compare *c);      /* zeroed or loaded */

/* The direction a column improves in: -1 lower is better (names ending in
   "loss", and mae, mse, rmse), +1 higher is better (accuracy, precision,
   f1, r2, ...), 0 not a metric (epoch, lr, seconds, samples_per_s).  A
   "train_"/"val_"/"test_" prefix and a ".head" suffix are ignored. */
int dlh_compare_direction(const char *column);

/* The table: a row per column of any run (best value and its epoch by the
   column's direction in that run; lr last, seconds summed, samples_per_s
   averaged),
   then the epoch count and the best epoch of each run's monitored metric. */
void dlh_compare_print(FILE *out, const dlh_compare *c);

/* The runs' curves overlaid (curves.h) into svg, atomically. */
int dlh_compare_svg(const dlh_compare *c, const char *svg);

#endif
