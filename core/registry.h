/* The plugin loader and the component registry.
 *
 * Plugins are found in $DLHOST_PLUGIN_PATH (colon separated) and then in the
 * installed plugin folder; only regular files ending in ".so", by absolute
 * path, in places that pass the trust rule of plugin_trust.h, and whose
 * stamp, read from the file (elf_peek.h), is this ABI's.  Every handle is
 * kept until exit.  The registry holds, per component, a copy of its ops
 * struct at the host's full size (zero-filled past the plugin's
 * struct_size), so callers may read every slot of this ABI. */
#ifndef DLHOST_CORE_REGISTRY_H
#define DLHOST_CORE_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include <dlhost/dlhost.h>

typedef struct dlh_plugin_file {
    char *path;                     /* absolute */
    dlh_plugin_info info;           /* copy of the plugin's dlh_plugin */
    void *handle;
} dlh_plugin_file;

typedef struct dlh_component {
    dlh_kind kind;
    char *name;
    const void *ops;                /* host-sized copy */
    uint32_t plugin_struct_size;    /* the size the plugin declared */
    char *description;
    const dlh_plugin_file *plugin;  /* NULL for built-ins registered by tests */
    const dlh_param_doc *params;    /* its parameter table (ABI 1.5), or NULL */
    size_t n_params;
} dlh_component;

/* The host table handed to every plugin. */
const dlh_host *dlh_host_table(void);

/* Loads every plugin on the search path.  A plugin that fails to load, or a
   folder that fails the trust rule (once, for all its files), is reported
   (warning) and skipped; returns 0, or DLH_EPLUGIN when `strict` and any
   failed (the message names the first). */
int dlh_registry_load_all(int strict);
/* Loads one plugin file (absolute path); refusals give DLH_EPLUGIN with a
   message naming the file and the reason.  An untrusted file or folder, a
   file that is not a shared object for this machine, and one whose file
   lacks dlh_plugin or dlh_plugin_init or names another ABI are refused
   before dlopen, so none of their code runs. */
int dlh_registry_load_file(const char *path);
/* Registers a component directly (tests; built-ins). */
int dlh_registry_add(dlh_kind kind, const char *name, const void *ops,
                     const char *description, const dlh_plugin_file *plugin);
/* Attaches a parameter table to component (kind, name), which `plugin`
   registered (plugin.h, describe); DLH_EPLUGIN naming the file for a
   malformed table or a component of another plugin. */
int dlh_registry_describe(dlh_kind kind, const char *name, const dlh_param_doc *params,
                          const dlh_plugin_file *plugin);
/* The entry of `key` in c's table, or NULL. */
const dlh_param_doc *dlh_component_param(const dlh_component *c, const char *key);
/* "float", "int", ... */
const char *dlh_param_type_name(int type);
/* The component, or NULL with an error "unknown <kind> 'x' (did you mean 'y'?)". */
const dlh_component *dlh_registry_find(dlh_kind kind, const char *name);
size_t dlh_registry_count(void);
const dlh_component *dlh_registry_at(size_t i);
/* Frees everything registered (handles stay open: plugin threads may run). */
void dlh_registry_clear(void);

const char *dlh_kind_name(dlh_kind kind);   /* "layer" */

/* Opens backend `name` with params (NULL: defaults).  A backend whose probe
   says it is unusable gives DLH_EDEVICE naming it; create failures give its
   message prefixed "backend 'name': ". */
int dlh_backend_open(const char *name, dlh_params *params, dlh_backend **out);
void dlh_backend_close(dlh_backend *be);        /* NULL is a no-op */

/* The folder list searched, for messages and `dlhost plugins`. */
const char *dlh_plugin_dirs(void);

/* Internal to registry.c and loader.c: removes the components registered
   after the first `n` (a plugin whose init failed leaves nothing behind). */
void dlh_registry_truncate(size_t n);

/* Loading only what an experiment names (issue 16, core/manifest.h): */
/* Whether plugin file `path` is loaded, every component of it accepted. */
int dlh_registry_file_loaded(const char *path);
/* The plugin files of the search path, in the order dlh_registry_load_all
   loads them (malloc'd array of malloc'd absolute paths); *clean is 0 when
   load_all would have a warning to give about the path or a folder. */
char **dlh_plugin_scan(size_t *count, int *clean);
/* Reorders the components by rank(c), a stable sort: what plugins loaded
   one by one registered stands in the order a full load gives. */
void dlh_registry_sort(long (*rank)(const dlh_component *c));

/* backend = auto (core/backend_auto.c): opens the first usable of cuda, an
   OpenCL GPU and cpu into *out; `passed` gets "cuda: WHY; opencl: WHY" for
   those passed over ("" when cuda was taken).  DLH_EDEVICE when none is. */
int dlh_backend_auto(dlh_backend **out, char *passed, size_t size);

#endif
