/* The 2x2, stride 2, unpadded max pool of one plane (cpu_image.c's common
 * case) in AVX2 and AVX-512 intrinsics, picked as cpu_ew.c picks its loops
 * (cpu_isa_level; DLHOST_CPU_EW_ISA caps it).  A pooled row of LeNet is 14
 * or 5 wide: the plain loop's vectors of 4 and its scalar tail ran ~5 cycles
 * an output.  Here one pass takes 8 (AVX2) or 16 (AVX-512) outputs, the
 * window's four cells split into even and odd columns by a permute, a
 * row's tail by masked loads and stores (no read or write past the cells
 * the windows cover).
 *
 * The rules are cpu_image.c's, cell by cell in window order: a cell wins
 * when it is greater than the best so far, or a NaN while the best is not
 * (the first maximum, and the first NaN); the index is the winner's offset
 * in the plane.  Only comparisons and selects of the inputs: the bits are
 * the plain loop's on every ISA.  With relu (pool2d_max_relu) each cell is
 * first max(v, +0), which is relu's x > 0 ? x : +0 bit for bit (maxps gives
 * its second operand for a NaN and for two zeros), and the index is -1 where
 * the maximum is not above 0. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "cpu.h"

#ifdef CPU_ISA_COPIES
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx2")
/* The first n of 8 lanes (n in 0..8), as a maskload/maskstore mask. */
static inline __m256i p2_mask8(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Even (*e) and odd (*o) lanes of the 16 floats a, b. */
static inline void p2_split8(__m256 a, __m256 b, __m256 *e, __m256 *o)
{
    /* [a0 a2 b0 b2 | a4 a6 b4 b6] -> [a0 a2 a4 a6 b0 b2 b4 b6] */
    *e = _mm256_castpd_ps(_mm256_permute4x64_pd(
             _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))),
             _MM_SHUFFLE(3, 1, 2, 0)));
    *o = _mm256_castpd_ps(_mm256_permute4x64_pd(
             _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))),
             _MM_SHUFFLE(3, 1, 2, 0)));
}

#define P2_CELL8(v, off)                                                              \
    do {                                                                              \
        __m256 take = _mm256_or_ps(_mm256_cmp_ps((v), best, _CMP_GT_OQ),              \
                                   _mm256_and_ps(_mm256_cmp_ps((v), (v), _CMP_UNORD_Q), \
                                                 _mm256_cmp_ps(best, best, _CMP_ORD_Q))); \
        best = _mm256_blendv_ps(best, (v), take);                                     \
        at = _mm256_blendv_epi8(at, _mm256_set1_epi32(off), _mm256_castps_si256(take)); \
    } while (0)

void cpu_max2x2_plane_avx2(const dlh_window2d *g, const float *in, float *out, int32_t *oi,
                           int relu)
{
    const __m256 zero = _mm256_setzero_ps();
    const int ow = g->ow, w = g->w;
    const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    for (int oy = 0; oy < g->oh; oy++) {
        const float *r0 = in + (size_t)(2 * oy) * (size_t)w, *r1 = r0 + w;
        float *o = out + (size_t)oy * (size_t)ow;
        int32_t *io = oi != NULL ? oi + (size_t)oy * (size_t)ow : NULL;
        const int32_t base = 2 * oy * w;
        for (int ox = 0; ox < ow; ox += 8) {
            int rem = ow - ox < 8 ? ow - ox : 8;
            __m256 a0, a1, b0, b1;
            if (rem == 8) {
                a0 = _mm256_loadu_ps(r0 + 2 * ox);
                a1 = _mm256_loadu_ps(r0 + 2 * ox + 8);
                b0 = _mm256_loadu_ps(r1 + 2 * ox);
                b1 = _mm256_loadu_ps(r1 + 2 * ox + 8);
            } else {
                __m256i lo = p2_mask8(2 * rem > 8 ? 8 : 2 * rem);
                __m256i hi = p2_mask8(2 * rem > 8 ? 2 * rem - 8 : 0);
                a0 = _mm256_maskload_ps(r0 + 2 * ox, lo);
                a1 = _mm256_maskload_ps(r0 + 2 * ox + 8, hi);
                b0 = _mm256_maskload_ps(r1 + 2 * ox, lo);
                b1 = _mm256_maskload_ps(r1 + 2 * ox + 8, hi);
            }
            if (relu) {
                a0 = _mm256_max_ps(a0, zero);
                a1 = _mm256_max_ps(a1, zero);
                b0 = _mm256_max_ps(b0, zero);
                b1 = _mm256_max_ps(b1, zero);
            }
            __m256 c00, c01, c10, c11;
            p2_split8(a0, a1, &c00, &c01);
            p2_split8(b0, b1, &c10, &c11);
            __m256 best = c00;
            __m256i at = _mm256_setzero_si256();
            P2_CELL8(c01, 1);
            P2_CELL8(c10, w);
            P2_CELL8(c11, w + 1);
            __m256i idx = _mm256_add_epi32(_mm256_add_epi32(_mm256_set1_epi32(base + 2 * ox),
                                                            lane2), at);
            if (relu)
                idx = _mm256_blendv_epi8(_mm256_set1_epi32(-1), idx, _mm256_castps_si256(
                                             _mm256_cmp_ps(best, zero, _CMP_GT_OQ)));
            if (rem == 8) {
                _mm256_storeu_ps(o + ox, best);
                if (io != NULL)
                    _mm256_storeu_si256((__m256i *)(io + ox), idx);
            } else {
                __m256i m = p2_mask8(rem);
                _mm256_maskstore_ps(o + ox, m, best);
                if (io != NULL)
                    _mm256_maskstore_epi32(io + ox, m, idx);
            }
        }
    }
}
#undef P2_CELL8
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq")
#define P2_CELL16(v, off)                                                              \
    do {                                                                               \
        __mmask16 take = _mm512_cmp_ps_mask((v), best, _CMP_GT_OQ) |                   \
                         (_mm512_cmp_ps_mask((v), (v), _CMP_UNORD_Q) &                 \
                          _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q));                 \
        best = _mm512_mask_blend_ps(take, best, (v));                                  \
        at = _mm512_mask_blend_epi32(take, at, _mm512_set1_epi32(off));                \
    } while (0)

void cpu_max2x2_plane_avx512(const dlh_window2d *g, const float *in, float *out, int32_t *oi,
                             int relu)
{
    const __m512 zero = _mm512_setzero_ps();
    const int ow = g->ow, w = g->w;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                           26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int oy = 0; oy < g->oh; oy++) {
        const float *r0 = in + (size_t)(2 * oy) * (size_t)w, *r1 = r0 + w;
        float *o = out + (size_t)oy * (size_t)ow;
        int32_t *io = oi != NULL ? oi + (size_t)oy * (size_t)ow : NULL;
        const int32_t base = 2 * oy * w;
        for (int ox = 0; ox < ow; ox += 16) {
            int rem = ow - ox < 16 ? ow - ox : 16;
            /* The 2 rem cells of each row: the first 16 and the rest. */
            __mmask16 lo = (__mmask16)((1u << (2 * rem > 16 ? 16 : 2 * rem)) - 1);
            __mmask16 hi = (__mmask16)((1u << (2 * rem > 16 ? 2 * rem - 16 : 0)) - 1);
            __m512 a0 = _mm512_maskz_loadu_ps(lo, r0 + 2 * ox);
            __m512 a1 = _mm512_maskz_loadu_ps(hi, r0 + 2 * ox + 16);
            __m512 b0 = _mm512_maskz_loadu_ps(lo, r1 + 2 * ox);
            __m512 b1 = _mm512_maskz_loadu_ps(hi, r1 + 2 * ox + 16);
            if (relu) {
                a0 = _mm512_max_ps(a0, zero);
                a1 = _mm512_max_ps(a1, zero);
                b0 = _mm512_max_ps(b0, zero);
                b1 = _mm512_max_ps(b1, zero);
            }
            __m512 c01 = _mm512_permutex2var_ps(a0, odd, a1);
            __m512 c10 = _mm512_permutex2var_ps(b0, even, b1);
            __m512 c11 = _mm512_permutex2var_ps(b0, odd, b1);
            __m512 best = _mm512_permutex2var_ps(a0, even, a1);
            __m512i at = _mm512_setzero_si512();
            P2_CELL16(c01, 1);
            P2_CELL16(c10, w);
            P2_CELL16(c11, w + 1);
            __mmask16 m = (__mmask16)((1u << rem) - 1);
            _mm512_mask_storeu_ps(o + ox, m, best);
            if (io != NULL) {
                __m512i idx = _mm512_add_epi32(_mm512_add_epi32(
                                  _mm512_set1_epi32(base + 2 * ox), even), at);
                if (relu)
                    idx = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(best, zero, _CMP_GT_OQ),
                                                  _mm512_set1_epi32(-1), idx);
                _mm512_mask_storeu_epi32(io + ox, m, idx);
            }
        }
    }
}
#undef P2_CELL16

/* The backward over a plane the windows cover exactly: 16 windows a pass,
   each cell 0 + dy where the window's index points at it (its offset from
   the corner 0, 1, w or w + 1), else +0, the four cells interleaved back
   into two rows by a permute; a row's tail by masked loads and stores. */
void cpu_max2x2_back_plane_avx512(const dlh_window2d *g, const float *dy, const int32_t *idx,
                                  float *dx)
{
    const int ow = g->ow, w = g->w;
    const __m512 zero = _mm512_setzero_ps();
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                           26, 28, 30);
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7,
                                         23);
    const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
    const __m512i c1 = _mm512_set1_epi32(1), cw = _mm512_set1_epi32(w);
    const __m512i cw1 = _mm512_set1_epi32(w + 1);
    for (int oy = 0; oy < g->oh; oy++) {
        float *r0 = dx + (size_t)(2 * oy) * (size_t)w, *r1 = r0 + w;
        const float *gy = dy + (size_t)oy * (size_t)ow;
        const int32_t *ix = idx + (size_t)oy * (size_t)ow;
        const int32_t base = 2 * oy * w;
        for (int ox = 0; ox < ow; ox += 16) {
            int rem = ow - ox < 16 ? ow - ox : 16;
            __mmask16 m = (__mmask16)((1u << rem) - 1);
            __mmask16 mlo = (__mmask16)((1u << (2 * rem > 16 ? 16 : 2 * rem)) - 1);
            __mmask16 mhi = (__mmask16)((1u << (2 * rem > 16 ? 2 * rem - 16 : 0)) - 1);
            __m512 d = _mm512_add_ps(zero, _mm512_maskz_loadu_ps(m, gy + ox));
            __m512i at = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(m, ix + ox),
                                          _mm512_add_epi32(_mm512_set1_epi32(base + 2 * ox),
                                                           even));
            __m512 c00 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at, _mm512_setzero_si512()), d);
            __m512 c01 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at, c1), d);
            __m512 c10 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at, cw), d);
            __m512 c11 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at, cw1), d);
            _mm512_mask_storeu_ps(r0 + 2 * ox, mlo, _mm512_permutex2var_ps(c00, lo, c01));
            _mm512_mask_storeu_ps(r0 + 2 * ox + 16, mhi, _mm512_permutex2var_ps(c00, hi, c01));
            _mm512_mask_storeu_ps(r1 + 2 * ox, mlo, _mm512_permutex2var_ps(c10, lo, c11));
            _mm512_mask_storeu_ps(r1 + 2 * ox + 16, mhi, _mm512_permutex2var_ps(c10, hi, c11));
        }
    }
}
#pragma GCC pop_options
#endif
