/* Platforms and devices: discovery, the `platform` / `device` parameters,
 * probe and the listing `dlhost plugins --verbose` prints.
 *
 * Indices count within a platform, as clinfo -l shows them.  Without
 * `platform`, a device index counts within the platform of the default
 * device (the first GPU on any platform, else the first device), and a name
 * is searched on every platform in order. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencl.h"

/* Every platform's ids; none is not an error (*n = 0, the reason in `why`
   and set as the message). */
static int ocl_platforms(cl_platform_id **out, cl_uint *n, char *why, size_t why_size)
{
    *out = NULL;
    *n = 0;
    cl_uint count = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &count);
    if (err != CL_SUCCESS || count == 0) {
        const char *name = ocl_error_name(err);
        snprintf(why, why_size, "no OpenCL platform found (clGetPlatformIDs: %s; is an "
                 "OpenCL driver such as pocl-opencl-icd installed?)",
                 err == CL_SUCCESS ? "0 platforms" : name ? name : "unknown error");
        ocl_host->error("opencl: %s", why);
        return 0;
    }
    cl_platform_id *ids = calloc(count, sizeof *ids);
    if (ids == NULL) {
        ocl_host->error("opencl: out of memory");
        return DLH_ENOMEM;
    }
    err = clGetPlatformIDs(count, ids, &count);
    if (err != CL_SUCCESS) {
        free(ids);
        return ocl_fail("clGetPlatformIDs", err, NULL);
    }
    *out = ids;
    *n = count;
    return 0;
}

/* Every device of a platform (none is not an error: *n = 0). */
static int ocl_devices(cl_platform_id p, cl_device_id **out, cl_uint *n)
{
    *out = NULL;
    *n = 0;
    cl_uint count = 0;
    cl_int err = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, NULL, &count);
    if (err == CL_DEVICE_NOT_FOUND || (err == CL_SUCCESS && count == 0))
        return 0;
    if (err != CL_SUCCESS)
        return ocl_fail("clGetDeviceIDs", err, NULL);
    cl_device_id *ids = calloc(count, sizeof *ids);
    if (ids == NULL) {
        ocl_host->error("opencl: out of memory");
        return DLH_ENOMEM;
    }
    err = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, count, ids, &count);
    if (err != CL_SUCCESS) {
        free(ids);
        return ocl_fail("clGetDeviceIDs", err, NULL);
    }
    *out = ids;
    *n = count;
    return 0;
}

const char *ocl_type_name(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU)
        return "GPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR)
        return "accelerator";
    if (t & CL_DEVICE_TYPE_CPU)
        return "CPU";
    return "other";
}

static void platform_string(cl_platform_id p, cl_platform_info what, char *buf, size_t size)
{
    if (clGetPlatformInfo(p, what, size, buf, NULL) != CL_SUCCESS)
        snprintf(buf, size, "?");
    buf[size - 1] = '\0';
}

static void device_string(cl_device_id d, cl_device_info what, char *buf, size_t size)
{
    if (clGetDeviceInfo(d, what, size, buf, NULL) != CL_SUCCESS)
        snprintf(buf, size, "?");
    buf[size - 1] = '\0';
}

static cl_device_type device_type(cl_device_id d)
{
    cl_device_type t = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof t, &t, NULL);
    return t;
}

/* Case-insensitive: does `hay` contain `needle`? */
static int contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}

/* ---- the whole machine: platforms and their devices ---- */

typedef struct ocl_machine {
    char why[256];              /* why there is no platform */
    cl_platform_id *platforms;
    cl_uint n_platforms;
    cl_device_id **devices;     /* per platform */
    cl_uint *n_devices;
} ocl_machine;

static void machine_free(ocl_machine *m)
{
    for (cl_uint i = 0; m->devices && i < m->n_platforms; i++)
        free(m->devices[i]);
    free(m->devices);
    free(m->n_devices);
    free(m->platforms);
}

static int machine_scan(ocl_machine *m)
{
    memset(m, 0, sizeof *m);
    int rc = ocl_platforms(&m->platforms, &m->n_platforms, m->why, sizeof m->why);
    if (rc != 0 || m->n_platforms == 0)
        return rc;
    m->devices = calloc(m->n_platforms, sizeof *m->devices);
    m->n_devices = calloc(m->n_platforms, sizeof *m->n_devices);
    if (m->devices == NULL || m->n_devices == NULL) {
        ocl_host->error("opencl: out of memory");
        return DLH_ENOMEM;
    }
    for (cl_uint i = 0; i < m->n_platforms; i++)
        if ((rc = ocl_devices(m->platforms[i], &m->devices[i], &m->n_devices[i])) != 0)
            return rc;
    return 0;
}

/* The default device among platforms [p0, p1): the first GPU, else the
   first device.  0 when there is none. */
static int machine_default(const ocl_machine *m, cl_uint p0, cl_uint p1, cl_uint *pi,
                           cl_uint *di)
{
    for (int want_gpu = 1; want_gpu >= 0; want_gpu--)
        for (cl_uint p = p0; p < p1; p++)
            for (cl_uint d = 0; d < m->n_devices[p]; d++)
                if (!want_gpu || (device_type(m->devices[p][d]) & CL_DEVICE_TYPE_GPU)) {
                    *pi = p;
                    *di = d;
                    return 1;
                }
    return 0;
}

/* ---- parameters ---- */

/* A parameter that is an index or a name: *index >= 0, or *name set, or
   neither when absent (or ""). */
static int param_pick(const dlh_host *host, dlh_params *params, const char *key,
                      const char *what, int64_t *index, const char **name)
{
    *index = -1;
    *name = NULL;
    if (params == NULL || !host->param_has(params, key))
        return 0;
    int64_t v;
    const char *s;
    /* The accessors are typed: try the integer, then the string (a failed
       try leaves a message that nobody reports when the other succeeds). */
    if (host->param_int(params, key, NULL, INT64_MIN, INT64_MAX, &v) == 0) {
        if (v < 0)
            return host->param_error(params, key, "%s index %lld is negative", what,
                                     (long long)v);
        *index = v;
        return 0;
    }
    if (host->param_string(params, key, NULL, &s) != 0)
        return host->param_error(params, key, "expected a %s index (0, 1, ...) or a "
                                 "substring of its name", what);
    size_t n = strlen(s), digits = strspn(s, "0123456789");
    if (n > 0 && digits == n && n < 10)
        *index = strtoll(s, NULL, 10);
    else if (n > 0)
        *name = s;
    return 0;
}

/* "0 'Portable Computing Language', 1 'NVIDIA CUDA'" */
static void list_platforms(const ocl_machine *m, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (cl_uint i = 0; i < m->n_platforms && used < size; i++) {
        char name[128];
        platform_string(m->platforms[i], CL_PLATFORM_NAME, name, sizeof name);
        int w = snprintf(buf + used, size - used, "%s%u '%s'", i ? ", " : "", i, name);
        used += w > 0 ? (size_t)w : 0;
    }
}

static void list_devices(const ocl_machine *m, cl_uint p, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (cl_uint i = 0; i < m->n_devices[p] && used < size; i++) {
        char name[128];
        device_string(m->devices[p][i], CL_DEVICE_NAME, name, sizeof name);
        int w = snprintf(buf + used, size - used, "%s%u '%s'", i ? ", " : "", i, name);
        used += w > 0 ? (size_t)w : 0;
    }
}

static int select_in(const dlh_host *host, dlh_params *params, const ocl_machine *m,
                     cl_uint *pi, cl_uint *di)
{
    int64_t pidx, didx;
    const char *pname, *dname;
    int rc = param_pick(host, params, "platform", "platform", &pidx, &pname);
    if (rc == 0)
        rc = param_pick(host, params, "device", "device", &didx, &dname);
    if (rc != 0)
        return rc;
    char list[1024], name[128];

    /* the platforms to look at: [p0, p1) */
    cl_uint p0 = 0, p1 = m->n_platforms;
    if (pidx >= 0) {
        if (pidx >= (int64_t)m->n_platforms) {
            list_platforms(m, list, sizeof list);
            host->param_error(params, "platform", "platform index %lld is out of range: "
                              "there %s %u OpenCL platform%s (%s)", (long long)pidx,
                              m->n_platforms == 1 ? "is" : "are", m->n_platforms,
                              m->n_platforms == 1 ? "" : "s", list);
            return DLH_EINVAL;
        }
        p0 = (cl_uint)pidx;
        p1 = p0 + 1;
    } else if (pname != NULL) {
        for (p0 = 0; p0 < m->n_platforms; p0++) {
            platform_string(m->platforms[p0], CL_PLATFORM_NAME, name, sizeof name);
            if (contains(name, pname))
                break;
        }
        if (p0 == m->n_platforms) {
            list_platforms(m, list, sizeof list);
            host->param_error(params, "platform", "no OpenCL platform's name contains "
                              "'%s' (platforms: %s)", pname, list);
            return DLH_EINVAL;
        }
        p1 = p0 + 1;
    }

    if (dname != NULL) {
        for (cl_uint p = p0; p < p1; p++)
            for (cl_uint d = 0; d < m->n_devices[p]; d++) {
                device_string(m->devices[p][d], CL_DEVICE_NAME, name, sizeof name);
                if (contains(name, dname)) {
                    *pi = p;
                    *di = d;
                    return 0;
                }
            }
        host->param_error(params, "device", "no OpenCL device's name contains '%s'%s "
                          "(dlhost plugins --verbose lists them)", dname,
                          p1 - p0 == 1 && m->n_platforms > 1 ? " on that platform" : "");
        return DLH_EINVAL;
    }

    cl_uint dp, dd;
    if (!machine_default(m, p0, p1, &dp, &dd)) {
        if (p1 - p0 == 1 && m->n_platforms > 1) {
            platform_string(m->platforms[p0], CL_PLATFORM_NAME, name, sizeof name);
            host->error("opencl: platform %u '%s' has no device", p0, name);
        } else {
            host->error("opencl: no OpenCL device found on %u platform%s", m->n_platforms,
                        m->n_platforms == 1 ? "" : "s");
        }
        return DLH_EDEVICE;
    }
    if (didx >= 0) {
        /* an index counts within the chosen platform, or the default's */
        cl_uint p = p1 - p0 == 1 ? p0 : dp;
        if (didx >= (int64_t)m->n_devices[p]) {
            platform_string(m->platforms[p], CL_PLATFORM_NAME, name, sizeof name);
            list_devices(m, p, list, sizeof list);
            host->param_error(params, "device", "device index %lld is out of range: "
                              "platform %u '%s' has %u device%s (%s)", (long long)didx,
                              p, name, m->n_devices[p], m->n_devices[p] == 1 ? "" : "s",
                              list);
            return DLH_EINVAL;
        }
        *pi = p;
        *di = (cl_uint)didx;
        return 0;
    }
    *pi = dp;
    *di = dd;
    return 0;
}

int ocl_select(const dlh_host *host, dlh_params *params, cl_platform_id *platform,
               cl_device_id *device)
{
    ocl_machine m;
    int rc = machine_scan(&m);
    if (rc == 0 && m.n_platforms == 0)
        rc = DLH_EDEVICE;       /* the reason is set */
    cl_uint pi = 0, di = 0;
    if (rc == 0)
        rc = select_in(host, params, &m, &pi, &di);
    if (rc == 0) {
        *platform = m.platforms[pi];
        *device = m.devices[pi][di];
    }
    machine_free(&m);
    return rc;
}

int ocl_probe(const dlh_host *host)
{
    (void)host;
    ocl_machine m;
    int rc = machine_scan(&m), usable = 0;
    cl_uint pi, di;
    if (rc == 0 && m.n_platforms > 0) {
        usable = machine_default(&m, 0, m.n_platforms, &pi, &di);
        if (!usable)
            ocl_host->error("opencl: no OpenCL device found on %u platform%s",
                            m.n_platforms, m.n_platforms == 1 ? "" : "s");
    }
    machine_free(&m);
    /* A driver that fails while listing makes the backend unusable (the
       message says why); only running out of memory is an error. */
    return rc == DLH_ENOMEM ? rc : usable;
}

/* "3.7 GiB", "512 MiB" */
static void format_bytes(cl_ulong b, char *buf, size_t size)
{
    if (b >= ((cl_ulong)1 << 30))
        snprintf(buf, size, "%.1f GiB", (double)b / (double)((cl_ulong)1 << 30));
    else
        snprintf(buf, size, "%llu MiB", (unsigned long long)(b >> 20));
}

int ocl_list_devices(const dlh_host *host, char *buf, size_t size)
{
    (void)host;
    if (buf == NULL || size == 0) {
        ocl_host->error("opencl devices: no output buffer");
        return DLH_EINVAL;
    }
    buf[0] = '\0';
    ocl_machine m;
    int rc = machine_scan(&m);
    if (rc != 0 || m.n_platforms == 0) {
        if (rc == 0)
            snprintf(buf, size, "%s\n", m.why);
        machine_free(&m);
        return rc;
    }
    cl_uint dp = 0, dd = 0;
    int has_default = machine_default(&m, 0, m.n_platforms, &dp, &dd);
    size_t used = 0;
#define EMIT(...)                                                         \
    do {                                                                  \
        int w_ = snprintf(buf + used, size - used, __VA_ARGS__);          \
        used += w_ > 0 ? (size_t)w_ : 0;                                  \
        if (used >= size)                                                 \
            goto full;                                                    \
    } while (0)
    for (cl_uint p = 0; p < m.n_platforms; p++) {
        char name[128], version[128];
        platform_string(m.platforms[p], CL_PLATFORM_NAME, name, sizeof name);
        platform_string(m.platforms[p], CL_PLATFORM_VERSION, version, sizeof version);
        /* "OpenCL 3.0 PoCL 3.1+debian  Linux, ..." : the part before the details */
        char *cut = strstr(version, "  ");
        if (cut != NULL)
            *cut = '\0';
        EMIT("platform %u: %s (%s)\n", p, name, version);
        if (m.n_devices[p] == 0)
            EMIT("  no devices\n");
        for (cl_uint d = 0; d < m.n_devices[p]; d++) {
            cl_device_id id = m.devices[p][d];
            char dname[128], mem[32];
            cl_ulong gmem = 0;
            cl_uint units = 0;
            device_string(id, CL_DEVICE_NAME, dname, sizeof dname);
            clGetDeviceInfo(id, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof gmem, &gmem, NULL);
            clGetDeviceInfo(id, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units, &units, NULL);
            format_bytes(gmem, mem, sizeof mem);
            EMIT("  device %u: %s (%s, %u compute unit%s, %s)%s\n", d, dname,
                 ocl_type_name(device_type(id)), units, units == 1 ? "" : "s", mem,
                 has_default && p == dp && d == dd ? " [default]" : "");
        }
    }
#undef EMIT
full:
    machine_free(&m);
    return 0;
}
