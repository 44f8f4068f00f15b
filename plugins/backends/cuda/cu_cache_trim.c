/* The bound on the kernel cache folder (cu_program.c writes it): at the
 * end of every instance, when the folder's entries (16 hex digits + ".ptx")
 * take more than $DLHOST_CUDA_CACHE_MB MiB (default CU_CACHE_MB; 0 keeps
 * nothing between runs), the least recently used are removed until they fit.
 * A cache hit touches its file (cu_program.c), so mtime is the last use.
 *
 * Safe beside other processes using the folder: a writer writes a temporary
 * name and renames it into place, and temporary files are never removed
 * here unless a day old (a writer that crashed); an entry removed while
 * another process reads it stays readable through its open file, and one
 * removed before another process opens it is only compiled again.  Files
 * named otherwise are not ours and never touched.  Nothing here fails a run:
 * a folder that cannot be read or a file that cannot be removed is left as
 * it is (a debug line says so). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cuda_backend.h"

#define CU_CACHE_MB 256
#define CU_CACHE_STALE_TMP (24 * 3600)

typedef struct entry {
    time_t mtime;
    long mtime_ns;
    long long bytes;
    char name[32];
} entry;

static int hex16(const char *s)
{
    for (int i = 0; i < 16; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* 1: an entry "<16 hex>.ptx"; 2: a writer's temporary "<entry>.PID.N.tmp";
   0: not ours. */
static int kind(const char *name)
{
    size_t n = strlen(name);
    if (n < 20 || !hex16(name) || strncmp(name + 16, ".ptx", 4) != 0)
        return 0;
    if (n == 20)
        return 1;
    return name[20] == '.' && n > 24 && strcmp(name + n - 4, ".tmp") == 0 ? 2 : 0;
}

static int older_first(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->mtime != y->mtime)
        return x->mtime < y->mtime ? -1 : 1;
    if (x->mtime_ns != y->mtime_ns)
        return x->mtime_ns < y->mtime_ns ? -1 : 1;
    return strcmp(x->name, y->name);
}

long long cu_cache_cap(void)
{
    const char *e = getenv("DLHOST_CUDA_CACHE_MB");
    if (e == NULL || !*e)
        return (long long)CU_CACHE_MB << 20;
    char *end;
    errno = 0;
    long long mb = strtoll(e, &end, 10);
    if (*end || errno || mb < 0 || mb > (1LL << 40)) {
        cu_host->log(DLH_LOG_WARN, "cuda: DLHOST_CUDA_CACHE_MB '%s' is not a whole number of "
                     "MiB (0 or more): the kernel cache is bounded to %d MiB", e, CU_CACHE_MB);
        return (long long)CU_CACHE_MB << 20;
    }
    return mb << 20;
}

int cu_cache_trim(const char *dir, long long cap)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        cu_host->log(DLH_LOG_DEBUG, "cuda: cannot read the kernel cache %s (%s)", dir,
                     strerror(errno));
        return 0;
    }
    entry *v = NULL;
    size_t n = 0, cap_n = 0;
    long long total = 0;
    time_t now = time(NULL);
    char path[2048];
    int removed = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int k = kind(de->d_name);
        struct stat st;
        if (k == 0 || strlen(de->d_name) >= sizeof v->name ||
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path ||
            lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (k == 2) {
            /* a writer's file: only when a crashed one left it long ago */
            if (now - st.st_mtime > CU_CACHE_STALE_TMP && unlink(path) == 0)
                removed++;
            continue;
        }
        if (n == cap_n) {
            size_t c2 = cap_n ? 2 * cap_n : 64;
            entry *nv = realloc(v, c2 * sizeof *nv);
            if (nv == NULL)
                break;
            v = nv;
            cap_n = c2;
        }
        v[n].mtime = st.st_mtim.tv_sec;
        v[n].mtime_ns = st.st_mtim.tv_nsec;
        v[n].bytes = (long long)st.st_size;
        snprintf(v[n].name, sizeof v[n].name, "%s", de->d_name);
        total += v[n].bytes;
        n++;
    }
    closedir(d);
    if (total > cap && n > 0) {
        qsort(v, n, sizeof *v, older_first);
        for (size_t i = 0; i < n && total > cap; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, v[i].name);
            if (unlink(path) == 0 || errno == ENOENT) {
                total -= v[i].bytes;
                removed++;
            } else {
                cu_host->log(DLH_LOG_DEBUG, "cuda: cannot remove the kernel cache entry %s "
                             "(%s)", path, strerror(errno));
            }
        }
    }
    free(v);
    if (removed > 0)
        cu_host->log(DLH_LOG_DEBUG, "cuda: kernel cache %s: %d old files removed, %lld "
                     "bytes left (bound %lld)", dir, removed, total, cap);
    return removed;
}
