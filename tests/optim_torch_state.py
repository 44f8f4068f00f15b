#!/usr/bin/env python3
"""Loads the optimiser state of a dlhost checkpoint into torch.optim, for
tests/test_optimizers_cli.sh.

    optim_torch_state.py CHECKPOINT CLASS

The parameters "<layer>.<param>" of the checkpoint become torch parameters;
"optim.<layer>.<param>.<state>" become torch.optim.CLASS's state of that
parameter (state['step'] included).  The state must hold exactly the keys,
shapes and dtypes torch.optim.CLASS keeps after a step of its own;
load_state_dict must take it, and a step must run on it.  Prints
"KEYS: k1 k2 ..." and exits 0, or names what differs and exits 1.
"""
import json
import struct
import sys

import numpy as np
import torch


def main():
    path, cls_name = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    t = {}
    for name, d in header.items():
        a, b = d["data_offsets"]
        t[name] = torch.from_numpy(
            np.frombuffer(data[a:b], dtype="<f4").reshape(d["shape"]).copy())
    names = [k for k in header if not k.startswith("optim.") and not k.startswith("best.")
             and k.rsplit(".", 1)[1] in ("weight", "bias")]
    params = [torch.nn.Parameter(t[k].clone()) for k in names]
    cls = getattr(torch.optim, cls_name)
    # What torch keeps: a fresh optimiser's state after one step.
    ref = cls([torch.nn.Parameter(p.detach().clone()) for p in params], lr=0.01)
    for p in ref.param_groups[0]["params"]:
        p.grad = torch.ones_like(p)
    ref.step()
    want = ref.state_dict()
    state = {}
    for i, k in enumerate(names):
        st = {key.rsplit(".", 1)[1]: v for key, v in t.items()
              if key.startswith("optim." + k + ".") and key.count(".") == k.count(".") + 2}
        w = want["state"][i]
        if set(st) != set(w):
            raise SystemExit("%s: dlhost keeps %s, torch.optim.%s %s"
                             % (k, sorted(st), cls_name, sorted(w)))
        for key, v in w.items():
            tv = torch.as_tensor(v)
            if tuple(st[key].shape) != tuple(tv.shape) and key != "step":
                raise SystemExit("%s.%s: shape %s, torch's %s"
                                 % (k, key, tuple(st[key].shape), tuple(tv.shape)))
            if not isinstance(v, torch.Tensor):      # a Python number in torch 1.13
                st[key] = type(v)(st[key].item())
        state[i] = st
    opt = cls(params, lr=0.01)
    opt.load_state_dict({"state": state, "param_groups": want["param_groups"]})
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    if not all(torch.isfinite(p).all() for p in params):
        raise SystemExit("a step from the loaded state gives non-finite parameters")
    print("KEYS: " + " ".join(sorted(state[0])))


if __name__ == "__main__":
    main()
