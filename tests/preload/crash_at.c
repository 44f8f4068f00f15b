/* An LD_PRELOAD library for tests/test_crash.sh: numbers every file commit
 * of the process (fsync, fdatasync, rename, unlink), each with a point just
 * before and just after the call, and kills the process with SIGKILL at the
 * point $DLHOST_CRASH_AT (from 1) — the moments a power cut or kill -9 hurts
 * most.  With $DLHOST_CRASH_LOG set, each point is appended there as
 * "N before|after CALL PATH" (the file of an fsync by /proc/self/fd), so a
 * test can count the points of a run and say which one it killed.  glibc
 * only (dlsym RTLD_NEXT). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_long points;

static void crash_point(const char *call, const char *path, const char *when)
{
    long n = atomic_fetch_add(&points, 1) + 1;
    const char *log = getenv("DLHOST_CRASH_LOG");
    if (log) {
        int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dprintf(fd, "%ld %s %s %s\n", n, when, call, path);
            close(fd);
        }
    }
    const char *at = getenv("DLHOST_CRASH_AT");
    if (at && strtol(at, NULL, 10) == n)
        kill(getpid(), SIGKILL);
}

static void fd_path(int fd, char *buf, size_t size)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
}

typedef int (*fd_fn)(int);
typedef int (*path_fn)(const char *);
typedef int (*rename_fn)(const char *, const char *);

/* The next definition of `name` (libc's): a function pointer out of dlsym's
   object pointer, as POSIX allows. */
static void *next_of(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

static int around_fd(const char *name, int fd)
{
    fd_fn real;
    void *sym = next_of(name);
    memcpy(&real, &sym, sizeof real);
    char path[4096];
    fd_path(fd, path, sizeof path);
    crash_point(name, path, "before");
    int rc = real(fd), err = errno;
    crash_point(name, path, "after");
    errno = err;
    return rc;
}

int fsync(int fd)
{
    return around_fd("fsync", fd);
}

int fdatasync(int fd)
{
    return around_fd("fdatasync", fd);
}

int rename(const char *from, const char *to)
{
    rename_fn real;
    void *sym = next_of("rename");
    memcpy(&real, &sym, sizeof real);
    crash_point("rename", to, "before");
    int rc = real(from, to), err = errno;
    crash_point("rename", to, "after");
    errno = err;
    return rc;
}

int unlink(const char *path)
{
    path_fn real;
    void *sym = next_of("unlink");
    memcpy(&real, &sym, sizeof real);
    crash_point("unlink", path, "before");
    int rc = real(path), err = errno;
    crash_point("unlink", path, "after");
    errno = err;
    return rc;
}
