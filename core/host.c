/* The host table: the core's services as seen by plugins. */
#include "config.h"

#include "registry.h"

#include <stdint.h>

#include "error.h"
#include "ew.h"
#include "param_doc.h"
#include "params.h"

/* Byte span of a tensor's elements (f32 and i32 are both 4 bytes); 0 with a
   message when the tensor cannot be addressed. */
static int tensor_span(const dlh_backend *be, const dlh_tensor *t, size_t *bytes,
                       size_t *off)
{
    if (!be || !be->ops || !t || !t->mem.buf) {
        dlh_error_set("tensor copy: no backend or no buffer");
        return DLH_EINVAL;
    }
    if (t->dtype != DLH_F32 && t->dtype != DLH_I32) {
        dlh_error_set("tensor copy: dtype %d is not supported (f32 or i32 only)",
                      (int)t->dtype);
        return DLH_EUNSUPPORTED;
    }
    if (t->ndim < 0 || t->ndim > DLH_MAX_DIMS) {
        dlh_error_set("tensor copy: ndim %d is out of range", (int)t->ndim);
        return DLH_EINVAL;
    }
    uint64_t n = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0 || (t->shape[i] > 0 && n > (SIZE_MAX / 4) / (uint64_t)t->shape[i])) {
            dlh_error_set("tensor copy: bad shape (dimension %d is %lld)", i,
                          (long long)t->shape[i]);
            return DLH_EINVAL;
        }
        n *= (uint64_t)t->shape[i];
    }
    if (t->mem.off > SIZE_MAX / 4) {
        dlh_error_set("tensor copy: offset %zu is out of range", t->mem.off);
        return DLH_EINVAL;
    }
    *bytes = (size_t)n * 4;
    *off = t->mem.off * 4;
    return 0;
}

static int host_tensor_write(const dlh_backend *be, const dlh_tensor *t, const float *src)
{
    size_t bytes, off;
    int rc = tensor_span(be, t, &bytes, &off);
    if (rc < 0 || bytes == 0)
        return rc;
    return be->ops->write(be->ctx, t->mem.buf, off, src, bytes);
}

static int host_tensor_read(const dlh_backend *be, const dlh_tensor *t, float *dst)
{
    size_t bytes, off;
    int rc = tensor_span(be, t, &bytes, &off);
    if (rc < 0 || bytes == 0)
        return rc;
    return be->ops->read(be->ctx, t->mem.buf, off, dst, bytes);
}

/* splitmix64's finaliser (Steele, Lea, Flood 2014): a bijection on 64 bits
   with full avalanche. */
static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The stream of (purpose, a, b) is
 *     mix64(mix64(mix64(purpose) ^ a) ^ b)
 * This mapping is part of the checkpoint format (a resumed run must draw the
 * same numbers): never change it.  Each step is a bijection, so for a fixed
 * prefix distinct last inputs give distinct streams; across prefixes a
 * collision needs a 64-bit coincidence. */
static uint64_t host_rng_stream(uint32_t purpose, uint64_t a, uint64_t b)
{
    return mix64(mix64(mix64(purpose) ^ a) ^ b);
}

static const dlh_host host_table = {
    .struct_size = sizeof(dlh_host),
    .abi_major = DLH_ABI_MAJOR,
    .abi_minor = DLH_ABI_MINOR,
    .version = PACKAGE_VERSION,
    .error = dlh_error_set,
    .log = dlh_log,
    .param_int = dlh_doc_param_int,
    .param_float = dlh_doc_param_float,
    .param_bool = dlh_doc_param_bool,
    .param_string = dlh_doc_param_string,
    .param_choice = dlh_doc_param_choice,
    .param_floats = dlh_doc_param_floats,
    .param_path = dlh_doc_param_path,
    .param_has = dlh_doc_param_has,
    .param_error = dlh_param_error,
    .ew_compile = dlh_ew_compile,
    .ew_run = dlh_ew_run,
    .ew_program = dlh_ew_kernel_program,
    .ew_free = dlh_ew_free,
    .tensor_write = host_tensor_write,
    .tensor_read = host_tensor_read,
    .rng_stream = host_rng_stream,
};

const dlh_host *dlh_host_table(void)
{
    return &host_table;
}
