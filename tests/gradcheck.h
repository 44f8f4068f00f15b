/* Helpers of the gradient tests (tests/gradcheck.c) over the checker of
 * core/numgrad.h. */
#ifndef DLHOST_TESTS_GRADCHECK_H
#define DLHOST_TESTS_GRADCHECK_H

#include "numgrad.h"

/* Parameters from the body of a group ("rate = 0.2;"), named `label` in
   their messages ("layer 'bn'"); p is NULL (and the reason printed) when the
   text does not parse. */
typedef struct tparams {
    dlh_config *cfg;
    dlh_params *p;
} tparams;
tparams tp_new(const char *body, const char *label);
void tp_free(tparams *t);
/* A per-sample shape of ndim dims. */
dlh_shape shape_of(int ndim, const int64_t *dims);

#endif
