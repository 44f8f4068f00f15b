/* Opening a data file for the readers of the family (datasets.h). */
#include "datasets.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

FILE *datasets_fopen(dlh_params *p, const char *key, const char *path, struct stat *st,
                     int *rc)
{
    const dlh_host *host = datasets_host;
    /* O_NONBLOCK: opening a FIFO without a writer would block forever. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0 && p && (errno == ENOENT || errno == ENOTDIR)) {
        /* A file that is not there is a mistake in the experiment file. */
        *rc = host->param_error(p, key, "parameter '%s': no such file: '%s'", key, path);
        return NULL;
    }
    if (fd < 0) {
        host->error("%s: cannot open: %s", path, strerror(errno));
        *rc = DLH_EIO;
        return NULL;
    }
    int flags;
    FILE *f = NULL;
    if (fstat(fd, st) != 0) {
        host->error("%s: cannot stat: %s", path, strerror(errno));
    } else if (!S_ISREG(st->st_mode)) {
        /* A FIFO or a device (/dev/zero) would block or never end. */
        host->error("%s: not a regular file (%s)", path,
                    S_ISFIFO(st->st_mode) ? "a FIFO"
                    : S_ISCHR(st->st_mode) ? "a character device"
                    : S_ISDIR(st->st_mode) ? "a folder" : "a device or socket");
    } else if ((flags = fcntl(fd, F_GETFL)) < 0 ||
               fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 || !(f = fdopen(fd, "rb"))) {
        host->error("%s: cannot open: %s", path, strerror(errno));
    }
    if (!f) {
        close(fd);
        *rc = DLH_EIO;
        return NULL;
    }
    *rc = 0;
    return f;
}
