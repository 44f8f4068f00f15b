/* lbfgs (plugins/optimizers/lbfgs.c, ABI 1.6 step_all and closure) against
 * torch.optim.LBFGS 1.13: softmax regression (dense 3 and cross-entropy) on
 * 96 samples, full batch, from torch's start weights, for LB_STEPS steps of
 * each case of tests/ref/lbfgs_ref.h (line_search_fn none and
 * "strong_wolfe", defaults and small histories that wrap): the weights
 * after every step within 1e-5 relative per tensor, the loss every step
 * returns, and torch's n_iter and func_evals counters exactly.  The model
 * is wired by hand and the test gives the optimiser its own closure
 * (forward, loss, backward over the batch), as a program embedding
 * libdlhost would.
 *
 * On cpu it also runs the same problem through `dlhost run` (the core's
 * closure, core/closure.c) from zero weights and checks the final weights
 * against torch's, the checkpoint's "optim.*" state, and the parameter
 * group refusal.  Built twice: on cpu, and as test_lbfgs_opencl on the
 * backend LBFGS_BACKEND names. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlhost/dlhost.h>

#include "error.h"
#include "instance.h"
#include "params.h"
#include "registry.h"
#include "run.h"
#include "safetensors.h"
#include "tap.h"
#include "tmpdir.h"

#include "ref/lbfgs_ref.h"      /* tests/ref/lbfgs_ref.py */

#ifndef LBFGS_BACKEND
#define LBFGS_BACKEND "cpu"
#endif

#define LB_TOL 1e-5

typedef struct net {
    dlh_backend *be;
    dlh_layer_inst *l;
    dlh_loss_inst *loss;
    dlh_tensor x, y, out, d_out;
    dlh_tensor scratch[8], loss_scratch[8];
    int evals;
} net;

static void bail(const char *what, int rc)
{
    printf("Bail out! %s: %s (%s)\n", what, dlh_error_get(), dlh_strerror(rc));
    exit(1);
}

/* torch's closure: zero_grad, forward, loss, backward over the batch. */
static int closure(void *ctx, double *loss)
{
    net *n = ctx;
    dlh_layer_ctx c;
    dlh_loss_ctx lc;
    dlh_tensor none;
    float l;
    int rc;
    n->evals++;
    memset(&none, 0, sizeof none);
    dlh_layer_ctx_fill(n->l, LB_N, 1, 0, 1, &c, n->scratch);
    dlh_loss_ctx_fill(n->loss, LB_N, &lc, n->loss_scratch);
    if ((rc = n->l->ops->forward(n->l->state, &c, &n->x, &n->out)) ||
        (rc = n->loss->ops->forward(n->loss->state, &lc, &n->out, &n->y, &l, &n->d_out)) ||
        (rc = dlh_layer_zero_grad(n->l)) ||
        (rc = n->l->ops->backward(n->l->state, &c, &n->x, &n->out, &n->d_out, &none)))
        return rc;
    *loss = (double)l;
    return 0;
}

/* Every params view handed out, freed at the end. */
static dlh_params *lb_params[32];
static int lb_n_params;

static dlh_params *group(dlh_config *cfg, const char *key, const char *label)
{
    dlh_params *p = dlh_params_new(cfg, config_setting_get_member(dlh_config_root(cfg), key),
                                   label, NULL);
    if (!p || lb_n_params == 32)
        bail("params", DLH_ENOMEM);
    return lb_params[lb_n_params++] = p;
}

/* The model, its data and torch's start weights on the backend. */
static void net_build(net *n, dlh_config *cfg)
{
    const dlh_host *host = dlh_host_table();
    dlh_shape in = { 1, { LB_D } };
    int64_t xs[2] = { LB_N, LB_D }, os[2] = { LB_N, LB_C }, ys[1] = { LB_N };
    int rc;
    if ((rc = dlh_layer_new(n->be, "dense", "fc", group(cfg, "fc", "layer 'fc'"), 1, &in,
                            LB_N, NULL, 1, &n->l)) ||
        (rc = dlh_loss_new(n->be, "cross_entropy", group(cfg, "loss", "loss"), &n->l->output,
                           DLH_TARGET_CLASS, LB_C, LB_N, &n->loss)) ||
        (rc = dlh_tensor_alloc(n->be, 2, xs, &n->x)) ||
        (rc = dlh_tensor_alloc(n->be, 1, ys, &n->y)) ||
        (rc = dlh_tensor_alloc(n->be, 2, os, &n->out)) ||
        (rc = dlh_tensor_alloc(n->be, 2, os, &n->d_out)) ||
        (rc = host->tensor_write(n->be, &n->x, lb_x)) ||
        (rc = host->tensor_write(n->be, &n->y, lb_y)))
        bail("model", rc);
}

static void net_start(net *n)
{
    const dlh_host *host = dlh_host_table();
    int rc;
    if ((rc = host->tensor_write(n->be, &n->l->params[0].value, lb_w0)) ||
        (rc = host->tensor_write(n->be, &n->l->params[1].value, lb_b0)))
        bail("start weights", rc);
}

/* The larger of |a - b| / max |b| over the weight and the bias. */
static double worst_rel(const float *a, const float *b)
{
    static const int sizes[2] = { LB_C * LB_D, LB_C };
    double worst = 0.0;
    for (int k = 0, off = 0; k < 2; off += sizes[k], k++) {
        double dmax = 0.0, bmax = 0.0;
        for (int i = off; i < off + sizes[k]; i++) {
            dmax = fmax(dmax, fabs((double)a[i] - (double)b[i]));
            bmax = fmax(bmax, fabs((double)b[i]));
        }
        worst = fmax(worst, bmax > 0.0 ? dmax / bmax : dmax);
    }
    return worst;
}

static void read_weights(net *n, float *flat)
{
    const dlh_host *host = dlh_host_table();
    int rc;
    if ((rc = host->tensor_read(n->be, &n->l->params[0].value, flat)) ||
        (rc = host->tensor_read(n->be, &n->l->params[1].value, flat + LB_C * LB_D)))
        bail("read weights", rc);
}

/* The optimiser's global "name" (a scalar). */
static float global_scalar(const dlh_optimizer_inst *o, const char *name)
{
    float v = NAN;
    for (int i = 0; i < o->n_globals; i++)
        if (strcmp(o->global_decl[i].name, name) == 0 &&
            dlh_host_table()->tensor_read(o->backend, &o->globals[i], &v))
            return NAN;
    return v;
}

static void check_case(net *n, const lb_case *c)
{
    char text[512];
    snprintf(text, sizeof text, "fc = { units = %d; }; loss = { }; opt = { %s };\n", LB_C,
             c->params);
    dlh_config *cfg;
    int rc = dlh_config_load_string(text, "lbfgs.cfg", &cfg);
    if (rc)
        bail("config", rc);
    if (!n->l)
        net_build(n, cfg);
    net_start(n);
    dlh_optimizer_inst *o;
    if ((rc = dlh_optimizer_new(n->be, "lbfgs", group(cfg, "opt", "optimizer"), &o)) ||
        (rc = dlh_optimizer_bind(o, 2, LB_NP)))
        bail(c->name, rc);
    for (int k = 0; k < 2; k++) {
        o->params[k] = n->l->params[k].value;
        o->grads[k] = n->l->params[k].grad;
    }
    static const char *const names[2] = { "fc.weight", "fc.bias" };
    static const int32_t roles[2] = { DLH_ROLE_WEIGHT, DLH_ROLE_BIAS };
    float w[LB_NP];
    double worst = 0.0, worst_loss = 0.0;
    int worst_step = 0;
    n->evals = 0;
    for (int s = 0; s < c->steps && rc == 0; s++) {
        double loss;
        if ((rc = closure(n, &loss)))      /* the core's evaluation */
            break;
        dlh_optimizer_all_ctx ctx = {
            .struct_size = sizeof ctx, .backend = n->be, .t = s + 1, .lr = c->lr,
            .n_params = 2, .params = o->params, .grads = o->grads, .names = names,
            .roles = roles, .globals = o->globals, .numel = LB_NP, .loss = loss,
            .closure = closure, .closure_ctx = n,
        };
        if ((rc = o->ops->step_all(o->state, &ctx)))
            break;
        read_weights(n, w);
        double e = worst_rel(w, c->traj[s]);
        if (e > worst) {
            worst = e;
            worst_step = s + 1;
        }
        worst_loss = fmax(worst_loss, fabs(loss - c->loss[s]) / fabs(c->loss[s]));
    }
    ok(rc == 0, "%s: %d steps run (%s)", c->name, c->steps, rc ? dlh_error_get() : "ok");
    ok(worst <= LB_TOL, "%s: every step's weights within %g of torch's (worst %.2g at "
       "step %d)", c->name, LB_TOL, worst, worst_step);
    ok(worst_loss <= LB_TOL, "%s: every step returns torch's loss (worst %.2g)", c->name,
       worst_loss);
    float n_iter = global_scalar(o, "n_iter"), evals = global_scalar(o, "func_evals");
    diag("%s: torch's own float64 run differs from its float32 one by %.2g", c->name,
         c->torch64);
    /* Where torch's float64 run differs by more than the tolerance, the
       line search at the optimum compares float32 losses that tie, and so
       do its evaluation counts. */
    if (c->torch64 <= LB_TOL)
        ok(n_iter == (float)c->n_iter && evals == (float)c->func_evals &&
           (int)evals == n->evals, "%s: n_iter %g and func_evals %g are torch's (%d, %d); "
           "%d closure calls", c->name, (double)n_iter, (double)evals, c->n_iter,
           c->func_evals, n->evals);
    else
        ok(n_iter == (float)c->n_iter && (int)evals == n->evals, "%s: n_iter %g is torch's "
           "(%d); func_evals %g counts the %d closure calls (torch: %d)", c->name,
           (double)n_iter, c->n_iter, (double)evals, n->evals, c->func_evals);
    dlh_optimizer_free(o);
    dlh_config_free(cfg);
}

/* ---- through `dlhost run` (cpu): the core's closure */

static void check_run(void)
{
    char dir[4096], path[4600], text[2048], runs[4400];
    tmpdir_make(dir, sizeof dir, NULL, "test_lbfgs");
    snprintf(path, sizeof path, "%s/data.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        bail(path, DLH_EIO);
    fprintf(f, "x1,x2,x3,x4,x5,c\n");
    for (int i = 0; i < LB_N; i++) {
        for (int j = 0; j < LB_D; j++)
            fprintf(f, "%.9g,", (double)lb_x[LB_D * i + j]);
        fprintf(f, "%d\n", (int)lb_y[i]);
    }
    fclose(f);
    snprintf(text, sizeof text,
             "name = \"lb\"; seed = 1;\n"
             "backend = { type = \"cpu\"; threads = 2; };\n"
             "data = { train = { type = \"csv\"; path = \"data.csv\"; header = true; }; };\n"
             "model = ( { name = \"fc\"; type = \"dense\"; units = %d; init = \"zeros\"; "
             "bias_init = \"zeros\"; } );\n"
             "loss = { type = \"cross_entropy\"; };\n"
             "optimizer = { type = \"lbfgs\"; lr = 0.3; line_search_fn = \"strong_wolfe\"; "
             "max_iter = 1; history_size = 4; };\n"
             "train = { epochs = %d; batch_size = %d; shuffle = false; };\n",
             LB_C, LB_RUN_STEPS, LB_N);
    tmpdir_put(dir, "lb.cfg", text);
    snprintf(path, sizeof path, "%s/lb.cfg", dir);
    snprintf(runs, sizeof runs, "%s/runs", dir);
    dlh_config *cfg;
    char *out = NULL;
    size_t len = 0;
    int rc = dlh_config_load(path, &cfg);
    if (rc == 0) {
        FILE *o = open_memstream(&out, &len);
        dlh_run_options opt = { .runs_root = runs };
        rc = dlh_run_ex(cfg, NULL, &opt, o);
        fclose(o);
        dlh_config_free(cfg);
    }
    ok(rc == 0, "dlhost run with lbfgs, full batch: %s", rc ? dlh_error_get() : "ok");
    free(out);
    snprintf(path, sizeof path, "%s/lb/last.safetensors", runs);
    dlh_st_file *st = NULL;
    if (rc == 0 && (rc = dlh_st_read(path, &st)) == 0) {
        static const char *const names[2] = { "fc.weight", "fc.bias" };
        float w[LB_NP];
        int off = 0, found = 1;
        for (int k = 0; k < 2 && found; k++) {
            const dlh_st_entry *e = dlh_st_find(st, names[k]);
            found = e != NULL;
            size_t numel = 1;
            for (int d = 0; found && d < e->ndim; d++)
                numel *= (size_t)e->shape[d];
            if (found) {
                memcpy(w + off, e->data, numel * sizeof(float));
                off += (int)numel;
            }
        }
        double worst = found && off == LB_NP ? worst_rel(w, lb_run_final) : INFINITY;
        ok(worst <= LB_TOL, "after %d epochs of one batch the weights are torch's within "
           "%g (worst %.2g)", LB_RUN_STEPS, LB_TOL, worst);
        static const char *const state[] = {
            "optim.d", "optim.t", "optim.old_dirs", "optim.old_stps", "optim.ro",
            "optim.H_diag", "optim.prev_flat_grad", "optim.prev_loss", "optim.n_iter",
            "optim.func_evals", "optim.history_len", "optim.history_start",
        };
        int all = 1;
        for (size_t i = 0; i < sizeof state / sizeof state[0]; i++)
            all &= dlh_st_find(st, state[i]) != NULL;
        const dlh_st_entry *dirs = dlh_st_find(st, "optim.old_dirs");
        ok(all && dirs && dirs->ndim == 2 && dirs->shape[0] == 4 && dirs->shape[1] == LB_NP &&
           !dlh_st_find(st, "optim.pool"), "the checkpoint keeps torch's LBFGS state as "
           "optim.<name> (old_dirs [history_size, N]), not the scratch");
        dlh_st_free(st);
    } else {
        ok(0, "last.safetensors: %s", dlh_error_get());
    }
    tmpdir_remove(dir);
}

static void check_groups(dlh_backend *be)
{
    dlh_config *cfg;
    int rc = dlh_config_load_string("a = { }; b = { };", "g.cfg", &cfg);
    if (rc)
        bail("config", rc);
    dlh_optimizer_inst *lb = NULL, *adam = NULL;
    if ((rc = dlh_optimizer_new(be, "lbfgs", group(cfg, "a", "optimizer"), &lb)) ||
        (rc = dlh_optimizer_new(be, "adam", group(cfg, "b", "optimizer"), &adam)))
        bail("optimizers", rc);
    ok(lb->default_lr == 1.0, "lbfgs's default learning rate is torch's, 1");
    ok(dlh_optimizer_check_groups(lb, "lbfgs", 1) == 0, "lbfgs takes one parameter group");
    rc = dlh_optimizer_check_groups(lb, "lbfgs", 2);
    ok(rc == DLH_ECONFIG && strcmp(dlh_error_get(), "lbfgs doesn't support per-parameter "
                                   "options (parameter groups)") == 0,
       "two groups: torch's refusal (%s)", dlh_error_get());
    ok(dlh_optimizer_check_groups(adam, "adam", 3) == 0, "adam takes several groups");
    dlh_optimizer_free(lb);
    dlh_optimizer_free(adam);
    dlh_config_free(cfg);
}

int main(void)
{
    if (!getenv("DLHOST_PLUGIN_PATH"))
        skip_all("DLHOST_PLUGIN_PATH is not set (run through make check)");
    if (dlh_registry_load_all(0) < 0)
        bail("load plugins", DLH_EPLUGIN);
    if (strcmp(LBFGS_BACKEND, "cpu") != 0 &&
        !dlh_registry_find(DLH_KIND_BACKEND, LBFGS_BACKEND)) {
        dlh_registry_clear();
        skip_all(LBFGS_BACKEND ": no plugin on the plugin path registers it");
    }
    net n;
    memset(&n, 0, sizeof n);
    int rc = dlh_backend_open(LBFGS_BACKEND, NULL, &n.be);
    if (rc == DLH_EDEVICE && strstr(dlh_error_get(), "not usable on this machine")) {
        printf("1..0 # SKIP " LBFGS_BACKEND ": %s\n", dlh_error_get());
        dlh_registry_clear();
        return 0;
    }
    if (rc)
        bail("open the " LBFGS_BACKEND " backend", rc);
    diag("on the %s backend", LBFGS_BACKEND);
    for (size_t i = 0; i < sizeof lb_cases / sizeof lb_cases[0]; i++)
        check_case(&n, &lb_cases[i]);
    if (strcmp(LBFGS_BACKEND, "cpu") == 0) {
        check_groups(n.be);
        check_run();
    }
    dlh_layer_free(n.l);
    dlh_loss_free(n.loss);
    dlh_tensor_free(n.be, &n.out);
    dlh_tensor_free(n.be, &n.d_out);
    dlh_tensor_free(n.be, &n.x);
    dlh_tensor_free(n.be, &n.y);
    dlh_backend_close(n.be);
    for (int i = 0; i < lb_n_params; i++)
        dlh_params_free(lb_params[i]);
    dlh_registry_clear();
    return done_testing();
}
