/* Libraries loaded on first use: lazy_lib.h. */
#include "config.h"

#include "lazy_lib.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include <dlhost/status.h>

#include "error.h"

int dlh_lazy_lib_load(dlh_lazy_lib *lib, const char *for_what)
{
    if (lib->handle)
        return 0;
    if (!lib->failed) {
        const char *given = lib->env ? getenv(lib->env) : NULL;
        const char *file = given && *given ? given : lib->soname;
        void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *e = dlerror();
            snprintf(lib->why, sizeof lib->why, "%s", e ? e : file);
        } else {
            for (size_t i = 0; i < lib->n_syms; i++)
                if ((*lib->syms[i].slot = dlsym(h, lib->syms[i].name)) == NULL) {
                    snprintf(lib->why, sizeof lib->why, "%s: no symbol %s", file,
                             lib->syms[i].name);
                    dlclose(h);
                    h = NULL;
                    break;
                }
        }
        lib->handle = h;
        lib->failed = h == NULL;
        if (h)
            return 0;
    }
    dlh_error_set("%s: cannot load %s (%s): apt-get install %s", for_what, lib->what,
                  lib->why, lib->package);
    return DLH_EUNSUPPORTED;
}
