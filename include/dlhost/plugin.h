/* dlhost SDK — the plugin entry points.
 *
 * A plugin is a shared object exporting exactly two symbols, both written by
 * DLH_PLUGIN(): the data symbol `dlh_plugin` (which ABI it was built for, its
 * name, version, description and license) and the function `dlh_plugin_init`,
 * which registers the plugin's components.  The loader reads dlh_plugin first,
 * from the file before any code of it (constructors included) runs, and
 * refuses a plugin whose ABI major differs from the host's or whose minor is
 * newer; that is why dlh_plugin_info begins with plain integers, which need
 * no relocation.  Plugins link against nothing of dlhost; build them with
 * -fvisibility=hidden (`pkg-config --cflags dlhost` says so). */
#ifndef DLHOST_PLUGIN_H
#define DLHOST_PLUGIN_H

#include <math.h>
#include <stdint.h>

#include "host.h"

#define DLH_ABI_MAJOR 1
#define DLH_ABI_MINOR 10

typedef enum dlh_kind {
    DLH_KIND_BACKEND = 0,
    DLH_KIND_LAYER,
    DLH_KIND_LOSS,
    DLH_KIND_OPTIMIZER,
    DLH_KIND_SCHEDULE,
    DLH_KIND_AUGMENTER,
    DLH_KIND_DATASET,
    DLH_KIND_METRIC,                /* ABI 1.7 */
    DLH_KIND_COUNT
} dlh_kind;

typedef struct dlh_plugin_info {
    uint32_t struct_size;
    uint16_t abi_major, abi_minor;
    const char *name;
    const char *version;
    const char *description;
    const char *license;
} dlh_plugin_info;

/* ABI 1.5: a component's parameter table, for `dlhost plugins --verbose`,
   the generated component reference (README, dlhost-components(7)) and the
   host's own check.  Once a component has a table, every parameter read of
   it through the host table is checked against its entry (the key is
   listed, with the accessor's type, default and range) and a read the table
   does not describe is a plugin error: the documentation cannot drift from
   the code.  Tables are static and live until exit; the last entry has
   key NULL. */
typedef enum dlh_param_type {
    DLH_PARAM_INT = 1,      /* param_int: def, min, max */
    DLH_PARAM_FLOAT,        /* param_float: def, min, max */
    DLH_PARAM_BOOL,         /* param_bool: def "true" / "false" */
    DLH_PARAM_STRING,       /* param_string: def without quotes */
    DLH_PARAM_CHOICE,       /* param_choice: choices "a|b|c", def one of them */
    DLH_PARAM_FLOATS,       /* param_floats: def as written, "[0.9, 0.999]" */
    DLH_PARAM_PATH,         /* param_path: def without quotes */
    DLH_PARAM_OTHER         /* read another way (param_has, a nested group) */
} dlh_param_type;

typedef struct dlh_param_doc {
    const char *key;
    int32_t type;           /* dlh_param_type */
    /* The default as the accessor receives it ("1e-08", "0", "true", "edge"),
       NULL when the key is required; "" for a key whose absence means
       "not set" (param_path "", param_floats absent). */
    const char *def;
    double min, max;        /* INT and FLOAT: the accessor's range */
    const char *choices;    /* CHOICE: "a|b|c" in the accessor's order */
    const char *help;       /* one line: what it does, its unit */
} dlh_param_doc;

/* Range helpers for tables: no bound. */
#define DLH_PARAM_NO_MIN (-HUGE_VAL)
#define DLH_PARAM_NO_MAX HUGE_VAL

typedef struct dlh_registrar dlh_registrar;
struct dlh_registrar {
    uint32_t struct_size;
    /* Registers component `name` of `kind`.  `ops` points to the kind's ops
       struct (dlh_layer_ops, ...), which must begin with its struct_size and
       live until exit; `description` is one line for `dlhost plugins`.
       A NULL required slot or a name already taken is refused (DLH_EPLUGIN). */
    int (*add)(dlh_registrar *reg, dlh_kind kind, const char *name, const void *ops,
               const char *description);
    void *ctx;                      /* the host's */
    /* ABI 1.5: attaches parameter table `params` to component (kind, name),
       registered by this plugin.  A malformed table (a key twice, an unknown
       type, no help) is refused (DLH_EPLUGIN). */
    int (*describe)(dlh_registrar *reg, dlh_kind kind, const char *name,
                    const dlh_param_doc *params);
};

typedef int (*dlh_plugin_init_fn)(const dlh_host *host, dlh_registrar *reg);

#if defined(__GNUC__)
#define DLH_EXPORT __attribute__((visibility("default")))
#else
#define DLH_EXPORT
#endif

#ifdef __cplusplus
#define DLH_EXTERN_C extern "C"
#else
#define DLH_EXTERN_C
#endif

/* Writes the two exported symbols.  init_fn: int (const dlh_host *, dlh_registrar *). */
#define DLH_PLUGIN(name_, version_, description_, license_, init_fn_)              \
    DLH_EXTERN_C DLH_EXPORT const dlh_plugin_info dlh_plugin = {                   \
        sizeof(dlh_plugin_info), DLH_ABI_MAJOR, DLH_ABI_MINOR,                     \
        name_, version_, description_, license_ };                                 \
    DLH_EXTERN_C DLH_EXPORT int dlh_plugin_init(const dlh_host *host,             \
                                                dlh_registrar *reg);               \
    DLH_EXTERN_C DLH_EXPORT int dlh_plugin_init(const dlh_host *host,             \
                                                dlh_registrar *reg)                \
    {                                                                              \
        return init_fn_(host, reg);                                                \
    }

#endif
