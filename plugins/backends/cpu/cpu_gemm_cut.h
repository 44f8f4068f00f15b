/* How the cpu backend cuts one gemm into pieces: one header, so that
   cpu_gemm.c and the bench's floor (bench/sgemm_floor.c) cannot drift apart.
   Plain C, no cpu_ctx: the floor includes it without the plugin. */
#ifndef DLHOST_CPU_GEMM_CUT_H
#define DLHOST_CPU_GEMM_CUT_H

#ifdef _OPENMP
#include <omp.h>
#endif

/* Below GEMM_SPLIT_MNK (m*n*k) waking the team costs more than it saves. */
#define GEMM_SPLIT_MNK 2097152.0

/* The pieces a problem of m*n*k multiply-adds is cut into: the machine's
   CPU count (panels), fewer where a piece would fall under half of
   GEMM_SPLIT_MNK, one below GEMM_SPLIT_MNK.  The shape and the machine
   alone decide, never the thread count (see cpu_gemm.c). */
static inline int gemm_cut_pieces(int panels, int m, int n, int k)
{
    double mnk = (double)m * (double)n * (double)k;
    if (panels < 2 || mnk < GEMM_SPLIT_MNK || k == 0)
        return 1;
    double most = mnk / (0.5 * GEMM_SPLIT_MNK);
    return most < (double)panels ? (int)most : panels;
}

/* The cut itself: by rows of C (by_rows) when C or A is the largest
   operand, else by columns; piece t covers [t * chunk, min(len, (t + 1) *
   chunk)) of the rows or columns, chunk rounded up to 4 rows or 16 columns. */
typedef struct {
    int by_rows, len, chunk;
} gemm_cut;

static inline gemm_cut gemm_cut_make(int m, int n, int k, int parts)
{
    gemm_cut g;
    double sa = (double)m * k, sb = (double)k * n, sc = (double)m * n;
    g.by_rows = (sc >= sa && sc >= sb) || sa > sb;
    g.len = g.by_rows ? m : n;
    int align = g.by_rows ? 4 : 16;
    g.chunk = (g.len + parts - 1) / parts;
    g.chunk = (g.chunk + align - 1) / align * align;
    return g;
}

/* Which thread runs which piece.  Each thread of nt starts at the first
   piece of its own share (tid * parts / nt) and goes on through the pieces
   in order, wrapping, running every piece it claims first.  So with a thread
   per piece each runs its own, the same rows of a weight, of its gradient
   and of the update's static shares on the same core every step (here two
   vCPUs whose cache lines take ~0.25 us to cross), while a thread that is
   preempted before it claims its piece leaves it to the others.  Which
   thread runs a piece changes no bit.  claimed[] holds a zero byte per
   piece before the region. */
static inline int gemm_cut_first(int parts, int nt, int tid)
{
    return tid * parts / nt;
}

static inline int gemm_cut_order(int parts, int nt, int tid, int i)
{
    return (gemm_cut_first(parts, nt, tid) + i) % parts;
}

static inline int gemm_cut_claim(unsigned char *claimed, int t)
{
    return !__atomic_exchange_n(&claimed[t], (unsigned char)1, __ATOMIC_ACQ_REL);
}

/* One thread's walk over the pieces in that order, inside the parallel
   region; the caller owns claimed[] (on its stack, zeroed before the
   region), so nothing is allocated:
       gemm_cut_walk w = gemm_cut_walk_begin(claimed, parts);
       for (int t; (t = gemm_cut_walk_next(&w)) >= 0;)
           run piece t;
   next returns each piece this thread claims, -1 once it has tried all. */
typedef struct {
    unsigned char *claimed;
    int parts, first, i;
} gemm_cut_walk;

static inline gemm_cut_walk gemm_cut_walk_begin(unsigned char *claimed, int parts)
{
    int nt = 1, tid = 0;
#ifdef _OPENMP
    nt = omp_get_num_threads();
    tid = omp_get_thread_num();
#endif
    gemm_cut_walk w = { claimed, parts, gemm_cut_first(parts, nt, tid), 0 };
    return w;
}

static inline int gemm_cut_walk_next(gemm_cut_walk *w)
{
    while (w->i < w->parts) {
        int t = (w->first + w->i++) % w->parts;   /* gemm_cut_order */
        if (gemm_cut_claim(w->claimed, t))
            return t;
    }
    return -1;
}

#endif
