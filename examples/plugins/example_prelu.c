/* example_prelu — an out-of-tree layer with a trainable tensor, built only
 * against the installed SDK.
 *
 * PReLU (He et al., 2015) with one slope a shared by every element:
 * y = x for x > 0, else a*x (torch.nn.PReLU() with num_parameters = 1; the
 * built-in `prelu` also has one slope per channel).  The slope is a
 * parameter the optimiser trains: create declares it with add_param (its
 * name, "weight", and shape [1] are torch's, so a checkpoint loads into
 * nn.PReLU, and its default initialiser is torch's constant 0.25, which an
 * experiment may replace: init = { type = "constant"; value = 0.1; }).
 * Backward writes dx and adds dL/da = sum of x*dy over the elements with
 * x <= 0 into the slope's gradient: an elementwise program puts x*dy (or 0)
 * in scratch memory, the backend's reduce sums them into one float, and a
 * last program adds that to the gradient (the core zeroes gradients before
 * each backward; reduce overwrites its output, so the sum goes through
 * scratch).  Nothing is allocated in forward or backward.
 *
 * Build: cc -O2 $(pkg-config --cflags dlhost) -shared -fPIC -o example_prelu.so example_prelu.c
 * Use:   { type = "example_prelu"; } */
#include <limits.h>
#include <stdlib.h>

#include <dlhost/dlhost.h>

typedef struct example_prelu {
    const dlh_host *host;           /* destroy gets no host of its own */
    dlh_ew_kernel *fwd, *dx, *terms, *add;
    int slope;                      /* index of "weight" in ctx->params, ctx->grads */
    int t, sum;                     /* indices in ctx->scratch */
} example_prelu;

/* The slope is an operand of length 1: every element reads a[0]. */
static const char example_prelu_fwd[] =
    "in x, a; out y;\n"
    "y = select(x > 0, x, a*x);\n";
static const char example_prelu_dx[] =
    "in x, dy, a; out dx;\n"
    "dx = select(x > 0, dy, a*dy);\n";
static const char example_prelu_terms[] =
    "in x, dy; out t;\n"
    "t = select(x > 0, 0, x*dy);\n";
static const char example_prelu_add[] =
    "in s; inout g;\n"
    "g = g + s;\n";

static int example_prelu_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    example_prelu *p = calloc(1, sizeof(*p));
    if (!p) {
        host->error("example_prelu: out of memory");
        return DLH_ENOMEM;
    }
    *state = p;                     /* destroy runs even if the rest fails */
    p->host = host;

    if (setup->n_inputs != 1)
        return host->param_error(setup->params, NULL,
                                 "example_prelu takes exactly one input, got %d",
                                 setup->n_inputs);
    int64_t numel = dlh_shape_numel(&setup->inputs[0]);
    setup->output = setup->inputs[0];

    /* The trainable tensor: torch's name and shape, torch's default. */
    dlh_shape shape = { 1, { 1 } };
    dlh_init def = { DLH_INIT_CONSTANT, 0.25f, 0.0f };
    int rc = setup->add_param(setup, "weight", &shape, def, &p->slope);
    /* Scratch: one term per element of the batch, and one float for the sum. */
    if (rc == 0)
        rc = setup->add_scratch(setup, numel, 0, &p->t);
    if (rc == 0)
        rc = setup->add_scratch(setup, 0, 1, &p->sum);
    if (rc == 0)
        rc = host->ew_compile(setup->backend, example_prelu_fwd, &p->fwd);
    if (rc == 0)
        rc = host->ew_compile(setup->backend, example_prelu_dx, &p->dx);
    if (rc == 0)
        rc = host->ew_compile(setup->backend, example_prelu_terms, &p->terms);
    if (rc == 0)
        rc = host->ew_compile(setup->backend, example_prelu_add, &p->add);
    return rc;
}

static int example_prelu_forward(void *state, const dlh_layer_ctx *ctx,
                                 const dlh_tensor *inputs, const dlh_tensor *output)
{
    example_prelu *p = state;
    size_t n = (size_t)dlh_tensor_numel(output);
    dlh_ew_arg args[3] = { dlh_ew_full(inputs[0].mem, n),
                           dlh_ew_full(ctx->params[p->slope].mem, 1),
                           dlh_ew_full(output->mem, n) };
    return p->host->ew_run(p->fwd, n, args, NULL);
}

static int example_prelu_backward(void *state, const dlh_layer_ctx *ctx,
                                  const dlh_tensor *inputs, const dlh_tensor *output,
                                  const dlh_tensor *d_output, const dlh_tensor *d_inputs)
{
    example_prelu *p = state;
    const dlh_backend *be = ctx->backend;
    size_t n = (size_t)dlh_tensor_numel(output);
    dlh_mem t = ctx->scratch[p->t].mem, sum = ctx->scratch[p->sum].mem;
    int rc = 0;

    if (n > INT_MAX) {              /* reduce takes int sizes */
        p->host->error("example_prelu: %zu elements in a batch, at most %d", n, INT_MAX);
        return DLH_EINVAL;
    }

    /* dx, unless this is the model's first layer (nobody wants dx) */
    if (d_inputs[0].mem.buf) {
        dlh_ew_arg args[4] = { dlh_ew_full(inputs[0].mem, n), dlh_ew_full(d_output->mem, n),
                               dlh_ew_full(ctx->params[p->slope].mem, 1),
                               dlh_ew_full(d_inputs[0].mem, n) };
        rc = p->host->ew_run(p->dx, n, args, NULL);
    }
    /* the terms x*dy of dL/da, their sum (one row of n), then grad += sum */
    if (rc == 0) {
        dlh_ew_arg args[3] = { dlh_ew_full(inputs[0].mem, n), dlh_ew_full(d_output->mem, n),
                               dlh_ew_full(t, n) };
        rc = p->host->ew_run(p->terms, n, args, NULL);
    }
    if (rc == 0)
        rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUM, 1, 1, (int)n, t, sum,
                             (dlh_mem){ NULL, 0 });
    if (rc == 0) {
        dlh_ew_arg args[2] = { dlh_ew_full(sum, 1), dlh_ew_full(ctx->grads[p->slope].mem, 1) };
        rc = p->host->ew_run(p->add, 1, args, NULL);
    }
    return rc;
}

static void example_prelu_destroy(void *state)
{
    example_prelu *p = state;
    if (!p)
        return;
    p->host->ew_free(p->fwd);
    p->host->ew_free(p->dx);
    p->host->ew_free(p->terms);
    p->host->ew_free(p->add);
    free(p);
}

static const dlh_layer_ops example_prelu_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = example_prelu_create,
    .forward = example_prelu_forward,
    .backward = example_prelu_backward,
    .destroy = example_prelu_destroy,
};

static int example_prelu_init(const dlh_host *host, dlh_registrar *reg)
{
    (void)host;                     /* create receives it again */
    return reg->add(reg, DLH_KIND_LAYER, "example_prelu", &example_prelu_ops,
                    "PReLU with one learnable slope (example plugin)");
}

DLH_PLUGIN("example_prelu", "1.0.0", "PReLU layer with a trainable slope, an out-of-tree example",
           "MIT", example_prelu_init)
