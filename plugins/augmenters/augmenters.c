/* Entry point of the "augmenters" plugin, and the draws and parameter
 * helpers its augmenters share. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augmenters.h"

const dlh_host *augmenters_host;

/* ------------------------------------------------------------ apply */

float *augment_scratch(const char *name, float *stack, int64_t n)
{
    if (n <= AUGMENT_STACK)
        return stack;
    float *buf = malloc((size_t)n * sizeof *buf);
    if (!buf)
        augmenters_host->error("%s: out of memory for %lld values of scratch", name,
                               (long long)n);
    return buf;
}

void augment_scratch_free(float *buf, const float *stack)
{
    if (buf != stack)
        free(buf);
}

/* Where position i of a padded line of n values comes from: an index in
   [0, n), or -1 for the fill. */
static int64_t augment_pad_source(int mode, int64_t i, int64_t n)
{
    if (i >= 0 && i < n)
        return i;
    switch (mode) {
    case AUGMENT_PAD_EDGE: return i < 0 ? 0 : n - 1;
    case AUGMENT_PAD_REFLECT: return i < 0 ? -i : 2 * (n - 1) - i;
    case AUGMENT_PAD_SYMMETRIC: return i < 0 ? -i - 1 : 2 * n - 1 - i;
    default: return -1;
    }
}

/* Line v[0], v[stride], ... of n values becomes the padded line's values
   from position `from` on. */
static void augment_shift_line(float *v, int64_t stride, int64_t n, int64_t from, int mode,
                               float fill, float *buf)
{
    for (int64_t k = 0; k < n; k++)
        buf[k] = v[k * stride];
    for (int64_t k = 0; k < n; k++) {
        int64_t s = augment_pad_source(mode, from + k, n);
        v[k * stride] = s < 0 ? fill : buf[s];
    }
}

void augment_shift_plane(float *v, int64_t h, int64_t w, int64_t y0, int64_t x0, int mode,
                         float fill, float *buf)
{
    /* Padding is separable: corners are the padding of the padding. */
    if (x0 != 0)
        for (int64_t r = 0; r < h; r++)
            augment_shift_line(v + r * w, 1, w, x0, mode, fill, buf);
    if (y0 != 0)
        for (int64_t q = 0; q < w; q++)
            augment_shift_line(v + q, w, h, y0, mode, fill, buf);
}

void augment_inverse_affine(double angle, double tx, double ty, double scale, double shx,
                            double shy, double m[6])
{
    const double deg = 3.14159265358979323846 / 180.0;
    double rot = angle * deg, sx = shx * deg, sy = shy * deg;
    double a = cos(rot - sy) / cos(sy);
    double b = -cos(rot - sy) * tan(sx) / cos(sy) - sin(rot);
    double c = sin(rot - sy) / cos(sy);
    double d = -sin(rot - sy) * tan(sx) / cos(sy) + cos(rot);
    /* The inverse of the rotation-shear (determinant 1) over the scale, then
       the inverse translation; the centre is the origin. */
    m[0] = d / scale;
    m[1] = -b / scale;
    m[3] = -c / scale;
    m[4] = a / scale;
    m[2] = m[0] * -tx + m[1] * -ty;
    m[5] = m[3] * -tx + m[4] * -ty;
}

void augment_warp(float *v, int64_t c, int64_t h, int64_t w, const double m[6], int bilinear,
                  const float *fill, float *plane)
{
    int64_t n = h * w;
    double cx = (double)(w - 1) / 2.0, cy = (double)(h - 1) / 2.0;
    for (int64_t ch = 0; ch < c; ch++) {
        float *p = v + ch * n;
        float f = fill[ch < AUGMENT_MAX_CHANNELS ? ch : 0];
        memcpy(plane, p, (size_t)n * sizeof *plane);
        for (int64_t y = 0; y < h; y++) {
            double Y = (double)y - (double)h / 2.0 + 0.5;
            for (int64_t x = 0; x < w; x++) {
                double X = (double)x - (double)w / 2.0 + 0.5;
                double sx = m[0] * X + m[1] * Y + m[2] + cx;
                double sy = m[3] * X + m[4] * Y + m[5] + cy;
                float out;
                if (!bilinear) {
                    double rx = nearbyint(sx), ry = nearbyint(sy);
                    int in = rx >= 0 && rx < (double)w && ry >= 0 && ry < (double)h;
                    out = in ? plane[(int64_t)ry * w + (int64_t)rx] : f;
                } else {
                    double fx = floor(sx), fy = floor(sy);
                    double lx = sx - fx, ly = sy - fy, val = 0.0, mask = 0.0;
                    for (int k = 0; k < 4; k++) {
                        double qx = fx + (k & 1), qy = fy + (k >> 1);
                        double wt = ((k & 1) ? lx : 1.0 - lx) * ((k >> 1) ? ly : 1.0 - ly);
                        if (qx >= 0 && qx < (double)w && qy >= 0 && qy < (double)h) {
                            val += wt * plane[(int64_t)qy * w + (int64_t)qx];
                            mask += wt;
                        }
                    }
                    out = (float)(val * mask + (1.0 - mask) * f);
                }
                p[y * w + x] = out;
            }
        }
    }
}

void augment_resize_region(float *v, int64_t c, int64_t h, int64_t w, int64_t i, int64_t j,
                           int64_t rh, int64_t rw, float *plane)
{
    int64_t n = h * w;
    double scale_y = (double)rh / (double)h, scale_x = (double)rw / (double)w;
    for (int64_t ch = 0; ch < c; ch++) {
        float *p = v + ch * n;
        memcpy(plane, p, (size_t)n * sizeof *plane);
        for (int64_t y = 0; y < h; y++) {
            double sy = ((double)y + 0.5) * scale_y - 0.5;
            sy = sy < 0.0 ? 0.0 : sy;
            int64_t y0 = (int64_t)sy, y1 = y0 + (y0 < rh - 1);
            double ly = sy - (double)y0;
            for (int64_t x = 0; x < w; x++) {
                double sx = ((double)x + 0.5) * scale_x - 0.5;
                sx = sx < 0.0 ? 0.0 : sx;
                int64_t x0 = (int64_t)sx, x1 = x0 + (x0 < rw - 1);
                double lx = sx - (double)x0;
                const float *r0 = plane + (i + y0) * w + j, *r1 = plane + (i + y1) * w + j;
                p[y * w + x] = (float)((1.0 - ly) * ((1.0 - lx) * r0[x0] + lx * r0[x1]) +
                                       ly * ((1.0 - lx) * r1[x0] + lx * r1[x1]));
            }
        }
    }
}

/* ------------------------------------------------------------ create */

int augment_state_new(const dlh_host *host, const void *src, size_t size, void **state)
{
    void *st = malloc(size);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    memcpy(st, src, size);
    return 0;
}

void augment_state_free(void *state)
{
    free(state);
}

int augment_image_p_new(const dlh_host *host, dlh_params *params,
                        const dlh_augment_info *info, double def_p, void **state)
{
    augment_image_p st = { 0 };
    int rc;
    if ((rc = augment_read_p(host, params, def_p, &st.p)) < 0 ||
        (rc = augment_need_image(host, params, info, &st.c, &st.h, &st.w)) < 0)
        return rc;
    return augment_state_new(host, &st, sizeof st, state);
}

int augment_read_p(const dlh_host *host, dlh_params *p, double def, double *out)
{
    return host->param_float(p, "p", &def, 0.0, 1.0, out);
}

int augment_read_range(const dlh_host *host, dlh_params *p, const char *key, int *has,
                       double *lo, double *hi)
{
    float v[2];
    size_t n;
    int rc = host->param_floats(p, key, v, 2, &n);
    *has = 0;
    if (rc < 0)
        return rc;
    if (n == 0)
        return 0;
    if (n != 2)
        return host->param_error(p, key, "parameter '%s': expected [min, max], got one "
                                 "number", key);
    if (v[0] > v[1])
        return host->param_error(p, key, "parameter '%s': expected [min, max] with "
                                 "min <= max, got [%g, %g]", key, v[0], v[1]);
    *has = 1;
    *lo = v[0];
    *hi = v[1];
    return 0;
}

/* "[1, 28, 28]" */
static void augment_shape_format(const dlh_shape *s, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < s->ndim && i < DLH_MAX_DIMS && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%lld", i ? ", " : "",
                                (long long)s->dim[i]);
    if (len < size)
        snprintf(buf + len, size - len, "]");
}

int augment_need_image(const dlh_host *host, dlh_params *p, const dlh_augment_info *info,
                       int64_t *c, int64_t *h, int64_t *w)
{
    const dlh_shape *s = &info->sample;
    if (s->ndim != 3 || s->dim[0] < 1 || s->dim[1] < 1 || s->dim[2] < 1 ||
        s->dim[1] > INT32_MAX || s->dim[2] > INT32_MAX ||
        s->dim[0] > INT64_MAX / s->dim[1] / s->dim[2]) {
        char shape[160];
        augment_shape_format(s, shape, sizeof shape);
        return host->param_error(p, NULL, "needs images (C, H, W); the data's samples are %s",
                                 shape);
    }
    *c = s->dim[0];
    *h = s->dim[1];
    *w = s->dim[2];
    return 0;
}

int augment_numel(const dlh_host *host, dlh_params *p, const dlh_augment_info *info,
                  int64_t *numel)
{
    const dlh_shape *s = &info->sample;
    int64_t n = 1;
    int bad = s->ndim < 0 || s->ndim > DLH_MAX_DIMS;
    for (int i = 0; !bad && i < s->ndim; i++) {
        if (s->dim[i] < 1 || n > INT64_MAX / 2 / s->dim[i])
            bad = 1;
        else
            n *= s->dim[i];
    }
    if (bad) {
        char shape[160] = "(invalid)";
        if (s->ndim >= 0 && s->ndim <= DLH_MAX_DIMS)
            augment_shape_format(s, shape, sizeof shape);
        return host->param_error(p, NULL, "the data's samples have an unusable shape %s",
                                 shape);
    }
    *numel = n;
    return 0;
}

int augment_read_fill(const dlh_host *host, dlh_params *p, const char *key, double def,
                      int64_t c, float *fill)
{
    float v[AUGMENT_MAX_CHANNELS];
    size_t n;
    int rc = host->param_floats(p, key, v, AUGMENT_MAX_CHANNELS, &n);
    if (rc < 0)
        return rc;
    if (n > 1 && (int64_t)n != c)
        return host->param_error(p, key, "parameter '%s': expected one value or one per "
                                 "channel (%lld), got %zu", key, (long long)c, n);
    for (int64_t i = 0; i < c && i < AUGMENT_MAX_CHANNELS; i++)
        fill[i] = n == 0 ? (float)def : n == 1 ? v[0] : v[i];
    return 0;
}

int augment_read_degrees(const dlh_host *host, dlh_params *p, const char *key,
                         const double *def, double *lo, double *hi)
{
    float v[2];
    size_t n;
    int rc = host->param_floats(p, key, v, 2, &n);
    if (rc < 0)
        return rc;
    if (n == 0) {
        if (!def)
            return host->param_float(p, key, NULL, 0.0, HUGE_VAL, lo);  /* the message */
        *lo = def[0];
        *hi = def[1];
        return 0;
    }
    if (n == 1 && v[0] < 0.0f)
        return host->param_error(p, key, "parameter '%s': a single number must be >= 0 "
                                 "(the range is [-%s, %s]), got %g", key, key, key, v[0]);
    if (n == 2 && v[0] > v[1])
        return host->param_error(p, key, "parameter '%s': expected [min, max] with "
                                 "min <= max, got [%g, %g]", key, v[0], v[1]);
    *lo = n == 1 ? -(double)v[0] : v[0];
    *hi = n == 1 ? (double)v[0] : v[1];
    return 0;
}

int augment_read_interpolation(const dlh_host *host, dlh_params *p, int def, int *bilinear)
{
    static const char *const modes[] = { "nearest", "bilinear", NULL };
    return host->param_choice(p, "interpolation", modes, def, bilinear);
}

int augment_read_size(const dlh_host *host, dlh_params *p, int64_t h, int64_t w)
{
    float v[2];
    size_t n;
    int rc = host->param_floats(p, "size", v, 2, &n);
    if (rc < 0 || n == 0)
        return rc;
    double th = v[0], tw = v[n - 1];
    if (th != (double)h || tw != (double)w)
        return host->param_error(p, "size", "parameter 'size': the output must be the "
                                 "image's size (%lld, %lld), since the model's input shape "
                                 "is fixed; got (%g, %g)", (long long)h, (long long)w, th, tw);
    return 0;
}

/* ------------------------------------------------------------ registration */

static int augmenters_init(const dlh_host *host, dlh_registrar *reg)
{
    static const struct {
        const char *name;
        const dlh_augmenter_ops *ops;
        const char *description;
        const dlh_param_doc *params;
    } list[] = {
        { "gaussian_noise", &gaussian_noise_ops,
          "add normal noise (mean, stddev) to every value, optional clip", gaussian_noise_params },
        { "uniform_noise", &uniform_noise_ops, "add uniform noise in [low, high)",
          uniform_noise_params },
        { "salt_pepper", &salt_pepper_ops,
          "set a fraction `amount` of the values to high (salt) or low (pepper)",
          salt_pepper_params },
        { "random_scale", &random_scale_ops,
          "multiply each sample by a gain drawn in [min, max)", random_scale_params },
        { "dropout_noise", &dropout_noise_ops, "zero each value with probability rate",
          dropout_noise_params },
        { "random_hflip", &random_hflip_ops,
          "flip images left-right (torchvision RandomHorizontalFlip)", random_hflip_params },
        { "random_vflip", &random_vflip_ops,
          "flip images top-bottom (torchvision RandomVerticalFlip)", random_vflip_params },
        { "random_crop", &random_crop_ops,
          "pad, then crop back to the image size at a random place "
          "(torchvision RandomCrop)", random_crop_params },
        { "random_erasing", &random_erasing_ops,
          "erase a random rectangle (torchvision RandomErasing)", random_erasing_params },
        { "random_shift", &random_shift_ops,
          "shift images by whole pixels, filling the uncovered border", random_shift_params },
        { "random_rotation", &random_rotation_ops,
          "rotate images about their centre (torchvision RandomRotation)", random_rotation_params },
        { "random_affine", &random_affine_ops,
          "rotate, translate, scale and shear images (torchvision RandomAffine)",
          random_affine_params },
        { "random_resized_crop", &random_resized_crop_ops,
          "crop a random area and aspect, resized back to the image size "
          "(torchvision RandomResizedCrop)", random_resized_crop_params },
        { "mixup", &mixup_ops,
          "mix each sample and its label with the previous one of the batch "
          "(torchvision v2 MixUp)", mix_params },
        { "cutmix", &cutmix_ops,
          "paste a box of the previous sample of the batch, labels mixed by its area "
          "(torchvision v2 CutMix)", mix_params },
        { "color_jitter", &color_jitter_ops,
          "jitter brightness, contrast, saturation and hue of the raw pixels "
          "(torchvision ColorJitter)", color_jitter_params },
    };
    augmenters_host = host;
    augment_draws_host = host;
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
        int rc = reg->add(reg, DLH_KIND_AUGMENTER, list[i].name, list[i].ops,
                          list[i].description);
        if (rc < 0 ||
            (rc = reg->describe(reg, DLH_KIND_AUGMENTER, list[i].name, list[i].params)) < 0)
            return rc;
    }
    return 0;
}

DLH_PLUGIN("augmenters", "0.1.0",
           "data augmenters: gaussian_noise, uniform_noise, salt_pepper, random_scale, "
           "dropout_noise, random_hflip, random_vflip, random_crop, random_erasing, "
           "random_shift, random_rotation, random_affine, random_resized_crop, mixup, "
           "cutmix, color_jitter",
           "MIT", augmenters_init)
