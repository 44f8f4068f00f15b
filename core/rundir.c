/* The run directory and checkpoints over the backend.
 *
 * Every file goes through dlh_file_write_atomic / dlh_st_write_fill, so a
 * crash at any point leaves the previous version or the new one.  metrics.csv
 * is small, so it is kept in memory and rewritten whole each epoch instead of
 * appended to (an append can tear). */
#define _GNU_SOURCE 1             /* open_memstream */
#include "rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "curves.h"
#include "error.h"

struct dlh_rundir {
    char *path;                     /* root/name */
    int lock_fd;                    /* LOCK_NAME, flock'ed until close; -1 */
    char *metrics_path;
    char *curves_path;
    const char *name;               /* the last part of path */
    dlh_epoch_row *rows;
    size_t n_rows, cap_rows;
    char *columns;                  /* ",name,name" after the header's 8, or NULL */
    int n_columns;
};

/* The fixed loss and accuracy columns, spelled once: the table and the
   header are both made from this list. */
#define RUNDIR_FIXED(X) X("train_loss") X("train_accuracy") X("val_loss") X("val_accuracy")
#define RUNDIR_NAME(s) s,
#define RUNDIR_FIELD(s) s ","

const char *const dlh_metrics_fixed[DLH_METRICS_N_FIXED] = { RUNDIR_FIXED(RUNDIR_NAME) };

const char dlh_metrics_header[] =
    "epoch," RUNDIR_FIXED(RUNDIR_FIELD) "lr,seconds,samples_per_s\n";

static char *path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

/* mkdir that accepts an existing folder. */
static int make_dir(const char *path)
{
    if (mkdir(path, 0755) == 0)
        return 0;
    int err = errno;
    struct stat st;
    if (err == EEXIST && stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return 0;
        dlh_error_set("%s: exists and is not a folder", path);
        return DLH_EIO;
    }
    dlh_error_set("%s: cannot create the folder: %s", path, strerror(err));
    return DLH_EIO;
}

/* mkdir -p: the root may be a nested path ("out/runs"). */
static int make_dirs(const char *path)
{
    char *p = strdup(path);
    if (!p) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    int rc = 0;
    for (char *s = p + 1; *s && rc == 0; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (s[-1] != '/')
            rc = make_dir(p);
        *s = '/';
    }
    if (rc == 0)
        rc = make_dir(p);
    free(p);
    return rc;
}

static int write_config(const char *dir, dlh_config *cfg)
{
    char *path = path_join(dir, "config.cfg");
    char *text = NULL;
    size_t len = 0;
    FILE *mem = path ? open_memstream(&text, &len) : NULL;
    if (!mem) {
        free(path);
        dlh_error_set("out of memory writing config.cfg");
        return DLH_ENOMEM;
    }
    config_write(dlh_config_root(cfg)->config, mem);
    int bad = ferror(mem);
    if (fclose(mem) != 0 || bad) {
        free(text);
        dlh_error_set("%s: out of memory formatting the configuration", path);
        free(path);
        return DLH_ENOMEM;
    }
    int rc = dlh_file_write_atomic(path, text, len);
    free(text);
    free(path);
    return rc;
}

static void put_num(FILE *f, const char *fmt, double v)
{
    fputc(',', f);
    if (!isnan(v))
        fprintf(f, fmt, v);
}

/* Formats every row and replaces metrics.csv. */
static int write_metrics(dlh_rundir *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) {
        dlh_error_set("%s: out of memory", r->metrics_path);
        return DLH_ENOMEM;
    }
    if (r->columns)
        fprintf(mem, "%.*s%s\n", (int)strlen(dlh_metrics_header) - 1, dlh_metrics_header,
                r->columns);
    else
        fputs(dlh_metrics_header, mem);
    for (size_t i = 0; i < r->n_rows; i++) {
        const dlh_epoch_row *row = &r->rows[i];
        /* %.9g keeps every bit of a float32 loss or accuracy; timings need
           no more than %.6g. */
        fprintf(mem, "%lld", (long long)row->epoch);
        put_num(mem, "%.9g", row->train_loss);
        put_num(mem, "%.9g", row->train_accuracy);
        put_num(mem, "%.9g", row->val_loss);
        put_num(mem, "%.9g", row->val_accuracy);
        put_num(mem, "%.9g", row->lr);
        put_num(mem, "%.6g", row->seconds);
        put_num(mem, "%.6g", row->samples_per_s);
        for (int k = 0; k < r->n_columns; k++)
            put_num(mem, "%.9g", k < row->n_extra ? row->extra[k] : NAN);
        fputc('\n', mem);
    }
    int bad = ferror(mem);
    if (fclose(mem) != 0 || bad) {
        free(text);
        dlh_error_set("%s: out of memory", r->metrics_path);
        return DLH_ENOMEM;
    }
    int rc = dlh_file_write_atomic(r->metrics_path, text, len);
    free(text);
    if (rc == 0)
        rc = dlh_curves_write(r->curves_path, r->rows, r->n_rows, r->columns, r->name);
    return rc;
}

/* ------------------------------------------------------------ names */

/* Length of the UTF-8 sequence at s (at most n bytes), 0 when malformed:
   overlong forms, surrogates and code points past U+10FFFF included. */
static size_t utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
                 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    uint32_t c = len == 1 ? s[0] : s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    static const uint32_t least[] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (c < least[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* name with bytes that cannot be shown as \xNN, cut to fit buf. */
static const char *name_shown(const char *name, char *buf, size_t size)
{
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && k + 5 < size; p++)
        k += (size_t)snprintf(buf + k, size - k, *p < 0x20 || *p >= 0x7f || *p == '\\'
                              ? "\\x%02x" : "%c", *p);
    buf[k] = '\0';
    return buf;
}

int dlh_run_name_check(const char *name)
{
    char shown[256];
    if (!name || !*name) {
        dlh_error_set("the run name is empty");
        return DLH_ECONFIG;
    }
    size_t n = strlen(name);
    const char *why = NULL;
    if (strchr(name, '/'))
        why = "must not contain '/'";
    else if (name[0] == '.')
        why = "must not start with '.'";
    else if (n > NAME_MAX)
        why = "is longer than a file name may be (255 bytes)";
    for (size_t i = 0; !why && i < n;) {
        uint32_t c = 0;
        size_t len = utf8_len((const unsigned char *)name + i, n - i, &c);
        if (len == 0)
            why = "is not valid UTF-8";
        else if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
            why = "must not contain control characters";
        i += len;
    }
    if (why) {
        dlh_error_set("run name '%s' %s (it names the folder runs/<name>)",
                      name_shown(name, shown, sizeof shown), why);
        return DLH_ECONFIG;
    }
    return 0;
}

/* ------------------------------------------------------------ the lock */

#define LOCK_NAME ".lock"

/* Takes the run folder's lock (flock on LOCK_NAME, held while the
   descriptor is open), and writes who holds it there for the message a
   second run gets.  The file itself is never removed: removing a lock file
   lets two processes hold locks on two different files. */
static int rundir_lock(dlh_rundir *r)
{
    char *path = path_join(r->path, LOCK_NAME);
    if (!path) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
    if (fd < 0) {
        dlh_error_set("%s: cannot open the run folder's lock: %s", path, strerror(errno));
        free(path);
        return DLH_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        dlh_error_set("%s: the run folder's lock is not a regular file", path);
        close(fd);
        free(path);
        return DLH_EIO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        char holder[256] = "";
        ssize_t got = err == EWOULDBLOCK ? pread(fd, holder, sizeof holder - 1, 0) : -1;
        close(fd);
        free(path);
        if (err != EWOULDBLOCK) {
            dlh_error_set("%s: cannot lock the run folder: %s", r->path, strerror(err));
            return DLH_EIO;
        }
        long long pid = 0;
        char started[64] = "";
        holder[got > 0 ? got : 0] = '\0';
        if (sscanf(holder, "pid %lld\nstarted %63[^\n]", &pid, started) == 2)
            dlh_error_set("%s is in use by process %lld (started %s): one run at a time "
                          "writes a run folder", r->path, pid, started);
        else
            dlh_error_set("%s is in use by another process: one run at a time writes a "
                          "run folder", r->path);
        return DLH_ECONFIG;
    }
    char text[128], when[64] = "?";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    int k = snprintf(text, sizeof text, "pid %lld\nstarted %s\n", (long long)getpid(), when);
    /* Best effort: the lock is the flock, the text only names its holder. */
    if (ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)k, 0) != k)
        dlh_log(DLH_LOG_DEBUG, "%s: could not record the lock's holder", path);
    free(path);
    r->lock_fd = fd;
    return 0;
}

/* Whether `name` is a temporary file of dlh_file_write_atomic: ".<base>.tmp-"
   and mkostemp's six characters. */
static int is_stale_temp(const char *name)
{
    size_t n = strlen(name);
    const char *t = n > 12 ? name + n - 11 : NULL;
    if (name[0] != '.' || !t || strncmp(t, ".tmp-", 5) != 0)
        return 0;
    for (int i = 5; i < 11; i++)
        if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
              (t[i] >= '0' && t[i] <= '9')))
            return 0;
    return 1;
}

/* Removes the temporary files that writes cut short by a crash left (the
   lock is held, so no write of another run is under way). */
static int rundir_sweep(dlh_rundir *r)
{
    DIR *d = opendir(r->path);
    if (!d) {
        dlh_error_set("%s: cannot list the run folder: %s", r->path, strerror(errno));
        return DLH_EIO;
    }
    int removed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (!is_stale_temp(de->d_name) ||
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) == 0)
            removed++;
        else
            dlh_log(DLH_LOG_WARN, "%s/%s: cannot remove this temporary file: %s", r->path,
                    de->d_name, strerror(errno));
    }
    closedir(d);
    if (removed)
        dlh_log(DLH_LOG_INFO, "%s: removed %d temporary file%s that an interrupted write "
                "left", r->path, removed, removed == 1 ? "" : "s");
    return 0;
}

/* Removes the epoch-N.csv tables a previous run left in sub (a fresh run
   writes its own). */
static int rundir_forget_tables(dlh_rundir *r, const char *sub, int *gone)
{
    char *dir = path_join(r->path, sub);
    if (!dir) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    DIR *d = opendir(dir);
    free(dir);
    if (!d)
        return 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 11 || strncmp(de->d_name, "epoch-", 6) != 0 ||
            strcmp(de->d_name + n - 4, ".csv") != 0)
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) == 0) {
            (*gone)++;
        } else if (errno != ENOENT) {
            dlh_error_set("%s/%s/%s: cannot remove the previous run's file: %s", r->path,
                          sub, de->d_name, strerror(errno));
            rc = DLH_EIO;
        }
    }
    closedir(d);
    return rc;
}

/* A fresh run in a folder that held another run: its checkpoints go first,
   before any new file is written, so that no crash leaves the old
   last.safetensors beside the new metrics.csv. */
static int rundir_forget(dlh_rundir *r)
{
    static const char *const old[] = { "last.safetensors", "best.safetensors",
                                       "profile.csv", "diagnostics.csv" };
    int gone = 0;
    for (size_t i = 0; i < sizeof old / sizeof *old; i++) {
        char *p = path_join(r->path, old[i]);
        if (!p) {
            dlh_error_set("out of memory");
            return DLH_ENOMEM;
        }
        if (unlink(p) == 0) {
            gone++;
        } else if (errno != ENOENT) {
            dlh_error_set("%s: cannot remove the previous run's file: %s", p,
                          strerror(errno));
            free(p);
            return DLH_EIO;
        }
        free(p);
    }
    int rc = rundir_forget_tables(r, "confusion", &gone);
    if (rc)
        return rc;
    if (!gone)
        return 0;
    int dfd = open(r->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        dlh_error_set("%s: cannot sync the run folder: %s", r->path, strerror(errno));
        if (dfd >= 0)
            close(dfd);
        return DLH_EIO;
    }
    close(dfd);
    dlh_log(DLH_LOG_INFO, "%s: a new run replaces the checkpoints of the previous one",
            r->path);
    return 0;
}

/* The rundir of the folder `path` (taken over). */
static dlh_rundir *rundir_new(char *path)
{
    dlh_rundir *r = calloc(1, sizeof *r);
    if (!r) {
        free(path);
        return NULL;
    }
    r->path = path;
    r->lock_fd = -1;
    const char *slash = strrchr(path, '/');
    r->name = slash ? slash + 1 : path;
    if (!(r->metrics_path = path_join(path, "metrics.csv")) ||
        !(r->curves_path = path_join(path, "curves.svg"))) {
        dlh_rundir_close(r);
        return NULL;
    }
    return r;
}

/* Writes config.cfg (when cfg), metrics.csv and curves.svg; closes r on failure. */
static int rundir_start(dlh_rundir *r, dlh_config *cfg, dlh_rundir **out)
{
    int rc = cfg ? write_config(r->path, cfg) : 0;
    if (rc == 0)
        rc = write_metrics(r);
    if (rc < 0) {
        dlh_rundir_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

int dlh_rundir_open(const char *root, const char *name, dlh_config *cfg,
                    dlh_rundir **out)
{
    *out = NULL;
    if (!root)
        root = "runs";
    int rc = dlh_run_name_check(name);
    if (rc)
        return rc;
    if (!*root) {
        dlh_error_set("the run folder root is empty");
        return DLH_EINVAL;
    }
    char *path = path_join(root, name);
    dlh_rundir *r = path ? rundir_new(path) : NULL;
    if (!r) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    if ((rc = make_dirs(root)) || (rc = make_dir(r->path)) || (rc = rundir_lock(r)) ||
        (rc = rundir_sweep(r)) || (rc = rundir_forget(r))) {
        dlh_rundir_close(r);
        return rc;
    }
    return rundir_start(r, cfg, out);
}

int dlh_rundir_attach(const char *dir, dlh_rundir **out)
{
    *out = NULL;
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    struct stat st;
    if (len == 0 || stat(dir, &st) != 0) {
        dlh_error_set("%s: no such run folder", dir);
        return DLH_ECONFIG;
    }
    if (!S_ISDIR(st.st_mode)) {
        dlh_error_set("%s: not a run folder (not a folder)", dir);
        return DLH_ECONFIG;
    }
    char *path = strndup(dir, len);
    dlh_rundir *r = path ? rundir_new(path) : NULL;
    if (!r) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    int rc = rundir_lock(r);
    if (rc == 0)
        rc = rundir_sweep(r);
    if (rc) {
        dlh_rundir_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

int dlh_rundir_restart(dlh_rundir *r, dlh_config *cfg, const dlh_epoch_row *rows,
                       size_t n)
{
    if (n > r->cap_rows) {
        dlh_epoch_row *p = realloc(r->rows, n * sizeof *p);
        if (!p) {
            dlh_error_set("%s: out of memory", r->metrics_path);
            return DLH_ENOMEM;
        }
        r->rows = p;
        r->cap_rows = n;
    }
    if (n)
        memcpy(r->rows, rows, n * sizeof *rows);
    r->n_rows = n;
    int rc = cfg ? write_config(r->path, cfg) : 0;
    return rc ? rc : write_metrics(r);
}

void dlh_rundir_close(dlh_rundir *r)
{
    if (!r)
        return;
    if (r->lock_fd >= 0)
        close(r->lock_fd);          /* releases the lock */
    free(r->path);
    free(r->metrics_path);
    free(r->curves_path);
    free(r->rows);
    free(r->columns);
    free(r);
}

int dlh_rundir_columns(dlh_rundir *r, const char *const *names, int n)
{
    if (n < 0 || n > DLH_METRICS_MAX_EXTRA) {
        dlh_error_set("%s: %d metrics columns, at most %d", r->metrics_path, n,
                      DLH_METRICS_MAX_EXTRA);
        return DLH_EINVAL;
    }
    size_t len = 1;
    for (int k = 0; k < n; k++)
        len += strlen(names[k]) + 1;
    char *c = malloc(len), *at = c;
    if (!c) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    *c = '\0';
    for (int k = 0; k < n; k++)
        at += sprintf(at, ",%s", names[k]);
    free(r->columns);
    r->columns = n ? c : NULL;
    if (!n)
        free(c);
    r->n_columns = n;
    return 0;
}

const char *dlh_rundir_path(const dlh_rundir *r)
{
    return r->path;
}

int dlh_rundir_metrics(dlh_rundir *r, const dlh_epoch_row *row)
{
    if (r->n_rows == r->cap_rows) {
        size_t cap = r->cap_rows ? 2 * r->cap_rows : 64;
        dlh_epoch_row *rows = realloc(r->rows, cap * sizeof *rows);
        if (!rows) {
            dlh_error_set("%s: out of memory", r->metrics_path);
            return DLH_ENOMEM;
        }
        r->rows = rows;
        r->cap_rows = cap;
    }
    r->rows[r->n_rows++] = *row;
    int rc = write_metrics(r);
    if (rc < 0)
        r->n_rows--;                /* the file still holds the old rows */
    return rc;
}

/* ------------------------------------------------------------ checkpoints */

/* One staging buffer per thread, grown to the largest tensor met and kept,
   so that the checkpoint of every epoch after the first allocates nothing
   for tensor data.  Freed when the thread ends, and for the main thread when
   the library is unloaded or the process exits. */
typedef struct stage {
    void *p;
    size_t cap;
} stage;

static pthread_key_t stage_key;
static pthread_once_t stage_once = PTHREAD_ONCE_INIT;
static int stage_key_ok;

static void stage_free(void *v)
{
    stage *s = v;
    if (s) {
        free(s->p);
        free(s);
    }
}

static void stage_key_make(void)
{
    stage_key_ok = pthread_key_create(&stage_key, stage_free) == 0;
}

__attribute__((destructor)) static void stage_release_main(void)
{
    if (stage_key_ok) {
        stage_free(pthread_getspecific(stage_key));
        pthread_setspecific(stage_key, NULL);
    }
}

static void *stage_get(size_t bytes)
{
    pthread_once(&stage_once, stage_key_make);
    if (!stage_key_ok)
        return NULL;
    stage *s = pthread_getspecific(stage_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || pthread_setspecific(stage_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (bytes > s->cap) {
        void *p = realloc(s->p, bytes);
        if (!p)
            return NULL;
        s->p = p;
        s->cap = bytes;
    }
    return s->p ? s->p : s;         /* any non-NULL pointer for 0 bytes */
}

const dlh_tensor dlh_ckpt_counter_desc = { { NULL, 0 }, DLH_I64, 0, { 0 } };

static size_t tensor_bytes(const dlh_tensor *t)
{
    return (size_t)dlh_tensor_numel(t) * (t->dtype == DLH_I64 ? 8 : 4);
}

static const char *dtype_text(int32_t dtype)
{
    return dtype == DLH_I32 ? "I32" : dtype == DLH_I64 ? "I64" : "F32";
}

typedef struct save_ctx {
    const dlh_backend *be;
    const dlh_ckpt_tensor *tensors;
    void *buf;
    const char *path;
} save_ctx;

static int save_fill(void *user, size_t i, const void **data)
{
    save_ctx *c = user;
    const dlh_tensor *t = c->tensors[i].t;
    size_t bytes = tensor_bytes(t);
    *data = c->tensors[i].host ? (const void *)c->tensors[i].host : c->buf;
    if (bytes == 0 || c->tensors[i].host)
        return 0;
    int rc = c->be->ops->read(c->be->ctx, t->mem.buf, t->mem.off * 4, c->buf, bytes);
    if (rc < 0)
        dlh_error_prefix("%s: reading tensor '%s' from the backend: ", c->path,
                         c->tensors[i].name);
    return rc;
}

static void shape_text(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t k = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%lld", i ? ", " : "",
                              (long long)shape[i]);
    if (k < size)
        snprintf(buf + k, size - k, "]");
}

int dlh_checkpoint_save(const dlh_backend *be, const char *path,
                        const dlh_ckpt_tensor *tensors, size_t n,
                        const dlh_st_meta *meta, size_t n_meta)
{
    dlh_st_entry *entries = calloc(n ? n : 1, sizeof *entries);
    if (!entries) {
        dlh_error_set("%s: out of memory", path);
        return DLH_ENOMEM;
    }
    size_t most = 0;
    for (size_t i = 0; i < n; i++) {
        const dlh_tensor *t = tensors[i].t;
        if (!t || t->ndim < 0 || t->ndim > DLH_MAX_DIMS ||
            (t->dtype != DLH_F32 && t->dtype != DLH_I32 &&
             !(t->dtype == DLH_I64 && tensors[i].host))) {
            dlh_error_set("%s: tensor '%s' cannot be saved (missing, or not F32/I32 or "
                          "a counter)",
                          path, tensors[i].name ? tensors[i].name : "?");
            free(entries);
            return DLH_EINVAL;
        }
        entries[i].name = tensors[i].name;
        entries[i].dtype = t->dtype;
        entries[i].ndim = t->ndim;
        memcpy(entries[i].shape, t->shape, sizeof t->shape);
        if (tensor_bytes(t) > most)
            most = tensor_bytes(t);
    }
    save_ctx c = { be, tensors, stage_get(most), path };
    if (!c.buf) {
        free(entries);
        dlh_error_set("%s: out of memory for a %zu-byte staging buffer", path, most);
        return DLH_ENOMEM;
    }
    int rc = dlh_st_write_fill(path, entries, n, meta, n_meta, save_fill, &c);
    free(entries);
    return rc;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int dlh_checkpoint_load(const dlh_backend *be, const char *path,
                        const dlh_ckpt_tensor *tensors, size_t n, int allow_extra,
                        dlh_st_file **file)
{
    if (file)
        *file = NULL;
    dlh_st_file *f = NULL;
    int rc = dlh_st_read(path, &f);
    if (rc < 0)
        return rc;
    /* Everything is checked before anything is written, so a refused file
       leaves the tensors as they were. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        const dlh_tensor *t = tensors[i].t;
        const dlh_st_entry *e = dlh_st_find(f, tensors[i].name);
        char want[160], got[160];
        if (!e && tensors[i].host)
            continue;
        if (!e) {
            dlh_error_set("%s: tensor '%s' is missing from the file", path,
                          tensors[i].name);
            rc = DLH_EDATA;
            break;
        }
        int same = e->ndim == t->ndim;
        for (int d = 0; same && d < t->ndim; d++)
            same = e->shape[d] == t->shape[d];
        if (!same) {
            shape_text(e->ndim, e->shape, got, sizeof got);
            shape_text(t->ndim, t->shape, want, sizeof want);
            dlh_error_set("%s: tensor '%s' has shape %s in the file, the model "
                          "expects %s", path, tensors[i].name, got, want);
            rc = DLH_EDATA;
        } else if (e->dtype != t->dtype) {
            dlh_error_set("%s: tensor '%s' is %s in the file, the model expects %s",
                          path, tensors[i].name, dtype_text(e->dtype), dtype_text(t->dtype));
            rc = DLH_EDATA;
        }
        int64_t count;
        if (rc == 0 && tensors[i].host &&
            (memcpy(&count, e->data, sizeof count), count < 0)) {
            dlh_error_set("%s: tensor '%s' is %" PRId64 ", not a count", path,
                          tensors[i].name, count);
            rc = DLH_EDATA;
        }
    }
    if (rc == 0 && !allow_extra) {
        const char **asked = malloc((n ? n : 1) * sizeof *asked);
        if (!asked) {
            dlh_error_set("%s: out of memory", path);
            rc = DLH_ENOMEM;
        } else {
            for (size_t i = 0; i < n; i++)
                asked[i] = tensors[i].name;
            qsort(asked, n, sizeof *asked, cmp_name);
            for (size_t i = 0; i < dlh_st_count(f); i++) {
                const char *name = dlh_st_at(f, i)->name;
                if (!bsearch(&name, asked, n, sizeof *asked, cmp_name)) {
                    dlh_error_set("%s: tensor '%s' in the file is not part of the model",
                                  path, name);
                    rc = DLH_EDATA;
                    break;
                }
            }
            free(asked);
        }
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        const dlh_tensor *t = tensors[i].t;
        size_t bytes = tensor_bytes(t);
        if (bytes == 0)
            continue;
        const dlh_st_entry *e = dlh_st_find(f, tensors[i].name);
        if (tensors[i].host) {
            if (e)
                memcpy(tensors[i].host, e->data, sizeof *tensors[i].host);
            continue;
        }
        rc = be->ops->write(be->ctx, t->mem.buf, t->mem.off * 4, e->data, bytes);
        if (rc < 0)
            dlh_error_prefix("%s: writing tensor '%s' to the backend: ", path,
                             tensors[i].name);
    }
    if (rc < 0 || !file)
        dlh_st_free(f);
    else
        *file = f;
    return rc;
}

/* A CSV field: quoted when it holds a comma, a quote or a line break. */
static void put_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int dlh_rundir_table(dlh_rundir *r, const dlh_metric_table *t, int64_t epoch)
{
    for (const char *c = t->name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              (*c >= '0' && *c <= '9') || *c == '_') || c - t->name > 64) {
            dlh_error_set("a metric's table name '%.64s' is not letters, digits and '_' "
                          "(a plugin bug)", t->name);
            return DLH_EPLUGIN;
        }
    if (!*t->name || t->rows < 0 || t->cols < 0 || (t->rows * t->cols > 0 && !t->values)) {
        dlh_error_set("a metric's table '%s' is malformed (a plugin bug)", t->name);
        return DLH_EPLUGIN;
    }
    char file[48];
    snprintf(file, sizeof file, "epoch-%" PRId64 ".csv", epoch);
    char *dir = path_join(r->path, t->name), *path = dir ? path_join(dir, file) : NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *mem = path ? open_memstream(&text, &len) : NULL;
    int rc = DLH_ENOMEM;
    if (!mem) {
        dlh_error_set("out of memory");
        goto out;
    }
    fputs("true\\predicted", mem);
    for (int64_t j = 0; j < t->cols; j++) {
        fputc(',', mem);
        if (t->col_names)
            put_field(mem, t->col_names[j]);
        else
            fprintf(mem, "%" PRId64, j);
    }
    fputc('\n', mem);
    for (int64_t i = 0; i < t->rows; i++) {
        if (t->row_names)
            put_field(mem, t->row_names[i]);
        else
            fprintf(mem, "%" PRId64, i);
        for (int64_t j = 0; j < t->cols; j++)
            fprintf(mem, ",%.17g", t->values[i * t->cols + j]);
        fputc('\n', mem);
    }
    if (fclose(mem) != 0) {
        dlh_error_set("%s: out of memory", path);
        goto out;
    }
    if ((rc = make_dir(dir)) == 0)
        rc = dlh_file_write_atomic(path, text, len);
out:
    free(text);
    free(path);
    free(dir);
    return rc;
}

int dlh_rundir_mkdirs(const char *path)
{
    return make_dirs(path);
}
