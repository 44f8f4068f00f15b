/* The audiofolder dataset: one sub-folder of audio files per class, like
 * torchvision's ImageFolder.
 *
 *   data.train = { type = "audiofolder"; path = "train/"; rate = 16000;
 *                  seconds = 1.0; features = "logmel"; n_mels = 64; };
 *
 * Classes are the sub-folders of `path`, sorted by name (strcmp: bytes, as
 * Python's sorted on UTF-8 names); the class index is the position.  Their
 * files ending .wav, .flac or .ogg (any case) are the samples, sorted by
 * name, class by class; each must be WAV, FLAC or Ogg (Vorbis, Opus, FLAC)
 * by its content too (audio_decode.c).  Names starting with '.'
 * are skipped and class folders are not searched recursively (ImageFolder
 * does both).  A class folder without audio files, or no class folder, is
 * an error, as in ImageFolder.
 *
 * Each file is decoded to mono (the mean of its channels), resampled to
 * `rate` Hz with libsamplerate (`resampler` = "medium", the default,
 * SRC_SINC_MEDIUM_QUALITY; "best" SRC_SINC_BEST_QUALITY; "fastest"), and
 * cut or zero padded at the end to T = round(rate seconds) samples
 * (audio_decode.c).  `channels` takes only "mono".  Samples are
 *   features = "waveform" (default): shape (1, T), the samples;
 *   features = "logmel": shape (1, n_mels, frames), frames = 1 + (T + 2
 *     (n_fft / 2) - n_fft) / hop (1 + T / hop for even n_fft), torchaudio's
 *     MelSpectrogram then log(x + 1e-6) (audio_mel.c); n_fft (default 512),
 *     hop (160), n_mels (64), f_min (0), f_max (rate // 2).
 * Labels are class indices; info gives the sample rate `rate` (ABI 1.5).
 *
 * Everything is decoded at open into one float cache: n_files x numel x 4
 * bytes (1000 one-second clips at 16 kHz: 64 MB as waveforms, 25 MB as 64
 * log-mel bands with hop 160), refused before any decoding when it would
 * pass `cache_mb` (default 2048 MiB).  read is then a copy.  `threads`
 * (default: the online CPUs, at most 8) decode files at once, each holding
 * one clip, the file's decoded samples and the resampler's output while it
 * works; a failure is reported for the first failing file in order, as a
 * single thread would. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audio.h"

/* Most threads decoding at open. */
#define AUDIOFOLDER_MAX_THREADS 64

typedef struct audiofolder_state {
    char *root;                 /* for messages */
    char **classes;
    size_t n_classes;
    int64_t n, numel;
    float *x;                   /* n x numel */
    float *y;                   /* n class indices */
    dlh_shape sample;
    int64_t rate;               /* Hz of the clips (and of the spectrograms' audio) */
} audiofolder_state;

/* The logmel-only keys, refused by name with waveforms. */
static const char *const audiofolder_mel_keys[] = { "n_mels", "n_fft", "hop", "f_min",
                                                    "f_max", NULL };

/* Decoding the files at open, on `threads` threads: each takes the next
   file index; the state is written at disjoint places. */
typedef struct audiofolder_job {
    audiofolder_state *st;
    char **paths;               /* [n] */
    const audio_spec *spec;
    const audio_mel *mel;       /* NULL: waveforms */
    pthread_mutex_t lock;
    int64_t next;               /* the next index to take */
    int64_t failed_at;          /* the lowest index that failed, or n */
    int failed_rc;
} audiofolder_job;

/* Decodes file i into its place in the cache; clip: T floats, scratch:
   audio_mel_scratch doubles.  The message is the calling thread's. */
static int audiofolder_one(audiofolder_job *job, int64_t i, float *clip, double *scratch)
{
    audiofolder_state *st = job->st;
    int64_t T = job->spec->max_out, got;
    float *v;
    int rc;
    int fd = audio_open_regular(job->paths[i], &rc);
    if (fd < 0)
        return rc;
    if ((rc = audio_decode_fd(job->paths[i], fd, job->spec, &v, &got)))
        return rc;
    memcpy(clip, v, (size_t)got * sizeof *clip);
    memset(clip + got, 0, (size_t)(T - got) * sizeof *clip);
    free(v);
    float *dst = st->x + i * st->numel;
    if (job->mel)
        audio_mel_compute(job->mel, clip, dst, scratch);
    else
        memcpy(dst, clip, (size_t)T * sizeof *clip);
    return 0;
}

static void *audiofolder_worker(void *arg)
{
    audiofolder_job *job = arg;
    int64_t T = job->spec->max_out;
    float *clip = malloc((size_t)T * sizeof *clip);
    double *scratch = job->mel ? malloc(audio_mel_scratch(job->mel) * sizeof *scratch) : NULL;
    for (;;) {
        pthread_mutex_lock(&job->lock);
        int64_t i = job->next++;
        int stop = i >= job->failed_at;
        pthread_mutex_unlock(&job->lock);
        if (stop)
            break;
        int rc = !clip || (job->mel && !scratch) ? DLH_ENOMEM
                                                  : audiofolder_one(job, i, clip, scratch);
        if (rc) {
            pthread_mutex_lock(&job->lock);
            if (i < job->failed_at) {
                job->failed_at = i;
                job->failed_rc = rc;
            }
            pthread_mutex_unlock(&job->lock);
        }
    }
    free(clip);
    free(scratch);
    return NULL;
}

/* Runs the job on `threads` threads (the caller's among them).  A failure
   is reported for the lowest failing index, its message made again on this
   thread (messages are per thread). */
static int audiofolder_decode_all(audiofolder_job *job, int64_t n, int threads)
{
    const dlh_host *host = audio_host;
    pthread_t tid[AUDIOFOLDER_MAX_THREADS];
    int started = 0;
    job->next = 0;
    job->failed_at = n;
    job->failed_rc = 0;
    if (pthread_mutex_init(&job->lock, NULL) != 0) {
        host->error("%s: cannot make a mutex", job->st->root);
        return DLH_ENOMEM;
    }
    if (threads > n)
        threads = (int)n;
    for (int t = 1; t < threads; t++)
        if (pthread_create(&tid[started], NULL, audiofolder_worker, job) == 0)
            started++;
    audiofolder_worker(job);
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    pthread_mutex_destroy(&job->lock);
    if (job->failed_at >= n)
        return 0;
    int64_t T = job->spec->max_out;
    float *clip = malloc((size_t)T * sizeof *clip);
    double *scratch = job->mel ? malloc(audio_mel_scratch(job->mel) * sizeof *scratch) : NULL;
    int oom = !clip || (job->mel && !scratch);
    int rc = oom ? DLH_ENOMEM : audiofolder_one(job, job->failed_at, clip, scratch);
    free(clip);
    free(scratch);
    if (oom)
        host->error("%s: out of memory decoding", job->paths[job->failed_at]);
    else if (rc == 0)       /* it failed on its thread but not again here */
        host->error("%s: decoding failed on a loader thread (status %d)",
                    job->paths[job->failed_at], job->failed_rc);
    return rc ? rc : job->failed_rc;
}

static int audiofolder_open(const dlh_host *host, dlh_params *p, void **state)
{
    static const char *const channels_choices[] = { "mono", NULL };
    static const char *const feature_choices[] = { "waveform", "logmel", NULL };
    static const char *const resamplers[] = { "best", "medium", "fastest", NULL };
    audiofolder_state *st = calloc(1, sizeof *st);
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    *state = st;

    const char *root;
    const int64_t def_rate = 16000, def_mels = 64, def_fft = 512, def_hop = 160,
                  def_cache = 2048;
    const double def_seconds = 1.0, def_fmin = 0.0;
    int64_t rate, n_mels = 0, n_fft = 0, hop = 0, cache_mb;
    /* threads and f_max default to what the machine and rate give: no
       default in the parameter table, so read only when present. */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t threads = cpus < 1 ? 1 : cpus > 8 ? 8 : cpus;
    double seconds, f_min = 0.0, f_max = 0.0;
    int channels, features, resampler;
    int rc;
    if ((rc = host->param_path(p, "path", NULL, &root)) ||
        (rc = host->param_int(p, "rate", &def_rate, AUDIO_MIN_RATE, AUDIO_MAX_RATE, &rate)) ||
        (rc = host->param_float(p, "seconds", &def_seconds, 1e-6, 3600.0, &seconds)) ||
        (rc = host->param_choice(p, "channels", channels_choices, 0, &channels)) ||
        (rc = host->param_choice(p, "features", feature_choices, 0, &features)) ||
        (rc = host->param_choice(p, "resampler", resamplers, AUDIO_SRC_MEDIUM, &resampler)) ||
        (rc = host->param_int(p, "cache_mb", &def_cache, 1, INT64_C(1) << 30, &cache_mb)) ||
        (host->param_has(p, "threads") &&
         (rc = host->param_int(p, "threads", NULL, 1, AUDIOFOLDER_MAX_THREADS, &threads))))
        return rc;
    int64_t T = (int64_t)llround((double)rate * seconds);
    if (T < 1)
        return host->param_error(p, "seconds", "parameter 'seconds': %g s at %lld Hz is "
                                 "no sample", seconds, (long long)rate);
    if (features == 1) {
        const double nyquist = (double)rate / 2;
        f_max = (double)(rate / 2);
        if ((rc = host->param_int(p, "n_mels", &def_mels, 1, 4096, &n_mels)) ||
            (rc = host->param_int(p, "n_fft", &def_fft, 2, 65536, &n_fft)) ||
            (rc = host->param_int(p, "hop", &def_hop, 1, 65536, &hop)) ||
            (rc = host->param_float(p, "f_min", &def_fmin, 0.0, AUDIO_MAX_RATE / 2,
                                    &f_min)) ||
            (host->param_has(p, "f_max") &&
             (rc = host->param_float(p, "f_max", NULL, 0.0, AUDIO_MAX_RATE / 2, &f_max))))
            return rc;
        if (f_min > nyquist)
            return host->param_error(p, "f_min", "parameter 'f_min': expected a number in "
                                     "[0, %g] (rate / 2), got %g", nyquist, f_min);
        if (f_max > nyquist)
            return host->param_error(p, "f_max", "parameter 'f_max': expected a number in "
                                     "[0, %g] (rate / 2), got %g", nyquist, f_max);
        if (!(f_min < f_max))
            return host->param_error(p, "f_max", "parameter 'f_max': must be above f_min "
                                     "(%g), got %g", f_min, f_max);
        if (T <= n_fft / 2)
            return host->param_error(p, "n_fft", "parameter 'n_fft': the clips' %lld "
                                     "samples must be more than n_fft / 2 = %lld (reflect "
                                     "padding)", (long long)T, (long long)(n_fft / 2));
    } else {
        for (int i = 0; audiofolder_mel_keys[i]; i++)
            if (host->param_has(p, audiofolder_mel_keys[i]))
                return host->param_error(p, audiofolder_mel_keys[i], "parameter '%s': "
                                         "applies to features = \"logmel\" only",
                                         audiofolder_mel_keys[i]);
    }
    (void)channels;
    if (!(st->root = strdup(root))) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }

    struct stat sb;
    if (stat(root, &sb) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return host->param_error(p, "path", "parameter 'path': no such folder: '%s'",
                                     root);
        host->error("%s: cannot stat: %s", root, strerror(errno));
        return DLH_EIO;
    }
    if (!S_ISDIR(sb.st_mode))
        return host->param_error(p, "path", "parameter 'path': '%s' is not a folder (it "
                                 "holds one sub-folder of audio files per class)", root);
    if ((rc = audio_list(root, 1, &st->classes, &st->n_classes)))
        return rc;
    if (st->n_classes == 0) {
        host->error("%s: no class folders (audiofolder wants one sub-folder of audio files "
                    "per class)", root);
        return DLH_EDATA;
    }

    /* Every file's name first, so that an empty class fails before decoding. */
    char ***files = calloc(st->n_classes, sizeof *files);
    size_t *counts = calloc(st->n_classes, sizeof *counts);
    char **dirs = calloc(st->n_classes, sizeof *dirs);
    char **paths = NULL;
    int64_t n = 0;
    audio_mel mel;
    memset(&mel, 0, sizeof mel);
    if (!files || !counts || !dirs) {
        host->error("out of memory");
        rc = DLH_ENOMEM;
        goto out;
    }
    for (size_t c = 0; c < st->n_classes; c++) {
        if (!(dirs[c] = audio_join(root, st->classes[c]))) {
            rc = DLH_ENOMEM;
            goto out;
        }
        if ((rc = audio_list(dirs[c], 0, &files[c], &counts[c])))
            goto out;
        if (counts[c] == 0) {
            host->error("%s: no audio files (.wav, .flac or .ogg) in class folder '%s'",
                        dirs[c], st->classes[c]);
            rc = DLH_EDATA;
            goto out;
        }
        n += (int64_t)counts[c];
    }

    st->rate = rate;
    if (features == 1) {
        if ((rc = audio_mel_init(&mel, (int)rate, (int)n_fft, (int)hop, (int)n_mels, f_min,
                                 f_max, T)))
            goto out;
        st->sample.ndim = 3;
        st->sample.dim[0] = 1;
        st->sample.dim[1] = n_mels;
        st->sample.dim[2] = mel.frames;
        st->numel = n_mels * mel.frames;
    } else {
        st->sample.ndim = 2;
        st->sample.dim[0] = 1;
        st->sample.dim[1] = T;
        st->numel = T;
    }
    double mib = (double)n * (double)st->numel * 4.0 / 1048576.0;
    if (mib > (double)cache_mb) {
        rc = host->param_error(p, "cache_mb", "parameter 'cache_mb': %lld files of %lld "
                               "values take %.0f MiB decoded, over the cap of %lld MiB",
                               (long long)n, (long long)st->numel, ceil(mib),
                               (long long)cache_mb);
        goto out;
    }
    st->x = malloc((size_t)n * (size_t)st->numel * sizeof *st->x);
    st->y = malloc((size_t)n * sizeof *st->y);
    if (!st->x || !st->y) {
        host->error("%s: out of memory for %lld decoded files (%.0f MiB)", root,
                    (long long)n, ceil(mib));
        rc = DLH_ENOMEM;
        goto out;
    }
    paths = calloc((size_t)n, sizeof *paths);
    if (!paths) {
        host->error("out of memory");
        rc = DLH_ENOMEM;
        goto out;
    }
    int64_t at = 0;
    for (size_t c = 0; c < st->n_classes; c++)
        for (size_t i = 0; i < counts[c]; i++, at++) {
            if (!(paths[at] = audio_join(dirs[c], files[c][i]))) {
                rc = DLH_ENOMEM;
                goto out;
            }
            st->y[at] = (float)c;
        }
    audio_spec spec = { (int)rate, resampler, T };
    audiofolder_job job = { .st = st, .paths = paths, .spec = &spec,
                            .mel = features == 1 ? &mel : NULL };
    if ((rc = audiofolder_decode_all(&job, n, (int)threads)))
        goto out;
    st->n = n;
out:
    audio_mel_free(&mel);
    for (int64_t i = 0; paths && i < n; i++)
        free(paths[i]);
    free(paths);
    for (size_t c = 0; files && c < st->n_classes; c++)
        audio_list_free(files[c], counts ? counts[c] : 0);
    for (size_t c = 0; dirs && c < st->n_classes; c++)
        free(dirs[c]);
    free(files);
    free(counts);
    free(dirs);
    return rc;
}

static int audiofolder_info(void *state, dlh_dataset_info *info)
{
    audiofolder_state *st = state;
    info->n_samples = st->n;
    info->sample = st->sample;
    info->label_kind = DLH_LABEL_CLASS;
    info->n_classes = (int64_t)st->n_classes;
    memset(&info->label, 0, sizeof info->label);
    if (info->struct_size >= offsetof(dlh_dataset_info, sample_rate) + sizeof info->sample_rate)
        info->sample_rate = (double)st->rate;
    return 0;
}

static int audiofolder_read(void *state, const int64_t *idx, size_t n, float *x, float *y)
{
    audiofolder_state *st = state;
    for (size_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= st->n) {
            audio_host->error("%s: sample index %lld is out of range [0, %lld)", st->root,
                              (long long)idx[i], (long long)st->n);
            return DLH_EINVAL;
        }
    for (size_t i = 0; i < n; i++) {
        memcpy(x + i * (size_t)st->numel, st->x + idx[i] * st->numel,
               (size_t)st->numel * sizeof *x);
        if (y)
            y[i] = st->y[idx[i]];
    }
    return 0;
}

static const char *audiofolder_class_name(void *state, int64_t k)
{
    audiofolder_state *st = state;
    if (!st || k < 0 || (uint64_t)k >= st->n_classes)
        return NULL;
    return st->classes[k];
}

static void audiofolder_close(void *state)
{
    audiofolder_state *st = state;
    if (!st)
        return;
    audio_list_free(st->classes, st->n_classes);
    free(st->x);
    free(st->y);
    free(st->root);
    free(st);
}

const dlh_dataset_ops audiofolder_ops = {
    .struct_size = sizeof(dlh_dataset_ops),
    .open = audiofolder_open,
    .info = audiofolder_info,
    .read = audiofolder_read,
    .close = audiofolder_close,
    .class_name = audiofolder_class_name,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc audiofolder_params[] = {
    { "path", DLH_PARAM_PATH, NULL, 0, 0, NULL, "the root folder, one sub-folder of audio files per class" },
    { "rate", DLH_PARAM_INT, "16000", AUDIO_MIN_RATE, AUDIO_MAX_RATE, NULL, "sample rate in Hz every clip is resampled to" },
    { "seconds", DLH_PARAM_FLOAT, "1", 1e-6, 3600.0, NULL, "clip length in seconds: longer files are cut, shorter ones zero padded" },
    { "channels", DLH_PARAM_CHOICE, "mono", 0, 0, "mono", "channels are averaged to one" },
    { "features", DLH_PARAM_CHOICE, "waveform", 0, 0, "waveform|logmel", "samples: the waveform [1, T] or a log-mel spectrogram [1, n_mels, frames]" },
    { "resampler", DLH_PARAM_CHOICE, "medium", 0, 0, "best|medium|fastest", "libsamplerate converter for files at another rate" },
    { "cache_mb", DLH_PARAM_INT, "2048", 1, 1 << 30, NULL, "MiB of decoded clips kept in memory" },
    { "threads", DLH_PARAM_INT, "", 1, AUDIOFOLDER_MAX_THREADS, NULL, "decoding threads; unset: the CPU count, at most 8" },
    { "n_mels", DLH_PARAM_INT, "64", 1, 4096, NULL, "mel bands (logmel only)" },
    { "n_fft", DLH_PARAM_INT, "512", 2, 65536, NULL, "FFT size in samples (logmel only)" },
    { "hop", DLH_PARAM_INT, "160", 1, 65536, NULL, "samples between frames, torchaudio's hop_length (logmel only)" },
    { "f_min", DLH_PARAM_FLOAT, "0", 0.0, AUDIO_MAX_RATE / 2, NULL, "lowest mel frequency in Hz, at most rate / 2 (logmel only)" },
    { "f_max", DLH_PARAM_FLOAT, "", 0.0, AUDIO_MAX_RATE / 2, NULL, "highest mel frequency in Hz, above f_min, at most rate / 2; unset: rate / 2 (logmel only)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
