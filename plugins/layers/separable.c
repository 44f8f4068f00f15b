/* The separable 2-D linear map that adaptive_avgpool2d and upsample share:
 * every [H, W] plane x becomes y = Ah x Aw^T ([oh, ow]) for two small
 * matrices Ah [oh, H] and Aw [ow, W] that the layer fills in create.  Two
 * backend gemms per direction over the whole batch: T = X Aw^T with the
 * planes' rows stacked ([N C H, W] x [W, ow]), then Ah T_p per plane
 * (gemm_batched, Ah shared).  The gradient is the transpose, in reverse
 * order.  The matrices live in the layer's scratch, written from the host
 * copy on the first forward into that memory; nothing is allocated after
 * create. */
#include <limits.h>
#include <stdlib.h>

#include "layers.h"

int layers_sep2d_setup(dlh_layer_setup *setup, const char *name, layers_sep2d *s,
                       int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow)
{
    const dlh_host *host = layers_host;
    /* gemm takes int sizes: one sample's stacked rows must fit, and the
       batch is checked again at run time. */
    if (c * h > INT_MAX || c * oh > INT_MAX || oh * h > INT_MAX || ow * w > INT_MAX ||
        c * h * ow > INT_MAX || c * oh * ow > INT_MAX)
        return host->param_error(setup->params, NULL, "%s: sizes too large for gemm "
                                 "(%lld channels, %lldx%lld to %lldx%lld)", name,
                                 (long long)c, (long long)h, (long long)w, (long long)oh,
                                 (long long)ow);
    s->c = (int)c;
    s->h = (int)h;
    s->w = (int)w;
    s->oh = (int)oh;
    s->ow = (int)ow;
    s->ah = calloc((size_t)(oh * h + ow * w), sizeof(float));
    if (!s->ah) {
        host->error("%s: out of memory", name);
        return DLH_ENOMEM;
    }
    s->aw = s->ah + oh * h;
    int rc = setup->add_scratch(setup, 0, oh * h + ow * w, &s->mat_index);
    if (rc == 0)
        rc = setup->add_scratch(setup, c * h * ow, 0, &s->tmp_index);
    return rc;
}

void layers_sep2d_free(layers_sep2d *s)
{
    free(s->ah);
    s->ah = s->aw = NULL;
}

/* 1 when the m x n matrix a is the identity. */
static int is_identity(const float *a, int m, int n)
{
    if (m != n)
        return 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            if (a[(size_t)i * (size_t)n + (size_t)j] != (i == j ? 1.0f : 0.0f))
                return 0;
    return 1;
}

/* The batch as the number of stacked rows gemm sees, and the matrices in
   this context's scratch (written the first time this memory is used). */
static int sep2d_prepare(layers_sep2d *s, const dlh_layer_ctx *ctx, int *planes,
                         dlh_mem *ah, dlh_mem *aw)
{
    const dlh_backend *be = ctx->backend;
    if (ctx->batch < 0 || ctx->batch * s->c * s->h > INT_MAX ||
        ctx->batch * s->c * s->oh > INT_MAX) {
        layers_host->error("separable map: batch of %lld samples is too large for gemm",
                           (long long)ctx->batch);
        return DLH_EINVAL;
    }
    *planes = (int)(ctx->batch * s->c);
    dlh_mem m = ctx->scratch[s->mat_index].mem;
    *ah = m;
    *aw = m;
    aw->off += (size_t)s->oh * (size_t)s->h;
    if (s->written != m.buf || s->written_off != m.off || s->written_be != be) {
        /* An identity axis is skipped: one gemm instead of two. */
        s->ident_h = is_identity(s->ah, s->oh, s->h);
        s->ident_w = is_identity(s->aw, s->ow, s->w);
        size_t bytes = ((size_t)s->oh * s->h + (size_t)s->ow * s->w) * sizeof(float);
        int rc = be->ops->write(be->ctx, m.buf, m.off * sizeof(float), s->ah, bytes);
        if (rc < 0)
            return rc;
        s->written = m.buf;
        s->written_off = m.off;
        s->written_be = be;
    }
    return 0;
}

int layers_sep2d_forward(layers_sep2d *s, const dlh_layer_ctx *ctx, dlh_mem x, dlh_mem y)
{
    const dlh_backend *be = ctx->backend;
    dlh_mem ah, aw, t = ctx->scratch[s->tmp_index].mem;
    int planes, rc = sep2d_prepare(s, ctx, &planes, &ah, &aw);
    if (rc < 0 || planes == 0)
        return rc;
    if (s->ident_w && s->ident_h)
        return be->ops->copy(be->ctx, y.buf, y.off * sizeof(float), x.buf,
                             x.off * sizeof(float),
                             (size_t)planes * s->h * s->w * sizeof(float));
    if (s->ident_w)
        t = x;
    /* T [planes*H, ow] = X [planes*H, W] Aw^T (Y itself when Ah is I) */
    else if ((rc = be->ops->gemm(be->ctx, 0, 1, planes * s->h, s->ow, s->w, 1.0f, x, s->w,
                                 aw, s->w, 0.0f, s->ident_h ? y : t, s->ow)) < 0 ||
             s->ident_h)
        return rc;
    /* Y_p [oh, ow] = Ah [oh, H] T_p [H, ow] */
    return be->ops->gemm_batched(be->ctx, 0, 0, s->oh, s->ow, s->h, 1.0f, ah, s->h, 0, t,
                                 s->ow, (int64_t)s->h * s->ow, 0.0f, y, s->ow,
                                 (int64_t)s->oh * s->ow, planes);
}

int layers_sep2d_backward(layers_sep2d *s, const dlh_layer_ctx *ctx, dlh_mem dy,
                          dlh_mem dx)
{
    const dlh_backend *be = ctx->backend;
    dlh_mem ah, aw, t = ctx->scratch[s->tmp_index].mem;
    int planes, rc = sep2d_prepare(s, ctx, &planes, &ah, &aw);
    if (rc < 0 || planes == 0)
        return rc;
    if (s->ident_w && s->ident_h)
        return be->ops->copy(be->ctx, dx.buf, dx.off * sizeof(float), dy.buf,
                             dy.off * sizeof(float),
                             (size_t)planes * s->h * s->w * sizeof(float));
    /* dT_p [H, ow] = Ah^T dY_p (dX itself when Aw is I) */
    if (s->ident_h)
        t = dy;
    else if ((rc = be->ops->gemm_batched(be->ctx, 1, 0, s->h, s->ow, s->oh, 1.0f, ah, s->h,
                                         0, dy, s->ow, (int64_t)s->oh * s->ow, 0.0f,
                                         s->ident_w ? dx : t, s->ow,
                                         (int64_t)s->h * s->ow, planes)) < 0 ||
             s->ident_w)
        return rc;
    /* dX [planes*H, W] = dT Aw (overwritten, as backward's contract says) */
    return be->ops->gemm(be->ctx, 0, 0, planes * s->h, s->w, s->ow, 1.0f, t, s->ow, aw,
                         s->w, 0.0f, dx, s->w);
}
