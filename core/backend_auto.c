/* backend = { type = "auto"; } and --backend auto (issue 15): the first
 * usable of cuda, an OpenCL GPU, cpu, with the reason each one before the
 * pick was passed over.
 *
 * cuda is tried by opening it (its probe and create say why not).  opencl
 * is taken only when the device it would open by default is a GPU: its
 * device listing (the `devices` slot, no instance needed) marks that device
 * "[default]" with its type, "(GPU, ...)"; a CPU device (PoCL) is passed
 * over without building anything.  cpu needs nothing. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <dlhost/status.h>

#include "error.h"
#include "manifest.h"
#include "registry.h"

static const dlh_component *backend_named(const char *name)
{
    dlh_manifest_want(DLH_KIND_BACKEND, name);
    for (size_t i = 0; i < dlh_registry_count(); i++) {
        const dlh_component *c = dlh_registry_at(i);
        if (c->kind == DLH_KIND_BACKEND && strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}

/* Whether the opencl backend's default device is a GPU; why says what it
   is otherwise. */
static int opencl_default_is_gpu(const dlh_component *c, char *why, size_t size)
{
    const dlh_backend_ops *ops = c->ops;
    if (c->plugin_struct_size < offsetof(dlh_backend_ops, devices) + sizeof ops->devices ||
        !ops->devices) {
        snprintf(why, size, "it lists no devices");
        return 0;
    }
    char buf[4096];
    dlh_error_clear();
    if (ops->devices(dlh_host_table(), buf, sizeof buf) != 0) {
        snprintf(why, size, "%s", dlh_error_get());
        return 0;
    }
    for (char *line = buf; line && *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        char *mark = strstr(line, " [default]");
        if (mark) {
            *mark = '\0';
            while (*line == ' ')
                line++;
            if (strstr(line, "(GPU, "))
                return 1;
            snprintf(why, size, "no GPU (default %.400s)", line);
            return 0;
        }
        line = end ? end + 1 : NULL;
    }
    /* No default device: the listing's one line says why ("no OpenCL
       platform found"). */
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = '\0';
    snprintf(why, size, "%.400s", *buf ? buf : "no device");
    return 0;
}

int dlh_backend_auto(dlh_backend **out, char *passed, size_t size)
{
    static const char *const order[] = { "cuda", "opencl", "cpu" };
    size_t used = 0;
    passed[0] = '\0';
    *out = NULL;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        char why[512] = "";
        const dlh_component *c = backend_named(order[i]);
        int rc = 0;
        if (!c) {
            snprintf(why, sizeof why, "not present (no plugin registers it)");
        } else if (strcmp(order[i], "opencl") == 0 && !opencl_default_is_gpu(c, why, sizeof why)) {
            /* why is set */
        } else {
            dlh_error_clear();
            rc = dlh_backend_open(order[i], NULL, out);
            if (rc == 0)
                return 0;
            snprintf(why, sizeof why, "%s", dlh_error_get());
            if (rc != DLH_EDEVICE && rc != DLH_EUNSUPPORTED && strcmp(order[i], "cpu") == 0)
                return rc;
        }
        /* "backend 'cuda' is not usable on this machine: " says less than
           the reason after it. */
        const char *r = why, *colon = strstr(why, "on this machine: ");
        if (colon)
            r = colon + strlen("on this machine: ");
        int w = snprintf(passed + used, size - used, "%s%s: %s", used ? "; " : "", order[i], r);
        if (w > 0 && (size_t)w < size - used)
            used += (size_t)w;
    }
    dlh_error_set("backend auto: no backend is usable (%s)", passed);
    return DLH_EDEVICE;
}
