/* Entry point of the "optimizers" plugin, and the helpers its optimisers
 * share. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "optimizers.h"

const dlh_host *optimizers_host;

double optimizers_float_decimal(float f)
{
    char buf[48];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f)
            return strtod(buf, NULL);
    }
    return (double)f;
}

int optimizers_pair(const dlh_host *host, dlh_params *p, const char *key,
                    const double def[2], double out[2])
{
    float v[2];
    size_t n = 0;
    int rc = host->param_floats(p, key, v, 2, &n);
    if (rc < 0)
        return rc;
    if (n == 0 && host->param_has(p, key))
        return host->param_error(p, key, "expected two numbers, got an empty list");
    if (n == 1)
        return host->param_error(p, key, "expected two numbers, got one");
    for (int i = 0; i < 2; i++) {
        out[i] = n ? optimizers_float_decimal(v[i]) : def[i];
        if (!isfinite(out[i]))
            return host->param_error(p, key, "expected finite numbers");
    }
    return 0;
}

int optimizers_betas(const dlh_host *host, dlh_params *p, double def1, double def2,
                     double out[2])
{
    const double def[2] = { def1, def2 };
    int rc = optimizers_pair(host, p, "betas", def, out);
    for (int i = 0; rc == 0 && i < 2; i++)
        if (!(out[i] >= 0.0 && out[i] < 1.0))
            return host->param_error(p, "betas", "Invalid beta parameter at index %d: %g",
                                     i, out[i]);
    return rc;
}

int optimizers_number(const dlh_host *host, dlh_params *p, const char *key, double def,
                      double lo, double hi, const char *what, double *out)
{
    int rc = host->param_float(p, key, &def, -HUGE_VAL, HUGE_VAL, out);
    if (rc < 0)
        return rc;
    if (!(*out >= lo && *out <= hi))
        return host->param_error(p, key, "Invalid %s: %g", what, *out);
    return 0;
}

void optimizers_default_lr(dlh_optimizer_setup *setup, double lr)
{
    if (setup->struct_size >= offsetof(dlh_optimizer_setup, default_lr) + sizeof(double))
        setup->default_lr = lr;
}

int optimizers_check_ctx(const char *name, const dlh_optimizer_ctx *ctx)
{
    if (ctx->struct_size < offsetof(dlh_optimizer_ctx, scratch) + sizeof ctx->scratch) {
        optimizers_host->error("%s: the host's step context predates ABI 1.5", name);
        return DLH_EPLUGIN;
    }
    if (ctx->step < 1) {
        optimizers_host->error("%s: step number %lld; steps count from 1", name,
                               (long long)ctx->step);
        return DLH_EINVAL;
    }
    return 0;
}

int optimizers_compile(dlh_optimizer_setup *setup, const char *src, dlh_ew_kernel **kernel)
{
    return optimizers_host->ew_compile(setup->backend, src, kernel);
}

void *optimizers_new_state(const dlh_host *host, size_t size, void **state)
{
    *state = calloc(1, size);
    if (!*state)
        host->error("out of memory");
    return *state;
}

void optimizers_destroy(void *state)
{
    optimizers_base *b = state;
    if (!b)
        return;
    for (int i = 0; i < 2; i++)
        optimizers_host->ew_free(b->kernel[i]);
    free(b);
}

static int optimizers_init(const dlh_host *host, dlh_registrar *reg)
{
    static const struct {
        const char *name;
        const dlh_optimizer_ops *ops;
        const char *description;
        const dlh_param_doc *params;
    } all[] = {
        { "sgd", &sgd_ops, "stochastic gradient descent with momentum (torch.optim.SGD)",
          sgd_params },
        { "adam", &adam_ops, "Adam with optional amsgrad (torch.optim.Adam)", adam_params },
        { "rmsprop", &rmsprop_ops, "RMSprop with momentum and centering (torch.optim.RMSprop)",
          rmsprop_params },
        { "adamw", &adamw_ops, "Adam with decoupled weight decay (torch.optim.AdamW)",
          adamw_params },
        { "nadam", &nadam_ops, "Adam with Nesterov momentum (torch.optim.NAdam)", nadam_params },
        { "radam", &radam_ops, "rectified Adam (torch.optim.RAdam)", radam_params },
        { "adamax", &adamax_ops, "Adam with the infinity norm (torch.optim.Adamax)",
          adamax_params },
        { "adagrad", &adagrad_ops, "Adagrad (torch.optim.Adagrad)", adagrad_params },
        { "adadelta", &adadelta_ops, "Adadelta (torch.optim.Adadelta)", adadelta_params },
        { "asgd", &asgd_ops, "averaged SGD (torch.optim.ASGD)", asgd_params },
        { "rprop", &rprop_ops, "resilient backpropagation (torch.optim.Rprop)", rprop_params },
        { "lion", &lion_ops, "Lion, sign of interpolated momentum (Chen et al. 2023)",
          lion_params },
        { "lamb", &lamb_ops, "LAMB, Adam with a layer-wise trust ratio (You et al. 2019)",
          lamb_params },        { "lbfgs", &lbfgs_ops, "L-BFGS with optional strong Wolfe line search, "
          "full-batch (torch.optim.LBFGS)", lbfgs_params },
    };
    optimizers_host = host;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        int rc = reg->add(reg, DLH_KIND_OPTIMIZER, all[i].name, all[i].ops,
                          all[i].description);
        if (rc < 0 ||
            (rc = reg->describe(reg, DLH_KIND_OPTIMIZER, all[i].name, all[i].params)) < 0)
            return rc;
    }
    return 0;
}

DLH_PLUGIN("optimizers", "0.2.0", "optimisers: sgd, adam, rmsprop, adamw, nadam, radam, "
           "adamax, adagrad, adadelta, asgd, rprop, lion, lamb, lbfgs", "MIT", optimizers_init)
