/* The opencl backend, beyond what tests/conformance compares with cpu:
 * create and describe, the device listing, the platform / device /
 * build_options parameters and their errors (out-of-range index, unknown
 * name, a kernel build failure whose build log is in the message), the
 * names of OpenCL and CLBlast codes in messages, bounds errors, allocations
 * beyond the device's memory, and each primitive on small cases whose
 * results are worked out by hand (exact unless a tolerance is given).
 *
 * One default instance serves the primitives: each instance builds its
 * kernels, and CLBlast compiles its own on first use (seconds on PoCL,
 * which caches them under ~/.cache/pocl for later runs).  SKIPs when no
 * OpenCL platform or device is present.  Not run under valgrind: valgrind
 * over an OpenCL runtime says nothing useful. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dlhost/dlhost.h>

#include "error.h"
#include "params.h"
#include "registry.h"
#include "tap.h"
/* The error-name tables, compiled into this test (ocl_error.c). */
#include "../plugins/backends/opencl/opencl.h"

const dlh_host *ocl_host;       /* ocl_error.c reports through it */

static dlh_backend *be;
static const dlh_backend_ops *B;
static const dlh_host *H;

#define like(got, want, ...) ok(strstr((got), (want)) != NULL, __VA_ARGS__)

/* A diagnostic of several lines, each as a TAP comment. */
static void diag_lines(const char *text)
{
    while (*text) {
        int len = (int)strcspn(text, "\n");
        printf("# %.*s\n", len, text);
        text += len + (text[len] == '\n');
    }
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- helpers ---- */

static dlh_buffer *upload(const void *data, size_t n)
{
    dlh_buffer *b = NULL;
    if (B->alloc(be->ctx, n * 4, &b) != 0 ||
        (data != NULL && B->write(be->ctx, b, 0, data, n * 4) != 0)) {
        printf("Bail out! alloc/write of %zu values: %s\n", n, dlh_error_get());
        exit(1);
    }
    return b;
}

static void download(dlh_buffer *b, void *out, size_t n)
{
    if (B->read(be->ctx, b, 0, out, n * 4) != 0) {
        printf("Bail out! read of %zu values: %s\n", n, dlh_error_get());
        exit(1);
    }
}

static dlh_mem at(dlh_buffer *b, size_t off)
{
    dlh_mem m = { b, off };
    return m;
}

static const dlh_mem none = { NULL, 0 };

/* got[i] == want[i] for i < n (NaN meets NaN), else prints the first miss. */
static int same(const float *got, const float *want, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++) {
        int nan_ok = isnan(got[i]) && isnan(want[i]);
        double scale = fabs(want[i]) > 1.0 ? fabs(want[i]) : 1.0;
        if (!nan_ok && !(fabs((double)got[i] - want[i]) <= tol * scale)) {
            printf("#   element %zu: got %.9g, want %.9g\n", i, got[i], want[i]);
            return 0;
        }
    }
    return 1;
}

static int same_i(const int32_t *got, const int32_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            printf("#   element %zu: got %d, want %d\n", i, (int)got[i], (int)want[i]);
            return 0;
        }
    return 1;
}

/* Opens opencl with the backend group `keys`; checks unread keys too. */
static int open_with(const char *keys, dlh_backend **out)
{
    char text[512];
    snprintf(text, sizeof text, "backend = { type = \"opencl\"; %s };\n", keys);
    dlh_config *cfg = NULL;
    *out = NULL;
    int rc = dlh_config_load_string(text, "ocl.cfg", &cfg);
    if (rc != 0)
        return rc;
    static const char *const reserved[] = { "type", NULL };
    dlh_params *p = dlh_params_new(cfg, config_setting_lookup(dlh_config_root(cfg), "backend"),
                                   "backend 'opencl'", reserved);
    rc = p ? dlh_backend_open("opencl", p, out) : DLH_ENOMEM;
    if (rc == 0 && (rc = dlh_params_check_unused(p)) != 0) {
        dlh_backend_close(*out);
        *out = NULL;
    }
    dlh_params_free(p);
    dlh_config_free(cfg);
    return rc;
}

/* ---- the error-name tables (ocl_error.c) ---- */

static void test_error_names(void)
{
    ok(strcmp(ocl_error_name(-5), "CL_OUT_OF_RESOURCES") == 0 &&
       strcmp(ocl_error_name(-4), "CL_MEM_OBJECT_ALLOCATION_FAILURE") == 0 &&
       strcmp(ocl_error_name(-11), "CL_BUILD_PROGRAM_FAILURE") == 0 &&
       strcmp(ocl_error_name(-1001), "CL_PLATFORM_NOT_FOUND_KHR") == 0 &&
       strcmp(ocl_error_name(-72), "CL_MAX_SIZE_RESTRICTION_EXCEEDED") == 0,
       "OpenCL codes have their names");
    ok(ocl_error_name(-9999) == NULL && ocl_error_name(1) == NULL,
       "unknown OpenCL codes have none");
    ok(strcmp(ocl_clblast_name(-1017), "CLBlastInvalidDimension") == 0 &&
       strcmp(ocl_clblast_name(-1009), "CLBlastInsufficientMemoryC") == 0 &&
       strcmp(ocl_clblast_name(-2039), "CLBlastUnexpectedError") == 0 &&
       strcmp(ocl_clblast_name(-5), "CL_OUT_OF_RESOURCES") == 0 &&
       ocl_clblast_name(-1500) == NULL, "CLBlast codes have their names, and its "
       "OpenCL ones OpenCL's");
    int rc = ocl_fail("clCreateBuffer", CL_MEM_OBJECT_ALLOCATION_FAILURE, "for %d bytes",
                      1 << 30);
    ok(rc == DLH_ENOMEM && strcmp(dlh_error_get(), "opencl: clCreateBuffer: "
       "CL_MEM_OBJECT_ALLOCATION_FAILURE for 1073741824 bytes") == 0,
       "an allocation failure names the call and the code: %s", dlh_error_get());
    rc = ocl_fail("clFinish", CL_INVALID_COMMAND_QUEUE, NULL);
    ok(rc == DLH_EDEVICE && strcmp(dlh_error_get(),
                                   "opencl: clFinish: CL_INVALID_COMMAND_QUEUE") == 0,
       "another failure is a device error: %s", dlh_error_get());
    rc = ocl_fail("clFlush", -12345, NULL);
    ok(rc == DLH_EDEVICE && strcmp(dlh_error_get(),
                                   "opencl: clFlush: unknown OpenCL error -12345") == 0,
       "an unknown code still says what it is: %s", dlh_error_get());
}

/* ---- instances, parameters, devices ---- */

static char dev_name[128], plat_name[128];
static int n_dev0;              /* devices of platform 0 */

/* Reads "platform 0: NAME (" and "  device 0: NAME (" off the listing. */
static void listing_names(const char *list)
{
    const char *p = strstr(list, "platform 0: "), *d = strstr(list, "  device 0: ");
    if (p)
        sscanf(p + 12, "%127[^(\n]", plat_name);
    if (d)
        sscanf(d + 12, "%127[^(\n]", dev_name);
    const char *end = strstr(list, "platform 1: ");
    for (const char *q = d; q && (!end || q < end); q = strstr(q + 1, "  device "))
        n_dev0++;
    for (char *s = plat_name + strlen(plat_name); s > plat_name && s[-1] == ' ';)
        *--s = '\0';
    for (char *s = dev_name + strlen(dev_name); s > dev_name && s[-1] == ' ';)
        *--s = '\0';
}

static void test_devices(void)
{
    const dlh_component *c = dlh_registry_find(DLH_KIND_BACKEND, "opencl");
    const dlh_backend_ops *ops = c ? c->ops : NULL;
    ok(ops && ops->devices != NULL, "the opencl backend offers the ABI 1.1 devices slot");
    char list[4096] = "";
    ok(ops && ops->devices && ops->devices(H, list, sizeof list) == 0 &&
       strstr(list, "platform 0: ") && strstr(list, "  device 0: ") &&
       strstr(list, "[default]") && strstr(list, "compute unit"),
       "devices lists platforms, devices and the default");
    diag_lines(list);
    listing_names(list);
    char tiny[16];
    ok(ops && ops->devices && ops->devices(H, tiny, sizeof tiny) == 0 &&
       strlen(tiny) == sizeof tiny - 1, "a short buffer gets a cut, terminated listing");
    ok(ops && ops->devices && ops->devices(H, NULL, 0) == DLH_EINVAL,
       "no buffer is refused");
}

static void test_describe(void)
{
    char buf[512];
    ok(B->describe(be->ctx, buf, sizeof buf) == 0 && strncmp(buf, "CLBlast ", 8) == 0 &&
       strstr(buf, "compute unit") && dev_name[0] && strstr(buf, dev_name),
       "describe: \"%s\"", buf);
    ok(B->describe(be->ctx, NULL, 0) == DLH_EINVAL, "describe without a buffer is refused");
}

static void test_params(void)
{
    dlh_backend *o = NULL;
    char keys[400], buf[512], sub[8] = "";
    /* A name substring in another case: matching ignores case. */
    for (size_t i = 0; i < 6 && dev_name[i]; i++)
        sub[i] = (char)(dev_name[i] >= 'a' && dev_name[i] <= 'z' ? dev_name[i] - 32
                                                                 : dev_name[i]);
    snprintf(keys, sizeof keys, "platform = 0; device = \"%s\";", sub);
    double t0 = seconds();
    int rc = open_with(keys, &o);
    ok(rc == 0, "platform = 0, device = \"%s\" (a name substring) opens (%s)", sub,
       rc ? dlh_error_get() : "ok");
    if (rc == 0) {
        diag("a second instance opened in %.2f s", seconds() - t0);
        o->ops->describe(o->ctx, buf, sizeof buf);
        ok(strstr(buf, dev_name) != NULL, "it is the device named (%s)", buf);
    }
    dlh_backend_close(o);

    char first[16] = "";
    sscanf(plat_name, "%15s", first);
    snprintf(keys, sizeof keys, "platform = \"%s\"; device = \"0\"; build_options = "
             "\"-DDLH_TEST_UNUSED=1\";", first);
    rc = open_with(keys, &o);
    ok(rc == 0, "platform = \"%s\", device = \"0\" and extra build options open (%s)",
       first, rc ? dlh_error_get() : "ok");
    dlh_backend_close(o);

    rc = open_with("device = 99;", &o);
    ok(rc == DLH_EINVAL && !o, "device index 99 is refused");
    const char *want = "ocl.cfg:1: backend 'opencl': device index 99 is out of range: "
                       "platform 0";
    ok(strncmp(dlh_error_get(), want, strlen(want)) == 0, "the message starts with "
       "file:line and says what there is: %s", dlh_error_get());
    char count[48];
    snprintf(count, sizeof count, "has %d device%s (0 '", n_dev0, n_dev0 == 1 ? "" : "s");
    like(dlh_error_get(), count, "it counts platform 0's devices and names them");
    rc = open_with("platform = 7;", &o);
    ok(rc == DLH_EINVAL && strstr(dlh_error_get(), "platform index 7 is out of range: "
       "there is") != NULL, "platform index 7 is refused: %s", dlh_error_get());
    rc = open_with("device = \"no such device here\";", &o);
    ok(rc == DLH_EINVAL && strstr(dlh_error_get(), "no OpenCL device's name contains "
       "'no such device here'") != NULL, "an unknown device name is refused: %s",
       dlh_error_get());
    rc = open_with("platform = \"no such platform\";", &o);
    ok(rc == DLH_EINVAL && strstr(dlh_error_get(), "(platforms: 0 '") != NULL,
       "an unknown platform name is refused, listing the platforms: %s", dlh_error_get());
    rc = open_with("device = -1;", &o);
    ok(rc == DLH_ECONFIG && strstr(dlh_error_get(), "device index -1 is negative") != NULL,
       "a negative index is refused: %s", dlh_error_get());
    rc = open_with("device = 1.5;", &o);
    ok(rc == DLH_ECONFIG && strstr(dlh_error_get(), "expected a device index (0, 1, ...) "
       "or a substring of its name") != NULL, "a fraction is refused: %s", dlh_error_get());
    rc = open_with("devcie = 0;", &o);
    ok(rc == DLH_ECONFIG && strstr(dlh_error_get(), "did you mean 'device'?") != NULL,
       "a misspelt key is refused: %s", dlh_error_get());
    rc = open_with("build_options = \"-DOCL_ROW_WG=undefined_size_x\";", &o);
    ok(rc == DLH_EDEVICE && !o, "a kernel build failure fails create");
    like(dlh_error_get(), "backend 'opencl': opencl: clBuildProgram: "
         "CL_BUILD_PROGRAM_FAILURE building the backend kernels", "it names the call "
         "and the code");
    like(dlh_error_get(), "build log:\n", "it shows the build log");
    like(dlh_error_get(), "undefined_size_x", "the log has the compiler's complaint");
    char head[600];
    snprintf(head, sizeof head, "%s", dlh_error_get());
    diag_lines(head);
}

/* ---- memory ---- */

static void test_memory(void)
{
    dlh_buffer *b = NULL;
    ok(B->alloc(be->ctx, 0, &b) == 0 && b != NULL, "alloc of 0 bytes gives a buffer");
    ok(B->write(be->ctx, b, 0, "", 0) == 0 && B->read(be->ctx, b, 0, NULL, 0) == 0,
       "0-byte write and read are fine");
    ok(B->write(be->ctx, b, 0, "x", 1) == DLH_EINVAL, "a 1-byte write into it is refused");
    B->free(be->ctx, b);
    B->free(be->ctx, NULL);

    b = (dlh_buffer *)&b;
    ok(B->alloc(be->ctx, SIZE_MAX - 8, &b) == DLH_ENOMEM && b == NULL &&
       strstr(dlh_error_get(), "CL_DEVICE_MAX_MEM_ALLOC_SIZE") != NULL,
       "an impossible alloc is DLH_ENOMEM: %s", dlh_error_get());
    /* Buffers are counted against the device's memory before OpenCL is asked
       (PoCL would hand them out and fail in a kernel later). */
    enum { MAX_BIG = 1024 };
    static dlh_buffer *big[MAX_BIG];
    size_t chunk = (size_t)1 << 30, nb = 0;
    int rc = 0;
    while (nb < MAX_BIG && (rc = B->alloc(be->ctx, chunk, &big[nb])) == 0)
        nb++;
    if (rc == DLH_ENOMEM && nb == 0 && strstr(dlh_error_get(), "at once")) {
        chunk >>= 4;        /* a device with a small allocation limit */
        while (nb < MAX_BIG && (rc = B->alloc(be->ctx, chunk, &big[nb])) == 0)
            nb++;
    }
    ok(rc == DLH_ENOMEM && nb > 0 && strstr(dlh_error_get(), "out of device memory"),
       "allocations past the device's memory are DLH_ENOMEM after %zu of %zu MiB: %s", nb,
       chunk >> 20, dlh_error_get());
    if (nb > 0) {
        B->free(be->ctx, big[--nb]);
        ok(B->alloc(be->ctx, chunk, &big[nb]) == 0, "freeing one makes room for another");
        nb++;
    }
    for (size_t i = 0; i < nb; i++)
        B->free(be->ctx, big[i]);

    float v[12], w[12];
    for (int i = 0; i < 12; i++)
        v[i] = (float)i;
    b = upload(v, 12);
    ok(B->write(be->ctx, b, 40, v, 12) == DLH_EINVAL &&
       strstr(dlh_error_get(), "bytes [40, 40 + 12) lie outside the destination buffer of "
              "48 bytes"), "a write past the end is refused: %s", dlh_error_get());
    ok(B->read(be->ctx, b, 44, w, 8) == DLH_EINVAL, "a read past the end is refused");
    ok(B->copy(be->ctx, b, 0, b, 40, 12) == DLH_EINVAL, "a copy past the end is refused");
    ok(B->fill(be->ctx, at(b, 10), 3, 1.0f) == DLH_EINVAL &&
       strstr(dlh_error_get(), "opencl fill: dst: elements [10, 10 + 3) lie outside"),
       "a fill past the end is refused: %s", dlh_error_get());
    ok(B->copy(be->ctx, NULL, 0, b, 0, 4) == DLH_EINVAL, "a copy to NULL is refused");

    /* memmove within one buffer, both ways, through OpenCL's no-overlap rule */
    ok(B->copy(be->ctx, b, 8, b, 0, 24) == 0, "an overlapping copy forward runs");
    download(b, w, 12);
    float want[12] = { 0, 1, 0, 1, 2, 3, 4, 5, 8, 9, 10, 11 };
    ok(same(w, want, 12, 0), "it copies as memmove does");
    ok(B->copy(be->ctx, b, 0, b, 12, 24) == 0, "an overlapping copy backward runs");
    download(b, w, 12);
    float want2[12] = { 1, 2, 3, 4, 5, 8, 4, 5, 8, 9, 10, 11 };
    ok(same(w, want2, 12, 0), "it copies as memmove does");
    ok(B->fill(be->ctx, at(b, 2), 3, -2.5f) == 0 && B->write(be->ctx, b, 4 * 9, v, 8) == 0,
       "fill and write at offsets run");
    download(b, w, 12);
    float want3[12] = { 1, 2, -2.5f, -2.5f, -2.5f, 8, 4, 5, 8, 0, 1, 11 };
    ok(same(w, want3, 12, 0), "fill and write land at their offsets");
    dlh_buffer *d = upload(NULL, 4);
    ok(B->copy(be->ctx, d, 4, b, 8, 8) == 0 && B->read(be->ctx, d, 4, w, 8) == 0 &&
       w[0] == -2.5f && w[1] == -2.5f && B->sync(be->ctx) == 0,
       "a copy between buffers and sync");
    B->free(be->ctx, d);
    B->free(be->ctx, b);
}

/* ---- gemm ---- */

static void test_gemm(void)
{
    const float a[7] = { 99, 1, 2, 3, 4, 5, 6 };        /* A 2x3 at offset 1 */
    const float bm[6] = { 1, 0, 0, 1, 1, 1 };           /* B 3x2 */
    const float nan4[4] = { NAN, NAN, NAN, NAN };
    dlh_buffer *A = upload(a, 7), *Bb = upload(bm, 6), *C = upload(nan4, 4);
    float got[4];
    int rc = B->gemm(be->ctx, 0, 0, 2, 2, 3, 2.0f, at(A, 1), 3, at(Bb, 0), 2, 0.0f,
                     at(C, 0), 2);
    download(C, got, 4);
    ok(rc == 0 && same(got, (float[]){ 8, 10, 20, 22 }, 4, 0),
       "gemm: C = 2 A B, beta 0 overwrites NaN");
    rc = B->gemm(be->ctx, 0, 0, 2, 2, 3, 1.0f, at(A, 1), 3, at(Bb, 0), 2, 1.0f, at(C, 0), 2);
    download(C, got, 4);
    ok(rc == 0 && same(got, (float[]){ 12, 15, 30, 33 }, 4, 0), "gemm: beta 1 accumulates");
    rc = B->gemm(be->ctx, 0, 0, 2, 2, 0, 1.0f, none, 1, none, 2, 3.0f, at(C, 0), 2);
    download(C, got, 4);
    ok(rc == 0 && same(got, (float[]){ 36, 45, 90, 99 }, 4, 0), "gemm: k = 0 scales C by beta");
    B->write(be->ctx, C, 0, nan4, 16);
    rc = B->gemm(be->ctx, 0, 0, 2, 2, 0, 1.0f, none, 1, none, 2, 0.0f, at(C, 0), 2);
    download(C, got, 4);
    ok(rc == 0 && same(got, (float[]){ 0, 0, 0, 0 }, 4, 0), "gemm: k = 0, beta 0 writes zeros");
    ok(B->gemm(be->ctx, 0, 0, 2, 2, 3, 1.0f, at(A, 1), 3, at(Bb, 0), 2, 0.0f, at(C, 1), 2) ==
       DLH_EINVAL && strstr(dlh_error_get(), "opencl gemm: C: elements [1, 1 + 4) lie "
       "outside its buffer of 4 elements"), "gemm with C past its buffer is refused: %s",
       dlh_error_get());
    ok(B->gemm(be->ctx, 0, 0, 2, 2, 3, 1.0f, at(A, 1), 3, at(Bb, 0), 2, 0.0f, at(C, 0), 1) ==
       DLH_EINVAL && strstr(dlh_error_get(), "ldc=1"), "gemm with ldc < n is refused");

    /* three problems into one C (stride_c 0): in order, summed with beta 1 */
    float a3[18];
    for (int i = 0; i < 18; i++)
        a3[i] = a[1 + i % 6] * (float)(1 + i / 6);
    dlh_buffer *A3 = upload(a3, 18), *C8 = upload(NULL, 8);
    B->fill(be->ctx, at(C, 0), 4, 0.0f);
    rc = B->gemm_batched(be->ctx, 0, 0, 2, 2, 3, 1.0f, at(A3, 0), 3, 6, at(Bb, 0), 2, 0,
                         1.0f, at(C, 0), 2, 0, 3);
    download(C, got, 4);
    ok(rc == 0 && same(got, (float[]){ 24, 30, 60, 66 }, 4, 0),
       "gemm_batched with a shared C adds every problem");
    /* two disjoint problems, A strided, B shared */
    float got8[8];
    rc = B->gemm_batched(be->ctx, 0, 0, 2, 2, 3, 1.0f, at(A3, 6), 3, 6, at(Bb, 0), 2, 0,
                         0.0f, at(C8, 0), 2, 4, 2);
    download(C8, got8, 8);
    ok(rc == 0 && same(got8, (float[]){ 8, 10, 20, 22, 12, 15, 30, 33 }, 8, 0),
       "gemm_batched with strided problems");
    ok(B->gemm_batched(be->ctx, 0, 0, 2, 2, 3, 1.0f, at(A3, 0), 3, 6, at(Bb, 0), 2, 0, 0.0f,
                       at(C8, 0), 2, 4, 3) == DLH_EINVAL, "gemm_batched past C is refused");
    B->free(be->ctx, A3);
    B->free(be->ctx, C8);
    B->free(be->ctx, A);
    B->free(be->ctx, Bb);
    B->free(be->ctx, C);
}

/* ---- elementwise programs ---- */

static void test_ew(void)
{
    dlh_ew_kernel *k = NULL, *k2 = NULL;
    int rc = H->ew_compile(be, "in x, b, c; out y; scalar s;\n"
                               "y = max(x * s + b, 0) * c;\n", &k);
    ok(rc == 0, "ew: a program compiles (%s)", rc ? dlh_error_get() : "ok");
    if (rc != 0)
        return;
    const float xv[7] = { 42, 1, -2, 3, -4, 5, -6 };
    dlh_buffer *X = upload(xv, 7), *Bv = upload((float[]){ 0.5f, 1, -1 }, 3);
    dlh_buffer *Cv = upload((float[]){ 1, 10 }, 2), *Y = upload(NULL, 6);
    /* b over columns (L 3, s 1), c over rows (L 2, s 3), x at offset 1 */
    dlh_ew_arg args[4] = { { at(X, 1), 6, 1 }, { at(Bv, 0), 3, 1 }, { at(Cv, 0), 2, 3 },
                           { at(Y, 0), 6, 1 } };
    float s = 2.0f, got[6];
    rc = H->ew_run(k, 6, args, &s);
    download(Y, got, 6);
    ok(rc == 0 && same(got, (float[]){ 2.5f, 0, 5, 0, 110, 0 }, 6, 0),
       "ew: broadcast operands, offsets and a scalar");
    /* The same text again shares the built program; each handle runs. */
    rc = H->ew_compile(be, "in x, b, c; out y; scalar s;\n"
                           "y = max(x * s + b, 0) * c;\n", &k2);
    H->ew_free(k);
    s = 1.0f;
    rc = rc ? rc : H->ew_run(k2, 6, args, &s);
    download(Y, got, 6);
    ok(rc == 0 && same(got, (float[]){ 1.5f, 0, 2, 0, 60, 0 }, 6, 0),
       "ew: a second kernel of the same text runs after the first is freed");
    args[0].mem = at(X, 2);
    ok(H->ew_run(k2, 6, args, &s) == DLH_EINVAL &&
       strstr(dlh_error_get(), "opencl ew: operand 0: elements [2, 2 + 6) lie outside"),
       "ew: an operand past its buffer is refused: %s", dlh_error_get());
    H->ew_free(k2);

    /* NaN, -0 and comparisons as the cpu runner treats them */
    rc = H->ew_compile(be, "in x; out a, b, c, d;\n"
                           "a = sign(x); b = select(x > 0, x, -x); c = min(x, 1);\n"
                           "d = x == x;\n", &k);
    ok(rc == 0, "ew: a program with sign, select, min and == compiles");
    if (rc == 0) {
        dlh_buffer *Xs = upload((float[]){ -0.0f, 2, -3, NAN }, 4), *O = upload(NULL, 16);
        dlh_ew_arg a2[5] = { dlh_ew_full(at(Xs, 0), 4), dlh_ew_full(at(O, 0), 4),
                             dlh_ew_full(at(O, 4), 4), dlh_ew_full(at(O, 8), 4),
                             dlh_ew_full(at(O, 12), 4) };
        float o[16];
        rc = H->ew_run(k, 4, a2, NULL);
        download(O, o, 16);
        ok(rc == 0 && o[0] == 0 && signbit(o[0]) && o[1] == 1 && o[2] == -1 && o[3] == 0,
           "sign: -0 stays -0, NaN gives 0 (%g %g %g %g)", o[0], o[1], o[2], o[3]);
        ok(rc == 0 && same(o + 4, (float[]){ 0, 2, 3, NAN }, 4, 0) && !signbit(o[4]),
           "select over a comparison");
        ok(rc == 0 && same(o + 8, (float[]){ -0.0f, 1, -3, 1 }, 4, 0),
           "min: a NaN operand loses");
        ok(rc == 0 && same(o + 12, (float[]){ 1, 1, 1, 0 }, 4, 0), "== gives 1 or 0");
        B->free(be->ctx, Xs);
        B->free(be->ctx, O);
        H->ew_free(k);
    }
    /* an inout read after it is written sees the new value */
    rc = H->ew_compile(be, "inout p; in g; scalar lr;\np = p - lr * g;\np = p * 2;\n", &k);
    if (rc == 0) {
        dlh_buffer *P = upload((float[]){ 1, 2 }, 2), *G = upload((float[]){ 1, 1 }, 2);
        dlh_ew_arg a3[2] = { dlh_ew_full(at(P, 0), 2), dlh_ew_full(at(G, 0), 2) };
        float lr = 0.5f, o[2];
        rc = H->ew_run(k, 2, a3, &lr);
        download(P, o, 2);
        rc = rc ? rc : !same(o, (float[]){ 1, 3 }, 2, 0);
        B->free(be->ctx, P);
        B->free(be->ctx, G);
        H->ew_free(k);
    }
    ok(rc == 0, "ew: an inout array read after it is written gives the new value");
    B->free(be->ctx, X);
    B->free(be->ctx, Bv);
    B->free(be->ctx, Cv);
    B->free(be->ctx, Y);
}

/* ---- reductions and softmax ---- */

static void test_reduce(void)
{
    const float x[12] = { 1, 5, 5, 2, NAN, 0, 7, 7, -1, -2, -3, -4 };
    const float y[12] = { 1, 2, 3, 4, 5, 6, 7, 8, -1, -1, -1, -1 };
    dlh_buffer *X = upload(x, 12), *Y = upload(y, 12), *O = upload(NULL, 4),
               *I = upload(NULL, 4);
    float got[4];
    int32_t gi[4];
    int rc = B->reduce(be->ctx, DLH_REDUCE_MAX, 1, 3, 4, at(X, 0), at(O, 0), at(I, 0));
    download(O, got, 3);
    download(I, gi, 3);
    ok(rc == 0 && same(got, (float[]){ 5, NAN, -1 }, 3, 0) &&
       same_i(gi, (int32_t[]){ 1, 0, 0 }, 3), "max per row: first maximum, a NaN wins");
    rc = B->reduce(be->ctx, DLH_REDUCE_MAX, 0, 3, 4, at(X, 0), at(O, 0), at(I, 0));
    download(O, got, 4);
    download(I, gi, 4);
    ok(rc == 0 && same(got, (float[]){ NAN, 5, 7, 7 }, 4, 0) &&
       same_i(gi, (int32_t[]){ 1, 0, 1, 1 }, 4), "max per column, with argmax");
    rc = B->reduce(be->ctx, DLH_REDUCE_SUM, 1, 3, 4, at(Y, 0), at(O, 0), none);
    download(O, got, 3);
    ok(rc == 0 && same(got, (float[]){ 10, 26, -4 }, 3, 0), "sum per row");
    rc = B->reduce(be->ctx, DLH_REDUCE_SUMSQ, 1, 3, 4, at(Y, 0), at(O, 0), none);
    download(O, got, 3);
    ok(rc == 0 && same(got, (float[]){ 30, 174, 4 }, 3, 0), "sum of squares per row");
    rc = B->reduce(be->ctx, DLH_REDUCE_SUM, 0, 3, 4, at(Y, 0), at(O, 0), none);
    download(O, got, 4);
    ok(rc == 0 && same(got, (float[]){ 5, 7, 9, 11 }, 4, 0), "sum per column");
    rc = B->reduce(be->ctx, DLH_REDUCE_SUM, 1, 2, 0, at(Y, 0), at(O, 0), none);
    download(O, got, 2);
    ok(rc == 0 && got[0] == 0 && got[1] == 0, "a sum over an empty axis is 0");
    ok(B->reduce(be->ctx, DLH_REDUCE_MAX, 1, 2, 0, at(Y, 0), at(O, 0), none) == DLH_EINVAL,
       "a max over an empty axis is refused");
    ok(B->reduce(be->ctx, DLH_REDUCE_SUM, 1, 5, 4, at(Y, 0), at(O, 0), none) == DLH_EINVAL,
       "x past its buffer is refused");
    ok(B->reduce(be->ctx, (dlh_reduce_op)7, 1, 3, 4, at(Y, 0), at(O, 0), none) == DLH_EINVAL &&
       B->reduce(be->ctx, DLH_REDUCE_SUM, 2, 3, 4, at(Y, 0), at(O, 0), none) == DLH_EINVAL,
       "an unknown op or axis is refused");

    /* long rows: the work-group reduction and its ties */
    float *l = malloc(2000 * sizeof *l);
    double s0 = 0;
    for (int j = 0; j < 1000; j++) {
        l[j] = (float)(j % 7);
        s0 += j % 7;
        l[1000 + j] = j == 500 || j == 900 ? NAN : 3.0f;
    }
    dlh_buffer *L = upload(l, 2000);
    rc = B->reduce(be->ctx, DLH_REDUCE_MAX, 1, 2, 1000, at(L, 0), at(O, 0), at(I, 0));
    download(O, got, 2);
    download(I, gi, 2);
    ok(rc == 0 && got[0] == 6 && gi[0] == 6 && isnan(got[1]) && gi[1] == 500,
       "long rows: the first maximum and the first NaN (%d, %d)", gi[0], gi[1]);
    l[1500] = l[1900] = 3.0f;
    B->write(be->ctx, L, 0, l, 2000 * sizeof *l);
    rc = B->reduce(be->ctx, DLH_REDUCE_MAX, 1, 2, 1000, at(L, 0), at(O, 0), at(I, 0));
    download(I, gi, 2);
    ok(rc == 0 && gi[1] == 0, "a row of equal values: index 0");
    rc = B->reduce(be->ctx, DLH_REDUCE_SUM, 1, 1, 1000, at(L, 0), at(O, 0), none);
    download(O, got, 1);
    ok(rc == 0 && got[0] == (float)s0, "long row sum %g", got[0]);
    free(l);
    B->free(be->ctx, L);

    /* softmax in place */
    float sm[6] = { 0, logf(2), logf(3), 1000, 1000, 1000 }, out[6];
    dlh_buffer *S = upload(sm, 6);
    rc = B->softmax(be->ctx, 0, 2, 3, at(S, 0), at(S, 0));
    download(S, out, 6);
    ok(rc == 0 && same(out, (float[]){ 1 / 6.f, 2 / 6.f, 3 / 6.f, 1 / 3.f, 1 / 3.f, 1 / 3.f },
                       6, 3e-7), "softmax in place");
    B->write(be->ctx, S, 0, sm, sizeof sm);
    rc = B->softmax(be->ctx, 1, 2, 3, at(S, 0), at(S, 0));
    download(S, out, 6);
    ok(rc == 0 && same(out, (float[]){ -logf(6), logf(2) - logf(6), logf(3) - logf(6),
                                        -logf(3), -logf(3), -logf(3) }, 6, 1e-6),
       "log_softmax in place");
    ok(B->softmax(be->ctx, 0, 3, 3, at(S, 0), at(S, 0)) == DLH_EINVAL,
       "softmax past the buffer is refused");
    B->free(be->ctx, S);
    B->free(be->ctx, X);
    B->free(be->ctx, Y);
    B->free(be->ctx, O);
    B->free(be->ctx, I);
}

/* ---- images ---- */

static dlh_window2d window(int c, int h, int w, int k, int s, int p)
{
    dlh_window2d g = { sizeof g, c, h, w, k, k, s, s, p, p, 1, 1, 0, 0 };
    g.oh = (h + 2 * p - (k - 1) - 1) / s + 1;
    g.ow = (w + 2 * p - (k - 1) - 1) / s + 1;
    return g;
}

static void test_image(void)
{
    float img[9], col[16], back[9];
    for (int i = 0; i < 9; i++)
        img[i] = (float)(i + 1);
    dlh_window2d g = window(1, 3, 3, 2, 1, 0);
    dlh_buffer *I = upload(img, 9), *C = upload(NULL, 16), *Z = upload(NULL, 9);
    int rc = B->im2col(be->ctx, &g, 1, at(I, 0), at(C, 0));
    download(C, col, 16);
    ok(rc == 0 && same(col, (float[]){ 1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9 }, 16,
                       0), "im2col of a 3x3 image, 2x2 window");
    B->fill(be->ctx, at(Z, 0), 9, 0.0f);
    rc = B->col2im(be->ctx, &g, 1, at(C, 0), at(Z, 0));
    if (rc == 0)
        rc = B->col2im(be->ctx, &g, 1, at(C, 0), at(Z, 0));
    download(Z, back, 9);
    ok(rc == 0 && same(back, (float[]){ 2, 8, 6, 16, 40, 24, 14, 32, 18 }, 9, 0),
       "col2im adds into the image (twice here)");
    /* ABI 1.6: im2col takes an oh, ow beyond the window's (zeros below and
       right); pooling still refuses them. */
    g.oh = g.ow = 3;
    float col3[36];
    dlh_buffer *C3 = upload(NULL, 36);
    rc = B->im2col(be->ctx, &g, 1, at(I, 0), at(C3, 0));
    download(C3, col3, 36);
    ok(rc == 0 && same(col3, (float[]){ 1, 2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 0, 5, 6, 0, 8, 9, 0,
                                        4, 5, 6, 7, 8, 9, 0, 0, 0, 5, 6, 0, 8, 9, 0, 0, 0, 0 },
                       36, 0), "im2col with oh, ow one more than the window: zeros below "
       "and right");
    ok(B->pool2d(be->ctx, DLH_POOL_AVG, &g, 1, at(I, 0), at(C3, 0), at(C3, 0)) ==
       DLH_EINVAL && strstr(dlh_error_get(), "does not match the window"),
       "pool2d: a wrong oh is refused");
    B->free(be->ctx, C3);
    g = window(1, 3, 3, 2, 1, 0);
    ok(B->im2col(be->ctx, &g, 2, at(I, 0), at(C, 0)) == DLH_EINVAL,
       "im2col past the image is refused");

    /* max 2x2 / 2 on 4x4, then its backward */
    const float x[16] = { 1, 2, 5, 3, 4, 0, 1, 1, 9, 9, 2, 2, 0, 9, 2, 8 };
    dlh_buffer *X = upload(x, 16), *Y = upload(NULL, 4), *IX = upload(NULL, 4),
               *DX = upload(NULL, 16);
    g = window(1, 4, 4, 2, 2, 0);
    float y[4], dx[16];
    int32_t ix[4];
    rc = B->pool2d(be->ctx, DLH_POOL_MAX, &g, 1, at(X, 0), at(Y, 0), at(IX, 0));
    download(Y, y, 4);
    download(IX, ix, 4);
    ok(rc == 0 && same(y, (float[]){ 4, 5, 9, 8 }, 4, 0) &&
       same_i(ix, (int32_t[]){ 4, 2, 8, 15 }, 4), "max pool: values and first-max indices");
    B->fill(be->ctx, at(DX, 0), 16, 1.0f);
    B->write(be->ctx, Y, 0, (float[]){ 1, 2, 3, 4 }, 16);
    rc = B->pool2d_backward(be->ctx, DLH_POOL_MAX, &g, 1, at(Y, 0), at(IX, 0), at(DX, 0));
    download(DX, dx, 16);
    ok(rc == 0 && same(dx, (float[]){ 1, 1, 3, 1, 2, 1, 1, 1, 4, 1, 1, 1, 1, 1, 1, 5 }, 16,
                       0), "max pool backward adds dy at the indices");
    ok(B->pool2d(be->ctx, DLH_POOL_MAX, &g, 2, at(X, 0), at(Y, 0), at(IX, 0)) == DLH_EINVAL,
       "pool past x is refused");

    /* avg 3x3 / 1, padding 1, on 2x2: padding is not counted */
    g = window(1, 2, 2, 3, 1, 1);
    B->write(be->ctx, X, 0, (float[]){ 1, 2, 3, 4 }, 16);
    rc = B->pool2d(be->ctx, DLH_POOL_AVG, &g, 1, at(X, 0), at(Y, 0), none);
    download(Y, y, 4);
    ok(rc == 0 && same(y, (float[]){ 2.5f, 2.5f, 2.5f, 2.5f }, 4, 0),
       "avg pool excludes the padding");
    B->fill(be->ctx, at(DX, 0), 4, 0.0f);
    B->write(be->ctx, Y, 0, (float[]){ 4, 8, 12, 16 }, 16);
    rc = B->pool2d_backward(be->ctx, DLH_POOL_AVG, &g, 1, at(Y, 0), none, at(DX, 0));
    download(DX, dx, 4);
    ok(rc == 0 && same(dx, (float[]){ 10, 10, 10, 10 }, 4, 0),
       "avg pool backward spreads dy / cells");
    ok(B->pool2d(be->ctx, (dlh_pool_op)5, &g, 1, at(X, 0), at(Y, 0), none) == DLH_EINVAL,
       "an unknown pool op is refused");
    B->free(be->ctx, I);
    B->free(be->ctx, C);
    B->free(be->ctx, Z);
    B->free(be->ctx, X);
    B->free(be->ctx, Y);
    B->free(be->ctx, IX);
    B->free(be->ctx, DX);
}

/* ---- gather, scatter_add, rand ---- */

static void test_index(void)
{
    dlh_buffer *S = upload((float[]){ 0, 1, 10, 11, 20, 21, 30, 31 }, 8);
    dlh_buffer *IX = upload((int32_t[]){ 3, 0, 3 }, 3), *D = upload(NULL, 6);
    float got[6];
    int rc = B->gather(be->ctx, 3, 2, at(S, 0), at(IX, 0), at(D, 0));
    download(D, got, 6);
    ok(rc == 0 && same(got, (float[]){ 30, 31, 0, 1, 30, 31 }, 6, 0), "gather rows");
    B->write(be->ctx, IX, 0, (int32_t[]){ 1, -1, 0 }, 12);
    ok(B->gather(be->ctx, 3, 2, at(S, 0), at(IX, 0), at(D, 0)) == DLH_EINVAL &&
       strstr(dlh_error_get(), "idx[1] = -1 is negative"), "a negative index is refused");
    B->write(be->ctx, IX, 0, (int32_t[]){ 1, 4, 0 }, 12);
    ok(B->gather(be->ctx, 3, 2, at(S, 0), at(IX, 0), at(D, 0)) == DLH_EINVAL &&
       strstr(dlh_error_get(), "index 4 addresses a row of src past the end of its buffer "
              "(4 rows of 2 fit)"), "an index past the rows is refused: %s", dlh_error_get());

    /* repeated indices add in order */
    B->write(be->ctx, IX, 0, (int32_t[]){ 1, 1, 0 }, 12);
    B->write(be->ctx, S, 0, (float[]){ 1, 2, 3, 4, 5, 6 }, 24);
    B->fill(be->ctx, at(D, 0), 4, 0.5f);
    rc = B->scatter_add(be->ctx, 3, 2, at(S, 0), at(IX, 0), at(D, 0));
    download(D, got, 4);
    ok(rc == 0 && same(got, (float[]){ 5.5f, 6.5f, 4.5f, 6.5f }, 4, 0),
       "scatter_add with repeated indices");
    ok(B->scatter_add(be->ctx, 3, 2, at(S, 0), at(IX, 0), at(D, 4)) == DLH_EINVAL,
       "scatter_add past dst is refused");
    B->free(be->ctx, S);
    B->free(be->ctx, IX);
    B->free(be->ctx, D);

    /* rand: philox.h's numbers, at an element offset and a counter offset */
    enum { N = 1000 };
    float *r = malloc((N + 3) * sizeof *r);
    dlh_buffer *R = upload(NULL, N + 3);
    const uint64_t seed = 0x123456789abcdefull, stream = 77, off = (1ull << 32) - 10;
    int good_u = 1, good_b = 1, good_n = 1;
    rc = B->rand(be->ctx, DLH_RAND_UNIFORM, at(R, 3), N, seed, stream, off, -1.0f, 2.0f);
    download(R, r, N + 3);
    for (int i = 0; i < N; i++)
        good_u &= r[3 + i] == dlh_philox_uniform(seed, stream, off + i, -1.0f, 2.0f);
    ok(rc == 0 && good_u, "rand uniform: the Philox numbers of philox.h, bit for bit");
    rc = B->rand(be->ctx, DLH_RAND_BERNOULLI, at(R, 3), N, seed, stream, off, 0.3f, 0);
    download(R, r, N + 3);
    for (int i = 0; i < N; i++)
        good_b &= r[3 + i] == dlh_philox_bernoulli(seed, stream, off + i, 0.3f);
    ok(rc == 0 && good_b, "rand bernoulli, bit for bit");
    rc = B->rand(be->ctx, DLH_RAND_NORMAL, at(R, 3), N, seed, stream, off, 1.0f, 2.0f);
    download(R, r, N + 3);
    for (int i = 0; i < N; i++) {
        float w = dlh_philox_normal(seed, stream, off + i, 1.0f, 2.0f);
        good_n &= fabsf(r[3 + i] - w) <= 1e-5f * fmaxf(1.0f, fabsf(w));
    }
    ok(rc == 0 && good_n, "rand normal within 1e-5 (log and cos may differ by an ulp)");
    ok(B->rand(be->ctx, DLH_RAND_UNIFORM, at(R, 4), N, seed, stream, 0, 0, 1) == DLH_EINVAL,
       "rand past the buffer is refused");
    ok(B->rand(be->ctx, (dlh_rand_dist)3, at(R, 0), N, seed, stream, 0, 0, 1) == DLH_EINVAL,
       "an unknown distribution is refused");
    free(r);
    B->free(be->ctx, R);
}

int main(void)
{
    H = dlh_host_table();
    ocl_host = H;
    test_error_names();
    if (dlh_registry_load_all(0) != 0) {
        printf("Bail out! plugins failed to load: %s\n", dlh_error_get());
        return 1;
    }
    if (!dlh_registry_find(DLH_KIND_BACKEND, "opencl")) {
        skip("the opencl plugin is not on the plugin path");
        dlh_registry_clear();
        return done_testing();
    }
    double t0 = seconds();
    int rc = dlh_backend_open("opencl", NULL, &be);
    if (rc == DLH_EDEVICE && strstr(dlh_error_get(), "not usable on this machine")) {
        skip(dlh_error_get());
        dlh_registry_clear();
        return done_testing();
    }
    if (rc != 0) {
        printf("Bail out! cannot open the opencl backend: %s\n", dlh_error_get());
        return 1;
    }
    diag("opened opencl in %.2f s (the backend kernels' build)", seconds() - t0);
    B = be->ops;
    test_devices();
    test_describe();
    test_params();
    test_memory();
    t0 = seconds();
    test_gemm();
    diag("gemm tests in %.2f s (CLBlast compiles its kernels on first use)", seconds() - t0);
    test_ew();
    test_reduce();
    test_image();
    test_index();
    dlh_backend_close(be);
    dlh_registry_clear();
    return done_testing();
}
