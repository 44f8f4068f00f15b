/* The elementwise-program compiler (text -> dlh_ew_program) and the
 * host-side kernel object that binds a program to a backend. */
#ifndef DLHOST_CORE_EW_H
#define DLHOST_CORE_EW_H

#include <dlhost/backend.h>
#include <dlhost/ew.h>
#include <dlhost/host.h>

/* Parses and compiles `source`.  On error: message "ew:LINE:COL: what"
   (plus the offending line and a caret), DLH_EPARSE. */
int dlh_ew_parse(const char *source, dlh_ew_program **out);
void dlh_ew_program_free(dlh_ew_program *prog);
/* What opcode `op` gives for operands x, y and z (unused ones ignored), by
   the formulas of dlhost/ew.h: the compiler folds literals with it, and the
   ew fuzz target runs programs with it. */
float dlh_ew_op_eval(int op, float x, float y, float z);
/* What a per-element opcode (DLH_EW_INDEX, DLH_EW_UNIFORM, DLH_EW_NORMAL)
   gives for element i of a run; key: the DLH_EW_KEY_WORDS scalars of the
   random key (NULL for INDEX).  NAN for any other opcode. */
float dlh_ew_elem_eval(int op, uint64_t i, const float *key);

/* host->ew_compile / ew_run / ew_program / ew_free. */
int dlh_ew_compile(const dlh_backend *be, const char *source, dlh_ew_kernel **out);
int dlh_ew_run(dlh_ew_kernel *k, size_t n, const dlh_ew_arg *args, const float *scalars);
const dlh_ew_program *dlh_ew_kernel_program(const dlh_ew_kernel *k);
void dlh_ew_free(dlh_ew_kernel *k);

#endif
