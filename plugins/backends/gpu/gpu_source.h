/* One kernel source for both GPU backends.
 *
 * The fixed kernels (gpu_source.c) and the kernels of elementwise programs
 * (gpu_ew.c) are written once in a small dialect of C: KERNEL for a kernel's
 * qualifier, DEVFN for a device function, GLOBAL / LOCAL for address spaces
 * of pointers, SHARED for a work-group array, GLOBAL_ID, LOCAL_ID,
 * LOCAL_SIZE and GROUP_ID for the 1-D ids, BARRIER, UINT4(a, b, c, d),
 * MUL_HI, AS_UINT and AS_FLOAT, and OpenCL's type names (uint, ulong, uint4,
 * int16 with .s0 ... .sf).  A prelude of #defines turns the dialect into
 * OpenCL C 1.2 or into CUDA C++ for NVRTC (gpu_prelude).  Math functions are
 * the overloaded names (exp, log, sqrt, ...) both languages have for float
 * and double.
 *
 * Both renderings need: no contraction of a*b + c (OpenCL: the prelude's
 * FP_CONTRACT pragma; CUDA: NVRTC's --fmad=false), correctly rounded
 * division and sqrt, and -DDLH_ROW_WG=<work-group size of the row kernels>
 * (a power of two; the OpenCL prelude takes it from -DOCL_ROW_WG, the
 * OpenCL backend's option).  CUDA always
 * has doubles; OpenCL gets -DDLH_FP64 when the device has them. */
#ifndef DLHOST_GPU_SOURCE_H
#define DLHOST_GPU_SOURCE_H

#include <stddef.h>

#include <dlhost/dlhost.h>

typedef enum gpu_dialect {
    GPU_OPENCL = 0,
    GPU_CUDA
} gpu_dialect;

/* The fixed kernels, by the index gpu_kernel_names uses. */
typedef enum gpu_kid {
    GPU_K_SCALE = 0,
    GPU_K_REDUCE_ROWS,
    GPU_K_REDUCE_COLS,
    GPU_K_SOFTMAX,
    GPU_K_IM2COL,
    GPU_K_COL2IM,
    GPU_K_POOL,
    GPU_K_POOL_BWD_MAX,
    GPU_K_POOL_BWD_AVG,
    GPU_K_GATHER,
    GPU_K_SCATTER_ADD,
    GPU_K_RAND,
    GPU_K_IM2COL_ROWS,
    GPU_K_COL2IM_ROWS,
    GPU_K_COUNT
} gpu_kid;

/* The names both backends look the fixed kernels up by (and
   tests/test_cuda_nvrtc checks the PTX defines). */
extern const char *const gpu_kernel_names[GPU_K_COUNT];
/* The name of an elementwise program's one kernel (gpu_ew_source). */
#define GPU_EW_KERNEL "dlh_ew"

/* Philox 4x32-10 of dlhost/philox.h in the dialect, without prelude:
   philox(seed, stream, c) gives the block's four words, philox_unit(w) a
   float in [0, 1).  In the rand fill and in elementwise programs that draw. */
extern const char gpu_philox_source[];

/* "OpenCL C" / "CUDA C++" */
const char *gpu_dialect_name(gpu_dialect d);
/* The #defines that make the dialect one language. */
const char *gpu_prelude(gpu_dialect d);
/* The fixed kernels, prelude included. */
const char *gpu_kernel_source(gpu_dialect d);

/* The source of an elementwise program's kernel "dlh_ew", prelude included,
   malloc'd into *source (NULL on failure); written[j] says whether array
   operand j is an output (its kernel argument then has no length and
   stride).  The program must have passed bchk_ew_program.  0, or
   DLH_ENOMEM with the message set through `host`. */
int gpu_ew_source(const dlh_host *host, const char *backend, gpu_dialect d,
                  const dlh_ew_program *prog, char **source, unsigned char *written);

#endif
