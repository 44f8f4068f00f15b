/* Backend conformance, the idea of ggml's test-backend-ops: every primitive
 * of dlh_backend_ops runs on a backend under test and on the cpu backend
 * (the reference, default parameters) with the same inputs, and the outputs
 * are compared element by element.  The backends under test are the cpu
 * backend opened again with threads = 1 (its threaded paths, gemm's
 * included, split the work differently from the default instance's), then
 * every other backend that is registered.  "opencl" and "cuda" are
 * SKIPped by name when no plugin registers them or their probe says
 * unusable.  Each comparison is one TAP line naming backend, primitive and
 * shape.  Each backend is opened once per process.
 * DLHOST_CONFORMANCE_BACKENDS=opencl,cpu (optional) runs only the named
 * ones ("cpu" is the threads = 1 instance).
 *
 * A case passes when, for every element of every buffer the primitive may
 * write (the whole buffer, so cells outside the primitive's range must stay
 * as they were), err = |got - ref| / scale <= tol; a NaN must meet a NaN and
 * an infinity the same infinity.  Cells that must stay unchanged get scale 0:
 * they compare exactly.  Tolerances, per primitive:
 *
 *   exact (tol 0): write/read/copy/fill, im2col, gather, pool max forward
 *     (values and int32 indices), reduce max and argmax, rand uniform and
 *     bernoulli (the same Philox numbers), ew comparisons and the ew program
 *     on special values (NaN, +-inf, -0: min/max/sign/abs/select), ew
 *     floor, ceil, round and fmod (exact operations), the element index
 *     and the ew draws uniform(k) and normal(k) (the same Philox words and
 *     float formulas on every backend).
 *   TOL_ACCUM 2e-5, for sums: gemm, gemm_batched, reduce sum and sumsq,
 *     col2im, scatter_add, pool avg forward and pool backward.  scale = the
 *     same primitive run on the reference with every input (and alpha, beta)
 *     replaced by its absolute value: the sum of |terms| behind each output.
 *     Two float32 sums of k <= 784 random terms each lie within about
 *     sqrt(k) 2^-24 (~1.7e-6) of that scale from the exact value; one term
 *     wrong or missing moves the result by about 1/k of it (>= 1.3e-3).
 *   TOL_SOFTMAX 3e-5, scale = |ref| + 1e-6: relative error of exp (OpenCL
 *     allows 3 ulp) and of the row sum.
 *   TOL_LOGSOFTMAX 1e-5, scale = max(1, |x|, |ref|): x - max - log(sum)
 *     may round at the size of the inputs.
 *   TOL_EW 1e-5, scale = max(1, |ref|): the ew programs other than the exact
 *     ones; OpenCL allows exp/log 3 ulp, tanh 5, pow 16 (16 ulp = 2e-6),
 *     erf 16, sin and cos 4, atan2 6.
 *   TOL_NORMAL 1e-5, scale = max(1, |ref|): rand normal goes through logf,
 *     sqrtf and cosf, which may differ by a few ulp between libraries.
 *
 * The comparator checks itself first: the reference against itself passes,
 * and one output element moved by 2 x tol (or by one ulp for exact
 * compares) fails while 0.5 x tol passes, on a case of each kind. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dlhost/dlhost.h>

#include "error.h"
#include "params.h"
#include "registry.h"
#include "../tap.h"

#define TOL_ACCUM 2e-5
#define TOL_SOFTMAX 3e-5
#define TOL_LOGSOFTMAX 1e-5
#define TOL_EW 1e-5
#define TOL_NORMAL 1e-5

static dlh_backend *ref;        /* cpu, default parameters */
static dlh_backend *dut;        /* the backend under test */
static const char *dut_label;
static int dut_bf16;            /* dut runs precision = "bf16" */
static const dlh_host *H;

/* ------------------------------------------------------------ host memory */

/* Host arrays of the current case, freed together at its end. */
#define MAX_SCRATCH 96
static void *scratch[MAX_SCRATCH];
static int n_scratch;

static void bail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void bail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("Bail out! ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    exit(1);
}

static void *hmem(size_t bytes)
{
    if (n_scratch == MAX_SCRATCH)
        bail("too many host arrays in one case");
    void *p = calloc(bytes ? bytes : 1, 1);
    if (!p)
        bail("out of memory for %zu bytes", bytes);
    scratch[n_scratch++] = p;
    return p;
}

static float *fvec(size_t n)
{
    return hmem(n * sizeof(float));
}

static int32_t *ivec(size_t n)
{
    return hmem(n * sizeof(int32_t));
}

static void scratch_free(void)
{
    while (n_scratch > 0)
        free(scratch[--n_scratch]);
}

/* Test data from Philox (philox.h), so every run sees the same inputs. */
static uint64_t rng_counter;

static float frand(void)   /* [-1, 1) */
{
    uint32_t w[4];
    dlh_philox_words(0x5eed, 77, rng_counter++, w);
    return 2.0f * dlh_philox_unit(w[0]) - 1.0f;
}

static float urand(float lo, float hi)
{
    return lo + (hi - lo) * 0.5f * (frand() + 1.0f);
}

static int irand(int n)
{
    int i = (int)((frand() + 1.0f) * 0.5f * (float)n);
    return i < n ? i : n - 1;
}

static float *rvec(size_t n, float lo, float hi)
{
    float *v = fvec(n);
    for (size_t i = 0; i < n; i++)
        v[i] = urand(lo, hi);
    return v;
}

static float *absdup(const float *x, size_t n)
{
    float *v = fvec(n);
    for (size_t i = 0; i < n; i++)
        v[i] = fabsf(x[i]);
    return v;
}

/* ------------------------------------------------------------ device memory */

static dlh_mem at(dlh_buffer *b, size_t off)
{
    dlh_mem m = { b, off };
    return m;
}

/* A buffer of `bytes` on be holding `data` (when not NULL). */
static dlh_buffer *up(dlh_backend *be, const void *data, size_t bytes)
{
    dlh_buffer *b = NULL;
    int rc = be->ops->alloc(be->ctx, bytes, &b);
    if (rc == 0 && data)
        rc = be->ops->write(be->ctx, b, 0, data, bytes);
    if (rc != 0)
        bail("%s: alloc/write of %zu bytes: %s", be == ref ? "cpu" : dut_label, bytes,
             dlh_error_get());
    return b;
}

static int down(dlh_backend *be, dlh_buffer *b, void *out, size_t bytes)
{
    return be->ops->read(be->ctx, b, 0, out, bytes);
}

static void release(dlh_backend *be, dlh_buffer *b)
{
    be->ops->free(be->ctx, b);
}

/* ------------------------------------------------------------ comparing */

enum { PERTURB_NONE, PERTURB_OVER, PERTURB_UNDER };
static int g_perturb;       /* self-check: move one element of `got` first */
static int g_quiet;         /* self-check: record the verdict, print nothing */
static int g_quiet_pass;

static struct {
    int pass;
    double worst;           /* largest err / tol of the tolerance compares */
    char why[512];          /* the first failure */
} cs;

static void case_begin(void)
{
    cs.pass = 1;
    cs.worst = 0;
    cs.why[0] = '\0';
}

static void case_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void case_fail(const char *fmt, ...)
{
    if (cs.pass) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cs.why, sizeof cs.why, fmt, ap);
        va_end(ap);
    }
    cs.pass = 0;
}

/* The reference must succeed (else the suite is wrong: bail out); the backend
   under test failing is a failed case carrying its message. */
static int check_rc(int rc_ref, int rc_dut, const char *prim)
{
    if (rc_ref != 0)
        bail("the reference cpu backend failed %s: %s", prim, dlh_error_get());
    if (rc_dut != 0) {
        case_fail("%s returned %d (%s): %s", prim, rc_dut, dlh_strerror(rc_dut),
                  dlh_error_get());
        return 0;
    }
    return 1;
}

static void case_end(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void case_end(const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (g_quiet) {
        g_quiet_pass &= cs.pass;
    } else {
        char worst[64] = "";
        if (cs.worst > 0)
            snprintf(worst, sizeof worst, " (worst %.2g of tol)", cs.worst);
        if (!ok(cs.pass, "%s: %s%s", dut_label, what, worst))
            diag("  %s", cs.why);
    }
    scratch_free();
}

static int same_float(float a, float b)
{
    return a == b || (isnan(a) && isnan(b));
}

/* scale_i: scale[i], or max(1, |want[i]|) when scale is NULL. */
static double scale_at(const float *want, const float *scale, size_t i)
{
    if (scale)
        return scale[i];
    return fabs(want[i]) > 1.0 ? fabs(want[i]) : 1.0;
}

static void perturb_f(const float *want, float *got, const float *scale, size_t n, double tol)
{
    if (g_perturb == PERTURB_NONE || n == 0 || (tol == 0 && g_perturb == PERTURB_UNDER))
        return;
    size_t pick = n;
    double best = -1;
    for (size_t k = 0; k < n; k++) {
        size_t i = (n / 2 + k) % n;
        if (!isfinite(want[i]))
            continue;
        if (tol == 0) {
            pick = i;
            break;
        }
        double s = scale_at(want, scale, i);
        if (s > best) {
            best = s;
            pick = i;
        }
    }
    if (pick == n)
        return;
    if (tol == 0)
        got[pick] = nextafterf(want[pick], INFINITY);
    else
        got[pick] = (float)(want[pick] + (g_perturb == PERTURB_OVER ? 2.0 : 0.5) * tol * best);
}

/* Compares n floats; tol 0 means exactly (NaN meets NaN).  `got` may be
   changed by the self-check's perturbation. */
static void cmp_f(const char *what, const float *want, float *got, const float *scale,
                  size_t n, double tol)
{
    perturb_f(want, got, scale, n, tol);
    for (size_t i = 0; i < n; i++) {
        if (same_float(want[i], got[i]))
            continue;
        double s = scale_at(want, scale, i);
        double e = tol > 0 && isfinite(want[i]) ? fabs((double)got[i] - want[i]) /
                                                  (s > 0 ? s : FLT_MIN) / tol : INFINITY;
        if (e <= 1.0) {
            if (e > cs.worst)
                cs.worst = e;
            continue;
        }
        case_fail("%s[%zu]: got %.9g, want %.9g (scale %.3g, tol %g)", what, i,
                  (double)got[i], (double)want[i], s, tol);
        return;
    }
}

static void cmp_i(const char *what, const int32_t *want, int32_t *got, size_t n)
{
    if (g_perturb == PERTURB_OVER && n > 0)
        got[n / 2] = want[n / 2] + 1;
    for (size_t i = 0; i < n; i++)
        if (want[i] != got[i]) {
            case_fail("%s[%zu]: got %d, want %d", what, i, (int)got[i], (int)want[i]);
            return;
        }
}

static void cmp_bytes(const char *what, const unsigned char *want, unsigned char *got,
                      size_t n)
{
    if (g_perturb == PERTURB_OVER && n > 0)
        got[n / 2] = (unsigned char)(want[n / 2] ^ 1);
    for (size_t i = 0; i < n; i++)
        if (want[i] != got[i]) {
            case_fail("%s: byte %zu: got 0x%02x, want 0x%02x", what, i, got[i], want[i]);
            return;
        }
}

/* ------------------------------------------------------------ describe */

static void test_describe(void)
{
    char buf[512] = "";
    int rc = dut->ops->describe(dut->ctx, buf, sizeof buf);
    ok(rc == 0 && buf[0] != '\0', "%s: describe: \"%s\"", dut_label, buf);
    if (!dut->ops->devices)
        return;     /* optional (ABI 1.1) */
    buf[0] = '\0';
    rc = dut->ops->devices(H, buf, sizeof buf);
    ok(rc == 0 && memchr(buf, '\0', sizeof buf) != NULL && buf[0] != '\0',
       "%s: devices lists what it sees (%d)", dut_label, rc);
    for (char *line = buf, *end; rc == 0 && *line; line = end + (*end != '\0')) {
        end = line + strcspn(line, "\n");
        diag("  %.*s", (int)(end - line), line);
    }
}

/* ------------------------------------------------------------ memory */

/* Runs a fixed sequence of writes, copies and fills on be; the result is
   the two buffers' bytes. */
static int memory_on(dlh_backend *be, int step, const unsigned char *data, unsigned char *out1,
                     unsigned char *out2, size_t bytes)
{
    const dlh_backend_ops *o = be->ops;
    dlh_buffer *b1 = up(be, data, bytes), *b2 = up(be, data + bytes, bytes);
    int rc = 0;
    switch (step) {
    case 0:     /* writes at odd byte offsets */
        rc = o->write(be->ctx, b1, 6, data + 2 * bytes, 37);
        if (rc == 0)
            rc = o->write(be->ctx, b1, 1, data + 3 * bytes, 3);
        if (rc == 0)
            rc = o->write(be->ctx, b2, bytes - 5, data, 5);
        break;
    case 1:     /* reads at offsets: read back into b2 through the host */
        {
            unsigned char tmp[64];
            rc = o->read(be->ctx, b1, 10, tmp, 21);
            if (rc == 0)
                rc = o->write(be->ctx, b2, 3, tmp, 21);
            if (rc == 0)
                rc = o->read(be->ctx, b1, bytes - 7, tmp, 7);
            if (rc == 0)
                rc = o->write(be->ctx, b2, 40, tmp, 7);
        }
        break;
    case 2:     /* copies between buffers and inside one (not overlapping) */
        rc = o->copy(be->ctx, b2, 12, b1, 100, 64);
        if (rc == 0)
            rc = o->copy(be->ctx, b1, 2, b1, bytes - 33, 31);
        if (rc == 0)
            rc = o->copy(be->ctx, b2, bytes - 4, b1, 0, 4);
        break;
    case 3:     /* zero-byte calls at the end */
        rc = o->write(be->ctx, b1, bytes, data, 0);
        if (rc == 0)
            rc = o->read(be->ctx, b1, bytes, out1, 0);
        if (rc == 0)
            rc = o->copy(be->ctx, b2, bytes, b1, bytes, 0);
        if (rc == 0)
            rc = o->sync(be->ctx);
        break;
    default:    /* fills of n floats at element offsets */
        {
            static const size_t fills[][2] = { { 0, 1 }, { 3, 3 }, { 7, 17 }, { 30, 65 },
                                               { 101, 127 } };
            size_t k = (size_t)(step - 4);
            rc = o->fill(be->ctx, at(b1, fills[k][0]), fills[k][1], -1.25f - (float)k);
            if (rc == 0)
                rc = o->fill(be->ctx, at(b2, fills[k][0] + 1), 0, 9.0f);
        }
        break;
    }
    if (rc == 0)
        rc = down(be, b1, out1, bytes);
    if (rc == 0)
        rc = down(be, b2, out2, bytes);
    release(be, b1);
    release(be, b2);
    return rc;
}

static void test_memory(void)
{
    static const char *const names[] = {
        "write 37, 3 and 5 bytes at byte offsets 6, 1 and end-5",
        "read 21 bytes at byte offset 10 and 7 at end-7",
        "copy 64 bytes between buffers, 31 within one, 4 to the end",
        "write, read and copy of 0 bytes at the end, sync",
        "fill 1 float at offset 0", "fill 3 floats at offset 3",
        "fill 17 floats at offset 7", "fill 65 floats at offset 30",
        "fill 127 floats at offset 101",
    };
    const size_t bytes = 1024;
    for (int step = 0; step < 9; step++) {
        case_begin();
        unsigned char *data = hmem(4 * bytes);
        for (size_t i = 0; i < 4 * bytes; i++)
            data[i] = (unsigned char)irand(256);
        unsigned char *w1 = hmem(bytes), *w2 = hmem(bytes), *g1 = hmem(bytes),
                      *g2 = hmem(bytes);
        int rr = memory_on(ref, step, data, w1, w2, bytes);
        int rd = memory_on(dut, step, data, g1, g2, bytes);
        if (check_rc(rr, rd, "memory")) {
            cmp_bytes("first buffer", w1, g1, bytes);
            cmp_bytes("second buffer", w2, g2, bytes);
        }
        case_end("memory: %s", names[step]);
    }

    /* A large fill, past any one-work-group size. */
    case_begin();
    size_t n = 300007;
    float *init = rvec(n + 5, -1, 1), *w = fvec(n + 5), *g = fvec(n + 5);
    int rc[2] = { 0, 0 };
    for (int s = 0; s < 2; s++) {
        dlh_backend *be = s ? dut : ref;
        dlh_buffer *b = up(be, init, (n + 5) * sizeof(float));
        rc[s] = be->ops->fill(be->ctx, at(b, 2), n, 0.375f);
        if (rc[s] == 0)
            rc[s] = down(be, b, s ? g : w, (n + 5) * sizeof(float));
        release(be, b);
        if (rc[s] && !s)
            break;
    }
    if (check_rc(rc[0], rc[1], "fill"))
        cmp_f("y", w, g, NULL, n + 5, 0);
    case_end("memory: fill %zu floats at offset 2", n);

    case_begin();
    dlh_buffer *z = NULL;
    int r0 = dut->ops->alloc(dut->ctx, 0, &z);
    if (r0 != 0 || z == NULL)
        case_fail("alloc of 0 bytes: %d: %s", r0, dlh_error_get());
    else
        dut->ops->free(dut->ctx, z);
    dut->ops->free(dut->ctx, NULL);
    case_end("memory: alloc of 0 bytes gives a buffer; free of NULL is a no-op");
}

/* ------------------------------------------------------------ gemm */

typedef struct gemm_shape {
    int ta, tb, m, n, k, lda, ldb, ldc, batch;      /* batch 0: plain gemm */
    int64_t sa, sb, sc;                             /* batch strides */
    size_t oa, ob, oc, na, nb, nc;                  /* offsets, buffer floats */
} gemm_shape;

static int gemm_on(dlh_backend *be, const gemm_shape *g, float alpha, float beta,
                   const float *a, const float *b, const float *c, float *out)
{
    dlh_buffer *ba = up(be, a, g->na * sizeof(float)), *bb = up(be, b, g->nb * sizeof(float));
    dlh_buffer *bc = up(be, c, g->nc * sizeof(float));
    int rc = g->batch
        ? be->ops->gemm_batched(be->ctx, g->ta, g->tb, g->m, g->n, g->k, alpha,
                                at(ba, g->oa), g->lda, g->sa, at(bb, g->ob), g->ldb, g->sb,
                                beta, at(bc, g->oc), g->ldc, g->sc, g->batch)
        : be->ops->gemm(be->ctx, g->ta, g->tb, g->m, g->n, g->k, alpha, at(ba, g->oa),
                        g->lda, at(bb, g->ob), g->ldb, beta, at(bc, g->oc), g->ldc);
    if (rc == 0)
        rc = down(be, bc, out, g->nc * sizeof(float));
    release(be, ba);
    release(be, bb);
    release(be, bc);
    return rc;
}

/* Fills the cells of the `count` matrices (rows x cols, leading dim ld,
   `stride` apart, from `off`) with random values, and marks them in mask. */
static void fill_matrices(float *x, unsigned char *mask, size_t off, int count, int64_t stride,
                          int rows, int cols, int ld)
{
    for (int p = 0; p < count; p++)
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) {
                size_t o = off + (size_t)(p * stride) + (size_t)i * ld + j;
                x[o] = frand();
                if (mask)
                    mask[o] = 1;
            }
}

static void gemm_case(int ta, int tb, int m, int n, int k, float alpha, float beta, int pad,
                      int nan_c, int batch, int share_a, int share_b)
{
    case_begin();
    gemm_shape g = { 0 };
    int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    g.ta = ta;
    g.tb = tb;
    g.m = m;
    g.n = n;
    g.k = k;
    g.lda = (ac > 1 ? ac : 1) + pad;
    g.ldb = (bc > 1 ? bc : 1) + pad;
    g.ldc = (n > 1 ? n : 1) + pad;
    g.batch = batch;
    int count = batch ? batch : 1;
    g.sa = share_a ? 0 : (int64_t)ar * g.lda + 3;
    g.sb = share_b ? 0 : (int64_t)br * g.ldb + 1;
    g.sc = (int64_t)m * g.ldc + 2;
    g.oa = 5;
    g.ob = 7;
    g.oc = 3;
    g.na = g.oa + (size_t)(g.sa * (count - 1)) + (size_t)ar * g.lda + 2;
    g.nb = g.ob + (size_t)(g.sb * (count - 1)) + (size_t)br * g.ldb + 2;
    g.nc = g.oc + (size_t)(g.sc * count) + 1;

    /* NaN around A's and B's cells: a read of them poisons the result.
       C's other cells hold 777 and must stay. */
    float *a = fvec(g.na), *b = fvec(g.nb), *c = fvec(g.nc);
    unsigned char *cmask = hmem(g.nc);
    for (size_t i = 0; i < g.na; i++)
        a[i] = NAN;
    for (size_t i = 0; i < g.nb; i++)
        b[i] = NAN;
    for (size_t i = 0; i < g.nc; i++)
        c[i] = 777.0f;
    fill_matrices(a, NULL, g.oa, count, g.sa, ar, ac, g.lda);
    fill_matrices(b, NULL, g.ob, count, g.sb, br, bc, g.ldb);
    fill_matrices(c, cmask, g.oc, count, g.sc, m, n, g.ldc);
    if (nan_c)
        for (size_t i = 0; i < g.nc; i++)
            if (cmask[i])
                c[i] = NAN;
    /* The scale: |alpha| |A| |B| + |beta| |C| on the reference; C's other
       cells 0, so they compare exactly. */
    float *ma = absdup(a, g.na), *mb = absdup(b, g.nb), *mc = fvec(g.nc);
    for (size_t i = 0; i < g.nc; i++)
        mc[i] = cmask[i] && !nan_c ? fabsf(c[i]) : 0.0f;

    float *want = fvec(g.nc), *got = fvec(g.nc), *mag = fvec(g.nc);
    int rr = gemm_on(ref, &g, alpha, beta, a, b, c, want);
    if (rr == 0)
        rr = gemm_on(ref, &g, fabsf(alpha), fabsf(beta), ma, mb, mc, mag);
    int rd = rr ? 0 : gemm_on(dut, &g, alpha, beta, a, b, c, got);
    if (check_rc(rr, rd, batch ? "gemm_batched" : "gemm"))
        cmp_f("C", want, got, mag, g.nc, TOL_ACCUM);
    if (batch)
        case_end("gemm_batched %c%c m=%d n=%d k=%d batch=%d stride_a %s stride_b %s",
                 ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, batch, share_a ? "0" : "full",
                 share_b ? "0" : "full");
    else
        case_end("gemm %c%c m=%d n=%d k=%d alpha=%g beta=%g lds +%d%s", ta ? 'T' : 'N',
                 tb ? 'T' : 'N', m, n, k, alpha, beta, pad, nan_c ? ", C NaN (not read)" : "");
}

/* gemm_bias_act (ABI 1.10) on dut: the bits of dut's own three steps (the
   bias written into every row of C, gemm(0, 1) with beta 1, or 0 without
   a bias, then relu as x > 0 ? x : +0), over a C of NaNs with a row
   stride past n whose gaps must stay as they were; shapes cut into pieces
   by columns (the MLP's first layer) and by rows, and uncut. */
static void gemm_bias_act_case(int m, int n, int k, int bias, int act)
{
    if (!DLH_BACKEND_HAS(dut->ops, gemm_bias_act)) {
        printf("ok %d # SKIP %s: no gemm_bias_act (%dx%dx%d)\n", ++tap_n_, dut_label, m, n,
               k);
        return;
    }
    case_begin();
    int ldc = n + 3;
    size_t na = (size_t)m * k, nb = (size_t)n * k, nc = (size_t)m * ldc;
    float *a = rvec(na, -1, 1), *b = rvec(nb, -1, 1), *bv = rvec((size_t)n, -1, 1);
    float *c0 = fvec(nc), *want = fvec(nc), *got = fvec(nc);
    for (size_t i = 0; i < nc; i++)
        c0[i] = want[i] = NAN;
    for (int i = 0; bias && i < m; i++)
        memcpy(want + (size_t)i * ldc, bv, (size_t)n * sizeof(float));
    dlh_buffer *ba = up(dut, a, na * sizeof(float)), *bb = up(dut, b, nb * sizeof(float));
    dlh_buffer *bc = up(dut, want, nc * sizeof(float));
    dlh_buffer *bs = up(dut, bv, (size_t)n * sizeof(float));
    int rr = dut->ops->gemm(dut->ctx, 0, 1, m, n, k, 1.0f, at(ba, 0), k, at(bb, 0), k,
                            bias ? 1.0f : 0.0f, at(bc, 0), ldc);
    if (rr == 0)
        rr = down(dut, bc, want, nc * sizeof(float));
    for (int i = 0; rr == 0 && act && i < m; i++)
        for (int j = 0; j < n; j++) {
            float *v = want + (size_t)i * ldc + j;
            *v = *v > 0.0f ? *v : 0.0f;
        }
    release(dut, bc);
    bc = up(dut, c0, nc * sizeof(float));
    dlh_mem none = { NULL, 0 };
    int rd = rr ? 0 : dut->ops->gemm_bias_act(dut->ctx, m, n, k, at(ba, 0), k, at(bb, 0), k,
                                              bias ? at(bs, 0) : none, act, at(bc, 0), ldc);
    if (rd == 0 && rr == 0)
        rd = down(dut, bc, got, nc * sizeof(float));
    release(dut, ba);
    release(dut, bb);
    release(dut, bc);
    release(dut, bs);
    if (check_rc(rr, rd, "gemm_bias_act") && memcmp(want, got, nc * sizeof(float)) != 0)
        case_fail("C: not the bits of bias, gemm and relu one after another");
    case_end("gemm_bias_act %dx%dx%d, %s bias, act %s", m, n, k, bias ? "with" : "no",
             act ? "relu" : "none");
}

static void test_gemm_bias_act(void)
{
    static const int shapes[][3] = { { 128, 512, 784 }, { 300, 64, 200 }, { 8, 10, 16 },
                                     { 128, 10, 256 } };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int bias = 0; bias < 2; bias++)
            for (int act = 0; act < 2; act++)
                gemm_bias_act_case(shapes[i][0], shapes[i][1], shapes[i][2], bias, act);
    /* act must be 0 or 1. */
    if (DLH_BACKEND_HAS(dut->ops, gemm_bias_act)) {
        case_begin();
        float *a = rvec(4, -1, 1);
        dlh_buffer *ba = up(dut, a, 4 * sizeof(float)), *bc = up(dut, a, 4 * sizeof(float));
        dlh_mem none = { NULL, 0 };
        int rc = dut->ops->gemm_bias_act(dut->ctx, 2, 2, 1, at(ba, 0), 1, at(ba, 0), 1, none,
                                         2, at(bc, 0), 2);
        if (rc != DLH_EINVAL)
            case_fail("act 2 gave %d, not DLH_EINVAL", rc);
        release(dut, ba);
        release(dut, bc);
        case_end("gemm_bias_act refuses act 2");
    }
}

static void test_gemm(void)
{
    static const int shapes[][3] = { { 1, 1, 1 }, { 3, 5, 7 }, { 17, 13, 9 }, { 65, 33, 127 },
                                     { 127, 65, 17 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                gemm_case(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 1.5f, -0.5f, 3, 0,
                          0, 0, 0);
    gemm_case(0, 0, 7, 6, 5, 1.0f, 0.0f, 0, 0, 0, 0, 0);
    gemm_case(1, 1, 7, 6, 5, 2.0f, 1.0f, 1, 0, 0, 0, 0);
    gemm_case(0, 1, 5, 4, 3, 1.0f, 0.0f, 2, 1, 0, 0, 0);   /* beta 0: C is not read */
    gemm_case(1, 0, 4, 3, 0, 1.0f, 0.5f, 1, 0, 0, 0, 0);   /* k = 0: C = beta C */
    gemm_case(0, 0, 64, 10, 784, 1.0f, 0.0f, 0, 1, 0, 0, 0); /* the MLP's first layer */
    gemm_case(0, 0, 130, 257, 96, -1.0f, 0.25f, 5, 0, 0, 0, 0);
    /* Whole tiles of the opencl backend's tiled kernels (8 x 16 with B as
       it is, 4 x 4 by 16 lanes of k with B transposed), ragged edges, and
       beta 0 over a NaN C there. */
    gemm_case(0, 1, 24, 40, 784, 1.0f, 0.0f, 0, 1, 0, 0, 0); /* dense forward */
    gemm_case(1, 0, 40, 48, 64, 1.0f, 0.0f, 1, 1, 0, 0, 0);  /* dense dW */
    gemm_case(0, 0, 33, 50, 40, 1.0f, 0.0f, 2, 1, 0, 0, 0);  /* dense dx */
    gemm_case(1, 0, 41, 37, 19, 0.5f, 2.0f, 1, 0, 0, 0, 0);

    gemm_case(0, 0, 4, 5, 6, 0.75f, 0.5f, 1, 0, 3, 1, 0);
    gemm_case(1, 0, 4, 5, 6, 0.75f, 0.5f, 1, 0, 3, 0, 1);
    gemm_case(0, 1, 3, 2, 7, 0.75f, 0.5f, 2, 0, 4, 0, 0);
    gemm_case(1, 1, 1, 1, 1, 0.75f, 0.5f, 0, 0, 2, 0, 0);
    gemm_case(0, 0, 17, 9, 33, 1.0f, 0.0f, 1, 1, 5, 0, 1);
    gemm_case(1, 1, 13, 17, 5, -1.0f, 1.0f, 3, 0, 3, 1, 0);
    gemm_case(0, 1, 9, 25, 100, 1.0f, 0.0f, 0, 0, 4, 0, 0);  /* conv dW partials */
    gemm_case(0, 0, 16, 35, 30, 1.0f, 0.0f, 1, 0, 3, 1, 0);  /* conv forward */
    gemm_case(0, 0, 6, 48, 25, 1.0f, 0.0f, 0, 0, 3, 1, 0);   /* conv1: 6 of 8 rows */
    gemm_case(1, 0, 26, 33, 16, 1.0f, 0.0f, 0, 0, 3, 1, 0);  /* conv dcol */
    gemm_case(0, 1, 8, 20, 40, 1.5f, -0.5f, 1, 0, 3, 0, 1);
}

/* ------------------------------------------------------------ ew */

typedef struct ew_operand {
    char kind;        /* data: r [-2,2)  p [0.25,2]  w [-8,8]  q [0.01,50]  g grid
                         {-1,0,1,2}  v [0,1)  s special values  h halves in [-8, 8] */
    size_t len;       /* 0: n (a full operand) */
    size_t stride;    /* 0: 1 */
} ew_operand;

/* Operands not listed are 'r', full length. */
typedef struct ew_spec {
    const char *name;
    const char *source;
    ew_operand ops[DLH_EW_MAX_OPERANDS];
    float scalars[DLH_EW_MAX_SCALARS];
    int exact;
    /* A random key (seed, stream, offset) written at scalar key_slot - 1
       with dlh_ew_key; key_slot 0: none. */
    int key_slot;
    uint64_t key[3];
} ew_spec;

static const ew_spec ew_specs[] = {
    { "arith", "in a, b; out y; scalar s;\ny = (a + b) * s - a / b + -a;\n",
      { { 'r', 0, 0 }, { 'p', 0, 0 } }, { 1.75f }, 0, 0, { 0 } },
    { "compare", "in a, b; out y;\n"
      "y = (a < b) + 2*(a <= b) + 4*(a > b) + 8*(a >= b) + 16*(a == b) + 32*(a != b);\n",
      { { 'g', 0, 0 }, { 'g', 0, 0 } }, { 0 }, 1, 0, { 0 } },
    { "unary", "in a, b; out e, l, r, q, h, g, ab, sg;\n"
      "e = exp(a); l = log(b); r = sqrt(b); q = rsqrt(b);\n"
      "h = tanh(a); g = sigmoid(a); ab = abs(a); sg = sign(a);\n",
      { { 'w', 0, 0 }, { 'q', 0, 0 } }, { 0 }, 0, 0, { 0 } },
    { "binary", "in a, b, c, z; out lo, hi, pw, sel;\n"
      "lo = min(a, c); hi = max(a, c); pw = pow(b, c); sel = select(z, b, c);\n",
      { { 'r', 0, 0 }, { 'p', 0, 0 }, { 'r', 0, 0 }, { 'g', 0, 0 } }, { 0 }, 0, 0, { 0 } },
    { "special values", "in a, b; out lo, hi, sg, ab, ng, sel, cmp;\n"
      "lo = min(a, b); hi = max(a, b); sg = sign(a); ab = abs(a); ng = -a;\n"
      "sel = select(a, b, 7);\n"
      "cmp = (a < b) + 2*(a == b) + 4*(a != b) + 8*(a >= b);\n",
      { { 's', 0, 0 }, { 's', 0, 0 } }, { 0 }, 1, 0, { 0 } },
    { "fused", "in a, b, c; out y, z, w; scalar s, t;\ny = a*b + c; z = a*s + b*t; w = a;\n",
      { { 0 } }, { 0.5f, -1.25f }, 0, 0, { 0 } },
    { "adam (inout, a local)", "in g; inout p, m, v; scalar lr, b1, b2, eps, bc1, bc2;\n"
      "m = b1*m + (1-b1)*g;\n"
      "v = b2*v + (1-b2)*g*g;\n"
      "t = (m/bc1) / (sqrt(v/bc2) + eps);\n"
      "p = p - lr*t;\n",
      { { 'r', 0, 0 }, { 'r', 0, 0 }, { 'r', 0, 0 }, { 'v', 0, 0 } },
      { 1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f, 0.001f }, 0, 0, { 0 } },
    { "broadcast", "in x, bias, scale, k, q, big; out y;\n"
      "y = x * scale + bias - k * q + big;\n",
      { { 'r', 0, 0 }, { 'r', 7, 1 }, { 'p', 3, 5 }, { 'r', 1, 1 }, { 'r', 2, 25000 },
        { 'r', 100000, 1 } }, { 0 }, 0, 0, { 0 } },
    /* ABI 1.5: floor, ceil, round and fmod are exact, so exactly the cpu's */
    { "floor ceil round fmod", "in a, h, b; out f, c, r, m, rh, mh;\n"
      "f = floor(a); c = ceil(a); r = round(a); m = fmod(a, b);\n"
      "rh = round(h) + 16*floor(h) + 256*ceil(h); mh = fmod(h, -1.5);\n",
      { { 'w', 0, 0 }, { 'h', 0, 0 }, { 'p', 0, 0 } }, { 0 }, 1, 0, { 0 } },
    { "rounding special values", "in a, b; out f, c, r, m;\n"
      "f = floor(a); c = ceil(a); r = round(a); m = fmod(a, b);\n",
      { { 's', 0, 0 }, { 's', 0, 0 } }, { 0 }, 1, 0, { 0 } },
    { "erf sin cos atan2", "in a, b, c; out e, s, co, t;\n"
      "e = erf(a); s = sin(a); co = cos(a); t = atan2(b, c);\n",
      { { 'w', 0, 0 }, { 'r', 0, 0 }, { 'r', 0, 0 } }, { 0 }, 0, 0, { 0 } },
    /* the element index and Philox draws: the cpu's bits (key words with
       the bits of NaNs and an infinity, an offset that carries) */
    { "idx uniform normal", "out ix, u, g; scalar s; key k;\n"
      "ix = idx; u = uniform(k) * s; g = normal(k);\n",
      { { 0 } }, { 2.0f }, 1, 2, { 0xffffffff7fc00001ULL, 0x7f800000ffffffffULL,
                                  0x00000000fffffff0ULL } },
    { "dropout mask", "in x; out y; key k; scalar p;\n"
      "y = select(uniform(k) < p, x / p, 0);\n",
      { { 'r', 0, 0 } }, { [DLH_EW_KEY_WORDS] = 0.75f }, 1, 1, { 42, 7, 0 } },
};
#define N_EW_SPECS (sizeof ew_specs / sizeof ew_specs[0])

static const size_t ew_sizes[] = { 1, 3, 17, 65, 127, 4099, 40000 };

static float ew_value(char kind)
{
    static const float special[] = { NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1.0f, -1.0f,
                                     2.5f, -3.0f };
    switch (kind) {
    case 'p': return urand(0.25f, 2.0f);
    case 'w': return urand(-8.0f, 8.0f);
    case 'q': return urand(0.01f, 50.0f);
    case 'g': return (float)(irand(4) - 1);
    case 'v': return urand(0.0f, 1.0f);
    case 's': return special[irand(9)];
    case 'h': return (float)(irand(33) - 16) * 0.5f;
    default: return urand(-2.0f, 2.0f);
    }
}

/* Runs kernel k (compiled on be) over n elements.  data[j] is operand j's
   whole buffer: j + 1 floats before its element 0, then lens[j] elements;
   the written operands' whole buffers land in out[j]. */
static int ew_on(dlh_backend *be, dlh_ew_kernel *k, const ew_spec *sp, size_t n,
                 float *const *data, const size_t *lens, float *const *out)
{
    const dlh_ew_program *prog = H->ew_program(k);
    int n_ops = (int)prog->n_arrays;
    dlh_buffer *bufs[DLH_EW_MAX_OPERANDS] = { NULL };
    dlh_ew_arg args[DLH_EW_MAX_OPERANDS];
    for (int j = 0; j < n_ops; j++) {
        size_t off = (size_t)j + 1;
        bufs[j] = up(be, data[j], (off + lens[j]) * sizeof(float));
        args[j].mem = at(bufs[j], off);
        args[j].len = lens[j];
        args[j].stride = sp->ops[j].stride ? sp->ops[j].stride : 1;
    }
    float scalars[DLH_EW_MAX_SCALARS];
    memcpy(scalars, sp->scalars, sizeof scalars);
    if (sp->key_slot)
        dlh_ew_key(scalars + sp->key_slot - 1, sp->key[0], sp->key[1], sp->key[2]);
    int rc = H->ew_run(k, n, args, scalars);
    for (int j = 0; j < n_ops; j++) {
        if (rc == 0 && (prog->access[j] & DLH_EW_OUT))
            rc = down(be, bufs[j], out[j], (j + 1 + lens[j]) * sizeof(float));
        release(be, bufs[j]);
    }
    return rc;
}

static void ew_case(const ew_spec *sp, dlh_ew_kernel *kr, dlh_ew_kernel *kd, size_t n)
{
    case_begin();
    const dlh_ew_program *prog = H->ew_program(kr);
    int n_ops = (int)prog->n_arrays;
    if (n_ops > DLH_EW_MAX_OPERANDS)
        bail("ew program '%s' has %d arrays", sp->name, n_ops);
    float *data[DLH_EW_MAX_OPERANDS], *want[DLH_EW_MAX_OPERANDS], *got[DLH_EW_MAX_OPERANDS];
    size_t lens[DLH_EW_MAX_OPERANDS];
    for (int j = 0; j < n_ops; j++) {
        size_t off = (size_t)j + 1;
        lens[j] = sp->ops[j].len ? sp->ops[j].len : n;
        data[j] = fvec(off + lens[j]);
        for (size_t i = 0; i < off + lens[j]; i++)
            data[j][i] = ew_value(sp->ops[j].kind);
        want[j] = fvec(off + lens[j]);
        got[j] = fvec(off + lens[j]);
    }
    int rr = ew_on(ref, kr, sp, n, data, lens, want);
    int rd = rr ? 0 : ew_on(dut, kd, sp, n, data, lens, got);
    if (check_rc(rr, rd, "ew_run"))
        for (int j = 0; j < n_ops; j++)
            if (prog->access[j] & DLH_EW_OUT)
                cmp_f(prog->array_names[j], want[j], got[j], NULL, j + 1 + lens[j],
                      sp->exact ? 0 : TOL_EW);
    case_end("ew %s: n=%zu", sp->name, n);
}

static void test_ew(void)
{
    for (size_t p = 0; p < N_EW_SPECS; p++) {
        const ew_spec *sp = &ew_specs[p];
        dlh_ew_kernel *kr = NULL, *kd = NULL;
        if (H->ew_compile(ref, sp->source, &kr) != 0)
            bail("ew program '%s' on the reference: %s", sp->name, dlh_error_get());
        int rc = H->ew_compile(dut, sp->source, &kd);
        if (rc != 0) {
            if (!g_quiet)
                ok(0, "%s: ew %s: compile (%d: %s)", dut_label, sp->name, rc, dlh_error_get());
            H->ew_free(kr);
            continue;
        }
        for (size_t s = 0; s < sizeof ew_sizes / sizeof ew_sizes[0]; s++)
            ew_case(sp, kr, kd, ew_sizes[s]);
        H->ew_free(kr);
        H->ew_free(kd);
    }
}

/* The programs above between them use every opcode (checked once, on the
   reference: the host compiles the same instructions for every backend). */
static void test_ew_coverage(void)
{
    int seen[DLH_EW_OPCODE_COUNT] = { 0 };
    for (size_t p = 0; p < N_EW_SPECS; p++) {
        dlh_ew_kernel *k = NULL;
        if (H->ew_compile(ref, ew_specs[p].source, &k) != 0)
            bail("ew program '%s': %s", ew_specs[p].name, dlh_error_get());
        const dlh_ew_program *prog = H->ew_program(k);
        for (uint32_t i = 0; i < prog->n_instrs; i++)
            if (prog->instrs[i].op < DLH_EW_OPCODE_COUNT)
                seen[prog->instrs[i].op] = 1;
        H->ew_free(k);
    }
    int count = 0;
    char missing[256] = "";
    for (int op = 0; op < DLH_EW_OPCODE_COUNT; op++) {
        count += seen[op];
        if (!seen[op])
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), " %d", op);
    }
    ok(count == DLH_EW_OPCODE_COUNT, "the ew programs of the suite use all %d opcodes%s%s",
       DLH_EW_OPCODE_COUNT, missing[0] ? "; missing:" : "", missing);
}

/* ------------------------------------------------------------ reduce, softmax */

static int reduce_on(dlh_backend *be, int op, int axis, int rows, int cols, const float *x,
                     size_t nx, float *out, int32_t *idx, size_t nout, int with_idx)
{
    const size_t ox = 3, oo = 2, oi = 1;
    dlh_buffer *bx = up(be, x, nx * sizeof(float));
    float *init = fvec(oo + nout);
    int32_t *iinit = ivec(oi + nout);
    for (size_t i = 0; i < oo + nout; i++)
        init[i] = 55.0f;
    for (size_t i = 0; i < oi + nout; i++)
        iinit[i] = -7;
    dlh_buffer *bo = up(be, init, (oo + nout) * sizeof(float));
    dlh_buffer *bi = up(be, iinit, (oi + nout) * sizeof(int32_t));
    int rc = be->ops->reduce(be->ctx, (dlh_reduce_op)op, axis, rows, cols, at(bx, ox),
                             at(bo, oo), with_idx ? at(bi, oi) : at(NULL, 0));
    if (rc == 0)
        rc = down(be, bo, out, (oo + nout) * sizeof(float));
    if (rc == 0)
        rc = down(be, bi, idx, (oi + nout) * sizeof(int32_t));
    release(be, bx);
    release(be, bo);
    release(be, bi);
    return rc;
}

static void reduce_case(int op, int axis, int rows, int cols, const float *given,
                        int ties, int with_idx)
{
    static const char *const names[] = { "sum", "max", "sumsq" };
    case_begin();
    size_t n = (size_t)rows * cols, nx = 3 + n;
    size_t nout = (size_t)(axis ? rows : cols), no = 2 + nout, ni = 1 + nout;
    float *x = fvec(nx);
    for (size_t i = 0; i < nx; i++)
        x[i] = given ? (i < 3 ? 0.0f : given[i - 3])
                     : ties ? (float)(irand(4) - 2) : 4.0f * frand();
    float *want = fvec(no), *got = fvec(no), *mag = fvec(no);
    int32_t *iw = ivec(ni), *ig = ivec(ni);
    int rr = reduce_on(ref, op, axis, rows, cols, x, nx, want, iw, nout, with_idx);
    if (rr == 0 && op != DLH_REDUCE_MAX) {
        int32_t *scratch_i = ivec(ni);
        rr = reduce_on(ref, op, axis, rows, cols, absdup(x, nx), nx, mag, scratch_i, nout, 0);
        mag[0] = mag[1] = 0.0f;     /* the cells before the offset must stay */
    }
    int rd = rr ? 0 : reduce_on(dut, op, axis, rows, cols, x, nx, got, ig, nout, with_idx);
    if (check_rc(rr, rd, "reduce")) {
        if (op == DLH_REDUCE_MAX) {
            cmp_f("out", want, got, NULL, no, 0);
            cmp_i("idx", iw, ig, ni);
        } else {
            cmp_f("out", want, got, mag, no, TOL_ACCUM);
        }
    }
    case_end("reduce %s%s axis %d on %dx%d%s", names[op],
             op == DLH_REDUCE_MAX ? (with_idx ? " + argmax" : " (no idx)") : "", axis, rows,
             cols, given ? " (with NaN)" : ties ? " (ties: first index)" : "");
}

static void test_reduce(void)
{
    static const int shapes[][3] = { { 1, 1, 0 }, { 1, 7, 0 }, { 5, 1, 0 }, { 13, 300, 0 },
                                     { 9, 11, 1 }, { 300, 600, 1 }, { 333, 517, 0 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int axis = 0; axis < 2; axis++)
            for (int op = 0; op < 3; op++)
                reduce_case(op, axis, shapes[s][0], shapes[s][1], NULL, shapes[s][2], 1);
    reduce_case(DLH_REDUCE_MAX, 1, 17, 65, NULL, 1, 0);
    static const float with_nan[] = { 1, NAN, 3, 4, 5, 6, NAN, 0, 2, 7, 7, -1 };
    reduce_case(DLH_REDUCE_MAX, 1, 4, 3, with_nan, 0, 1);
    reduce_case(DLH_REDUCE_MAX, 0, 4, 3, with_nan, 0, 1);
}

static int softmax_on(dlh_backend *be, int lg, int rows, int cols, const float *x, size_t nx,
                      int inplace, float *out, size_t ny)
{
    const size_t ox = 2, oy = inplace ? 2 : 5;
    dlh_buffer *bx = up(be, x, nx * sizeof(float));
    dlh_buffer *by = inplace ? bx : up(be, x, ny * sizeof(float));
    int rc = be->ops->softmax(be->ctx, lg, rows, cols, at(bx, ox), at(by, oy));
    if (rc == 0)
        rc = down(be, by, out, ny * sizeof(float));
    if (!inplace)
        release(be, by);
    release(be, bx);
    return rc;
}

static void softmax_case(int lg, int rows, int cols, float shift, float spread, int inplace)
{
    case_begin();
    size_t n = (size_t)rows * cols, nx = 2 + n, oy = inplace ? 2 : 5, ny = oy + n;
    float *x = fvec(ny > nx ? ny : nx);
    for (size_t i = 0; i < (ny > nx ? ny : nx); i++)
        x[i] = shift + spread * frand();
    float *want = fvec(ny), *got = fvec(ny), *scale = fvec(ny);
    int rr = softmax_on(ref, lg, rows, cols, x, nx, inplace, want, ny);
    int rd = rr ? 0 : softmax_on(dut, lg, rows, cols, x, nx, inplace, got, ny);
    for (size_t i = 0; i < ny; i++) {
        if (i < oy) {
            scale[i] = 0.0f;            /* before the output: unchanged */
        } else if (lg) {
            double xi = fabs(x[2 + i - oy]), r = fabs(want[i]);
            scale[i] = (float)(xi > r ? (xi > 1 ? xi : 1) : (r > 1 ? r : 1));
        } else {
            scale[i] = fabsf(want[i]) + 1e-6f;
        }
    }
    if (check_rc(rr, rd, "softmax"))
        cmp_f("y", want, got, scale, ny, lg ? TOL_LOGSOFTMAX : TOL_SOFTMAX);
    case_end("%s %dx%d values %g +- %g%s", lg ? "log_softmax" : "softmax", rows, cols, shift,
             spread, inplace ? ", in place" : "");
}

static void test_softmax(void)
{
    for (int lg = 0; lg < 2; lg++) {
        softmax_case(lg, 1, 1, 0, 1, 0);
        softmax_case(lg, 1, 1, 0, 1, 1);
        softmax_case(lg, 4, 10, 0, 3, 0);
        softmax_case(lg, 3, 1000, 1000, 50, 0);     /* exp(1000) overflows float */
        softmax_case(lg, 5, 7, -1000, 20, 1);
        softmax_case(lg, 64, 10, 0, 8, 1);          /* a batch of class scores */
        softmax_case(lg, 300, 200, 0, 5, 1);
        softmax_case(lg, 257, 130, 88, 10, 0);
    }
}

/* ------------------------------------------------------------ im2col, col2im */

static dlh_window2d window(int c, int h, int w, int kh, int kw, int sh, int sw, int ph,
                           int pw, int dh, int dw)
{
    dlh_window2d g = { sizeof(dlh_window2d), c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, 0, 0 };
    g.oh = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
    g.ow = (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
    return g;
}

static size_t img_size(const dlh_window2d *g, int n)
{
    return (size_t)n * g->c * g->h * g->w;
}

static size_t col_size(const dlh_window2d *g, int n)
{
    return (size_t)n * g->c * g->kh * g->kw * g->oh * g->ow;
}

/* im2col (back = 0) from img into col, or col2im (back = 1) adding col into
   img; returns the written buffer (col or img) in out.  Offsets: img 3,
   col 1. */
static int image_on(dlh_backend *be, int back, const dlh_window2d *g, int n, const float *img,
                    size_t nimg, const float *col, size_t ncol, float *out)
{
    dlh_buffer *bi = up(be, img, nimg * sizeof(float));
    dlh_buffer *bc = up(be, col, ncol * sizeof(float));
    int rc = back ? be->ops->col2im(be->ctx, g, n, at(bc, 1), at(bi, 3))
                  : be->ops->im2col(be->ctx, g, n, at(bi, 3), at(bc, 1));
    if (rc == 0)
        rc = back ? down(be, bi, out, nimg * sizeof(float))
                  : down(be, bc, out, ncol * sizeof(float));
    release(be, bi);
    release(be, bc);
    return rc;
}

static const char *geom(const dlh_window2d *g, int n)
{
    static char buf[160];
    snprintf(buf, sizeof buf, "n=%d c=%d %dx%d k %dx%d s %dx%d p %dx%d d %dx%d -> %dx%d", n,
             g->c, g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->ph, g->pw, g->dh, g->dw, g->oh,
             g->ow);
    return buf;
}

static void image_case(const dlh_window2d *g, int n, const char *what)
{
    size_t ni = 3 + img_size(g, n), nc = 1 + col_size(g, n);
    for (int back = 0; back < 2; back++) {
        case_begin();
        float *img = rvec(ni, -1, 1), *col = rvec(nc, -1, 1);
        size_t no = back ? ni : nc;
        float *want = fvec(no), *got = fvec(no), *mag = NULL;
        int rr = image_on(ref, back, g, n, img, ni, col, nc, want);
        if (rr == 0 && back) {
            float *mi = absdup(img, ni);
            mi[0] = mi[1] = mi[2] = 0.0f;
            mag = fvec(no);
            rr = image_on(ref, 1, g, n, mi, ni, absdup(col, nc), nc, mag);
        }
        int rd = rr ? 0 : image_on(dut, back, g, n, img, ni, col, nc, got);
        if (check_rc(rr, rd, back ? "col2im" : "im2col"))
            cmp_f(back ? "img" : "col", want, got, mag, no, back ? TOL_ACCUM : 0);
        case_end("%s %s: %s", back ? "col2im" : "im2col", what, geom(g, n));
    }
}

static void test_image(void)
{
    dlh_window2d g;
    g = window(3, 7, 6, 3, 2, 2, 2, 1, 1, 2, 2);
    image_case(&g, 2, "stride 2, padding 1, dilation 2");
    g = window(2, 5, 5, 1, 1, 1, 1, 0, 0, 1, 1);
    image_case(&g, 1, "1x1");
    g = window(1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1);
    image_case(&g, 1, "single pixel");
    g = window(2, 6, 9, 2, 3, 1, 2, 0, 2, 1, 3);
    image_case(&g, 3, "asymmetric");
    g = window(4, 5, 4, 3, 3, 1, 1, 2, 2, 1, 1);
    image_case(&g, 2, "padding 2");
    g = window(8, 20, 21, 3, 3, 1, 1, 1, 1, 1, 1);
    image_case(&g, 4, "large");
    /* ABI 1.6: output sizes other than the window's. */
    g = window(3, 6, 5, 2, 4, 1, 1, 0, 1, 1, 1);
    g.oh++;
    g.ow++;
    image_case(&g, 2, "one more row and column (padding \"same\", even kernel)");
    g = window(2, 9, 10, 3, 3, 2, 2, 1, 1, 3, 3);
    g.oh--;
    g.ow--;
    image_case(&g, 2, "fewer rows and columns (output_padding >= stride)");
}

/* ------------------------------------------------------------ conv2d primitives */

/* The optional conv2d primitives (ABI 1.9) on a backend that offers them,
   against im2col + gemm (+ col2im) run on that same backend: forward,
   backward data, backward weights with beta 0 and 1.  Outputs start as NaN
   where the primitive overwrites them.  Bias and its gradient are added on
   the host in double.  scale (TOL_ACCUM) is the same computation over the
   inputs' absolute values.  Between the cpu backend's instances
   (threads = 1 and the default) the primitives must agree bit for bit:
   their numerics do not depend on the thread count. */

typedef struct conv_io {
    float *y, *dx, *dw0, *db0, *dw1, *db1;  /* forward; backward data; beta 0; beta 1 */
} conv_io;

static int has_conv2d(const dlh_backend *be)
{
    const dlh_backend_ops *o = be->ops;
    return o->struct_size >= offsetof(dlh_backend_ops, conv2d_backward_weights) +
                                 sizeof o->conv2d_backward_weights &&
           o->conv2d_prepare != NULL;
}

static size_t conv_wsize(const dlh_conv2d_desc *d)
{
    return (size_t)d->out_c * (d->g.c / d->groups) * d->g.kh * d->g.kw;
}

static size_t conv_ysize(const dlh_conv2d_desc *d, int n)
{
    return (size_t)n * d->out_c * d->g.oh * d->g.ow;
}

/* im2col + gemm on be for batch n: y (no bias), dx, and dw summed over the
   batch onto dwi (beta 1), into io (db and the bias left to the host). */
static int conv_fallback(dlh_backend *be, const dlh_conv2d_desc *d, int n, const float *x,
                         const float *w, const float *dy, const float *dwi, conv_io *io)
{
    const dlh_window2d *g = &d->g;
    int G = d->groups, og = d->out_c / G, P = g->oh * g->ow;
    int K = g->c / G * g->kh * g->kw;
    size_t nx = img_size(g, n), nw = conv_wsize(d), ny = conv_ysize(d, n);
    size_t nc = col_size(g, n);
    dlh_buffer *bx = up(be, x, nx * 4), *bw = up(be, w, nw * 4), *bdy = up(be, dy, ny * 4);
    dlh_buffer *bc = up(be, NULL, nc * 4), *by = up(be, NULL, ny * 4);
    dlh_buffer *bdw = up(be, dwi, nw * 4), *bdx = up(be, NULL, nx * 4);
    const dlh_backend_ops *o = be->ops;
    int rc = o->im2col(be->ctx, g, n, at(bx, 0), at(bc, 0));
    for (int i = 0; i < n && rc == 0; i++)
        for (int j = 0; j < G && rc == 0; j++) {
            size_t wo = (size_t)j * og * K, co = ((size_t)i * G + j) * K * P;
            size_t yo = ((size_t)i * d->out_c + (size_t)j * og) * P;
            rc = o->gemm(be->ctx, 0, 0, og, P, K, 1.0f, at(bw, wo), K, at(bc, co), P, 0.0f,
                         at(by, yo), P);
            if (rc == 0)
                rc = o->gemm(be->ctx, 0, 1, og, K, P, 1.0f, at(bdy, yo), P, at(bc, co), P,
                             1.0f, at(bdw, wo), K);
        }
    /* dcol = W^T dy into col, then col2im into zeros. */
    for (int i = 0; i < n && rc == 0; i++)
        for (int j = 0; j < G && rc == 0; j++) {
            size_t wo = (size_t)j * og * K, co = ((size_t)i * G + j) * K * P;
            size_t yo = ((size_t)i * d->out_c + (size_t)j * og) * P;
            rc = o->gemm(be->ctx, 1, 0, K, P, og, 1.0f, at(bw, wo), K, at(bdy, yo), P, 0.0f,
                         at(bc, co), P);
        }
    if (rc == 0)
        rc = o->fill(be->ctx, at(bdx, 0), nx, 0.0f);
    if (rc == 0)
        rc = o->col2im(be->ctx, g, n, at(bc, 0), at(bdx, 0));
    if (rc == 0)
        rc = down(be, by, io->y, ny * 4);
    if (rc == 0)
        rc = down(be, bdx, io->dx, nx * 4);
    if (rc == 0)
        rc = down(be, bdw, io->dw1, nw * 4);
    dlh_buffer *all[] = { bx, bw, bdy, bc, by, bdw, bdx };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        release(be, all[i]);
    return rc;
}

/* The host's part of the fallback: y += bias, db = dbi + sum of dy. */
static void conv_host_bias(const dlh_conv2d_desc *d, int n, const float *b, const float *dy,
                           const float *dbi, conv_io *io)
{
    int P = d->g.oh * d->g.ow;
    for (int c = 0; c < d->out_c; c++) {
        double s = 0;
        for (int i = 0; i < n; i++)
            for (int p = 0; p < P; p++) {
                size_t k = ((size_t)i * d->out_c + c) * P + p;
                io->y[k] += b[c];
                s += dy[k];
            }
        io->db1[c] = (float)(dbi[c] + s);
    }
}

/* The primitives on be for batch n under a plan for d->n (bias as d says):
   forward, backward data, backward weights with beta 0 then beta 1 onto
   dwi, dbi. */
static int conv_prims(dlh_backend *be, const dlh_conv2d_desc *d, int n, const float *x,
                      const float *w, const float *b, const float *dy, const float *dwi,
                      const float *dbi, conv_io *io, const char **failed)
{
    const dlh_window2d *g = &d->g;
    size_t nx = img_size(g, n), nw = conv_wsize(d), ny = conv_ysize(d, n);
    size_t nb = (size_t)d->out_c;
    float *nan = fvec(nx > ny ? (nx > nw ? nx : nw) : (ny > nw ? ny : nw));
    for (size_t i = 0; i < (nx > ny ? (nx > nw ? nx : nw) : (ny > nw ? ny : nw)); i++)
        nan[i] = NAN;
    void *plan = NULL;
    const dlh_backend_ops *o = be->ops;
    int rc = o->conv2d_prepare(be->ctx, d, &plan);
    *failed = "conv2d_prepare";
    if (rc != 0)
        return rc;
    dlh_buffer *bx = up(be, x, nx * 4), *bw = up(be, w, nw * 4), *bdy = up(be, dy, ny * 4);
    dlh_buffer *bb = up(be, b, nb * 4), *by = up(be, nan, ny * 4);
    dlh_buffer *bdx = up(be, nan, nx * 4), *bdw = up(be, nan, nw * 4);
    dlh_buffer *bdb = up(be, nan, nb * 4);
    dlh_mem none = { NULL, 0 };
    *failed = "conv2d_forward";
    rc = o->conv2d_forward(be->ctx, plan, n, at(bx, 0), at(bw, 0),
                           d->has_bias ? at(bb, 0) : none, at(by, 0));
    if (rc == 0 && (*failed = "conv2d_backward_data") &&
        (rc = o->conv2d_backward_data(be->ctx, plan, n, at(bdy, 0), at(bw, 0),
                                      at(bdx, 0))) == 0 &&
        (*failed = "conv2d_backward_weights beta 0") &&
        (rc = o->conv2d_backward_weights(be->ctx, plan, n, at(bx, 0), at(bdy, 0), 0.0f,
                                         at(bdw, 0), d->has_bias ? at(bdb, 0) : none)) == 0) {
        rc = down(be, bdw, io->dw0, nw * 4);
        if (rc == 0 && d->has_bias)
            rc = down(be, bdb, io->db0, nb * 4);
        if (rc == 0)
            rc = o->write(be->ctx, bdw, 0, dwi, nw * 4);
        if (rc == 0)
            rc = o->write(be->ctx, bdb, 0, dbi, nb * 4);
        *failed = "conv2d_backward_weights beta 1";
        if (rc == 0)
            rc = o->conv2d_backward_weights(be->ctx, plan, n, at(bx, 0), at(bdy, 0), 1.0f,
                                            at(bdw, 0), d->has_bias ? at(bdb, 0) : none);
    }
    *failed = rc ? *failed : "read";
    if (rc == 0 && (rc = down(be, by, io->y, ny * 4)) == 0 &&
        (rc = down(be, bdx, io->dx, nx * 4)) == 0 && (rc = down(be, bdw, io->dw1, nw * 4)) == 0 &&
        d->has_bias)
        rc = down(be, bdb, io->db1, nb * 4);
    /* A batch past the plan's is refused. */
    if (rc == 0 && o->conv2d_forward(be->ctx, plan, d->n + 1, at(bx, 0), at(bw, 0),
                                     d->has_bias ? at(bb, 0) : none, at(by, 0)) == 0) {
        *failed = "a batch past the plan's (accepted)";
        rc = DLH_EINVAL;
    }
    o->conv2d_release(be->ctx, plan);
    dlh_buffer *all[] = { bx, bw, bdy, bb, by, bdx, bdw, bdb };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        release(be, all[i]);
    return rc;
}

static conv_io conv_io_new(const dlh_conv2d_desc *d, int n)
{
    size_t nb = (size_t)d->out_c, nw = conv_wsize(d);
    conv_io io = { fvec(conv_ysize(d, n)), fvec(img_size(&d->g, n)), fvec(nw), fvec(nb),
                   fvec(nw), fvec(nb) };
    return io;
}

static const char *conv_geom(const dlh_conv2d_desc *d, int n)
{
    static char buf[240];
    snprintf(buf, sizeof buf, "%s, out_c %d, groups %d, %s, batch %d of plan %d",
             geom(&d->g, n), d->out_c, d->groups, d->has_bias ? "bias" : "no bias", n, d->n);
    return buf;
}

/* v rounded to bf16 (nearest, ties to even; the values here are finite). */
static float *bf16dup(const float *v, size_t n)
{
    float *r = fvec(n);
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
        memcpy(&r[i], &u, 4);
    }
    return r;
}

static void conv_case(const dlh_window2d *g, int out_c, int groups, int has_bias, int plan_n,
                      int n, const char *what)
{
    dlh_conv2d_desc d = { sizeof d, *g, plan_n, out_c, groups, has_bias };
    size_t nx = img_size(g, n), nw = conv_wsize(&d), ny = conv_ysize(&d, n);
    size_t nb = (size_t)out_c;
    float *x = rvec(nx, -1, 1), *w = rvec(nw, -1, 1), *b = rvec(nb, -1, 1);
    float *dy = rvec(ny, -1, 1), *dwi = rvec(nw, -1, 1), *dbi = rvec(nb, -1, 1);
    float *zw = fvec(nw), *zb = fvec(nb);
    /* The fallback, its scale (absolute values), the primitives. */
    conv_io want = conv_io_new(&d, n), mag = conv_io_new(&d, n), got = conv_io_new(&d, n);
    int rr = conv_fallback(dut, &d, n, x, w, dy, zw, &want);
    float *gw = fvec(nw), *gb = fvec(nb);
    if (rr == 0) {
        memcpy(gw, want.dw1, nw * 4);          /* the gradient alone */
        /* In bf16 the bias gradient sums dy as rounded for the products
           (torch's autocast conv does the same). */
        conv_host_bias(&d, n, has_bias ? b : zb, dut_bf16 ? bf16dup(dy, ny) : dy, zb, &want);
        memcpy(gb, want.db1, nb * 4);
        rr = conv_fallback(dut, &d, n, absdup(x, nx), absdup(w, nw), absdup(dy, ny), zw, &mag);
    }
    if (rr == 0)
        conv_host_bias(&d, n, has_bias ? absdup(b, nb) : zb, absdup(dy, ny), zb, &mag);
    const char *failed = NULL;
    int rd = rr ? 0 : conv_prims(dut, &d, n, x, w, b, dy, dwi, dbi, &got, &failed);
    /* beta 1: the initial values plus the gradient; beta 0 the gradient. */
    float *w1 = fvec(nw), *m1 = fvec(nw), *b1 = fvec(nb), *mb1 = fvec(nb);
    for (size_t i = 0; i < nw; i++) {
        w1[i] = dwi[i] + gw[i];
        m1[i] = fabsf(dwi[i]) + mag.dw1[i];
    }
    for (size_t i = 0; i < nb; i++) {
        b1[i] = dbi[i] + gb[i];
        mb1[i] = fabsf(dbi[i]) + mag.db1[i];
    }
    if (rr != 0)
        bail("%s: im2col + gemm failed: %s", dut_label, dlh_error_get());
    case_begin();
    if (check_rc(0, rd, failed)) {
        cmp_f("y", want.y, got.y, mag.y, ny, TOL_ACCUM);
        cmp_f("dx", want.dx, got.dx, mag.dx, nx, TOL_ACCUM);
        cmp_f("dw (beta 0)", gw, got.dw0, mag.dw1, nw, TOL_ACCUM);
        cmp_f("dw (beta 1)", w1, got.dw1, m1, nw, TOL_ACCUM);
        if (has_bias) {
            cmp_f("db (beta 0)", gb, got.db0, mag.db1, nb, TOL_ACCUM);
            cmp_f("db (beta 1)", b1, got.db1, mb1, nb, TOL_ACCUM);
        }
    }
    /* The default cpu instance's primitives give the same bits. */
    if (cs.pass && dut != ref && !dut_bf16 && strncmp(dut_label, "cpu", 3) == 0 &&
        has_conv2d(ref)) {
        conv_io r = conv_io_new(&d, n);
        const char *rf = NULL;
        if (conv_prims(ref, &d, n, x, w, b, dy, dwi, dbi, &r, &rf) != 0)
            bail("the reference cpu backend failed %s: %s", rf, dlh_error_get());
        cmp_f("y (threads)", r.y, got.y, NULL, ny, 0);
        cmp_f("dx (threads)", r.dx, got.dx, NULL, nx, 0);
        cmp_f("dw (threads)", r.dw1, got.dw1, NULL, nw, 0);
        if (has_bias)
            cmp_f("db (threads)", r.db1, got.db1, NULL, nb, 0);
    }
    case_end("conv2d primitives %s: %s", what, conv_geom(&d, n));
}

static void test_conv2d(void)
{
    if (!has_conv2d(dut)) {
        printf("ok %d # SKIP %s: no conv2d primitives\n", ++tap_n_, dut_label);
        return;
    }
    /* Is this shape taken at all (the cpu backend's onednn = false refuses)? */
    dlh_window2d g = window(3, 8, 7, 3, 3, 1, 1, 1, 1, 1, 1);
    dlh_conv2d_desc d = { sizeof d, g, 2, 4, 1, 1 };
    void *plan = NULL;
    int rc = dut->ops->conv2d_prepare(dut->ctx, &d, &plan);
    dut->ops->conv2d_release(dut->ctx, plan);
    if (rc == DLH_EUNSUPPORTED) {
        printf("ok %d # SKIP %s: conv2d_prepare refuses this shape (%s)\n", ++tap_n_,
               dut_label, dlh_error_get());
        return;
    }
    conv_case(&g, 4, 1, 1, 2, 2, "3x3, padding 1");
    g = window(4, 9, 8, 3, 2, 2, 2, 0, 1, 1, 1);
    conv_case(&g, 6, 2, 0, 3, 3, "groups 2, stride 2");
    g = window(5, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1);
    conv_case(&g, 5, 5, 1, 4, 4, "depthwise");
    g = window(3, 6, 6, 3, 3, 2, 1, 1, 1, 1, 1);
    conv_case(&g, 6, 3, 1, 2, 2, "depthwise x2, stride [2, 1]");
    g = window(3, 6, 5, 2, 4, 1, 1, 0, 1, 1, 1);
    g.oh = g.h;
    g.ow = g.w;
    conv_case(&g, 4, 1, 1, 2, 2, "padding \"same\", even kernel [2, 4] (asymmetric)");
    g = window(2, 9, 8, 3, 3, 1, 1, 2, 2, 2, 2);
    conv_case(&g, 3, 1, 1, 2, 2, "dilation 2, padding 2");
    g = window(2, 7, 9, 2, 3, 1, 1, 0, 0, 3, 2);
    g.oh = g.h;
    g.ow = g.w;
    conv_case(&g, 4, 2, 0, 2, 2, "padding \"same\", dilation [3, 2], groups 2");
    g = window(3, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1);
    conv_case(&g, 5, 1, 1, 7, 3, "batch 3 of a plan for 7");
    conv_case(&g, 5, 1, 1, 7, 1, "batch 1 of a plan for 7");
    g = window(6, 14, 14, 5, 5, 1, 1, 0, 0, 1, 1);
    conv_case(&g, 16, 1, 1, 9, 9, "LeNet's second, 5x5");
    g = window(1, 28, 28, 5, 5, 1, 1, 2, 2, 1, 1);
    conv_case(&g, 6, 1, 1, 5, 5, "LeNet's first, one channel");
    g = window(2, 5, 5, 1, 1, 1, 1, 0, 0, 1, 1);
    conv_case(&g, 3, 1, 0, 2, 2, "1x1");
    /* The cpu backend's direct backward data (at most 8 input channels):
       two 16-column chunks and a tail, 9 channels (two blocks) past it. */
    g = window(7, 11, 37, 3, 4, 1, 1, 2, 3, 1, 1);
    conv_case(&g, 5, 1, 1, 3, 3, "7 channels, 37 wide, kernel [3, 4], padding [2, 3]");
    g = window(3, 9, 6, 5, 2, 1, 1, 0, 1, 1, 1);
    g.oh = g.h;
    g.ow = g.w;
    conv_case(&g, 20, 1, 0, 4, 3, "padding \"same\", kernel [5, 2] (bottom 4, right 0)");
    g = window(9, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1);
    conv_case(&g, 4, 1, 1, 2, 2, "9 channels, 3x3");
}

/* ------------------------------------------------------------ pooling */

/* Forward: x (offset 2) into y (offset 3) and idx (offset 1); relu:
   pool2d_max_relu (op max). */
static int pool_fwd_on(dlh_backend *be, int op, int relu, const dlh_window2d *g, int n,
                       const float *x, size_t nx, float *y, size_t ny, int32_t *idx)
{
    float *y0 = fvec(ny);
    int32_t *i0 = ivec(ny - 2);
    for (size_t i = 0; i < ny; i++)
        y0[i] = 31.0f;
    for (size_t i = 0; i < ny - 2; i++)
        i0[i] = -5;
    dlh_buffer *bx = up(be, x, nx * sizeof(float)), *by = up(be, y0, ny * sizeof(float));
    dlh_buffer *bi = up(be, i0, (ny - 2) * sizeof(int32_t));
    int rc = relu ? be->ops->pool2d_max_relu(be->ctx, g, n, at(bx, 2), at(by, 3), at(bi, 1))
                  : be->ops->pool2d(be->ctx, (dlh_pool_op)op, g, n, at(bx, 2), at(by, 3),
                                    at(bi, 1));
    if (rc == 0)
        rc = down(be, by, y, ny * sizeof(float));
    if (rc == 0)
        rc = down(be, bi, idx, (ny - 2) * sizeof(int32_t));
    release(be, bx);
    release(be, by);
    release(be, bi);
    return rc;
}

/* Backward: dy (offset 0) and idx (offset 1, as the forward wrote it) added
   into dx (offset 2). */
static int pool_bwd_on(dlh_backend *be, int op, const dlh_window2d *g, int n, const float *dy,
                       size_t ndy, const int32_t *idx, const float *dx0, size_t ndx,
                       float *dx)
{
    dlh_buffer *bd = up(be, dy, ndy * sizeof(float));
    dlh_buffer *bi = up(be, idx, (ndy + 1) * sizeof(int32_t));
    dlh_buffer *bx = up(be, dx0, ndx * sizeof(float));
    int rc = be->ops->pool2d_backward(be->ctx, (dlh_pool_op)op, g, n, at(bd, 0), at(bi, 1),
                                      at(bx, 2));
    if (rc == 0)
        rc = down(be, bx, dx, ndx * sizeof(float));
    release(be, bd);
    release(be, bi);
    release(be, bx);
    return rc;
}

static void pool_case(int op, const dlh_window2d *g, int n, int ties, const char *what)
{
    const char *opn = op == DLH_POOL_MAX ? "max" : op == DLH_POOL_AVG ? "avg" : "avg_pad";
    size_t nxx = img_size(g, n), nyy = (size_t)n * g->c * g->oh * g->ow;
    size_t nx = 2 + nxx, ny = 3 + nyy, ni = nyy + 1;
    /* Each backend's forward indices, kept for its backward. */
    int32_t *iw = calloc(ni, sizeof *iw), *ig = calloc(ni, sizeof *ig);
    float *x = malloc(nx * sizeof *x);
    if (!iw || !ig || !x)
        bail("out of memory");

    case_begin();
    /* All negative: a padding zero that took part would win every border max. */
    for (size_t i = 0; i < nx; i++)
        x[i] = ties ? -0.5f - (float)irand(3) : frand() - 1.5f;
    float *yw = fvec(ny), *yg = fvec(ny), *mag = NULL;
    int32_t *igot = ivec(ni);
    int rr = pool_fwd_on(ref, op, 0, g, n, x, nx, yw, ny, iw);
    if (rr == 0 && op != DLH_POOL_MAX) {
        mag = fvec(ny);
        rr = pool_fwd_on(ref, op, 0, g, n, absdup(x, nx), nx, mag, ny, ivec(ni));
        mag[0] = mag[1] = mag[2] = 0.0f;
    }
    int rd = rr ? 0 : pool_fwd_on(dut, op, 0, g, n, x, nx, yg, ny, ig);
    int fwd_ok = check_rc(rr, rd, "pool2d");
    if (fwd_ok) {
        cmp_f("y", yw, yg, mag, ny, op == DLH_POOL_MAX ? 0 : TOL_ACCUM);
        if (op == DLH_POOL_MAX) {
            memcpy(igot, ig, ni * sizeof *igot);
            cmp_i("idx", iw, igot, ni);
        }
    }
    fwd_ok = fwd_ok && cs.pass;
    case_end("pool2d %s %s: %s", opn, what, geom(g, n));

    /* Backward accumulates into a non-zero dx. */
    case_begin();
    float *dy = rvec(nyy, -1, 1), *dx0 = rvec(nx, -1, 1);
    float *dxw = fvec(nx), *dxg = fvec(nx), *dmag = fvec(nx);
    rr = pool_bwd_on(ref, op, g, n, dy, nyy, iw, dx0, nx, dxw);
    if (rr == 0) {
        float *m0 = absdup(dx0, nx);
        m0[0] = m0[1] = 0.0f;
        rr = pool_bwd_on(ref, op, g, n, absdup(dy, nyy), nyy, iw, m0, nx, dmag);
    }
    if (!fwd_ok && op == DLH_POOL_MAX) {
        if (rr != 0)
            bail("the reference cpu backend failed pool2d_backward: %s", dlh_error_get());
        case_fail("not compared: the forward's indices differ already");
    } else {
        rd = rr ? 0 : pool_bwd_on(dut, op, g, n, dy, nyy, ig, dx0, nx, dxg);
        if (check_rc(rr, rd, "pool2d_backward"))
            cmp_f("dx", dxw, dxg, dmag, nx, TOL_ACCUM);
    }
    case_end("pool2d_backward %s %s (indices from its forward): %s", opn, what, geom(g, n));
    free(iw);
    free(ig);
    free(x);
}

/* pool2d_max_relu (ABI 1.10): the bits of the reference's max pool over the
   relu layer's values (x > 0 ? x : +0; a NaN gives +0), and its indices
   where that maximum is above 0, -1 elsewhere; with NaNs of both signs,
   zeros of both signs, infinities, ties and windows that are all below 0. */
static void pool_relu_case(const dlh_window2d *g, int n, const char *what)
{
    if (!DLH_BACKEND_HAS(dut->ops, pool2d_max_relu)) {
        printf("ok %d # SKIP %s: no pool2d_max_relu (%s)\n", ++tap_n_, dut_label, what);
        return;
    }
    static const float pick[] = { 1.0f, 2.0f, -1.0f, 0.0f, -0.0f, INFINITY, -INFINITY };
    size_t nxx = img_size(g, n), nyy = (size_t)n * g->c * g->oh * g->ow;
    size_t nx = 2 + nxx, ny = 3 + nyy, ni = nyy + 1;
    case_begin();
    float *x = fvec(nx), *r = fvec(nx), *yw = fvec(ny), *yg = fvec(ny);
    int32_t *iw = ivec(ni), *ig = ivec(ni);
    for (size_t i = 0; i < nx; i++) {
        int k = irand(12);
        /* A third of the planes all below 0 but for NaNs. */
        x[i] = k < 7 ? pick[k] : k == 7 ? NAN : k == 8 ? -NAN : frand() - 0.5f;
        if ((i / 7) % 3 == 0 && !(x[i] < 0.0f) && x[i] == x[i])
            x[i] = -1.0f - frand();
        r[i] = x[i] > 0.0f ? x[i] : 0.0f;
    }
    int rr = pool_fwd_on(ref, DLH_POOL_MAX, 0, g, n, r, nx, yw, ny, iw);
    for (size_t o = 0; rr == 0 && o < nyy; o++)
        if (!(yw[3 + o] > 0.0f))
            iw[1 + o] = -1;
    int rd = rr ? 0 : pool_fwd_on(dut, DLH_POOL_MAX, 1, g, n, x, nx, yg, ny, ig);
    if (check_rc(rr, rd, "pool2d_max_relu")) {
        if (memcmp(yw, yg, ny * sizeof(float)) != 0)
            case_fail("y: not the bits of max pool over relu's values");
        cmp_i("idx", iw, ig, ni);
    }
    case_end("pool2d_max_relu %s: %s", what, geom(g, n));
}

/* pool2d_max_backward_set (ABI 1.10) on dut: the bits of the reference's
   fill with 0 and pool2d_backward, whatever dx held before (NaNs here),
   with indices from the reference's max pool (relu: pool2d_max_relu's,
   -1 where relu passes nothing) and a gradient with zeros of both signs. */
static void pool_set_case(const dlh_window2d *g, int n, int relu, const char *what)
{
    if (!DLH_BACKEND_HAS(dut->ops, pool2d_max_backward_set)) {
        printf("ok %d # SKIP %s: no pool2d_max_backward_set (%s)\n", ++tap_n_, dut_label,
               what);
        return;
    }
    size_t nx = img_size(g, n), ny = (size_t)n * g->c * g->oh * g->ow;
    case_begin();
    float *x = fvec(nx + 2), *y = fvec(ny + 3), *dy = rvec(ny, -1, 1);
    float *want = fvec(nx + 2), *got = fvec(nx), *junk = fvec(nx);
    int32_t *idx = ivec(ny + 1);
    for (size_t i = 0; i < nx + 2; i++)
        x[i] = irand(5) == 0 ? -1.0f : (float)(irand(7) - 3);
    for (size_t i = 0; i < ny; i++)
        if (irand(6) == 0)
            dy[i] = irand(2) ? -0.0f : 0.0f;
    for (size_t i = 0; i < nx; i++)
        junk[i] = NAN;
    for (size_t i = 0; i < nx + 2; i++)
        want[i] = 0.0f;
    int rr = pool_fwd_on(ref, DLH_POOL_MAX, relu, g, n, x, nx + 2, y, ny + 3, idx);
    if (rr == 0)
        rr = pool_bwd_on(ref, DLH_POOL_MAX, g, n, dy, ny, idx, want, nx + 2, want);
    int rd = 0;
    if (rr == 0) {
        dlh_buffer *bd = up(dut, dy, ny * sizeof(float));
        dlh_buffer *bi = up(dut, idx, (ny + 1) * sizeof(int32_t));
        dlh_buffer *bx = up(dut, junk, nx * sizeof(float));
        rd = dut->ops->pool2d_max_backward_set(dut->ctx, g, n, at(bd, 0), at(bi, 1),
                                                at(bx, 0));
        if (rd == 0)
            rd = down(dut, bx, got, nx * sizeof(float));
        release(dut, bd);
        release(dut, bi);
        release(dut, bx);
    }
    if (check_rc(rr, rd, "pool2d_max_backward_set") &&
        memcmp(want + 2, got, nx * sizeof(float)) != 0)
        case_fail("dx: not the bits of fill 0 and pool2d_backward");
    case_end("pool2d_max_backward_set%s %s: %s", relu ? " (relu indices)" : "", what,
             geom(g, n));
}

static void test_pool_set(void)
{
    dlh_window2d g = window(6, 28, 28, 2, 2, 2, 2, 0, 0, 1, 1);
    for (int relu = 0; relu < 2; relu++) {
        g = window(6, 28, 28, 2, 2, 2, 2, 0, 0, 1, 1);
        pool_set_case(&g, 3, relu, "2x2 s2, LeNet's first");
        g = window(3, 10, 10, 2, 2, 2, 2, 0, 0, 1, 1);
        pool_set_case(&g, 2, relu, "2x2 s2, LeNet's second");
        g = window(2, 4, 66, 2, 2, 2, 2, 0, 0, 1, 1);
        pool_set_case(&g, 2, relu, "2x2 s2, 33 windows a row");
        g = window(2, 5, 7, 2, 2, 2, 2, 0, 0, 1, 1);
        pool_set_case(&g, 2, relu, "2x2 s2, odd sizes (a row and column no window covers)");
        g = window(2, 5, 7, 3, 3, 2, 2, 1, 1, 1, 1);
        pool_set_case(&g, 2, relu, "3x3 s2 p1 (overlapping)");
    }
}

static void test_pool(void)
{
    for (int op = 0; op < 3; op++) {        /* max, avg, avg_pad (ABI 1.6) */
        dlh_window2d g = window(2, 5, 7, 3, 3, 2, 2, 1, 1, 1, 1);
        pool_case(op, &g, 2, 0, "3x3 s2 p1");
        pool_case(op, &g, 2, 1, "3x3 s2 p1 with ties");
        g = window(3, 8, 8, 2, 2, 2, 2, 0, 0, 1, 1);
        pool_case(op, &g, 1, 1, "2x2 s2");
        g = window(1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1);
        pool_case(op, &g, 1, 0, "1x1");
        g = window(2, 9, 7, 3, 2, 1, 3, 1, 1, 2, 1);
        pool_case(op, &g, 3, 1, "dilated, overlapping");
        g = window(1, 1, 1, 2, 1, 1, 1, 2, 0, 3, 1);
        pool_case(op, &g, 1, 0, "windows of padding alone");
        g = window(16, 24, 24, 3, 3, 1, 1, 1, 1, 1, 1);
        pool_case(op, &g, 4, 0, "large");
        /* ceil_mode sizes (ABI 1.6): last windows that reach past the input
           (and past the padding); a 2x2 max whose last window is cut. */
        g = window(2, 6, 9, 3, 3, 2, 3, 1, 1, 1, 1);
        g.oh = (int32_t)dlh_pool2d_ceil_size(6, 1, 3, 2);
        g.ow = (int32_t)dlh_pool2d_ceil_size(9, 1, 3, 3);
        pool_case(op, &g, 2, 0, "3x3 s[2, 3] p1 ceil_mode");
        g = window(2, 5, 7, 2, 2, 2, 2, 0, 0, 1, 1);
        g.oh = (int32_t)dlh_pool2d_ceil_size(5, 0, 2, 2);
        g.ow = (int32_t)dlh_pool2d_ceil_size(7, 0, 2, 2);
        pool_case(op, &g, 2, 1, "2x2 s2 ceil_mode, odd sizes");
    }
    dlh_window2d g = window(2, 5, 7, 3, 3, 2, 2, 1, 1, 1, 1);
    pool_relu_case(&g, 2, "3x3 s2 p1");
    g = window(3, 8, 8, 2, 2, 2, 2, 0, 0, 1, 1);
    pool_relu_case(&g, 2, "2x2 s2");
    g = window(6, 28, 28, 2, 2, 2, 2, 0, 0, 1, 1);
    pool_relu_case(&g, 3, "2x2 s2, LeNet's first");
    g = window(2, 9, 7, 3, 2, 1, 3, 1, 1, 2, 1);
    pool_relu_case(&g, 3, "dilated, overlapping");
    g = window(1, 1, 1, 2, 1, 1, 1, 2, 0, 3, 1);
    pool_relu_case(&g, 1, "windows of padding alone");
    g = window(2, 5, 7, 2, 2, 2, 2, 0, 0, 1, 1);
    g.oh = (int32_t)dlh_pool2d_ceil_size(5, 0, 2, 2);
    g.ow = (int32_t)dlh_pool2d_ceil_size(7, 0, 2, 2);
    pool_relu_case(&g, 2, "2x2 s2 ceil_mode, odd sizes");
    test_pool_set();
}

/* The cpu backend's 2x2, stride 2 max pool on each ISA it has (its AVX2 and
   AVX-512 loops, DLHOST_CPU_EW_ISA caps them): the bits and indices of a
   plain loop over the window in order (the first maximum wins, and the
   first NaN), with ties, NaNs of both signs, infinities and zeros of both
   signs, for row widths that fill vectors of 8 and 16 and leave tails, odd
   sizes whose last row and column no window covers, and without indices. */
static void pool_2x2_host(const dlh_window2d *g, int n, const float *x, float *y,
                          int32_t *idx)
{
    for (int p = 0; p < n * g->c; p++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                const float *in = x + (size_t)p * g->h * g->w;
                int32_t bi = -1;
                float best = 0.0f;
                for (int k = 0; k < 4; k++) {
                    int32_t at = (2 * oy + k / 2) * g->w + 2 * ox + k % 2;
                    float v = in[at];
                    if (bi < 0 || v > best || (isnan(v) && !isnan(best))) {
                        best = v;
                        bi = at;
                    }
                }
                size_t o = ((size_t)p * g->oh + oy) * g->ow + ox;
                y[o] = best;
                idx[o] = bi;
            }
}

/* One cap's run of test_pool_isa: pool2d max (relu: pool2d_max_relu) of
   the nx floats x, with and without indices, against the plain loop's y
   and idx (ny of each). */
static void pool_isa_case(const dlh_window2d *g, int n, int relu, const float *x, size_t nx,
                          const float *yw, const int32_t *iw, const char *cap)
{
    size_t ny = (size_t)n * g->c * g->oh * g->ow;
    const char *prim = relu ? "pool2d_max_relu" : "pool2d";
    case_begin();
    float *y = fvec(ny), *y2 = fvec(ny);
    int32_t *ig = ivec(ny);
    dlh_buffer *bx = up(ref, x, nx * sizeof(float));
    dlh_buffer *by = up(ref, NULL, ny * sizeof(float));
    dlh_buffer *bi = up(ref, NULL, ny * sizeof(int32_t));
    dlh_mem none = { NULL, 0 };
    int rc = 0;
    /* With indices, then without (evaluation). */
    for (int k = 0; k < 2 && rc == 0; k++) {
        dlh_mem idx = k == 0 ? at(bi, 0) : none;
        rc = relu ? ref->ops->pool2d_max_relu(ref->ctx, g, n, at(bx, 0), at(by, 0), idx)
                  : ref->ops->pool2d(ref->ctx, DLH_POOL_MAX, g, n, at(bx, 0), at(by, 0),
                                     idx);
        if (rc == 0)
            rc = down(ref, by, k == 0 ? y : y2, ny * sizeof(float));
        if (rc == 0 && k == 0)
            rc = down(ref, bi, ig, ny * sizeof(int32_t));
    }
    release(ref, bx);
    release(ref, by);
    release(ref, bi);
    if (check_rc(0, rc, prim)) {
        if (memcmp(yw, y, ny * sizeof(float)) != 0)
            case_fail("y: not the bits of the plain loop%s", relu ? " over relu's values" : "");
        if (memcmp(iw, ig, ny * sizeof(int32_t)) != 0)
            case_fail("idx: not the plain loop's%s", relu ? ", -1 where y is not above 0" : "");
        if (memcmp(yw, y2, ny * sizeof(float)) != 0)
            case_fail("y without indices: not the bits of the plain loop");
    }
    case_end("cpu %s%s 2x2 s2, DLHOST_CPU_EW_ISA=%s: c %d, %dx%d, ties, NaN, +-inf, +-0",
             prim, relu ? "" : " max", cap, g->c, g->h, g->w);
}

/* DLHOST_CPU_EW_ISA set to cap, or with cap NULL back to saved (the
   caller's value, NULL: unset). */
static void isa_cap(const char *cap, const char *saved)
{
    if (cap || saved)
        setenv("DLHOST_CPU_EW_ISA", cap ? cap : saved, 1);
    else
        unsetenv("DLHOST_CPU_EW_ISA");
}

static void test_pool_isa(void)
{
    dut = ref;
    dut_label = "cpu(default)";
    static const char *const caps[] = { NULL, "avx2", "baseline" };
    static const int shapes[][3] = {    /* c, h, w */
        { 2, 28, 28 }, { 3, 10, 10 }, { 1, 2, 2 }, { 2, 4, 16 }, { 1, 6, 32 },
        { 1, 3, 34 }, { 2, 7, 65 }, { 1, 2, 50 }, { 2, 5, 17 }, { 1, 8, 96 },
    };
    static const float pick[] = { 1.0f, 2.0f, -1.0f, 0.0f, -0.0f, INFINITY, -INFINITY };
    const char *keep = getenv("DLHOST_CPU_EW_ISA");
    char *saved = keep ? strdup(keep) : NULL;
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
        int n = 2;
        dlh_window2d g = window(shapes[sh][0], shapes[sh][1], shapes[sh][2], 2, 2, 2, 2, 0,
                                0, 1, 1);
        size_t nx = img_size(&g, n), ny = (size_t)n * g.c * g.oh * g.ow;
        /* Not scratch: case_end frees that. */
        float *x = malloc(nx * sizeof *x), *yw = malloc(ny * sizeof *yw);
        float *xr = malloc(nx * sizeof *xr), *yr = malloc(ny * sizeof *yr);
        int32_t *iw = malloc(ny * sizeof *iw), *ir = malloc(ny * sizeof *ir);
        if (!x || !yw || !iw || !xr || !yr || !ir)
            bail("out of memory");
        for (size_t i = 0; i < nx; i++) {
            int r = irand(12);
            x[i] = r < 7 ? pick[r] : r == 7 ? NAN : r == 8 ? -NAN : frand();
            /* Half the values below 0, so that whole windows are. */
            if (r >= 9 && irand(2))
                x[i] = -x[i];
            xr[i] = x[i] > 0.0f ? x[i] : 0.0f;
        }
        pool_2x2_host(&g, n, x, yw, iw);
        /* pool2d_max_relu: the loop over relu's values; -1 where not above 0. */
        pool_2x2_host(&g, n, xr, yr, ir);
        for (size_t o = 0; o < ny; o++)
            if (!(yr[o] > 0.0f))
                ir[o] = -1;
        for (size_t ci = 0; ci < sizeof caps / sizeof caps[0]; ci++) {
            isa_cap(caps[ci], saved);
            const char *cap = caps[ci] ? caps[ci] : (saved ? saved : "(unset)");
            pool_isa_case(&g, n, 0, x, nx, yw, iw, cap);
            pool_isa_case(&g, n, 1, x, nx, yr, ir, cap);
        }
        free(x);
        free(yw);
        free(iw);
        free(xr);
        free(yr);
        free(ir);
    }
    /* The backward's 2x2 planes (AVX-512 and plain) under each cap. */
    for (size_t ci = 0; ci < sizeof caps / sizeof caps[0]; ci++) {
        isa_cap(caps[ci], saved);
        dut_label = caps[ci] ? caps[ci] : "cpu(default)";
        test_pool_set();
    }
    dut_label = "cpu(default)";
    isa_cap(NULL, saved);
    free(saved);
}

/* ------------------------------------------------------------ gather, scatter_add */

/* gather (scatter = 0): rows of src (offset 2) by idx (offset 1) into dst
   (offset 1); scatter_add: rows of dst added into src.  out receives the
   written buffer. */
static int index_on(dlh_backend *be, int scatter, int n, int cols, const float *src,
                    size_t nsrc, const int32_t *idx, const float *dst, size_t ndst, float *out)
{
    dlh_buffer *bs = up(be, src, nsrc * sizeof(float));
    dlh_buffer *bd = up(be, dst, ndst * sizeof(float));
    dlh_buffer *bi = up(be, idx, (size_t)(n + 1) * sizeof(int32_t));
    int rc = scatter ? be->ops->scatter_add(be->ctx, n, cols, at(bd, 1), at(bi, 1), at(bs, 2))
                     : be->ops->gather(be->ctx, n, cols, at(bs, 2), at(bi, 1), at(bd, 1));
    if (rc == 0)
        rc = scatter ? down(be, bs, out, nsrc * sizeof(float))
                     : down(be, bd, out, ndst * sizeof(float));
    release(be, bs);
    release(be, bd);
    release(be, bi);
    return rc;
}

static void index_case(int n, int cols, int rows, const int32_t *given)
{
    size_t nsrc = 2 + (size_t)rows * cols, ndst = 1 + (size_t)n * cols;
    for (int scatter = 0; scatter < 2; scatter++) {
        case_begin();
        int32_t *idx = ivec((size_t)n + 1);
        idx[0] = 12345;     /* before the offset: never read */
        for (int i = 0; i < n; i++)
            idx[i + 1] = given ? given[i] : irand(rows);
        float *src = rvec(nsrc, -1, 1), *dst = rvec(ndst, -1, 1);
        size_t no = scatter ? nsrc : ndst;
        float *want = fvec(no), *got = fvec(no), *mag = NULL;
        int rr = index_on(ref, scatter, n, cols, src, nsrc, idx, dst, ndst, want);
        if (rr == 0 && scatter) {
            float *ms = absdup(src, nsrc);
            ms[0] = ms[1] = 0.0f;
            mag = fvec(no);
            rr = index_on(ref, 1, n, cols, ms, nsrc, idx, absdup(dst, ndst), ndst, mag);
        }
        int rd = rr ? 0 : index_on(dut, scatter, n, cols, src, nsrc, idx, dst, ndst, got);
        if (check_rc(rr, rd, scatter ? "scatter_add" : "gather"))
            cmp_f(scatter ? "dst" : "dst", want, got, mag, no, scatter ? TOL_ACCUM : 0);
        case_end("%s n=%d cols=%d, %d rows%s", scatter ? "scatter_add" : "gather", n, cols,
                 rows, given ? " (repeated indices)" : "");
    }
}

static void test_index(void)
{
    static const int32_t rep[] = { 2, 0, 2, 3, 2, 1 };
    static const int32_t same[] = { 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3 };
    index_case(6, 5, 4, rep);
    index_case(17, 3, 5, same);
    index_case(1, 1, 1, NULL);
    index_case(7, 1, 3, NULL);
    index_case(500, 300, 20, NULL);      /* many repeats */
    index_case(400, 100, 1000, NULL);
}

/* ------------------------------------------------------------ rand */

static int rand_on(dlh_backend *be, int dist, size_t n, uint64_t seed, uint64_t stream,
                   uint64_t offset, float a, float b, float *out)
{
    float *init = fvec(n + 2);
    for (size_t i = 0; i < n + 2; i++)
        init[i] = -99.0f;
    dlh_buffer *bo = up(be, init, (n + 2) * sizeof(float));
    int rc = be->ops->rand(be->ctx, (dlh_rand_dist)dist, at(bo, 1), n, seed, stream, offset,
                           a, b);
    if (rc == 0)
        rc = down(be, bo, out, (n + 2) * sizeof(float));
    release(be, bo);
    return rc;
}

static void rand_case(int dist, size_t n, uint64_t seed, uint64_t stream, uint64_t offset)
{
    static const char *const names[] = { "uniform(-1, 2)", "normal(0.5, 2)",
                                          "bernoulli(0.25)" };
    case_begin();
    float a = dist == 0 ? -1.0f : dist == 1 ? 0.5f : 0.25f, b = 2.0f;
    float *want = fvec(n + 2), *got = fvec(n + 2);
    int rr = rand_on(ref, dist, n, seed, stream, offset, a, b, want);
    int rd = rr ? 0 : rand_on(dut, dist, n, seed, stream, offset, a, b, got);
    if (check_rc(rr, rd, "rand"))
        cmp_f("y", want, got, NULL, n + 2, dist == DLH_RAND_NORMAL ? TOL_NORMAL : 0);
    case_end("rand %s n=%zu seed %#llx stream %#llx offset %#llx", names[dist], n,
             (unsigned long long)seed, (unsigned long long)stream, (unsigned long long)offset);
}

static void test_rand(void)
{
    for (int d = 0; d < 3; d++) {
        rand_case(d, 1, 0, 0, 0);
        rand_case(d, 1000, 0x0123456789abcdefULL, 0xfedcba9876543210ULL, 0xfffffffdULL);
        rand_case(d, 100003, 42, 7, 12345);
    }
}

/* ------------------------------------------------------------ bad arguments */

/* One refused call: DLH_EINVAL with a message, not a crash. */
static void refused(int rc, const char *what)
{
    const char *msg = dlh_error_get();
    ok(rc == DLH_EINVAL && msg[0] != '\0', "%s: refuses %s: %d (%s)", dut_label, what, rc,
       rc ? msg : "accepted");
    dlh_error_clear();
}

static void test_bad(void)
{
    const dlh_backend_ops *o = dut->ops;
    void *c = dut->ctx;
    /* 10 floats: the cpu backend rounds buffers up to 64 bytes, so reads a
       little past the end stay inside its allocation. */
    float data[64] = { 0 };
    dlh_buffer *x = up(dut, data, 10 * sizeof(float));
    dlh_buffer *big = up(dut, fvec(4096), 4096 * sizeof(float));   /* zeros */
    dlh_error_clear();
    refused(o->write(c, x, 36, data, 8), "a write past the buffer end");
    refused(o->write(c, x, SIZE_MAX - 2, data, 4), "a write at a huge offset");
    refused(o->read(c, x, 4, data, 40), "a read past the buffer end");
    refused(o->copy(c, x, 8, big, 0, 36), "a copy past the destination end");
    refused(o->copy(c, big, 0, x, 8, 36), "a copy past the source end");
    refused(o->fill(c, at(x, 7), 4, 1.0f), "a fill past the buffer end");
    refused(o->gemm(c, 0, 0, 3, 3, 3, 1.0f, at(big, 0), 3, at(big, 0), 3, 0.0f, at(x, 2), 3),
            "a gemm whose C lies past the buffer end");
    refused(o->gemm(c, 0, 1, 3, 3, 3, 1.0f, at(x, 0), 3, at(x, 2), 3, 0.0f, at(big, 0), 3),
            "a gemm whose B lies past the buffer end");
    refused(o->gemm_batched(c, 0, 0, 2, 2, 2, 1.0f, at(big, 0), 2, 4, at(big, 0), 2, 4, 0.0f,
                            at(x, 0), 2, 4, 3),
            "a gemm_batched whose last C lies past the end");
    refused(o->reduce(c, DLH_REDUCE_SUM, 1, 3, 4, at(x, 0), at(big, 0), at(NULL, 0)),
            "a reduce whose x lies past the buffer end");
    refused(o->reduce(c, DLH_REDUCE_MAX, 0, 2, 4, at(big, 0), at(big, 0), at(x, 8)),
            "a reduce whose idx lies past the buffer end");
    refused(o->softmax(c, 0, 2, 4, at(big, 0), at(x, 3)),
            "a softmax whose y lies past the buffer end");
    dlh_window2d g = window(1, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1);
    refused(o->im2col(c, &g, 1, at(big, 0), at(x, 0)),
            "an im2col whose col lies past the end");
    refused(o->col2im(c, &g, 1, at(big, 0), at(x, 0)), "a col2im whose img lies past the end");
    refused(o->pool2d(c, DLH_POOL_MAX, &g, 1, at(x, 0), at(big, 0), at(big, 100)),
            "a pool2d whose x lies past the buffer end");
    refused(o->pool2d_backward(c, DLH_POOL_AVG, &g, 1, at(big, 0), at(NULL, 0), at(x, 0)),
            "a pool2d_backward whose dx lies past the buffer end");
    refused(o->gather(c, 4, 3, at(big, 0), at(big, 0), at(x, 0)),
            "a gather whose dst lies past the buffer end");
    refused(o->scatter_add(c, 12, 1, at(big, 0), at(x, 0), at(big, 0)),
            "a scatter_add whose idx lies past the buffer end");
    refused(o->rand(c, DLH_RAND_UNIFORM, at(x, 5), 6, 1, 2, 3, 0.0f, 1.0f),
            "a rand whose dst lies past the buffer end");

    /* ew: an input operand reaching past its buffer.  The host cannot check
       (dlh_buffer is opaque), so each backend must. */
    dlh_ew_kernel *k = NULL;
    if (H->ew_compile(dut, "in a; out y; y = a + 1;", &k) == 0) {
        dlh_ew_arg args[2] = { { at(x, 4), 8, 1 }, { at(big, 0), 8, 1 } };
        int rc = H->ew_run(k, 8, args, NULL);
        const char *msg = dlh_error_get();
        ok(rc == DLH_EINVAL && msg[0] != '\0',
           "%s: refuses an ew operand past its buffer end: %d (%s)", dut_label, rc,
           rc ? msg : "accepted");
        dlh_error_clear();
        H->ew_free(k);
    } else {
        ok(0, "%s: ew compile of a one-line program: %s", dut_label, dlh_error_get());
    }

    dlh_buffer *huge = (dlh_buffer *)&huge;
    int rc = o->alloc(c, (size_t)1 << 50, &huge);     /* 1 PiB */
    ok(rc == DLH_ENOMEM && huge == NULL && dlh_error_get()[0] != '\0',
       "%s: an impossible alloc gives DLH_ENOMEM and no buffer: %d (%s)", dut_label, rc,
       dlh_error_get());
    dlh_error_clear();

    /* Still usable after the refusals. */
    float back[10] = { 0 };
    rc = o->fill(c, at(x, 0), 10, 4.5f);
    if (rc == 0)
        rc = o->read(c, x, 0, back, sizeof back);
    ok(rc == 0 && back[0] == 4.5f && back[9] == 4.5f,
       "%s: still works after the refused calls (%s)", dut_label, rc ? dlh_error_get() : "ok");
    release(dut, x);
    release(dut, big);
    scratch_free();
}

/* ------------------------------------------------------------ self-check */

static void sc_gemm(void)
{
    gemm_case(0, 1, 17, 13, 9, 1.5f, -0.5f, 3, 0, 0, 0, 0);
}

static void sc_reduce_sum(void)
{
    reduce_case(DLH_REDUCE_SUM, 0, 13, 300, NULL, 0, 1);
}

static void sc_reduce_max(void)
{
    reduce_case(DLH_REDUCE_MAX, 1, 9, 11, NULL, 1, 1);
}

static void sc_softmax(void)
{
    softmax_case(0, 4, 10, 0, 3, 0);
}

static void sc_log_softmax(void)
{
    softmax_case(1, 4, 10, 0, 3, 1);
}

static void sc_pool(void)
{
    dlh_window2d g = window(2, 5, 7, 3, 3, 2, 2, 1, 1, 1, 1);
    pool_case(DLH_POOL_AVG, &g, 2, 0, "3x3 s2 p1");
}

static void sc_rand(void)
{
    rand_case(DLH_RAND_UNIFORM, 1000, 1, 2, 3);
}

static void sc_memory(void)
{
    test_memory();
}

static void sc_ew(void)
{
    dlh_ew_kernel *k = NULL;
    if (H->ew_compile(ref, ew_specs[0].source, &k) != 0)
        bail("ew: %s", dlh_error_get());
    ew_case(&ew_specs[0], k, k, 65);
    H->ew_free(k);
}

/* A case kind's comparison catches an error just over its tolerance and
   lets one well under it pass; the reference against itself passes.  A
   run of several cases (memory) fails when any of them does. */
static void selfcheck(const char *what, void (*run)(void), int exact)
{
    int pass[3];
    dut = ref;
    dut_label = "self-check";
    g_quiet = 1;
    for (int mode = 0; mode < 3; mode++) {
        g_perturb = mode;
        g_quiet_pass = 1;
        run();
        pass[mode] = g_quiet_pass;
    }
    g_perturb = PERTURB_NONE;
    g_quiet = 0;
    if (exact)
        ok(pass[PERTURB_NONE] && !pass[PERTURB_OVER],
           "comparator self-check, %s: cpu against itself %s, one element off by one ulp "
           "(one bit) %s", what, pass[0] ? "passes" : "FAILS", pass[1] ? "PASSES" : "fails");
    else
        ok(pass[PERTURB_NONE] && !pass[PERTURB_OVER] && pass[PERTURB_UNDER],
           "comparator self-check, %s: cpu against itself %s, one element off by 2 x tol %s, "
           "by 0.5 x tol %s", what, pass[0] ? "passes" : "FAILS",
           pass[1] ? "PASSES" : "fails", pass[2] ? "passes" : "FAILS");
}

static void test_selfcheck(void)
{
    selfcheck("gemm (sum of |terms| scale)", sc_gemm, 0);
    selfcheck("reduce sum", sc_reduce_sum, 0);
    selfcheck("reduce max + argmax (exact)", sc_reduce_max, 1);
    selfcheck("softmax (relative)", sc_softmax, 0);
    selfcheck("log_softmax", sc_log_softmax, 0);
    selfcheck("ew (max(1, |ref|) scale)", sc_ew, 0);
    selfcheck("pool avg and backward", sc_pool, 0);
    selfcheck("rand uniform (exact)", sc_rand, 1);
    selfcheck("memory (bytes, exact)", sc_memory, 1);
}

/* ------------------------------------------------------------ targets */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void run_suite(dlh_backend *be, const char *label)
{
    dut = be;
    dut_label = label;
    int first = tap_n_, failed = tap_failed_;
    double t0 = now();
    test_describe();
    test_memory();
    test_gemm();
    test_gemm_bias_act();
    test_ew();
    test_reduce();
    test_softmax();
    test_image();
    test_conv2d();
    test_pool();
    test_index();
    test_rand();
    test_bad();
    diag("%s: %d checks, %d failed, %.1f s", label, tap_n_ - first, tap_failed_ - failed,
         now() - t0);
}

/* DLHOST_CONFORMANCE_BACKENDS, when set, names the backends to run. */
static int selected(const char *name)
{
    const char *list = getenv("DLHOST_CONFORMANCE_BACKENDS");
    if (!list || !*list)
        return 1;
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        size_t w = strcspn(p, ",");
        if (w == len && strncmp(p, name, len) == 0)
            return 1;
        p += w;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* The cpu backend opened with the parameters in `backend` (a libconfig
   group's body): its open status, *be on success. */
static int open_cpu(const char *backend, dlh_backend **be, dlh_params **p, dlh_config **cfg)
{
    char text[128];
    snprintf(text, sizeof text, "backend = { %s };\n", backend);
    if (dlh_config_load_string(text, "conformance.cfg", cfg) != 0)
        bail("config: %s", dlh_error_get());
    static const char *const reserved[] = { "type", NULL };
    *p = dlh_params_new(*cfg, config_setting_lookup(dlh_config_root(*cfg), "backend"),
                        "backend 'cpu'", reserved);
    int rc = *p ? dlh_backend_open("cpu", *p, be) : DLH_ENOMEM;
    if (rc == 0)
        rc = dlh_params_check_unused(*p);
    return rc;
}

/* The suite on cpu(threads=1): its threaded paths against the default
   instance.  precision = "bf16" (bf16 != 0) runs only the conv2d cases:
   its primitives round their operands as its bf16 gemm does, so against
   im2col + that gemm only the order of the fp32 sums differs. */
static void run_cpu_with(const char *params, const char *label, int bf16)
{
    if (!selected("cpu")) {
        printf("ok %d # SKIP %s: not selected by DLHOST_CONFORMANCE_BACKENDS\n", ++tap_n_,
               label);
        return;
    }
    dlh_config *cfg = NULL;
    dlh_params *p = NULL;
    dlh_backend *be = NULL;
    int rc = open_cpu(params, &be, &p, &cfg);
    if (bf16 && rc == DLH_ECONFIG) {
        /* No oneDNN, or no native bf16 here (valgrind hides AVX-512). */
        printf("ok %d # SKIP %s: %s\n", ++tap_n_, label, dlh_error_get());
    } else if (ok(rc == 0, "open cpu with %s (%s)", params, rc ? dlh_error_get() : "ok")) {
        if (bf16) {
            dut = be;
            dut_label = label;
            dut_bf16 = 1;
            test_conv2d();
            dut_bf16 = 0;
        } else {
            run_suite(be, label);
        }
    }
    dlh_backend_close(be);
    dlh_params_free(p);
    dlh_config_free(cfg);
}

static int registered(const char *name)
{
    for (size_t i = 0; i < dlh_registry_count(); i++) {
        const dlh_component *c = dlh_registry_at(i);
        if (c->kind == DLH_KIND_BACKEND && strcmp(c->name, name) == 0)
            return 1;
    }
    return 0;
}

static void run_backend(const char *name)
{
    if (!selected(name)) {
        printf("ok %d # SKIP %s: not selected by DLHOST_CONFORMANCE_BACKENDS\n", ++tap_n_,
               name);
        return;
    }
    dlh_backend *be = NULL;
    double t0 = now();
    int rc = dlh_backend_open(name, NULL, &be);
    if (rc == DLH_EDEVICE) {
        printf("ok %d # SKIP %s: not usable here (%s)\n", ++tap_n_, name, dlh_error_get());
        return;
    }
    if (ok(rc == 0, "open %s (%s)", name, rc ? dlh_error_get() : "ok")) {
        diag("%s: opened in %.1f s", name, now() - t0);
        run_suite(be, name);
    }
    dlh_backend_close(be);
}

int main(void)
{
    H = dlh_host_table();
    if (dlh_registry_load_all(0) != 0 || dlh_backend_open("cpu", NULL, &ref) != 0)
        bail("cannot open the reference cpu backend: %s", dlh_error_get());
    test_ew_coverage();
    test_selfcheck();
    if (selected("cpu"))
        test_pool_isa();
    run_cpu_with("threads = 1;", "cpu(threads=1)", 0);
    if (selected("cpu")) {
        /* The default instance's conv2d primitives, against its own
           im2col + gemm. */
        dut = ref;
        dut_label = "cpu(default)";
        test_conv2d();
    }
    run_cpu_with("precision = \"bf16\";", "cpu(bf16)", 1);
    for (size_t i = 0; i < dlh_registry_count(); i++) {
        const dlh_component *c = dlh_registry_at(i);
        if (c->kind == DLH_KIND_BACKEND && strcmp(c->name, "cpu") != 0)
            run_backend(c->name);
    }
    static const char *const expected[] = { "opencl", "cuda" };
    for (size_t i = 0; i < 2; i++)
        if (!registered(expected[i]))
            printf("ok %d # SKIP %s: not present (no plugin on the plugin path registers "
                   "it)\n", ++tap_n_, expected[i]);
    dlh_backend_close(ref);
    dlh_registry_clear();
    return done_testing();
}
