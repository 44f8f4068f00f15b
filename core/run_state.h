/* The state of `dlhost run` shared by the training loop (run.c) and
 * --resume (resume.c); private to libdlhost. */
#ifndef DLHOST_CORE_RUN_STATE_H
#define DLHOST_CORE_RUN_STATE_H

#include <stdint.h>
#include <stdio.h>

#include "batcher.h"
#include "eval.h"
#include "experiment.h"
#include "graph.h"
#include "profile.h"
#include "rundir.h"
#include "sampler.h"

/* Format 2 added "monitor" and "monitored" (what --resume needs to carry
   best and early stopping on) and hashes only the model, loss and optimizer
   into "config_hash" (format 1 hashed the whole config.cfg).  Checkpoints
   of format 2 may also carry "data", the training data's fingerprint
   (run.c); --resume compares it when present.  Format 3 makes
   last.safetensors all that --resume needs: "best_epoch" and "best_step"
   name the best epoch so far, and where the weights it holds are not that
   epoch's, it carries a copy of the best weights as "best.<name>" tensors;
   best.safetensors holds the weights alone and is rebuilt from last when a
   crash left it behind or ahead. */
#define RUN_FORMAT "dlhost checkpoint 3"
#define RUN_FORMAT_OLD_PREFIX "dlhost checkpoint "
/* The prefix of the copies of the best weights in last.safetensors. */
#define RUN_BEST_PREFIX "best."

typedef struct run_state {
    dlh_experiment *e;
    const dlh_backend *be;
    dlh_graph *g;
    const dlh_host *host;
    FILE *out;
    int tty;
    dlh_evaluator ev;
    dlh_norm norm;
    dlh_batcher *bt_train, *bt_val, *bt_test;   /* bt_val: a separate reader */
    int64_t *train_idx, *val_idx, *order, *test_idx;
    int64_t n_train, n_val, n_test;
    int64_t n_epoch;                /* samples a training epoch visits (sampler) */
    dlh_sampler sampler;
    dlh_ckpt_tensor *ckpt;          /* weights and buffers, then optimiser state */
    size_t n_ckpt, n_weights;
    /* The best epoch's weights, kept on the device when early stopping or
       best.safetensors needs them (else NULL): [n_weights] copies. */
    dlh_tensor *best;
    int64_t *best_counts;           /* [n_weights]: the copies of counters (host) */
    dlh_ckpt_tensor *save;          /* ckpt, then "best.<name>" of each best copy */
    dlh_ckpt_tensor *best_ckpt;     /* [n_weights]: weight names, the best copies */
    dlh_rundir *rd;
    dlh_profile *prof;              /* --profile, else NULL */
    char *path_last, *path_best;
    char config_hash[40];
    char data_hash[96];             /* fingerprint of data.train (run.c) */
    char *plugins;                  /* metadata: the plugins used */
    char **class_keys;              /* metadata: "class_name.K" of each named class */
    char *backend_plugin;           /* metadata: the backend's item of plugins */
    char *resumed_backend;          /* --resume from another backend: its item */
    const char *monitor;            /* the monitored metric's name */
    int monitor_goal;               /* DLH_METRIC_MAX or _MIN */
    int train_metrics_valid;        /* the epoch's training metrics saw all of it */
    int64_t step;                   /* optimiser steps taken */
    double monitored;               /* last epoch's monitored metric, NaN if none */
    double *history;                /* [epochs]: the monitored metric of each epoch */
    int64_t start_epoch;            /* from 0: the first epoch to train */
    /* A run stopped by a signal mid-epoch saves where it was; --resume
       starts the first epoch there.  batch: steps done in that epoch (0: at
       its start); sum and correct: the loss summed over its samples so far
       and the samples classified right; seconds: its training time so far. */
    struct run_partial {
        int64_t batch, correct;
        double sum, seconds;
    } start, stopped;
    /* --resume of a run that had ended: RUN_ENDED (all train.epochs) or
       RUN_STOPPED_EARLY; nothing is trained, what follows training is done. */
    enum { RUN_ENDED = 1, RUN_STOPPED_EARLY } finished;
    int interrupted;                /* the signal that stopped the run, or 0 */
    int64_t interrupt_step;         /* DLHOST_TEST_INTERRUPT_STEP, or 0 */
    double best_value;              /* the best monitored value so far */
    int64_t best_epoch, wait;       /* its epoch (0: none yet); epochs since */
    int64_t best_step;              /* steps taken at the end of the best epoch */
    int closure_diverged;           /* a closure evaluation went non-finite (closure.c) */
    /* A loss list (experiment.h): the training epoch's sums of each head's
       own loss (times the batch) and correct predictions, [n_heads], kept
       over a resume inside an epoch; and metrics.csv's per-head columns. */
    double *head_sum;
    int64_t *head_correct;
    const char **cols;              /* e->cols' names */
    int n_cols;
    struct dlh_diag *diag;          /* diagnostics and the traps (diagnose.h) */
} run_state;

/* Where a training step is: epoch (from 0), batch s of steps, b samples. */
typedef struct dlh_run_at {
    int64_t epoch, s, steps, b;
} dlh_run_at;

/* Sets the message for a non-finite training loss (grad_k < 0) or gradient
   of parameter tensor grad_k at a step; returns DLH_ENUMERIC (run.c). */
int dlh_run_diverged(run_state *r, int64_t epoch, int64_t s, int64_t steps, int64_t b,
                     float loss, int grad_k);
/* After backward: the penalties' gradients (their value added to *loss),
   DLH_ENUMERIC (message set) when a gradient is non-finite, else clipping
   (optim.h).  Every evaluation of a step goes through it, the closure's too
   (run.c). */
int dlh_run_grads(run_state *r, int64_t epoch, int64_t s, int64_t steps, int64_t b,
                  float *loss);
/* The update of an optimiser with step_all (ABI 1.6) at its group's
   learning rate, then the max_norm constraints, given the batch's
   loss and gradients at the current weights; its closure evaluates the same
   batch again.  A closure evaluation with a non-finite loss or gradient
   sets r->closure_diverged and returns DLH_ENUMERIC (closure.c). */
int dlh_run_step_all(run_state *r, float loss, const dlh_run_at *at);

/* Steps of a training epoch: its samples (the sampler's) in batches of
   train.batch_size, the last one partial. */
static inline int64_t dlh_run_steps(const run_state *r)
{
    return (r->n_epoch + r->e->batch_size - 1) / r->e->batch_size;
}

/* calloc of at least one element; sets the error when it fails. */
void *dlh_run_calloc(size_t n, size_t size);
/* "a/b", malloc'ed; NULL (error set) when out of memory. */
char *dlh_run_join(const char *a, const char *b);
/* Copies the weights to (restore = 0) or from the early-stopping copies. */
int dlh_run_copy_best(run_state *r, int restore);
/* Counts an epoch's monitored value m against the best so far; 1 when it
   is the new best (the first epoch always is). */
int dlh_run_track_best(run_state *r, double m, int64_t epoch);
/* Whether early stopping ends the run after an epoch. */
int dlh_run_stops(const run_state *r, int improved);

/* Writes best.safetensors from the best copies (run.c). */
int dlh_run_save_best(run_state *r);

/* resume.c: everything of r->path_last (in RUNDIR `dir`) into the run,
   checked first; *rows receives metrics.csv's rows before the resumed epoch
   (malloc'ed).  Without last.safetensors, a run folder whose run stopped
   before its first checkpoint starts from the beginning.  Nothing is
   written to the run folder. */
int dlh_run_resume(run_state *r, const char *dir, dlh_epoch_row **rows, size_t *n_rows);
/* resume.c: after dlh_run_resume, with the folder locked: rebuilds (or
   removes) a best.safetensors that does not hold the best epoch so far. */
int dlh_run_repair_best(run_state *r);

#endif
