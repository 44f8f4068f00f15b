/* time_stretch and pitch_shift: Rubber Band (librubberband, its C API) on
 * 1-D signals (1, T) or (T), offline mode (the whole signal studied, then
 * processed), one channel, no threads of its own, the "faster" (R2) engine
 * unless engine = "finer" (R3); the output is cut or zero padded at the end
 * back to T samples.
 *   time_stretch: speed = uniform(1, min, max) of `speed` (a number or
 *     [min, max] in [0.125, 8], default [0.8, 1.25]); speed > 1 is faster
 *     and shorter (librosa's and torchaudio's `rate`): Rubber Band's time
 *     ratio 1 / speed, pitch unchanged.
 *   pitch_shift: semitones = uniform(1, min, max) of `semitones` (a number
 *     or [min, max] in [-24, 24], default [-4, 4]), scale s = 2^(semitones /
 *     12), duration unchanged.  method = "stretch" (default; librosa's
 *     pitch_shift): Rubber Band stretches the signal s times longer at the
 *     same pitch, then libsamplerate (sinc medium) resamples it by 1 / s;
 *     method = "rubberband": Rubber Band's own pitch scale s (high-quality
 *     pitch option), about five times slower (some 60 to 120 ms for a
 *     second at 16 kHz, against 10 to 25 ms).
 * `rate` (Hz) is required: Rubber Band sizes its windows by it.
 * Counters: 0 apply (u(0) < p, p default 1), 1 the speed or semitones.
 * apply allocates: a RubberBandState and an output buffer per call
 * (Rubber Band's state changes as it processes, so it cannot be shared by
 * the threads that may call apply at once, and holding one per thread
 * would need thread-local state the host does not offer). */
#include <math.h>
#include <rubberband/rubberband-c.h>
#include <samplerate.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"

#define RB_CHUNK 4096

typedef struct rb_state {
    int64_t t;
    int pitch;                  /* pitch_shift, else time_stretch */
    int own_pitch;              /* pitch_shift by Rubber Band's pitch scale */
    int rate;
    RubberBandOptions options;
    double p, range[2];
} rb_state;

static int rb_create(const dlh_host *host, dlh_params *params, dlh_augment_info *info,
                     int pitch, void **state)
{
    static const char *const engines[] = { "faster", "finer", NULL };
    static const char *const methods[] = { "stretch", "rubberband", NULL };
    static const double def_speed[2] = { 0.8, 1.25 }, def_semi[2] = { -4.0, 4.0 };
    rb_state st = { 0 };
    int64_t rate;
    int engine, rc;
    st.pitch = pitch;
    if ((rc = audio_need_signal(host, params, info, &st.t)) < 0 ||
        (rc = audio_read_p(host, params, 1.0, &st.p)) < 0 ||
        (rc = host->param_int(params, "rate", NULL, AUDIO_MIN_RATE, AUDIO_MAX_RATE,
                              &rate)) < 0 ||
        (rc = host->param_choice(params, "engine", engines, 0, &engine)) < 0)
        return rc;
    if (pitch && (rc = host->param_choice(params, "method", methods, 0, &st.own_pitch)) < 0)
        return rc;
    if (pitch)
        rc = audio_read_range(host, params, "semitones", def_semi, -24.0, 24.0, st.range);
    else
        rc = audio_read_range(host, params, "speed", def_speed, 0.125, 8.0, st.range);
    if (rc < 0)
        return rc;
    if (st.t > (int64_t)1 << 28)
        return host->param_error(params, NULL, "samples of %lld values are too long for "
                                 "Rubber Band", (long long)st.t);
    st.rate = (int)rate;
    st.options = RubberBandOptionProcessOffline | RubberBandOptionThreadingNever |
                 (engine ? RubberBandOptionEngineFiner : RubberBandOptionEngineFaster) |
                 (st.own_pitch ? RubberBandOptionPitchHighQuality : 0);
    rubberband_set_default_debug_level(0);
    return audio_state_new(host, &st, sizeof st, state);
}

static int time_stretch_create_ex(const dlh_host *host, dlh_params *params,
                                  dlh_augment_info *info, void **state)
{
    return rb_create(host, params, info, 0, state);
}

static int pitch_shift_create_ex(const dlh_host *host, dlh_params *params,
                                 dlh_augment_info *info, void **state)
{
    return rb_create(host, params, info, 1, state);
}

/* Runs v[0..t) through Rubber Band at time_ratio and pitch_scale, keeping
   the first `keep` output samples in out (zero padded); returns how many
   came, or a negative status.  scratch: RB_CHUNK floats for the rest. */
static int64_t rb_run(const rb_state *st, double time_ratio, double pitch_scale,
                      const float *v, float *out, unsigned keep, float *scratch)
{
    unsigned t = (unsigned)st->t;
    RubberBandState rb = rubberband_new((unsigned)st->rate, 1, st->options, time_ratio,
                                        pitch_scale);
    if (!rb) {
        audio_host->error("%s: cannot make a Rubber Band stretcher",
                          st->pitch ? "pitch_shift" : "time_stretch");
        return DLH_ENOMEM;
    }
    rubberband_set_expected_input_duration(rb, t);
    rubberband_set_max_process_size(rb, RB_CHUNK);
    for (unsigned at = 0; at < t; at += RB_CHUNK) {
        unsigned n = t - at < RB_CHUNK ? t - at : RB_CHUNK;
        const float *in = v + at;
        rubberband_study(rb, &in, n, at + n == t);
    }
    unsigned have = 0;
    for (unsigned at = 0; at < t; at += RB_CHUNK) {
        unsigned n = t - at < RB_CHUNK ? t - at : RB_CHUNK;
        const float *in = v + at;
        rubberband_process(rb, &in, n, at + n == t);
        int avail;
        while ((avail = rubberband_available(rb)) > 0) {
            unsigned want = (unsigned)avail;
            float *dst = have < keep ? out + have : scratch;
            unsigned room = have < keep ? keep - have : RB_CHUNK;
            if (want > room)
                want = room;
            unsigned got = rubberband_retrieve(rb, &dst, want);
            if (got == 0)
                break;
            if (have < keep)
                have += got;
        }
    }
    rubberband_delete(rb);
    if (have < keep)
        memset(out + have, 0, (size_t)(keep - have) * sizeof *out);
    return have;
}

/* One sample, in place: d is the speed or the semitones.  out holds
   max(t, stretched) floats (rb_out_size). */
static int rb_one(const rb_state *st, double d, float *v, float *out, float *scratch)
{
    unsigned t = (unsigned)st->t;
    if (!st->pitch || st->own_pitch) {
        int64_t rc = st->pitch ? rb_run(st, 1.0, pow(2.0, d / 12.0), v, out, t, scratch)
                               : rb_run(st, 1.0 / d, 1.0, v, out, t, scratch);
        if (rc < 0)
            return (int)rc;
        memcpy(v, out, (size_t)t * sizeof *v);
        return 0;
    }
    /* librosa's way: s times longer at the same pitch, then 1 / s the rate */
    double s = pow(2.0, d / 12.0);
    unsigned len = (unsigned)ceil((double)t * s);
    int64_t got = rb_run(st, s, 1.0, v, out, len, scratch);
    if (got < 0)
        return (int)got;
    SRC_DATA sd;
    memset(&sd, 0, sizeof sd);
    sd.data_in = out;
    sd.input_frames = (long)len;
    sd.data_out = v;
    sd.output_frames = (long)t;
    sd.end_of_input = 1;
    sd.src_ratio = 1.0 / s;
    int err = src_simple(&sd, SRC_SINC_MEDIUM_QUALITY, 1);
    if (err) {
        audio_host->error("pitch_shift: libsamplerate: %s", src_strerror(err));
        return DLH_EINVAL;
    }
    if (sd.output_frames_gen < (long)t)
        memset(v + sd.output_frames_gen, 0, (size_t)(t - sd.output_frames_gen) * sizeof *v);
    return 0;
}

/* Floats of `out` rb_one needs: the stretched signal for method "stretch"
   (s at most 4: 24 semitones). */
static size_t rb_out_size(const rb_state *st)
{
    double top = st->pitch && !st->own_pitch ? pow(2.0, fmax(st->range[1], 0.0) / 12.0) : 1.0;
    return (size_t)ceil((double)st->t * top) + 1;
}

static int rb_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const rb_state *st = state;
    int rc = augment_check_ctx(st->pitch ? "pitch_shift" : "time_stretch", ctx, x);
    if (rc < 0)
        return rc;
    float *out = NULL, *scratch = NULL;
    for (int64_t i = 0; i < ctx->batch; i++) {
        uint64_t s = augment_stream(ctx, i);
        if (!(augment_unit(ctx->seed, s, 0) < st->p))
            continue;
        double d = augment_uniform(ctx->seed, s, 1, st->range[0], st->range[1]);
        if (!out) {
            out = malloc(rb_out_size(st) * sizeof *out);
            scratch = malloc(RB_CHUNK * sizeof *scratch);
            if (!out || !scratch) {
                audio_host->error("%s: out of memory for %lld samples",
                                  st->pitch ? "pitch_shift" : "time_stretch",
                                  (long long)st->t);
                rc = DLH_ENOMEM;
                break;
            }
        }
        rc = rb_one(st, d, x + i * st->t, out, scratch);
        if (rc < 0)
            break;
    }
    free(out);
    free(scratch);
    return rc;
}

const dlh_augmenter_ops time_stretch_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = rb_apply,
    .destroy = audio_state_free,
    .create_ex = time_stretch_create_ex,
};

const dlh_augmenter_ops pitch_shift_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = rb_apply,
    .destroy = audio_state_free,
    .create_ex = pitch_shift_create_ex,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc time_stretch_params[] = {
    AUDIO_P_DOC,
    { "rate", DLH_PARAM_INT, NULL, AUDIO_MIN_RATE, AUDIO_MAX_RATE, NULL, "the data's sample rate in Hz" },
    { "engine", DLH_PARAM_CHOICE, "faster", 0, 0, "faster|finer", "Rubber Band's R2 (faster) or R3 (finer) engine" },
    { "speed", DLH_PARAM_FLOATS, "[0.8, 1.25]", 0, 0, NULL, "speed factor, a number or a [min, max] range drawn from, within [0.125, 8]" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};

const dlh_param_doc pitch_shift_params[] = {
    AUDIO_P_DOC,
    { "rate", DLH_PARAM_INT, NULL, AUDIO_MIN_RATE, AUDIO_MAX_RATE, NULL, "the data's sample rate in Hz" },
    { "engine", DLH_PARAM_CHOICE, "faster", 0, 0, "faster|finer", "Rubber Band's R2 (faster) or R3 (finer) engine" },
    { "method", DLH_PARAM_CHOICE, "stretch", 0, 0, "stretch|rubberband", "stretch and resample, or Rubber Band's own pitch shifter" },
    { "semitones", DLH_PARAM_FLOATS, "[-4, 4]", 0, 0, NULL, "pitch shift in semitones, a number or a [min, max] range drawn from, within [-24, 24]" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
