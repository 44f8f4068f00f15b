#!/usr/bin/env python3
"""PyTorch's CUDA side of bench/compare.py --cuda: the Fashion-MNIST MLP or
CNN of examples/fashion-mnist (bench/torch_fmnist.py's models, optimiser
and schedule) trained on the GPU the way a PyTorch expert would.

The whole normalised dataset is one float32 tensor on the device; each
epoch shuffles it there (torch_fmnist.batches: one index_select into a
buffer allocated once) and the batches are contiguous slices of it, so no
host-to-device copy and no DataLoader is in the epoch; the step loop is
torch_fmnist.train_steps.  cudnn.benchmark is on (cuDNN picks its fastest
convolution algorithms for the fixed shapes); TF32 is off for matmul and
cuDNN, as dlhost's cuda backend runs fp32 GEMMs (cuBLAS's default math)
and FP32 FMA convolutions (cu_conv.c): same arithmetic on both sides.  The
loss and accuracy accumulate on the device, read once an epoch.  Each
epoch is timed from torch.cuda.synchronize() to torch.cuda.synchronize().

--device cpu runs the same code on the CPU (for the tests: the script's
path, not a figure).

Output, for compare.py: "device NAME", one "epoch k/E ... samples/s" line
per epoch, then "torch-cuda device=D samples_per_s=S" (the median over the
epochs after the first).
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_fmnist import (add_data_args, batches, make_model, make_optimizer,  # noqa: E402
                          read_idx, train_steps)


def main():
    ap = argparse.ArgumentParser()
    add_data_args(ap)
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu")
    a = ap.parse_args()
    dev = torch.device(a.device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            print(f"SKIP: torch {torch.__version__}: torch.cuda.is_available() is False "
                  f"(torch.version.cuda {torch.version.cuda})", flush=True)
            return 77
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        name = torch.cuda.get_device_name(dev)
    else:
        name = "cpu"
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    print(f"device {name} (torch {torch.__version__}, CUDA {torch.version.cuda}, "
          f"cuDNN {torch.backends.cudnn.version()})", flush=True)

    torch.manual_seed(a.seed)
    images = read_idx(a.images)
    labels = read_idx(a.labels).astype(np.int64)
    n = a.samples if 0 < a.samples <= len(images) else len(images)
    g = torch.Generator().manual_seed(a.seed)
    pick = torch.randperm(len(images), generator=g)[:n]
    x = torch.from_numpy(images.astype(np.float32)).reshape(len(images), 1, 28, 28)
    x = x.index_select(0, pick).contiguous()
    y = torch.from_numpy(labels).index_select(0, pick).contiguous()
    if a.normalize == "zscore":
        x = (x - x.mean()) / x.std(unbiased=False)
    elif a.normalize == "minmax":
        x = (x - x.min()) / (x.max() - x.min())
    x, y = x.to(dev), y.to(dev)
    xbuf, ybuf = torch.empty_like(x), torch.empty_like(y)

    model = make_model(a.model).to(dev)
    print("params", sum(p.numel() for p in model.parameters()), flush=True)
    opt = make_optimizer(a.optimizer, model.parameters(), a.lr)
    sched = None
    if a.schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=(n + a.batch - 1) // a.batch * a.epochs)
    speeds = []
    for e in range(a.epochs):
        sync()
        t0 = time.perf_counter()
        data = batches(x, y, torch.randperm(n, device=dev), a.batch, xbuf, ybuf)
        total, correct, seen = train_steps(model, opt, data, sched=sched)
        sync()
        dt = time.perf_counter() - t0
        speeds.append(n / dt)
        print(f"epoch {e + 1}/{a.epochs}  train_loss {total / seen:.6f}  "
              f"train_accuracy {correct / seen:.4f}  {dt:.2f}s  {n / dt:.0f} samples/s",
              flush=True)
    tail = speeds[1:] if len(speeds) > 1 else speeds
    print(f"torch-cuda device={dev} samples_per_s={statistics.median(tail):.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
