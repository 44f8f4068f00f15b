/* Loading only the plugins an experiment names (issue 16).
 *
 * A manifest in the cache folder (cache_dir.h) records which plugin file
 * registers which components (kind, name), for one search path and this
 * host's ABI; each file is known by its path, size, mtime, inode and
 * device.  dlh_registry_load_named stands where a command loaded every
 * plugin: when the manifest matches the files on the search path it loads
 * none, and dlh_registry_find then loads the files that register the name
 * it is asked for.  A name the manifest does not hold loads every plugin
 * (a plugin installed since is found), then the usual "unknown component"
 * error follows.  Otherwise, a missing, stale or corrupt manifest, every
 * plugin is loaded as before and the manifest rewritten (atomically); where
 * a full load has a warning to give (a plugin that fails to load, an
 * untrusted folder), every run loads everything, so the warning is given
 * each time.  Without a cache folder, or one that cannot be written, every
 * plugin is loaded, silently.  Not thread-safe, as the registry. */
#ifndef DLHOST_CORE_MANIFEST_H
#define DLHOST_CORE_MANIFEST_H

#include <dlhost/dlhost.h>

/* Loads the plugins on the search path as described above; returns as
   dlh_registry_load_all(0) does (failures are warnings). */
int dlh_registry_load_named(void);
/* Loads the files the manifest names for (kind, name), once each; 1 when
   one was loaded, 0 otherwise and outside lazy loading. */
int dlh_manifest_want(dlh_kind kind, const char *name);
/* Loads every plugin on the search path and ends lazy loading; 1 when it
   was on (so a lookup is worth repeating), 0 otherwise. */
int dlh_manifest_load_rest(void);
/* Ends lazy loading and forgets the manifest (dlh_registry_clear). */
void dlh_manifest_clear(void);

#endif
