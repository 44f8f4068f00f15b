/* time_shift: moves 1-D signals (1, T) or (T) in time by s samples,
 * y[t] = x[t - s] (s > 0: later), positions that come from outside the
 * signal taking
 *   mode = "roll" (default; audiomentations' Shift rollover): x[(t - s) mod T];
 *   mode = "zero": 0.
 * The largest shift m is given by exactly one of
 *   fraction = f in [0, 1]: m = floor(f T);
 *   max_seconds = d with rate = r (Hz): m = min(round(d r), T)
 * and s = int(1, -m, m), uniform over the 2m + 1 whole shifts.
 * Counters: 0 apply (u(0) < p, p default 1), 1 the shift. */
#include <math.h>
#include <string.h>

#include "audio.h"

typedef struct time_shift_state {
    int64_t t, max;
    double p;
    int zero;
} time_shift_state;

static int time_shift_create_ex(const dlh_host *host, dlh_params *params,
                                dlh_augment_info *info, void **state)
{
    static const char *const modes[] = { "roll", "zero", NULL };
    time_shift_state st = { 0 };
    int rc;
    if ((rc = audio_need_signal(host, params, info, &st.t)) < 0 ||
        (rc = audio_read_p(host, params, 1.0, &st.p)) < 0 ||
        (rc = host->param_choice(params, "mode", modes, 0, &st.zero)) < 0)
        return rc;
    int has_f = host->param_has(params, "fraction"), has_s = host->param_has(params,
                                                                             "max_seconds");
    if (has_f == has_s)
        return host->param_error(params, has_f ? "max_seconds" : NULL, "%sgive either "
                                 "fraction = f (of the signal's length) or max_seconds = d "
                                 "with rate = r, %s", has_f ? "parameter 'max_seconds': " : "",
                                 has_f ? "not both" : "one of them");
    if (has_f) {
        double f;
        if ((rc = host->param_float(params, "fraction", NULL, 0.0, 1.0, &f)) < 0)
            return rc;
        st.max = (int64_t)floor(f * (double)st.t);
    } else {
        double d;
        int64_t rate;
        if ((rc = host->param_float(params, "max_seconds", NULL, 0.0, 1e6, &d)) < 0 ||
            (rc = host->param_int(params, "rate", NULL, 1, AUDIO_MAX_RATE, &rate)) < 0)
            return rc;
        double m = nearbyint(d * (double)rate);
        st.max = m > (double)st.t ? st.t : (int64_t)m;
    }
    return audio_state_new(host, &st, sizeof st, state);
}

static int time_shift_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const time_shift_state *st = state;
    int rc = augment_check_ctx("time_shift", ctx, x);
    if (rc < 0)
        return rc;
    int64_t t = st->t;
    for (int64_t i = 0; i < ctx->batch; i++) {
        uint64_t s = augment_stream(ctx, i);
        if (!(augment_unit(ctx->seed, s, 0) < st->p))
            continue;
        int64_t k = augment_int(ctx->seed, s, 1, -st->max, st->max);
        if (k == 0)
            continue;
        float *v = x + i * t;
        int64_t a = k > 0 ? k : -k;
        /* Three reversals rotate in place: no scratch, no allocation. */
        if (st->zero && a >= t) {
            memset(v, 0, (size_t)t * sizeof *v);
            continue;
        }
        int64_t r = ((k % t) + t) % t;     /* roll right by r */
        if (r) {
            for (int64_t lo = 0, hi = t - 1; lo < hi; lo++, hi--) {
                float tmp = v[lo]; v[lo] = v[hi]; v[hi] = tmp;
            }
            for (int64_t lo = 0, hi = r - 1; lo < hi; lo++, hi--) {
                float tmp = v[lo]; v[lo] = v[hi]; v[hi] = tmp;
            }
            for (int64_t lo = r, hi = t - 1; lo < hi; lo++, hi--) {
                float tmp = v[lo]; v[lo] = v[hi]; v[hi] = tmp;
            }
        }
        if (st->zero) {
            if (k > 0)
                memset(v, 0, (size_t)a * sizeof *v);
            else
                memset(v + t - a, 0, (size_t)a * sizeof *v);
        }
    }
    return 0;
}

const dlh_augmenter_ops time_shift_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = time_shift_apply,
    .destroy = audio_state_free,
    .create_ex = time_shift_create_ex,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc time_shift_params[] = {
    AUDIO_P_DOC,
    { "mode", DLH_PARAM_CHOICE, "roll", 0, 0, "roll|zero", "the samples shifted out come back at the other end, or zeros fill in" },
    { "fraction", DLH_PARAM_FLOAT, "", 0.0, 1.0, NULL, "largest shift as a fraction of the signal's length; give this or max_seconds" },
    { "max_seconds", DLH_PARAM_FLOAT, "", 0.0, 1e6, NULL, "largest shift in seconds, with rate; give this or fraction" },
    { "rate", DLH_PARAM_INT, "", 1, AUDIO_MAX_RATE, NULL, "the data's sample rate in Hz; required with max_seconds" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
