/* The cache folder: the plugin manifest (manifest.c) and the idx reader's
 * decoded files live there.  $DLHOST_CACHE_DIR when set (empty: no cache at
 * all), else $XDG_CACHE_HOME/dlhost, else $HOME/.cache/dlhost.  Header-only,
 * so that a plugin can use it without resolving a host symbol.  A cache is
 * only ever a shortcut: every user of it works without one. */
#ifndef DLHOST_CORE_CACHE_DIR_H
#define DLHOST_CORE_CACHE_DIR_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Writes the folder (with `sub` appended when not NULL) into buf and creates
   it and its parents (mode 0700) where missing.  Returns 0, or -1 when
   caching is off, no folder can be named, or it cannot be created. */
static inline int dlh_cache_dir(const char *sub, char *buf, size_t size)
{
    const char *env = getenv("DLHOST_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    /* Checked before `sub` is appended: "" and "/idx" would make "/idx". */
    if (env && env[0] != '/')
        return -1;          /* an empty or relative DLHOST_CACHE_DIR: caching off */
    if (env)
        n = snprintf(buf, size, "%s%s%s", env, sub ? "/" : "", sub ? sub : "");
    else if (xdg && xdg[0] == '/')
        n = snprintf(buf, size, "%s/dlhost%s%s", xdg, sub ? "/" : "", sub ? sub : "");
    else if (home && home[0] == '/')
        n = snprintf(buf, size, "%s/.cache/dlhost%s%s", home, sub ? "/" : "", sub ? sub : "");
    else
        return -1;
    if (n < 0 || (size_t)n >= size)
        return -1;
    for (char *s = buf + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            int bad = mkdir(buf, 0700) != 0 && errno != EEXIST;
            *s = c;
            if (bad)
                return -1;
            if (!c)
                break;
        }
    }
    return 0;
}

#endif
