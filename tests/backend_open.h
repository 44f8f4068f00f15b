/* The backend a C test of primitives runs on (NAME_BACKEND, "cpu" or
 * "opencl" by the test's build), opened the one way every such test does. */
#ifndef DLHOST_TESTS_BACKEND_OPEN_H
#define DLHOST_TESTS_BACKEND_OPEN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "registry.h"
#include "tap.h"

/* Opens backend `name` (plugins loaded) with default parameters and says
   so in a diag line.  Ends the test with a skip of all (exit 0) when no
   plugin registers it or it is not usable on this machine; on another
   failure, a failing test line and NULL. */
static inline dlh_backend *backend_open_or_skip(const char *name)
{
    if (strcmp(name, "cpu") != 0 && !dlh_registry_find(DLH_KIND_BACKEND, name)) {
        dlh_registry_clear();
        printf("1..0 # SKIP %s: no plugin on the plugin path registers it\n", name);
        fflush(stdout);
        exit(0);
    }
    dlh_backend *be = NULL;
    int rc = dlh_backend_open(name, NULL, &be);
    if (rc == DLH_EDEVICE && strstr(dlh_error_get(), "not usable on this machine")) {
        printf("1..0 # SKIP %s: %s\n", name, dlh_error_get());
        fflush(stdout);
        dlh_registry_clear();
        exit(0);
    }
    if (rc < 0) {
        ok(0, "open the %s backend: %s", name, dlh_error_get());
        return NULL;
    }
    diag("on the %s backend", name);
    return be;
}

#endif
