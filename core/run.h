/* `dlhost run`: trains the experiment's model.
 * This first version trains a chain of layers (each layer's input is the one
 * before it) on the train dataset with the loss, optimizer and schedule of the
 * file, printing one line per epoch; the DAG, validation, checkpoints and the
 * run directory arrive with the training-loop issue. */
#ifndef DLHOST_CORE_RUN_H
#define DLHOST_CORE_RUN_H

#include <stdio.h>

#include "params.h"

/* Runs cfg, printing progress to `out`.  Returns 0, or a DLH_E* code with
   the message set (DLH_ENUMERIC when the loss or a gradient goes non-finite,
   naming the step). */
int dlh_run(dlh_config *cfg, const char *backend_override, FILE *out);

#endif
