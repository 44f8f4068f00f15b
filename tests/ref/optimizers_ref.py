#!/usr/bin/python3
"""Reference trajectories for tests/test_optimizers.c, from PyTorch.

Runs each optimiser of the "optimizers" plugin that is newer than sgd, adam
and rmsprop for STEPS steps on two tensors (a 3x4 "fc.weight" and a 3-value
"fc.bias") from the same start on the same gradients, with a learning rate
that changes every step (as a schedule would), and prints the tensors after
every step and the optimiser's state after the last one (by torch's state
names) as C initialisers, kept in tests/ref/optimizers_ref.h:
    /usr/bin/python3 tests/ref/optimizers_ref.py > tests/ref/optimizers_ref.h
(tests/test_ref_live.sh does that in make check and compares).

torch.optim 1.13's classes (single-tensor path, float32, CPU) give adamw,
nadam, radam, adamax, adagrad, adadelta, asgd and rprop.  The rest is
written here with plain torch tensor ops, op for op as the named source:
nadam's and radam's decoupled_weight_decay as torch 2.x's
_single_tensor_nadam/_single_tensor_radam (the rest of the step as 1.13's),
lion as Chen et al. 2023 (Algorithm 2; lion-pytorch's code), lamb as You
et al. 2019 (Algorithm 2, phi = identity, trust ratio 1 where a norm is 0).
Generated with Debian's python3-torch 1.13.1.
"""
import math

import torch

STEPS, NW, NB = 25, 12, 3


def f32(x):
    return torch.tensor(x, dtype=torch.float32).item()


W0 = [f32(0.8 * math.sin(1.7 * i + 0.3)) for i in range(NW)]
B0 = [0.1, -0.2, 0.05]
# Gradients that change sign now and then (rprop, lion), of several sizes.
GW = [[f32(math.sin(0.9 * i + 0.37 * t) * (0.3 + 0.15 * (i % 4)) +
           0.05 * math.cos(2.3 * t + i)) for i in range(NW)] for t in range(1, STEPS + 1)]
GB = [[f32(0.5 * math.sin(1.3 * j - 0.45 * t) + 0.02 * t * (j - 1)) for j in range(NB)]
      for t in range(1, STEPS + 1)]


def lr_at(base, t):
    # test_optimizers.c computes the same double.
    return base * (1.0 - 0.02 * (t - 1))


# ---- the optimisers torch 1.13 lacks, as functions of (params, state, lr)

def nadam_decoupled(params, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                    momentum_decay=4e-3):
    beta1, beta2 = betas
    for p in params:
        st = state.setdefault(p, {})
        if not st:
            st["step"] = torch.tensor(0.)
            st["mu_product"] = torch.tensor(1.)
            st["exp_avg"] = torch.zeros_like(p)
            st["exp_avg_sq"] = torch.zeros_like(p)
        grad, exp_avg, exp_avg_sq, mu_product = p.grad, st["exp_avg"], st["exp_avg_sq"], \
            st["mu_product"]
        st["step"] += 1
        step = st["step"].item()
        bias_correction2 = 1 - beta2 ** step
        if weight_decay != 0:
            p.mul_(1 - lr * weight_decay)     # torch 2.x, decoupled_weight_decay=True
        mu = beta1 * (1. - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1. - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        mu_product *= mu
        mu_product_next = mu_product * mu * mu_next     # torch 1.13's
        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = exp_avg_sq.div(bias_correction2).sqrt().add_(eps)
        p.addcdiv_(grad, denom, value=-lr * (1. - mu) / (1. - mu_product.item()))
        p.addcdiv_(exp_avg, denom, value=-lr * mu_next / (1. - mu_product_next.item()))


def radam_decoupled(params, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    beta1, beta2 = betas
    for p in params:
        st = state.setdefault(p, {})
        if not st:
            st["step"] = torch.tensor(0.)
            st["exp_avg"] = torch.zeros_like(p)
            st["exp_avg_sq"] = torch.zeros_like(p)
        grad, exp_avg, exp_avg_sq = p.grad, st["exp_avg"], st["exp_avg_sq"]
        st["step"] += 1
        step = st["step"].item()
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        if weight_decay != 0:
            p.mul_(1 - lr * weight_decay)     # torch 2.x, decoupled_weight_decay=True
        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias_corrected_exp_avg = exp_avg / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        if rho_t > 5.:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf /
                             ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive_lr = math.sqrt(bias_correction2) / exp_avg_sq.sqrt().add_(eps)
            p.add_(bias_corrected_exp_avg * lr * adaptive_lr * rect, alpha=-1.0)
        else:
            p.add_(bias_corrected_exp_avg * lr, alpha=-1.0)


def lion(params, state, lr, betas=(0.9, 0.99), weight_decay=0.0):
    beta1, beta2 = betas
    for p in params:
        st = state.setdefault(p, {})
        if not st:
            st["step"] = torch.tensor(0.)
            st["exp_avg"] = torch.zeros_like(p)
        st["step"] += 1
        grad, exp_avg = p.grad, st["exp_avg"]
        p.mul_(1 - lr * weight_decay)
        update = exp_avg.clone().mul_(beta1).add(grad, alpha=1 - beta1).sign_()
        p.add_(update, alpha=-lr)
        exp_avg.mul_(beta2).add_(grad, alpha=1 - beta2)


def lamb(params, state, lr, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0,
         exclude_bias_and_norm=False):
    beta1, beta2 = betas
    for p in params:
        st = state.setdefault(p, {})
        if not st:
            st["step"] = torch.tensor(0.)
            st["exp_avg"] = torch.zeros_like(p)
            st["exp_avg_sq"] = torch.zeros_like(p)
        grad, exp_avg, exp_avg_sq = p.grad, st["exp_avg"], st["exp_avg_sq"]
        st["step"] += 1
        step = st["step"].item()
        plain = exclude_bias_and_norm and p.dim() <= 1     # fc.bias
        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        u = (exp_avg / (1 - beta1 ** step)) / (exp_avg_sq / (1 - beta2 ** step)).sqrt().add(eps)
        if weight_decay != 0 and not plain:
            u = u.add(p, alpha=weight_decay)
        ratio = torch.tensor(1.)
        if not plain:
            wn, un = p.norm(), u.norm()
            ratio = torch.where(wn > 0, torch.where(un > 0, wn / un, ratio), ratio)
        p.sub_((lr * ratio) * u)


CUSTOM = {"nadam_decoupled": nadam_decoupled, "radam_decoupled": radam_decoupled,
          "lion": lion, "lamb": lamb}
TORCH = {"adamw": torch.optim.AdamW, "nadam": torch.optim.NAdam, "radam": torch.optim.RAdam,
         "adamax": torch.optim.Adamax, "adagrad": torch.optim.Adagrad,
         "adadelta": torch.optim.Adadelta, "asgd": torch.optim.ASGD,
         "rprop": torch.optim.Rprop}

# (name in the C test, optimiser, config body, base lr, keyword arguments);
# kind "nadam_decoupled" etc. runs the function above as the given optimiser.
CASES = [
    ("adamw_default", "adamw", "", 0.01, {}),
    ("adamw_betas", "adamw", "betas = [0.8, 0.95];", 0.01, {"betas": (0.8, 0.95)}),
    ("adamw_eps", "adamw", "eps = 0.01;", 0.01, {"eps": 0.01}),
    ("adamw_wd", "adamw", "weight_decay = 0.5;", 0.05, {"weight_decay": 0.5}),
    ("adamw_amsgrad", "adamw", "amsgrad = true; betas = [0.9, 0.6];", 0.01,
     {"amsgrad": True, "betas": (0.9, 0.6)}),
    ("adamw_maximize", "adamw", "maximize = true;", 0.01, {"maximize": True}),
    ("adamw_all", "adamw", "amsgrad = true; maximize = true; betas = [0.85, 0.7]; "
     "eps = 1e-4; weight_decay = 0.2;", 0.02,
     {"amsgrad": True, "maximize": True, "betas": (0.85, 0.7), "eps": 1e-4,
      "weight_decay": 0.2}),
    ("nadam_default", "nadam", "", 0.01, {}),
    ("nadam_betas", "nadam", "betas = [0.8, 0.95];", 0.01, {"betas": (0.8, 0.95)}),
    ("nadam_eps", "nadam", "eps = 0.01;", 0.01, {"eps": 0.01}),
    ("nadam_wd", "nadam", "weight_decay = 0.1;", 0.01, {"weight_decay": 0.1}),
    ("nadam_momentum_decay", "nadam", "momentum_decay = 0.05;", 0.01,
     {"momentum_decay": 0.05}),
    ("nadam_decoupled", "nadam_decoupled",
     "weight_decay = 0.5; decoupled_weight_decay = true;", 0.05, {"weight_decay": 0.5}),
    ("radam_default", "radam", "", 0.01, {}),
    ("radam_betas", "radam", "betas = [0.8, 0.9];", 0.01, {"betas": (0.8, 0.9)}),
    ("radam_eps", "radam", "eps = 0.01;", 0.01, {"eps": 0.01}),
    ("radam_wd", "radam", "weight_decay = 0.1;", 0.01, {"weight_decay": 0.1}),
    ("radam_decoupled", "radam_decoupled",
     "weight_decay = 0.5; decoupled_weight_decay = true;", 0.05, {"weight_decay": 0.5}),
    ("adamax_default", "adamax", "", 0.01, {}),
    ("adamax_betas", "adamax", "betas = [0.8, 0.9];", 0.01, {"betas": (0.8, 0.9)}),
    ("adamax_eps", "adamax", "eps = 0.1;", 0.01, {"eps": 0.1}),
    ("adamax_wd", "adamax", "weight_decay = 0.1;", 0.01, {"weight_decay": 0.1}),
    ("adamax_maximize", "adamax", "maximize = true;", 0.01, {"maximize": True}),
    ("adagrad_default", "adagrad", "", 0.05, {}),
    ("adagrad_lr_decay", "adagrad", "lr_decay = 0.1;", 0.05, {"lr_decay": 0.1}),
    ("adagrad_initial", "adagrad", "initial_accumulator_value = 0.5;", 0.05,
     {"initial_accumulator_value": 0.5}),
    ("adagrad_eps", "adagrad", "eps = 0.1;", 0.05, {"eps": 0.1}),
    ("adagrad_wd", "adagrad", "weight_decay = 0.1;", 0.05, {"weight_decay": 0.1}),
    ("adagrad_maximize", "adagrad", "maximize = true;", 0.05, {"maximize": True}),
    ("adadelta_default", "adadelta", "", 1.0, {}),
    ("adadelta_rho", "adadelta", "rho = 0.5;", 1.0, {"rho": 0.5}),
    ("adadelta_eps", "adadelta", "eps = 1e-3;", 1.0, {"eps": 1e-3}),
    ("adadelta_wd", "adadelta", "weight_decay = 0.1;", 1.0, {"weight_decay": 0.1}),
    ("adadelta_maximize", "adadelta", "maximize = true;", 0.5, {"maximize": True}),
    ("asgd_default", "asgd", "", 0.05, {}),
    ("asgd_lambd", "asgd", "lambd = 0.1;", 0.05, {"lambd": 0.1}),
    ("asgd_alpha", "asgd", "lambd = 0.1; alpha = 0.5;", 0.05, {"lambd": 0.1, "alpha": 0.5}),
    ("asgd_t0", "asgd", "t0 = 5;", 0.05, {"t0": 5}),
    ("asgd_wd", "asgd", "weight_decay = 0.1;", 0.05, {"weight_decay": 0.1}),
    ("asgd_maximize", "asgd", "maximize = true;", 0.05, {"maximize": True}),
    ("rprop_default", "rprop", "", 0.01, {}),
    ("rprop_etas", "rprop", "etas = [0.3, 1.5];", 0.01, {"etas": (0.3, 1.5)}),
    ("rprop_step_sizes", "rprop", "step_sizes = [0.005, 0.02];", 0.01,
     {"step_sizes": (0.005, 0.02)}),
    ("rprop_maximize", "rprop", "maximize = true;", 0.01, {"maximize": True}),
    ("lion_default", "lion", "", 0.001, {}),
    ("lion_betas", "lion", "betas = [0.8, 0.95];", 0.001, {"betas": (0.8, 0.95)}),
    ("lion_wd", "lion", "weight_decay = 0.5;", 0.01, {"weight_decay": 0.5}),
    ("lamb_default", "lamb", "", 0.01, {}),
    ("lamb_betas", "lamb", "betas = [0.8, 0.95];", 0.01, {"betas": (0.8, 0.95)}),
    ("lamb_eps", "lamb", "eps = 0.01;", 0.01, {"eps": 0.01}),
    ("lamb_wd", "lamb", "weight_decay = 0.1;", 0.01, {"weight_decay": 0.1}),
    ("lamb_exclude", "lamb", "weight_decay = 0.1; exclude_bias_and_norm = true;", 0.01,
     {"weight_decay": 0.1, "exclude_bias_and_norm": True}),
]


def run(kind, base, kwargs):
    w = torch.nn.Parameter(torch.tensor(W0, dtype=torch.float32).reshape(3, 4))
    b = torch.nn.Parameter(torch.tensor(B0, dtype=torch.float32))
    params = [w, b]
    if kind in TORCH:
        opt = TORCH[kind](params, lr=lr_at(base, 1), foreach=False, **kwargs)
        state = opt.state
    else:
        state = {}
    traj = []
    for t in range(1, STEPS + 1):
        w.grad = torch.tensor(GW[t - 1], dtype=torch.float32).reshape(3, 4)
        b.grad = torch.tensor(GB[t - 1], dtype=torch.float32)
        with torch.no_grad():
            if kind in TORCH:
                for g in opt.param_groups:
                    g["lr"] = lr_at(base, t)
                opt.step()
            else:
                CUSTOM[kind](params, state, lr_at(base, t), **kwargs)
        traj.append((w.detach().flatten().tolist(), b.detach().tolist()))
    final = []
    for name in sorted(state[w]):
        vw, vb = state[w][name], state[b][name]
        fw = torch.as_tensor(vw, dtype=torch.float64).flatten().tolist()
        fb = torch.as_tensor(vb, dtype=torch.float64).flatten().tolist()
        final.append((name, fw, fb))
    return traj, final


def nums(v):
    return ", ".join("%.9g" % x for x in v)


def main():
    torch.set_num_threads(1)
    print("/* Generated by tests/ref/optimizers_ref.py with torch %s. */" % torch.__version__)
    print("static const float optz_w0[NW] = { %s };" % nums(W0))
    print("static const float optz_b0[NB] = { %s };" % nums(B0))
    print("static const float optz_gw[STEPS][NW] = {")
    for row in GW:
        print("    { %s }," % nums(row))
    print("};")
    print("static const float optz_gb[STEPS][NB] = {")
    for row in GB:
        print("    { %s }," % nums(row))
    print("};")
    table = []
    for name, kind, body, base, kwargs in CASES:
        traj, final = run(kind, base, kwargs)
        print("static const double ref_%s_w[STEPS * NW] = {" % name)
        for tw, _ in traj:
            print("    %s," % nums(tw))
        print("};")
        print("static const double ref_%s_b[STEPS * NB] = {" % name)
        for _, tb in traj:
            print("    %s," % nums(tb))
        print("};")
        print("static const optz_state ref_%s_states[] = {" % name)
        for sname, fw, fb in final:
            print('    { "%s", %d, { %s }, { %s } },' % (sname, len(fw), nums(fw), nums(fb)))
        print("};")
        opt = kind.split("_")[0]
        table.append('    { "%s", "%s", "%s", %.9g, ref_%s_w, ref_%s_b, ref_%s_states, %d },'
                     % (name, opt, body, base, name, name, name, len(final)))
    print("static const optz_case optz_cases[] = {")
    for line in table:
        print(line)
    print("};")


if __name__ == "__main__":
    main()
