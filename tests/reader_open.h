/* A dataset reader opened in a C test as the experiment opens data.train,
 * for the reader tests (test_csv, test_idx, test_npy, test_imagefolder,
 * test_audiofolder). */
#ifndef DLHOST_TESTS_READER_OPEN_H
#define DLHOST_TESTS_READER_OPEN_H

#include <dlhost/dlhost.h>

#include "params.h"

typedef struct reader_opened {
    int rc;                     /* 0, or the first failure's DLH_E* code */
    char msg[4096];             /* dlh_error_get() after the open */
    dlh_config *cfg;
    dlh_params *p;
    void *state;
    dlh_dataset_info info;
    const dlh_dataset_ops *ops;
} reader_opened;

/* Opens ops over the group text ("type = ...; path = ...; ...") as
   data.train of DIR/exp.cfg (relative paths resolve against dir): open,
   then the unused-key check, then info.  o->rc and o->msg say how it went;
   reader_close is due whatever rc. */
void reader_open(reader_opened *o, const dlh_dataset_ops *ops, const char *dir,
                 const char *text);
void reader_close(reader_opened *o);

#endif
