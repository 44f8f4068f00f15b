#!/usr/bin/env python3
"""PyTorch side of bench/compare.py: the Fashion-MNIST MLP or CNN of
examples/fashion-mnist, trained the way a PyTorch expert would on this CPU.

Threads: Debian's torch runs its element-wise ops on an OpenMP team
(torch.set_num_threads) and its GEMMs in OpenBLAS, which has a pthread pool
of its own (OPENBLAS_NUM_THREADS, or openblas_set_num_threads, called here
through ctypes).  Two pools of ncpu threads each oversubscribe the cores,
and a spinning second OpenMP thread collapses under load: the cause of the
slow PyTorch figures that bench/README.md could reproduce (not the data).
Before the timed epochs each configuration in --threads ("T" for torch's
team, "T/B" for torch's team and OpenBLAS's pool) runs a short calibration
(three interleaved passes) and the fastest is kept (run with
OMP_WAIT_POLICY=PASSIVE in the environment, as compare.py does).

Memory: PyTorch's CPU allocator takes every tensor from malloc, and
glibc's malloc maps each block over its mmap threshold (128 KiB at start,
raised only as mapped blocks are freed, so it depends on the process's
history) fresh from the kernel and unmaps it when freed: the activations
and gradients of every step (128 x 512 floats is 256 KiB) then cost page
faults and the kernel's zeroing, a quarter of the step in `perf`.  PyTorch's
CPU tuning guide answers this with jemalloc or tcmalloc; without them, the
same is had from glibc by fixing its thresholds (mallopt, first thing in
main, so that torch_plain.py, which imports this file, keeps the defaults): the MLP went from 8.5k to 32k samples/s on one
thread (bench/README.md).  This, not the data, was behind the bench's
history-dependent 7-8k against 22-30k figures.

Data: the dataset is one normalised contiguous float32 tensor; each epoch
gathers it once in the epoch's shuffled order into a buffer allocated once,
and the batches are contiguous slices of that buffer (no DataLoader, no
per-batch gather).  zero_grad(set_to_none=True); the loss and accuracy
accumulate as tensors under torch.no_grad(), read once an epoch.  Each
epoch is a seeded shuffle, the last partial batch kept, as dlhost does.

Output, for compare.py: "params N", "calibrate threads=T[/B]
samples_per_s=S", one "epoch k/E ... samples/s" line per epoch, then
"torch threads=T[/B] samples_per_s=S" (the median over epochs after the
first).
"""
import argparse
import ctypes
import ctypes.util
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


def openblas_threads():
    """openblas_set_num_threads of the OpenBLAS torch loaded, or None (a
    torch on MKL or a BLAS without the call)."""
    for name in ("libopenblas.so.0", ctypes.util.find_library("openblas")):
        try:
            return ctypes.CDLL(name).openblas_set_num_threads if name else None
        except (OSError, AttributeError):
            continue
    return None


def set_threads(spec, blas_set):
    """spec "T" or "T/B": torch's intra-op team T, OpenBLAS's pool B."""
    t, _, b = spec.partition("/")
    torch.set_num_threads(int(t))
    if b and blas_set:
        blas_set(int(b))


def batches(x, y, order, bs, xbuf, ybuf):
    """x and y gathered once in `order` into the preallocated buffers, then
    cut into contiguous batches of bs (the last one partial)."""
    n = len(order)
    torch.index_select(x, 0, order, out=xbuf[:n])
    torch.index_select(y, 0, order, out=ybuf[:n])
    return [(xbuf[i:i + bs], ybuf[i:i + bs]) for i in range(0, n, bs)]


def train_steps(model, opt, data, sched=None):
    """Trains over the batches of `data`, stepping `sched` (if any) after
    each batch as dlhost does; returns (loss sum, correct, n).  The sums stay
    on the batches' device (bench/torch_cuda.py's GPU) until the end."""
    dev = data[0][0].device if data else None
    total = torch.zeros((), dtype=torch.float64, device=dev)
    correct = torch.zeros((), dtype=torch.int64, device=dev)
    seen = 0
    for xb, yb in data:
        opt.zero_grad(set_to_none=True)
        out = model(xb)
        loss = F.cross_entropy(out, yb)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        with torch.no_grad():
            total += loss.detach() * len(yb)
            correct += (out.argmax(1) == yb).sum()
        seen += len(yb)
    return total.item(), correct.item(), seen


def add_data_args(ap):
    """The model, data, optimiser and schedule arguments this script and
    torch_plain.py share, so that compare.py hands both the same command
    line (less --threads)."""
    ap.add_argument("--model", choices=["mlp", "cnn"], required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--labels", required=True)
    ap.add_argument("--samples", type=int, default=0, help="training samples (0: all)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--optimizer", default="adam")
    ap.add_argument("--normalize", default="zscore", choices=["zscore", "minmax", "none"])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--schedule", default="constant", choices=["constant", "cosine"],
                    help="cosine: CosineAnnealingLR over every step of the run, as dlhost's")


def load_data(a):
    """The training data of a (add_data_args): seeds torch, then a seeded
    random subset of a.samples images (0: all) as one contiguous float32
    tensor [n, 1, 28, 28], normalised by its own statistics (one channel,
    torchvision style), and its labels.  Returns x, y, n and the seeded
    generator, past the subset's draw, for the epochs' shuffles."""
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
    return x, y, n, g


def make_scheduler(a, opt, n):
    """a.schedule over every step of the run, as dlhost's: None (constant)
    or CosineAnnealingLR."""
    if a.schedule != "cosine":
        return None
    steps = (n + a.batch - 1) // a.batch * a.epochs
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)


def train_epochs(a, model, opt, sched, x, y, xbuf, ybuf, shuffle, sync=lambda: None):
    """a.epochs epochs, each drawn by shuffle() before its clock starts,
    gathered by batches and trained by train_steps, timed from sync() to
    sync() (torch.cuda.synchronize on a GPU); one "epoch k/E ... samples/s"
    line each.  Returns the median samples/s of the epochs after the first."""
    speeds = []
    for e in range(a.epochs):
        sync()
        order = shuffle()
        t0 = time.perf_counter()
        data = batches(x, y, order, a.batch, xbuf, ybuf)
        total, correct, seen = train_steps(model, opt, data, sched=sched)
        sync()
        dt = time.perf_counter() - t0
        speeds.append(seen / dt)
        print(f"epoch {e + 1}/{a.epochs}  train_loss {total / seen:.6f}  "
              f"train_accuracy {correct / seen:.4f}  {dt:.2f}s  {seen / dt:.0f} samples/s",
              flush=True)
    return statistics.median(speeds[1:] if len(speeds) > 1 else speeds)


def fix_malloc_thresholds():
    """glibc: blocks up to 32 MiB from the heap, the heap never trimmed
    below 1 GiB (M_MMAP_THRESHOLD = -3, M_TRIM_THRESHOLD = -1); a no-op
    elsewhere."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc.mallopt(-3, 32 << 20) == 1 and libc.mallopt(-1, 1 << 30) == 1
    except (OSError, AttributeError):
        return False


def main():
    malloc_fixed = fix_malloc_thresholds()
    ap = argparse.ArgumentParser()
    add_data_args(ap)
    ap.add_argument("--threads", default="1,2",
                    help="configurations to calibrate: T (torch's threads) or T/B "
                         "(and OpenBLAS's), comma-separated")
    a = ap.parse_args()

    x, y, n, g = load_data(a)

    model = make_model(a.model)
    print("params", sum(p.numel() for p in model.parameters()), flush=True)
    print("malloc thresholds", "fixed" if malloc_fixed else "glibc defaults (mallopt unavailable)", flush=True)

    blas_set = openblas_threads()
    xbuf, ybuf = torch.empty_like(x), torch.empty_like(y)

    # Calibration: three interleaved passes over the configurations, each
    # pass 20 steps per configuration after 5 warm-up steps, on throw-away
    # copies of the model so the timed run starts fresh.  A configuration's
    # figure is its samples over its time summed over the passes: on a
    # loaded machine one short burst per configuration picks by luck.
    confs = [c for c in a.threads.split(",") if c and (blas_set or "/" not in c)]
    seen_t = {c: [0, 0.0] for c in confs}
    for _ in range(3):
        for t in confs:
            set_threads(t, blas_set)
            m = make_model(a.model)
            o = make_optimizer(a.optimizer, m.parameters(), a.lr)
            data = batches(x, y, torch.randperm(n, generator=g), a.batch, xbuf, ybuf)
            train_steps(m, o, data[:5])
            t0 = time.perf_counter()
            seen_t[t][0] += train_steps(m, o, data[5:25])[2]
            seen_t[t][1] += time.perf_counter() - t0
    best_t, best_sps = None, 0.0
    for t in confs:
        sps = seen_t[t][0] / seen_t[t][1]
        print(f"calibrate threads={t} samples_per_s={sps:.0f}", flush=True)
        if sps > best_sps:
            best_t, best_sps = t, sps
    set_threads(best_t, blas_set)

    opt = make_optimizer(a.optimizer, model.parameters(), a.lr)
    sched = make_scheduler(a, opt, n)
    sps = train_epochs(a, model, opt, sched, x, y, xbuf, ybuf,
                       lambda: torch.randperm(n, generator=g))
    print(f"torch threads={best_t} samples_per_s={sps:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
