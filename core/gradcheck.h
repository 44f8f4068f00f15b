/* `dlhost gradcheck`: every layer's and the loss's backward against central
 * differences (core/numgrad.h) on the experiment's own shapes, with random
 * inputs, for users debugging a model and for plugin authors. */
#ifndef DLHOST_CORE_GRADCHECK_H
#define DLHOST_CORE_GRADCHECK_H

#include <stdio.h>

#include "params.h"

/* Builds cfg for GRADCHECK_BATCH samples on backend_override (NULL: cpu),
   checks each layer (only `layer` when not NULL) and the loss, and prints
   one line per component with its largest relative error to out.  0 when
   every error is below GC_TOL; DLH_EDATA naming how many are not; an
   unknown `layer` is DLH_ECONFIG listing the model's. */
int dlh_gradcheck(dlh_config *cfg, const char *backend_override, const char *layer,
                  FILE *out);

#define GRADCHECK_BATCH 2
#define GRADCHECK_PER_TENSOR 64     /* elements differenced per tensor */

#endif
