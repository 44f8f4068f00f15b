/* Fuzz target: the elementwise-program compiler (core/ew_compile.c).
 *
 * Input: program text.  A program that compiles must be one every backend
 * can run without further checks: each operand in range, every register
 * and every 'out' array written before it is read, results written only
 * to registers and to 'out'/'inout' arrays, the right operand count for
 * each opcode.  And it must compute what the text says: the instruction
 * list, run here element by element, gives bit for bit what a direct
 * reading of the text gives (ew_ref below), so a register handed out while
 * a local still lives in it, a wrong fold or a lost statement shows.  A
 * failure must be DLH_EPARSE with an "ew:" message. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "ew.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Operands each opcode reads (dlhost/ew.h). */
static int ew_arity(int op)
{
    switch (op) {
    case DLH_EW_MOV: case DLH_EW_NEG: case DLH_EW_EXP: case DLH_EW_LOG:
    case DLH_EW_SQRT: case DLH_EW_RSQRT: case DLH_EW_ABS: case DLH_EW_SIGN:
    case DLH_EW_TANH: case DLH_EW_SIGMOID: case DLH_EW_ERF: case DLH_EW_FLOOR:
    case DLH_EW_CEIL: case DLH_EW_ROUND: case DLH_EW_SIN: case DLH_EW_COS:
    case DLH_EW_UNIFORM: case DLH_EW_NORMAL:
        return 1;
    case DLH_EW_INDEX:
        return 0;
    case DLH_EW_SELECT: case DLH_EW_MULADD:
        return 3;
    default:
        return 2;
    }
}

/* A source operand of instruction i: in range and already defined. */
static void ew_check_read(const dlh_ew_program *p, uint32_t i, dlh_ew_ref r,
                          const unsigned char *reg_set, const unsigned char *arr_set)
{
    switch (r.src) {
    case DLH_EW_ARRAY:
        if (r.index >= p->n_arrays)
            fuzz_fail("instruction %u reads array %u of %u", i, r.index, p->n_arrays);
        if (p->access[r.index] == DLH_EW_OUT && !arr_set[r.index])
            fuzz_fail("instruction %u reads 'out' array '%s' before it is written", i,
                      p->array_names[r.index]);
        break;
    case DLH_EW_SCALAR:
        if (r.index >= p->n_scalars)
            fuzz_fail("instruction %u reads scalar %u of %u", i, r.index, p->n_scalars);
        break;
    case DLH_EW_CONST:
        if (r.index >= p->n_consts)
            fuzz_fail("instruction %u reads constant %u of %u", i, r.index, p->n_consts);
        break;
    case DLH_EW_REG:
        if (r.index >= p->n_regs || !reg_set[r.index])
            fuzz_fail("instruction %u reads register %u before it is written", i, r.index);
        break;
    default:
        fuzz_fail("instruction %u has an operand of kind %u", i, r.src);
    }
}

static void ew_check(const dlh_ew_program *p, const char *src)
{
    unsigned char reg_set[DLH_EW_MAX_REGS] = { 0 }, arr_set[DLH_EW_MAX_OPERANDS] = { 0 };
    if (p->struct_size != sizeof *p || p->n_arrays > DLH_EW_MAX_OPERANDS ||
        p->n_scalars > DLH_EW_MAX_SCALARS || p->n_regs > DLH_EW_MAX_REGS)
        fuzz_fail("program header out of bounds: %u arrays, %u scalars, %u registers",
                  p->n_arrays, p->n_scalars, p->n_regs);
    if (!p->instrs || p->n_instrs == 0)
        fuzz_fail("a program without instructions");
    if (!p->source || strcmp(p->source, src) != 0)
        fuzz_fail("the program does not keep its source text");
    int writes = 0;
    for (uint32_t a = 0; a < p->n_arrays; a++)
        if (!p->array_names[a] || p->access[a] < DLH_EW_IN || p->access[a] > DLH_EW_INOUT)
            fuzz_fail("array %u has no name or access %u", a, p->access[a]);
    for (uint32_t s = 0; s < p->n_scalars; s++)
        if (!p->scalar_names[s])
            fuzz_fail("scalar %u has no name", s);
    for (uint32_t i = 0; i < p->n_instrs; i++) {
        const dlh_ew_instr *in = &p->instrs[i];
        if (in->op >= DLH_EW_OPCODE_COUNT)
            fuzz_fail("instruction %u has opcode %u", i, in->op);
        const dlh_ew_ref src_refs[3] = { in->a, in->b, in->c };
        int arity = ew_arity(in->op);
        if ((in->op == DLH_EW_UNIFORM || in->op == DLH_EW_NORMAL) &&
            (in->a.src != DLH_EW_SCALAR || in->a.index + (uint32_t)DLH_EW_KEY_WORDS > p->n_scalars))
            fuzz_fail("instruction %u draws with a key that is not %d scalars in range", i,
                      DLH_EW_KEY_WORDS);
        for (int k = 0; k < 3; k++) {
            if (k < arity)
                ew_check_read(p, i, src_refs[k], reg_set, arr_set);
            else if (src_refs[k].src != DLH_EW_NONE)
                fuzz_fail("instruction %u has %d operands, opcode %u takes %d", i, k + 1,
                          in->op, arity);
        }
        if (in->dst.src == DLH_EW_REG && in->dst.index < p->n_regs) {
            reg_set[in->dst.index] = 1;
        } else if (in->dst.src == DLH_EW_ARRAY && in->dst.index < p->n_arrays &&
                   p->access[in->dst.index] != DLH_EW_IN) {
            arr_set[in->dst.index] = 1;
            writes = 1;
        } else {
            fuzz_fail("instruction %u writes operand %u of kind %u", i, in->dst.index,
                      in->dst.src);
        }
    }
    if (!writes)
        fuzz_fail("the program writes no array");
    for (uint32_t a = 0; a < p->n_arrays; a++)
        if (p->access[a] == DLH_EW_OUT && !arr_set[a])
            fuzz_fail("'out' array '%s' is never written", p->array_names[a]);
}

/* ------------------------------------------------------------ reference */

#define EW_MAX_NAMES 1024          /* a 4 kB input names fewer */

/* A direct reading of program text for one element: a small recursive-
   descent evaluator of the grammar of dlhost/ew.h, written apart from the
   compiler.  Only programs the compiler accepted come here. */
typedef struct ew_ref {
    const char *p;
    int n;                                  /* names known */
    struct {
        const char *s;
        size_t len;
        int kind;                           /* 0 array, 1 scalar, 2 local, 3 key */
        int index;                          /* array or scalar index */
        float v;                            /* local value */
    } names[EW_MAX_NAMES];
    float *arrays;                          /* [n_arrays] this element */
    const float *scalars;
    uint64_t elem;                          /* the element's index */
} ew_ref;

static void ew_ref_ws(ew_ref *r)
{
    for (;;) {
        while (*r->p && strchr(" \t\r\v\f\n", *r->p))
            r->p++;
        if (*r->p != '#')
            return;
        while (*r->p && *r->p != '\n')
            r->p++;
    }
}

static size_t ew_ref_name_len(const char *p)
{
    size_t n = 0;
    if (isalpha((unsigned char)*p) || *p == '_')
        while (isalnum((unsigned char)p[n]) || p[n] == '_')
            n++;
    return n;
}

/* Consumes `s` (after blanks) when it comes next. */
static int ew_ref_eat(ew_ref *r, const char *s)
{
    ew_ref_ws(r);
    size_t n = strlen(s);
    if (strncmp(r->p, s, n) != 0)
        return 0;
    r->p += n;
    return 1;
}

static int ew_ref_find(const ew_ref *r, const char *s, size_t len)
{
    for (int i = 0; i < r->n; i++)
        if (r->names[i].len == len && memcmp(r->names[i].s, s, len) == 0)
            return i;
    return -1;
}

static float ew_ref_expr(ew_ref *r);

static float ew_ref_primary(ew_ref *r)
{
    static const struct { const char *name; int op, n; } fns[] = {
        { "exp", DLH_EW_EXP, 1 }, { "log", DLH_EW_LOG, 1 }, { "sqrt", DLH_EW_SQRT, 1 },
        { "rsqrt", DLH_EW_RSQRT, 1 }, { "abs", DLH_EW_ABS, 1 }, { "sign", DLH_EW_SIGN, 1 },
        { "tanh", DLH_EW_TANH, 1 }, { "sigmoid", DLH_EW_SIGMOID, 1 },
        { "min", DLH_EW_MIN, 2 }, { "max", DLH_EW_MAX, 2 }, { "pow", DLH_EW_POW, 2 },
        { "select", DLH_EW_SELECT, 3 }, { "erf", DLH_EW_ERF, 1 },
        { "floor", DLH_EW_FLOOR, 1 }, { "ceil", DLH_EW_CEIL, 1 }, { "round", DLH_EW_ROUND, 1 },
        { "sin", DLH_EW_SIN, 1 }, { "cos", DLH_EW_COS, 1 }, { "fmod", DLH_EW_FMOD, 2 },
        { "atan2", DLH_EW_ATAN2, 2 },
    };
    ew_ref_ws(r);
    if (ew_ref_eat(r, "(")) {
        float v = ew_ref_expr(r);
        if (!ew_ref_eat(r, ")"))
            fuzz_fail("reference: ')' expected at '%.20s'", r->p);
        return v;
    }
    size_t len = ew_ref_name_len(r->p);
    if (len == 0) {
        char *end;
        float v = strtof(r->p, &end);
        if (end == r->p)
            fuzz_fail("reference: an expression expected at '%.20s'", r->p);
        r->p = end;
        return v;
    }
    const char *name = r->p;
    r->p += len;
    int call = ew_ref_eat(r, "(");
    if (call && ((len == 7 && !memcmp(name, "uniform", 7)) ||
                 (len == 6 && !memcmp(name, "normal", 6)))) {
        ew_ref_ws(r);
        size_t kl = ew_ref_name_len(r->p);
        int k = ew_ref_find(r, r->p, kl);
        if (k < 0 || r->names[k].kind != 3)
            fuzz_fail("reference: a key expected at '%.20s'", r->p);
        r->p += kl;
        if (!ew_ref_eat(r, ")"))
            fuzz_fail("reference: ')' expected at '%.20s'", r->p);
        return dlh_ew_elem_eval(len == 7 ? DLH_EW_UNIFORM : DLH_EW_NORMAL, r->elem,
                                r->scalars + r->names[k].index);
    }
    if (call) {
        for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
            if (strlen(fns[f].name) != len || memcmp(fns[f].name, name, len) != 0)
                continue;
            float a[3] = { 0.0f, 0.0f, 0.0f };
            for (int i = 0; i < fns[f].n; i++) {
                if (i > 0 && !ew_ref_eat(r, ","))
                    fuzz_fail("reference: ',' expected at '%.20s'", r->p);
                a[i] = ew_ref_expr(r);
            }
            if (!ew_ref_eat(r, ")"))
                fuzz_fail("reference: ')' expected at '%.20s'", r->p);
            return dlh_ew_op_eval(fns[f].op, a[0], a[1], a[2]);
        }
        fuzz_fail("reference: unknown function '%.*s'", (int)len, name);
    }
    int k = ew_ref_find(r, name, len);
    if (k < 0 && len == 3 && !memcmp(name, "idx", 3))
        return dlh_ew_elem_eval(DLH_EW_INDEX, r->elem, NULL);
    if (k < 0)
        fuzz_fail("reference: unknown name '%.*s'", (int)len, name);
    return r->names[k].kind == 0 ? r->arrays[r->names[k].index]
         : r->names[k].kind == 1 ? r->scalars[r->names[k].index] : r->names[k].v;
}

static float ew_ref_unary(ew_ref *r)
{
    if (ew_ref_eat(r, "-"))
        return -ew_ref_unary(r);
    return ew_ref_primary(r);
}

static float ew_ref_term(ew_ref *r)
{
    float v = ew_ref_unary(r);
    for (;;) {
        if (ew_ref_eat(r, "*"))
            v = v * ew_ref_unary(r);
        else if (ew_ref_eat(r, "/"))
            v = v / ew_ref_unary(r);
        else
            return v;
    }
}

static float ew_ref_sum(ew_ref *r)
{
    float v = ew_ref_term(r);
    for (;;) {
        if (ew_ref_eat(r, "+"))
            v = v + ew_ref_term(r);
        else if (ew_ref_eat(r, "-"))
            v = v - ew_ref_term(r);
        else
            return v;
    }
}

static float ew_ref_expr(ew_ref *r)
{
    /* Two-character operators first. */
    static const struct { const char *s; int op; } cmps[] = {
        { "<=", DLH_EW_LE }, { ">=", DLH_EW_GE }, { "==", DLH_EW_EQ }, { "!=", DLH_EW_NE },
        { "<", DLH_EW_LT }, { ">", DLH_EW_GT },
    };
    float v = ew_ref_sum(r);
    for (;;) {
        int op = -1;
        for (size_t i = 0; i < sizeof cmps / sizeof cmps[0] && op < 0; i++)
            if (ew_ref_eat(r, cmps[i].s))
                op = cmps[i].op;
        if (op < 0)
            return v;
        v = dlh_ew_op_eval(op, v, ew_ref_sum(r), 0.0f);
    }
}

/* Runs program text src for element `elem`: arrays[] in and out. */
static void ew_ref_run(const char *src, float *arrays, const float *scalars, uint64_t elem)
{
    static ew_ref r;
    memset(&r, 0, sizeof r);
    r.p = src;
    r.arrays = arrays;
    r.scalars = scalars;
    r.elem = elem;
    int n_arrays = 0, n_scalars = 0;
    for (ew_ref_ws(&r); *r.p; ew_ref_ws(&r)) {
        size_t len = ew_ref_name_len(r.p);
        const char *name = r.p;
        int kw = len == 2 && !memcmp(name, "in", 2) ? 0
               : len == 3 && !memcmp(name, "out", 3) ? 0
               : len == 5 && !memcmp(name, "inout", 5) ? 0
               : len == 6 && !memcmp(name, "scalar", 6) ? 1
               : len == 3 && !memcmp(name, "key", 3) ? 3 : -1;
        if (len == 0)
            fuzz_fail("reference: a statement expected at '%.20s'", r.p);
        r.p += len;
        if (kw >= 0) {
            do {
                ew_ref_ws(&r);
                size_t n = ew_ref_name_len(r.p);
                if (n == 0 || r.n == EW_MAX_NAMES)
                    fuzz_fail("reference: a name expected at '%.20s'", r.p);
                r.names[r.n].s = r.p;
                r.names[r.n].len = n;
                r.names[r.n].kind = kw;
                r.names[r.n++].index = kw ? n_scalars : n_arrays++;
                n_scalars += kw == 3 ? DLH_EW_KEY_WORDS : kw;
                r.p += n;
            } while (ew_ref_eat(&r, ","));
        } else {
            if (!ew_ref_eat(&r, "="))
                fuzz_fail("reference: '=' expected at '%.20s'", r.p);
            float v = ew_ref_expr(&r);
            int k = ew_ref_find(&r, name, len);
            if (k < 0) {
                if (r.n == EW_MAX_NAMES)
                    fuzz_fail("reference: too many names");
                k = r.n++;
                r.names[k].s = name;
                r.names[k].len = len;
                r.names[k].kind = 2;
            }
            if (r.names[k].kind == 0)
                arrays[r.names[k].index] = v;
            else
                r.names[k].v = v;
        }
        if (!ew_ref_eat(&r, ";"))
            fuzz_fail("reference: ';' expected at '%.20s'", r.p);
    }
}

/* The value an instruction operand reads for one element. */
static float ew_read(const dlh_ew_program *p, dlh_ew_ref ref, const float *arrays,
                     const float *scalars, const float *regs)
{
    switch (ref.src) {
    case DLH_EW_ARRAY: return arrays[ref.index];
    case DLH_EW_SCALAR: return scalars[ref.index];
    case DLH_EW_CONST: return p->consts[ref.index];
    default: return regs[ref.index];
    }
}

/* Runs the instruction list and the text on the same values, for a few
   elements, and compares every array bit for bit (any NaN equals any). */
static void ew_compare(const dlh_ew_program *p, const uint8_t *data, size_t size)
{
    static const float values[] = {
        0.0f, 1.0f, -1.0f, 0.5f, 2.0f, -0.0f, 3.25f, -7.5f, 1e-3f, 100.0f, 1e30f,
        -1e-30f, INFINITY, -INFINITY, NAN, 0.25f, -2.0f,
    };
    const size_t nv = sizeof values / sizeof values[0];
    unsigned seed = 0;
    for (size_t i = 0; i < size; i++)
        seed = seed * 31u + data[i];
    for (unsigned e = 0; e < 3; e++) {
        float a_ref[DLH_EW_MAX_OPERANDS], a_run[DLH_EW_MAX_OPERANDS];
        float sc[DLH_EW_MAX_SCALARS], regs[DLH_EW_MAX_REGS];
        for (unsigned i = 0; i < DLH_EW_MAX_OPERANDS; i++)
            a_ref[i] = a_run[i] = values[(seed + 7u * i + 3u * e) % nv];
        for (unsigned i = 0; i < DLH_EW_MAX_SCALARS; i++)
            sc[i] = values[(seed / 5u + 11u * i + e) % nv];
        for (unsigned i = 0; i < DLH_EW_MAX_REGS; i++)
            regs[i] = NAN;
        /* elements 0, 1 and 2^24 + 1 (where idx rounds) */
        uint64_t elem = e < 2 ? e : (1u << 24) + 1;
        ew_ref_run(p->source, a_ref, sc, elem);
        for (uint32_t i = 0; i < p->n_instrs; i++) {
            const dlh_ew_instr *in = &p->instrs[i];
            float v;
            if (in->op == DLH_EW_INDEX || in->op == DLH_EW_UNIFORM || in->op == DLH_EW_NORMAL)
                v = dlh_ew_elem_eval(in->op, elem, in->op == DLH_EW_INDEX ? NULL
                                                                          : sc + in->a.index);
            else
                v = dlh_ew_op_eval(in->op, ew_read(p, in->a, a_run, sc, regs),
                                   in->b.src ? ew_read(p, in->b, a_run, sc, regs) : 0.0f,
                                   in->c.src ? ew_read(p, in->c, a_run, sc, regs) : 0.0f);
            if (in->dst.src == DLH_EW_REG)
                regs[in->dst.index] = v;
            else
                a_run[in->dst.index] = v;
        }
        for (uint32_t a = 0; a < p->n_arrays; a++) {
            uint32_t x, y;
            memcpy(&x, &a_ref[a], 4);
            memcpy(&y, &a_run[a], 4);
            if (x != y && !(isnan(a_ref[a]) && isnan(a_run[a])))
                fuzz_fail("array '%s', element %u: the text gives %.9g, the program %.9g",
                          p->array_names[a], e, a_ref[a], a_run[a]);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *src = malloc(size + 1);
    if (!src)
        fuzz_fail("out of memory");
    memcpy(src, data, size);
    src[size] = '\0';
    dlh_ew_program *p = NULL;
    dlh_error_clear();
    int rc = dlh_ew_parse(src, &p);
    if (rc == 0) {
        ew_check(p, src);
        ew_compare(p, data, size);
    } else {
        fuzz_check_error(rc, NULL);
        if (rc != DLH_EPARSE && rc != DLH_ENOMEM)
            fuzz_fail("failed with %s, not a parse error", dlh_strerror(rc));
        if (strncmp(dlh_error_get(), "ew:", 3) != 0)
            fuzz_fail("a parse error without the 'ew:' prefix");
        if (p)
            fuzz_fail("failed but handed out a program");
    }
    dlh_ew_program_free(p);
    free(src);
    return 0;
}
