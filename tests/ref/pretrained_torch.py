#!/usr/bin/python3
# A PyTorch state_dict as safetensors.torch.save_file writes it, for
# tests/test_pretrained_cli.sh: a conv2d + batchnorm2d + linear model whose
# backbone lives under "backbone." (rename), its tensors stored as F16
# (conv), BF16 (bn.weight, bn.bias), F64 (running statistics, not float32 values:
# loading rounds them), I64
# (num_batches_tracked, 7) and F32 (head).  Debian 12 has no
# python3-safetensors, so the file is written by hand in its format: 8-byte
# little-endian header length, the JSON header {"__metadata__": {"format":
# "pt"}, name: {dtype, shape, data_offsets}} padded with spaces to a multiple
# of 8, then the raw little-endian bytes.  A second file holds what loading
# must give: every tensor as .float() (the counter as I64).
#
#   /usr/bin/python3 tests/ref/pretrained_torch.py OUT.safetensors EXPECT.safetensors
#
# The committed tests/data/pretrained_torch.safetensors and
# pretrained_torch_f32.safetensors were made so; the test regenerates and
# compares them where torch is installed.
import json
import struct
import sys

import torch

DTYPES = {torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
          torch.float32: "F32", torch.int64: "I64"}


def save(path, tensors):
    header = {"__metadata__": {"format": "pt"}}
    blobs, off = [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        raw = t.view(torch.uint8).numpy().tobytes() if t.dim() else \
            t.reshape(1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


class Backbone(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 4, 1)
        self.bn = torch.nn.BatchNorm2d(4)


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        self.head = torch.nn.Linear(4, 2)


torch.manual_seed(14)
m = Model()
with torch.no_grad():
    m.backbone.bn.weight.uniform_(0.5, 1.5)
    m.backbone.bn.bias.uniform_(-0.5, 0.5)
    m.backbone.bn.running_mean.uniform_(-1.0, 1.0)
    m.backbone.bn.running_var.uniform_(0.5, 2.0)
    m.backbone.bn.num_batches_tracked.fill_(7)
sd = m.state_dict()
stored = {}
for k, v in sd.items():
    if k.startswith("backbone.conv."):
        v = v.half()
    elif k in ("backbone.bn.weight", "backbone.bn.bias"):
        v = v.bfloat16()
    elif k.startswith("backbone.bn.running_"):
        v = v.double() + 1e-9 * torch.arange(1, 5, dtype=torch.float64)
    stored[k] = v
save(sys.argv[1], stored)
save(sys.argv[2], {k.replace("backbone.", "", 1):
                   v if v.dtype == torch.int64 else v.float() for k, v in stored.items()})
