/* dlhost SDK — the host table.
 *
 * Everything the host offers a plugin comes through this table, passed to
 * dlh_plugin_init and kept by the plugin for later calls: messages, typed
 * parameter access, elementwise-kernel compilation, tensor helpers.  Plugins
 * resolve no symbol of libdlhost, so one plugin binary works with every host
 * of the same ABI major, and tests may pass a table of their own.
 * The table lives until the process exits.  Members after struct_size are
 * appended only; check host->struct_size before using a member marked with a
 * later ABI minor. */
#ifndef DLHOST_HOST_H
#define DLHOST_HOST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "ew.h"
#include "tensor.h"

#if defined(__GNUC__)
#define DLH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define DLH_PRINTF(f, a)
#endif

/* A component's parameters (one group of the experiment file); opaque.
 * The host records every key a component asks for: after create, a key that
 * nobody asked for is reported as unknown, with a did-you-mean suggestion. */
typedef struct dlh_params dlh_params;

/* A compiled elementwise program bound to one backend; opaque. */
typedef struct dlh_ew_kernel dlh_ew_kernel;

typedef enum dlh_log_level {
    DLH_LOG_ERROR = 0, DLH_LOG_WARN = 1, DLH_LOG_INFO = 2, DLH_LOG_DEBUG = 3
} dlh_log_level;

typedef struct dlh_host {
    uint32_t struct_size;
    uint16_t abi_major, abi_minor;
    const char *version;            /* dlhost release, "0.1.0" */

    /* ---- messages ---- */
    /* Sets the message of the failure being returned (thread-local); call it,
       then return a negative DLH_E* code.  The caller adds the context. */
    void (*error)(const char *fmt, ...) DLH_PRINTF(1, 2);
    /* Writes a line to the log at `level` (errors and warnings to stderr). */
    void (*log)(int level, const char *fmt, ...) DLH_PRINTF(2, 3);

    /* ---- parameters ----
       Each accessor reads one key of `p`.  A NULL default means the key is
       required.  A missing required key, a value of the wrong type or out of
       [min, max] sets an error naming the file, line, component and key and
       returns DLH_ECONFIG. */
    int (*param_int)(dlh_params *p, const char *key, const int64_t *def,
                     int64_t min, int64_t max, int64_t *out);
    int (*param_float)(dlh_params *p, const char *key, const double *def,
                       double min, double max, double *out);
    int (*param_bool)(dlh_params *p, const char *key, const int *def, int *out);
    /* The string lives as long as `p`. */
    int (*param_string)(dlh_params *p, const char *key, const char *def,
                        const char **out);
    /* One of `choices` (NULL-terminated); *out is its index.  def_index < 0
       means required.  A bad value lists the choices. */
    int (*param_choice)(dlh_params *p, const char *key, const char *const *choices,
                        int def_index, int *out);
    /* A list or array of numbers; an absent key gives *n = 0 (not an error).
       More than `max` values is an error. */
    int (*param_floats)(dlh_params *p, const char *key, float *out, size_t max,
                        size_t *n);
    /* A file name, resolved against the experiment file's folder; the string
       lives as long as `p`.  Required when def is NULL; "" default = absent. */
    int (*param_path)(dlh_params *p, const char *key, const char *def,
                      const char **out);
    /* 1 when the key is present (and marks it as read), else 0. */
    int (*param_has)(dlh_params *p, const char *key);
    /* Sets an error located at `key` (or at the group when key is NULL),
       prefixed "file:line: <component>: "; returns DLH_ECONFIG. */
    int (*param_error)(dlh_params *p, const char *key, const char *fmt, ...)
        DLH_PRINTF(3, 4);

    /* ---- elementwise kernels ---- */
    /* Compiles `source` (see ew.h) and prepares it on `be`.  A syntax error
       sets a message with the column and returns DLH_EPARSE. */
    int (*ew_compile)(const dlh_backend *be, const char *source, dlh_ew_kernel **out);
    /* Runs a compiled kernel over n elements (see dlh_backend_ops.ew_run). */
    int (*ew_run)(dlh_ew_kernel *k, size_t n, const dlh_ew_arg *args,
                  const float *scalars);
    /* The compiled program, for inspection. */
    const dlh_ew_program *(*ew_program)(const dlh_ew_kernel *k);
    void (*ew_free)(dlh_ew_kernel *k);     /* NULL is a no-op */

    /* ---- tensors ---- */
    /* Copies numel floats between host memory and a tensor on `be`. */
    int (*tensor_write)(const dlh_backend *be, const dlh_tensor *t, const float *src);
    int (*tensor_read)(const dlh_backend *be, const dlh_tensor *t, float *dst);

    /* ---- random numbers ---- */
    /* A stream number for (purpose, a, b): distinct inputs give distinct
       streams, so draws keyed by (seed, stream, offset) never overlap. */
    uint64_t (*rng_stream)(uint32_t purpose, uint64_t a, uint64_t b);
    /* ABI 1.1 members go below this line. */
} dlh_host;

#endif
