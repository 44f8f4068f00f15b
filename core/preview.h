/* `dlhost augment`: what the augmenters of an experiment do to its first
 * training samples, drawn as a PNG grid so a user looks before training. */
#ifndef DLHOST_CORE_PREVIEW_H
#define DLHOST_CORE_PREVIEW_H

#include <stdint.h>
#include <stdio.h>

#include "params.h"

/* Builds cfg as `dlhost check` does, reads the first n_samples samples of
   data.train, normalises them with statistics of all of data.train, applies
   data.augment as epoch 1 of a run does to the samples at positions
   0..n_samples-1, and writes a PNG into out_path: one row of pairs
   (original, augmented) after another.  Images (C, H, W) with C 1 or 3
   only.  A line saying what was written goes to `out`. */
int dlh_preview(dlh_config *cfg, const char *backend_override, const char *out_path,
                int64_t n_samples, FILE *out);

#endif
