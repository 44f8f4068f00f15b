/* The fixed kernels of the GPU backends, in the dialect of gpu_source.h.
 *
 * Each kernel computes what the cpu backend's loop computes, in the same
 * order where the order shows in the bits: col2im and the pooling backward
 * passes gather the contributions of one element in the order cpu adds
 * them, scatter_add walks the rows in order per column, and sums accumulate
 * in double (acc_t) where the device has it, as cpu does.  Maxima are taken
 * as cpu takes them: a NaN wins, then the larger value, then the lower index.
 * Contraction is off so that a*b + c rounds twice, as on the cpu.
 * Rendered as OpenCL C (the opencl backend builds it at create, and the
 * test suite runs it on PoCL) or as CUDA C++ (compiled with NVRTC). */
#include "gpu_source.h"

const char *const gpu_kernel_names[GPU_K_COUNT] = {
    [GPU_K_SCALE] = "dlh_scale",
    [GPU_K_REDUCE_ROWS] = "dlh_reduce_rows",
    [GPU_K_REDUCE_COLS] = "dlh_reduce_cols",
    [GPU_K_SOFTMAX] = "dlh_softmax",
    [GPU_K_IM2COL] = "dlh_im2col",
    [GPU_K_COL2IM] = "dlh_col2im",
    [GPU_K_POOL] = "dlh_pool",
    [GPU_K_POOL_BWD_MAX] = "dlh_pool_bwd_max",
    [GPU_K_POOL_BWD_AVG] = "dlh_pool_bwd_avg",
    [GPU_K_GATHER] = "dlh_gather",
    [GPU_K_SCATTER_ADD] = "dlh_scatter_add",
    [GPU_K_RAND] = "dlh_rand",
    [GPU_K_IM2COL_ROWS] = "dlh_im2col_rows",
    [GPU_K_COL2IM_ROWS] = "dlh_col2im_rows",
};

/* The dialect as OpenCL C 1.2. */
#define GPU_PRELUDE_OPENCL \
"#pragma OPENCL FP_CONTRACT OFF\n" \
"#ifdef DLH_FP64\n" \
"#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n" \
"#endif\n" \
"#ifdef OCL_ROW_WG\n" \
"#define DLH_ROW_WG OCL_ROW_WG\n" \
"#endif\n" \
"#define KERNEL __kernel\n" \
"#define DEVFN inline\n" \
"#define GLOBAL __global\n" \
"#define LOCAL __local\n" \
"#define SHARED __local\n" \
"#define GLOBAL_ID get_global_id(0)\n" \
"#define LOCAL_ID ((int)get_local_id(0))\n" \
"#define LOCAL_SIZE ((int)get_local_size(0))\n" \
"#define GROUP_ID get_group_id(0)\n" \
"#define BARRIER barrier(CLK_LOCAL_MEM_FENCE)\n" \
"#define UINT4(a, b, c, d) ((uint4)((a), (b), (c), (d)))\n" \
"#define MUL_HI(a, b) mul_hi((a), (b))\n" \
"#define AS_UINT(x) as_uint(x)\n" \
"#define AS_FLOAT(x) as_float(x)\n"

/* The dialect as CUDA C++ for NVRTC (no headers: the built-in types and
   math overloads only).  Kernels are extern "C" so that cuModuleGetFunction
   finds them by these names; int16 is a struct of the same 16 ints. */
#define GPU_PRELUDE_CUDA \
"typedef unsigned int uint;\n" \
"typedef unsigned long long ulong;\n" \
"typedef struct { int s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, sa, sb, sc, sd, se, sf; } int16;\n" \
"#define DLH_FP64 1\n" \
"#define KERNEL extern \"C\" __global__\n" \
"#define DEVFN static __device__ inline\n" \
"#define GLOBAL\n" \
"#define LOCAL\n" \
"#define SHARED __shared__\n" \
"#define GLOBAL_ID ((size_t)blockIdx.x * blockDim.x + threadIdx.x)\n" \
"#define LOCAL_ID ((int)threadIdx.x)\n" \
"#define LOCAL_SIZE ((int)blockDim.x)\n" \
"#define GROUP_ID ((size_t)blockIdx.x)\n" \
"#define BARRIER __syncthreads()\n" \
"#define UINT4(a, b, c, d) make_uint4((a), (b), (c), (d))\n" \
"#define MUL_HI(a, b) __umulhi((a), (b))\n" \
"#define AS_UINT(x) __float_as_uint(x)\n" \
"#define AS_FLOAT(x) __uint_as_float(x)\n" \
"#ifndef INFINITY\n" \
"#define INFINITY __int_as_float(0x7f800000)\n" \
"#endif\n" \
"#ifndef NAN\n" \
"#define NAN __int_as_float(0x7fffffff)\n" \
"#endif\n"

#define GPU_PHILOX_SOURCE \
"/* Philox 4x32-10 of dlhost/philox.h: counter (c, stream), key seed. */\n" \
"DEVFN uint4 philox(ulong seed, ulong stream, ulong c)\n" \
"{\n" \
"    uint c0 = (uint)c, c1 = (uint)(c >> 32), c2 = (uint)stream, c3 = (uint)(stream >> 32);\n" \
"    uint k0 = (uint)seed, k1 = (uint)(seed >> 32);\n" \
"    for (int r = 0; r < 10; r++) {\n" \
"        uint hi0 = MUL_HI(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;\n" \
"        uint hi1 = MUL_HI(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;\n" \
"        uint n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;\n" \
"        c1 = lo1;\n" \
"        c3 = lo0;\n" \
"        c0 = n0;\n" \
"        c2 = n2;\n" \
"        k0 += 0x9E3779B9u;\n" \
"        k1 += 0xBB67AE85u;\n" \
"    }\n" \
"    return UINT4(c0, c1, c2, c3);\n" \
"}\n" \
"\n" \
"DEVFN float philox_unit(uint w)\n" \
"{\n" \
"    return (float)(w >> 8) * (1.0f / 16777216.0f);\n" \
"}\n" \
"\n"

const char gpu_philox_source[] = GPU_PHILOX_SOURCE;

#define GPU_KERNELS \
"#ifdef DLH_FP64\n" \
"typedef double acc_t;\n" \
"#else\n" \
"typedef float acc_t;\n" \
"#endif\n" \
"\n" \
"/* 2-D window geometry (dlh_window2d without struct_size) */\n" \
"#define G_C g.s0\n" \
"#define G_H g.s1\n" \
"#define G_W g.s2\n" \
"#define G_KH g.s3\n" \
"#define G_KW g.s4\n" \
"#define G_SH g.s5\n" \
"#define G_SW g.s6\n" \
"#define G_PH g.s7\n" \
"#define G_PW g.s8\n" \
"#define G_DH g.s9\n" \
"#define G_DW g.sa\n" \
"#define G_OH g.sb\n" \
"#define G_OW g.sc\n" \
"\n" \
"/* Whether (bv, bi) replaces (av, ai) as the maximum: NaN first, then the\n" \
"   larger value, then the lower index (the cpu's first maximum). */\n" \
"DEVFN int max_takes(float av, int ai, float bv, int bi)\n" \
"{\n" \
"    int an = isnan(av), bn = isnan(bv);\n" \
"    if (an || bn)\n" \
"        return bn && (!an || bi < ai);\n" \
"    return bv > av || (bv == av && bi < ai);\n" \
"}\n" \
"\n" \
"/* C = beta C for gemm with k = 0; beta = 0 overwrites, as BLAS does. */\n" \
"KERNEL void dlh_scale(GLOBAL float *c, ulong co, int m, int n, int ldc, float beta)\n" \
"{\n" \
"    size_t t = GLOBAL_ID;\n" \
"    if (t >= (size_t)m * (size_t)n)\n" \
"        return;\n" \
"    GLOBAL float *p = c + co + (t / n) * (size_t)ldc + t % n;\n" \
"    *p = beta == 0.0f ? 0.0f : *p * beta;\n" \
"}\n" \
"\n" \
"/* The maximum (value, index) of this group's (lval, lidx), into [0]. */\n" \
"DEVFN void group_max(LOCAL float *lval, LOCAL int *lidx)\n" \
"{\n" \
"    int lid = LOCAL_ID;\n" \
"    BARRIER;\n" \
"    for (int s = LOCAL_SIZE / 2; s > 0; s >>= 1) {\n" \
"        if (lid < s && lidx[lid + s] >= 0 &&\n" \
"            (lidx[lid] < 0 || max_takes(lval[lid], lidx[lid], lval[lid + s], lidx[lid + s]))) {\n" \
"            lval[lid] = lval[lid + s];\n" \
"            lidx[lid] = lidx[lid + s];\n" \
"        }\n" \
"        BARRIER;\n" \
"    }\n" \
"}\n" \
"\n" \
"DEVFN acc_t group_sum(LOCAL acc_t *lsum)\n" \
"{\n" \
"    int lid = LOCAL_ID;\n" \
"    BARRIER;\n" \
"    for (int s = LOCAL_SIZE / 2; s > 0; s >>= 1) {\n" \
"        if (lid < s)\n" \
"            lsum[lid] += lsum[lid + s];\n" \
"        BARRIER;\n" \
"    }\n" \
"    return lsum[0];\n" \
"}\n" \
"\n" \
"/* This work-item's share of row r (cols long): its maximum into lval/lidx. */\n" \
"DEVFN void item_max(GLOBAL const float *r, int cols, LOCAL float *lval,\n" \
"                     LOCAL int *lidx)\n" \
"{\n" \
"    int lid = LOCAL_ID, nl = LOCAL_SIZE, bi = -1;\n" \
"    float best = 0.0f;\n" \
"    for (int j = lid; j < cols; j += nl) {\n" \
"        float v = r[j];\n" \
"        if (bi < 0 || max_takes(best, bi, v, j)) {\n" \
"            best = v;\n" \
"            bi = j;\n" \
"        }\n" \
"    }\n" \
"    lval[lid] = best;\n" \
"    lidx[lid] = bi;\n" \
"}\n" \
"\n" \
"/* One work-group per row: op 0 sum, 1 max (+ argmax), 2 sum of squares. */\n" \
"KERNEL void dlh_reduce_rows(int op, int cols, GLOBAL const float *x, ulong xo,\n" \
"                              GLOBAL float *out, ulong oo, GLOBAL int *idx,\n" \
"                              ulong io, int want_idx)\n" \
"{\n" \
"    SHARED float lval[DLH_ROW_WG];\n" \
"    SHARED int lidx[DLH_ROW_WG];\n" \
"    SHARED acc_t lsum[DLH_ROW_WG];\n" \
"    size_t row = GROUP_ID;\n" \
"    int lid = LOCAL_ID, nl = LOCAL_SIZE;\n" \
"    GLOBAL const float *r = x + xo + row * (size_t)cols;\n" \
"    if (op == 1) {\n" \
"        item_max(r, cols, lval, lidx);\n" \
"        group_max(lval, lidx);\n" \
"        if (lid == 0) {\n" \
"            out[oo + row] = lval[0];\n" \
"            if (want_idx)\n" \
"                idx[io + row] = lidx[0];\n" \
"        }\n" \
"        return;\n" \
"    }\n" \
"    acc_t s = 0;\n" \
"    for (int j = lid; j < cols; j += nl) {\n" \
"        acc_t v = r[j];\n" \
"        s += op == 2 ? v * v : v;\n" \
"    }\n" \
"    lsum[lid] = s;\n" \
"    s = group_sum(lsum);\n" \
"    if (lid == 0)\n" \
"        out[oo + row] = (float)s;\n" \
"}\n" \
"\n" \
"/* One work-item per column, rows in order as on the cpu. */\n" \
"KERNEL void dlh_reduce_cols(int op, int rows, int cols, GLOBAL const float *x,\n" \
"                              ulong xo, GLOBAL float *out, ulong oo,\n" \
"                              GLOBAL int *idx, ulong io, int want_idx)\n" \
"{\n" \
"    size_t j = GLOBAL_ID;\n" \
"    if (j >= (size_t)cols)\n" \
"        return;\n" \
"    GLOBAL const float *p = x + xo + j;\n" \
"    if (op == 1) {\n" \
"        float best = p[0];\n" \
"        int bi = 0;\n" \
"        for (int i = 1; i < rows; i++) {\n" \
"            float v = p[(size_t)i * cols];\n" \
"            if (!(v <= best) && best == best) {\n" \
"                best = v;\n" \
"                bi = i;\n" \
"            }\n" \
"        }\n" \
"        out[oo + j] = best;\n" \
"        if (want_idx)\n" \
"            idx[io + j] = bi;\n" \
"        return;\n" \
"    }\n" \
"    acc_t s = 0;\n" \
"    for (int i = 0; i < rows; i++) {\n" \
"        acc_t v = p[(size_t)i * cols];\n" \
"        s += op == 2 ? v * v : v;\n" \
"    }\n" \
"    out[oo + j] = (float)s;\n" \
"}\n" \
"\n" \
"/* One work-group per row; y may be x: every read of the row happens\n" \
"   before the barriers of the sum, and the last pass reads element j just\n" \
"   before it writes it. */\n" \
"KERNEL void dlh_softmax(int use_log, int cols, GLOBAL const float *x, ulong xo,\n" \
"                          GLOBAL float *y, ulong yo)\n" \
"{\n" \
"    SHARED float lval[DLH_ROW_WG];\n" \
"    SHARED int lidx[DLH_ROW_WG];\n" \
"    SHARED acc_t lsum[DLH_ROW_WG];\n" \
"    size_t row = GROUP_ID;\n" \
"    int lid = LOCAL_ID, nl = LOCAL_SIZE;\n" \
"    GLOBAL const float *r = x + xo + row * (size_t)cols;\n" \
"    GLOBAL float *w = y + yo + row * (size_t)cols;\n" \
"    item_max(r, cols, lval, lidx);\n" \
"    group_max(lval, lidx);\n" \
"    float mx = lval[0];\n" \
"    acc_t s = 0;\n" \
"    for (int j = lid; j < cols; j += nl)\n" \
"        s += (acc_t)exp(r[j] - mx);\n" \
"    lsum[lid] = s;\n" \
"    s = group_sum(lsum);\n" \
"    if (use_log) {\n" \
"        float ls = (float)log(s);\n" \
"        for (int j = lid; j < cols; j += nl)\n" \
"            w[j] = (r[j] - mx) - ls;\n" \
"    } else {\n" \
"        float inv = (float)((acc_t)1 / s);\n" \
"        for (int j = lid; j < cols; j += nl)\n" \
"            w[j] = exp(r[j] - mx) * inv;\n" \
"    }\n" \
"}\n" \
"\n" \
"/* One work-item per column element: total = n * c*kh*kw * oh*ow. */\n" \
"KERNEL void dlh_im2col(int16 g, ulong total, GLOBAL const float *img, ulong io,\n" \
"                         GLOBAL float *col, ulong co)\n" \
"{\n" \
"    size_t t = GLOBAL_ID;\n" \
"    if (t >= total)\n" \
"        return;\n" \
"    size_t rows = (size_t)G_C * G_KH * G_KW;\n" \
"    size_t ox = t % G_OW, q = t / G_OW;\n" \
"    size_t oy = q % G_OH;\n" \
"    q /= G_OH;\n" \
"    size_t r = q % rows, ni = q / rows;\n" \
"    int ch = r / (G_KH * G_KW), ky = r / G_KW % G_KH, kx = r % G_KW;\n" \
"    long iy = (long)oy * G_SH - G_PH + (long)ky * G_DH;\n" \
"    long ix = (long)ox * G_SW - G_PW + (long)kx * G_DW;\n" \
"    float v = 0.0f;\n" \
"    if (iy >= 0 && iy < G_H && ix >= 0 && ix < G_W)\n" \
"        v = img[io + ((ni * G_C + ch) * G_H + iy) * G_W + ix];\n" \
"    col[co + t] = v;\n" \
"}\n" \
"\n" \
"/* One work-item per image element: total = n*c*h*w.  Adds the column\n" \
"   entries that map to it in the cpu's order (ky, kx ascending). */\n" \
"KERNEL void dlh_col2im(int16 g, ulong total, GLOBAL const float *col, ulong co,\n" \
"                         GLOBAL float *img, ulong io)\n" \
"{\n" \
"    size_t t = GLOBAL_ID;\n" \
"    if (t >= total)\n" \
"        return;\n" \
"    long ix = t % G_W, iy = t / G_W % G_H;\n" \
"    size_t p = t / G_W / G_H;\n" \
"    GLOBAL const float *d = col + co + p * (size_t)(G_KH * G_KW) * G_OH * G_OW;\n" \
"    float acc = img[io + t];\n" \
"    for (int ky = 0; ky < G_KH; ky++) {\n" \
"        long ty = iy + G_PH - (long)ky * G_DH;\n" \
"        if (ty < 0 || ty % G_SH != 0 || ty / G_SH >= G_OH)\n" \
"            continue;\n" \
"        for (int kx = 0; kx < G_KW; kx++) {\n" \
"            long tx = ix + G_PW - (long)kx * G_DW;\n" \
"            if (tx < 0 || tx % G_SW != 0 || tx / G_SW >= G_OW)\n" \
"                continue;\n" \
"            acc += d[((size_t)(ky * G_KW + kx) * G_OH + ty / G_SH) * G_OW + tx / G_SW];\n" \
"        }\n" \
"    }\n" \
"    img[io + t] = acc;\n" \
"}\n" \
"\n" \
"/* im2col with one work-item per output row of the column buffer (OW\n" \
"   elements): rows = n * c*kh*kw * oh.  The index arithmetic is done once\n" \
"   per row, and the loop over the row is plain: CPU devices (PoCL) use it,\n" \
"   GPUs keep dlh_im2col's one work-item per element. */\n" \
"KERNEL void dlh_im2col_rows(int16 g, ulong rows, GLOBAL const float *img, ulong io,\n" \
"                              GLOBAL float *col, ulong co)\n" \
"{\n" \
"    size_t t = GLOBAL_ID;\n" \
"    if (t >= rows)\n" \
"        return;\n" \
"    int kk = G_KH * G_KW, oy = (int)(t % G_OH);\n" \
"    size_t q = t / G_OH;\n" \
"    int r = (int)(q % ((size_t)G_C * kk));\n" \
"    size_t ni = q / ((size_t)G_C * kk);\n" \
"    int ch = r / kk, ky = r / G_KW % G_KH, kx = r % G_KW;\n" \
"    int iy = oy * G_SH - G_PH + ky * G_DH;\n" \
"    GLOBAL float *dst = col + co + t * G_OW;\n" \
"    if (iy < 0 || iy >= G_H) {\n" \
"        for (int ox = 0; ox < G_OW; ox++)\n" \
"            dst[ox] = 0.0f;\n" \
"        return;\n" \
"    }\n" \
"    GLOBAL const float *src = img + io + ((ni * G_C + ch) * G_H + iy) * G_W;\n" \
"    int x0 = kx * G_DW - G_PW;\n" \
"    for (int ox = 0; ox < G_OW; ox++) {\n" \
"        int ix = x0 + ox * G_SW;\n" \
"        dst[ox] = ix >= 0 && ix < G_W ? src[ix] : 0.0f;\n" \
"    }\n" \
"}\n" \
"\n" \
"/* col2im with one work-item per image row (W elements): rows = n*c*h.\n" \
"   Each element still gets its contributions in the cpu's order (ky, kx\n" \
"   ascending), added into the image in place. */\n" \
"KERNEL void dlh_col2im_rows(int16 g, ulong rows, GLOBAL const float *col, ulong co,\n" \
"                              GLOBAL float *img, ulong io)\n" \
"{\n" \
"    size_t t = GLOBAL_ID;\n" \
"    if (t >= rows)\n" \
"        return;\n" \
"    int iy = (int)(t % G_H);\n" \
"    size_t p = t / G_H;\n" \
"    GLOBAL const float *d = col + co + p * (size_t)(G_KH * G_KW) * G_OH * G_OW;\n" \
"    GLOBAL float *out = img + io + t * G_W;\n" \
"    for (int ky = 0; ky < G_KH; ky++) {\n" \
"        int ty = iy + G_PH - ky * G_DH;\n" \
"        if (ty < 0 || ty % G_SH != 0 || ty / G_SH >= G_OH)\n" \
"            continue;\n" \
"        for (int kx = 0; kx < G_KW; kx++) {\n" \
"            GLOBAL const float *dr = d + ((size_t)(ky * G_KW + kx) * G_OH + ty / G_SH) * G_OW;\n" \
"            int off = G_PW - kx * G_DW;\n" \
"            if (G_SW == 1) {\n" \
"                int lo = -off > 0 ? -off : 0, hi = G_OW - off < G_W ? G_OW - off : G_W;\n" \
"                for (int ix = lo; ix < hi; ix++)\n" \
"                    out[ix] += dr[ix + off];\n" \
"                continue;\n" \
"            }\n" \
"            for (int ix = 0; ix < G_W; ix++) {\n" \
"                int tx = ix + off;\n" \
"                if (tx >= 0 && tx % G_SW == 0 && tx / G_SW < G_OW)\n" \
"                    out[ix] += dr[tx / G_SW];\n" \
"            }\n" \
"        }\n" \
"    }\n" \
"}\n" \
"\n" \
"DEVFN long ceil_div(long a, long b)\n" \
"{\n" \
"    return a <= 0 ? 0 : (a + b - 1) / b;\n" \
"}\n" \
"\n" \
"/* Cells of a window starting at `off` (dilation d, k taps) inside [0, size). */\n" \
"DEVFN long window_cells(long off, int d, int size, int k)\n" \
"{\n" \
"    long lo = ceil_div(-off, d), hi = ceil_div(size - off, d);\n" \
"    if (hi > k)\n" \
"        hi = k;\n" \
"    return hi > lo ? hi - lo : 0;\n" \
"}\n" \
"\n" \
"/* One work-item per output: op 0 max (first max, a NaN wins; index -1 for\n" \
"   a window of padding alone), 1 average over the cells inside the input,\n" \
"   2 their sum over the window cells inside the padded input, 3 max over\n" \
"   relu's values (x > 0 ? x : +0), index -1 where it is not above 0\n" \
"   (pool2d_max_relu). */\n" \
"KERNEL void dlh_pool(int16 g, int op, ulong total, GLOBAL const float *x, ulong xo,\n" \
"                       GLOBAL float *y, ulong yo, GLOBAL int *idx, ulong io,\n" \
"                       int want_idx)\n" \
"{\n" \
"    size_t t = GLOBAL_ID;\n" \
"    if (t >= total)\n" \
"        return;\n" \
"    long ox = t % G_OW, oy = t / G_OW % G_OH;\n" \
"    size_t p = t / G_OW / G_OH;\n" \
"    GLOBAL const float *in = x + xo + p * G_H * G_W;\n" \
"    long y0 = oy * G_SH - G_PH, x0 = ox * G_SW - G_PW;\n" \
"    float best = -INFINITY, sum = 0.0f;\n" \
"    int bi = -1, count = 0;\n" \
"    for (int ky = 0; ky < G_KH; ky++) {\n" \
"        long iy = y0 + (long)ky * G_DH;\n" \
"        if (iy < 0 || iy >= G_H)\n" \
"            continue;\n" \
"        for (int kx = 0; kx < G_KW; kx++) {\n" \
"            long ix = x0 + (long)kx * G_DW;\n" \
"            if (ix < 0 || ix >= G_W)\n" \
"                continue;\n" \
"            float v = in[iy * G_W + ix];\n" \
"            if (op == 3)\n" \
"                v = v > 0.0f ? v : 0.0f;\n" \
"            if (op == 1 || op == 2) {\n" \
"                sum += v;\n" \
"            } else if (bi < 0 || (!(v <= best) && best == best)) {\n" \
"                best = v;\n" \
"                bi = iy * G_W + ix;\n" \
"            }\n" \
"            count++;\n" \
"        }\n" \
"    }\n" \
"    if (op == 2 && count)\n" \
"        count = (int)(window_cells(y0 + G_PH, G_DH, G_H + 2 * G_PH, G_KH) *\n" \
"                      window_cells(x0 + G_PW, G_DW, G_W + 2 * G_PW, G_KW));\n" \
"    if (op == 1 || op == 2) {\n" \
"        y[yo + t] = count ? sum / (float)count : 0.0f;\n" \
"    } else {\n" \
"        y[yo + t] = best;\n" \
"        if (want_idx)\n" \
"            idx[io + t] = op == 3 && !(best > 0.0f) ? -1 : bi;\n" \
"    }\n" \
"}\n" \
"\n" \
"/* One work-item per plane, outputs in order as on the cpu: any index\n" \
"   inside the plane is honoured, others (-1) are skipped.  set: the plane\n" \
"   is zeroed first (pool2d_max_backward_set). */\n" \
"KERNEL void dlh_pool_bwd_max(int16 g, ulong planes, GLOBAL const float *dy,\n" \
"                               ulong dyo, GLOBAL const int *idx, ulong io,\n" \
"                               GLOBAL float *dx, ulong dxo, int set)\n" \
"{\n" \
"    size_t p = GLOBAL_ID;\n" \
"    if (p >= planes)\n" \
"        return;\n" \
"    size_t oplane = (size_t)G_OH * G_OW;\n" \
"    int plane = G_H * G_W;\n" \
"    GLOBAL const float *gy = dy + dyo + p * oplane;\n" \
"    GLOBAL const int *ix = idx + io + p * oplane;\n" \
"    GLOBAL float *gx = dx + dxo + p * (size_t)plane;\n" \
"    for (int i = 0; set && i < plane; i++)\n" \
"        gx[i] = 0.0f;\n" \
"    for (size_t o = 0; o < oplane; o++) {\n" \
"        int q = ix[o];\n" \
"        if (q >= 0 && q < plane)\n" \
"            gx[q] += gy[o];\n" \
"    }\n" \
"}\n" \
"\n" \
"/* One work-item per input element: total = n*c*h*w.  Adds dy/count of\n" \
"   every window holding it, windows in the cpu's order (oy, ox ascending);\n" \
"   op 2 counts the window's cells inside the padded input. */\n" \
"KERNEL void dlh_pool_bwd_avg(int16 g, ulong total, GLOBAL const float *dy,\n" \
"                               ulong dyo, GLOBAL float *dx, ulong dxo, int op)\n" \
"{\n" \
"    size_t t = GLOBAL_ID;\n" \
"    if (t >= total)\n" \
"        return;\n" \
"    long ix = t % G_W, iy = t / G_W % G_H;\n" \
"    size_t p = t / G_W / G_H;\n" \
"    GLOBAL const float *gy = dy + dyo + p * G_OH * G_OW;\n" \
"    long ylo = ceil_div(iy + G_PH - (long)(G_KH - 1) * G_DH, G_SH);\n" \
"    long yhi = (iy + G_PH) / G_SH, xhi = (ix + G_PW) / G_SW;\n" \
"    long xlo = ceil_div(ix + G_PW - (long)(G_KW - 1) * G_DW, G_SW);\n" \
"    if (yhi >= G_OH)\n" \
"        yhi = G_OH - 1;\n" \
"    if (xhi >= G_OW)\n" \
"        xhi = G_OW - 1;\n" \
"    float acc = dx[dxo + t];\n" \
"    for (long oy = ylo; oy <= yhi; oy++) {\n" \
"        long y0 = oy * G_SH - G_PH;\n" \
"        if ((iy - y0) % G_DH != 0)\n" \
"            continue;\n" \
"        long ny = window_cells(y0, G_DH, G_H, G_KH);\n" \
"        for (long ox = xlo; ox <= xhi; ox++) {\n" \
"            long x0 = ox * G_SW - G_PW;\n" \
"            if ((ix - x0) % G_DW != 0)\n" \
"                continue;\n" \
"            long cnt = op == 2\n" \
"                ? window_cells(y0 + G_PH, G_DH, G_H + 2 * G_PH, G_KH) *\n" \
"                  window_cells(x0 + G_PW, G_DW, G_W + 2 * G_PW, G_KW)\n" \
"                : ny * window_cells(x0, G_DW, G_W, G_KW);\n" \
"            acc += gy[oy * G_OW + ox] / (float)cnt;\n" \
"        }\n" \
"    }\n" \
"    dx[dxo + t] = acc;\n" \
"}\n" \
"\n" \
"/* dst[i,:] = src[idx[i],:]; indices were checked on the host. */\n" \
"KERNEL void dlh_gather(ulong total, int cols, GLOBAL const float *src, ulong so,\n" \
"                         GLOBAL const int *idx, ulong io, GLOBAL float *dst,\n" \
"                         ulong dso)\n" \
"{\n" \
"    size_t t = GLOBAL_ID;\n" \
"    if (t >= total)\n" \
"        return;\n" \
"    size_t i = t / cols, j = t % cols;\n" \
"    dst[dso + t] = src[so + (size_t)idx[io + i] * cols + j];\n" \
"}\n" \
"\n" \
"/* dst[idx[i],:] += src[i,:]: one work-item per column walks the rows in\n" \
"   order, so repeated indices add deterministically, as on the cpu. */\n" \
"KERNEL void dlh_scatter_add(int n, int cols, GLOBAL const float *src, ulong so,\n" \
"                              GLOBAL const int *idx, ulong io, GLOBAL float *dst,\n" \
"                              ulong dso)\n" \
"{\n" \
"    size_t j = GLOBAL_ID;\n" \
"    if (j >= (size_t)cols)\n" \
"        return;\n" \
"    for (int i = 0; i < n; i++)\n" \
"        dst[dso + (size_t)idx[io + i] * cols + j] += src[so + (size_t)i * cols + j];\n" \
"}\n" \
"\n" \
GPU_PHILOX_SOURCE \
"/* dist 0 uniform a + (b-a) u, 1 normal (mean a, sd b), 2 bernoulli(a). */\n" \
"KERNEL void dlh_rand(int dist, ulong n, GLOBAL float *dst, ulong dso, ulong seed,\n" \
"                       ulong stream, ulong offset, float a, float b)\n" \
"{\n" \
"    size_t i = GLOBAL_ID;\n" \
"    if (i >= n)\n" \
"        return;\n" \
"    uint4 w = philox(seed, stream, offset + i);\n" \
"    float u0 = philox_unit(w.x), v;\n" \
"    if (dist == 0) {\n" \
"        v = a + (b - a) * u0;\n" \
"    } else if (dist == 1) {\n" \
"        float r = sqrt(-2.0f * log(1.0f - u0));\n" \
"        v = a + b * r * cos(6.28318530717958647692f * philox_unit(w.y));\n" \
"    } else {\n" \
"        v = u0 < a ? 1.0f : 0.0f;\n" \
"    }\n" \
"    dst[dso + i] = v;\n" \
"}\n"

static const char kernels_opencl[] = GPU_PRELUDE_OPENCL GPU_KERNELS;
static const char kernels_cuda[] = GPU_PRELUDE_CUDA GPU_KERNELS;

const char *gpu_dialect_name(gpu_dialect d)
{
    return d == GPU_CUDA ? "CUDA C++" : "OpenCL C";
}

const char *gpu_prelude(gpu_dialect d)
{
    return d == GPU_CUDA ? GPU_PRELUDE_CUDA : GPU_PRELUDE_OPENCL;
}

const char *gpu_kernel_source(gpu_dialect d)
{
    return d == GPU_CUDA ? kernels_cuda : kernels_opencl;
}
