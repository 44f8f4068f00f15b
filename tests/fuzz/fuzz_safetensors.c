/* Fuzz target: the safetensors reader (core/safetensors.c dlh_st_read) and
 * the checkpoint metadata that eval and --resume parse from it
 * (dlh_norm_from_meta).
 *
 * Input: the file's bytes.  A file the reader accepts must keep its
 * promises: every entry found by name, its data inside the file and of the
 * size its shape says, metadata sorted by key and found by key. */
#include <stdlib.h>
#include <string.h>

#include "batcher.h"
#include "error.h"
#include "eval.h"
#include "fuzz.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void st_check(const dlh_st_file *f, const char *path)
{
    size_t n = dlh_st_count(f);
    volatile unsigned char sum = 0;
    for (size_t i = 0; i < n; i++) {
        const dlh_st_entry *e = dlh_st_at(f, i);
        if (!e || !e->name || dlh_st_find(f, e->name) != e)
            fuzz_fail("entry %zu is not found by its name", i);
        if (e->dtype != DLH_F32 && e->dtype != DLH_I32)
            fuzz_fail("entry '%s' has dtype %d", e->name, (int)e->dtype);
        if (e->ndim < 0 || e->ndim > DLH_MAX_DIMS)
            fuzz_fail("entry '%s' has %d dimensions", e->name, (int)e->ndim);
        size_t bytes = 4;
        for (int d = 0; d < e->ndim; d++)
            bytes *= (size_t)e->shape[d];
        /* Touch every byte: ASan knows where the data ends. */
        for (size_t b = 0; b < bytes; b++)
            sum ^= ((const unsigned char *)e->data)[b];
    }
    if (dlh_st_at(f, n))
        fuzz_fail("an entry past the count");
    size_t m = dlh_st_meta_count(f);
    for (size_t i = 0; i < m; i++) {
        const dlh_st_meta *kv = dlh_st_meta_at(f, i);
        if (!kv || dlh_st_meta_get(f, kv->key) != kv->value)
            fuzz_fail("metadata %zu is not found by its key", i);
        if (i > 0 && strcmp(dlh_st_meta_at(f, i - 1)->key, kv->key) >= 0)
            fuzz_fail("metadata keys are not in order");
    }
    dlh_norm norm;
    int rc = dlh_norm_from_meta(f, path, &norm);
    if (rc == 0) {
        if (norm.kind != DLH_NORM_NONE && (norm.groups < 1 || !norm.shift || !norm.scale))
            fuzz_fail("normalisation of kind %d with %lld groups", (int)norm.kind,
                      (long long)norm.groups);
        dlh_norm_free(&norm);
    } else {
        fuzz_check_error(rc, path);
    }
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(0, data, size);
    dlh_st_file *f = NULL;
    dlh_error_clear();
    int rc = dlh_st_read(path, &f);
    if (rc == 0)
        st_check(f, path);
    else
        fuzz_check_error(rc, path);
    dlh_st_free(f);
    return 0;
}
