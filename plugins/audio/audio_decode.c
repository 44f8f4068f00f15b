/* Decoding one audio file to mono at a chosen rate (audio.h).
 *
 * libsndfile reads the file (integer formats scaled to [-1, 1): 16-bit
 * values v / 32768, 8-bit (v - 128) / 128; float formats as stored); the
 * channels are mixed down to their mean, computed in double; libsamplerate
 * resamples (src_simple, end of input at the end of what was read).  Only
 * what the output needs is read: at most ceil(max_out / ratio) frames plus
 * the resampler filter's reach, in chunks into a buffer that grows as
 * frames arrive, so a header claiming any length costs no memory it does
 * not deliver.  Non-finite values (a float file's NaN, or values beyond
 * float's range) are refused.
 *
 * libsndfile picks its parser from a file's first bytes, not its name, and
 * parses some thirty formats; the readers promise WAV, FLAC and Ogg.  So
 * the first 12 bytes must be those of one of them (RIFF, RIFX or RF64 with
 * WAVE; fLaC; OggS) before libsndfile sees the file, and the format it
 * found must be WAV, WAVEX, RF64, FLAC or OGG: the other parsers, which
 * fuzzing an instrumented libsndfile 1.2.0 found integer overflows in
 * (MAT4, libsndfile issue 789), never run on untrusted files. */
#include <errno.h>
#include <math.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio.h"

/* Samples (frames x channels) read per libsndfile call: 256 kB of floats
   whatever the channel count. */
#define AUDIO_CHUNK 65536

static const int audio_converters[] = {
    [AUDIO_SRC_BEST] = SRC_SINC_BEST_QUALITY,
    [AUDIO_SRC_MEDIUM] = SRC_SINC_MEDIUM_QUALITY,
    [AUDIO_SRC_FASTEST] = SRC_SINC_FASTEST,
};

/* Input frames to read for max_out output samples at `ratio` (out / in):
   the samples themselves plus the sinc filter's half length on the input
   side (about 150 input samples at the best quality, stretched by 1 /
   ratio when downsampling), with room to spare. */
static int64_t audio_frames_needed(int64_t max_out, double ratio)
{
    double r = ratio < 1.0 ? ratio : 1.0;
    double need = ceil((double)max_out / ratio) + ceil(512.0 / r) + 16.0;
    return need > 9e18 ? INT64_MAX : (int64_t)need;
}

/* Reads up to `limit` frames of sf, mixed to mono, into *out. */
static int audio_read_mono(SNDFILE *sf, const SF_INFO *info, const char *path, int64_t limit,
                           float **out, int64_t *n)
{
    const dlh_host *host = audio_host;
    int ch = info->channels;
    int64_t step = AUDIO_CHUNK / ch;
    float *chunk = malloc((size_t)step * (size_t)ch * sizeof *chunk);
    float *buf = NULL;
    int64_t len = 0, cap = 0;
    *out = NULL;
    *n = 0;
    if (!chunk) {
        host->error("%s: out of memory", path);
        return DLH_ENOMEM;
    }
    int rc = 0;
    while (len < limit) {
        int64_t want = limit - len < step ? limit - len : step;
        sf_count_t got = sf_readf_float(sf, chunk, (sf_count_t)want);
        if (got <= 0)
            break;
        if (len + got > cap) {
            int64_t ncap = cap ? 2 * cap : 16384;
            while (ncap < len + got)
                ncap *= 2;
            if (ncap > limit)
                ncap = limit;
            float *nb = realloc(buf, (size_t)ncap * sizeof *nb);
            if (!nb) {
                host->error("%s: out of memory for %lld samples", path, (long long)ncap);
                rc = DLH_ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        for (sf_count_t f = 0; f < got; f++) {
            const float *frame = chunk + (size_t)f * (size_t)ch;
            double s = 0.0;
            for (int c = 0; c < ch; c++)
                s += frame[c];
            double v = s / ch;
            if (!isfinite(v) || fabs(v) > 3.4e38) {
                host->error("%s: sample %lld is not a finite value", path,
                            (long long)(len + f));
                rc = DLH_EDATA;
                break;
            }
            buf[len + f] = (float)v;
        }
        if (rc)
            break;
        len += got;
        if (got < want)
            break;
    }
    if (!rc && sf_error(sf) != SF_ERR_NO_ERROR) {
        host->error("%s: libsndfile: %s", path, sf_strerror(sf));
        rc = DLH_EDATA;
    }
    if (!rc && len == 0) {
        host->error("%s: no audio frames (the file holds no samples)", path);
        rc = DLH_EDATA;
    }
    free(chunk);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *n = len;
    return 0;
}

/* Decodes the opened sf: see audio_decode_fd. */
static int audio_decode_sf(SNDFILE *sf, const SF_INFO *info, const char *path,
                           const audio_spec *spec, float **out, int64_t *n_out)
{
    const dlh_host *host = audio_host;
    *out = NULL;
    *n_out = 0;
    if (info->channels < 1 || info->channels > AUDIO_MAX_CHANNELS) {
        host->error("%s: %d channels, expected 1 to %d", path, info->channels,
                    AUDIO_MAX_CHANNELS);
        return DLH_EDATA;
    }
    double ratio = (double)spec->rate / (double)info->samplerate;
    if (info->samplerate < 1 || !src_is_valid_ratio(ratio)) {
        host->error("%s: sample rate %d Hz cannot be resampled to %d Hz (libsamplerate "
                    "takes ratios from 1/256 to 256)", path, info->samplerate, spec->rate);
        return DLH_EDATA;
    }
    int same = info->samplerate == spec->rate;
    int64_t limit = same ? spec->max_out : audio_frames_needed(spec->max_out, ratio);
    float *mono;
    int64_t n;
    int rc = audio_read_mono(sf, info, path, limit, &mono, &n);
    if (rc)
        return rc;
    if (same) {
        *out = mono;
        *n_out = n;
        return 0;
    }
    double want = ceil((double)n * ratio) + 2.0;
    int64_t cap = want < (double)spec->max_out ? (int64_t)want : spec->max_out;
    float *res = malloc((size_t)cap * sizeof *res);
    if (!res) {
        free(mono);
        host->error("%s: out of memory for %lld samples", path, (long long)cap);
        return DLH_ENOMEM;
    }
    SRC_DATA d;
    memset(&d, 0, sizeof d);
    d.data_in = mono;
    d.input_frames = (long)n;
    d.data_out = res;
    d.output_frames = (long)cap;
    d.end_of_input = 1;
    d.src_ratio = ratio;
    int err = src_simple(&d, audio_converters[spec->converter], 1);
    free(mono);
    if (err) {
        free(res);
        host->error("%s: libsamplerate: %s", path, src_strerror(err));
        return DLH_EDATA;
    }
    if (d.output_frames_gen < 1) {
        free(res);
        host->error("%s: too short: %lld frames at %d Hz give no sample at %d Hz", path,
                    (long long)n, info->samplerate, spec->rate);
        return DLH_EDATA;
    }
    for (long i = 0; i < d.output_frames_gen; i++)
        if (!isfinite(res[i])) {
            free(res);
            host->error("%s: resampling gave a non-finite value at sample %ld (the file's "
                        "values are too large)", path, i);
            return DLH_EDATA;
        }
    *out = res;
    *n_out = d.output_frames_gen;
    return 0;
}

/* 0 when the 12 bytes at h (n of them there) begin a WAV, FLAC or Ogg
   file; else a message naming path and DLH_EDATA. */
static int audio_check_magic(const char *path, const unsigned char *h, size_t n)
{
    int wave = n >= 12 && memcmp(h + 8, "WAVE", 4) == 0;
    if ((wave && (memcmp(h, "RIFF", 4) == 0 || memcmp(h, "RIFX", 4) == 0 ||
                  memcmp(h, "RF64", 4) == 0)) ||
        (n >= 4 && (memcmp(h, "fLaC", 4) == 0 || memcmp(h, "OggS", 4) == 0)))
        return 0;
    if (n == 0)
        audio_host->error("%s: empty file", path);
    else
        audio_host->error("%s: not a WAV, FLAC or Ogg file (it starts %02x %02x %02x %02x; "
                          "expected RIFF....WAVE, fLaC or OggS)", path, h[0],
                          n > 1 ? h[1] : 0, n > 2 ? h[2] : 0, n > 3 ? h[3] : 0);
    return DLH_EDATA;
}

/* After sf_open: the format libsndfile found is one the magic allowed. */
static int audio_check_format(const char *path, const SF_INFO *info)
{
    switch (info->format & SF_FORMAT_TYPEMASK) {
    case SF_FORMAT_WAV: case SF_FORMAT_WAVEX: case SF_FORMAT_RF64: case SF_FORMAT_FLAC:
    case SF_FORMAT_OGG:
        return 0;
    default:
        audio_host->error("%s: libsndfile read it as format 0x%x, not WAV, FLAC or Ogg",
                          path, (unsigned)(info->format & SF_FORMAT_TYPEMASK));
        return DLH_EDATA;
    }
}

static int audio_check_spec(const char *path, const audio_spec *spec)
{
    if (spec->max_out < 1 || spec->rate < AUDIO_MIN_RATE || spec->rate > AUDIO_MAX_RATE ||
        spec->converter < AUDIO_SRC_BEST || spec->converter > AUDIO_SRC_FASTEST) {
        audio_host->error("%s: bad decoding request (rate %d, %lld samples)", path,
                          spec->rate, (long long)spec->max_out);
        return DLH_EINVAL;
    }
    return 0;
}

int audio_decode_fd(const char *path, int fd, const audio_spec *spec, float **out,
                    int64_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    int rc = audio_check_spec(path, spec);
    if (rc) {
        close(fd);
        return rc;
    }
    unsigned char h[12];
    ssize_t got = pread(fd, h, sizeof h, 0);
    if (got < 0) {
        audio_host->error("%s: read error: %s", path, strerror(errno));
        close(fd);
        return DLH_EIO;
    }
    if ((rc = audio_check_magic(path, h, (size_t)got))) {
        close(fd);
        return rc;
    }
    SF_INFO info;
    memset(&info, 0, sizeof info);
    /* close_desc 0: the descriptor is ours to close, whatever happens. */
    SNDFILE *sf = sf_open_fd(fd, SFM_READ, &info, 0);
    if (!sf) {
        audio_host->error("%s: libsndfile: %s", path, sf_strerror(NULL));
        close(fd);
        return DLH_EDATA;
    }
    rc = audio_check_format(path, &info);
    if (!rc)
        rc = audio_decode_sf(sf, &info, path, spec, out, n_out);
    sf_close(sf);
    close(fd);
    return rc;
}

/* ------------------------------------------------------------ from memory */

typedef struct audio_membuf {
    const unsigned char *data;
    sf_count_t size, pos;
} audio_membuf;

static sf_count_t audio_mem_len(void *user)
{
    return ((audio_membuf *)user)->size;
}

static sf_count_t audio_mem_seek(sf_count_t offset, int whence, void *user)
{
    audio_membuf *m = user;
    sf_count_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->size : 0;
    if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0)
        return -1;
    m->pos = base + offset;
    return m->pos;
}

static sf_count_t audio_mem_read(void *ptr, sf_count_t count, void *user)
{
    audio_membuf *m = user;
    if (count <= 0 || m->pos >= m->size)
        return 0;
    sf_count_t n = m->size - m->pos < count ? m->size - m->pos : count;
    memcpy(ptr, m->data + m->pos, (size_t)n);
    m->pos += n;
    return n;
}

static sf_count_t audio_mem_write(const void *ptr, sf_count_t count, void *user)
{
    (void)ptr, (void)count, (void)user;
    return 0;
}

static sf_count_t audio_mem_tell(void *user)
{
    return ((audio_membuf *)user)->pos;
}

int audio_decode_memory(const char *path, const void *data, size_t size,
                        const audio_spec *spec, float **out, int64_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    int rc = audio_check_spec(path, spec);
    if (rc)
        return rc;
    if ((rc = audio_check_magic(path, data, size < 12 ? size : 12)))
        return rc;
    SF_VIRTUAL_IO vio = { audio_mem_len, audio_mem_seek, audio_mem_read, audio_mem_write,
                          audio_mem_tell };
    audio_membuf m = { data, (sf_count_t)size, 0 };
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open_virtual(&vio, SFM_READ, &info, &m);
    if (!sf) {
        audio_host->error("%s: libsndfile: %s", path, sf_strerror(NULL));
        return DLH_EDATA;
    }
    rc = audio_check_format(path, &info);
    if (!rc)
        rc = audio_decode_sf(sf, &info, path, spec, out, n_out);
    sf_close(sf);
    return rc;
}
