/* The "augmenters" plugin family: gaussian_noise, uniform_noise, salt_pepper,
 * random_scale, dropout_noise (any sample shape) and random_hflip,
 * random_vflip, random_crop, random_erasing, random_shift, random_rotation,
 * random_affine, random_resized_crop, color_jitter (images (C, H, W), following the
 * torchvision.transforms of the same names; the output keeps the input's
 * size), and mixup, cutmix (whole batches, labels mixed: mix.h).
 *
 * Draw convention (what tests/ref/augment_ref.py reproduces).  Sample i of a
 * call draws from the Philox stream (ctx->seed, ctx->streams[i]); counter k
 * gives four words w0..w3 (dlh_philox_words) and
 *   u(k)            = dlh_philox_unit(w0)                  in [0, 1)
 *   uniform(k, a, b) = a + (b - a) u(k)                    in double
 *   int(k, lo, hi)  = lo + min(floor(u(k) (hi - lo + 1)), hi - lo)   in double
 *   bernoulli(k, p) = u(k) < p
 *   normal(k)       = dlh_philox_normal(seed, stream, k, 0, 1)  (w0 and w1, float)
 * Counters 0 .. AUGMENT_ELEMENT - 1 are the sample's scalar draws, one draw
 * per counter; counter 0 is always the "apply" draw: the augmenter changes
 * the sample when u(0) < p (p = 1: always).  Per-element draws of element e
 * (its index in the sample, C-major) use counter AUGMENT_ELEMENT + e.  Each
 * component's file lists the counters it uses.  The draws depend only on
 * (seed, stream), so a sample's result depends neither on the batch size nor
 * on how the host splits a batch between calls or threads. */
#ifndef DLHOST_PLUGIN_AUGMENTERS_H
#define DLHOST_PLUGIN_AUGMENTERS_H

#include <stddef.h>

#include <dlhost/dlhost.h>

#include "augment_draws.h"

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *augmenters_host;

extern const dlh_augmenter_ops gaussian_noise_ops;
extern const dlh_augmenter_ops uniform_noise_ops;
extern const dlh_augmenter_ops salt_pepper_ops;
extern const dlh_augmenter_ops random_scale_ops;
extern const dlh_augmenter_ops dropout_noise_ops;
extern const dlh_augmenter_ops random_hflip_ops;
extern const dlh_augmenter_ops random_vflip_ops;
extern const dlh_augmenter_ops random_crop_ops;
extern const dlh_augmenter_ops random_erasing_ops;
extern const dlh_augmenter_ops random_shift_ops;
extern const dlh_augmenter_ops random_rotation_ops;
extern const dlh_augmenter_ops random_affine_ops;
extern const dlh_augmenter_ops random_resized_crop_ops;
extern const dlh_augmenter_ops mixup_ops;
extern const dlh_augmenter_ops cutmix_ops;
extern const dlh_augmenter_ops color_jitter_ops;

/* Parameter tables (plugin.h), in each augmenter's file (mixup's and
   cutmix's in mix.c); the entries read by the shared helpers below. */
#define AUGMENT_P_DOC(def) \
    { "p", DLH_PARAM_FLOAT, def, 0.0, 1.0, NULL, "probability of applying it to a sample" }
#define AUGMENT_FILL_DOC(key, help) \
    { key, DLH_PARAM_FLOATS, "0", 0, 0, NULL, help ": one number or one per channel" }
#define AUGMENT_INTERPOLATION_DOC \
    { "interpolation", DLH_PARAM_CHOICE, "nearest", 0, 0, "nearest|bilinear", \
      "how pixels between the grid points are read" }
#define AUGMENT_DEGREES_DOC(help) \
    { "degrees", DLH_PARAM_FLOATS, NULL, 0, 0, NULL, help }
extern const dlh_param_doc gaussian_noise_params[];
extern const dlh_param_doc uniform_noise_params[];
extern const dlh_param_doc salt_pepper_params[];
extern const dlh_param_doc random_scale_params[];
extern const dlh_param_doc dropout_noise_params[];
extern const dlh_param_doc random_hflip_params[];
extern const dlh_param_doc random_vflip_params[];
extern const dlh_param_doc random_crop_params[];
extern const dlh_param_doc random_erasing_params[];
extern const dlh_param_doc random_shift_params[];
extern const dlh_param_doc random_rotation_params[];
extern const dlh_param_doc random_affine_params[];
extern const dlh_param_doc random_resized_crop_params[];
extern const dlh_param_doc color_jitter_params[];
extern const dlh_param_doc mix_params[];

/* Scratch of n floats for one apply call: `stack` (AUGMENT_STACK floats)
   when n fits, else malloc'd; NULL with a message naming `name` when that
   fails.  Free with augment_scratch_free(buf, stack). */
#define AUGMENT_STACK 4096
float *augment_scratch(const char *name, float *stack, int64_t n);
void augment_scratch_free(float *buf, const float *stack);

/* Padding modes, torchvision's names: constant (fill), edge (the last value
   repeated), reflect (mirror without the edge value: pad < side), symmetric
   (mirror with it: pad <= side). */
enum { AUGMENT_PAD_CONSTANT, AUGMENT_PAD_EDGE, AUGMENT_PAD_REFLECT, AUGMENT_PAD_SYMMETRIC };
/* Moves plane v (h x w) in place so that v[y][x] becomes the padded plane's
   value at (y + y0, x + x0): in-image positions the original value, others
   by `mode` (constant: fill).  Rows then columns, each through buf (max(h,
   w) floats); a reflect or symmetric offset must stay within the limits
   above. */
void augment_shift_plane(float *v, int64_t h, int64_t w, int64_t y0, int64_t x0, int mode,
                         float fill, float *buf);

/* The 2 x 3 matrix of torchvision's _get_inverse_affine_matrix about the
   image's centre: output pixel offsets from the centre to input ones, for
   rotation `angle` (degrees, counter-clockwise as F.affine), translation
   (tx, ty) pixels, `scale`, shears (shx, shy) degrees. */
void augment_inverse_affine(double angle, double tx, double ty, double scale, double shx,
                            double shy, double m[6]);
/* Resamples the c planes of v (h x w) in place as torchvision's
   _apply_grid_transform with fill: output pixel (x, y) reads the input at
     sx = m0 X + m1 Y + m2 + (w - 1) / 2,  sy = m3 X + m4 Y + m5 + (h - 1) / 2,
     X = x - w / 2 + 0.5,  Y = y - h / 2 + 0.5
   (grid_sample, align_corners=False, zero padding), bilinear or nearest
   (round half to even); then, with `mask` the same sampling of an all-ones
   plane, bilinear gives value mask + (1 - mask) fill[c] and nearest gives
   fill[c] where mask < 0.5.  plane: h w floats of scratch. */
void augment_warp(float *v, int64_t c, int64_t h, int64_t w, const double m[6], int bilinear,
                  const float *fill, float *plane);
/* Resizes region (i, j, rh, rw) of each of the c planes of v (h x w) to the
   whole plane, in place, as torch's bilinear interpolate with
   align_corners=False (no antialias): source = (dst + 0.5) in/out - 0.5,
   clamped at 0.  plane: h w floats of scratch. */
void augment_resize_region(float *v, int64_t c, int64_t h, int64_t w, int64_t i, int64_t j,
                           int64_t rh, int64_t rw, float *plane);

/* ---- create ---- */

/* A state that is a copy of the `size` bytes at `src` (one malloc, freed by
   augment_state_free); sets *state, or a message and DLH_ENOMEM. */
int augment_state_new(const dlh_host *host, const void *src, size_t size, void **state);
/* The destroy slot of every augmenter whose state is one block. */
void augment_state_free(void *state);
/* Reads "p", the probability of changing a sample, in [0, 1] (default def). */
int augment_read_p(const dlh_host *host, dlh_params *p, double def, double *out);
/* Reads an optional pair `key` = [lo, hi] with lo <= hi; absent: *has = 0. */
int augment_read_range(const dlh_host *host, dlh_params *p, const char *key, int *has,
                       double *lo, double *hi);
/* Refuses, with a message at the group naming the data's shape, samples
   that are not images (C, H, W); else sets c, h, w. */
int augment_need_image(const dlh_host *host, dlh_params *p, const dlh_augment_info *info,
                       int64_t *c, int64_t *h, int64_t *w);
/* The state of an image augmenter that needs only the image's size and p
   (the flips): read p (default def_p), check the data are images, one block
   freed by augment_state_free. */
typedef struct augment_image_p {
    int64_t c, h, w;
    double p;
} augment_image_p;
int augment_image_p_new(const dlh_host *host, dlh_params *params,
                        const dlh_augment_info *info, double def_p, void **state);
/* Values per sample, or a message at the group when the shape is empty or
   its size overflows. */
int augment_numel(const dlh_host *host, dlh_params *p, const dlh_augment_info *info,
                  int64_t *numel);
/* Reads a fill value `key` for images of c channels: a number or a list of 1
   or c numbers, into fill[0..c) (absent: def for every channel).  `fill`
   holds AUGMENT_MAX_CHANNELS values; more channels than that take a
   single value only. */
#define AUGMENT_MAX_CHANNELS 16
int augment_read_fill(const dlh_host *host, dlh_params *p, const char *key, double def,
                      int64_t c, float *fill);
/* Reads a symmetric-or-explicit range `key`, torchvision's degrees: a number
   d >= 0 gives [-d, d], [min, max] needs min <= max; required when `def` is
   NULL, else def[0..2) when absent. */
int augment_read_degrees(const dlh_host *host, dlh_params *p, const char *key,
                         const double *def, double *lo, double *hi);
/* Reads "interpolation": "nearest" (0) or "bilinear" (1), default def. */
int augment_read_interpolation(const dlh_host *host, dlh_params *p, int def, int *bilinear);
/* Refuses `size` (an integer or [h, w]) other than the image's (h, w). */
int augment_read_size(const dlh_host *host, dlh_params *p, int64_t h, int64_t w);

#endif
