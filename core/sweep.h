/* `dlhost sweep`: a hyper-parameter search over an experiment (cv.h for
 * how each run folder is kept or resumed).
 *
 * Every combination of the --grid values (or --random N draws: a --range
 * uniform on a linear or log scale, a --grid key a uniform choice of its
 * values; Philox keyed by the experiment's seed, so the draws repeat) is
 * one run in runs/<name>/sweep/<id>/, the id naming the values
 * ("lr=0.001,batch_size=64"), or with --cv K one cross-validation there.
 * The leaderboard, best first by the monitored metric at each run's best
 * epoch (a cv's mean), goes to the terminal and runs/<name>/sweep.csv; the
 * winner's resolved configuration to runs/<name>/best.cfg. */
#ifndef DLHOST_CORE_SWEEP_H
#define DLHOST_CORE_SWEEP_H

#include <stdio.h>

#include "cv.h"

typedef struct dlh_sweep_options {
    const char *const *grid;        /* "KEY=V1,V2,...", each --grid */
    int n_grid;
    const char *const *ranges;      /* "KEY=LO:HI[:log|lin]", each --range */
    int n_ranges;
    int random;                     /* N draws; 0: every grid combination */
    dlh_cv_options cv;              /* cv.folds >= 2: each run a cv; 0: one run */
} dlh_sweep_options;


/* dlhost sweep (plugins loaded).  0, a DLH_E* code with the message set
   (DLH_ECONFIG for a bad --grid, --range or combination), or the number
   of the signal that stopped a run (> 0; a rerun continues).  A run that
   diverges is listed as diverged and the sweep goes on. */
int dlh_sweep(const dlh_select *s, const dlh_sweep_options *o, FILE *out);

#endif
