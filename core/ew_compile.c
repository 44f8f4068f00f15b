/* The elementwise-program compiler: text -> dlh_ew_program.
 *
 * A hand-written lexer and recursive-descent parser build one expression
 * tree per statement (folding literal subexpressions as they are built);
 * code generation then walks the statements in order and emits the flat
 * three-address list of dlhost/ew.h.  Registers are handed out lowest-free
 * first and each subtree is evaluated in Sethi-Ullman order, so n_regs stays
 * close to the minimum; a local keeps its register from its first assignment
 * to the last statement that names it. */
#include "ew.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlhost/philox.h>
#include <dlhost/status.h>

#include "error.h"
#include "params.h"

/* Deeper nesting than this is surely not an elementwise formula, and
   recursion on hostile input must stay bounded. */
#define EW_MAX_DEPTH 200
/* Longest literal accepted; more digits than float can hold are pointless. */
#define EW_MAX_NUMBER 128
#define EW_MAX_CONSTS 65535

/* ------------------------------------------------------------------ tokens */

typedef enum tok_kind {
    T_EOF, T_NAME, T_NUM, T_SEMI, T_COMMA, T_LPAREN, T_RPAREN, T_ASSIGN,
    T_PLUS, T_MINUS, T_STAR, T_SLASH, T_LT, T_LE, T_GT, T_GE, T_EQ, T_NE
} tok_kind;

typedef struct token {
    tok_kind kind;
    const char *start;
    size_t len;
    int line, col;
    float num;
} token;

/* ------------------------------------------------------------------ tree */

typedef enum node_kind { N_NUM, N_VAR, N_OP } node_kind;

typedef struct node {
    node_kind kind;
    int op;                 /* dlh_ew_opcode for N_OP */
    float num;              /* N_NUM */
    int sym;                /* N_VAR: index into parser.syms */
    int n_kids;
    struct node *kid[3];
    int line, col;
    int need;               /* registers to evaluate it; -1 until computed */
} node;

typedef enum sym_kind { S_ARRAY, S_SCALAR, S_LOCAL, S_KEY } sym_kind;

typedef struct sym {
    char *name;
    sym_kind kind;
    int index;              /* array or scalar index (keys: the first word's) */
    int access;             /* dlh_ew_access for arrays */
    int written;            /* arrays: assigned by an earlier statement */
    int line, col;          /* declaration or first assignment */
    int last_stmt;          /* locals: last statement that names it */
    int n_assign;           /* locals: statements that assign it */
    int reg;                /* locals: register during code generation, -1 if none */
    int aliased;            /* locals: stands for alias_ref instead of a register */
    dlh_ew_ref alias_ref;
} sym;

typedef struct stmt {
    int target;             /* sym index */
    node *rhs;
    int line, col;
} stmt;

typedef struct parser {
    const char *src;
    const char *p;          /* next character to lex */
    const char *line_start;
    int line;
    token tok, prev;
    int rc;                 /* first error, 0 while none */

    sym *syms;
    size_t n_syms, cap_syms;
    int n_arrays, n_scalars;
    stmt *stmts;
    size_t n_stmts, cap_stmts;
    node **nodes;           /* every node, for freeing */
    size_t n_nodes, cap_nodes;

    /* code generation */
    dlh_ew_instr *instrs;
    size_t n_instrs, cap_instrs;
    float *consts;
    size_t n_consts, cap_consts;
    unsigned char reg_busy[DLH_EW_MAX_REGS];
    unsigned char reg_local[DLH_EW_MAX_REGS];
    int n_regs;
    int st_line, st_col;    /* the statement being generated */
} parser;

static const struct ew_func {
    const char *name;
    int op;
    int n_args;
} ew_funcs[] = {
    { "exp", DLH_EW_EXP, 1 },     { "log", DLH_EW_LOG, 1 },
    { "sqrt", DLH_EW_SQRT, 1 },   { "rsqrt", DLH_EW_RSQRT, 1 },
    { "abs", DLH_EW_ABS, 1 },     { "sign", DLH_EW_SIGN, 1 },
    { "tanh", DLH_EW_TANH, 1 },   { "sigmoid", DLH_EW_SIGMOID, 1 },
    { "min", DLH_EW_MIN, 2 },     { "max", DLH_EW_MAX, 2 },
    { "pow", DLH_EW_POW, 2 },     { "select", DLH_EW_SELECT, 3 },
    { "erf", DLH_EW_ERF, 1 },     { "floor", DLH_EW_FLOOR, 1 },
    { "ceil", DLH_EW_CEIL, 1 },   { "round", DLH_EW_ROUND, 1 },
    { "sin", DLH_EW_SIN, 1 },     { "cos", DLH_EW_COS, 1 },
    { "fmod", DLH_EW_FMOD, 2 },   { "atan2", DLH_EW_ATAN2, 2 },
    { "uniform", DLH_EW_UNIFORM, 1 }, { "normal", DLH_EW_NORMAL, 1 },
};
#define EW_N_FUNCS (sizeof ew_funcs / sizeof ew_funcs[0])

/* ------------------------------------------------------------------ errors */

/* Sets "ew:LINE:COL: what", the source line and a caret under COL. */
static int ew_error_at(parser *ps, int line, int col, const char *fmt, ...)
    DLH_PRINTF(4, 5);
static int ew_error_at(parser *ps, int line, int col, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);

    const char *s = ps->src;
    for (int l = 1; l < line && *s; s++)
        if (*s == '\n')
            l++;
    size_t len = strcspn(s, "\n");
    while (len > 0 && s[len - 1] == '\r')
        len--;
    /* Show a window of a very long line so the caret stays in the message. */
    size_t c = col > 0 ? (size_t)col - 1 : 0, from = 0;
    if (len > 160 && c > 80)
        from = c - 80;
    if (from > len)
        from = len;
    size_t show = len - from > 160 ? 160 : len - from;
    char pad[200];
    size_t np = c - from < sizeof pad - 1 ? c - from : sizeof pad - 1;
    for (size_t i = 0; i < np; i++)
        pad[i] = (from + i < len && s[from + i] == '\t') ? '\t' : ' ';
    pad[np] = '\0';
    dlh_error_set("ew:%d:%d: %s\n%.*s\n%s^", line, col, what, (int)show, s + from, pad);
    if (!ps->rc)
        ps->rc = DLH_EPARSE;
    return DLH_EPARSE;
}

static int ew_nomem(parser *ps)
{
    dlh_error_set("ew: out of memory");
    ps->rc = DLH_ENOMEM;
    return DLH_ENOMEM;
}

/* "'name'" or "end of input", for messages. */
static const char *tok_desc(const token *t, char *buf, size_t size)
{
    if (t->kind == T_EOF)
        return "end of input";
    int n = t->len > 40 ? 40 : (int)t->len;
    snprintf(buf, size, "'%.*s%s'", n, t->start, t->len > 40 ? "..." : "");
    return buf;
}

/* Where a token that should follow `prev` is missing: just past prev. */
static int error_after_prev(parser *ps, const char *what)
{
    char d[64];
    return ew_error_at(ps, ps->prev.line, ps->prev.col + (int)ps->prev.len,
                       "expected %s before %s", what, tok_desc(&ps->tok, d, sizeof d));
}

/* ------------------------------------------------------------------ lexer */

static int is_name_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_name_char(int c)
{
    return is_name_start(c) || is_digit(c);
}

/* Converts a checked decimal literal; strtof is locale dependent, so the
   '.' becomes the locale's decimal point first. */
static int lex_number_value(parser *ps, const token *t, float *out)
{
    char buf[EW_MAX_NUMBER + 16];
    if (t->len > EW_MAX_NUMBER)
        return ew_error_at(ps, t->line, t->col, "number is too long (more than %d characters)",
                           EW_MAX_NUMBER);
    const char *dp = localeconv()->decimal_point;
    size_t ndp = dp && *dp ? strlen(dp) : 1;
    if (ndp > 8)
        ndp = 1, dp = ".";
    size_t n = 0;
    for (size_t i = 0; i < t->len; i++) {
        if (t->start[i] == '.') {
            memcpy(buf + n, dp && *dp ? dp : ".", ndp);
            n += ndp;
        } else {
            buf[n++] = t->start[i];
        }
    }
    buf[n] = '\0';
    errno = 0;
    char *end;
    float v = strtof(buf, &end);
    if (*end != '\0')
        return ew_error_at(ps, t->line, t->col, "malformed number '%.*s'", (int)t->len, t->start);
    if (isinf(v))
        return ew_error_at(ps, t->line, t->col, "number '%.*s' is out of range for float",
                           (int)t->len, t->start);
    *out = v;
    return 0;
}

/* Reads the next token into ps->tok (keeping the old one in ps->prev). */
static int lex(parser *ps)
{
    const char *p = ps->p;
    ps->prev = ps->tok;
    for (;;) {
        if (*p == '\n') {
            ps->line++;
            ps->line_start = ++p;
        } else if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\v' || *p == '\f') {
            p++;
        } else if (*p == '#') {
            while (*p && *p != '\n')
                p++;
        } else {
            break;
        }
    }
    token *t = &ps->tok;
    t->start = p;
    t->line = ps->line;
    t->col = (int)(p - ps->line_start) + 1;
    t->len = 1;
    t->num = 0.0f;
    switch (*p) {
    case '\0': t->kind = T_EOF; t->len = 0; break;
    case ';': t->kind = T_SEMI; break;
    case ',': t->kind = T_COMMA; break;
    case '(': t->kind = T_LPAREN; break;
    case ')': t->kind = T_RPAREN; break;
    case '+': t->kind = T_PLUS; break;
    case '-': t->kind = T_MINUS; break;
    case '*': t->kind = T_STAR; break;
    case '/': t->kind = T_SLASH; break;
    case '<':
        t->kind = p[1] == '=' ? T_LE : T_LT;
        t->len = p[1] == '=' ? 2 : 1;
        break;
    case '>':
        t->kind = p[1] == '=' ? T_GE : T_GT;
        t->len = p[1] == '=' ? 2 : 1;
        break;
    case '=':
        t->kind = p[1] == '=' ? T_EQ : T_ASSIGN;
        t->len = p[1] == '=' ? 2 : 1;
        break;
    case '!':
        if (p[1] == '=') {
            t->kind = T_NE;
            t->len = 2;
            break;
        }
        return ew_error_at(ps, t->line, t->col, "unexpected character '!' (did you mean '!='?)");
    default:
        if (is_name_start((unsigned char)*p)) {
            const char *q = p;
            while (is_name_char((unsigned char)*q))
                q++;
            t->kind = T_NAME;
            t->len = (size_t)(q - p);
        } else if (is_digit((unsigned char)*p) || (*p == '.' && is_digit((unsigned char)p[1]))) {
            const char *q = p;
            while (is_digit((unsigned char)*q))
                q++;
            if (*q == '.') {
                q++;
                while (is_digit((unsigned char)*q))
                    q++;
            }
            int bad = 0;
            if (*q == 'e' || *q == 'E') {
                const char *e = q + 1;
                if (*e == '+' || *e == '-')
                    e++;
                if (is_digit((unsigned char)*e)) {
                    while (is_digit((unsigned char)*e))
                        e++;
                    q = e;
                } else {
                    bad = 1;
                }
            }
            /* "2x", "1.2.3" or "1e" are one bad literal, not two tokens. */
            if (bad || is_name_char((unsigned char)*q) || *q == '.') {
                while (is_name_char((unsigned char)*q) || *q == '.')
                    q++;
                return ew_error_at(ps, t->line, t->col, "malformed number '%.*s'",
                                   (int)(q - p), p);
            }
            t->kind = T_NUM;
            t->len = (size_t)(q - p);
            if (lex_number_value(ps, t, &t->num))
                return ps->rc;
        } else {
            unsigned char c = (unsigned char)*p;
            if (c >= 0x20 && c < 0x7f)
                return ew_error_at(ps, t->line, t->col, "unexpected character '%c'", c);
            return ew_error_at(ps, t->line, t->col, "unexpected character (byte 0x%02x)", c);
        }
    }
    ps->p = p + t->len;
    return 0;
}

static int tok_is(const token *t, const char *word)
{
    return t->kind == T_NAME && strlen(word) == t->len && memcmp(t->start, word, t->len) == 0;
}

static int tok_keyword(const token *t)
{
    if (tok_is(t, "in"))
        return DLH_EW_IN;
    if (tok_is(t, "out"))
        return DLH_EW_OUT;
    if (tok_is(t, "inout"))
        return DLH_EW_INOUT;
    if (tok_is(t, "scalar"))
        return 4;
    if (tok_is(t, "key"))
        return 5;
    return 0;
}

/* ------------------------------------------------------------------ symbols */

static int sym_find(const parser *ps, const char *s, size_t len)
{
    for (size_t i = 0; i < ps->n_syms; i++)
        if (strlen(ps->syms[i].name) == len && memcmp(ps->syms[i].name, s, len) == 0)
            return (int)i;
    return -1;
}

static int sym_add(parser *ps, const token *t, sym_kind kind, int index, int access)
{
    if (ps->n_syms == ps->cap_syms) {
        size_t cap = ps->cap_syms ? 2 * ps->cap_syms : 16;
        sym *s = realloc(ps->syms, cap * sizeof *s);
        if (!s)
            return ew_nomem(ps);
        ps->syms = s;
        ps->cap_syms = cap;
    }
    sym *s = &ps->syms[ps->n_syms];
    memset(s, 0, sizeof *s);
    s->name = malloc(t->len + 1);
    if (!s->name)
        return ew_nomem(ps);
    memcpy(s->name, t->start, t->len);
    s->name[t->len] = '\0';
    s->kind = kind;
    s->index = index;
    s->access = access;
    s->line = t->line;
    s->col = t->col;
    s->last_stmt = -1;
    s->reg = -1;
    ps->n_syms++;
    return 0;
}

/* ------------------------------------------------------------------ nodes */

static node *node_new(parser *ps, node_kind kind, int line, int col)
{
    if (ps->n_nodes == ps->cap_nodes) {
        size_t cap = ps->cap_nodes ? 2 * ps->cap_nodes : 64;
        node **v = realloc(ps->nodes, cap * sizeof *v);
        if (!v) {
            ew_nomem(ps);
            return NULL;
        }
        ps->nodes = v;
        ps->cap_nodes = cap;
    }
    node *n = calloc(1, sizeof *n);
    if (!n) {
        ew_nomem(ps);
        return NULL;
    }
    ps->nodes[ps->n_nodes++] = n;
    n->kind = kind;
    n->line = line;
    n->col = col;
    n->need = -1;
    return n;
}

static float fold_sign(float x)
{
    return copysignf(fabsf(x) > 0.0f ? 1.0f : 0.0f, x);  /* keeps -0; NaN gives 0 */
}

static float fold_sigmoid(float x)
{
    float e = expf(-fabsf(x));
    return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

static float fold_min(float x, float y)
{
    return y != y ? x : (x < y ? x : y);
}

static float fold_max(float x, float y)
{
    return y != y ? x : (x > y ? x : y);
}

/* The value an instruction gives for literal operands; the same formulas the
   cpu runner uses, so folding never changes a result. */
float dlh_ew_op_eval(int op, float x, float y, float z)
{
    switch (op) {
    case DLH_EW_MOV: return x;
    case DLH_EW_ADD: return x + y;
    case DLH_EW_SUB: return x - y;
    case DLH_EW_MUL: return x * y;
    case DLH_EW_DIV: return x / y;
    case DLH_EW_NEG: return -x;
    case DLH_EW_LT: return x < y ? 1.0f : 0.0f;
    case DLH_EW_LE: return x <= y ? 1.0f : 0.0f;
    case DLH_EW_GT: return x > y ? 1.0f : 0.0f;
    case DLH_EW_GE: return x >= y ? 1.0f : 0.0f;
    case DLH_EW_EQ: return x == y ? 1.0f : 0.0f;
    case DLH_EW_NE: return x != y ? 1.0f : 0.0f;
    case DLH_EW_EXP: return expf(x);
    case DLH_EW_LOG: return logf(x);
    case DLH_EW_SQRT: return sqrtf(x);
    case DLH_EW_RSQRT: return 1.0f / sqrtf(x);
    case DLH_EW_ABS: return fabsf(x);
    case DLH_EW_SIGN: return fold_sign(x);
    case DLH_EW_TANH: return tanhf(x);
    case DLH_EW_SIGMOID: return fold_sigmoid(x);
    case DLH_EW_MIN: return fold_min(x, y);
    case DLH_EW_MAX: return fold_max(x, y);
    case DLH_EW_POW: return powf(x, y);
    case DLH_EW_SELECT: return x != 0.0f ? y : z;
    case DLH_EW_MULADD: return x * y + z;
    case DLH_EW_ERF: return erff(x);
    case DLH_EW_FLOOR: return floorf(x);
    case DLH_EW_CEIL: return ceilf(x);
    case DLH_EW_ROUND: return rintf(x);
    case DLH_EW_SIN: return sinf(x);
    case DLH_EW_COS: return cosf(x);
    case DLH_EW_FMOD: return fmodf(x, y);
    case DLH_EW_ATAN2: return atan2f(x, y);
    default: return NAN;        /* and the per-element INDEX, UNIFORM, NORMAL */
    }
}

float dlh_ew_elem_eval(int op, uint64_t i, const float *key)
{
    if (op == DLH_EW_INDEX)
        return (float)i;
    if ((op != DLH_EW_UNIFORM && op != DLH_EW_NORMAL) || !key)
        return NAN;
    uint32_t w[DLH_EW_KEY_WORDS];
    memcpy(w, key, sizeof w);
    uint64_t seed = w[0] | (uint64_t)w[1] << 32, stream = w[2] | (uint64_t)w[3] << 32;
    uint64_t c = (w[4] | (uint64_t)w[5] << 32) + i;
    return op == DLH_EW_UNIFORM ? dlh_philox_uniform(seed, stream, c, 0.0f, 1.0f)
                                : dlh_philox_normal_portable(seed, stream, c);
}

/* Opcodes whose value depends on the element, not only on their operands:
   never folded, never run once per call. */
static int op_per_element(int op)
{
    return op == DLH_EW_INDEX || op == DLH_EW_UNIFORM || op == DLH_EW_NORMAL;
}

/* An operation node, or a literal when every operand is one. */
static node *node_op(parser *ps, int op, int n_kids, node *a, node *b, node *c,
                     int line, int col)
{
    node *kids[3] = { a, b, c };
    int literal = !op_per_element(op);
    for (int i = 0; i < n_kids; i++)
        literal &= kids[i]->kind == N_NUM;
    if (literal && n_kids > 0) {
        /* Reuse the first operand's node: the folded value replaces it. */
        float v = dlh_ew_op_eval(op, a->num, n_kids > 1 ? b->num : 0.0f,
                                 n_kids > 2 ? c->num : 0.0f);
        a->num = v;
        a->line = line;
        a->col = col;
        return a;
    }
    node *n = node_new(ps, N_OP, line, col);
    if (!n)
        return NULL;
    n->op = op;
    n->n_kids = n_kids;
    for (int i = 0; i < n_kids; i++)
        n->kid[i] = kids[i];
    return n;
}

/* ------------------------------------------------------------------ parser */

static node *parse_expr(parser *ps, int depth);

/* uniform(k) or normal(k), ps->tok just past '(': the one argument is
   the name of a key. */
static node *parse_key_call(parser *ps, const token *name, const struct ew_func *f)
{
    token t = ps->tok;
    int s = t.kind == T_NAME ? sym_find(ps, t.start, t.len) : -1;
    if (s < 0 || ps->syms[s].kind != S_KEY) {
        char d[64];
        ew_error_at(ps, t.line, t.col, "'%s' takes a random key (declared 'key k;'), got %s",
                    f->name, tok_desc(&t, d, sizeof d));
        return NULL;
    }
    if (lex(ps))
        return NULL;
    if (ps->tok.kind != T_RPAREN) {
        char d[64];
        ew_error_at(ps, ps->tok.line, ps->tok.col, "expected ')' after the key of '%s', got %s",
                    f->name, tok_desc(&ps->tok, d, sizeof d));
        return NULL;
    }
    if (lex(ps))        /* past ')' */
        return NULL;
    node *k = node_new(ps, N_VAR, t.line, t.col);
    if (!k)
        return NULL;
    k->sym = s;
    return node_op(ps, f->op, 1, k, NULL, NULL, name->line, name->col);
}

static node *parse_call(parser *ps, const token *name, int depth)
{
    const struct ew_func *f = NULL;
    for (size_t i = 0; i < EW_N_FUNCS; i++)
        if (tok_is(name, ew_funcs[i].name))
            f = &ew_funcs[i];
    if (!f) {
        const char *names[EW_N_FUNCS];
        char word[64];
        snprintf(word, sizeof word, "%.*s", (int)(name->len < 63 ? name->len : 63), name->start);
        for (size_t i = 0; i < EW_N_FUNCS; i++)
            names[i] = ew_funcs[i].name;
        const char *near = dlh_closest(word, names, EW_N_FUNCS);
        if (near)
            ew_error_at(ps, name->line, name->col, "unknown function '%s' (did you mean '%s'?)",
                        word, near);
        else
            ew_error_at(ps, name->line, name->col,
                        "unknown function '%s' (functions: exp log sqrt rsqrt abs sign tanh "
                        "sigmoid min max pow select erf floor ceil round sin cos fmod atan2 "
                        "uniform normal)", word);
        return NULL;
    }
    if (lex(ps))        /* past '(' */
        return NULL;
    if (f->op == DLH_EW_UNIFORM || f->op == DLH_EW_NORMAL)
        return parse_key_call(ps, name, f);
    node *args[3] = { NULL, NULL, NULL };
    int n = 0;
    if (ps->tok.kind != T_RPAREN) {
        for (;;) {
            node *a = parse_expr(ps, depth + 1);
            if (!a)
                return NULL;
            if (n < 3)
                args[n] = a;
            n++;
            if (ps->tok.kind == T_COMMA) {
                if (lex(ps))
                    return NULL;
                continue;
            }
            if (ps->tok.kind == T_RPAREN)
                break;
            char d[64];
            ew_error_at(ps, ps->tok.line, ps->tok.col, "expected ',' or ')' in call to '%s', got %s",
                        f->name, tok_desc(&ps->tok, d, sizeof d));
            return NULL;
        }
    }
    if (n != f->n_args) {
        ew_error_at(ps, name->line, name->col, "'%s' takes %d argument%s, got %d", f->name,
                    f->n_args, f->n_args == 1 ? "" : "s", n);
        return NULL;
    }
    if (lex(ps))        /* past ')' */
        return NULL;
    return node_op(ps, f->op, n, args[0], args[1], args[2], name->line, name->col);
}

static node *parse_name(parser *ps, const token *name)
{
    int s = sym_find(ps, name->start, name->len);
    if (s < 0 && tok_is(name, "idx"))
        return node_op(ps, DLH_EW_INDEX, 0, NULL, NULL, NULL, name->line, name->col);
    if (s < 0) {
        char word[64];
        snprintf(word, sizeof word, "%.*s", (int)(name->len < 63 ? name->len : 63), name->start);
        const char **names = malloc((ps->n_syms + 1) * sizeof *names);
        if (!names) {
            ew_nomem(ps);
            return NULL;
        }
        for (size_t i = 0; i < ps->n_syms; i++)
            names[i] = ps->syms[i].name;
        const char *near = dlh_closest(word, names, ps->n_syms);
        if (near)
            ew_error_at(ps, name->line, name->col, "unknown name '%s' (did you mean '%s'?)", word,
                        near);
        else
            ew_error_at(ps, name->line, name->col, "unknown name '%s'", word);
        free(names);
        return NULL;
    }
    sym *y = &ps->syms[s];
    if (y->kind == S_KEY) {
        ew_error_at(ps, name->line, name->col,
                    "'%s' is a random key: use it as uniform(%s) or normal(%s)", y->name,
                    y->name, y->name);
        return NULL;
    }
    if (y->kind == S_ARRAY && y->access == DLH_EW_OUT && !y->written) {
        ew_error_at(ps, name->line, name->col,
                    "'%s' is declared 'out' and is read before it is written", y->name);
        return NULL;
    }
    if (y->kind == S_LOCAL)
        y->last_stmt = (int)ps->n_stmts;
    node *n = node_new(ps, N_VAR, name->line, name->col);
    if (n)
        n->sym = s;
    return n;
}

static node *parse_primary(parser *ps, int depth)
{
    token t = ps->tok;
    char d[64];
    switch (t.kind) {
    case T_NUM: {
        node *n = node_new(ps, N_NUM, t.line, t.col);
        if (!n)
            return NULL;
        n->num = t.num;
        return lex(ps) ? NULL : n;
    }
    case T_NAME:
        if (lex(ps))
            return NULL;
        if (ps->tok.kind == T_LPAREN)
            return parse_call(ps, &t, depth);
        return parse_name(ps, &t);
    case T_LPAREN: {
        if (lex(ps))
            return NULL;
        node *n = parse_expr(ps, depth + 1);
        if (!n)
            return NULL;
        if (ps->tok.kind != T_RPAREN) {
            error_after_prev(ps, "')'");
            return NULL;
        }
        return lex(ps) ? NULL : n;
    }
    default:
        ew_error_at(ps, t.line, t.col, "expected an expression, got %s", tok_desc(&t, d, sizeof d));
        return NULL;
    }
}

static node *parse_unary(parser *ps, int depth)
{
    if (depth > EW_MAX_DEPTH) {
        ew_error_at(ps, ps->tok.line, ps->tok.col, "expression is nested too deeply (over %d levels)",
                    EW_MAX_DEPTH);
        return NULL;
    }
    if (ps->tok.kind == T_MINUS) {
        token t = ps->tok;
        if (lex(ps))
            return NULL;
        node *a = parse_unary(ps, depth + 1);
        return a ? node_op(ps, DLH_EW_NEG, 1, a, NULL, NULL, t.line, t.col) : NULL;
    }
    return parse_primary(ps, depth);
}

static node *parse_term(parser *ps, int depth)
{
    node *l = parse_unary(ps, depth);
    while (l && (ps->tok.kind == T_STAR || ps->tok.kind == T_SLASH)) {
        token t = ps->tok;
        if (lex(ps))
            return NULL;
        node *r = parse_unary(ps, depth);
        if (!r)
            return NULL;
        l = node_op(ps, t.kind == T_STAR ? DLH_EW_MUL : DLH_EW_DIV, 2, l, r, NULL, t.line, t.col);
    }
    return l;
}

static node *parse_sum(parser *ps, int depth)
{
    node *l = parse_term(ps, depth);
    while (l && (ps->tok.kind == T_PLUS || ps->tok.kind == T_MINUS)) {
        token t = ps->tok;
        if (lex(ps))
            return NULL;
        node *r = parse_term(ps, depth);
        if (!r)
            return NULL;
        l = node_op(ps, t.kind == T_PLUS ? DLH_EW_ADD : DLH_EW_SUB, 2, l, r, NULL, t.line, t.col);
    }
    return l;
}

static int cmp_opcode(tok_kind k)
{
    switch (k) {
    case T_LT: return DLH_EW_LT;
    case T_LE: return DLH_EW_LE;
    case T_GT: return DLH_EW_GT;
    case T_GE: return DLH_EW_GE;
    case T_EQ: return DLH_EW_EQ;
    case T_NE: return DLH_EW_NE;
    default: return -1;
    }
}

static node *parse_expr(parser *ps, int depth)
{
    if (depth > EW_MAX_DEPTH) {
        ew_error_at(ps, ps->tok.line, ps->tok.col, "expression is nested too deeply (over %d levels)",
                    EW_MAX_DEPTH);
        return NULL;
    }
    node *l = parse_sum(ps, depth);
    while (l && cmp_opcode(ps->tok.kind) >= 0) {
        token t = ps->tok;
        if (lex(ps))
            return NULL;
        node *r = parse_sum(ps, depth);
        if (!r)
            return NULL;
        l = node_op(ps, cmp_opcode(t.kind), 2, l, r, NULL, t.line, t.col);
    }
    return l;
}

static int parse_decl(parser *ps, int kw)
{
    token kwt = ps->tok;
    char d[64];
    if (lex(ps))
        return ps->rc;
    for (;;) {
        token t = ps->tok;
        if (t.kind != T_NAME || tok_keyword(&t))
            return ew_error_at(ps, t.line, t.col, "expected a name after '%.*s', got %s",
                               (int)kwt.len, kwt.start, tok_desc(&t, d, sizeof d));
        int s = sym_find(ps, t.start, t.len);
        if (s >= 0)
            return ew_error_at(ps, t.line, t.col, "'%s' is already %s at %d:%d", ps->syms[s].name,
                               ps->syms[s].kind == S_LOCAL ? "a local, assigned" : "declared",
                               ps->syms[s].line, ps->syms[s].col);
        if (kw == 4 || kw == 5) {
            int words = kw == 5 ? DLH_EW_KEY_WORDS : 1;
            if (ps->n_scalars + words > DLH_EW_MAX_SCALARS)
                return ew_error_at(ps, t.line, t.col,
                                   "too many scalars (at most %d; a key takes %d)",
                                   DLH_EW_MAX_SCALARS, DLH_EW_KEY_WORDS);
            if (sym_add(ps, &t, kw == 5 ? S_KEY : S_SCALAR, ps->n_scalars, 0))
                return ps->rc;
            ps->n_scalars += words;
        } else {
            if (ps->n_arrays >= DLH_EW_MAX_OPERANDS)
                return ew_error_at(ps, t.line, t.col, "too many array operands (at most %d)",
                                   DLH_EW_MAX_OPERANDS);
            if (sym_add(ps, &t, S_ARRAY, ps->n_arrays, kw))
                return ps->rc;
            ps->n_arrays++;
        }
        if (lex(ps))
            return ps->rc;
        if (ps->tok.kind == T_SEMI)
            return lex(ps);
        if (ps->tok.kind != T_COMMA)
            return error_after_prev(ps, "',' or ';'");
        if (lex(ps))
            return ps->rc;
    }
}

static int parse_assign(parser *ps)
{
    token t = ps->tok;
    char d[64];
    if (lex(ps))
        return ps->rc;
    if (ps->tok.kind != T_ASSIGN)
        return ew_error_at(ps, ps->tok.line, ps->tok.col, "expected '=' after '%.*s', got %s",
                           (int)t.len, t.start, tok_desc(&ps->tok, d, sizeof d));
    int s = sym_find(ps, t.start, t.len);
    if (s >= 0 && (ps->syms[s].kind == S_SCALAR || ps->syms[s].kind == S_KEY))
        return ew_error_at(ps, t.line, t.col, "cannot assign to %s '%s'",
                           ps->syms[s].kind == S_KEY ? "key" : "scalar", ps->syms[s].name);
    if (s >= 0 && ps->syms[s].kind == S_ARRAY && ps->syms[s].access == DLH_EW_IN)
        return ew_error_at(ps, t.line, t.col, "cannot assign to '%s': it is declared 'in'",
                           ps->syms[s].name);
    if (lex(ps))
        return ps->rc;
    node *rhs = parse_expr(ps, 0);
    if (!rhs)
        return ps->rc;
    if (ps->tok.kind != T_SEMI)
        return error_after_prev(ps, "';'");
    if (s < 0) {
        if (sym_add(ps, &t, S_LOCAL, 0, 0))
            return ps->rc;
        s = (int)ps->n_syms - 1;
    }
    sym *y = &ps->syms[s];
    if (y->kind == S_ARRAY) {
        y->written = 1;
    } else {
        y->last_stmt = (int)ps->n_stmts;
        y->n_assign++;
    }
    if (ps->n_stmts == ps->cap_stmts) {
        size_t cap = ps->cap_stmts ? 2 * ps->cap_stmts : 16;
        stmt *v = realloc(ps->stmts, cap * sizeof *v);
        if (!v)
            return ew_nomem(ps);
        ps->stmts = v;
        ps->cap_stmts = cap;
    }
    stmt *st = &ps->stmts[ps->n_stmts++];
    st->target = s;
    st->rhs = rhs;
    st->line = t.line;
    st->col = t.col;
    return lex(ps);
}

static int parse_program(parser *ps)
{
    char d[64];
    if (lex(ps))
        return ps->rc;
    if (ps->tok.kind == T_EOF)
        return ew_error_at(ps, 1, 1, "empty program");
    while (ps->tok.kind != T_EOF) {
        int kw = tok_keyword(&ps->tok);
        int rc;
        if (kw)
            rc = parse_decl(ps, kw);
        else if (ps->tok.kind == T_NAME)
            rc = parse_assign(ps);
        else
            rc = ew_error_at(ps, ps->tok.line, ps->tok.col,
                             "expected a declaration or an assignment, got %s",
                             tok_desc(&ps->tok, d, sizeof d));
        if (rc)
            return rc;
    }
    if (ps->n_stmts == 0)
        return ew_error_at(ps, ps->tok.line, ps->tok.col,
                           "the program has no statements (nothing is computed)");
    int writes = 0;
    for (size_t i = 0; i < ps->n_syms; i++) {
        const sym *y = &ps->syms[i];
        if (y->kind == S_ARRAY && y->access == DLH_EW_OUT && !y->written)
            return ew_error_at(ps, y->line, y->col, "'%s' is declared 'out' but never written",
                               y->name);
        writes |= y->kind == S_ARRAY && y->written;
    }
    if (!writes)
        return ew_error_at(ps, ps->stmts[0].line, ps->stmts[0].col,
                           "the program writes no 'out' or 'inout' operand");
    return 0;
}

/* ------------------------------------------------------------------ codegen */

static dlh_ew_ref ref_make(int src, int index)
{
    dlh_ew_ref r = { (uint8_t)src, 0, (uint16_t)index };
    return r;
}

/* The operands an operation node is emitted with: a*b + c and c + a*b
   become one MULADD. */
static int node_operands(const node *n, int *op, node *kids[3])
{
    if (n->op == DLH_EW_ADD) {
        for (int side = 0; side < 2; side++) {
            node *m = n->kid[side];
            if (m->kind == N_OP && m->op == DLH_EW_MUL) {
                kids[0] = m->kid[0];
                kids[1] = m->kid[1];
                kids[2] = n->kid[1 - side];
                *op = DLH_EW_MULADD;
                return 3;
            }
        }
    }
    *op = n->op;
    for (int i = 0; i < n->n_kids; i++)
        kids[i] = n->kid[i];
    return n->n_kids;
}

/* Registers needed to evaluate `n` into a fresh register; leaves need none. */
static int node_need(node *n)
{
    if (n->kind != N_OP)
        return 0;
    if (n->need >= 0)
        return n->need;
    node *kids[3];
    int op, nk = node_operands(n, &op, kids), need[3], held = 0, peak = 1;
    for (int i = 0; i < nk; i++)
        need[i] = node_need(kids[i]);
    /* Children run in falling order of need; each holds one register after. */
    for (int done = 0; done < nk; done++) {
        int best = -1;
        for (int i = 0; i < nk; i++)
            if (need[i] >= 0 && (best < 0 || need[i] > need[best]))
                best = i;
        if (held + need[best] > peak)
            peak = held + need[best];
        held += kids[best]->kind == N_OP;
        need[best] = -1;
    }
    n->need = peak;
    return peak;
}

static int reg_alloc(parser *ps)
{
    for (int r = 0; r < DLH_EW_MAX_REGS; r++) {
        if (!ps->reg_busy[r]) {
            ps->reg_busy[r] = 1;
            ps->reg_local[r] = 0;
            if (r + 1 > ps->n_regs)
                ps->n_regs = r + 1;
            return r;
        }
    }
    return ew_error_at(ps, ps->st_line, ps->st_col, "the program needs more than %d registers",
                       DLH_EW_MAX_REGS);
}

static void reg_release_temp(parser *ps, dlh_ew_ref r)
{
    if (r.src == DLH_EW_REG && !ps->reg_local[r.index])
        ps->reg_busy[r.index] = 0;
}

static int const_ref(parser *ps, float v, dlh_ew_ref *out)
{
    for (size_t i = 0; i < ps->n_consts; i++) {
        if (memcmp(&ps->consts[i], &v, sizeof v) == 0) {
            *out = ref_make(DLH_EW_CONST, (int)i);
            return 0;
        }
    }
    if (ps->n_consts >= EW_MAX_CONSTS) {
        dlh_error_set("ew: too many constants (at most %d)", EW_MAX_CONSTS);
        return ps->rc = DLH_EPARSE;
    }
    if (ps->n_consts == ps->cap_consts) {
        size_t cap = ps->cap_consts ? 2 * ps->cap_consts : 16;
        float *v2 = realloc(ps->consts, cap * sizeof *v2);
        if (!v2)
            return ew_nomem(ps);
        ps->consts = v2;
        ps->cap_consts = cap;
    }
    ps->consts[ps->n_consts] = v;
    *out = ref_make(DLH_EW_CONST, (int)ps->n_consts++);
    return 0;
}

static int emit(parser *ps, int op, dlh_ew_ref dst, const dlh_ew_ref *src, int n_src)
{
    if (ps->n_instrs == ps->cap_instrs) {
        size_t cap = ps->cap_instrs ? 2 * ps->cap_instrs : 32;
        dlh_ew_instr *v = realloc(ps->instrs, cap * sizeof *v);
        if (!v)
            return ew_nomem(ps);
        ps->instrs = v;
        ps->cap_instrs = cap;
    }
    dlh_ew_instr *in = &ps->instrs[ps->n_instrs++];
    memset(in, 0, sizeof *in);
    in->op = (uint16_t)op;
    in->dst = dst;
    if (n_src > 0)
        in->a = src[0];
    if (n_src > 1)
        in->b = src[1];
    if (n_src > 2)
        in->c = src[2];
    return 0;
}

static int leaf_ref(parser *ps, const node *n, dlh_ew_ref *out)
{
    if (n->kind == N_NUM)
        return const_ref(ps, n->num, out);
    const sym *y = &ps->syms[n->sym];
    if (y->kind == S_LOCAL && y->aliased)
        *out = y->alias_ref;
    else if (y->kind == S_ARRAY)
        *out = ref_make(DLH_EW_ARRAY, y->index);
    else if (y->kind == S_SCALAR || y->kind == S_KEY)
        *out = ref_make(DLH_EW_SCALAR, y->index);
    else
        *out = ref_make(DLH_EW_REG, y->reg);
    return 0;
}

/* Emits code for `n`; the result lands in *target when given (the
   statement's destination), else in a leaf's own place or a temporary
   (always a register when `fresh`: a new local copied from a leaf). */
static int gen(parser *ps, node *n, const dlh_ew_ref *target, int fresh, dlh_ew_ref *out)
{
    if (n->kind != N_OP) {
        dlh_ew_ref r;
        if (leaf_ref(ps, n, &r))
            return ps->rc;
        if (!target && !fresh) {
            *out = r;
            return 0;
        }
        dlh_ew_ref dst;
        if (target) {
            dst = *target;
        } else {
            int reg = reg_alloc(ps);
            if (reg < 0)
                return ps->rc;
            dst = ref_make(DLH_EW_REG, reg);
        }
        *out = dst;
        return emit(ps, DLH_EW_MOV, dst, &r, 1);
    }
    node *kids[3];
    int op, nk = node_operands(n, &op, kids);
    dlh_ew_ref refs[3];
    int need[3], order[3];
    for (int i = 0; i < nk; i++)
        need[i] = node_need(kids[i]);
    for (int i = 0; i < nk; i++) {
        int best = -1;
        for (int j = 0; j < nk; j++)
            if (need[j] >= 0 && (best < 0 || need[j] > need[best]))
                best = j;
        order[i] = best;
        need[best] = -1;
    }
    for (int i = 0; i < nk; i++)
        if (gen(ps, kids[order[i]], NULL, 0, &refs[order[i]]))
            return ps->rc;
    /* Operands are dead once read, so the result may reuse their registers:
       every instruction reads element i before it writes element i. */
    for (int i = 0; i < nk; i++)
        reg_release_temp(ps, refs[i]);
    dlh_ew_ref dst;
    if (target) {
        dst = *target;
    } else {
        int reg = reg_alloc(ps);
        if (reg < 0)
            return ps->rc;
        dst = ref_make(DLH_EW_REG, reg);
    }
    *out = dst;
    return emit(ps, op, dst, refs, nk);
}

static int codegen(parser *ps)
{
    for (size_t k = 0; k < ps->n_stmts; k++) {
        stmt *st = &ps->stmts[k];
        sym *y = &ps->syms[st->target];
        dlh_ew_ref dst, got;
        ps->st_line = st->line;
        ps->st_col = st->col;
        if (y->kind == S_ARRAY) {
            dst = ref_make(DLH_EW_ARRAY, y->index);
            if (gen(ps, st->rhs, &dst, 0, &got))
                return ps->rc;
        } else if (y->reg >= 0) {
            dst = ref_make(DLH_EW_REG, y->reg);
            if (gen(ps, st->rhs, &dst, 0, &got))
                return ps->rc;
        } else {
            /* A local assigned once from something nothing writes (an 'in'
               array, a scalar, a number) names it directly: no copy. */
            const sym *src = st->rhs->kind == N_VAR ? &ps->syms[st->rhs->sym] : NULL;
            if (y->n_assign == 1 && st->rhs->kind != N_OP &&
                (!src || src->kind == S_SCALAR ||
                 (src->kind == S_ARRAY && src->access == DLH_EW_IN) ||
                 (src->kind == S_LOCAL && src->aliased))) {
                if (leaf_ref(ps, st->rhs, &y->alias_ref))
                    return ps->rc;
                y->aliased = 1;
            } else {
                /* A new local takes the register its value is computed into. */
                if (st->rhs->kind == N_OP) {
                    if (gen(ps, st->rhs, NULL, 0, &got))
                        return ps->rc;
                } else if (gen(ps, st->rhs, NULL, 1, &got)) {
                    return ps->rc;
                }
                y->reg = got.index;
                ps->reg_local[got.index] = 1;
            }
        }
        /* Locals named for the last time free their registers. */
        for (size_t i = 0; i < ps->n_syms; i++) {
            sym *l = &ps->syms[i];
            if (l->kind == S_LOCAL && l->reg >= 0 && l->last_stmt == (int)k) {
                ps->reg_busy[l->reg] = 0;
                ps->reg_local[l->reg] = 0;
                l->reg = -1;
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ program */

void dlh_ew_program_free(dlh_ew_program *prog)
{
    if (!prog)
        return;
    if (prog->array_names)
        for (uint32_t i = 0; i < prog->n_arrays; i++)
            free((char *)prog->array_names[i]);
    if (prog->scalar_names)
        for (uint32_t i = 0; i < prog->n_scalars; i++)
            free((char *)prog->scalar_names[i]);
    free((void *)prog->array_names);
    free((void *)prog->scalar_names);
    free((void *)prog->instrs);
    free((void *)prog->consts);
    free((void *)prog->access);
    free((void *)prog->source);
    free(prog);
}

static int build_program(parser *ps, dlh_ew_program **out)
{
    dlh_ew_program *prog = calloc(1, sizeof *prog);
    if (!prog)
        return ew_nomem(ps);
    prog->struct_size = sizeof *prog;
    prog->n_arrays = (uint32_t)ps->n_arrays;
    prog->n_scalars = (uint32_t)ps->n_scalars;
    prog->n_regs = (uint32_t)ps->n_regs;
    prog->n_consts = (uint32_t)ps->n_consts;
    prog->n_instrs = (uint32_t)ps->n_instrs;
    /* calloc(n+1): a program may have no scalars or constants, and the
       pointers stay non-NULL for backends that do not check counts. */
    char **anames = calloc((size_t)ps->n_arrays + 1, sizeof *anames);
    char **snames = calloc((size_t)ps->n_scalars + 1, sizeof *snames);
    uint8_t *access = calloc((size_t)ps->n_arrays + 1, 1);
    float *consts = calloc(ps->n_consts + 1, sizeof *consts);
    size_t srclen = strlen(ps->src);
    char *source = malloc(srclen + 1);
    prog->array_names = (const char *const *)anames;
    prog->scalar_names = (const char *const *)snames;
    prog->access = access;
    prog->consts = consts;
    prog->source = source;
    prog->instrs = ps->instrs;
    ps->instrs = NULL;
    if (!anames || !snames || !access || !consts || !source) {
        dlh_ew_program_free(prog);
        return ew_nomem(ps);
    }
    memcpy(source, ps->src, srclen + 1);
    if (ps->n_consts)
        memcpy(consts, ps->consts, ps->n_consts * sizeof *consts);
    for (size_t i = 0; i < ps->n_syms; i++) {
        sym *y = &ps->syms[i];
        if (y->kind == S_ARRAY) {
            anames[y->index] = y->name;
            access[y->index] = (uint8_t)y->access;
            y->name = NULL;
        } else if (y->kind == S_SCALAR) {
            snames[y->index] = y->name;
            y->name = NULL;
        } else if (y->kind == S_KEY) {
            /* the key's words: k[0] .. k[5] */
            size_t len = strlen(y->name) + 8;
            for (int w = 0; w < DLH_EW_KEY_WORDS; w++) {
                char *nm = malloc(len);
                if (!nm) {
                    dlh_ew_program_free(prog);
                    return ew_nomem(ps);
                }
                snprintf(nm, len, "%s[%d]", y->name, w);
                snames[y->index + w] = nm;
            }
        }
    }
    *out = prog;
    return 0;
}

static void parser_free(parser *ps)
{
    for (size_t i = 0; i < ps->n_syms; i++)
        free(ps->syms[i].name);
    free(ps->syms);
    free(ps->stmts);
    for (size_t i = 0; i < ps->n_nodes; i++)
        free(ps->nodes[i]);
    free(ps->nodes);
    free(ps->instrs);
    free(ps->consts);
}

int dlh_ew_parse(const char *source, dlh_ew_program **out)
{
    if (!out) {
        dlh_error_set("ew: no place for the program (out is NULL)");
        return DLH_EINVAL;
    }
    *out = NULL;
    if (!source) {
        dlh_error_set("ew: no source text (NULL)");
        return DLH_EINVAL;
    }
    parser ps;
    memset(&ps, 0, sizeof ps);
    ps.src = source;
    ps.p = source;
    ps.line_start = source;
    ps.line = 1;
    int rc = parse_program(&ps);
    if (!rc)
        rc = codegen(&ps);
    if (!rc)
        rc = build_program(&ps, out);
    parser_free(&ps);
    return rc;
}
