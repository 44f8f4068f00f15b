/* NVRTC by dlopen: see gpu_nvrtc.h. */
#include "gpu_nvrtc.h"

#include "gpu_dl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gpu_nvrtc_open(gpu_nvrtc *nv, const char *toolkit, char *why, size_t size)
{
    memset(nv, 0, sizeof *nv);
    static const char *const names[] = { "libnvrtc.so.13", "libnvrtc.so.12", NULL };
    static const char *const subdirs[] = { "lib64", NULL };
    nv->lib = gpu_dl_open(NULL, toolkit, subdirs, names, nv->path, sizeof nv->path, why,
                          size);
    if (nv->lib == NULL)
        return -1;
    const gpu_dl_sym syms[] = {
        { "nvrtcCreateProgram", (void **)&nv->create },
        { "nvrtcCompileProgram", (void **)&nv->compile },
        { "nvrtcGetProgramLogSize", (void **)&nv->log_size },
        { "nvrtcGetProgramLog", (void **)&nv->log },
        { "nvrtcGetPTXSize", (void **)&nv->ptx_size },
        { "nvrtcGetPTX", (void **)&nv->ptx },
        { "nvrtcDestroyProgram", (void **)&nv->destroy },
        { "nvrtcGetErrorString", (void **)&nv->error_string },
        { "nvrtcVersion", (void **)&nv->version },
    };
    const char *missing = gpu_dl_syms(nv->lib, syms, sizeof syms / sizeof syms[0]);
    if (missing != NULL) {
        snprintf(why, size, "%s has no %s", nv->path, missing);
        gpu_nvrtc_close(nv);
        return -1;
    }
    if (nv->version(&nv->major, &nv->minor) != 0)
        nv->major = nv->minor = 0;
    return 0;
}

/* Handles are kept loaded, as the plugin loader keeps its own: closing
   NVRTC while its threads may still run is not safe. */
void gpu_nvrtc_close(gpu_nvrtc *nv)
{
    nv->lib = NULL;
}

int gpu_nvrtc_ptx(const gpu_nvrtc *nv, const char *source, const char *name,
                  int n_options, const char *const *options, char **ptx, char **log)
{
    *ptx = NULL;
    *log = NULL;
    void *prog = NULL;
    int rc = nv->create(&prog, source, name, 0, NULL, NULL);
    if (rc != 0)
        return rc;
    rc = nv->compile(prog, n_options, options);
    size_t n = 0;
    if (nv->log_size(prog, &n) == 0 && n > 1 && (*log = malloc(n)) != NULL &&
        nv->log(prog, *log) != 0) {
        free(*log);
        *log = NULL;
    }
    if (rc == 0 && (rc = nv->ptx_size(prog, &n)) == 0) {
        if ((*ptx = malloc(n)) == NULL)
            rc = -1;
        else if ((rc = nv->ptx(prog, *ptx)) != 0) {
            free(*ptx);
            *ptx = NULL;
        }
    }
    nv->destroy(&prog);
    return rc;
}

int gpu_nvrtc_options(const char *arch, char *buf, size_t size, const char **opts)
{
    int w = snprintf(buf, size, "--gpu-architecture=%s", arch);
    if (w < 0 || (size_t)w >= size)
        buf[0] = '\0';
    static const char row_wg[] = "-DDLH_ROW_WG=256";
    _Static_assert(GPU_CUDA_ROW_WG == 256, "row_wg names GPU_CUDA_ROW_WG");
    opts[0] = buf;
    opts[1] = "--fmad=false";
    opts[2] = "--prec-div=true";
    opts[3] = "--prec-sqrt=true";
    opts[4] = "-std=c++17";
    opts[5] = row_wg;
    return GPU_NVRTC_OPTS;
}
