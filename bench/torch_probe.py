#!/usr/bin/env python3
"""Reproducers behind bench/README.md's "Why PyTorch looked slow": the
Fashion-MNIST MLP's training step (784-512-256-10, Adam 1e-3, batch 128)
timed in wall-clock and in CPU time of the process, so that a loaded
machine still shows where the time goes.

  /usr/bin/python3 bench/torch_probe.py data      # inputs of different origin
  /usr/bin/python3 bench/torch_probe.py threads   # torch/OpenBLAS thread pools
  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_probe.py threads

"data": one thread in each pool, the same step on the training images
z-scored by numpy and wrapped with torch.from_numpy, z-scored by torch ops,
raw 0..255, random normal, a float64 copy cast back, a non-contiguous
(transposed-and-back) copy; each printed with its dtype, strides and the
alignment of its storage.  "threads": the same step under each pair of
torch intra-op threads T and OpenBLAS threads B (set at run time through
openblas_set_num_threads).  Configurations are interleaved over --reps
rounds and the best round is printed.  Not a test: figures only.
"""
import argparse
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_fmnist import make_model, openblas_threads, read_idx  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist/"


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def steps(x, y, n_steps, bs=128):
    """(wall samples/s, samples per CPU-second) of n_steps after 10 warm-up."""
    torch.manual_seed(0)
    m = make_model("mlp")
    o = torch.optim.Adam(m.parameters(), lr=1e-3)
    n = x.shape[0] - bs

    def go(k0, k):
        for i in range(k0, k0 + k):
            j = i * bs % n
            o.zero_grad(set_to_none=True)
            F.cross_entropy(m(x[j:j + bs]), y[j:j + bs]).backward()
            o.step()
    go(0, 10)
    t0, c0 = time.perf_counter(), cpu_seconds()
    go(10, n_steps)
    return n_steps * bs / (time.perf_counter() - t0), n_steps * bs / (cpu_seconds() - c0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["data", "threads"])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--images", default=DATA + "train-images-idx3-ubyte.gz")
    ap.add_argument("--labels", default=DATA + "train-labels-idx1-ubyte.gz")
    a = ap.parse_args()
    img = read_idx(a.images).astype(np.float32).reshape(-1, 1, 28, 28)
    y = torch.from_numpy(read_idx(a.labels).astype(np.int64))
    blas_set = openblas_threads()
    print(f"torch {torch.__version__}, default threads {torch.get_num_threads()}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    if a.what == "data":
        torch.set_num_threads(1)
        if blas_set:
            blas_set(1)
        t = torch.from_numpy(img)
        variants = {
            "numpy z-score, from_numpy": torch.from_numpy((img - img.mean()) / img.std()),
            "torch z-score": (t - t.mean()) / t.std(unbiased=False),
            "raw 0..255": t,
            "torch.randn": torch.randn(t.shape),
            "float64 z-score, cast back": ((t.double() - t.double().mean())
                                           / t.double().std()).float(),
            "non-contiguous copy": ((t - t.mean()) / t.std()).reshape(-1, 784).t()
                                   .contiguous().t().reshape(-1, 1, 28, 28),
        }
        configs = [(k, None) for k in variants]
    else:
        ncpu = os.cpu_count()
        x = torch.from_numpy((img - img.mean()) / img.std())
        configs = [(f"torch {tt} / OpenBLAS {b}", (tt, b))
                   for tt in sorted({1, ncpu}) for b in sorted({1, ncpu})]
    best = {}
    for _ in range(a.reps):
        for name, tb in configs:
            if tb:
                torch.set_num_threads(tb[0])
                if blas_set:
                    blas_set(tb[1])
                r = steps(x, y, a.steps)
            else:
                r = steps(variants[name], y, a.steps)
            if name not in best or r[0] > best[name][0]:
                best[name] = r
    for name, tb in configs:
        extra = ""
        if not tb:
            v = variants[name]
            extra = (f"  {str(v.dtype)[6:]}, strides {v.stride()}, "
                     f"storage % 64 = {v.data_ptr() % 64}")
        print(f"{name:28s} wall {best[name][0]:7.0f} samples/s, "
              f"{best[name][1]:7.0f} samples per CPU-second{extra}", flush=True)
    print(f"load {os.getloadavg()[0]:.1f} at the end", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
