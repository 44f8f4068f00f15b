/* dynamic_range_compression: a feed-forward compressor on 1-D signals
 * (1, T) or (T): a peak envelope follower with separate attack and release
 * (one pole each), then a hard-knee static curve in dB, then make-up gain
 * (Zoelzer, DAFX, "Dynamics processing"; Giannoulis, Massberg and Reiss,
 * "Digital dynamic range compressor design", JAES 2012, level detection
 * before the gain computer).  For n = 0 .. T-1, with e[-1] = 0:
 *   a[n] = |x[n]|
 *   e[n] = aA e[n-1] + (1 - aA) a[n]   when a[n] > e[n-1] (attack)
 *          aR e[n-1] + (1 - aR) a[n]   otherwise          (release)
 *   L[n] = 20 log10(max(e[n], 1e-10))                     (dB)
 *   G[n] = (thr - L[n]) (1 - 1 / ratio) when L[n] > thr, else 0
 *   y[n] = x[n] 10^((G[n] + makeup_db) / 20)
 * with aA = exp(-1 / (attack_ms 1e-3 rate)), aR likewise with release_ms
 * (0 ms: a = 0, the envelope follows at once); in double.  So a signal
 * whose peak stays at or below thr is only scaled by the make-up gain, and
 * a constant level A dB above thr settles to A - (A - thr) / ratio.
 *   threshold_db: a number or [min, max] in [-120, 0] (default -20);
 *   ratio: a number or [min, max] in [1, 1000] (default 4);
 *   attack_ms (default 5), release_ms (default 50) >= 0; makeup_db (default
 *   0) in [-60, 60]; rate (Hz) required, for the time constants.
 * Counters: 0 apply (u(0) < p, p default 1), 1 threshold = uniform(1, min,
 * max), 2 ratio = uniform(2, min, max). */
#include <math.h>

#include "audio.h"

typedef struct drc_state {
    int64_t t;
    double p, thr[2], ratio[2], a_att, a_rel, makeup_db;
} drc_state;

static int drc_create_ex(const dlh_host *host, dlh_params *params, dlh_augment_info *info,
                         void **state)
{
    static const double def_thr[2] = { -20.0, -20.0 }, def_ratio[2] = { 4.0, 4.0 };
    const double def_att = 5.0, def_rel = 50.0, def_makeup = 0.0;
    drc_state st = { 0 };
    double att, rel;
    int64_t rate;
    int rc;
    if ((rc = audio_need_signal(host, params, info, &st.t)) < 0 ||
        (rc = audio_read_p(host, params, 1.0, &st.p)) < 0 ||
        (rc = audio_read_range(host, params, "threshold_db", def_thr, -120.0, 0.0,
                               st.thr)) < 0 ||
        (rc = audio_read_range(host, params, "ratio", def_ratio, 1.0, 1000.0, st.ratio)) < 0 ||
        (rc = host->param_float(params, "attack_ms", &def_att, 0.0, 1e6, &att)) < 0 ||
        (rc = host->param_float(params, "release_ms", &def_rel, 0.0, 1e6, &rel)) < 0 ||
        (rc = host->param_float(params, "makeup_db", &def_makeup, -60.0, 60.0,
                                &st.makeup_db)) < 0 ||
        (rc = host->param_int(params, "rate", NULL, 1, AUDIO_MAX_RATE, &rate)) < 0)
        return rc;
    st.a_att = att > 0.0 ? exp(-1.0 / (att * 1e-3 * (double)rate)) : 0.0;
    st.a_rel = rel > 0.0 ? exp(-1.0 / (rel * 1e-3 * (double)rate)) : 0.0;
    return audio_state_new(host, &st, sizeof st, state);
}

static int drc_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const drc_state *st = state;
    int rc = augment_check_ctx("dynamic_range_compression", ctx, x);
    if (rc < 0)
        return rc;
    for (int64_t i = 0; i < ctx->batch; i++) {
        uint64_t s = augment_stream(ctx, i);
        if (!(augment_unit(ctx->seed, s, 0) < st->p))
            continue;
        double thr = augment_uniform(ctx->seed, s, 1, st->thr[0], st->thr[1]);
        double ratio = augment_uniform(ctx->seed, s, 2, st->ratio[0], st->ratio[1]);
        double slope = 1.0 - 1.0 / ratio, e = 0.0;
        float *v = x + i * st->t;
        for (int64_t n = 0; n < st->t; n++) {
            double a = fabs((double)v[n]);
            double k = a > e ? st->a_att : st->a_rel;
            e = k * e + (1.0 - k) * a;
            double level = 20.0 * log10(e > 1e-10 ? e : 1e-10);
            double g = level > thr ? (thr - level) * slope : 0.0;
            v[n] = (float)((double)v[n] * pow(10.0, (g + st->makeup_db) / 20.0));
        }
    }
    return 0;
}

const dlh_augmenter_ops dynamic_range_compression_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = drc_apply,
    .destroy = audio_state_free,
    .create_ex = drc_create_ex,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc dynamic_range_compression_params[] = {
    AUDIO_P_DOC,
    { "threshold_db", DLH_PARAM_FLOATS, "-20", 0, 0, NULL, "threshold in dBFS, a number or a [min, max] range drawn from, within [-120, 0]" },
    { "ratio", DLH_PARAM_FLOATS, "4", 0, 0, NULL, "compression ratio, a number or a [min, max] range drawn from, within [1, 1000]" },
    { "attack_ms", DLH_PARAM_FLOAT, "5", 0.0, 1e6, NULL, "attack time of the envelope follower in ms" },
    { "release_ms", DLH_PARAM_FLOAT, "50", 0.0, 1e6, NULL, "release time of the envelope follower in ms" },
    { "makeup_db", DLH_PARAM_FLOAT, "0", -60.0, 60.0, NULL, "gain added after compression in dB" },
    { "rate", DLH_PARAM_INT, NULL, 1, AUDIO_MAX_RATE, NULL, "the data's sample rate in Hz (for the time constants)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
