/* The GPU backends' cache of built elementwise programs (gpu_ew_cache.h):
 * a list searched by source text; a network has a few dozen programs, and
 * each is looked up once, at prepare. */
#include <stdlib.h>
#include <string.h>

#include "gpu_ew_cache.h"

int gpu_ew_cache_get(gpu_ew_entry **cache, const bchk_backend *checks, const dlh_host *host,
                     const char *backend, gpu_dialect d, const dlh_ew_program *prog,
                     size_t entry_size, gpu_ew_build_fn build, void *ctx, void **kernel)
{
    *kernel = NULL;
    int rc = bchk_ew_program(checks, prog);
    if (rc != 0)
        return rc;
    char *source;
    unsigned char written[DLH_EW_MAX_OPERANDS] = { 0 };
    if ((rc = gpu_ew_source(host, backend, d, prog, &source, written)) != 0)
        return rc;
    for (gpu_ew_entry *e = *cache; e != NULL; e = e->next) {
        if (strcmp(e->source, source) == 0) {
            free(source);
            *kernel = e;
            return 0;
        }
    }
    gpu_ew_entry *e = calloc(1, entry_size);
    if (e == NULL) {
        free(source);
        host->error("%s ew: out of memory", backend);
        return DLH_ENOMEM;
    }
    e->source = source;
    e->n_arrays = prog->n_arrays;
    e->n_scalars = prog->n_scalars;
    memcpy(e->written, written, sizeof e->written);
    if ((rc = build(ctx, e)) != 0) {
        free(e->source);
        free(e);
        return rc;
    }
    e->next = *cache;
    *cache = e;
    *kernel = e;
    return 0;
}

void gpu_ew_cache_free(gpu_ew_entry **cache, gpu_ew_drop_fn drop, void *ctx)
{
    while (*cache != NULL) {
        gpu_ew_entry *e = *cache;
        *cache = e->next;
        drop(ctx, e);
        free(e->source);
        free(e);
    }
}
