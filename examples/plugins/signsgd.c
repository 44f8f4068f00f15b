/* signsgd — an out-of-tree optimiser built only against the installed SDK.
 *
 * Sign-SGD (Bernstein et al., 2018): p = p - lr * sign(g + weight_decay * p).
 * The update is one elementwise program, compiled once in create; the
 * backend runs it fused, so the same plugin runs on every backend.  It keeps
 * no per-parameter state.
 *
 * Build: cc -O2 $(pkg-config --cflags dlhost) -shared -fPIC -o signsgd.so signsgd.c
 * Use:   optimizer = { type = "signsgd"; lr = 1e-3; weight_decay = 0.0; }; */
#include <stdlib.h>

#include <dlhost/dlhost.h>

typedef struct signsgd {
    const dlh_host *host;           /* destroy gets no host of its own */
    dlh_ew_kernel *update;
    float weight_decay;
} signsgd;

/* Arrays are numbered in declaration order (g = 0, p = 1), scalars too. */
static const char signsgd_source[] =
    "in g; inout p; scalar lr, wd;\n"
    "p = p - lr*sign(g + wd*p);\n";

static int signsgd_create(const dlh_host *host, dlh_optimizer_setup *setup, void **state)
{
    signsgd *s = calloc(1, sizeof(*s));
    if (!s) {
        host->error("signsgd: out of memory");
        return DLH_ENOMEM;
    }
    *state = s;                     /* destroy runs even if the rest fails */
    s->host = host;

    const double def_wd = 0.0;
    double wd;
    int rc = host->param_float(setup->params, "weight_decay", &def_wd, 0.0, 1e6, &wd);
    if (rc < 0)
        return rc;
    s->weight_decay = (float)wd;
    return host->ew_compile(setup->backend, signsgd_source, &s->update);
}

static int signsgd_step(void *state, const dlh_optimizer_ctx *ctx, const dlh_tensor *param,
                        const dlh_tensor *grad, const dlh_tensor *states)
{
    signsgd *s = state;
    size_t n = (size_t)dlh_tensor_numel(param);
    dlh_ew_arg args[2] = { dlh_ew_full(grad->mem, n), dlh_ew_full(param->mem, n) };
    float scalars[2] = { ctx->lr, s->weight_decay };

    (void)states;
    return s->host->ew_run(s->update, n, args, scalars);
}

static void signsgd_destroy(void *state)
{
    signsgd *s = state;
    if (!s)
        return;
    s->host->ew_free(s->update);
    free(s);
}

static const dlh_optimizer_ops signsgd_ops = {
    .struct_size = sizeof(dlh_optimizer_ops),
    .create = signsgd_create,
    .step = signsgd_step,
    .destroy = signsgd_destroy,
};

static int signsgd_init(const dlh_host *host, dlh_registrar *reg)
{
    (void)host;                     /* create receives it again */
    return reg->add(reg, DLH_KIND_OPTIMIZER, "signsgd", &signsgd_ops,
                    "sign-SGD: p -= lr*sign(g + weight_decay*p) (example plugin)");
}

DLH_PLUGIN("signsgd", "1.0.0", "sign-SGD optimiser, an out-of-tree example", "MIT",
           signsgd_init)
