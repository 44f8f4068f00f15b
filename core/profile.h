/* `dlhost run --profile`: where each training epoch's time goes.
 *
 * Per epoch: waiting for the loader's batches and copying them to the
 * backend, each layer's forward and
 * backward, the loss (with the accuracy count), the non-finite guard (with
 * gradient clipping), the optimiser update, and what is left ("other": the
 * loop, the progress bar).  The backend is synchronised at every mark, so
 * the times of an asynchronous backend (opencl) are the device's, and the
 * run is somewhat slower than without --profile.
 *
 * profile.csv in the run directory, rewritten atomically after each epoch:
 *   epoch,part,layer,seconds
 *   1,data,,0.0013
 *   1,load,,0.0102
 *   1,forward,fc1,0.2154
 *   ...
 *   1,other,,0.0042
 * Layers are in graph order, forward rows first; a layer that backward does
 * not reach has no backward row, and a view (flatten, reshape: the graph
 * skips its calls, graph.h) no row for a call it skips.  The seconds of an epoch's rows add up to
 * the training pass of metrics.csv's epoch (without validation).  A run
 * resumed with --profile writes the epochs it trains, replacing the file. */
#ifndef DLHOST_CORE_PROFILE_H
#define DLHOST_CORE_PROFILE_H

#include <stdint.h>
#include <stdio.h>

#include <dlhost/dlhost.h>

#include "graph.h"

typedef enum dlh_prof_part {
    DLH_PROF_DATA,          /* waiting for the loader thread's next batch */
    DLH_PROF_LOAD,          /* the batch to the backend (model input, targets) */
    DLH_PROF_LOSS,          /* loss, its gradient, the accuracy count */
    DLH_PROF_GUARD,         /* non-finite check of the gradients, clipping */
    DLH_PROF_UPDATE,        /* schedule and optimiser */
    DLH_PROF_N_PARTS
} dlh_prof_part;

typedef struct dlh_profile dlh_profile;

/* A profile of graph g's layers written to `dir`/profile.csv; the graph
   times its nodes into it until dlh_profile_free. */
int dlh_profile_new(dlh_graph *g, const char *dir, dlh_profile **out);
void dlh_profile_free(dlh_profile *p);

/* Synchronises the backend and returns the time (seconds, monotonic). */
double dlh_profile_mark(dlh_profile *p);
/* Adds the time since `since` to `part`; returns the new mark. */
double dlh_profile_add(dlh_profile *p, dlh_prof_part part, double since);

/* Starts an epoch's training pass: clears the counters, so that nothing run
   since the last epoch (the graph's forward passes of validation) counts. */
void dlh_profile_begin(dlh_profile *p);
/* Ends an epoch whose training pass took `seconds`: appends its rows to
   profile.csv (rewritten atomically). */
int dlh_profile_epoch(dlh_profile *p, int64_t epoch, double seconds);

/* Prints the last epoch's rows, largest first, with their share. */
void dlh_profile_print(dlh_profile *p, FILE *out);

#endif
