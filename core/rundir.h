/* The run directory runs/<name>/: what a run leaves behind for a person and
 * for --resume.
 *
 *   config.cfg        the resolved experiment (after --set and defaults)
 *   metrics.csv       one row per epoch: epoch,train_loss,train_accuracy,
 *                     val_loss,val_accuracy,lr,seconds,samples_per_s
 *                     (empty field where a value does not apply)
 *   curves.svg        loss and accuracy per epoch, train and validation
 *                     (curves.h), rewritten with metrics.csv
 *   last.safetensors  weights, optimiser state, __metadata__
 *   best.safetensors  the same for the best epoch by the monitored metric
 *
 * Every file is written atomically (temp file, fsync, rename, fsync of the
 * folder), so a crash leaves the old file or the new one, never a torn one. */
#ifndef DLHOST_CORE_RUNDIR_H
#define DLHOST_CORE_RUNDIR_H

#include <stddef.h>
#include <stdint.h>

#include <dlhost/dlhost.h>

#include "params.h"
#include "safetensors.h"

typedef struct dlh_rundir dlh_rundir;

/* Creates (or reuses) `root`/`name` (root NULL = "runs"), writes config.cfg
   from cfg and starts a fresh metrics.csv with its header (and an empty
   curves.svg). */
int dlh_rundir_open(const char *root, const char *name, dlh_config *cfg,
                    dlh_rundir **out);
void dlh_rundir_close(dlh_rundir *r);
const char *dlh_rundir_path(const dlh_rundir *r);

typedef struct dlh_epoch_row {
    int64_t epoch;                  /* from 1 */
    double train_loss, train_accuracy;  /* NaN = not applicable */
    double val_loss, val_accuracy;      /* NaN = no validation */
    double lr, seconds, samples_per_s;
} dlh_epoch_row;

/* Reopens the existing run folder `dir` (trailing '/' ignored) for
   `dlhost run --resume`: rewrites config.cfg from cfg and metrics.csv and
   curves.svg with rows[0..n) (the epochs before the resumed one; copied);
   later rows are appended by dlh_rundir_metrics.  DLH_ECONFIG when dir is
   not a folder. */
int dlh_rundir_resume(const char *dir, dlh_config *cfg, const dlh_epoch_row *rows,
                      size_t n, dlh_rundir **out);

/* metrics.csv's first line, with its newline. */
extern const char dlh_metrics_header[];

/* Appends one row to metrics.csv and redraws curves.svg (each rewritten
   atomically). */
int dlh_rundir_metrics(dlh_rundir *r, const dlh_epoch_row *row);

/* A tensor to save or load: name and a tensor on `be`. */
typedef struct dlh_ckpt_tensor {
    const char *name;               /* "fc1.weight", "optim.fc1.weight.exp_avg" */
    const dlh_tensor *t;
} dlh_ckpt_tensor;

/* Reads every tensor from the backend (staging buffer sized once by the
   caller's largest tensor) and writes `file` ("last.safetensors") in the run
   directory atomically with the metadata. */
int dlh_checkpoint_save(const dlh_backend *be, const char *path,
                        const dlh_ckpt_tensor *tensors, size_t n,
                        const dlh_st_meta *meta, size_t n_meta);
/* Loads `path` into the given tensors: every one must be present with the
   same shape and dtype (else DLH_EDATA naming the tensor, both shapes and the
   file); tensors in the file that are not asked for are ignored when
   allow_extra, else an error.  *file (may be NULL) receives the open file
   for reading metadata; free it with dlh_st_free. */
int dlh_checkpoint_load(const dlh_backend *be, const char *path,
                        const dlh_ckpt_tensor *tensors, size_t n, int allow_extra,
                        dlh_st_file **file);

#endif
