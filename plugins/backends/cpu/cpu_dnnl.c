/* oneDNN by dlopen: see cpu_dnnl.h. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "cpu_dnnl.h"

#include <dlfcn.h>
#include <stdio.h>

#include "../gpu/gpu_dl.h"

cpu_dnnl_api cpu_dn;

int cpu_dnnl_load(const char **why)
{
    static int state;                /* 0 not tried, 1 loaded, -1 failed */
    static char reason[600];
    if (state == 0) {
        static const char *const names[] = { CPU_DNNL_SONAME, NULL };
        static const gpu_dl_sym syms[] = {
#define CPU_DNNL_SYM(f) { "dnnl_" #f, (void **)&cpu_dn.f },
            CPU_DNNL_FUNCS(CPU_DNNL_SYM)
#undef CPU_DNNL_SYM
        };
        char path[512];
        void *lib = gpu_dl_open("DLHOST_LIBDNNL", NULL, NULL, names, path, sizeof path,
                                reason, sizeof reason);
        const char *lacks = lib ? gpu_dl_syms(lib, syms, sizeof syms / sizeof syms[0]) : NULL;
        if (lacks != NULL) {
            snprintf(reason, sizeof reason, "%.400s: no symbol %s", path, lacks);
            dlclose(lib);
        }
        state = lib != NULL && lacks == NULL ? 1 : -1;
    }
    *why = state == 1 ? NULL : reason;
    return state == 1 ? 0 : -1;
}
