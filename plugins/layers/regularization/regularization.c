/* Entry point of the "regularization" plugin: keeps the host table and
 * registers every layer of the family; also the helpers they share. */
#include <float.h>

#include "regularization.h"

const dlh_host *regularization_host;

int regularization_copy(const dlh_backend *be, dlh_mem dst, dlh_mem src, size_t n)
{
    if (dst.buf == src.buf && dst.off == src.off)
        return 0;
    return be->ops->copy(be->ctx, dst.buf, dst.off * sizeof(float), src.buf,
                         src.off * sizeof(float), n * sizeof(float));
}

int regularization_export(void *state, dlh_onnx_builder *b)
{
    (void)state;
    return dlh_onnx_unary(b, "Identity");
}

int regularization_rate(const dlh_host *host, dlh_params *p, double *rate)
{
    const double def_rate = 0.5;
    int rc = host->param_float(p, "rate", &def_rate, -DBL_MAX, DBL_MAX, rate);
    if (rc < 0)
        return rc;
    /* torch.nn.modules.dropout._DropoutNd's check and words ("but got 1.5") */
    if (!(*rate >= 0.0 && *rate <= 1.0))
        return host->param_error(p, "rate", "dropout probability has to be between 0 "
                                 "and 1, but got %g", *rate);
    return 0;
}

static const struct {
    const char *name;
    const dlh_layer_ops *ops;
    const char *description;
    const dlh_param_doc *params;
} regularization_list[] = {
    { "dropout", &dropout_ops,
      "inverted dropout: zeroes with probability rate in training, "
      "scales by 1/(1-rate) (nn.Dropout)", dropout_params },
    { "dropout2d", &dropout2d_ops,
      "channel dropout: zeroes whole channels with probability rate in training, "
      "scales by 1/(1-rate) (nn.Dropout2d)", dropout2d_params },
    { "alpha_dropout", &alpha_dropout_ops,
      "alpha dropout for SELU networks: keeps mean and variance (nn.AlphaDropout)",
      alpha_dropout_params },
};

static int regularization_init(const dlh_host *host, dlh_registrar *reg)
{
    regularization_host = host;
    for (size_t i = 0; i < sizeof regularization_list / sizeof regularization_list[0]; i++) {
        int rc = reg->add(reg, DLH_KIND_LAYER, regularization_list[i].name,
                          regularization_list[i].ops, regularization_list[i].description);
        if (rc < 0 || (rc = reg->describe(reg, DLH_KIND_LAYER, regularization_list[i].name,
                                          regularization_list[i].params)) < 0)
            return rc;
    }
    return 0;
}

DLH_PLUGIN("regularization", "0.1.0",
           "regularization layers: dropout, dropout2d, alpha_dropout", "MIT",
           regularization_init)
