#!/usr/bin/env python3
"""PyTorch's CUDA side of bench/compare.py --cuda: the Fashion-MNIST MLP or
CNN of examples/fashion-mnist (bench/torch_fmnist.py's models, optimiser
and schedule) trained on the GPU the way a PyTorch expert would.

The whole normalised dataset (torch_fmnist.load_data) is one float32
tensor on the device; each epoch shuffles it there (torch_fmnist.batches:
one index_select into a buffer allocated once) and the batches are
contiguous slices of it, so no host-to-device copy and no DataLoader is in
the epoch; the epochs and their step loop are torch_fmnist.train_epochs.
cudnn.benchmark is on (cuDNN picks its fastest convolution algorithms for
the fixed shapes); TF32 is off for matmul and cuDNN, as dlhost's cuda
backend runs fp32 GEMMs (cuBLAS's default math) and FP32 FMA convolutions
(cu_conv.c): same arithmetic on both sides.  The loss and accuracy
accumulate on the device, read once an epoch.  Each epoch is timed from
torch.cuda.synchronize() to torch.cuda.synchronize().

--device cpu runs the same code on the CPU (for the tests: the script's
path, not a figure).

Output, for compare.py: "device NAME", one "epoch k/E ... samples/s" line
per epoch, then "torch-cuda device=D samples_per_s=S" (the median over the
epochs after the first).
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_fmnist import (add_data_args, load_data, make_model, make_optimizer,  # noqa: E402
                          make_scheduler, train_epochs)


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

    x, y, n, _ = load_data(a)
    x, y = x.to(dev), y.to(dev)
    xbuf, ybuf = torch.empty_like(x), torch.empty_like(y)

    model = make_model(a.model).to(dev)
    print("params", sum(p.numel() for p in model.parameters()), flush=True)
    opt = make_optimizer(a.optimizer, model.parameters(), a.lr)
    sched = make_scheduler(a, opt, n)
    sps = train_epochs(a, model, opt, sched, x, y, xbuf, ybuf,
                       lambda: torch.randperm(n, device=dev), sync)
    print(f"torch-cuda device={dev} samples_per_s={sps:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
