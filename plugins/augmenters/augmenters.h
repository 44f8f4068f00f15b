/* The "augmenters" plugin family: gaussian_noise, uniform_noise, salt_pepper,
 * random_scale, dropout_noise (any sample shape) and random_hflip,
 * random_vflip, random_crop, random_erasing (images (C, H, W), following the
 * torchvision.transforms of the same names).
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

/* ---- draws (augmenters.c) ---- */

/* First counter of the per-element draws; counters below it are scalar draws. */
#define AUGMENT_ELEMENT 64u

/* u(k) of the convention above. */
double augment_unit(uint64_t seed, uint64_t stream, uint64_t k);
/* uniform(k, a, b) in [a, b) (a == b gives a). */
double augment_uniform(uint64_t seed, uint64_t stream, uint64_t k, double a, double b);
/* int(k, lo, hi): an integer in [lo, hi], each equally likely; lo > hi gives lo. */
int64_t augment_int(uint64_t seed, uint64_t stream, uint64_t k, int64_t lo, int64_t hi);
/* bernoulli(k, p): 1 with probability p. */
int augment_bernoulli(uint64_t seed, uint64_t stream, uint64_t k, double p);
/* normal(k): a standard normal float. */
float augment_normal(uint64_t seed, uint64_t stream, uint64_t k);

/* ---- apply ---- */

/* Checks ctx before apply touches x: a non-negative batch and, for more than
   one sample, per-sample streams (ABI 1.4); sets a message naming `name`
   and returns DLH_EINVAL otherwise. */
int augment_check_ctx(const char *name, const dlh_augment_ctx *ctx, const float *x);
/* Sample i's stream: ctx->streams[i], or ctx->stream for the lone sample of a
   ctx without per-sample streams. */
uint64_t augment_stream(const dlh_augment_ctx *ctx, int64_t i);

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

#endif
