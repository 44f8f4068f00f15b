/* dlhost SDK — elementwise programs.
 *
 * The host compiles a short text program once (host->ew_compile) into the
 * flat instruction list below; each backend turns that list into something it
 * can run fused in one pass over memory (a block interpreter on cpu, kernel
 * source on OpenCL and CUDA).  Plugins never build programs by hand: they
 * write text such as
 *
 *   in g; inout p, m; scalar lr, mu;
 *   m = mu*m + g;
 *   p = p - lr*m;
 *
 * Declarations: `in` (read), `out` (written), `inout` (read and written)
 * arrays and `scalar` values; an assignment to an undeclared name makes a
 * local temporary.  Statements run in order for each element i; a later
 * statement sees earlier assignments.  Operators + - * / < <= > >= == !=
 * (comparisons give 1 or 0), unary -, functions exp log sqrt rsqrt abs sign
 * tanh sigmoid min max pow select(c, a, b) (c != 0 ? a : b), decimal literals.
 *
 * ABI 1.5 adds: erf, floor, ceil, round (half to even, as torch.round and C's
 * rint), fmod(a, b) (C's fmodf, torch.fmod: the sign of a), sin, cos,
 * atan2(y, x); the builtin name `idx`, element i of the run as a float (exact
 * below 2^24 = 16777216; above, the nearest float, ties to even, so idx
 * then repeats values: compute with it only where n <= 2^24); and random
 * numbers: `key k;` declares a random key, which fills DLH_EW_KEY_WORDS
 * consecutive scalars (write them with dlh_ew_key), and uniform(k) in
 * [0, 1) and normal(k) (mean 0, standard deviation 1) are element i's draw
 * under that key: Philox 4x32-10 block (seed, stream, offset + i) of
 * dlhost/philox.h, uniform(k) = dlh_philox_uniform(seed, stream, offset + i,
 * 0, 1) (the backends' rand fill, bit for bit) and normal(k) =
 * dlh_philox_normal_portable(seed, stream, offset + i), whose log and cos are
 * plain float arithmetic, so every backend and every split of the run into
 * blocks draws the same bits (i is exact: a 64-bit count, never a float).
 * uniform(k) and normal(k) of one key share the block's first word; draws
 * meant to be independent take keys with different streams.  A key is only
 * an argument of uniform and normal; a name declared in the program hides
 * the builtin idx.
 *
 * At run time every array operand is a dlh_ew_arg; element i of an operand
 * with length L and inner stride s is x[(i / s) % L], so a bias over the rows
 * of a [rows, cols] matrix is (L = cols, s = 1) and a per-channel value in
 * NCHW is (L = C, s = H*W).  An operand that is written must have L = n, s = 1. */
#ifndef DLHOST_EW_H
#define DLHOST_EW_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tensor.h"

#define DLH_EW_MAX_OPERANDS 16   /* arrays per program */
#define DLH_EW_MAX_SCALARS 16
#define DLH_EW_MAX_REGS 64       /* temporaries, including locals */

/* Where an instruction operand comes from. */
typedef enum dlh_ew_src {
    DLH_EW_NONE = 0,   /* unused slot */
    DLH_EW_ARRAY,      /* array operand `index` (declaration order of in/out/inout) */
    DLH_EW_SCALAR,     /* scalar `index` (declaration order of scalar) */
    DLH_EW_CONST,      /* program->consts[index] */
    DLH_EW_REG         /* temporary register `index` */
} dlh_ew_src;

typedef enum dlh_ew_opcode {
    DLH_EW_MOV = 0,                                    /* a */
    DLH_EW_ADD, DLH_EW_SUB, DLH_EW_MUL, DLH_EW_DIV,    /* a op b */
    DLH_EW_NEG,                                        /* -a */
    DLH_EW_LT, DLH_EW_LE, DLH_EW_GT, DLH_EW_GE, DLH_EW_EQ, DLH_EW_NE, /* 1 or 0 */
    DLH_EW_EXP, DLH_EW_LOG, DLH_EW_SQRT, DLH_EW_RSQRT, DLH_EW_ABS, DLH_EW_SIGN,
    DLH_EW_TANH, DLH_EW_SIGMOID,                       /* f(a) */
    DLH_EW_MIN, DLH_EW_MAX, DLH_EW_POW,                /* f(a, b) */
    DLH_EW_SELECT,                                     /* a != 0 ? b : c */
    DLH_EW_MULADD,                                     /* a*b + c (folded by the compiler) */
    /* ABI 1.5 opcodes go below this line. */
    DLH_EW_ERF, DLH_EW_FLOOR, DLH_EW_CEIL, DLH_EW_ROUND, /* f(a); round: half to even */
    DLH_EW_SIN, DLH_EW_COS,                            /* f(a) */
    DLH_EW_FMOD, DLH_EW_ATAN2,                         /* fmodf(a, b), atan2f(a, b) */
    DLH_EW_INDEX,                                      /* (float)i; no operands */
    DLH_EW_UNIFORM, DLH_EW_NORMAL,                     /* a: the SCALAR that begins a key */
    DLH_EW_OPCODE_COUNT
} dlh_ew_opcode;

typedef struct dlh_ew_ref {
    uint8_t src;      /* dlh_ew_src */
    uint8_t pad_;
    uint16_t index;
} dlh_ew_ref;

/* dst = op(a, b, c); dst is a REG or a written ARRAY. */
typedef struct dlh_ew_instr {
    uint16_t op;      /* dlh_ew_opcode */
    uint16_t pad_;
    dlh_ew_ref dst, a, b, c;
} dlh_ew_instr;

typedef enum dlh_ew_access {
    DLH_EW_IN = 1, DLH_EW_OUT = 2, DLH_EW_INOUT = 3
} dlh_ew_access;

/* A compiled program; owned by the host, immutable, valid until freed. */
typedef struct dlh_ew_program {
    uint32_t struct_size;
    uint32_t n_arrays;                 /* array operands */
    uint32_t n_scalars;
    uint32_t n_regs;                   /* registers used: 0 .. n_regs-1 */
    uint32_t n_consts;
    uint32_t n_instrs;
    const dlh_ew_instr *instrs;
    const float *consts;
    const uint8_t *access;             /* [n_arrays] dlh_ew_access */
    const char *const *array_names;    /* [n_arrays] */
    const char *const *scalar_names;   /* [n_scalars] */
    const char *source;                /* the text it was compiled from */
} dlh_ew_program;

/* An array operand at run time: element i reads mem[(i / stride) % len]. */
typedef struct dlh_ew_arg {
    dlh_mem mem;     /* float elements */
    size_t len;      /* L >= 1 */
    size_t stride;   /* s >= 1 */
} dlh_ew_arg;

/* Scalars a random key (`key k;`) fills: seed, stream and offset, each as
   its low then its high 32-bit word, stored as the bits of a float. */
#define DLH_EW_KEY_WORDS 6

/* Writes the key (seed, stream, offset) into the DLH_EW_KEY_WORDS scalars
   at dst (the key's place in the scalars array of ew_run). */
static inline void dlh_ew_key(float *dst, uint64_t seed, uint64_t stream, uint64_t offset)
{
    const uint32_t w[DLH_EW_KEY_WORDS] = {
        (uint32_t)seed, (uint32_t)(seed >> 32), (uint32_t)stream, (uint32_t)(stream >> 32),
        (uint32_t)offset, (uint32_t)(offset >> 32),
    };
    memcpy(dst, w, sizeof w);
}

/* A full-length contiguous operand of n elements. */
static inline dlh_ew_arg dlh_ew_full(dlh_mem m, size_t n)
{
    dlh_ew_arg a = { m, n, 1 };
    return a;
}

#endif
