/* The "schedules" plugin family: constant (and, later, step, cosine, ...). */
#ifndef DLHOST_PLUGIN_SCHEDULES_H
#define DLHOST_PLUGIN_SCHEDULES_H

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *schedules_host;

extern const dlh_schedule_ops constant_ops;

#endif
