/* Bounded reads of regular files (see file.h). */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dlhost/status.h>

#include "error.h"

static const char *file_kind(mode_t mode)
{
    return S_ISFIFO(mode)  ? "a FIFO"
           : S_ISCHR(mode) ? "a character device"
           : S_ISBLK(mode) ? "a block device"
           : S_ISSOCK(mode) ? "a socket"
           : S_ISDIR(mode) ? "a folder"
                           : "not a plain file";
}

int dlh_file_open_regular(const char *path, int *fd, struct stat *st)
{
    *fd = -1;
    int f = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (f < 0) {
        int err = errno;
        dlh_error_set("%s: cannot open: %s", path, strerror(err));
        errno = err;
        return -1;
    }
    if (fstat(f, st) < 0) {
        int err = errno;
        dlh_error_set("%s: cannot stat: %s", path, strerror(err));
        close(f);
        errno = err;
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        dlh_error_set("%s: not a regular file (%s)", path, file_kind(st->st_mode));
        close(f);
        errno = 0;
        return -1;
    }
    /* Regular files never block; clearing the flag keeps later reads plain. */
    int flags = fcntl(f, F_GETFL);
    if (flags >= 0)
        (void)fcntl(f, F_SETFL, flags & ~O_NONBLOCK);
    *fd = f;
    return 0;
}

int dlh_file_read_all(const char *path, size_t max, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    int fd;
    struct stat st;
    if (dlh_file_open_regular(path, &fd, &st) < 0)
        return DLH_EIO;
    if ((unsigned long long)st.st_size > max) {
        dlh_error_set("%s: %lld bytes, over the limit of %zu bytes for this file", path,
                      (long long)st.st_size, max);
        close(fd);
        return DLH_EDATA;
    }
    /* The size is a hint: the file may change while it is read, so the
       buffer grows as needed up to max + 1 bytes, which tells "too large". */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap + 1);
    int rc = buf ? 0 : DLH_ENOMEM;
    while (rc == 0) {
        if (n == cap) {
            size_t grown = cap > max / 2 ? max + 1 : cap * 2;
            char *p = grown > cap ? realloc(buf, grown + 1) : NULL;
            if (!p) {
                rc = grown > cap ? DLH_ENOMEM : DLH_EDATA;
                break;
            }
            buf = p;
            cap = grown;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            dlh_error_set("%s: read error: %s", path, strerror(errno));
            rc = DLH_EIO;
        } else if (got == 0) {
            break;
        } else {
            n += (size_t)got;
            if (n > max)
                rc = DLH_EDATA;
        }
    }
    close(fd);
    if (rc == DLH_ENOMEM)
        dlh_error_set("%s: out of memory reading %zu bytes", path, cap);
    else if (rc == DLH_EDATA)
        dlh_error_set("%s: grew past the limit of %zu bytes for this file while it "
                      "was read", path, max);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}
