/* Libraries the core needs for one command only (libpng and libsndfile for
 * dlhost augment's PNG grid and WAV clips), loaded by dlopen on first use
 * instead of linked: every other command starts without loading them and
 * what they pull in (libsndfile brings FLAC, Vorbis, Opus, mpg123, LAME).
 * The handle is never closed. */
#ifndef DLH_LAZY_LIB_H
#define DLH_LAZY_LIB_H

#include <stddef.h>

typedef struct dlh_lazy_sym {
    const char *name;
    void **slot;
} dlh_lazy_sym;

typedef struct dlh_lazy_lib {
    const char *what;     /* "libpng", for messages */
    const char *env;      /* a variable that names another file to load */
    const char *soname;   /* loaded from the loader's path */
    const char *package;  /* the Debian package that has it */
    const dlh_lazy_sym *syms;
    size_t n_syms;
    void *handle;         /* NULL until loaded */
    int failed;           /* tried and failed: the message is kept */
    char why[512];
} dlh_lazy_lib;

/* Loads lib (once: later calls return at once) and fills every slot of its
   symbols.  The file is getenv(lib->env) when that is set and not empty,
   else lib->soname.  Returns 0, or DLH_EUNSUPPORTED with the error message
   "<for>: cannot load <what> (<file>: <reason>): apt-get install
   <package>", the same message on every later call. */
int dlh_lazy_lib_load(dlh_lazy_lib *lib, const char *for_what);

#endif
