/* OpenBLAS under an address-space limit: blas_cap.h. */
#include "config.h"

#include "blas_cap.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <dlhost/status.h>

#include "error.h"

/* VmSize of this process in bytes, 0 when /proc cannot tell. */
static size_t blas_cap_vm_size(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long kb = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (size_t)kb * 1024;
}

/* OpenBLAS's thread count when it is loaded already (linked into the
   program), else 0. */
static int blas_cap_threads(void)
{
    int (*get)(void);
    *(void **)&get = dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
    return get ? get() : 0;
}

int dlh_blas_cap_check(char **argv)
{
    /* Nothing of dlhost uses OpenBLAS's worker threads, which it starts
       when it loads and which then spin on a core for a while (sched_yield):
       told now, before anything loads it (the core loads it on first use,
       blas_lib.h; the cpu backend with its plugin), it starts none. */
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 0;
    if (blas_cap_threads() > 1) {
        /* Its workers are running (or spinning on their buffers) already:
           only a fresh start without them helps.  When execv fails, go on
           and let the check below speak. */
        fflush(NULL);
        execv("/proc/self/exe", argv);
    }
    /* Room for the buffer of the thread that calls OpenBLAS first: a
       mapping as large as it, undone at once. */
    void *p = mmap(NULL, DLH_BLAS_BUFFER_BYTES, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) {
        munmap(p, DLH_BLAS_BUFFER_BYTES);
        return 0;
    }
    size_t used = blas_cap_vm_size(), mib = (size_t)1 << 20;
    dlh_error_set("the address-space limit (ulimit -v) of %llu MiB leaves too little room "
                  "for OpenBLAS: %llu MiB are in use and every thread that calls it maps "
                  "a %llu MiB work buffer (OpenBLAS retries that forever when it fails); "
                  "raise the limit to at least %llu MiB",
                  (unsigned long long)(rl.rlim_cur / mib), (unsigned long long)(used / mib),
                  (unsigned long long)(DLH_BLAS_BUFFER_BYTES / mib),
                  (unsigned long long)((used + DLH_BLAS_BUFFER_BYTES) / mib + 64));
    return DLH_ENOMEM;
}
