/* Entry point of the "audio" plugin, and the file, draw and parameter
 * helpers its components share (audio.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audio.h"

const dlh_host *audio_host;

/* ------------------------------------------------------------ files */

int audio_open_regular(const char *path, int *rc)
{
    const dlh_host *host = audio_host;
    /* O_NONBLOCK: opening a FIFO without a writer would block forever. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        host->error("%s: cannot open: %s", path, strerror(errno));
        *rc = DLH_EIO;
        return -1;
    }
    struct stat st;
    int flags, ok = 0;
    if (fstat(fd, &st) != 0) {
        host->error("%s: cannot stat: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        /* A FIFO or a device (/dev/zero) would block or never end. */
        host->error("%s: not a regular file (%s)", path,
                    S_ISFIFO(st.st_mode) ? "a FIFO"
                    : S_ISCHR(st.st_mode) ? "a character device"
                    : S_ISDIR(st.st_mode) ? "a folder" : "a device or socket");
    } else if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        host->error("%s: cannot open: %s", path, strerror(errno));
    } else {
        ok = 1;
    }
    if (!ok) {
        close(fd);
        *rc = DLH_EIO;
        return -1;
    }
    *rc = 0;
    return fd;
}

int audio_is_audio_name(const char *name)
{
    static const char *const ext[] = { ".wav", ".flac", ".ogg" };
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t e = strlen(ext[i]);
        /* A bare ".wav" is a hidden file, not an audio file. */
        if (n > e && strcasecmp(name + n - e, ext[i]) == 0)
            return 1;
    }
    return 0;
}

char *audio_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    int slash = a > 0 && dir[a - 1] == '/';
    char *s = malloc(a + b + 2);
    if (!s) {
        audio_host->error("out of memory");
        return NULL;
    }
    memcpy(s, dir, a);
    if (!slash)
        s[a++] = '/';
    memcpy(s + a, name, b + 1);
    return s;
}

static int audio_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void audio_list_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int audio_list(const char *dir, int want_dirs, char ***names, size_t *n)
{
    const dlh_host *host = audio_host;
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        host->error("%s: cannot read the folder: %s", dir, strerror(errno));
        return DLH_EIO;
    }
    char **v = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        int keep;
        if (want_dirs) {
            char *full = audio_join(dir, e->d_name);
            struct stat st;
            if (!full) {
                rc = DLH_ENOMEM;
                break;
            }
            /* stat, not lstat: a class folder may be a symbolic link. */
            keep = stat(full, &st) == 0 && S_ISDIR(st.st_mode);
            free(full);
        } else {
            /* Every name that says audio is kept, whatever it is: the open
               refuses a FIFO or a folder by name. */
            keep = audio_is_audio_name(e->d_name);
        }
        if (!keep)
            continue;
        if (len == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            char **nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                host->error("%s: out of memory listing the folder", dir);
                rc = DLH_ENOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        if (!(v[len] = strdup(e->d_name))) {
            host->error("%s: out of memory listing the folder", dir);
            rc = DLH_ENOMEM;
            break;
        }
        len++;
        errno = 0;
    }
    if (!rc && errno) {
        host->error("%s: cannot read the folder: %s", dir, strerror(errno));
        rc = DLH_EIO;
    }
    closedir(d);
    if (rc) {
        audio_list_free(v, len);
        return rc;
    }
    if (len > 1)
        qsort(v, len, sizeof *v, audio_name_cmp);
    *names = v;
    *n = len;
    return 0;
}

/* ------------------------------------------------------------ parameters */

/* "[1, 16000]" */
static void audio_shape_format(const dlh_shape *s, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < s->ndim && i < DLH_MAX_DIMS && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%lld", i ? ", " : "",
                                (long long)s->dim[i]);
    if (len < size)
        snprintf(buf + len, size - len, "]");
}

int audio_need_signal(const dlh_host *host, dlh_params *p, const dlh_augment_info *info,
                      int64_t *t)
{
    const dlh_shape *s = &info->sample;
    int ok = (s->ndim == 1 && s->dim[0] >= 1) ||
             (s->ndim == 2 && s->dim[0] == 1 && s->dim[1] >= 1);
    if (!ok || s->dim[s->ndim - 1] > INT32_MAX) {
        char shape[160] = "(invalid)";
        if (s->ndim >= 0 && s->ndim <= DLH_MAX_DIMS)
            audio_shape_format(s, shape, sizeof shape);
        return host->param_error(p, NULL, "needs 1-D signals (1, T) or (T); the data's "
                                 "samples are %s", shape);
    }
    *t = s->dim[s->ndim - 1];
    return 0;
}

int audio_need_spectrogram(const dlh_host *host, dlh_params *p,
                           const dlh_augment_info *info, int64_t *c, int64_t *f, int64_t *t)
{
    const dlh_shape *s = &info->sample;
    int ok = s->ndim == 2 || s->ndim == 3;
    for (int i = 0; ok && i < s->ndim; i++)
        ok = s->dim[i] >= 1 && s->dim[i] <= INT32_MAX;
    if (ok && s->ndim == 3 && s->dim[0] > INT64_MAX / s->dim[1] / s->dim[2])
        ok = 0;
    if (!ok) {
        char shape[160] = "(invalid)";
        if (s->ndim >= 0 && s->ndim <= DLH_MAX_DIMS)
            audio_shape_format(s, shape, sizeof shape);
        return host->param_error(p, NULL, "needs spectrograms (C, F, T) or (F, T); the "
                                 "data's samples are %s", shape);
    }
    *c = s->ndim == 3 ? s->dim[0] : 1;
    *f = s->dim[s->ndim - 2];
    *t = s->dim[s->ndim - 1];
    return 0;
}

int audio_read_p(const dlh_host *host, dlh_params *p, double def, double *out)
{
    return host->param_float(p, "p", &def, 0.0, 1.0, out);
}

int audio_read_range(const dlh_host *host, dlh_params *p, const char *key,
                     const double *def, double lo, double hi, double out[2])
{
    float v[2];
    size_t n;
    int rc = host->param_floats(p, key, v, 2, &n);
    if (rc < 0)
        return rc;
    if (n == 0) {
        if (!def)   /* the message of a missing key */
            return host->param_float(p, key, NULL, lo, hi, &out[0]);
        out[0] = def[0];
        out[1] = def[1];
        return 0;
    }
    double a = v[0], b = v[n - 1];
    if (!(a >= lo && a <= hi && b >= lo && b <= hi)) {
        if (n == 1)
            return host->param_error(p, key, "parameter '%s': expected a number in [%g, %g], "
                                     "got %g", key, lo, hi, a);
        return host->param_error(p, key, "parameter '%s': expected [min, max] within [%g, "
                                 "%g], got [%g, %g]", key, lo, hi, a, b);
    }
    if (a > b)
        return host->param_error(p, key, "parameter '%s': expected [min, max] with "
                                 "min <= max, got [%g, %g]", key, a, b);
    out[0] = a;
    out[1] = b;
    return 0;
}

int audio_state_new(const dlh_host *host, const void *src, size_t size, void **state)
{
    void *s = malloc(size);
    if (!s) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    memcpy(s, src, size);
    *state = s;
    return 0;
}

void audio_state_free(void *state)
{
    free(state);
}

/* ------------------------------------------------------------ registration */

static int audio_init(const dlh_host *host, dlh_registrar *reg)
{
    static const struct {
        const char *name;
        const dlh_augmenter_ops *ops;
        const char *description;
        const dlh_param_doc *params;
    } list[] = {
        { "time_shift", &time_shift_ops,
          "shift 1-D signals in time, rolled round or zero filled",
          time_shift_params },
        { "background_noise", &background_noise_ops,
          "mix in a random stretch of a noise file at a random SNR",
          background_noise_params },
        { "dynamic_range_compression", &dynamic_range_compression_ops,
          "feed-forward compressor: envelope follower, threshold, ratio, makeup gain",
          dynamic_range_compression_params },
        { "time_mask", &time_mask_ops,
          "mask a random run of frames of a spectrogram (torchaudio TimeMasking)",
          time_mask_params },
        { "freq_mask", &freq_mask_ops,
          "mask a random band of a spectrogram (torchaudio FrequencyMasking)",
          freq_mask_params },
#ifdef HAVE_RUBBERBAND
        { "time_stretch", &time_stretch_ops,
          "change speed without changing pitch (Rubber Band), kept at the input length",
          time_stretch_params },
        { "pitch_shift", &pitch_shift_ops,
          "shift pitch by semitones without changing speed (Rubber Band)",
          pitch_shift_params },
#endif
    };
    audio_host = host;
    augment_draws_host = host;
    int rc = reg->add(reg, DLH_KIND_DATASET, "audiofolder", &audiofolder_ops,
                      "one sub-folder of WAV/FLAC/OGG files per class: waveforms or "
                      "log-mel spectrograms");
    if (rc >= 0)
        rc = reg->describe(reg, DLH_KIND_DATASET, "audiofolder", audiofolder_params);
    for (size_t i = 0; rc >= 0 && i < sizeof list / sizeof list[0]; i++)
        if ((rc = reg->add(reg, DLH_KIND_AUGMENTER, list[i].name, list[i].ops,
                           list[i].description)) >= 0)
            rc = reg->describe(reg, DLH_KIND_AUGMENTER, list[i].name, list[i].params);
    return rc < 0 ? rc : 0;
}

#ifdef HAVE_RUBBERBAND
#define AUDIO_AUGMENTERS "time_shift, background_noise, dynamic_range_compression, " \
    "time_mask, freq_mask, time_stretch, pitch_shift"
#else
#define AUDIO_AUGMENTERS "time_shift, background_noise, dynamic_range_compression, " \
    "time_mask, freq_mask"
#endif

DLH_PLUGIN("audio", "0.1.0", "audio data: the audiofolder reader; augmenters "
           AUDIO_AUGMENTERS, "MIT", audio_init)
