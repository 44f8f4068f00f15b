/* OpenBLAS under an address-space limit (ulimit -v, RLIMIT_AS). */
#ifndef DLH_BLAS_CAP_H
#define DLH_BLAS_CAP_H

#include <stddef.h>

/* OpenBLAS (0.3, x86_64) reserves a work buffer of BUFFER_SIZE (128 MiB)
   plus a page for each thread that calls it, and when every way of mapping
   one fails it retries forever (driver/others/memory.c,
   blas_memory_alloc): under a low RLIMIT_AS the process hangs instead of
   failing.  Its own worker threads, started when the library loads, each
   take one at once, and the process then hangs at exit joining them.
   dlhost never uses those workers (the cpu backend runs OpenBLAS
   single-threaded), so this sets OPENBLAS_NUM_THREADS=1 before anything
   loads OpenBLAS (nothing links it into the program: blas_lib.h); under
   a finite RLIMIT_AS, when OpenBLAS is loaded already with more than one
   thread (a program that links it), it runs the program again (execv of
   /proc/self/exe with argv), and then checks that the
   limit leaves room for the calling thread's buffer.  Returns 0 to go on
   (no limit, or room), else sets the error message (the limit, the space
   in use, what OpenBLAS needs) and returns DLH_ENOMEM.  Called first in
   main, before anything calls OpenBLAS. */
int dlh_blas_cap_check(char **argv);

/* The address space one OpenBLAS work buffer takes. */
#define DLH_BLAS_BUFFER_BYTES (((size_t)128 << 20) + 4096)

#endif
