/* `dlhost run`: trains the experiment's model (DESIGN.md §7).
 * Seeded shuffling each epoch, the loader thread preparing the next batch,
 * validation each epoch, early stopping, the NaN/Inf guard, test evaluation
 * at the end, and the run directory runs/<name>/ (config.cfg, metrics.csv,
 * last.safetensors, best.safetensors). */
#ifndef DLHOST_CORE_RUN_H
#define DLHOST_CORE_RUN_H

#include <stdio.h>

#include "params.h"

typedef struct dlh_run_options {
    const char *runs_root;          /* folder of run directories; NULL: "runs" */
    int progress;                   /* progress bar: -1 when `out` is a terminal,
                                       0 never, 1 always */
} dlh_run_options;

/* Runs cfg, printing progress to `out`.  Returns 0, or a DLH_E* code with
   the message set (DLH_ENUMERIC when the loss or a gradient goes non-finite,
   naming the epoch, step and layer; nothing is updated or saved then).
   opt may be NULL (defaults). */
int dlh_run_ex(dlh_config *cfg, const char *backend_override,
               const dlh_run_options *opt, FILE *out);
/* dlh_run_ex with the default options. */
int dlh_run(dlh_config *cfg, const char *backend_override, FILE *out);

#endif
