/* background_noise: mixes a stretch of a noise recording into 1-D signals
 * (1, T) or (T) at a random signal-to-noise ratio (audiomentations'
 * AddBackgroundNoise).
 *
 * At create, every .wav/.flac/.ogg file of the folder `path` (sorted by
 * name; names starting with '.' skipped) is decoded as audiofolder does:
 * mono, resampled to `rate` Hz (required: the augmenter learns only the
 * sample shape) with `resampler` ("medium" default), at most max_seconds
 * (default 600) of each kept; the noises live in memory until destroy
 * (4 bytes a sample: a minute at 16 kHz is 3.75 MiB).  Per sample:
 *   file   = int(1, 0, n_files - 1)
 *   offset = int(2, 0, L - T) when the file's L >= T samples, and the
 *            stretch is n[t] = noise[offset + t]; else int(2, 0, L - 1)
 *            and the file loops: n[t] = noise[(offset + t) mod L]
 *   snr    = uniform(3, min_snr_db, max_snr_db)   (defaults 3 and 30 dB)
 *   y = x + n (rms(x) / rms(n)) / 10^(snr / 20),  rms over the T samples,
 * in double, so that 20 log10(rms(x) / rms(scaled n)) = snr.  A silent
 * signal or a silent stretch leaves the sample as it is.
 * Counters: 0 apply (u(0) < p, p default 1), 1 file, 2 offset, 3 snr. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audio.h"

typedef struct background_noise_state {
    int64_t t;
    double p, snr[2];
    size_t n;                   /* noise files */
    float **noise;              /* [n], each len[i] samples */
    int64_t *len;
} background_noise_state;

static void background_noise_destroy(void *state)
{
    background_noise_state *st = state;
    if (!st)
        return;
    for (size_t i = 0; st->noise && i < st->n; i++)
        free(st->noise[i]);
    free(st->noise);
    free(st->len);
    free(st);
}

static int background_noise_create_ex(const dlh_host *host, dlh_params *params,
                                      dlh_augment_info *info, void **state)
{
    static const char *const resamplers[] = { "best", "medium", "fastest", NULL };
    static const double def_snr[2] = { 3.0, 30.0 };
    const double def_max = 600.0;
    background_noise_state *st = calloc(1, sizeof *st);
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    *state = st;
    const char *dir;
    int64_t rate;
    int resampler;
    double min_snr, max_snr, max_seconds;
    const double def_min_snr = def_snr[0], def_max_snr = def_snr[1];
    int rc;
    if ((rc = audio_need_signal(host, params, info, &st->t)) < 0 ||
        (rc = audio_read_p(host, params, 1.0, &st->p)) < 0 ||
        (rc = host->param_path(params, "path", NULL, &dir)) < 0 ||
        (rc = host->param_int(params, "rate", NULL, AUDIO_MIN_RATE, AUDIO_MAX_RATE,
                              &rate)) < 0 ||
        (rc = host->param_choice(params, "resampler", resamplers, AUDIO_SRC_MEDIUM,
                                 &resampler)) < 0 ||
        (rc = host->param_float(params, "min_snr_db", &def_min_snr, -200.0, 200.0,
                                &min_snr)) < 0 ||
        (rc = host->param_float(params, "max_snr_db", &def_max_snr, -200.0, 200.0,
                                &max_snr)) < 0 ||
        (rc = host->param_float(params, "max_seconds", &def_max, 1e-3, 86400.0,
                                &max_seconds)) < 0)
        return rc;
    if (min_snr > max_snr)
        return host->param_error(params, "max_snr_db", "parameter 'max_snr_db': must be at "
                                 "least min_snr_db (%g), got %g", min_snr, max_snr);
    st->snr[0] = min_snr;
    st->snr[1] = max_snr;
    char **names;
    size_t n;
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return host->param_error(params, "path", "parameter 'path': no such folder: '%s' "
                                 "(a folder of .wav, .flac or .ogg noise files)", dir);
    if ((rc = audio_list(dir, 0, &names, &n)) < 0)
        return rc;
    if (n == 0) {
        audio_list_free(names, n);
        return host->param_error(params, "path", "parameter 'path': no .wav, .flac or .ogg "
                                 "files in '%s'", dir);
    }
    st->noise = calloc(n, sizeof *st->noise);
    st->len = calloc(n, sizeof *st->len);
    if (!st->noise || !st->len) {
        audio_list_free(names, n);
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    st->n = n;
    int64_t cap = (int64_t)llround(max_seconds * (double)rate);
    audio_spec spec = { (int)rate, resampler, cap > 0 ? cap : 1 };
    for (size_t i = 0; i < n && !rc; i++) {
        char *path = audio_join(dir, names[i]);
        if (!path) {
            rc = DLH_ENOMEM;
            break;
        }
        int fd = audio_open_regular(path, &rc);
        if (fd >= 0)
            rc = audio_decode_fd(path, fd, &spec, &st->noise[i], &st->len[i]);
        free(path);
    }
    audio_list_free(names, n);
    return rc;
}

static double background_noise_rms(const float *v, int64_t n, int64_t len, int64_t off)
{
    double s = 0.0;
    for (int64_t t = 0, j = off; t < n; t++) {
        s += (double)v[j] * v[j];
        if (++j == len)
            j = 0;
    }
    return sqrt(s / (double)n);
}

static int background_noise_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const background_noise_state *st = state;
    int rc = augment_check_ctx("background_noise", ctx, x);
    if (rc < 0)
        return rc;
    int64_t t = st->t;
    for (int64_t i = 0; i < ctx->batch; i++) {
        uint64_t s = augment_stream(ctx, i);
        if (!(augment_unit(ctx->seed, s, 0) < st->p))
            continue;
        int64_t f = augment_int(ctx->seed, s, 1, 0, (int64_t)st->n - 1);
        const float *noise = st->noise[f];
        int64_t len = st->len[f];
        int64_t off = augment_int(ctx->seed, s, 2, 0, len >= t ? len - t : len - 1);
        double snr = augment_uniform(ctx->seed, s, 3, st->snr[0], st->snr[1]);
        float *v = x + i * t;
        double rx = background_noise_rms(v, t, t, 0);
        double rn = background_noise_rms(noise, t, len, off);
        if (!(rx > 0.0) || !(rn > 0.0))
            continue;
        double g = rx / rn / pow(10.0, snr / 20.0);
        for (int64_t k = 0, j = off; k < t; k++) {
            v[k] = (float)((double)v[k] + g * noise[j]);
            if (++j == len)
                j = 0;
        }
    }
    return 0;
}

const dlh_augmenter_ops background_noise_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = background_noise_apply,
    .destroy = background_noise_destroy,
    .create_ex = background_noise_create_ex,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc background_noise_params[] = {
    AUDIO_P_DOC,
    { "path", DLH_PARAM_PATH, NULL, 0, 0, NULL, "folder of noise files (WAV, FLAC, OGG)" },
    { "rate", DLH_PARAM_INT, NULL, AUDIO_MIN_RATE, AUDIO_MAX_RATE, NULL, "the data's sample rate in Hz; the noise is resampled to it" },
    { "resampler", DLH_PARAM_CHOICE, "medium", 0, 0, "best|medium|fastest", "libsamplerate converter for files at another rate" },
    { "min_snr_db", DLH_PARAM_FLOAT, "3", -200.0, 200.0, NULL, "lowest signal-to-noise ratio in dB" },
    { "max_snr_db", DLH_PARAM_FLOAT, "30", -200.0, 200.0, NULL, "highest signal-to-noise ratio in dB, >= min_snr_db" },
    { "max_seconds", DLH_PARAM_FLOAT, "600", 1e-3, 86400.0, NULL, "seconds of each noise file loaded at most" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
