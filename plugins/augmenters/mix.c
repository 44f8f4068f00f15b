/* What mixup and cutmix share: a Beta(alpha, alpha) draw, the batch's
 * stream, and the roll that pairs sample i with sample i - 1 (the first with
 * the last), as torchvision.transforms.v2's MixUp and CutMix do with
 * batch.roll(1, 0).  Both mix once per batch (whole_batch), on one thread,
 * so the state's row of scratch (the last sample and its label, kept before
 * the roll overwrites them) is theirs alone during apply. */
#include "mix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Gamma(a, 1) by Marsaglia and Tsang (2000): each try uses counter k of the
   stream (a normal from w0, w1; a uniform from w2), tries from k0 on, at
   most MIX_TRIES of them (acceptance is above 95 %: the cap is a bound, not
   a path); a < 1 boosts: Gamma(a) = Gamma(a + 1) U^(1/a), U from counter
   k0 + MIX_TRIES. */
#define MIX_TRIES 64

static double mix_gamma(uint64_t seed, uint64_t stream, uint64_t k0, double a)
{
    double boost = 1.0;
    if (a < 1.0) {
        uint32_t w[4];
        dlh_philox_words(seed, stream, k0 + MIX_TRIES, w);
        double u = ((double)w[3] + 0.5) * (1.0 / 4294967296.0);
        boost = pow(u, 1.0 / a);
        a += 1.0;
    }
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (uint64_t t = 0; t < MIX_TRIES; t++) {
        uint32_t w[4];
        dlh_philox_words(seed, stream, k0 + t, w);
        double u0 = (double)(w[0] >> 8) * (1.0 / 16777216.0);
        double u1 = (double)(w[1] >> 8) * (1.0 / 16777216.0);
        double z = sqrt(-2.0 * log(1.0 - u0)) * cos(6.283185307179586 * u1);
        double v = 1.0 + c * z;
        if (v <= 0.0)
            continue;
        v = v * v * v;
        double u = ((double)w[2] + 0.5) * (1.0 / 4294967296.0);
        if (log(u) < 0.5 * z * z + d - d * v + d * log(v))
            return d * v * boost;
    }
    return a * boost;               /* the mean: reached with probability < 1e-80 */
}

double mix_beta(uint64_t seed, uint64_t stream, double alpha)
{
    double x = mix_gamma(seed, stream, MIX_GAMMA_X, alpha);
    double y = mix_gamma(seed, stream, MIX_GAMMA_Y, alpha);
    return x + y > 0.0 ? x / (x + y) : 0.5;
}

int mix_create(const dlh_host *host, dlh_params *params, dlh_augment_info *info,
               const char *name, int image, mix_state **out)
{
    *out = NULL;
    const double def_alpha = 1.0;
    double alpha, p;
    int rc;
    int64_t c = 0, h = 0, w = 0, numel;
    if ((rc = host->param_float(params, "alpha", &def_alpha, 0.0, 1e6, &alpha)) < 0 ||
        (rc = augment_read_p(host, params, 1.0, &p)) < 0 ||
        (image && (rc = augment_need_image(host, params, info, &c, &h, &w)) < 0) ||
        (rc = augment_numel(host, params, info, &numel)) < 0)
        return rc;
    if (!(alpha > 0.0))
        return host->param_error(params, "alpha", "parameter 'alpha': expected a value > 0 "
                                 "(Beta(alpha, alpha) draws the mixing weight), got %g",
                                 alpha);
    if (info->label_kind != DLH_LABEL_CLASS || info->n_classes < 1)
        return host->param_error(params, NULL, "%s mixes class labels into probabilities; "
                                 "the data has %s labels", name,
                                 info->label_kind == DLH_LABEL_DENSE ? "dense" : "no");
    mix_state *s = calloc(1, sizeof *s);
    float *row = s ? malloc((size_t)numel * sizeof *row) : NULL;
    if (!row) {
        free(s);
        host->error("%s: out of memory", name);
        return DLH_ENOMEM;
    }
    s->alpha = alpha;
    s->p = p;
    s->numel = numel;
    s->c = c;
    s->h = h;
    s->w = w;
    s->last_x = row;
    info->wants_probabilities = 1;
    info->whole_batch = 1;
    *out = s;
    return 0;
}

void mix_destroy(void *state)
{
    mix_state *s = state;
    if (!s)
        return;
    free(s->last_x);
    free(s->last_y);
    free(s);
}

int mix_rows(mix_state *s, const dlh_augment_ctx *ctx)
{
    if (!ctx->y || ctx->label_numel < 1) {
        augmenters_host->error("mixing labels needs probability rows from the host "
                               "(ABI 1.4)");
        return DLH_EINVAL;
    }
    if (s->y_numel != ctx->label_numel) {
        free(s->last_y);
        /* Sized once: the host gives rows of the model's classes every call. */
        if (!(s->last_y = malloc((size_t)ctx->label_numel * sizeof *s->last_y))) {
            s->y_numel = 0;
            augmenters_host->error("out of memory for a label row");
            return DLH_ENOMEM;
        }
        s->y_numel = ctx->label_numel;
    }
    return 0;
}

int mix_draw(mix_state *s, const dlh_augment_ctx *ctx, const char *name, const float *x,
             uint64_t *stream, double *lam)
{
    int rc = augment_check_ctx(name, ctx, x);
    if (rc < 0 || ctx->batch < 1 || (rc = mix_rows(s, ctx)) < 0)
        return rc;
    *stream = augment_stream(ctx, 0);
    if (!augment_bernoulli(ctx->seed, *stream, 0, s->p))
        return 0;
    *lam = mix_beta(ctx->seed, *stream, s->alpha);
    return 1;
}

void mix_blend(float *rows, int64_t n, int64_t m, float *last, double lam)
{
    float a = (float)lam, b = (float)(1.0 - lam);
    memcpy(last, rows + (n - 1) * m, (size_t)m * sizeof *rows);
    for (int64_t i = n - 1; i >= 0; i--) {
        const float *prev = i > 0 ? rows + (i - 1) * m : last;
        float *row = rows + i * m;
        for (int64_t k = 0; k < m; k++)
            row[k] = a * row[k] + b * prev[k];
    }
}

void mix_labels(const mix_state *s, const dlh_augment_ctx *ctx, double lam)
{
    mix_blend(ctx->y, ctx->batch, s->y_numel, s->last_y, lam);
}

/* Parameter table of mixup and cutmix (plugin.h): checked by the host against every read. */
const dlh_param_doc mix_params[] = {
    { "alpha", DLH_PARAM_FLOAT, "1", 0.0, 1e6, NULL, "Beta(alpha, alpha) draws the mixing weight, > 0" },
    AUGMENT_P_DOC("1"),
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
