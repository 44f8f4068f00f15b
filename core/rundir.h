/* The run directory runs/<name>/: what a run leaves behind for a person and
 * for --resume.
 *
 *   config.cfg        the resolved experiment (after --set and defaults)
 *   metrics.csv       one row per epoch: epoch,train_loss,train_accuracy,
 *                     val_loss,val_accuracy,lr,seconds,samples_per_s
 *                     (empty field where a value does not apply), then
 *                     the columns of dlh_rundir_columns (per-head metrics)
 *   curves.svg        loss and accuracy per epoch, train and validation
 *                     (curves.h), rewritten with metrics.csv
 *   last.safetensors  weights, optimiser state, __metadata__ (and a copy
 *                     of the best epoch's weights: all --resume needs)
 *   best.safetensors  the best epoch's weights by the monitored metric
 *   .lock             held (flock) by the run that writes the folder
 *
 * Every file is written atomically (temp file, fsync, rename, fsync of the
 * folder), so a crash leaves the old file or the new one, never a torn one;
 * the temporary files of writes a crash cut short are removed by the next
 * run that takes the lock. */
#ifndef DLHOST_CORE_RUNDIR_H
#define DLHOST_CORE_RUNDIR_H

#include <stddef.h>
#include <stdint.h>

#include <dlhost/dlhost.h>

#include "params.h"
#include "safetensors.h"

typedef struct dlh_rundir dlh_rundir;

/* Checks a run name: not empty, no '/', no leading '.', at most 255 bytes,
   valid UTF-8 without control characters.  0, or DLH_ECONFIG with "run name
   '<name, bad bytes as \xNN>' <why>" set. */
int dlh_run_name_check(const char *name);

/* A fresh run: creates (or reuses) `root`/`name` (root NULL = "runs"),
   takes its lock (below), removes temporary files a crash left and the
   checkpoints of a previous run there, then writes config.cfg from cfg (when
   not NULL) and a fresh metrics.csv with its header (and an empty
   curves.svg).  DLH_ECONFIG for a bad name or a folder another run holds. */
int dlh_rundir_open(const char *root, const char *name, dlh_config *cfg,
                    dlh_rundir **out);

/* `dlhost run --resume`: the existing run folder `dir` (trailing '/'
   ignored), locked, with the temporary files a crash left removed; nothing
   else is written (read the checkpoints, then dlh_rundir_restart).
   DLH_ECONFIG when dir is not a folder or another run holds it. */
int dlh_rundir_attach(const char *dir, dlh_rundir **out);

typedef struct dlh_epoch_row dlh_epoch_row;

/* For an attached folder: rewrites config.cfg from cfg (when not NULL),
   and metrics.csv and curves.svg with rows[0..n) (the epochs before the
   resumed one; copied); later rows are appended by dlh_rundir_metrics. */
int dlh_rundir_restart(dlh_rundir *r, dlh_config *cfg, const dlh_epoch_row *rows,
                       size_t n);

/* mkdir -p of path (an existing folder is fine); DLH_EIO naming it. */
int dlh_rundir_mkdirs(const char *path);

/* Closes r and releases its lock. */
void dlh_rundir_close(dlh_rundir *r);
const char *dlh_rundir_path(const dlh_rundir *r);

/* The lock: an exclusive flock on `<folder>/.lock`, held from open or attach
   to close, so that two runs never write one folder (a second gets
   DLH_ECONFIG: "<folder> is in use by process N (started ...)").  Readers
   (eval, plot) take no lock. */

/* Columns after the 8 of dlh_metrics_header (a loss list's per-head
   columns, "val_loss.head_a"): at most this many. */
#define DLH_METRICS_MAX_EXTRA 256

struct dlh_epoch_row {
    int64_t epoch;                  /* from 1 */
    double train_loss, train_accuracy;  /* NaN = not applicable */
    double val_loss, val_accuracy;      /* NaN = no validation */
    double lr, seconds, samples_per_s;
    int n_extra;                    /* values in extra[] (the rundir's columns) */
    double extra[DLH_METRICS_MAX_EXTRA];    /* NaN = not applicable */
};

/* metrics.csv's first line, with its newline. */
extern const char dlh_metrics_header[];

/* Its loss and accuracy columns, in its order: [0] train_loss, [1]
   train_accuracy, [2] val_loss, [3] val_accuracy; the odd ones are
   accuracies (higher is better), the even ones losses (lower is better);
   the last two need validation data. */
#define DLH_METRICS_N_FIXED 4
extern const char *const dlh_metrics_fixed[DLH_METRICS_N_FIXED];

/* Adds columns names[0..n) (n <= DLH_METRICS_MAX_EXTRA; copied) after the
   8 of dlh_metrics_header, filled from each row's extra[]; they take effect
   at the next write of metrics.csv (dlh_rundir_restart, _metrics). */
int dlh_rundir_columns(dlh_rundir *r, const char *const *names, int n);

/* Appends one row to metrics.csv and redraws curves.svg (each rewritten
   atomically). */
int dlh_rundir_metrics(dlh_rundir *r, const dlh_epoch_row *row);

/* Writes a metric's table as <table name>/epoch-N.csv in the run folder
   (atomically; the folder is made when missing): a header row
   "true\\predicted,<column names>", then one row per table row. */
int dlh_rundir_table(dlh_rundir *r, const dlh_metric_table *t, int64_t epoch);

/* A tensor to save or load: name and a tensor on `be`, or, for a layer's
   counter (layer.h add_counter), an int64 in host memory. */
typedef struct dlh_ckpt_tensor {
    const char *name;               /* "fc1.weight", "optim.fc1.weight.exp_avg" */
    const dlh_tensor *t;            /* for a counter dlh_ckpt_counter_desc */
    int64_t *host;                  /* a counter's value, else NULL */
} dlh_ckpt_tensor;

/* The shape and dtype of every counter: a 0-d DLH_I64 tensor, no memory. */
extern const dlh_tensor dlh_ckpt_counter_desc;

/* Reads every tensor from the backend (staging buffer sized once by the
   caller's largest tensor) and writes `file` ("last.safetensors") in the run
   directory atomically with the metadata. */
int dlh_checkpoint_save(const dlh_backend *be, const char *path,
                        const dlh_ckpt_tensor *tensors, size_t n,
                        const dlh_st_meta *meta, size_t n_meta);
/* Loads `path` into the given tensors: every one must be present with the
   same shape and dtype (else DLH_EDATA naming the tensor, both shapes and the
   file), except a counter, which keeps its value when the file lacks it (a
   checkpoint from before the layer had it); tensors in the file that are
   not asked for are ignored when
   allow_extra, else an error.  *file (may be NULL) receives the open file
   for reading metadata; free it with dlh_st_free. */
int dlh_checkpoint_load(const dlh_backend *be, const char *path,
                        const dlh_ckpt_tensor *tensors, size_t n, int allow_extra,
                        dlh_st_file **file);

#endif
