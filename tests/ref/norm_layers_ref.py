#!/usr/bin/python3
"""Reference values for tests/test_norm_layers.c, from PyTorch.

Each case builds torch's module (nn.LayerNorm, nn.GroupNorm,
nn.InstanceNorm2d, nn.BatchNorm1d/2d) with weight[k] = 0.5 + 0.25 k and
bias[k] = 0.1 k - 0.2 over the flattened parameter (when it has them), runs
STEPS training steps (forward of input k, backward of output gradient k, the
parameter gradients zeroed before each), then one evaluation forward and
backward on input STEPS.  Element i of input k is
sin(0.7 i + k) (1 + 0.5 k) + 0.1 k and of output gradient k
cos(0.3 i + 2 k) - 0.1 k, computed in double and rounded to float32 as the
C test does.  Printed for the last training step: the output, the input
gradient, the weight and bias gradients, running_mean, running_var and
num_batches_tracked (where the module keeps them); then the evaluation
output and input gradient.  The test itself never needs torch:
    /usr/bin/python3 tests/ref/norm_layers_ref.py > tests/ref/norm_layers_ref.h
(tests/test_ref_live.sh does that in make check and compares).
Generated with Debian's python3-torch 1.13.
"""
import math

import torch

STEPS = 3
nn = torch.nn

# (name, layer type, config body, per-sample shape, batch, torch module)
CASES = [
    ("layernorm_2d", "layernorm", "", [4, 6], 3, lambda: nn.LayerNorm([4, 6])),
    ("layernorm_last2", "layernorm", "normalized_shape = [4, 5];", [3, 4, 5], 2,
     lambda: nn.LayerNorm([4, 5])),
    ("layernorm_last_plain", "layernorm",
     "normalized_shape = 4; eps = 1e-3; elementwise_affine = false;", [2, 3, 4], 2,
     lambda: nn.LayerNorm(4, eps=1e-3, elementwise_affine=False)),
    ("layernorm_vector", "layernorm", "normalized_shape = [7];", [7], 4,
     lambda: nn.LayerNorm(7)),
    ("groupnorm_c6_l4", "groupnorm", "num_groups = 3;", [6, 4], 2,
     lambda: nn.GroupNorm(3, 6)),
    ("groupnorm_2d", "groupnorm", "num_groups = 2; eps = 1e-4;", [4, 3, 3], 3,
     lambda: nn.GroupNorm(2, 4, eps=1e-4)),
    ("groupnorm_c", "groupnorm", "num_groups = 2;", [6], 3, lambda: nn.GroupNorm(2, 6)),
    ("groupnorm_one_plain", "groupnorm", "num_groups = 1; affine = false;", [4, 2, 3], 2,
     lambda: nn.GroupNorm(1, 4, affine=False)),
    ("instancenorm2d", "instancenorm2d", "", [3, 4, 5], 2,
     lambda: nn.InstanceNorm2d(3)),
    ("instancenorm2d_track", "instancenorm2d",
     "affine = true; track_running_stats = true; momentum = 0.3;", [2, 3, 3], 3,
     lambda: nn.InstanceNorm2d(2, momentum=0.3, affine=True, track_running_stats=True)),
    ("instancenorm2d_track_plain", "instancenorm2d",
     "track_running_stats = true; eps = 1e-3;", [2, 2, 4], 2,
     lambda: nn.InstanceNorm2d(2, eps=1e-3, track_running_stats=True)),
    ("batchnorm_cumulative", "batchnorm", "momentum = \"none\";", [3, 4], 2,
     lambda: nn.BatchNorm1d(3, momentum=None)),
    ("batchnorm2d_cumulative", "batchnorm", "momentum = \"none\"; eps = 1e-3;", [2, 3, 3], 3,
     lambda: nn.BatchNorm2d(2, eps=1e-3, momentum=None)),
    ("batchnorm_counts", "batchnorm", "momentum = 0.2;", [3], 5,
     lambda: nn.BatchNorm1d(3, momentum=0.2)),
    ("batchnorm_untracked", "batchnorm", "track_running_stats = false;", [3], 5,
     lambda: nn.BatchNorm1d(3, track_running_stats=False)),
    ("batchnorm2d_untracked_plain", "batchnorm",
     "track_running_stats = false; affine = false;", [2, 3, 3], 2,
     lambda: nn.BatchNorm2d(2, affine=False, track_running_stats=False)),
]


def seq(shape, f):
    n = math.prod(shape)
    v = [f(i) for i in range(n)]
    return torch.tensor(v, dtype=torch.float32).reshape(shape)


def make_input(shape, k):
    return seq(shape, lambda i: math.sin(0.7 * i + k) * (1 + 0.5 * k) + 0.1 * k)


def make_grad(shape, k):
    return seq(shape, lambda i: math.cos(0.3 * i + 2 * k) - 0.1 * k)


def floats(values):
    vals = ", ".join("%.9g" % v for v in values)
    return "{ %s }" % vals if vals else "{ 0 }"


def run(shape, m):
    """Returns the values of one case as a dict of lists."""
    w = getattr(m, "weight", None)
    if w is not None:
        with torch.no_grad():
            n = w.numel()
            w.copy_(torch.tensor([0.5 + 0.25 * k for k in range(n)]).reshape(w.shape))
            m.bias.copy_(torch.tensor([0.1 * k - 0.2 for k in range(n)]).reshape(w.shape))
    out = {}
    m.train()
    for k in range(STEPS):
        m.zero_grad()
        x = make_input(shape, k).requires_grad_(True)
        y = m(x)
        y.backward(make_grad(shape, k))
    out["y"] = y.detach().flatten().tolist()
    out["dx"] = x.grad.flatten().tolist()
    out["dw"] = w.grad.flatten().tolist() if w is not None else []
    out["db"] = m.bias.grad.flatten().tolist() if w is not None else []
    rm = getattr(m, "running_mean", None)
    out["rm"] = rm.tolist() if rm is not None else []
    out["rv"] = m.running_var.tolist() if rm is not None else []
    nbt = getattr(m, "num_batches_tracked", None)
    out["nbt"] = int(nbt) if nbt is not None else -1
    m.eval()
    x = make_input(shape, STEPS).requires_grad_(True)
    y = m(x)
    y.backward(make_grad(shape, STEPS))
    out["y_eval"] = y.detach().flatten().tolist()
    out["dx_eval"] = x.grad.flatten().tolist()
    return out


def main():
    torch.set_num_threads(1)
    print("/* Generated by tests/ref/norm_layers_ref.py (PyTorch %s): do not edit. */"
          % torch.__version__.split("+")[0])
    print("#define NORM_REF_STEPS %d" % STEPS)
    rows = []
    for name, kind, body, sample, batch, make in CASES:
        torch.manual_seed(0)
        v = run([batch] + sample, make())
        for key in ("y", "dx", "dw", "db", "rm", "rv", "y_eval", "dx_eval"):
            print("static const float %s_%s[] = %s;" % (name, key, floats(v[key])))
        dims = ", ".join(str(d) for d in sample)
        rows.append('    { "%s", "%s", "%s", %d, { %s }, %d, %d, %d, %d, %s_y, %s_dx, %s_dw, '
                    '%s_db, %s_rm, %s_rv, %dLL, %s_y_eval, %s_dx_eval },'
                    % (name, kind, body.replace('"', '\\"'), len(sample), dims, batch,
                       len(v["dw"]), len(v["rm"]), 1 if v["nbt"] >= 0 else 0,
                       name, name, name, name, name, name, max(v["nbt"], 0), name, name))
    print("static const struct norm_ref {")
    print("    const char *name, *type, *body;")
    print("    int ndim;                   /* per-sample */")
    print("    int64_t dims[4];")
    print("    int64_t batch;")
    print("    int n_param, n_stat;        /* weight/bias and running statistics lengths */")
    print("    int has_count;              /* num_batches_tracked kept */")
    print("    const float *y, *dx, *dw, *db, *rm, *rv;")
    print("    int64_t nbt;")
    print("    const float *y_eval, *dx_eval;")
    print("} norm_refs[] = {")
    for r in rows:
        print(r)
    print("};")


if __name__ == "__main__":
    main()
