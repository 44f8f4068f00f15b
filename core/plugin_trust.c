/* Which files dlhost trusts as plugins (the rule is in plugin_trust.h). */
#include "plugin_trust.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dlhost/status.h>

#include "error.h"

/* Where a file system object stands on the way to the plugin. */
typedef enum place {
    PLACE_FILE,                 /* the plugin file */
    PLACE_FOLDER,               /* the folder holding it (or its name) */
    PLACE_ABOVE                 /* a folder above that */
} place;

int dlh_plugin_trust_private_group(uid_t uid, gid_t gid)
{
    struct passwd *pw = getpwuid(uid);
    if (!pw)
        return 0;
    int member = pw->pw_gid == gid;
    char *name = strdup(pw->pw_name);
    struct group *gr = name ? getgrgid(gid) : NULL;
    int alone = gr != NULL;
    for (char **m = gr ? gr->gr_mem : NULL; alone && m && *m; m++) {
        alone = strcmp(*m, name) == 0;
        member = 1;
    }
    /* An account whose primary group it is belongs to it without being
       listed: there must be no other. */
    if (alone) {
        struct passwd *other;
        setpwent();
        while (alone && (other = getpwent()) != NULL)
            alone = other->pw_gid != gid || other->pw_uid == uid;
        endpwent();
    }
    free(name);
    return alone && member;
}

/* "user alice (uid 1000)", "group staff, gid 50", or "uid 1000", "gid 50". */
static void id_text(int group, unsigned id, char *buf, size_t size)
{
    const struct group *gr = group ? getgrgid((gid_t)id) : NULL;
    const struct passwd *pw = group ? NULL : getpwuid((uid_t)id);
    if (gr)
        snprintf(buf, size, "group %s, gid %u", gr->gr_name, id);
    else if (pw)
        snprintf(buf, size, "user %s (uid %u)", pw->pw_name, id);
    else
        snprintf(buf, size, "%s %u", group ? "gid" : "uid", id);
}

/* "<path>: refused: <reason>", DLH_EPLUGIN. */
static int refuse(const char *path, const char *fmt, ...) DLH_PRINTF(2, 3);
static int refuse(const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dlh_error_setv(fmt, ap);
    va_end(ap);
    dlh_error_prefix("%s: refused: ", path);
    return DLH_EPLUGIN;
}

/* Holds `node` (what `st` describes, standing at `where`) to the rule;
   messages start with `path`, the name the caller was given. */
static int check_node(const char *path, const char *node, const struct stat *st, place where)
{
    const char *what = where == PLACE_FILE ? "file" : "folder";
    unsigned mode = (unsigned)st->st_mode & 07777u;
    char who[320];
    if (where != PLACE_ABOVE && st->st_uid != 0 && st->st_uid != geteuid()) {
        id_text(0, (unsigned)st->st_uid, who, sizeof who);
        return refuse(path, "the %s %s belongs to %s, not to root or to the user running "
                      "dlhost (uid %u); %s", what, node, who, (unsigned)geteuid(),
                      where == PLACE_FILE ? "use a copy that root or you own"
                                          : "install the plugin in a folder that root or you own");
    }
    int sticky = (st->st_mode & S_ISVTX) != 0;
    int group_w = where != PLACE_ABOVE && (st->st_mode & S_IWGRP) &&
                  !dlh_plugin_trust_private_group(st->st_uid, st->st_gid);
    if ((st->st_mode & S_IWOTH) && !(where == PLACE_ABOVE && sticky)) {
        /* chmod o-w on a shared folder like /tmp is not the fix. */
        if (where == PLACE_FOLDER && sticky)
            return refuse(path, "the folder %s is writable by every user (mode %04o); move the "
                          "plugin into a folder that only root or you can write", node, mode);
        return refuse(path, "the %s %s is writable by every user (mode %04o); chmod %s %s",
                      what, node, mode, group_w ? "go-w" : "o-w", node);
    }
    if (group_w) {
        id_text(1, (unsigned)st->st_gid, who, sizeof who);
        return refuse(path, "the %s %s is writable by %s (mode %04o); chmod g-w %s",
                      what, node, who, mode, node);
    }
    return 0;
}

/* The folder holding `p` (absolute): "/a" for "/a/b", "/" for "/b";
   malloc'd, NULL when out of memory. */
static char *parent_of(const char *p)
{
    const char *slash = strrchr(p, '/');
    size_t len = slash && slash != p ? (size_t)(slash - p) : 1;
    char *dir = malloc(len + 1);
    if (dir) {
        memcpy(dir, slash && slash != p ? p : "/", len);
        dir[len] = '\0';
    }
    return dir;
}

/* Checks `dir` (absolute, links resolved) as the plugin's own folder, then
   every folder above it up to /. */
static int check_folders(const char *path, const char *dir)
{
    size_t len = strlen(dir);
    char *d = malloc(len + 1);
    if (!d) {
        dlh_error_set("%s: out of memory", path);
        return DLH_ENOMEM;
    }
    memcpy(d, dir, len + 1);
    place where = PLACE_FOLDER;
    int rc = 0;
    for (;;) {
        struct stat st;
        /* lstat: a link here appeared after realpath; refuse, not follow. */
        errno = 0;
        if (lstat(d, &st) != 0 || !S_ISDIR(st.st_mode)) {
            dlh_error_set("%s: cannot check the folder %s: %s", path, d,
                          errno ? strerror(errno) : "not a folder");
            rc = DLH_EPLUGIN;
            break;
        }
        if ((rc = check_node(path, d, &st, where)) < 0 || strcmp(d, "/") == 0)
            break;
        char *slash = strrchr(d, '/');
        slash[slash == d ? 1 : 0] = '\0';
        where = PLACE_ABOVE;
    }
    free(d);
    return rc;
}

/* realpath, or "<path>: <verb>: <errno text>". */
static char *resolve(const char *path, const char *verb, int *rc)
{
    char *real = realpath(path, NULL);
    if (!real) {
        *rc = errno == ENOMEM ? DLH_ENOMEM : DLH_EPLUGIN;
        dlh_error_set("%s: %s: %s", path, verb, strerror(errno));
    }
    return real;
}

int dlh_plugin_trust_file(const char *path, char **resolved)
{
    int rc = 0;
    struct stat st;
    char *real = resolve(path, "cannot load", &rc);
    if (!real)
        return rc;
    errno = 0;
    if (lstat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
        dlh_error_set("%s: cannot load: %s", path,
                      errno ? strerror(errno) : "not a regular file");
        rc = DLH_EPLUGIN;
    } else {
        rc = check_node(path, real, &st, PLACE_FILE);
    }
    /* The file's folder, then the folder its name was found in: a link there
       could be pointed elsewhere by whoever can write that folder. */
    char *dir = rc == 0 ? parent_of(real) : NULL;
    char *named = rc == 0 && dir ? parent_of(path) : NULL;
    char *named_real = NULL;
    if (rc == 0 && (!dir || !named)) {
        dlh_error_set("%s: out of memory", path);
        rc = DLH_ENOMEM;
    }
    if (rc == 0)
        rc = check_folders(path, dir);
    if (rc == 0 && (named_real = resolve(named, "cannot load", &rc)) != NULL &&
        strcmp(named_real, dir) != 0)
        rc = check_folders(path, named_real);
    free(named_real);
    free(named);
    free(dir);
    if (rc == 0 && resolved)
        *resolved = real;
    else
        free(real);
    return rc;
}

int dlh_plugin_trust_dir(const char *dir)
{
    int rc = 0;
    char *real = resolve(dir, "cannot read", &rc);
    if (!real)
        return rc;
    rc = check_folders(dir, real);
    free(real);
    return rc;
}
