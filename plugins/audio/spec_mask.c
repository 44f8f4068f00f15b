/* time_mask and freq_mask: SpecAugment masks on spectrograms (C, F, T) or
 * (F, T), torchaudio's TimeMasking(time_mask_param) and
 * FrequencyMasking(freq_mask_param) with iid_masks=False (one mask for
 * every channel of a sample); functional.mask_along_axis with our draws:
 *   value     = u(1) param                     (double)
 *   min_value = u(2) (size - value)
 *   start = floor(min_value), end = start + floor(value)
 *   rows (freq_mask) or columns (time_mask) start <= i < end take mask_value
 * so the width floor(value) is uniform in [0, param) and never leaves the
 * spectrogram.  size is F (freq_mask) or T (time_mask); param (an integer)
 * must be at most size.  time_mask's max_proportion is torchaudio's
 * TimeMasking p (the largest masked fraction of the frames: param becomes
 * min(param, floor(T max_proportion)) when it is below 1); here p is the
 * probability of masking a sample, as for every augmenter.
 * Counters: 0 apply (u(0) < p, p default 1), 1 value, 2 min_value. */
#include <math.h>

#include "audio.h"

typedef struct spec_mask_state {
    int64_t c, f, t;
    int time;                   /* masks columns, else rows */
    int64_t param;
    double p;
    float value;
} spec_mask_state;

static int spec_mask_create(const dlh_host *host, dlh_params *params, dlh_augment_info *info,
                            int time, void **state)
{
    const char *key = time ? "time_mask_param" : "freq_mask_param";
    const double def_value = 0.0, def_prop = 1.0;
    spec_mask_state st = { 0 };
    double value, prop = 1.0;
    int rc;
    st.time = time;
    if ((rc = audio_need_spectrogram(host, params, info, &st.c, &st.f, &st.t)) < 0 ||
        (rc = audio_read_p(host, params, 1.0, &st.p)) < 0 ||
        (rc = host->param_float(params, "mask_value", &def_value, -3.4e38, 3.4e38,
                                &value)) < 0)
        return rc;
    int64_t size = time ? st.t : st.f;
    if ((rc = host->param_int(params, key, NULL, 0, INT64_MAX, &st.param)) < 0)
        return rc;
    if (st.param > size)
        return host->param_error(params, key, "parameter '%s': at most the %s (%lld), "
                                 "got %lld", key, time ? "frames" : "frequency bins",
                                 (long long)size, (long long)st.param);
    if (time &&
        (rc = host->param_float(params, "max_proportion", &def_prop, 0.0, 1.0, &prop)) < 0)
        return rc;
    if (prop < 1.0) {
        int64_t cap = (int64_t)floor((double)size * prop);
        if (cap < st.param)
            st.param = cap;
    }
    st.value = (float)value;
    return audio_state_new(host, &st, sizeof st, state);
}

static int time_mask_create_ex(const dlh_host *host, dlh_params *params,
                               dlh_augment_info *info, void **state)
{
    return spec_mask_create(host, params, info, 1, state);
}

static int freq_mask_create_ex(const dlh_host *host, dlh_params *params,
                               dlh_augment_info *info, void **state)
{
    return spec_mask_create(host, params, info, 0, state);
}

static int spec_mask_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const spec_mask_state *st = state;
    int rc = augment_check_ctx(st->time ? "time_mask" : "freq_mask", ctx, x);
    if (rc < 0)
        return rc;
    int64_t size = st->time ? st->t : st->f, plane = st->f * st->t;
    for (int64_t i = 0; i < ctx->batch; i++) {
        uint64_t s = augment_stream(ctx, i);
        if (!(augment_unit(ctx->seed, s, 0) < st->p) || st->param < 1)
            continue;
        double value = augment_unit(ctx->seed, s, 1) * (double)st->param;
        double min_value = augment_unit(ctx->seed, s, 2) * ((double)size - value);
        int64_t start = (int64_t)floor(min_value);
        int64_t end = start + (int64_t)floor(value);
        if (end > size)     /* u < 1 keeps it inside; rounding must not leave */
            end = size;
        for (int64_t c = 0; c < st->c; c++) {
            float *v = x + (i * st->c + c) * plane;
            if (st->time) {
                for (int64_t r = 0; r < st->f; r++)
                    for (int64_t q = start; q < end; q++)
                        v[r * st->t + q] = st->value;
            } else {
                for (int64_t r = start; r < end; r++)
                    for (int64_t q = 0; q < st->t; q++)
                        v[r * st->t + q] = st->value;
            }
        }
    }
    return 0;
}

const dlh_augmenter_ops time_mask_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = spec_mask_apply,
    .destroy = audio_state_free,
    .create_ex = time_mask_create_ex,
};

const dlh_augmenter_ops freq_mask_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = spec_mask_apply,
    .destroy = audio_state_free,
    .create_ex = freq_mask_create_ex,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc time_mask_params[] = {
    AUDIO_P_DOC,
    { "mask_value", DLH_PARAM_FLOAT, "0", -3.4e38, 3.4e38, NULL, "value written into the mask" },
    { "time_mask_param", DLH_PARAM_INT, NULL, 0, INT64_MAX, NULL, "largest mask width in frames, at most the frames" },
    { "max_proportion", DLH_PARAM_FLOAT, "1", 0.0, 1.0, NULL, "largest fraction of the frames masked (torchaudio's p)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};

const dlh_param_doc freq_mask_params[] = {
    AUDIO_P_DOC,
    { "mask_value", DLH_PARAM_FLOAT, "0", -3.4e38, 3.4e38, NULL, "value written into the mask" },
    { "freq_mask_param", DLH_PARAM_INT, NULL, 0, INT64_MAX, NULL, "largest mask height in frequency bins, at most the bins" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
