/* `dlhost init`: the experiment's initial weights in a safetensors file. */
#include "init_weights.h"

#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>

#include "error.h"
#include "eval.h"
#include "experiment.h"
#include "pretrained.h"
#include "rundir.h"

#define INIT_FORMAT "dlhost init 1"

int dlh_init_weights(dlh_config *cfg, const char *backend_override, const char *path,
                     FILE *out)
{
    dlh_experiment *e = NULL;
    dlh_ckpt_tensor *t = NULL;
    size_t n = 0;
    /* One sample is enough: the weights do not depend on the batch size. */
    char *pre = NULL;
    int rc = dlh_experiment_new(cfg, backend_override, 1, &e);
    /* A run starts from its pretrained weights: so do these. */
    if (rc == 0 && (rc = dlh_pretrained_apply(e, NULL, 1, &pre)) == 0 && pre)
        fputs(pre, out);
    free(pre);
    if (rc == 0)
        rc = dlh_model_tensors(e, 0, &t, &n);
    if (rc == 0) {
        char seed[32], classes[32];
        snprintf(seed, sizeof seed, "%" PRIu64, e->seed);
        snprintf(classes, sizeof classes, "%" PRId64, e->n_classes);
        dlh_st_meta meta[4] = { { "format", INIT_FORMAT }, { "name", e->name },
                                { "seed", seed }, { "classes", classes } };
        size_t n_meta = e->target_kind == DLH_TARGET_CLASS ? 4 : 3;
        rc = dlh_checkpoint_save(e->backend, path, t, n, meta, n_meta);
    }
    if (rc == 0) {
        fprintf(out, "%s: the initial weights of %s (seed %" PRIu64 "): %zu tensor%s, "
                "%" PRId64 " parameters\n", path, e->name, e->seed, n, n == 1 ? "" : "s",
                dlh_experiment_param_count(e));
        fflush(out);
    }
    dlh_model_tensors_free(t, n);
    dlh_experiment_free(e);
    return rc;
}
