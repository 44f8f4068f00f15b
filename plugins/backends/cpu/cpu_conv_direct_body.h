/* The vector loops of cpu_conv_direct.c, included once per ISA with
 * DIRECT_P (the functions' name prefix), DIRECT_VW (the lanes of its
 * vectors: 4 SSE, 8 AVX2, 16 AVX-512) and DIRECT_NJ (1 or 2: 16-column
 * chunks of the forward's accumulators, as many as the registers hold) and
 * DIRECT_TB (taps per pass of the weight gradient, likewise).  Each 16
 * output columns are 16 / DIRECT_VW vectors, so the accumulators stay in
 * registers on every ISA and every lane does the same operations in the
 * same order: the bits do not depend on DIRECT_VW.  Defines DIRECT_P##fwd,
 * DIRECT_P##wgt and DIRECT_P##data, for the GCC target DIRECT_TARGET when
 * that is defined (a string), and undefines the parameters at its end,
 * ready for the next ISA's. */
#define DIRECT_PRAGMA2(x) _Pragma(#x)
#define DIRECT_PRAGMA(x) DIRECT_PRAGMA2(x)
#ifdef DIRECT_TARGET
#pragma GCC push_options
DIRECT_PRAGMA(GCC target(DIRECT_TARGET))
#endif
#define DN2(p, n) p##n
#define DN1(p, n) DN2(p, n)
#define DN(n) DN1(DIRECT_P, n)
#define DV DN(v)
#define DNS (16 / DIRECT_VW)
typedef float DV __attribute__((vector_size(DIRECT_VW * 4)));

/* n floats from src to dst, rows of 5 to 40 floats: whole vectors, then
   one float at a time (memcpy of a variable size is a library call, several
   per sample: it took 4 % of LeNet's epoch). */
AI void DN(copy)(float *restrict dst, const float *restrict src, int n)
{
    int i = 0;
    for (; i + DIRECT_VW <= n; i += DIRECT_VW) {
        DV v;
        DV_LD(v, src + i);
        DV_ST(dst + i, v);
    }
    for (; i < n; i++)
        dst[i] = src[i];
}

/* The first rem (1 to 16) floats of the 16 in acc to dst. */
AI void DN(store16)(float *restrict dst, const DV *acc, int rem)
{
    if (rem == 16) {
        memcpy(dst, acc, 16 * sizeof(float));
        return;
    }
    int v = 0;
    for (; (v + 1) * DIRECT_VW <= rem; v++)
        DV_ST(dst + v * DIRECT_VW, acc[v]);
    for (int i = v * DIRECT_VW; i < rem; i++)
        dst[i] = acc[v][i - v * DIRECT_VW];
}

/* One sample into the zero-bordered copy whose borders are zero already
   (zeroed once per call: the samples write only the inside). */
AI void DN(pad)(const cpu_conv_direct *k, const float *x, float *xp)
{
    for (int ic = 0; ic < k->c; ic++)
        for (int r = 0; r < k->h; r++)
            DN(copy)(xp + ((size_t)ic * k->hp + (size_t)(r + k->ph)) * k->wpp + k->pw,
                     x + ((size_t)ic * k->h + r) * k->w, k->w);
}

/* Output channels oc0 .. oc0 + OB - 1 of one sample's output row oy,
   columns 16 j to 16 (j + NJ): OB x NJ x 16 accumulators (the bias, then
   every tap in (ic, ky, kx) order, a product then a sum: no fused
   multiply-add), each weight loaded once for NJ x 16 columns. */
AI void DN(fwd_cols)(const cpu_conv_direct *k, const float *xp, const float *w,
                     const float *b, float *ys, int oc0, int oy, int j, const int OB,
                     const int NJ)
{
    const int C = k->c, oh = k->oh, ow = k->ow, kh = k->kh, kw = k->kw;
    const int taps = C * kh * kw;
    DV acc[DIRECT_OB][2 * DNS];
    for (int o = 0; o < OB; o++)
        for (int v = 0; v < NJ * DNS; v++)
            acc[o][v] = (DV){ 0 } + (b != NULL ? b[oc0 + o] : 0.0f);
    for (int ic = 0; ic < C; ic++)
        for (int ky = 0; ky < kh; ky++) {
            const float *xr = xp + ((size_t)ic * k->hp + (size_t)(oy + ky)) * k->wpp +
                              (size_t)j * 16;
            const float *wr = w + (size_t)oc0 * taps + (size_t)(ic * kh + ky) * kw;
            for (int kx = 0; kx < kw; kx++) {
                DV xv[2 * DNS];
                for (int v = 0; v < NJ * DNS; v++)
                    DV_LD(xv[v], xr + kx + v * DIRECT_VW);
                for (int o = 0; o < OB; o++) {
                    const float wv = wr[(size_t)o * taps + kx];
                    for (int v = 0; v < NJ * DNS; v++)
                        acc[o][v] += wv * xv[v];
                }
            }
        }
    for (int c = 0; c < NJ; c++) {
        int rem = ow - (j + c) * 16 < 16 ? ow - (j + c) * 16 : 16;
        for (int o = 0; o < OB; o++) {
            float *yo = ys + ((size_t)(oc0 + o) * oh + oy) * ow + (size_t)(j + c) * 16;
            DN(store16)(yo, &acc[o][c * DNS], rem);
        }
    }
}

/* Output channels oc0 .. oc0 + OB - 1 of one sample: 32 columns at a time
   where DIRECT_NJ is 2 and the registers hold them, else 16. */
AI void DN(fwd_block)(const cpu_conv_direct *k, const float *xp, const float *w,
                      const float *b, float *ys, int oc0, const int OB)
{
    for (int oy = 0; oy < k->oh; oy++)
        for (int j = 0; j < k->nch;) {
            if (DIRECT_NJ == 2 && j + 2 <= k->nch) {
                DN(fwd_cols)(k, xp, w, b, ys, oc0, oy, j, OB, 2);
                j += 2;
            } else {
                DN(fwd_cols)(k, xp, w, b, ys, oc0, oy, j, OB, 1);
                j += 1;
            }
        }
}

/* y (n samples) = bias + the convolution of x with w. */
static void DN(fwd)(const cpu_conv_direct *k, int n, const float *x, const float *w,
                   const float *b, float *y, float *scratch)
{
    const size_t xs = (size_t)k->c * k->h * k->w, ys = (size_t)k->out_c * k->oh * k->ow;
    float *xp = scratch;
    memset(xp, 0, (size_t)k->c * (size_t)k->hp * (size_t)k->wpp * sizeof(float));
    for (int s = 0; s < n; s++) {
        DN(pad)(k, x + (size_t)s * xs, xp);
        float *yo = y + (size_t)s * ys;
        for (int oc0 = 0; oc0 < k->out_c; oc0 += DIRECT_OB) {
            int ob = k->out_c - oc0 < DIRECT_OB ? k->out_c - oc0 : DIRECT_OB;
            switch (ob) {
            case 1: DN(fwd_block)(k, xp, w, b, yo, oc0, 1); break;
            case 2: DN(fwd_block)(k, xp, w, b, yo, oc0, 2); break;
            case 3: DN(fwd_block)(k, xp, w, b, yo, oc0, 3); break;
            case 4: DN(fwd_block)(k, xp, w, b, yo, oc0, 4); break;
            case 5: DN(fwd_block)(k, xp, w, b, yo, oc0, 5); break;
            case 6: DN(fwd_block)(k, xp, w, b, yo, oc0, 6); break;
            case 7: DN(fwd_block)(k, xp, w, b, yo, oc0, 7); break;
            default: DN(fwd_block)(k, xp, w, b, yo, oc0, 8); break;
            }
        }
    }
}

/* One sample's gradient of output channels oc0 .. oc0 + OB - 1 and taps
   t0 .. t0 + TB - 1 (bias 0: t0 + TB <= taps; bias 1: t0 == taps, TB 1, the bias;
   a constant, as OB and TB)
   added to accm (out_c x (taps + 1) x 16 lanes): OB x TB accumulators, each
   over every row and 16 columns of dy (zero past ow) in order, then added
   to accm: the same sums whatever TB. */
AI void DN(wgt_taps)(const cpu_conv_direct *k, const float *xp, const float *dyp,
                     float *accm, int oc0, int t0, const int OB, const int TB,
                     const int bias)
{
    const int oh = k->oh, kh = k->kh, kw = k->kw;
    const int taps = k->c * kh * kw;
    const size_t owp = (size_t)k->nch * 16;
    size_t xo[DIRECT_TB];
    for (int tb = 0; tb < TB; tb++) {
        int t = t0 + tb, ic = t / (kh * kw), ky = t / kw % kh, kx = t % kw;
        xo[tb] = bias ? 0 : ((size_t)ic * k->hp + (size_t)ky) * k->wpp + (size_t)kx;
    }
    DV acc[DIRECT_OB][DIRECT_TB][DNS];
    for (int o = 0; o < OB; o++)
        for (int tb = 0; tb < TB; tb++)
            for (int v = 0; v < DNS; v++)
                acc[o][tb][v] = (DV){ 0 };
    for (int oy = 0; oy < oh; oy++)
        for (int j = 0; j < k->nch; j++) {
            DV xv[DIRECT_TB][DNS];
            for (int tb = 0; tb < TB; tb++)
                for (int v = 0; v < DNS; v++) {
                    xv[tb][v] = (DV){ 0 };
                    if (!bias)
                        DV_LD(xv[tb][v], xp + xo[tb] + (size_t)oy * k->wpp + (size_t)j * 16 +
                                             v * DIRECT_VW);
                }
            for (int o = 0; o < OB; o++)
                for (int v = 0; v < DNS; v++) {
                    DV d;
                    DV_LD(d, dyp + ((size_t)(oc0 + o) * oh + oy) * owp + (size_t)j * 16 +
                                 v * DIRECT_VW);
                    for (int tb = 0; tb < TB; tb++) {
                        if (bias)
                            acc[o][tb][v] += d;
                        else
                            acc[o][tb][v] += d * xv[tb][v];
                    }
                }
        }
    for (int o = 0; o < OB; o++)
        for (int tb = 0; tb < TB; tb++)
            for (int v = 0; v < DNS; v++) {
                float *a = accm + ((size_t)(oc0 + o) * (taps + 1) + (size_t)(t0 + tb)) * 16 +
                           v * DIRECT_VW;
                DV m;
                DV_LD(m, a);
                m += acc[o][tb][v];
                DV_ST(a, m);
            }
}

/* Every tap of output channels oc0 .. oc0 + OB - 1: DIRECT_TB at a time,
   the rest one by one, then the bias. */
AI void DN(wgt_block)(const cpu_conv_direct *k, const float *xp, const float *dyp,
                      float *accm, int oc0, const int OB)
{
    const int taps = k->c * k->kh * k->kw;
    int t = 0;
    for (; DIRECT_TB > 1 && t + DIRECT_TB <= taps; t += DIRECT_TB)
        DN(wgt_taps)(k, xp, dyp, accm, oc0, t, OB, DIRECT_TB, 0);
    for (; t < taps; t++)
        DN(wgt_taps)(k, xp, dyp, accm, oc0, t, OB, 1, 0);
    DN(wgt_taps)(k, xp, dyp, accm, oc0, taps, OB, 1, 1);
}

/* dw (and db when not NULL) = this piece's gradient: per (oc, tap) 16
   lanes of sums over the samples, added across in lane order at the end. */
static void DN(wgt)(const cpu_conv_direct *k, int n, const float *x, const float *dy,
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
    memset(xp, 0, (size_t)k->c * (size_t)k->hp * (size_t)k->wpp * sizeof(float));
    for (int s = 0; s < n; s++) {
        DN(pad)(k, x + (size_t)s * xs, xp);
        const float *dys = dy + (size_t)s * ys;
        for (size_t r = 0; r < (size_t)oc_n * oh; r++)
            DN(copy)(dyp + r * owp, dys + r * ow, ow);
        for (int oc0 = 0; oc0 < oc_n; oc0 += DIRECT_OB) {
            int ob = oc_n - oc0 < DIRECT_OB ? oc_n - oc0 : DIRECT_OB;
            switch (ob) {
            case 1: DN(wgt_block)(k, xp, dyp, accm, oc0, 1); break;
            case 2: DN(wgt_block)(k, xp, dyp, accm, oc0, 2); break;
            case 3: DN(wgt_block)(k, xp, dyp, accm, oc0, 3); break;
            case 4: DN(wgt_block)(k, xp, dyp, accm, oc0, 4); break;
            case 5: DN(wgt_block)(k, xp, dyp, accm, oc0, 5); break;
            case 6: DN(wgt_block)(k, xp, dyp, accm, oc0, 6); break;
            case 7: DN(wgt_block)(k, xp, dyp, accm, oc0, 7); break;
            default: DN(wgt_block)(k, xp, dyp, accm, oc0, 8); break;
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

/* Backward data.  dx row iy of input channels ic0 .. ic0 + OB - 1,
   columns 16 j to 16 j + 15: OB x 16 accumulators from 0, then for every
   output channel co, flipped kernel row f (ky = kh - 1 - f) whose dy row
   oy = iy - (kh - 1 - ph) + f lies inside dy (the others add nothing) and
   flipped column fx, a product of w[co][ic][ky][kw - 1 - fx] and dy's row
   shifted by fx, then a sum, in that order; the zero-bordered dy row holds
   zeros where ox leaves dy (as the forward's x rows, such a product is a
   zero: for finite weights it leaves the sum's bits).  wt is w transposed
   and flipped: wt[ic][co][f][fx].  (Two rows at a time, sharing the
   weights, measured no faster on AVX-512: the products bound it.) */
AI void DN(data_cols)(const cpu_conv_direct *k, const float *dyp, const float *wt, float *dxs,
                      int ic0, int iy, int j, const int OB)
{
    const int oh = k->oh, kh = k->kh, kw = k->kw, oc_n = k->out_c;
    const size_t wtaps = (size_t)oc_n * kh * kw;
    const int top = kh - 1 - k->ph;
    const int f0 = top - iy > 0 ? top - iy : 0;
    const int f1 = oh + top - iy < kh ? oh + top - iy : kh;
    DV acc[DIRECT_OB][DNS];
    for (int o = 0; o < OB; o++)
        for (int v = 0; v < DNS; v++)
            acc[o][v] = (DV){ 0 };
    for (int co = 0; co < oc_n; co++)
        for (int f = f0; f < f1; f++) {
            const float *dr = dyp + ((size_t)co * oh + (size_t)(iy - top + f)) * k->dwpp +
                              (size_t)j * 16;
            const float *wr = wt + (size_t)ic0 * wtaps + ((size_t)co * kh + f) * kw;
            for (int fx = 0; fx < kw; fx++) {
                DV dv[DNS];
                for (int v = 0; v < DNS; v++)
                    DV_LD(dv[v], dr + fx + v * DIRECT_VW);
                for (int o = 0; o < OB; o++) {
                    const float wv = wr[(size_t)o * wtaps + fx];
                    for (int v = 0; v < DNS; v++)
                        acc[o][v] += wv * dv[v];
                }
            }
        }
    int rem = k->w - j * 16 < 16 ? k->w - j * 16 : 16;
    for (int o = 0; o < OB; o++) {
        float *xo = dxs + ((size_t)(ic0 + o) * k->h + iy) * k->w + (size_t)j * 16;
        DN(store16)(xo, &acc[o][0], rem);
    }
}

AI void DN(data_block)(const cpu_conv_direct *k, const float *dyp, const float *wt,
                       float *dxs, int ic0, const int OB)
{
    for (int iy = 0; iy < k->h; iy++)
        for (int j = 0; j < k->dnch; j++)
            DN(data_cols)(k, dyp, wt, dxs, ic0, iy, j, OB);
}

/* dx (n samples) = the gradient of the convolution's input given dy. */
static void DN(data)(const cpu_conv_direct *k, int n, const float *dy, const float *w,
                    float *dx, float *scratch)
{
    const int oc_n = k->out_c, C = k->c, kh = k->kh, kw = k->kw, oh = k->oh, ow = k->ow;
    const size_t xs = (size_t)C * k->h * k->w, ys = (size_t)oc_n * oh * ow;
    float *dyp = scratch, *wt = scratch + k->ddy_floats;
    const int left = kw - 1 - k->pw;
    for (int co = 0; co < oc_n; co++)
        for (int ic = 0; ic < C; ic++)
            for (int ky = 0; ky < kh; ky++)
                for (int kx = 0; kx < kw; kx++)
                    wt[(((size_t)ic * oc_n + co) * kh + (kh - 1 - ky)) * kw + (kw - 1 - kx)] =
                        w[(((size_t)co * C + ic) * kh + ky) * kw + kx];
    memset(dyp, 0, k->ddy_floats * sizeof(float));
    for (int s = 0; s < n; s++) {
        const float *dys = dy + (size_t)s * ys;
        for (size_t r = 0; r < (size_t)oc_n * oh; r++)
            DN(copy)(dyp + r * k->dwpp + left, dys + r * ow, ow);
        float *dxo = dx + (size_t)s * xs;
        for (int ic0 = 0; ic0 < C; ic0 += DIRECT_OB) {
            int ob = C - ic0 < DIRECT_OB ? C - ic0 : DIRECT_OB;
            switch (ob) {
            case 1: DN(data_block)(k, dyp, wt, dxo, ic0, 1); break;
            case 2: DN(data_block)(k, dyp, wt, dxo, ic0, 2); break;
            case 3: DN(data_block)(k, dyp, wt, dxo, ic0, 3); break;
            case 4: DN(data_block)(k, dyp, wt, dxo, ic0, 4); break;
            case 5: DN(data_block)(k, dyp, wt, dxo, ic0, 5); break;
            case 6: DN(data_block)(k, dyp, wt, dxo, ic0, 6); break;
            case 7: DN(data_block)(k, dyp, wt, dxo, ic0, 7); break;
            default: DN(data_block)(k, dyp, wt, dxo, ic0, 8); break;
            }
        }
    }
}

#ifdef DIRECT_TARGET
#pragma GCC pop_options
#undef DIRECT_TARGET
#endif
#undef DIRECT_PRAGMA
#undef DIRECT_PRAGMA2
#undef DNS
#undef DV
#undef DN
#undef DN1
#undef DN2
#undef DIRECT_P
#undef DIRECT_VW
#undef DIRECT_NJ
#undef DIRECT_TB
