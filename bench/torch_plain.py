#!/usr/bin/env python3
"""The cross-check of bench/torch_fmnist.py: the same model, data, batch,
optimiser, schedule and epochs in a training loop written the obvious way,
with PyTorch's defaults (no thread settings, a fancy-indexed batch per step,
zero_grad() as it comes).  compare.py runs it in the same round as the
tuned side and refuses to print a dlhost/PyTorch ratio when the tuned
figure falls more than 15 % below this one: a tuned side slower than a
plain loop measures the bench, not PyTorch.

Output: one "epoch k/E ... samples/s" line per epoch, then
"plain threads=T samples_per_s=S" (the median over epochs after the first).
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_fmnist import (add_data_args, make_model, make_optimizer,  # noqa: E402
                          make_scheduler, read_idx)


def main():
    ap = argparse.ArgumentParser()
    add_data_args(ap)
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    x = torch.tensor(read_idx(a.images), dtype=torch.float32).view(-1, 1, 28, 28)
    y = torch.tensor(read_idx(a.labels).astype(np.int64))
    n = a.samples if 0 < a.samples <= len(x) else len(x)
    x, y = x[:n], y[:n]
    if a.normalize == "zscore":
        x = (x - x.mean()) / x.std()
    elif a.normalize == "minmax":
        x = (x - x.min()) / (x.max() - x.min())

    model = make_model(a.model)
    opt = make_optimizer(a.optimizer, model.parameters(), a.lr)
    sched = make_scheduler(a, opt, n)
    speeds = []
    for e in range(a.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for i in range(0, n, a.batch):
            idx = perm[i:i + a.batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
        dt = time.perf_counter() - t0
        speeds.append(n / dt)
        print(f"epoch {e + 1}/{a.epochs}  loss {loss.item():.6f}  {dt:.2f}s  "
              f"{n / dt:.0f} samples/s", flush=True)
    tail = speeds[1:] if len(speeds) > 1 else speeds
    print(f"plain threads={torch.get_num_threads()} "
          f"samples_per_s={statistics.median(tail):.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
