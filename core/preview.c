/* dlhost augment (preview.h).
 *
 * Display values: each sample's normalisation is undone (x / scale + shift),
 * then every channel maps [lo, hi] of the originals' values to 0..255, so an
 * original looks as it does in the file and an augmented one is drawn on
 * the same scale (noise beyond the range clips).  Cells are scaled up by a
 * whole factor to at least 64 pixels, nearest neighbour; pairs are 2 pixels
 * apart, rows 6, on grey.  The PNG is built in memory (libpng's simplified API) and
 * written atomically.
 *
 * Signals ((T) or (C, T) samples: audiofolder's waveforms) are written as
 * WAV clips instead, each built in memory through libsndfile's virtual I/O
 * (32-bit float, so the values are kept exactly, normalisation undone as
 * above; whitened ones stay whitened) and written atomically into the --out
 * folder.
 *
 * libpng and libsndfile are loaded on first use (lazy_lib.h), not linked:
 * every other command starts without them. */
#include "config.h"

#include "preview.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef HAVE_LIBPNG
#include <png.h>
#endif
#ifdef HAVE_LIBSNDFILE
#include <sndfile.h>
#endif

#include "augment.h"
#include "batcher.h"
#include "error.h"
#include "experiment.h"
#include "lazy_lib.h"
#include "safetensors.h"

#define PREVIEW_PAIRS_PER_ROW 4
#define PREVIEW_MIN_CELL 64
#define PREVIEW_GAP 2
#define PREVIEW_ROW_GAP 6
#define PREVIEW_BACKGROUND 128         /* grey between the cells */
#define PREVIEW_MAX_CHANNELS 16         /* of a signal (C, T) written as WAV */

/* Undoes normalisation of one sample in place. */
static void preview_denorm(const dlh_norm *nm, float *x)
{
    /* Whitened samples are drawn as whitened: what the model sees. */
    if (!nm || nm->kind == DLH_NORM_NONE || DLH_NORM_WHITENS(nm->kind))
        return;
    for (int64_t g = 0; g < nm->groups; g++)
        for (int64_t j = 0; j < nm->group_stride; j++) {
            float *p = &x[g * nm->group_stride + j];
            *p = *p / nm->scale[g] + nm->shift[g];
        }
}

/* The grid of (original, augmented) pairs as 8-bit grey or RGB pixels. */
static int preview_draw(const float *orig, const float *aug, int64_t n, int64_t c,
                        int64_t h, int64_t w, unsigned char **pixels, uint32_t *width,
                        uint32_t *height)
{
    int64_t numel = c * h * w, hw = h * w;
    int64_t zoom = h >= PREVIEW_MIN_CELL ? 1 : (PREVIEW_MIN_CELL + h - 1) / h;
    int64_t cw = w * zoom, ch = h * zoom;
    int64_t cols = n < PREVIEW_PAIRS_PER_ROW ? n : PREVIEW_PAIRS_PER_ROW;
    int64_t rows = (n + cols - 1) / cols;
    int64_t pw = 2 * cw + PREVIEW_GAP;                  /* one pair */
    int64_t W = cols * pw + (cols - 1) * PREVIEW_ROW_GAP;
    int64_t H = rows * ch + (rows - 1) * PREVIEW_ROW_GAP;
    if (W > 16384 || H > 16384) {
        dlh_error_set("the grid would be %" PRId64 " x %" PRId64 " pixels; ask for fewer "
                      "samples (--samples)", W, H);
        return DLH_ERANGE;
    }
    float lo[3] = { FLT_MAX, FLT_MAX, FLT_MAX }, hi[3] = { -FLT_MAX, -FLT_MAX, -FLT_MAX };
    for (int64_t s = 0; s < n; s++)
        for (int64_t k = 0; k < c; k++)
            for (int64_t i = 0; i < hw; i++) {
                float v = orig[s * numel + k * hw + i];
                lo[k] = v < lo[k] ? v : lo[k];
                hi[k] = v > hi[k] ? v : hi[k];
            }
    unsigned char *px = malloc((size_t)(W * H * c));
    if (!px) {
        dlh_error_set("out of memory for a %" PRId64 " x %" PRId64 " image", W, H);
        return DLH_ENOMEM;
    }
    memset(px, PREVIEW_BACKGROUND, (size_t)(W * H * c));
    for (int64_t s = 0; s < n; s++) {
        int64_t x0 = (s % cols) * (pw + PREVIEW_ROW_GAP), y0 = (s / cols) * (ch + PREVIEW_ROW_GAP);
        for (int half = 0; half < 2; half++) {
            const float *src = (half ? aug : orig) + s * numel;
            int64_t xo = x0 + half * (cw + PREVIEW_GAP);
            for (int64_t y = 0; y < ch; y++)
                for (int64_t x = 0; x < cw; x++)
                    for (int64_t k = 0; k < c; k++) {
                        float v = src[k * hw + (y / zoom) * w + x / zoom];
                        float span = hi[k] - lo[k];
                        float t = span > 0.0f ? (v - lo[k]) / span : 0.5f;
                        t = t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
                        px[((y0 + y) * W + xo + x) * c + k] = (unsigned char)(t * 255.0f + 0.5f);
                    }
        }
    }
    *pixels = px;
    *width = (uint32_t)W;
    *height = (uint32_t)H;
    return 0;
}

#ifdef HAVE_LIBPNG
/* libpng 1.6 (the only soname of 1.6), loaded on first use. */
static int (*p_png_image_write_to_memory)(png_imagep, void *, png_alloc_size_t *, int,
                                          const void *, png_int_32, const void *);
static const dlh_lazy_sym preview_png_syms[] = {
    { "png_image_write_to_memory", (void **)&p_png_image_write_to_memory },
};
static dlh_lazy_lib preview_libpng = { "libpng", "DLHOST_LIBPNG", "libpng16.so.16",
                                       "libpng16-16", preview_png_syms, 1, NULL, 0, "" };
#endif

static int preview_png(const char *path, const unsigned char *px, uint32_t w, uint32_t h,
                       int64_t c)
{
#ifdef HAVE_LIBPNG
    int lrc = dlh_lazy_lib_load(&preview_libpng, path);
    if (lrc != 0)
        return lrc;
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = w;
    img.height = h;
    img.format = c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    png_alloc_size_t size = 0;
    if (!p_png_image_write_to_memory(&img, NULL, &size, 0, px, 0, NULL)) {
        dlh_error_set("%s: libpng: %s", path, img.message);
        return DLH_EIO;
    }
    void *buf = malloc(size);
    if (!buf) {
        dlh_error_set("out of memory for the PNG");
        return DLH_ENOMEM;
    }
    if (!p_png_image_write_to_memory(&img, buf, &size, 0, px, 0, NULL)) {
        dlh_error_set("%s: libpng: %s", path, img.message);
        free(buf);
        return DLH_EIO;
    }
    int rc = dlh_file_write_atomic(path, buf, size);
    free(buf);
    return rc;
#else
    (void)px, (void)w, (void)h, (void)c;
    dlh_error_set("%s: this dlhost was built without libpng (apt-get install libpng-dev, "
                  "then configure again)", path);
    return DLH_EUNSUPPORTED;
#endif
}

/* ---------------------------------------------------------------- WAV clips */

/* (T) or (C, T) samples with C <= PREVIEW_MAX_CHANNELS: *channels and *frames. */
static int preview_is_signal(const dlh_shape *s, int64_t *channels, int64_t *frames)
{
    if (s->ndim == 1) {
        *channels = 1;
        *frames = s->dim[0];
        return 1;
    }
    if (s->ndim == 2 && s->dim[0] >= 1 && s->dim[0] <= PREVIEW_MAX_CHANNELS) {
        *channels = s->dim[0];
        *frames = s->dim[1];
        return 1;
    }
    return 0;
}

/* The --out folder: made when missing (not its parents); an existing one
   must be a folder. */
static int preview_folder(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0777) == 0)
        return 0;
    int e = errno;
    if (e == EEXIST && stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return 0;
        dlh_error_set("%s: --out names a file that is not a folder; dlhost augment writes "
                      "its WAV clips into a folder", dir);
        return DLH_EIO;
    }
    dlh_error_set("%s: cannot create the folder for the WAV clips: %s", dir, strerror(e));
    return DLH_EIO;
}

#ifdef HAVE_LIBSNDFILE
/* libsndfile, loaded on first use. */
static SNDFILE *(*p_sf_open_virtual)(SF_VIRTUAL_IO *, int, SF_INFO *, void *);
static const char *(*p_sf_strerror)(SNDFILE *);
static int (*p_sf_command)(SNDFILE *, int, void *, int);
static sf_count_t (*p_sf_writef_float)(SNDFILE *, const float *, sf_count_t);
static int (*p_sf_close)(SNDFILE *);
static const dlh_lazy_sym preview_sf_syms[] = {
    { "sf_open_virtual", (void **)&p_sf_open_virtual },
    { "sf_strerror", (void **)&p_sf_strerror },
    { "sf_command", (void **)&p_sf_command },
    { "sf_writef_float", (void **)&p_sf_writef_float },
    { "sf_close", (void **)&p_sf_close },
};
static dlh_lazy_lib preview_libsndfile = { "libsndfile", "DLHOST_LIBSNDFILE", "libsndfile.so.1",
                                           "libsndfile1", preview_sf_syms, 5, NULL, 0, "" };

/* A growing in-memory file for libsndfile's virtual I/O. */
typedef struct preview_mem {
    unsigned char *data;
    sf_count_t size, cap, pos;
    int failed;
} preview_mem;

static sf_count_t preview_mem_len(void *user)
{
    return ((preview_mem *)user)->size;
}

static sf_count_t preview_mem_seek(sf_count_t offset, int whence, void *user)
{
    preview_mem *m = user;
    sf_count_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->size : 0;
    if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0)
        return -1;
    m->pos = base + offset;
    return m->pos;
}

static sf_count_t preview_mem_read(void *ptr, sf_count_t count, void *user)
{
    preview_mem *m = user;
    if (count <= 0 || m->pos >= m->size)
        return 0;
    sf_count_t n = m->size - m->pos < count ? m->size - m->pos : count;
    memcpy(ptr, m->data + m->pos, (size_t)n);
    m->pos += n;
    return n;
}

static sf_count_t preview_mem_write(const void *ptr, sf_count_t count, void *user)
{
    preview_mem *m = user;
    if (count <= 0)
        return 0;
    if (m->pos > INT64_MAX / 2 - count) {
        m->failed = 1;
        return 0;
    }
    sf_count_t end = m->pos + count;
    if (end > m->cap) {
        sf_count_t cap = m->cap ? m->cap : 4096;
        while (cap < end)
            cap *= 2;
        unsigned char *d = realloc(m->data, (size_t)cap);
        if (!d) {
            m->failed = 1;
            return 0;
        }
        m->data = d;
        m->cap = cap;
    }
    if (m->pos > m->size)
        memset(m->data + m->size, 0, (size_t)(m->pos - m->size));
    memcpy(m->data + m->pos, ptr, (size_t)count);
    m->pos = end;
    if (end > m->size)
        m->size = end;
    return count;
}

static sf_count_t preview_mem_tell(void *user)
{
    return ((preview_mem *)user)->pos;
}

/* Writes `frames` frames of `channels` channels, channel-major as the
   sample holds them (C, T), as a 32-bit float WAV file at `rate` Hz.
   frame: channels floats of scratch. */
static int preview_wav(const char *path, const float *x, int64_t channels, int64_t frames,
                       double rate)
{
    SF_VIRTUAL_IO vio = { preview_mem_len, preview_mem_seek, preview_mem_read,
                          preview_mem_write, preview_mem_tell };
    preview_mem m = { 0 };
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = (int)(rate + 0.5);
    info.channels = (int)channels;
    info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE *sf = p_sf_open_virtual(&vio, SFM_WRITE, &info, &m);
    if (!sf) {
        dlh_error_set("%s: libsndfile: %s", path, p_sf_strerror(NULL));
        free(m.data);
        return DLH_EIO;
    }
    /* No PEAK chunk: it holds the time of writing, and the same command
       should write the same bytes. */
    p_sf_command(sf, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE);
    int rc = 0;
    float frame[PREVIEW_MAX_CHANNELS];
    for (int64_t t = 0; t < frames && rc == 0; t++) {
        for (int64_t c = 0; c < channels; c++)
            frame[c] = x[c * frames + t];
        if (p_sf_writef_float(sf, frame, 1) != 1 || m.failed) {
            dlh_error_set("%s: libsndfile: %s", path,
                          m.failed ? "out of memory" : p_sf_strerror(sf));
            rc = DLH_EIO;
        }
    }
    if (p_sf_close(sf) != 0 && rc == 0) {
        dlh_error_set("%s: libsndfile: cannot finish the file", path);
        rc = DLH_EIO;
    }
    if (rc == 0 && m.failed) {
        dlh_error_set("%s: out of memory", path);
        rc = DLH_ENOMEM;
    }
    if (rc == 0)
        rc = dlh_file_write_atomic(path, m.data, (size_t)m.size);
    free(m.data);
    return rc;
}
#endif

/* Sample i as dir/NNN-original.wav and dir/NNN-augmented.wav. */
static int preview_clips(const char *dir, const float *orig, const float *aug, int64_t n,
                         int64_t channels, int64_t frames, double rate)
{
#ifdef HAVE_LIBSNDFILE
    int rc = dlh_lazy_lib_load(&preview_libsndfile, dir);
    if (rc == 0)
        rc = preview_folder(dir);
    for (int64_t i = 0; i < n && rc == 0; i++) {
        for (int half = 0; half < 2 && rc == 0; half++) {
            char path[4096];
            int len = snprintf(path, sizeof path, "%s/%03" PRId64 "-%s.wav", dir, i,
                               half ? "augmented" : "original");
            if (len < 0 || (size_t)len >= sizeof path) {
                dlh_error_set("%s: the folder name is too long", dir);
                return DLH_EINVAL;
            }
            rc = preview_wav(path, (half ? aug : orig) + i * channels * frames, channels,
                             frames, rate);
        }
    }
    return rc;
#else
    (void)orig, (void)aug, (void)n, (void)channels, (void)frames, (void)rate;
    dlh_error_set("%s: this dlhost was built without libsndfile, so dlhost augment cannot "
                  "write WAV clips (apt-get install libsndfile1-dev, then configure again)",
                  dir);
    return DLH_EUNSUPPORTED;
#endif
}

int dlh_preview(dlh_config *cfg, const char *backend_override, const char *out_path,
                int64_t n_samples, double rate, FILE *out)
{
    dlh_experiment *e;
    int rc = dlh_experiment_new(cfg, backend_override, 1, &e);
    if (rc)
        return rc;
    const dlh_dataset_info *info = &e->train.info;
    const dlh_shape *s = &info->sample;
    float *orig = NULL, *aug = NULL, *y = NULL;
    int64_t *idx = NULL;
    dlh_augment_pool *pool = NULL;
    unsigned char *px = NULL;
    dlh_norm nm = { 0 };
    int64_t numel = dlh_shape_numel(s);
    if (e->n_augment == 0) {
        dlh_error_set("%s: data.augment lists no augmenter: nothing to show",
                      dlh_config_path(cfg));
        rc = DLH_ECONFIG;
        goto done;
    }
    int64_t channels = 0, frames = 0;
    int image = s->ndim == 3 && (s->dim[0] == 1 || s->dim[0] == 3);
    int signal = !image && preview_is_signal(s, &channels, &frames);
    if (signal && !(rate > 0.0))
        rate = info->struct_size >= offsetof(dlh_dataset_info, sample_rate) +
                                    sizeof info->sample_rate ? info->sample_rate : 0.0;
    if (!image && !(signal && rate > 0.0)) {
        char sh[96];
        dlh_shape_format(s, sh, sizeof sh);
        dlh_error_set("%s: dlhost augment draws images (C, H, W) with C = 1 or 3; "
                      "data.train's samples are %s%s", dlh_config_path(cfg), sh,
                      signal ? "; signals are written as WAV clips at their sample "
                               "rate, which data.train's reader does not give: add "
                               "--rate HZ" : "");
        rc = DLH_ECONFIG;
        goto done;
    }
    if (image && rate > 0.0) {
        dlh_error_set("%s: --rate is for signals written as WAV clips; data.train's "
                      "samples are images", dlh_config_path(cfg));
        rc = DLH_ECONFIG;
        goto done;
    }
    if (signal && !(rate >= 1.0 && rate <= 1e6)) {
        dlh_error_set("%s: the sample rate %g Hz cannot be written to a WAV file",
                      dlh_config_path(cfg), rate);
        rc = DLH_ERANGE;
        goto done;
    }
    if (!out_path)
        out_path = signal ? "augment" : "augment.png";
    int64_t n = n_samples < info->n_samples ? n_samples : info->n_samples;
    int64_t y_numel = info->label_kind == DLH_LABEL_CLASS ? 1
                    : info->label_kind == DLH_LABEL_DENSE ? dlh_shape_numel(&info->label)
                                                          : 0;
    int64_t prob = e->soft_labels ? e->n_classes : 0;
    orig = malloc((size_t)(n * numel) * sizeof *orig);
    aug = malloc((size_t)(n * numel) * sizeof *aug);
    y = malloc((size_t)(n * (prob ? prob : y_numel ? y_numel : 1)) * sizeof *y);
    idx = malloc((size_t)info->n_samples * sizeof *idx);
    if (!orig || !aug || !y || !idx) {
        dlh_error_set("out of memory for %" PRId64 " samples", n);
        rc = DLH_ENOMEM;
        goto done;
    }
    for (int64_t i = 0; i < info->n_samples; i++)
        idx[i] = i;
    if ((rc = dlh_norm_compute(e->normalize, e->whiten_epsilon, e->train.ops,
                               e->train.state, info, idx, info->n_samples, &nm))) {
        dlh_error_prefix("data.train: normalisation statistics: ");
        goto done;
    }
    dlh_error_clear();
    if ((rc = e->train.ops->read(e->train.state, idx, (size_t)n, orig,
                                 y_numel ? y : NULL)) != 0) {
        if (rc > 0)
            rc = DLH_EPLUGIN;
        if (!*dlh_error_get())
            dlh_error_set("reading samples failed (%s)", dlh_strerror(rc));
        dlh_error_prefix("data.train: ");
        goto done;
    }
    dlh_norm_apply(&nm, orig, n, numel, aug);      /* aug: scratch until the copy */
    memcpy(aug, orig, (size_t)(n * numel) * sizeof *aug);
    if ((rc = dlh_augment_pool_new(e->augment, e->n_augment, 1, n, numel,
                                   prob ? prob : y_numel, prob, &pool)))
        goto done;
    if (nm.kind == DLH_NORM_ZSCORE || nm.kind == DLH_NORM_MINMAX)
        dlh_augment_pool_set_norm(pool, nm.shift, nm.scale);
    if ((rc = dlh_augment_pool_run(pool, aug, y_numel ? y : NULL, n, 0, e->seed, 1)))
        goto done;
    for (int64_t i = 0; i < n; i++) {
        preview_denorm(&nm, orig + i * numel);
        preview_denorm(&nm, aug + i * numel);
    }
    if (signal) {
        if ((rc = preview_clips(out_path, orig, aug, n, channels, frames, rate)))
            goto done;
        fprintf(out, "wrote %s/: %" PRId64 " training samples as WAV clips (%g Hz, %" PRId64
                " channel%s, %" PRId64 " frames, 32-bit float), NNN-original.wav as read "
                "and NNN-augmented.wav after %d augmenter%s (epoch 1)\n", out_path, n, rate,
                channels, channels == 1 ? "" : "s", frames, e->n_augment,
                e->n_augment == 1 ? "" : "s");
        goto done;
    }
    uint32_t w, h;
    if ((rc = preview_draw(orig, aug, n, s->dim[0], s->dim[1], s->dim[2], &px, &w, &h)) ||
        (rc = preview_png(out_path, px, w, h, s->dim[0])))
        goto done;
    fprintf(out, "wrote %s: %" PRId64 " training samples, each as read and after %d "
            "augmenter%s (epoch 1)\n", out_path, n, e->n_augment, e->n_augment == 1 ? "" : "s");
done:
    free(px);
    dlh_augment_pool_free(pool);
    dlh_norm_free(&nm);
    free(idx);
    free(y);
    free(aug);
    free(orig);
    dlh_experiment_free(e);
    return rc;
}
