/* Entry point of the "schedules" plugin. */
#include "schedules.h"

const dlh_host *schedules_host;

static int schedules_init(const dlh_host *host, dlh_registrar *reg)
{
    schedules_host = host;
    return reg->add(reg, DLH_KIND_SCHEDULE, "constant", &constant_ops,
                    "constant learning rate");
}

DLH_PLUGIN("schedules", "0.1.0", "learning-rate schedules: constant", "MIT",
           schedules_init)
