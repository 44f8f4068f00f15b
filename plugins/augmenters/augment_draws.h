/* Draws and ctx helpers shared by the augmenter plugins (the augmenters
 * family and the audio plugin): the draw convention of augmenters.h.
 * Each plugin sets augment_draws_host in its init. */
#ifndef DLHOST_PLUGIN_AUGMENT_DRAWS_H
#define DLHOST_PLUGIN_AUGMENT_DRAWS_H

#include <stdint.h>

#include <dlhost/dlhost.h>
#include <dlhost/philox.h>

/* The host table messages go to; set by the plugin's init. */
extern const dlh_host *augment_draws_host;

/* ---- draws ---- */

/* First counter of the per-element draws; counters below it are scalar draws. */
#define AUGMENT_ELEMENT 64u

/* u(k) of the convention (augmenters.h). */
double augment_unit(uint64_t seed, uint64_t stream, uint64_t k);
/* uniform(k, a, b) in [a, b) (a == b gives a). */
double augment_uniform(uint64_t seed, uint64_t stream, uint64_t k, double a, double b);
/* int(k, lo, hi): an integer in [lo, hi], each equally likely; lo > hi gives lo. */
int64_t augment_int(uint64_t seed, uint64_t stream, uint64_t k, int64_t lo, int64_t hi);
/* bernoulli(k, p): 1 with probability p. */
int augment_bernoulli(uint64_t seed, uint64_t stream, uint64_t k, double p);
/* normal(k): a standard normal float. */
float augment_normal(uint64_t seed, uint64_t stream, uint64_t k);

/* Checks ctx before apply touches x: a non-negative batch and, for more than
   one sample, per-sample streams (ABI 1.4); sets a message naming `name`
   and returns DLH_EINVAL otherwise. */
int augment_check_ctx(const char *name, const dlh_augment_ctx *ctx, const float *x);
/* Sample i's stream: ctx->streams[i], or ctx->stream for the lone sample of a
   ctx without per-sample streams. */
uint64_t augment_stream(const dlh_augment_ctx *ctx, int64_t i);

#endif
