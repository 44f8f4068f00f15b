/* A dataset reader opened as the experiment opens data.train (reader_open.h). */
#include "reader_open.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "registry.h"

void reader_open(reader_opened *o, const dlh_dataset_ops *ops, const char *dir,
                 const char *text)
{
    static const char *const reserved[] = { "type", NULL };
    char name[4200];
    memset(o, 0, sizeof *o);
    o->ops = ops;
    snprintf(name, sizeof name, "%s/exp.cfg", dir);
    dlh_error_clear();
    o->rc = dlh_config_load_string(text, name, &o->cfg);
    if (!o->rc) {
        o->p = dlh_params_new(o->cfg, dlh_config_root(o->cfg), "data.train", reserved);
        o->rc = ops->open(dlh_host_table(), o->p, &o->state);
        if (!o->rc)
            o->rc = dlh_params_check_unused(o->p);
        if (!o->rc) {
            o->info.struct_size = sizeof o->info;
            o->rc = ops->info(o->state, &o->info);
        }
    }
    snprintf(o->msg, sizeof o->msg, "%s", dlh_error_get());
}

void reader_close(reader_opened *o)
{
    o->ops->close(o->state);
    dlh_params_free(o->p);
    dlh_config_free(o->cfg);
}
