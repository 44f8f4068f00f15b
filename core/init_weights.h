/* `dlhost init`: the initial weights of an experiment's model, as a run
 * starts from them, written to a safetensors file. */
#ifndef DLHOST_CORE_INIT_WEIGHTS_H
#define DLHOST_CORE_INIT_WEIGHTS_H

#include <stdio.h>

#include "params.h"

/* Builds cfg (backend_override may be NULL), initialises every layer's
   tensors exactly as `dlhost run` does before its first step (the
   `pretrained` group's tensors loaded, its report to `out`), and writes
   them to `path` by their checkpoint names ("<layer>.<param>", buffers
   too; eval.h) with metadata format "dlhost init 1", name, seed and, for
   class targets, classes, atomically (an existing file is replaced).  One
   line to `out` says what was written.  Errors as dlh_experiment_new and
   dlh_checkpoint_save give them. */
int dlh_init_weights(dlh_config *cfg, const char *backend_override, const char *path,
                     FILE *out);

#endif
