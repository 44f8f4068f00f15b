/* Elementwise programs as kernels of the dialect of gpu_source.h.
 *
 * gpu_ew_source writes one kernel per program: element i loads each array
 * it reads into a private variable (broadcasting as x[(i / s) % L]), runs
 * the instructions as C expressions over variables, registers, scalar
 * arguments and hex-float literals, and stores the arrays it assigned.
 * The expressions are the cpu runner's (ew_sign, ew_sigmoid, ew_min and
 * ew_max below are its functions), with contraction off and correctly
 * rounded division and sqrt where the device offers them, so results
 * differ from the cpu only by the few ulp of exp, log, tanh, pow, erf, sin,
 * cos and atan2 (floor, ceil, rint and fmod are exact, and so the same).
 * The element index is (float)i, rounded to nearest as the cpu's; random
 * draws run the cpu's Philox and float formulas, and give its bits. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "gpu_source.h"
#include "../common/backend_checks.h"

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
    [DLH_EW_SIGN] = "ew_sign(%s)", [DLH_EW_TANH] = "ew_tanh(%s)",
    [DLH_EW_SIGMOID] = "ew_sigmoid(%s)",
    [DLH_EW_MIN] = "ew_min(%s, %s)", [DLH_EW_MAX] = "ew_max(%s, %s)",
    [DLH_EW_POW] = "pow(%s, %s)",
    [DLH_EW_SELECT] = "(%s != 0.0f ? %s : %s)",
    [DLH_EW_MULADD] = "(%s * %s + %s)",
    [DLH_EW_ERF] = "erf(%s)", [DLH_EW_FLOOR] = "floor(%s)", [DLH_EW_CEIL] = "ceil(%s)",
    [DLH_EW_ROUND] = "rint(%s)", [DLH_EW_SIN] = "sin(%s)", [DLH_EW_COS] = "cos(%s)",
    [DLH_EW_FMOD] = "fmod(%s, %s)", [DLH_EW_ATAN2] = "atan2(%s, %s)",
    [DLH_EW_INDEX] = "(float)i",
    /* the key's six words follow the first operand: see generate */
    [DLH_EW_UNIFORM] = "ew_uniform(%s", [DLH_EW_NORMAL] = "ew_normal(%s",
};

static const char ew_prelude[] =
        "DEVFN float ew_sign(float x) { return copysign(fabs(x) > 0.0f ? 1.0f : 0.0f, x); }\n"
    "DEVFN float ew_sigmoid(float x)\n"
    "{\n"
    "    float e = exp(-fabs(x));\n"
    "    return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);\n"
    "}\n"
    "DEVFN float ew_min(float x, float y) { return y != y ? x : (x < y ? x : y); }\n"
    /* tanh rounds to +-1 in float from |x| = 9.01 on, as the cpu's tanhf
       gives; PoCL's tanh stays an ulp short of it even at 100, which
       1 + tanh(x) (gelu's tanh form) and 1 - tanh^2 (mish's gradient) would
       turn into visible errors. */
    "DEVFN float ew_tanh(float x) { return fabs(x) >= 9.1f ? copysign(1.0f, x) : tanh(x); }\n"
    "DEVFN float ew_max(float x, float y) { return y != y ? x : (x > y ? x : y); }\n";

/* What programs that draw random numbers add after gpu_philox_source: the
   draws of dlhost/philox.h, uniform as dlh_philox_uniform(..., 0, 1) (0 +
   1 u is u) and
   normal as dlh_philox_normal_portable, operation for operation (the same
   hex constants, the same order), so that they give the cpu's bits. */
static const char ew_random_prelude[] =
    "DEVFN uint4 ew_draw(uint k0, uint k1, uint k2, uint k3, uint k4, uint k5, size_t i)\n"
    "{\n"
    "    ulong seed = (ulong)k0 | (ulong)k1 << 32, stream = (ulong)k2 | (ulong)k3 << 32;\n"
    "    return philox(seed, stream, ((ulong)k4 | (ulong)k5 << 32) + (ulong)i);\n"
    "}\n"
    "DEVFN float ew_uniform(uint k0, uint k1, uint k2, uint k3, uint k4, uint k5, size_t i)\n"
    "{\n"
    "    return philox_unit(ew_draw(k0, k1, k2, k3, k4, k5, i).x);\n"
    "}\n"
    "DEVFN float ew_log_portable(float x)\n"
    "{\n"
    "    uint b = AS_UINT(x);\n"
    "    int e = (int)((b >> 23) & 0xffu) - 127;\n"
    "    float m = AS_FLOAT((b & 0x007fffffu) | 0x3f800000u);\n"
    "    if (m > 1.41421356f) {\n"
    "        m = m * 0.5f;\n"
    "        e = e + 1;\n"
    "    }\n"
    "    float s = (m - 1.0f) / (m + 1.0f), z = s * s;\n"
    "    float p = 0x1.745d18p-4f;\n"
    "    p = p * z + 0x1.c71c72p-4f;\n"
    "    p = p * z + 0x1.24924ap-3f;\n"
    "    p = p * z + 0x1.99999ap-3f;\n"
    "    p = p * z + 0x1.555556p-2f;\n"
    "    float lm = 2.0f * s + 2.0f * s * z * p;\n"
    "    float fe = (float)e;\n"
    "    return fe * 0x1.62e4p-1f + (fe * 0x1.7f7d1cp-20f + lm);\n"
    "}\n"
    "DEVFN float ew_cos2pi_portable(float t)\n"
    "{\n"
    "    int q = (int)(t * 4.0f + 0.5f);\n"
    "    float r = t - (float)q * 0.25f;\n"
    "    float x = r * 0x1.921fb6p+2f, z = x * x;\n"
    "    float c = -0x1.27e4fcp-22f;\n"
    "    c = c * z + 0x1.a01a02p-16f;\n"
    "    c = c * z - 0x1.6c16c2p-10f;\n"
    "    c = c * z + 0x1.555556p-5f;\n"
    "    c = c * z - 0.5f;\n"
    "    c = c * z + 1.0f;\n"
    "    float s = -0x1.ae6456p-26f;\n"
    "    s = s * z + 0x1.71de3ap-19f;\n"
    "    s = s * z - 0x1.a01a02p-13f;\n"
    "    s = s * z + 0x1.111112p-7f;\n"
    "    s = s * z - 0x1.555556p-3f;\n"
    "    s = x + x * z * s;\n"
    "    switch (q & 3) {\n"
    "    case 0: return c;\n"
    "    case 1: return -s;\n"
    "    case 2: return -c;\n"
    "    default: return s;\n"
    "    }\n"
    "}\n"
    "DEVFN float ew_normal(uint k0, uint k1, uint k2, uint k3, uint k4, uint k5, size_t i)\n"
    "{\n"
    "    uint4 w = ew_draw(k0, k1, k2, k3, k4, k5, i);\n"
    "    float u0 = philox_unit(w.x), u1 = philox_unit(w.y);\n"
    "    float r = sqrt(-2.0f * ew_log_portable(1.0f - u0));\n"
    "    return r * ew_cos2pi_portable(u1);\n"
    "}\n";

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
static void generate(gpu_dialect d, const dlh_ew_program *prog, strbuf *s,
                     unsigned char *written)
{
    /* Arrays read before the program assigns them are loaded; arrays it
       assigns are stored at the end. */
    unsigned char read[DLH_EW_MAX_OPERANDS] = { 0 }, assigned[DLH_EW_MAX_OPERANDS] = { 0 };
    /* Scalars that are words of a random key are passed as uint: their
       bits are the key's, not a number. */
    unsigned char key_word[DLH_EW_MAX_SCALARS] = { 0 };
    int draws = 0;
    for (uint32_t j = 0; j < prog->n_arrays; j++)
        written[j] = (prog->access[j] & DLH_EW_OUT) != 0;
    for (size_t i = 0; i < prog->n_instrs; i++) {
        const dlh_ew_instr *in = &prog->instrs[i];
        if (in->op == DLH_EW_UNIFORM || in->op == DLH_EW_NORMAL) {
            draws = 1;
            for (int w = 0; w < DLH_EW_KEY_WORDS; w++)
                key_word[in->a.index + w] = 1;
        }
        const dlh_ew_ref src[3] = { in->a, in->b, in->c };
        for (int j = 0; j < bchk_ew_n_src[in->op]; j++)
            if (src[j].src == DLH_EW_ARRAY)
                read[src[j].index] |= !assigned[src[j].index];
        if (in->dst.src == DLH_EW_ARRAY)
            assigned[in->dst.index] = 1;
    }

    sb_printf(s, "%s%s%s%sKERNEL void " GPU_EW_KERNEL "(ulong n", gpu_prelude(d), ew_prelude,
              draws ? gpu_philox_source : "", draws ? ew_random_prelude : "");
    for (uint32_t j = 0; j < prog->n_arrays; j++) {
        if (written[j])
            sb_printf(s, ", GLOBAL float *a%u, ulong o%u", j, j);
        else
            sb_printf(s, ", GLOBAL const float *a%u, ulong o%u, ulong l%u, ulong s%u", j,
                      j, j, j);
    }
    for (uint32_t j = 0; j < prog->n_scalars; j++)
        sb_printf(s, ", %s k%u", key_word[j] ? "uint" : "float", j);
    sb_printf(s, ")\n{\n    size_t i = GLOBAL_ID;\n    if (i >= n)\n        "
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
        if (in->op == DLH_EW_UNIFORM || in->op == DLH_EW_NORMAL) {
            for (int w = 1; w < DLH_EW_KEY_WORDS; w++)
                sb_printf(s, ", k%u", (unsigned)in->a.index + (unsigned)w);
            sb_printf(s, ", i)");
        }
        sb_printf(s, ";\n");
    }
    for (uint32_t j = 0; j < prog->n_arrays; j++)
        if (assigned[j])
            sb_printf(s, "    a%u[o%u + i] = v%u;\n", j, j, j);
    sb_printf(s, "}\n");
}


int gpu_ew_source(const dlh_host *host, const char *backend, gpu_dialect d,
                  const dlh_ew_program *prog, char **source, unsigned char *written)
{
    strbuf s = { 0 };
    generate(d, prog, &s, written);
    if (s.oom) {
        free(s.p);
        *source = NULL;
        host->error("%s ew: out of memory", backend);
        return DLH_ENOMEM;
    }
    *source = s.p;
    return 0;
}
