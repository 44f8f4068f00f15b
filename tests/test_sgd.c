/* sgd against torch.optim.SGD: 5-step trajectories on a small vector for
 * each option, compared with a double-precision transcription of
 * _single_tensor_sgd (torch/optim/sgd.py), anchored by hand-computed values;
 * the option refusals; and the constant schedule. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "instance.h"
#include "params.h"
#include "registry.h"
#include "tap.h"

#define N 4
#define STEPS 5

static dlh_backend *be;

typedef struct sgd_opts {
    const char *body;           /* the optimizer group */
    double momentum, dampening, weight_decay;
    int nesterov, maximize;
} sgd_opts;

/* torch/optim/sgd.py, _single_tensor_sgd, for one parameter tensor:
 *     grad = grad if not maximize else -grad
 *     if weight_decay != 0: grad = grad.add(param, alpha=weight_decay)
 *     if momentum != 0:
 *         if buf is None: buf = torch.clone(grad).detach()
 *         else: buf.mul_(momentum).add_(grad, alpha=1 - dampening)
 *         if nesterov: grad = grad.add(buf, alpha=momentum)
 *         else: grad = buf
 *     param.add_(grad, alpha=-lr) */
static void ref_sgd_step(const sgd_opts *o, double *param, const double *grads,
                         double *buf, int *have_buf, double lr)
{
    for (int i = 0; i < N; i++) {
        double grad = o->maximize ? -grads[i] : grads[i];
        if (o->weight_decay != 0)
            grad = grad + o->weight_decay * param[i];
        if (o->momentum != 0) {
            if (!*have_buf)
                buf[i] = grad;
            else
                buf[i] = buf[i] * o->momentum + (1 - o->dampening) * grad;
            if (o->nesterov)
                grad = grad + o->momentum * buf[i];
            else
                grad = buf[i];
        }
        param[i] = param[i] + -lr * grad;
    }
    if (o->momentum != 0)
        *have_buf = 1;
}

/* The loss behind the gradients: sum (p - c)^2, plus a drift that changes
   with the step so that momentum has something to remember. */
static const double target_c[N] = { 0.5, 0.5, -1.0, 1.0 };
static const double p_start[N] = { 1.0, -0.5, 0.25, 2.0 };

static double grad_at(double p, int i, int t)
{
    return 2.0 * (p - target_c[i]) + 0.05 * t * (i - 1.5);
}

static double lr_at(int t)
{
    return 0.1 * (1.0 - 0.1 * (t - 1));
}

typedef struct tparams {
    dlh_config *cfg;
    dlh_params *p;
} tparams;

static tparams tp_new(const char *body)
{
    tparams t = { NULL, NULL };
    char text[1024];
    snprintf(text, sizeof text, "optimizer = {\n%s\n};\n", body);
    if (dlh_config_load_string(text, "test.cfg", &t.cfg) < 0)
        return t;
    t.p = dlh_params_new(t.cfg, config_setting_get_member(dlh_config_root(t.cfg),
                                                          "optimizer"),
                         "optimizer 'sgd'", NULL);
    return t;
}

static void tp_free(tparams *t)
{
    dlh_params_free(t->p);
    dlh_config_free(t->cfg);
}

static int sgd_new(const char *body, dlh_optimizer_inst **o)
{
    tparams t = tp_new(body);
    int rc = t.p ? dlh_optimizer_new(be, "sgd", t.p, o) : DLH_ECONFIG;
    tp_free(&t);
    return rc;
}

/* Runs `steps` steps of sgd over n values from p0, with gradients from
   grad_at (or 2p when simple) and lr from lr_at (or 0.1 when simple);
   writes the parameter after each step into traj[step * n + i]. */
static int run_sgd(const char *body, int n, const double *p0, int simple, int steps,
                   double *traj)
{
    const dlh_host *host = dlh_host_table();
    dlh_optimizer_inst *o = NULL;
    int rc = sgd_new(body, &o);
    if (rc < 0)
        return rc;
    int64_t shape[1] = { n };
    dlh_tensor param, grad, states[4];
    memset(states, 0, sizeof states);
    float hp[N], hg[N];
    if (o->n_states > 4) {
        dlh_optimizer_free(o);
        return DLH_EINVAL;
    }
    rc = dlh_tensor_alloc(be, 1, shape, &param);
    if (rc == 0 && (rc = dlh_tensor_alloc(be, 1, shape, &grad)) < 0)
        dlh_tensor_free(be, &param);
    if (rc < 0) {
        dlh_optimizer_free(o);
        return rc;
    }
    rc = dlh_optimizer_states_alloc(o, &param, states);
    for (int i = 0; i < n; i++)
        hp[i] = (float)p0[i];
    rc = rc < 0 ? rc : host->tensor_write(be, &param, hp);
    for (int t = 1; rc == 0 && t <= steps; t++) {
        for (int i = 0; i < n; i++)
            hg[i] = (float)(simple ? 2.0 * hp[i] : grad_at(hp[i], i, t));
        dlh_optimizer_ctx ctx = { .struct_size = sizeof ctx, .backend = be, .t = t,
            .lr = (float)(simple ? 0.1 : lr_at(t)) };
        if ((rc = host->tensor_write(be, &grad, hg)) < 0 ||
            (rc = o->ops->step(o->state, &ctx, &param, &grad, states)) < 0 ||
            (rc = host->tensor_read(be, &param, hp)) < 0)
            break;
        for (int i = 0; i < n; i++)
            traj[(t - 1) * n + i] = hp[i];
    }
    for (int i = 0; i < o->n_states; i++)
        dlh_tensor_free(be, &states[i]);
    dlh_tensor_free(be, &param);
    dlh_tensor_free(be, &grad);
    dlh_optimizer_free(o);
    return rc;
}

static void check_trajectory(const sgd_opts *o, const char *what)
{
    double traj[STEPS * N], ref[N], buf[N] = { 0 }, g[N];
    int have_buf = 0;
    int rc = run_sgd(o->body, N, p_start, 0, STEPS, traj);
    if (!ok(rc == 0, "%s: 5 steps run", what)) {
        diag("%s", dlh_error_get());
        return;
    }
    memcpy(ref, p_start, sizeof ref);
    double maxerr = 0;
    for (int t = 1; t <= STEPS; t++) {
        for (int i = 0; i < N; i++)
            g[i] = grad_at(ref[i], i, t);
        ref_sgd_step(o, ref, g, buf, &have_buf, lr_at(t));
        for (int i = 0; i < N; i++) {
            double e = fabs(traj[(t - 1) * N + i] - ref[i]) / fmax(1.0, fabs(ref[i]));
            maxerr = fmax(maxerr, e);
        }
    }
    ok(maxerr < 2e-6, "%s: trajectory matches torch's _single_tensor_sgd "
       "(max rel err %.2e; final p[0] %.6f)", what, maxerr, traj[(STEPS - 1) * N]);
}

/* Hand-computed anchors: one value p0 = 1, gradient 2p, lr 0.1.  For
 * example momentum 0.9: buf 2, p 0.8; g 1.6, buf 1.8 + 1.6 = 3.4, p 0.46;
 * g 0.92, buf 3.06 + 0.92 = 3.98, p 0.062; then -0.3086, -0.58042.
 * Nesterov: g 2, buf 2, step 2 + 0.9*2 = 3.8, p 0.62; g 1.24, buf 3.04,
 * step 1.24 + 2.736 = 3.976, p 0.2224; ... -0.4157175808.
 * Dampening 0.5: p 0.8; buf 1.8 + 0.8 = 2.6, p 0.54; ... -0.28512.
 * Weight decay 0.5: step (2 + 0.5) p, p *= 0.75 each step: 0.75^5.
 * Plain: p *= 0.8: 0.8^5; maximize: p *= 1.2: 1.2^5. */
static void check_anchor(const sgd_opts *o, double want5, const char *what)
{
    double p0 = 1.0, traj[STEPS], g[N] = { 0 };
    double refv[N] = { 1.0 }, bufv[N] = { 0 };
    int have_buf = 0;
    int rc = run_sgd(o->body, 1, &p0, 1, STEPS, traj);
    is_float(rc == 0 ? traj[STEPS - 1] : NAN, want5, 1e-6,
             "%s: p after 5 steps = %.10g (hand-computed)", what, want5);
    /* The transcription reproduces the anchor too. */
    for (int t = 1; t <= STEPS; t++) {
        g[0] = 2.0 * refv[0];
        ref_sgd_step(o, refv, g, bufv, &have_buf, 0.1);
    }
    is_float(refv[0], want5, 1e-12, "%s: the reference transcription agrees", what);
}

static void check_refusals(void)
{
    dlh_optimizer_inst *o = NULL;
    int rc = sgd_new("nesterov = true;", &o);
    const char *msg = dlh_error_get();
    ok(rc == DLH_ECONFIG && o == NULL &&
       strstr(msg, "Nesterov momentum requires a momentum and zero dampening"),
       "nesterov without momentum is refused (%s)", msg);
    rc = sgd_new("nesterov = true; momentum = 0.9; dampening = 0.1;", &o);
    msg = dlh_error_get();
    ok(rc == DLH_ECONFIG && o == NULL && strstr(msg, "zero dampening") &&
       strncmp(msg, "test.cfg:", 9) == 0,
       "nesterov with dampening is refused, located (%s)", msg);
    rc = sgd_new("momentum = -0.5;", &o);
    ok(rc == DLH_ECONFIG && strstr(dlh_error_get(), "momentum"),
       "negative momentum is refused (%s)", dlh_error_get());
    rc = sgd_new("weight_decay = -1.0;", &o);
    ok(rc == DLH_ECONFIG && strstr(dlh_error_get(), "weight_decay"),
       "negative weight_decay is refused (%s)", dlh_error_get());
    rc = sgd_new("momentm = 0.9;", &o);
    ok(rc == DLH_ECONFIG && strstr(dlh_error_get(), "momentm"),
       "a misspelt key is refused (%s)", dlh_error_get());

    rc = sgd_new("momentum = 0.9;", &o);
    ok(rc == 0 && o->n_states == 1 && strcmp(o->state_names[0], "momentum_buffer") == 0,
       "momentum declares the state 'momentum_buffer'");
    dlh_optimizer_free(o);
    o = NULL;
    rc = sgd_new("weight_decay = 0.1;", &o);
    ok(rc == 0 && o->n_states == 0, "no momentum: no state");
    dlh_optimizer_free(o);
}

static void check_constant_schedule(void)
{
    const dlh_component *c = dlh_registry_find(DLH_KIND_SCHEDULE, "constant");
    if (!ok(c != NULL, "schedule 'constant' is registered")) {
        diag("%s", dlh_error_get());
        return;
    }
    const dlh_schedule_ops *ops = c->ops;
    dlh_schedule_ctx ctx = { sizeof ctx, 0.025, 3, 1234, 100, 10, NAN };
    double lr = 0;
    int rc = ops->lr(NULL, &ctx, &lr);
    ok(rc == 0 && lr == 0.025, "constant: lr = base_lr at epoch 3, step 1234");
}

int main(void)
{
    if (dlh_registry_load_all(0) < 0 || dlh_backend_open("cpu", NULL, &be) < 0) {
        ok(0, "load plugins and open the cpu backend: %s", dlh_error_get());
        return done_testing();
    }
    static const sgd_opts plain = { "", 0, 0, 0, 0, 0 };
    static const sgd_opts wd = { "weight_decay = 0.1;", 0, 0, 0.1, 0, 0 };
    static const sgd_opts mom = { "momentum = 0.9;", 0.9, 0, 0, 0, 0 };
    static const sgd_opts damp = { "momentum = 0.9; dampening = 0.3;", 0.9, 0.3, 0, 0, 0 };
    static const sgd_opts nest = { "momentum = 0.9; nesterov = true;", 0.9, 0, 0, 1, 0 };
    static const sgd_opts maxi = { "maximize = true;", 0, 0, 0, 0, 1 };
    static const sgd_opts nest_wd = { "momentum = 0.7; nesterov = true; "
                                      "weight_decay = 0.05;", 0.7, 0, 0.05, 1, 0 };
    /* maximize negates the gradient before weight decay (torch >= 1.13). */
    static const sgd_opts all = { "momentum = 0.8; dampening = 0.1; weight_decay = 0.2; "
                                  "maximize = true;", 0.8, 0.1, 0.2, 0, 1 };
    check_trajectory(&plain, "plain");
    check_trajectory(&wd, "weight_decay 0.1");
    check_trajectory(&mom, "momentum 0.9");
    check_trajectory(&damp, "momentum 0.9, dampening 0.3");
    check_trajectory(&nest, "nesterov, momentum 0.9");
    check_trajectory(&maxi, "maximize");
    check_trajectory(&nest_wd, "nesterov, momentum 0.7, weight_decay 0.05");
    check_trajectory(&all, "momentum, dampening, weight_decay, maximize");

    static const sgd_opts a_wd = { "weight_decay = 0.5;", 0, 0, 0.5, 0, 0 };
    static const sgd_opts a_damp = { "momentum = 0.9; dampening = 0.5;", 0.9, 0.5, 0, 0, 0 };
    check_anchor(&plain, 0.32768, "plain");
    check_anchor(&mom, -0.58042, "momentum 0.9");
    check_anchor(&nest, -0.4157175808, "nesterov 0.9");
    check_anchor(&a_damp, -0.28512, "momentum 0.9, dampening 0.5");
    check_anchor(&a_wd, 0.2373046875, "weight_decay 0.5");
    check_anchor(&maxi, 2.48832, "maximize");

    check_refusals();
    check_constant_schedule();

    dlh_backend_close(be);
    dlh_registry_clear();
    return done_testing();
}
