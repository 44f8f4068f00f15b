/* A fake cuDNN for the tests (loaded through $DLHOST_CUDNN; part of the
 * fake driver's library, fake_cuda.c): the legacy convolution API the
 * cuda backend calls (cu_dnn.c, cu_conv.c), computed on the host by direct
 * loops over NCHW from the descriptors it was given (the fake driver's
 * device pointers are host pointers).  So a wrong mapping of pads,
 * strides, dilation, groups or the bias onto cuDNN's descriptors gives
 * wrong numbers here, and the tests compare them with their own reference.
 *
 * Like cuDNN it checks that y's descriptor is the output the others give
 * (CUDNN_STATUS_BAD_PARAM otherwise), and that a run gets an algorithm it
 * offered and at least that algorithm's workspace.  Its ranked algorithm
 * lists hold, before the ones to take, an algorithm on tensor cores (TF32)
 * and one wanting 1 GiB of workspace; backward filter ranks a
 * nondeterministic algorithm first.  A call first does the stream's queued
 * copies: it runs after them, as on a stream.  $FAKE_CUDNN_CREATE_FAILS
 * makes cudnnCreate fail. */
/* The exported entry points are cuDNN's ABI, declared by the library that
   calls them. */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fake_cuda.h"

enum { BAD = 2000, NOT_SUPPORTED = 3000 };

typedef struct fdesc {
    int kind;                           /* 1 tensor, 2 filter, 3 convolution */
    int set;
    int n, c, h, w;                     /* tensor [n c h w]; filter [k c h w] */
    int ph, pw, u, v, dh, dw, groups, math;
} fdesc;

typedef struct fperf {
    int algo, status;
    float time;
    size_t memory;
    int determinism, math_type, reserved[3];
} fperf;

static fake_cudnn_counters st;

const fake_cudnn_counters *fake_cudnn_stats(void)
{
    return &st;
}

size_t cudnnGetVersion(void)
{
    return 91900;
}

const char *cudnnGetErrorString(int s)
{
    return s == BAD ? "CUDNN_STATUS_BAD_PARAM" : s == 0 ? "CUDNN_STATUS_SUCCESS" : "fake";
}

/* $FAKE_CUDNN_CREATE_FAILS set: cudnnCreate fails as cuDNN does without a
   usable driver (CUDNN_STATUS_NOT_INITIALIZED). */
int cudnnCreate(void **h)
{
    const char *fails = getenv("FAKE_CUDNN_CREATE_FAILS");
    if (fails != NULL && *fails)
        return 1001;
    *h = malloc(sizeof(void *));
    if (*h == NULL)
        return 4003;
    st.handles++;
    return 0;
}

int cudnnDestroy(void *h)
{
    free(h);
    st.handles--;
    return 0;
}

int cudnnSetStream(void *h, void *s)
{
    if (h == NULL || s == NULL)
        return BAD;
    *(void **)h = s;
    return 0;
}

static int make(void **d, int kind)
{
    fdesc *f = calloc(1, sizeof *f);
    if (f == NULL)
        return 4003;
    f->kind = kind;
    f->groups = 1;
    *d = f;
    st.descs++;
    return 0;
}

static int drop(void *d, int kind)
{
    if (d == NULL || ((fdesc *)d)->kind != kind)
        return BAD;
    free(d);
    st.descs--;
    return 0;
}

int cudnnCreateTensorDescriptor(void **d) { return make(d, 1); }
int cudnnCreateFilterDescriptor(void **d) { return make(d, 2); }
int cudnnCreateConvolutionDescriptor(void **d) { return make(d, 3); }
int cudnnDestroyTensorDescriptor(void *d) { return drop(d, 1); }
int cudnnDestroyFilterDescriptor(void *d) { return drop(d, 2); }
int cudnnDestroyConvolutionDescriptor(void *d) { return drop(d, 3); }

static int set4(fdesc *f, int kind, int format, int type, int n, int c, int h, int w)
{
    if (f == NULL || f->kind != kind || format != 0 || type != 0 || n < 1 || c < 1 || h < 1 ||
        w < 1)
        return BAD;
    f->n = n, f->c = c, f->h = h, f->w = w, f->set = 1;
    return 0;
}

int cudnnSetTensor4dDescriptor(void *d, int format, int type, int n, int c, int h, int w)
{
    return set4(d, 1, format, type, n, c, h, w);
}

int cudnnSetFilter4dDescriptor(void *d, int type, int format, int k, int c, int h, int w)
{
    return set4(d, 2, format, type, k, c, h, w);
}

int cudnnSetConvolution2dDescriptor(void *d, int ph, int pw, int u, int v, int dh, int dw,
                                    int mode, int type)
{
    fdesc *f = d;
    if (f == NULL || f->kind != 3 || ph < 0 || pw < 0 || u < 1 || v < 1 || dh < 1 || dw < 1 ||
        type != 0)
        return BAD;
    if (mode != 1)                      /* CUDNN_CROSS_CORRELATION: the fake has no other */
        return NOT_SUPPORTED;
    f->ph = ph, f->pw = pw, f->u = u, f->v = v, f->dh = dh, f->dw = dw, f->set = 1;
    return 0;
}

int cudnnSetConvolutionGroupCount(void *d, int groups)
{
    fdesc *f = d;
    if (f == NULL || f->kind != 3 || groups < 1)
        return BAD;
    f->groups = groups;
    return 0;
}

int cudnnSetConvolutionMathType(void *d, int math)
{
    fdesc *f = d;
    if (f == NULL || f->kind != 3 || math < 0 || math > 3)
        return BAD;
    f->math = math;
    return 0;
}

/* The problem x (*) w -> y as cuDNN checks it. */
static int problem(const fdesc *x, const fdesc *w, const fdesc *cv, const fdesc *y)
{
    if (!x || !w || !cv || !y || x->kind != 1 || w->kind != 2 || cv->kind != 3 ||
        y->kind != 1 || !x->set || !w->set || !cv->set || !y->set)
        return BAD;
    int g = cv->groups;
    if (x->c != w->c * g || w->n % g != 0 || y->n != x->n || y->c != w->n)
        return BAD;
    int eh = x->h + 2 * cv->ph - cv->dh * (w->h - 1) - 1;
    int ew = x->w + 2 * cv->pw - cv->dw * (w->w - 1) - 1;
    if (eh < 0 || ew < 0 || y->h != eh / cv->u + 1 || y->w != ew / cv->v + 1)
        return BAD;
    return 0;
}

/* Workspace each algorithm the fake offers needs (bytes); SIZE_MAX: not offered. */
static size_t need(int dir, int algo, const fdesc *x)
{
    size_t n = (size_t)x->n;
    switch (dir * 10 + algo) {
    case 0: return 0;                       /* forward IMPLICIT_GEMM */
    case 1: return 256 * n + 512;           /* forward IMPLICIT_PRECOMP_GEMM */
    case 10: return 0;                      /* backward data ALGO_0 */
    case 11: return 128 * n;                /* backward data ALGO_1 */
    case 21: return 64 * n + 1024;          /* backward filter ALGO_1 */
    case 20: return 0;                      /* backward filter ALGO_0 (atomics) */
    default: return SIZE_MAX;
    }
}

/* dir 0 forward, 1 backward data, 2 backward filter */
static int algos(int dir, const fdesc *x, int want, int *got, fperf *p)
{
    /* rank 1: tensor cores (TF32); rank 2: FFT with 1 GiB of workspace */
    fperf all[5] = {
        { dir == 0 ? 6 : 5, 0, 0.1f, 0, 1, 1, { 0 } },
        { 4, 0, 0.2f, (size_t)1 << 30, 1, 3, { 0 } },
    };
    int k = 2;
    if (dir == 2) {
        all[k++] = (fperf){ 0, 0, 0.3f, need(2, 0, x), 0, 3, { 0 } };
        all[k++] = (fperf){ 1, 0, 0.4f, need(2, 1, x), 1, 3, { 0 } };
    } else {
        all[k++] = (fperf){ 1, 0, 0.3f, need(dir, 1, x), 1, 3, { 0 } };
        all[k++] = (fperf){ 0, 0, 0.4f, need(dir, 0, x), dir == 1 ? 0 : 1, 3, { 0 } };
    }
    *got = k < want ? k : want;
    memcpy(p, all, (size_t)*got * sizeof *p);
    return 0;
}

int cudnnGetConvolutionForwardAlgorithm_v7(void *h, void *x, void *w, void *cv, void *y,
                                           int want, int *got, fperf *p)
{
    int s = h ? problem(x, w, cv, y) : BAD;
    return s ? s : algos(0, x, want, got, p);
}

int cudnnGetConvolutionBackwardDataAlgorithm_v7(void *h, void *w, void *dy, void *cv, void *dx,
                                                int want, int *got, fperf *p)
{
    int s = h ? problem(dx, w, cv, dy) : BAD;
    return s ? s : algos(1, dx, want, got, p);
}

int cudnnGetConvolutionBackwardFilterAlgorithm_v7(void *h, void *x, void *dy, void *cv,
                                                  void *dw, int want, int *got, fperf *p)
{
    int s = h ? problem(x, dw, cv, dy) : BAD;
    return s ? s : algos(2, x, want, got, p);
}

static int ws_size(int dir, const fdesc *x, int algo, size_t *bytes)
{
    size_t b = need(dir, algo, x);
    if (b == SIZE_MAX)
        return NOT_SUPPORTED;
    *bytes = b;
    return 0;
}

int cudnnGetConvolutionForwardWorkspaceSize(void *h, void *x, void *w, void *cv, void *y,
                                            int algo, size_t *bytes)
{
    int s = h ? problem(x, w, cv, y) : BAD;
    return s ? s : ws_size(0, x, algo, bytes);
}

int cudnnGetConvolutionBackwardDataWorkspaceSize(void *h, void *w, void *dy, void *cv,
                                                 void *dx, int algo, size_t *bytes)
{
    int s = h ? problem(dx, w, cv, dy) : BAD;
    return s ? s : ws_size(1, dx, algo, bytes);
}

int cudnnGetConvolutionBackwardFilterWorkspaceSize(void *h, void *x, void *dy, void *cv,
                                                   void *dw, int algo, size_t *bytes)
{
    int s = h ? problem(x, dw, cv, dy) : BAD;
    return s ? s : ws_size(2, x, algo, bytes);
}

/* A run's common checks: the problem, the algorithm, its workspace. */
static int run_check(int dir, void *h, const fdesc *x, const fdesc *w, const fdesc *cv,
                     const fdesc *y, int algo, const void *ws, size_t ws_bytes)
{
    int s = h ? problem(x, w, cv, y) : BAD;
    if (s != 0)
        return s;
    size_t b = need(dir, algo, x);
    if (b == SIZE_MAX || (b > 0 && (ws == NULL || ws_bytes < b)))
        return BAD;
    fake_cuda_flush();
    st.last_algo[dir] = algo;
    st.last_ws = ws_bytes;
    st.last_math = cv->math;
    st.last_groups = cv->groups;
    return 0;
}

/* The input cell of output (oy, ox) and tap (ky, kx), or -1 in the padding. */
static long tap(const fdesc *x, const fdesc *cv, int oy, int ox, int ky, int kx)
{
    int iy = oy * cv->u - cv->ph + ky * cv->dh, ix = ox * cv->v - cv->pw + kx * cv->dw;
    return iy < 0 || iy >= x->h || ix < 0 || ix >= x->w ? -1 : (long)iy * x->w + ix;
}

/* Every product of the convolution x (*) w -> y, with X, W and Y the
   arrays: dir 0 adds x w into acc at y's index (forward), 1 adds y w at
   x's (backward data), 2 adds y x at w's (backward filter). */
static void conv_loop(int dir, const fdesc *x, const fdesc *w, const fdesc *cv, const fdesc *y,
                      const float *X, const float *W, const float *Y, double *acc)
{
    int cg = w->c, kg = w->n / cv->groups;
    for (int b = 0; b < x->n; b++)
        for (int k = 0; k < w->n; k++)
            for (int oy = 0; oy < y->h; oy++)
                for (int ox = 0; ox < y->w; ox++)
                    for (int ci = 0; ci < cg; ci++)
                        for (int ky = 0; ky < w->h; ky++)
                            for (int kx = 0; kx < w->w; kx++) {
                                long t = tap(x, cv, oy, ox, ky, kx);
                                if (t < 0)
                                    continue;
                                int c = k / kg * cg + ci;
                                size_t yi = (((size_t)b * y->c + k) * y->h + oy) * y->w + ox;
                                size_t xi = ((size_t)b * x->c + c) * (size_t)(x->h * x->w) +
                                            (size_t)t;
                                size_t wi = (((size_t)k * cg + ci) * w->h + ky) * w->w + kx;
                                if (dir == 0)
                                    acc[yi] += (double)X[xi] * W[wi];
                                else if (dir == 1)
                                    acc[xi] += (double)Y[yi] * W[wi];
                                else
                                    acc[wi] += (double)Y[yi] * X[xi];
                            }
}

static size_t count(const fdesc *d)
{
    return (size_t)d->n * d->c * d->h * d->w;
}

/* out = alpha acc + beta out (beta 0: out is not read, as in cuDNN) */
static void blend(float *out, const double *acc, size_t n, float alpha, float beta)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float)(alpha * acc[i] + (beta == 0.0f ? 0.0 : (double)beta * out[i]));
}

/* One run in direction dir (conv_loop's): the checks, then out = alpha
   (the products) + beta out, out being y's, x's or w's array. */
static int conv_run(int dir, void *h, const float *alpha, const fdesc *x, const fdesc *w,
                    const fdesc *cv, const fdesc *y, const float *X, const float *W,
                    const float *Y, int algo, const void *ws, size_t ws_bytes,
                    const float *beta, float *out)
{
    int s = run_check(dir, h, x, w, cv, y, algo, ws, ws_bytes);
    if (s != 0)
        return s;
    size_t n = count(dir == 0 ? y : dir == 1 ? x : w);
    double *acc = calloc(n ? n : 1, sizeof *acc);
    if (acc == NULL)
        return 4003;
    conv_loop(dir, x, w, cv, y, X, W, Y, acc);
    blend(out, acc, n, *alpha, *beta);
    free(acc);
    return 0;
}

int cudnnConvolutionForward(void *h, const float *alpha, void *xd, const float *x, void *wd,
                            const float *w, void *cv, int algo, void *ws, size_t ws_bytes,
                            const float *beta, void *yd, float *y)
{
    int s = conv_run(0, h, alpha, xd, wd, cv, yd, x, w, NULL, algo, ws, ws_bytes, beta, y);
    st.forward += s == 0;
    return s;
}

int cudnnConvolutionBackwardData(void *h, const float *alpha, void *wd, const float *w,
                                 void *dyd, const float *dy, void *cv, int algo, void *ws,
                                 size_t ws_bytes, const float *beta, void *dxd, float *dx)
{
    int s = conv_run(1, h, alpha, dxd, wd, cv, dyd, NULL, w, dy, algo, ws, ws_bytes, beta, dx);
    st.backward_data += s == 0;
    return s;
}

int cudnnConvolutionBackwardFilter(void *h, const float *alpha, void *xd, const float *x,
                                   void *dyd, const float *dy, void *cv, int algo, void *ws,
                                   size_t ws_bytes, const float *beta, void *dwd, float *dw)
{
    int s = conv_run(2, h, alpha, xd, dwd, cv, dyd, x, NULL, dy, algo, ws, ws_bytes, beta, dw);
    if (s == 0) {
        st.backward_filter++;
        st.last_beta = *beta;
    }
    return s;
}

int cudnnConvolutionBackwardBias(void *h, const float *alpha, void *dyd, const float *dy,
                                 const float *beta, void *dbd, float *db)
{
    const fdesc *y = dyd, *b = dbd;
    if (h == NULL || !y || !b || y->kind != 1 || b->kind != 1 || !y->set || !b->set ||
        b->n != 1 || b->c != y->c || b->h != 1 || b->w != 1)
        return BAD;
    fake_cuda_flush();
    size_t plane = (size_t)y->h * y->w;
    for (int k = 0; k < y->c; k++) {
        double sum = 0;
        for (int n = 0; n < y->n; n++)
            for (size_t i = 0; i < plane; i++)
                sum += dy[((size_t)n * y->c + k) * plane + i];
        db[k] = (float)(*alpha * sum + (*beta == 0.0f ? 0.0 : (double)*beta * db[k]));
    }
    st.backward_bias++;
    return 0;
}

/* C = alpha A + beta C, A broadcast over its dimensions of size 1. */
int cudnnAddTensor(void *h, const float *alpha, void *ad, const float *a, const float *beta,
                   void *cd, float *c)
{
    const fdesc *A = ad, *C = cd;
    if (h == NULL || !A || !C || A->kind != 1 || C->kind != 1 || !A->set || !C->set ||
        (A->n != 1 && A->n != C->n) || (A->c != 1 && A->c != C->c) ||
        (A->h != 1 && A->h != C->h) || (A->w != 1 && A->w != C->w))
        return BAD;
    fake_cuda_flush();
    for (int n = 0; n < C->n; n++)
        for (int k = 0; k < C->c; k++)
            for (int y = 0; y < C->h; y++)
                for (int x = 0; x < C->w; x++) {
                    size_t ci = (((size_t)n * C->c + k) * C->h + y) * C->w + x;
                    size_t ai = (((size_t)(A->n == 1 ? 0 : n) * A->c + (A->c == 1 ? 0 : k)) *
                                     A->h + (A->h == 1 ? 0 : y)) * A->w + (A->w == 1 ? 0 : x);
                    c[ci] = (float)((double)*alpha * a[ai] + (double)*beta * c[ci]);
                }
    st.add_tensor++;
    return 0;
}
