/* groupnorm: torch.nn.GroupNorm over [N, C, *] inputs.  The C channels of a
 * sample fall into num_groups groups of C/G consecutive channels; each
 * group of each sample is normalised by its own mean and biased variance,
 * y = (x - mean) * rsqrt(var + eps) * weight[c] + bias[c], the same in
 * training and evaluation; weight (ones) and bias (zeros) are per channel
 * when affine.  The rows of norm_rows (normalization.c) are the groups,
 * M = (C/G) * S for S values per channel, and the parameters run over
 * channels (P = C, stride S). */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>

#include "normalization.h"

typedef struct groupnorm_state {
    norm_rows r;
} groupnorm_state;

static int groupnorm_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    groupnorm_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    dlh_params *p = setup->params;
    const int def_true = 1;
    int64_t groups;
    int rc;
    if ((rc = host->param_int(p, "num_groups", NULL, 1, 2147483647, &groups)) < 0 ||
        (rc = norm_read_eps(host, p, &st->r.eps)) < 0 ||
        (rc = host->param_bool(p, "affine", &def_true, &st->r.affine)) < 0)
        return rc;
    if (setup->n_inputs != 1)
        return host->param_error(p, NULL, "groupnorm takes exactly one input, got %d",
                                 setup->n_inputs);
    const dlh_shape *in = &setup->inputs[0];
    char sbuf[96];
    if (in->ndim < 1)
        return host->param_error(p, NULL, "groupnorm expects an input [N, C, *], got %s",
                                 norm_shape_str(in, -1, sbuf, sizeof sbuf));
    int64_t c = in->dim[0], numel = dlh_shape_numel(in);
    if (c < 1 || numel < 1 || numel > 2147483647)
        return host->param_error(p, NULL, "groupnorm input %s is empty or too large",
                                 norm_shape_str(in, -1, sbuf, sizeof sbuf));
    /* torch.nn.GroupNorm's words. */
    if (c % groups != 0)
        return host->param_error(p, "num_groups", "num_channels must be divisible by "
                                 "num_groups (num_channels = %lld, num_groups = %lld)",
                                 (long long)c, (long long)groups);
    setup->output = *in;
    st->r.rows = groups;
    st->r.m = numel / groups;
    st->r.p = c;
    st->r.s = numel / c;
    dlh_shape cs = { 1, { c } };
    if ((rc = norm_affine_params(setup, st->r.affine, &cs, &st->r.w_index,
                                 &st->r.b_index)) < 0)
        return rc;
    st->r.layer = "groupnorm";
    return norm_rows_setup(host, setup, &st->r);
}

/* GroupNormalization is opset 18: [N, C, *] as [N, G, (C/G) S], whose
   InstanceNormalization (scale 1, bias 0) normalises each group, back to
   [N, C, *], then the per-channel weight [C, 1, ...] and bias. */
static int groupnorm_export(void *state, dlh_onnx_builder *b)
{
    const groupnorm_state *st = state;
    const dlh_shape *in = &b->input_shapes[0];
    int64_t nd = 1 + in->ndim, back[1 + DLH_MAX_DIMS], three = 3;
    int64_t grouped[3] = { 0, st->r.rows, -1 }, cdims[DLH_MAX_DIMS];
    back[0] = 0;
    for (int i = 0; i < in->ndim; i++) {
        back[1 + i] = in->dim[i];
        cdims[i] = i == 0 ? in->dim[0] : 1;
    }
    const char *g_in[3] = { b->value(b, "grouped"), NULL, NULL }, *g_out = b->value(b, "gnorm");
    const char *x_in[2] = { b->inputs[0],
                            b->constant(b, "groups", DLH_ONNX_INT64, 1, &three, grouped) };
    const char *y_in[2] = { g_out, b->constant(b, "shape", DLH_ONNX_INT64, 1, &nd, back) };
    const char *y = st->r.affine ? b->value(b, "ungrouped") : b->output;
    int rc;
    if (!g_in[0] || !g_out || !x_in[1] || !y_in[1] || !y ||
        !(g_in[1] = norm_onnx_fill(b, "ones", st->r.rows, 1.0f)) ||
        !(g_in[2] = norm_onnx_fill(b, "zeros", st->r.rows, 0.0f)))
        return DLH_ENOMEM;
    if ((rc = b->node(b, "Reshape", 2, x_in, 1, &g_in[0])) < 0 ||
        (rc = b->node(b, "InstanceNormalization", 3, g_in, 1, &g_out)) < 0 ||
        (rc = b->attr_float(b, "epsilon", st->r.eps)) < 0 ||
        (rc = b->node(b, "Reshape", 2, y_in, 1, &y)) < 0 || !st->r.affine)
        return rc;
    const char *scaled = b->value(b, "scaled");
    const char *m_in[2] = { y, b->param(b, "weight", in->ndim, cdims) };
    const char *a_in[2] = { scaled, b->param(b, "bias", in->ndim, cdims) };
    if (!scaled || !m_in[1] || !a_in[1])
        return DLH_ENOMEM;
    if ((rc = b->node(b, "Mul", 2, m_in, 1, &scaled)) < 0)
        return rc;
    return b->node(b, "Add", 2, a_in, 1, &b->output);
}

const dlh_layer_ops groupnorm_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = groupnorm_create,
    .forward = norm_rows_layer_forward,
    .backward = norm_rows_layer_backward,
    .destroy = norm_rows_layer_destroy,
    .export_onnx = groupnorm_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc groupnorm_params[] = {
    { "num_groups", DLH_PARAM_INT, NULL, 1, 2147483647, NULL, "groups of channels, required; must divide the channels" },
    { "eps", DLH_PARAM_FLOAT, "1e-05", 0.0, FLT_MAX, NULL, "added to the variance, > 0" },
    { "affine", DLH_PARAM_BOOL, "true", 0, 0, NULL, "learn a weight (ones) and bias (zeros) per channel" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
