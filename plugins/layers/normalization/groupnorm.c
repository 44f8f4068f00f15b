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
    dlh_init ones = { DLH_INIT_CONSTANT, 1.0f, 0.0f }, zeros = { DLH_INIT_ZEROS, 0, 0 };
    if (st->r.affine &&
        ((rc = setup->add_param(setup, "weight", &cs, ones, &st->r.w_index)) < 0 ||
         (rc = setup->add_param(setup, "bias", &cs, zeros, &st->r.b_index)) < 0))
        return rc;
    st->r.layer = "groupnorm";
    return norm_rows_setup(host, setup, &st->r);
}

const dlh_layer_ops groupnorm_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = groupnorm_create,
    .forward = norm_rows_layer_forward,
    .backward = norm_rows_layer_backward,
    .destroy = norm_rows_layer_destroy,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc groupnorm_params[] = {
    { "num_groups", DLH_PARAM_INT, NULL, 1, 2147483647, NULL, "groups of channels, required; must divide the channels" },
    { "eps", DLH_PARAM_FLOAT, "1e-05", 0.0, FLT_MAX, NULL, "added to the variance, > 0" },
    { "affine", DLH_PARAM_BOOL, "true", 0, 0, NULL, "learn a weight (ones) and bias (zeros) per channel" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
