/* Kernels: NVRTC compiles with a disk cache, modules, and launches.
 *
 * A program text (the fixed kernels, or an elementwise program) becomes PTX
 * once: the instance compiles each distinct text with NVRTC (opened at the
 * first program; a cached one costs a dlopen and no compile) and keeps the
 * module; the PTX is also written to a disk cache folder (cu_cache_dir), one file per program text, device architecture and NVRTC
 * version.  A file holds a header, the program text and the PTX; it is used
 * only when all of them match and the PTX's length and checksum hold, so a
 * corrupt or foreign file is compiled again and rewritten.  Files are
 * written to a temporary name and renamed into place: concurrent writers of
 * the same entry each rename a whole file, and readers see one or the
 * other, never a mix.  A hit touches its file; the folder's size is bounded
 * by cu_cache_trim.c, least recently used first. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache_dir.h"
#include "cuda_backend.h"

/* The part of a compile log a message shows (the host's buffer is 4 KiB). */
#define CU_LOG_MAX 2400
#define CACHE_MAGIC "dlhost-cuda-ptx 1\n"

/* The cache folder's cuda/ (core/cache_dir.h, created here), or "" when
   caching is off or no folder can be made. */
void cu_cache_dir(char *buf, size_t size)
{
    if (dlh_cache_dir("cuda", buf, size) != 0)
        buf[0] = '\0';
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* What the PTX depends on besides the text: architecture, NVRTC version and
   the compile options. */
static void cache_tag(cu_ctx *c, char *buf, size_t size)
{
    char ob[64];
    const char *opts[GPU_NVRTC_OPTS];
    int n = gpu_nvrtc_options(c->arch, ob, sizeof ob, opts);
    int w = snprintf(buf, size, "%s nvrtc %d.%d", c->arch, c->nv.major, c->nv.minor);
    for (int i = 1; i < n && w > 0 && (size_t)w < size; i++)
        w += snprintf(buf + w, size - (size_t)w, " %s", opts[i]);
}

static void cache_path(cu_ctx *c, const char *tag, const char *source, char *buf,
                       size_t size)
{
    uint64_t h = fnv1a(0xcbf29ce484222325ULL, tag, strlen(tag) + 1);
    h = fnv1a(h, source, strlen(source));
    snprintf(buf, size, "%s/%016llx.ptx", c->cache_dir, (unsigned long long)h);
}

/* The cached PTX for (tag, source), or NULL when the file is absent,
   unreadable or does not hold exactly that. */
static char *cache_read(const char *path, const char *tag, const char *source)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *text = NULL, *ptx = NULL;
    long len;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (text = malloc((size_t)len + 1)) != NULL &&
        fread(text, 1, (size_t)len, f) == (size_t)len) {
        text[len] = '\0';
        size_t ml = strlen(CACHE_MAGIC), tl = strlen(tag), sl = strlen(source);
        char *at = text;
        unsigned long long slen, plen, sum;
        int used = 0;
        if (strncmp(at, CACHE_MAGIC, ml) == 0 && strncmp(at + ml, tag, tl) == 0 &&
            at[ml + tl] == '\n' &&
            sscanf(at + ml + tl + 1, "%llu %llu %llx\n%n", &slen, &plen, &sum, &used) == 3 &&
            used > 0) {
            at += ml + tl + 1 + used;
            size_t left = (size_t)(text + len - at);
            if (slen == sl && plen <= left && slen == left - plen &&
                memcmp(at, source, sl) == 0 && memchr(at + sl, '\0', plen) == NULL &&
                fnv1a(0xcbf29ce484222325ULL, at + sl, plen) == sum &&
                (ptx = malloc(plen + 1)) != NULL) {
                memcpy(ptx, at + sl, plen);
                ptx[plen] = '\0';
            }
        }
    }
    free(text);
    fclose(f);
    return ptx;
}

/* Writes the entry under a temporary name and renames it into place.
   0, or -1 (the cache is an optimisation: the caller logs and goes on). */
static int cache_write(const char *path, const char *tag, const char *source, const char *ptx)
{
    static unsigned counter;
    char tmp[1300];
    snprintf(tmp, sizeof tmp, "%s.%ld.%u.tmp", path, (long)getpid(), counter++);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "wb");
    if (f == NULL) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    size_t sl = strlen(source), pl = strlen(ptx);
    int bad = fprintf(f, "%s%s\n%zu %zu %llx\n", CACHE_MAGIC, tag, sl, pl,
                      (unsigned long long)fnv1a(0xcbf29ce484222325ULL, ptx, pl)) < 0;
    bad |= fwrite(source, 1, sl, f) != sl || fwrite(ptx, 1, pl, f) != pl;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int nvrtc_open(cu_ctx *c)
{
    if (c->nv_open)
        return 0;
    char why[512];
    if (gpu_nvrtc_open(&c->nv, cu_toolkit_dir(), why, sizeof why) != 0) {
        cu_host->error("cuda: no NVRTC, the CUDA runtime compiler (%s): install the CUDA "
                       "toolkit's NVRTC or set DLHOST_CUDA_DIR to the toolkit folder", why);
        return DLH_EDEVICE;
    }
    c->nv_open = 1;
    return 0;
}

int cu_ptx(cu_ctx *c, const char *source, const char *what, char **ptx)
{
    *ptx = NULL;
    /* The cache key names NVRTC's version: it is opened (dlopen, no compile)
       even when the disk cache answers. */
    int rc = nvrtc_open(c);
    if (rc != 0)
        return rc;
    char tag[256], path[1200];
    cache_tag(c, tag, sizeof tag);
    if (c->cache_dir[0]) {
        cache_path(c, tag, source, path, sizeof path);
        if ((*ptx = cache_read(path, tag, source)) != NULL) {
            /* its mtime is its last use: the bound removes the oldest */
            if (utimensat(AT_FDCWD, path, NULL, 0) != 0)
                cu_host->log(DLH_LOG_DEBUG, "cuda: cannot touch the kernel cache entry %s "
                             "(%s)", path, strerror(errno));
            c->n_cached++;
            return 0;
        }
    }
    char ob[64], *log = NULL;
    const char *opts[GPU_NVRTC_OPTS];
    int n = gpu_nvrtc_options(c->arch, ob, sizeof ob, opts);
    rc = gpu_nvrtc_ptx(&c->nv, source, "dlh.cu", n, opts, ptx, &log);
    if (rc != 0) {
        size_t ll = log ? strlen(log) : 0;
        cu_host->error("cuda: NVRTC cannot compile %s for %s: %s; log:\n%.*s%s", what,
                       c->arch, rc > 0 ? c->nv.error_string(rc) : "out of memory",
                       CU_LOG_MAX, ll ? log : "(empty)",
                       ll > CU_LOG_MAX ? "\n[... log truncated]" : "");
        free(log);
        return rc < 0 ? DLH_ENOMEM : DLH_EDEVICE;
    }
    free(log);
    c->n_compiled++;
    if (c->cache_dir[0] && cache_write(path, tag, source, *ptx) != 0)
        cu_host->log(DLH_LOG_DEBUG, "cuda: cannot write the kernel cache entry %s (%s)",
                     path, strerror(errno));
    return 0;
}

int cu_module(cu_ctx *c, const char *source, const char *what, void **module)
{
    *module = NULL;
    char *ptx;
    int rc = cu_ptx(c, source, what, &ptx);
    if (rc != 0 || (rc = cu_current(c)) != 0) {
        free(ptx);
        return rc;
    }
    int err = c->d->module_load_data(module, ptx);
    free(ptx);
    return err == 0 ? 0 : cu_fail(c, "cuModuleLoadData", err, "for %s (%s)", what, c->arch);
}

int cu_kernels_load(cu_ctx *c)
{
    int rc = cu_module(c, gpu_kernel_source(GPU_CUDA), "the backend kernels", &c->module);
    for (int i = 0; i < GPU_K_COUNT && rc == 0; i++) {
        int err = c->d->module_get_function(&c->fn[i], c->module, gpu_kernel_names[i]);
        if (err != 0)
            rc = cu_fail(c, "cuModuleGetFunction", err, "for kernel %s", gpu_kernel_names[i]);
    }
    return rc;
}

int cu_launch_fn(cu_ctx *c, void *fn, const char *prim, size_t items, unsigned block,
                 void **params)
{
    if (items == 0)
        return 0;
    size_t grid = items / block + (items % block != 0);
    if (grid > 0x7fffffff) {
        cu_host->error("cuda %s: %zu threads are too many for one launch", prim, items);
        return DLH_EINVAL;
    }
    int rc = cu_current(c);
    if (rc != 0)
        return rc;
    int err = c->d->launch(fn, (unsigned)grid, 1, 1, block, 1, 1, 0, c->stream, params, NULL);
    if (err != 0) {
        char what[64];
        snprintf(what, sizeof what, "cuLaunchKernel(%s)", prim);
        return cu_fail(c, what, err, "for %zu threads", items);
    }
    return 0;
}

int cu_launch(cu_ctx *c, gpu_kid id, const char *prim, size_t items, void **params)
{
    return cu_launch_fn(c, c->fn[id], prim, items, CU_BLOCK, params);
}

int cu_launch_groups(cu_ctx *c, gpu_kid id, const char *prim, size_t groups, void **params)
{
    if (groups > SIZE_MAX / GPU_CUDA_ROW_WG) {
        cu_host->error("cuda %s: %zu blocks are too many", prim, groups);
        return DLH_EINVAL;
    }
    return cu_launch_fn(c, c->fn[id], prim, groups * GPU_CUDA_ROW_WG, GPU_CUDA_ROW_WG,
                        params);
}
