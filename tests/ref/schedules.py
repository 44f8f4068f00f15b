#!/usr/bin/python3
"""Reference learning rates for tests/test_schedules.c, from PyTorch.

Steps torch.optim.lr_scheduler the way dlhost's training loop asks its
schedule: StepLR, MultiStepLR, ExponentialLR, LinearLR and ReduceLROnPlateau
once per epoch (ReduceLROnPlateau with that epoch's metric), the cosine
schedule (CosineAnnealingLR, after a LinearLR warmup through SequentialLR)
once per optimiser step; records the rate each epoch or step runs at
(get_last_lr() before the step) and prints C initialisers to paste into the
test, with the metric sequences of the plateau cases.  It also checks that
torch's recursive (chainable) form agrees with the closed forms the plugins
use.  The test itself never needs torch; run this again only to regenerate
the numbers:  /usr/bin/python3 tests/ref/schedules.py
"""
import math
import warnings

import torch
from torch.optim import lr_scheduler as S

# SequentialLR steps the cosine scheduler with step(0) at its milestone,
# which warns about the deprecated epoch argument.
warnings.simplefilter("ignore")

# The monitored metric at the end of each epoch but the last (epochs - 1 values).
PLATEAU_METRICS = {
    # three improvements, then changes smaller than the relative threshold
    # (8 * 1e-4) though larger than the same threshold taken as absolute
    "plateau_default": [10.0, 9.0, 8.0] + [7.9995] * 12,
    "plateau_abs": [1.0, 0.97, 0.9, 0.88, 0.87, 0.86, 0.85, 0.7, 0.69, 0.68,
                    0.67, 0.66, 0.5],
    "plateau_max": [0.5, 0.6, 0.6, 0.55, 0.7, 0.7, 0.7, 0.71, 0.69, 0.8, 0.8],
    "plateau_eps": [1.0] * 8,
    "plateau_cooldown": [1.0] * 13,
}


def cosine_warmup(opt, w, f, t_max, min_lr):
    """dlhost's cosine with warmup_epochs: W = w steps of LinearLR, then cosine."""
    warm = S.LinearLR(opt, start_factor=f, end_factor=1.0, total_iters=w)
    cos = S.CosineAnnealingLR(opt, T_max=t_max, eta_min=min_lr)
    return S.SequentialLR(opt, [warm, cos], milestones=[w])


# (name in the C test, dlhost type, config body, base lr, epochs,
#  steps per epoch, torch scheduler factory; None: ReduceLROnPlateau's defaults)
CASES = [
    ("step_default", "step", "step_size = 3;", 0.1, 10, 1,
     lambda o: S.StepLR(o, step_size=3)),
    ("step_gamma", "step", "step_size = 2; gamma = 0.5;", 0.1, 9, 1,
     lambda o: S.StepLR(o, step_size=2, gamma=0.5)),
    ("multistep_default", "multistep", "milestones = [2, 5, 6];", 0.1, 9, 1,
     lambda o: S.MultiStepLR(o, milestones=[2, 5, 6])),
    ("multistep_zero", "multistep", "milestones = [0, 3]; gamma = 0.5;", 0.1, 6, 1,
     lambda o: S.MultiStepLR(o, milestones=[0, 3], gamma=0.5)),
    ("exponential_slow", "exponential", "gamma = 0.9;", 0.1, 10, 1,
     lambda o: S.ExponentialLR(o, gamma=0.9)),
    ("exponential_fast", "exponential", "gamma = 0.5;", 0.05, 6, 1,
     lambda o: S.ExponentialLR(o, gamma=0.5)),
    ("linear_default", "linear", "", 0.1, 8, 1, lambda o: S.LinearLR(o)),
    ("linear_custom", "linear", "start_factor = 0.25; end_factor = 0.5; total_epochs = 3;",
     0.1, 6, 1, lambda o: S.LinearLR(o, start_factor=0.25, end_factor=0.5, total_iters=3)),
    ("linear_to_zero", "linear", "start_factor = 1.0; end_factor = 0.0; total_epochs = 4;",
     0.1, 6, 1, lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=4)),
    ("cosine_default", "cosine", "", 0.1, 3, 4,
     lambda o: S.CosineAnnealingLR(o, T_max=12)),
    ("cosine_min", "cosine", "min_lr = 0.01;", 0.1, 4, 3,
     lambda o: S.CosineAnnealingLR(o, T_max=12, eta_min=0.01)),
    # default warmup_start_factor: 1/W with W = 1 epoch of 5 steps
    ("cosine_warmup", "cosine", "warmup_epochs = 1;", 0.1, 4, 5,
     lambda o: cosine_warmup(o, 5, 1.0 / 5, 15, 0.0)),
    ("cosine_warmup_f", "cosine",
     "warmup_epochs = 2; warmup_start_factor = 0.1; min_lr = 0.005;", 0.2, 5, 3,
     lambda o: cosine_warmup(o, 6, 0.1, 9, 0.005)),
    ("plateau_default", "reduce_on_plateau", "", 0.1, 16, 1, None),
    ("plateau_abs", "reduce_on_plateau",
     "patience = 2; cooldown = 1; threshold = 0.05; threshold_mode = \"abs\"; "
     "min_lr = 0.002;", 0.1, 14, 1,
     lambda o: S.ReduceLROnPlateau(o, patience=2, cooldown=1, threshold=0.05,
                                   threshold_mode="abs", min_lr=0.002)),
    # no improvement at all: cuts every patience + 1 + cooldown epochs
    ("plateau_cooldown", "reduce_on_plateau", "patience = 1; cooldown = 2; factor = 0.5;",
     0.1, 14, 1, lambda o: S.ReduceLROnPlateau(o, patience=1, cooldown=2, factor=0.5)),
    # 0.71 is no improvement on 0.7 by the relative threshold 0.02
    ("plateau_max", "reduce_on_plateau",
     "mode = \"max\"; factor = 0.5; patience = 1; threshold = 0.02;", 0.1, 12, 1,
     lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.5, patience=1, threshold=0.02)),
    # halves while the cut exceeds eps: 1, 0.5, ..., 0.03125, then stays
    ("plateau_eps", "reduce_on_plateau", "factor = 0.5; patience = 0; eps = 0.02;",
     1.0, 9, 1, lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=0, eps=0.02)),
]


def closed_form(name, base, epochs, spe, t):
    """The formulas of plugins/schedules/*.c, for the cosine cases."""
    w, f, min_lr = {"cosine_default": (0, 1, 0.0), "cosine_min": (0, 1, 0.01),
                    "cosine_warmup": (5, 1.0 / 5, 0.0),
                    "cosine_warmup_f": (6, 0.1, 0.005)}[name]
    if t < w:
        return base * (f + (1 - f) * t / w)
    T = epochs * spe - w
    return min_lr + (base - min_lr) * (1 + math.cos(math.pi * (t - w) / T)) / 2


def run(name, base, epochs, spe, make):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base)
    if make is None:
        make = lambda o: S.ReduceLROnPlateau(o)
    sched = make(opt)
    lrs = []
    if name.startswith("plateau"):
        metrics = PLATEAU_METRICS[name]
        assert len(metrics) == epochs - 1
        for e in range(epochs):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            if e < epochs - 1:
                sched.step(metrics[e])
    else:
        per_step = name.startswith("cosine")
        for _ in range(epochs * spe if per_step else epochs):
            lrs.append(sched.get_last_lr()[0])
            opt.step()
            sched.step()
        if per_step:
            for t, v in enumerate(lrs):
                want = closed_form(name, base, epochs, spe, t)
                assert abs(v - want) <= 1e-12 * max(abs(want), 1e-12), (name, t, v, want)
    return lrs


def c_array(kind, name, values):
    # repr gives the shortest text that reads back as the same double
    print("static const double %s_%s[] = {" % (kind, name))
    line = "   "
    for v in values:
        text = " %r," % float(v)
        if len(line) + len(text) > 88:
            print(line)
            line = "   "
        line += text
    print(line)
    print("};")


def main():
    print("/* Generated by tests/ref/schedules.py with torch %s. */" % torch.__version__)
    for name, _, _, base, epochs, spe, make in CASES:
        lrs = run(name, base, epochs, spe, make)
        if name in PLATEAU_METRICS:
            c_array("metric", name, PLATEAU_METRICS[name])
        c_array("ref", name, lrs)


if __name__ == "__main__":
    main()
