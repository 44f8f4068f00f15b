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
 * Everything run.c does to the gradients between backward and the update
 * is in dlh_run_grads, which both the first evaluation and closure_eval
 * call: the L1/L2 penalties (added to the loss too, since L-BFGS compares
 * the losses of its evaluations), the non-finite check and clipping. */
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
        (rc = dlh_run_grads(r, at->epoch, at->s, at->steps, at->b, &l)))
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

int dlh_run_step_all(run_state *r, float loss, const dlh_run_at *at)
{
    dlh_experiment *e = r->e;
    dlh_opt_group *g = dlh_optim_step_all(e);
    dlh_optimizer_inst *o = g->opt;
    closure_ctx c = { r, at, 1 };
    dlh_optimizer_all_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.struct_size = sizeof ctx;
    ctx.backend = e->backend;
    ctx.t = r->step + 1;
    ctx.lr = g->lr_now;
    ctx.n_params = o->n_bound;
    ctx.n_states = o->n_states;
    ctx.params = o->params;
    ctx.grads = o->grads;
    ctx.names = g->names;
    ctx.roles = g->roles;
    ctx.states = g->states;
    ctx.globals = o->globals;
    ctx.numel = o->numel;
    ctx.loss = (double)loss;
    ctx.closure = closure_eval;
    ctx.closure_ctx = &c;
    r->closure_diverged = 0;
    /* Every parameter is updated once per step: its step count (saved as
       optim.<param>.step) goes on as with step. */
    for (int k = 0; k < e->n_param_tensors; k++)
        if (&e->groups[e->slots[k].group] == g)
            e->slots[k].step++;
    dlh_error_clear();
    int rc = o->ops->step_all(o->state, &ctx);
    if (rc > 0) {
        dlh_error_set("step_all returned %d (0 or a negative DLH_E* code expected)", rc);
        rc = DLH_EPLUGIN;
    }
    if (rc == 0)
        rc = dlh_optim_constrain(e);
    if (rc) {
        if (!*dlh_error_get())
            dlh_error_set("%s", dlh_strerror(rc));
        dlh_error_prefix("optimizer '%s': ", e->optimizer_type);
    }
    return rc;
}
