/* swish — an out-of-tree activation layer built only against the installed SDK.
 *
 * Swish / SiLU (Ramachandran et al., 2017): y = x * sigmoid(beta * x), with
 * dy/dx = s + beta*x*s*(1 - s) where s = sigmoid(beta * x).  Forward and
 * backward are elementwise programs compiled once in create, so the layer
 * runs fused on every backend.  It has no trainable tensors; the output has
 * the input's shape.
 *
 * Build: cc -O2 $(pkg-config --cflags dlhost) -shared -fPIC -o swish.so swish.c
 * Use:   { type = "swish"; beta = 1.0; } */
#include <stdlib.h>

#include <dlhost/dlhost.h>

typedef struct swish {
    const dlh_host *host;           /* destroy gets no host of its own */
    dlh_ew_kernel *fwd, *bwd;
    float beta;
} swish;

/* Arrays are numbered in declaration order, scalars too. */
static const char swish_fwd_source[] =
    "in x; out y; scalar beta;\n"
    "y = x*sigmoid(beta*x);\n";
static const char swish_bwd_source[] =
    "in x, dy; out dx; scalar beta;\n"
    "s = sigmoid(beta*x);\n"
    "dx = dy*(s + beta*x*s*(1 - s));\n";

static int swish_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    swish *s = calloc(1, sizeof(*s));
    if (!s) {
        host->error("swish: out of memory");
        return DLH_ENOMEM;
    }
    *state = s;                     /* destroy runs even if the rest fails */
    s->host = host;

    if (setup->n_inputs != 1)
        return host->param_error(setup->params, NULL,
                                 "swish takes exactly one input, got %d",
                                 setup->n_inputs);
    const double def_beta = 1.0;
    double beta;
    int rc = host->param_float(setup->params, "beta", &def_beta, -1e3, 1e3, &beta);
    if (rc < 0)
        return rc;
    s->beta = (float)beta;
    setup->output = setup->inputs[0];

    rc = host->ew_compile(setup->backend, swish_fwd_source, &s->fwd);
    if (rc < 0)
        return rc;
    return host->ew_compile(setup->backend, swish_bwd_source, &s->bwd);
}

static int swish_forward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                         const dlh_tensor *output)
{
    swish *s = state;
    size_t n = (size_t)dlh_tensor_numel(output);
    dlh_ew_arg args[2] = { dlh_ew_full(inputs[0].mem, n), dlh_ew_full(output->mem, n) };

    (void)ctx;
    return s->host->ew_run(s->fwd, n, args, &s->beta);
}

static int swish_backward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                          const dlh_tensor *output, const dlh_tensor *d_output,
                          const dlh_tensor *d_inputs)
{
    swish *s = state;
    size_t n = (size_t)dlh_tensor_numel(output);

    (void)ctx;
    if (!d_inputs[0].mem.buf)       /* the first layer: nobody wants dx */
        return DLH_OK;
    dlh_ew_arg args[3] = { dlh_ew_full(inputs[0].mem, n), dlh_ew_full(d_output->mem, n),
                           dlh_ew_full(d_inputs[0].mem, n) };
    return s->host->ew_run(s->bwd, n, args, &s->beta);
}

static void swish_destroy(void *state)
{
    swish *s = state;
    if (!s)
        return;
    s->host->ew_free(s->fwd);
    s->host->ew_free(s->bwd);
    free(s);
}

static const dlh_layer_ops swish_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = swish_create,
    .forward = swish_forward,
    .backward = swish_backward,
    .destroy = swish_destroy,
};

static int swish_init(const dlh_host *host, dlh_registrar *reg)
{
    (void)host;                     /* create receives it again */
    return reg->add(reg, DLH_KIND_LAYER, "swish", &swish_ops,
                    "swish / SiLU: x*sigmoid(beta*x) (example plugin)");
}

DLH_PLUGIN("swish", "1.0.0", "swish activation layer, an out-of-tree example", "MIT",
           swish_init)
