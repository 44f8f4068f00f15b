/* GPU libraries by dlopen: see gpu_dl.h. */
#include "gpu_dl.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static void *try_open(const char *file, char *path, size_t path_size, char *why,
                      size_t why_size)
{
    void *lib = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        const char *e = dlerror();
        snprintf(why, why_size, "%s", e ? e : file);
    } else {
        snprintf(path, path_size, "%s", file);
    }
    return lib;
}

void *gpu_dl_open(const char *env, const char *dir, const char *const *subdirs,
                  const char *const *names, char *path, size_t path_size, char *why,
                  size_t why_size)
{
    const char *given = env != NULL ? getenv(env) : NULL;
    if (given != NULL && *given)
        return try_open(given, path, path_size, why, why_size);
    void *lib = NULL;
    char file[1024];
    for (size_t n = 0; names[n] != NULL && lib == NULL && dir != NULL && *dir; n++)
        for (size_t s = 0; subdirs != NULL && subdirs[s] != NULL && lib == NULL; s++) {
            snprintf(file, sizeof file, "%s/%s/%s", dir, subdirs[s], names[n]);
            lib = try_open(file, path, path_size, why, why_size);
        }
    for (size_t n = 0; names[n] != NULL && lib == NULL; n++)
        lib = try_open(names[n], path, path_size, why, why_size);
    return lib;
}

const char *gpu_dl_syms(void *lib, const gpu_dl_sym *syms, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((*syms[i].slot = dlsym(lib, syms[i].name)) == NULL)
            return syms[i].name;
    return NULL;
}

void gpu_dl_version(char *buf, size_t size, const char *name, long v, long new_from)
{
    if (v >= new_from)
        snprintf(buf, size, "%s %ld.%ld.%ld", name, v / 10000, v / 100 % 100, v % 100);
    else
        snprintf(buf, size, "%s %ld.%ld.%ld", name, v / 1000, v / 100 % 10, v % 100);
}
