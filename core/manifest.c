/* The plugin manifest: which file registers what, so that a run loads only
 * the plugins its experiment names (manifest.h).
 *
 * The file, <cache>/plugins-<hash of the ABI and the search path>, is text:
 *
 *   dlhost plugin manifest 1, ABI 1.8
 *   file SIZE MTIME_S MTIME_NS INODE DEVICE PATH
 *   c KIND NAME                      (one line per component of that file)
 *
 * It is used only when its files are, in order and identity, the files the
 * search path holds now; anything else in it (a line it cannot read, a kind
 * out of range) makes it stale, and it is rebuilt by a full load.  It can
 * only choose which of the files found on the search path load first: each
 * is loaded through dlh_registry_load_file with all its checks. */
#include "manifest.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache_dir.h"
#include "error.h"
#include "hash.h"
#include "registry.h"
#include "safetensors.h"

typedef struct mf_file {
    char *path;
    long long size, mtime_s, mtime_ns;
    unsigned long long ino, dev;
    int loaded;                     /* dlh_registry_load_file ran for it */
    size_t first, n;                /* its components: comps[first, first + n) */
} mf_file;

typedef struct mf_comp {
    int kind;
    char name[72];
} mf_comp;

/* The search path's files, and while `lazy`, the manifest that matched. */
static struct {
    int lazy;
    mf_file *files;
    size_t n_files;
    mf_comp *comps;
    size_t n_comps, cap_comps;
} mf;

#define MF_HEADER_FMT "dlhost plugin manifest 1, ABI %d.%d\n"

void dlh_manifest_clear(void)
{
    for (size_t i = 0; i < mf.n_files; i++)
        free(mf.files[i].path);
    free(mf.files);
    free(mf.comps);
    memset(&mf, 0, sizeof mf);
}

/* Lists the search path's files with their identity into mf.files; 0 when
   load_all would warn (or memory ran out): then there is no shortcut. */
static int mf_scan(void)
{
    size_t n = 0;
    int clean = 0;
    char **paths = dlh_plugin_scan(&n, &clean);
    mf.files = calloc(n ? n : 1, sizeof *mf.files);
    if (!mf.files)
        clean = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (!mf.files || strchr(paths[i], '\n') || stat(paths[i], &st) != 0) {
            clean = 0;
            free(paths[i]);
            continue;
        }
        mf_file *f = &mf.files[mf.n_files++];
        f->path = paths[i];
        f->size = (long long)st.st_size;
        f->mtime_s = (long long)st.st_mtim.tv_sec;
        f->mtime_ns = (long long)st.st_mtim.tv_nsec;
        f->ino = (unsigned long long)st.st_ino;
        f->dev = (unsigned long long)st.st_dev;
    }
    free(paths);
    return clean;
}

/* The manifest's place for this ABI and search path, or 0 without one. */
static int mf_path(char *buf, size_t size)
{
    char dir[4096];
    if (dlh_cache_dir(NULL, dir, sizeof dir) != 0)
        return 0;
    char abi[32];
    snprintf(abi, sizeof abi, "%d.%d:", DLH_ABI_MAJOR, DLH_ABI_MINOR);
    uint64_t h = dlh_fnv1a64_str(dlh_fnv1a64_str(DLH_FNV1A64_INIT, abi), dlh_plugin_dirs());
    int w = snprintf(buf, size, "%s/plugins-%016" PRIx64, dir, h);
    return w > 0 && (size_t)w < size;
}

static int mf_add_comp(int kind, const char *name)
{
    if (mf.n_comps == mf.cap_comps) {
        size_t cap = mf.cap_comps ? 2 * mf.cap_comps : 256;
        mf_comp *grown = realloc(mf.comps, cap * sizeof *grown);
        if (!grown)
            return 0;
        mf.comps = grown;
        mf.cap_comps = cap;
    }
    mf_comp *c = &mf.comps[mf.n_comps++];
    c->kind = kind;
    snprintf(c->name, sizeof c->name, "%s", name);
    return 1;
}

/* Reads the manifest at path into mf.comps; 1 when it is whole and names
   exactly mf.files. */
static int mf_read(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    char line[4608], want[96];
    snprintf(want, sizeof want, MF_HEADER_FMT, DLH_ABI_MAJOR, DLH_ABI_MINOR);
    int ok = fgets(line, sizeof line, f) && strcmp(line, want) == 0;
    size_t at = 0;              /* files read */
    mf_file *cur = NULL;
    while (ok && fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        if (len == 0 || line[len - 1] != '\n') {
            ok = 0;
            break;
        }
        line[--len] = '\0';
        long long size, ms, mns;
        unsigned long long ino, dev;
        int kind, off = 0;
        char name[72];
        if (sscanf(line, "file %lld %lld %lld %llu %llu %n", &size, &ms, &mns, &ino, &dev,
                   &off) == 5 && off > 0) {
            cur = at < mf.n_files ? &mf.files[at++] : NULL;
            ok = cur && strcmp(cur->path, line + off) == 0 && cur->size == size &&
                 cur->mtime_s == ms && cur->mtime_ns == mns && cur->ino == ino &&
                 cur->dev == dev;
            if (ok) {
                cur->first = mf.n_comps;
                cur->n = 0;
            }
        } else if (sscanf(line, "c %d %71[a-z0-9_]%n", &kind, name, &off) == 2 && cur &&
                   (size_t)off == len && kind >= 0 && kind < DLH_KIND_COUNT) {
            ok = mf_add_comp(kind, name);
            cur->n++;
        } else {
            ok = 0;
        }
    }
    ok = ok && !ferror(f) && at == mf.n_files;
    fclose(f);
    return ok;
}

/* Writes what the registry holds now as the manifest of mf.files, when
   every file loaded cleanly.  A failure costs only the shortcut. */
static void mf_write(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    int ok = m != NULL;
    if (ok)
        fprintf(m, MF_HEADER_FMT, DLH_ABI_MAJOR, DLH_ABI_MINOR);
    for (size_t i = 0; ok && i < mf.n_files; i++) {
        const mf_file *f = &mf.files[i];
        ok = dlh_registry_file_loaded(f->path);
        fprintf(m, "file %lld %lld %lld %llu %llu %s\n", f->size, f->mtime_s, f->mtime_ns,
                f->ino, f->dev, f->path);
        for (size_t k = 0; k < dlh_registry_count(); k++) {
            const dlh_component *c = dlh_registry_at(k);
            if (c->plugin && strcmp(c->plugin->path, f->path) == 0)
                fprintf(m, "c %d %s\n", (int)c->kind, c->name);
        }
    }
    if (m)
        ok &= fclose(m) == 0;
    if (ok && dlh_file_write_atomic(path, text, len) < 0) {
        dlh_log(DLH_LOG_DEBUG, "plugin manifest not kept: %s", dlh_error_get());
        dlh_error_clear();
    }
    free(text);
}

/* The rank of c's file on the search path, for dlh_registry_sort. */
static long mf_rank(const dlh_component *c)
{
    if (!c->plugin)
        return -1;
    for (size_t i = 0; i < mf.n_files; i++)
        if (strcmp(mf.files[i].path, c->plugin->path) == 0)
            return (long)i;
    return LONG_MAX;
}

int dlh_registry_load_named(void)
{
    char path[4200];
    dlh_manifest_clear();
    int clean = mf_scan();
    int have_path = clean && mf_path(path, sizeof path);
    if (have_path && mf_read(path)) {
        mf.lazy = 1;
        return 0;
    }
    int rc = dlh_registry_load_all(0);
    if (have_path)
        mf_write(path);
    return rc;
}

int dlh_manifest_want(dlh_kind kind, const char *name)
{
    int any = 0;
    for (size_t i = 0; mf.lazy && i < mf.n_files; i++) {
        mf_file *f = &mf.files[i];
        for (size_t k = 0; !f->loaded && k < f->n; k++) {
            const mf_comp *c = &mf.comps[f->first + k];
            if (c->kind != (int)kind || strcmp(c->name, name) != 0)
                continue;
            f->loaded = 1;
            any = 1;
            /* It loaded cleanly when the manifest was written; now it does
               not: say so as a full load would, and go on without it. */
            if (dlh_registry_load_file(f->path) < 0)
                dlh_log(DLH_LOG_WARN, "%s", dlh_error_get());
        }
    }
    if (any)
        dlh_registry_sort(mf_rank);
    return any;
}

int dlh_manifest_load_rest(void)
{
    if (!mf.lazy)
        return 0;
    dlh_manifest_clear();       /* lazy off: the load below may look names up */
    int clean = mf_scan();
    char path[4200];
    dlh_registry_load_all(0);
    dlh_registry_sort(mf_rank);
    if (clean && mf_path(path, sizeof path))
        mf_write(path);
    return 1;
}
