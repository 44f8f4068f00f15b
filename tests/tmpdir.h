/* A temporary folder for a C test: make it, write files into it, remove it.
 *
 * These are test helpers, not library code: on an error they print a TAP
 * "Bail out!" line and exit(1), except tmpdir_remove, which reports. */
#ifndef DLHOST_TESTS_TMPDIR_H
#define DLHOST_TESTS_TMPDIR_H

#include <stddef.h>

/* The folder tests make their temporary folders in: $DLHOST_BUILDDIR (set by
   make check), else $TMPDIR, else /tmp.  The string is the environment's. */
const char *tmpdir_base(void);

/* Makes a fresh folder "<base>/<name>-XXXXXX" with mkdtemp and writes its
   path to dir[size]; base NULL means tmpdir_base().  Bails out on failure. */
void tmpdir_make(char *dir, size_t size, const char *base, const char *name);

/* Removes dir and everything under it, without following symbolic links.
   Returns 0, or -1 with errno set by the call that failed. */
int tmpdir_remove(const char *dir);

/* Writes data[0..len) to the file at path, replacing it.  Bails out with
   "cannot write PATH: REASON" on failure. */
void tmpdir_write(const char *path, const void *data, size_t len);

/* Writes the string text to the file dir/name (see tmpdir_write). */
void tmpdir_put(const char *dir, const char *name, const char *text);

#endif
