/* lbfgs: torch.optim.LBFGS of PyTorch 1.13 (torch/optim/lbfgs.py), with its
 * _strong_wolfe and _cubic_interpolate, through the closure of ABI 1.6
 * (include/dlhost/optimizer.h): one training step is one torch
 * `optimizer.step(closure)`, up to max_iter iterations and max_eval
 * evaluations of the batch.
 *
 *   flat_grad = cat(grads); return if max|flat_grad| <= tolerance_grad
 *   repeat max_iter times:
 *     first iteration ever: d = -g, history cleared, H_diag = 1
 *     else: y = g - prev_g, s = d * t, ys = y.s; if ys > 1e-10: push (y, s,
 *           1/ys), dropping the oldest beyond history_size, H_diag = ys/y.y;
 *           d = the two-loop product of the inverse Hessian estimate and -g
 *     prev_g = g; prev_loss = loss
 *     t = min(1, 1/sum|g|) * lr on the first iteration ever, else lr
 *     stop if g.d > -tolerance_change
 *     line_search_fn "strong_wolfe": (loss, g, t) from the strong Wolfe
 *       search along d (c1 1e-4, c2 0.9, 25 evaluations, tolerance 1e-9:
 *       torch passes none of them on); p = p + t d
 *     none: p = p + t d; unless this is the last iteration, loss and g
 *       at the new p (one closure call)
 *     stop after max_iter iterations, max_eval evaluations, max|g| <=
 *     tolerance_grad, max|d t| <= tolerance_change, or
 *     |loss - prev_loss| < tolerance_change.
 *
 * The vectors live on the device: flat vectors of N floats (N = every
 * parameter's elements, in model order as torch's flat vector), updates as
 * elementwise programs, dot products as a product and a sum reduction,
 * maxima of |x| as abs and a max reduction.  The two-loop recursion never
 * leaves the device (its dot products are read by the next program as
 * broadcast operands); the host reads only the numbers that decide what
 * happens next.  The host's scalar arithmetic follows torch's types: a
 * number torch holds as a 0-dim float32 tensor (dot products, 1/ys, H_diag,
 * the step t after 1/sum|g|) is rounded to float32 at each operation it
 * takes part in, and compared in float32; one torch holds as a Python float
 * (losses, lr) stays a double; and python / tensor is torch's
 * reciprocal-then-multiply.
 *
 * State, all in the optimiser's global tensors so a checkpoint holds it and
 * --resume goes on bit for bit; torch's state_dict()['state'][0] (LBFGS
 * keeps its state on the first parameter) by the same names:
 *   optim.d [N], optim.t [], optim.old_dirs [history_size, N],
 *   optim.old_stps [history_size, N], optim.ro [history_size],
 *   optim.H_diag [], optim.prev_flat_grad [N], optim.prev_loss [],
 *   optim.n_iter [], optim.func_evals []  (counts as float32: exact to 2^24)
 * and, dlhost's own, optim.history_len (torch's len(old_dirs)) and
 * optim.history_start: torch's old_dirs[i] is optim.old_dirs[(history_start
 * + i) % history_size] for i < history_len (a ring, so that dropping the
 * oldest pair moves no memory); old_stps and ro likewise.  torch's 'al' is
 * scratch and not kept. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optimizers.h"

/* Programs, compiled once. */
enum { LB_NEG, LB_YS, LB_MUL, LB_ABS, LB_ABST, LB_LOOP1, LB_SCALE, LB_LOOP2, LB_AXPY,
       LB_N_KERNELS };

static const char *const lbfgs_src[LB_N_KERNELS] = {
    [LB_NEG] = "in g; out d; d = -g;\n",
    [LB_YS] = "in g, pg, d; out y, s; scalar t; y = g - pg; s = d*t;\n",
    [LB_MUL] = "in a, b; out p; p = a*b;\n",
    [LB_ABS] = "in a; out p; p = abs(a);\n",
    [LB_ABST] = "in a; out p; scalar t; p = abs(a*t);\n",
    /* q.add_(old_dirs[i], alpha=-al[i]) with al[i] = dot * ro[i] */
    [LB_LOOP1] = "in y, dq, ro; inout q; q = q + (-(dq*ro))*y;\n",
    [LB_SCALE] = "inout d; scalar h; d = d*h;\n",
    /* r.add_(old_stps[i], alpha=al[i] - be_i) with be_i = dot * ro[i] */
    [LB_LOOP2] = "in s, dq, db, ro; inout r; r = r + (dq*ro - db*ro)*s;\n",
    [LB_AXPY] = "in d; inout p; scalar t; p = p + t*d;\n",
};

/* Global tensors (add_global order). */
enum { G_D, G_T, G_DIRS, G_STPS, G_RO, G_HDIAG, G_PREV_G, G_PREV_LOSS, G_N_ITER,
       G_EVALS, G_HLEN, G_HSTART, G_POOL, G_WORK, G_DOTS, G_N };

/* Scalars kept between steps, read at the start and written at the end. */
enum { S_T, S_HDIAG, S_PREV_LOSS, S_N_ITER, S_EVALS, S_HLEN, S_HSTART, S_N };
static const int lbfgs_scalar_global[S_N] = { G_T, G_HDIAG, G_PREV_LOSS, G_N_ITER, G_EVALS,
                                              G_HLEN, G_HSTART };

/* Gradient vectors are values that torch clones and never changes: the
   line search holds at most five at once.  Rows of G_POOL, counted. */
#define LB_POOL 6
/* Rows of G_WORK. */
enum { W_Y, W_S, W_P, W_X, W_ROWS };

typedef struct lbfgs_state {
    int64_t max_iter, max_eval, history;
    double tol_grad, tol_change;
    int wolfe;
    int g[G_N];
    dlh_ew_kernel *k[LB_N_KERNELS];
} lbfgs_state;

/* ------------------------------------------------------------ create */

/* An integer hyper-parameter of at least lo, in torch.optim's words. */
static int lbfgs_int(const dlh_host *host, dlh_params *p, const char *key,
                     const int64_t *def, int64_t lo, int64_t *out)
{
    int rc = host->param_int(p, key, def, INT64_MIN, INT64_MAX, out);
    if (rc < 0)
        return rc;
    if (*out < lo || *out > INT32_MAX)
        return host->param_error(p, key, "Invalid %s value: %lld (expected an integer in "
                                 "[%lld, %d])", key, (long long)*out, (long long)lo,
                                 INT32_MAX);
    return 0;
}

static int lbfgs_create(const dlh_host *host, dlh_optimizer_setup *setup, void **state)
{
    lbfgs_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    if (setup->struct_size < offsetof(dlh_optimizer_setup, flags) + sizeof setup->flags) {
        host->error("lbfgs needs a host of ABI 1.6 or later (step_all and its closure)");
        return DLH_EPLUGIN;
    }
    dlh_params *p = setup->params;
    optimizers_default_lr(setup, 1.0);      /* torch.optim.LBFGS's */
    setup->flags |= DLH_OPT_SINGLE_GROUP;
    static const char *const fns[] = { "none", "strong_wolfe", NULL };
    const int64_t def_iter = 20, def_hist = 100;
    int rc;
    if ((rc = lbfgs_int(host, p, "max_iter", &def_iter, 1, &st->max_iter)) < 0)
        return rc;
    st->max_eval = st->max_iter * 5 / 4;
    if (host->param_has(p, "max_eval") &&
        (rc = lbfgs_int(host, p, "max_eval", NULL, 1, &st->max_eval)) < 0)
        return rc;
    if ((rc = optimizers_number(host, p, "tolerance_grad", 1e-7, 0.0, HUGE_VAL,
                                "tolerance_grad value", &st->tol_grad)) < 0 ||
        (rc = optimizers_number(host, p, "tolerance_change", 1e-9, 0.0, HUGE_VAL,
                                "tolerance_change value", &st->tol_change)) < 0 ||
        (rc = lbfgs_int(host, p, "history_size", &def_hist, 1, &st->history)) < 0 ||
        (rc = host->param_choice(p, "line_search_fn", fns, 0, &st->wolfe)) < 0)
        return rc;
    if (st->max_eval < 1)       /* max_iter 1: 5 // 4 is 1, never 0 */
        st->max_eval = 1;

    const int64_t numel = DLH_OPT_NUMEL, h = st->history;
    const int64_t hist[2] = { h, DLH_OPT_NUMEL }, pool[2] = { LB_POOL, DLH_OPT_NUMEL };
    const int64_t work[2] = { W_ROWS, DLH_OPT_NUMEL }, dots[1] = { h + 4 };
    static const char *const names[G_N] = {
        "d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss",
        "n_iter", "func_evals", "history_len", "history_start", "pool", "work", "dots",
    };
    for (int i = 0; i < G_N; i++) {
        int nd = 0;
        const int64_t *shape = NULL;
        switch (i) {
        case G_D: case G_PREV_G: nd = 1; shape = &numel; break;
        case G_DIRS: case G_STPS: nd = 2; shape = hist; break;
        case G_RO: nd = 1; shape = &h; break;
        case G_POOL: nd = 2; shape = pool; break;
        case G_WORK: nd = 2; shape = work; break;
        case G_DOTS: nd = 1; shape = dots; break;
        default: break;
        }
        /* H_diag is 1 until the first curvature pair */
        float v = i == G_HDIAG ? 1.0f : 0.0f;
        if ((rc = setup->add_global(setup, names[i], nd, shape, v, i < G_POOL,
                                    &st->g[i])) < 0)
            return rc;
    }
    for (int i = 0; i < LB_N_KERNELS; i++)
        if ((rc = host->ew_compile(setup->backend, lbfgs_src[i], &st->k[i])) < 0)
            return rc;
    return 0;
}

static void lbfgs_destroy(void *state)
{
    lbfgs_state *st = state;
    if (!st)
        return;
    for (int i = 0; i < LB_N_KERNELS; i++)
        optimizers_host->ew_free(st->k[i]);
    free(st);
}

/* ------------------------------------------------------------ torch's numbers */

/* A scalar of lbfgs.py: f set when torch holds it as a 0-dim float32
   tensor, clear for a Python number (kept in double). */
typedef struct lb_num {
    double v;
    int f;
} lb_num;

static lb_num num_f(float v) { return (lb_num){ v, 1 }; }
static lb_num num_d(double v) { return (lb_num){ v, 0 }; }

static lb_num num_add(lb_num a, lb_num b)
{
    return a.f || b.f ? num_f((float)a.v + (float)b.v) : num_d(a.v + b.v);
}

static lb_num num_sub(lb_num a, lb_num b)
{
    return a.f || b.f ? num_f((float)a.v - (float)b.v) : num_d(a.v - b.v);
}

static lb_num num_mul(lb_num a, lb_num b)
{
    return a.f || b.f ? num_f((float)a.v * (float)b.v) : num_d(a.v * b.v);
}

/* Python / tensor is Tensor.__rtruediv__: reciprocal, then a product. */
static lb_num num_div(lb_num a, lb_num b)
{
    if (!a.f && b.f)
        return num_f((1.0f / (float)b.v) * (float)a.v);
    return a.f || b.f ? num_f((float)a.v / (float)b.v) : num_d(a.v / b.v);
}

static lb_num num_abs(lb_num a) { return (lb_num){ fabs(a.v), a.f }; }

/* a < b, a <= b: in float32 when either is a tensor. */
static int num_lt(lb_num a, lb_num b)
{
    return a.f || b.f ? (float)a.v < (float)b.v : a.v < b.v;
}

static int num_le(lb_num a, lb_num b)
{
    return a.f || b.f ? (float)a.v <= (float)b.v : a.v <= b.v;
}

/* Python's max(a, b) and min(a, b): the first unless the second is
   strictly beyond it. */
static lb_num num_max(lb_num a, lb_num b) { return num_lt(a, b) ? b : a; }
static lb_num num_min(lb_num a, lb_num b) { return num_lt(b, a) ? b : a; }

/* _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds) of lbfgs.py. */
static lb_num lbfgs_cubic(lb_num x1, lb_num f1, lb_num g1, lb_num x2, lb_num f2, lb_num g2,
                          const lb_num *bounds)
{
    lb_num lo, hi;
    if (bounds) {
        lo = bounds[0];
        hi = bounds[1];
    } else if (num_le(x1, x2)) {
        lo = x1;
        hi = x2;
    } else {
        lo = x2;
        hi = x1;
    }
    lb_num three = num_d(3.0), two = num_d(2.0);
    lb_num d1 = num_sub(num_add(g1, g2), num_div(num_mul(three, num_sub(f1, f2)),
                                                 num_sub(x1, x2)));
    lb_num d2sq = num_sub(num_mul(d1, d1), num_mul(g1, g2));
    if (num_le(num_d(0.0), d2sq)) {
        lb_num d2 = d2sq.f ? num_f(sqrtf((float)d2sq.v)) : num_d(sqrt(d2sq.v));
        lb_num min_pos;
        if (num_le(x1, x2))
            min_pos = num_sub(x2, num_mul(num_sub(x2, x1),
                                          num_div(num_sub(num_add(g2, d2), d1),
                                                  num_add(num_sub(g2, g1),
                                                          num_mul(two, d2)))));
        else
            min_pos = num_sub(x1, num_mul(num_sub(x1, x2),
                                          num_div(num_sub(num_add(g1, d2), d1),
                                                  num_add(num_sub(g1, g2),
                                                          num_mul(two, d2)))));
        return num_min(num_max(min_pos, lo), hi);
    }
    return num_div(num_add(lo, hi), two);
}

/* ------------------------------------------------------------ vectors */

/* One step's view of the device memory. */
typedef struct lb_run {
    const lbfgs_state *st;
    const dlh_optimizer_all_ctx *ctx;
    const dlh_backend *be;
    size_t n;                       /* N */
    dlh_mem pool[LB_POOL];
    int refs[LB_POOL];
    dlh_mem d, prev_g, dirs, stps, ro, dots, work[W_ROWS];
    int64_t evals;                  /* closure calls of this step */
} lb_run;

static const dlh_mem lb_no_idx = { NULL, 0 };

static dlh_mem lb_row(dlh_mem m, size_t row, size_t n)
{
    return dlh_mem_at(m, row * n);
}

static int lb_ew(const lb_run *r, int k, dlh_ew_arg *args, const float *scalars)
{
    return optimizers_host->ew_run(r->st->k[k], r->n, args, scalars);
}

/* reduce(op) of the n floats at x into dots[slot], read back when out. */
static int lb_reduce(const lb_run *r, dlh_reduce_op op, dlh_mem x, size_t slot, float *out)
{
    const dlh_backend *be = r->be;
    dlh_mem at = dlh_mem_at(r->dots, slot);
    int rc = be->ops->reduce(be->ctx, op, 1, 1, (int)r->n, x, at, lb_no_idx);
    if (rc == 0 && out)
        rc = be->ops->read(be->ctx, at.buf, at.off * sizeof(float), out, sizeof *out);
    return rc;
}

/* Where single results go in dots: after the history's. */
#define LB_DOT(r, i) ((size_t)(r)->st->history + (size_t)(i))

/* a . b into dots[slot] (read into *out when out is set). */
static int lb_dot(const lb_run *r, dlh_mem a, dlh_mem b, size_t slot, float *out)
{
    dlh_mem p = r->work[W_P];
    dlh_ew_arg args[3] = { dlh_ew_full(a, r->n), dlh_ew_full(b, r->n), dlh_ew_full(p, r->n) };
    int rc = lb_ew(r, LB_MUL, args, NULL);
    return rc ? rc : lb_reduce(r, DLH_REDUCE_SUM, p, slot, out);
}

/* max |a t| (t = 1: max |a|), or the sum of |a| when sum is set. */
static int lb_abs(const lb_run *r, dlh_mem a, float t, int sum, float *out)
{
    dlh_mem p = r->work[W_P];
    dlh_ew_arg args[2] = { dlh_ew_full(a, r->n), dlh_ew_full(p, r->n) };
    int rc = t == 1.0f ? lb_ew(r, LB_ABS, args, NULL) : lb_ew(r, LB_ABST, args, &t);
    return rc ? rc : lb_reduce(r, sum ? DLH_REDUCE_SUM : DLH_REDUCE_MAX, p, LB_DOT(r, 0),
                               out);
}

static int lb_copy(const lb_run *r, dlh_mem dst, dlh_mem src, size_t n)
{
    return r->be->ops->copy(r->be->ctx, dst.buf, dst.off * sizeof(float), src.buf,
                            src.off * sizeof(float), n * sizeof(float));
}

/* Every parameter's tensor (grads = 1: gradient) into the flat vector dst,
   or (to_params) dst back into the parameters. */
static int lb_flat(const lb_run *r, dlh_mem flat, int grads, int to_params)
{
    const dlh_optimizer_all_ctx *c = r->ctx;
    size_t off = 0;
    for (int k = 0; k < c->n_params; k++) {
        const dlh_tensor *t = grads ? &c->grads[k] : &c->params[k];
        size_t m = (size_t)dlh_tensor_numel(t);
        int rc = to_params ? lb_copy(r, t->mem, dlh_mem_at(flat, off), m)
                           : lb_copy(r, dlh_mem_at(flat, off), t->mem, m);
        if (rc)
            return rc;
        off += m;
    }
    return 0;
}

/* _add_grad(t, d): p += t d for every parameter. */
static int lb_add_grad(const lb_run *r, lb_num t)
{
    const dlh_optimizer_all_ctx *c = r->ctx;
    float tf = (float)t.v;
    size_t off = 0;
    for (int k = 0; k < c->n_params; k++) {
        size_t m = (size_t)dlh_tensor_numel(&c->params[k]);
        dlh_ew_arg args[2] = { dlh_ew_full(dlh_mem_at(r->d, off), m),
                               dlh_ew_full(c->params[k].mem, m) };
        int rc = optimizers_host->ew_run(r->st->k[LB_AXPY], m, args, &tf);
        if (rc)
            return rc;
        off += m;
    }
    return 0;
}

/* The pool of gradient vectors: value semantics by reference counts. */
static void lb_hold(lb_run *r, int slot)
{
    if (slot >= 0)
        r->refs[slot]++;
}

static void lb_drop(lb_run *r, int slot)
{
    if (slot >= 0)
        r->refs[slot]--;
}

/* *var = slot (torch's `a = b`, or `a = b.clone()`: the same value). */
static void lb_set(lb_run *r, int *var, int slot)
{
    lb_hold(r, slot);
    lb_drop(r, *var);
    *var = slot;
}

/* closure() at the parameters' current values: *loss, and the flat
   gradient into a free pool slot held by *var (its old value dropped). */
static int lb_evaluate(lb_run *r, double *loss, int *var)
{
    lb_drop(r, *var);
    *var = -1;
    int slot = 0;
    while (slot < LB_POOL && r->refs[slot] > 0)
        slot++;
    if (slot == LB_POOL) {
        optimizers_host->error("lbfgs: internal error: no free gradient vector");
        return DLH_EINVAL;
    }
    r->evals++;
    int rc = r->ctx->closure(r->ctx->closure_ctx, loss);
    if (rc)
        return rc;
    r->refs[slot] = 1;
    *var = slot;
    return lb_flat(r, r->pool[slot], 1, 0);
}

/* _directional_evaluate(closure, x, t, d): loss and gradient at x + t d,
   then the parameters back to x (kept in work[W_X]). */
static int lb_directional(lb_run *r, lb_num t, double *loss, int *var)
{
    int rc = lb_add_grad(r, t);
    if (rc == 0)
        rc = lb_evaluate(r, loss, var);
    return rc ? rc : lb_flat(r, r->work[W_X], 0, 1);
}

/* ------------------------------------------------------------ _strong_wolfe */

/* obj_func(x, t, d) and the directional derivative: f_new, g_new and
   gtd_new = g_new . d at x + t d, one more evaluation counted. */
static int lb_probe(lb_run *r, lb_num t, lb_num *f_new, int *g_new, lb_num *gtd_new,
                    int64_t *ls_evals)
{
    double fn;
    float v;
    int rc = lb_directional(r, t, &fn, g_new);
    if (rc == 0)
        rc = lb_dot(r, r->pool[*g_new], r->d, LB_DOT(r, 1), &v);
    if (rc == 0) {
        *f_new = num_d(fn);
        *gtd_new = num_f(v);
        (*ls_evals)++;
    }
    return rc;
}

/* f_new > f + c1 t gtd: not enough decrease (Armijo). */
static int lb_armijo_fails(lb_num f, lb_num t, lb_num gtd, lb_num f_new)
{
    return num_lt(num_add(f, num_mul(num_mul(num_d(1e-4), t), gtd)), f_new);
}

/* _strong_wolfe(obj_func, x, t, d, f, g, gtd) with torch's defaults c1 1e-4,
   c2 0.9, tolerance_change 1e-9, max_ls 25: on return *f, *g (a pool slot
   held by the caller), *t and *ls_evals as torch returns them. */
static int lbfgs_wolfe(lb_run *r, lb_num *t_io, double *f_io, int *g_io, lb_num gtd,
                       int64_t *ls_evals)
{
    const lb_num c2 = num_d(0.9), tol = num_d(1e-9);
    const int max_ls = 25;
    lb_num t = *t_io, f = num_d(*f_io);
    float dn;
    int rc = lb_abs(r, r->d, 1.0f, 0, &dn);
    if (rc)
        return rc;
    lb_num d_norm = num_f(dn);
    int g = -1, g_new = -1, g_prev = -1, bg[2] = { -1, -1 };
    lb_set(r, &g, *g_io);
    lb_num f_new, gtd_new;
    *ls_evals = 0;
    if ((rc = lb_probe(r, t, &f_new, &g_new, &gtd_new, ls_evals)))
        goto out;

    lb_num t_prev = num_d(0.0), f_prev = f, gtd_prev = gtd;
    lb_set(r, &g_prev, g);
    int done = 0, ls_iter = 0;
    lb_num br[2] = { { 0, 0 }, { 0, 0 } }, bf[2] = { { 0, 0 }, { 0, 0 } };
    lb_num bgtd[2] = { { 0, 0 }, { 0, 0 } };
    int n_br = 0;
    while (ls_iter < max_ls) {
        if (lb_armijo_fails(f, t, gtd, f_new) || (ls_iter > 1 && num_le(f_prev, f_new))) {
            br[0] = t_prev; br[1] = t; bf[0] = f_prev; bf[1] = f_new;
            bgtd[0] = gtd_prev; bgtd[1] = gtd_new;
            lb_set(r, &bg[0], g_prev);
            lb_set(r, &bg[1], g_new);
            n_br = 2;
            break;
        }
        if (num_le(num_abs(gtd_new), num_mul(num_d(-c2.v), gtd))) {
            br[0] = t; bf[0] = f_new;
            lb_set(r, &bg[0], g_new);
            n_br = 1;
            done = 1;
            break;
        }
        if (num_le(num_d(0.0), gtd_new)) {
            br[0] = t_prev; br[1] = t; bf[0] = f_prev; bf[1] = f_new;
            bgtd[0] = gtd_prev; bgtd[1] = gtd_new;
            lb_set(r, &bg[0], g_prev);
            lb_set(r, &bg[1], g_new);
            n_br = 2;
            break;
        }
        /* interpolate */
        lb_num bounds[2] = { num_add(t, num_mul(num_d(0.01), num_sub(t, t_prev))),
                             num_mul(t, num_d(10.0)) };
        lb_num tmp = t;
        t = lbfgs_cubic(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds);
        t_prev = tmp;
        f_prev = f_new;
        lb_set(r, &g_prev, g_new);
        gtd_prev = gtd_new;
        if ((rc = lb_probe(r, t, &f_new, &g_new, &gtd_new, ls_evals)))
            goto out;
        ls_iter++;
    }
    if (ls_iter == max_ls) {
        br[0] = num_d(0.0); br[1] = t; bf[0] = f; bf[1] = f_new;
        lb_set(r, &bg[0], g);
        lb_set(r, &bg[1], g_new);
        n_br = 2;
    }
    lb_drop(r, g_prev);
    g_prev = -1;

    /* zoom */
    int insuf = 0;
    int low = 0, high = 1;
    if (n_br == 2 && !(bf[0].v <= bf[1].v)) {
        low = 1;
        high = 0;
    }
    while (!done && ls_iter < max_ls) {
        if (num_lt(num_mul(num_abs(num_sub(br[1], br[0])), d_norm), tol))
            break;
        t = lbfgs_cubic(br[0], bf[0], bgtd[0], br[1], bf[1], bgtd[1], NULL);
        lb_num bmax = num_max(br[0], br[1]), bmin = num_min(br[0], br[1]);
        lb_num eps = num_mul(num_d(0.1), num_sub(bmax, bmin));
        if (num_lt(num_min(num_sub(bmax, t), num_sub(t, bmin)), eps)) {
            if (insuf || num_le(bmax, t) || num_le(t, bmin)) {
                if (num_lt(num_abs(num_sub(t, bmax)), num_abs(num_sub(t, bmin))))
                    t = num_sub(bmax, eps);
                else
                    t = num_add(bmin, eps);
                insuf = 0;
            } else {
                insuf = 1;
            }
        } else {
            insuf = 0;
        }
        if ((rc = lb_probe(r, t, &f_new, &g_new, &gtd_new, ls_evals)))
            goto out;
        ls_iter++;
        if (lb_armijo_fails(f, t, gtd, f_new) || num_le(bf[low], f_new)) {
            br[high] = t; bf[high] = f_new; bgtd[high] = gtd_new;
            lb_set(r, &bg[high], g_new);
            if (bf[0].v <= bf[1].v) {
                low = 0;
                high = 1;
            } else {
                low = 1;
                high = 0;
            }
        } else {
            if (num_le(num_abs(gtd_new), num_mul(num_d(-c2.v), gtd))) {
                done = 1;
            } else if (num_le(num_d(0.0), num_mul(gtd_new, num_sub(br[high], br[low])))) {
                br[high] = br[low]; bf[high] = bf[low]; bgtd[high] = bgtd[low];
                lb_set(r, &bg[high], bg[low]);
            }
            br[low] = t; bf[low] = f_new; bgtd[low] = gtd_new;
            lb_set(r, &bg[low], g_new);
        }
    }
    *t_io = br[low];
    *f_io = bf[low].v;
    lb_set(r, g_io, bg[low]);
out:
    lb_drop(r, g);
    lb_drop(r, g_new);
    lb_drop(r, g_prev);
    lb_drop(r, bg[0]);
    lb_drop(r, bg[1]);
    return rc;
}

/* ------------------------------------------------------------ step */

/* The L-BFGS direction into d: d = -H g by the two-loop recursion over the
   history, all on the device. */
static int lbfgs_direction(lb_run *r, int g, int64_t len, int64_t start, float h_diag)
{
    const size_t n = r->n, hs = (size_t)r->st->history;
    dlh_ew_arg neg[2] = { dlh_ew_full(r->pool[g], n), dlh_ew_full(r->d, n) };
    int rc = lb_ew(r, LB_NEG, neg, NULL);
    for (int64_t i = len - 1; rc == 0 && i >= 0; i--) {
        size_t slot = (size_t)(start + i) % hs;
        if ((rc = lb_dot(r, lb_row(r->stps, slot, n), r->d, (size_t)i, NULL)))
            break;
        dlh_ew_arg a[4] = { dlh_ew_full(lb_row(r->dirs, slot, n), n),
                            { dlh_mem_at(r->dots, (size_t)i), 1, 1 },
                            { dlh_mem_at(r->ro, slot), 1, 1 }, dlh_ew_full(r->d, n) };
        rc = lb_ew(r, LB_LOOP1, a, NULL);
    }
    dlh_ew_arg sc[1] = { dlh_ew_full(r->d, n) };
    if (rc == 0)
        rc = lb_ew(r, LB_SCALE, sc, &h_diag);
    for (int64_t i = 0; rc == 0 && i < len; i++) {
        size_t slot = (size_t)(start + i) % hs;
        if ((rc = lb_dot(r, lb_row(r->dirs, slot, n), r->d, LB_DOT(r, 0), NULL)))
            break;
        dlh_ew_arg a[5] = { dlh_ew_full(lb_row(r->stps, slot, n), n),
                            { dlh_mem_at(r->dots, (size_t)i), 1, 1 },
                            { dlh_mem_at(r->dots, LB_DOT(r, 0)), 1, 1 },
                            { dlh_mem_at(r->ro, slot), 1, 1 }, dlh_ew_full(r->d, n) };
        rc = lb_ew(r, LB_LOOP2, a, NULL);
    }
    return rc;
}

/* With a new gradient g: the pair (y, s) = (g - prev_g, d t) joins the
   history when y.s > 1e-10 (the oldest leaves beyond history_size), and
   H_diag becomes y.s / y.y. */
static int lbfgs_update_memory(lb_run *r, int g, float t, float *sc)
{
    const size_t n = r->n, hs = (size_t)r->st->history;
    dlh_mem y = r->work[W_Y], s = r->work[W_S];
    dlh_ew_arg a[5] = { dlh_ew_full(r->pool[g], n), dlh_ew_full(r->prev_g, n),
                        dlh_ew_full(r->d, n), dlh_ew_full(y, n), dlh_ew_full(s, n) };
    float ys, yy;
    int rc;
    if ((rc = lb_ew(r, LB_YS, a, &t)) || (rc = lb_dot(r, y, s, LB_DOT(r, 1), &ys)))
        return rc;
    if (!((float)ys > (float)1e-10))
        return 0;
    if ((rc = lb_dot(r, y, y, LB_DOT(r, 2), &yy)))
        return rc;
    int64_t len = (int64_t)sc[S_HLEN], start = (int64_t)sc[S_HSTART];
    if (len == (int64_t)hs) {           /* old_dirs.pop(0) */
        start = (start + 1) % (int64_t)hs;
        len--;
    }
    size_t slot = (size_t)(start + len) % hs;
    float ro = 1.0f / ys;
    if ((rc = lb_copy(r, lb_row(r->dirs, slot, n), y, n)) ||
        (rc = lb_copy(r, lb_row(r->stps, slot, n), s, n)) ||
        (rc = r->be->ops->write(r->be->ctx, r->ro.buf, (r->ro.off + slot) * sizeof(float),
                                &ro, sizeof ro)))
        return rc;
    sc[S_HLEN] = (float)(len + 1);
    sc[S_HSTART] = (float)start;
    sc[S_HDIAG] = ys / yy;
    return 0;
}

static int lbfgs_scalars(const lb_run *r, float *sc, int write)
{
    const dlh_tensor *gl = r->ctx->globals;
    for (int i = 0; i < S_N; i++) {
        const dlh_tensor *t = &gl[r->st->g[lbfgs_scalar_global[i]]];
        int rc = write ? optimizers_host->tensor_write(r->be, t, &sc[i])
                       : optimizers_host->tensor_read(r->be, t, &sc[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static int lbfgs_iterate(lb_run *r, float *sc, int *fg);

static int lbfgs_step_all(void *state, const dlh_optimizer_all_ctx *ctx)
{
    const lbfgs_state *st = state;
    if (ctx->numel < 1 || ctx->numel > INT32_MAX) {
        optimizers_host->error("lbfgs: %lld parameters; the flat vector takes 1 to 2^31 - 1",
                               (long long)ctx->numel);
        return DLH_EINVAL;
    }
    lb_run r;
    memset(&r, 0, sizeof r);
    r.st = st;
    r.ctx = ctx;
    r.be = ctx->backend;
    r.n = (size_t)ctx->numel;
    const dlh_tensor *gl = ctx->globals;
    for (int i = 0; i < LB_POOL; i++)
        r.pool[i] = lb_row(gl[st->g[G_POOL]].mem, (size_t)i, r.n);
    for (int i = 0; i < W_ROWS; i++)
        r.work[i] = lb_row(gl[st->g[G_WORK]].mem, (size_t)i, r.n);
    r.d = gl[st->g[G_D]].mem;
    r.prev_g = gl[st->g[G_PREV_G]].mem;
    r.dirs = gl[st->g[G_DIRS]].mem;
    r.stps = gl[st->g[G_STPS]].mem;
    r.ro = gl[st->g[G_RO]].mem;
    r.dots = gl[st->g[G_DOTS]].mem;

    float sc[S_N];
    int fg = 0, rc;
    if ((rc = lbfgs_scalars(&r, sc, 0)))
        return rc;
    /* orig_loss = closure(): the core's evaluation, its gradient in slot 0 */
    sc[S_EVALS] += 1.0f;
    r.refs[0] = 1;
    if ((rc = lb_flat(&r, r.pool[0], 1, 0)) == 0)
        rc = lbfgs_iterate(&r, sc, &fg);
    if (rc == 0)
        rc = lbfgs_scalars(&r, sc, 1);
    return rc;
}

/* The body of LBFGS.step after the first evaluation; fg holds flat_grad. */
static int lbfgs_iterate(lb_run *r, float *sc, int *fg)
{
    const lbfgs_state *st = r->st;
    const double lr = r->ctx->lr;
    double loss = r->ctx->loss;
    int64_t current_evals = 1;
    float v;
    int rc;
    if ((rc = lb_abs(r, r->pool[*fg], 1.0f, 0, &v)))
        return rc;
    if (v <= (float)st->tol_grad)
        return 0;
    lb_num t = num_f(sc[S_T]);
    for (int64_t n_iter = 1; n_iter <= st->max_iter; n_iter++) {
        sc[S_N_ITER] += 1.0f;
        int first = sc[S_N_ITER] == 1.0f;
        if (first) {
            dlh_ew_arg a[2] = { dlh_ew_full(r->pool[*fg], r->n), dlh_ew_full(r->d, r->n) };
            if ((rc = lb_ew(r, LB_NEG, a, NULL)))
                return rc;
            sc[S_HLEN] = sc[S_HSTART] = 0.0f;
            sc[S_HDIAG] = 1.0f;
        } else if ((rc = lbfgs_update_memory(r, *fg, (float)t.v, sc)) ||
                   (rc = lbfgs_direction(r, *fg, (int64_t)sc[S_HLEN],
                                         (int64_t)sc[S_HSTART], sc[S_HDIAG]))) {
            return rc;
        }
        if ((rc = lb_copy(r, r->prev_g, r->pool[*fg], r->n)))
            return rc;
        double prev_loss = loss;
        sc[S_PREV_LOSS] = (float)loss;
        if (first) {
            if ((rc = lb_abs(r, r->pool[*fg], 1.0f, 1, &v)))
                return rc;
            t = num_mul(num_min(num_d(1.0), num_div(num_d(1.0), num_f(v))), num_d(lr));
        } else {
            t = num_d(lr);
        }
        sc[S_T] = (float)t.v;
        if ((rc = lb_dot(r, r->pool[*fg], r->d, LB_DOT(r, 1), &v)))
            return rc;
        lb_num gtd = num_f(v);
        if ((float)gtd.v > (float)-st->tol_change)
            break;
        int64_t ls_evals = 0;
        int opt_cond = 0;
        if (st->wolfe) {
            if ((rc = lb_flat(r, r->work[W_X], 0, 0)) ||
                (rc = lbfgs_wolfe(r, &t, &loss, fg, gtd, &ls_evals)) ||
                (rc = lb_add_grad(r, t)) || (rc = lb_abs(r, r->pool[*fg], 1.0f, 0, &v)))
                return rc;
            sc[S_T] = (float)t.v;
            opt_cond = v <= (float)st->tol_grad;
        } else {
            if ((rc = lb_add_grad(r, t)))
                return rc;
            if (n_iter != st->max_iter) {
                if ((rc = lb_evaluate(r, &loss, fg)) ||
                    (rc = lb_abs(r, r->pool[*fg], 1.0f, 0, &v)))
                    return rc;
                opt_cond = v <= (float)st->tol_grad;
                ls_evals = 1;
            }
        }
        current_evals += ls_evals;
        sc[S_EVALS] += (float)ls_evals;
        if (n_iter == st->max_iter || current_evals >= st->max_eval || opt_cond)
            break;
        if ((rc = lb_abs(r, r->d, (float)t.v, 0, &v)))
            return rc;
        if (v <= (float)st->tol_change || fabs(loss - prev_loss) < st->tol_change)
            break;
    }
    return 0;
}

const dlh_optimizer_ops lbfgs_ops = {
    .struct_size = sizeof(dlh_optimizer_ops),
    .create = lbfgs_create,
    .destroy = lbfgs_destroy,
    .step_all = lbfgs_step_all,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc lbfgs_params[] = {
    { "max_iter", DLH_PARAM_INT, "20", 1, INT32_MAX, NULL, "iterations per step (one step: one torch optimizer.step(closure))" },
    { "max_eval", DLH_PARAM_INT, "", 1, INT32_MAX, NULL, "evaluations of the batch per step (unset: max_iter * 5 / 4, rounded down)" },
    { "tolerance_grad", DLH_PARAM_FLOAT, "1e-07", 0.0, DLH_PARAM_NO_MAX, NULL, "stop when max |gradient| <= this" },
    { "tolerance_change", DLH_PARAM_FLOAT, "1e-09", 0.0, DLH_PARAM_NO_MAX, NULL, "stop when the loss or max |step| changes less than this" },
    { "history_size", DLH_PARAM_INT, "100", 1, INT32_MAX, NULL, "curvature pairs kept (memory: 2 * history_size * the parameter count floats)" },
    { "line_search_fn", DLH_PARAM_CHOICE, "none", 0, 0, "none|strong_wolfe", "none: steps of lr; strong_wolfe: torch's strong Wolfe line search" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
