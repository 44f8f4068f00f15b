#!/usr/bin/python3
"""Reference trajectories for tests/test_param_groups.c, from PyTorch.

The four tensors of a dense-relu-dense model (fc1.weight 4x3, fc1.bias 4,
fc2.weight 2x4, fc2.bias 2) start from fixed values and take STEPS steps on
fixed gradients, as torch users write a step:

    loss = data_loss + sum(l1 * p.abs().sum() + l2 * (p * p).sum())   # penalties
    loss.backward()                          # here: p.grad = G_t, then the penalty's
    clip_grad_norm_(params, max_norm, norm_type); clip_grad_value_(params, v)
    for g in opt.param_groups: g["lr"] = base_lr_g * gamma ** (t - 1)  # ExponentialLR
    opt.step()
    with torch.no_grad(): w.copy_(torch.renorm(w, 2, 0, max_norm))  # weights only

with torch.optim's param_groups built from the same description the C test
turns into dlhost's optimizer.groups: glob patterns over "<layer>.<param>",
the first matching group wins, the rest form the default group (last);
lr_mult multiplies the base lr; trainable = False leaves a tensor out of the
optimiser (requires_grad False: no update, no state, not in the clip norm).
Prints, as C initialisers kept in tests/ref/param_groups_ref.h, every
tensor after every step, the penalty value at every step and each tensor's
state['step']:
    /usr/bin/python3 tests/ref/param_groups_ref.py > tests/ref/param_groups_ref.h
(tests/test_ref_live.sh does that in make check and compares).
Generated with Debian's python3-torch 1.13.1.
"""
import fnmatch
import json
import math

import torch

STEPS, GAMMA = 25, 0.95
NAMES = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
SHAPES = [(4, 3), (4,), (2, 4), (2,)]
SIZES = [math.prod(s) for s in SHAPES]
N = sum(SIZES)


def f32(x):
    return torch.tensor(x, dtype=torch.float32).item()


W0 = [f32(0.9 * math.sin(1.3 * i + 0.4)) for i in range(N)]
GRADS = [[f32(math.sin(0.7 * i + 0.41 * t) * (0.2 + 0.1 * (i % 5)) +
              0.03 * math.cos(1.9 * t - i)) for i in range(N)] for t in range(1, STEPS + 1)]

# Each case: the optimiser, its base settings (torch keyword: dlhost text),
# the groups (patterns, torch overrides, dlhost text) and the step's own
# settings.  The dlhost text is what the C test writes into optimizer = {}.
CASES = [
    dict(name="sgd_groups", type="sgd", cls=torch.optim.SGD,
         base=dict(lr=0.1, momentum=0.9, weight_decay=0.01),
         text='lr = 0.1; momentum = 0.9; weight_decay = 0.01;',
         groups=[dict(params=["*.bias"], torch=dict(weight_decay=0.0),
                      text='weight_decay = 0.0;'),
                 dict(params=["fc1.*"], lr_mult=0.1, torch=dict(nesterov=True),
                      text='lr_mult = 0.1; nesterov = true;')]),
    dict(name="adam_penalties", type="adam", cls=torch.optim.Adam,
         base=dict(lr=0.01), l1=1e-3, l2=1e-2, clip_norm=0.5,
         text='lr = 0.01; regularization = { l1 = 0.001; l2 = 0.01; }; clip_norm = 0.5;',
         groups=[dict(params="fc2.bias", l1=0.0, torch=dict(amsgrad=True),
                      text='regularization = { l1 = 0.0; }; amsgrad = true;')]),
    dict(name="sgd_l1norm_value_maxnorm", type="sgd", cls=torch.optim.SGD,
         base=dict(lr=0.2, momentum=0.5), clip_norm=0.3, norm_type=1.0, clip_value=0.05,
         max_norm=0.9,
         text='lr = 0.2; momentum = 0.5; clip_norm = 0.3; norm_type = 1.0; '
              'clip_value = 0.05; max_norm = 0.9;',
         groups=[dict(params=["fc2.weight"], max_norm=0.5, torch={},
                      text='max_norm = 0.5;')]),
    dict(name="sgd_inf_frozen", type="sgd", cls=torch.optim.SGD,
         base=dict(lr=0.1), clip_norm=0.2, norm_type=math.inf, l2=0.05,
         text='lr = 0.1; clip_norm = 0.2; norm_type = "inf"; '
              'regularization = { l2 = 0.05; };',
         groups=[dict(params=["fc1.*"], trainable=False, torch={},
                      text='trainable = false;')]),
    dict(name="adamw_p3_lr", type="adamw", cls=torch.optim.AdamW,
         base=dict(lr=0.01, weight_decay=0.1), clip_norm=0.4, norm_type=3.0,
         text='lr = 0.01; weight_decay = 0.1; clip_norm = 0.4; norm_type = 3.0;',
         groups=[dict(params=["fc1.bias", "fc2.bias"], lr=0.002,
                      torch=dict(weight_decay=0.0, betas=(0.8, 0.99)),
                      text='lr = 0.002; weight_decay = 0.0; betas = [0.8, 0.99];')]),
]


def group_text(g):
    pats = g["params"] if isinstance(g["params"], list) else [g["params"]]
    p = ", ".join(json.dumps(x) for x in pats) if isinstance(g["params"], list) \
        else json.dumps(g["params"])
    p = f"[{p}]" if isinstance(g["params"], list) else p
    return "{ params = %s; %s }" % (p, g["text"])


def config_text(c):
    t = 'type = "%s"; %s' % (c["type"], c["text"])
    if c["groups"]:
        t += " groups = ( " + ", ".join(group_text(g) for g in c["groups"]) + " );"
    return t


def run(c):
    params = []
    at = 0
    for name, shape, n in zip(NAMES, SHAPES, SIZES):
        params.append(torch.tensor(W0[at:at + n], dtype=torch.float32).reshape(shape)
                      .requires_grad_())
        at += n
    # First matching group wins; the rest go to the default group (last).
    owner = []
    for name in NAMES:
        gi = len(c["groups"])
        for i, g in enumerate(c["groups"]):
            pats = g["params"] if isinstance(g["params"], list) else [g["params"]]
            if any(fnmatch.fnmatchcase(name, p) for p in pats):
                gi = i
                break
        owner.append(gi)
    specs = c["groups"] + [dict(torch={})]
    base_lr = c["base"]["lr"]
    groups, settings = [], []
    for gi, g in enumerate(specs):
        mine = [p for p, o in zip(params, owner) if o == gi]
        trainable = g.get("trainable", True)
        lr = g.get("lr", base_lr * g.get("lr_mult", 1.0))
        settings.append(dict(lr=lr, l1=g.get("l1", c.get("l1", 0.0)),
                             l2=g.get("l2", c.get("l2", 0.0)),
                             max_norm=g.get("max_norm", c.get("max_norm", 0.0)),
                             trainable=trainable))
        if trainable and mine:
            groups.append(dict(params=mine, lr=lr, **g["torch"]))
    for p, o in zip(params, owner):
        p.requires_grad_(settings[o]["trainable"])
    kw = {k: v for k, v in c["base"].items()}
    opt = c["cls"](groups, **kw)
    group_of = {id(p): settings[o] for p, o in zip(params, owner)}
    live = [p for p in params if p.requires_grad]
    traj, penalties = [], []
    for t in range(1, STEPS + 1):
        at = 0
        for p, n in zip(params, SIZES):
            p.grad = torch.tensor(GRADS[t - 1][at:at + n], dtype=torch.float32) \
                .reshape(p.shape) if p.requires_grad else None
            at += n
        pen = torch.zeros((), dtype=torch.float32)
        for p in live:
            s = group_of[id(p)]
            if s["l1"] > 0:
                pen = pen + s["l1"] * p.abs().sum()
            if s["l2"] > 0:
                pen = pen + s["l2"] * (p * p).sum()
        if pen.requires_grad:
            pen.backward()
        penalties.append(pen.item())
        if c.get("clip_norm"):
            torch.nn.utils.clip_grad_norm_(live, c["clip_norm"], c.get("norm_type", 2.0))
        if c.get("clip_value"):
            torch.nn.utils.clip_grad_value_(live, c["clip_value"])
        for g, gs in zip(opt.param_groups, [s for s in settings if s["trainable"]]):
            g["lr"] = gs["lr"] * GAMMA ** (t - 1)
        opt.step()
        with torch.no_grad():
            for p in live:
                m = group_of[id(p)]["max_norm"]
                if m > 0 and p.dim() >= 2:
                    p.copy_(torch.renorm(p, 2, 0, m))
        traj.append([v for p in params for v in p.detach().reshape(-1).tolist()])
    # torch.optim's state['step'] where it keeps one (SGD keeps none: the
    # count of updates, which dlhost keeps for every optimiser).
    steps = [int(opt.state[p]["step"].item()) if "step" in opt.state.get(p, {})
             else STEPS if p.requires_grad else 0 for p in params]
    return traj, penalties, steps


def num(x):
    return "%.9g" % x


def main():
    print("/* Generated by tests/ref/param_groups_ref.py (PyTorch %s); do not edit. */"
          % torch.__version__)
    print("#define PG_STEPS %d\n#define PG_N %d\n#define PG_GAMMA %s" % (STEPS, N, GAMMA))
    print("static const double pg_w0[PG_N] = { %s };" % ", ".join(num(v) for v in W0))
    print("static const double pg_grads[PG_STEPS][PG_N] = {")
    for g in GRADS:
        print("    { %s }," % ", ".join(num(v) for v in g))
    print("};")
    print("static const pg_case pg_cases[] = {")
    for c in CASES:
        traj, pens, steps = run(c)
        print("    { %s,\n      %s,\n      {" % (json.dumps(c["name"]),
                                                json.dumps(config_text(c))))
        for row in traj:
            print("        { %s }," % ", ".join(num(v) for v in row))
        print("      },\n      { %s },\n      { %s } },"
              % (", ".join(num(v) for v in pens), ", ".join(str(s) for s in steps)))
    print("};")


main()
