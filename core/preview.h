/* `dlhost augment`: what the augmenters of an experiment do to its first
 * training samples, drawn as a PNG grid (images) or written as WAV clips
 * (signals) so a user looks, or listens, before training. */
#ifndef DLHOST_CORE_PREVIEW_H
#define DLHOST_CORE_PREVIEW_H

#include <stdint.h>
#include <stdio.h>

#include "params.h"

/* Builds cfg as `dlhost check` does, reads the first n_samples samples of
   data.train, normalises them with statistics of all of data.train, applies
   data.augment as epoch 1 of a run does to the samples at positions
   0..n_samples-1, and writes, for images (C, H, W) with C 1 or 3, a PNG
   into out_path (NULL: augment.png): one row of pairs (original, augmented)
   after another; for signals, (T) or (C, T) samples with C <= 16, the
   folder out_path (NULL: augment; made when missing) of 32-bit float WAV
   files NNN-original.wav and NNN-augmented.wav (NNN the sample's position,
   from 000) at `rate` Hz, or when rate is 0 the reader's sample rate
   (dlh_dataset_info.sample_rate), normalisation undone (whitening
   excepted, as in the grid).  Other shapes, a
   signal without a rate and a rate for images are DLH_ECONFIG.  A line
   saying what was written goes to `out`. */
int dlh_preview(dlh_config *cfg, const char *backend_override, const char *out_path,
                int64_t n_samples, double rate, FILE *out);

#endif
