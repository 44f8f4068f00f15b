/* adamw, nadam, radam, adamax, adagrad, adadelta, asgd, rprop, lion and
 * lamb against PyTorch: 25-step trajectories of a 3x4 weight and a 3-value
 * bias from the same start on the same gradients, with a learning rate that
 * changes every step, for every option of each; after the last step, every
 * state the optimiser keeps (tensors, scalars, the step count) against
 * torch.optim's state of the same name.  The numbers come from
 * tests/ref/optimizers_ref.py (torch.optim 1.13, or plain torch ops for
 * what it lacks), pasted into tests/ref/optimizers_ref.h.  Errors are per
 * tensor: max |got - want| / max |want|, within 1e-5.
 *
 * Built twice: on cpu, and as test_optimizers_opencl on the backend
 * OPTIM_BACKEND names (SKIPped where it is absent). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_open.h"
#include "error.h"
#include "instance.h"
#include "params.h"
#include "registry.h"
#include "tap.h"

#ifndef OPTIM_BACKEND
#define OPTIM_BACKEND "cpu"
#endif

#define STEPS 25
#define NW 12
#define NB 3
#define TOL 1e-5
#define MAX_STATES 4

typedef struct optz_state {
    const char *name;
    int n;                      /* NW (NB) for tensors, 1 for scalars */
    double w[NW], b[NB];
} optz_state;

typedef struct optz_case {
    const char *name, *type, *body;
    double base_lr;
    const double *w, *b;        /* [STEPS * NW], [STEPS * NB] after each step */
    const optz_state *states;
    int n_states;
} optz_case;

#include "ref/optimizers_ref.h"   /* tests/ref/optimizers_ref.py */

static dlh_backend *be;

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

/* One parameter tensor with what the optimiser keeps for it. */
typedef struct slot {
    const char *name;
    int n;
    dlh_tensor value, grad, states[MAX_STATES];
    float scalars[4];
    float host[NW];
} slot;

static double rel_err(const float *got, const double *want, int n)
{
    double d = 0.0, m = 0.0;
    for (int i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        d = isnan(e) ? INFINITY : fmax(d, e);
        m = fmax(m, fabs(want[i]));
    }
    return d / (m > 0.0 ? m : 1.0);
}

static int slot_open(const dlh_optimizer_inst *o, slot *s, const char *name, int n,
                     const float *start)
{
    const dlh_host *host = dlh_host_table();
    int64_t shape[2] = { 3, n / 3 };
    int ndim = n == NW ? 2 : 1;
    if (ndim == 1)
        shape[0] = n;
    memset(s, 0, sizeof *s);
    s->name = name;
    s->n = n;
    int rc;
    if ((rc = dlh_tensor_alloc(be, ndim, shape, &s->value)) < 0 ||
        (rc = dlh_tensor_alloc(be, ndim, shape, &s->grad)) < 0 ||
        (rc = dlh_optimizer_states_alloc(o, &s->value, s->states)) < 0)
        return rc;
    dlh_optimizer_scalars_init(o, s->scalars);
    return host->tensor_write(be, &s->value, start);
}

static void slot_close(slot *s)
{
    for (int i = 0; i < MAX_STATES; i++)
        if (s->states[i].mem.buf)
            dlh_tensor_free(be, &s->states[i]);
    if (s->value.mem.buf)
        dlh_tensor_free(be, &s->value);
    if (s->grad.mem.buf)
        dlh_tensor_free(be, &s->grad);
}

/* One step of one tensor: its gradient, the context the core would build. */
static int slot_step(const dlh_optimizer_inst *o, slot *s, const float *g, int t, double lr)
{
    const dlh_host *host = dlh_host_table();
    dlh_optimizer_ctx ctx;
    dlh_tensor views[DLH_OPT_MAX_SCRATCH];
    memset(&ctx, 0, sizeof ctx);
    ctx.struct_size = sizeof ctx;
    ctx.backend = be;
    ctx.t = t;
    ctx.lr = (float)lr;
    dlh_optimizer_ctx_fill(o, &ctx, s->n, lr, t, s->name,
                           dlh_param_role_of(strchr(s->name, '.') + 1, s->value.ndim),
                           s->scalars, views);
    int rc = host->tensor_write(be, &s->grad, g);
    if (rc == 0)
        rc = o->ops->step(o->state, &ctx, &s->value, &s->grad, s->states);
    if (rc == 0)
        rc = host->tensor_read(be, &s->value, s->host);
    return rc;
}

/* The final state `want` of one tensor against what the optimiser keeps. */
static double state_err(const dlh_optimizer_inst *o, const slot *s, const optz_state *want,
                        int steps, int *found)
{
    const double *ref = s->n == NW ? want->w : want->b;
    float got[NW];
    *found = 1;
    if (strcmp(want->name, "step") == 0) {
        got[0] = (float)steps;
        return rel_err(got, ref, 1);
    }
    for (int i = 0; i < o->n_scalars; i++)
        if (strcmp(o->scalar_names[i], want->name) == 0)
            return rel_err(&s->scalars[i], ref, 1);
    for (int i = 0; i < o->n_states; i++)
        if (strcmp(o->state_names[i], want->name) == 0) {
            if (dlh_host_table()->tensor_read(be, &s->states[i], got) < 0)
                return INFINITY;
            return rel_err(got, ref, s->n);
        }
    *found = 0;
    return INFINITY;
}

static void check_case(const optz_case *c)
{
    dlh_optimizer_inst *o = NULL;
    slot w, b;
    memset(&w, 0, sizeof w);
    memset(&b, 0, sizeof b);
    int rc = opt_new(c->type, c->body, &o);
    if (rc == 0 && o->n_states > MAX_STATES)
        rc = DLH_EINVAL;
    if (rc == 0 && (rc = slot_open(o, &w, "fc.weight", NW, optz_w0)) == 0 &&
        (rc = slot_open(o, &b, "fc.bias", NB, optz_b0)) == 0)
        rc = dlh_optimizer_scratch_alloc(o, NW);
    double ew = 0.0, eb = 0.0;
    int worst = 0;
    for (int t = 1; rc == 0 && t <= STEPS; t++) {
        double lr = c->base_lr * (1.0 - 0.02 * (t - 1));    /* as optimizers_ref.py */
        if ((rc = slot_step(o, &w, optz_gw[t - 1], t, lr)) < 0 ||
            (rc = slot_step(o, &b, optz_gb[t - 1], t, lr)) < 0)
            break;
        double e = fmax(rel_err(w.host, c->w + (t - 1) * NW, NW),
                        rel_err(b.host, c->b + (t - 1) * NB, NB));
        if (e > fmax(ew, eb))
            worst = t;
        ew = fmax(ew, rel_err(w.host, c->w + (t - 1) * NW, NW));
        eb = fmax(eb, rel_err(b.host, c->b + (t - 1) * NB, NB));
    }
    if (!ok(rc == 0, "%s: %d steps run", c->name, STEPS)) {
        diag("%s", dlh_error_get());
    } else {
        ok(ew < TOL && eb < TOL, "%s { %s }: the weight and the bias follow torch for %d "
           "steps (max error %.2e and %.2e, worst at step %d)", c->name, c->body, STEPS,
           ew, eb, worst);
        /* The same states by the same names as torch.optim keeps (and nothing else). */
        int all = 1, n_ours = 1 + o->n_states + o->n_scalars;
        double es = 0.0;
        for (int i = 0; i < c->n_states; i++) {
            int f1, f2;
            double e = fmax(state_err(o, &w, &c->states[i], STEPS, &f1),
                            state_err(o, &b, &c->states[i], STEPS, &f2));
            if (!f1) {
                diag("torch keeps '%s', %s does not", c->states[i].name, c->type);
                all = 0;
            }
            es = fmax(es, e);
        }
        ok(all && n_ours == c->n_states && es < TOL, "%s: %d states by torch's names "
           "(%s, ...) equal torch's after step %d (max error %.2e)", c->name, n_ours,
           c->states[0].name, STEPS, es);
    }
    slot_close(&w);
    slot_close(&b);
    dlh_optimizer_free(o);
}

/* Each option must change the trajectory or the state, or the cases could not tell a
   dropped option from a kept one. */
static void check_options_matter(const optz_case *cases, int n)
{
    int distinct = 1;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            if (strcmp(cases[i].type, cases[j].type) != 0)
                continue;
            /* the trajectories, and the final states (asgd's t0 moves only ax) */
            double d = 0.0;
            for (int k = 0; k < STEPS * NW; k++)
                d = fmax(d, fabs(cases[i].w[k] - cases[j].w[k]));
            for (int k = 0; k < STEPS * NB; k++)
                d = fmax(d, fabs(cases[i].b[k] - cases[j].b[k]));
            for (int k = 0; k < cases[i].n_states && k < cases[j].n_states; k++)
                for (int m = 0; m < cases[i].states[k].n; m++)
                    d = fmax(d, fabs(cases[i].states[k].w[m] - cases[j].states[k].w[m]));
            if (d < 1e-4) {
                diag("%s and %s have the same trajectory", cases[i].name, cases[j].name);
                distinct = 0;
            }
        }
    ok(distinct, "every option case of an optimiser gives its own trajectory");
}

int main(void)
{
    if (dlh_registry_load_all(0) < 0) {
        ok(0, "load plugins: %s", dlh_error_get());
        return done_testing();
    }
    if (!(be = backend_open_or_skip(OPTIM_BACKEND)))
        return done_testing();
    int n = (int)(sizeof optz_cases / sizeof optz_cases[0]);
    for (int i = 0; i < n; i++)
        check_case(&optz_cases[i]);
    check_options_matter(optz_cases, n);
    dlh_backend_close(be);
    dlh_registry_clear();
    return done_testing();
}
