/* Replays fuzz inputs through a fuzz target without libFuzzer: the target's
 * LLVMFuzzerTestOneInput built with the normal compiler, called once per
 * file.  `make check` runs one such program per target over its seed corpus
 * (tests/fuzz/corpus/NAME) and its regression corpus (tests/fuzz/regressions/
 * NAME: every input that ever crashed, hung or leaked), printing TAP: one
 * line per folder with the number of inputs.  An input that crashes the
 * target, or a target's abort on a broken promise, ends the program and so
 * fails the test; so does a non-zero return.
 *
 * Usage: replay_NAME [FOLDER_OR_FILE...]; with no arguments the two
 * folders of NAME under $DLHOST_SRCDIR (default "."). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../tap.h"

#ifndef FUZZ_NAME
#error "FUZZ_NAME must name the target (-DFUZZ_NAME='\"csv\"')"
#endif

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
/* Optional in a target: set-up before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Runs the target on one file; 0, or -1 with a diagnostic. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag("%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 4096;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                diag("%s: out of memory", path);
                free(buf);
                fclose(f);
                return -1;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        diag("%s: read error", path);
        free(buf);
        return -1;
    }
    /* Flushed first, so that the log shows which input a crash came from. */
    fprintf(stderr, "replay: %s\n", path);
    fflush(stderr);
    int rc = LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    if (rc != 0) {
        diag("%s: the target returned %d", path, rc);
        return -1;
    }
    return 0;
}

static int replay_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One TAP line for a folder (its files in name order) or a single file.
   A regression folder that does not exist holds no inputs yet (git keeps
   no empty folders): with `may_lack` it passes with 0. */
static void replay_path(const char *what, const char *path, int may_lack)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int absent = errno == ENOENT;
        ok(absent && may_lack, "%s %s: %s", FUZZ_NAME, what,
           absent ? "0 inputs (no folder)" : strerror(errno));
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        ok(replay_file(path) == 0, "%s %s: 1 input", FUZZ_NAME, what);
        return;
    }
    DIR *d = opendir(path);
    if (!d) {
        ok(0, "%s %s: cannot open the folder: %s", FUZZ_NAME, what, strerror(errno));
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                printf("Bail out! out of memory\n");
                exit(1);
            }
            names = nn;
        }
        size_t len = strlen(path) + strlen(de->d_name) + 2;
        if (!(names[n] = malloc(len))) {
            printf("Bail out! out of memory\n");
            exit(1);
        }
        snprintf(names[n++], len, "%s/%s", path, de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, replay_cmp);
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        failed += replay_file(names[i]) != 0;
        free(names[i]);
    }
    free(names);
    ok(failed == 0, "%s %s: %zu inputs%s", FUZZ_NAME, what, n,
       failed ? ", some failed" : "");
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            replay_path(argv[i], argv[i], 0);
        return done_testing();
    }
    const char *src = getenv("DLHOST_SRCDIR") ? getenv("DLHOST_SRCDIR") : ".";
    static const char *const kinds[] = { "corpus", "regressions" };
    for (int k = 0; k < 2; k++) {
        size_t len = strlen(src) + strlen(FUZZ_NAME) + 32;
        char *dir = malloc(len);
        if (!dir) {
            printf("Bail out! out of memory\n");
            return 1;
        }
        snprintf(dir, len, "%s/tests/fuzz/%s/%s", src, kinds[k], FUZZ_NAME);
        replay_path(kinds[k], dir, k == 1);
        free(dir);
    }
    return done_testing();
}
