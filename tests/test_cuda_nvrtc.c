/* The cuda rendering of the one GPU kernel source, compiled without a GPU:
 * the fixed kernels (plugins/backends/gpu/gpu_source.c) and every
 * elementwise program named in the file argv[1] (NUL-separated program
 * texts, as $DLHOST_EW_RECORD writes them; tests/test_cuda_compile.sh
 * records what the conformance suite and the built-in plugins compile)
 * are rendered as CUDA C++, compiled with NVRTC for compute_75, compute_80
 * and compute_90, and each PTX is assembled by the toolkit's ptxas for
 * sm_75, sm_80 and sm_90.  Their logic runs on PoCL in the opencl suites:
 * the OpenCL rendering is the same text under another prelude.  SKIPs by
 * name where NVRTC or ptxas is absent. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dlhost/dlhost.h>

#include "error.h"
#include "ew.h"
#include "registry.h"
#include "tap.h"
#include "tmpdir.h"
#include "../plugins/backends/common/backend_checks.h"
#include "../plugins/backends/gpu/gpu_nvrtc.h"
#include "../plugins/backends/gpu/gpu_source.h"

#ifndef DLH_CUDA_DIR
#define DLH_CUDA_DIR ""
#endif

static const char *const archs[] = { "75", "80", "90" };
#define N_ARCHS 3

static gpu_nvrtc nv;
static char ptxas[512], dir[512];

/* ptxas -arch=sm_<arch> on the PTX text: 0, or its exit status with its
   output into msg. */
static int assemble(const char *ptx, const char *arch, char *msg, size_t size)
{
    char in[600], out[600], err[600];
    snprintf(in, sizeof in, "%s/k.ptx", dir);
    snprintf(out, sizeof out, "%s/k.cubin", dir);
    snprintf(err, sizeof err, "%s/ptxas.log", dir);
    tmpdir_write(in, ptx, strlen(ptx));
    char a[32];
    snprintf(a, sizeof a, "-arch=sm_%s", arch);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(ptxas, "ptxas", a, in, "-o", out, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return snprintf(msg, size, "cannot run %s", ptxas), -1;
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    msg[0] = '\0';
    FILE *f = fopen(err, "r");
    if (f) {
        size_t n = fread(msg, 1, size - 1, f);
        msg[n] = '\0';
        fclose(f);
    }
    return rc;
}

/* Compiles source for every architecture and assembles each PTX; the PTX
   must define every kernel in `entries`.  0 or 1 (diagnosed). */
static int build_all(const char *source, const char *what, const char *const *entries,
                     int n_entries)
{
    for (int a = 0; a < N_ARCHS; a++) {
        char arch[32], buf[64], msg[2048];
        const char *opts[GPU_NVRTC_OPTS];
        snprintf(arch, sizeof arch, "compute_%s", archs[a]);
        int n = gpu_nvrtc_options(arch, buf, sizeof buf, opts);
        char *ptx, *log;
        int rc = gpu_nvrtc_ptx(&nv, source, "dlh.cu", n, opts, &ptx, &log);
        if (rc != 0) {
            diag("%s: NVRTC for %s: %s\n%s", what, arch,
                 rc > 0 ? nv.error_string(rc) : "out of memory", log ? log : "");
            free(log);
            return 1;
        }
        free(log);
        for (int e = 0; e < n_entries; e++) {
            char entry[80];
            snprintf(entry, sizeof entry, ".entry %s(", entries[e]);
            if (!strstr(ptx, entry)) {
                diag("%s: the PTX for %s has no kernel %s", what, arch, entries[e]);
                free(ptx);
                return 1;
            }
        }
        rc = assemble(ptx, archs[a], msg, sizeof msg);
        free(ptx);
        if (rc != 0) {
            diag("%s: ptxas -arch=sm_%s exits %d:\n%s", what, archs[a], rc, msg);
            return 1;
        }
    }
    return 0;
}

/* The distinct programs of the record file, each once. */
static void check_programs(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        ok(0, "the program record %s opens (%s)", path, strerror(errno));
        return;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (len + 1 >= cap) {
            cap = cap ? cap * 2 : 1 << 16;
            text = realloc(text, cap);
            if (!text)
                (printf("Bail out! out of memory\n"), exit(1));
        }
        text[len++] = (char)c;
    }
    fclose(f);
    bchk_backend bk = { dlh_host_table(), "cuda", NULL, 0 };
    size_t n_programs = 0, n_distinct = 0, failed = 0;
    char **seen = NULL;
    for (size_t at = 0; at < len;) {
        const char *src = text + at;
        size_t n = strnlen(src, len - at);
        at += n + 1;
        if (n == 0 || at > len + 1)
            continue;
        n_programs++;
        dlh_ew_program *prog;
        if (dlh_ew_parse(src, &prog) != 0) {
            ok(0, "recorded program parses: %s (%s)", src, dlh_error_get());
            continue;
        }
        char *cuda = NULL;
        unsigned char written[DLH_EW_MAX_OPERANDS];
        if (bchk_ew_program(&bk, prog) != 0 ||
            gpu_ew_source(dlh_host_table(), "cuda", GPU_CUDA, prog, &cuda, written) != 0) {
            ok(0, "program renders as CUDA: %s (%s)", src, dlh_error_get());
            dlh_ew_program_free(prog);
            continue;
        }
        dlh_ew_program_free(prog);
        int dup = 0;
        for (size_t i = 0; i < n_distinct && !dup; i++)
            dup = strcmp(seen[i], cuda) == 0;
        if (dup) {
            free(cuda);
            continue;
        }
        seen = realloc(seen, (n_distinct + 1) * sizeof *seen);
        if (!seen)
            (printf("Bail out! out of memory\n"), exit(1));
        seen[n_distinct++] = cuda;
    }
    ok(n_programs > 0, "the record holds programs (%zu, %zu distinct)", n_programs,
       n_distinct);
    /* One module of them all, each program's rendering less the prelude in
       a namespace of its own, its kernel renamed dlh_ew_<k>: one NVRTC run
       and one ptxas run per architecture instead of one per program.  When
       it fails, each program alone says which. */
    const char *prelude = gpu_prelude(GPU_CUDA);
    size_t plen = strlen(prelude), size = plen + 1;
    for (size_t i = 0; i < n_distinct; i++)
        size += strlen(seen[i]) + 64;
    char *bundle = malloc(size), **entries = calloc(n_distinct + 1, sizeof *entries);
    if (!bundle || !entries)
        (printf("Bail out! out of memory\n"), exit(1));
    size_t at = (size_t)sprintf(bundle, "%s", prelude);
    int shape = 1;
    for (size_t i = 0; i < n_distinct; i++) {
        const char *body = seen[i] + plen, *k = strstr(body, "KERNEL void " GPU_EW_KERNEL "(");
        shape &= strncmp(seen[i], prelude, plen) == 0 && k != NULL;
        if (!shape)
            break;
        entries[i] = malloc(32);
        if (!entries[i])
            (printf("Bail out! out of memory\n"), exit(1));
        snprintf(entries[i], 32, "dlh_ew_%zu", i);
        at += (size_t)sprintf(bundle + at, "namespace p%zu {\n%.*sKERNEL void %s(%s}\n", i,
                              (int)(k - body), body, entries[i],
                              k + strlen("KERNEL void " GPU_EW_KERNEL "("));
    }
    ok(shape, "every rendering is the CUDA prelude, then helpers, then one kernel dlh_ew");
    if (shape && build_all(bundle, "the ew programs", (const char *const *)entries,
                           (int)n_distinct) != 0) {
        static const char *const ew_entry[] = { GPU_EW_KERNEL };
        for (size_t i = 0; i < n_distinct; i++)
            if (build_all(seen[i], "ew program", ew_entry, 1)) {
                failed++;
                diag("its CUDA rendering:\n%s", seen[i]);
            }
        failed += failed == 0;
    }
    for (size_t i = 0; i < n_distinct; i++)
        free(entries[i]);
    free(entries);
    free(bundle);
    ok(failed == 0, "every distinct ew program (%zu) compiles with NVRTC for "
       "compute_75/80/90 and assembles with ptxas for sm_75/80/90 (%zu failed)", n_distinct,
       failed);
    for (size_t i = 0; i < n_distinct; i++)
        free(seen[i]);
    free(seen);
    free(text);
}

int main(int argc, char **argv)
{
    char why[512];
    const char *toolkit = getenv("DLHOST_CUDA_DIR") ? getenv("DLHOST_CUDA_DIR") : DLH_CUDA_DIR;
    if (gpu_nvrtc_open(&nv, toolkit, why, sizeof why) != 0) {
        char msg[700];
        snprintf(msg, sizeof msg, "cuda compile check: no NVRTC (%s)", why);
        skip_all(msg);
    }
    snprintf(ptxas, sizeof ptxas, "%s/bin/ptxas", toolkit);
    if (!*toolkit || access(ptxas, X_OK) != 0)
        skip_all("cuda compile check: no ptxas in the CUDA toolkit (configure --with-cuda)");
    diag("NVRTC %d.%d (%s), %s", nv.major, nv.minor, nv.path, ptxas);
    tmpdir_make(dir, sizeof dir, NULL, "cuda-nvrtc");

    /* The check itself: a broken kernel fails NVRTC with a log, and PTX
       that does not assemble fails ptxas. */
    {
        char buf[64], *ptx, *log, msg[2048];
        const char *opts[GPU_NVRTC_OPTS];
        int n = gpu_nvrtc_options("compute_75", buf, sizeof buf, opts);
        int rc = gpu_nvrtc_ptx(&nv, "extern \"C\" __global__ void k(float *x) { x[0] = y; }",
                               "bad.cu", n, opts, &ptx, &log);
        ok(rc > 0 && log && strstr(log, "\"y\""), "NVRTC refuses a kernel with an unknown "
           "name, and says which (%s)", rc > 0 ? nv.error_string(rc) : "compiled");
        free(ptx);
        free(log);
        ok(assemble(".version 8.0\n.target sm_75\n.address_size 64\nnonsense\n", "75", msg,
                    sizeof msg) != 0, "ptxas refuses PTX that does not assemble");
    }

    /* The fixed kernels: gpu_kernel_names is the table the cuda backend looks
       them up by (cu_kernels_load) and elementwise programs are
       GPU_EW_KERNEL, as cu_ew.c's: no second list of names to drift. */
    ok(build_all(gpu_kernel_source(GPU_CUDA), "the fixed kernels", gpu_kernel_names,
                 GPU_K_COUNT) == 0,
       "the %d fixed kernels compile for compute_75/80/90 and assemble for sm_75/80/90",
       GPU_K_COUNT);

    /* A program of every opcode and of the draws, with constants of each
       kind: the generator's every form. */
    static const char every_op[] =
        "in x, y, b; inout p; out q; scalar s, u; key k;\n"
        "t = x + y - x*y/(y + 1) + -x;\n"
        "t = t + (x < y) + (x <= y) + (x > y) + (x >= y) + (x == y) + (x != y);\n"
        "t = t + exp(x) + log(y) + sqrt(y) + rsqrt(y) + abs(x) + sign(x) + tanh(x);\n"
        "t = t + sigmoid(x) + min(x, y) + max(x, y) + pow(y, s) + select(x, y, b);\n"
        "t = t + erf(x) + floor(x) + ceil(x) + round(x) + sin(x) + cos(x);\n"
        "t = t + fmod(x, 3) + atan2(x, y) + idx + uniform(k) + normal(k);\n"
        "p = p*u + t*s + 1.5e-3;\n"
        "q = select(p > 1e30, 1/0, 0) + select(p < -1e30, -1/0, 0/0);\n";
    dlh_ew_program *prog;
    int rc = dlh_ew_parse(every_op, &prog);
    ok(rc == 0, "the program of every opcode parses (%s)", rc ? dlh_error_get() : "ok");
    if (rc == 0) {
        char *cuda = NULL;
        unsigned char written[DLH_EW_MAX_OPERANDS];
        rc = gpu_ew_source(dlh_host_table(), "cuda", GPU_CUDA, prog, &cuda, written);
        static const char *const ew_entry[] = { GPU_EW_KERNEL };
        ok(rc == 0 && build_all(cuda, "every opcode", ew_entry, 1) == 0,
           "the program of every opcode compiles and assembles for every architecture");
        free(cuda);
        dlh_ew_program_free(prog);
    }

    if (argc > 1)
        check_programs(argv[1]);
    else
        skip("no program record given (tests/test_cuda_compile.sh gives one)");
    tmpdir_remove(dir);
    gpu_nvrtc_close(&nv);
    return done_testing();
}
