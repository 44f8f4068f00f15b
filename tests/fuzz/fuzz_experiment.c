/* Fuzz target: the experiment file, parsed (core/params.c) and built into
 * live components as `dlhost check` builds it (core/check.c,
 * core/experiment.c).
 *
 * Input: an experiment file.  It is parsed as if it lay in tests/fuzz/data/
 * (under $DLHOST_SRCDIR), so its relative file names reach the small data
 * files there; leading lines "#set a.b=value" (comments to libconfig) are
 * applied as `--set` assignments.  Plugins come from $DLHOST_PLUGIN_PATH,
 * loaded once.  A failure must carry a DLH_E* code and a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "error.h"
#include "fuzz.h"
#include "registry.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *exp_name;              /* "<srcdir>/tests/fuzz/data/fuzz.cfg" */
static char *exp_dir;               /* "<srcdir>/tests/fuzz/data/" */
static FILE *exp_out;               /* check's report goes nowhere */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *srcdir = getenv("DLHOST_SRCDIR");
    if (!srcdir || !getenv("DLHOST_PLUGIN_PATH")) {
        fprintf(stderr, "fuzz_experiment: set DLHOST_SRCDIR (the source tree) and "
                "DLHOST_PLUGIN_PATH (the built plugins), as `make fuzz` and "
                "`make check` do\n");
        exit(2);
    }
    size_t len = strlen(srcdir) + 32;
    exp_name = malloc(len);
    exp_out = fopen("/dev/null", "w");
    if (!exp_name || !exp_out) {
        fprintf(stderr, "fuzz_experiment: cannot set up\n");
        exit(2);
    }
    snprintf(exp_name, len, "%s/tests/fuzz/data/fuzz.cfg", srcdir);
    exp_dir = strndup(exp_name, strlen(exp_name) - strlen("fuzz.cfg"));
    /* Warnings about plugins would repeat on every input otherwise. */
    dlh_log_set_level(DLH_LOG_ERROR);
    if (dlh_registry_load_all(1)) {
        fprintf(stderr, "fuzz_experiment: %s\n", dlh_error_get());
        exit(2);
    }
    return 0;
}

/* Applies the leading "#set " lines of text to cfg. */
static int exp_sets(dlh_config *cfg, const char *text)
{
    for (const char *p = text; strncmp(p, "#set ", 5) == 0;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) - 5 : strlen(p) - 5;
        char *a = strndup(p + 5, n);
        if (!a)
            fuzz_fail("out of memory");
        int rc = dlh_config_set(cfg, a);
        free(a);
        if (rc)
            return rc;
        if (!nl)
            break;
        p = nl + 1;
    }
    return 0;
}

/* Every problem of the file is "file:line: ..." naming the experiment, a
   file it includes or a data file it names (all in the data folder), or
   names the --set assignment. */
static void exp_check_located(int rc)
{
    const char *msg = dlh_error_get();
    if (rc == DLH_ENOMEM || strstr(msg, "--set "))
        return;
    if (strncmp(msg, exp_dir, strlen(exp_dir)) != 0)
        fuzz_fail("a %s message that does not start with the file it is about",
                  dlh_strerror(rc));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* libconfig reads a C string: text past a NUL byte is not there. */
    char *text = strndup((const char *)data, size);
    if (!text)
        fuzz_fail("out of memory");
    dlh_config *cfg = NULL;
    dlh_error_clear();
    int rc = dlh_config_load_string(text, exp_name, &cfg);
    if (rc == 0)
        rc = exp_sets(cfg, text);
    if (rc == 0)
        rc = dlh_check(cfg, NULL, exp_out);
    if (rc) {
        fuzz_check_error(rc, NULL);
        exp_check_located(rc);
    }
    dlh_config_free(cfg);
    free(text);
    return 0;
}
