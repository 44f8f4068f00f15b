/* Helpers of the gradient tests; the checker itself is core/numgrad.c. */
#include "gradcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "registry.h"

tparams tp_new(const char *body, const char *label)
{
    tparams t = { NULL, NULL };
    char text[1024];
    snprintf(text, sizeof text, "g = {\n%s\n};\n", body);
    if (dlh_config_load_string(text, "test.cfg", &t.cfg) < 0) {
        printf("# config: %s\n", dlh_error_get());
        return t;
    }
    t.p = dlh_params_new(t.cfg, config_setting_get_member(dlh_config_root(t.cfg), "g"),
                         label, NULL);
    return t;
}

void tp_free(tparams *t)
{
    dlh_params_free(t->p);
    dlh_config_free(t->cfg);
}

dlh_shape shape_of(int ndim, const int64_t *dims)
{
    dlh_shape s = { ndim, { 0 } };
    for (int i = 0; i < ndim; i++)
        s.dim[i] = dims[i];
    return s;
}

/* ------------------------------------------------------------ running layers */

int gc_layer_make(const dlh_backend *be, const char *type, const char *body, int n_inputs,
                  int ndim, const int64_t *dims, dlh_layer_inst **out)
{
    tparams t = tp_new(body, "layer");
    dlh_shape in[2] = { shape_of(ndim, dims), shape_of(ndim, dims) };
    *out = NULL;
    int rc = t.p ? dlh_layer_new(be, type, "act", t.p, n_inputs, in, 64, NULL, 42, out)
                 : DLH_ECONFIG;
    if (rc < 0)
        *out = NULL;
    tp_free(&t);
    return rc < 0 ? rc : 0;
}

int gc_layer_fwd_bwd(const dlh_backend *be, dlh_layer_inst *l, int64_t batch, int training,
                 int64_t step, uint64_t seed, const float *x, float *y, const float *dy,
                 float *dx, dlh_layer_ctx *ctx_out)
{
    return gc_layer_run(be, l, &l->output, batch, training, step, seed, x, y, dy, dx,
                        ctx_out);
}

int gc_layer_run(const dlh_backend *be, dlh_layer_inst *l, const dlh_shape *in,
                 int64_t batch, int training, int64_t step, uint64_t seed, const float *x,
                 float *y, const float *dy, float *dx, dlh_layer_ctx *ctx_out)
{
    const dlh_host *host = dlh_host_table();
    int64_t xs[DLH_MAX_DIMS + 1], ys[DLH_MAX_DIMS + 1];
    xs[0] = ys[0] = batch;
    for (int i = 0; i < in->ndim; i++)
        xs[i + 1] = in->dim[i];
    for (int i = 0; i < l->output.ndim; i++)
        ys[i + 1] = l->output.dim[i];
    dlh_tensor tx = { 0 }, ty = { 0 }, tdy = { 0 }, tdx = { 0 };
    dlh_tensor *views = calloc((size_t)l->n_scratch + 1, sizeof *views);
    int rc = views ? 0 : DLH_ENOMEM;
    rc = rc < 0 ? rc : dlh_tensor_alloc(be, in->ndim + 1, xs, &tx);
    rc = rc < 0 ? rc : dlh_tensor_alloc(be, in->ndim + 1, xs, &tdx);
    rc = rc < 0 ? rc : dlh_tensor_alloc(be, l->output.ndim + 1, ys, &ty);
    rc = rc < 0 ? rc : dlh_tensor_alloc(be, l->output.ndim + 1, ys, &tdy);
    rc = rc < 0 ? rc : host->tensor_write(be, &tx, x);
    rc = rc < 0 ? rc : dlh_layer_zero_grad(l);
    dlh_layer_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    if (rc == 0)
        dlh_layer_ctx_fill(l, batch, training, step, seed, &ctx, views);
    rc = rc < 0 ? rc : l->ops->forward(l->state, &ctx, &tx, &ty);
    rc = rc < 0 ? rc : host->tensor_read(be, &ty, y);
    if (dy) {
        rc = rc < 0 ? rc : host->tensor_write(be, &tdy, dy);
        rc = rc < 0 ? rc : l->ops->backward(l->state, &ctx, &tx, &ty, &tdy, &tdx);
        rc = rc < 0 ? rc : host->tensor_read(be, &tdx, dx);
    }
    if (rc == 0 && ctx_out)
        *ctx_out = ctx;
    dlh_tensor_free(be, &tx);
    dlh_tensor_free(be, &ty);
    dlh_tensor_free(be, &tdy);
    dlh_tensor_free(be, &tdx);
    free(views);
    return rc;
}
