/* `dlhost export CFG --weights FILE --onnx model.onnx`: a trained model as an
 * ONNX model (opset 17, IR version 8; include/dlhost/onnx.h).
 *
 * The graph's input "input" [N, sample...] is the raw sample as `dlhost
 * predict` reads it: the checkpoint's normalisation (zscore, minmax, pca,
 * zca) is the graph's first nodes.  Its output "output" is the primary
 * head's raw output (logits, log-probabilities, regression values: what
 * `dlhost embed --layer HEAD` writes); with probs also "probs" [N, classes],
 * the class probabilities as the loss reads the output (dlh_output_probs:
 * softmax of logits, exp of log-probabilities, [1 - p, p] of one sigmoid
 * output), the numbers `dlhost predict` prints.  Only the layers the head
 * depends on are exported, in evaluation mode; each through its
 * dlh_layer_ops.export_onnx (ABI 1.8).  The file is written atomically. */
#ifndef DLHOST_CORE_EXPORT_H
#define DLHOST_CORE_EXPORT_H

#include <stdio.h>

#include "params.h"

/* Exports cfg with the weights of `weights` to `onnx`; a summary line to
   msg.  A layer that cannot be exported is DLH_EUNSUPPORTED naming it. */
int dlh_export_onnx(dlh_config *cfg, const char *backend, const char *weights,
                    const char *onnx, int probs, FILE *msg);

#endif
