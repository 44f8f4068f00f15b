/* Helpers of the gradient tests; the checker itself is core/numgrad.c. */
#include "gradcheck.h"

#include <stdio.h>

#include "error.h"

tparams tp_new(const char *body, const char *label)
{
    tparams t = { NULL, NULL };
    char text[1024];
    snprintf(text, sizeof text, "g = {\n%s\n};\n", body);
    if (dlh_config_load_string(text, "test.cfg", &t.cfg) < 0) {
        printf("# config: %s\n", dlh_error_get());
        return t;
    }
    t.p = dlh_params_new(t.cfg, config_setting_get_member(dlh_config_root(t.cfg), "g"),
                         label, NULL);
    return t;
}

void tp_free(tparams *t)
{
    dlh_params_free(t->p);
    dlh_config_free(t->cfg);
}

dlh_shape shape_of(int ndim, const int64_t *dims)
{
    dlh_shape s = { ndim, { 0 } };
    for (int i = 0; i < ndim; i++)
        s.dim[i] = dims[i];
    return s;
}
