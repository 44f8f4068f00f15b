/* The plugin loader: finds plugin files, checks that they lie in trusted
 * places (plugin_trust.h) and reads their ABI stamp from the file
 * (elf_peek.h) before dlopen runs any of their code, checks the stamp again
 * once loaded, runs their init with a registrar bound to the file, and keeps
 * every handle open until exit (plugin threads may still run, and component
 * strings point into the plugin).  Not thread-safe: plugins load at
 * start-up. */
#include "registry.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf_peek.h"
#include "error.h"
#include "manifest.h"
#include "plugin_trust.h"

#ifndef DLH_PLUGINDIR
#define DLH_PLUGINDIR "/usr/local/lib/dlhost"   /* the build passes $(pkglibdir) */
#endif

#define END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

typedef struct plugin_entry {
    dlh_plugin_file file;           /* what components point to */
    int refused;                    /* a component was refused (the rest loaded) */
    struct plugin_entry *next;
} plugin_entry;

/* Plugins loaded since the last dlh_registry_clear; bookkeeping only, the
   handles themselves are never closed. */
static plugin_entry *loaded;
static char *dirs_text;

/* The plugin whose init is running: registrations are attributed to it.
   The registrar is static so that a plugin that keeps `reg` and calls it
   after init gets an error instead of touching a dead stack frame. */
typedef struct load_state {
    const dlh_plugin_file *file;
    int refused;
    char *refusal;                  /* the first refusal's message */
} load_state;

static load_state *current;

static int registrar_add(dlh_registrar *reg, dlh_kind kind, const char *name,
                         const void *ops, const char *description)
{
    (void)reg;
    if (!current) {
        dlh_error_set("%s '%s': components can only be registered during dlh_plugin_init",
                      dlh_kind_name(kind), name ? name : "(null)");
        return DLH_EPLUGIN;
    }
    int rc = dlh_registry_add(kind, name, ops, description, current->file);
    if (rc < 0 && !current->refused) {
        current->refused = 1;
        current->refusal = strdup(dlh_error_get());
    }
    return rc;
}

static int registrar_describe(dlh_registrar *reg, dlh_kind kind, const char *name,
                              const dlh_param_doc *params)
{
    (void)reg;
    if (!current) {
        dlh_error_set("%s '%s': parameter tables can only be given during dlh_plugin_init",
                      dlh_kind_name(kind), name ? name : "(null)");
        return DLH_EPLUGIN;
    }
    int rc = dlh_registry_describe(kind, name, params, current->file);
    if (rc < 0 && !current->refused) {
        current->refused = 1;
        current->refusal = strdup(dlh_error_get());
    }
    return rc;
}

static dlh_registrar registrar = { sizeof(dlh_registrar), registrar_add, NULL,
                                   registrar_describe };

static void entry_free(plugin_entry *e)
{
    if (!e)
        return;
    free(e->file.path);
    free(e);
}

/* OpenBLAS (0.3.21, Debian 12) picks its kernels from a table of CPU models
   and falls back to its Prescott kernels on a model it does not know: on a
   Sapphire Rapids server that made sgemm 4x slower (37 against 160 GFLOP/s on
   the MLP's shapes).  Named by OPENBLAS_CORETYPE, it takes the family the
   CPU's features support instead.  Set before OpenBLAS first loads, and only
   when the user has not set OPENBLAS_CORETYPE: a value set by the user or the
   machine always wins. */
static void blas_coretype_default(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (getenv("OPENBLAS_CORETYPE") != NULL)
        return;
    __builtin_cpu_init();
    const char *core = NULL;
    if (__builtin_cpu_supports("avx512bf16"))
        core = "Cooperlake";
    else if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        core = "SkylakeX";
    if (core != NULL)
        setenv("OPENBLAS_CORETYPE", core, 0);
#endif
}

/* How many threads of other processes are running or ready to run now:
   the kernel's count of runnable threads (/proc/loadavg's fourth field,
   "running/total") less this process's own (its OpenBLAS threads may be
   spinning), from /proc/self/task.  -1 when it cannot be read.  A snapshot,
   not a sample over time: it costs no wait, and a CPU kept busy by another
   process shows as a runnable thread in it as often as it is busy. */
static int others_runnable(void)
{
    FILE *f = fopen("/proc/loadavg", "re");
    int running = 0, total = 0;
    int n = f ? fscanf(f, "%*s %*s %*s %d/%d", &running, &total) : 0;
    if (f)
        fclose(f);
    if (n != 2)
        return -1;
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char path[64], buf[256];
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%.20s/stat", de->d_name);
        FILE *t = fopen(path, "re");
        size_t got = t ? fread(buf, 1, sizeof buf - 1, t) : 0;
        if (t)
            fclose(t);
        buf[got] = '\0';
        const char *paren = strrchr(buf, ')');   /* the name may hold spaces */
        running -= paren && paren[1] == ' ' && paren[2] == 'R';
    }
    if (d)
        closedir(d);
    return running > 0 ? running : 0;
}

/* libgomp reads its wait policy when a plugin first pulls it in.  The cpu
   backend has one thread pool, OpenMP's (OpenBLAS runs single-threaded
   inside it), and a training step runs dozens of short parallel regions, so
   the workers should spin a little between them before they sleep.
   Measured on 2 cores (MLP / CNN samples/s): passive waiting 31k / 16k,
   GOMP_SPINCOUNT=3000 40k / 21k, 30000 45k / 24k.  But with another process
   busy on one of the cores, spinning collapses (30000: 8k, 3000: 21k,
   passive: 27k): a thread spins at a region's end while its partner waits
   for a core.  So the load is looked at first: when other processes have
   more threads ready to run than a quarter of the CPUs (others_runnable),
   waiting is passive, otherwise the spin is 30000.  (This was a 50 ms sample
   of /proc/stat, a fixed sleep in every start.)  A policy or spin count the
   user set is kept; the cpu backend's description says which applies. */
static void omp_wait_default(void)
{
    static int done;
    if (done++ || getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
        return;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int others = others_runnable();
    if (cpus > 0 && 4L * others > cpus)
        setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    else
        setenv("GOMP_SPINCOUNT", "30000", 0);
}

/* A refusal: "<path>: <what>", DLH_EPLUGIN. */
static int refuse(const char *path, const char *what)
{
    dlh_error_set("%s: %s", path, what);
    return DLH_EPLUGIN;
}

/* "plugin 'name'", or "plugin" where the name is not known. */
static const char *plugin_who(const char *name, char *buf, size_t size)
{
    if (!name)
        return "plugin";
    snprintf(buf, size, "plugin '%s'", name);
    return buf;
}

/* The stamp's header (struct_size, ABI) against this host's, the same
   before dlopen (from the file, `name` NULL: it is a pointer that only
   relocation fills in) and after it (through dlsym).  Only the header is
   common to every ABI: more is read only once the size says it is there. */
static int check_stamp(const char *path, const dlh_plugin_info *info, const char *name)
{
    char who[300];
    uint32_t size = info->struct_size;
    if (size < END_OF(dlh_plugin_info, abi_minor)) {
        dlh_error_set("%s: dlh_plugin is malformed (struct_size %u, expected at least %zu)",
                      path, size, sizeof(dlh_plugin_info));
        return DLH_EPLUGIN;
    }
    if (info->abi_major != DLH_ABI_MAJOR || info->abi_minor > DLH_ABI_MINOR) {
        dlh_error_set("%s: %s was built for ABI %u.%u, this dlhost has ABI %d.%d "
                      "(rebuild it against this dlhost's headers)",
                      path, plugin_who(name, who, sizeof who), (unsigned)info->abi_major,
                      (unsigned)info->abi_minor, DLH_ABI_MAJOR, DLH_ABI_MINOR);
        return DLH_EPLUGIN;
    }
    if (size < END_OF(dlh_plugin_info, license)) {
        dlh_error_set("%s: dlh_plugin is malformed (struct_size %u, ABI %u.%u needs %zu)",
                      path, size, (unsigned)info->abi_major, (unsigned)info->abi_minor,
                      END_OF(dlh_plugin_info, license));
        return DLH_EPLUGIN;
    }
    return 0;
}

static int refuse_no_init(const char *path, const char *name)
{
    char who[300];
    dlh_error_set("%s: %s has no dlh_plugin_init function (declare the plugin with "
                  "DLH_PLUGIN())", path, plugin_who(name, who, sizeof who));
    return DLH_EPLUGIN;
}

/* Reads the stamp from the file (`real`, links resolved) before dlopen
   runs any of its code, constructors included: a file that is not a shared
   object for this machine, not a dlhost plugin, or a plugin for another ABI
   is refused unopened. */
static int precheck(const char *path, const char *real)
{
#if DLH_ELF_PEEK_HOST
    dlh_elf_plugin elf;
    char why[512];
    if (dlh_elf_peek_plugin_file(real, &elf, why, sizeof why) < 0)
        return refuse(path, why);
    if (!elf.has_info)
        return refuse(path, "not a dlhost plugin (no dlh_plugin symbol)");
    dlh_plugin_info head = { elf.struct_size, elf.abi_major, elf.abi_minor,
                             NULL, NULL, NULL, NULL };
    int rc = check_stamp(path, &head, NULL);
    return rc < 0 ? rc : elf.has_init ? 0 : refuse_no_init(path, NULL);
#else
    (void)path;
    (void)real;
    return 0;
#endif
}

/* Loads `path`, found trusted at `real` and prechecked. */
static int load_checked(const char *path, const char *real)
{
    omp_wait_default();
    blas_coretype_default();
    /* The resolved path: no link is followed again after the checks. */
    void *handle = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        dlh_error_set("%s: cannot load: %s (try: ldd %s)", path, why ? why : "unknown error",
                      path);
        return DLH_EPLUGIN;
    }
    /* The same file under another name (a symlink, a folder listed twice):
       its components are registered already. */
    for (const plugin_entry *e = loaded; e; e = e->next) {
        if (e->file.handle == handle) {
            dlh_log(DLH_LOG_DEBUG, "%s: already loaded as %s", path, e->file.path);
            return 0;
        }
    }

    /* Checked from the file already where the ELF reader runs; checked again
       here because the strings need relocation (the reader cannot see them),
       on hosts without the reader, and because what counts is what loaded. */
    dlerror();
    const dlh_plugin_info *info = dlsym(handle, "dlh_plugin");
    if (!info)
        return refuse(path, "not a dlhost plugin (no dlh_plugin symbol)");
    const char *pname = info->struct_size >= END_OF(dlh_plugin_info, name) && info->name
                        ? info->name : "?";
    int rc = check_stamp(path, info, pname);
    if (rc < 0)
        return rc;
    uint32_t size = info->struct_size;
    if (!info->name || !info->name[0])
        return refuse(path, "dlh_plugin has no name");

    dlerror();
    void *sym = dlsym(handle, "dlh_plugin_init");
    if (!sym)
        return refuse_no_init(path, info->name);
    dlh_plugin_init_fn init;
    memcpy(&init, &sym, sizeof init);      /* POSIX: object to function pointer */

    plugin_entry *e = calloc(1, sizeof *e);
    if (e)
        e->file.path = strdup(path);
    if (!e || !e->file.path) {
        entry_free(e);
        dlh_error_set("%s: out of memory", path);
        return DLH_ENOMEM;
    }
    memcpy(&e->file.info, info, size < sizeof e->file.info ? size : sizeof e->file.info);
    /* Optional strings read as "" from here on. */
    if (!e->file.info.version)
        e->file.info.version = "";
    if (!e->file.info.description)
        e->file.info.description = "";
    if (!e->file.info.license)
        e->file.info.license = "";
    e->file.handle = handle;

    size_t mark = dlh_registry_count();
    load_state ls = { &e->file, 0, NULL };
    current = &ls;
    dlh_error_clear();
    rc = init(dlh_host_table(), &registrar);
    current = NULL;

    if (rc != 0) {
        dlh_registry_truncate(mark);
        if (ls.refused) {
            /* The plugin passed a refusal on: that message says it best. */
            dlh_error_set("%s", ls.refusal ? ls.refusal : "registration refused");
        } else {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", *dlh_error_get() ? dlh_error_get()
                     : rc < 0 ? dlh_strerror(rc) : "returned a positive status");
            dlh_error_set("%s: plugin '%s' failed to initialise: %s", path, info->name, msg);
        }
        free(ls.refusal);
        entry_free(e);
        return DLH_EPLUGIN;
    }
    e->refused = ls.refused;
    e->next = loaded;
    loaded = e;
    if (ls.refused) {
        /* It went on without the refused component: keep the rest, but say so. */
        dlh_error_set("%s", ls.refusal ? ls.refusal : "registration refused");
        free(ls.refusal);
        return DLH_EPLUGIN;
    }
    return 0;
}

int dlh_registry_load_file(const char *path)
{
    if (!path || path[0] != '/') {
        dlh_error_set("%s: plugin paths must be absolute (dlhost never loads a plugin "
                      "by a bare or relative name)", path ? path : "(null)");
        return DLH_EPLUGIN;
    }
    char *real = NULL;
    int rc = dlh_plugin_trust_file(path, &real);
    if (rc == 0)
        rc = precheck(path, real);
    if (rc == 0)
        rc = load_checked(path, real);
    free(real);
    return rc;
}

static int path_only(void)
{
    const char *v = getenv("DLHOST_PLUGIN_PATH_ONLY");
    return v && v[0] && strcmp(v, "0") != 0;
}

/* The folders to search, in order: absolute entries of $DLHOST_PLUGIN_PATH,
   then the installed folder.  `warn`: report relative entries. */
static char **dir_list(int warn, size_t *count)
{
    const char *env = getenv("DLHOST_PLUGIN_PATH");
    size_t cap = 2;
    for (const char *c = env ? env : ""; *c; c++)
        cap += *c == ':';
    char **dirs = calloc(cap, sizeof *dirs);
    size_t n = 0;
    if (!dirs)
        return NULL;
    const char *p = env ? env : "";
    while (*p) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0 && p[0] != '/') {
            if (warn)
                dlh_log(DLH_LOG_WARN, "DLHOST_PLUGIN_PATH: ignoring relative folder '%.*s' "
                        "(plugin folders must be absolute)", (int)len, p);
        } else if (len > 0) {
            dirs[n] = strndup(p, len);
            if (!dirs[n])
                break;
            n++;
        }
        p += len;
        if (*p == ':')
            p++;
    }
    if (!path_only()) {
        dirs[n] = strdup(DLH_PLUGINDIR);
        if (dirs[n])
            n++;
    }
    *count = n;
    return dirs;
}

static void dir_list_free(char **dirs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(dirs[i]);
    free(dirs);
}

const char *dlh_plugin_dirs(void)
{
    size_t n = 0, len = 1;
    char **dirs = dir_list(0, &n);
    free(dirs_text);
    dirs_text = NULL;
    for (size_t i = 0; dirs && i < n; i++)
        len += strlen(dirs[i]) + 1;
    if (dirs && n > 0)
        dirs_text = malloc(len);
    if (!dirs_text) {
        dir_list_free(dirs, n);
        return n == 0 && dirs ? "no folder (DLHOST_PLUGIN_PATH is empty)" : "?";
    }
    dirs_text[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(dirs_text, ":");
        strcat(dirs_text, dirs[i]);
    }
    dir_list_free(dirs, n);
    return dirs_text;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .so files of `dir`, sorted by name (strcmp: independent of locale). */
static char **dir_plugins(const char *dir, size_t *count, int *err)
{
    *count = 0;
    *err = 0;
    DIR *d = opendir(dir);
    if (!d) {
        *err = errno;
        return NULL;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len <= 3 || strcmp(de->d_name + len - 3, ".so") != 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            char **grown = realloc(names, ncap * sizeof *grown);
            if (!grown)
                break;
            names = grown;
            cap = ncap;
        }
        if (!(names[n] = strdup(de->d_name)))
            break;
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof *names, compare_names);
    *count = n;
    return names;
}

/* A refusal in a folder scan: kept as the answer when it is the first of a
   strict scan, otherwise a warning. */
static void scan_refused(int strict, int *failed, char **first)
{
    if (strict && !*failed)
        *first = strdup(dlh_error_get());
    else
        dlh_log(DLH_LOG_WARN, "%s", dlh_error_get());
    (*failed)++;
}

int dlh_registry_load_all(int strict)
{
    size_t n_dirs = 0;
    char **dirs = dir_list(1, &n_dirs);
    if (!dirs) {
        dlh_error_set("out of memory listing plugin folders");
        return DLH_ENOMEM;
    }
    char **seen = calloc(n_dirs ? n_dirs : 1, sizeof *seen);
    char *first = NULL;
    int failed = 0;
    for (size_t i = 0; i < n_dirs; i++) {
        /* A folder listed twice is searched once. */
        char *real = realpath(dirs[i], NULL);
        int dup = 0;
        for (size_t j = 0; real && seen && j < i; j++)
            dup |= seen[j] && strcmp(seen[j], real) == 0;
        if (seen)
            seen[i] = real;
        else
            free(real);
        if (dup)
            continue;

        size_t n = 0;
        int err = 0;
        char **names = dir_plugins(dirs[i], &n, &err);
        if (err) {
            /* The installed folder is absent in a build tree: not worth a word. */
            int installed = !path_only() && strcmp(dirs[i], DLH_PLUGINDIR) == 0;
            if (!installed || err != ENOENT)
                dlh_log(installed ? DLH_LOG_DEBUG : DLH_LOG_WARN,
                        "plugin folder '%s': %s", dirs[i], strerror(err));
        }
        /* An untrusted folder is one refusal, not one per file in it. */
        int trusted = n == 0 || dlh_plugin_trust_dir(dirs[i]) == 0;
        if (!trusted)
            scan_refused(strict, &failed, &first);
        size_t dlen = strlen(dirs[i]);
        int slash = dlen > 0 && dirs[i][dlen - 1] == '/';
        for (size_t k = 0; trusted && k < n; k++) {
            char *path = malloc(dlen + strlen(names[k]) + 2);
            int rc;
            if (path) {
                sprintf(path, "%s%s%s", dirs[i], slash ? "" : "/", names[k]);
                rc = dlh_registry_load_file(path);
            } else {
                dlh_error_set("%s/%s: out of memory", dirs[i], names[k]);
                rc = DLH_ENOMEM;
            }
            free(path);
            if (rc < 0)
                scan_refused(strict, &failed, &first);
        }
        for (size_t k = 0; k < n; k++)
            free(names[k]);
        free(names);
    }
    if (seen)
        dir_list_free(seen, n_dirs);
    dir_list_free(dirs, n_dirs);
    if (strict && failed) {
        dlh_error_set("%s", first ? first : "a plugin failed to load");
        free(first);
        return DLH_EPLUGIN;
    }
    return 0;
}

int dlh_registry_file_loaded(const char *path)
{
    for (const plugin_entry *e = loaded; e; e = e->next)
        if (strcmp(e->file.path, path) == 0)
            return !e->refused;
    return 0;
}

/* Whether $DLHOST_PLUGIN_PATH has a relative entry (dir_list warns of it). */
static int path_has_relative(void)
{
    const char *p = getenv("DLHOST_PLUGIN_PATH");
    for (int start = 1; p && *p; p++) {
        if (start && *p != ':' && *p != '/')
            return 1;
        start = *p == ':';
    }
    return 0;
}

char **dlh_plugin_scan(size_t *count, int *clean)
{
    size_t n_dirs = 0, n = 0, cap = 0;
    char **dirs = dir_list(0, &n_dirs), **files = NULL;
    *count = 0;
    *clean = dirs != NULL && !path_has_relative();
    char **seen = calloc(n_dirs ? n_dirs : 1, sizeof *seen);
    for (size_t i = 0; dirs && seen && i < n_dirs; i++) {
        char *real = realpath(dirs[i], NULL);
        int dup = 0;
        for (size_t j = 0; real && j < i; j++)
            dup |= seen[j] && strcmp(seen[j], real) == 0;
        seen[i] = real;
        if (dup)
            continue;
        size_t k, nn = 0;
        int err = 0;
        char **names = dir_plugins(dirs[i], &nn, &err);
        int installed = !path_only() && strcmp(dirs[i], DLH_PLUGINDIR) == 0;
        if ((err && !(installed && err == ENOENT)) ||
            (nn > 0 && dlh_plugin_trust_dir(dirs[i]) != 0))
            *clean = 0;     /* load_all has something to say about this folder */
        size_t dlen = strlen(dirs[i]);
        int slash = dlen > 0 && dirs[i][dlen - 1] == '/';
        for (k = 0; k < nn; k++) {
            char *path = malloc(dlen + strlen(names[k]) + 2);
            char **grown = n < cap ? files : realloc(files, (cap = cap ? 2 * cap : 32) *
                                                             sizeof *files);
            if (!path || !grown) {
                free(path);
                *clean = 0;
                break;
            }
            files = grown;
            sprintf(path, "%s%s%s", dirs[i], slash ? "" : "/", names[k]);
            files[n++] = path;
        }
        for (k = 0; k < nn; k++)
            free(names[k]);
        free(names);
    }
    if (!seen)
        *clean = 0;
    if (seen)
        dir_list_free(seen, n_dirs);
    if (dirs)
        dir_list_free(dirs, n_dirs);
    *count = n;
    return files;
}

void dlh_registry_clear(void)
{
    dlh_manifest_clear();
    dlh_registry_truncate(0);
    while (loaded) {
        plugin_entry *next = loaded->next;
        entry_free(loaded);
        loaded = next;
    }
    free(dirs_text);
    dirs_text = NULL;
}
