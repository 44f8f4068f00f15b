/* Reading the files a user names: experiment files and their @includes,
 * checkpoints (--resume, eval --weights), metrics.csv.  Only regular files
 * are read: a FIFO, a device or a socket would block the open or the reads
 * forever, or never end (/dev/zero), so each is refused by name before a
 * byte is read.  Writing goes through dlh_file_write_atomic (safetensors.h). */
#ifndef DLHOST_CORE_FILE_H
#define DLHOST_CORE_FILE_H

#include <stddef.h>
#include <sys/stat.h>

/* Opens `path` read-only if it is a regular file: O_NONBLOCK, so that
   opening a FIFO with no writer cannot block, then fstat (the descriptor is
   blocking again on return).  0 with *fd and *st set; else -1 with the
   message set ("path: cannot open: <strerror>", "path: not a regular file
   (a FIFO)") and errno kept from the failing call (0 for a non-regular
   file). */
int dlh_file_open_regular(const char *path, int *fd, struct stat *st);

/* Reads the regular file `path` whole into a NUL-terminated malloc'ed
   buffer, refusing one larger than `max` bytes (also one that grows past it
   while being read).  0 with *text and *len set; DLH_EIO (cannot open, not
   a regular file, read error), DLH_EDATA (over max) or DLH_ENOMEM, each with
   "path: ..." set. */
int dlh_file_read_all(const char *path, size_t max, char **text, size_t *len);

#endif
