/* The closure of optimisers that update every parameter at once (ABI 1.6,
 * include/dlhost/optimizer.h): torch's `optimizer.step(closure)`, which
 * torch.optim.LBFGS needs.  The training loop has run forward, loss and
 * backward on the batch (torch's first closure() call of the step) and hands
 * the loss here; step_all may then call closure_eval any number of times.
 * Each call evaluates the same batch, which stays in the model's input and
 * target buffers for the whole step, at the parameters' current values, with
 * the same step number (so dropout draws the same masks), and puts its
 * gradients through what the first evaluation went through (dlh_run_grads:
 * the non-finite check, then clipping).
 *
 * Where the rest of the step's gradient processing goes: anything run.c
 * does to the gradients between backward and the update belongs in
 * dlh_run_grads, which both the first evaluation and closure_eval call; a
 * penalty that changes the loss (L1/L2 regularisation) must also be added
 * to `l` in closure_eval before it is returned, since L-BFGS compares the
 * losses of its evaluations. */
#include <math.h>
#include <string.h>

#include "error.h"
#include "run_state.h"

typedef struct closure_ctx {
    run_state *r;
    const dlh_run_at *at;
    int evals;                      /* evaluations of this step, the first included */
} closure_ctx;

static int closure_eval(void *ctx, double *loss)
{
    closure_ctx *c = ctx;
    run_state *r = c->r;
    const dlh_run_at *at = c->at;
    uint64_t seed = r->e->seed;
    float l = NAN;
    int rc;
    c->evals++;
    if ((rc = dlh_graph_forward(r->g, at->b, 1, r->step, seed)) ||
        (rc = dlh_evaluator_loss(&r->ev, at->b, 1, &l)))
        goto fail;
    if (!isfinite(l)) {
        rc = dlh_run_diverged(r, at->epoch, at->s, at->steps, at->b, l, -1);
        goto fail;
    }
    if ((rc = dlh_graph_backward(r->g, at->b, r->step, seed)) ||
        (rc = dlh_run_grads(r, at->epoch, at->s, at->steps, at->b, l)))
        goto fail;
    *loss = (double)l;
    return 0;
fail:
    if (!*dlh_error_get())
        dlh_error_set("%s", dlh_strerror(rc));
    r->closure_diverged = rc == DLH_ENUMERIC;
    dlh_error_prefix("closure evaluation %d of the step: ", c->evals);
    return rc;
}

int dlh_run_step_all(run_state *r, double lr, float loss, const dlh_run_at *at)
{
    dlh_experiment *e = r->e;
    dlh_optimizer_inst *o = e->optimizer;
    closure_ctx c = { r, at, 1 };
    dlh_optimizer_all_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.struct_size = sizeof ctx;
    ctx.backend = e->backend;
    ctx.t = r->step + 1;
    ctx.lr = lr;
    ctx.n_params = o->n_bound;
    ctx.n_states = o->n_states;
    ctx.params = o->params;
    ctx.grads = o->grads;
    ctx.names = (const char *const *)e->param_names;
    ctx.roles = e->param_roles;
    ctx.states = e->opt_states;
    ctx.globals = o->globals;
    ctx.numel = o->numel;
    ctx.loss = (double)loss;
    ctx.closure = closure_eval;
    ctx.closure_ctx = &c;
    r->closure_diverged = 0;
    /* Every parameter is updated once per step: its step count (saved as
       optim.<param>.step) goes on as with step. */
    for (int k = 0; k < o->n_bound; k++)
        e->opt_steps[k]++;
    dlh_error_clear();
    int rc = o->ops->step_all(o->state, &ctx);
    if (rc > 0) {
        dlh_error_set("step_all returned %d (0 or a negative DLH_E* code expected)", rc);
        rc = DLH_EPLUGIN;
    }
    if (rc) {
        if (!*dlh_error_get())
            dlh_error_set("%s", dlh_strerror(rc));
        dlh_error_prefix("optimizer '%s': ", e->optimizer_type);
    }
    return rc;
}
