/* The "regularization" plugin family: dropout, dropout2d and alpha_dropout
 * (layers that act only in training).  One file per component; each exports its ops
 * struct for regularization.c to register. */
#ifndef DLHOST_PLUGIN_REGULARIZATION_H
#define DLHOST_PLUGIN_REGULARIZATION_H

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *regularization_host;

extern const dlh_layer_ops dropout_ops;
extern const dlh_param_doc dropout_params[];  /* plugin.h */
extern const dlh_layer_ops dropout2d_ops;
extern const dlh_param_doc dropout2d_params[];
extern const dlh_layer_ops alpha_dropout_ops;
extern const dlh_param_doc alpha_dropout_params[];

/* dst = src (n floats), unless they are the same memory: the identity of a
   dropout in evaluation. */
int regularization_copy(const dlh_backend *be, dlh_mem dst, dlh_mem src, size_t n);
/* export_onnx of every layer of the family: evaluation passes the input
   through, an Identity node. */
int regularization_export(void *state, dlh_onnx_builder *b);

/* Reads `rate` (torch's p, default 0.5) into *rate, refusing a value
   outside [0, 1] with torch's words ("dropout probability has to be between
   0 and 1, but got 1.5"); 0 or DLH_ECONFIG. */
int regularization_rate(const dlh_host *host, dlh_params *p, double *rate);

#endif
