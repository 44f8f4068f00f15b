/* precision = "bf16": gemm with bfloat16 operands, fp32 accumulation and
 * fp32 output, through oneDNN's matmul primitive.  Built only with oneDNN
 * (HAVE_DNNL).  Everything outside gemm stays fp32: the weights, gradients
 * and optimiser state are the fp32 master copies, and only A and B are
 * rounded to bf16 (to nearest even, as PyTorch's .bfloat16()) on their way
 * into a product. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <stdlib.h>
#include <string.h>

#include <immintrin.h>
#include <omp.h>

#include "cpu.h"
#include "cpu_dnnl.h"
#include "cpu_gemm_cut.h"

/* Matmul primitives kept, one per shape (m, n, k, transposes, strides,
   alpha, beta); a step's shapes repeat, so after the first step every
   product finds its primitive.  Past this many the oldest is dropped. */
#define BF16_CACHE 64
/* A matmul's arguments: A, B, C and its scratchpad. */
#define BF16_ARGS 4

typedef struct bf16_entry {
    int used;
    int m, n, k, trans_a, trans_b, lda, ldb, ldc;
    uint32_t alpha_bits, beta_bits;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t md[BF16_ARGS];   /* A, B, C, scratchpad */
    size_t scratch;                     /* scratchpad bytes */
    /* Memory objects per OpenMP thread (BF16_ARGS each), made at a thread's
       first use: a thread runs one piece at a time, and set_data_handle
       points them at that piece's operands and the thread's scratchpad. */
    dnnl_memory_t *mem;
} bf16_entry;

struct cpu_bf16_state {
    dnnl_engine_t engine;
    dnnl_stream_t *streams;         /* one per OpenMP thread, made at first use */
    int slots;                      /* max_threads: the size of streams and mem */
    /* A scratchpad per OpenMP thread, grown by that thread alone.  oneDNN's
       own ("library" mode) would be one per primitive in this build, shared
       by the threads that run the primitive at once: the pieces of one
       product would race in it (a CNN's weights differed between runs). */
    void **scratch;
    size_t *scratch_cap;
    bf16_entry cache[BF16_CACHE];
    int next_evict;
    /* The operands rounded to bf16, packed without row padding.  A grow-once
       arena: it grows to the largest A and B seen (the first step) and the
       steps after it reuse it. */
    uint16_t *pa, *pb;
    size_t cap_a, cap_b;
};

/* fp32 to bf16, rounding to nearest even; a NaN becomes the quiet NaN
   0x7fc0, as c10::BFloat16 does. */
static inline uint16_t bf16_round(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint16_t r = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    return (u & 0x7fffffffu) > 0x7f800000u ? (uint16_t)0x7fc0 : r;
}

static void bf16_entry_drop(cpu_bf16_state *s, bf16_entry *e)
{
    if (e->mem != NULL) {
        for (int i = 0; i < BF16_ARGS * s->slots; i++)
            if (e->mem[i] != NULL)
                cpu_dn.memory_destroy(e->mem[i]);
        free(e->mem);
    }
    if (e->prim != NULL)
        cpu_dn.primitive_destroy(e->prim);
    memset(e, 0, sizeof *e);
}

void cpu_bf16_destroy(cpu_ctx *c)
{
    cpu_bf16_state *s = c->bf16;
    if (s == NULL)
        return;
    for (int i = 0; i < BF16_CACHE; i++)
        bf16_entry_drop(s, &s->cache[i]);
    if (s->streams != NULL) {
        for (int i = 0; i < s->slots; i++)
            if (s->streams[i] != NULL)
                cpu_dn.stream_destroy(s->streams[i]);
        free(s->streams);
    }
    for (int i = 0; s->scratch != NULL && i < s->slots; i++)
        free(s->scratch[i]);
    free(s->scratch);
    free(s->scratch_cap);
    if (s->engine != NULL)
        cpu_dn.engine_destroy(s->engine);
    free(s->pa);
    free(s->pb);
    free(s);
    c->bf16 = NULL;
}

int cpu_bf16_start(cpu_ctx *c, dlh_params *params)
{
    const dlh_host *host = c->host;
    /* oneDNN is loaded here, at the first use (cpu_dnnl.h); without it the
       refusal is one line, as in a build without it. */
    const char *lost;
    if (cpu_dnnl_load(&lost) != 0) {
        if (params != NULL)
            return host->param_error(params, "precision", "precision \"bf16\" needs oneDNN, "
                                     "which did not load (%s): apt-get install %s", lost,
                                     CPU_DNNL_PACKAGE);
        host->error("cpu: precision \"bf16\" needs oneDNN, which did not load (%s): "
                    "apt-get install %s", lost, CPU_DNNL_PACKAGE);
        return DLH_ECONFIG;
    }
    /* Without bf16 instructions oneDNN would emulate them, slower than
       fp32: refuse rather than run a "fast" mode that is not. */
    dnnl_cpu_isa_t isa = cpu_dn.get_effective_cpu_isa();
    if (((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) !=
        (unsigned)dnnl_cpu_isa_avx512_core_bf16) {
        const char *why = "precision \"bf16\" needs a CPU with native bf16 "
                          "(avx512_bf16 or AMX); oneDNN finds none here";
        if (params != NULL)
            return host->param_error(params, "precision", "%s", why);
        host->error("cpu: %s", why);
        return DLH_ECONFIG;
    }
    cpu_bf16_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        host->error("cpu: out of memory");
        return DLH_ENOMEM;
    }
    c->bf16 = s;
    s->slots = c->max_threads;
    s->streams = calloc((size_t)s->slots, sizeof *s->streams);
    s->scratch = calloc((size_t)s->slots, sizeof *s->scratch);
    s->scratch_cap = calloc((size_t)s->slots, sizeof *s->scratch_cap);
    if (s->streams == NULL || s->scratch == NULL || s->scratch_cap == NULL) {
        host->error("cpu: out of memory");
        return DLH_ENOMEM;
    }
    if (cpu_dn.engine_create(&s->engine, dnnl_cpu, 0) != dnnl_success) {
        s->engine = NULL;
        host->error("cpu: oneDNN could not create its CPU engine");
        return DLH_EDEVICE;
    }
    return 0;
}

/* Grows *buf to hold n elements; the first step sets the size for good. */
static int bf16_reserve(uint16_t **buf, size_t *cap, size_t n)
{
    if (n <= *cap)
        return 0;
    void *p = NULL;
    if (posix_memalign(&p, 64, n * sizeof(uint16_t)) != 0) {
        cpu_host->error("cpu gemm (bf16): out of memory for %zu operand elements", n);
        return DLH_ENOMEM;
    }
    free(*buf);
    *buf = p;
    *cap = n;
    return 0;
}

/* bf16_round over n values, 16 at a time: the same integer steps in
   AVX-512F (every CPU that passes cpu_bf16_start has it), not the CPU's
   VCVTNE2PS2BF16, which treats denormal inputs as zero where torch keeps
   them.  A fifth of a bf16 CNN step went to the plain loop (SSE2). */
__attribute__((target("avx512f")))
static void bf16_round_row(const float *src, uint16_t *dst, int n)
{
    const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1);
    const __m512i abs = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
    const __m512i qnan = _mm512_set1_epi32(0x7fc0);
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512i u = _mm512_loadu_si512((const void *)(src + j));
        __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, bias),
                                     _mm512_and_si512(_mm512_srli_epi32(u, 16), one));
        r = _mm512_srli_epi32(r, 16);
        __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, abs), inf);
        r = _mm512_mask_mov_epi32(r, nan, qnan);
        _mm256_storeu_si256((__m256i *)(dst + j), _mm512_cvtepi32_epi16(r));
    }
    for (; j < n; j++)
        dst[j] = bf16_round(src[j]);
}

/* dst = src rounded to bf16 (bf16_round's value), kept as fp32, for the
   convolutions that run an fp32 primitive on bf16 operands (cpu_conv.c). */
__attribute__((target("avx512f")))
void cpu_bf16_round_f32(float *dst, const float *src, size_t n)
{
    const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1);
    const __m512i abs = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
    const __m512i qnan = _mm512_set1_epi32(0x7fc00000), high = _mm512_set1_epi32((int)0xffff0000u);
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512i u = _mm512_loadu_si512((const void *)(src + j));
        __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, bias),
                                     _mm512_and_si512(_mm512_srli_epi32(u, 16), one));
        r = _mm512_and_si512(r, high);
        __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, abs), inf);
        _mm512_storeu_si512((void *)(dst + j), _mm512_mask_mov_epi32(r, nan, qnan));
    }
    for (; j < n; j++) {
        uint32_t u = (uint32_t)bf16_round(src[j]) << 16;
        memcpy(dst + j, &u, sizeof u);
    }
}

/* Rounds `items` rows x cols matrices (row stride ld, `stride` apart) into
   dst, packed.  Elementwise, so the bits do not depend on the threads. */
static void bf16_pack(const cpu_ctx *c, int items, int rows, int cols, const float *src,
                      int ld, int64_t stride, uint16_t *dst)
{
    size_t per = (size_t)rows * (size_t)cols;
    int64_t total_rows = (int64_t)items * rows;
    int threads = c->threads > 1 && per * (size_t)items >= 4 * CPU_PAR_MIN ? c->threads : 1;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int64_t r = 0; r < total_rows; r++) {
        int64_t item = r / rows, row = r % rows;
        const float *s = src + item * stride + row * (int64_t)ld;
        bf16_round_row(s, dst + (size_t)r * (size_t)cols, cols);
    }
}

static uint32_t bf16_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* The primitive for one block shape, made on first use.  It is planned for
   one thread (oneDNN reads the OpenMP thread count when it plans): each
   block runs whole on the thread that takes it, and the blocks are cut by
   the shape alone (cpu_gemm_pieces), so the bits do not depend on the
   thread count, as for fp32. */
static bf16_entry *bf16_lookup(cpu_bf16_state *s, int trans_a, int trans_b, int m, int n,
                               int k, float alpha, int lda, int ldb, float beta, int ldc)
{
    uint32_t ab = bf16_bits(alpha), bb = bf16_bits(beta);
    bf16_entry *e = NULL;
    for (int i = 0; i < BF16_CACHE; i++) {
        e = &s->cache[i];
        if (e->used && e->m == m && e->n == n && e->k == k && e->trans_a == trans_a &&
            e->trans_b == trans_b && e->lda == lda && e->ldb == ldb && e->ldc == ldc &&
            e->alpha_bits == ab && e->beta_bits == bb)
            return e;
    }
    e = NULL;
    for (int i = 0; i < BF16_CACHE && e == NULL; i++)
        if (!s->cache[i].used)
            e = &s->cache[i];
    if (e == NULL) {
        e = &s->cache[s->next_evict];
        s->next_evict = (s->next_evict + 1) % BF16_CACHE;
        bf16_entry_drop(s, e);
    }
    /* op(A) is m x k: A stored k x m (row stride lda) when transposed. */
    dnnl_dims_t da = { m, k }, db = { k, n }, dc = { m, n };
    dnnl_dims_t sa = { trans_a ? 1 : lda, trans_a ? lda : 1 };
    dnnl_dims_t sb = { trans_b ? 1 : ldb, trans_b ? ldb : 1 };
    dnnl_dims_t sc = { ldc, 1 };
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int ok = cpu_dn.memory_desc_init_by_strides(&e->md[0], 2, da, dnnl_bf16, sa) == 0 &&
             cpu_dn.memory_desc_init_by_strides(&e->md[1], 2, db, dnnl_bf16, sb) == 0 &&
             cpu_dn.memory_desc_init_by_strides(&e->md[2], 2, dc, dnnl_f32, sc) == 0 &&
             cpu_dn.matmul_desc_init(&desc, &e->md[0], &e->md[1], NULL, &e->md[2]) == 0 &&
             cpu_dn.primitive_attr_create(&attr) == 0 &&
             cpu_dn.primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == 0;
    if (ok && alpha != 1.0f)
        ok = cpu_dn.primitive_attr_set_output_scales(attr, 1, 0, &alpha) == 0;
    /* beta: a sum post-op, dst = alpha acc + beta dst; beta 0 overwrites. */
    if (ok && beta != 0.0f)
        ok = cpu_dn.post_ops_create(&ops) == 0 && cpu_dn.post_ops_append_sum(ops, beta) == 0 &&
             cpu_dn.primitive_attr_set_post_ops(attr, ops) == 0;
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    if (ok)
        ok = cpu_dn.primitive_desc_create(&pd, &desc, attr, s->engine, NULL) == 0 &&
             cpu_dn.primitive_create(&e->prim, pd) == 0;
    omp_set_num_threads(saved);
    const dnnl_memory_desc_t *smd =
        ok ? cpu_dn.primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0) : NULL;
    if (smd != NULL) {
        e->md[3] = *smd;
        e->scratch = cpu_dn.memory_desc_get_size(smd);
    }
    if (pd != NULL)
        cpu_dn.primitive_desc_destroy(pd);
    if (ops != NULL)
        cpu_dn.post_ops_destroy(ops);
    if (attr != NULL)
        cpu_dn.primitive_attr_destroy(attr);
    e->mem = ok ? calloc(BF16_ARGS * (size_t)s->slots, sizeof *e->mem) : NULL;
    if (!ok || e->mem == NULL) {
        cpu_host->error("cpu gemm (bf16): oneDNN has no matmul for %dx%dx%d "
                        "(trans %d %d)", m, n, k, trans_a, trans_b);
        bf16_entry_drop(s, e);
        return NULL;
    }
    e->used = 1;
    e->m = m, e->n = n, e->k = k, e->trans_a = trans_a, e->trans_b = trans_b;
    e->lda = lda, e->ldb = ldb, e->ldc = ldc, e->alpha_bits = ab, e->beta_bits = bb;
    return e;
}

/* Runs entry e on the calling OpenMP thread; 0 or -1. */
static int bf16_run(cpu_bf16_state *s, bf16_entry *e, const uint16_t *a, const uint16_t *b,
                    float *c)
{
    int slot = omp_get_thread_num();
    if (slot >= s->slots)
        return -1;
    dnnl_memory_t *mem = e->mem + BF16_ARGS * slot;
    if (s->streams[slot] == NULL &&
        cpu_dn.stream_create(&s->streams[slot], s->engine, dnnl_stream_default_flags) != 0)
        return -1;
    /* This thread's scratchpad, grown to the largest primitive it has run
       (the first step's). */
    if (e->scratch > s->scratch_cap[slot]) {
        void *p = NULL;
        if (posix_memalign(&p, 64, e->scratch) != 0)
            return -1;
        free(s->scratch[slot]);
        s->scratch[slot] = p;
        s->scratch_cap[slot] = e->scratch;
    }
    int nargs = e->scratch > 0 ? 4 : 3;
    for (int i = 0; i < nargs; i++)
        if (mem[i] == NULL &&
            cpu_dn.memory_create(&mem[i], &e->md[i], s->engine, DNNL_MEMORY_NONE) != 0) {
            mem[i] = NULL;
            return -1;
        }
    if (cpu_dn.memory_set_data_handle(mem[0], (void *)a) != 0 ||
        cpu_dn.memory_set_data_handle(mem[1], (void *)b) != 0 ||
        cpu_dn.memory_set_data_handle(mem[2], c) != 0 ||
        (nargs == 4 && cpu_dn.memory_set_data_handle(mem[3], s->scratch[slot]) != 0))
        return -1;
    dnnl_exec_arg_t args[4] = { { DNNL_ARG_SRC, mem[0] }, { DNNL_ARG_WEIGHTS, mem[1] },
                                { DNNL_ARG_DST, mem[2] }, { DNNL_ARG_SCRATCHPAD, mem[3] } };
    return cpu_dn.primitive_execute(e->prim, s->streams[slot], nargs, args) == 0 ? 0 : -1;
}

/* One problem on packed bf16 operands, cut as cpu_gemm.c cuts an fp32 one
   (the pieces from the shape and the machine, never the thread count). */
static int bf16_problem(cpu_ctx *cx, int trans_a, int trans_b, int m, int n, int k,
                        float alpha, const uint16_t *a, int lda, const uint16_t *b,
                        int ldb, float beta, float *c, int ldc)
{
    cpu_bf16_state *s = cx->bf16;
    int parts = cpu_gemm_pieces(cx, m, n, k);
    double sa = (double)m * k, sb = (double)k * n, sc = (double)m * n;
    int by_rows = (sc >= sa && sc >= sb) || sa > sb;
    int len = by_rows ? m : n, align = by_rows ? 4 : 16;
    int chunk = (len + parts - 1) / parts;
    chunk = parts < 2 ? len : (chunk + align - 1) / align * align;
    /* At most two block shapes: chunk, and what is left for the last. */
    int full = len / chunk, rest = len % chunk;
    bf16_entry *e_full = bf16_lookup(s, trans_a, trans_b, by_rows ? chunk : m,
                                     by_rows ? n : chunk, k, alpha, lda, ldb, beta, ldc);
    bf16_entry *e_rest = rest == 0 ? NULL
                         : bf16_lookup(s, trans_a, trans_b, by_rows ? rest : m,
                                       by_rows ? n : rest, k, alpha, lda, ldb, beta, ldc);
    if (e_full == NULL || (rest != 0 && e_rest == NULL))
        return DLH_EDEVICE;
    int blocks = full + (rest != 0);
    int threads = cx->threads < blocks ? cx->threads : blocks, failed = 0;
    /* Each thread its own block first, as cpu_gemm.c's pieces. */
    unsigned char claimed[CPU_MAX_PANELS] = { 0 };
#pragma omp parallel num_threads(threads) if (threads > 1) reduction(| : failed)
    {
        gemm_cut_walk w = gemm_cut_walk_begin(claimed, blocks);
        for (int t; (t = gemm_cut_walk_next(&w)) >= 0;) {
            size_t lo = (size_t)t * (size_t)chunk;
            bf16_entry *e = t < full ? e_full : e_rest;
            if (by_rows)
                failed |= bf16_run(s, e, a + (trans_a ? lo : lo * (size_t)lda), b,
                                   c + lo * (size_t)ldc);
            else
                failed |= bf16_run(s, e, a, b + (trans_b ? lo * (size_t)ldb : lo), c + lo);
        }
    }
    if (failed) {
        cpu_host->error("cpu gemm (bf16): oneDNN's matmul failed for %dx%dx%d", m, n, k);
        return DLH_EDEVICE;
    }
    return 0;
}

static int bf16_gemm(cpu_ctx *cx, int trans_a, int trans_b, int m, int n, int k,
                     float alpha, const float *a, int lda, int64_t stride_a,
                     const float *b, int ldb, int64_t stride_b, float beta, float *c,
                     int ldc, int64_t stride_c, int batch, int side_by_side)
{
    cpu_bf16_state *s = cx->bf16;
    /* A is stored rows_a x cols_a; packed, its row stride is cols_a. */
    int rows_a = trans_a ? k : m, cols_a = trans_a ? m : k;
    int rows_b = trans_b ? n : k, cols_b = trans_b ? k : n;
    int items_a = stride_a == 0 ? 1 : batch, items_b = stride_b == 0 ? 1 : batch;
    size_t per_a = (size_t)rows_a * (size_t)cols_a, per_b = (size_t)rows_b * (size_t)cols_b;
    int rc = bf16_reserve(&s->pa, &s->cap_a, per_a * (size_t)items_a);
    if (rc == 0)
        rc = bf16_reserve(&s->pb, &s->cap_b, per_b * (size_t)items_b);
    if (rc != 0)
        return rc;
    bf16_pack(cx, items_a, rows_a, cols_a, a, lda, stride_a, s->pa);
    bf16_pack(cx, items_b, rows_b, cols_b, b, ldb, stride_b, s->pb);
    size_t step_a = items_a > 1 ? per_a : 0, step_b = items_b > 1 ? per_b : 0;
    if (!side_by_side) {
        for (int i = 0; i < batch && rc == 0; i++)
            rc = bf16_problem(cx, trans_a, trans_b, m, n, k, alpha, s->pa + i * step_a,
                              cols_a, s->pb + i * step_b, cols_b, beta,
                              c + (size_t)i * (size_t)stride_c, ldc);
        return rc;
    }
    bf16_entry *e = bf16_lookup(s, trans_a, trans_b, m, n, k, alpha, cols_a, cols_b, beta,
                                ldc);
    if (e == NULL)
        return DLH_EDEVICE;
    double mnk = (double)m * (double)n * (double)k;
    int threads = cx->threads > 1 && mnk * batch >= 4.0 * CPU_PAR_MIN ? cx->threads : 1;
    int failed = 0;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1) \
    reduction(| : failed)
    for (int i = 0; i < batch; i++)
        failed |= bf16_run(s, e, s->pa + (size_t)i * step_a, s->pb + (size_t)i * step_b,
                           c + (size_t)i * (size_t)stride_c);
    if (failed) {
        cpu_host->error("cpu gemm (bf16): oneDNN's matmul failed for %d of %dx%dx%d",
                        batch, m, n, k);
        return DLH_EDEVICE;
    }
    return 0;
}

int cpu_bf16_gemm(cpu_ctx *cx, int trans_a, int trans_b, int m, int n, int k, float alpha,
                  const float *a, int lda, int64_t stride_a, const float *b, int ldb,
                  int64_t stride_b, float beta, float *c, int ldc, int64_t stride_c,
                  int batch, int side_by_side)
{
    /* oneDNN plans and runs for omp_get_max_threads() threads when called
       outside a parallel region: keep it at one here (the team sizes of
       this file's own regions are explicit). */
    int saved = omp_get_max_threads();
    if (saved != 1)
        omp_set_num_threads(1);
    int rc = bf16_gemm(cx, trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb,
                       stride_b, beta, c, ldc, stride_c, batch, side_by_side);
    if (saved != 1)
        omp_set_num_threads(saved);
    return rc;
}
