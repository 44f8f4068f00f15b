/* `dlhost run`: trains the experiment's model (DESIGN.md §7).
 * Seeded shuffling each epoch, the loader thread preparing the next batch,
 * validation each epoch, early stopping, the NaN/Inf guard, test evaluation
 * at the end, and the run directory runs/<name>/ (config.cfg, metrics.csv,
 * last.safetensors, best.safetensors). */
#ifndef DLHOST_CORE_RUN_H
#define DLHOST_CORE_RUN_H

#include <stdio.h>

#include "params.h"

struct dlh_experiment;

typedef struct dlh_run_options {
    const char *runs_root;          /* folder of run directories; NULL: "runs" */
    const char *pretrained_root;    /* where pretrained = { run = ...; } looks (the
                                       user's --runs when runs_root is a cv or sweep
                                       folder); NULL: runs_root */
    int progress;                   /* progress bar: -1 when `out` is a terminal,
                                       0 never, 1 always */
    const char *resume;             /* NULL, or a run folder to continue: its
                                       last.safetensors is loaded and the run
                                       writes back into it (runs_root unused) */
    int profile;                    /* 1: time every part of each epoch into
                                       profile.csv (profile.h) */
    /* optional (dlhost cv, cv.h): chooses the validation samples of
       data.train in place of data.validation_split's seeded choice (the
       experiment must still give validation_split, which the checks of
       early stopping need).  It receives idx = 0..n-1 and moves its *n_val
       validation samples (0 < *n_val < n) to the end; the run keeps both
       parts in file order.  Called once per run (--resume too) before
       anything is written; 0, or a DLH_E* code with the message set. */
    int (*split)(void *arg, struct dlh_experiment *e, int64_t *idx, int64_t n,
                 int64_t *n_val);
    void *split_arg;
} dlh_run_options;

/* Runs cfg, printing progress to `out`.  Returns 0, or a DLH_E* code with
   the message set (DLH_ENUMERIC when the loss or a gradient goes non-finite,
   naming the epoch, step and layer; nothing is updated or saved then).
   opt may be NULL (defaults).

   SIGINT or SIGTERM while it trains (a handler is installed for the
   training and removed after it) ends the step under way; the run then
   saves its position in last.safetensors (when train.checkpoint keeps
   checkpoints: at the epoch end if the signal came at an epoch's last step
   or during validation, else inside the epoch, with the epoch's sums so far),
   says how to go on, skips the test evaluation and returns the signal's
   number (> 0).  A second signal acts at once.  DLHOST_TEST_INTERRUPT_STEP=N
   raises SIGINT after step N, for tests.

   With opt->resume, training continues from the checkpoint's position (at
   an epoch end: the first batch of the next epoch; inside an epoch: its
   next batch, with the same shuffle order and batch size) with its
   weights, optimiser state, step counter, best value, early-stopping count
   and a replay of the schedule, so that on the cpu backend the result equals
   the uninterrupted run's bit for bit.  train.* keys, the schedule and the
   seed may change (then the run is not the uninterrupted one); refused with
   nothing written: a missing folder or checkpoint, a checkpoint from another
   optimizer, plugin set (names, versions, ABI; the backend may change, the
   run then says so and equals the uninterrupted one only up to the
   backends' rounding) or model/loss/optimizer
   settings ("config_hash"), changed training data (the "data" fingerprint:
   sample count and 256 evenly spaced samples; or other normalisation
   statistics),
   another monitored metric, an older format, and a run with nothing left
   (epoch >= train.epochs, or stopped early): DLH_ECONFIG; an unreadable or
   corrupt checkpoint or metrics.csv: DLH_EIO / DLH_EDATA. */
int dlh_run_ex(dlh_config *cfg, const char *backend_override,
               const dlh_run_options *opt, FILE *out);
/* dlh_run_ex with the default options. */
int dlh_run(dlh_config *cfg, const char *backend_override, FILE *out);

#endif
