/* The elementwise-program compiler (core/ew_compile.c), the kernel object
 * (core/ew_kernel.c) and the cpu runner (plugins/backends/cpu/cpu_ew.c):
 * parse trees and folding by inspecting the instruction list, every error
 * with its line:column, and results against references computed here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlhost/dlhost.h>
#include <dlhost/philox.h>

#include "error.h"
#include "ew.h"
#include "registry.h"
#include "tap.h"

static dlh_backend *be;

/* ------------------------------------------------------------ helpers */

/* The instruction list as text: "mul r0 = s0 a1; muladd a0 = ...". */
static const char *const op_names[DLH_EW_OPCODE_COUNT] = {
    "mov", "add", "sub", "mul", "div", "neg", "lt", "le", "gt", "ge", "eq", "ne",
    "exp", "log", "sqrt", "rsqrt", "abs", "sign", "tanh", "sigmoid", "min", "max",
    "pow", "select", "muladd", "erf", "floor", "ceil", "round", "sin", "cos", "fmod",
    "atan2", "index", "uniform", "normal",
};

static void ref_text(char *buf, size_t size, dlh_ew_ref r)
{
    static const char letter[] = "-askr";   /* none, array, scalar, const, reg */
    const char c = r.src < 5 ? letter[r.src] : '?';
    snprintf(buf, size, "%c%u", c, (unsigned)r.index);
}

static const char *dump(const dlh_ew_program *p)
{
    static char out[4096];
    size_t len = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < p->n_instrs && len < sizeof out - 64; i++) {
        const dlh_ew_instr *in = &p->instrs[i];
        char d[16], a[16], b[16], c[16];
        ref_text(d, sizeof d, in->dst);
        ref_text(a, sizeof a, in->a);
        ref_text(b, sizeof b, in->b);
        ref_text(c, sizeof c, in->c);
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%s %s = %s%s%s%s%s", i ? "; " : "",
                                in->op < DLH_EW_OPCODE_COUNT ? op_names[in->op] : "?", d, a,
                                in->b.src ? " " : "", in->b.src ? b : "",
                                in->c.src ? " " : "", in->c.src ? c : "");
    }
    return out;
}

/* Compiles src and compares the instruction list with `want`. */
static void check_code(const char *src, const char *want, const char *what)
{
    dlh_ew_program *p = NULL;
    int rc = dlh_ew_parse(src, &p);
    if (!ok(rc == 0, "%s: compiles", what)) {
        diag("%s", dlh_error_get());
        return;
    }
    if (!ok(strcmp(dump(p), want) == 0, "%s: code", what))
        diag("got  %s\n# want %s", dump(p), want);
    dlh_ew_program_free(p);
}

/* Compiles src, which must fail with a first message line equal to `want`. */
static void check_error(const char *src, const char *want)
{
    dlh_ew_program *p = (dlh_ew_program *)1;
    int rc = dlh_ew_parse(src, &p);
    const char *msg = dlh_error_get();
    size_t n = strcspn(msg, "\n");
    int same = rc == DLH_EPARSE && p == NULL && n == strlen(want) && strncmp(msg, want, n) == 0;
    if (!ok(same, "error: %s", want))
        diag("rc %d, message:\n%s", rc, msg);
    if (rc == 0)
        dlh_ew_program_free(p);
}

static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;

static float rnd(float lo, float hi)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (float)((rng_state >> 40) & 0xffffff) / 16777216.0f;
}

/* got matches want: both NaN, equal infinities, or within rel of want. */
static int close_to(float got, double want, double rel)
{
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    return fabs(got - want) <= rel * fabs(want) + 3e-45;
}

/* Runs src on the cpu backend: data[i] holds operand i (len[i] elements,
   inner stride[i]; NULL arrays mean n and 1); written operands come back
   into data.  Returns the status of compile or run. */
static int ew_exec(const char *src, size_t n, float *const *data, const size_t *len,
                   const size_t *stride, const float *scalars)
{
    dlh_ew_kernel *k;
    int rc = dlh_ew_compile(be, src, &k);
    if (rc) {
        diag("%s", dlh_error_get());
        return rc;
    }
    const dlh_ew_program *p = dlh_ew_kernel_program(k);
    dlh_buffer *buf[DLH_EW_MAX_OPERANDS] = { NULL };
    dlh_ew_arg args[DLH_EW_MAX_OPERANDS];
    for (uint32_t i = 0; i < p->n_arrays && !rc; i++) {
        size_t L = len ? len[i] : n, s = stride ? stride[i] : 1;
        /* a few floats before the data exercise dlh_mem offsets */
        rc = be->ops->alloc(be->ctx, (L + 3) * sizeof(float), &buf[i]);
        if (!rc)
            rc = be->ops->write(be->ctx, buf[i], 3 * sizeof(float), data[i], L * sizeof(float));
        args[i].mem.buf = buf[i];
        args[i].mem.off = 3;
        args[i].len = L;
        args[i].stride = s;
    }
    if (!rc)
        rc = dlh_ew_run(k, n, args, scalars);
    if (rc)
        diag("%s", dlh_error_get());
    for (uint32_t i = 0; i < p->n_arrays && !rc; i++)
        if (p->access[i] & DLH_EW_OUT)
            rc = be->ops->read(be->ctx, buf[i], 3 * sizeof(float), data[i], n * sizeof(float));
    for (uint32_t i = 0; i < p->n_arrays; i++)
        be->ops->free(be->ctx, buf[i]);
    dlh_ew_free(k);
    return rc;
}

/* ------------------------------------------------------------ compiler */

static void test_code(void)
{
    check_code("in a, b, c; out y; y = a - b - c;", "sub r0 = a0 a1; sub a3 = r0 a2",
               "a - b - c is left associative");
    check_code("in a, b, c; out y; y = a / b * c;", "div r0 = a0 a1; mul a3 = r0 a2",
               "a / b * c is left associative");
    check_code("in a, b; out y; y = -a*b;", "neg r0 = a0; mul a2 = r0 a1",
               "unary minus binds tighter than *");
    check_code("in a, b; out y; y = a + 1 < b * 2;", "add r0 = a0 k0; mul r1 = a1 k1; lt a2 = r0 r1",
               "comparisons bind looser than + and *");
    check_code("in a, b, c; out y; y = a == b < c;", "eq r0 = a0 a1; lt a3 = r0 a2",
               "comparisons chain left to right");
    check_code("in a, b, c; out y; y = a*b + c;", "muladd a3 = a0 a1 a2", "a*b + c is one MULADD");
    check_code("in a, b, c; out y; y = c + a*b;", "muladd a3 = a0 a1 a2", "c + a*b is one MULADD");
    check_code("in a, b, c, d; out y; y = a*b + c*d;", "mul r0 = a2 a3; muladd a4 = a0 a1 r0",
               "a*b + c*d: a MUL and a MULADD");
    check_code("in a, b, c; out y; y = a*b - c;", "mul r0 = a0 a1; sub a3 = r0 a2",
               "a*b - c stays two instructions");
    check_code("in x; out y; y = x * (2*3 + 1);", "mul a1 = a0 k0", "literals fold");
    check_code("in x; out y; y = -2*x;", "mul a1 = k0 a0", "a negative literal folds");
    check_code("in x; out y; y = x*2 + 2;", "muladd a1 = a0 k0 k0", "constants are shared");
    check_code("in x; out y; y = x + sqrt(4) + max(1, 3);", "add r0 = a0 k0; add a1 = r0 k1",
               "literal function calls fold");
    check_code("in x; out y; y = x;", "mov a1 = a0", "a plain copy is one MOV");
    check_code("in x; out y; y = floor(2.5) + ceil(2.5) + round(2.5) + round(3.5) + "
               "round(-0.5) + fmod(-7, 3) + erf(0) + sin(0) + cos(0) + atan2(0, 1) + x;",
               "add a1 = k0 a0", "the new functions fold (2 + 3 + 2 + 4 - 0 - 1 + 0 + 0 + 1 + 0 = 11)");
    check_code("out y; y = idx * 2;", "index r0 = -0; mul a0 = r0 k0",
               "idx is the element index, never folded");
    check_code("in idx; out y; y = idx * 2;", "mul a1 = a0 k0", "a declared idx hides the builtin");
    check_code("in x; out y; key k; scalar p; y = select(uniform(k) < p, x, 0) + normal(k);",
               "uniform r0 = s0; lt r0 = r0 s6; select r0 = r0 a0 k0; normal r1 = s0; "
               "add a1 = r0 r1", "uniform(k) and normal(k) read the key's first scalar");
    check_code("in x; out y; y = x + 1;", "add a1 = a0 k0", "the last instruction writes the target");
    check_code("in x; out y; y = 2 * 3;", "mov a1 = k0", "a folded statement is one MOV");
    check_code("in x; out y, z; y = x*2; z = y + 1;", "mul a1 = a0 k0; add a2 = a1 k1",
               "later statements read earlier results");
    check_code("in x; out y; t = x*x; u = t + 1; y = t*u;",
               "mul r0 = a0 a0; add r1 = r0 k0; mul a1 = r0 r1", "locals live in registers");
    check_code("in x; out y; t = x*x; y = t + 1; u = x + 2; y = y*u;",
               "mul r0 = a0 a0; add a1 = r0 k0; add r0 = a0 k1; mul a1 = a1 r0",
               "a dead local's register is reused");
    check_code("in x; out y; t = x; t = t*2; y = t;", "mov r0 = a0; mul r0 = r0 k0; mov a1 = r0",
               "a local assigned twice keeps its register");
    check_code("in c, a, b; out y; y = select(c > 0, a, b);", "gt r0 = a0 k0; select a3 = r0 a1 a2",
               "select(c, a, b)");
    check_code("in x; out y; y = exp(x)*exp(x) + exp(x)*(exp(x) + exp(x));",
               "exp r0 = a0; exp r1 = a0; add r0 = r0 r1; exp r1 = a0; mul r0 = r1 r0; "
               "exp r1 = a0; exp r2 = a0; muladd a1 = r1 r2 r0",
               "the heavier operand runs first (3 registers)");
    check_code("# Adam\n"
               "in g; inout p, m, v; scalar lr, b1, b2, eps, bc1, bc2;\n"
               "m = b1*m + (1-b1)*g;\n"
               "v = b2*v + (1-b2)*g*g;\n"
               "p = p - lr*(m/bc1)/(sqrt(v/bc2) + eps);\n",
               "sub r0 = k0 s1; mul r0 = r0 a0; muladd a2 = s1 a2 r0; "
               "sub r0 = k0 s2; mul r0 = r0 a0; mul r0 = r0 a0; muladd a3 = s2 a3 r0; "
               "div r0 = a2 s4; mul r0 = s0 r0; div r1 = a3 s5; sqrt r1 = r1; add r1 = r1 s3; "
               "div r0 = r0 r1; sub a1 = a1 r0",
               "Adam");

    dlh_ew_program *p = NULL;
    int rc = dlh_ew_parse("in g; inout p, m; scalar lr, mu;\n"
                          "m = mu*m + g;  # momentum\n"
                          "p = p - lr*m;\n", &p);
    if (ok(rc == 0 && p, "the momentum program compiles")) {
        ok(p->struct_size == sizeof *p && p->n_arrays == 3 && p->n_scalars == 2 &&
           p->n_consts == 0 && p->n_regs == 1 && p->n_instrs == 3, "its counts");
        ok(strcmp(p->array_names[0], "g") == 0 && strcmp(p->array_names[1], "p") == 0 &&
           strcmp(p->array_names[2], "m") == 0 && p->access[0] == DLH_EW_IN &&
           p->access[1] == DLH_EW_INOUT && p->access[2] == DLH_EW_INOUT,
           "array names and access in declaration order");
        ok(strcmp(p->scalar_names[0], "lr") == 0 && strcmp(p->scalar_names[1], "mu") == 0,
           "scalar names in declaration order");
        ok(p->source && strstr(p->source, "# momentum"), "the source is kept");
        dlh_ew_program_free(p);
    }
    rc = dlh_ew_parse("out y; scalar a; key noise; scalar b; y = a + b + normal(noise);", &p);
    if (ok(rc == 0 && p, "a program with a key compiles")) {
        ok(p->n_scalars == 2 + DLH_EW_KEY_WORDS && strcmp(p->scalar_names[0], "a") == 0 &&
           strcmp(p->scalar_names[1], "noise[0]") == 0 &&
           strcmp(p->scalar_names[6], "noise[5]") == 0 && strcmp(p->scalar_names[7], "b") == 0,
           "a key takes %d scalars, named noise[0] .. noise[5], in declaration order",
           DLH_EW_KEY_WORDS);
        dlh_ew_program_free(p);
    }
    rc = dlh_ew_parse("in x; out y; y = x*1e-3 + .5 + 2. + 1.5E+2 + 0.25e1;", &p);
    if (ok(rc == 0, "number forms")) {
        ok(p->n_consts == 5 && p->consts[0] == 1e-3f && p->consts[1] == 0.5f &&
           p->consts[2] == 2.0f && p->consts[3] == 150.0f && p->consts[4] == 2.5f,
           "1e-3 .5 2. 1.5E+2 0.25e1 read");
        dlh_ew_program_free(p);
    }
    rc = dlh_ew_parse("in x; out y; y = x + (2 + 3);", &p);
    if (ok(rc == 0, "parenthesised literals")) {
        ok(p->n_consts == 1 && p->consts[0] == 5.0f && p->n_instrs == 1, "fold to one constant");
        dlh_ew_program_free(p);
    }
    rc = dlh_ew_parse("in x; out y; y = x*0 + x*-0;", &p);
    if (ok(rc == 0, "signed zeros")) {
        ok(p->n_consts == 2 && p->consts[0] == 0.0f && p->consts[1] == 0.0f &&
           !signbit(p->consts[0]) != !signbit(p->consts[1]), "0 and -0 are different constants");
        dlh_ew_program_free(p);
    }
    rc = dlh_ew_parse("in x;\tout y;\r\n\n  y =\n x\n * 2 ;", &p);
    ok(rc == 0, "whitespace and newlines are free");
    dlh_ew_program_free(p);
    rc = dlh_ew_parse("inout p; p = p - 1;", &p);
    ok(rc == 0, "an inout operand may be read before it is written");
    dlh_ew_program_free(p);
    rc = dlh_ew_parse("in x; inout p; out y; y = x;", &p);
    ok(rc == 0, "an inout operand need not be written");
    dlh_ew_program_free(p);
    rc = dlh_ew_parse(NULL, &p);
    ok(rc == DLH_EINVAL && p == NULL, "NULL source is DLH_EINVAL");
    dlh_ew_program_free(NULL);
}

static void test_errors(void)
{
    char src[4096];
    check_error("in x; out y;\ny = x + zeta;", "ew:2:9: unknown name 'zeta'");
    check_error("in grad; out y; y = grd*2;",
                "ew:1:21: unknown name 'grd' (did you mean 'grad'?)");
    check_error("in x; out y; y = sqr(x);",
                "ew:1:18: unknown function 'sqr' (did you mean 'sqrt'?)");
    check_error("in x; out y; y = foo(x);",
                "ew:1:18: unknown function 'foo' (functions: exp log sqrt rsqrt abs sign tanh "
                "sigmoid min max pow select erf floor ceil round sin cos fmod atan2 uniform "
                "normal)");
    check_error("in x; out y; y = atan2(x);", "ew:1:18: 'atan2' takes 2 arguments, got 1");
    check_error("in x; out y; key k; y = k;",
                "ew:1:25: 'k' is a random key: use it as uniform(k) or normal(k)");
    check_error("in x; out y; key k; y = uniform(x);",
                "ew:1:33: 'uniform' takes a random key (declared 'key k;'), got 'x'");
    check_error("out y; y = normal(2);",
                "ew:1:19: 'normal' takes a random key (declared 'key k;'), got '2'");
    check_error("out y; key k; y = uniform(k, k);",
                "ew:1:28: expected ')' after the key of 'uniform', got ','");
    check_error("out y; key k; y = uniform();",
                "ew:1:27: 'uniform' takes a random key (declared 'key k;'), got ')'");
    check_error("out y; key k; k = 1; y = 1;", "ew:1:15: cannot assign to key 'k'");
    check_error("out y; scalar s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10; key k; y = s0;",
                "ew:1:64: too many scalars (at most 16; a key takes 6)");
    check_error("out y; key key; y = 1;", "ew:1:12: expected a name after 'key', got 'key'");
    check_error("in x; out y; y = max(x);", "ew:1:18: 'max' takes 2 arguments, got 1");
    check_error("in x; out y; y = exp(x, x);", "ew:1:18: 'exp' takes 1 argument, got 2");
    check_error("in x; out y; y = select();", "ew:1:18: 'select' takes 3 arguments, got 0");
    check_error("in x; out y;\n  x = y;", "ew:2:3: cannot assign to 'x': it is declared 'in'");
    check_error("in x; out y; scalar s; s = x;", "ew:1:24: cannot assign to scalar 's'");
    check_error("in x; out y; y = y + x;",
                "ew:1:18: 'y' is declared 'out' and is read before it is written");
    check_error("in x; out y; scalar x; y = x;", "ew:1:21: 'x' is already declared at 1:4");
    check_error("in x; out y; t = x; in t; y = t;",
                "ew:1:24: 't' is already a local, assigned at 1:14");
    check_error("in x; out y; y = x @ 2;", "ew:1:20: unexpected character '@'");
    check_error("in x; out y; y = !x;", "ew:1:18: unexpected character '!' (did you mean '!='?)");
    check_error("in x; out y; y = * x;", "ew:1:18: expected an expression, got '*'");
    check_error("in x; out y; y = x +;", "ew:1:21: expected an expression, got ';'");
    check_error("in x; out y; y = (x + 1;", "ew:1:24: expected ')' before ';'");
    check_error("in x; out y; y = max(x y);",
                "ew:1:24: expected ',' or ')' in call to 'max', got 'y'");
    check_error("in x; out y; y + x;", "ew:1:16: expected '=' after 'y', got '+'");
    check_error("in x; out y; 3 = x;",
                "ew:1:14: expected a declaration or an assignment, got '3'");
    check_error("in x; out y\ny = x;", "ew:1:12: expected ',' or ';' before 'y'");
    check_error("in x; out y;\ny = x\nz = x;", "ew:2:6: expected ';' before 'z'");
    check_error("in x; out y; y = x", "ew:1:19: expected ';' before end of input");
    check_error("in in; out y; y = 1;", "ew:1:4: expected a name after 'in', got 'in'");
    check_error("scalar ; out y; y = 1;", "ew:1:8: expected a name after 'scalar', got ';'");
    check_error("in x; out y; y = 2x;", "ew:1:18: malformed number '2x'");
    check_error("in x; out y; y = 1e+;", "ew:1:18: malformed number '1e'");
    check_error("in x; out y; y = 1.2.3;", "ew:1:18: malformed number '1.2.3'");
    check_error("in x; out y; y = 1e50;", "ew:1:18: number '1e50' is out of range for float");
    check_error("", "ew:1:1: empty program");
    check_error("  # only a comment\n\n", "ew:1:1: empty program");
    check_error("in x; out y;", "ew:1:13: the program has no statements (nothing is computed)");
    check_error("in x; out y, z; y = x;", "ew:1:14: 'z' is declared 'out' but never written");
    check_error("in x;\nt = x;", "ew:2:1: the program writes no 'out' or 'inout' operand");

    /* 17 arrays, 17 scalars */
    strcpy(src, "in a0");
    for (int i = 1; i < 17; i++)
        sprintf(src + strlen(src), ", a%d", i);
    strcat(src, "; y = a0;");
    check_error(src, "ew:1:74: too many array operands (at most 16)");
    strcpy(src, "out y; scalar s0");
    for (int i = 1; i < 17; i++)
        sprintf(src + strlen(src), ", s%d", i);
    strcat(src, "; y = s0;");
    check_error(src, "ew:1:85: too many scalars (at most 16; a key takes 6)");
    /* 65 locals alive at once need 65 registers */
    strcpy(src, "in x; out y;\n");
    for (int i = 0; i < 65; i++)
        sprintf(src + strlen(src), "t%d = x + %d;\n", i, i);
    strcat(src, "y = t0");
    for (int i = 1; i < 65; i++)
        sprintf(src + strlen(src), " + t%d", i);
    strcat(src, ";");
    check_error(src, "ew:66:1: the program needs more than 64 registers");
    /* hostile nesting stays an error, not a stack overflow */
    strcpy(src, "in x; out y; y = ");
    for (int i = 0; i < 1000; i++)
        strcat(src, "(");
    strcat(src, "x;");
    check_error(src, "ew:1:219: expression is nested too deeply (over 200 levels)");

    /* the whole message: position line, source line, caret under the column
       (a tab in the source stays a tab in the caret line) */
    dlh_ew_program *p;
    dlh_ew_parse("in x; out y;\n\ty = x + zz;\n", &p);
    if (!ok(strcmp(dlh_error_get(), "ew:2:10: unknown name 'zz'\n\ty = x + zz;\n\t        ^") == 0,
            "message with source line and caret"))
        diag("%s", dlh_error_get());
}

/* ------------------------------------------------------------ runner */

typedef double (*fn1)(double);
static double sign_ref(double x) { return x > 0 ? 1 : x < 0 ? -1 : x == 0 ? x : 0; }
static double sigmoid_ref(double x) { return 1.0 / (1.0 + exp(-x)); }
static double rsqrt_ref(double x) { return 1.0 / sqrt(x); }
static double neg_ref(double x) { return -x; }

static void test_functions(void)
{
    static const float edge[] = {
        -INFINITY, -1e30f, -100.0f, -88.0f, -20.0f, -3.5f, -1.0f, -0.5f, -1e-20f, -0.0f, 0.0f,
        1e-30f, 1e-7f, 0.1f, 0.5f, 1.0f, 2.0f, 3.5f, 10.0f, 20.0f, 88.0f, 89.0f, 100.0f,
        1e30f, INFINITY, NAN,
    };
    enum { NE = sizeof edge / sizeof edge[0], N = NE + 200 };
    static const struct { const char *name; fn1 ref; double tol; } fns[] = {
        { "exp", exp, 2e-7 },    { "log", log, 2e-7 },      { "sqrt", sqrt, 1e-7 },
        { "rsqrt", rsqrt_ref, 3e-7 }, { "abs", fabs, 0 },   { "sign", sign_ref, 0 },
        { "tanh", tanh, 5e-7 },  { "sigmoid", sigmoid_ref, 4e-7 }, { "-", neg_ref, 0 },
    };
    float x[N], y[N];
    memcpy(x, edge, sizeof edge);
    for (int i = NE; i < N; i++)
        x[i] = rnd(-30.0f, 30.0f);
    for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
        char src[128];
        snprintf(src, sizeof src, "in x; out y; y = %s(x);", fns[f].name);
        float *data[2] = { x, y };
        int rc = ew_exec(src, N, data, NULL, NULL, NULL);
        int bad = -1;
        for (int i = 0; i < N && !rc && bad < 0; i++)
            if (!close_to(y[i], (float)fns[f].ref(x[i]), fns[f].tol))
                bad = i;
        if (!ok(rc == 0 && bad < 0, "%s(x) over edge and random values", fns[f].name) && bad >= 0)
            diag("%s(%.9g) = %.9g, want %.9g", fns[f].name, x[bad], y[bad],
                 (float)fns[f].ref(x[bad]));
    }
    /* the signs of zero results */
    float *data[2] = { x, y };
    ew_exec("in x; out y; y = sign(x);", N, data, NULL, NULL, NULL);
    ok(signbit(y[9]) && !signbit(y[10]) && y[NE - 1] == 0.0f, "sign(-0) = -0, sign(0) = 0, sign(NaN) = 0");
    ew_exec("in x; out y; y = sigmoid(x);", N, data, NULL, NULL, NULL);
    ok(y[2] > 0.0f && y[2] < 1e-43f && y[0] == 0.0f && y[NE - 2] == 1.0f,
       "sigmoid(-100) is tiny but not 0; sigmoid(-inf) = 0, sigmoid(inf) = 1");

    /* two-operand functions and operators on all pairs of edge values */
    static const char *const ops2[] = { "+", "-", "*", "/", "<", "<=", ">", ">=", "==", "!=",
                                        "min", "max", "pow" };
    enum { NP = NE * NE };
    float *a = malloc(NP * sizeof *a), *b = malloc(NP * sizeof *b), *z = malloc(NP * sizeof *z);
    for (int i = 0; i < NE; i++)
        for (int j = 0; j < NE; j++)
            a[i * NE + j] = edge[i], b[i * NE + j] = edge[j];
    for (size_t o = 0; o < sizeof ops2 / sizeof ops2[0]; o++) {
        const char *op = ops2[o];
        char src[128];
        if (op[0] >= 'a')
            snprintf(src, sizeof src, "in a, b; out z; z = %s(a, b);", op);
        else
            snprintf(src, sizeof src, "in a, b; out z; z = a %s b;", op);
        float *d3[3] = { a, b, z };
        int rc = ew_exec(src, NP, d3, NULL, NULL, NULL);
        int bad = -1;
        for (int i = 0; i < NP && !rc && bad < 0; i++) {
            float p = a[i], q = b[i];
            float want;
            switch (o) {
            case 0: want = p + q; break;
            case 1: want = p - q; break;
            case 2: want = p * q; break;
            case 3: want = p / q; break;
            case 4: want = p < q; break;
            case 5: want = p <= q; break;
            case 6: want = p > q; break;
            case 7: want = p >= q; break;
            case 8: want = p == q; break;
            case 9: want = p != q; break;
            case 10: want = fminf(p, q); break;
            case 11: want = fmaxf(p, q); break;
            default: want = (float)pow(p, q); break;
            }
            if (!close_to(z[i], want, o == 12 ? 2e-7 : 0))
                bad = i;
        }
        if (!ok(rc == 0 && bad < 0, "'%s' over all pairs of edge values", op) && bad >= 0)
            diag("%.9g %s %.9g = %.9g, want %.9g", a[bad], op, b[bad], z[bad],
                 o == 12 ? (float)pow(a[bad], b[bad]) : NAN);
    }
    /* select(c, a, b): c != 0, so NaN selects a */
    float c3[NE], s3[NE];
    for (int i = 0; i < NE; i++)
        c3[i] = edge[i], a[i] = (float)i, b[i] = (float)-i;
    float *d4[4] = { c3, a, b, s3 };
    int rc = ew_exec("in c, a, b; out y; y = select(c, a, b);", NE, d4, NULL, NULL, NULL);
    int bad = -1;
    for (int i = 0; i < NE && !rc; i++)
        if (s3[i] != (c3[i] != 0.0f ? a[i] : b[i]))
            bad = i;
    ok(rc == 0 && bad < 0 && s3[NE - 1] == a[NE - 1] && s3[9] == b[9],
       "select over edge conditions (NaN picks a, -0 picks b)");
    free(a);
    free(b);
    free(z);
}

/* ABI 1.5 functions against libm in double: floor, ceil, round (half to
   even: rint, torch.round) and fmod are exact; erf, sin, cos, atan2 within
   the float rounding of glibc's functions. */
static double erf_ref(double x) { return erf(x); }
static double round_ref(double x) { return nearbyint(x); }

static void test_new_functions(void)
{
    static const float edge[] = {
        -INFINITY, -1e30f, -8388609.0f, -100.5f, -20.0f, -3.5f, -2.5f, -1.5f, -1.0f, -0.5f,
        -0.49999997f, -1e-20f, -0.0f, 0.0f, 1e-30f, 1e-7f, 0.1f, 0.5f, 1.5f, 2.5f, 3.5f,
        4.5f, 10.0f, 88.0f, 8388607.5f, 16777217.0f, 1e30f, INFINITY, NAN,
    };
    enum { NE = sizeof edge / sizeof edge[0], N = NE + 300 };
    static const struct { const char *name; fn1 ref; double tol; } fns[] = {
        { "floor", floor, 0 }, { "ceil", ceil, 0 }, { "round", round_ref, 0 },
        { "erf", erf_ref, 2e-7 }, { "sin", sin, 2e-7 }, { "cos", cos, 2e-7 },
    };
    float x[N], y[N];
    memcpy(x, edge, sizeof edge);
    for (int i = NE; i < N; i++)
        x[i] = i % 3 ? rnd(-30.0f, 30.0f) : (float)(int)rnd(-40.0f, 40.0f) * 0.5f;
    for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
        char src[128];
        snprintf(src, sizeof src, "in x; out y; y = %s(x);", fns[f].name);
        float *data[2] = { x, y };
        int rc = ew_exec(src, N, data, NULL, NULL, NULL);
        int bad = -1;
        for (int i = 0; i < N && !rc && bad < 0; i++) {
            double want = fns[f].ref(x[i]);
            /* sin and cos of huge arguments: any value in [-1, 1] is as right */
            if (fns[f].tol && isfinite(x[i]) && fabs(x[i]) > 1e6)
                want = fmin(fmax(y[i], -1.0), 1.0);
            /* near a zero of sin or cos, the error is relative to 1 */
            double tol = fns[f].tol;
            if (!close_to(y[i], (float)want, tol) && !(tol && fabs(y[i] - want) <= tol))
                bad = i;
        }
        if (!ok(rc == 0 && bad < 0, "%s(x) over edge and random values", fns[f].name) &&
            bad >= 0)
            diag("%s(%.9g) = %.9g, want %.9g", fns[f].name, x[bad], y[bad],
                 fns[f].ref(x[bad]));
    }
    float *data[2] = { x, y };
    int rc = ew_exec("in x; out y; y = round(x);", N, data, NULL, NULL, NULL);
    ok(rc == 0 && y[6] == -2.0f && y[7] == -2.0f && y[9] == 0.0f && signbit(y[9]) &&
       y[10] == 0.0f && y[17] == 0.0f && y[18] == 2.0f && y[19] == 2.0f && y[20] == 4.0f &&
       y[21] == 4.0f, "round: halves go to the even neighbour (torch.round), -0.5 to -0");

    /* fmod (exact) and atan2 over all pairs of edge values */
    enum { NP = NE * NE };
    float *a = malloc(NP * sizeof *a), *b = malloc(NP * sizeof *b), *z = malloc(NP * sizeof *z);
    for (int i = 0; i < NE; i++)
        for (int j = 0; j < NE; j++)
            a[i * NE + j] = edge[i], b[i * NE + j] = edge[j];
    for (int f = 0; f < 2; f++) {
        const char *name = f ? "atan2" : "fmod";
        char src[128];
        snprintf(src, sizeof src, "in a, b; out z; z = %s(a, b);", name);
        float *d3[3] = { a, b, z };
        rc = ew_exec(src, NP, d3, NULL, NULL, NULL);
        int bad = -1;
        for (int i = 0; i < NP && !rc && bad < 0; i++) {
            double want = f ? atan2(a[i], b[i]) : fmod(a[i], b[i]);
            if (!close_to(z[i], (float)want, f ? 2e-7 : 0) ||
                (!f && !isnan(want) && !signbit(z[i]) != !signbit(want)))
                bad = i;
        }
        if (!ok(rc == 0 && bad < 0, "%s(a, b) over all pairs of edge values", name) && bad >= 0)
            diag("%s(%.9g, %.9g) = %.9g, want %.9g", name, a[bad], b[bad], z[bad],
                 f ? atan2(a[bad], b[bad]) : fmod(a[bad], b[bad]));
    }
    free(a);
    free(b);
    free(z);
}

/* The element index and Philox draws: idx is i exactly (below 2^24), and
   uniform(k) / normal(k) are dlh_philox_uniform and
   dlh_philox_normal_portable of (seed, stream, offset + i) bit for bit,
   whatever the blocks and threads (40000 elements run on both threads),
   and a run split in two with offsets gives the same numbers. */
static void test_index_random(void)
{
    enum { N = 40000 };
    float *u = malloc(N * sizeof *u), *g = malloc(N * sizeof *g), *ix = malloc(N * sizeof *ix);
    float *u2 = malloc(N * sizeof *u2);
    if (!u || !g || !ix || !u2) {
        ok(0, "out of memory");
        goto out;
    }
    /* words with the bits of a NaN, an infinity and a denormal */
    const uint64_t seeds[3] = { 42, 0xffffffff7fc00001ULL, 0x7f80000000000001ULL };
    const uint64_t streams[3] = { 7, 0x8000000000000000ULL, 0xfff00000ffc00000ULL };
    const uint64_t offsets[3] = { 0, 0xfffffffffffff000ULL, 1u << 31 };
    for (int c = 0; c < 3; c++) {
        float sc[1 + DLH_EW_KEY_WORDS];
        sc[0] = 0.5f;
        dlh_ew_key(sc + 1, seeds[c], streams[c], offsets[c]);
        float *d[3] = { u, g, ix };
        int rc = ew_exec("out u, g, ix; scalar half; key k;\n"
                         "u = uniform(k); g = normal(k) + 0*half; ix = idx;", N, d, NULL, NULL, sc);
        long bad_u = 0, bad_g = 0, bad_i = 0;
        for (size_t i = 0; i < N && !rc; i++) {
            float wu = dlh_philox_uniform(seeds[c], streams[c], offsets[c] + i, 0.0f, 1.0f);
            float wg = dlh_philox_normal_portable(seeds[c], streams[c], offsets[c] + i);
            bad_u += memcmp(&u[i], &wu, 4) != 0;
            bad_g += memcmp(&g[i], &wg, 4) != 0;
            bad_i += ix[i] != (float)i;
        }
        ok(rc == 0 && bad_u == 0 && bad_g == 0 && bad_i == 0,
           "key %d: uniform, normal and idx of %d elements are philox.h's bit for bit "
           "(%ld, %ld, %ld differ)", c, N, bad_u, bad_g, bad_i);
    }
    /* the same numbers from two runs: [0, 12345) and [12345, N) at offset 12345 */
    float sc[DLH_EW_KEY_WORDS];
    dlh_ew_key(sc, 3, 4, 0);
    float *d1[1] = { u };
    int rc = ew_exec("out y; key k; y = normal(k);", N, d1, NULL, NULL, sc);
    float *d2[1] = { u2 };
    rc = rc ? rc : ew_exec("out y; key k; y = normal(k);", 12345, d2, NULL, NULL, sc);
    dlh_ew_key(sc, 3, 4, 12345);
    float *d3[1] = { u2 + 12345 };
    rc = rc ? rc : ew_exec("out y; key k; y = normal(k);", N - 12345, d3, NULL, NULL, sc);
    ok(rc == 0 && memcmp(u, u2, N * sizeof *u) == 0,
       "a run split in two with the offset moved gives the same draws");

    /* the draws' moments: mean and variance of U(0,1) and N(0,1) */
    dlh_ew_key(sc, 99, 1, 0);
    float *d4[2] = { u, g };
    rc = ew_exec("out u, g; key k; u = uniform(k); g = normal(k);", N, d4, NULL, NULL, sc);
    double su = 0, suu = 0, sg = 0, sgg = 0, umin = 1, umax = 0;
    for (int i = 0; i < N && !rc; i++) {
        su += u[i], suu += (double)u[i] * u[i], sg += g[i], sgg += (double)g[i] * g[i];
        umin = fmin(umin, u[i]), umax = fmax(umax, u[i]);
    }
    double mu = su / N, vu = suu / N - mu * mu, mg = sg / N, vg = sgg / N - mg * mg;
    /* 5 standard errors */
    ok(rc == 0 && fabs(mu - 0.5) < 5 * sqrt(1.0 / 12 / N) && fabs(vu - 1.0 / 12) < 0.003 &&
       umin >= 0 && umax < 1 && fabs(mg) < 5 / sqrt(N) && fabs(vg - 1) < 5 * sqrt(2.0 / N),
       "uniform in [0, 1): mean %.4f var %.4f; normal: mean %.4f var %.4f", mu, vu, mg, vg);

    /* idx above 2^24 is the nearest float */
    ok(dlh_ew_elem_eval(DLH_EW_INDEX, 16777217, NULL) == 16777216.0f &&
       dlh_ew_elem_eval(DLH_EW_INDEX, 16777219, NULL) == 16777220.0f &&
       dlh_ew_elem_eval(DLH_EW_INDEX, 16777215, NULL) == 16777215.0f,
       "idx is exact below 2^24, the nearest float (ties to even) above");
out:
    free(u);
    free(g);
    free(ix);
    free(u2);
}

/* dlh_philox_normal_portable's log and cos against libm in double: within
   2 ulp of the float result over every input a draw can give them, and
   the draws against the draw computed in double. */
static double float_ulp(double v, double at_least)   /* of a float near v */
{
    int e;
    frexp(v, &e);
    return v == 0 ? at_least : fmax(ldexp(1.0, e - 24), at_least);
}

static void test_portable_normal(void)
{
    double worst_log = 0, worst_cos = 0;
    for (uint32_t k = 0; k < (1u << 24); k += (k < 4096 || k > (1u << 24) - 4096) ? 1 : 61) {
        float x = 1.0f - (float)k * (1.0f / 16777216.0f);     /* 1 - u0 */
        double want = log((double)x);
        double ulp = float_ulp(want, ldexp(1.0, -149));
        if (want != 0)
            worst_log = fmax(worst_log, fabs(dlh_philox_log_portable(x) - want) / ulp);
        else if (dlh_philox_log_portable(x) != 0)
            worst_log = INFINITY;
        float t = (float)k * (1.0f / 16777216.0f);
        want = cos(2 * M_PI * (double)t);
        /* absolute near the zeros: 2 pi t itself is rounded there */
        ulp = float_ulp(want, ldexp(1.0, -26));
        worst_cos = fmax(worst_cos, fabs(dlh_philox_cos2pi_portable(t) - want) / ulp);
    }
    ok(worst_log <= 2.0, "portable log(1 - u) within 2 ulp of libm's (worst %.2f)", worst_log);
    ok(worst_cos <= 2.0, "portable cos(2 pi u) within 2 ulp of libm's (worst %.2f)", worst_cos);
    /* Against the draw in double from the same two words: the libm form
       rounds 2 pi u1 to float before its cosf, which costs it up to about
       5e-7 there; the portable one takes whole quarter turns off first. */
    double worst = 0, worst_libm = 0;
    for (uint64_t c = 0; c < 200000; c++) {
        uint32_t w[4];
        dlh_philox_words(5, 6, c, w);
        double u0 = dlh_philox_unit(w[0]), u1 = dlh_philox_unit(w[1]);
        double want = sqrt(-2 * log(1 - u0)) * cos(2 * M_PI * u1);
        float a = dlh_philox_normal_portable(5, 6, c), b = dlh_philox_normal(5, 6, c, 0, 1);
        worst = fmax(worst, fabs(a - want) / fmax(1.0, fabs(want)));
        worst_libm = fmax(worst_libm, fabs(b - want) / fmax(1.0, fabs(want)));
    }
    ok(worst <= 1e-6 && worst <= worst_libm, "normal(k) within %.2g of the draw in double "
       "(worst; dlh_philox_normal's libm form: %.2g)", worst, worst_libm);
}

static void test_scalars(void)
{
    /* scalar and literal operands on either side, and values that are the
       same for every element (1 - s, exp(s)) */
    enum { N = 777 };
    float x[N], y[N], z[N];
    for (int i = 0; i < N; i++)
        x[i] = rnd(0.5f, 4.0f);
    const float s[3] = { 0.25f, 3.0f, -2.0f };
    float *d[3] = { x, y, z };
    int rc = ew_exec("in x; out y, z; scalar s, t, u;\n"
                     "y = (1 - s)/x + pow(x, t) - pow(t, x) + select(u, x, 2) + exp(s)*t;\n"
                     "k = t;  z = k - x + min(u, x) + max(x, 2) + (s < x) + (x <= t);\n",
                     N, d, NULL, NULL, s);
    int bad = -1;
    for (int i = 0; i < N && !rc && bad < 0; i++) {
        float wy = (1 - s[0]) / x[i] + powf(x[i], s[1]) - powf(s[1], x[i]) + x[i] +
                   expf(s[0]) * s[1];
        float wz = s[1] - x[i] + fminf(s[2], x[i]) + fmaxf(x[i], 2) + (s[0] < x[i]) +
                   (x[i] <= s[1]);
        if (!close_to(y[i], wy, 1e-6) || !close_to(z[i], wz, 1e-6))
            bad = i;
    }
    if (!ok(rc == 0 && bad < 0, "scalars, literals and per-call values in every operand place") &&
        bad >= 0)
        diag("at %d: y %.9g z %.9g", bad, y[bad], z[bad]);

    /* products the runner may fuse into one loop (a*s + b*t and its
       relatives), one whose register stays alive, one that overwrites its
       own register */
    {
        float a[N], b[N], c[N], e[N], o[6][N];
        for (int i = 0; i < N; i++)
            a[i] = rnd(-2, 2), b[i] = rnd(-2, 2), c[i] = rnd(-2, 2), e[i] = rnd(-2, 2);
        float *d6[10] = { a, b, c, e, o[0], o[1], o[2], o[3], o[4], o[5] };
        const float st[2] = { 0.3f, -1.7f };
        rc = ew_exec("in a, b, c, d; out y, z, w, u, q, v; scalar s, t;\n"
                     "y = a*s + b*t;  z = a*b + c*t;  w = a*s + b*c;\n"
                     "k = c*t;  u = a*b + k;  q = k*2 + u;\n"
                     "f = c*t;  f = a*d + f;  v = f;\n", N, d6, NULL, NULL, st);
        bad = -1;
        for (int i = 0; i < N && !rc && bad < 0; i++) {
            float k = c[i] * st[1], u = a[i] * b[i] + k;
            if (o[0][i] != a[i] * st[0] + b[i] * st[1] || o[1][i] != a[i] * b[i] + c[i] * st[1] ||
                o[2][i] != a[i] * st[0] + b[i] * c[i] || o[3][i] != u || o[4][i] != k * 2 + u ||
                o[5][i] != a[i] * e[i] + c[i] * st[1])
                bad = i;
        }
        if (!ok(rc == 0 && bad < 0, "sums of two products, exactly") && bad >= 0)
            diag("at %d", bad);
    }

    /* an array set to a per-call value */
    float *d1[1] = { y };
    const float s1[1] = { 4.0f };
    rc = ew_exec("out y; scalar s; y = sqrt(s) + 1;", N, d1, NULL, NULL, s1);
    ok(rc == 0 && y[0] == 3.0f && y[N - 1] == 3.0f, "fill from a scalar expression");
}

static void test_broadcast(void)
{
    /* bias over the rows of a 37 x 50 matrix: L = cols, s = 1 */
    enum { R = 37, C = 50 };
    static float x[R * C], bias[C], y[R * C];
    for (int i = 0; i < R * C; i++)
        x[i] = rnd(-1, 1);
    for (int j = 0; j < C; j++)
        bias[j] = (float)j;
    float *d[3] = { x, bias, y };
    size_t len[3] = { R * C, C, R * C }, stride[3] = { 1, 1, 1 };
    int rc = ew_exec("in x, b; out y; y = x + b;", R * C, d, len, stride, NULL);
    int bad = -1;
    for (int i = 0; i < R * C && !rc; i++)
        if (y[i] != x[i] + bias[i % C])
            bad = i;
    ok(rc == 0 && bad < 0, "bias over rows (L = cols, s = 1)");

    /* channel scale in NCHW: N = 3, C = 5, H*W = 7*9: L = C, s = H*W */
    enum { NB = 3, CH = 5, HW = 63 };
    static float img[NB * CH * HW], scale[CH], out[NB * CH * HW];
    for (int i = 0; i < NB * CH * HW; i++)
        img[i] = rnd(-1, 1);
    for (int c = 0; c < CH; c++)
        scale[c] = (float)(c + 2);
    float *d2[3] = { img, scale, out };
    size_t len2[3] = { NB * CH * HW, CH, NB * CH * HW }, stride2[3] = { 1, HW, 1 };
    rc = ew_exec("in x, g; out y; y = x * g;", NB * CH * HW, d2, len2, stride2, NULL);
    bad = -1;
    for (int i = 0; i < NB * CH * HW && !rc; i++)
        if (out[i] != img[i] * scale[(i / HW) % CH])
            bad = i;
    ok(rc == 0 && bad < 0, "channel scale in NCHW (L = C, s = H*W)");

    /* odd strides and lengths across many blocks and threads */
    enum { N = 100003 };
    float *big = malloc(N * sizeof *big), *res = malloc(N * sizeof *res);
    float small1[7], small2[1000], one[1];
    for (int i = 0; i < N; i++)
        big[i] = rnd(-1, 1);
    for (int i = 0; i < 7; i++)
        small1[i] = (float)i;
    for (int i = 0; i < 1000; i++)
        small2[i] = (float)(1000 * i);
    one[0] = 0.5f;
    float *d3[5] = { big, small1, small2, one, res };
    size_t len3[5] = { N, 7, 1000, 1, N }, stride3[5] = { 1, 13, 1, 1, 1 };
    rc = ew_exec("in x, a, b, h; out y; y = x + a + b + h;", N, d3, len3, stride3, NULL);
    bad = -1;
    for (int i = 0; i < N && !rc; i++)
        if (res[i] != big[i] + small1[(i / 13) % 7] + small2[i % 1000] + 0.5f)
            bad = i;
    if (!ok(rc == 0 && bad < 0, "L = 7 s = 13, L = 1000 s = 1, L = 1 over n = %d", N) && bad >= 0)
        diag("at %d: %.9g", bad, res[bad]);
    free(big);
    free(res);
}

/* Adam in plain C, the same operations in the same order as the program. */
static void adam_ref(size_t n, const float *g, float *p, float *m, float *v, const float *s)
{
    for (size_t i = 0; i < n; i++) {
        m[i] = s[1] * m[i] + (1 - s[1]) * g[i];
        v[i] = s[2] * v[i] + (1 - s[2]) * g[i] * g[i];
        p[i] = p[i] - s[0] * (m[i] / s[4]) / (sqrtf(v[i] / s[5]) + s[3]);
    }
}

/* The loop sets test passes 1.. cap the cpu backend at (pass 0: its own). */
#define N_PASSES 3
static const char *const isa_names[N_PASSES] = { "machine's", "avx2", "baseline" };

static void test_adam(int pass)
{
    static float *first;    /* p after the first pass, n = 100003 */
    static const char *adam = "in g; inout p, m, v; scalar lr, b1, b2, eps, bc1, bc2;\n"
                              "m = b1*m + (1-b1)*g;\n"
                              "v = b2*v + (1-b2)*g*g;\n"
                              "p = p - lr*(m/bc1)/(sqrt(v/bc2) + eps);\n";
    const float s[6] = { 1e-3f, 0.9f, 0.999f, 1e-8f, 1 - 0.9f * 0.9f, 1 - 0.999f * 0.999f };
    /* 1, shorter than a block, not a multiple of it, and big enough for
       every thread */
    static const size_t sizes[] = { 1, 100, 513, 4097, 100003, 536577 };
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        size_t n = sizes[t];
        float *buf = malloc(7 * n * sizeof *buf);
        float *g = buf, *p = buf + n, *m = buf + 2 * n, *v = buf + 3 * n;
        float *rp = buf + 4 * n, *rm = buf + 5 * n, *rv = buf + 6 * n;
        for (size_t i = 0; i < n; i++) {
            g[i] = rnd(-1, 1);
            p[i] = rp[i] = rnd(-1, 1);
            m[i] = rm[i] = rnd(-0.1f, 0.1f);
            v[i] = rv[i] = rnd(0, 0.01f);
        }
        float *d[4] = { g, p, m, v };
        int rc = ew_exec(adam, n, d, NULL, NULL, s);
        adam_ref(n, g, rp, rm, rv, s);
        size_t bad = n;
        for (size_t i = 0; i < n && !rc && bad == n; i++)
            if (!close_to(p[i], rp[i], 1e-6) || !close_to(m[i], rm[i], 1e-6) ||
                !close_to(v[i], rv[i], 1e-6))
                bad = i;
        if (!ok(rc == 0 && bad == n, "Adam step over n = %zu matches plain C", n) && bad < n)
            diag("at %zu: p %.9g want %.9g", bad, p[bad], rp[bad]);
        if (n == 100003 && pass == 0) {
            first = malloc(n * sizeof *first);
            memcpy(first, p, n * sizeof *first);
        } else if (n == 100003 && first) {
            ok(memcmp(first, p, n * sizeof *first) == 0,
               "the %s loops give the same bits as the machine's own", isa_names[pass]);
            if (pass == N_PASSES - 1) {
                free(first);
                first = NULL;
            }
        }
        free(buf);
    }
}

/* plugins/optimizers/adam.c's program with torch's defaults, which the cpu
   runner runs as one loop (ew_fuse_adam), gives the bits of the same
   program run instruction by instruction (one more output, e = g, keeps it
   from being fused): over sizes around a block and the parallel threshold,
   and with g broadcast from a short array. */
static void test_adam_fused(void)
{
    static const char *fused = "in g; inout p, m, v; scalar step, b1, b1c, b2, b2c, bc2s, eps;\n"
                               "d = g;\n"
                               "m = b1*m + b1c*d;\n"
                               "v = b2*v + b2c*(d*d);\n"
                               "p = p - step*(m/(sqrt(v)/bc2s + eps));\n";
    static const char *split = "in g; inout p, m, v; out e;\n"
                               "scalar step, b1, b1c, b2, b2c, bc2s, eps;\n"
                               "d = g;\n"
                               "m = b1*m + b1c*d;\n"
                               "v = b2*v + b2c*(d*d);\n"
                               "p = p - step*(m/(sqrt(v)/bc2s + eps));\n"
                               "e = g;\n";
    const float s[7] = { 1e-3f / 0.19f, 0.9f, 0.1f, 0.999f, 0.001f, 0.0447101778f, 1e-8f };
    static const size_t sizes[] = { 1, 127, 128, 129, 4097, 100003 };
    for (size_t t = 0; t <= sizeof sizes / sizeof sizes[0]; t++) {
        int bcast = t == sizeof sizes / sizeof sizes[0];
        size_t n = bcast ? 1000 : sizes[t], ng = bcast ? 7 : n;
        float *buf = malloc((8 * n + ng) * sizeof *buf);
        float *p = buf, *m = buf + n, *v = buf + 2 * n;
        float *p2 = buf + 3 * n, *m2 = buf + 4 * n, *v2 = buf + 5 * n, *e = buf + 6 * n;
        float *g = buf + 8 * n;
        for (size_t i = 0; i < ng; i++)
            g[i] = rnd(-1, 1);
        for (size_t i = 0; i < n; i++) {
            p[i] = p2[i] = rnd(-1, 1);
            m[i] = m2[i] = rnd(-0.1f, 0.1f);
            v[i] = v2[i] = i % 17 ? rnd(0, 0.01f) : 0.0f;
        }
        const size_t len4[4] = { ng, n, n, n }, len5[5] = { ng, n, n, n, n };
        float *d1[4] = { g, p, m, v }, *d2[5] = { g, p2, m2, v2, e };
        int rc = ew_exec(fused, n, d1, len4, NULL, s);
        int rc2 = ew_exec(split, n, d2, len5, NULL, s);
        ok(rc == 0 && rc2 == 0 && memcmp(p, p2, n * sizeof *p) == 0 &&
           memcmp(m, m2, n * sizeof *m) == 0 && memcmp(v, v2, n * sizeof *v) == 0,
           "Adam's fused loop over n = %zu%s: the bits of the separate instructions", n,
           bcast ? ", g broadcast from 7 floats" : "");
        free(buf);
    }
}

/* The blockwise run (blocks of 128 through every instruction, fused loops,
   threads) gives exactly the bits of the plain run (DLHOST_CPU_EW_PLAIN=1:
   no fusion, each instruction over all n elements before the next), on the
   optimisers' programs with their options, programs that read a broadcast
   operand, chains whose intermediates are used again, and the per-element
   ops (idx, uniform, normal).  Sizes straddle a block and the parallel
   threshold. */
typedef struct plain_case {
    const char *what, *src;
    int n_arrays, n_scalars;
    int bcast;              /* array 0 has this many floats, broadcast (0: n) */
} plain_case;

static void test_plain(void)
{
    static const plain_case cases[] = {
        { "Adam (torch's defaults, the fused loop)",
          "in g; inout p, m, v; scalar step, b1, b1c, b2, b2c, bc2s, eps;\n"
          "d = g;\nm = b1*m + b1c*d;\nv = b2*v + b2c*(d*d);\n"
          "p = p - step*(m/(sqrt(v)/bc2s + eps));\n", 4, 7, 0 },
        { "Adam, weight decay, amsgrad, maximize",
          "in g; inout p, m, v, vmax; scalar step, b1, b1c, b2, b2c, bc2s, eps, wd;\n"
          "d = -g + wd*p;\nm = b1*m + b1c*d;\nv = b2*v + b2c*(d*d);\n"
          "vmax = max(vmax, v);\np = p - step*(m/(sqrt(vmax)/bc2s + eps));\n", 5, 8, 0 },
        { "SGD, momentum, nesterov, weight decay",
          "in g; inout p, buf; scalar lr, mu, damp1, wd, first;\n"
          "d = g + wd*p;\nbuf = select(first, d, mu*buf + damp1*d);\n"
          "p = p - lr*(d + mu*buf);\n", 3, 5, 0 },
        { "RMSprop, centered, momentum, weight decay",
          "in g; inout p, sq, buf, ga; scalar alpha, alpha1, eps, lr, mu, wd;\n"
          "d = g + wd*p;\nsq = alpha*sq + alpha1*(d*d);\nga = alpha*ga + alpha1*d;\n"
          "avg = sqrt(sq - ga*ga) + eps;\nbuf = mu*buf + d/avg;\np = p - lr*buf;\n",
          5, 6, 0 },
        { "bias, then relu and its mask, the bias broadcast from 37 floats",
          "in b; inout y; out mask; scalar s;\n"
          "t = y + b;\ny = max(t, 0);\nmask = select(t > 0, s, 0);\n", 3, 1, 37 },
        { "relu's backward (compare and select, one loop), NaN and -0 in x",
          "in x, dy; out dx;\ndx = select(x > 0, dy, 0);\n", 3, 0, 0 },
        { "relu's backward in place, the mask used again",
          "in x; inout dy; out mk;\nm = x > 0;\ndy = select(m, dy, -0.5);\nmk = m;\n",
          3, 0, 0 },
        { "chains with their intermediates used again",
          "in a, b; inout p; out e, f; scalar s, t;\n"
          "r = sqrt(b*b); q = r/s + t; e = q*r;\nw = a/q; p = p - s*w; f = w + e;\n",
          5, 2, 0 },
        { "idx, uniform and normal beside arithmetic",
          "in x; out y, z; scalar s; key k;\n"
          "y = x*idx + uniform(k);\nz = normal(k)*s + y;\n", 3, 1, 0 },
    };
    static const size_t sizes[] = { 1, 127, 128, 129, 4097, 40000, 100003 };
    enum { MAX_ARR = 5 };
    const size_t nmax = 100003;
    float *buf = malloc(2 * MAX_ARR * nmax * sizeof *buf);
    if (!buf) {
        ok(0, "out of memory");
        return;
    }
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const plain_case *pc = &cases[c];
        size_t worst = 0, bad_n = 0;
        int rc = 0;
        for (size_t t = 0; t < sizeof sizes / sizeof sizes[0] && !rc; t++) {
            size_t n = sizes[t];
            float sc[8 + DLH_EW_KEY_WORDS];
            for (int j = 0; j < 8; j++)
                sc[j] = rnd(0.05f, 0.95f);
            if (pc->n_scalars == 5)
                sc[4] = t % 2 ? 1.0f : 0.0f;      /* SGD's first step, or not */
            dlh_ew_key(sc + pc->n_scalars, 5, 6, 7);
            float *one[MAX_ARR], *two[MAX_ARR];
            size_t len[MAX_ARR];
            for (int j = 0; j < pc->n_arrays; j++) {
                one[j] = buf + (size_t)j * nmax;
                two[j] = buf + (size_t)(MAX_ARR + j) * nmax;
                len[j] = j == 0 && pc->bcast ? (size_t)pc->bcast : n;
                for (size_t i = 0; i < len[j]; i++)
                    one[j][i] = two[j][i] = j > 1 && i % 13 == 0 ? 0.0f : rnd(-1, 1);
                /* Edge values for the compares: NaN, -0 and +0. */
                for (size_t i = 0; i < len[j] && pc->n_scalars == 0; i += 11)
                    one[j][i] = two[j][i] = i % 3 == 0 ? NAN : i % 3 == 1 ? -0.0f : 0.0f;
            }
            if (pc->n_arrays == 5 && pc->n_scalars == 6)  /* RMSprop: sq >= ga*ga */
                for (size_t i = 0; i < n; i++)
                    one[2][i] = two[2][i] = one[4][i] * one[4][i] + rnd(0, 1);
            rc = ew_exec(pc->src, n, one, len, NULL, sc);
            setenv("DLHOST_CPU_EW_PLAIN", "1", 1);
            rc = rc ? rc : ew_exec(pc->src, n, two, len, NULL, sc);
            unsetenv("DLHOST_CPU_EW_PLAIN");
            for (int j = 0; j < pc->n_arrays && !rc; j++)
                if (memcmp(one[j], two[j], len[j] * sizeof *one[j]) != 0) {
                    bad_n = n;
                    worst = (size_t)j;
                }
        }
        ok(rc == 0 && bad_n == 0, "%s: the blockwise run gives the plain run's bits%s", pc->what,
           bad_n ? " (not for every size)" : "");
        if (bad_n)
            diag("n = %zu, array %zu differs", bad_n, worst);
    }
    free(buf);
}

/* Instructions of `src` with opcode `op`, or -1 when it does not compile. */
static int count_op(const char *src, int op)
{
    dlh_ew_kernel *k;
    if (dlh_ew_compile(be, src, &k))
        return -1;
    const dlh_ew_program *p = dlh_ew_kernel_program(k);
    int n = 0;
    for (uint32_t i = 0; i < p->n_instrs; i++)
        n += p->instrs[i].op == op;
    dlh_ew_free(k);
    return n;
}

/* A local assigned once from something no statement writes names it
   without a copy; one whose source is written later, or that is assigned
   again, keeps its own register. */
static void test_copies(void)
{
    enum { N = 300 };
    float x[N], p[N], p0[N], y[N];
    for (int i = 0; i < N; i++) {
        x[i] = rnd(-2, 2);
        p[i] = p0[i] = rnd(-2, 2);
    }
    static const char *chain = "in x; out y; d = x; e = d; y = e*e + d;";
    ok(count_op(chain, DLH_EW_MOV) == 0, "d = x; e = d: no copies of an 'in' array");
    float *d1[2] = { x, y };
    int rc = ew_exec(chain, N, d1, NULL, NULL, NULL), bad = -1;
    for (int i = 0; i < N && !rc && bad < 0; i++)
        if (y[i] != x[i] * x[i] + x[i])
            bad = i;
    ok(rc == 0 && bad < 0, "d = x; e = d; y = e*e + d computes x*x + x");

    static const char *later = "inout p; out y; d = p; p = p + 1; y = d;";
    float *d2[2] = { p, y };
    rc = ew_exec(later, N, d2, NULL, NULL, NULL);
    bad = -1;
    for (int i = 0; i < N && !rc && bad < 0; i++)
        if (y[i] != p0[i] || p[i] != p0[i] + 1)
            bad = i;
    ok(rc == 0 && bad < 0, "d = p before p is written keeps p's old value");

    static const char *again = "in x; out y; d = x; d = d + 1; y = d*x;";
    float *d3[2] = { x, y };
    rc = ew_exec(again, N, d3, NULL, NULL, NULL);
    bad = -1;
    for (int i = 0; i < N && !rc && bad < 0; i++)
        if (y[i] != (x[i] + 1) * x[i])
            bad = i;
    ok(rc == 0 && bad < 0, "a local assigned twice: y = (x + 1)*x, x untouched");

    static const char *consts = "in x; out y; scalar s; c = 2; t = s; y = x*c + t;";
    const float sc[1] = { 0.5f };
    rc = ew_exec(consts, N, d3, NULL, NULL, sc);
    bad = -1;
    for (int i = 0; i < N && !rc && bad < 0; i++)
        if (y[i] != x[i] * 2 + 0.5f)
            bad = i;
    ok(rc == 0 && bad < 0 && count_op(consts, DLH_EW_MOV) == 0,
       "c = 2; t = s name the number and the scalar: y = x*2 + s, no copies");
}

/* The chains the cpu runner runs as one loop (Adam's denominator and step)
   give exactly the bits of the separate operations, and the same chains
   with an intermediate used again (which it must not fuse) stay right. */
static void test_chains(void)
{
    enum { N = 1000 };
    float v[N], a[N], b[N], p[N], p0[N], d[N], e[N];
    for (int i = 0; i < N; i++) {
        v[i] = rnd(0, 3);
        a[i] = rnd(-1, 1);
        b[i] = rnd(0.5f, 2);
        p[i] = p0[i] = rnd(-1, 1);
    }
    const float sc[2] = { 0.9995f, 1e-8f };
    for (int reuse = 0; reuse < 2; reuse++) {
        float *d1[3] = { v, d, e };
        int rc = ew_exec(reuse ? "in v; out d, e; scalar s, t; r = sqrt(v); d = r/s + t; "
                                 "e = r;"
                               : "in v; out d, e; scalar s, t; d = sqrt(v)/s + t; e = v;",
                         N, d1, NULL, NULL, sc), bad = -1;
        for (int i = 0; i < N && !rc && bad < 0; i++) {
            float r = sqrtf(v[i]), q = r / sc[0];
            if (d[i] != q + sc[1] || e[i] != (reuse ? r : v[i]))
                bad = i;
        }
        ok(rc == 0 && bad < 0, "sqrt(v)/s + t%s: the bits of the separate operations",
           reuse ? " with sqrt(v) used again" : "");

        memcpy(p, p0, sizeof p);
        float *d2[4] = { a, b, p, e };
        rc = ew_exec(reuse ? "in a, b; inout p; out e; scalar s; q = a/b; p = p - s*q; e = q;"
                           : "in a, b; inout p; out e; scalar s; p = p - s*(a/b); e = a;",
                     N, d2, NULL, NULL, sc);
        bad = -1;
        for (int i = 0; i < N && !rc && bad < 0; i++) {
            float q = a[i] / b[i], m = sc[0] * q;
            if (p[i] != p0[i] - m || e[i] != (reuse ? q : a[i]))
                bad = i;
        }
        ok(rc == 0 && bad < 0, "p - s*(a/b)%s: the bits of the separate operations",
           reuse ? " with a/b used again" : "");
    }
}

static void test_run_checks(void)
{
    dlh_ew_kernel *k;
    int rc = dlh_ew_compile(be, "in x, b; out y; y = x + b;", &k);
    if (!ok(rc == 0, "compile for run checks"))
        return;
    dlh_buffer *buf;
    static const float zeros[100];
    be->ops->alloc(be->ctx, sizeof zeros, &buf);
    be->ops->write(be->ctx, buf, 0, zeros, sizeof zeros);
    dlh_mem m = { buf, 0 };
    dlh_ew_arg args[3] = { dlh_ew_full(m, 100), dlh_ew_full(m, 100), dlh_ew_full(m, 10) };
    rc = dlh_ew_run(k, 100, args, NULL);
    ok(rc == DLH_EINVAL && strcmp(dlh_error_get(), "ew: operand 'y' is written, so it needs "
                                  "length n=100 and stride 1 (got length 10, stride 1)") == 0,
       "a short written operand is refused, by name");
    args[2] = dlh_ew_full(m, 100);
    args[2].stride = 2;
    rc = dlh_ew_run(k, 100, args, NULL);
    ok(rc == DLH_EINVAL && strstr(dlh_error_get(), "(got length 100, stride 2)"),
       "a strided written operand is refused");
    args[2].stride = 1;
    args[1].len = 0;
    rc = dlh_ew_run(k, 100, args, NULL);
    ok(rc == DLH_EINVAL && strcmp(dlh_error_get(), "ew: operand 'b' needs length >= 1 and "
                                  "stride >= 1 (got length 0, stride 1)") == 0,
       "an empty read operand is refused");
    args[1].len = 1;
    args[1].stride = 0;
    rc = dlh_ew_run(k, 100, args, NULL);
    ok(rc == DLH_EINVAL, "stride 0 is refused");
    args[1].stride = 1;
    ok(dlh_ew_run(k, 100, NULL, NULL) == DLH_EINVAL, "NULL args are refused");
    ok(dlh_ew_run(k, 100, args, NULL) == 0, "valid args run");
    ok(dlh_ew_run(k, 0, args, NULL) == 0, "n = 0 does nothing");
    ok(dlh_ew_run(NULL, 100, args, NULL) == DLH_EINVAL, "a NULL kernel is refused");
    be->ops->free(be->ctx, buf);
    dlh_ew_free(k);
    dlh_ew_free(NULL);

    rc = dlh_ew_compile(be, "in x, b; out y; scalar s; y = x + b*s;", &k);
    if (ok(rc == 0, "compile with a scalar")) {
        ok(dlh_ew_run(k, 10, args, NULL) == DLH_EINVAL && strstr(dlh_error_get(), "scalars is NULL"),
           "NULL scalars are refused when the program has some");
        dlh_ew_free(k);
    }
    rc = dlh_ew_compile(be, "in x; out y; y = x +* 2;", &k);
    ok(rc == DLH_EPARSE && k == NULL && strncmp(dlh_error_get(), "ew:1:21: ", 9) == 0,
       "compile passes parse errors through");

    /* through the host table, as plugins call it */
    const dlh_host *host = dlh_host_table();
    if (host && host->ew_compile && host->ew_run && host->ew_program && host->ew_free) {
        float x[5] = { 1, 2, 3, 4, 5 }, y[5] = { 0 };
        dlh_buffer *bx, *by;
        be->ops->alloc(be->ctx, sizeof x, &bx);
        be->ops->alloc(be->ctx, sizeof y, &by);
        be->ops->write(be->ctx, bx, 0, x, sizeof x);
        rc = host->ew_compile(be, "in x; out y; scalar a; y = a*x*x;", &k);
        if (!rc) {
            const float a = 2;
            dlh_ew_arg hargs[2] = { dlh_ew_full((dlh_mem){ bx, 0 }, 5),
                                    dlh_ew_full((dlh_mem){ by, 0 }, 5) };
            rc = host->ew_run(k, 5, hargs, &a);
            ok(host->ew_program(k) && host->ew_program(k)->n_scalars == 1, "host->ew_program");
            host->ew_free(k);
        }
        be->ops->read(be->ctx, by, 0, y, sizeof y);
        ok(rc == 0 && y[0] == 2 && y[4] == 50, "compile and run through the host table");
        be->ops->free(be->ctx, bx);
        be->ops->free(be->ctx, by);
    } else {
        ok(0, "the host table offers ew_compile, ew_run, ew_program and ew_free");
    }
}

int main(void)
{
    test_code();
    test_errors();

    int rc = dlh_registry_load_all(0);
    if (rc == 0)
        rc = dlh_backend_open("cpu", NULL, &be);
    if (!ok(rc == 0 && be, "the cpu backend opens")) {
        diag("%s", dlh_error_get());
        dlh_registry_clear();
        return done_testing();
    }
    /* Once with the loops the cpu backend picks for this machine, then
       capped at AVX2 and at the portable ones (the same loops where the
       machine has nothing better). */
    for (int pass = 0; pass < N_PASSES; pass++) {
        if (pass > 0) {
            setenv("DLHOST_CPU_EW_ISA", isa_names[pass], 1);
            diag("again with DLHOST_CPU_EW_ISA=%s", isa_names[pass]);
        }
        rng_state = 0x9e3779b97f4a7c15ULL;
        test_functions();
        test_new_functions();
        test_index_random();
        test_scalars();
        test_broadcast();
        test_adam(pass);
        test_adam_fused();
        test_plain();
    }
    test_portable_normal();
    test_copies();
    test_chains();
    test_run_checks();
    dlh_backend_close(be);
    dlh_registry_clear();
    return done_testing();
}
