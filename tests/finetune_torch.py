#!/usr/bin/python3
"""PyTorch side of tests/test_finetune_torch.sh: fine-tuning as torch users
write it, against what `dlhost run` trained.

    finetune_torch.py data            writes train.csv (96 4x4 images, 3
                                      classes) and init.safetensors (the
                                      model's starting tensors, batchnorm
                                      running statistics that are not 0 and 1)
    finetune_torch.py CASE CKPT       trains the same model from
                                      init.safetensors on train.csv in torch
                                      and compares every tensor of CKPT (a
                                      dlhost checkpoint) with torch's

The model is the experiment's: conv (Conv2d(1, 3, 3, padding=1)), bn
(BatchNorm2d(3)), relu, max_pool2d(2), flatten, fc (Linear(12, 3)); 4 epochs
of 6 batches of 16 in file order, cross-entropy.  Cases:

  frozen_bn   bn frozen (requires_grad False; bn.eval(): torchvision's
              FrozenBatchNorm2d), conv and fc train with SGD momentum: the
              gradient reaches conv through bn's running statistics
  frozen_backbone  conv and bn frozen, fc trains with SGD momentum
  unfreeze    conv and bn frozen, Adam over fc; at the start of epoch 3 conv
              trains too: requires_grad True and optimizer.add_param_group
              with lr 0.1 * lr (fresh Adam state), bn stays frozen
  depth       everything trains with SGD momentum, one param_group per tensor
              with lr * 0.5 ** depth (fc 0, bn 1, conv 2) times 0.5 for
              biases (dlhost's lr_decay_by_depth times a group's lr_mult)

Prints one TAP-like line per check ("ok - ..." / "not ok - ..."): every
tensor within 1e-5 of torch (relative to its largest value), and, where
frozen, tensors and running statistics bit-identical to the starting ones.
Generated data is deterministic; the safetensors files are read and written
with numpy alone (the model and the reader are tests/torch_interop.py's).
"""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

import torch_interop         # tests/torch_interop.py: the model, the reader

EPOCHS, BATCH, N = 4, 16, 96
TOL = 1e-5


def read_safetensors(path):
    return {k: v.numpy() for k, v in torch_interop.read_safetensors(path)[0].items()}


def write_safetensors(path, tensors):
    header, blobs, at = {}, [], 0
    for name, a in tensors.items():
        raw = a.tobytes()
        header[name] = {"dtype": "I64" if a.dtype == np.int64 else "F32",
                        "shape": list(a.shape), "data_offsets": [at, at + len(raw)]}
        blobs.append(raw)
        at += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


Net = torch_interop.Net      # the same conv, bn, fc model


def make_data():
    rows = []
    for i in range(N):
        c, k = i % 3, (7 * i + 3) % 4
        px = []
        for j in range(16):
            r, q = divmod(j, 4)
            on = (c == 0 and r == k) or (c == 1 and q == k) or (c == 2 and r == q)
            px.append("%.4f" % (3.0 * on + 2.0 * (0.5 + 0.5 * math.sin(1.7 * i + 2.3 * j))))
        rows.append(",".join(px) + ",%d" % c)
    with open("train.csv", "w") as f:
        f.write(",".join("p%d" % j for j in range(16)) + ",class\n")
        f.write("\n".join(rows) + "\n")
    torch.manual_seed(3)
    m = Net()
    sd = {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}
    sd["bn.running_mean"] = np.array([0.8, 1.3, -0.4], dtype=np.float32)
    sd["bn.running_var"] = np.array([0.6, 2.5, 1.7], dtype=np.float32)
    sd["bn.weight"] = np.array([0.9, 1.4, 0.7], dtype=np.float32)
    sd["bn.bias"] = np.array([0.1, -0.2, 0.3], dtype=np.float32)
    sd["bn.num_batches_tracked"] = np.array(7, dtype=np.int64)
    write_safetensors("init.safetensors", sd)


def load_data():
    a = np.loadtxt("train.csv", delimiter=",", skiprows=1, dtype=np.float64)
    x = torch.tensor(a[:, :16].astype(np.float32)).reshape(-1, 1, 4, 4)
    y = torch.tensor(a[:, 16].astype(np.int64))
    return x, y


def train(case):
    init = read_safetensors("init.safetensors")
    m = Net()
    m.load_state_dict({k: torch.from_numpy(v) for k, v in init.items()})
    x, y = load_data()
    if case == "frozen_bn":
        for p in m.bn.parameters():
            p.requires_grad_(False)
        opt = torch.optim.SGD(list(m.conv.parameters()) + list(m.fc.parameters()), lr=0.05,
                              momentum=0.9)
    elif case == "frozen_backbone":
        for p in list(m.conv.parameters()) + list(m.bn.parameters()):
            p.requires_grad_(False)
        opt = torch.optim.SGD(m.fc.parameters(), lr=0.05, momentum=0.9)
    elif case == "unfreeze":
        for p in list(m.conv.parameters()) + list(m.bn.parameters()):
            p.requires_grad_(False)
        opt = torch.optim.Adam(m.fc.parameters(), lr=0.01)
    else:
        groups = []
        for depth, mod in ((2, m.conv), (1, m.bn), (0, m.fc)):
            for name, p in mod.named_parameters():
                groups.append({"params": [p],
                               "lr": 0.1 * (0.5 if name == "bias" else 1.0) * 0.5 ** depth})
        opt = torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    for epoch in range(1, EPOCHS + 1):
        if case == "unfreeze" and epoch == 3:
            for p in m.conv.parameters():
                p.requires_grad_(True)
            opt.add_param_group({"params": list(m.conv.parameters()), "lr": 0.1 * 0.01})
        m.train()
        if case != "depth":
            m.bn.eval()         # frozen: FrozenBatchNorm2d semantics
        for b in range(0, N, BATCH):
            opt.zero_grad()
            F.cross_entropy(m(x[b:b + BATCH]), y[b:b + BATCH]).backward()
            opt.step()
    return init, {k: v.detach().numpy() for k, v in m.state_dict().items()}


def main():
    if sys.argv[1] == "data":
        make_data()
        return
    case, ckpt = sys.argv[1], sys.argv[2]
    init, want = train(case)
    got = read_safetensors(ckpt)
    bad = 0

    def check(cond, what):
        nonlocal bad
        bad += not cond
        print("%s - %s: %s" % ("ok" if cond else "not ok", case, what))

    for name, w in want.items():
        if name not in got:
            check(False, "%s in the checkpoint" % name)
            continue
        g = got[name]
        if w.dtype == np.int64:
            check(int(g) == int(w), "%s is torch's (%d, dlhost %d)" % (name, int(w), int(g)))
            continue
        scale = max(float(np.abs(w).max()), 1e-30)
        err = float(np.abs(g.astype(np.float64) - w).max()) / scale
        check(err <= TOL, "%s within %g of torch (%.3g)" % (name, TOL, err))
    frozen = {"frozen_bn": ["bn."], "frozen_backbone": ["conv.", "bn."], "unfreeze": ["bn."],
              "depth": []}[case]
    for name, v in init.items():
        if any(name.startswith(f) for f in frozen):
            check(name in got and np.array_equal(got[name], v) and got[name].dtype == v.dtype,
                  "frozen %s bit-identical to its starting value" % name)
    for name in {"unfreeze": ["conv.weight", "conv.bias"]}.get(case, []):
        check(name in got and not np.array_equal(got[name], init[name]),
              "unfrozen %s trained after the boundary" % name)
    sys.exit(1 if bad else 0)


main()
