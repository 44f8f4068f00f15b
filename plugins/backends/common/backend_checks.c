/* Argument checks shared by the backends (see backend_checks.h). */
#include "backend_checks.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- memory ---- */

int bchk_mem(const bchk_backend *bk, const char *prim, const char *arg, dlh_mem m,
             size_t elems, size_t elsize)
{
    if (elems == 0)
        return 0;
    if (m.buf == NULL) {
        bk->host->error("%s %s: %s: no buffer (NULL) for %zu elements", bk->name, prim,
                        arg, elems);
        return DLH_EINVAL;
    }
    size_t cap = bk->buffer_bytes(m.buf) / elsize;
    if (m.off > cap || elems > cap - m.off) {
        bk->host->error("%s %s: %s: elements [%zu, %zu + %zu) lie outside its buffer "
                        "of %zu elements", bk->name, prim, arg, m.off, m.off, elems, cap);
        return DLH_EINVAL;
    }
    return 0;
}

int bchk_span(const bchk_backend *bk, const char *prim, const char *arg,
              const dlh_buffer *buf, size_t off, size_t bytes)
{
    if (buf == NULL) {
        bk->host->error("%s %s: %s buffer is NULL", bk->name, prim, arg);
        return DLH_EINVAL;
    }
    size_t cap = bk->buffer_bytes(buf);
    if (off > cap || bytes > cap - off) {
        bk->host->error("%s %s: bytes [%zu, %zu + %zu) lie outside the %s buffer of %zu "
                        "bytes", bk->name, prim, off, off, bytes, arg, cap);
        return DLH_EINVAL;
    }
    return 0;
}

/* ---- gemm ---- */

/* Checks sizes and leading dimensions of one problem; *ea, *eb, *ec get the
   elements each matrix spans. */
static int gemm_dims(const bchk_backend *bk, const char *prim, int trans_a, int trans_b,
                     int m, int n, int k, int lda, int ldb, int ldc, size_t *ea,
                     size_t *eb, size_t *ec)
{
    if (m < 0 || n < 0 || k < 0) {
        bk->host->error("%s %s: sizes must be >= 0 (m=%d, n=%d, k=%d)", bk->name, prim,
                        m, n, k);
        return DLH_EINVAL;
    }
    /* As stored: A is m x k (k x m transposed), B is k x n (n x k). */
    int ar = trans_a ? k : m, ac = trans_a ? m : k;
    int br = trans_b ? n : k, bc = trans_b ? k : n;
    if (lda < (ac > 1 ? ac : 1)) {
        bk->host->error("%s %s: lda=%d is less than the %d columns of A as stored (%s)",
                        bk->name, prim, lda, ac,
                        trans_a ? "transposed" : "not transposed");
        return DLH_EINVAL;
    }
    if (ldb < (bc > 1 ? bc : 1)) {
        bk->host->error("%s %s: ldb=%d is less than the %d columns of B as stored (%s)",
                        bk->name, prim, ldb, bc,
                        trans_b ? "transposed" : "not transposed");
        return DLH_EINVAL;
    }
    if (ldc < (n > 1 ? n : 1)) {
        bk->host->error("%s %s: ldc=%d is less than the %d columns of C", bk->name, prim,
                        ldc, n);
        return DLH_EINVAL;
    }
    *ea = ar && ac ? (size_t)(ar - 1) * (size_t)lda + (size_t)ac : 0;
    *eb = br && bc ? (size_t)(br - 1) * (size_t)ldb + (size_t)bc : 0;
    *ec = m && n ? (size_t)(m - 1) * (size_t)ldc + (size_t)n : 0;
    return 0;
}

/* C always; A and B only when k > 0 (otherwise they are not read). */
static int gemm_mems(const bchk_backend *bk, const char *prim, int k, dlh_mem a, size_t ea,
                     dlh_mem b, size_t eb, dlh_mem c, size_t ec)
{
    int rc = bchk_mem(bk, prim, "C", c, ec, sizeof(float));
    if (rc == 0 && k > 0)
        rc = bchk_mem(bk, prim, "A", a, ea, sizeof(float));
    if (rc == 0 && k > 0)
        rc = bchk_mem(bk, prim, "B", b, eb, sizeof(float));
    return rc;
}

int bchk_gemm(const bchk_backend *bk, int trans_a, int trans_b, int m, int n, int k,
              dlh_mem a, int lda, dlh_mem b, int ldb, dlh_mem c, int ldc)
{
    size_t ea, eb, ec;
    int rc = gemm_dims(bk, "gemm", trans_a, trans_b, m, n, k, lda, ldb, ldc, &ea, &eb,
                       &ec);
    return rc != 0 ? rc : gemm_mems(bk, "gemm", k, a, ea, b, eb, c, ec);
}

/* Elements spanned by `batch` matrices of `each` elements, `stride` apart;
   0 on overflow (with *ok cleared). */
static size_t batch_span(size_t each, int64_t stride, int batch, int *ok)
{
    if (each == 0 || batch == 0)
        return 0;
    size_t s = (size_t)stride, last = (size_t)(batch - 1);
    if (last != 0 && s > (SIZE_MAX - each) / last) {
        *ok = 0;
        return 0;
    }
    return last * s + each;
}

int bchk_gemm_c_disjoint(int m, int n, int ldc, int64_t stride_c, int batch, size_t c_elems)
{
    if (batch <= 1 || (size_t)stride_c >= c_elems)
        return 1;
    return m >= 1 && stride_c >= n &&
           (uint64_t)(batch - 1) * (uint64_t)stride_c + (uint64_t)n <= (uint64_t)ldc;
}

int bchk_gemm_batched(const bchk_backend *bk, int trans_a, int trans_b, int m, int n,
                      int k, dlh_mem a, int lda, int64_t stride_a, dlh_mem b, int ldb,
                      int64_t stride_b, dlh_mem c, int ldc, int64_t stride_c, int batch,
                      size_t *c_elems)
{
    size_t ea, eb, ec;
    int rc = gemm_dims(bk, "gemm_batched", trans_a, trans_b, m, n, k, lda, ldb, ldc, &ea,
                       &eb, &ec);
    if (rc != 0)
        return rc;
    if (batch < 0 || stride_a < 0 || stride_b < 0 || stride_c < 0) {
        bk->host->error("%s gemm_batched: batch and strides must be >= 0 (batch=%d, "
                        "stride_a=%lld, stride_b=%lld, stride_c=%lld)", bk->name, batch,
                        (long long)stride_a, (long long)stride_b, (long long)stride_c);
        return DLH_EINVAL;
    }
    int fits = 1;
    size_t sa = batch_span(ea, stride_a, batch, &fits);
    size_t sb = batch_span(eb, stride_b, batch, &fits);
    size_t sc = batch_span(ec, stride_c, batch, &fits);
    if (!fits) {
        bk->host->error("%s gemm_batched: %d matrices at these strides overflow the "
                        "address space", bk->name, batch);
        return DLH_EINVAL;
    }
    *c_elems = ec;
    return gemm_mems(bk, "gemm_batched", k, a, sa, b, sb, c, sc);
}

/* ---- elementwise programs ---- */

const unsigned char bchk_ew_n_src[DLH_EW_OPCODE_COUNT] = {
    [DLH_EW_MOV] = 1, [DLH_EW_ADD] = 2, [DLH_EW_SUB] = 2, [DLH_EW_MUL] = 2, [DLH_EW_DIV] = 2,
    [DLH_EW_NEG] = 1, [DLH_EW_LT] = 2, [DLH_EW_LE] = 2, [DLH_EW_GT] = 2, [DLH_EW_GE] = 2,
    [DLH_EW_EQ] = 2, [DLH_EW_NE] = 2, [DLH_EW_EXP] = 1, [DLH_EW_LOG] = 1, [DLH_EW_SQRT] = 1,
    [DLH_EW_RSQRT] = 1, [DLH_EW_ABS] = 1, [DLH_EW_SIGN] = 1, [DLH_EW_TANH] = 1,
    [DLH_EW_SIGMOID] = 1, [DLH_EW_MIN] = 2, [DLH_EW_MAX] = 2, [DLH_EW_POW] = 2,
    [DLH_EW_SELECT] = 3, [DLH_EW_MULADD] = 3,
    [DLH_EW_ERF] = 1, [DLH_EW_FLOOR] = 1, [DLH_EW_CEIL] = 1, [DLH_EW_ROUND] = 1,
    [DLH_EW_SIN] = 1, [DLH_EW_COS] = 1, [DLH_EW_FMOD] = 2, [DLH_EW_ATAN2] = 2,
    [DLH_EW_INDEX] = 0, [DLH_EW_UNIFORM] = 1, [DLH_EW_NORMAL] = 1,
};

static int ew_bad_instr(const bchk_backend *bk, size_t i, const char *what)
{
    bk->host->error("%s ew: instruction %zu of the program: %s", bk->name, i, what);
    return DLH_EINVAL;
}

/* One instruction's operands; reg_set: the registers written so far. */
static int ew_operands(const bchk_backend *bk, const dlh_ew_program *prog, size_t i,
                       const unsigned char *reg_set)
{
    const dlh_ew_instr *in = &prog->instrs[i];
    const dlh_ew_ref src[3] = { in->a, in->b, in->c };
    /* A random draw reads the DLH_EW_KEY_WORDS scalars of its key. */
    if ((in->op == DLH_EW_UNIFORM || in->op == DLH_EW_NORMAL) &&
        (in->a.src != DLH_EW_SCALAR ||
         (uint32_t)in->a.index + DLH_EW_KEY_WORDS > prog->n_scalars))
        return ew_bad_instr(bk, i, "a random draw whose key is not scalars in range");
    for (int j = 0; j < bchk_ew_n_src[in->op]; j++) {
        const dlh_ew_ref r = src[j];
        switch (r.src) {
        case DLH_EW_ARRAY:
            if (r.index >= prog->n_arrays)
                return ew_bad_instr(bk, i, "array operand out of range");
            break;
        case DLH_EW_SCALAR:
            if (r.index >= prog->n_scalars)
                return ew_bad_instr(bk, i, "scalar operand out of range");
            break;
        case DLH_EW_CONST:
            if (r.index >= prog->n_consts)
                return ew_bad_instr(bk, i, "constant out of range");
            break;
        case DLH_EW_REG:
            if (r.index >= prog->n_regs || !reg_set[r.index])
                return ew_bad_instr(bk, i, "register read before it is written");
            break;
        default:
            return ew_bad_instr(bk, i, "missing operand");
        }
    }
    return 0;
}

int bchk_ew_program(const bchk_backend *bk, const dlh_ew_program *prog)
{
    if (!prog || prog->struct_size < sizeof(dlh_ew_program) || prog->n_instrs == 0 ||
        prog->n_arrays > DLH_EW_MAX_OPERANDS || prog->n_scalars > DLH_EW_MAX_SCALARS ||
        prog->n_regs > DLH_EW_MAX_REGS || prog->n_consts > 65535 || !prog->instrs ||
        (prog->n_consts && !prog->consts) || (prog->n_arrays && !prog->access)) {
        bk->host->error("%s ew: malformed program (counts out of range or missing tables)",
                        bk->name);
        return DLH_EINVAL;
    }
    unsigned char reg_set[DLH_EW_MAX_REGS] = { 0 };
    for (size_t i = 0; i < prog->n_instrs; i++) {
        const dlh_ew_instr *in = &prog->instrs[i];
        if (in->op >= DLH_EW_OPCODE_COUNT)
            return ew_bad_instr(bk, i, "unknown opcode");
        int rc = ew_operands(bk, prog, i, reg_set);
        if (rc != 0)
            return rc;
        if (in->dst.src == DLH_EW_REG && in->dst.index < prog->n_regs)
            reg_set[in->dst.index] = 1;
        else if (in->dst.src != DLH_EW_ARRAY || in->dst.index >= prog->n_arrays ||
                 !(prog->access[in->dst.index] & DLH_EW_OUT))
            return ew_bad_instr(bk, i, "destination is not a register or a written array");
    }
    return 0;
}

int bchk_ew_operand(const bchk_backend *bk, uint32_t j, size_t n, const dlh_ew_arg *arg,
                    int written)
{
    if (arg->len < 1 || arg->stride < 1 || (written && (arg->len != n || arg->stride != 1))) {
        bk->host->error("%s ew: operand %u has length %zu and stride %zu for n=%zu",
                        bk->name, j, arg->len, arg->stride, n);
        return DLH_EINVAL;
    }
    /* Element i reads (i / s) % L: the first min(L, ceil(n / s)) floats. */
    size_t reach = (n - 1) / arg->stride + 1;
    char what[32];
    snprintf(what, sizeof what, "operand %u", j);
    return bchk_mem(bk, "ew", what, arg->mem, reach < arg->len ? reach : arg->len,
                    sizeof(float));
}

/* ---- reductions ---- */

/* rows and cols >= 0, and x (rows * cols floats) inside its buffer. */
static int matrix_check(const bchk_backend *bk, const char *prim, int rows, int cols,
                        dlh_mem x)
{
    if (rows < 0 || cols < 0) {
        bk->host->error("%s %s: sizes must be >= 0 (rows=%d, cols=%d)", bk->name, prim,
                        rows, cols);
        return DLH_EINVAL;
    }
    return bchk_mem(bk, prim, "x", x, (size_t)rows * (size_t)cols, sizeof(float));
}

int bchk_reduce(const bchk_backend *bk, dlh_reduce_op op, int axis, int rows, int cols,
                dlh_mem x, dlh_mem out, dlh_mem idx, size_t *nout, size_t *len,
                int *want_idx)
{
    if (op != DLH_REDUCE_SUM && op != DLH_REDUCE_MAX && op != DLH_REDUCE_SUMSQ) {
        bk->host->error("%s reduce: unknown op %d (expected sum 0, max 1, sumsq 2)",
                        bk->name, (int)op);
        return DLH_EINVAL;
    }
    if (axis != 0 && axis != 1) {
        bk->host->error("%s reduce: axis %d (expected 0: per column, 1: per row)",
                        bk->name, axis);
        return DLH_EINVAL;
    }
    int rc = matrix_check(bk, "reduce", rows, cols, x);
    if (rc != 0)
        return rc;
    size_t nr = (size_t)rows, nc = (size_t)cols;
    *nout = axis == 1 ? nr : nc;
    *len = axis == 1 ? nc : nr;
    *want_idx = op == DLH_REDUCE_MAX && idx.buf != NULL;
    rc = bchk_mem(bk, "reduce", "out", out, *nout, sizeof(float));
    if (rc == 0 && *want_idx)
        rc = bchk_mem(bk, "reduce", "idx", idx, *nout, sizeof(int32_t));
    if (rc != 0 || *nout == 0)
        return rc;
    if (*len == 0 && op == DLH_REDUCE_MAX) {
        bk->host->error("%s reduce: max over an empty axis (rows=%d, cols=%d, axis %d)",
                        bk->name, rows, cols, axis);
        return DLH_EINVAL;
    }
    return 0;
}

int bchk_softmax(const bchk_backend *bk, int rows, int cols, dlh_mem x, dlh_mem y)
{
    int rc = matrix_check(bk, "softmax", rows, cols, x);
    if (rc == 0)
        rc = bchk_mem(bk, "softmax", "y", y, (size_t)rows * (size_t)cols, sizeof(float));
    return rc;
}

/* ---- images ---- */

static int size_mul(size_t *acc, int64_t v)
{
    size_t r;
    if (v < 0 || __builtin_mul_overflow(*acc, (size_t)v, &r))
        return 0;
    *acc = r;
    return 1;
}

/* How window_check takes oh and ow: exactly what the window gives
   (WIN_EXACT), that or PyTorch's ceil_mode size (WIN_POOL, ABI 1.6: one
   more output when the last window still starts inside the input or the
   left padding), or any size >= 1 with no fit of the window asked
   (WIN_ANY: im2col and col2im since ABI 1.6). */
enum { WIN_EXACT, WIN_POOL, WIN_ANY };

static int window_check(const bchk_backend *bk, const char *prim, const dlh_window2d *g,
                        int n, bchk_image_sizes *s, int mode)
{
    const char *be = bk->name;
    if (g == NULL) {
        bk->host->error("%s %s: no window geometry (NULL)", be, prim);
        return DLH_EINVAL;
    }
    if (g->struct_size < sizeof(dlh_window2d)) {
        bk->host->error("%s %s: dlh_window2d.struct_size is %u, expected at least %zu "
                        "(set it to sizeof(dlh_window2d))", be, prim, g->struct_size,
                        sizeof(dlh_window2d));
        return DLH_EINVAL;
    }
    if (n < 0 || g->c < 1 || g->h < 1 || g->w < 1 || g->kh < 1 || g->kw < 1 ||
        g->sh < 1 || g->sw < 1 || g->ph < 0 || g->pw < 0 || g->dh < 1 || g->dw < 1) {
        bk->host->error("%s %s: bad window: n=%d c=%d h=%d w=%d kernel %dx%d stride "
                        "%dx%d padding %dx%d dilation %dx%d (expected n >= 0, padding "
                        ">= 0, the others >= 1)", be, prim, n, g->c, g->h, g->w, g->kh,
                        g->kw, g->sh, g->sw, g->ph, g->pw, g->dh, g->dw);
        return DLH_EINVAL;
    }
    int64_t eh = (int64_t)g->dh * (g->kh - 1) + 1, ew = (int64_t)g->dw * (g->kw - 1) + 1;
    int64_t ph = (int64_t)g->h + 2 * (int64_t)g->ph, pw = (int64_t)g->w + 2 * (int64_t)g->pw;
    if (mode != WIN_ANY && (eh > ph || ew > pw)) {
        bk->host->error("%s %s: the dilated %lldx%lld window is larger than the padded "
                        "%lldx%lld input", be, prim, (long long)eh, (long long)ew,
                        (long long)ph, (long long)pw);
        return DLH_EINVAL;
    }
    int64_t oh = (ph - eh) / g->sh + 1, ow = (pw - ew) / g->sw + 1;
    if (mode == WIN_POOL) {
        int64_t ch = dlh_pool2d_ceil_size(g->h, g->ph, eh, g->sh);
        int64_t cw = dlh_pool2d_ceil_size(g->w, g->pw, ew, g->sw);
        if (g->oh == ch && g->oh != oh)
            oh = ch;
        if (g->ow == cw && g->ow != ow)
            ow = cw;
    }
    if (mode != WIN_ANY && (g->oh != oh || g->ow != ow)) {
        bk->host->error("%s %s: output size %dx%d does not match the window (expected "
                        "%lldx%lld = (in + 2 pad - dilation (kernel-1) - 1)/stride + 1)",
                        be, prim, g->oh, g->ow, (long long)oh, (long long)ow);
        return DLH_EINVAL;
    }
    if (g->oh < 1 || g->ow < 1) {
        bk->host->error("%s %s: output size %dx%d (expected at least 1x1)", be, prim,
                        g->oh, g->ow);
        return DLH_EINVAL;
    }
    size_t plane = 1, oplane = 1, img = 1, out, col;
    int fits = size_mul(&plane, g->h) && size_mul(&plane, g->w) &&
               size_mul(&oplane, g->oh) && size_mul(&oplane, g->ow) &&
               size_mul(&img, n) && size_mul(&img, g->c);
    out = img;
    fits = fits && size_mul(&out, (int64_t)oplane);
    col = out;
    fits = fits && size_mul(&col, g->kh) && size_mul(&col, g->kw) &&
           size_mul(&img, (int64_t)plane);
    /* Kernels index a plane with int32 (the cpu's 2x2 max pool, every
       OpenCL kernel), and some a window's taps too (bk->max_taps). */
    if (!fits || plane > INT32_MAX ||
        (bk->max_taps > 0 && (int64_t)g->kh * g->kw > bk->max_taps)) {
        bk->host->error("%s %s: sizes overflow (n=%d c=%d h=%d w=%d)", be, prim, n, g->c,
                        g->h, g->w);
        return DLH_EINVAL;
    }
    s->plane = plane;
    s->oplane = oplane;
    s->img = img;
    s->out = out;
    s->col = col;
    return 0;
}

int bchk_window(const bchk_backend *bk, const char *prim, const dlh_window2d *g, int n,
                bchk_image_sizes *s)
{
    return window_check(bk, prim, g, n, s, WIN_EXACT);
}

int bchk_im2col(const bchk_backend *bk, const dlh_window2d *g, int n, dlh_mem img,
                dlh_mem col, bchk_image_sizes *s)
{
    int rc = window_check(bk, "im2col", g, n, s, WIN_ANY);
    if (rc == 0)
        rc = bchk_mem(bk, "im2col", "img", img, s->img, sizeof(float));
    if (rc == 0)
        rc = bchk_mem(bk, "im2col", "col", col, s->col, sizeof(float));
    return rc;
}

int bchk_col2im(const bchk_backend *bk, const dlh_window2d *g, int n, dlh_mem col,
                dlh_mem img, bchk_image_sizes *s)
{
    int rc = window_check(bk, "col2im", g, n, s, WIN_ANY);
    if (rc == 0)
        rc = bchk_mem(bk, "col2im", "col", col, s->col, sizeof(float));
    if (rc == 0)
        rc = bchk_mem(bk, "col2im", "img", img, s->img, sizeof(float));
    return rc;
}

static int pool_op_check(const bchk_backend *bk, const char *prim, dlh_pool_op op)
{
    if (op != DLH_POOL_MAX && op != DLH_POOL_AVG && op != DLH_POOL_AVG_PAD) {
        bk->host->error("%s %s: unknown op %d (expected max 0, avg 1, avg_pad 2)", bk->name, prim,
                        (int)op);
        return DLH_EINVAL;
    }
    return 0;
}

int bchk_pool2d(const bchk_backend *bk, dlh_pool_op op, const dlh_window2d *g, int n,
                dlh_mem x, dlh_mem y, dlh_mem idx, bchk_image_sizes *s, int *want_idx)
{
    int rc = pool_op_check(bk, "pool2d", op);
    if (rc == 0)
        rc = window_check(bk, "pool2d", g, n, s, WIN_POOL);
    /* The indices are only needed by a later backward: NULL skips them. */
    *want_idx = op == DLH_POOL_MAX && idx.buf != NULL;
    if (rc == 0)
        rc = bchk_mem(bk, "pool2d", "x", x, s->img, sizeof(float));
    if (rc == 0)
        rc = bchk_mem(bk, "pool2d", "y", y, s->out, sizeof(float));
    if (rc == 0 && *want_idx)
        rc = bchk_mem(bk, "pool2d", "idx", idx, s->out, sizeof(int32_t));
    return rc;
}

int bchk_pool2d_backward(const bchk_backend *bk, dlh_pool_op op, const dlh_window2d *g,
                         int n, dlh_mem dy, dlh_mem idx, dlh_mem dx, bchk_image_sizes *s)
{
    const char *prim = "pool2d_backward";
    int rc = pool_op_check(bk, prim, op);
    if (rc == 0)
        rc = window_check(bk, prim, g, n, s, WIN_POOL);
    if (rc == 0)
        rc = bchk_mem(bk, prim, "dy", dy, s->out, sizeof(float));
    if (rc == 0 && op == DLH_POOL_MAX)
        rc = bchk_mem(bk, prim, "idx", idx, s->out, sizeof(int32_t));
    if (rc == 0)
        rc = bchk_mem(bk, prim, "dx", dx, s->img, sizeof(float));
    return rc;
}

/* ---- gather / scatter-add ---- */

int bchk_index_args(const bchk_backend *bk, const char *prim, int n, int cols,
                    dlh_mem src, dlh_mem idx, dlh_mem dst, int src_indexed)
{
    if (n < 0 || cols < 0) {
        bk->host->error("%s %s: sizes must be >= 0 (n=%d, cols=%d)", bk->name, prim, n,
                        cols);
        return DLH_EINVAL;
    }
    size_t nn = (size_t)n, nc = (size_t)cols;
    int rc = bchk_mem(bk, prim, "idx", idx, nn, sizeof(int32_t));
    if (rc == 0)
        rc = bchk_mem(bk, prim, src_indexed ? "dst" : "src", src_indexed ? dst : src,
                      nn * nc, sizeof(float));
    return rc;
}

int bchk_index_rows(const bchk_backend *bk, const char *prim, const int32_t *ix, int n,
                    int cols, dlh_mem src, dlh_mem dst, int src_indexed)
{
    if (n <= 0)
        return 0;
    int32_t mx = 0;
    for (size_t i = 0; i < (size_t)n; i++) {
        if (ix[i] < 0) {
            bk->host->error("%s %s: idx[%zu] = %d is negative", bk->name, prim, i,
                            (int)ix[i]);
            return DLH_EINVAL;
        }
        if (ix[i] > mx)
            mx = ix[i];
    }
    const char *indexed = src_indexed ? "src" : "dst";
    dlh_mem m = src_indexed ? src : dst;
    size_t nc = (size_t)cols;
    if (nc == 0 || m.buf == NULL)
        return bchk_mem(bk, prim, indexed, m, nc, sizeof(float));
    size_t cap = bk->buffer_bytes(m.buf) / sizeof(float);
    if (m.off > cap || ((size_t)mx + 1) * nc > cap - m.off) {
        bk->host->error("%s %s: index %d addresses a row of %s past the end of its "
                        "buffer (%zu rows of %d fit)", bk->name, prim, (int)mx, indexed,
                        m.off > cap ? 0 : (cap - m.off) / nc, cols);
        return DLH_EINVAL;
    }
    return 0;
}

int bchk_index_device(const bchk_backend *bk, const char *prim, int n, int cols,
                      dlh_mem src, dlh_mem idx, dlh_mem dst, int src_indexed,
                      int (*read)(void *ctx, dlh_buffer *src, size_t src_off, void *dst,
                                  size_t bytes), void *ctx)
{
    int rc = bchk_index_args(bk, prim, n, cols, src, idx, dst, src_indexed);
    if (rc != 0 || n == 0)
        return rc;
    size_t nn = (size_t)n;
    int32_t *ix = malloc(nn * sizeof *ix);
    if (ix == NULL) {
        bk->host->error("%s %s: out of memory reading %zu indices", bk->name, prim, nn);
        return DLH_ENOMEM;
    }
    rc = read(ctx, idx.buf, idx.off * sizeof(int32_t), ix, nn * sizeof *ix);
    if (rc == 0)
        rc = bchk_index_rows(bk, prim, ix, n, cols, src, dst, src_indexed);
    free(ix);
    return rc;
}

/* ---- random fill ---- */

int bchk_rand(const bchk_backend *bk, dlh_rand_dist dist, dlh_mem dst, size_t n)
{
    if (dist != DLH_RAND_UNIFORM && dist != DLH_RAND_NORMAL && dist != DLH_RAND_BERNOULLI) {
        bk->host->error("%s rand: unknown distribution %d (expected uniform 0, normal 1, "
                        "bernoulli 2)", bk->name, (int)dist);
        return DLH_EINVAL;
    }
    return bchk_mem(bk, "rand", "dst", dst, n, sizeof(float));
}
