/* Fuzz target: the elementwise-program compiler (core/ew_compile.c).
 *
 * Input: program text.  A program that compiles must be one every backend
 * can run without further checks: each operand in range, every register
 * and every 'out' array written before it is read, results written only
 * to registers and to 'out'/'inout' arrays, the right operand count for
 * each opcode.  A failure must be DLH_EPARSE with an "ew:" message. */
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
    case DLH_EW_TANH: case DLH_EW_SIGMOID:
        return 1;
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
