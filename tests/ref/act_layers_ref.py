#!/usr/bin/python3
"""Reference values for tests/test_act_layers.c, from PyTorch.

prelu: nn.PReLU (shared slope and one per channel, [C, H, W] and flat
samples, x with 0 and -0) forward, and autograd's input and weight
gradients for the output gradient DY.
maxout: torch's composition nn.Linear(in, units * pieces) followed by
view(N, units, pieces).max(-1).values, with the weight and bias printed
here, forward and the input, weight and bias gradients; one case has two
equal pieces in every unit, where torch's max sends the gradient to the
first.
dropout2d and alpha_dropout: torch draws its masks from its own generator,
which dlhost cannot reproduce (it draws Philox), so the header holds
torch's formula (aten/src/ATen/native/Dropout.cpp, _dropout_impl) given a
mask: for each input element its output and gradient when its mask bit is
1 and when it is 0, computed with torch's own tensor ops.  The generator
first checks that formula against F.dropout2d and F.alpha_dropout
themselves, with the mask recovered by re-seeding torch's generator, and
stops if any element differs.
The test itself never needs torch; run this again only to regenerate:
    /usr/bin/python3 tests/ref/act_layers_ref.py > tests/ref/act_layers_ref.h
(tests/test_ref_live.sh does that in make check and compares).
Generated with Debian's python3-torch 1.13.1.
"""
import math
import sys

import torch
import torch.nn.functional as F


def fmt(values, indent="      "):
    out = []
    for i in range(0, len(values), 6):
        out.append(indent + ", ".join("%.9g" % v for v in values[i:i + 6]) + ",")
    return "\n".join(out)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def array(name, values, ctype="double"):
    print("static const %s %s[%d] = {\n%s\n};" % (ctype, name, len(values), fmt(values)))


def inputs(n, salt):
    """n values in about [-3, 3] with 0, -0 and ties to the kinks."""
    x = [((i * 37 + salt * 11) % 61 - 30) / 10.0 for i in range(n)]
    x[0] = 0.0
    if n > 1:
        x[1] = -0.0
    return x


def grads(n, salt):
    return [((i * 23 + salt * 7) % 17 - 8) / 4.0 + 0.125 for i in range(n)]


# ------------------------------------------------------------------ prelu
# (name, body, per-sample dims, batch, weight or None for torch's default)
PRELU = [
    ("prelu_shared", "", [3, 2, 2], 2, None),
    ("prelu_shared_flat", "", [7], 3, [-0.6]),
    ("prelu_channels", "num_parameters = 3;", [3, 2, 2], 2, [-0.5, 0.1, 2.0]),
    ("prelu_features", "num_parameters = 5;", [5], 3, [0.3, -1.25, 0.0, 0.7, 1.5]),
    ("prelu_channels_1d", "num_parameters = 2;", [2, 6], 2, [0.05, -0.3]),
]


def prelu_cases():
    names = []
    for i, (name, body, dims, batch, w) in enumerate(PRELU):
        n_w = 1 if not body else dims[0]
        m = torch.nn.PReLU(num_parameters=n_w)
        if w is not None:
            with torch.no_grad():
                m.weight.copy_(torch.tensor(w))
        numel = batch * math.prod(dims)
        x = torch.tensor(inputs(numel, i), dtype=torch.float32).reshape([batch] + dims)
        x.requires_grad_(True)
        dy = torch.tensor(grads(numel, i), dtype=torch.float32).reshape([batch] + dims)
        y = m(x)
        y.backward(dy)
        array("prelu_%d_x" % i, flat(x), "float")
        array("prelu_%d_dy" % i, flat(dy), "float")
        array("prelu_%d_w" % i, flat(m.weight), "float")
        array("prelu_%d_y" % i, flat(y))
        array("prelu_%d_dx" % i, flat(x.grad))
        array("prelu_%d_dw" % i, flat(m.weight.grad))
        names.append((name, body, dims, batch, n_w, w is None, i))
    print("static const struct prelu_ref {\n    const char *name, *body;\n"
          "    int ndim;\n    int64_t dims[3];\n    int batch, n_w, default_w;\n"
          "    const float *x, *dy, *w;\n    const double *y, *dx, *dw;\n} prelu_refs[] = {")
    for name, body, dims, batch, n_w, dflt, i in names:
        d = dims + [0] * (3 - len(dims))
        print('    { "%s", "%s", %d, { %d, %d, %d }, %d, %d, %d,' %
              (name, body, len(dims), d[0], d[1], d[2], batch, n_w, int(dflt)))
        print("      prelu_%d_x, prelu_%d_dy, prelu_%d_w, prelu_%d_y, prelu_%d_dx, "
              "prelu_%d_dw }," % (i, i, i, i, i, i))
    print("};")


# ------------------------------------------------------------------ maxout
# (name, body, in features, units, pieces, bias, batch, tie)
MAXOUT = [
    ("maxout_2", "units = 3;", 5, 3, 2, True, 4, False),
    ("maxout_3", "units = 4; pieces = 3;", 7, 4, 3, True, 3, False),
    ("maxout_1", "units = 2; pieces = 1;", 6, 2, 1, True, 2, False),
    ("maxout_4_nobias", "units = 3; pieces = 4; bias = false;", 4, 3, 4, False, 5, False),
    ("maxout_tie", "units = 2; pieces = 3;", 3, 2, 3, True, 2, True),
]


def maxout_cases():
    rows = []
    for i, (name, body, fin, units, pieces, bias, batch, tie) in enumerate(MAXOUT):
        torch.manual_seed(100 + i)
        lin = torch.nn.Linear(fin, units * pieces, bias=bias)
        if tie:
            with torch.no_grad():
                for j in range(units):      # pieces 0 and 1 of every unit equal
                    lin.weight[j * pieces + 1] = lin.weight[j * pieces]
                    lin.bias[j * pieces + 1] = lin.bias[j * pieces]
                    lin.bias[j * pieces + 2] -= 5.0     # piece 2 never wins
        x = torch.randn(batch, fin).requires_grad_(True)
        dy = torch.randn(batch, units)
        y = lin(x).view(batch, units, pieces).max(-1).values
        y.backward(dy)
        array("maxout_%d_x" % i, flat(x), "float")
        array("maxout_%d_dy" % i, flat(dy), "float")
        array("maxout_%d_w" % i, flat(lin.weight), "float")
        array("maxout_%d_b" % i, flat(lin.bias) if bias else [0.0], "float")
        array("maxout_%d_y" % i, flat(y))
        array("maxout_%d_dx" % i, flat(x.grad))
        array("maxout_%d_dw" % i, flat(lin.weight.grad))
        array("maxout_%d_db" % i, flat(lin.bias.grad) if bias else [0.0])
        rows.append((name, body, fin, units, pieces, int(bias), batch, i))
    print("static const struct maxout_ref {\n    const char *name, *body;\n"
          "    int in, units, pieces, bias, batch;\n    const float *x, *dy, *w, *b;\n"
          "    const double *y, *dx, *dw, *db;\n} maxout_refs[] = {")
    for name, body, fin, units, pieces, bias, batch, i in rows:
        print('    { "%s", "%s", %d, %d, %d, %d, %d,' %
              (name, body, fin, units, pieces, bias, batch))
        print("      maxout_%d_x, maxout_%d_dy, maxout_%d_w, maxout_%d_b, maxout_%d_y, "
              "maxout_%d_dx, maxout_%d_dw, maxout_%d_db }," % ((i,) * 8))
    print("};")


# ------------------------------------------------------------------ dropouts
ALPHA = 1.7580993408473766


def alpha_formula(x, m, p):
    """_dropout_impl<feature=false, alpha=true>, given the mask m."""
    a = 1. / math.sqrt((ALPHA * ALPHA * p + 1) * (1 - p))
    noise = m.clone()
    b = noise.add(-1).mul_(ALPHA * a).add_(ALPHA * a * p)
    noise.mul_(a)
    return x * noise + b


def feature_formula(x, m, p):
    """_dropout_impl<feature=true, alpha=false>, given the [N, C, 1, 1] mask m."""
    noise = m.clone()
    noise.div_(1 - p)
    return x * noise


def check_against_torch():
    """The formulas are torch's: same outputs as F.* for torch's own mask."""
    for p in DROPOUT_P:
        for seed in range(5):
            x = torch.randn(4, 6, 3, 5)
            torch.manual_seed(seed)
            want = F.alpha_dropout(x, p, True)
            torch.manual_seed(seed)
            m = torch.empty_like(x).bernoulli_(1 - p)
            if not torch.equal(alpha_formula(x, m, p), want):
                sys.exit("alpha_dropout p=%g: the formula differs from torch's" % p)
            torch.manual_seed(seed)
            want = F.dropout2d(x, p, True)
            torch.manual_seed(seed)
            m = torch.empty(4, 6, 1, 1).bernoulli_(1 - p)
            if not torch.equal(feature_formula(x, m, p), want):
                sys.exit("dropout2d p=%g: the formula differs from torch's" % p)
    x = torch.randn(3, 4, 2, 2)
    if not (torch.equal(F.alpha_dropout(x, 1.0, True), x * 0) and
            torch.equal(F.dropout2d(x, 1.0, True), x * 0)):
        sys.exit("p = 1 is not x * 0")


DROPOUT_P = [0.1, 0.25, 0.5, 0.9]
DROP_N = 48


def dropout_cases():
    x = torch.tensor(inputs(DROP_N, 3), dtype=torch.float32)
    x[2] = 100.0
    x[3] = -100.0
    x[4] = 1e-6
    dy = torch.tensor(grads(DROP_N, 3), dtype=torch.float32)
    array("drop_x", flat(x), "float")
    array("drop_dy", flat(dy), "float")
    print("#define DROP_N %d" % DROP_N)
    print("static const struct drop_ref {\n    double p;\n    /* per element: mask 1, mask 0 */\n"
          "    double y2d[2][DROP_N], dx2d[2][DROP_N], ya[2][DROP_N], dxa[2][DROP_N];\n"
          "} drop_refs[] = {")
    for p in DROPOUT_P:
        print("    { %r," % p)
        for which, formula in (("2d", feature_formula), ("a", alpha_formula)):
            ys, dxs = [], []
            for bit in (1.0, 0.0):
                xx = x.clone().requires_grad_(True)
                y = formula(xx, torch.full_like(x, bit), p)
                y.backward(dy)
                ys.append(flat(y))
                dxs.append(flat(xx.grad))
            print("      { {\n%s\n      }, {\n%s\n      } }," % (fmt(ys[0]), fmt(ys[1])))
            print("      { {\n%s\n      }, {\n%s\n      } }," % (fmt(dxs[0]), fmt(dxs[1])))
        print("    },")
    print("};")


def main():
    check_against_torch()
    print("/* Generated by tests/ref/act_layers_ref.py with torch %s. */" % torch.__version__)
    prelu_cases()
    maxout_cases()
    dropout_cases()


if __name__ == "__main__":
    main()
