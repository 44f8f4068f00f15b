/* rprop: torch.optim.Rprop, following _single_tensor_rprop in
 * torch/optim/rprop.py (torch 1.13):
 *
 *   g = -grad if maximize else grad
 *   s = sign(g * prev)
 *   factor = etaplus where s > 0, etaminus where s < 0, else 1
 *   step_size = clamp(step_size * factor, step_size_min, step_size_max)
 *   g = 0 where s < 0                    (after a sign flip: no move, and the
 *                                         next step starts afresh)
 *   p = p - sign(g) * step_size
 *   prev = g
 *
 * Only the sign of the gradient is used, never its size.  step_size starts
 * at the learning rate of the first step (torch fills it with group['lr']);
 * later learning rates (a schedule) do not change it.  Defaults as torch's:
 * lr 1e-2, etas (0.5, 1.2), step_sizes (1e-6, 50), maximize false. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "optimizers.h"

enum { RP_FIRST, RP_LR, RP_ETAP, RP_ETAM, RP_MIN, RP_MAX, RP_N };

typedef struct rprop_state {
    optimizers_base base;
    double etas[2], step_sizes[2];
    int maximize;
    int prev_index, size_index;
} rprop_state;

static int rprop_create(const dlh_host *host, dlh_optimizer_setup *setup, void **state)
{
    rprop_state *st = optimizers_new_state(host, sizeof *st, state);
    if (!st)
        return DLH_ENOMEM;
    dlh_params *p = setup->params;
    const int no = 0;
    const double def_etas[2] = { 0.5, 1.2 }, def_sizes[2] = { 1e-6, 50.0 };
    int rc;
    optimizers_default_lr(setup, 1e-2);
    if ((rc = optimizers_pair(host, p, "etas", def_etas, st->etas)) < 0 ||
        (rc = optimizers_pair(host, p, "step_sizes", def_sizes, st->step_sizes)) < 0 ||
        (rc = host->param_bool(p, "maximize", &no, &st->maximize)) < 0)
        return rc;
    if (!(0.0 < st->etas[0] && st->etas[0] < 1.0 && 1.0 < st->etas[1]))
        return host->param_error(p, "etas", "Invalid eta values: %g, %g", st->etas[0],
                                 st->etas[1]);
    /* torch checks nothing here; a clamp to [min, max] needs 0 <= min <= max. */
    if (!(0.0 <= st->step_sizes[0] && st->step_sizes[0] <= st->step_sizes[1]))
        return host->param_error(p, "step_sizes", "Invalid step_sizes values: %g, %g "
                                 "(expected 0 <= min <= max)", st->step_sizes[0],
                                 st->step_sizes[1]);
    if ((rc = setup->add_state(setup, "prev", &st->prev_index)) < 0 ||
        (rc = setup->add_state(setup, "step_size", &st->size_index)) < 0)
        return rc;
    char src[512];
    snprintf(src, sizeof src,
             "in g; inout p, prev, ss; scalar first, lr, etap, etam, smin, smax;\n"
             "d = %s;\n"
             "s = sign(d*prev);\n"
             "f = select(s > 0, etap, select(s < 0, etam, 1));\n"
             "ss = min(max(select(first, lr, ss)*f, smin), smax);\n"
             "d = select(s < 0, 0, d);\n"
             "p = p - sign(d)*ss;\n"
             "prev = d;\n",
             st->maximize ? "-g" : "g");
    return optimizers_compile(setup, src, &st->base.kernel[0]);
}

static int rprop_step(void *state, const dlh_optimizer_ctx *ctx, const dlh_tensor *param,
                      const dlh_tensor *grad, const dlh_tensor *states)
{
    const rprop_state *st = state;
    int rc = optimizers_check_ctx("rprop", ctx);
    if (rc < 0)
        return rc;
    size_t n = (size_t)dlh_tensor_numel(param);
    float scalars[RP_N] = {
        [RP_FIRST] = ctx->step == 1 ? 1.0f : 0.0f, [RP_LR] = (float)ctx->lr_d,
        [RP_ETAP] = (float)st->etas[1], [RP_ETAM] = (float)st->etas[0],
        [RP_MIN] = (float)st->step_sizes[0], [RP_MAX] = (float)st->step_sizes[1],
    };
    dlh_ew_arg args[4] = {
        dlh_ew_full(grad->mem, n), dlh_ew_full(param->mem, n),
        dlh_ew_full(states[st->prev_index].mem, n), dlh_ew_full(states[st->size_index].mem, n),
    };
    return optimizers_host->ew_run(st->base.kernel[0], n, args, scalars);
}

const dlh_optimizer_ops rprop_ops = {
    .struct_size = sizeof(dlh_optimizer_ops),
    .create = rprop_create,
    .step = rprop_step,
    .destroy = optimizers_destroy,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc rprop_params[] = {
    { "etas", DLH_PARAM_FLOATS, "[0.5, 1.2]", 0, 0, NULL, "[etaminus, etaplus]: step size factors on a sign flip and on the same sign; 0 < etaminus < 1 < etaplus" },
    { "step_sizes", DLH_PARAM_FLOATS, "[1e-06, 50]", 0, 0, NULL, "[min, max] clamp of each step size, 0 <= min <= max" },
    OPTIMIZERS_MAXIMIZE_DOC,
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
