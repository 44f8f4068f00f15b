/* Register-tiled sgemm for CPU devices (PoCL), in place of CLBlast there.
 *
 * CLBlast has no tuned parameters for PoCL's CPU device and falls back to
 * its scalar XgemmDirect kernels: 5-9 GFLOP per CPU-second on this
 * machine's Zen 5 (pthread-skylake-avx512) for the MLP's shapes, against
 * 15-45 for these kernels (bench/README.md, "opencl on PoCL").  Each
 * work-item keeps a tile of C in vector registers and walks k reading A
 * and B straight from memory (a CPU's caches do what local memory does on a
 * GPU; barriers would only split PoCL's work-item loops):
 *
 *   dlh_tgemm_nb  B not transposed: TM rows x VW columns, one float16 of C
 *                 per row, A's element broadcast (A either way round);
 *                 a strip of fewer than 16 columns at n's edge is scalar;
 *   dlh_tgemm_tb  B transposed, A not: UM x UN dot products of float16
 *                 lanes along k, summed at the end.
 *
 * Both take a batch of problems with uniform strides (one launch; the
 * caller makes sure the C matrices are disjoint).  Sums use fma and a
 * different order from the cpu's BLAS, as CLBlast's do: gemm is checked
 * against cpu to TOL_ACCUM.  The source uses OpenCL's vector types, which
 * CUDA C++ lacks: it is not part of the shared GPU dialect (GPUs keep
 * CLBlast, and cuda cuBLAS).  TT stays with CLBlast. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencl.h"

#define TG_TM 8             /* rows of a dlh_tgemm_nb tile */
#define TG_VW 16            /* its columns: one float16 */
#define TG_UM 4             /* dlh_tgemm_tb tile: rows */
#define TG_UN 4             /* and columns */
#define TG_WG 16            /* work-items per group */

#define STR_(x) #x
#define STR(x) STR_(x)

static const char tiled_source[] =
"#define TM " STR(TG_TM) "\n"
"#define UM " STR(TG_UM) "\n"
"#define UN " STR(TG_UN) "\n"
"\n"
"DEVFN float hsum16(float16 v)\n"
"{\n"
"    float8 h = v.lo + v.hi;\n"
"    float4 g = h.lo + h.hi;\n"
"    float2 f = g.lo + g.hi;\n"
"    return f.x + f.y;\n"
"}\n"
"\n"
"DEVFN void store_c(GLOBAL float *cp, float alpha, float x, float beta)\n"
"{\n"
"    *cp = beta == 0.0f ? alpha * x : alpha * x + beta * *cp;\n"
"}\n"
"\n"
"/* C = alpha op(A) B + beta C, row-major; one work-item per TM x 16 tile,\n"
"   `batch` problems sa, sb, sc apart. */\n"
"KERNEL void dlh_tgemm_nb(int ta, int m, int n, int k, float alpha,\n"
"                         GLOBAL const float *a, ulong ao, int lda, ulong sa,\n"
"                         GLOBAL const float *b, ulong bo, int ldb, ulong sb,\n"
"                         float beta, GLOBAL float *c, ulong co, int ldc, ulong sc,\n"
"                         int batch)\n"
"{\n"
"    size_t t = GLOBAL_ID;\n"
"    size_t tn = (n + 15) / 16, tiles = (size_t)((m + TM - 1) / TM) * tn;\n"
"    if (t >= tiles * (size_t)batch)\n"
"        return;\n"
"    size_t bi = t / tiles;\n"
"    t %= tiles;\n"
"    int i0 = (int)(t / tn) * TM, j0 = (int)(t % tn) * 16;\n"
"    size_t ai = ta ? 1 : (size_t)lda, ak = ta ? (size_t)lda : 1;\n"
"    GLOBAL const float *ap = a + ao + bi * sa + (size_t)i0 * ai;\n"
"    GLOBAL const float *bp = b + bo + bi * sb + j0;\n"
"    GLOBAL float *cp = c + co + bi * sc + (size_t)i0 * ldc + j0;\n"
"    int mr = m - i0 < TM ? m - i0 : TM, nq = n - j0 < 16 ? n - j0 : 16;\n"
"    if (nq == 16) {\n"
"        /* Rows past m repeat the last one (in bounds) and are not stored. */\n"
"        size_t ar[TM];\n"
"        float16 acc[TM];\n"
"        for (int r = 0; r < TM; r++) {\n"
"            ar[r] = (size_t)(r < mr ? r : mr - 1) * ai;\n"
"            acc[r] = (float16)0.0f;\n"
"        }\n"
"        for (int p = 0; p < k; p++) {\n"
"            float16 bv = vload16(0, bp + (size_t)p * ldb);\n"
"            GLOBAL const float *ak_ = ap + p * ak;\n"
"            for (int r = 0; r < TM; r++)\n"
"                acc[r] = fma((float16)ak_[ar[r]], bv, acc[r]);\n"
"        }\n"
"        for (int r = 0; r < mr; r++) {\n"
"            GLOBAL float *cr = cp + (size_t)r * ldc;\n"
"            float16 v = alpha * acc[r];\n"
"            if (beta != 0.0f)\n"
"                v += beta * vload16(0, cr);\n"
"            vstore16(v, 0, cr);\n"
"        }\n"
"        return;\n"
"    }\n"
"    for (int r = 0; r < mr; r++)\n"
"        for (int q = 0; q < nq; q++) {\n"
"            float x = 0.0f;\n"
"            for (int p = 0; p < k; p++)\n"
"                x = fma(ap[r * ai + p * ak], bp[(size_t)p * ldb + q], x);\n"
"            store_c(cp + (size_t)r * ldc + q, alpha, x, beta);\n"
"        }\n"
"}\n"
"\n"
"/* C = alpha A B^T + beta C: one work-item per UM x UN tile of dot\n"
"   products, 16 lanes along k. */\n"
"KERNEL void dlh_tgemm_tb(int m, int n, int k, float alpha,\n"
"                         GLOBAL const float *a, ulong ao, int lda, ulong sa,\n"
"                         GLOBAL const float *b, ulong bo, int ldb, ulong sb,\n"
"                         float beta, GLOBAL float *c, ulong co, int ldc, ulong sc,\n"
"                         int batch)\n"
"{\n"
"    size_t t = GLOBAL_ID;\n"
"    size_t tn = (n + UN - 1) / UN, tiles = (size_t)((m + UM - 1) / UM) * tn;\n"
"    if (t >= tiles * (size_t)batch)\n"
"        return;\n"
"    size_t bi = t / tiles;\n"
"    t %= tiles;\n"
"    int i0 = (int)(t / tn) * UM, j0 = (int)(t % tn) * UN;\n"
"    int mr = m - i0 < UM ? m - i0 : UM, nq = n - j0 < UN ? n - j0 : UN;\n"
"    GLOBAL const float *ap = a + ao + bi * sa + (size_t)i0 * lda;\n"
"    GLOBAL const float *bp = b + bo + bi * sb + (size_t)j0 * ldb;\n"
"    GLOBAL float *cp = c + co + bi * sc + (size_t)i0 * ldc + j0;\n"
"    float s[UM][UN];\n"
"    int kv = k / 16 * 16;\n"
"    if (kv > 0) {\n"
"        /* Rows and columns past the edge repeat the last ones (in bounds)\n"
"           and are not stored. */\n"
"        size_t ar[UM], br[UN];\n"
"        float16 acc[UM][UN];\n"
"        for (int r = 0; r < UM; r++)\n"
"            ar[r] = (size_t)(r < mr ? r : mr - 1) * lda;\n"
"        for (int q = 0; q < UN; q++)\n"
"            br[q] = (size_t)(q < nq ? q : nq - 1) * ldb;\n"
"        for (int r = 0; r < UM; r++)\n"
"            for (int q = 0; q < UN; q++)\n"
"                acc[r][q] = (float16)0.0f;\n"
"        for (int p = 0; p < kv; p += 16) {\n"
"            float16 av[UM], bv[UN];\n"
"            for (int r = 0; r < UM; r++)\n"
"                av[r] = vload16(0, ap + ar[r] + p);\n"
"            for (int q = 0; q < UN; q++)\n"
"                bv[q] = vload16(0, bp + br[q] + p);\n"
"            for (int r = 0; r < UM; r++)\n"
"                for (int q = 0; q < UN; q++)\n"
"                    acc[r][q] = fma(av[r], bv[q], acc[r][q]);\n"
"        }\n"
"        for (int r = 0; r < UM; r++)\n"
"            for (int q = 0; q < UN; q++)\n"
"                s[r][q] = hsum16(acc[r][q]);\n"
"    }\n"
"    for (int r = 0; r < mr; r++)\n"
"        for (int q = 0; q < nq; q++) {\n"
"            float x = kv ? s[r][q] : 0.0f;\n"
"            for (int p = kv; p < k; p++)\n"
"                x = fma(ap[(size_t)r * lda + p], bp[(size_t)q * ldb + p], x);\n"
"            store_c(cp + (size_t)r * ldc + q, alpha, x, beta);\n"
"        }\n"
"}\n";

int ocl_tiled_init(ocl_ctx *c)
{
    size_t prelude = strlen(gpu_prelude(GPU_OPENCL));
    char *src = malloc(prelude + sizeof tiled_source);
    if (src == NULL) {
        ocl_host->error("opencl: out of memory");
        return DLH_ENOMEM;
    }
    memcpy(src, gpu_prelude(GPU_OPENCL), prelude);
    memcpy(src + prelude, tiled_source, sizeof tiled_source);
    int rc = ocl_build(c, src, "the tiled gemm kernels", &c->tiled_program);
    free(src);
    if (rc != 0)
        return rc;
    static const char *const names[2] = { "dlh_tgemm_nb", "dlh_tgemm_tb" };
    for (int i = 0; i < 2; i++) {
        cl_int err;
        c->tiled[i] = clCreateKernel(c->tiled_program, names[i], &err);
        if (err != CL_SUCCESS)
            return ocl_fail("clCreateKernel", err, "for kernel %s", names[i]);
    }
    return 0;
}

void ocl_tiled_free(ocl_ctx *c)
{
    for (int i = 0; i < 2; i++)
        if (c->tiled[i] != NULL)
            clReleaseKernel(c->tiled[i]);
    if (c->tiled_program != NULL)
        clReleaseProgram(c->tiled_program);
}

int ocl_tiled_gemm(ocl_ctx *c, const ocl_gemm_args *g)
{
    int nb = !g->tb;
    cl_kernel k = c->tiled[nb ? 0 : 1];
    int tm = nb ? TG_TM : TG_UM, tn = nb ? TG_VW : TG_UN;
    size_t tiles = (size_t)((g->m + tm - 1) / tm) * (size_t)((g->n + tn - 1) / tn);
    if (tiles > SIZE_MAX / 2 / (size_t)g->batch) {
        ocl_host->error("opencl gemm: %zu tiles in %d problems are too many", tiles,
                        g->batch);
        return DLH_EINVAL;
    }
    cl_ulong ao = g->ao, bo = g->bo, co = g->co;
    cl_ulong sa = (cl_ulong)g->sa, sb = (cl_ulong)g->sb, sc = (cl_ulong)g->sc;
    const ocl_arg head[] = { OCL_ARG(g->ta) };
    const ocl_arg args[] = {
        OCL_ARG(g->m), OCL_ARG(g->n), OCL_ARG(g->k), OCL_ARG(g->alpha),
        OCL_ARG(g->a->mem), OCL_ARG(ao), OCL_ARG(g->lda), OCL_ARG(sa),
        OCL_ARG(g->b->mem), OCL_ARG(bo), OCL_ARG(g->ldb), OCL_ARG(sb),
        OCL_ARG(g->beta), OCL_ARG(g->c->mem), OCL_ARG(co), OCL_ARG(g->ldc), OCL_ARG(sc),
        OCL_ARG(g->batch),
    };
    cl_uint i = 0;
    cl_int err = CL_SUCCESS;
    if (nb)
        err = clSetKernelArg(k, i++, head[0].size, head[0].value);
    for (size_t j = 0; j < sizeof args / sizeof args[0] && err == CL_SUCCESS; j++, i++)
        err = clSetKernelArg(k, i, args[j].size, args[j].value);
    if (err != CL_SUCCESS)
        return ocl_fail("clSetKernelArg(gemm)", err, "for argument %u of the tiled gemm",
                        i);
    return ocl_enqueue(c, k, "gemm", tiles * (size_t)g->batch, TG_WG);
}
