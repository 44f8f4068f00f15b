#!/usr/bin/python3
"""Reference values for tests/test_grad_batchnorm.c, from PyTorch.

For each case, nn.BatchNorm1d / nn.BatchNorm2d with weight[c] = 0.5 + 0.25 c
and bias[c] = 0.1 c - 0.2 runs three training forwards over inputs k = 0, 1, 2,
then one evaluation forward over input k = 3, where element i of input k is
sin(0.7 i + k) (1 + 0.5 k) + 0.1 k (computed in double, then float32, as the
C test does).  Prints the running statistics, the last training output and
the evaluation output as C initialisers to paste into the test.  The test
never needs torch; run this again only to regenerate:
    /usr/bin/python3 tests/ref/batchnorm.py
Generated with Debian's python3-torch 1.13.
"""
import math

import torch

CASES = [
    # name, input shape, momentum, eps
    ("bn1d", [5, 3], 0.3, 1e-5),
    ("bn1d_l", [2, 3, 4], 0.1, 1e-5),
    ("bn2d", [3, 2, 3, 5], 0.1, 1e-3),
]


def make_input(shape, k):
    n = math.prod(shape)
    v = [math.sin(0.7 * i + k) * (1 + 0.5 * k) + 0.1 * k for i in range(n)]
    return torch.tensor(v, dtype=torch.float32).reshape(shape)


def emit(name, values):
    vals = ", ".join("%.9g" % v for v in values)
    print("static const float %s[] = { %s };" % (name, vals))


def main():
    torch.set_num_threads(1)
    for name, shape, momentum, eps in CASES:
        c = shape[1]
        cls = torch.nn.BatchNorm2d if len(shape) == 4 else torch.nn.BatchNorm1d
        bn = cls(c, eps=eps, momentum=momentum)
        with torch.no_grad():
            bn.weight.copy_(torch.tensor([0.5 + 0.25 * i for i in range(c)]))
            bn.bias.copy_(torch.tensor([0.1 * i - 0.2 for i in range(c)]))
        bn.train()
        with torch.no_grad():
            for k in range(3):
                y_train = bn(make_input(shape, k))
            bn.eval()
            y_eval = bn(make_input(shape, 3))
        print("/* %s: input %s, momentum %g, eps %g */" % (name, shape, momentum, eps))
        emit(name + "_running_mean", bn.running_mean.tolist())
        emit(name + "_running_var", bn.running_var.tolist())
        emit(name + "_train", y_train.flatten().tolist())
        emit(name + "_eval", y_eval.flatten().tolist())


if __name__ == "__main__":
    main()
