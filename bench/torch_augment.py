#!/usr/bin/env python3
"""PyTorch side of bench/augment.sh: one Fashion-MNIST CNN epoch (the model
of examples/fashion-mnist/cnn.cfg, Adam, batch 128) without and with the
augmentation of cnn-augment.cfg (RandomCrop(28, padding=2,
padding_mode="edge"), RandomHorizontalFlip, RandomErasing), set up as a
PyTorch user would: the normalised images as one tensor, per-sample
torchvision transforms in a Dataset, a DataLoader with num_workers in
--workers (0 runs them in the training process), the fastest kept.

Prints "torch plain S s/epoch", "torch augment workers=W S s/epoch" (median
of --epochs timed epochs after one warm-up epoch)."""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F
import torchvision.transforms as T

from torch_fmnist import make_model, read_idx


class Aug(torch.utils.data.Dataset):
    def __init__(self, x, y, tf):
        self.x, self.y, self.tf = x, y, tf

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.tf(self.x[i]), self.y[i]


def epoch(model, opt, batches):
    t0 = time.perf_counter()
    for xb, yb in batches:
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True)
    ap.add_argument("--labels", required=True)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", default="0,1,2")
    a = ap.parse_args()
    torch.manual_seed(1)
    torch.set_num_threads(a.threads)
    import numpy as np
    x = torch.from_numpy(read_idx(a.images).astype(np.float32)).reshape(-1, 1, 28, 28)
    y = torch.from_numpy(read_idx(a.labels).astype(np.int64))
    x = (x - x.mean()) / x.std(unbiased=False)

    def plain():
        order = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            ib = order[i:i + 128]
            yield x.index_select(0, ib), y.index_select(0, ib)

    model = make_model("cnn")
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    times = [epoch(model, opt, plain()) for _ in range(a.epochs + 1)][1:]
    print(f"torch plain {statistics.median(times):.2f} s/epoch", flush=True)

    tf = T.Compose([T.RandomCrop(28, padding=2, padding_mode="edge"),
                    T.RandomHorizontalFlip(), T.RandomErasing(p=0.5)])
    for w in [int(s) for s in a.workers.split(",") if s]:
        loader = torch.utils.data.DataLoader(Aug(x, y, tf), batch_size=128, shuffle=True,
                                             num_workers=w, persistent_workers=w > 0)
        model = make_model("cnn")
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        times = [epoch(model, opt, loader) for _ in range(a.epochs + 1)][1:]
        print(f"torch augment workers={w} {statistics.median(times):.2f} s/epoch",
              flush=True)


if __name__ == "__main__":
    main()
