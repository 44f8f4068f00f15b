/* Parameter initialisers: torch.nn.init's (PyTorch 1.13) over Philox draws,
 * and the experiment's `init` / `bias_init` keys that choose them per tensor.
 *
 * Random draws are keyed by (seed, stream) alone: uniform fills run on the
 * backend (its Philox uniform is exact on every backend); every other random
 * initialiser draws on the host (include/dlhost/philox.h) and writes the
 * result, so a given (seed, stream) gives the same bits on every backend. */
#ifndef DLHOST_CORE_INIT_H
#define DLHOST_CORE_INIT_H

#include <stddef.h>
#include <stdint.h>

#include <dlhost/dlhost.h>

#include "params.h"

/* The kind's name as the experiment file writes it ("kaiming_normal"). */
const char *dlh_init_kind_name(int kind);
/* Every name dlh_init_parse knows, ", "-separated, for messages. */
const char *dlh_init_known_names(void);

/* The full form of a legacy dlh_init (layer.h's comments on each kind). */
dlh_init_spec dlh_init_spec_from(dlh_init init);
/* Copies a plugin's spec of s->struct_size bytes (zero-filling members its
   ABI did not have); DLH_EINVAL for a size too small to hold the kind. */
int dlh_init_spec_copy(const dlh_init_spec *s, dlh_init_spec *out);
/* Checks the parameters of s (not the tensor's shape) with torch's wording
   where torch has one ("normal expects std >= 0.0, but found std -1");
   DLH_EINVAL with the message set. */
int dlh_init_spec_check(const dlh_init_spec *s);

/* Fills t with s, drawing from (seed, stream).  A shape the initialiser
   cannot take (1-D for fans, eye on 3-D) is DLH_EINVAL with torch's
   message. */
int dlh_init_fill_spec(const dlh_backend *be, const dlh_tensor *t, const dlh_init_spec *s,
                       uint64_t seed, uint64_t stream);

/* trunc_normal_'s transform of uniform draws u[0..n) on [2l-1, 2u-1), in
   place, as torch does it in float32: erfinv_, mul_(std * sqrt(2)),
   add_(mean), clamp_(a, b). */
void dlh_init_trunc_normal_transform(float *v, size_t n, double mean, double std, double a,
                                     double b);

/* orthogonal_'s transform of the row-major rows x cols matrix m (the
   tensor flattened to its first dimension), in place: QR (LAPACK dgeqrf and
   dorgqr, in double) of m, or of m^T when rows < cols; Q times the signs of
   R's diagonal, transposed back, times gain.  DLH_ENOMEM, or DLH_EINVAL if
   LAPACK fails. */
int dlh_init_orthogonal_transform(float *m, int64_t rows, int64_t cols, double gain);

/* One experiment override: the initialiser of a layer's tensor `tensor`,
   from `key` ("init", "bias_init", or "init.<tensor>") at `where`. */
typedef struct dlh_init_override {
    const char *tensor;         /* lives as long as the config */
    char key[96];
    char where[512];            /* "file:line" */
    int optional;               /* 1: ignore when the layer has no such tensor
                                   (dlh_layer_new's legacy init_override) */
    dlh_init_spec spec;
} dlh_init_override;

/* Reads the `init` and `bias_init` keys of the layer group `layer` (label:
   "layer 'fc1'"): `init = "NAME"` or `init = { type = "NAME"; ... }` for
   the tensor "weight", `bias_init` likewise for "bias", and `init = {
   TENSOR = "NAME" | { type = ...; ... }; ... }` for any tensors.  *out
   (malloc'd, may be NULL when *n is 0) receives them.  A bad value is
   DLH_ECONFIG with its file:line. */
int dlh_init_overrides_read(dlh_config *c, config_setting_t *layer, const char *label,
                            dlh_init_override **out, int *n);

#endif
