/* `dlhost cv`: k-fold cross-validation of an experiment, and what `dlhost
 * sweep` (sweep.h) shares with it.
 *
 * Each fold is an ordinary run (run.h) whose validation samples are fold k
 * of data.train (the run options' split hook), written to
 * runs/<name>/fold-k/ (runs/<name>/repeat-r/fold-k/ with --repeats R > 1);
 * the summary (each fold's best epoch, every metrics.csv column, then mean
 * and sample standard deviation) goes to the terminal and to cv.csv.
 *
 * A run folder that cv or sweep trains holds two files of its own, written
 * atomically: plan.txt (what the folder is for: the fold, and a hash of the
 * resolved configuration) before training, done.txt after it ended.  A rerun
 * keeps a folder whose plan matches and that is done, resumes (--resume's
 * machinery) one whose plan matches and that has a last.safetensors, and
 * trains every other one from the start. */
#ifndef DLHOST_CORE_CV_H
#define DLHOST_CORE_CV_H

#include <stdint.h>
#include <stdio.h>

#include "params.h"
#include "run.h"

/* rng_stream purpose of the fold assignment: (7, repeat, 0). */
#define DLH_CV_RNG 7

/* The fold of each of n samples, fold[i] in [0, k): a Philox permutation
   of 0..n-1 (seed, rng_stream(DLH_CV_RNG, repeat, 0)) dealt round robin, so
   fold sizes differ by at most one.  With labels (the class of each sample,
   in [0, n_classes)) the permutation is dealt class after class with one
   running counter, so fold f holds floor or ceil of n_c / k samples of each
   class c and floor or ceil of n / k in all.  0, DLH_EINVAL (k < 2, k > n,
   a label out of range; message set) or DLH_ENOMEM. */
int dlh_cv_assign(int64_t n, int k, const int32_t *labels, int64_t n_classes,
                  uint64_t seed, int64_t repeat, int32_t *fold);

/* The experiment cv and sweep run, as the command line gives it. */
typedef struct dlh_select {
    const char *cfg_path;
    const char *const *sets;        /* --set KEY=VALUE, applied in order */
    int n_sets;
    const char *backend;            /* --backend, or NULL */
    const char *runs_root;          /* --runs, or NULL: "runs" */
} dlh_select;

typedef struct dlh_cv_options {
    int folds;                      /* K, from 2 to the training samples */
    int repeats;                    /* R >= 1: other fold assignments */
    int stratified;                 /* keep the class proportions per fold */
    int refit;                      /* train once more on all of data.train */
} dlh_cv_options;

/* dlhost cv: the folds of s (plugins loaded), the summary printed to out
   and written to runs/<name>/cv.csv, then the refit.  0, a DLH_E* code with
   the message set (DLH_ECONFIG for what the user must fix: k > samples,
   data.validation given, --stratified without class labels), or the
   number of the signal that stopped a fold (> 0; a rerun continues). */
int dlh_cv(const dlh_select *s, const dlh_cv_options *o, FILE *out);

/* ------------------------------------------------- shared with sweep.c */

/* Named numbers: one row of a table (NaN: no value). */
typedef struct dlh_cv_row {
    int n;
    char **names;
    double *v;
} dlh_cv_row;

void dlh_cv_row_free(dlh_cv_row *r);
/* The value of column `name`, NaN when r has no such column. */
double dlh_cv_row_get(const dlh_cv_row *r, const char *name);

/* The best epoch of run folder dir: its metrics.csv row of the epoch that
   last.safetensors's "best_epoch" names (the last row when there is none),
   as "best_epoch" and then every column of metrics.csv after "epoch", read
   by the header's names.  DLH_EIO / DLH_EDATA naming the file. */
int dlh_cv_best_row(const char *dir, dlh_cv_row *out);

/* s's experiment file with s's --set, then extra[0..n_extra).  DLH_ECONFIG
   (message set) on a bad file or assignment. */
int dlh_cv_config(const dlh_select *s, const char *const *extra, int n_extra,
                  dlh_config **out);

/* Removes group.key from cfg when it is there ("data", "test"). */
void dlh_cv_config_remove(dlh_config *cfg, const char *group, const char *key);

/* A throwaway experiment to read before the runs (cv's and sweep's probes,
   compare's directions): cfg (taken over: freed by dlh_cv_probe_free, or
   here on failure) with the settings drop[] ("data.test"; NULL-terminated,
   or NULL) removed, built on `backend` (NULL: the file's) for batches of 1
   sample. */
typedef struct dlh_cv_probe {
    dlh_config *cfg;
    struct dlh_experiment *e;
} dlh_cv_probe;

int dlh_cv_probe_new(dlh_config *cfg, const char *backend, const char *const *drop,
                     dlh_cv_probe *p);
void dlh_cv_probe_free(dlh_cv_probe *p);

/* The resolved configuration as libconfig writes it (malloc'ed). */
int dlh_cv_config_text(dlh_config *cfg, char **text, size_t *len);

/* The text of a folder's plan.txt: "<what>, config fnv1a64:<hash of cfg's
   resolved text>\n" (malloc'ed; NULL with the error set). */
char *dlh_cv_plan(dlh_config *cfg, const char *what);

/* Trains cfg (whose name must be `name`) in root/name, or keeps or resumes
   the run there by plan.txt and done.txt (above); `plan` is the text that
   names what the folder holds.  opt: the run's options (runs_root and
   resume are set here).  As dlh_run_ex; 0 also when kept.  A run that
   diverged (DLH_ENUMERIC) counts as ended (diverged.txt and done.txt): a
   rerun returns DLH_ENUMERIC again without training. */
int dlh_cv_train(dlh_config *cfg, const char *backend, const char *root, const char *name,
                 const char *plan, const dlh_run_options *opt, FILE *out);

/* The folds of s with extra assignments into folder dir (its fold-k/ or
   repeat-r/fold-k/ folders and cv.csv); *mean receives the mean of every
   summary column.  As dlh_cv. */
int dlh_cv_in(const dlh_select *s, const char *const *extra, int n_extra, const char *dir,
              const dlh_cv_options *o, dlh_cv_row *mean, FILE *out);

#endif
