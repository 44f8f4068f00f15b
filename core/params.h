/* Experiment files and component parameters over libconfig.
 *
 * dlh_config owns a parsed experiment file; dlh_params is one group of it
 * handed to a component, recording every key the component asked for so that
 * unread keys are reported as unknown (with a did-you-mean).  Every message
 * carries "file:line: ".  Plugins reach the accessors only through the host
 * table (host.c installs dlh_param_* below into it). */
#ifndef DLHOST_CORE_PARAMS_H
#define DLHOST_CORE_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

#include <dlhost/host.h>
#include <dlhost/plugin.h>

typedef struct dlh_config dlh_config;

/* Parses `path`; @include is confined to the file's folder.  On a syntax
   error: "path:line: message", DLH_ECONFIG; unreadable file: DLH_EIO. */
int dlh_config_load(const char *path, dlh_config **out);
/* Parses text (tests, --set); `name` stands for the file name in messages. */
int dlh_config_load_string(const char *text, const char *name, dlh_config **out);
void dlh_config_free(dlh_config *c);
/* Applies one "a.b.c=value" override (value parsed as int, float, bool or
   string); the setting must be a scalar path.  DLH_ECONFIG on a bad one. */
int dlh_config_set(dlh_config *c, const char *assignment);
const char *dlh_config_path(const dlh_config *c);
/* The folder relative file names resolve against. */
const char *dlh_config_dir(const dlh_config *c);
config_setting_t *dlh_config_root(dlh_config *c);

/* A params view of `group` (a libconfig group) for a component described by
   `label` ("layer 'fc1'", "optimizer 'sgd'").  Keys in `reserved` (NULL-
   terminated, may be NULL) belong to the core and never count as unknown.
   Returns NULL only when out of memory. */
dlh_params *dlh_params_new(dlh_config *c, config_setting_t *group, const char *label,
                           const char *const *reserved);
/* Makes p fall back on parent for every key p's own group lacks (an
   optimiser parameter group over the optimizer group).  Unknown keys are
   still reported for p's own group only.  parent must outlive p. */
void dlh_params_set_parent(dlh_params *p, const dlh_params *parent);
/* Makes the keys of p's group that the file itself wrote invisible to p
   (never read, never unknown): p reads only those --set made.  For a
   group written for another component: --backend NAME over a file's
   backend section, whose --set backend.* values are NAME's. */
void dlh_params_sets_only(dlh_params *p);
/* An empty params (no group): every accessor returns its default. */
dlh_params *dlh_params_empty(dlh_config *c, const char *label);
void dlh_params_free(dlh_params *p);
/* DLH_ECONFIG naming the first key nobody read, with file:line and the
   closest read or reserved key when one is near ("did you mean 'units'?"). */
int dlh_params_check_unused(dlh_params *p);
const char *dlh_params_label(const dlh_params *p);
/* The parameter table of the component that reads p (registry.h), so the
   host table's accessors check each read against it (param_doc.c); NULL
   for none.  Borrowed; the table outlives p. */
void dlh_params_set_doc(dlh_params *p, const dlh_param_doc *doc, size_t n);
const dlh_param_doc *dlh_params_doc(const dlh_params *p, size_t *n);
/* "file:line" of key (or of the group when key is NULL) into buf. */
void dlh_params_where(const dlh_params *p, const char *key, char *buf, size_t size);

/* Edit distance, for did-you-mean suggestions everywhere. */
size_t dlh_edit_distance(const char *a, const char *b);
/* The candidate closest to `word` when close enough to suggest, else NULL. */
const char *dlh_closest(const char *word, const char *const *candidates, size_t n);

/* The host-table accessors (documented in dlhost/host.h). */
int dlh_param_int(dlh_params *p, const char *key, const int64_t *def, int64_t min,
                  int64_t max, int64_t *out);
int dlh_param_float(dlh_params *p, const char *key, const double *def, double min,
                    double max, double *out);
int dlh_param_bool(dlh_params *p, const char *key, const int *def, int *out);
int dlh_param_string(dlh_params *p, const char *key, const char *def, const char **out);
int dlh_param_choice(dlh_params *p, const char *key, const char *const *choices,
                     int def_index, int *out);
int dlh_param_floats(dlh_params *p, const char *key, float *out, size_t max, size_t *n);
int dlh_param_path(dlh_params *p, const char *key, const char *def, const char **out);
int dlh_param_has(dlh_params *p, const char *key);
int dlh_param_error(dlh_params *p, const char *key, const char *fmt, ...) DLH_PRINTF(3, 4);

#endif
