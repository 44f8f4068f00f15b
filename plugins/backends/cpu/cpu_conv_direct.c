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

/* 16 floats: one AVX-512 register, two AVX2 ones, four SSE ones.  Loads
   and stores through memcpy (any alignment; no vector arguments, whose ABI
   changes with the ISA). */
typedef float dv16 __attribute__((vector_size(64)));
#define DV_LD(v, p) memcpy(&(v), (p), sizeof(dv16))
#define DV_ST(p, v) memcpy((p), &(v), sizeof(dv16))
#define AI static inline __attribute__((always_inline))
/* Output channels kept in registers at once. */
#define DIRECT_OB 8

/* The zero-bordered copy of one sample: c x hp x wpp, the sample at row ph,
   column pw, zeros around it and to the end of each row. */
AI void direct_pad(const cpu_conv_direct *k, const float *x, float *xp)
{
    memset(xp, 0, (size_t)k->c * (size_t)k->hp * (size_t)k->wpp * sizeof(float));
    for (int ic = 0; ic < k->c; ic++)
        for (int r = 0; r < k->h; r++)
            memcpy(xp + ((size_t)ic * k->hp + (size_t)(r + k->ph)) * k->wpp + k->pw,
                   x + ((size_t)ic * k->h + r) * k->w, (size_t)k->w * sizeof(float));
}

/* Output channels oc0 .. oc0 + OB - 1 of one sample: per output row and
   16 columns, OB accumulators (the bias, then every tap in (ic, ky, kx)
   order, a product then a sum: no fused multiply-add). */
AI void direct_fwd_block(const cpu_conv_direct *k, const float *xp, const float *w,
                         const float *b, float *ys, int oc0, const int OB)
{
    const int C = k->c, oh = k->oh, ow = k->ow, kh = k->kh, kw = k->kw;
    const int taps = C * kh * kw;
    for (int oy = 0; oy < oh; oy++)
        for (int j = 0; j < k->nch; j++) {
            dv16 acc[DIRECT_OB];
            for (int o = 0; o < OB; o++)
                acc[o] = (dv16){ 0 } + (b != NULL ? b[oc0 + o] : 0.0f);
            for (int ic = 0; ic < C; ic++)
                for (int ky = 0; ky < kh; ky++) {
                    const float *xr = xp + ((size_t)ic * k->hp + (size_t)(oy + ky)) * k->wpp +
                                      (size_t)j * 16;
                    const float *wr = w + (size_t)oc0 * taps + (size_t)(ic * kh + ky) * kw;
                    for (int kx = 0; kx < kw; kx++) {
                        dv16 xv;
                        DV_LD(xv, xr + kx);
                        for (int o = 0; o < OB; o++)
                            acc[o] += wr[(size_t)o * taps + kx] * xv;
                    }
                }
            int rem = ow - j * 16 < 16 ? ow - j * 16 : 16;
            for (int o = 0; o < OB; o++) {
                float *yo = ys + ((size_t)(oc0 + o) * oh + oy) * ow + (size_t)j * 16;
                if (rem == 16)
                    DV_ST(yo, acc[o]);
                else
                    memcpy(yo, &acc[o], (size_t)rem * sizeof(float));
            }
        }
}

/* y (n samples) = bias + the convolution of x with w. */
AI void direct_fwd(const cpu_conv_direct *k, int n, const float *x, const float *w,
                   const float *b, float *y, float *scratch)
{
    const size_t xs = (size_t)k->c * k->h * k->w, ys = (size_t)k->out_c * k->oh * k->ow;
    float *xp = scratch;
    for (int s = 0; s < n; s++) {
        direct_pad(k, x + (size_t)s * xs, xp);
        float *yo = y + (size_t)s * ys;
        for (int oc0 = 0; oc0 < k->out_c; oc0 += DIRECT_OB) {
            int ob = k->out_c - oc0 < DIRECT_OB ? k->out_c - oc0 : DIRECT_OB;
            switch (ob) {
            case 1: direct_fwd_block(k, xp, w, b, yo, oc0, 1); break;
            case 2: direct_fwd_block(k, xp, w, b, yo, oc0, 2); break;
            case 3: direct_fwd_block(k, xp, w, b, yo, oc0, 3); break;
            case 4: direct_fwd_block(k, xp, w, b, yo, oc0, 4); break;
            case 5: direct_fwd_block(k, xp, w, b, yo, oc0, 5); break;
            case 6: direct_fwd_block(k, xp, w, b, yo, oc0, 6); break;
            case 7: direct_fwd_block(k, xp, w, b, yo, oc0, 7); break;
            default: direct_fwd_block(k, xp, w, b, yo, oc0, 8); break;
            }
        }
    }
}

/* One sample's gradient of output channels oc0 .. oc0 + OB - 1 added to
   acc (out_c x (taps + 1) vectors, the last the bias): per tap, OB
   accumulators over every row and 16 columns of dy (zero past ow). */
AI void direct_wgt_block(const cpu_conv_direct *k, const float *xp, const float *dyp,
                         float *accm, int oc0, const int OB)
{
    const int C = k->c, oh = k->oh, kh = k->kh, kw = k->kw;
    const int taps = C * kh * kw;
    const size_t owp = (size_t)k->nch * 16;
    for (int t = 0; t <= taps; t++) {
        int ic = t / (kh * kw), ky = t / kw % kh, kx = t % kw;
        dv16 acc[DIRECT_OB];
        for (int o = 0; o < OB; o++)
            acc[o] = (dv16){ 0 };
        for (int oy = 0; oy < oh; oy++)
            for (int j = 0; j < k->nch; j++) {
                dv16 xv = { 0 };
                if (t < taps)
                    DV_LD(xv, xp + ((size_t)ic * k->hp + (size_t)(oy + ky)) * k->wpp +
                                  (size_t)j * 16 + kx);
                for (int o = 0; o < OB; o++) {
                    dv16 d;
                    DV_LD(d, dyp + ((size_t)(oc0 + o) * oh + oy) * owp + (size_t)j * 16);
                    if (t < taps)
                        acc[o] += d * xv;
                    else
                        acc[o] += d;
                }
            }
        for (int o = 0; o < OB; o++) {
            float *a = accm + ((size_t)(oc0 + o) * (taps + 1) + t) * 16;
            dv16 v;
            DV_LD(v, a);
            v += acc[o];
            DV_ST(a, v);
        }
    }
}

/* dw (and db when not NULL) = this piece's gradient: per (oc, tap) 16
   lanes of sums over the samples, added across in lane order at the end. */
AI void direct_wgt(const cpu_conv_direct *k, int n, const float *x, const float *dy,
                   float *dw, float *db, float *scratch)
{
    const int oc_n = k->out_c, oh = k->oh, ow = k->ow;
    const int taps = k->c * k->kh * k->kw;
    const size_t xs = (size_t)k->c * k->h * k->w, ys = (size_t)oc_n * oh * ow;
    const size_t owp = (size_t)k->nch * 16;
    float *xp = scratch, *dyp = scratch + k->pad_floats;
    float *accm = dyp + k->dy_floats;
    memset(accm, 0, (size_t)oc_n * (size_t)(taps + 1) * 16 * sizeof(float));
    memset(dyp, 0, k->dy_floats * sizeof(float));
    for (int s = 0; s < n; s++) {
        direct_pad(k, x + (size_t)s * xs, xp);
        const float *dys = dy + (size_t)s * ys;
        for (size_t r = 0; r < (size_t)oc_n * oh; r++)
            memcpy(dyp + r * owp, dys + r * ow, (size_t)ow * sizeof(float));
        for (int oc0 = 0; oc0 < oc_n; oc0 += DIRECT_OB) {
            int ob = oc_n - oc0 < DIRECT_OB ? oc_n - oc0 : DIRECT_OB;
            switch (ob) {
            case 1: direct_wgt_block(k, xp, dyp, accm, oc0, 1); break;
            case 2: direct_wgt_block(k, xp, dyp, accm, oc0, 2); break;
            case 3: direct_wgt_block(k, xp, dyp, accm, oc0, 3); break;
            case 4: direct_wgt_block(k, xp, dyp, accm, oc0, 4); break;
            case 5: direct_wgt_block(k, xp, dyp, accm, oc0, 5); break;
            case 6: direct_wgt_block(k, xp, dyp, accm, oc0, 6); break;
            case 7: direct_wgt_block(k, xp, dyp, accm, oc0, 7); break;
            default: direct_wgt_block(k, xp, dyp, accm, oc0, 8); break;
            }
        }
    }
    for (int oc = 0; oc < oc_n; oc++)
        for (int t = 0; t <= taps; t++) {
            if (t == taps && db == NULL)
                break;
            const float *a = accm + ((size_t)oc * (taps + 1) + t) * 16;
            float sum = 0.0f;
            for (int l = 0; l < 16; l++)
                sum += a[l];
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
    k->nch = (g->ow + 15) / 16;
    k->wpp = k->nch * 16 + g->kw - 1;
    k->pad_floats = ((size_t)k->c * k->hp * k->wpp + 15) & ~(size_t)15;
    k->dy_floats = (size_t)k->out_c * k->oh * (size_t)k->nch * 16;
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
    return k->pad_floats + k->dy_floats +
           (size_t)k->out_c * ((size_t)k->c * k->kh * k->kw + 1) * 16;
}
