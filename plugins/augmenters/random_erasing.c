/* random_erasing: torchvision.transforms.RandomErasing on images (C, H, W),
 * its get_params with our draws.  With probability p (default 0.5; counter
 * 0, erased when u(0) < p), up to 10 attempts t = 0..9, each with counters
 * 1 + 4t .. 4 + 4t:
 *   erase_area = H W uniform(1 + 4t, scale[0], scale[1])     (double)
 *   aspect     = exp(uniform(2 + 4t, log ratio[0], log ratio[1]))
 *   h = round(sqrt(erase_area aspect)), w = round(sqrt(erase_area / aspect))
 *       (round half to even, as Python's round)
 *   unless h < H and w < W, the next attempt; else
 *   i = int(3 + 4t, 0, H - h), j = int(4 + 4t, 0, W - w)
 * and x[c][i:i+h][j:j+w] = value[c]; when no attempt fits, nothing changes.
 * scale = [min, max] within [0, 1] (default [0.02, 0.33]); ratio = [min,
 * max] > 0 (default [0.3, 3.3]); both must be ordered (torchvision only
 * warns).  value: a number (default 0), one per channel, or "random":
 * erased element e (its index in the sample) becomes normal(AUGMENT_ELEMENT
 * + e), torchvision's per-pixel standard normal. */
#include <math.h>
#include <string.h>

#include "augmenters.h"

#define ERASING_ATTEMPTS 10

typedef struct random_erasing_state {
    int64_t c, h, w;
    double p;
    double scale[2], log_ratio[2];
    int random;                 /* value "random" */
    float value[AUGMENT_MAX_CHANNELS];
} random_erasing_state;

static int random_erasing_create_ex(const dlh_host *host, dlh_params *params,
                                    dlh_augment_info *info, void **state)
{
    random_erasing_state st = { 0 };
    float scale[2] = { 0.02f, 0.33f }, ratio[2] = { 0.3f, 3.3f };
    size_t n;
    int rc;
    if ((rc = augment_read_p(host, params, 0.5, &st.p)) < 0 ||
        (rc = augment_need_image(host, params, info, &st.c, &st.h,
                                 &st.w)) < 0 ||
        (rc = host->param_floats(params, "scale", scale, 2, &n)) < 0)
        return rc;
    if (n == 1)
        return host->param_error(params, "scale", "parameter 'scale': expected [min, max], "
                                 "got one number");
    if (scale[0] < 0.0f || scale[1] > 1.0f || scale[0] > scale[1])
        return host->param_error(params, "scale", "parameter 'scale': expected [min, max] "
                                 "with 0 <= min <= max <= 1, got [%g, %g]", scale[0],
                                 scale[1]);
    if ((rc = host->param_floats(params, "ratio", ratio, 2, &n)) < 0)
        return rc;
    if (n == 1)
        return host->param_error(params, "ratio", "parameter 'ratio': expected [min, max], "
                                 "got one number");
    if (!(ratio[0] > 0.0f) || ratio[0] > ratio[1])
        return host->param_error(params, "ratio", "parameter 'ratio': expected [min, max] "
                                 "with 0 < min <= max, got [%g, %g]", ratio[0], ratio[1]);
    st.scale[0] = scale[0];
    st.scale[1] = scale[1];
    st.log_ratio[0] = log((double)ratio[0]);
    st.log_ratio[1] = log((double)ratio[1]);
    /* value: a number, a list, or the word "random". */
    if (host->param_has(params, "value")) {
        const char *word;
        if (host->param_string(params, "value", "", &word) == 0) {
            if (strcmp(word, "random") != 0)
                return host->param_error(params, "value", "parameter 'value': expected a "
                                         "number, one per channel, or \"random\", got "
                                         "\"%s\"", word);
            st.random = 1;
        } else {
            /* Not a string: the refusal just set is no failure of ours. */
            host->error("%s", "");
            if ((rc = augment_read_fill(host, params, "value", 0.0, st.c, st.value)) < 0)
                return rc;
        }
    }
    return augment_state_new(host, &st, sizeof st, state);
}

static void random_erasing_one(const random_erasing_state *st, uint64_t seed,
                               uint64_t s, float *v)
{
    double area = (double)st->h * (double)st->w;
    for (uint64_t t = 0; t < ERASING_ATTEMPTS; t++) {
        uint64_t k = 1 + 4 * t;
        double erase_area = area * augment_uniform(seed, s, k, st->scale[0], st->scale[1]);
        double aspect = exp(augment_uniform(seed, s, k + 1, st->log_ratio[0],
                                            st->log_ratio[1]));
        double hf = nearbyint(sqrt(erase_area * aspect));
        double wf = nearbyint(sqrt(erase_area / aspect));
        if (!(hf < (double)st->h && wf < (double)st->w))
            continue;
        int64_t h = (int64_t)hf, w = (int64_t)wf;
        int64_t i = augment_int(seed, s, k + 2, 0, st->h - h);
        int64_t j = augment_int(seed, s, k + 3, 0, st->w - w);
        for (int64_t c = 0; c < st->c; c++) {
            float value = st->value[c < AUGMENT_MAX_CHANNELS ? c : 0];
            for (int64_t y = i; y < i + h; y++) {
                int64_t e = (c * st->h + y) * st->w;
                for (int64_t q = j; q < j + w; q++)
                    v[e + q] = st->random ? augment_normal(seed, s, AUGMENT_ELEMENT +
                                                                    (uint64_t)(e + q))
                                          : value;
            }
        }
        return;
    }
}

static int random_erasing_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const random_erasing_state *st = state;
    int rc = augment_check_ctx("random_erasing", ctx, x);
    if (rc < 0)
        return rc;
    int64_t numel = st->c * st->h * st->w;
    for (int64_t i = 0; i < ctx->batch; i++) {
        uint64_t s = augment_stream(ctx, i);
        if (augment_bernoulli(ctx->seed, s, 0, st->p))
            random_erasing_one(st, ctx->seed, s, x + i * numel);
    }
    return 0;
}

const dlh_augmenter_ops random_erasing_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = random_erasing_apply,
    .destroy = augment_state_free,
    .create_ex = random_erasing_create_ex,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc random_erasing_params[] = {
    AUGMENT_P_DOC("0.5"),
    { "scale", DLH_PARAM_FLOATS, "[0.02, 0.33]", 0, 0, NULL, "[min, max] erased fraction of the area, 0 <= min <= max <= 1" },
    { "ratio", DLH_PARAM_FLOATS, "[0.3, 3.3]", 0, 0, NULL, "[min, max] aspect ratio of the rectangle, 0 < min <= max" },
    { "value", DLH_PARAM_OTHER, "", 0, 0, NULL, "erasing value: a number, one per channel, or \"random\" (normal noise); unset: 0" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
