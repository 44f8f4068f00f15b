/* Elementwise programs as OpenCL kernels.
 *
 * ocl_ew_prepare writes one kernel per program: element i loads each array
 * it reads into a private variable (broadcasting as x[(i / s) % L]), runs
 * the instructions as C expressions over variables, registers, scalar
 * arguments and hex-float literals, and stores the arrays it assigned.
 * The expressions are the cpu runner's (ew_sign, ew_sigmoid, ew_min and
 * ew_max below are its functions), with FP_CONTRACT off and correctly
 * rounded division and sqrt where the device offers them, so results
 * differ from the cpu only by the few ulp of exp, log, tanh and pow.
 * Built programs are cached by source in the instance: programs that are
 * the same text (every relu layer's, say) are built once.  The driver's own
 * cache (PoCL's kcache, NVIDIA's ComputeCache) keeps them across runs. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencl.h"

struct ocl_ew_entry {
    ocl_ew_entry *next;
    char *source;
    cl_program program;
    cl_kernel kernel;
    size_t local;
    uint32_t n_arrays, n_scalars;
    unsigned char written[DLH_EW_MAX_OPERANDS];
};

/* printf formats of each opcode over its operands' expressions. */
static const char *const ew_format[DLH_EW_OPCODE_COUNT] = {
    [DLH_EW_MOV] = "%s",
    [DLH_EW_ADD] = "(%s + %s)", [DLH_EW_SUB] = "(%s - %s)",
    [DLH_EW_MUL] = "(%s * %s)", [DLH_EW_DIV] = "(%s / %s)",
    [DLH_EW_NEG] = "(-%s)",
    [DLH_EW_LT] = "(%s < %s ? 1.0f : 0.0f)", [DLH_EW_LE] = "(%s <= %s ? 1.0f : 0.0f)",
    [DLH_EW_GT] = "(%s > %s ? 1.0f : 0.0f)", [DLH_EW_GE] = "(%s >= %s ? 1.0f : 0.0f)",
    [DLH_EW_EQ] = "(%s == %s ? 1.0f : 0.0f)", [DLH_EW_NE] = "(%s != %s ? 1.0f : 0.0f)",
    [DLH_EW_EXP] = "exp(%s)", [DLH_EW_LOG] = "log(%s)", [DLH_EW_SQRT] = "sqrt(%s)",
    [DLH_EW_RSQRT] = "(1.0f / sqrt(%s))", [DLH_EW_ABS] = "fabs(%s)",
    [DLH_EW_SIGN] = "ew_sign(%s)", [DLH_EW_TANH] = "tanh(%s)",
    [DLH_EW_SIGMOID] = "ew_sigmoid(%s)",
    [DLH_EW_MIN] = "ew_min(%s, %s)", [DLH_EW_MAX] = "ew_max(%s, %s)",
    [DLH_EW_POW] = "pow(%s, %s)",
    [DLH_EW_SELECT] = "(%s != 0.0f ? %s : %s)",
    [DLH_EW_MULADD] = "(%s * %s + %s)",
};

static const char ew_prelude[] =
    "#pragma OPENCL FP_CONTRACT OFF\n"
    "inline float ew_sign(float x) { return copysign(fabs(x) > 0.0f ? 1.0f : 0.0f, x); }\n"
    "inline float ew_sigmoid(float x)\n"
    "{\n"
    "    float e = exp(-fabs(x));\n"
    "    return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);\n"
    "}\n"
    "inline float ew_min(float x, float y) { return y != y ? x : (x < y ? x : y); }\n"
    "inline float ew_max(float x, float y) { return y != y ? x : (x > y ? x : y); }\n";

/* ---- a growing string ---- */

typedef struct strbuf {
    char *p;
    size_t len, cap;
    int oom;
} strbuf;

static void sb_printf(strbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(strbuf *s, const char *fmt, ...)
{
    if (s->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(s->p ? s->p + s->len : NULL, s->p ? s->cap - s->len : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            s->oom = 1;
            return;
        }
        if (s->p && (size_t)w < s->cap - s->len) {
            s->len += (size_t)w;
            return;
        }
        size_t cap = s->cap ? s->cap * 2 : 4096;
        while (cap < s->len + (size_t)w + 1)
            cap *= 2;
        char *p = realloc(s->p, cap);
        if (p == NULL) {
            s->oom = 1;
            return;
        }
        s->p = p;
        s->cap = cap;
    }
}

/* ---- program -> source ---- */

/* The expression of one operand into buf. */
static void operand(const dlh_ew_program *prog, dlh_ew_ref r, char *buf, size_t size)
{
    switch (r.src) {
    case DLH_EW_ARRAY:
        snprintf(buf, size, "v%u", (unsigned)r.index);
        return;
    case DLH_EW_SCALAR:
        snprintf(buf, size, "k%u", (unsigned)r.index);
        return;
    case DLH_EW_REG:
        snprintf(buf, size, "r%u", (unsigned)r.index);
        return;
    default: {
        float f = prog->consts[r.index];
        if (isnan(f))
            snprintf(buf, size, "NAN");
        else if (isinf(f))
            snprintf(buf, size, f > 0 ? "INFINITY" : "(-INFINITY)");
        else
            snprintf(buf, size, "(%af)", (double)f);
    }
    }
}

/* Writes the kernel of a program that bchk_ew_program has checked. */
static int generate(const dlh_ew_program *prog, strbuf *s, unsigned char *written)
{
    /* Arrays read before the program assigns them are loaded; arrays it
       assigns are stored at the end. */
    unsigned char read[DLH_EW_MAX_OPERANDS] = { 0 }, assigned[DLH_EW_MAX_OPERANDS] = { 0 };
    for (uint32_t j = 0; j < prog->n_arrays; j++)
        written[j] = (prog->access[j] & DLH_EW_OUT) != 0;
    for (size_t i = 0; i < prog->n_instrs; i++) {
        const dlh_ew_instr *in = &prog->instrs[i];
        const dlh_ew_ref src[3] = { in->a, in->b, in->c };
        for (int j = 0; j < bchk_ew_n_src[in->op]; j++)
            if (src[j].src == DLH_EW_ARRAY)
                read[src[j].index] |= !assigned[src[j].index];
        if (in->dst.src == DLH_EW_ARRAY)
            assigned[in->dst.index] = 1;
    }

    sb_printf(s, "%s__kernel void dlh_ew(ulong n", ew_prelude);
    for (uint32_t j = 0; j < prog->n_arrays; j++) {
        if (written[j])
            sb_printf(s, ", __global float *a%u, ulong o%u", j, j);
        else
            sb_printf(s, ", __global const float *a%u, ulong o%u, ulong l%u, ulong s%u", j,
                      j, j, j);
    }
    for (uint32_t j = 0; j < prog->n_scalars; j++)
        sb_printf(s, ", float k%u", j);
    sb_printf(s, ")\n{\n    size_t i = get_global_id(0);\n    if (i >= n)\n        "
              "return;\n");
    /* l = 0 marks an operand that is full length and contiguous. */
    for (uint32_t j = 0; j < prog->n_arrays; j++) {
        if (read[j] && written[j])
            sb_printf(s, "    float v%u = a%u[o%u + i];\n", j, j, j);
        else if (read[j])
            sb_printf(s, "    float v%u = a%u[o%u + (l%u ? i / s%u %% l%u : i)];\n", j, j, j,
                      j, j, j);
        else if (assigned[j])
            sb_printf(s, "    float v%u;\n", j);
    }
    for (uint32_t r = 0; r < prog->n_regs; r++)
        sb_printf(s, "%s r%u%s", r == 0 ? "    float" : ",", r,
                  r + 1 == prog->n_regs ? ";\n" : "");
    for (size_t i = 0; i < prog->n_instrs; i++) {
        const dlh_ew_instr *in = &prog->instrs[i];
        char e[3][48], dst[16];
        const dlh_ew_ref src[3] = { in->a, in->b, in->c };
        for (int j = 0; j < 3; j++) {
            e[j][0] = '\0';
            if (j < bchk_ew_n_src[in->op])
                operand(prog, src[j], e[j], sizeof e[j]);
        }
        operand(prog, in->dst, dst, sizeof dst);
        sb_printf(s, "    %s = ", dst);
        /* The format takes as many operands as the opcode has. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
        sb_printf(s, ew_format[in->op], e[0], e[1], e[2]);
#pragma GCC diagnostic pop
        sb_printf(s, ";\n");
    }
    for (uint32_t j = 0; j < prog->n_arrays; j++)
        if (assigned[j])
            sb_printf(s, "    a%u[o%u + i] = v%u;\n", j, j, j);
    sb_printf(s, "}\n");
    if (s->oom) {
        ocl_host->error("opencl ew: out of memory");
        return DLH_ENOMEM;
    }
    return 0;
}

/* ---- the cache ---- */

static int entry_build(ocl_ctx *c, const dlh_ew_program *prog, char *source,
                       const unsigned char *written, ocl_ew_entry **out)
{
    ocl_ew_entry *e = calloc(1, sizeof *e);
    if (e == NULL) {
        free(source);
        ocl_host->error("opencl ew: out of memory");
        return DLH_ENOMEM;
    }
    e->source = source;
    e->n_arrays = prog->n_arrays;
    e->n_scalars = prog->n_scalars;
    memcpy(e->written, written, sizeof e->written);
    int rc = ocl_build(c, source, "an elementwise program", &e->program);
    cl_int err = CL_SUCCESS;
    if (rc == 0) {
        e->kernel = clCreateKernel(e->program, "dlh_ew", &err);
        if (err != CL_SUCCESS)
            rc = ocl_fail("clCreateKernel", err, "for an elementwise program");
    }
    size_t kmax = OCL_WG;
    if (rc == 0 &&
        (err = clGetKernelWorkGroupInfo(e->kernel, c->device, CL_KERNEL_WORK_GROUP_SIZE,
                                        sizeof kmax, &kmax, NULL)) != CL_SUCCESS)
        rc = ocl_fail("clGetKernelWorkGroupInfo", err, "for an elementwise program");
    if (rc != 0) {
        if (e->kernel != NULL)
            clReleaseKernel(e->kernel);
        if (e->program != NULL)
            clReleaseProgram(e->program);
        free(e->source);
        free(e);
        return rc;
    }
    e->local = 1;
    while (e->local * 2 <= OCL_WG && e->local * 2 <= kmax)
        e->local *= 2;
    e->next = c->ew_cache;
    c->ew_cache = e;
    *out = e;
    return 0;
}

int ocl_ew_prepare(void *ctx, const dlh_ew_program *prog, void **kernel)
{
    ocl_ctx *c = ctx;
    *kernel = NULL;
    int rc = bchk_ew_program(&ocl_checks, prog);
    if (rc != 0)
        return rc;
    strbuf s = { 0 };
    unsigned char written[DLH_EW_MAX_OPERANDS] = { 0 };
    rc = generate(prog, &s, written);
    if (rc != 0) {
        free(s.p);
        return rc;
    }
    for (ocl_ew_entry *e = c->ew_cache; e != NULL; e = e->next) {
        if (strcmp(e->source, s.p) == 0) {
            free(s.p);
            *kernel = e;
            return 0;
        }
    }
    ocl_ew_entry *e;
    if ((rc = entry_build(c, prog, s.p, written, &e)) != 0)
        return rc;
    *kernel = e;
    return 0;
}

/* Entries live in the instance's cache until it is destroyed. */
void ocl_ew_release(void *ctx, void *kernel)
{
    (void)ctx;
    (void)kernel;
}

void ocl_ew_cache_free(ocl_ctx *c)
{
    while (c->ew_cache != NULL) {
        ocl_ew_entry *e = c->ew_cache;
        c->ew_cache = e->next;
        clReleaseKernel(e->kernel);
        clReleaseProgram(e->program);
        free(e->source);
        free(e);
    }
}

int ocl_ew_run(void *ctx, void *kernel, size_t n, const dlh_ew_arg *args,
               const float *scalars)
{
    ocl_ctx *c = ctx;
    ocl_ew_entry *e = kernel;
    if (n == 0)
        return 0;
    cl_ulong nn = n, meta[DLH_EW_MAX_OPERANDS][3];
    cl_uint k = 0;
    cl_int err = clSetKernelArg(e->kernel, k++, sizeof nn, &nn);
    for (uint32_t j = 0; j < e->n_arrays && err == CL_SUCCESS; j++) {
        const dlh_ew_arg *a = &args[j];
        int rc = bchk_ew_operand(&ocl_checks, j, n, a, e->written[j]);
        if (rc != 0)
            return rc;
        /* (i / 1) % L == i for every i < n <= L: the kernel skips the modulo. */
        int full = a->stride == 1 && a->len >= n;
        meta[j][0] = a->mem.off;
        meta[j][1] = full ? 0 : a->len;
        meta[j][2] = a->stride;
        err = clSetKernelArg(e->kernel, k++, sizeof(cl_mem), &a->mem.buf->mem);
        if (err == CL_SUCCESS)
            err = clSetKernelArg(e->kernel, k++, sizeof(cl_ulong), &meta[j][0]);
        if (err == CL_SUCCESS && !e->written[j])
            err = clSetKernelArg(e->kernel, k++, sizeof(cl_ulong), &meta[j][1]);
        if (err == CL_SUCCESS && !e->written[j])
            err = clSetKernelArg(e->kernel, k++, sizeof(cl_ulong), &meta[j][2]);
    }
    for (uint32_t j = 0; j < e->n_scalars && err == CL_SUCCESS; j++)
        err = clSetKernelArg(e->kernel, k++, sizeof(float), &scalars[j]);
    if (err != CL_SUCCESS)
        return ocl_fail("clSetKernelArg(ew)", err, "for argument %u", k - 1);
    return ocl_enqueue(c, e->kernel, "ew", n, e->local);
}
