/* Entry point of the "schedules" plugin, and the helpers its schedules share. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "schedules.h"

const dlh_host *schedules_host;

int schedules_state_new(const dlh_host *host, const void *src, size_t size, void **state)
{
    void *st = malloc(size);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    memcpy(st, src, size);
    return 0;
}

void schedules_state_free(void *state)
{
    free(state);
}

int schedules_positive(const dlh_host *host, dlh_params *p, const char *key,
                       const double *def, double max, double *out)
{
    /* The accessor checks the type; the range gets one message of ours,
       since the accessor's ranges are closed. */
    int rc = host->param_float(p, key, def, -HUGE_VAL, HUGE_VAL, out);
    if (rc < 0)
        return rc;
    if (*out > 0.0 && *out <= max)
        return 0;
    if (max < HUGE_VAL)
        return host->param_error(p, key, "parameter '%s': expected a number in (0, %g], "
                                 "got %g", key, max, *out);
    return host->param_error(p, key, "parameter '%s': expected a number > 0, got %g", key,
                             *out);
}

static int schedules_init(const dlh_host *host, dlh_registrar *reg)
{
    static const struct {
        const char *name;
        const dlh_schedule_ops *ops;
        const char *description;
        const dlh_param_doc *params;
    } list[] = {
        { "constant", &constant_ops, "constant learning rate", constant_params },
        { "step", &step_ops, "decay by gamma every step_size epochs (torch StepLR)",
          step_params },
        { "multistep", &multistep_ops,
          "decay by gamma at each milestone epoch (torch MultiStepLR)", multistep_params },
        { "exponential", &exponential_ops,
          "decay by gamma every epoch (torch ExponentialLR)", exponential_params },
        { "linear", &linear_ops,
          "linear factor from start_factor to end_factor over total_epochs "
          "(torch LinearLR)", linear_params },
        { "cosine", &cosine_ops,
          "cosine annealing per step after an optional linear warmup "
          "(torch CosineAnnealingLR, LinearLR)", cosine_params },
        { "reduce_on_plateau", &reduce_on_plateau_ops,
          "reduce when the monitored metric stops improving (torch ReduceLROnPlateau)",
          reduce_on_plateau_params },
    };
    schedules_host = host;
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
        int rc = reg->add(reg, DLH_KIND_SCHEDULE, list[i].name, list[i].ops,
                          list[i].description);
        if (rc < 0 ||
            (rc = reg->describe(reg, DLH_KIND_SCHEDULE, list[i].name, list[i].params)) < 0)
            return rc;
    }
    return 0;
}

DLH_PLUGIN("schedules", "0.1.0",
           "learning-rate schedules: constant, step, multistep, exponential, linear, "
           "cosine, reduce_on_plateau", "MIT", schedules_init)
