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
 * Backward data (cpu_conv_direct_data_fits: groups 1, stride 1, dilation 1,
 * at most CPU_CONV_DIRECT_DATA_C input channels, padding below the kernel;
 * LeNet's second, 6 to 16 channels) is the forward's loop on dy with the
 * kernel transposed and flipped, over the kernel rows that meet dy: there
 * oneDNN pads the 6 input channels to 16 and reorders dy and dx to and
 * from its blocked format; this ran level with it (0.36 ms for 64 samples
 * against 0.31 + 0.05 of reorders, one thread, AVX-512), without the
 * copies.
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

/* The short row copies below stay loops: GCC would make each a memcpy or
   memmove call of a variable size, several per sample (4 % of LeNet's
   epoch). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

/* Vector loads and stores through memcpy (any alignment; no vector
   arguments, whose ABI changes with the ISA). */
#define DV_LD(v, p) memcpy(&(v), (p), sizeof(v))
#define DV_ST(p, v) memcpy((p), &(v), sizeof(v))
#define AI static inline __attribute__((always_inline))
/* Output channels kept in registers at once. */
#define DIRECT_OB 8

/* One include per ISA: the name prefix, lanes, forward chunks, weight taps
   per pass and (optional) the target it is compiled for. */
#define DIRECT_P direct_base_
#define DIRECT_VW 4
#define DIRECT_NJ 1
#define DIRECT_TB 1
#include "cpu_conv_direct_body.h"

#ifdef CPU_ISA_COPIES
#define DIRECT_P direct_avx2_
#define DIRECT_VW 8
#define DIRECT_NJ 1
#define DIRECT_TB 1
#define DIRECT_TARGET "avx2"
#include "cpu_conv_direct_body.h"

#define DIRECT_P direct_avx512_
#define DIRECT_VW 16
#define DIRECT_NJ 2
#define DIRECT_TB 3
#define DIRECT_TARGET "avx512f,avx512vl,avx512dq,prefer-vector-width=512"
#include "cpu_conv_direct_body.h"
#endif

int cpu_conv_direct_fits(const dlh_conv2d_desc *d, int bf16)
{
    const dlh_window2d *g = &d->g;
    return !bf16 && d->groups == 1 && g->sh == 1 && g->sw == 1 && g->dh == 1 &&
           g->dw == 1 && (int64_t)g->c * g->kh * g->kw <= CPU_CONV_DIRECT_TAPS &&
           g->oh + g->kh - 1 >= g->h + g->ph && g->ow + g->kw - 1 >= g->w + g->pw;
}

/* Backward data for stride 1, dilation 1, at most CPU_CONV_DIRECT_DATA_C
   input channels and padding (each side) below the kernel, fp32. */
int cpu_conv_direct_data_fits(const dlh_conv2d_desc *d, int bf16)
{
    const dlh_window2d *g = &d->g;
    int64_t rh = (int64_t)g->oh + g->kh - 1 - g->h - g->ph;
    int64_t rw = (int64_t)g->ow + g->kw - 1 - g->w - g->pw;
    return !bf16 && d->groups == 1 && g->sh == 1 && g->sw == 1 && g->dh == 1 &&
           g->dw == 1 && g->c <= CPU_CONV_DIRECT_DATA_C && g->ph < g->kh &&
           g->pw < g->kw && rh >= 0 && rh < g->kh && rw >= 0 && rw < g->kw;
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
    k->dnch = (g->w + 15) / 16;
    k->dwpp = k->dnch * 16 + g->kw - 1;
    k->ddy_floats = ((size_t)k->out_c * k->oh * k->dwpp + 15) & ~(size_t)15;
    int level = cpu_isa_level();
    k->fwd = CPU_ISA_PICK(level, direct_base_fwd, direct_avx2_fwd, direct_avx512_fwd);
    k->wgt = CPU_ISA_PICK(level, direct_base_wgt, direct_avx2_wgt, direct_avx512_wgt);
    k->data = CPU_ISA_PICK(level, direct_base_data, direct_avx2_data, direct_avx512_data);
    size_t fw = k->pad_floats + k->dy_floats +
                (size_t)k->out_c * ((size_t)k->c * k->kh * k->kw + 1) * 16;
    size_t data = k->ddy_floats + (size_t)k->out_c * k->c * k->kh * k->kw;
    return fw > data ? fw : data;
}
