/* `dlhost check`: validates an experiment file the way a run would.
 * Resolves every component it names (backend, datasets, layers, loss,
 * optimizer, schedule, augmenters), creates each with its parameters over the
 * shapes the data gives, and reports problems with file:line. */
#ifndef DLHOST_CORE_CHECK_H
#define DLHOST_CORE_CHECK_H

#include <stdio.h>

#include "params.h"

/* Checks cfg; prints a short report to `out` (components and per-layer
   output shapes).  backend_override (may be NULL) replaces backend.type.
   Returns 0 or the first problem's DLH_E* code, with the message set. */
int dlh_check(dlh_config *cfg, const char *backend_override, FILE *out);

#endif
