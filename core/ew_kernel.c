/* A compiled elementwise program bound to one backend: the object behind
 * host->ew_compile / ew_run / ew_program / ew_free.  The run check is done
 * here once for every backend, so backends may trust their arguments. */
#include "ew.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dlhost/status.h>

#include "error.h"

struct dlh_ew_kernel {
    const dlh_backend *be;
    dlh_ew_program *prog;
    void *kernel;           /* the backend's prepared form */
};

/* $DLHOST_EW_RECORD (a testing aid): every program that parses is appended
   to that file, each ended by a NUL byte, in one write (O_APPEND), so that
   tests/test_cuda_compile.sh can compile what the suite and the built-in
   plugins produce for cuda.  A failure to record is silent. */
static void ew_record(const char *source)
{
    const char *path = getenv("DLHOST_EW_RECORD");
    if (!path || !*path)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    ssize_t w = write(fd, source, strlen(source) + 1);
    (void)w;
    close(fd);
}

int dlh_ew_compile(const dlh_backend *be, const char *source, dlh_ew_kernel **out)
{
    if (!out) {
        dlh_error_set("ew: no place for the kernel (out is NULL)");
        return DLH_EINVAL;
    }
    *out = NULL;
    if (!be || !be->ops) {
        dlh_error_set("ew: no backend to compile for");
        return DLH_EINVAL;
    }
    if (!be->ops->ew_prepare || !be->ops->ew_run) {
        dlh_error_set("ew: backend '%s' cannot run elementwise programs",
                      be->name ? be->name : "?");
        return DLH_EUNSUPPORTED;
    }
    dlh_ew_program *prog;
    int rc = dlh_ew_parse(source, &prog);
    if (rc)
        return rc;
    ew_record(source);
    dlh_ew_kernel *k = calloc(1, sizeof *k);
    if (!k) {
        dlh_ew_program_free(prog);
        dlh_error_set("ew: out of memory");
        return DLH_ENOMEM;
    }
    k->be = be;
    k->prog = prog;
    rc = be->ops->ew_prepare(be->ctx, prog, &k->kernel);
    if (rc) {
        dlh_error_prefix("ew: backend '%s': ", be->name ? be->name : "?");
        k->kernel = NULL;
        dlh_ew_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

int dlh_ew_run(dlh_ew_kernel *k, size_t n, const dlh_ew_arg *args, const float *scalars)
{
    if (!k) {
        dlh_error_set("ew: no kernel (NULL)");
        return DLH_EINVAL;
    }
    const dlh_ew_program *p = k->prog;
    if (p->n_arrays && !args) {
        dlh_error_set("ew: args is NULL but the program has %u array operand%s", p->n_arrays,
                      p->n_arrays == 1 ? "" : "s");
        return DLH_EINVAL;
    }
    if (p->n_scalars && !scalars) {
        dlh_error_set("ew: scalars is NULL but the program has %u scalar%s", p->n_scalars,
                      p->n_scalars == 1 ? "" : "s");
        return DLH_EINVAL;
    }
    if (n == 0)
        return 0;   /* an empty batch has nothing to compute */
    for (uint32_t i = 0; i < p->n_arrays; i++) {
        const dlh_ew_arg *a = &args[i];
        if (!a->mem.buf) {
            dlh_error_set("ew: operand '%s' has no buffer", p->array_names[i]);
            return DLH_EINVAL;
        }
        if (p->access[i] & DLH_EW_OUT) {
            if (a->len != n || a->stride != 1) {
                dlh_error_set("ew: operand '%s' is written, so it needs length n=%zu and "
                              "stride 1 (got length %zu, stride %zu)",
                              p->array_names[i], n, a->len, a->stride);
                return DLH_EINVAL;
            }
        } else if (a->len < 1 || a->stride < 1) {
            dlh_error_set("ew: operand '%s' needs length >= 1 and stride >= 1 "
                          "(got length %zu, stride %zu)", p->array_names[i], a->len, a->stride);
            return DLH_EINVAL;
        }
    }
    return k->be->ops->ew_run(k->be->ctx, k->kernel, n, args, scalars);
}

const dlh_ew_program *dlh_ew_kernel_program(const dlh_ew_kernel *k)
{
    return k ? k->prog : NULL;
}

void dlh_ew_free(dlh_ew_kernel *k)
{
    if (!k)
        return;
    if (k->kernel && k->be->ops->ew_release)
        k->be->ops->ew_release(k->be->ctx, k->kernel);
    dlh_ew_program_free(k->prog);
    free(k);
}
