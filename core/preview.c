/* dlhost augment (preview.h).
 *
 * Display values: each sample's normalisation is undone (x / scale + shift),
 * then every channel maps [lo, hi] of the originals' values to 0..255, so an
 * original looks as it does in the file and an augmented one is drawn on
 * the same scale (noise beyond the range clips).  Cells are scaled up by a
 * whole factor to at least 64 pixels, nearest neighbour; pairs are 2 pixels
 * apart, rows 6, on grey.  The PNG is built in memory (libpng's simplified API) and
 * written atomically. */
#include "config.h"

#include "preview.h"

#include <float.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_LIBPNG
#include <png.h>
#endif

#include "augment.h"
#include "batcher.h"
#include "error.h"
#include "experiment.h"
#include "safetensors.h"

#define PREVIEW_PAIRS_PER_ROW 4
#define PREVIEW_MIN_CELL 64
#define PREVIEW_GAP 2
#define PREVIEW_ROW_GAP 6
#define PREVIEW_BACKGROUND 128         /* grey between the cells */

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

static int preview_png(const char *path, const unsigned char *px, uint32_t w, uint32_t h,
                       int64_t c)
{
#ifdef HAVE_LIBPNG
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = w;
    img.height = h;
    img.format = c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    png_alloc_size_t size = 0;
    if (!png_image_write_to_memory(&img, NULL, &size, 0, px, 0, NULL)) {
        dlh_error_set("%s: libpng: %s", path, img.message);
        return DLH_EIO;
    }
    void *buf = malloc(size);
    if (!buf) {
        dlh_error_set("out of memory for the PNG");
        return DLH_ENOMEM;
    }
    if (!png_image_write_to_memory(&img, buf, &size, 0, px, 0, NULL)) {
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

int dlh_preview(dlh_config *cfg, const char *backend_override, const char *out_path,
                int64_t n_samples, FILE *out)
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
    if (s->ndim != 3 || (s->dim[0] != 1 && s->dim[0] != 3)) {
        char sh[96];
        dlh_shape_format(s, sh, sizeof sh);
        dlh_error_set("%s: dlhost augment draws images (C, H, W) with C = 1 or 3; "
                      "data.train's samples are %s", dlh_config_path(cfg), sh);
        rc = DLH_ECONFIG;
        goto done;
    }
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
                                   prob ? prob : y_numel, prob, &pool)) ||
        (rc = dlh_augment_pool_run(pool, aug, y_numel ? y : NULL, n, 0, e->seed, 1)))
        goto done;
    for (int64_t i = 0; i < n; i++) {
        preview_denorm(&nm, orig + i * numel);
        preview_denorm(&nm, aug + i * numel);
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
