/* The optimiser side of an experiment (optim.h): optimizer = { ... } with
 * its groups, and the per-step penalties, clipping, update and constraints.
 *
 *   optimizer = {
 *     type = "sgd"; lr = 0.1; momentum = 0.9; weight_decay = 5e-4;
 *     regularization = { l1 = 1e-5; l2 = 0.0; };   max_norm = 3.0;
 *     clip_norm = 1.0; norm_type = 2.0;  clip_value = 0.5;
 *     groups = ( { params = ["*.bias", "bn*.*"]; weight_decay = 0.0; },
 *                { params = ["fc1.*"]; lr_mult = 0.1; },
 *                { params = ["conv1.*"]; trainable = false; } );
 *   };
 *
 * A group's keys override the optimizer group's (any hyper-parameter of the
 * optimiser, lr or lr_mult, regularization, max_norm); trainable = false
 * freezes its tensors: no update, no state, and no gradient computed where
 * nothing trainable needs it (graph.c).  Every per-step reduction lands in
 * one device buffer read once per step. */
#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "experiment.h"
#include "graph.h"
#include "optim.h"
#include "registry.h"

enum { K_PENALTY, K_PENALTY_ABS, K_ABS, K_POW, K_SCALE, K_CLAMP, K_RENORM, K_COUNT };

_Static_assert(K_COUNT <= (int)(sizeof ((dlh_experiment *)0)->opt_k /
                                sizeof ((dlh_experiment *)0)->opt_k[0]),
               "dlh_experiment.opt_k holds every kernel");

static const char *const optim_kernels[K_COUNT] = {
    /* d/dw of l1 * |w| + l2 * w^2, with torch.sign's sign(0) = 0. */
    "in w; inout g; scalar a; scalar b; g = g + a * sign(w) + b * w;",
    /* The same, and |w| for the L1 value, in one pass over w. */
    "in w; inout g; out y; scalar a; scalar b; y = abs(w); g = g + a * sign(w) + b * w;",
    "in x; out y; y = abs(x);",
    "in x; out y; scalar p; y = pow(abs(x), p);",
    "inout g; scalar s; g = g * s;",
    /* torch.clamp_(-v, v) */
    "inout g; scalar v; g = min(max(g, -v), v);",
    /* torch.renorm(w, 2, 0, m): rows whose norm exceeds m scaled by
       m / (norm + 1e-7). */
    "in q; inout w; scalar m; n = sqrt(q); w = select(n > m, w * (m / (n + 0.0000001)), w);",
};

/* Keys of the optimizer group read by the core, and the ones a group may
   not override (they act on the whole gradient). */
static const char *const optim_keys[] = { "type", "lr", "grad_clip", "clip_norm", "norm_type",
                                          "clip_value", "groups", "regularization",
                                          "max_norm", "lr_decay_by_depth", NULL };
static const char *const group_keys[] = { "params", "lr", "lr_mult", "trainable",
                                          "regularization", "max_norm", NULL };
static const char *const whole_keys[] = { "type", "grad_clip", "clip_norm", "norm_type",
                                          "clip_value", "groups", "lr_decay_by_depth", NULL };
/* train.unfreeze[i]: a group's keys but trainable, and its epoch. */
static const char *const unfreeze_keys[] = { "epoch", "params", "lr", "lr_mult",
                                             "regularization", "max_norm", NULL };

static int optim_oom(void)
{
    dlh_error_set("out of memory");
    return DLH_ENOMEM;
}

/* --------------------------------------------------------------- settings */

/* regularization = { l1; l2; } under `owner` (NULL: none of its own), over
   `parent` (the optimizer group's, NULL for the optimizer group itself). */
static int optim_penalties(dlh_experiment *e, config_setting_t *owner, const char *label,
                           const dlh_params *parent, dlh_params **out, dlh_opt_group *g)
{
    static const double zero = 0.0;
    config_setting_t *s = owner ? config_setting_get_member(owner, "regularization") : NULL;
    dlh_params *r = dlh_exp_params(e, s, label, NULL);
    *out = r;
    if (!r)
        return DLH_ENOMEM;
    if (s && !config_setting_is_group(s)) {
        dlh_params *o = dlh_exp_params(e, owner, label, NULL);
        return o ? dlh_exp_error_at(o, "regularization", "%s: expected a group "
                                    "{ l1 = ...; l2 = ...; }", label) : DLH_ENOMEM;
    }
    if (parent)
        dlh_params_set_parent(r, parent);
    int rc;
    if ((rc = dlh_param_float(r, "l1", &zero, 0.0, 1e30, &g->l1)) ||
        (rc = dlh_param_float(r, "l2", &zero, 0.0, 1e30, &g->l2)))
        return rc;
    return dlh_params_check_unused(r);
}

/* The patterns of a group's params: one string or a list of strings. */
static int optim_patterns(dlh_params *p, config_setting_t *grp, config_setting_t **list)
{
    *list = config_setting_get_member(grp, "params");
    if (!*list)
        return dlh_exp_error_at(p, NULL, "%s: missing required parameter 'params' (glob "
                                "patterns over \"<layer>.<param>\" names, as "
                                "[\"fc1.*\", \"*.bias\"])", dlh_params_label(p));
    int n = config_setting_type(*list) == CONFIG_TYPE_STRING ? 1
            : config_setting_is_aggregate(*list) ? config_setting_length(*list) : 0;
    if (n == 0)
        return dlh_exp_error_at(p, "params", "%s: 'params' expects a string or a non-empty "
                                "list of glob patterns", dlh_params_label(p));
    for (int i = 0; config_setting_is_aggregate(*list) && i < n; i++)
        if (config_setting_type(config_setting_get_elem(*list, (unsigned)i)) !=
            CONFIG_TYPE_STRING)
            return dlh_exp_error_at(p, "params", "%s: params[%d] is not a string",
                                    dlh_params_label(p), i);
    return 0;
}

static const char *optim_pattern(config_setting_t *list, int i)
{
    return config_setting_type(list) == CONFIG_TYPE_STRING
           ? config_setting_get_string(list)
           : config_setting_get_string_elem(list, (unsigned)i);
}

static int optim_n_patterns(config_setting_t *list)
{
    return config_setting_type(list) == CONFIG_TYPE_STRING ? 1 : config_setting_length(list);
}

/* Slots of the model, each with its name and role; group -1 until set. */
static int optim_slots(dlh_experiment *e)
{
    int n = 0;
    for (int i = 0; i < e->n_layers; i++)
        n += e->layers[i]->n_params;
    e->n_param_tensors = n;
    if (n == 0)
        return 0;
    if (!(e->slots = calloc((size_t)n, sizeof *e->slots)) ||
        !(e->grad_sumsq = calloc((size_t)n, sizeof *e->grad_sumsq)))
        return optim_oom();
    for (int i = 0, k = 0; i < e->n_layers; i++)
        for (int j = 0; j < e->layers[i]->n_params; j++, k++) {
            dlh_param_slot *sl = &e->slots[k];
            sl->layer = e->layers[i];
            sl->t = &e->layers[i]->params[j];
            size_t len = strlen(e->layers[i]->name) + strlen(sl->t->name) + 2;
            if (!(sl->name = malloc(len)))
                return optim_oom();
            snprintf(sl->name, len, "%s.%s", e->layers[i]->name, sl->t->name);
            sl->role = dlh_param_role_of(sl->t->name, sl->t->value.ndim);
            sl->group = -1;
            sl->lr_scale = 1.0;
        }
    return 0;
}

/* Assigns the slots that group gi's patterns match and no earlier group
   took; every pattern must match some parameter, the group must get one. */
static int optim_match(dlh_experiment *e, dlh_params *p, config_setting_t *list, int gi)
{
    int np = optim_n_patterns(list);
    for (int i = 0; i < np; i++) {
        const char *pat = optim_pattern(list, i);
        int any = 0;
        for (int k = 0; k < e->n_param_tensors; k++) {
            if (fnmatch(pat, e->slots[k].name, 0) != 0)
                continue;
            any = 1;
            if (e->slots[k].group < 0) {
                e->slots[k].group = gi;
                e->groups[gi].n_tensors++;
            }
        }
        if (!any) {
            char names[512] = "";
            size_t used = 0;
            for (int k = 0; k < e->n_param_tensors && used < sizeof names - 1; k++)
                used += (size_t)snprintf(names + used, sizeof names - used, "%s%s",
                                         k ? ", " : "", e->slots[k].name);
            return dlh_exp_error_at(p, "params", "%s: pattern '%s' matches no parameter "
                                    "(the model has: %s)", dlh_params_label(p), pat,
                                    e->n_param_tensors ? names : "none");
        }
    }
    if (e->groups[gi].n_tensors == 0)
        return dlh_exp_error_at(p, "params", "%s: every parameter its patterns match "
                                "belongs to an earlier group (the first matching group "
                                "wins)", dlh_params_label(p));
    return 0;
}

/* The settings a group has beyond the optimiser's own hyper-parameters. */
static int optim_group_settings(dlh_experiment *e, dlh_opt_group *g, dlh_params *p,
                                config_setting_t *own, const dlh_params *base_reg,
                                double base_lr)
{
    static const int yes = 1;
    static const double one = 1.0, zero = 0.0;
    const char *label = dlh_params_label(p);
    int rc;
    if ((rc = dlh_param_bool(p, "trainable", &yes, &g->trainable)))
        return rc;
    if (!g->trainable) {
        /* A frozen group has nothing else to set. */
        for (int i = 0, n = config_setting_length(own); i < n; i++) {
            const char *k = config_setting_name(config_setting_get_elem(own, (unsigned)i));
            if (k && strcmp(k, "params") != 0 && strcmp(k, "trainable") != 0)
                return dlh_exp_error_at(p, k, "%s: '%s' has no effect on a frozen group "
                                        "(trainable = false)", label, k);
        }
        return 0;
    }
    double mult;
    if ((rc = dlh_param_float(p, "lr_mult", &one, 0.0, 1e6, &mult)))
        return rc;
    if (config_setting_get_member(own, "lr") && config_setting_get_member(own, "lr_mult"))
        return dlh_exp_error_at(p, "lr_mult", "%s: give 'lr' or 'lr_mult', not both", label);
    if (config_setting_get_member(own, "lr")) {
        if ((rc = dlh_param_float(p, "lr", &base_lr, -HUGE_VAL, 1e6, &g->lr)))
            return rc;
        if (g->lr < 0.0)
            return dlh_exp_error_at(p, "lr", "%s: Invalid learning rate: %g", label, g->lr);
    } else
        g->lr = base_lr * mult;
    dlh_params *reg;
    if ((rc = optim_penalties(e, own, label, base_reg, &reg, g)) ||
        (rc = dlh_param_float(p, "max_norm", &zero, 0.0, 1e30, &g->max_norm)))
        return rc;
    return 0;
}

/* Element i of list (a group of `owner`) as group gi: its params (keys
   `keys`, falling back on the optimizer group's) in *p, none of them a
   whole-optimiser key.  `shape` shows the expected group in the message. */
static int optim_group_open(dlh_experiment *e, dlh_params *base, config_setting_t *list,
                            int i, int gi, const char *label, const char *owner,
                            const char *shape, const char *const *keys,
                            config_setting_t **own, dlh_params **p)
{
    *own = config_setting_get_elem(list, (unsigned)i);
    if (!config_setting_is_group(*own)) {
        dlh_params *lp = dlh_exp_params(e, list, owner, NULL);
        return lp ? dlh_exp_error_at(lp, NULL, "%s: expected a group %s", label, shape)
                  : DLH_ENOMEM;
    }
    if (!(*p = dlh_exp_params(e, *own, label, keys)))
        return DLH_ENOMEM;
    dlh_params_set_parent(*p, base);
    e->groups[gi].params = *p;
    for (const char *const *k = whole_keys; *k; k++)
        if (config_setting_get_member(*own, *k))
            return dlh_exp_error_at(*p, *k, "%s: '%s' acts on the whole optimizer and cannot "
                                    "be set per group; set it in the optimizer group", label,
                                    *k);
    return 0;
}

/* The rest of a group whose tensors are matched: its settings and, when it
   trains (now or after its unfreeze), its optimiser instance. */
static int optim_group_finish(dlh_experiment *e, dlh_opt_group *g, dlh_params *p,
                              config_setting_t *own, const dlh_params *base_reg,
                              const char *type)
{
    int rc;
    if ((rc = optim_group_settings(e, g, p, own, base_reg, dlh_optim_lr(e))))
        return rc;
    if (!g->trainable)
        return dlh_params_check_unused(p);
    if ((rc = dlh_optimizer_new(e->backend, type, p, &g->opt)))
        return dlh_exp_locate(p, NULL, rc);
    return 0;
}

/* optimizer.groups[i]. */
static int optim_group(dlh_experiment *e, dlh_params *base, const dlh_params *base_reg,
                       config_setting_t *list, int gi, const char *type)
{
    char label[48];
    snprintf(label, sizeof label, "optimizer.groups[%d]", gi);
    config_setting_t *own;
    dlh_params *p;
    int rc = optim_group_open(e, base, list, gi, gi, label, "optimizer",
                              "{ params = [...]; ... }", group_keys, &own, &p);
    if (rc)
        return rc;
    config_setting_t *pats;
    if ((rc = optim_patterns(p, own, &pats)) ||
        (rc = optim_match(e, p, pats, gi)))
        return rc;
    return optim_group_finish(e, &e->groups[gi], p, own, base_reg, type);
}

/* ------------------------------------------------------- train.unfreeze */

/* Moves the slots that train.unfreeze[ui]'s patterns match into group gi:
   each must be frozen by optimizer.groups and unfrozen by no earlier entry. */
static int optim_unfreeze_match(dlh_experiment *e, dlh_params *p, config_setting_t *list,
                                int gi, int first_unfreeze)
{
    const char *label = dlh_params_label(p);
    for (int i = 0, np = optim_n_patterns(list); i < np; i++) {
        const char *pat = optim_pattern(list, i);
        int any = 0;
        for (int k = 0; k < e->n_param_tensors; k++) {
            dlh_param_slot *sl = &e->slots[k];
            if (fnmatch(pat, sl->name, 0) != 0 || sl->group == gi)
                continue;
            any = 1;
            if (sl->group >= first_unfreeze)
                return dlh_exp_error_at(p, "params", "%s: pattern '%s' matches '%s', which "
                                        "train.unfreeze[%d] already unfreezes", label, pat,
                                        sl->name, sl->group - first_unfreeze);
            if (sl->group < 0 || e->groups[sl->group].trainable)
                return dlh_exp_error_at(p, "params", "%s: pattern '%s' matches '%s', which "
                                        "is trainable already (only tensors that "
                                        "optimizer.groups freezes with trainable = false "
                                        "can unfreeze)", label, pat, sl->name);
            e->groups[sl->group].n_tensors--;
            sl->group = gi;
            e->groups[gi].n_tensors++;
        }
        if (!any)
            return dlh_exp_error_at(p, "params", "%s: pattern '%s' matches no parameter "
                                    "that is still frozen", label, pat);
    }
    return 0;
}

/* train.unfreeze[ui] as group gi: its settings over the optimizer's, an
   optimiser instance, and frozen until its epoch. */
static int optim_unfreeze_group(dlh_experiment *e, dlh_params *base,
                                const dlh_params *base_reg, config_setting_t *list, int ui,
                                int gi, int first_unfreeze, const char *type)
{
    char label[48];
    snprintf(label, sizeof label, "train.unfreeze[%d]", ui);
    config_setting_t *own;
    dlh_params *p;
    int rc = optim_group_open(e, base, list, ui, gi, label, "train",
                              "{ epoch = N; params = [...]; ... }", unfreeze_keys, &own, &p);
    if (rc)
        return rc;
    dlh_opt_group *g = &e->groups[gi];
    if (config_setting_get_member(own, "trainable"))
        return dlh_exp_error_at(p, "trainable", "%s: an unfreeze entry makes its tensors "
                                "trainable; 'trainable' does not belong here", label);
    if (!config_setting_get_member(own, "epoch"))
        return dlh_exp_error_at(p, NULL, "%s: missing required parameter 'epoch' (the "
                                "epoch, from 1, at whose start its tensors unfreeze)", label);
    config_setting_t *pats;
    if ((rc = dlh_param_int(p, "epoch", NULL, INT64_MIN, INT64_MAX, &g->unfreeze_epoch)))
        return rc;
    if (g->unfreeze_epoch < 1 || g->unfreeze_epoch > e->epochs)
        return dlh_exp_error_at(p, "epoch", "%s: epoch %" PRId64 " is not an epoch of the "
                                "run (1 to train.epochs = %" PRId64 ")", label,
                                g->unfreeze_epoch, e->epochs);
    if ((rc = optim_patterns(p, own, &pats)) ||
        (rc = optim_unfreeze_match(e, p, pats, gi, first_unfreeze)) ||
        (rc = optim_group_finish(e, g, p, own, base_reg, type)))
        return rc;
    /* Trainable by its settings ('trainable' is refused above): frozen
       until its epoch. */
    g->trainable = 0;
    g->lr_now = g->lr;
    return 0;
}

/* train.unfreeze, a list of groups, or NULL. */
static int optim_unfreeze_list(dlh_experiment *e, config_setting_t **out)
{
    config_setting_t *train = config_setting_get_member(dlh_config_root(e->cfg), "train");
    *out = train ? config_setting_get_member(train, "unfreeze") : NULL;
    if (*out && !config_setting_is_list(*out) && !config_setting_is_array(*out)) {
        dlh_params *tp = dlh_exp_params(e, train, "train", NULL);
        return tp ? dlh_exp_error_at(tp, "unfreeze", "train: 'unfreeze' expects a list of "
                                     "groups ( { epoch = 3; params = [...]; }, ... )")
                  : DLH_ENOMEM;
    }
    return 0;
}

int dlh_optim_unfreeze(dlh_experiment *e, int64_t epoch)
{
    int n = 0;
    for (int g = 0; g < e->n_groups; g++) {
        dlh_opt_group *gr = &e->groups[g];
        if (gr->trainable || gr->unfreeze_epoch < 1 || gr->unfreeze_epoch > epoch + 1)
            continue;
        gr->trainable = 1;
        n++;
        for (int k = 0; k < e->n_param_tensors; k++)
            if (e->slots[k].group == g) {
                e->slots[k].t->frozen = 0;
                e->slots[k].t->unfreezes = 0;
            }
    }
    if (n > 0)
        dlh_graph_refresh(e->graph);
    return n;
}

/* optimizer.lr_decay_by_depth: the last layer with tensors that train (now
   or after a train.unfreeze) keeps its rate, each such layer below it gets
   `decay` times the rate of the next one above. */
static int optim_depth(dlh_experiment *e, dlh_params *p, const char *type)
{
    static const double one = 1.0;
    double decay;
    int rc;
    if ((rc = dlh_param_float(p, "lr_decay_by_depth", &one, -HUGE_VAL, HUGE_VAL, &decay)))
        return rc;
    if (!(decay > 0.0 && decay <= 1.0))
        return dlh_exp_error_at(p, "lr_decay_by_depth", "optimizer: lr_decay_by_depth %g: "
                                "expected a number in (0, 1] (the factor between a layer's "
                                "rate and the rate of the layer above it)", decay);
    if (decay == 1.0)
        return 0;
    if (dlh_optim_step_all(e))
        return dlh_exp_error_at(p, "lr_decay_by_depth", "optimizer: lr_decay_by_depth needs "
                                "a learning rate per layer; '%s' updates every parameter "
                                "at one rate", type);
    double scale = 1.0;
    for (int k = e->n_param_tensors - 1; k >= 0;) {
        const dlh_layer_inst *l = e->slots[k].layer;
        int trains = 0, end = k;
        for (; k >= 0 && e->slots[k].layer == l; k--) {
            const dlh_opt_group *g = &e->groups[e->slots[k].group];
            trains |= g->trainable || g->unfreeze_epoch > 0;
        }
        for (int j = end; j > k; j--)
            e->slots[j].lr_scale = trains ? scale : 1.0;
        scale *= trains ? decay : 1.0;
    }
    return 0;
}

/* The optimizer group's clipping settings. */
static int optim_clip(dlh_params *p, dlh_opt_clip *c)
{
    static const double zero = 0.0, two = 2.0;
    int rc;
    double legacy;
    if ((rc = dlh_param_float(p, "clip_norm", &zero, 0.0, 1e30, &c->norm)) ||
        (rc = dlh_param_float(p, "grad_clip", &zero, 0.0, 1e30, &legacy)) ||
        (rc = dlh_param_float(p, "clip_value", &zero, 0.0, 1e30, &c->value)))
        return rc;
    if (dlh_param_has(p, "grad_clip") && dlh_param_has(p, "clip_norm"))
        return dlh_exp_error_at(p, "grad_clip", "optimizer: 'grad_clip' is the old name of "
                                "'clip_norm'; keep one");
    if (dlh_param_has(p, "grad_clip"))
        c->norm = legacy;
    c->norm_type = 2.0;
    if (!dlh_param_has(p, "norm_type"))
        return 0;
    const char *word;
    if (dlh_param_string(p, "norm_type", NULL, &word) == 0) {
        if (strcmp(word, "inf") != 0)
            return dlh_exp_error_at(p, "norm_type", "optimizer: norm_type '%s': expected a "
                                    "number > 0 or \"inf\"", word);
        c->norm_type = INFINITY;
    } else {
        dlh_error_clear();
        if ((rc = dlh_param_float(p, "norm_type", &two, 1e-6, 1e6, &c->norm_type)))
            return rc;
    }
    if (!(c->norm > 0.0))
        return dlh_exp_error_at(p, "norm_type", "optimizer: norm_type without clip_norm "
                                "has no effect");
    return 0;
}

/* Memory of every slot: the group optimiser's states (one block a group),
   scalars, step mirror; and for the group step_all updates (closure.c) the
   tensors, names and roles it sees at once. */
static int optim_state(dlh_experiment *e)
{
    size_t nm = 0;
    int rc;
    for (int k = 0; k < e->n_param_tensors; k++) {
        const dlh_optimizer_inst *o = e->groups[e->slots[k].group].opt;
        nm += o ? 1 + (size_t)o->n_scalars : 0;
    }
    int64_t mirror_n = (int64_t)nm;
    if (nm > 0 && (rc = dlh_tensor_alloc(e->backend, 1, &mirror_n, &e->opt_mirror_buf)))
        return rc;
    size_t at = 0;
    for (int g = 0; g < e->n_groups; g++) {
        dlh_opt_group *gr = &e->groups[g];
        dlh_optimizer_inst *o = gr->opt;
        if (!o)
            continue;
        int64_t max_numel = 0, total = 0;
        size_t n = (size_t)gr->n_tensors + 1, ns = (size_t)o->n_states;
        int all = gr == dlh_optim_step_all(e);
        if ((all && (!(gr->names = calloc(n, sizeof *gr->names)) ||
                     !(gr->roles = calloc(n, sizeof *gr->roles)))) ||
            (ns && !(gr->states = calloc(n * ns, sizeof *gr->states))))
            return optim_oom();
        for (int k = 0; k < e->n_param_tensors; k++)
            if (e->slots[k].group == g)
                total += dlh_tensor_numel(&e->slots[k].t->value);
        /* Globals wherever declared: a saved one goes into checkpoints
           (eval.c) even from an optimiser without step_all. */
        if ((rc = all ? dlh_optimizer_bind(o, gr->n_tensors, total)
                      : dlh_optimizer_globals_alloc(o, total)))
            return rc;
        for (int k = 0, i = 0; k < e->n_param_tensors; k++) {
            dlh_param_slot *sl = &e->slots[k];
            if (sl->group != g)
                continue;
            int64_t numel = dlh_tensor_numel(&sl->t->value);
            max_numel = numel > max_numel ? numel : max_numel;
            if (all) {
                gr->names[i] = sl->name;
                gr->roles[i] = sl->role;
                o->params[i] = sl->t->value;
                o->grads[i] = sl->t->grad;
            }
            int m = 1 + o->n_scalars;
            if (!(sl->mirror = calloc((size_t)m, sizeof *sl->mirror)) ||
                !(sl->scalars = calloc((size_t)m, sizeof *sl->scalars)))
                return optim_oom();
            dlh_optimizer_scalars_init(o, sl->scalars);
            for (int j = 0; j < m; j++, at++) {
                sl->mirror[j] = e->opt_mirror_buf;
                sl->mirror[j].ndim = 0;
                sl->mirror[j].mem.off += at;
            }
            sl->states = ns ? &gr->states[(size_t)i * ns] : NULL;
            if (ns && (rc = dlh_optimizer_states_alloc(o, &sl->t->value, sl->states))) {
                memset(sl->states, 0, ns * sizeof *sl->states);     /* freed there */
                return rc;
            }
            i++;
        }
        if ((rc = dlh_optimizer_scratch_alloc(o, max_numel)))
            return rc;
    }
    return 0;
}

/* The step's own buffers and kernels. */
static int optim_step_memory(dlh_experiment *e)
{
    int n = e->n_param_tensors, need_scratch = e->clip.norm > 0.0 && e->clip.norm_type != 2.0;
    int64_t max_numel = 0;
    int rc;
    for (int g = 0; g < e->n_groups; g++)
        need_scratch |= (e->groups[g].trainable || e->groups[g].unfreeze_epoch > 0) &&
                        (e->groups[g].l1 > 0.0 ||
                                                   e->groups[g].max_norm > 0.0);
    for (int k = 0; k < n; k++) {
        int64_t numel = dlh_tensor_numel(&e->slots[k].t->value);
        max_numel = numel > max_numel ? numel : max_numel;
    }
    /* Per slot: gradient sum of squares, gradient p-norm part, L1 sum, L2 sum. */
    int64_t sums = 4 * (int64_t)n;
    if (n == 0)
        return 0;
    if (!(e->opt_host = calloc((size_t)sums, sizeof *e->opt_host)))
        return optim_oom();
    if ((rc = dlh_tensor_alloc(e->backend, 1, &sums, &e->opt_sums)) ||
        (need_scratch && (rc = dlh_tensor_alloc(e->backend, 1, &max_numel, &e->opt_scratch))))
        return rc;
    for (int i = 0; i < K_COUNT; i++)
        if ((rc = dlh_ew_compile(e->backend, optim_kernels[i], &e->opt_k[i])))
            return rc;
    return 0;
}

int dlh_optim_new(dlh_experiment *e, config_setting_t *group)
{
    dlh_params *p = dlh_exp_params(e, group, "optimizer", optim_keys);
    if (!p)
        return DLH_ENOMEM;
    const char *type;
    int rc;
    if ((rc = dlh_param_string(p, "type", NULL, &type)))
        return rc;
    if (!dlh_registry_find(DLH_KIND_OPTIMIZER, type))
        return dlh_exp_locate(p, "type", DLH_ECONFIG);
    e->optimizer_type = type;
    config_setting_t *list = config_setting_get_member(group, "groups");
    if (list && !config_setting_is_list(list) && !config_setting_is_array(list))
        return dlh_exp_error_at(p, "groups", "optimizer: 'groups' expects a list of groups "
                                "( { params = [...]; ... }, ... )");
    int n_listed = list ? config_setting_length(list) : 0;
    config_setting_t *unf;
    if ((rc = optim_unfreeze_list(e, &unf)))
        return rc;
    int n_unf = unf ? config_setting_length(unf) : 0, n_def = n_listed + n_unf;
    e->n_groups = n_def + 1;
    if (!(e->groups = calloc((size_t)e->n_groups, sizeof *e->groups)))
        return optim_oom();
    /* The default group: the optimizer group's own settings. */
    dlh_opt_group *def = &e->groups[n_def];
    def->params = p;
    def->trainable = 1;
    if ((rc = dlh_optimizer_new(e->backend, type, p, &def->opt)))
        return dlh_exp_locate(p, NULL, rc);
    /* The optimiser's own default (PyTorch's), else 0.01. */
    const double def_lr = def->opt->default_lr > 0.0 ? def->opt->default_lr : 0.01;
    static const double zero = 0.0;
    dlh_params *base_reg;
    if ((rc = dlh_param_float(p, "lr", &def_lr, -HUGE_VAL, 1e6, &def->lr)))
        return rc;
    if (def->lr < 0.0)    /* torch.optim's wording */
        return dlh_exp_error_at(p, "lr", "optimizer: Invalid learning rate: %g", def->lr);
    if (!(def->lr > 0.0))
        return dlh_exp_error_at(p, "lr", "optimizer: parameter 'lr': expected a number > 0, "
                                "got %g", def->lr);
    def->lr_now = def->lr;
    if ((rc = optim_clip(p, &e->clip)) ||
        (rc = optim_penalties(e, group, "optimizer.regularization", NULL, &base_reg, def)) ||
        (rc = dlh_param_float(p, "max_norm", &zero, 0.0, 1e30, &def->max_norm)) ||
        (rc = dlh_params_check_unused(p)) ||
        (rc = optim_slots(e)))
        return rc;
    for (int g = 0; g < n_listed; g++) {
        if ((rc = optim_group(e, p, base_reg, list, g, type)))
            return rc;
        e->groups[g].lr_now = e->groups[g].lr;
    }
    for (int u = 0; u < n_unf; u++)
        if ((rc = optim_unfreeze_group(e, p, base_reg, unf, u, n_listed + u, n_listed, type)))
            return rc;
    for (int k = 0; k < e->n_param_tensors; k++) {
        dlh_param_slot *sl = &e->slots[k];
        if (sl->group < 0) {
            sl->group = n_def;
            def->n_tensors++;
        }
        sl->t->frozen = !e->groups[sl->group].trainable;
        sl->t->unfreezes = e->groups[sl->group].unfreeze_epoch > 0;
    }
    /* Frozen groups hold tensors torch.optim never sees: they do not count;
       groups that unfreeze later do (add_param_group). */
    int trained = 0;
    for (int g = 0; g < e->n_groups; g++)
        trained += (e->groups[g].trainable || e->groups[g].unfreeze_epoch > 0) &&
                   (e->groups[g].n_tensors > 0 || g == n_def);
    if ((rc = dlh_optimizer_check_groups(def->opt, type, trained)))
        return dlh_exp_locate(p, "groups", rc);
    if ((rc = optim_depth(e, p, type)) ||
        (rc = optim_state(e)))
        return rc;
    return optim_step_memory(e);
}

int dlh_optim_schedules(dlh_experiment *e, const dlh_schedule_ops *ops, dlh_params *p)
{
    /* ABI 1.7: create_ex learns the monitored metric and its direction. */
    dlh_schedule_setup setup = { sizeof setup, p, e->monitor, e->monitor_goal };
    for (int g = 0; (ops->create || ops->create_ex) && g < e->n_groups; g++) {
        int rc = ops->create_ex
                     ? ops->create_ex(dlh_host_table(), &setup, &e->groups[g].schedule_state)
                     : ops->create(dlh_host_table(), p, &e->groups[g].schedule_state);
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------- step */

double dlh_optim_lr(const dlh_experiment *e)
{
    return e->groups[e->n_groups - 1].lr;
}

int dlh_optim_lrs(dlh_experiment *e, int64_t epoch, int64_t step, int64_t steps_per_epoch,
                  double metric)
{
    for (int g = 0; g < e->n_groups; g++) {
        dlh_opt_group *gr = &e->groups[g];
        if (!gr->trainable)
            continue;
        dlh_schedule_ctx c = { sizeof c, gr->lr, epoch, step, steps_per_epoch, e->epochs,
                               metric };
        double lr;
        int rc = e->schedule->lr(gr->schedule_state, &c, &lr);
        if (rc) {
            dlh_error_prefix("schedule '%s': ", e->schedule_type);
            return rc;
        }
        if (!(isfinite(lr) && lr >= 0.0)) {
            dlh_error_set("schedule '%s': learning rate %g at step %" PRId64 "%s",
                          e->schedule_type, lr, step + 1,
                          g + 1 < e->n_groups ? " (a parameter group's)" : "");
            return DLH_ENUMERIC;
        }
        gr->lr_now = lr;
    }
    return 0;
}

static const dlh_mem optim_no_idx = { NULL, 0 };

static int optim_reduce(dlh_experiment *e, dlh_reduce_op op, const dlh_tensor *x, size_t at)
{
    const dlh_backend *be = e->backend;
    return be->ops->reduce(be->ctx, op, 1, 1, (int)dlh_tensor_numel(x), x->mem,
                           dlh_mem_at(e->opt_sums.mem, at), optim_no_idx);
}

/* The first n elements of the scratch, reduced with op into sums[at]. */
static int optim_reduce_scratch(dlh_experiment *e, size_t n, dlh_reduce_op op, size_t at)
{
    dlh_tensor s = e->opt_scratch;
    s.ndim = 1;
    s.shape[0] = (int64_t)n;
    return optim_reduce(e, op, &s, at);
}

/* |x| (or |x|^p) of x into the scratch, reduced with op into sums[at]. */
static int optim_reduce_abs(dlh_experiment *e, const dlh_tensor *x, double p,
                            dlh_reduce_op op, size_t at)
{
    size_t n = (size_t)dlh_tensor_numel(x);
    dlh_ew_arg args[2] = { dlh_ew_full(x->mem, n), dlh_ew_full(e->opt_scratch.mem, n) };
    float sc[1] = { (float)p };
    int rc = p == 1.0 || isinf(p) ? dlh_ew_run(e->opt_k[K_ABS], n, args, NULL)
                                 : dlh_ew_run(e->opt_k[K_POW], n, args, sc);
    return rc ? rc : optim_reduce_scratch(e, n, op, at);
}

/* Slot k's part of dlh_optim_gradients: the penalties' gradient into its
   gradient and its sums into opt_sums, on the device. */
static int optim_guard_slot(dlh_experiment *e, int k)
{
    int n = e->n_param_tensors, rc;
    int pnorm = e->clip.norm > 0.0 && e->clip.norm_type != 2.0;
    const dlh_param_slot *sl = &e->slots[k];
    const dlh_opt_group *g = &e->groups[sl->group];
    const dlh_tensor *w = &sl->t->value, *gr = &sl->t->grad;
    size_t m = (size_t)dlh_tensor_numel(w);
    if (g->l1 > 0.0 || g->l2 > 0.0) {
        /* One pass over w adds the penalties' gradient and, with L1,
           leaves |w| in the scratch; the values are those at the weights
           the gradient belongs to (the pass leaves w as it is).  The L2
           value is the backend's own sum of squares of w (a sum of float
           squares would round differently). */
        int l1 = g->l1 > 0.0;
        dlh_ew_arg args[3] = { dlh_ew_full(w->mem, m), dlh_ew_full(gr->mem, m),
                               dlh_ew_full(e->opt_scratch.mem, m) };
        float sc[2] = { (float)g->l1, (float)(2.0 * g->l2) };
        if ((rc = dlh_ew_run(e->opt_k[l1 ? K_PENALTY_ABS : K_PENALTY], m, args, sc)) ||
            (l1 && (rc = optim_reduce_scratch(e, m, DLH_REDUCE_SUM, 2 * (size_t)n + k))) ||
            (g->l2 > 0.0 && (rc = optim_reduce(e, DLH_REDUCE_SUMSQ, w, 3 * (size_t)n + k))))
            return rc;
    }
    if ((rc = optim_reduce(e, DLH_REDUCE_SUMSQ, gr, (size_t)k)))
        return rc;
    if (pnorm && (rc = optim_reduce_abs(e, gr, e->clip.norm_type,
                                        isinf(e->clip.norm_type) ? DLH_REDUCE_MAX
                                                                 : DLH_REDUCE_SUM,
                                        (size_t)n + k)))
        return rc;
    return 0;
}

void dlh_optim_guard_begin(dlh_experiment *e)
{
    for (int k = 0; k < e->n_param_tensors; k++)
        e->slots[k].guarded = 0;
}

int dlh_optim_guard_layer(dlh_experiment *e, const dlh_layer_inst *layer)
{
    for (int k = 0; k < e->n_param_tensors; k++) {
        dlh_param_slot *sl = &e->slots[k];
        if (sl->layer != layer || sl->guarded || !e->groups[sl->group].trainable)
            continue;
        int rc = optim_guard_slot(e, k);
        if (rc)
            return rc;
        sl->guarded = 1;
    }
    return 0;
}

int dlh_optim_gradients(dlh_experiment *e, double *penalty, int *bad)
{
    int n = e->n_param_tensors, rc = 0, with_penalty = 0;
    int pnorm = e->clip.norm > 0.0 && e->clip.norm_type != 2.0;
    *penalty = 0.0;
    *bad = -1;
    if (n == 0)
        return 0;
    /* Tensors whose layer's backward did not do their part do it now;
       every mark is cleared for the next evaluation (a closure's). */
    for (int k = 0; k < n; k++) {
        dlh_param_slot *sl = &e->slots[k];
        const dlh_opt_group *g = &e->groups[sl->group];
        if (g->trainable && (g->l1 > 0.0 || g->l2 > 0.0))
            with_penalty = 1;
        if (rc == 0 && g->trainable && !sl->guarded)
            rc = optim_guard_slot(e, k);
        sl->guarded = 0;
    }
    if (rc)
        return rc;
    /* One read for everything of this step. */
    size_t count = (size_t)(with_penalty ? 4 : pnorm ? 2 : 1) * (size_t)n;
    const dlh_backend *be = e->backend;
    if ((rc = be->ops->read(be->ctx, e->opt_sums.mem.buf, e->opt_sums.mem.off * sizeof(float),
                            e->opt_host, count * sizeof(float))))
        return rc;
    for (int k = 0; k < n; k++) {
        const dlh_opt_group *g = &e->groups[e->slots[k].group];
        e->grad_sumsq[k] = g->trainable ? e->opt_host[k] : 0.0f;
        if (*bad < 0 && !isfinite(e->grad_sumsq[k]))
            *bad = k;
        if (g->trainable && g->l1 > 0.0)
            *penalty += g->l1 * (double)e->opt_host[2 * n + k];
        if (g->trainable && g->l2 > 0.0)
            *penalty += g->l2 * (double)e->opt_host[3 * n + k];
    }
    return 0;
}

static int optim_each_grad(dlh_experiment *e, int kernel, float s)
{
    float sc[1] = { s };
    for (int k = 0; k < e->n_param_tensors; k++) {
        dlh_param_slot *sl = &e->slots[k];
        if (!e->groups[sl->group].trainable)
            continue;
        size_t m = (size_t)dlh_tensor_numel(&sl->t->grad);
        dlh_ew_arg args[1] = { dlh_ew_full(sl->t->grad.mem, m) };
        int rc = dlh_ew_run(e->opt_k[kernel], m, args, sc);
        if (rc)
            return rc;
    }
    return 0;
}

double dlh_optim_grad_norm(const dlh_experiment *e)
{
    int n = e->n_param_tensors;
    double p = e->clip.norm > 0.0 ? e->clip.norm_type : 2.0, total = 0.0;
    for (int k = 0; k < n; k++) {
        if (!e->groups[e->slots[k].group].trainable)
            continue;
        double v = p == 2.0 ? (double)e->grad_sumsq[k] : (double)e->opt_host[n + k];
        total = isinf(p) ? fmax(total, v) : total + v;
    }
    return isinf(p) ? total : pow(total, 1.0 / p);
}

int dlh_optim_clip(dlh_experiment *e)
{
    int rc;
    if (e->clip.norm > 0.0) {
        /* torch.nn.utils.clip_grad_norm_: every gradient times
           min(max_norm / (total_norm + 1e-6), 1). */
        double coef = e->clip.norm / (dlh_optim_grad_norm(e) + 1e-6);
        if (coef < 1.0 && (rc = optim_each_grad(e, K_SCALE, (float)coef)))
            return rc;
    }
    if (e->clip.value > 0.0 && (rc = optim_each_grad(e, K_CLAMP, (float)e->clip.value)))
        return rc;
    return 0;
}

/* torch.renorm(w, p=2, dim=0, maxnorm) of a weight, each row (output unit,
   filter) at most max_norm long. */
static int optim_renorm(dlh_experiment *e, const dlh_tensor *w, double max_norm)
{
    const dlh_backend *be = e->backend;
    int64_t rows = w->shape[0], numel = dlh_tensor_numel(w), cols = numel / rows;
    int rc = be->ops->reduce(be->ctx, DLH_REDUCE_SUMSQ, 1, (int)rows, (int)cols, w->mem,
                             e->opt_scratch.mem, optim_no_idx);
    if (rc)
        return rc;
    dlh_ew_arg args[2] = { { e->opt_scratch.mem, (size_t)rows, (size_t)cols },
                           dlh_ew_full(w->mem, (size_t)numel) };
    float sc[1] = { (float)max_norm };
    return dlh_ew_run(e->opt_k[K_RENORM], (size_t)numel, args, sc);
}

/* max_norm of a slot's group, on weights of two or more dimensions. */
static int optim_constrain_one(dlh_experiment *e, const dlh_param_slot *sl,
                               const dlh_opt_group *g)
{
    if (g->max_norm > 0.0 && sl->role == DLH_ROLE_WEIGHT && sl->t->value.ndim >= 2)
        return optim_renorm(e, &sl->t->value, g->max_norm);
    return 0;
}

dlh_opt_group *dlh_optim_step_all(dlh_experiment *e)
{
    dlh_opt_group *def = &e->groups[e->n_groups - 1];
    return def->opt && def->opt->ops->step_all ? def : NULL;
}

int dlh_optim_constrain(dlh_experiment *e)
{
    for (int k = 0; k < e->n_param_tensors; k++) {
        dlh_param_slot *sl = &e->slots[k];
        const dlh_opt_group *g = &e->groups[sl->group];
        int rc = g->trainable ? optim_constrain_one(e, sl, g) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

int dlh_optim_update(dlh_experiment *e, int64_t t)
{
    dlh_optimizer_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.struct_size = sizeof ctx;
    ctx.backend = e->backend;
    ctx.t = t;
    dlh_tensor scratch[DLH_OPT_MAX_SCRATCH];
    for (int k = 0; k < e->n_param_tensors; k++) {
        dlh_param_slot *sl = &e->slots[k];
        const dlh_opt_group *g = &e->groups[sl->group];
        if (!g->trainable)
            continue;
        const dlh_optimizer_inst *o = g->opt;
        double lr = g->lr_now * sl->lr_scale;
        ctx.lr = (float)lr;
        dlh_optimizer_ctx_fill(o, &ctx, dlh_tensor_numel(&sl->t->value), lr,
                               ++sl->step, sl->name, sl->role, sl->scalars, scratch);
        ctx.group = sl->group;
        int rc = o->ops->step(o->state, &ctx, &sl->t->value, &sl->t->grad, sl->states);
        if (rc == 0)
            rc = optim_constrain_one(e, sl, g);
        if (rc) {
            if (!*dlh_error_get())
                dlh_error_set("%s", dlh_strerror(rc));
            dlh_error_prefix("optimizer '%s': %s: ", e->optimizer_type, sl->name);
            return rc;
        }
    }
    return 0;
}

/* ------------------------------------------------------ checkpoints, free */

int dlh_optim_sync(dlh_experiment *e, int to_mirror)
{
    size_t total = e->opt_mirror_buf.mem.buf ? (size_t)dlh_tensor_numel(&e->opt_mirror_buf)
                                             : 0;
    if (total == 0)
        return 0;
    const dlh_host *host = dlh_host_table();
    float *v = malloc(total * sizeof *v);
    if (!v)
        return optim_oom();
    int rc = to_mirror ? 0 : host->tensor_read(e->backend, &e->opt_mirror_buf, v);
    size_t at = 0;
    for (int k = 0; k < e->n_param_tensors && rc == 0; k++) {
        dlh_param_slot *sl = &e->slots[k];
        const dlh_optimizer_inst *o = e->groups[sl->group].opt;
        if (!o)
            continue;
        size_t nsc = (size_t)o->n_scalars;
        if (to_mirror) {
            v[at] = (float)sl->step;
            memcpy(&v[at + 1], sl->scalars, nsc * sizeof *v);
        } else {
            float s = v[at];
            if (!(s >= 0.0f && s < 9.2e18f && s == floorf(s))) {
                dlh_error_set("optim.%s.step is %g, not a step count", sl->name, (double)s);
                rc = DLH_EDATA;
            }
            sl->step = (int64_t)s;
            memcpy(sl->scalars, &v[at + 1], nsc * sizeof *v);
        }
        at += 1 + nsc;
    }
    if (rc == 0 && to_mirror)
        rc = host->tensor_write(e->backend, &e->opt_mirror_buf, v);
    free(v);
    return rc;
}

void dlh_optim_free(dlh_experiment *e)
{
    for (int k = 0; e->slots && k < e->n_param_tensors; k++) {
        dlh_param_slot *sl = &e->slots[k];
        free(sl->scalars);
        free(sl->mirror);
        free(sl->name);
    }
    free(e->slots);
    free(e->grad_sumsq);
    for (int g = 0; e->groups && g < e->n_groups; g++) {
        dlh_opt_group *gr = &e->groups[g];
        size_t n = gr->opt ? (size_t)gr->n_tensors * (size_t)gr->opt->n_states : 0;
        for (size_t i = 0; gr->states && i < n; i++)
            if (gr->states[i].mem.buf)
                dlh_tensor_free(e->backend, &gr->states[i]);
        free(gr->states);
        free(gr->names);
        free(gr->roles);
        dlh_optimizer_free(e->groups[g].opt);
        if (e->schedule && e->schedule->destroy && e->groups[g].schedule_state)
            e->schedule->destroy(e->groups[g].schedule_state);
    }
    free(e->groups);
    for (int i = 0; i < K_COUNT; i++)
        dlh_ew_free(e->opt_k[i]);
    dlh_tensor *own[3] = { &e->opt_mirror_buf, &e->opt_sums, &e->opt_scratch };
    for (int i = 0; i < 3; i++)
        if (own[i]->mem.buf)
            dlh_tensor_free(e->backend, own[i]);
    free(e->opt_host);
}
