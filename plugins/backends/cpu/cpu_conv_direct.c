/* A direct NCHW convolution for layers with few inputs per output (LeNet's
 * first: 1 channel, 5x5, padding 2), where oneDNN pads the 6 output
 * channels to 16 and reorders, and im2col + gemm has an M = 6, K = 25
 * product: both ran ~40 GFLOP/s on it (issue 16).
 *
 * Taken (cpu_conv_direct_fits) for groups 1, stride 1, dilation 1 and
 * in_channels * kh * kw <= CPU_CONV_DIRECT_TAPS, any padding, fp32 only
 * (precision = "bf16" keeps oneDNN).  cpu_conv.c runs it on the same pieces
 * of the batch as its oneDNN primitives (cut by the CPU count, never the
 * thread count), one piece per call here, with the piece's scratch.
 *
 * Each sample is first copied into a zero-bordered copy of itself (the
 * padding made explicit), so every loop below runs over whole output rows
 * with no bounds: y row += w * shifted x row (forward), and per tap a row of
 * accumulators += dy row * shifted x row (weights), summed across the row
 * once at the end of the piece.  Every operation is elementwise along the
 * row (no reassociation, and the plugin is built with -ffp-contract=off), so
 * the baseline, AVX2 and AVX-512 builds of the loops give the same bits; the
 * set is picked as cpu_ew.c picks its loops (DLHOST_CPU_EW_ISA caps it). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <string.h>

#include "cpu.h"

/* The zero-bordered copy of one sample: c x hp x wp. */
static inline __attribute__((always_inline)) void
direct_pad(const cpu_conv_direct *k, const float *x, float *xp)
{
    memset(xp, 0, (size_t)k->c * (size_t)k->hp * (size_t)k->wp * sizeof(float));
    for (int ic = 0; ic < k->c; ic++)
        for (int r = 0; r < k->h; r++)
            memcpy(xp + ((size_t)ic * k->hp + (size_t)(r + k->ph)) * k->wp + k->pw,
                   x + ((size_t)ic * k->h + r) * k->w, (size_t)k->w * sizeof(float));
}

/* y (n samples) = bias + the convolution of x with w. */
static inline __attribute__((always_inline)) void
direct_fwd(const cpu_conv_direct *k, int n, const float *x, const float *w, const float *b,
           float *y, float *scratch)
{
    const int C = k->c, oc_n = k->out_c, oh = k->oh, ow = k->ow, kh = k->kh, kw = k->kw;
    const size_t xs = (size_t)C * k->h * k->w, ys = (size_t)oc_n * oh * ow;
    float *xp = scratch;
    for (int s = 0; s < n; s++) {
        direct_pad(k, x + (size_t)s * xs, xp);
        float *ys0 = y + (size_t)s * ys;
        for (int oc = 0; oc < oc_n; oc++) {
            const float *wo = w + (size_t)oc * C * kh * kw;
            float bv = b != NULL ? b[oc] : 0.0f;
            for (int oy = 0; oy < oh; oy++) {
                float *restrict yr = ys0 + ((size_t)oc * oh + oy) * ow;
                for (int ox = 0; ox < ow; ox++)
                    yr[ox] = bv;
                for (int ic = 0; ic < C; ic++)
                    for (int ky = 0; ky < kh; ky++) {
                        const float *xr = xp + ((size_t)ic * k->hp + (size_t)(oy + ky)) * k->wp;
                        const float *wr = wo + ((size_t)ic * kh + ky) * kw;
                        for (int kx = 0; kx < kw; kx++) {
                            const float wv = wr[kx];
                            const float *restrict xs0 = xr + kx;
                            for (int ox = 0; ox < ow; ox++)
                                yr[ox] += wv * xs0[ox];
                        }
                    }
            }
        }
    }
}

/* dw (and db when not NULL) = this piece's gradient: per tap, a row of
   accumulators over the samples and output rows, then summed across. */
static inline __attribute__((always_inline)) void
direct_wgt(const cpu_conv_direct *k, int n, const float *x, const float *dy, float *dw,
           float *db, float *scratch)
{
    const int C = k->c, oc_n = k->out_c, oh = k->oh, ow = k->ow, kh = k->kh, kw = k->kw;
    const int taps = C * kh * kw;
    const size_t xs = (size_t)C * k->h * k->w, ys = (size_t)oc_n * oh * ow;
    float *xp = scratch;
    float *acc = scratch + k->pad_floats;           /* out_c x (taps + 1) x ow */
    memset(acc, 0, (size_t)oc_n * (size_t)(taps + 1) * (size_t)ow * sizeof(float));
    for (int s = 0; s < n; s++) {
        direct_pad(k, x + (size_t)s * xs, xp);
        const float *dys = dy + (size_t)s * ys;
        for (int oc = 0; oc < oc_n; oc++) {
            float *ao = acc + (size_t)oc * (taps + 1) * ow;
            for (int oy = 0; oy < oh; oy++) {
                const float *restrict dr = dys + ((size_t)oc * oh + oy) * ow;
                float *restrict ab = ao + (size_t)taps * ow;
                for (int ox = 0; ox < ow; ox++)
                    ab[ox] += dr[ox];
                for (int ic = 0; ic < C; ic++)
                    for (int ky = 0; ky < kh; ky++) {
                        const float *xr = xp + ((size_t)ic * k->hp + (size_t)(oy + ky)) * k->wp;
                        for (int kx = 0; kx < kw; kx++) {
                            float *restrict a = ao + ((size_t)(ic * kh + ky) * kw + kx) * ow;
                            const float *restrict xs0 = xr + kx;
                            for (int ox = 0; ox < ow; ox++)
                                a[ox] += dr[ox] * xs0[ox];
                        }
                    }
            }
        }
    }
    for (int oc = 0; oc < oc_n; oc++)
        for (int t = 0; t <= taps; t++) {
            if (t == taps && db == NULL)
                break;
            const float *a = acc + ((size_t)oc * (taps + 1) + t) * ow;
            float sum = 0.0f;
            for (int ox = 0; ox < ow; ox++)
                sum += a[ox];
            if (t < taps)
                dw[(size_t)oc * taps + t] = sum;
            else
                db[oc] = sum;
        }
}

#define DIRECT_DEFINE(P)                                                                  \
    static void P##fwd(const cpu_conv_direct *k, int n, const float *x, const float *w,  \
                       const float *b, float *y, float *scratch)                          \
    {                                                                                     \
        direct_fwd(k, n, x, w, b, y, scratch);                                            \
    }                                                                                     \
    static void P##wgt(const cpu_conv_direct *k, int n, const float *x, const float *dy, \
                       float *dw, float *db, float *scratch)                              \
    {                                                                                     \
        direct_wgt(k, n, x, dy, dw, db, scratch);                                         \
    }

DIRECT_DEFINE(direct_base_)

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define DIRECT_HAVE_AVX2 1
#pragma GCC push_options
#pragma GCC target("avx2")
DIRECT_DEFINE(direct_avx2_)
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,prefer-vector-width=512")
DIRECT_DEFINE(direct_avx512_)
#pragma GCC pop_options
#endif

int cpu_conv_direct_fits(const dlh_conv2d_desc *d, int bf16)
{
    const dlh_window2d *g = &d->g;
    return !bf16 && d->groups == 1 && g->sh == 1 && g->sw == 1 && g->dh == 1 &&
           g->dw == 1 && (int64_t)g->c * g->kh * g->kw <= CPU_CONV_DIRECT_TAPS &&
           g->oh + g->kh - 1 >= g->h + g->ph && g->ow + g->kw - 1 >= g->w + g->pw;
}

size_t cpu_conv_direct_init(cpu_conv_direct *k, const dlh_conv2d_desc *d)
{
    const dlh_window2d *g = &d->g;
    k->c = g->c;
    k->h = g->h;
    k->w = g->w;
    k->kh = g->kh;
    k->kw = g->kw;
    k->ph = g->ph;
    k->pw = g->pw;
    k->oh = g->oh;
    k->ow = g->ow;
    k->out_c = d->out_c;
    k->hp = g->oh + g->kh - 1;
    k->wp = g->ow + g->kw - 1;
    k->pad_floats = ((size_t)k->c * k->hp * k->wp + 15) & ~(size_t)15;
    k->fwd = direct_base_fwd;
    k->wgt = direct_base_wgt;
#ifdef DIRECT_HAVE_AVX2
    switch (cpu_isa_level()) {
    case 2:
        k->fwd = direct_avx512_fwd;
        k->wgt = direct_avx512_wgt;
        break;
    case 1:
        k->fwd = direct_avx2_fwd;
        k->wgt = direct_avx2_wgt;
        break;
    default:
        break;
    }
#endif
    return k->pad_floats +
           (size_t)k->out_c * ((size_t)k->c * k->kh * k->kw + 1) * (size_t)k->ow;
}
