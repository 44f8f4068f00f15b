/* `dlhost predict` and `dlhost embed`: a trained checkpoint applied to data.
 *
 * Both build the experiment, check and load the checkpoint as `dlhost eval`
 * does (eval.h; normalisation statistics from the checkpoint, never
 * recomputed) and run the model in evaluation mode over the data in batches
 * of train.batch_size (`batch` > 0: of batch).  Data without labels is read
 * whatever data.train's labels are (DLH_EXP_UNLABELLED_TEST).  The data is DATA (`input`, read by data.train's
 * reader with its file replaced, dlh_predict_input) or the experiment's own
 * data.  Samples are read a chunk of indices at a time and every batch is
 * written out before the next is read: predict and embed hold a fixed
 * amount of memory whatever the number of samples (the reader's own
 * holding aside: see README).  Output is atomic (a temporary file in the
 * target's folder renamed over it at the end) or stdout for "-". */
#ifndef DLHOST_CORE_PREDICT_H
#define DLHOST_CORE_PREDICT_H

#include <stdint.h>
#include <stdio.h>

#include "params.h"

/* Makes data.test of cfg read `input` (taken relative to the current
   folder): a group of reader `reader` (NULL: data.train's, or imagefolder
   for a PNG or JPEG file) whose parameters are data.test's where that
   group has this reader, else data.train's (only those the reader declares
   when data.train has another), its file parameter ("path" for csv,
   imagefolder and .npz, "images" for idx, "x" for .npy files) set to
   input; labels "labels" and "y", `limit` and `weights` dropped; a .npy x
   and a CSV with one field per feature (data.train's fields less its label
   and weight columns) read without labels; `stream = true` for csv, npy and
   idx.  Plugins must be loaded.  DLH_ECONFIG when input does not exist,
   the reader is unknown or data.train has no file parameter. */
int dlh_predict_input(dlh_config *cfg, const char *input, const char *reader);

/* `dlhost predict`: per sample of data.test (after dlh_predict_input) a CSV
   row "index,class[,name],prob[,class_2[,name_2],prob_2...]" (top k classes
   by probability, k <= classes; the probabilities as the loss reads the
   output) or, for a model without class targets, "index,output_0,..." to
   `out` ("-": stdout).  A summary line to msg. */
int dlh_predict(dlh_config *cfg, const char *backend, const char *weights, const char *out,
                int top, int64_t batch, FILE *msg);

/* `dlhost embed`: the output of layer `layer`, flattened per sample, for
   every sample of data.test (else data.train) as a float32 .npy (N, D) into
   `out`, and the labels alongside (out without ".npy", then "_labels.npy":
   int64 class labels (N,), float32 dense labels (N, ...)) when the data has
   them.  An unknown layer is DLH_ECONFIG naming the closest one. */
int dlh_embed(dlh_config *cfg, const char *backend, const char *weights, const char *layer,
              const char *out, int64_t batch, FILE *msg);

#endif
