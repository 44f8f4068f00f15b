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

#endif
