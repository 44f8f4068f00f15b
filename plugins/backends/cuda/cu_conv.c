/* The conv2d primitives (ABI 1.9, backend.h) through cuDNN's legacy API
 * (cu_dnn.c loads it).
 *
 * prepare makes a filter descriptor [out_c, c/groups, kh, kw], a
 * convolution descriptor (pads, strides, dilation, cross-correlation in
 * float, the group count), a bias descriptor [1, out_c, 1, 1] and the
 * tensor descriptors of x and y for the plan's batch; it picks the three
 * algorithms once by cuDNN's heuristics (cudnnGet*Algorithm_v7: no trial
 * runs, so prepare queues no work and needs no buffers), and grows the
 * instance's one workspace (shared by every plan: they run one after
 * another on the one stream) from the pool to what the three need.  A run
 * with another batch (the last, smaller batch of an epoch) uses one of
 * CU_CONV_SHAPES descriptor pairs made at prepare, set to that batch at its
 * first use, with algorithms picked again within that workspace; so the
 * runs allocate nothing.
 *
 * Math: CUDNN_FMA_MATH, not the default, which lets cuDNN use TF32 tensor
 * cores for float on Ampere and later (10 bits of mantissa in the
 * products): the primitives must equal im2col + gemm up to float32
 * rounding, and cuBLAS runs in float32 here (its default math).  Among the
 * algorithms that fit, a deterministic one is taken first (the same run
 * gives the same weights, as on the cpu); cuDNN's nondeterministic ones
 * (atomics in backward data and filter ALGO_0) only when no other fits.
 *
 * cuDNN pads symmetrically only: a desc whose oh/ow is past what the
 * window gives (padding = "same" with an even kernel pads the bottom/right
 * one more) is DLH_EUNSUPPORTED, and the layer uses im2col + gemm.  So is
 * a shape cuDNN reports it does not support, and no cuDNN at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu_dnn.h"

/* Batch sizes a plan keeps descriptors for: its own and three others. */
#define CU_CONV_SHAPES 4
/* The most workspace one algorithm may ask for (bytes): the pool keeps
   it until destroy, and the algorithms that want more (FFT) seldom win on
   the small images this is for. */
#define CU_CONV_WS_MAX ((size_t)256 << 20)

typedef struct conv_shape {
    int n;                              /* 0: not set yet */
    void *x, *y;                        /* [n, c, h, w], [n, out_c, oh, ow] */
    int fwd, bwd_data, bwd_filter;      /* the algorithms */
    unsigned long used;                 /* the run count at its last use */
} conv_shape;

typedef struct cu_conv_plan {
    dlh_conv2d_desc d;
    void *filter, *conv, *bias;
    conv_shape s[CU_CONV_SHAPES];       /* s[0] is the plan's batch, d.n */
    unsigned long runs;
} cu_conv_plan;

static const char *const dirs[3] = { "forward", "backward data", "backward filter" };
static const char *const dirs_paren[3] = { "(forward)", "(backward data)",
                                          "(backward filter)" };

/* The first fitting algorithm of cuDNN's ranked list: deterministic, float
   (no tensor-core math), at most `limit` bytes of workspace; else the first
   that fits but is not deterministic.  -1 when none fits. */
static int pick(const cu_dnn_perf *p, int count, size_t limit)
{
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < count; i++)
            if (p[i].status == 0 && p[i].memory <= limit && p[i].math_type != 1 &&
                p[i].math_type != 2 && (pass || p[i].determinism == CU_DNN_DETERMINISTIC))
                return p[i].algo;
    return -1;
}

/* A status cuDNN gives for what it does not take (3000 to 3999). */
static int unsupported(int s)
{
    return s / 1000 == 3;
}

/* Picks s's three algorithms within `limit` bytes of workspace each and
   sets *ws_need to the most they need. */
static int pick_algos(cu_dnn *dn, cu_conv_plan *p, conv_shape *s, size_t limit,
                      size_t *ws_need)
{
    cu_dnn_perf perf[CU_DNN_ALGO_MAX];
    int *algo[3] = { &s->fwd, &s->bwd_data, &s->bwd_filter };
    *ws_need = 0;
    for (int k = 0; k < 3; k++) {
        int got = 0, st;
        memset(perf, 0, sizeof perf);
        if (k == 0)
            st = dn->fwd_algos(dn->handle, s->x, p->filter, p->conv, s->y, CU_DNN_ALGO_MAX,
                               &got, perf);
        else if (k == 1)
            st = dn->bwd_data_algos(dn->handle, p->filter, s->y, p->conv, s->x,
                                    CU_DNN_ALGO_MAX, &got, perf);
        else
            st = dn->bwd_filter_algos(dn->handle, s->x, s->y, p->conv, p->filter,
                                      CU_DNN_ALGO_MAX, &got, perf);
        if (st != 0)
            return unsupported(st) ? DLH_EUNSUPPORTED
                                   : cu_dnn_fail(dn, "cudnnGetConvolution*Algorithm_v7", st,
                                                 dirs_paren[k]);
        if ((*algo[k] = pick(perf, got < CU_DNN_ALGO_MAX ? got : CU_DNN_ALGO_MAX, limit)) < 0) {
            cu_host->log(DLH_LOG_DEBUG, "cuda: cuDNN has no %s algorithm for this "
                         "convolution within %zu bytes of workspace", dirs[k], limit);
            return DLH_EUNSUPPORTED;
        }
        size_t b = 0;
        if (k == 0)
            st = dn->fwd_ws(dn->handle, s->x, p->filter, p->conv, s->y, s->fwd, &b);
        else if (k == 1)
            st = dn->bwd_data_ws(dn->handle, p->filter, s->y, p->conv, s->x, s->bwd_data, &b);
        else
            st = dn->bwd_filter_ws(dn->handle, s->x, s->y, p->conv, p->filter,
                                   s->bwd_filter, &b);
        if (st != 0)
            return cu_dnn_fail(dn, "cudnnGetConvolution*WorkspaceSize", st, dirs_paren[k]);
        if (b > limit) {
            cu_host->log(DLH_LOG_DEBUG, "cuda: cuDNN's %s algorithm %d wants %zu bytes of "
                         "workspace, more than %zu", dirs[k], *algo[k], b, limit);
            return DLH_EUNSUPPORTED;
        }
        if (b > *ws_need)
            *ws_need = b;
    }
    return 0;
}

/* Sets s's descriptors to a batch of n. */
static int shape_set(cu_dnn *dn, const cu_conv_plan *p, conv_shape *s, int n)
{
    const dlh_window2d *g = &p->d.g;
    int st = dn->tensor_set(s->x, CU_DNN_TENSOR_NCHW, CU_DNN_DATA_FLOAT, n, g->c, g->h, g->w);
    if (st == 0)
        st = dn->tensor_set(s->y, CU_DNN_TENSOR_NCHW, CU_DNN_DATA_FLOAT, n, p->d.out_c, g->oh,
                            g->ow);
    if (st != 0) {
        s->n = 0;
        return unsupported(st) ? DLH_EUNSUPPORTED
                               : cu_dnn_fail(dn, "cudnnSetTensor4dDescriptor", st, "");
    }
    s->n = n;
    return 0;
}

/* The descriptors of a batch of n: a kept pair, else the least recently
   used other pair set to n, its algorithms picked within the workspace. */
static int shape_for(cu_dnn *dn, cu_conv_plan *p, int n, conv_shape **out)
{
    conv_shape *s = NULL;
    p->runs++;
    for (int i = 0; i < CU_CONV_SHAPES && s == NULL; i++)
        if (p->s[i].n == n)
            s = &p->s[i];
    if (s == NULL) {
        s = &p->s[1];
        for (int i = 2; i < CU_CONV_SHAPES; i++)
            if (p->s[i].used < s->used)
                s = &p->s[i];
        size_t need;
        int rc = shape_set(dn, p, s, n);
        if (rc == 0)
            rc = pick_algos(dn, p, s, dn->ws_bytes, &need);
        if (rc != 0) {
            s->n = 0;
            if (rc == DLH_EUNSUPPORTED)
                cu_host->error("cuda conv2d: cuDNN takes no batch of %d within the "
                               "workspace (%zu bytes)", n, dn->ws_bytes);
            return rc == DLH_EUNSUPPORTED ? DLH_EDEVICE : rc;
        }
    }
    s->used = p->runs;
    *out = s;
    return 0;
}

static int plan_check(const dlh_conv2d_desc *d)
{
    const dlh_window2d *g = &d->g;
    if (d->struct_size < sizeof *d || g->struct_size < sizeof *g) {
        cu_host->error("cuda conv2d_prepare: desc struct_size %u (window %u), expected %zu "
                       "(%zu)", d->struct_size, g->struct_size, sizeof *d, sizeof *g);
        return DLH_EINVAL;
    }
    if (d->n < 1 || d->out_c < 1 || d->groups < 1 || g->c % d->groups != 0 ||
        d->out_c % d->groups != 0 || (d->has_bias != 0 && d->has_bias != 1)) {
        cu_host->error("cuda conv2d_prepare: n %d, out_c %d, groups %d, has_bias %d with %d "
                       "input channels (n, out_c, groups >= 1, groups dividing both channel "
                       "counts, has_bias 0 or 1)", d->n, d->out_c, d->groups, d->has_bias,
                       g->c);
        return DLH_EINVAL;
    }
    /* The window's own output size; bchk_window checks the rest. */
    dlh_window2d own = *g;
    int64_t eh = (int64_t)g->h + 2 * (int64_t)g->ph - (int64_t)g->dh * (g->kh - 1) - 1;
    int64_t ew = (int64_t)g->w + 2 * (int64_t)g->pw - (int64_t)g->dw * (g->kw - 1) - 1;
    own.oh = g->sh >= 1 && eh >= 0 ? (int32_t)(eh / g->sh + 1) : g->oh;
    own.ow = g->sw >= 1 && ew >= 0 ? (int32_t)(ew / g->sw + 1) : g->ow;
    bchk_image_sizes sz;
    int rc = bchk_window(&cu_checks, "conv2d_prepare", &own, d->n, &sz);
    if (rc != 0)
        return rc;
    if (own.oh != g->oh || own.ow != g->ow) {
        cu_host->log(DLH_LOG_DEBUG, "cuda: conv2d %dx%d over %dx%d gives %dx%d, asked %dx%d: "
                     "padding on one side only, which cuDNN does not take (im2col + gemm)",
                     g->kh, g->kw, g->h, g->w, own.oh, own.ow, g->oh, g->ow);
        return DLH_EUNSUPPORTED;
    }
    int64_t wsize = (int64_t)d->out_c * (g->c / d->groups) * g->kh * g->kw;
    if ((int64_t)d->n * d->out_c * g->oh * g->ow > INT32_MAX || wsize > INT32_MAX ||
        sz.img > INT32_MAX) {
        cu_host->log(DLH_LOG_DEBUG, "cuda: conv2d tensors of more than 2^31 elements: "
                     "im2col + gemm");
        return DLH_EUNSUPPORTED;
    }
    return 0;
}

void cu_conv2d_release(void *ctx, void *plan)
{
    cu_ctx *c = ctx;
    cu_conv_plan *p = plan;
    if (p == NULL)
        return;
    cu_dnn *dn = c->dnn;
    if (dn != NULL) {
        for (int i = 0; i < CU_CONV_SHAPES; i++) {
            if (p->s[i].x != NULL)
                dn->tensor_destroy(p->s[i].x);
            if (p->s[i].y != NULL)
                dn->tensor_destroy(p->s[i].y);
        }
        if (p->bias != NULL)
            dn->tensor_destroy(p->bias);
        if (p->filter != NULL)
            dn->filter_destroy(p->filter);
        if (p->conv != NULL)
            dn->conv_destroy(p->conv);
    }
    free(p);
}

static int plan_make(cu_ctx *c, cu_dnn *dn, cu_conv_plan *p)
{
    const dlh_conv2d_desc *d = &p->d;
    const dlh_window2d *g = &d->g;
    const char *call = "cudnnCreate*Descriptor";
    int st = dn->filter_create(&p->filter);
    if (st == 0)
        st = dn->conv_create(&p->conv);
    if (st == 0)
        st = dn->tensor_create(&p->bias);
    for (int i = 0; i < CU_CONV_SHAPES && st == 0; i++)
        if ((st = dn->tensor_create(&p->s[i].x)) == 0)
            st = dn->tensor_create(&p->s[i].y);
    if (st == 0) {
        call = "cudnnSetFilter4dDescriptor";
        st = dn->filter_set(p->filter, CU_DNN_DATA_FLOAT, CU_DNN_TENSOR_NCHW, d->out_c,
                            g->c / d->groups, g->kh, g->kw);
    }
    if (st == 0) {
        call = "cudnnSetConvolution2dDescriptor";
        st = dn->conv_set(p->conv, g->ph, g->pw, g->sh, g->sw, g->dh, g->dw,
                          CU_DNN_CROSS_CORRELATION, CU_DNN_DATA_FLOAT);
    }
    if (st == 0) {
        call = "cudnnSetConvolutionGroupCount";
        st = dn->conv_groups(p->conv, d->groups);
    }
    if (st == 0) {
        call = "cudnnSetConvolutionMathType";
        st = dn->conv_math(p->conv, CU_DNN_FMA_MATH);
    }
    if (st == 0) {
        call = "cudnnSetTensor4dDescriptor";
        st = dn->tensor_set(p->bias, CU_DNN_TENSOR_NCHW, CU_DNN_DATA_FLOAT, 1, d->out_c, 1, 1);
    }
    if (st != 0) {
        if (unsupported(st)) {
            cu_host->log(DLH_LOG_DEBUG, "cuda: %s: cuDNN does not take this convolution "
                         "(status %d): im2col + gemm", call, st);
            return DLH_EUNSUPPORTED;
        }
        return cu_dnn_fail(dn, call, st, "");
    }
    int rc = shape_set(dn, p, &p->s[0], d->n);
    size_t need = 0;
    if (rc == 0)
        rc = pick_algos(dn, p, &p->s[0], CU_CONV_WS_MAX, &need);
    if (rc == 0 && need > dn->ws_bytes) {
        /* The new block first: should it fail, the other plans keep the
           workspace their algorithms were picked for.  Queued work on the
           old block runs before any later use of it (one stream). */
        dlh_buffer *ws = NULL;
        if ((rc = cu_alloc(c, need, &ws)) == 0) {
            cu_free(c, dn->ws);
            dn->ws = ws;
            dn->ws_bytes = need;
        }
    }
    return rc;
}

int cu_conv2d_prepare(void *ctx, const dlh_conv2d_desc *desc, void **plan)
{
    cu_ctx *c = ctx;
    if (plan == NULL || desc == NULL) {
        cu_host->error("cuda conv2d_prepare: no %s", plan == NULL ? "plan pointer" : "desc");
        return DLH_EINVAL;
    }
    *plan = NULL;
    int rc = plan_check(desc);
    if (rc != 0)
        return rc;
    cu_dnn *dn = cu_dnn_get(c);
    if (dn == NULL)
        return DLH_EUNSUPPORTED;
    if ((rc = cu_current(c)) != 0)
        return rc;
    cu_conv_plan *p = calloc(1, sizeof *p);
    if (p == NULL) {
        cu_host->error("cuda conv2d_prepare: out of memory");
        return DLH_ENOMEM;
    }
    p->d = *desc;
    p->d.struct_size = sizeof p->d;
    if ((rc = plan_make(c, dn, p)) != 0) {
        cu_conv2d_release(c, p);
        return rc;
    }
    *plan = p;
    return 0;
}

/* Which size each operand of a run has. */
enum { OP_X, OP_Y, OP_W, OP_BIAS };

/* The run's checks: a plan, 1 <= n <= the plan's batch, every operand
   inside its buffer; then the context and the descriptors of n. */
static int run_begin(cu_ctx *c, cu_conv_plan *p, const char *prim, int n,
                     const dlh_mem *m, const char *const *names, const int *kind, int count,
                     conv_shape **s)
{
    if (p == NULL || c->dnn == NULL) {
        cu_host->error("cuda %s: no plan (conv2d_prepare returned none)", prim);
        return DLH_EINVAL;
    }
    const dlh_window2d *g = &p->d.g;
    if (n < 1 || n > p->d.n) {
        cu_host->error("cuda %s: batch %d outside 1 to %d, the plan's", prim, n, p->d.n);
        return DLH_EINVAL;
    }
    size_t xs = (size_t)n * g->c * g->h * g->w, ys = (size_t)n * p->d.out_c * g->oh * g->ow;
    size_t ws = (size_t)p->d.out_c * (g->c / p->d.groups) * g->kh * g->kw;
    for (int i = 0; i < count; i++) {
        size_t want = kind[i] == OP_X ? xs : kind[i] == OP_Y ? ys : kind[i] == OP_W
                                                                   ? ws : (size_t)p->d.out_c;
        int rc = bchk_mem(&cu_checks, prim, names[i], m[i], want, sizeof(float));
        if (rc != 0)
            return rc;
    }
    int rc = cu_current(c);
    return rc != 0 ? rc : shape_for(c->dnn, p, n, s);
}

static void *dev(dlh_mem m)
{
    return (void *)(uintptr_t)(m.buf->ptr + m.off * sizeof(float));
}

static void *ws_ptr(const cu_dnn *dn)
{
    return dn->ws != NULL ? (void *)(uintptr_t)dn->ws->ptr : NULL;
}

int cu_conv2d_forward(void *ctx, void *plan, int n, dlh_mem x, dlh_mem w, dlh_mem bias,
                      dlh_mem y)
{
    cu_ctx *c = ctx;
    cu_conv_plan *p = plan;
    const dlh_mem m[4] = { x, w, y, bias };
    static const char *const names[4] = { "x", "w", "y", "bias" };
    static const int kind[4] = { OP_X, OP_W, OP_Y, OP_BIAS };
    conv_shape *s;
    int rc = run_begin(c, p, "conv2d_forward", n, m, names, kind, bias.buf ? 4 : 3, &s);
    if (rc != 0)
        return rc;
    cu_dnn *dn = c->dnn;
    const float one = 1.0f, zero = 0.0f;
    int st = dn->forward(dn->handle, &one, s->x, dev(x), p->filter, dev(w), p->conv, s->fwd,
                         ws_ptr(dn), dn->ws_bytes, &zero, s->y, dev(y));
    if (st != 0)
        return cu_dnn_fail(dn, "cudnnConvolutionForward", st, "");
    if (bias.buf != NULL &&
        (st = dn->add_tensor(dn->handle, &one, p->bias, dev(bias), &one, s->y, dev(y))) != 0)
        return cu_dnn_fail(dn, "cudnnAddTensor", st, "(the bias)");
    return 0;
}

int cu_conv2d_backward_data(void *ctx, void *plan, int n, dlh_mem dy, dlh_mem w, dlh_mem dx)
{
    cu_ctx *c = ctx;
    cu_conv_plan *p = plan;
    const dlh_mem m[3] = { dy, w, dx };
    static const char *const names[3] = { "dy", "w", "dx" };
    static const int kind[3] = { OP_Y, OP_W, OP_X };
    conv_shape *s;
    int rc = run_begin(c, p, "conv2d_backward_data", n, m, names, kind, 3, &s);
    if (rc != 0)
        return rc;
    cu_dnn *dn = c->dnn;
    const float one = 1.0f, zero = 0.0f;
    int st = dn->backward_data(dn->handle, &one, p->filter, dev(w), s->y, dev(dy), p->conv,
                               s->bwd_data, ws_ptr(dn), dn->ws_bytes, &zero, s->x, dev(dx));
    return st == 0 ? 0 : cu_dnn_fail(dn, "cudnnConvolutionBackwardData", st, "");
}

int cu_conv2d_backward_weights(void *ctx, void *plan, int n, dlh_mem x, dlh_mem dy,
                               float beta, dlh_mem dw, dlh_mem db)
{
    cu_ctx *c = ctx;
    cu_conv_plan *p = plan;
    if (beta != 0.0f && beta != 1.0f) {
        cu_host->error("cuda conv2d_backward_weights: beta %g (0 or 1)", (double)beta);
        return DLH_EINVAL;
    }
    const dlh_mem m[4] = { x, dy, dw, db };
    static const char *const names[4] = { "x", "dy", "dw", "db" };
    static const int kind[4] = { OP_X, OP_Y, OP_W, OP_BIAS };
    conv_shape *s;
    int rc = run_begin(c, p, "conv2d_backward_weights", n, m, names, kind, db.buf ? 4 : 3,
                       &s);
    if (rc != 0)
        return rc;
    cu_dnn *dn = c->dnn;
    const float one = 1.0f;
    int st = dn->backward_filter(dn->handle, &one, s->x, dev(x), s->y, dev(dy), p->conv,
                                 s->bwd_filter, ws_ptr(dn), dn->ws_bytes, &beta, p->filter,
                                 dev(dw));
    if (st != 0)
        return cu_dnn_fail(dn, "cudnnConvolutionBackwardFilter", st, "");
    if (db.buf != NULL &&
        (st = dn->backward_bias(dn->handle, &one, s->y, dev(dy), &beta, p->bias, dev(db))) != 0)
        return cu_dnn_fail(dn, "cudnnConvolutionBackwardBias", st, "");
    return 0;
}
