/* adam and rmsprop against torch.optim.Adam and torch.optim.RMSprop:
 * 6-step trajectories on a small vector for each option combination,
 * compared with numbers PyTorch produced (tests/ref/optim_ref.py, pasted
 * below) and with double-precision transcriptions of _single_tensor_adam and
 * _single_tensor_rmsprop; hand-computed first steps; the declared states;
 * and the option refusals. */
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
#define STEPS 6
#define MAX_STATES 4
/* Errors are |got - want| / max(1, |want|): the parameters are of order 1,
   and a value that cancels to nearly 0 (rmsprop's first step) keeps float's
   absolute resolution near 1. */
#define TOL 1e-6

static dlh_backend *be;

/* ------------------------------------------------------------ torch's numbers */

#include "ref/optim_ref.h"   /* tests/ref/optim_ref.py; test_ref_live.sh re-checks it */

/* ------------------------------------------------------------ options */

typedef struct adam_opts {
    double beta1, beta2, eps, weight_decay;
    int amsgrad, maximize;
} adam_opts;

typedef struct rms_opts {
    double alpha, eps, weight_decay, momentum;
    int centered, maximize;
} rms_opts;

typedef struct opt_case {
    const char *name;           /* as in optim_ref.py */
    const char *type;           /* "adam" or "rmsprop" */
    const char *body;           /* the optimizer group */
    const double *ref;          /* torch's trajectory */
    adam_opts adam;
    rms_opts rms;
} opt_case;

/* torch/optim/adam.py, _single_tensor_adam, one tensor, in double:
 *     grad = grads[i] if not maximize else -grads[i]
 *     if weight_decay != 0: grad = grad.add(param, alpha=weight_decay)
 *     exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
 *     exp_avg_sq.mul_(beta2).addcmul_(grad, grad.conj(), value=1 - beta2)
 *     bias_correction1 = 1 - beta1 ** step
 *     bias_correction2 = 1 - beta2 ** step
 *     step_size = lr / bias_correction1
 *     bias_correction2_sqrt = math.sqrt(bias_correction2)
 *     if amsgrad:
 *         torch.maximum(max_exp_avg_sqs[i], exp_avg_sq, out=max_exp_avg_sqs[i])
 *         denom = (max_exp_avg_sqs[i].sqrt() / bias_correction2_sqrt).add_(eps)
 *     else:
 *         denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
 *     param.addcdiv_(exp_avg, denom, value=-step_size) */
static void ref_adam_step(const adam_opts *o, double *param, const double *grads,
                          double *m, double *v, double *vmax, int step, double lr)
{
    double bc1 = 1 - pow(o->beta1, step), bc2 = 1 - pow(o->beta2, step);
    double step_size = lr / bc1, bc2_sqrt = sqrt(bc2);
    for (int i = 0; i < N; i++) {
        double grad = o->maximize ? -grads[i] : grads[i];
        if (o->weight_decay != 0)
            grad = grad + o->weight_decay * param[i];
        m[i] = m[i] * o->beta1 + (1 - o->beta1) * grad;
        v[i] = v[i] * o->beta2 + (1 - o->beta2) * grad * grad;
        double denom;
        if (o->amsgrad) {
            vmax[i] = fmax(vmax[i], v[i]);
            denom = sqrt(vmax[i]) / bc2_sqrt + o->eps;
        } else {
            denom = sqrt(v[i]) / bc2_sqrt + o->eps;
        }
        param[i] = param[i] - step_size * m[i] / denom;
    }
}

/* torch/optim/rmsprop.py, _single_tensor_rmsprop, one tensor, in double:
 *     grad = grad if not maximize else -grad
 *     if weight_decay != 0: grad = grad.add(param, alpha=weight_decay)
 *     square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
 *     if centered:
 *         grad_avg.mul_(alpha).add_(grad, alpha=1 - alpha)
 *         avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
 *     else:
 *         avg = square_avg.sqrt()
 *     avg = avg.add_(eps)
 *     if momentum > 0:
 *         buf.mul_(momentum).addcdiv_(grad, avg)
 *         param.add_(buf, alpha=-lr)
 *     else:
 *         param.addcdiv_(grad, avg, value=-lr) */
static void ref_rms_step(const rms_opts *o, double *param, const double *grads,
                         double *sq, double *ga, double *buf, double lr)
{
    for (int i = 0; i < N; i++) {
        double grad = o->maximize ? -grads[i] : grads[i];
        if (o->weight_decay != 0)
            grad = grad + o->weight_decay * param[i];
        sq[i] = sq[i] * o->alpha + (1 - o->alpha) * grad * grad;
        double avg;
        if (o->centered) {
            ga[i] = ga[i] * o->alpha + (1 - o->alpha) * grad;
            avg = sqrt(sq[i] - ga[i] * ga[i]);
        } else {
            avg = sqrt(sq[i]);
        }
        avg = avg + o->eps;
        if (o->momentum > 0) {
            buf[i] = buf[i] * o->momentum + grad / avg;
            param[i] = param[i] - lr * buf[i];
        } else {
            param[i] = param[i] - lr * grad / avg;
        }
    }
}

/* The problem of optim_ref.py: gradients of sum (p - c)^2 plus a drift that
   changes with the step, and a decaying learning rate. */
static const double target_c[N] = { 0.5, 0.5, -1.0, 1.0 };
static const double p_start[N] = { 1.0, -0.5, 0.25, 2.0 };

static double grad_at(double p, int i, int t)
{
    return 2.0 * (p - target_c[i]) + 0.05 * t * (i - 1.5);
}

static float lr_at(int t)
{
    return (float)(0.1 * (1.0 - 0.1 * (t - 1)));
}

/* ------------------------------------------------------------ running */

static int opt_new(const char *type, const char *body, dlh_optimizer_inst **o)
{
    char text[1024], label[64];
    dlh_config *cfg = NULL;
    snprintf(text, sizeof text, "optimizer = {\n%s\n};\n", body);
    snprintf(label, sizeof label, "optimizer '%s'", type);
    *o = NULL;
    int rc = dlh_config_load_string(text, "test.cfg", &cfg);
    if (rc < 0)
        return rc;
    dlh_params *p = dlh_params_new(cfg, config_setting_get_member(dlh_config_root(cfg),
                                                                  "optimizer"),
                                   label, NULL);
    rc = p ? dlh_optimizer_new(be, type, p, o) : DLH_ENOMEM;
    dlh_params_free(p);
    dlh_config_free(cfg);
    return rc;
}

/* Runs `steps` steps from p0 over n values with gradients from grad_at (or
   2p when simple) and lr from lr_at (or 0.1 when simple); writes the
   parameter after each step into traj[step * n + i]. */
static int run_opt(const char *type, const char *body, int n, const double *p0,
                   int simple, int steps, double *traj)
{
    const dlh_host *host = dlh_host_table();
    dlh_optimizer_inst *o = NULL;
    int rc = opt_new(type, body, &o);
    if (rc < 0)
        return rc;
    if (o->n_states > MAX_STATES) {
        dlh_optimizer_free(o);
        dlh_error_set("%d states, the test handles %d", o->n_states, MAX_STATES);
        return DLH_EINVAL;
    }
    int64_t shape[1] = { n };
    dlh_tensor param = { 0 }, grad = { 0 }, states[MAX_STATES];
    memset(states, 0, sizeof states);
    float hp[N], hg[N];
    if ((rc = dlh_tensor_alloc(be, 1, shape, &param)) == 0 &&
        (rc = dlh_tensor_alloc(be, 1, shape, &grad)) == 0)
        rc = dlh_optimizer_states_alloc(o, &param, states);
    for (int i = 0; i < n; i++)
        hp[i] = (float)p0[i];
    if (rc == 0)
        rc = host->tensor_write(be, &param, hp);
    for (int t = 1; rc == 0 && t <= steps; t++) {
        for (int i = 0; i < n; i++)
            hg[i] = (float)(simple ? 2.0 * hp[i] : grad_at(hp[i], i, t));
        dlh_optimizer_ctx ctx = { .struct_size = sizeof ctx, .backend = be, .t = t,
            .lr = simple ? 0.1f : lr_at(t) };
        if ((rc = host->tensor_write(be, &grad, hg)) < 0 ||
            (rc = o->ops->step(o->state, &ctx, &param, &grad, states)) < 0 ||
            (rc = host->tensor_read(be, &param, hp)) < 0)
            break;
        for (int i = 0; i < n; i++)
            traj[(t - 1) * n + i] = hp[i];
    }
    for (int i = 0; i < MAX_STATES; i++)
        if (states[i].mem.buf)
            dlh_tensor_free(be, &states[i]);
    if (param.mem.buf)
        dlh_tensor_free(be, &param);
    if (grad.mem.buf)
        dlh_tensor_free(be, &grad);
    dlh_optimizer_free(o);
    return rc;
}

/* The double transcription's trajectory for case c. */
static void ref_trajectory(const opt_case *c, double *traj)
{
    double p[N], g[N], s1[N] = { 0 }, s2[N] = { 0 }, s3[N] = { 0 };
    memcpy(p, p_start, sizeof p);
    int adam = strcmp(c->type, "adam") == 0;
    for (int t = 1; t <= STEPS; t++) {
        /* The gradient the test hands over: from the float parameter the
           device holds, rounded to float. */
        for (int i = 0; i < N; i++)
            g[i] = (float)grad_at((float)p[i], i, t);
        if (adam)
            ref_adam_step(&c->adam, p, g, s1, s2, s3, t, lr_at(t));
        else
            ref_rms_step(&c->rms, p, g, s1, s2, s3, lr_at(t));
        memcpy(traj + (t - 1) * N, p, sizeof p);
    }
}

static double max_err(const double *got, const double *want, int n)
{
    double e = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs(got[i] - want[i]) / fmax(1.0, fabs(want[i]));
        e = isnan(d) ? INFINITY : fmax(e, d);
    }
    return e;
}

static void check_case(const opt_case *c)
{
    double traj[STEPS * N], ref[STEPS * N];
    int rc = run_opt(c->type, c->body, N, p_start, 0, STEPS, traj);
    if (!ok(rc == 0, "%s: %d steps run", c->name, STEPS)) {
        diag("%s", dlh_error_get());
        return;
    }
    ref_trajectory(c, ref);
    double e_torch = max_err(traj, c->ref, STEPS * N);
    double e_ref = max_err(traj, ref, STEPS * N);
    double e_cross = max_err(ref, c->ref, STEPS * N);
    ok(e_torch < TOL, "%s: trajectory matches torch's numbers (max err %.2e, "
       "final p[0] %.7f)", c->name, e_torch, traj[(STEPS - 1) * N]);
    ok(e_ref < TOL, "%s: trajectory matches the double transcription (max err %.2e)",
       c->name, e_ref);
    /* The two references check each other: a transcription bug or a stale
       pasted number shows here even if the plugin copied the same mistake. */
    ok(e_cross < TOL, "%s: torch's numbers and the transcription agree (max err %.2e)",
       c->name, e_cross);
}

/* ------------------------------------------------------------ anchors */

/* Hand-computed: p0 = 1, gradient 2p, lr 0.1.
 * Adam's first step is lr * m1/bc1 / (sqrt(v1/bc2) + eps) = lr * g/(|g| + eps)
 * = 0.1 * 2/(2 + 1e-8): p1 = 0.9 (to 5e-10); with eps = 1: 1 - 0.2/3.
 * RMSprop's first: square_avg = 0.01 g^2 = 0.04, avg = 0.2 + 1e-8,
 * p1 = 1 - 0.1 * 2/0.2 = 0 (to 5e-8); alpha 0.75: avg = 1, p1 = 0.8;
 * then g = 1.6, square_avg = 0.75 + 0.25*2.56 = 1.39, p2 = 0.8 - 0.16/sqrt(1.39). */
static void check_anchors(void)
{
    double p0 = 1.0, traj[2];
    int rc = run_opt("adam", "", 1, &p0, 1, 1, traj);
    is_float(rc == 0 ? traj[0] : NAN, 0.9, 1e-7, "adam: first step moves by lr: p1 = 0.9");
    rc = run_opt("adam", "eps = 1.0;", 1, &p0, 1, 1, traj);
    is_float(rc == 0 ? traj[0] : NAN, 1.0 - 0.2 / 3.0, 1e-7,
             "adam eps 1: p1 = 1 - 0.2/3 (eps added after the bias correction)");
    rc = run_opt("rmsprop", "", 1, &p0, 1, 1, traj);
    is_float(rc == 0 ? traj[0] : NAN, 0.0, 1e-7, "rmsprop: p1 = 1 - 0.1*2/0.2 = 0");
    rc = run_opt("rmsprop", "alpha = 0.75;", 1, &p0, 1, 2, traj);
    is_float(rc == 0 ? traj[0] : NAN, 0.8, 1e-7, "rmsprop alpha 0.75: p1 = 0.8");
    is_float(rc == 0 ? traj[1] : NAN, 0.8 - 0.16 / sqrt(1.39), 1e-6,
             "rmsprop alpha 0.75: p2 = 0.8 - 0.16/sqrt(1.39)");
}

/* amsgrad and the options must change something, or the trajectory tests
   could not tell them apart. */
static void check_options_matter(const opt_case *cases, int n)
{
    const double *b2 = NULL, *ams_b2 = NULL;
    for (int i = 0; i < n; i++) {
        if (strcmp(cases[i].name, "adam_b2") == 0)
            b2 = cases[i].ref;
        if (strcmp(cases[i].name, "adam_amsgrad_b2") == 0)
            ams_b2 = cases[i].ref;
    }
    ok(b2 && ams_b2 && max_err(b2, ams_b2, STEPS * N) > 1e-2,
       "amsgrad changes the trajectory when the second moment falls");
    int distinct = 1;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (max_err(cases[i].ref, cases[j].ref, STEPS * N) < 1e-5 &&
                strcmp(cases[i].name, "adam_amsgrad") != 0 &&
                strcmp(cases[j].name, "adam_amsgrad") != 0) {
                diag("%s and %s have the same trajectory", cases[i].name, cases[j].name);
                distinct = 0;
            }
    ok(distinct, "every option combination gives its own trajectory");
}

/* The betas list is read as floats; written-out defaults must still give
   torch's doubles (1 - 0.999f is 1.3e-5 away from 1 - 0.999). */
static void check_explicit_betas(void)
{
    double a[STEPS * N], b[STEPS * N];
    int rc = run_opt("adam", "", N, p_start, 0, STEPS, a);
    if (rc == 0)
        rc = run_opt("adam", "betas = [0.9, 0.999];", N, p_start, 0, STEPS, b);
    ok(rc == 0 && memcmp(a, b, sizeof a) == 0,
       "adam: betas = [0.9, 0.999] written out gives the default trajectory bit for bit");
}

/* ------------------------------------------------------------ contracts */

static void check_states(const char *type, const char *body, int n, const char *const *names)
{
    dlh_optimizer_inst *o = NULL;
    int rc = opt_new(type, body, &o);
    int same = rc == 0 && o->n_states == n;
    for (int i = 0; same && i < n; i++)
        same = strcmp(o->state_names[i], names[i]) == 0;
    ok(same, "%s { %s }: declares %d states (%s%s%s%s%s)", type, body, n,
       n > 0 ? names[0] : "", n > 1 ? ", " : "", n > 1 ? names[1] : "",
       n > 2 ? ", " : "", n > 2 ? names[2] : "");
    if (rc < 0)
        diag("%s", dlh_error_get());
    dlh_optimizer_free(o);
}

static void check_refused(const char *type, const char *body, const char *want)
{
    dlh_optimizer_inst *o = NULL;
    int rc = opt_new(type, body, &o);
    const char *msg = dlh_error_get();
    ok(rc == DLH_ECONFIG && o == NULL && strstr(msg, want) &&
       strncmp(msg, "test.cfg:", 9) == 0,
       "%s { %s } is refused, located: %s", type, body, msg);
    dlh_optimizer_free(o);
}

static void check_contracts(void)
{
    static const char *const adam_names[] = { "exp_avg", "exp_avg_sq", "max_exp_avg_sq" };
    static const char *const rms_mom[] = { "square_avg", "momentum_buffer" };
    static const char *const rms_cen[] = { "square_avg", "grad_avg" };
    static const char *const rms_all[] = { "square_avg", "momentum_buffer", "grad_avg" };
    check_states("adam", "", 2, adam_names);
    check_states("adam", "amsgrad = true;", 3, adam_names);
    check_states("rmsprop", "", 1, rms_mom);
    check_states("rmsprop", "momentum = 0.9;", 2, rms_mom);
    check_states("rmsprop", "centered = true;", 2, rms_cen);
    check_states("rmsprop", "momentum = 0.5; centered = true;", 3, rms_all);

    check_refused("adam", "betas = [0.9, 1.0];", "Invalid beta parameter at index 1");
    check_refused("adam", "betas = [-0.1, 0.9];", "Invalid beta parameter at index 0");
    check_refused("adam", "betas = [0.9];", "expected two numbers");
    check_refused("adam", "betas = [0.9, 0.99, 0.5];", "betas");
    check_refused("adam", "eps = -1e-8;", "eps");
    check_refused("adam", "weight_decay = -0.1;", "weight_decay");
    check_refused("adam", "amsgrad = 1.5;", "amsgrad");
    check_refused("adam", "beta1 = 0.9;", "beta1");
    check_refused("rmsprop", "alpha = -0.5;", "alpha");
    check_refused("rmsprop", "momentum = -0.9;", "momentum");
    check_refused("rmsprop", "eps = -1.0;", "eps");
    check_refused("rmsprop", "weight_decay = -1.0;", "weight_decay");
    check_refused("rmsprop", "centred = true;", "centred");

    /* Adam divides by 1 - beta1^t: t = 0 would divide by zero. */
    dlh_optimizer_inst *o = NULL;
    int rc = opt_new("adam", "", &o);
    dlh_tensor param = { 0 }, grad = { 0 }, states[2];
    memset(states, 0, sizeof states);
    int64_t shape[1] = { 1 };
    if (rc == 0 && (rc = dlh_tensor_alloc(be, 1, shape, &param)) == 0 &&
        (rc = dlh_tensor_alloc(be, 1, shape, &grad)) == 0 &&
        (rc = dlh_optimizer_states_alloc(o, &param, states)) == 0) {
        dlh_optimizer_ctx ctx = { .struct_size = sizeof ctx, .backend = be, .t = 0,
            .lr = 0.1f };
        rc = o->ops->step(o->state, &ctx, &param, &grad, states);
    }
    ok(rc == DLH_EINVAL && strstr(dlh_error_get(), "steps count from 1"),
       "adam refuses step number 0 (%s)", dlh_error_get());
    for (int i = 0; i < 2; i++)
        if (states[i].mem.buf)
            dlh_tensor_free(be, &states[i]);
    if (param.mem.buf)
        dlh_tensor_free(be, &param);
    if (grad.mem.buf)
        dlh_tensor_free(be, &grad);
    dlh_optimizer_free(o);
}

int main(void)
{
    if (dlh_registry_load_all(0) < 0 || dlh_backend_open("cpu", NULL, &be) < 0) {
        ok(0, "load plugins and open the cpu backend: %s", dlh_error_get());
        return done_testing();
    }
    /* name (ref_<name> above), config body, then the options as numbers. */
#define ADAM(name, body, b1, b2, eps, wd, ams, maxi) \
    { #name, "adam", body, ref_##name, .adam = { b1, b2, eps, wd, ams, maxi } }
#define RMS(name, body, alpha, eps, wd, mom, cen, maxi) \
    { #name, "rmsprop", body, ref_##name, .rms = { alpha, eps, wd, mom, cen, maxi } }
    const opt_case cases[] = {
        ADAM(adam_default, "", 0.9, 0.999, 1e-8, 0, 0, 0),
        ADAM(adam_betas, "betas = [0.8, 0.95];", 0.8, 0.95, 1e-8, 0, 0, 0),
        ADAM(adam_eps, "eps = 0.01;", 0.9, 0.999, 0.01, 0, 0, 0),
        ADAM(adam_wd, "weight_decay = 0.1;", 0.9, 0.999, 1e-8, 0.1, 0, 0),
        ADAM(adam_amsgrad, "amsgrad = true;", 0.9, 0.999, 1e-8, 0, 1, 0),
        ADAM(adam_amsgrad_b2, "amsgrad = true; betas = [0.9, 0.6];",
             0.9, 0.6, 1e-8, 0, 1, 0),
        ADAM(adam_b2, "betas = [0.9, 0.6];", 0.9, 0.6, 1e-8, 0, 0, 0),
        ADAM(adam_maximize, "maximize = true;", 0.9, 0.999, 1e-8, 0, 0, 1),
        ADAM(adam_all, "amsgrad = true; weight_decay = 0.05; maximize = true; "
             "betas = [0.85, 0.7]; eps = 1e-4;", 0.85, 0.7, 1e-4, 0.05, 1, 1),
        RMS(rms_default, "", 0.99, 1e-8, 0, 0, 0, 0),
        RMS(rms_alpha, "alpha = 0.9;", 0.9, 1e-8, 0, 0, 0, 0),
        RMS(rms_eps, "eps = 0.01;", 0.99, 0.01, 0, 0, 0, 0),
        RMS(rms_wd, "weight_decay = 0.1;", 0.99, 1e-8, 0.1, 0, 0, 0),
        RMS(rms_momentum, "momentum = 0.9;", 0.99, 1e-8, 0, 0.9, 0, 0),
        RMS(rms_centered, "centered = true;", 0.99, 1e-8, 0, 0, 1, 0),
        RMS(rms_centered_mom, "centered = true; momentum = 0.5;",
            0.99, 1e-8, 0, 0.5, 1, 0),
        RMS(rms_maximize, "maximize = true;", 0.99, 1e-8, 0, 0, 0, 1),
        RMS(rms_all, "alpha = 0.8; eps = 1e-4; weight_decay = 0.05; momentum = 0.7; "
            "centered = true; maximize = true;", 0.8, 1e-4, 0.05, 0.7, 1, 1),
    };
#undef ADAM
#undef RMS
    int n_cases = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n_cases; i++)
        check_case(&cases[i]);
    check_options_matter(cases, n_cases);
    check_anchors();
    check_explicit_betas();
    check_contracts();

    dlh_backend_close(be);
    dlh_registry_clear();
    return done_testing();
}
