/* A temporary folder for a C test (see tmpdir.h). */
#define _GNU_SOURCE 1             /* nftw's FTW_DEPTH and FTW_PHYS, mkdtemp */
#include "tmpdir.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *tmpdir_base(void)
{
    const char *base = getenv("DLHOST_BUILDDIR");
    if (!base)
        base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    return base;
}

void tmpdir_make(char *dir, size_t size, const char *base, const char *name)
{
    if (!base)
        base = tmpdir_base();
    int n = snprintf(dir, size, "%s/%s-XXXXXX", base, name);
    if (n < 0 || (size_t)n >= size) {
        printf("Bail out! temporary folder name %s/%s-XXXXXX is longer than %zu bytes\n",
               base, name, size - 1);
        exit(1);
    }
    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp %s: %s\n", dir, strerror(errno));
        exit(1);
    }
}

/* FTW_DEPTH hands over a folder after its contents, so remove() finds it empty. */
static int tmpdir_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int tmpdir_remove(const char *dir)
{
    return nftw(dir, tmpdir_rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

void tmpdir_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        printf("Bail out! cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

void tmpdir_put(const char *dir, const char *name, const char *text)
{
    size_t size = strlen(dir) + 1 + strlen(name) + 1;
    char *path = malloc(size);
    if (!path) {
        printf("Bail out! out of memory for the path of %s\n", name);
        exit(1);
    }
    snprintf(path, size, "%s/%s", dir, name);
    tmpdir_write(path, text, strlen(text));
    free(path);
}
