/* The cpu runner for elementwise programs.
 *
 * cpu_ew_prepare translates the host's instruction list once into calls of
 * small specialised loops: each (opcode, operand kinds) pair has its own
 * function, where a vector operand is a pointer to the current block (the
 * array itself when it is contiguous and full length, a gathered block when
 * it broadcasts, or a register buffer) and a scalar operand is a plain float
 * argument.  Instructions whose operands are all scalars (1 - b1, lr / bc1)
 * run once per call instead of once per element, a MUL feeding the next
 * MULADD becomes one a*s + b*t loop, a compare with a scalar feeding a
 * select one x > s ? y : t loop (relu's backward), and Adam's whole update (torch's
 * defaults) one loop over its four arrays (ew_fuse_adam).  cpu_ew_run then
 * walks the n elements in blocks small enough that every operand's block
 * stays in L1, running every instruction over the block, blocks shared out
 * over OpenMP threads.
 * The loops carry `GCC ivdep`: an instruction only ever reads element i of
 * an operand before writing element i of its destination, so the
 * destination may be one of its sources (p = p - lr*m) but nothing overlaps
 * partially.  On x86-64 the loops are built twice, for the baseline and for
 * AVX2, and prepare picks one; both round identically.  The element index
 * and the random draws (uniform, normal) have no loop table: each block
 * computes them from its first element's index (ew_per_element).
 *
 * DLHOST_CPU_EW_PLAIN=1 (read when a program is prepared; for tests and
 * bench/, not for training) runs the program the plain way instead: no
 * fusion, one block of all n elements, so each instruction runs over the
 * whole array before the next starts, on one thread.  test_ew checks that
 * the blockwise, fused run gives exactly its bits.  DLHOST_CPU_EW_FUSE=0
 * keeps the blocks but fuses nothing (bench/ew_step.c measures what the
 * fused loops save). */
#include "cpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <dlhost/philox.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Floats per block: every operand's block and the registers stay in L1
   while the instruction list runs over them.  Adam over 536k floats ran
   fastest with 64..128 here (256 and 512 were 10-30% slower). */
#define CPU_EW_BLOCK 128
/* A program runs on several threads only when n times its array operands
   reaches this (waking the team costs more than it saves below it).  With
   the workers spinning between regions (a quiet machine), best of 2,000
   runs, data in cache, 2 cores (bench/ew_step.c): relu over 65,536 floats
   (2 arrays) took 4.2 us on one thread, 5.1 us on two; its backward (3
   arrays) 8.8 against 8.1; Adam over 65,536 (4 arrays) 0.013 against
   0.009 ms.  With passive waiting every region pays a futex wake: relu's
   backward over 131,072 floats took 19 us on one thread, 54 us (median) on
   two, and Adam over 131,072 0.078 against 0.084 ms, so the bar is higher.
   The threshold was 32,768 elements whatever the program: six of a
   training step's regions of the MLP (bias, relu and its backward on
   32k-65k floats) ran on both threads for less than a wake costs. */
#define CPU_EW_PAR_WORK (3 * 65536)
#define CPU_EW_PAR_WORK_PASSIVE CPU_PAR_MIN_PASSIVE

typedef void (*cpu_ew_fn)(float *d, const float *a, const float *b, const float *c,
                          float ka, float kb, float kc, size_t len);

/* ---------------------------------------------------------------- loops */

/* -1, 0 or 1, keeping the sign of a zero; NaN gives 0 as OpenCL sign()
   does.  Written with one ordered compare: the form with x == 0 became a
   vcmpneq_oqps that valgrind 3.19 runs as if it were unordered. */
static inline float ew_sign(float x)
{
    return copysignf(fabsf(x) > 0.0f ? 1.0f : 0.0f, x);
}

static inline float ew_sigmoid(float x)
{
    /* exp of a non-positive number never overflows */
    float e = expf(-fabsf(x));
    return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

/* fminf/fmaxf semantics (a NaN operand loses) in a form that vectorises. */
static inline float ew_min(float x, float y)
{
    return y != y ? x : (x < y ? x : y);
}

static inline float ew_max(float x, float y)
{
    return y != y ? x : (x > y ? x : y);
}

#define EW_Xv a[i]
#define EW_Xs ka
#define EW_Xn 0.0f
#define EW_Yv b[i]
#define EW_Ys kb
#define EW_Yn 0.0f
#define EW_Zv c[i]
#define EW_Zs kc
#define EW_Zn 0.0f

/* One loop, P<name>_<kind of a><kind of b><kind of c>: v = vector,
   s = scalar, n = unused; x, y, z are the operands of element i.  Full
   blocks take the loop with a constant count, which GCC vectorises even at
   -O2 (its "very cheap" cost model wants the count known), whatever CFLAGS
   the user gives after ours. */
#define EW_LOOP(P, name, KA, KB, KC, expr)                                             \
    static void P##name##_##KA##KB##KC(float *d, const float *a, const float *b,       \
                                       const float *c, float ka, float kb, float kc,   \
                                       size_t len)                                     \
    {                                                                                  \
        (void)a; (void)b; (void)c; (void)ka; (void)kb; (void)kc;                       \
        if (len == CPU_EW_BLOCK) {                                                     \
            _Pragma("GCC ivdep")                                                       \
            for (size_t i = 0; i < CPU_EW_BLOCK; i++) {                                \
                const float x = EW_X##KA, y = EW_Y##KB, z = EW_Z##KC;                  \
                (void)y; (void)z;                                                      \
                d[i] = (expr);                                                         \
            }                                                                          \
            return;                                                                    \
        }                                                                              \
        _Pragma("GCC ivdep")                                                           \
        for (size_t i = 0; i < len; i++) {                                             \
            const float x = EW_X##KA, y = EW_Y##KB, z = EW_Z##KC;                      \
            (void)y; (void)z;                                                          \
            d[i] = (expr);                                                             \
        }                                                                              \
    }

#define EW_UNARY(P, name, expr) EW_LOOP(P, name, v, n, n, expr)
#define EW_BINARY(P, name, expr) \
    EW_LOOP(P, name, v, v, n, expr) EW_LOOP(P, name, v, s, n, expr) EW_LOOP(P, name, s, v, n, expr)
#define EW_TERNARY(P, name, expr)                                              \
    EW_LOOP(P, name, v, v, v, expr) EW_LOOP(P, name, v, v, s, expr)            \
    EW_LOOP(P, name, v, s, v, expr) EW_LOOP(P, name, v, s, s, expr)            \
    EW_LOOP(P, name, s, v, v, expr) EW_LOOP(P, name, s, v, s, expr)            \
    EW_LOOP(P, name, s, s, v, expr)

/* Loops by opcode, indexed by kinds: bit 0 set = a is scalar, bit 1 = b,
   bit 2 = c.  Index 0 (all vectors) also evaluates scalar-only instructions
   once per call, as vectors of one element, so both give the same bits. */
#define EW_K1(P, name) { P##name##_vnn, NULL, NULL, NULL, NULL, NULL, NULL, NULL }
#define EW_K2(P, name) \
    { P##name##_vvn, P##name##_svn, P##name##_vsn, NULL, NULL, NULL, NULL, NULL }
#define EW_K3(P, name)                                                            \
    { P##name##_vvv, P##name##_svv, P##name##_vsv, P##name##_ssv,                  \
      P##name##_vvs, P##name##_svs, P##name##_vss, NULL }

/* Adam's update as one loop: the five instructions ew_fuse_adam recognises,
   in their order, per element; k[] holds their scalars. */
typedef void (*ew_adam_fn)(float *p, const float *g, float *m, float *v, const float *k,
                           size_t len);

/* Element i of the five instructions, each store before the next load, so
   an operand that is another's memory reads what the separate loops read. */
#define EW_ADAM_ELEMENT(i)                                                  \
    do {                                                                    \
        m[i] = m[i] * k0 + g[i] * k1;                                       \
        const float r1 = g[i] * g[i];                                       \
        v[i] = v[i] * k2 + r1 * k3;                                         \
        const float r2 = sqrtf(v[i]) / k4 + k5;                             \
        p[i] = p[i] - k6 * (m[i] / r2);                                     \
    } while (0)

#define EW_ADAM(P)                                                                     \
    static void P##adam(float *p, const float *g, float *m, float *v, const float *k,  \
                        size_t len)                                                    \
    {                                                                                  \
        const float k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3], k4 = k[4], k5 = k[5],  \
                    k6 = k[6];                                                         \
        if (len == CPU_EW_BLOCK) {                                                     \
            _Pragma("GCC ivdep")                                                       \
            for (size_t i = 0; i < CPU_EW_BLOCK; i++)                                  \
                EW_ADAM_ELEMENT(i);                                                    \
            return;                                                                    \
        }                                                                              \
        _Pragma("GCC ivdep")                                                           \
        for (size_t i = 0; i < len; i++)                                               \
            EW_ADAM_ELEMENT(i);                                                        \
    }

/* The fused a*b + x*y that two instructions (MUL into a dead register,
   then MULADD of it) become: "a*s + b*t" of momentum and moving averages.
   Index: 0 = (v*s + v*s), 1 = (v*v + v*s), 2 = (v*s + v*v). */
typedef struct ew_isa {
    cpu_ew_fn loops[DLH_EW_OPCODE_COUNT][8];
    cpu_ew_fn muladd2[3];
    cpu_ew_fn sqrt_div_add;     /* sqrt(x)/kb + kc */
    cpu_ew_fn sub_mul_div;      /* x - ka*(y/z) */
    cpu_ew_fn gt_select;        /* x > ka ? y : kc (relu's backward) */
    ew_adam_fn adam;            /* Adam's whole update (ew_fuse_adam) */
} ew_isa;

#define EW_DEFINE_ISA(P)                                                                  \
    EW_LOOP(P, mov, v, n, n, x)                                                           \
    EW_LOOP(P, mov, s, n, n, x)                                                           \
    EW_BINARY(P, add, x + y)                                                              \
    EW_BINARY(P, sub, x - y)                                                              \
    EW_BINARY(P, mul, x * y)                                                              \
    EW_BINARY(P, div, x / y)                                                              \
    EW_UNARY(P, neg, -x)                                                                  \
    EW_BINARY(P, lt, x < y ? 1.0f : 0.0f)                                                 \
    EW_BINARY(P, le, x <= y ? 1.0f : 0.0f)                                                \
    EW_BINARY(P, gt, x > y ? 1.0f : 0.0f)                                                 \
    EW_BINARY(P, ge, x >= y ? 1.0f : 0.0f)                                                \
    EW_BINARY(P, eq, x == y ? 1.0f : 0.0f)                                                \
    EW_BINARY(P, ne, x != y ? 1.0f : 0.0f)                                                \
    EW_UNARY(P, exp, expf(x))                                                             \
    EW_UNARY(P, log, logf(x))                                                             \
    EW_UNARY(P, sqrt, sqrtf(x))                                                           \
    EW_UNARY(P, rsqrt, 1.0f / sqrtf(x))                                                   \
    EW_UNARY(P, abs, fabsf(x))                                                            \
    EW_UNARY(P, sign, ew_sign(x))                                                         \
    EW_UNARY(P, tanh, tanhf(x))                                                           \
    EW_UNARY(P, sigmoid, ew_sigmoid(x))                                                   \
    EW_BINARY(P, min, ew_min(x, y))                                                       \
    EW_BINARY(P, max, ew_max(x, y))                                                       \
    EW_BINARY(P, pow, powf(x, y))                                                         \
    EW_TERNARY(P, select, x != 0.0f ? y : z)                                              \
    EW_TERNARY(P, muladd, x * y + z)                                                      \
    EW_UNARY(P, erf, erff(x))                                                             \
    EW_UNARY(P, floor, floorf(x))                                                         \
    EW_UNARY(P, ceil, ceilf(x))                                                           \
    EW_UNARY(P, round, rintf(x))                                                          \
    EW_UNARY(P, sin, sinf(x))                                                             \
    EW_UNARY(P, cos, cosf(x))                                                             \
    EW_BINARY(P, fmod, fmodf(x, y))                                                       \
    EW_BINARY(P, atan2, atan2f(x, y))                                                     \
    EW_LOOP(P, mm_vsvs, v, v, n, x * ka + y * kb)                                         \
    EW_LOOP(P, mm_vvvs, v, v, v, x * y + z * kc)                                          \
    EW_LOOP(P, mm_vsvv, v, v, v, x * ka + y * z)                                          \
    EW_LOOP(P, sda, v, n, n, sqrtf(x) / kb + kc)                                          \
    EW_LOOP(P, smd, v, v, v, x - ka * (y / z))                                            \
    EW_LOOP(P, gts, v, v, n, x > ka ? y : kc)                                             \
    EW_ADAM(P)                                                                            \
    static const ew_isa P##isa = {                                                        \
        .loops = {                                                                        \
            [DLH_EW_MOV] = { P##mov_vnn, P##mov_snn, NULL, NULL, NULL, NULL, NULL, NULL }, \
            [DLH_EW_ADD] = EW_K2(P, add), [DLH_EW_SUB] = EW_K2(P, sub),                   \
            [DLH_EW_MUL] = EW_K2(P, mul), [DLH_EW_DIV] = EW_K2(P, div),                   \
            [DLH_EW_NEG] = EW_K1(P, neg),                                                 \
            [DLH_EW_LT] = EW_K2(P, lt), [DLH_EW_LE] = EW_K2(P, le),                       \
            [DLH_EW_GT] = EW_K2(P, gt), [DLH_EW_GE] = EW_K2(P, ge),                       \
            [DLH_EW_EQ] = EW_K2(P, eq), [DLH_EW_NE] = EW_K2(P, ne),                       \
            [DLH_EW_EXP] = EW_K1(P, exp), [DLH_EW_LOG] = EW_K1(P, log),                   \
            [DLH_EW_SQRT] = EW_K1(P, sqrt), [DLH_EW_RSQRT] = EW_K1(P, rsqrt),             \
            [DLH_EW_ABS] = EW_K1(P, abs), [DLH_EW_SIGN] = EW_K1(P, sign),                 \
            [DLH_EW_TANH] = EW_K1(P, tanh), [DLH_EW_SIGMOID] = EW_K1(P, sigmoid),         \
            [DLH_EW_MIN] = EW_K2(P, min), [DLH_EW_MAX] = EW_K2(P, max),                   \
            [DLH_EW_POW] = EW_K2(P, pow),                                                 \
            [DLH_EW_SELECT] = EW_K3(P, select), [DLH_EW_MULADD] = EW_K3(P, muladd),       \
            [DLH_EW_ERF] = EW_K1(P, erf), [DLH_EW_FLOOR] = EW_K1(P, floor),               \
            [DLH_EW_CEIL] = EW_K1(P, ceil), [DLH_EW_ROUND] = EW_K1(P, round),             \
            [DLH_EW_SIN] = EW_K1(P, sin), [DLH_EW_COS] = EW_K1(P, cos),                   \
            [DLH_EW_FMOD] = EW_K2(P, fmod), [DLH_EW_ATAN2] = EW_K2(P, atan2),             \
        },                                                                                \
        .muladd2 = { P##mm_vsvs_vvn, P##mm_vvvs_vvv, P##mm_vsvv_vvv },                    \
        .sqrt_div_add = P##sda_vnn, .sub_mul_div = P##smd_vvv, .gt_select = P##gts_vvn,   \
        .adam = P##adam,                                                                  \
    };

EW_DEFINE_ISA(ew_base_)

/* The same loops for AVX2 and AVX-512, picked at run time: two and four
   times the lanes of the x86-64 baseline.  Never fused multiply-adds (the
   plugin is built with -ffp-contract=off, and AVX-512F would otherwise
   contract a*b + c), so every lane rounds exactly as the baseline loops do
   and results do not depend on the machine. */
#ifdef CPU_ISA_COPIES
#pragma GCC push_options
#pragma GCC target("avx2")
EW_DEFINE_ISA(ew_avx2_)
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,prefer-vector-width=512")
EW_DEFINE_ISA(ew_avx512_)
#pragma GCC pop_options
#endif

int cpu_isa_level(void)
{
#ifdef CPU_ISA_COPIES
    const char *force = getenv("DLHOST_CPU_EW_ISA");
    if (force && strcmp(force, "baseline") == 0)
        return 0;
    __builtin_cpu_init();
    int cap_avx2 = force && strcmp(force, "avx2") == 0;
    if (!cap_avx2 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return 2;
    if (__builtin_cpu_supports("avx2"))
        return 1;
#endif
    return 0;
}

/* The loop set for this machine (cpu_isa_level). */
static const ew_isa *ew_pick_isa(void)
{
    int level = cpu_isa_level();
    return CPU_ISA_PICK(level, &ew_base_isa, &ew_avx2_isa, &ew_avx512_isa);
}

/* ---------------------------------------------------------------- kernel */

/* A prepared instruction.  Vector operands are slots of the per-thread
   pointer table (0: none, 1..n_arrays: arrays, then registers); scalar
   operands are indices into the kernel's value table. */
typedef struct ew_op {
    cpu_ew_fn fn;
    uint16_t dst;
    uint16_t vec[3];
    uint32_t val[3];
    uint8_t op;             /* dlh_ew_opcode, EW_OP_MULADD2 once fused */
    uint8_t kinds;          /* bit j set: source j is a scalar */
} ew_op;

#define EW_OP_MULADD2 DLH_EW_OPCODE_COUNT
#define EW_OP_CHAIN (DLH_EW_OPCODE_COUNT + 1)

/* An instruction on values only, run once per call: vals[dst] = f(vals[val[]]). */
typedef struct ew_uop {
    cpu_ew_fn fn;
    uint32_t dst;
    uint32_t val[3];
} ew_uop;

typedef struct ew_kernel {
    uint32_t n_arrays, n_scalars, n_regs;
    ew_uop *uops;            /* scalar-only: run once per call, into vals */
    size_t n_uops;
    ew_op *ops;             /* run over every block */
    size_t n_ops;
    /* vals: [0] = 0 (unused operands), [1..n_scalars] the call's scalars,
       then the program's constants, then results of uops.  Rewritten by
       every call: a backend instance runs one call at a time. */
    float *vals;
    uint32_t n_vals;
    unsigned char read[DLH_EW_MAX_OPERANDS];     /* array read by a block op */
    unsigned char written[DLH_EW_MAX_OPERANDS];  /* array declared out/inout */
    int n_gather;           /* arrays that may broadcast: read and not written */
    ew_adam_fn adam;        /* set by ew_fuse_adam: ops[] is Adam's update */
    uint16_t adam_vec[4];   /* its p, g, m, v slots */
    uint32_t adam_val[7];   /* its scalars' value indices, EW_ADAM_ELEMENT's k0..k6 */
    int threads;            /* scratch is laid out for this many threads */
    size_t scratch_per_thread;   /* floats */
    float *scratch;
    int plain;              /* DLHOST_CPU_EW_PLAIN: unfused, one block of n */
    size_t plain_floats;    /* plain_scratch's size */
    float *plain_scratch;   /* (n_regs + n_gather) * n floats, grown by runs */
} ew_kernel;

static void ew_kernel_free(ew_kernel *k)
{
    if (!k)
        return;
    free(k->uops);
    free(k->ops);
    free(k->vals);
    free(k->scratch);
    free(k->plain_scratch);
    free(k);
}

void cpu_ew_release(void *ctx, void *kernel)
{
    (void)ctx;
    ew_kernel_free(kernel);
}

/* Whether the register in `slot` is read by ops[from..] before it is
   written again. */
static int ew_slot_live(const ew_kernel *k, uint16_t slot, size_t from)
{
    for (size_t j = from; j < k->n_ops; j++) {
        const ew_op *o = &k->ops[j];
        if (o->vec[0] == slot || o->vec[1] == slot || o->vec[2] == slot)
            return 1;
        if (o->dst == slot)
            return 0;
    }
    return 0;
}

/* One factor of a product: a vector slot or a value index. */
typedef struct ew_factor {
    int scalar;
    uint16_t vec;
    uint32_t val;
} ew_factor;

/* The two factors of sources 0 and 1 of `o`, vector first; 0 when both
   are scalars. */
static int ew_product(const ew_op *o, ew_factor f[2])
{
    for (int j = 0; j < 2; j++) {
        f[j].scalar = (o->kinds >> j) & 1;
        f[j].vec = o->vec[j];
        f[j].val = o->val[j];
    }
    if (f[0].scalar) {
        ew_factor t = f[0];
        f[0] = f[1];
        f[1] = t;
    }
    return !f[0].scalar;
}

/* MUL r = x*y followed by MULADD d = a*b + r, r dead afterwards, becomes
   one loop d = a*b + x*y: the same two products and one sum, so the same
   rounding, one pass over the block fewer. */
static void ew_fuse(ew_kernel *k, const ew_isa *isa, uint16_t reg_slot0)
{
    size_t w = 0;
    for (size_t i = 0; i < k->n_ops; i++) {
        const ew_op *o = &k->ops[i], *m = i + 1 < k->n_ops ? &k->ops[i + 1] : NULL;
        ew_factor p[2], q[2];
        if (m && o->op == DLH_EW_MUL && o->dst >= reg_slot0 && m->op == DLH_EW_MULADD &&
            !(m->kinds & 4) && m->vec[2] == o->dst && !((m->kinds & 1) == 0 && m->vec[0] == o->dst) &&
            !((m->kinds & 2) == 0 && m->vec[1] == o->dst) &&
            (m->dst == o->dst || !ew_slot_live(k, o->dst, i + 2)) && ew_product(m, p) &&
            ew_product(o, q) && (p[1].scalar || q[1].scalar)) {
            ew_op f;
            memset(&f, 0, sizeof f);
            f.op = EW_OP_MULADD2;
            f.dst = m->dst;
            f.vec[0] = p[0].vec;
            if (p[1].scalar && q[1].scalar) {           /* x*ka + y*kb */
                f.fn = isa->muladd2[0];
                f.val[0] = p[1].val;
                f.vec[1] = q[0].vec;
                f.val[1] = q[1].val;
            } else if (q[1].scalar) {                   /* x*y + z*kc */
                f.fn = isa->muladd2[1];
                f.vec[1] = p[1].vec;
                f.vec[2] = q[0].vec;
                f.val[2] = q[1].val;
            } else {                                    /* x*ka + y*z */
                f.fn = isa->muladd2[2];
                f.val[0] = p[1].val;
                f.vec[1] = q[0].vec;
                f.vec[2] = q[1].vec;
            }
            k->ops[w++] = f;
            i++;
            continue;
        }
        k->ops[w++] = *o;
    }
    k->n_ops = w;
}

/* Whether op i's result (a register) is read by op i + 1 and by nothing
   after it. */
static int ew_feeds_only_next(const ew_kernel *k, size_t i, uint16_t reg_slot0)
{
    uint16_t r = k->ops[i].dst;
    return r >= reg_slot0 && (k->ops[i + 1].dst == r || !ew_slot_live(k, r, i + 2));
}

/* Operand j of `o` as a vector slot (0 when it is a scalar). */
static uint16_t ew_vec_of(const ew_op *o, int j)
{
    return (o->kinds >> j) & 1 ? 0 : o->vec[j];
}

/* Three instructions chained through registers that only the next one
   reads become one loop, computing the same operations in the same order
   (so the same rounding) in one pass over the block instead of three:
     SQRT r = x; DIV r2 = r / s; ADD d = r2 + t   ->  d = sqrt(x)/s + t
       (Adam's denominator),
     DIV r = a / b; MUL r2 = s * r; SUB d = p - r2  ->  d = p - s*(a/b)
       (the step of Adam and RMSprop). */
static void ew_fuse_chains(ew_kernel *k, const ew_isa *isa, uint16_t reg_slot0)
{
    size_t w = 0;
    for (size_t i = 0; i < k->n_ops; i++) {
        const ew_op *o = &k->ops[i];
        /* r = x > s (1 or 0); d = select(r, y, t), r dead: d = x > s ? y : t,
           the same copy of y or t (relu's backward: one pass, not two). */
        if (i + 1 < k->n_ops && o->op == DLH_EW_GT && o->kinds == 2 &&
            ew_feeds_only_next(k, i, reg_slot0)) {
            const ew_op *m = &k->ops[i + 1];
            if (m->op == DLH_EW_SELECT && m->kinds == 4 && m->vec[0] == o->dst &&
                m->vec[1] != o->dst) {
                ew_op f;
                memset(&f, 0, sizeof f);
                f.op = EW_OP_CHAIN;
                f.dst = m->dst;
                f.fn = isa->gt_select;
                f.vec[0] = o->vec[0];
                f.vec[1] = m->vec[1];
                f.val[0] = o->val[1];
                f.val[2] = m->val[2];
                k->ops[w++] = f;
                i += 1;
                continue;
            }
        }
        if (i + 2 < k->n_ops && ew_feeds_only_next(k, i, reg_slot0) &&
            ew_feeds_only_next(k, i + 1, reg_slot0)) {
            const ew_op *m = &k->ops[i + 1], *q = &k->ops[i + 2];
            ew_op f;
            memset(&f, 0, sizeof f);
            f.op = EW_OP_CHAIN;
            f.dst = q->dst;
            if (o->op == DLH_EW_SQRT && o->kinds == 0 && m->op == DLH_EW_DIV &&
                m->kinds == 2 && m->vec[0] == o->dst && q->op == DLH_EW_ADD &&
                (q->kinds == 1 || q->kinds == 2) &&
                (ew_vec_of(q, 0) == m->dst || ew_vec_of(q, 1) == m->dst)) {
                f.fn = isa->sqrt_div_add;
                f.vec[0] = o->vec[0];
                f.val[1] = m->val[1];
                f.val[2] = q->kinds == 1 ? q->val[0] : q->val[1];
            } else if (o->op == DLH_EW_DIV && o->kinds == 0 && m->op == DLH_EW_MUL &&
                       (m->kinds == 1 || m->kinds == 2) &&
                       (ew_vec_of(m, 0) == o->dst || ew_vec_of(m, 1) == o->dst) &&
                       q->op == DLH_EW_SUB && q->kinds == 0 && q->vec[1] == m->dst &&
                       q->vec[0] != m->dst && q->vec[0] != o->dst) {
                f.fn = isa->sub_mul_div;
                f.vec[0] = q->vec[0];
                f.vec[1] = o->vec[0];
                f.vec[2] = o->vec[1];
                f.val[0] = m->kinds == 1 ? m->val[0] : m->val[1];
            }
            if (f.fn) {
                k->ops[w++] = f;
                i += 2;
                continue;
            }
        }
        k->ops[w++] = *o;
    }
    k->n_ops = w;
}

/* The program of plugins/optimizers/adam.c without weight decay, amsgrad or
   maximize (torch.optim.Adam's defaults), as ew_fuse and ew_fuse_chains
   leave it:
     m = m*b1 + g*b1c;  r = g*g;  v = v*b2 + r*b2c;  r2 = sqrt(v)/bc2s + eps;
     p = p - step*(m/r2)
   with p, g, m, v four different arrays and r, r2 registers.  It runs as one
   loop (EW_ADAM) doing the same operations in the same order, element by
   element: the same bits, one pass over p, g, m and v instead of five over
   the block, which was a third of Adam's time. */
static void ew_fuse_adam(ew_kernel *k, const ew_isa *isa, uint16_t reg_slot0)
{
    if (k->n_ops != 5)
        return;
    const ew_op *o = k->ops;
    uint16_t p = o[4].dst, g = o[0].vec[1], m = o[0].dst, v = o[2].dst;
    uint16_t r = o[1].dst, r2 = o[3].dst;
    if (!(o[0].fn == isa->muladd2[0] && o[0].vec[0] == m &&
          o[1].op == DLH_EW_MUL && o[1].kinds == 0 && o[1].vec[0] == g && o[1].vec[1] == g &&
          o[2].fn == isa->muladd2[0] && o[2].vec[0] == v && o[2].vec[1] == r &&
          o[3].fn == isa->sqrt_div_add && o[3].vec[0] == v &&
          o[4].fn == isa->sub_mul_div && o[4].vec[0] == p && o[4].vec[1] == m &&
          o[4].vec[2] == r2))
        return;
    /* Four distinct arrays; the two temporaries registers. */
    const uint16_t arr[4] = { p, g, m, v };
    for (int a = 0; a < 4; a++) {
        if (arr[a] < 1 || arr[a] >= reg_slot0)
            return;
        for (int b = 0; b < a; b++)
            if (arr[a] == arr[b])
                return;
    }
    if (r < reg_slot0 || r2 < reg_slot0)
        return;
    k->adam = isa->adam;
    memcpy(k->adam_vec, arr, sizeof arr);
    const uint32_t val[7] = { o[0].val[0], o[0].val[1], o[2].val[0], o[2].val[1],
                              o[3].val[1], o[3].val[2], o[4].val[0] };
    memcpy(k->adam_val, val, sizeof val);
}

static int ew_bad_program(ew_kernel *k, size_t i, const char *what)
{
    cpu_host->error("cpu ew: instruction %zu of the program: %s", i, what);
    ew_kernel_free(k);
    return DLH_EINVAL;
}

int cpu_ew_prepare(void *vctx, const dlh_ew_program *prog, void **out)
{
    cpu_ctx *ctx = vctx;
    *out = NULL;
    int rc = bchk_ew_program(&cpu_checks, prog);
    if (rc != 0)
        return rc;
    ew_kernel *k = calloc(1, sizeof *k);
    if (!k) {
        cpu_host->error("cpu ew: out of memory");
        return DLH_ENOMEM;
    }
    k->n_arrays = prog->n_arrays;
    k->n_scalars = prog->n_scalars;
    k->n_regs = prog->n_regs;
    /* Every instruction adds at most one value (a uop's result). */
    size_t max_vals = 1 + (size_t)prog->n_scalars + prog->n_consts + prog->n_instrs;
    k->vals = calloc(max_vals, sizeof *k->vals);
    k->uops = calloc(prog->n_instrs, sizeof *k->uops);
    k->ops = calloc(prog->n_instrs, sizeof *k->ops);
    if (!k->vals || !k->uops || !k->ops) {
        ew_kernel_free(k);
        cpu_host->error("cpu ew: out of memory");
        return DLH_ENOMEM;
    }
    uint32_t n_vals = 1 + prog->n_scalars;
    for (uint32_t i = 0; i < prog->n_consts; i++)
        k->vals[n_vals++] = prog->consts[i];
    for (uint32_t i = 0; i < prog->n_arrays; i++)
        k->written[i] = (prog->access[i] & DLH_EW_OUT) != 0;

    /* A register holding a value that is the same for every element lives
       in vals: reg_val[r] is its index there, 0 while it is per element. */
    const ew_isa *isa = ew_pick_isa();
    uint32_t reg_val[DLH_EW_MAX_REGS] = { 0 };
    const uint16_t reg_slot0 = (uint16_t)(1 + prog->n_arrays);
    /* bchk_ew_program has checked every opcode, operand and destination. */
    for (size_t i = 0; i < prog->n_instrs; i++) {
        const dlh_ew_instr *in = &prog->instrs[i];
        int op = in->op, ns = bchk_ew_n_src[op];
        const dlh_ew_ref src[3] = { in->a, in->b, in->c };
        ew_op o;
        memset(&o, 0, sizeof o);
        int kinds = 0, all_scalar = 1;
        for (int j = 0; j < ns; j++) {
            const dlh_ew_ref r = src[j];
            switch (r.src) {
            case DLH_EW_ARRAY:
                o.vec[j] = (uint16_t)(1 + r.index);
                k->read[r.index] = 1;
                all_scalar = 0;
                break;
            case DLH_EW_SCALAR:
                o.val[j] = 1 + r.index;
                kinds |= 1 << j;
                break;
            case DLH_EW_CONST:
                o.val[j] = 1 + prog->n_scalars + r.index;
                kinds |= 1 << j;
                break;
            default:            /* DLH_EW_REG */
                if (reg_val[r.index]) {
                    o.val[j] = reg_val[r.index];
                    kinds |= 1 << j;
                } else {
                    o.vec[j] = (uint16_t)(reg_slot0 + r.index);
                    all_scalar = 0;
                }
                break;
            }
        }
        /* A register, or else a written array. */
        int dst_reg = in->dst.src == DLH_EW_REG ? in->dst.index : -1;
        /* The element index and random draws differ per element whatever
           their operands: they run over blocks, in ew_per_element. */
        int per_element = op == DLH_EW_INDEX || op == DLH_EW_UNIFORM || op == DLH_EW_NORMAL;

        if (all_scalar && !per_element) {
            uint32_t v;
            if (in->op == DLH_EW_MOV) {
                v = o.val[0];     /* t = lr: the register just names lr's value */
            } else {
                ew_uop *u = &k->uops[k->n_uops++];
                u->fn = isa->loops[in->op][0];
                u->dst = v = n_vals++;
                memcpy(u->val, o.val, sizeof u->val);
            }
            if (dst_reg >= 0) {
                reg_val[dst_reg] = v;
                continue;
            }
            /* An array set to a per-call value: fill it. */
            memset(&o, 0, sizeof o);
            o.val[0] = v;
            kinds = 1;
            op = DLH_EW_MOV;
        }
        o.fn = per_element ? NULL : isa->loops[op][kinds];
        o.op = (uint8_t)op;
        o.kinds = (uint8_t)kinds;
        if (!o.fn && !per_element)
            return ew_bad_program(k, i, "operand kinds this runner has no loop for");
        if (dst_reg >= 0) {
            o.dst = (uint16_t)(reg_slot0 + dst_reg);
            reg_val[dst_reg] = 0;
        } else {
            o.dst = (uint16_t)(1 + in->dst.index);
        }
        k->ops[k->n_ops++] = o;
    }
    k->n_vals = n_vals;
    const char *plain = getenv("DLHOST_CPU_EW_PLAIN");
    k->plain = plain && *plain && strcmp(plain, "0") != 0;
    const char *fuse = getenv("DLHOST_CPU_EW_FUSE");
    if (!k->plain && !(fuse && strcmp(fuse, "0") == 0)) {
        ew_fuse(k, isa, reg_slot0);
        ew_fuse_chains(k, isa, reg_slot0);
        ew_fuse_adam(k, isa, reg_slot0);
    }
    for (uint32_t i = 0; i < prog->n_arrays; i++)
        k->n_gather += k->read[i] && !k->written[i];

    k->threads = ctx && ctx->max_threads > 1 ? ctx->max_threads : 1;
    k->scratch_per_thread = ((size_t)k->n_regs + (size_t)k->n_gather) * CPU_EW_BLOCK;
    if (k->scratch_per_thread) {
        void *p = NULL;
        if (posix_memalign(&p, 64, k->scratch_per_thread * k->threads * sizeof(float))) {
            ew_kernel_free(k);
            cpu_host->error("cpu ew: out of memory");
            return DLH_ENOMEM;
        }
        k->scratch = p;
    }
    *out = k;
    return 0;
}

/* ---------------------------------------------------------------- run */

/* dst[t] = x[((i0 + t) / s) % L] for t < len. */
static void ew_gather(float *dst, const float *x, size_t L, size_t s, size_t i0, size_t len)
{
    size_t q = i0 / s, r = i0 % s, j = q % L;
    if (L == 1) {
        const float v = x[0];
        for (size_t t = 0; t < len; t++)
            dst[t] = v;
        return;
    }
    if (s == 1) {
        while (len) {
            size_t run = L - j < len ? L - j : len;
            memcpy(dst, x + j, run * sizeof *dst);
            dst += run;
            len -= run;
            j = 0;
        }
        return;
    }
    while (len) {
        size_t run = s - r < len ? s - r : len;
        const float v = x[j];
        for (size_t t = 0; t < run; t++)
            dst[t] = v;
        dst += run;
        len -= run;
        r = 0;
        if (++j == L)
            j = 0;
    }
}

/* d[t] for elements i0 + t, t < len, of an op without a loop: the element
   index, or a draw under the key in vals[val[0]..] (dlhost/ew.h).  The
   draw of element i depends on i alone, so neither the block size nor the
   threads' shares change it. */
static void ew_per_element(const ew_op *o, float *d, const float *vals, size_t i0, size_t len)
{
    if (o->op == DLH_EW_INDEX) {
        for (size_t t = 0; t < len; t++)
            d[t] = (float)(i0 + t);
        return;
    }
    uint32_t w[DLH_EW_KEY_WORDS];
    memcpy(w, vals + o->val[0], sizeof w);
    const uint64_t seed = w[0] | (uint64_t)w[1] << 32, stream = w[2] | (uint64_t)w[3] << 32;
    const uint64_t c0 = (w[4] | (uint64_t)w[5] << 32) + i0;
    if (o->op == DLH_EW_UNIFORM)
        for (size_t t = 0; t < len; t++)
            d[t] = dlh_philox_uniform(seed, stream, c0 + t, 0.0f, 1.0f);
    else
        for (size_t t = 0; t < len; t++)
            d[t] = dlh_philox_normal_portable(seed, stream, c0 + t);
}

typedef struct ew_call {
    const ew_kernel *k;
    size_t n;
    size_t block;           /* elements per block: CPU_EW_BLOCK, or n when plain */
    float *scratch;         /* registers and gathered blocks, per thread */
    size_t per_thread;      /* floats of scratch per thread */
    const dlh_ew_arg *args;
    float *base[DLH_EW_MAX_OPERANDS];
    unsigned char full[DLH_EW_MAX_OPERANDS];
} ew_call;

static void ew_block(const ew_call *c, float **ptr, float *gather, size_t i0, size_t len)
{
    const ew_kernel *k = c->k;
    for (uint32_t j = 0; j < k->n_arrays; j++) {
        if (c->full[j]) {
            ptr[1 + j] = c->base[j] + i0;
        } else if (k->read[j]) {
            ew_gather(gather, c->base[j], c->args[j].len, c->args[j].stride, i0, len);
            ptr[1 + j] = gather;
            gather += c->block;
        }
    }
    const float *vals = k->vals;
    if (k->adam) {
        float s[7];
        for (int j = 0; j < 7; j++)
            s[j] = vals[k->adam_val[j]];
        k->adam(ptr[k->adam_vec[0]], ptr[k->adam_vec[1]], ptr[k->adam_vec[2]],
                ptr[k->adam_vec[3]], s, len);
        return;
    }
    for (size_t i = 0; i < k->n_ops; i++) {
        const ew_op *o = &k->ops[i];
        if (!o->fn) {
            ew_per_element(o, ptr[o->dst], vals, i0, len);
            continue;
        }
        o->fn(ptr[o->dst], ptr[o->vec[0]], ptr[o->vec[1]], ptr[o->vec[2]], vals[o->val[0]],
              vals[o->val[1]], vals[o->val[2]], len);
    }
}

/* Runs blocks [b0, b1) on the scratch of thread `tid`. */
static void ew_blocks(const ew_call *c, int tid, size_t b0, size_t b1)
{
    const ew_kernel *k = c->k;
    float *ptr[1 + DLH_EW_MAX_OPERANDS + DLH_EW_MAX_REGS] = { NULL };
    const size_t bs = c->block;
    float *mine = c->scratch ? c->scratch + (size_t)tid * c->per_thread : NULL;
    for (uint32_t r = 0; r < k->n_regs; r++)
        ptr[1 + k->n_arrays + r] = mine + (size_t)r * bs;
    float *gather = mine ? mine + (size_t)k->n_regs * bs : NULL;
    for (size_t b = b0; b < b1; b++) {
        size_t i0 = b * bs;
        size_t len = c->n - i0 < bs ? c->n - i0 : bs;
        ew_block(c, ptr, gather, i0, len);
    }
}

int cpu_ew_run(void *vctx, void *kernel, size_t n, const dlh_ew_arg *args,
               const float *scalars)
{
    const cpu_ctx *ctx = vctx;
    ew_kernel *k = kernel;
    if (n == 0)
        return 0;
    ew_call c;
    memset(&c, 0, sizeof c);
    c.k = k;
    c.n = n;
    c.args = args;
    c.block = CPU_EW_BLOCK;
    c.scratch = k->scratch;
    c.per_thread = k->scratch_per_thread;
    if (k->plain) {
        size_t want = ((size_t)k->n_regs + (size_t)k->n_gather) * n;
        if (want > k->plain_floats) {
            float *p = realloc(k->plain_scratch, want * sizeof *p);
            if (!p) {
                cpu_host->error("cpu ew: out of memory");
                return DLH_ENOMEM;
            }
            k->plain_scratch = p;
            k->plain_floats = want;
        }
        c.block = n;
        c.scratch = k->plain_scratch;
        c.per_thread = want;
    }
    for (uint32_t j = 0; j < k->n_arrays; j++) {
        const dlh_ew_arg *a = &args[j];
        int rc = bchk_ew_operand(&cpu_checks, j, n, a, k->written[j]);
        if (rc != 0)
            return rc;
        c.base[j] = cpu_f32(a->mem);
        /* (i / 1) % L == i for every i < n <= L */
        c.full[j] = a->stride == 1 && a->len >= n;
    }
    if (k->n_scalars)
        memcpy(k->vals + 1, scalars, k->n_scalars * sizeof *scalars);
    for (size_t i = 0; i < k->n_uops; i++) {
        const ew_uop *u = &k->uops[i];
        u->fn(k->vals + u->dst, k->vals + u->val[0], k->vals + u->val[1], k->vals + u->val[2],
              0.0f, 0.0f, 0.0f, 1);
    }

    size_t n_blocks = (n + c.block - 1) / c.block;
    size_t work = n * (k->n_arrays ? k->n_arrays : 1);
    int threads = work >= (ctx && ctx->passive ? CPU_EW_PAR_WORK_PASSIVE : CPU_EW_PAR_WORK)
                      ? k->threads : 1;
    if (ctx && ctx->threads < threads)
        threads = ctx->threads > 1 ? ctx->threads : 1;
    if ((size_t)threads > n_blocks)
        threads = (int)n_blocks;
#ifdef _OPENMP
    if (threads > 1) {
        #pragma omp parallel num_threads(threads)
        {
            /* Static contiguous shares: each thread streams its own range. */
            int tid = omp_get_thread_num(), nt = omp_get_num_threads();
            size_t b0 = n_blocks * (size_t)tid / (size_t)nt;
            size_t b1 = n_blocks * (size_t)(tid + 1) / (size_t)nt;
            ew_blocks(&c, tid, b0, b1);
        }
        return 0;
    }
#endif
    ew_blocks(&c, 0, 0, n_blocks);
    return 0;
}
