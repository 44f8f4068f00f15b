/* The built elementwise programs of a GPU backend instance, kept by source
 * text (gpu_ew_source's): programs that are the same text (every relu
 * layer's, say) are built once, and every entry lives until the instance
 * is destroyed.  A backend's entry is its own struct with a gpu_ew_entry as
 * its first member; the backend builds and releases what it adds.  Not
 * thread-safe: one instance, one thread, as for the backend itself. */
#ifndef DLHOST_GPU_EW_CACHE_H
#define DLHOST_GPU_EW_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include <dlhost/dlhost.h>

#include "../common/backend_checks.h"
#include "gpu_source.h"

typedef struct gpu_ew_entry {
    struct gpu_ew_entry *next;
    char *source;                       /* the kernel's text, owned */
    uint32_t n_arrays, n_scalars;       /* the program's */
    unsigned char written[DLH_EW_MAX_OPERANDS];  /* gpu_ew_source's */
} gpu_ew_entry;

/* Builds the backend's part of entry e from e->source: 0, or DLH_E* with
   the message set and nothing of its own left to release. */
typedef int (*gpu_ew_build_fn)(void *ctx, gpu_ew_entry *e);
/* Releases what the build function made for e. */
typedef void (*gpu_ew_drop_fn)(void *ctx, gpu_ew_entry *e);

/* A backend's ew_prepare: program prog, checked with bchk_ew_program
   (checks), found in *cache by its source, or a new entry of entry_size
   bytes (zeroed, then its gpu_ew_entry filled) built by build(ctx, e) and
   added.  *kernel borrows the entry (NULL on failure).  0, or the checks',
   DLH_ENOMEM or build's status with the message set through host
   ("<backend> ew: ..."). */
int gpu_ew_cache_get(gpu_ew_entry **cache, const bchk_backend *checks, const dlh_host *host,
                     const char *backend, gpu_dialect d, const dlh_ew_program *prog,
                     size_t entry_size, gpu_ew_build_fn build, void *ctx, void **kernel);

/* Drops (drop(ctx, e)) and frees every entry of *cache, leaving it empty. */
void gpu_ew_cache_free(gpu_ew_entry **cache, gpu_ew_drop_fn drop, void *ctx);

#endif
