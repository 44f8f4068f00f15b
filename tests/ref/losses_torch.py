#!/usr/bin/python3
"""Reference values for tests/test_losses_torch.c, from PyTorch.

For every case of the losses in plugins/losses/ beyond mse, cross_entropy
and bce_with_logits (those are in loss_ref.py): the inputs, torch's loss
and its gradient with respect to the prediction (autograd), in float32 on
the CPU, as a C table kept in tests/ref/losses_torch.h:

    /usr/bin/python3 tests/ref/losses_torch.py > tests/ref/losses_torch.h

(tests/test_ref_live.sh runs it again in make check and compares.)

Unweighted cases are torch.nn.functional's own reduction.  Cases with
sample weights omega follow Keras's sample_weight, as loss.h says: torch's
reduction='none' loss summed over each sample's elements (l_n), then
sum_n omega_n l_n over what the unweighted mean divides by (the number of
elements, the batch for batchmean and per-sample losses, the targets'
class weights for nll); the generator checks that all-ones weights give
torch's own reduction.  Where torch has no loss of that name (focal's
multi-class form, dice) the reference is the documented formula written
with torch ops, and autograd differentiates it.

Each case also says whether the C test checks its gradient by central
differences at these inputs: the generator does the same check in double
here and sets the flag only where the loss is smooth enough within the step
(no kink within it), and every loss has such a case.
Generated with Debian's python3-torch 1.13.1.
"""
import math

import torch
import torch.nn.functional as F
import torchvision.ops

GC_EPS = 1e-2          # tests/gradcheck.c's default step
CASES = []


def case(loss, name, body, kind, pshape, batch, x, t, fn, red="mean", sw=None,
         tshape=None, den=None, reduced=None, gc=True):
    """fn(x, t) -> torch's reduction='none' loss of shape [batch, ...] (or
    [batch]); den(x, t): what the unweighted mean divides by (default: the
    element count of fn's output; "batch" for the batch); reduced(x, t, red):
    torch's own reduction of it, where fn's mean is not it.  gc=False: no
    central differences in the C test even where the loss is smooth (its
    gradients are so small that float32 differences of the loss are noise)."""
    CASES.append(dict(loss=loss, name=name, body=body, kind=kind, pshape=pshape,
                      batch=batch, x=x, t=t, fn=fn, red=red, sw=sw,
                      tshape=pshape if tshape is None and kind == "dense" else tshape,
                      den=den, reduced=reduced, gc=gc))


def gen(seed, shape, lo, hi):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g, dtype=torch.float64) * (hi - lo) + lo).float()


def signs(seed, shape):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 2, shape, generator=g) * 2 - 1).float()


def classes(seed, n, c):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, c, (n,), generator=g).float()


def reduce_ref(c, x, t, sw, dtype):
    per = c["fn"](x, t)
    n = c["batch"]
    rows = per.reshape(n, -1).sum(1) if per.dim() > 1 else per
    if c["den"] == "batch" or c["red"] == "batchmean":
        den = float(n)
    elif c["den"] is not None:
        den = c["den"](x, t)
    else:
        den = float(per.numel())
    if sw is not None:
        rows = rows * torch.tensor(sw, dtype=dtype)
    total = rows.sum()
    return total if c["red"] == "sum" else total / den


def evaluate(c, x, t, dtype):
    xt = x.to(dtype).clone().requires_grad_(True)
    tt = t.to(dtype)
    loss = reduce_ref(c, xt, tt, c["sw"], dtype)
    return loss, xt


def smooth_here(c):
    """Central differences in double agree with autograd in double?"""
    loss, xt = evaluate(c, c["x"], c["t"], torch.float64)
    loss.backward()
    g = xt.grad.flatten()
    flat = c["x"].to(torch.float64).flatten()
    num = torch.zeros_like(g)
    for i in range(flat.numel()):
        v = []
        for s in (1, -1):
            xp = flat.clone()
            xp[i] += s * GC_EPS
            try:
                v.append(reduce_ref(c, xp.reshape(c["x"].shape),
                                    c["t"].to(torch.float64), c["sw"],
                                    torch.float64).item())
            except (RuntimeError, ValueError):  # a step outside the loss's domain
                return False
        num[i] = (v[0] - v[1]) / (2 * GC_EPS)
    scale = max(g.abs().max().item() * 1e-2, 1e-12)
    err = ((g - num).abs() / torch.maximum(torch.maximum(g.abs(), num.abs()),
                                           torch.tensor(scale))).max().item()
    return err < 5e-3   # half of tests/gradcheck.h GC_TOL: room for float32


def num(v):
    if v != v:
        return "NAN"
    if v in (float("inf"), float("-inf")):
        return "INFINITY" if v > 0 else "-INFINITY"
    return "%.9g" % v


def carray(ctype, name, values):
    out = ["static const %s %s[%d] = {" % (ctype, name, len(values))]
    for i in range(0, len(values), 6):
        out.append("    " + ", ".join(num(v) for v in values[i:i + 6]) + ",")
    out.append("};")
    return "\n".join(out)


def fl(v):
    """A float as libconfig reads a float (never an integer)."""
    s = "%g" % v
    return s if any(c in s for c in ".en") else s + ".0"


def fls(vs):
    return "[%s]" % ", ".join(fl(v) for v in vs)


def cstr(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dims(shape):
    return "%d, { %s }" % (len(shape), ", ".join(str(d) for d in shape) or "0")


# ------------------------------------------------------------------ the cases

N = 3

# l1, smooth_l1, huber: dense regression targets.
X34 = gen(1, (N, 4), -2, 2)
T34 = gen(2, (N, 4), -2, 2)
SW3 = [0.5, 2.0, 0.0]
SW3B = [1.5, 0.25, 3.0]
for red in ("mean", "sum"):
    body = "" if red == "mean" else 'reduction = "sum";'
    case("l1", red, body, "dense", (4,), N, X34, T34,
         lambda x, t: F.l1_loss(x, t, reduction="none"), red)
    case("l1", red + ", sample weights", body, "dense", (4,), N, X34, T34,
         lambda x, t: F.l1_loss(x, t, reduction="none"), red, SW3)
case("l1", "per-sample shape [2, 2], a zero difference", "", "dense", (2, 2), N,
     X34.reshape(N, 2, 2), torch.cat([X34[:, :1], T34[:, 1:]], 1).reshape(N, 2, 2),
     lambda x, t: F.l1_loss(x, t, reduction="none"))

for beta, red, sw in ((1.0, "mean", None), (0.5, "sum", None), (2.0, "mean", SW3B),
                      (0.0, "mean", None), (1.0, "sum", SW3)):
    body = ("" if beta == 1.0 else "beta = %s;" % fl(beta)) + \
        ("" if red == "mean" else ' reduction = "sum";')
    case("smooth_l1", "beta %g, %s%s" % (beta, red, ", sample weights" if sw else ""),
         body.strip(), "dense", (4,), N, X34, T34,
         lambda x, t, b=beta: F.smooth_l1_loss(x, t, beta=b, reduction="none"), red, sw)

for delta, red, sw in ((1.0, "mean", None), (0.5, "sum", None), (2.5, "mean", SW3B),
                       (0.3, "sum", SW3)):
    body = ("" if delta == 1.0 else "delta = %s;" % fl(delta)) + \
        ("" if red == "mean" else ' reduction = "sum";')
    case("huber", "delta %g, %s%s" % (delta, red, ", sample weights" if sw else ""),
         body.strip(), "dense", (4,), N, X34, T34,
         lambda x, t, d=delta: F.huber_loss(x, t, delta=d, reduction="none"), red, sw)

# bce: probabilities; targets 0/1 and soft; the log clamp at x = 0 and 1.
P34 = gen(3, (N, 4), 0.1, 0.9)
Y34 = gen(4, (N, 4), 0, 1)
Y34[0] = torch.tensor([0.0, 1.0, 1.0, 0.0])
W4 = [0.5, 1.0, 2.0, 0.25]
for wt, red, sw in ((None, "mean", None), (W4, "mean", None), ([3.0], "sum", None),
                    (W4, "mean", SW3B), (None, "sum", SW3)):
    body = ("" if wt is None else "weight = %s;" % fls(wt)) + \
        ("" if red == "mean" else ' reduction = "sum";')
    case("bce", "%s%s%s" % ("weight, " if wt else "", red, ", sample weights" if sw else ""),
         body.strip(), "dense", (4,), N, P34, Y34,
         lambda x, t, w=wt: F.binary_cross_entropy(
             x, t, weight=None if w is None else torch.tensor(w, dtype=x.dtype),
             reduction="none"), red, sw)
PEDGE = torch.tensor([[0.0, 1.0, 0.0, 1.0], [1e-30, 0.5, 1.0, 0.999999]])
YEDGE = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 0.25, 0.5, 0.0]])
case("bce", "x = 0 and 1: logs clamped at -100", "", "dense", (4,), 2, PEDGE, YEDGE,
     lambda x, t: F.binary_cross_entropy(x, t, reduction="none"))

# poisson_nll: log rates, or rates (> 0); counts, > 1 for Stirling's term.
R34 = gen(5, (N, 4), 0.2, 3)
C34 = torch.floor(gen(6, (N, 4), 0, 5))
for log_input, full, eps, red, sw in ((True, False, 1e-8, "mean", None),
                                      (False, False, 1e-8, "mean", None),
                                      (True, True, 1e-8, "sum", None),
                                      (False, True, 0.5, "mean", SW3B),
                                      (True, False, 1e-8, "sum", SW3)):
    body = ("" if log_input else "log_input = false; ") + ("full = true; " if full else "") + \
        ("" if eps == 1e-8 else "eps = %s; " % fl(eps)) + \
        ("" if red == "mean" else 'reduction = "sum";')
    case("poisson_nll", "log_input %s, full %s, eps %g, %s%s" %
         (log_input, full, eps, red, ", sample weights" if sw else ""), body.strip(),
         "dense", (4,), N, R34 if not log_input else X34 * 0.5, C34,
         lambda x, t, a=log_input, b=full, e=eps: F.poisson_nll_loss(
             x, t, log_input=a, full=b, eps=e, reduction="none"), red, sw)

# hinge_embedding: distances, targets 1 / -1 (and one 0: both terms, as torch).
D34 = gen(7, (N, 4), 0, 2.5)
S34 = signs(8, (N, 4))
S34[2, 3] = 0.0
for margin, red, sw in ((1.0, "mean", None), (2.0, "sum", None), (1.5, "mean", SW3B)):
    body = ("" if margin == 1.0 else "margin = %s;" % fl(margin)) + \
        ("" if red == "mean" else ' reduction = "sum";')
    case("hinge_embedding", "margin %g, %s%s" % (margin, red, ", sample weights" if sw else ""),
         body.strip(), "dense", (4,), N, D34, S34,
         lambda x, t, m=margin: F.hinge_embedding_loss(x, t, margin=m, reduction="none"),
         red, sw)

# kl_div: log-probabilities against probabilities (one of them 0), or
# log-probabilities with log_target.
LQ = torch.log_softmax(gen(9, (N, 4), -2, 2), 1)
PT = torch.softmax(gen(10, (N, 4), -2, 2), 1)
PT[1, 2] = 0.0
LT = torch.log_softmax(gen(11, (N, 4), -2, 2), 1)
for log_target, red, sw in ((False, "mean", None), (False, "batchmean", None),
                            (False, "sum", None), (True, "batchmean", SW3B),
                            (True, "mean", None), (False, "batchmean", SW3)):
    body = ("log_target = true; " if log_target else "") + \
        ("" if red == "mean" else 'reduction = "%s";' % red)
    case("kl_div", "log_target %s, %s%s" % (log_target, red, ", sample weights" if sw else ""),
         body.strip(), "dense", (4,), N, LQ, LT if log_target else PT,
         lambda x, t, lt=log_target: F.kl_div(x, t, reduction="none", log_target=lt),
         red, sw)


# nll: log-probabilities, class targets, class weights, ignore_index.
C5 = 5
LP = torch.log_softmax(gen(12, (4, C5), -2, 2), 1)
Y4 = torch.tensor([1.0, 4.0, 0.0, 1.0])
Y4_IGN = torch.tensor([1.0, -100.0, 0.0, 3.0])
W5 = [0.5, 2.0, 1.0, 0.25, 3.0]
SW4 = [0.5, 2.0, 0.0, 1.5]


def nll_case(name, body, y, w=None, ign=-100, red="mean", sw=None):
    wt = None if w is None else torch.tensor(w)

    def per(x, t):
        return F.nll_loss(x, t.long(), weight=None if wt is None else wt.to(x.dtype),
                          ignore_index=ign, reduction="none")

    def den(x, t):
        kept = t.long()[t.long() != ign]
        return float(len(kept)) if wt is None else wt[kept].sum().item()

    def reduced(x, t, r):
        return F.nll_loss(x, t.long(), weight=wt, ignore_index=ign, reduction=r)

    case("nll", name, body, "class", (C5,), 4, LP, y, per, red, sw, den=den,
         reduced=reduced)


nll_case("mean", "", Y4)
nll_case("weights", "weights = %s;" % fls(W5), Y4, W5)
nll_case("weights, a sample at ignore_index -100", "weights = %s;" % fls(W5), Y4_IGN, W5)
nll_case("ignore_index = 1, a class", "ignore_index = 1;", Y4, ign=1)
nll_case("weights, sum", 'weights = %s; reduction = "sum";' % fls(W5), Y4_IGN, W5,
         red="sum")
nll_case("weights, sample weights", "weights = %s;" % fls(W5), Y4_IGN, W5, sw=SW4)
nll_case("sum, sample weights", 'reduction = "sum";', Y4, red="sum", sw=SW4)
nll_case("every sample ignored: NaN", "", torch.full((4,), -100.0))

# multi_margin: scores, class targets; p 1 and 2, margin, class weights.
SC = gen(13, (4, C5), -1.5, 1.5)
for pp, margin, w, red, sw in ((1, 1.0, None, "mean", None), (2, 0.5, W5, "mean", None),
                               (1, 2.0, W5, "sum", None), (2, 1.0, None, "mean", SW4),
                               (1, 1.0, W5, "sum", SW4)):
    body = ("" if pp == 1 else "p = 2; ") + ("" if margin == 1.0 else "margin = %s; " % fl(margin)) + \
        ("" if w is None else "weights = %s; " % fls(w)) + ("" if red == "mean" else 'reduction = "sum";')
    case("multi_margin", "p %d, margin %g%s, %s%s" % (pp, margin, ", weights" if w else "", red,
                                                     ", sample weights" if sw else ""),
         body.strip(), "class", (C5,), 4, SC, Y4,
         lambda x, t, a=pp, m=margin, w=w: F.multi_margin_loss(
             x, t.long(), p=a, margin=m, weight=None if w is None else torch.tensor(w, dtype=x.dtype),
             reduction="none"), red, sw, den="batch")

# focal, binary: torchvision's sigmoid_focal_loss; dense 0/1 and soft targets,
# and one logit per sample with class labels.
FX = gen(14, (N, 4), -3, 3)
FT = (gen(15, (N, 4), 0, 1) > 0.5).float()
FT[2, 1] = 0.3
for gamma, alpha, red, sw in ((2.0, 0.25, "mean", None), (0.0, 0.25, "mean", None),
                              (1.5, -1.0, "sum", None), (3.0, 0.7, "mean", SW3B),
                              (2.0, 0.25, "sum", SW3)):
    body = ("" if gamma == 2.0 else "gamma = %s; " % fl(gamma)) + \
        ("" if alpha == 0.25 else "alpha = %s; " % fl(alpha)) + ("" if red == "mean" else 'reduction = "sum";')
    case("focal", "binary, gamma %g, alpha %g, %s%s" % (gamma, alpha, red, ", sample weights" if sw else ""),
         body.strip(), "dense", (4,), N, FX, FT,
         lambda x, t, g=gamma, a=alpha: torchvision.ops.sigmoid_focal_loss(x, t, alpha=a, gamma=g),
         red, sw)
FX1 = gen(16, (4, 1), -3, 3)
case("focal", "binary, one logit, class labels", "", "class", (1,), 4, FX1,
     torch.tensor([1.0, 0.0, 0.0, 1.0]),
     lambda x, t: torchvision.ops.sigmoid_focal_loss(x, t.reshape(-1, 1)), tshape=())


# focal, multi-class: -a[y] (1 - p_y)^gamma log p_y over softmax, in torch ops.
def focal_multi(x, t, gamma, alpha):
    lpy = torch.log_softmax(x, 1).gather(1, t.long().reshape(-1, 1)).reshape(-1)
    a = torch.ones(x.shape[1], dtype=x.dtype) if alpha is None else \
        torch.tensor(alpha, dtype=x.dtype).expand(x.shape[1])
    return -a[t.long()] * (1 - lpy.exp()) ** gamma * lpy


FM = gen(17, (4, C5), -3, 3)
for gamma, alpha, red, sw in ((2.0, None, "mean", None), (0.0, None, "mean", None),
                              (0.5, W5, "sum", None), (2.0, [0.25], "mean", SW4),
                              (3.0, W5, "mean", SW4)):
    body = ("" if gamma == 2.0 else "gamma = %s; " % fl(gamma)) + \
        ("" if alpha is None else "alpha = %s; " % fls(alpha)) + ("" if red == "mean" else 'reduction = "sum";')
    case("focal", "multi-class, gamma %g, alpha %s, %s%s" % (gamma, alpha, red, ", sample weights" if sw else ""),
         body.strip(), "class", (C5,), 4, FM, Y4,
         lambda x, t, g=gamma, a=alpha: focal_multi(x, t, g, a), red, sw, den="batch")
# gamma 0 without alpha is cross_entropy: checked against torch's here.
assert abs(focal_multi(FM, Y4, 0.0, None).mean().item() -
           F.cross_entropy(FM, Y4.long()).item()) < 1e-6


# gaussian_nll: the output's halves are the means and the variances (one of
# them below eps: clamped); targets of half the output's size.
GM = gen(18, (N, 3), -1, 1)
GV = gen(19, (N, 3), 0.5, 2)
GX = torch.cat([GM, GV], 1)
GX_TINY = GX.clone()
GX_TINY[1, 5] = 1e-8
GT = gen(20, (N, 3), -1.5, 1.5)
for full, eps, red, sw in ((False, 1e-6, "mean", None), (True, 1e-6, "sum", None),
                           (False, 0.5, "mean", SW3B), (True, 1e-6, "mean", SW3)):
    body = ("full = true; " if full else "") + ("" if eps == 1e-6 else "eps = %s; " % fl(eps)) + \
        ("" if red == "mean" else 'reduction = "sum";')
    case("gaussian_nll", "full %s, eps %g, %s%s" % (full, eps, red, ", sample weights" if sw else ""),
         body.strip(), "dense", (6,), N, GX, GT,
         lambda x, t, f=full, e=eps: F.gaussian_nll_loss(x[:, :3], t, x[:, 3:], full=f, eps=e,
                                                         reduction="none"),
         red, sw, tshape=(3,))
case("gaussian_nll", "a variance below eps: clamped", "", "dense", (6,), N, GX_TINY, GT,
     lambda x, t: F.gaussian_nll_loss(x[:, :3], t, x[:, 3:], reduction="none"), tshape=(3,))

# margin_ranking: the output's halves are x1 and x2; labels as classes 1/0
# (y = 1/-1), or dense: one y per sample, or one per pair.
MX = gen(21, (4, 2), -1, 1)
MC = torch.tensor([1.0, 0.0, 0.0, 1.0])
for margin, red, sw in ((0.0, "mean", None), (0.5, "sum", None), (0.25, "mean", SW4)):
    body = ("" if margin == 0.0 else "margin = %s; " % fl(margin)) + \
        ("" if red == "mean" else 'reduction = "sum";')
    case("margin_ranking", "class labels, margin %g, %s%s" % (margin, red, ", sample weights" if sw else ""),
         body.strip(), "class", (2,), 4, MX, MC,
         lambda x, t, m=margin: F.margin_ranking_loss(x[:, 0], x[:, 1], 2 * t - 1, margin=m,
                                                      reduction="none"),
         red, sw, tshape=())
case("margin_ranking", "dense labels 1/-1, one per sample", "margin = 0.3;", "dense", (2,), 4, MX,
     torch.tensor([-1.0, 1.0, 1.0, -1.0]),
     lambda x, t: F.margin_ranking_loss(x[:, 0], x[:, 1], t, margin=0.3, reduction="none"),
     tshape=(1,))
MX3 = gen(22, (N, 6), -1, 1)
MY3 = signs(23, (N, 3))
MY3[0, 1] = 0.0
case("margin_ranking", "dense labels, one per pair of 3, one 0", "margin = 0.2;", "dense", (6,), N, MX3,
     MY3, lambda x, t: F.margin_ranking_loss(x[:, :3], x[:, 3:], t, margin=0.2, reduction="none"),
     sw=SW3B, tshape=(3,))

# cosine_embedding: the output's halves are x1 and x2 (D = 3); labels as
# classes 1/0 (y = 1/-1) or dense, one y per sample (a 0: no loss, as torch).
CX = gen(24, (4, 6), -1, 1)
CX_ZERO = CX.clone()
CX_ZERO[2, :3] = 0.0     # |x1| = 0: torch's EPSILON keeps cos at 0
CC = torch.tensor([1.0, 0.0, 0.0, 1.0])
for margin, red, sw, x in ((0.0, "mean", None, CX), (0.5, "sum", None, CX),
                           (-0.25, "mean", SW4, CX), (0.1, "mean", None, CX_ZERO)):
    body = ("" if margin == 0.0 else "margin = %s; " % fl(margin)) + \
        ("" if red == "mean" else 'reduction = "sum";')
    case("cosine_embedding", "class labels, margin %g, %s%s%s" % (
        margin, red, ", sample weights" if sw else "", ", a zero x1" if x is CX_ZERO else ""),
         body.strip(), "class", (6,), 4, x, CC,
         lambda x, t, m=margin: F.cosine_embedding_loss(x[:, :3], x[:, 3:], 2 * t - 1,
                                                        margin=m, reduction="none"),
         red, sw, tshape=())
case("cosine_embedding", "dense labels 1/-1/0, one per sample", "margin = 0.2;", "dense", (6,), 4,
     CX, torch.tensor([-1.0, 1.0, 0.0, -1.0]),
     lambda x, t: F.cosine_embedding_loss(x[:, :3], x[:, 3:], t, margin=0.2, reduction="none"),
     sw=SW4, tshape=(1,))

# triplet_margin: the output's thirds are anchor, positive and negative
# (D = 4); the labels are not read (classes here, dense in one case).
TX = gen(25, (4, 12), -1, 1)
TL = torch.zeros(4)
for margin, pp, eps, swap, red, sw in ((1.0, 2.0, 1e-6, False, "mean", None),
                                       (0.5, 1.0, 1e-6, False, "sum", None),
                                       (1.0, 3.0, 1e-6, True, "mean", None),
                                       (2.0, 2.0, 0.1, True, "mean", SW4),
                                       (1.0, 1.5, 1e-6, False, "sum", SW4),
                                       (0.75, 0.5, 1e-6, True, "mean", None)):
    body = ("" if margin == 1.0 else "margin = %s; " % fl(margin)) + \
        ("" if pp == 2.0 else "p = %s; " % fl(pp)) + \
        ("" if eps == 1e-6 else "eps = %s; " % fl(eps)) + ("swap = true; " if swap else "") + \
        ("" if red == "mean" else 'reduction = "sum";')
    case("triplet_margin", "margin %g, p %g, eps %g, swap %s, %s%s" % (
        margin, pp, eps, swap, red, ", sample weights" if sw else ""),
         body.strip(), "class", (12,), 4, TX, TL,
         lambda x, t, m=margin, a=pp, e=eps, s=swap: F.triplet_margin_loss(
             x[:, :4], x[:, 4:8], x[:, 8:], margin=m, p=a, eps=e, swap=s, reduction="none"),
         red, sw, tshape=())
case("triplet_margin", "dense labels of another shape, unused", "swap = true;", "dense", (12,), 4,
     TX, gen(26, (4, 2), 0, 1),
     lambda x, t: F.triplet_margin_loss(x[:, :4], x[:, 4:8], x[:, 8:], swap=True,
                                        reduction="none"), tshape=(2,))


# dice: the documented formula in torch ops (plugins/losses/dice.c): per
# sample and channel over the spatial values, then the mean over channels.
def dice_ref(x, t, act, smooth, kind):
    p = torch.softmax(x, 1) if act == "softmax" else torch.sigmoid(x) if act == "sigmoid" else x
    if kind == "class":
        y = F.one_hot(t.long(), x.shape[1]).to(x.dtype) if x.shape[1] > 1 else t.reshape(-1, 1)
    else:
        y = t
    dims = tuple(range(2, x.dim()))
    inter = (p * y).sum(dims) if dims else p * y
    card = (p.sum(dims) if dims else p) + (y.sum(dims) if dims else y) + smooth
    return 1 - ((2 * inter + smooth) / card).mean(1)


DX = gen(27, (4, C5), -2, 2)
for act, smooth, red, sw in (("auto", 1.0, "mean", None), ("softmax", 0.5, "sum", None),
                             ("auto", 0.0, "mean", SW4), ("none", 1.0, "mean", None)):
    body = ("" if act == "auto" else 'activation = "%s"; ' % act) + \
        ("" if smooth == 1.0 else "smooth = %s; " % fl(smooth)) + \
        ("" if red == "mean" else 'reduction = "sum";')
    x = torch.softmax(DX, 1) if act == "none" else DX
    case("dice", "class, %s, smooth %g, %s%s" % (act, smooth, red, ", sample weights" if sw else ""),
         body.strip(), "class", (C5,), 4, x, Y4,
         lambda x, t, a=("softmax" if act == "auto" else act), s=smooth: dice_ref(x, t, a, s, "class"),
         red, sw, gc=smooth > 0)
case("dice", "binary, one logit, class labels", "", "class", (1,), 4, gen(28, (4, 1), -2, 2),
     torch.tensor([1.0, 0.0, 0.0, 1.0]), lambda x, t: dice_ref(x, t, "sigmoid", 1.0, "class"),
     tshape=())
DT = gen(29, (N, 4), 0, 1)
DT[0] = torch.tensor([0.0, 1.0, 1.0, 0.0])
case("dice", "dense [4], sigmoid, soft targets", "", "dense", (4,), N, gen(30, (N, 4), -2, 2), DT,
     lambda x, t: dice_ref(x, t, "sigmoid", 1.0, "dense"))
# [3, 2, 3] outputs with one-hot masks per channel (segmentation).
DS = gen(31, (N, 3, 2, 3), -2, 2)
DM = F.one_hot(classes(32, N * 6, 3).long(), 3).reshape(N, 2, 3, 3).permute(0, 3, 1, 2).float()
for act, smooth, red, sw in (("softmax", 1.0, "mean", None),
                             ("auto", 1.0, "sum", None), ("softmax", 0.1, "mean", SW3B),
                             ("sigmoid", 0.0, "mean", SW3)):
    body = ("" if act == "auto" else 'activation = "%s"; ' % act) + \
        ("" if smooth == 1.0 else "smooth = %s; " % fl(smooth)) + \
        ("" if red == "mean" else 'reduction = "sum";')
    case("dice", "dense [3, 2, 3] masks, %s, smooth %g, %s%s" % (
        act, smooth, red, ", sample weights" if sw else ""), body.strip(), "dense", (3, 2, 3), N,
         DS, DM, lambda x, t, a=("sigmoid" if act == "auto" else act), s=smooth:
         dice_ref(x, t, a, s, "dense"), red, sw, gc=act == "sigmoid")
# Two channels of 3 values: gradients large enough for float32 central
# differences through the channel softmax of a spatial output.
case("dice", "dense [2, 1, 3] masks, softmax, sum", 'activation = "softmax"; reduction = "sum";',
     "dense", (2, 1, 3), N, gen(33, (N, 2, 1, 3), -1, 1),
     F.one_hot(classes(34, N * 3, 2).long(), 2).reshape(N, 1, 3, 2).permute(0, 3, 1, 2).float(),
     lambda x, t: dice_ref(x, t, "softmax", 1.0, "dense"), "sum")


# ------------------------------------------------------------------ output

def torch_reduced(c):
    """torch's own reduction of the unweighted case, for the all-ones check."""
    x = c["x"].clone()
    if c["reduced"] is not None:
        return c["reduced"](x, c["t"], c["red"])
    per = c["fn"](x, c["t"])
    if c["red"] == "sum":
        return per.sum()
    if c["red"] == "batchmean" or c["den"] == "batch":
        return per.sum() / c["batch"]
    if c["den"] is not None:
        return per.sum() / c["den"](x, c["t"])
    return per.mean()


def main():
    print("/* Generated by tests/ref/losses_torch.py with torch %s. */" % torch.__version__)
    rows = []
    checked = set()
    for i, c in enumerate(CASES):
        loss, xt = evaluate(c, c["x"], c["t"], torch.float32)
        loss.backward()
        if c["sw"] is None:
            ref = torch_reduced(c)
            assert abs(ref.item() - loss.item()) <= 1e-6 * max(1.0, abs(ref.item())) or \
                (ref.item() != ref.item() and loss.item() != loss.item()), \
                (c["loss"], c["name"], ref.item(), loss.item())
        gc = c["gc"] and smooth_here(c)
        if gc:
            checked.add(c["loss"])
        p = "lt%d" % i
        print(carray("float", p + "_x", c["x"].flatten().tolist()))
        print(carray("float", p + "_t", c["t"].flatten().tolist()))
        if c["sw"] is not None:
            print(carray("float", p + "_w", c["sw"]))
        print(carray("double", p + "_g", xt.grad.flatten().tolist()))
        rows.append("    { %s, %s,\n      %s,\n      %s, %s, %s, %d, %s_x, %s_t, %d, %s, %s, "
                    "%s_g, %d },"
                    % (cstr(c["loss"]), cstr(c["name"]), cstr(c["body"]),
                       "DLH_TARGET_DENSE" if c["kind"] == "dense" else "DLH_TARGET_CLASS",
                       dims(c["pshape"]), dims(c["tshape"] or ()), c["batch"], p, p,
                       c["t"].numel(), p + "_w" if c["sw"] is not None else "NULL",
                       num(loss.item()), p, 1 if gc else 0))
    missing = sorted({c["loss"] for c in CASES} - checked)
    assert not missing, "no case smooth enough for a gradient check: %s" % missing
    print("static const lt_case lt_cases[] = {")
    print("\n".join(rows))
    print("};")


if __name__ == "__main__":
    main()
