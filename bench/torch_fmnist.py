#!/usr/bin/env python3
"""PyTorch side of bench/compare.py: the Fashion-MNIST MLP or CNN of
examples/fashion-mnist, trained the way a PyTorch user would, at the best
intra-op thread count.

The dataset is held as one normalised float32 tensor and batches are
gathered with index_select (no DataLoader: its worker processes and
per-sample transforms would make PyTorch slower than it needs to be).  Each
epoch is a seeded shuffle, the last partial batch kept, with the loss and
accuracy accumulated as dlhost does.  Before the timed epochs, each thread
count in --threads runs a short calibration and the fastest is kept (set
OMP_WAIT_POLICY=PASSIVE in the environment: PyTorch 1.13's default threads
spin against OpenBLAS's own pool otherwise).

Output, for compare.py: "params N", "calibrate threads=T samples_per_s=S",
one "epoch k/E ... samples/s" line per epoch, then
"torch threads=T samples_per_s=S" (the median over epochs after the first).
"""
import argparse
import gzip
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def make_model(kind):
    if kind == "mlp":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 512), nn.ReLU(),
            nn.Linear(512, 256), nn.ReLU(),
            nn.Linear(256, 10))
    if kind == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10))
    raise SystemExit(f"unknown model {kind}")


def make_optimizer(name, params, lr):
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    raise SystemExit(f"unknown optimizer {name}")


def train_steps(model, opt, x, y, order, bs, limit=None, sched=None):
    """Trains over `order` in batches of bs, stepping `sched` (if any) after
    each batch as dlhost does; returns (loss sum, correct, n)."""
    total, correct, seen, steps = 0.0, 0, 0, 0
    for i in range(0, len(order), bs):
        if limit is not None and steps >= limit:
            break
        ib = order[i:i + bs]
        xb = x.index_select(0, ib)
        yb = y.index_select(0, ib)
        opt.zero_grad(set_to_none=True)
        out = model(xb)
        loss = F.cross_entropy(out, yb)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        total += loss.item() * len(ib)
        correct += (out.argmax(1) == yb).sum().item()
        seen += len(ib)
        steps += 1
    return total, correct, seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["mlp", "cnn"], required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--labels", required=True)
    ap.add_argument("--samples", type=int, default=0, help="training samples (0: all)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--optimizer", default="adam")
    ap.add_argument("--normalize", default="zscore", choices=["zscore", "minmax", "none"])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--schedule", default="constant", choices=["constant", "cosine"],
                    help="cosine: CosineAnnealingLR over every step of the run, as dlhost's")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    images = read_idx(a.images)
    labels = read_idx(a.labels).astype(np.int64)
    n = a.samples if 0 < a.samples <= len(images) else len(images)
    g = torch.Generator().manual_seed(a.seed)
    pick = torch.randperm(len(images), generator=g)[:n]
    x = torch.from_numpy(images.astype(np.float32)).reshape(len(images), 1, 28, 28)
    x = x.index_select(0, pick).contiguous()
    y = torch.from_numpy(labels).index_select(0, pick).contiguous()
    del images
    # Statistics from the training samples, one channel (torchvision style).
    if a.normalize == "zscore":
        x = (x - x.mean()) / x.std(unbiased=False)
    elif a.normalize == "minmax":
        x = (x - x.min()) / (x.max() - x.min())

    model = make_model(a.model)
    print("params", sum(p.numel() for p in model.parameters()), flush=True)

    # Calibration: 40 steps after 10 warm-up steps at each thread count, on a
    # throw-away copy of the model so the timed run starts fresh.
    best_t, best_sps = None, 0.0
    for t in [int(s) for s in a.threads.split(",") if s]:
        torch.set_num_threads(t)
        m = make_model(a.model)
        o = make_optimizer(a.optimizer, m.parameters(), a.lr)
        order = torch.randperm(n, generator=g)
        train_steps(m, o, x, y, order, a.batch, limit=10)
        t0 = time.perf_counter()
        _, _, seen = train_steps(m, o, x, y, order[10 * a.batch:], a.batch, limit=40)
        sps = seen / (time.perf_counter() - t0)
        print(f"calibrate threads={t} samples_per_s={sps:.0f}", flush=True)
        if sps > best_sps:
            best_t, best_sps = t, sps
    torch.set_num_threads(best_t)

    opt = make_optimizer(a.optimizer, model.parameters(), a.lr)
    sched = None
    if a.schedule == "cosine":
        steps = (n + a.batch - 1) // a.batch * a.epochs
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    speeds = []
    for e in range(a.epochs):
        order = torch.randperm(n, generator=g)
        t0 = time.perf_counter()
        total, correct, seen = train_steps(model, opt, x, y, order, a.batch, sched=sched)
        dt = time.perf_counter() - t0
        speeds.append(seen / dt)
        print(f"epoch {e + 1}/{a.epochs}  train_loss {total / seen:.6f}  "
              f"train_accuracy {correct / seen:.4f}  {dt:.2f}s  {seen / dt:.0f} samples/s",
              flush=True)
    tail = speeds[1:] if len(speeds) > 1 else speeds
    print(f"torch threads={best_t} samples_per_s={statistics.median(tail):.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
