/* The audio augmenters of plugins/audio/, loaded through the registry and
 * created from config groups with create_ex, against their definitions:
 * time_shift's roll and zero fill by the shift int(1, -m, m); background
 * noise's file, offset and SNR draws, the mix formula and the SNR it gives
 * (noise files written here at the data's rate, so their values are
 * exact); the compressor leaves a signal below threshold as it is but for
 * the make-up gain, and settles on a square wave above threshold to the
 * static curve's gain; time_mask and freq_mask mask exactly torchaudio's
 * mask_along_axis box with our draws, widths uniform in [0, param);
 * pitch_shift by +12 semitones doubles a tone's frequency and
 * time_stretch keeps it (Rubber Band, when built).  A batch in one call
 * equals its samples one call each; p = 0 changes nothing; bad parameters
 * and shapes are located configuration errors.  SKIPs when the plugin is
 * not built. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "params.h"
#include "registry.h"
#include "tap.h"
#include "tmpdir.h"

#define SEED 0x5EED1234ABCDULL

static char dir[4096];

/* ------------------------------------------------------------ helpers */

typedef struct aug {
    const dlh_augmenter_ops *ops;
    void *state;
} aug;

static void aug_free(aug *a)
{
    if (a->ops && a->ops->destroy && a->state)
        a->ops->destroy(a->state);
    a->ops = NULL;
    a->state = NULL;
}

static dlh_shape shape_of(int ndim, int64_t d0, int64_t d1, int64_t d2)
{
    dlh_shape s = { ndim, { d0, d1, d2 } };
    return s;
}

/* Creates augmenter `type` from the group body over samples of `sample`, as
   the host does; on failure *a holds nothing and the message is set. */
static int aug_new(const char *type, const char *body, dlh_shape sample, aug *a)
{
    static const char *const reserved[] = { "type", NULL };
    dlh_augment_info info = { sizeof info, sample, DLH_LABEL_CLASS, 10, { 0, { 0 } }, 0, 0, 0, 0, 0 };
    char text[8192], label[64];
    dlh_config *cfg = NULL;
    a->ops = NULL;
    a->state = NULL;
    snprintf(text, sizeof text, "augment = {\n  type = \"%s\";\n  %s\n};\n", type, body);
    snprintf(label, sizeof label, "augmenter '%s'", type);
    dlh_error_clear();
    int rc = dlh_config_load_string(text, "test.cfg", &cfg);
    if (rc < 0)
        return rc;
    dlh_params *p = dlh_params_new(cfg, config_setting_get_member(dlh_config_root(cfg),
                                                                  "augment"),
                                   label, reserved);
    const dlh_component *c = dlh_registry_find(DLH_KIND_AUGMENTER, type);
    if (!p)
        rc = DLH_ENOMEM;
    else if (!c)
        rc = DLH_ENOTFOUND;
    if (rc == 0) {
        a->ops = c->ops;
        rc = a->ops->create_ex(dlh_host_table(), p, &info, &a->state);
        if (rc == 0 && (info.wants_probabilities || info.whole_batch)) {
            dlh_error_set("%s asks for probability labels or whole batches", type);
            rc = DLH_EINVAL;
        }
    }
    if (rc == 0)
        rc = dlh_params_check_unused(p);
    if (rc < 0)
        aug_free(a);
    dlh_params_free(p);
    dlh_config_free(cfg);
    return rc;
}

static int aug_run(const aug *a, const uint64_t *streams, int64_t batch, float *x)
{
    dlh_augment_ctx ctx = { sizeof ctx, SEED, batch > 0 ? streams[0] : 0, batch, 0,
                            streams, NULL, 0, 1, NULL, NULL };
    dlh_error_clear();
    return a->ops->apply(a->state, &ctx, x);
}

static double draw_u(uint64_t stream, uint64_t k)
{
    uint32_t w[4];
    dlh_philox_words(SEED, stream, k, w);
    return (double)(w[0] >> 8) * (1.0 / 16777216.0);
}

static int64_t draw_int(uint64_t stream, uint64_t k, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    int64_t n = hi - lo + 1, v = (int64_t)floor(draw_u(stream, k) * (double)n);
    return lo + (v < n ? v : n - 1);
}

static void streams_from(uint64_t *s, int n, uint64_t base)
{
    for (int i = 0; i < n; i++)
        s[i] = base + (uint64_t)i * 7919u;
}

/* The same batch applied in one call and one sample per call: same bits. */
static void check_split(const aug *a, const float *x0, int64_t batch, int64_t numel,
                        const char *what)
{
    uint64_t s[64];
    streams_from(s, (int)batch, 11);
    float *x = malloc((size_t)(batch * numel) * sizeof *x);
    float *y = malloc((size_t)(batch * numel) * sizeof *y);
    memcpy(x, x0, (size_t)(batch * numel) * sizeof *x);
    memcpy(y, x0, (size_t)(batch * numel) * sizeof *y);
    int rc = aug_run(a, s, batch, x);
    for (int64_t i = 0; i < batch && !rc; i++)
        rc = aug_run(a, s + i, 1, y + i * numel);
    ok(rc == 0 && memcmp(x, y, (size_t)(batch * numel) * sizeof *x) == 0,
       "%s: a batch in one call = one call per sample", what);
    free(x);
    free(y);
}

/* Creating fails with DLH_ECONFIG and a message containing `want`. */
static void bad(const char *type, const char *body, dlh_shape sample, const char *want)
{
    aug a;
    int rc = aug_new(type, body, sample, &a);
    const char *msg = dlh_error_get();
    if (!ok(rc == DLH_ECONFIG && strstr(msg, want), "%s { %s }: refused, '%s'", type, body,
            want))
        diag("rc %d, message '%s'", rc, msg);
    aug_free(&a);
}

static void le(unsigned char *p, uint32_t v, int size)
{
    for (int i = 0; i < size; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* A 16-bit mono WAV of v (values k / 32768) at `rate`, as dir/name. */
static void write_wav(const char *folder, const char *name, uint32_t rate, const float *v,
                      size_t n)
{
    unsigned char *b = malloc(44 + 2 * n);
    memcpy(b, "RIFF", 4);
    le(b + 4, (uint32_t)(36 + 2 * n), 4);
    memcpy(b + 8, "WAVEfmt ", 8);
    le(b + 16, 16, 4);
    le(b + 20, 1, 2);
    le(b + 22, 1, 2);
    le(b + 24, rate, 4);
    le(b + 28, rate * 2, 4);
    le(b + 32, 2, 2);
    le(b + 34, 16, 2);
    memcpy(b + 36, "data", 4);
    le(b + 40, (uint32_t)(2 * n), 4);
    for (size_t i = 0; i < n; i++)
        le(b + 44 + 2 * i, (uint32_t)(uint16_t)(int16_t)lrintf(v[i] * 32768.0f), 2);
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    tmpdir_write(path, b, 44 + 2 * n);
    free(b);
}

/* ------------------------------------------------------------ tests */

static void test_registered(void)
{
    static const char *const names[] = { "time_shift", "background_noise",
                                         "dynamic_range_compression", "time_mask",
                                         "freq_mask", "time_stretch", "pitch_shift" };
    int n = 5;
#ifdef AUDIO_RUBBERBAND
    n = 7;
#endif
    for (int i = 0; i < n; i++) {
        const dlh_component *c = dlh_registry_find(DLH_KIND_AUGMENTER, names[i]);
        const dlh_augmenter_ops *ops = c ? c->ops : NULL;
        ok(ops && ops->create_ex && ops->apply, "%s is registered with create_ex", names[i]);
    }
}

static void test_time_shift(void)
{
    enum { T = 100, B = 24 };
    static float x0[B * T], x[B * T];
    for (int i = 0; i < B * T; i++)
        x0[i] = (float)(i % T + 1) + (float)(i / T) * 1000.0f;
    uint64_t s[B];
    streams_from(s, B, 3);
    aug a;
    int rc = aug_new("time_shift", "fraction = 0.5;", shape_of(2, 1, T, 0), &a);
    ok(rc == 0, "time_shift roll, fraction 0.5: created (%s)", dlh_error_get());
    if (rc == 0) {
        memcpy(x, x0, sizeof x);
        rc = aug_run(&a, s, B, x);
        int good = rc == 0, moved = 0;
        for (int i = 0; i < B && good; i++) {
            int64_t k = draw_int(s[i], 1, -50, 50);
            moved += k != 0;
            for (int t = 0; t < T; t++)
                good &= x[i * T + t] == x0[i * T + (int)(((t - k) % T + T) % T)];
        }
        ok(good && moved > B / 2, "roll: y[t] = x[(t - s) mod T], s = int(1, -50, 50)");
        check_split(&a, x0, B, T, "time_shift roll");
        aug_free(&a);
    }
    rc = aug_new("time_shift", "mode = \"zero\"; max_seconds = 0.01; rate = 1000; p = 0.5;",
                 shape_of(1, T, 0, 0), &a);
    ok(rc == 0, "time_shift zero, max_seconds 0.01 at 1000 Hz, p 0.5: created (%s)",
       dlh_error_get());
    if (rc == 0) {
        memcpy(x, x0, sizeof x);
        rc = aug_run(&a, s, B, x);
        int good = rc == 0, kept = 0;
        for (int i = 0; i < B && good; i++) {
            int apply = draw_u(s[i], 0) < 0.5;
            int64_t k = apply ? draw_int(s[i], 1, -10, 10) : 0;
            kept += !apply;
            for (int t = 0; t < T; t++) {
                int64_t from = t - k;
                float want = from >= 0 && from < T ? x0[i * T + from] : 0.0f;
                good &= x[i * T + t] == want;
            }
        }
        ok(good && kept > 0 && kept < B, "zero fill: y[t] = x[t - s] or 0, s = int(1, -10, "
           "10), only where u(0) < p (%d of %d kept)", kept, B);
        aug_free(&a);
    }
    bad("time_shift", "", shape_of(2, 1, T, 0), "give either fraction");
    bad("time_shift", "fraction = 0.1; max_seconds = 1.0; rate = 100;", shape_of(2, 1, T, 0),
        "not both");
    bad("time_shift", "max_seconds = 1.0;", shape_of(2, 1, T, 0), "'rate'");
    bad("time_shift", "fraction = 0.1;", shape_of(3, 1, 4, 4),
        "needs 1-D signals (1, T) or (T); the data's samples are [1, 4, 4]");
    bad("time_shift", "fraction = 0.1;", shape_of(2, 2, T, 0), "needs 1-D signals");
}

static double rms_of(const double *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += v[i] * v[i];
    return sqrt(s / n);
}

static void test_background_noise(void)
{
    enum { T = 200, B = 32, LA = 300, LB = 50 };
    char folder[4300];
    snprintf(folder, sizeof folder, "%s/noise", dir);
    mkdir(folder, 0700);
    static float na[LA], nb[LB];
    for (int i = 0; i < LA; i++)
        na[i] = (float)((i * 37 % 101) - 50) / 32768.0f * 64.0f;
    for (int i = 0; i < LB; i++)
        nb[i] = (float)((i * 13 % 29) - 14) / 32768.0f * 128.0f;
    write_wav(folder, "a.wav", 8000, na, LA);
    write_wav(folder, "b.WAV", 8000, nb, LB);
    tmpdir_put(folder, "readme.txt", "not noise\n");
    static float x0[B * T], x[B * T];
    for (int i = 0; i < B * T; i++)
        x0[i] = (float)(0.3 * sin(0.05 * (i % T) + i / T));
    for (int t = 0; t < T; t++)
        x0[5 * T + t] = 0.0f;       /* a silent sample stays silent */
    uint64_t s[B];
    streams_from(s, B, 5);
    char body[4600];
    snprintf(body, sizeof body, "path = \"%s\"; rate = 8000; min_snr_db = 0.0; "
             "max_snr_db = 20.0;", folder);
    aug a;
    int rc = aug_new("background_noise", body, shape_of(2, 1, T, 0), &a);
    ok(rc == 0, "background_noise: created over 2 noise files (%s)", dlh_error_get());
    if (rc == 0) {
        memcpy(x, x0, sizeof x);
        rc = aug_run(&a, s, B, x);
        double worst = 0, worst_snr = 0;
        int files[2] = { 0, 0 }, silent_ok = 1;
        for (int i = 0; i < B && rc == 0; i++) {
            int64_t f = draw_int(s[i], 1, 0, 1);
            const float *nz = f ? nb : na;
            int64_t len = f ? LB : LA;
            int64_t off = draw_int(s[i], 2, 0, len >= T ? len - T : len - 1);
            double snr = 20.0 * draw_u(s[i], 3);
            double seg[T], sig[T], added[T];
            for (int t = 0; t < T; t++) {
                seg[t] = nz[(off + t) % len];
                sig[t] = x0[i * T + t];
            }
            if (i == 5) {
                silent_ok = memcmp(x + i * T, x0 + i * T, T * sizeof *x) == 0;
                continue;
            }
            files[f]++;
            double g = rms_of(sig, T) / rms_of(seg, T) / pow(10.0, snr / 20.0);
            for (int t = 0; t < T; t++) {
                double want = (double)(float)(sig[t] + g * seg[t]);
                if (fabs(x[i * T + t] - want) > worst)
                    worst = fabs(x[i * T + t] - want);
                added[t] = (double)x[i * T + t] - sig[t];
            }
            double got_snr = 20.0 * log10(rms_of(sig, T) / rms_of(added, T));
            if (fabs(got_snr - snr) > worst_snr)
                worst_snr = fabs(got_snr - snr);
        }
        ok(rc == 0 && worst == 0.0 && files[0] && files[1],
           "x + n rms(x) / rms(n) / 10^(snr/20) with file int(1), offset int(2) (looped "
           "for the short file), snr uniform(3, 0, 20) (worst %.3g; files %d and %d)", worst,
           files[0], files[1]);
        ok(worst_snr < 0.01, "the mixed noise lies at the drawn SNR (worst %.3g dB)",
           worst_snr);
        ok(silent_ok, "a silent sample stays silent");
        check_split(&a, x0, B, T, "background_noise");
        aug_free(&a);
    }
    bad("background_noise", "path = \"nothere\"; rate = 8000;", shape_of(1, T, 0, 0),
        "parameter 'path': no such folder");
    snprintf(body, sizeof body, "path = \"%s\";", folder);
    bad("background_noise", body, shape_of(1, T, 0, 0), "'rate'");
    snprintf(body, sizeof body, "path = \"%s\"; rate = 8000; min_snr_db = 10.0; "
             "max_snr_db = 5.0;", folder);
    bad("background_noise", body, shape_of(1, T, 0, 0), "must be at least min_snr_db");
    char empty[4400];
    snprintf(empty, sizeof empty, "%s/empty", folder);
    mkdir(empty, 0700);
    snprintf(body, sizeof body, "path = \"%s\"; rate = 8000;", empty);
    bad("background_noise", body, shape_of(1, T, 0, 0), "no .wav, .flac or .ogg files");
}

static void test_compression(void)
{
    enum { T = 16000 };
    static float x0[T], x[T];
    uint64_t s = 77;
    aug a;
    /* below threshold: make-up gain only */
    for (int i = 0; i < T; i++)
        x0[i] = (float)(0.05 * sin(2 * M_PI * 440.0 * i / 16000.0));
    int rc = aug_new("dynamic_range_compression", "threshold_db = -20.0; ratio = 4.0; "
                     "makeup_db = 6.0; rate = 16000;", shape_of(2, 1, T, 0), &a);
    ok(rc == 0, "compressor: created (%s)", dlh_error_get());
    if (rc == 0) {
        memcpy(x, x0, sizeof x);
        rc = aug_run(&a, &s, 1, x);
        int same = rc == 0;
        for (int i = 0; i < T; i++)
            same &= x[i] == (float)((double)x0[i] * pow(10.0, 6.0 / 20.0));
        ok(same, "a tone at -26 dB, threshold -20 dB: only the 6 dB make-up gain");
        aug_free(&a);
    }
    /* a square wave above threshold settles to the static curve */
    for (int i = 0; i < T; i++)
        x0[i] = (i / 20) % 2 ? 0.5f : -0.5f;
    double level = 20.0 * log10(0.5);
    rc = aug_new("dynamic_range_compression", "threshold_db = [-30.0, -10.0]; ratio = "
                 "[2.0, 8.0]; attack_ms = 1.0; release_ms = 100.0; rate = 16000;",
                 shape_of(1, T, 0, 0), &a);
    ok(rc == 0, "compressor with drawn threshold and ratio: created (%s)", dlh_error_get());
    if (rc == 0) {
        for (uint64_t k = 0; k < 4; k++) {
            uint64_t st = 1000 + k;
            memcpy(x, x0, sizeof x);
            rc = aug_run(&a, &st, 1, x);
            double thr = -30.0 + 20.0 * draw_u(st, 1), ratio = 2.0 + 6.0 * draw_u(st, 2);
            double g = (thr - level) * (1.0 - 1.0 / ratio);
            double want = 0.5 * pow(10.0, g / 20.0), worst = 0;
            for (int i = T - 1000; i < T; i++)
                worst = fmax(worst, fabs(fabs(x[i]) - want) / want);
            ok(rc == 0 && worst < 1e-4, "square wave at %.2f dB, threshold %.2f (u(1)), "
               "ratio %.2f (u(2)): settles to gain %.3f dB (worst relative error %.2g)",
               level, thr, ratio, g, worst);
        }
        aug_free(&a);
    }
    /* a sine above threshold: the gain about the static curve's */
    for (int i = 0; i < T; i++)
        x0[i] = (float)(0.5 * sin(2 * M_PI * 440.0 * i / 16000.0));
    rc = aug_new("dynamic_range_compression", "threshold_db = -20.0; ratio = 4.0; "
                 "attack_ms = 0.0; release_ms = 500.0; rate = 16000;", shape_of(1, T, 0, 0),
                 &a);
    if (rc == 0) {
        memcpy(x, x0, sizeof x);
        rc = aug_run(&a, &s, 1, x);
        double peak = 0;
        for (int i = T - 400; i < T; i++)
            peak = fmax(peak, fabs(x[i]));
        double g = (-20.0 - level) * 0.75, got = 20.0 * log10(peak / 0.5);
        ok(rc == 0 && fabs(got - g) < 0.5, "a sine at %.2f dB: gain %.2f dB, about the "
           "static curve's %.2f dB", level, got, g);
        check_split(&a, x0, 1, T, "compressor");
        aug_free(&a);
    } else {
        ok(0, "compressor, instant attack: created (%s)", dlh_error_get());
    }
    bad("dynamic_range_compression", "threshold_db = 3.0; rate = 16000;",
        shape_of(1, 100, 0, 0), "parameter 'threshold_db': expected a number in [-120, 0]");
    bad("dynamic_range_compression", "ratio = [4.0, 2.0]; rate = 16000;",
        shape_of(1, 100, 0, 0), "min <= max");
    bad("dynamic_range_compression", "", shape_of(1, 100, 0, 0), "'rate'");
}

static void test_masks(void)
{
    enum { C = 2, F = 8, TT = 20, B = 40, N = C * F * TT };
    static float x0[B * N], x[B * N];
    for (int i = 0; i < B * N; i++)
        x0[i] = 1.0f + (float)(i % 7);
    uint64_t s[B];
    streams_from(s, B, 9);
    for (int time = 0; time < 2; time++) {
        const char *type = time ? "time_mask" : "freq_mask";
        char body[200];
        int param = time ? 7 : 5, size = time ? TT : F;
        snprintf(body, sizeof body, "%s = %d; mask_value = -3.0;",
                 time ? "time_mask_param" : "freq_mask_param", param);
        aug a;
        int rc = aug_new(type, body, shape_of(3, C, F, TT), &a);
        ok(rc == 0, "%s: created (%s)", type, dlh_error_get());
        if (rc)
            continue;
        memcpy(x, x0, sizeof x);
        rc = aug_run(&a, s, B, x);
        int good = rc == 0, widths = 0;
        for (int i = 0; i < B; i++) {
            double value = draw_u(s[i], 1) * param;
            double min_value = draw_u(s[i], 2) * (size - value);
            int start = (int)floor(min_value), end = start + (int)floor(value);
            widths |= 1 << (end - start);
            for (int e = 0; e < N; e++) {
                int at = time ? e % TT : e / TT % F;
                float want = at >= start && at < end ? -3.0f : x0[i * N + e];
                good &= x[i * N + e] == want;
            }
        }
        ok(good, "%s: torchaudio's mask_along_axis box with value u(1) param, min_value "
           "u(2) (size - value), on every channel", type);
        ok((widths & ~((1 << param) - 1)) == 0 && widths == (1 << param) - 1,
           "%s: widths 0 to %d seen, none wider (mask %#x)", type, param - 1, widths);
        check_split(&a, x0, B, N, type);
        aug_free(&a);
    }
    /* max_proportion, torchaudio's TimeMasking p */
    aug a;
    int rc = aug_new("time_mask", "time_mask_param = 20; max_proportion = 0.2;",
                     shape_of(2, F, TT, 0), &a);
    if (rc == 0) {
        int widest = 0;
        for (int i = 0; i < 200; i++) {
            uint64_t st = 5000 + (uint64_t)i;
            memcpy(x, x0, F * TT * sizeof *x);
            aug_run(&a, &st, 1, x);
            int w = 0;
            for (int t = 0; t < TT; t++)
                w += x[t] == 0.0f;
            widest = w > widest ? w : widest;
        }
        ok(widest == 3, "max_proportion 0.2 of 20 frames: widths below 4 (widest %d)", widest);
        aug_free(&a);
    } else {
        ok(0, "time_mask with max_proportion: created (%s)", dlh_error_get());
    }
    bad("time_mask", "time_mask_param = 21;", shape_of(2, F, TT, 0),
        "parameter 'time_mask_param': at most the frames (20), got 21");
    bad("freq_mask", "freq_mask_param = 9;", shape_of(3, 1, F, TT),
        "at most the frequency bins (8)");
    bad("freq_mask", "freq_mask_param = 2;", shape_of(1, 100, 0, 0),
        "needs spectrograms (C, F, T) or (F, T); the data's samples are [100]");
    bad("freq_mask", "freq_mask_param = 2; max_proportion = 0.5;", shape_of(2, F, TT, 0),
        "max_proportion");
}

#ifdef AUDIO_RUBBERBAND
/* The frequency of a tone from its zero crossings over x[a, b). */
static double tone_hz(const float *x, int a, int b, double rate)
{
    int first = -1, last = -1, n = 0;
    for (int i = a + 1; i < b; i++)
        if ((x[i - 1] < 0) != (x[i] < 0)) {
            if (first < 0)
                first = i;
            last = i;
            n++;
        }
    return n > 1 ? (n - 1) / 2.0 / ((last - first) / rate) : 0.0;
}

static void test_rubberband(void)
{
    enum { T = 16000 };
    static float x0[T], x[T];
    for (int i = 0; i < T; i++)
        x0[i] = (float)(0.5 * sin(2 * M_PI * 440.0 * i / 16000.0));
    uint64_t s = 42;
    aug a;
    static const char *const methods[] = { "stretch", "rubberband" };
    int rc;
    for (int m = 0; m < 2; m++) {
        char body[128];
        snprintf(body, sizeof body, "semitones = 12.0; rate = 16000; method = \"%s\";",
                 methods[m]);
        rc = aug_new("pitch_shift", body, shape_of(2, 1, T, 0), &a);
        ok(rc == 0, "pitch_shift, method %s: created (%s)", methods[m], dlh_error_get());
        if (rc)
            continue;
        memcpy(x, x0, sizeof x);
        rc = aug_run(&a, &s, 1, x);
        double hz = tone_hz(x, 4000, 12000, 16000.0), peak = 0;
        for (int i = 4000; i < 12000; i++)
            peak = fmax(peak, fabs(x[i]));
        ok(rc == 0 && fabs(hz - 880.0) < 880.0 * 0.02 && peak > 0.3 && peak < 0.7,
           "%s, +12 semitones: 440 Hz becomes %.1f Hz (880 within 2%%), peak %.3f (0.5)",
           methods[m], hz, peak);
        check_split(&a, x0, 1, T, "pitch_shift");
        aug_free(&a);
    }
    rc = aug_new("pitch_shift", "semitones = [-12.0, -12.0]; rate = 16000;",
                 shape_of(1, T, 0, 0), &a);
    if (rc == 0) {
        memcpy(x, x0, sizeof x);
        rc = aug_run(&a, &s, 1, x);
        double hz = tone_hz(x, 4000, 12000, 16000.0);
        ok(rc == 0 && fabs(hz - 220.0) < 220.0 * 0.02, "-12 semitones: %.1f Hz (220)", hz);
        aug_free(&a);
    } else {
        ok(0, "pitch_shift -12: created (%s)", dlh_error_get());
    }
    static const struct { const char *body; double speed; } cases[] = {
        { "speed = 0.5; rate = 16000;", 0.5 }, { "speed = 2.0; rate = 16000;", 2.0 } };
    for (int k = 0; k < 2; k++) {
        rc = aug_new("time_stretch", cases[k].body, shape_of(2, 1, T, 0), &a);
        ok(rc == 0, "time_stretch speed %.1f: created (%s)", cases[k].speed, dlh_error_get());
        if (rc)
            continue;
        memcpy(x, x0, sizeof x);
        rc = aug_run(&a, &s, 1, x);
        double hz = tone_hz(x, 2000, 6000, 16000.0), tail = 0;
        for (int i = 12000; i < T; i++)
            tail = fmax(tail, fabs(x[i]));
        int length_ok = cases[k].speed > 1 ? tail < 0.05 : tail > 0.3;
        ok(rc == 0 && fabs(hz - 440.0) < 440.0 * 0.02 && length_ok,
           "speed %.1f: the tone stays at 440 Hz (%.1f), %s (last quarter's peak %.3f)",
           cases[k].speed, hz, cases[k].speed > 1 ? "half as long, zero padded"
           : "twice as long, cut", tail);
        aug_free(&a);
    }
    bad("time_stretch", "speed = 10.0; rate = 16000;", shape_of(1, 100, 0, 0),
        "parameter 'speed': expected a number in [0.125, 8]");
    bad("pitch_shift", "semitones = 1.0;", shape_of(1, 100, 0, 0), "'rate'");
}
#endif

static void test_p_zero(void)
{
    enum { T = 64 };
    static const char *const cases[][2] = {
        { "time_shift", "fraction = 0.5; p = 0.0;" },
        { "dynamic_range_compression", "threshold_db = -60.0; rate = 8000; p = 0.0;" },
        { "time_mask", "time_mask_param = 4; p = 0.0;" },
    };
    float x0[4 * T], x[4 * T];
    for (int i = 0; i < 4 * T; i++)
        x0[i] = (float)sin(i * 0.3);
    uint64_t s[4];
    streams_from(s, 4, 1);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        aug a;
        dlh_shape shape = k == 2 ? shape_of(2, 4, T / 4, 0) : shape_of(1, T, 0, 0);
        int rc = aug_new(cases[k][0], cases[k][1], shape, &a);
        memcpy(x, x0, sizeof x);
        if (rc == 0)
            rc = aug_run(&a, s, 4, x);
        ok(rc == 0 && memcmp(x, x0, sizeof x) == 0, "%s with p = 0 changes nothing (%s)",
           cases[k][0], rc ? dlh_error_get() : "ok");
        aug_free(&a);
    }
}

int main(void)
{
#ifndef AUDIO_BUILT
    skip_all("the audio plugin is not built (configure --disable-audio, or no "
             "libsndfile or libsamplerate)");
#endif
    if (!getenv("DLHOST_PLUGIN_PATH"))
        skip_all("DLHOST_PLUGIN_PATH is not set (run through make check)");
    if (dlh_registry_load_all(0) < 0) {
        printf("Bail out! load plugins: %s\n", dlh_error_get());
        return 1;
    }
    tmpdir_make(dir, sizeof dir, NULL, "test_audio_augmenters");
    test_registered();
    test_time_shift();
    test_background_noise();
    test_compression();
    test_masks();
#ifdef AUDIO_RUBBERBAND
    test_rubberband();
#else
    skip("time_stretch and pitch_shift: configure found no Rubber Band");
#endif
    test_p_zero();
    tmpdir_remove(dir);
    dlh_registry_clear();
    return done_testing();
}
