/* layernorm: torch.nn.LayerNorm.  Each sample is normalised over its
 * trailing dimensions `normalized_shape` (default: the whole per-sample
 * shape) by their mean and biased variance, y = (x - mean) *
 * rsqrt(var + eps) * weight + bias, the same in training and evaluation;
 * weight (ones) and bias (zeros) have normalized_shape when
 * elementwise_affine.  The rows of norm_rows (normalization.c) are the
 * samples' leading positions, M = prod(normalized_shape), and the
 * parameters run along each row (P = M, stride 1). */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>

#include "normalization.h"

typedef struct layernorm_state {
    norm_rows r;
    int nd;                     /* dimensions of normalized_shape */
    int64_t dims[DLH_MAX_DIMS];
} layernorm_state;

/* "[5]" or "[3, 5]". */
static const char *layernorm_dims_str(const int64_t *d, int n, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "",
                                 (long long)d[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

static int layernorm_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    layernorm_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    dlh_params *p = setup->params;
    const int def_true = 1;
    float list[DLH_MAX_DIMS + 1];
    size_t n_list = 0;
    int given = host->param_has(p, "normalized_shape"), rc;
    if ((rc = host->param_floats(p, "normalized_shape", list, DLH_MAX_DIMS + 1,
                                 &n_list)) < 0 ||
        (rc = norm_read_eps(host, p, &st->r.eps)) < 0 ||
        (rc = host->param_bool(p, "elementwise_affine", &def_true, &st->r.affine)) < 0)
        return rc;
    if (setup->n_inputs != 1)
        return host->param_error(p, NULL, "layernorm takes exactly one input, got %d",
                                 setup->n_inputs);
    const dlh_shape *in = &setup->inputs[0];
    char sbuf[96], nbuf[96], ibuf[96];
    if (in->ndim < 1)
        return host->param_error(p, NULL, "layernorm expects samples with at least one "
                                 "dimension, got input %s",
                                 norm_shape_str(in, -1, sbuf, sizeof sbuf));
    int64_t dims[DLH_MAX_DIMS + 1];
    int nd = 0;
    if (given && n_list == 0)
        return host->param_error(p, "normalized_shape", "parameter 'normalized_shape': "
                                 "expected at least one dimension, got []");
    for (size_t i = 0; i < n_list; i++) {
        double v = list[i];
        if (!(v >= 1 && v <= 2147483647.0 && v == (double)(int64_t)v))
            return host->param_error(p, "normalized_shape", "parameter "
                                     "'normalized_shape': expected positive integers, "
                                     "got %g at index %zu", v, i);
        dims[nd++] = (int64_t)v;
    }
    if (!given)
        for (nd = 0; nd < in->ndim; nd++)
            dims[nd] = in->dim[nd];
    /* torch's check (F.layer_norm): the trailing dimensions must match. */
    int fits = nd <= in->ndim;
    for (int i = 0; fits && i < nd; i++)
        fits = dims[nd - 1 - i] == in->dim[in->ndim - 1 - i];
    if (!fits) {
        size_t used = (size_t)snprintf(sbuf, sizeof sbuf, "[*");
        for (int i = 0; i < nd && used < sizeof sbuf; i++)
            used += (size_t)snprintf(sbuf + used, sizeof sbuf - used, ", %lld",
                                     (long long)dims[i]);
        if (used < sizeof sbuf)
            snprintf(sbuf + used, sizeof sbuf - used, "]");
        return host->param_error(p, "normalized_shape", "Given normalized_shape=%s, "
                                 "expected input with shape %s, but got input of size %s",
                                 layernorm_dims_str(dims, nd, nbuf, sizeof nbuf), sbuf,
                                 norm_shape_str(in, -1, ibuf, sizeof ibuf));
    }
    int64_t m = 1, numel = dlh_shape_numel(in);
    for (int i = 0; i < nd; i++)
        m *= dims[i];
    if (numel < 1 || numel > 2147483647)
        return host->param_error(p, NULL, "layernorm input %s is empty or too large",
                                 norm_shape_str(in, -1, sbuf, sizeof sbuf));
    setup->output = *in;
    st->r.rows = numel / m;
    st->r.m = m;
    st->r.p = m;
    st->r.s = 1;
    st->nd = nd;
    for (int i = 0; i < nd; i++)
        st->dims[i] = dims[i];
    dlh_shape ps = { nd, { 0 } };
    for (int i = 0; i < nd; i++)
        ps.dim[i] = dims[i];
    if ((rc = norm_affine_params(setup, st->r.affine, &ps, &st->r.w_index,
                                 &st->r.b_index)) < 0)
        return rc;
    st->r.layer = "layernorm";
    return norm_rows_setup(host, setup, &st->r);
}

/* LayerNormalization (opset 17) over the last nd axes; Scale is required:
   ones without elementwise_affine. */
static int layernorm_export(void *state, dlh_onnx_builder *b)
{
    const layernorm_state *st = state;
    const char *in[3] = { b->inputs[0], NULL, NULL };
    if (st->r.affine) {
        in[1] = b->param(b, "weight", 0, NULL);
        in[2] = b->param(b, "bias", 0, NULL);
    } else {
        float *ones = malloc((size_t)st->r.m * sizeof *ones);
        if (!ones) {
            normalization_host->error("out of memory");
            return DLH_ENOMEM;
        }
        for (int64_t i = 0; i < st->r.m; i++)
            ones[i] = 1.0f;
        in[1] = b->constant(b, "ones", DLH_ONNX_FLOAT, st->nd, st->dims, ones);
        free(ones);
    }
    int rc;
    if (!in[1] || (st->r.affine && !in[2]))
        return DLH_ENOMEM;
    if ((rc = b->node(b, "LayerNormalization", st->r.affine ? 3 : 2, in, 1,
                      &b->output)) < 0 ||
        (rc = b->attr_int(b, "axis", 1 + b->input_shapes[0].ndim - st->nd)) < 0)
        return rc;
    return b->attr_float(b, "epsilon", st->r.eps);
}

const dlh_layer_ops layernorm_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = layernorm_create,
    .forward = norm_rows_layer_forward,
    .backward = norm_rows_layer_backward,
    .destroy = norm_rows_layer_destroy,
    .export_onnx = layernorm_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc layernorm_params[] = {
    { "normalized_shape", DLH_PARAM_FLOATS, "", 0, 0, NULL, "the trailing dimensions of each sample to normalise over (a number or a list); absent: the whole sample" },
    { "eps", DLH_PARAM_FLOAT, "1e-05", 0.0, FLT_MAX, NULL, "added to the variance, > 0" },
    { "elementwise_affine", DLH_PARAM_BOOL, "true", 0, 0, NULL, "learn a weight (ones) and bias (zeros) of normalized_shape" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
