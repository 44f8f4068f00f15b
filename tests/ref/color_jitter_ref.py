#!/usr/bin/python3
"""Reference outputs of torchvision's ColorJitter for tests/test_color_jitter.c.

Two kinds of case, on a small RGB image and a grey one whose values lie in
[0, 1] (gray pixels, ties of the largest channel, zeros and ones included):
- fixed factors: torchvision.transforms.functional.adjust_brightness,
  adjust_contrast, adjust_saturation and adjust_hue with one factor each
  (the C test gives the range [f, f], which draws exactly f);
- drawn factors: ColorJitter.forward's loop (the order fn_idx, then the four
  adjust_* calls), with the order and factors drawn by the convention of
  plugins/augmenters/color_jitter.c (Philox 4x32-10 as include/dlhost/philox.h,
  counter 0 the apply draw, counters 1-3 the randperm swaps, 4-7 the
  factors) for four streams.
Factors are rounded to float32 first, as torch's uniform_ gives them.
Prints the C header tests/ref/color_jitter_ref.h:
    /usr/bin/python3 tests/ref/color_jitter_ref.py > tests/ref/color_jitter_ref.h
"""
import math

import numpy as np
import torch
import torchvision
import torchvision.transforms.functional as F

M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK = 0xFFFFFFFF

SEED = 0xC0105EED
STREAMS = [5, 0xFEEDFACE1234, 99, 0x31415926535]
H, W = 4, 5


def philox(seed, stream, c):
    """The four words of counter c of `stream` under `seed` (philox.h)."""
    k0, k1 = seed & MASK, (seed >> 32) & MASK
    c0, c1, c2, c3 = c & MASK, (c >> 32) & MASK, stream & MASK, (stream >> 32) & MASK
    for _ in range(10):
        p0 = M0 * c0
        p1 = M1 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & MASK, p1 & MASK, \
            ((p0 >> 32) ^ c3 ^ k1) & MASK, p0 & MASK
        k0 = (k0 + W0) & MASK
        k1 = (k1 + W1) & MASK
    return c0, c1, c2, c3


def u(stream, k):
    return (philox(SEED, stream, k)[0] >> 8) * 2.0 ** -24


def randint(stream, k, lo, hi):
    if hi <= lo:
        return lo
    n = hi - lo + 1
    return lo + min(int(math.floor(u(stream, k) * n)), hi - lo)


def f32(v):
    return float(np.float32(v))


def rgb_input():
    """3 x H x W in [0, 1]: a ramp, with a gray pixel, a tie of the two
    largest channels, a black and a white pixel, and a saturated red."""
    v = np.zeros((3, H, W), dtype=np.float32)
    for c in range(3):
        for y in range(H):
            for x in range(W):
                v[c, y, x] = ((c * 7 + y * 5 + x * 3) * 37 % 64) / 63.0
    v[:, 0, 0] = (0.5, 0.5, 0.5)
    v[:, 0, 1] = (0.75, 0.75, 0.25)
    v[:, 1, 1] = (0.0, 0.0, 0.0)
    v[:, 2, 2] = (1.0, 1.0, 1.0)
    v[:, 3, 4] = (1.0, 0.0, 0.0)
    v[:, 3, 3] = (0.25, 0.5, 0.5)
    return torch.from_numpy(v)


def grey_input():
    v = np.zeros((1, H, W), dtype=np.float32)
    for y in range(H):
        for x in range(W):
            v[0, y, x] = ((y * 5 + x) * 29 % 32) / 31.0
    return torch.from_numpy(v)


ADJUST = [F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue]
NAMES = ["brightness", "contrast", "saturation", "hue"]

# name, image, transform, factor
FIXED = [
    ("brightness_low", "rgb", 0, 0.5),
    ("brightness_high", "rgb", 0, 1.7),
    ("contrast_zero", "rgb", 1, 0.0),
    ("contrast_low", "rgb", 1, 0.6),
    ("contrast_high", "rgb", 1, 1.8),
    ("saturation_zero", "rgb", 2, 0.0),
    ("saturation_low", "rgb", 2, 0.4),
    ("saturation_high", "rgb", 2, 2.5),
    ("hue_min", "rgb", 3, -0.5),
    ("hue_neg", "rgb", 3, -0.3),
    ("hue_pos", "rgb", 3, 0.1),
    ("hue_max", "rgb", 3, 0.5),
    ("grey_brightness", "grey", 0, 1.3),
    ("grey_contrast", "grey", 1, 0.5),
]


def ranges(prm):
    """torchvision's _check_input on the float32 values the config gives."""
    out = []
    for t, name in enumerate(NAMES):
        v = prm.get(name, 0)
        center = 0.0 if t == 3 else 1.0
        if isinstance(v, (int, float)):
            lo, hi = center - f32(v), center + f32(v)
            if t != 3:
                lo = max(lo, 0.0)
        else:
            lo, hi = f32(v[0]), f32(v[1])
        out.append(None if lo == hi == center else (lo, hi))
    return out


def jitter(img, stream, prm):
    """ColorJitter.forward with the plugin's draws."""
    if not u(stream, 0) < prm.get("p", 1.0):
        return img
    order = [0, 1, 2, 3]
    for k in range(3):
        j = k + randint(stream, 1 + k, 0, 3 - k)
        order[k], order[j] = order[j], order[k]
    rng = ranges(prm)
    for t in order:
        if rng[t] is not None:
            lo, hi = rng[t]
            img = ADJUST[t](img, f32(lo + (hi - lo) * u(stream, 4 + t)))
    return img


# name, image, config body, parameters
DRAWN = [
    ("drawn_typical", "rgb",
     "brightness = 0.4; contrast = 0.4; saturation = 0.4; hue = 0.1;",
     {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1}),
    ("drawn_pairs", "rgb",
     "brightness = [0.2, 1.8]; contrast = [0.5, 1.5]; saturation = [0.0, 2.0]; "
     "hue = [-0.5, 0.5]; p = 0.5;",
     {"brightness": (0.2, 1.8), "contrast": (0.5, 1.5), "saturation": (0.0, 2.0),
      "hue": (-0.5, 0.5), "p": 0.5}),
    ("drawn_grey", "grey", "brightness = 0.5; contrast = [0.3, 1.2];",
     {"brightness": 0.5, "contrast": (0.3, 1.2)}),
]


def floats(name, values):
    print("static const float %s[%d] = {" % (name, len(values)))
    for i in range(0, len(values), 5):
        print("    " + ", ".join("%.9g" % v for v in values[i:i + 5]) + ",")
    print("};")


def main():
    print("/* Generated by tests/ref/color_jitter_ref.py with torch %s, torchvision %s. */"
          % (torch.__version__, torchvision.__version__))
    print("#define CJ_SEED 0x%XULL" % SEED)
    print("static const uint64_t cj_streams[%d] = { %s };"
          % (len(STREAMS), ", ".join("0x%XULL" % s for s in STREAMS)))
    print("#define CJ_H %d\n#define CJ_W %d" % (H, W))
    images = {"rgb": rgb_input(), "grey": grey_input()}
    floats("cj_rgb", images["rgb"].reshape(-1).tolist())
    floats("cj_grey", images["grey"].reshape(-1).tolist())
    for name, im, t, f in FIXED:
        floats("cj_" + name, ADJUST[t](images[im], f32(f)).reshape(-1).tolist())
    for name, im, _, prm in DRAWN:
        out = torch.cat([jitter(images[im], s, prm).reshape(-1) for s in STREAMS])
        floats("cj_" + name, out.tolist())
    print("static const cj_fixed_case cj_fixed[] = {")
    for name, im, t, f in FIXED:
        print('    { "%s", %d, "%s = [%r, %r];", cj_%s },'
              % (name, 3 if im == "rgb" else 1, NAMES[t], f, f, name))
    print("};")
    print("static const cj_drawn_case cj_drawn[] = {")
    for name, im, body, _ in DRAWN:
        print('    { "%s", %d, "%s", cj_%s },'
              % (name, 3 if im == "rgb" else 1, body, name))
    print("};")


if __name__ == "__main__":
    main()
