/* Entry point of the "layers" plugin: keeps the host table and registers
 * every layer of the family; also the parameter and message helpers the
 * spatial layers share. */
#include <limits.h>
#include <math.h>
#include <stdio.h>

#include "layers.h"

const dlh_host *layers_host;

int layers_param_pair(dlh_params *p, const char *key, int64_t def, int64_t min,
                      int64_t max, int32_t out[2])
{
    const dlh_host *host = layers_host;
    float v[2];
    size_t n = 0;
    int rc = host->param_floats(p, key, v, 2, &n);
    if (rc < 0)
        return rc;
    if (n == 0) {
        if (host->param_has(p, key))
            return host->param_error(p, key, "parameter '%s': expected an integer or "
                                     "a list [h, w], got an empty list", key);
        if (def < 0) {
            /* The host's own message for a missing key, with its did-you-mean. */
            int64_t unused;
            rc = host->param_int(p, key, NULL, min, max, &unused);
            return rc < 0 ? rc : DLH_ECONFIG;
        }
        out[0] = out[1] = (int32_t)def;
        return 0;
    }
    if (n == 1)
        v[1] = v[0];
    for (int i = 0; i < 2; i++) {
        if (v[i] != floorf(v[i]) || v[i] < (float)min || v[i] > (float)max)
            return host->param_error(p, key, "parameter '%s': expected an integer in "
                                     "[%lld, %lld] or a list [h, w] of them, got %g",
                                     key, (long long)min, (long long)max, (double)v[i]);
        out[i] = (int32_t)v[i];
    }
    return 0;
}

int layers_window2d(const dlh_layer_setup *setup, const char *name, const int32_t ks[2],
                    const int32_t stride[2], const int32_t pad[2], const int32_t dil[2],
                    dlh_window2d *g, int64_t *eh, int64_t *ew)
{
    dlh_params *p = setup->params;
    char sbuf[96];
    if (setup->n_inputs != 1)
        return layers_host->param_error(p, NULL, "%s takes exactly one input, got %d",
                                        name, setup->n_inputs);
    const dlh_shape *in = &setup->inputs[0];
    if (in->ndim != 3)
        return layers_host->param_error(p, NULL, "%s expects samples of shape [C, H, W], "
                                        "got %s (add a reshape layer before it)", name,
                                        layers_shape_str(in, sbuf, sizeof sbuf));
    if (in->dim[0] > INT_MAX || in->dim[1] > INT_MAX || in->dim[2] > INT_MAX ||
        in->dim[1] * in->dim[2] > INT_MAX)
        return layers_host->param_error(p, NULL, "%s input %s is too large", name,
                                        layers_shape_str(in, sbuf, sizeof sbuf));
    *g = (dlh_window2d){
        .struct_size = sizeof *g,
        .c = (int32_t)in->dim[0], .h = (int32_t)in->dim[1], .w = (int32_t)in->dim[2],
        .kh = ks[0], .kw = ks[1], .sh = stride[0], .sw = stride[1],
        .ph = pad[0], .pw = pad[1], .dh = dil[0], .dw = dil[1],
    };
    *eh = (int64_t)g->dh * (g->kh - 1) + 1;
    *ew = (int64_t)g->dw * (g->kw - 1) + 1;
    return 0;
}

const char *layers_shape_str(const dlh_shape *s, char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0)
        return buf;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < s->ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "",
                                 (long long)s->dim[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

static const struct {
    const char *name;
    const dlh_layer_ops *ops;
    const char *description;
    const dlh_param_doc *params;
} layers_list[] = {
    { "dense", &dense_ops, "fully connected layer y = x W^T + b (nn.Linear)",
      dense_params },
    { "conv2d", &conv2d_ops,
      "2-D convolution over [C, H, W] samples, im2col + gemm (nn.Conv2d)",
      conv2d_params },
    { "conv_transpose2d", &conv_transpose2d_ops,
      "transposed 2-D convolution over [C, H, W] samples, gemm + col2im "
      "(nn.ConvTranspose2d)", conv_transpose2d_params },
    { "maxpool2d", &maxpool2d_ops, "2-D max pooling (nn.MaxPool2d)",
      maxpool2d_params },
    { "avgpool2d", &avgpool2d_ops, "2-D average pooling (nn.AvgPool2d)",
      avgpool2d_params },
    { "flatten", &flatten_ops, "each sample to one dimension (nn.Flatten)",
      layers_no_params },
    { "reshape", &reshape_ops, "each sample to `shape`, one -1 inferred",
      reshape_params },
    { "add", &add_ops, "elementwise sum of two or more inputs of one shape",
      layers_no_params },
    { "concat", &concat_ops, "concatenation of the inputs along a per-sample `axis`",
      concat_params },
    { "maxout", &maxout_ops,
      "max over `pieces` affine maps per unit: nn.Linear(in, units*pieces) then "
      "view(N, units, pieces).max(-1)", maxout_params },
    { "identity", &identity_ops, "y = x (nn.Identity)", layers_no_params },
    { "adaptive_avgpool2d", &adaptive_avgpool2d_ops,
      "2-D average pooling to a given output size (nn.AdaptiveAvgPool2d)",
      adaptive_avgpool2d_params },
    { "global_avgpool", &global_avgpool_ops,
      "mean of each channel over all positions, [C, ...] to [C] "
      "(Keras GlobalAveragePooling2D)", layers_no_params },
    { "upsample", &upsample_ops, "nearest or bilinear 2-D upsampling (nn.Upsample)",
      upsample_params },
};

static int layers_init(const dlh_host *host, dlh_registrar *reg)
{
    layers_host = host;
    for (size_t i = 0; i < sizeof layers_list / sizeof layers_list[0]; i++) {
        int rc = reg->add(reg, DLH_KIND_LAYER, layers_list[i].name, layers_list[i].ops,
                          layers_list[i].description);
        if (rc < 0 || (rc = reg->describe(reg, DLH_KIND_LAYER, layers_list[i].name,
                                          layers_list[i].params)) < 0)
            return rc;
    }
    return 0;
}

DLH_PLUGIN("layers", "0.1.0",
           "core layers: dense, conv2d, conv_transpose2d, maxpool2d, avgpool2d, flatten, "
           "reshape, add, concat, maxout, identity, adaptive_avgpool2d, global_avgpool, "
           "upsample", "MIT", layers_init)

/* The table of a layer without parameters. */
const dlh_param_doc layers_no_params[] = {
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
