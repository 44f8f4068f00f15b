/* Finding and loading a GPU library with dlopen, the one way the cuda
 * backend finds the driver, cuBLAS, cuDNN and NVRTC (bench/cublas_floor.c
 * the driver and cuBLAS, the cpu backend oneDNN): nothing is linked, so the plugin loads everywhere
 * and a missing library is one clear line.  No dlhost dependency. */
#ifndef DLHOST_GPU_DL_H
#define DLHOST_GPU_DL_H

#include <stddef.h>

/* Opens the first library that loads: when env names a set, non-empty
   variable, that path and nothing else; else dir/SUB/NAME for each NAME of
   names and each SUB of subdirs (when dir is not NULL or ""), then each
   NAME from the loader's path.  names and subdirs are NULL-terminated.
   Returns the handle with the path that loaded in path, or NULL with the
   last dlerror() (the reason) in why.  The handle is never closed by the
   callers: the libraries' threads may outlive any one instance. */
void *gpu_dl_open(const char *env, const char *dir, const char *const *subdirs,
                  const char *const *names, char *path, size_t path_size, char *why,
                  size_t why_size);

typedef struct gpu_dl_sym {
    const char *name;
    void **slot;
} gpu_dl_sym;

/* Fills every slot of syms (n of them) with dlsym(lib, name): NULL, or the
   name of the first symbol lib lacks (the slots after it are untouched). */
const char *gpu_dl_syms(void *lib, const gpu_dl_sym *syms, size_t n);

/* "NAME major.minor.patch" of a library's version number: major * 10000 +
   minor * 100 + patch from new_from on, major * 1000 + minor * 100 + patch
   below it (the older numbering of cuBLAS and cuDNN). */
void gpu_dl_version(char *buf, size_t size, const char *name, long v, long new_from);

#endif
