/* The "audio" plugin family: the audiofolder dataset reader and the audio
 * augmenters (time_shift, background_noise, dynamic_range_compression,
 * time_mask, freq_mask; time_stretch and pitch_shift with Rubber Band).
 *
 * Decoding (audio_decode.c) is libsndfile, mixed down to mono as the mean
 * of the channels, then resampled with libsamplerate; features
 * (audio_mel.c) are torchaudio's MelSpectrogram.  The augmenters draw as
 * plugins/augmenters/augmenters.h says: sample i of a call draws from
 * (ctx->seed, ctx->streams[i]); counter 0 is the apply draw (u(0) < p),
 * scalar draws use counters 1..63, per-element draws 64 + e; each file
 * lists its counters. */
#ifndef DLHOST_PLUGIN_AUDIO_H
#define DLHOST_PLUGIN_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#include <dlhost/dlhost.h>

#include "augment_draws.h"

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *audio_host;

extern const dlh_dataset_ops audiofolder_ops;
extern const dlh_augmenter_ops time_shift_ops;
extern const dlh_augmenter_ops background_noise_ops;
extern const dlh_augmenter_ops dynamic_range_compression_ops;
extern const dlh_augmenter_ops time_mask_ops;
extern const dlh_augmenter_ops freq_mask_ops;

/* Parameter tables (plugin.h), in each component's file; p, read by
   audio_read_p, is 1 for every audio augmenter. */
#define AUDIO_P_DOC \
    { "p", DLH_PARAM_FLOAT, "1", 0.0, 1.0, NULL, "probability of applying it to a sample" }
extern const dlh_param_doc audiofolder_params[];
extern const dlh_param_doc time_shift_params[];
extern const dlh_param_doc background_noise_params[];
extern const dlh_param_doc dynamic_range_compression_params[];
extern const dlh_param_doc time_mask_params[];
extern const dlh_param_doc freq_mask_params[];
#ifdef HAVE_RUBBERBAND
extern const dlh_augmenter_ops time_stretch_ops;
extern const dlh_augmenter_ops pitch_shift_ops;
extern const dlh_param_doc time_stretch_params[];
extern const dlh_param_doc pitch_shift_params[];
#endif

/* ---- files (audio.c) ---- */

/* Opens `path` read-only if it is a regular file: the descriptor, or -1
   with the message set (a FIFO or a device is refused by name, without
   blocking on it) and *rc the status. */
int audio_open_regular(const char *path, int *rc);
/* 1 when `name` ends in .wav, .flac or .ogg (any case). */
int audio_is_audio_name(const char *name);
/* The names of the entries of folder `dir` that pass `keep` (sub-folders
   when want_dirs, else audio file names; names starting with '.' are
   skipped), sorted by strcmp: *names (free each, then the array), *n.
   A folder that cannot be read: message naming it, DLH_EIO. */
int audio_list(const char *dir, int want_dirs, char ***names, size_t *n);
void audio_list_free(char **names, size_t n);
/* "dir/name", malloc'd, or NULL with a message. */
char *audio_join(const char *dir, const char *name);

/* ---- decoding (audio_decode.c) ---- */

/* Resampler choices, libsamplerate's converters. */
enum { AUDIO_SRC_BEST, AUDIO_SRC_MEDIUM, AUDIO_SRC_FASTEST };

/* Most channels a file may have (libsndfile's own limit is 1024). */
#define AUDIO_MAX_CHANNELS 1024
/* Sample rates accepted, of files and of the output. */
#define AUDIO_MIN_RATE 1000
#define AUDIO_MAX_RATE 768000

/* What a decode makes: mono at `rate` Hz with `converter`; at most
   `max_out` output samples are kept (the rest of the file is not read,
   beyond what the resampler's filter needs), so no header can size an
   allocation. */
typedef struct audio_spec {
    int rate;
    int converter;
    int64_t max_out;
} audio_spec;

/* Decodes the regular file `path` (an open descriptor fd, which it closes):
   *out (malloc'd, free it) holds *n_out samples, 1 <= *n_out <= max_out.
   Every failure sets a message starting "path: ". */
int audio_decode_fd(const char *path, int fd, const audio_spec *spec, float **out,
                    int64_t *n_out);
/* The same over the bytes data[0..size), read through libsndfile's virtual
   I/O; `path` names them in messages. */
int audio_decode_memory(const char *path, const void *data, size_t size,
                        const audio_spec *spec, float **out, int64_t *n_out);

/* ---- log-mel features (audio_mel.c) ---- */

/* torchaudio.transforms.MelSpectrogram(sample_rate, n_fft, hop_length=hop,
   n_mels, f_min, f_max, power=2, center=True, pad_mode="reflect",
   window=hann periodic, mel_scale="htk", norm=None) over `samples` samples,
   then log(x + 1e-6); built once, used read-only from any thread. */
typedef struct audio_mel {
    int n_fft, hop, n_mels, n_freqs;
    int64_t samples, frames;
    int pow2;                   /* radix-2 FFT, else mixed radix */
    int factors[64];            /* mixed radix: p1, m1, p2, m2, ... (m = 1 last) */
    double *window;             /* [n_fft] */
    double *fb;                 /* [n_mels * n_freqs]: torchaudio's fb transposed */
    int *lo, *hi;               /* [n_mels]: filter m is zero outside [lo, hi) */
    double *cos_t, *sin_t;      /* [n_fft]: cos, sin(2 pi k / n_fft) */
    int *rev;                   /* [n_fft] bit reversal (pow2) */
} audio_mel;

/* Builds the transform; a message and DLH_ENOMEM or DLH_EINVAL. */
int audio_mel_init(audio_mel *m, int rate, int n_fft, int hop, int n_mels, double f_min,
                   double f_max, int64_t samples);
void audio_mel_free(audio_mel *m);
/* Doubles of scratch audio_mel_compute needs. */
size_t audio_mel_scratch(const audio_mel *m);
/* x[samples] to out[n_mels * frames] (mel-major). */
void audio_mel_compute(const audio_mel *m, const float *x, float *out, double *scratch);

/* ---- augmenters' draws: augment_draws.h (shared with the augmenters
   family), the convention of plugins/augmenters/augmenters.h ---- */

#define AUDIO_ELEMENT AUGMENT_ELEMENT

/* ---- augmenters' parameters ---- */

/* Samples that are 1-D signals, (1, T) or (T): sets *t, else a message at
   the group naming the data's shape. */
int audio_need_signal(const dlh_host *host, dlh_params *p, const dlh_augment_info *info,
                      int64_t *t);
/* Spectrograms (C, F, T) or (F, T): sets c (1 for 2-D), f, t. */
int audio_need_spectrogram(const dlh_host *host, dlh_params *p,
                           const dlh_augment_info *info, int64_t *c, int64_t *f, int64_t *t);
/* Reads "p" in [0, 1], default def. */
int audio_read_p(const dlh_host *host, dlh_params *p, double def, double *out);
/* Reads `key` as a number v (range [v, v]) or [min, max] with min <= max,
   each within [lo, hi]; absent: def[0..2) (required when def is NULL). */
int audio_read_range(const dlh_host *host, dlh_params *p, const char *key,
                     const double *def, double lo, double hi, double out[2]);
/* A state that is a copy of `size` bytes (freed by audio_state_free). */
int audio_state_new(const dlh_host *host, const void *src, size_t size, void **state);
void audio_state_free(void *state);

#endif
