/* Helpers shared by the fuzz targets (see fuzz.h). */
#define _GNU_SOURCE 1             /* memfd_create */
#include "fuzz.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"
#include "registry.h"

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nfuzz: dlhost error: '%s'\n", dlh_error_get());
    abort();
}

const char *fuzz_file(int slot, const void *data, size_t size)
{
    static int fds[2] = { -1, -1 };
    static char paths[2][32];
    if (slot < 0 || slot > 1)
        fuzz_fail("fuzz_file: no slot %d", slot);
    if (fds[slot] < 0) {
        /* Not MFD_CLOEXEC: the path goes through /proc/self/fd. */
        fds[slot] = memfd_create(slot ? "fuzz-input-1" : "fuzz-input-0", 0);
        if (fds[slot] < 0)
            fuzz_fail("memfd_create failed");
        snprintf(paths[slot], sizeof paths[slot], "/proc/self/fd/%d", fds[slot]);
    }
    if (ftruncate(fds[slot], 0) != 0 ||
        (size && pwrite(fds[slot], data, size, 0) != (ssize_t)size))
        fuzz_fail("cannot write the in-memory file %s", paths[slot]);
    return paths[slot];
}

void fuzz_check_error(int rc, const char *path)
{
    const char *msg = dlh_error_get();
    if (rc >= 0 || strcmp(dlh_strerror(rc), "unknown status") == 0)
        fuzz_fail("failed with status %d, which is no DLH_E* code", rc);
    if (!*msg)
        fuzz_fail("failed with %s but set no message", dlh_strerror(rc));
    if (path && (rc == DLH_EDATA || rc == DLH_EIO) && !strstr(msg, path))
        fuzz_fail("a %s message does not name the file %s", dlh_strerror(rc), path);
}

/* The reader's promises about an opened file. */
static void fuzz_dataset_check(const dlh_dataset_ops *ops, void *state)
{
    dlh_dataset_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    int rc = ops->info(state, &info);
    if (rc)
        fuzz_fail("info failed after a successful open (%d)", rc);
    if (info.n_samples < 1)
        fuzz_fail("opened with %lld samples", (long long)info.n_samples);
    if (info.sample.ndim < 1 || info.sample.ndim > DLH_MAX_DIMS)
        fuzz_fail("sample shape has %d dimensions", (int)info.sample.ndim);
    int64_t numel = 1, label_numel = 1;
    for (int i = 0; i < info.sample.ndim; i++) {
        if (info.sample.dim[i] < 1)
            fuzz_fail("sample dimension %d is %lld", i, (long long)info.sample.dim[i]);
        numel *= info.sample.dim[i];
    }
    if (info.label_kind == DLH_LABEL_CLASS) {
        if (info.n_classes < 1)
            fuzz_fail("class labels with %lld classes", (long long)info.n_classes);
    } else if (info.label_kind == DLH_LABEL_DENSE) {
        if (info.label.ndim < 1 || info.label.ndim > DLH_MAX_DIMS)
            fuzz_fail("dense label shape has %d dimensions", (int)info.label.ndim);
        for (int i = 0; i < info.label.ndim; i++) {
            if (info.label.dim[i] < 1)
                fuzz_fail("label dimension %d is %lld", i, (long long)info.label.dim[i]);
            label_numel *= info.label.dim[i];
        }
    } else if (info.label_kind != DLH_LABEL_NONE) {
        fuzz_fail("unknown label kind %d", (int)info.label_kind);
    }
    /* Every sample, in reverse order (readers must not assume a sweep), in
       one call: inputs are small. */
    size_t n = (size_t)info.n_samples;
    int64_t *idx = malloc(n * sizeof *idx);
    float *x = malloc(n * (size_t)numel * sizeof *x);
    float *y = malloc(n * (size_t)label_numel * sizeof *y);
    if (!idx || !x || !y)
        fuzz_fail("out of memory for %zu samples", n);
    for (size_t i = 0; i < n; i++)
        idx[i] = (int64_t)(n - 1 - i);
    dlh_error_clear();
    rc = ops->read(state, idx, n, x, y);
    if (rc == DLH_EDATA && dlh_error_get()[0] != '\0') {
        /* A reader that checks values as it reads them (a streamed idx,
           npy) refuses a non-finite one then, with its message: done. */
        free(idx);
        free(x);
        free(y);
        return;
    }
    if (rc)
        fuzz_fail("read of every sample failed (%d)", rc);
    for (size_t i = 0; i < n * (size_t)numel; i++)
        if (!isfinite(x[i]))
            fuzz_fail("sample value %zu is not finite", i);
    if (info.label_kind == DLH_LABEL_CLASS) {
        for (size_t i = 0; i < n; i++)
            if (!(y[i] >= 0.0f && y[i] < (float)info.n_classes && y[i] == floorf(y[i])))
                fuzz_fail("label %g of sample %zu is no class below %lld", y[i], i,
                          (long long)info.n_classes);
    } else if (info.label_kind == DLH_LABEL_DENSE) {
        for (size_t i = 0; i < n * (size_t)label_numel; i++)
            if (!isfinite(y[i]))
                fuzz_fail("label value %zu is not finite", i);
    }
    /* An index past the end is refused, not read. */
    int64_t past = info.n_samples;
    dlh_error_clear();
    rc = ops->read(state, &past, 1, x, y);
    if (rc != DLH_EINVAL)
        fuzz_fail("read of sample %lld of %lld gave %d, not DLH_EINVAL", (long long)past,
                  (long long)info.n_samples, rc);
    free(idx);
    free(x);
    free(y);
}

void fuzz_dataset(const dlh_dataset_ops *ops, const char *params, const char *path)
{
    static const char *const reserved[] = { "type", NULL };
    dlh_config *cfg;
    dlh_error_clear();
    /* A folder that does not exist: a relative file name reaches nothing. */
    int rc = dlh_config_load_string(params, "/nonexistent/fuzz.cfg", &cfg);
    if (rc) {
        fuzz_check_error(rc, NULL);
        return;
    }
    dlh_params *p = dlh_params_new(cfg, dlh_config_root(cfg), "data.train", reserved);
    if (!p)
        fuzz_fail("out of memory");
    void *state = NULL;
    rc = ops->open(dlh_host_table(), p, &state);
    if (rc == 0)
        rc = dlh_params_check_unused(p);
    if (rc == 0)
        fuzz_dataset_check(ops, state);
    else
        fuzz_check_error(rc, path);
    ops->close(state);
    dlh_params_free(p);
    dlh_config_free(cfg);
}
