/* hardtanh: y = x clamped to [min_val, max_val] (nn.Hardtanh, -1.0 and 1.0;
 * max_val must be greater, which torch asserts).  As torch 1.13's
 * hardtanh_backward, the gradient is dy strictly inside and 0 at both
 * boundaries and beyond; a NaN passes through both ways. */
#include <float.h>

#include "activations.h"

int hardtanh_create_range(const dlh_host *host, dlh_layer_setup *setup, void **state,
                          const char *name, float lo, float hi)
{
    const float k[2] = { lo, hi };
    return pointwise_create_scalars(host, setup, state, name,
                                    "in x; out y; scalar lo, hi; "
                                    "y = select(x < lo, lo, select(x > hi, hi, x));",
                                    "in x, dy; out dx; scalar lo, hi; "
                                    "dx = select(x <= lo, 0, select(x >= hi, 0, dy));", 0, k, 2);
}

static int hardtanh_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    const double def_min = -1.0, def_max = 1.0;
    double lo, hi;
    int rc;
    if ((rc = host->param_float(setup->params, "min_val", &def_min, -DBL_MAX, DBL_MAX,
                                &lo)) < 0 ||
        (rc = host->param_float(setup->params, "max_val", &def_max, -DBL_MAX, DBL_MAX,
                                &hi)) < 0)
        return rc;
    if (!((float)hi > (float)lo))
        return host->param_error(setup->params,
                                 host->param_has(setup->params, "max_val") ? "max_val"
                                                                           : "min_val",
                                 "max_val (%g) must be greater than min_val (%g)", hi, lo);
    return hardtanh_create_range(host, setup, state, "hardtanh", (float)lo, (float)hi);
}

/* Clip(x, lo, hi): hardtanh and relu6. */
int hardtanh_export(void *state, dlh_onnx_builder *b)
{
    const char *in[3] = { b->inputs[0], act_onnx_scalar(b, "min", pointwise_scalar(state, 0)),
                          act_onnx_scalar(b, "max", pointwise_scalar(state, 1)) };
    return in[1] && in[2] ? b->node(b, "Clip", 3, in, 1, &b->output) : DLH_ENOMEM;
}

const dlh_layer_ops hardtanh_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = hardtanh_create,
    .forward = pointwise_forward,
    .backward = pointwise_backward,
    .destroy = pointwise_destroy,
    .export_onnx = hardtanh_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc hardtanh_params[] = {
    { "min_val", DLH_PARAM_FLOAT, "-1", -DBL_MAX, DBL_MAX, NULL, "lower clamp, below max_val" },
    { "max_val", DLH_PARAM_FLOAT, "1", -DBL_MAX, DBL_MAX, NULL, "upper clamp, above min_val" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
