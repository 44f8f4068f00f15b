/* Samplers (sampler.h). */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <dlhost/dlhost.h>
#include <dlhost/philox.h>

#include "error.h"
#include "registry.h"

const char *const dlh_sampler_names[] = { "random", "sequential", "weighted", "oversample",
                                          "undersample", NULL };

void dlh_permute(int64_t *v, int64_t n, uint64_t seed, uint64_t stream)
{
    for (int64_t i = n - 1; i > 0; i--) {
        uint32_t w[4];
        dlh_philox_words(seed, stream, (uint64_t)i, w);
        /* A 64-bit draw: the modulo bias is below 2^-30 for any n here. */
        uint64_t j = (((uint64_t)w[0] << 32) | w[1]) % (uint64_t)(i + 1);
        int64_t t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

/* Draw c of (seed, stream): a whole number in [0, n) and a double in [0, 1). */
static uint64_t sampler_below(uint64_t seed, uint64_t stream, uint64_t c, uint64_t n)
{
    uint32_t w[4];
    dlh_philox_words(seed, stream, c, w);
    return (((uint64_t)w[0] << 32) | w[1]) % n;
}

static double sampler_unit(uint64_t seed, uint64_t stream, uint64_t c)
{
    uint32_t w[4];
    dlh_philox_words(seed, stream, c, w);
    return (double)((((uint64_t)w[0] << 32) | w[1]) >> 11) * (1.0 / 9007199254740992.0);
}

void dlh_sampler_free(dlh_sampler *s)
{
    if (!s)
        return;
    free(s->by_class);
    free(s->class_start);
    free(s->scratch);
    free(s->cdf);
    memset(s, 0, sizeof *s);
}

int dlh_sampler_init(dlh_sampler *s, int kind, const int64_t *idx, int64_t n,
                     const int32_t *labels, int64_t n_classes, const float *class_weights,
                     int64_t num_samples)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->idx = idx;
    s->n = n;
    s->n_epoch = n;
    if (kind == DLH_SAMPLER_RANDOM || kind == DLH_SAMPLER_SEQUENTIAL)
        return 0;
    if (kind < 0 || kind > DLH_SAMPLER_UNDERSAMPLE || !labels || n_classes < 1 || n < 1) {
        dlh_error_set("sampler '%s' needs class labels",
                      kind >= 0 && kind <= DLH_SAMPLER_UNDERSAMPLE ? dlh_sampler_names[kind]
                                                                   : "?");
        return DLH_EINVAL;
    }
    s->n_classes = n_classes;
    s->by_class = malloc((size_t)n * sizeof *s->by_class);
    s->class_start = calloc((size_t)n_classes + 1, sizeof *s->class_start);
    if (!s->by_class || !s->class_start)
        goto nomem;
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= n_classes) {
            dlh_error_set("sampler '%s': sample %lld has class %d, outside 0..%lld",
                          dlh_sampler_names[kind], (long long)idx[i], (int)labels[i],
                          (long long)n_classes - 1);
            dlh_sampler_free(s);
            return DLH_ERANGE;
        }
        s->class_start[labels[i] + 1]++;
    }
    int64_t present = 0, most = 0, least = INT64_MAX;
    for (int64_t c = 0; c < n_classes; c++) {
        int64_t k = s->class_start[c + 1];
        if (k > 0) {
            present++;
            most = k > most ? k : most;
            least = k < least ? k : least;
        }
        s->class_start[c + 1] += s->class_start[c];
    }
    /* Grouped by class, each group in file order (a counting sort). */
    int64_t *fill = s->scratch = malloc((size_t)(n > n_classes ? n : n_classes) *
                                        sizeof *s->scratch);
    if (!fill)
        goto nomem;
    memcpy(fill, s->class_start, (size_t)n_classes * sizeof *fill);
    for (int64_t i = 0; i < n; i++)
        s->by_class[fill[labels[i]]++] = idx[i];

    if (kind == DLH_SAMPLER_WEIGHTED) {
        if (!(s->cdf = malloc((size_t)n * sizeof *s->cdf)))
            goto nomem;
        double total = 0.0;
        for (int64_t i = 0; i < n; i++) {
            int64_t c = labels[i];
            double count = (double)(s->class_start[c + 1] - s->class_start[c]);
            double w = class_weights ? (double)class_weights[c]
                                     : (double)n / ((double)present * count);
            if (!(w >= 0.0) || !isfinite(w)) {
                dlh_error_set("sampler 'weighted': class %lld has weight %g; weights must "
                              "be finite and >= 0", (long long)c, w);
                dlh_sampler_free(s);
                return DLH_ERANGE;
            }
            total += w;
            s->cdf[i] = total;
        }
        if (!(total > 0.0)) {
            dlh_error_set("sampler 'weighted': every training sample has weight 0");
            dlh_sampler_free(s);
            return DLH_ERANGE;
        }
        s->n_epoch = num_samples > 0 ? num_samples : n;
    } else {
        s->per_class = kind == DLH_SAMPLER_OVERSAMPLE ? most : least;
        s->n_epoch = present * s->per_class;
    }
    return 0;
nomem:
    dlh_sampler_free(s);
    dlh_error_set("sampler: out of memory for %lld samples", (long long)n);
    return DLH_ENOMEM;
}

/* The weighted sampler's position for u in [0, total): the first running
   sum above it. */
static int64_t sampler_search(const double *cdf, int64_t n, double target)
{
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] > target)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void dlh_sampler_order(dlh_sampler *s, uint64_t seed, uint64_t epoch, int64_t *order)
{
    const dlh_host *h = dlh_host_table();
    uint64_t shuffle = h->rng_stream(DLH_SAMPLER_RNG_SHUFFLE, epoch, 0);
    uint64_t draw = h->rng_stream(DLH_SAMPLER_RNG_DRAW, epoch, 0);
    switch (s->kind) {
    case DLH_SAMPLER_SEQUENTIAL:
        memcpy(order, s->idx, (size_t)s->n * sizeof *order);
        return;
    case DLH_SAMPLER_WEIGHTED: {
        /* Draws in the order they are made: no shuffle needed. */
        double total = s->cdf[s->n - 1];
        for (int64_t k = 0; k < s->n_epoch; k++) {
            /* Positions of weight 0 have cdf equal to their predecessor's
               and are never the first above the target. */
            double t = sampler_unit(seed, draw, (uint64_t)k) * total;
            order[k] = s->idx[sampler_search(s->cdf, s->n, t)];
        }
        return;
    }
    case DLH_SAMPLER_OVERSAMPLE:
    case DLH_SAMPLER_UNDERSAMPLE: {
        int64_t o = 0;
        uint64_t c_draw = 0;
        for (int64_t c = 0; c < s->n_classes; c++) {
            int64_t a = s->class_start[c], k = s->class_start[c + 1] - a;
            if (k == 0)
                continue;
            const int64_t *mine = s->by_class + a;
            if (s->kind == DLH_SAMPLER_OVERSAMPLE) {
                memcpy(order + o, mine, (size_t)k * sizeof *order);
                o += k;
                for (int64_t j = k; j < s->per_class; j++)
                    order[o++] = mine[sampler_below(seed, draw, c_draw++, (uint64_t)k)];
            } else {
                /* The first per_class of a partial Fisher-Yates. */
                int64_t *v = s->scratch;
                memcpy(v, mine, (size_t)k * sizeof *v);
                for (int64_t j = 0; j < s->per_class; j++) {
                    int64_t r = j + (int64_t)sampler_below(seed, draw, c_draw++,
                                                           (uint64_t)(k - j));
                    int64_t t = v[j];
                    v[j] = v[r];
                    v[r] = t;
                    order[o++] = v[j];
                }
            }
        }
        dlh_permute(order, s->n_epoch, seed, shuffle);
        return;
    }
    default:                        /* random */
        memcpy(order, s->idx, (size_t)s->n * sizeof *order);
        dlh_permute(order, s->n, seed, shuffle);
        return;
    }
}
