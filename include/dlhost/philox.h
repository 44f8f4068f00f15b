/* dlhost SDK — Philox 4x32-10 counter-based random numbers.
 *
 * Every random draw in dlhost is a pure function of (key, counter), so the
 * whole RNG state is a few integers and every backend draws the same numbers.
 * The mapping from a (seed, stream, offset) triple to values is fixed here and
 * must be reproduced exactly by every backend's random fill:
 *   element i of a fill with (seed, stream, offset) uses the Philox block
 *     key     = { seed & 0xffffffff, seed >> 32 }
 *     counter = { c & 0xffffffff, c >> 32, stream & 0xffffffff, stream >> 32 }
 *   with c = offset + i, giving words w0..w3; then
 *     uniform(a, b)   = a + (b - a) * u0,     u0 = (w0 >> 8) * 2^-24  in [0, 1)
 *     normal(m, s)    = m + s * sqrt(-2 ln(1 - u0)) * cos(2 pi u1)   (u1 from w1)
 *     bernoulli(p)    = u0 < p ? 1 : 0
 * Header-only: plugins use it without linking libdlhost. */
#ifndef DLHOST_PHILOX_H
#define DLHOST_PHILOX_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Published Philox 4x32 round constants (Salmon et al., SC'11). */
#define DLH_PHILOX_M0 0xD2511F53u
#define DLH_PHILOX_M1 0xCD9E8D57u
#define DLH_PHILOX_W0 0x9E3779B9u
#define DLH_PHILOX_W1 0xBB67AE85u

/* One Philox 4x32-10 block: ten rounds of `ctr` under `key`, into `out`. */
static inline void dlh_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2],
                                     uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)DLH_PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)DLH_PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += DLH_PHILOX_W0;
        k1 += DLH_PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* The four words of element `c` of stream `stream` under `seed`. */
static inline void dlh_philox_words(uint64_t seed, uint64_t stream, uint64_t c,
                                    uint32_t out[4])
{
    uint32_t key[2] = { (uint32_t)seed, (uint32_t)(seed >> 32) };
    uint32_t ctr[4] = { (uint32_t)c, (uint32_t)(c >> 32),
                        (uint32_t)stream, (uint32_t)(stream >> 32) };
    dlh_philox4x32_10(ctr, key, out);
}

/* A word to a float in [0, 1) with 24 random bits. */
static inline float dlh_philox_unit(uint32_t w)
{
    return (float)(w >> 8) * (1.0f / 16777216.0f);
}

/* Element c of a uniform fill on [a, b). */
static inline float dlh_philox_uniform(uint64_t seed, uint64_t stream, uint64_t c,
                                       float a, float b)
{
    uint32_t w[4];
    dlh_philox_words(seed, stream, c, w);
    return a + (b - a) * dlh_philox_unit(w[0]);
}

/* Element c of a normal fill with mean m and standard deviation s. */
static inline float dlh_philox_normal(uint64_t seed, uint64_t stream, uint64_t c,
                                      float m, float s)
{
    uint32_t w[4];
    dlh_philox_words(seed, stream, c, w);
    float u0 = dlh_philox_unit(w[0]), u1 = dlh_philox_unit(w[1]);
    float r = sqrtf(-2.0f * logf(1.0f - u0));
    return m + s * r * cosf(6.28318530717958647692f * u1);
}

/* Element c of a bernoulli fill: 1 with probability p, else 0. */
static inline float dlh_philox_bernoulli(uint64_t seed, uint64_t stream, uint64_t c,
                                         float p)
{
    uint32_t w[4];
    dlh_philox_words(seed, stream, c, w);
    return dlh_philox_unit(w[0]) < p ? 1.0f : 0.0f;
}

/* ABI 1.5: the normal draw of the elementwise language (normal(k), ew.h),
 * bit-identical on every backend.  dlh_philox_normal above goes through the
 * C library's logf and cosf, which differ by an ulp or so between libraries
 * and devices; these two are plain float arithmetic (+ - * /, sqrt, and
 * reading a float's bits), which IEEE 754 rounds the same everywhere, so
 * the OpenCL and CUDA kernels compute the same bits from the same source
 * written in their dialect.  They hold that where the compiler does not
 * contract a*b + c into a fused multiply-add (x86-64 without -mfma, or
 * -ffp-contract=off, as the backends are built). */

/* ln(x) for a normal positive float x: x = 2^e m with m in [sqrt(1/2),
   sqrt(2)), ln m = 2 atanh(s), s = (m - 1)/(m + 1), |s| <= 0.1716, by its
   series to s^11 (the next term is below 2^-30 of the sum), within 2 ulp. */
static inline float dlh_philox_log_portable(float x)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    int e = (int)((b >> 23) & 0xffu) - 127;
    b = (b & 0x007fffffu) | 0x3f800000u;       /* m in [1, 2) */
    float m;
    memcpy(&m, &b, sizeof m);
    if (m > 1.41421356f) {
        m = m * 0.5f;
        e = e + 1;
    }
    float s = (m - 1.0f) / (m + 1.0f), z = s * s;
    float p = 0x1.745d18p-4f;                  /* 1/11 */
    p = p * z + 0x1.c71c72p-4f;                /* 1/9 */
    p = p * z + 0x1.24924ap-3f;                /* 1/7 */
    p = p * z + 0x1.99999ap-3f;                /* 1/5 */
    p = p * z + 0x1.555556p-2f;                /* 1/3 */
    float lm = 2.0f * s + 2.0f * s * z * p;
    float fe = (float)e;
    /* ln 2 = 0x1.62e4p-1 (16 bits, so fe times it is exact) + 0x1.7f7d1cp-20 */
    return fe * 0x1.62e4p-1f + (fe * 0x1.7f7d1cp-20f + lm);
}

/* cos(2 pi t) for t in [0, 1) a multiple of 2^-24 (a Philox unit): the
   nearest quarter turn q is taken off exactly, r = t - q/4 in [-1/8, 1/8],
   and the Taylor series of cos or sin of x = 2 pi r (|x| <= pi/4, to x^10
   and x^11) give the rest within 2 ulp. */
static inline float dlh_philox_cos2pi_portable(float t)
{
    int q = (int)(t * 4.0f + 0.5f);
    float r = t - (float)q * 0.25f;
    float x = r * 0x1.921fb6p+2f, z = x * x;   /* 2 pi */
    float c = -0x1.27e4fcp-22f;                /* -1/10! */
    c = c * z + 0x1.a01a02p-16f;               /* 1/8! */
    c = c * z - 0x1.6c16c2p-10f;               /* 1/6! */
    c = c * z + 0x1.555556p-5f;                /* 1/4! */
    c = c * z - 0.5f;
    c = c * z + 1.0f;
    float s = -0x1.ae6456p-26f;                /* -1/11! */
    s = s * z + 0x1.71de3ap-19f;               /* 1/9! */
    s = s * z - 0x1.a01a02p-13f;               /* 1/7! */
    s = s * z + 0x1.111112p-7f;                /* 1/5! */
    s = s * z - 0x1.555556p-3f;                /* 1/3! */
    s = x + x * z * s;
    switch (q & 3) {
    case 0: return c;
    case 1: return -s;
    case 2: return -c;
    default: return s;
    }
}

/* Element c of a standard normal stream: sqrt(-2 ln(1 - u0)) cos(2 pi u1),
   as dlh_philox_normal(seed, stream, c, 0, 1) within a few ulp, with the
   portable log and cos above. */
static inline float dlh_philox_normal_portable(uint64_t seed, uint64_t stream, uint64_t c)
{
    uint32_t w[4];
    dlh_philox_words(seed, stream, c, w);
    float u0 = dlh_philox_unit(w[0]), u1 = dlh_philox_unit(w[1]);
    float r = sqrtf(-2.0f * dlh_philox_log_portable(1.0f - u0));
    return r * dlh_philox_cos2pi_portable(u1);
}

#endif
