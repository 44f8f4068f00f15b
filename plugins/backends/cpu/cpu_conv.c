/* The optional conv2d primitives (backend.h, ABI 1.9) through oneDNN's C API.
 *
 * Thread-count invariance: oneDNN (OpenMP runtime) sizes a primitive's work
 * split to omp_get_max_threads() when the primitive is made, and its
 * backward-weights kernels reduce per-thread partial sums over the batch, so
 * its bits follow the thread count: LeNet's second convolution (mb 64, 6 to
 * 16 channels, 5x5) gave another weight gradient in 1856 of 2400 elements
 * with 2 threads than with 1 (its input gradient did not differ).  So,
 * as cpu_gemm.c does for gemms, the batch is cut into pieces by the
 * machine's CPU count (cx->panels), never by the thread count: the
 * primitives are made single-threaded, each piece is one single-threaded
 * oneDNN call on its own samples, the OpenMP team runs the pieces side by
 * side (a thread takes several when there are fewer threads), and the
 * weight gradient is each piece's partial added up in piece order.  Inside
 * our parallel region oneDNN runs sequentially (it does not nest).
 *
 * The layer's tensors are plain NCHW / OIHW (GOIHW with groups).  Given
 * those formats oneDNN 2.6 picks its gemm convolution (x64:gemm:jit, a C++
 * im2col before its sgemm), slower than our own im2col + OpenBLAS; given
 * format_tag_any it picks jit:avx512_core (on LeNet's shapes, one thread,
 * mb 64: forward 4-5x, backward weights 1.7-6x the gemm one), so each
 * piece reorders its inputs into a per-piece area in the formats the
 * primitive asked for and its outputs back (reorders copy, exactly).
 * Each primitive takes, by oneDNN's implementation name (conv_rank), the
 * fastest of those formats and nhwc x and y: LeNet's second convolution's
 * weight gradient has AVX-512 code only in nhwc (0.21 ms against avx2's
 * 0.62 in 8-channel blocks, mb 64, one thread); under precision = "bf16"
 * also the fp32 primitive on rounded operands (conv_primitive).  The
 * reorders run on one thread as the primitives do (conv_run).
 * Scratchpads are user-managed, one per piece, allocated at prepare.  A plan holds primitives per piece size: the
 * plan's batch (its pieces and last piece) at prepare; a smaller batch (a
 * last partial batch, evaluation) makes its piece sizes' primitives on first
 * use, the only allocation of the runs, once per size. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "cpu.h"
#include "cpu_dnnl.h"
#include "cpu_gemm_cut.h"

/* One tensor of a primitive (x, w or y side): the layer's plain memory and,
   when the primitive prefers another format (oneDNN's blocked nChw16c and
   the like, several times faster than its plain-format gemm convolution),
   a reorder to it (inputs) or from it (outputs) through a per-piece area. */
typedef struct conv_arg {
    int arg;                                 /* DNNL_ARG_* */
    int out;                                 /* written by the primitive */
    dnnl_primitive_t reorder;                /* NULL: the plain format is taken */
    int round;                               /* an fp32 primitive's bf16 operand */
    size_t off, count;                       /* the copy's place in the area, floats */
    dnnl_memory_t plain[CPU_MAX_PANELS], blocked[CPU_MAX_PANELS];
} conv_arg;

/* A primitive and its x, w, y tensors. */
typedef struct conv_prim {
    dnnl_primitive_t prim;
    conv_arg a[3];
} conv_prim;

/* Primitives for pieces of mb samples: forward, backward data, backward
   weights. */
typedef struct conv_size {
    int mb;
    conv_prim k[3];
} conv_size;

typedef struct conv_plan {
    dlh_conv2d_desc d;
    dnnl_memory_desc_t wmd, bmd;
    dnnl_dims_t stride, dil, pad_l, pad_r;
    size_t wsize, bsize;                     /* floats of w and bias */
    size_t scratch_bytes;                    /* per piece */
    dnnl_memory_t b[CPU_MAX_PANELS], sp[CPU_MAX_PANELS];
    float *scratch;                          /* pieces x scratch_bytes */
    char *area;                              /* pieces x area_bytes: blocked copies */
    size_t area_bytes;
    float *partial;                          /* pieces x (wsize + bsize) */
    conv_size **sizes;                       /* [d.n]: pieces of mb at mb - 1 */
    /* cpu_conv_direct.c runs forward and backward weights where it fits
       (direct), backward data where it fits (direct_data); oneDNN's
       primitives are made only for the rest. */
    int direct, direct_data;
    cpu_conv_direct dk;
    float *dscratch;                         /* pieces x dfloats */
    size_t dfloats;
} conv_plan;

/* The backend's engine and one stream per piece (a stream is not shared
   between threads); made at the first prepare. */
struct cpu_dnnl {
    dnnl_engine_t engine;
    dnnl_stream_t stream[CPU_MAX_PANELS];
};

void cpu_conv_done(cpu_ctx *c)
{
    struct cpu_dnnl *e = c->dnnl;
    if (e == NULL)
        return;
    for (int i = 0; i < CPU_MAX_PANELS; i++)
        if (e->stream[i])
            cpu_dn.stream_destroy(e->stream[i]);
    if (e->engine)
        cpu_dn.engine_destroy(e->engine);
    free(e);
    c->dnnl = NULL;
}

static int conv_status(dnnl_status_t s, const char *what)
{
    if (s == dnnl_success)
        return 0;
    if (s == dnnl_unimplemented)
        return DLH_EUNSUPPORTED;
    if (s == dnnl_out_of_memory) {
        cpu_host->error("cpu conv2d: oneDNN is out of memory (%s)", what);
        return DLH_ENOMEM;
    }
    cpu_host->error("cpu conv2d: oneDNN %s failed (status %d)", what, (int)s);
    return DLH_EDEVICE;
}

static int conv_engine(cpu_ctx *c)
{
    if (c->dnnl != NULL)
        return 0;
    struct cpu_dnnl *e = calloc(1, sizeof *e);
    if (e == NULL) {
        cpu_host->error("cpu conv2d: out of memory");
        return DLH_ENOMEM;
    }
    c->dnnl = e;
    int rc = conv_status(cpu_dn.engine_create(&e->engine, dnnl_cpu, 0), "engine");
    for (int i = 0; i < c->panels && rc == 0; i++)
        rc = conv_status(cpu_dn.stream_create(&e->stream[i], e->engine,
                                              dnnl_stream_default_flags), "stream");
    if (rc != 0)
        cpu_conv_done(c);
    return rc;
}

static void conv_size_free(conv_size *s)
{
    if (s == NULL)
        return;
    for (int k = 0; k < 3; k++) {
        cpu_dn.primitive_destroy(s->k[k].prim);
        for (int t = 0; t < 3; t++) {
            conv_arg *a = &s->k[k].a[t];
            cpu_dn.primitive_destroy(a->reorder);
            for (int i = 0; i < CPU_MAX_PANELS; i++) {
                cpu_dn.memory_destroy(a->plain[i]);
                cpu_dn.memory_destroy(a->blocked[i]);
            }
        }
    }
    free(s);
}

void cpu_conv2d_release(void *ctx, void *plan)
{
    (void)ctx;
    conv_plan *p = plan;
    if (p == NULL)
        return;
    for (int i = 0; p->sizes != NULL && i < p->d.n; i++)
        conv_size_free(p->sizes[i]);
    free(p->sizes);
    for (int i = 0; i < CPU_MAX_PANELS; i++) {
        cpu_dn.memory_destroy(p->b[i]);
        cpu_dn.memory_destroy(p->sp[i]);
    }
    free(p->scratch);
    free(p->area);
    free(p->partial);
    free(p->dscratch);
    free(p);
}

static int conv_md(dnnl_memory_desc_t *md, int nd, const dnnl_dim_t *dims,
                   dnnl_data_type_t dt, dnnl_format_tag_t tag)
{
    return conv_status(cpu_dn.memory_desc_init_by_tag(md, nd, dims, dt, tag),
                       "memory descriptor");
}

/* Tensor t (0 x, 1 w, 2 y) of primitive kind k as the primitive takes it:
   the plain memory objects, and the blocked ones with a reorder when its
   format is another; the blocked copy's bytes join *area. */
static int conv_arg_make(cpu_ctx *c, const_dnnl_primitive_desc_t pd, int kind, int t,
                         const dnnl_memory_desc_t *plain, int round, size_t *area,
                         conv_arg *a)
{
    static const dnnl_query_t q[3][3] = {
        { dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md },
        { dnnl_query_diff_src_md, dnnl_query_weights_md, dnnl_query_diff_dst_md },
        { dnnl_query_src_md, dnnl_query_diff_weights_md, dnnl_query_diff_dst_md } };
    static const int args[3][3] = {
        { DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST },
        { DNNL_ARG_DIFF_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_DST },
        { DNNL_ARG_SRC, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_DST } };
    a->arg = args[kind][t];
    a->out = (kind == 0 && t == 2) || (kind == 1 && t == 0) || (kind == 2 && t == 1);
    const dnnl_memory_desc_t *want = cpu_dn.primitive_desc_query_md(pd, q[kind][t], 0);
    dnnl_engine_t eng = c->dnnl->engine;
    int rc = want == NULL ? conv_status(dnnl_runtime_error, "query") : 0;
    int reorder = rc == 0 && !cpu_dn.memory_desc_equal(want, plain);
    /* An input rounded to bf16 goes through the area even in its plain format. */
    a->round = round && !a->out;
    int blocked = reorder || (rc == 0 && a->round);
    if (reorder) {
        dnnl_primitive_desc_t rpd = NULL;
        rc = conv_status(a->out ? cpu_dn.reorder_primitive_desc_create(&rpd, want, eng, plain,
                                                                       eng, NULL)
                                : cpu_dn.reorder_primitive_desc_create(&rpd, plain, eng, want,
                                                                       eng, NULL),
                         "reorder descriptor");
        if (rc == 0)
            rc = conv_status(cpu_dn.primitive_create(&a->reorder, rpd), "reorder");
        cpu_dn.primitive_desc_destroy(rpd);
    }
    if (blocked) {
        a->count = cpu_dn.memory_desc_get_size(want) / sizeof(float);
        a->off = *area;
        *area += (cpu_dn.memory_desc_get_size(want) + 63) & ~(size_t)63;
    }
    for (int i = 0; i < c->panels && rc == 0; i++) {
        rc = conv_status(cpu_dn.memory_create(&a->plain[i], plain, eng, DNNL_MEMORY_NONE),
                         "memory");
        if (rc == 0 && blocked)
            rc = conv_status(cpu_dn.memory_create(&a->blocked[i], want, eng,
                                                  DNNL_MEMORY_NONE), "memory");
    }
    return rc;
}

/* How fast oneDNN's implementation of pd is, by its name: 0 its reference
   loops (ref:) or its im2col + sgemm (gemm:), several times slower where
   jit code exists; 1 jit code below AVX-512 (jit:avx2); 2 AVX-512 jit code
   (jit:avx512_core, brgconv:avx512_core, jit_bf16:avx512_core_bf16). */
static int conv_rank(const_dnnl_primitive_desc_t pd)
{
    const char *impl = NULL;
    if (pd == NULL ||
        cpu_dn.primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success ||
        impl == NULL || strncmp(impl, "ref", 3) == 0 || strstr(impl, "gemm") != NULL)
        return 0;
    return strstr(impl, "avx512") != NULL ? 2 : 1;
}

/* The descriptor of primitive kind 0 (forward), 1 (backward data) or 2
   (backward weights) for mb samples, x and y in `layout` (any: oneDNN's
   pick), its operands in bf16 when lowp (what they produce, y, dx, dw, db,
   in fp32 either way). */
static int conv_pd(cpu_ctx *c, const conv_plan *p, int kind, int mb, int lowp,
                   dnnl_format_tag_t layout, const_dnnl_primitive_attr_t attr,
                   dnnl_primitive_desc_t *out)
{
    const dlh_conv2d_desc *d = &p->d;
    dnnl_memory_desc_t any[3], fwd[3];
    dnnl_dims_t xd = { mb, d->g.c, d->g.h, d->g.w }, yd = { mb, d->out_c, d->g.oh, d->g.ow };
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t fwd_pd = NULL, pd = NULL;
    const dnnl_memory_desc_t *bmd = d->has_bias ? &p->bmd : NULL;
    /* fwd[] are the forward's types, the backward primitives' hint. */
    const dnnl_data_type_t f = dnnl_f32, lo = lowp ? dnnl_bf16 : dnnl_f32;
    const dnnl_data_type_t types[3][3] = { { lo, lo, f }, { f, lo, lo }, { lo, f, lo } };
    const dnnl_data_type_t *dt = types[kind];
    int rc = conv_md(&any[0], 4, xd, dt[0], layout);
    if (rc == 0)
        rc = conv_md(&any[2], 4, yd, dt[2], layout);
    if (rc == 0)
        rc = conv_md(&any[1], p->wmd.ndims, p->wmd.dims, dt[1], dnnl_format_tag_any);
    if (rc == 0)
        rc = conv_md(&fwd[0], 4, xd, types[0][0], layout);
    if (rc == 0)
        rc = conv_md(&fwd[2], 4, yd, types[0][2], layout);
    if (rc == 0)
        rc = conv_md(&fwd[1], p->wmd.ndims, p->wmd.dims, types[0][1], dnnl_format_tag_any);
    /* Backward primitives need the forward's descriptor as a hint. */
    if (rc == 0)
        rc = conv_status(cpu_dn.dilated_convolution_forward_desc_init(
                             &cd, dnnl_forward_training, dnnl_convolution_direct, &fwd[0],
                             &fwd[1], bmd, &fwd[2], p->stride, p->dil, p->pad_l, p->pad_r),
                         "convolution descriptor");
    if (rc == 0)
        rc = conv_status(cpu_dn.primitive_desc_create(&fwd_pd, &cd, attr, c->dnnl->engine,
                                                      NULL), "forward descriptor");
    if (rc == 0 && kind == 0) {
        pd = fwd_pd;
        fwd_pd = NULL;
    } else if (rc == 0) {
        if (kind == 1)
            rc = cpu_dn.dilated_convolution_backward_data_desc_init(
                     &cd, dnnl_convolution_direct, &any[0], &any[1], &any[2], p->stride,
                     p->dil, p->pad_l, p->pad_r);
        else
            rc = cpu_dn.dilated_convolution_backward_weights_desc_init(
                     &cd, dnnl_convolution_direct, &any[0], &any[1], bmd, &any[2],
                     p->stride, p->dil, p->pad_l, p->pad_r);
        rc = conv_status((dnnl_status_t)rc, "backward descriptor");
        if (rc == 0)
            rc = conv_status(cpu_dn.primitive_desc_create(&pd, &cd, attr, c->dnnl->engine,
                                                          fwd_pd), "backward descriptor");
    }
    cpu_dn.primitive_desc_destroy(fwd_pd);
    *out = pd;
    return rc;
}

/* Primitive kind (conv_pd) for mb samples, in the formats oneDNN picks; its
   scratchpad's and copies' bytes join *scratch and *area.  x and y in nhwc
   where that has faster code (conv_rank): LeNet's second convolution, 6 to
   16 channels, has only avx2 code for its weight gradient in the blocked
   formats oneDNN picks (8-channel blocks) and avx512 code in nhwc.
   precision = "bf16" (cpu_bf16): the products' operands in bf16, what they
   produce in fp32, as the gemm path; the reorders into the primitive's
   formats round to nearest even, as torch's cast.  Where oneDNN has no jit
   bf16 primitive for a shape (LeNet's first convolution, 1 input channel,
   backward weights: x64:gemm:jit) and has an fp32 one, the fp32 one runs on
   the operands rounded to bf16 in its copies: products of bf16 values are
   exact in fp32 and both accumulate in fp32, so only the order of the sums
   differs (and the bias gradient sums the rounded dy, as the bf16 one). */
static int conv_primitive(cpu_ctx *c, const conv_plan *p, int kind, int mb,
                          conv_prim *out, size_t *scratch, size_t *area)
{
    const dlh_conv2d_desc *d = &p->d;
    dnnl_memory_desc_t plain[3];
    dnnl_dims_t xd = { mb, d->g.c, d->g.h, d->g.w }, yd = { mb, d->out_c, d->g.oh, d->g.ow };
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int lowp = cpu_bf16(c), round = 0, rank = -1;
    plain[1] = p->wmd;
    int rc = conv_md(&plain[0], 4, xd, dnnl_f32, dnnl_nchw);
    if (rc == 0)
        rc = conv_md(&plain[2], 4, yd, dnnl_f32, dnnl_nchw);
    if (rc == 0)
        rc = conv_status(cpu_dn.primitive_attr_create(&attr), "attributes");
    if (rc == 0)
        rc = conv_status(cpu_dn.primitive_attr_set_scratchpad_mode(attr,
                                                                   dnnl_scratchpad_mode_user),
                         "attributes");
    /* The first of the fastest (conv_rank) of: the operands' own type
       (fp32, or bf16 under precision = "bf16") in the formats oneDNN picks,
       fp32 on bf16-rounded operands in those, then both with x and y in
       nhwc.  By name, never by timing: the choice sets the bits. */
    static const dnnl_format_tag_t layouts[2] = { dnnl_format_tag_any, dnnl_acdb };
    for (int i = 0; i < 4 && rc == 0 && rank < 2; i++) {
        int f32 = i % 2;                     /* fp32 on rounded operands */
        if (f32 && !lowp)
            continue;
        dnnl_primitive_desc_t cand = NULL;
        int r = conv_pd(c, p, kind, mb, lowp && !f32, layouts[i / 2], attr, &cand);
        if (r == 0 && conv_rank(cand) > rank) {
            cpu_dn.primitive_desc_destroy(pd);
            pd = cand;
            rank = conv_rank(cand);
            round = lowp && f32;
        } else {
            cpu_dn.primitive_desc_destroy(cand);
            if (i == 0)
                rc = r;              /* none: the im2col path (DLH_EUNSUPPORTED) */
        }
    }
    if (rc == 0) {
        const dnnl_memory_desc_t *sp = cpu_dn.primitive_desc_query_md(pd,
                                                                      dnnl_query_scratchpad_md, 0);
        size_t bytes = sp ? cpu_dn.memory_desc_get_size(sp) : 0;
        if (bytes > *scratch)
            *scratch = bytes;
        rc = conv_status(cpu_dn.primitive_create(&out->prim, pd), "primitive");
    }
    size_t need = 0;
    for (int t = 0; t < 3 && rc == 0; t++)
        rc = conv_arg_make(c, pd, kind, t, &plain[t], round, &need, &out->a[t]);
    if (need > *area)
        *area = need;
    cpu_dn.primitive_desc_destroy(pd);
    cpu_dn.primitive_attr_destroy(attr);
    return rc;
}

/* The primitives and memory objects for pieces of mb samples; allocates. */
static int conv_size_make(cpu_ctx *c, conv_plan *p, int mb, size_t *scratch, size_t *area,
                          conv_size **out)
{
    conv_size *s = calloc(1, sizeof *s);
    *out = s;
    if (s == NULL) {
        cpu_host->error("cpu conv2d: out of memory");
        return DLH_ENOMEM;
    }
    s->mb = mb;
    /* Made single-threaded: each runs on one thread (file comment). */
    int keep = omp_get_max_threads(), rc = 0;
    omp_set_num_threads(1);
    /* What the direct kernel runs (forward and weights under p->direct,
       backward data under p->direct_data) is not made (its setup time,
       scratchpads, copies). */
    for (int k = 0; k < 3 && rc == 0; k++)
        if (k == 1 ? !p->direct_data : !p->direct)
            rc = conv_primitive(c, p, k, mb, &s->k[k], scratch, area);
    omp_set_num_threads(keep);
    if (rc != 0) {
        conv_size_free(s);
        *out = NULL;
    }
    return rc;
}

/* The per-piece blocked areas, `bytes` each. */
static int conv_area(cpu_ctx *c, conv_plan *p, size_t bytes)
{
    if (bytes <= p->area_bytes && p->area != NULL)
        return 0;
    void *mem = NULL;
    if (posix_memalign(&mem, 64, (bytes ? bytes : 64) * (size_t)c->panels) != 0) {
        cpu_host->error("cpu conv2d: out of memory for the blocked copies");
        return DLH_ENOMEM;
    }
    free(p->area);
    p->area = mem;
    p->area_bytes = bytes;
    return 0;
}

/* Per-piece scratchpads of `bytes` each, and their memory objects. */
static int conv_scratch(cpu_ctx *c, conv_plan *p, size_t bytes)
{
    if (bytes <= p->scratch_bytes && p->scratch != NULL)
        return 0;
    bytes = (bytes + 63) & ~(size_t)63;
    void *mem = NULL;
    if (posix_memalign(&mem, 64, (bytes ? bytes : 64) * (size_t)c->panels) != 0) {
        cpu_host->error("cpu conv2d: out of memory for the scratchpads");
        return DLH_ENOMEM;
    }
    free(p->scratch);
    p->scratch = mem;
    p->scratch_bytes = bytes;
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = { bytes ? (dnnl_dim_t)bytes : 1 };
    int rc = conv_status(cpu_dn.memory_desc_init_by_tag(&md, 1, dims, dnnl_u8, dnnl_a),
                         "memory descriptor");
    for (int i = 0; i < c->panels && rc == 0; i++) {
        cpu_dn.memory_destroy(p->sp[i]);
        p->sp[i] = NULL;
        rc = conv_status(cpu_dn.memory_create(&p->sp[i], &md, c->dnnl->engine,
                                              (char *)mem + (size_t)i * bytes), "memory");
    }
    return rc;
}

/* The primitives for pieces of mb samples, made on first use. */
static int conv_size_get(cpu_ctx *c, conv_plan *p, int mb, conv_size **out)
{
    if ((*out = p->sizes[mb - 1]) != NULL)
        return 0;
    size_t scratch = p->scratch_bytes, area = p->area_bytes;
    conv_size *s;
    int rc = conv_size_make(c, p, mb, &scratch, &area, &s);
    if (rc == 0 && ((rc = conv_scratch(c, p, scratch)) != 0 ||
                    (rc = conv_area(c, p, area)) != 0))
        conv_size_free(s);
    if (rc == 0)
        *out = p->sizes[mb - 1] = s;
    return rc;
}

/* Batch n cut into pieces by the CPU count alone: *pieces of *per samples,
   the last one of the rest. */
static void conv_pieces(const cpu_ctx *c, int n, int *pieces, int *per)
{
    int k = n < c->panels ? n : c->panels;
    *per = (n + k - 1) / k;
    *pieces = (n + *per - 1) / *per;
}

int cpu_conv2d_prepare(void *ctx, const dlh_conv2d_desc *desc, void **plan)
{
    cpu_ctx *c = ctx;
    *plan = NULL;
    /* oneDNN off, or its library missing or broken (cpu_dnnl.h: loaded
       here, at the first convolution): the layer's im2col + gemm. */
    const char *lost;
    if (!c->onednn || cpu_dnnl_load(&lost) != 0)
        return DLH_EUNSUPPORTED;
    if (desc == NULL || desc->struct_size < sizeof *desc) {
        cpu_host->error("cpu conv2d_prepare: no descriptor");
        return DLH_EINVAL;
    }
    const dlh_window2d *g = &desc->g;
    if (desc->n < 1 || desc->out_c < 1 || desc->groups < 1 || g->c < 1 || g->h < 1 ||
        g->w < 1 || g->kh < 1 || g->kw < 1 || g->sh < 1 || g->sw < 1 || g->dh < 1 ||
        g->dw < 1 || g->ph < 0 || g->pw < 0 || g->oh < 1 || g->ow < 1 ||
        g->c % desc->groups != 0 || desc->out_c % desc->groups != 0) {
        cpu_host->error("cpu conv2d_prepare: bad convolution geometry");
        return DLH_EINVAL;
    }
    /* The right/bottom padding that gives oh, ow: more than ph for "same"
       with an even kernel; a negative one (a cut output) is not taken. */
    int64_t eh = (int64_t)g->dh * (g->kh - 1) + 1, ew = (int64_t)g->dw * (g->kw - 1) + 1;
    int64_t rh = ((int64_t)g->oh - 1) * g->sh + eh - g->h - g->ph;
    int64_t rw = ((int64_t)g->ow - 1) * g->sw + ew - g->w - g->pw;
    if (rh < 0 || rw < 0)
        return DLH_EUNSUPPORTED;
    int rc = conv_engine(c);
    if (rc != 0)
        return rc;
    conv_plan *p = calloc(1, sizeof *p);
    if (p == NULL) {
        cpu_host->error("cpu conv2d_prepare: out of memory");
        return DLH_ENOMEM;
    }
    p->d = *desc;
    p->stride[0] = g->sh;
    p->stride[1] = g->sw;
    p->dil[0] = g->dh - 1;                   /* oneDNN's 0 is no dilation */
    p->dil[1] = g->dw - 1;
    p->pad_l[0] = g->ph;
    p->pad_l[1] = g->pw;
    p->pad_r[0] = rh;
    p->pad_r[1] = rw;
    int G = desc->groups;
    p->wsize = (size_t)desc->out_c * (size_t)(g->c / G) * (size_t)g->kh * (size_t)g->kw;
    p->bsize = desc->has_bias ? (size_t)desc->out_c : 0;
    if (G == 1) {
        dnnl_dims_t wd = { desc->out_c, g->c, g->kh, g->kw };
        rc = cpu_dn.memory_desc_init_by_tag(&p->wmd, 4, wd, dnnl_f32, dnnl_oihw);
    } else {
        dnnl_dims_t wd = { G, desc->out_c / G, g->c / G, g->kh, g->kw };
        rc = cpu_dn.memory_desc_init_by_tag(&p->wmd, 5, wd, dnnl_f32, dnnl_goihw);
    }
    rc = conv_status((dnnl_status_t)rc, "memory descriptor");
    dnnl_dims_t bd = { desc->out_c };
    if (rc == 0)
        rc = conv_status(cpu_dn.memory_desc_init_by_tag(&p->bmd, 1, bd, dnnl_f32, dnnl_x),
                         "memory descriptor");
    for (int i = 0; i < c->panels && rc == 0; i++) {
        rc = conv_status(cpu_dn.memory_create(&p->b[i], &p->bmd, c->dnnl->engine,
                                              DNNL_MEMORY_NONE), "memory");
    }
    if (rc == 0) {
        size_t floats = (p->wsize + p->bsize) * (size_t)c->panels;
        p->partial = malloc(floats * sizeof(float));
        p->sizes = calloc((size_t)desc->n, sizeof *p->sizes);
        if (p->partial == NULL || p->sizes == NULL) {
            cpu_host->error("cpu conv2d_prepare: out of memory");
            rc = DLH_ENOMEM;
        }
    }
    /* Small shapes (LeNet's first layer; the input gradient of its
       second): the direct kernel, per layer by its shape alone (never by
       timing: the choice sets the bits). */
    p->direct = cpu_conv_direct_fits(desc, cpu_bf16(c));
    p->direct_data = cpu_conv_direct_data_fits(desc, cpu_bf16(c));
    if (rc == 0 && (p->direct || p->direct_data)) {
        p->dfloats = (cpu_conv_direct_init(&p->dk, desc) + 15) & ~(size_t)15;
        void *mem = NULL;
        if (posix_memalign(&mem, 64, p->dfloats * sizeof(float) * (size_t)c->panels) != 0) {
            cpu_host->error("cpu conv2d_prepare: out of memory");
            rc = DLH_ENOMEM;
        }
        p->dscratch = mem;
    }
    /* The plan's batch: its piece size and its last piece's. */
    int pieces, per;
    conv_pieces(c, desc->n, &pieces, &per);
    conv_size *s;
    if (rc == 0)
        rc = conv_size_get(c, p, per, &s);
    if (rc == 0 && desc->n - (pieces - 1) * per != per)
        rc = conv_size_get(c, p, desc->n - (pieces - 1) * per, &s);
    if (rc != 0) {
        cpu_conv2d_release(c, p);
        return rc;
    }
    *plan = p;
    return 0;
}

/* Checks a run's arguments and makes its pieces' primitives if new. */
static int conv_begin(cpu_ctx *c, conv_plan *p, const char *what, int n, int *pieces,
                      int *per, conv_size **full, conv_size **last)
{
    if (p == NULL || n < 1 || n > p->d.n) {
        cpu_host->error("cpu %s: batch %d outside the plan's 1..%d", what, n,
                        p ? p->d.n : 0);
        return DLH_EINVAL;
    }
    conv_pieces(c, n, pieces, per);
    int rc = conv_size_get(c, p, *per, full);
    if (rc == 0)
        rc = conv_size_get(c, p, n - (*pieces - 1) * *per, last);
    return rc;
}

static int conv_check(const conv_plan *p, const char *what, int n, dlh_mem x, dlh_mem w,
                      dlh_mem b, dlh_mem y)
{
    const dlh_conv2d_desc *d = &p->d;
    size_t xs = (size_t)n * (size_t)d->g.c * (size_t)d->g.h * (size_t)d->g.w;
    size_t ys = (size_t)n * (size_t)d->out_c * (size_t)d->g.oh * (size_t)d->g.ow;
    int rc = bchk_mem(&cpu_checks, what, "x", x, xs, sizeof(float));
    if (rc == 0)
        rc = bchk_mem(&cpu_checks, what, "w", w, p->wsize, sizeof(float));
    if (rc == 0 && b.buf != NULL)
        rc = bchk_mem(&cpu_checks, what, "bias", b, (size_t)d->out_c, sizeof(float));
    if (rc == 0)
        rc = bchk_mem(&cpu_checks, what, "y", y, ys, sizeof(float));
    return rc;
}

/* Piece i of conv_run: its reorders in, the primitive, its reorders out;
   nonzero when oneDNN failed. */
static int conv_piece(cpu_ctx *c, conv_plan *p, int kind, int i, int pieces, int per,
                      conv_size *full, conv_size *last, float *x, float *w, float *b,
                      float *y)
{
    const dlh_conv2d_desc *d = &p->d;
    size_t xs = (size_t)d->g.c * (size_t)d->g.h * (size_t)d->g.w;
    size_t ys = (size_t)d->out_c * (size_t)d->g.oh * (size_t)d->g.ow;
    size_t ps = p->wsize + p->bsize;
    conv_size *s = i == pieces - 1 ? last : full;
    conv_prim *cp = &s->k[kind];
    float *wi = kind == 2 ? p->partial + (size_t)i * ps : w;
    float *bi = kind == 2 ? (p->bsize ? wi + p->wsize : NULL) : b;
    void *mem[3] = { x + (size_t)i * (size_t)per * xs, wi,
                     y + (size_t)i * (size_t)per * ys };
    char *area = p->area + (size_t)i * p->area_bytes;
    dnnl_stream_t st = c->dnnl->stream[i];
    dnnl_exec_arg_t args[5];
    int nargs = 0, bad = 0;
    for (int t = 0; t < 3; t++) {
        conv_arg *a = &cp->a[t];
        cpu_dn.memory_set_data_handle(a->plain[i], mem[t]);
        dnnl_memory_t use = a->plain[i];
        if (a->blocked[i] != NULL) {
            float *copy = (float *)(area + a->off);
            use = a->blocked[i];
            cpu_dn.memory_set_data_handle(use, copy);
            dnnl_exec_arg_t r[2] = { { DNNL_ARG_FROM, a->plain[i] },
                                     { DNNL_ARG_TO, use } };
            if (!a->out && a->reorder != NULL)
                bad |= cpu_dn.primitive_execute(a->reorder, st, 2, r) != dnnl_success;
            if (a->round)
                cpu_bf16_round_f32(copy, a->reorder != NULL ? copy : mem[t], a->count);
        }
        args[nargs++] = (dnnl_exec_arg_t){ a->arg, use };
    }
    args[nargs++] = (dnnl_exec_arg_t){ DNNL_ARG_SCRATCHPAD, p->sp[i] };
    if (bi != NULL && kind != 1) {
        cpu_dn.memory_set_data_handle(p->b[i], bi);
        args[nargs++] = (dnnl_exec_arg_t){ kind == 2 ? DNNL_ARG_DIFF_BIAS
                                                     : DNNL_ARG_BIAS, p->b[i] };
    }
    bad |= cpu_dn.primitive_execute(cp->prim, st, nargs, args) != dnnl_success;
    for (int t = 0; t < 3; t++) {
        conv_arg *a = &cp->a[t];
        dnnl_exec_arg_t r[2] = { { DNNL_ARG_FROM, a->blocked[i] },
                                 { DNNL_ARG_TO, a->plain[i] } };
        if (a->reorder != NULL && a->out)
            bad |= cpu_dn.primitive_execute(a->reorder, st, 2, r) != dnnl_success;
    }
    return bad;
}

/* Runs primitive kind (0 forward, 1 backward data, 2 backward weights) on
   every piece: piece i's x and y at its first sample, its weights at w (or
   its partial), bias at b; the team shares the pieces. */
static int conv_run(cpu_ctx *c, conv_plan *p, int kind, int n, float *x, float *w,
                    float *b, float *y)
{
    int pieces, per, rc;
    conv_size *full, *last;
    const char *what = kind == 0 ? "conv2d_forward" : kind == 1 ? "conv2d_backward_data"
                                                                : "conv2d_backward_weights";
    if ((rc = conv_begin(c, p, what, n, &pieces, &per, &full, &last)) != 0)
        return rc;
    int threads = c->threads < pieces ? c->threads : pieces, failed = 0;
    /* Outside a parallel region (one thread) oneDNN's reorders run on
       omp_get_max_threads() threads, spinning at their barriers when the
       CPUs are busy: keep them at one, as the primitives are. */
    int keep = omp_get_max_threads();
    if (threads <= 1 && keep != 1)
        omp_set_num_threads(1);
    /* Thread t runs piece t first (cpu_gemm_cut.h), so a sample's output
       stays on the core that the next layer's static share reads it on. */
    unsigned char claimed[CPU_MAX_PANELS] = { 0 };
    #pragma omp parallel num_threads(threads) if (threads > 1) reduction(| : failed)
    {
        gemm_cut_walk walk = gemm_cut_walk_begin(claimed, pieces);
        for (int i; (i = gemm_cut_walk_next(&walk)) >= 0;)
            failed |= conv_piece(c, p, kind, i, pieces, per, full, last, x, w, b, y);
    }
    if (threads <= 1 && keep != 1)
        omp_set_num_threads(keep);
    if (failed) {
        cpu_host->error("cpu %s: oneDNN failed to run", what);
        return DLH_EDEVICE;
    }
    return 0;
}

/* The direct kernel (cpu_conv_direct.c) on the same pieces as conv_run:
   kind 0 forward (y), 1 backward data (dx at x, dy at y), 2 backward
   weights (dy at y, into the partials). */
static int conv_direct_run(cpu_ctx *c, conv_plan *p, int kind, int n, float *x,
                           const float *w, const float *b, float *y)
{
    if (n < 1 || n > p->d.n) {
        cpu_host->error("cpu %s: batch %d outside the plan's 1..%d",
                        kind == 0 ? "conv2d_forward" : kind == 1 ? "conv2d_backward_data"
                                                                 : "conv2d_backward_weights",
                        n, p->d.n);
        return DLH_EINVAL;
    }
    int pieces, per;
    conv_pieces(c, n, &pieces, &per);
    const dlh_conv2d_desc *d = &p->d;
    size_t xs = (size_t)d->g.c * (size_t)d->g.h * (size_t)d->g.w;
    size_t ys = (size_t)d->out_c * (size_t)d->g.oh * (size_t)d->g.ow;
    size_t ps = p->wsize + p->bsize;
    int threads = c->threads < pieces ? c->threads : pieces;
    unsigned char claimed[CPU_MAX_PANELS] = { 0 };
    #pragma omp parallel num_threads(threads) if (threads > 1)
    {
        gemm_cut_walk walk = gemm_cut_walk_begin(claimed, pieces);
        for (int i; (i = gemm_cut_walk_next(&walk)) >= 0;) {
            int cnt = i == pieces - 1 ? n - (pieces - 1) * per : per;
            float *xi = x + (size_t)i * (size_t)per * xs;
            float *yi = y + (size_t)i * (size_t)per * ys;
            float *scratch = p->dscratch + (size_t)i * p->dfloats;
            if (kind == 0) {
                p->dk.fwd(&p->dk, cnt, xi, w, b, yi, scratch);
            } else if (kind == 1) {
                p->dk.data(&p->dk, cnt, yi, w, xi, scratch);
            } else {
                float *wi = p->partial + (size_t)i * ps;
                p->dk.wgt(&p->dk, cnt, xi, yi, wi, p->bsize ? wi + p->wsize : NULL,
                          scratch);
            }
        }
    }
    return 0;
}

int cpu_conv2d_forward(void *ctx, void *plan, int n, dlh_mem x, dlh_mem w, dlh_mem bias,
                       dlh_mem y)
{
    conv_plan *p = plan;
    int rc = p ? conv_check(p, "conv2d_forward", n, x, w, bias, y) : 0;
    if (rc != 0)
        return rc;
    if (p && p->d.has_bias && bias.buf == NULL) {
        cpu_host->error("cpu conv2d_forward: the plan has a bias and none was given");
        return DLH_EINVAL;
    }
    cpu_adapt(ctx);
    if (p->direct)
        return conv_direct_run(ctx, p, 0, n, cpu_f32(x), cpu_f32(w),
                               bias.buf && p->d.has_bias ? cpu_f32(bias) : NULL,
                               cpu_f32(y));
    return conv_run(ctx, p, 0, n, cpu_f32(x), cpu_f32(w),
                    bias.buf && p->d.has_bias ? cpu_f32(bias) : NULL, cpu_f32(y));
}

int cpu_conv2d_backward_data(void *ctx, void *plan, int n, dlh_mem dy, dlh_mem w,
                             dlh_mem dx)
{
    conv_plan *p = plan;
    int rc = p ? conv_check(p, "conv2d_backward_data", n, dx, w, (dlh_mem){ NULL, 0 }, dy) : 0;
    if (rc != 0)
        return rc;
    cpu_adapt(ctx);
    if (p != NULL && p->direct_data)
        return conv_direct_run(ctx, p, 1, n, cpu_f32(dx), cpu_f32(w), NULL, cpu_f32(dy));
    return conv_run(ctx, p, 1, n, cpu_f32(dx), cpu_f32(w), NULL, cpu_f32(dy));
}

int cpu_conv2d_backward_weights(void *ctx, void *plan, int n, dlh_mem x, dlh_mem dy,
                                float beta, dlh_mem dw, dlh_mem db)
{
    cpu_ctx *c = ctx;
    conv_plan *p = plan;
    if (p != NULL && db.buf != NULL && !p->d.has_bias) {
        cpu_host->error("cpu conv2d_backward_weights: db given to a plan without bias");
        return DLH_EINVAL;
    }
    int rc = p ? conv_check(p, "conv2d_backward_weights", n, x, dw,
                            p->d.has_bias ? db : (dlh_mem){ NULL, 0 }, dy) : 0;
    if (rc != 0)
        return rc;
    if (beta != 0.0f && beta != 1.0f) {
        cpu_host->error("cpu conv2d_backward_weights: beta %g is neither 0 nor 1",
                        (double)beta);
        return DLH_EINVAL;
    }
    cpu_adapt(c);
    rc = p->direct ? conv_direct_run(c, p, 2, n, cpu_f32(x), NULL, NULL, cpu_f32(dy))
                   : conv_run(c, p, 2, n, cpu_f32(x), NULL, NULL, cpu_f32(dy));
    if (rc != 0)
        return rc;
    /* The pieces' partials added up in piece order, element by element. */
    int pieces, per;
    conv_pieces(c, n, &pieces, &per);
    size_t ps = p->wsize + p->bsize, total = p->wsize + (db.buf ? p->bsize : 0);
    float *pw = cpu_f32(dw), *pb = db.buf ? cpu_f32(db) : NULL;
    const float *part = p->partial;
    int threads = total >= (size_t)CPU_PAR_MIN ? c->threads : 1;
    #pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (size_t j = 0; j < total; j++) {
        float s = part[j];
        for (int i = 1; i < pieces; i++)
            s += part[(size_t)i * ps + j];
        float *out = j < p->wsize ? pw + j : pb + (j - p->wsize);
        *out = beta == 0.0f ? s : *out + s;
    }
    return 0;
}
