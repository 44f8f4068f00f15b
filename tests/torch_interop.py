#!/usr/bin/env python3
"""Loads a dlhost checkpoint into the equivalent PyTorch model and prints
its loss and accuracy on a CSV test set, for tests/test_torch_interop.sh.

DESIGN.md section 3: parameters keep PyTorch's names and layouts, so the
weights of a checkpoint load into a PyTorch model with load_state_dict(strict
=True); only the optimiser's state ("optim." keys) is left out.  The
weights are torch's state_dict name for name, batchnorm's int64
num_batches_tracked (an I64 tensor) included.  The
safetensors file is read with numpy alone (8-byte header length, JSON
header, raw little-endian data), and the test samples are normalised with
the statistics the checkpoint carries, as dlhost does.

    torch_interop.py CHECKPOINT TEST.csv
prints "torch loss L accuracy A samples N" and "num_batches_tracked K".
"""
import json
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    types = {"F32": "<f4", "I64": "<i8"}
    for name, d in header.items():
        if d["dtype"] not in types:
            raise SystemExit(f"{path}: {name}: dtype {d['dtype']}, expected F32 or I64")
        a, b = d["data_offsets"]
        tensors[name] = torch.from_numpy(
            np.frombuffer(data[a:b], dtype=types[d["dtype"]]).reshape(d["shape"]).copy())
    return tensors, meta


class Net(nn.Module):
    """The model of tests/test_torch_interop.sh, its modules named as the
    experiment's layers."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        return self.fc(torch.flatten(x, 1))


def main():
    ckpt, csv = sys.argv[1], sys.argv[2]
    tensors, meta = read_safetensors(ckpt)
    weights = {k: v for k, v in tensors.items() if not k.startswith("optim.")}
    model = Net()
    theirs = model.state_dict()
    if sorted(weights) != sorted(theirs):
        raise SystemExit(f"names differ: dlhost {sorted(weights)}, torch {sorted(theirs)}")
    for k, v in weights.items():
        if v.dtype != theirs[k].dtype or v.shape != theirs[k].shape:
            raise SystemExit(f"{k}: dlhost {v.dtype} {list(v.shape)}, "
                             f"torch {theirs[k].dtype} {list(theirs[k].shape)}")
    model.load_state_dict(weights, strict=True)
    model.eval()

    rows = np.loadtxt(csv, delimiter=",", skiprows=1, dtype=np.float64)
    x = torch.from_numpy(rows[:, :-1].astype(np.float32)).reshape(-1, 1, 4, 4)
    y = torch.from_numpy(rows[:, -1].astype(np.int64))
    if meta.get("normalize", "none") != "none":
        shift = torch.tensor(json.loads(meta["norm_shift"]), dtype=torch.float32)
        scale = torch.tensor(json.loads(meta["norm_scale"]), dtype=torch.float32)
        x = (x - shift.view(1, -1, 1, 1)) * scale.view(1, -1, 1, 1)
    with torch.no_grad():
        out = model(x)
        loss = F.cross_entropy(out, y).item()
        acc = (out.argmax(1) == y).double().mean().item()
    print(f"torch loss {loss:.6f} accuracy {acc:.4f} samples {len(y)}")
    print(f"num_batches_tracked {int(model.bn.num_batches_tracked)}")


if __name__ == "__main__":
    main()
