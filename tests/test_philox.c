/* Philox 4x32-10 (include/dlhost/philox.h): the published Random123
 * known-answer vectors, the (seed, stream, offset) packing against values from
 * an independent Python implementation, and the statistics of the three
 * distributions. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <dlhost/philox.h>

#include "tap.h"

static void kat(const char *name, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                uint32_t k0, uint32_t k1, const uint32_t want[4])
{
    uint32_t ctr[4] = { c0, c1, c2, c3 }, key[2] = { k0, k1 }, out[4];
    dlh_philox4x32_10(ctr, key, out);
    int same = memcmp(out, want, sizeof out) == 0;
    ok(same, "philox4x32_10 known answer: %s", name);
    if (!same)
        diag("got %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
}

int main(void)
{
    /* Random123 kat_vectors, philox4x32 with 10 rounds. */
    static const uint32_t zero[4] = { 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 };
    static const uint32_t ones[4] = { 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd };
    static const uint32_t pi[4] = { 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 };
    kat("zero counter and key", 0, 0, 0, 0, 0, 0, zero);
    kat("all-ones counter and key", 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
        0xffffffff, 0xffffffff, ones);
    kat("digits of pi", 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822,
        0x299f31d0, pi);

    /* Packing of 64-bit seed, stream and counter into key and counter words,
       and the word-to-float mapping; references from a Python Philox that
       reproduces the vectors above. */
    const uint64_t seed = 0x0123456789abcdefULL, stream = 0xfedcba9876543210ULL;
    static const struct {
        uint64_t c;
        uint32_t w[4];
        double uniform_m2_3, normal;
    } ref[] = {
        { 0, { 0xaef2adf7, 0xf69b5950, 0x3ceb44f4, 0x89b6573a },
          1.4169521927833557, 1.4765053496213307 },
        { 1, { 0xec2ab39f, 0x4671fd85, 0x74decae0, 0x4b77ec76 },
          2.612632691860199, -0.35630173680780364 },
        { 0x100000005ULL, { 0xdbf53b14, 0x2c1e3d7c, 0x9be4ef2a, 0x9b36272b },
          2.2960533499717712, 0.9283680874920354 },
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        uint32_t w[4];
        dlh_philox_words(seed, stream, ref[i].c, w);
        ok(memcmp(w, ref[i].w, sizeof w) == 0,
           "words of (seed, stream, counter %llu) pack the 64-bit halves as documented",
           (unsigned long long)ref[i].c);
        /* u0 has 24 bits, exact in float; a + (b-a) u0 rounds once. */
        is_float(dlh_philox_uniform(seed, stream, ref[i].c, -2.0f, 3.0f),
                 ref[i].uniform_m2_3, 1e-6, "uniform(-2, 3) at counter %llu",
                 (unsigned long long)ref[i].c);
        /* Float log/cos against double: a few ulps. */
        is_float(dlh_philox_normal(seed, stream, ref[i].c, 0.0f, 1.0f), ref[i].normal,
                 1e-5, "normal(0, 1) at counter %llu", (unsigned long long)ref[i].c);
        is_float(dlh_philox_normal(seed, stream, ref[i].c, 1.5f, 2.0f),
                 1.5 + 2.0 * ref[i].normal, 2e-5, "normal(1.5, 2) at counter %llu",
                 (unsigned long long)ref[i].c);
    }
    ok(dlh_philox_unit(0xffffffffu) < 1.0f && dlh_philox_unit(0xffffffffu) ==
       16777215.0f / 16777216.0f, "the largest word maps below 1");
    ok(dlh_philox_unit(0xffu) == 0.0f, "the low 8 bits are dropped");

    /* Statistics over 1e5 draws.  Standard errors: uniform mean 0.0009,
       normal mean 0.0032, normal variance 0.0045, bernoulli rate 0.0014;
       the tolerances are 5 or more of them. */
    const int n = 100000;
    const uint64_t s2 = 42, st2 = 7;
    int in_range = 1;
    double su = 0, sn = 0, snn = 0, sb = 0;
    int binary = 1;
    for (int i = 0; i < n; i++) {
        float u = dlh_philox_uniform(s2, st2, (uint64_t)i, 0.0f, 1.0f);
        if (!(u >= 0.0f && u < 1.0f))
            in_range = 0;
        su += u;
        float z = dlh_philox_normal(s2, st2, (uint64_t)i, 0.0f, 1.0f);
        sn += z;
        snn += (double)z * z;
        float b = dlh_philox_bernoulli(s2, st2, (uint64_t)i, 0.3f);
        if (b != 0.0f && b != 1.0f)
            binary = 0;
        sb += b;
    }
    ok(in_range, "uniform(0, 1) draws lie in [0, 1)");
    is_float(su / n, 0.5, 0.005, "uniform mean");
    double mean = sn / n, var = snn / n - mean * mean;
    is_float(mean, 0.0, 0.02, "normal mean");
    is_float(var, 1.0, 0.03, "normal variance");
    ok(binary, "bernoulli draws are 0 or 1");
    is_float(sb / n, 0.3, 0.01, "bernoulli(0.3) rate");
    ok(dlh_philox_bernoulli(s2, st2, 3, 0.0f) == 0.0f &&
       dlh_philox_bernoulli(s2, st2, 3, 1.0f) == 1.0f, "bernoulli(0) is 0, bernoulli(1) is 1");

    /* A fill of 10 from offset 5 is elements 5..14 of a fill of 20. */
    float whole[20], part[10];
    for (int i = 0; i < 20; i++)
        whole[i] = dlh_philox_normal(s2, st2, 0 + (uint64_t)i, 0.0f, 1.0f);
    for (int i = 0; i < 10; i++)
        part[i] = dlh_philox_normal(s2, st2, 5 + (uint64_t)i, 0.0f, 1.0f);
    ok(memcmp(part, whole + 5, sizeof part) == 0, "offset + i addressing is consistent");
    ok(dlh_philox_uniform(s2, st2, 0, 0.0f, 1.0f) != dlh_philox_uniform(s2, st2 + 1, 0, 0.0f, 1.0f)
       && dlh_philox_uniform(s2, st2, 0, 0.0f, 1.0f) != dlh_philox_uniform(s2 + 1, st2, 0, 0.0f, 1.0f),
       "another stream or seed gives other numbers");
    return done_testing();
}
