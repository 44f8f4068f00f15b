#!/usr/bin/python3
"""Reference outputs for tests/test_augmenters.c, from torchvision.

Reimplements the draw convention of plugins/augmenters/augmenters.h (Philox
4x32-10 as include/dlhost/philox.h; one scalar draw per counter, counter 0 the
"apply" draw, element e at counter ELEMENT + e), computes from it the
parameters each augmenter draws for a small fixed batch, and applies
torchvision.transforms.functional (pad, crop, hflip, vflip, erase, affine,
rotate, resized_crop) to get the outputs; the noise augmenters, which torchvision lacks, are transcribed from
their definitions in float32.  Prints C initialisers to paste into the test,
which never needs torch.  Run again only to regenerate:
    /usr/bin/python3 tests/ref/augment_ref.py
Generated with Debian's python3-torch 1.13 and python3-torchvision 0.14.
"""
import math

import numpy as np
import torch
import torchvision
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode

NEAREST, BILINEAR = InterpolationMode.NEAREST, InterpolationMode.BILINEAR

M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK = 0xFFFFFFFF
ELEMENT = 64

SEED = 0x5EED1234ABCD
STREAMS = [3, 0xDEADBEEFCAFE, 7, 0x123456789A]
C, H, W = 2, 5, 6
N = len(STREAMS)


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


def unit(w):
    return (w >> 8) * 2.0 ** -24


def u(stream, k, word=0):
    return unit(philox(SEED, stream, k)[word])


def uniform(stream, k, a, b):
    return a + (b - a) * u(stream, k)


def randint(stream, k, lo, hi):
    if hi <= lo:
        return lo
    n = hi - lo + 1
    return lo + min(int(math.floor(u(stream, k) * n)), hi - lo)


def normal(stream, k):
    """dlh_philox_normal in float32."""
    w = philox(SEED, stream, k)
    u0, u1 = np.float32(unit(w[0])), np.float32(unit(w[1]))
    r = np.sqrt(np.float32(-2.0) * np.log(np.float32(1.0) - u0))
    return np.float32(r * np.cos(np.float32(6.28318530717958647692) * u1))


def f32(v):
    return float(np.float32(v))


def sample_input(n):
    """The test's input: exact binary fractions, different in every place."""
    numel = C * H * W
    return [((n * numel + e) * 7 % 23) / 8.0 - 1.25 for e in range(numel)]


def image(n):
    return torch.tensor(sample_input(n), dtype=torch.float32).reshape(C, H, W)


# ---------------------------------------------------------------- per component

def hflip(s, p):
    img = image(s)
    return F.hflip(img) if u(STREAMS[s], 0) < p else img


def vflip(s, p):
    img = image(s)
    return F.vflip(img) if u(STREAMS[s], 0) < p else img


def crop(s, padding, mode, fill=0.0, p=1.0):
    img = image(s)
    st = STREAMS[s]
    if not u(st, 0) < p:
        return img
    left, top, right, bottom = padding
    top_at = randint(st, 1, 0, top + bottom)
    left_at = randint(st, 2, 0, left + right)
    padded = F.pad(img, [left, top, right, bottom], fill=fill, padding_mode=mode)
    return F.crop(padded, top_at, left_at, H, W)


def erasing(s, p, scale, ratio, value):
    img = image(s)
    st = STREAMS[s]
    if not u(st, 0) < p:
        return img
    s0, s1 = f32(scale[0]), f32(scale[1])
    l0, l1 = math.log(f32(ratio[0])), math.log(f32(ratio[1]))
    area = H * W
    for t in range(10):
        k = 1 + 4 * t
        erase_area = area * uniform(st, k, s0, s1)
        aspect = math.exp(uniform(st, k + 1, l0, l1))
        h = int(round(math.sqrt(erase_area * aspect)))
        w = int(round(math.sqrt(erase_area / aspect)))
        if not (h < H and w < W):
            continue
        i = randint(st, k + 2, 0, H - h)
        j = randint(st, k + 3, 0, W - w)
        if value == "random":
            v = torch.tensor([[[normal(st, ELEMENT + (c * H + y) * W + x)
                                for x in range(j, j + w)] for y in range(i, i + h)]
                              for c in range(C)], dtype=torch.float32)
        else:
            v = torch.tensor(value, dtype=torch.float32)[:, None, None]
        return F.erase(img, i, j, h, w, v)
    return img


def shift(s, fill, translate=None, pixels=None):
    img = image(s)
    st = STREAMS[s]
    if translate:
        mx, my = f32(translate[0]) * W, f32(translate[1]) * H
        tx = int(round(uniform(st, 1, -mx, mx)))
        ty = int(round(uniform(st, 2, -my, my)))
    else:
        tx = randint(st, 1, -pixels[0], pixels[0])
        ty = randint(st, 2, -pixels[1], pixels[1])
    return F.affine(img, 0.0, [tx, ty], 1.0, [0.0, 0.0], NEAREST, fill=[fill] * C)


def rotation(s, degrees, mode, fill):
    img = image(s)
    angle = uniform(STREAMS[s], 1, f32(degrees[0]), f32(degrees[1]))
    return F.rotate(img, angle, mode, fill=fill)


def affine(s, degrees, translate, scale, shear, mode, fill):
    img = image(s)
    st = STREAMS[s]
    angle = uniform(st, 1, f32(degrees[0]), f32(degrees[1]))
    mx, my = f32(translate[0]) * W, f32(translate[1]) * H
    tx = int(round(uniform(st, 2, -mx, mx)))
    ty = int(round(uniform(st, 3, -my, my)))
    sc = uniform(st, 4, f32(scale[0]), f32(scale[1]))
    shx = uniform(st, 5, f32(shear[0]), f32(shear[1]))
    shy = uniform(st, 6, f32(shear[2]), f32(shear[3]))
    return F.affine(img, angle, [tx, ty], sc, [shx, shy], mode, fill=[fill] * C)


def resized_crop(s, scale, ratio):
    img = image(s)
    st = STREAMS[s]
    s0, s1 = f32(scale[0]), f32(scale[1])
    r0, r1 = f32(ratio[0]), f32(ratio[1])
    l0, l1 = math.log(r0), math.log(r1)
    area = H * W
    for t in range(10):
        k = 1 + 4 * t
        target = area * uniform(st, k, s0, s1)
        aspect = math.exp(uniform(st, k + 1, l0, l1))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= W and 0 < h <= H:
            i = randint(st, k + 2, 0, H - h)
            j = randint(st, k + 3, 0, W - w)
            break
    else:
        in_ratio = W / H
        if in_ratio < r0:
            w, h = W, int(round(W / r0))
        elif in_ratio > r1:
            h, w = H, int(round(H * r1))
        else:
            w, h = W, H
        i, j = (H - h) // 2, (W - w) // 2
    return F.resized_crop(img, i, j, h, w, [H, W], BILINEAR)


def noise(s, kind, prm):
    x = np.array(sample_input(s), dtype=np.float32)
    st = STREAMS[s]
    if not u(st, 0) < prm.get("p", 1.0):
        return torch.from_numpy(x)
    for e in range(x.size):
        k = ELEMENT + e
        if kind == "gaussian_noise":
            y = x[e] + (np.float32(prm["mean"]) + np.float32(prm["stddev"]) * normal(st, k))
            lo, hi = prm["clip"]
            x[e] = min(max(y, np.float32(lo)), np.float32(hi))
        elif kind == "uniform_noise":
            lo, hi = np.float32(prm["low"]), np.float32(prm["high"])
            width = np.float32(prm["high"] - prm["low"])
            x[e] = x[e] + (lo + width * np.float32(u(st, k)))
        elif kind == "salt_pepper":
            if u(st, k) < prm["amount"]:
                x[e] = prm["high"] if u(st, k, 1) < prm["salt_vs_pepper"] else prm["low"]
        elif kind == "dropout_noise":
            gain = np.float32(1.0 / (1.0 - prm["rate"]))
            x[e] = 0.0 if u(st, k) < prm["rate"] else x[e] * gain
    if kind == "random_scale":
        g = np.float32(uniform(st, 1, prm["min"], prm["max"]))
        x = x * g
    return torch.from_numpy(x)


CASES = [
    # name, config type, config body, one sample's output from its index
    ("hflip", "random_hflip", "p = 0.5;", lambda s: hflip(s, 0.5)),
    ("vflip", "random_vflip", "p = 0.5;", lambda s: vflip(s, 0.5)),
    ("crop_constant", "random_crop", "padding = 2; fill = 0.5;",
     lambda s: crop(s, [2, 2, 2, 2], "constant", 0.5)),
    ("crop_reflect", "random_crop", "padding = [1, 2, 3, 4]; padding_mode = \"reflect\";",
     lambda s: crop(s, [1, 2, 3, 4], "reflect")),
    ("crop_edge", "random_crop", "padding = [3, 1]; padding_mode = \"edge\";",
     lambda s: crop(s, [3, 1, 3, 1], "edge")),
    ("crop_symmetric", "random_crop",
     "padding = [2, 5, 6, 0]; padding_mode = \"symmetric\"; size = [5, 6];",
     lambda s: crop(s, [2, 5, 6, 0], "symmetric")),
    ("crop_p", "random_crop", "padding = 4; p = 0.5; fill = -2.0;",
     lambda s: crop(s, [4, 4, 4, 4], "constant", -2.0, 0.5)),
    ("erasing_default", "random_erasing", "",
     lambda s: erasing(s, 0.5, (0.02, 0.33), (0.3, 3.3), [0.0])),
    ("erasing_value", "random_erasing",
     "p = 1.0; scale = [0.1, 0.4]; value = [0.25, -0.5];",
     lambda s: erasing(s, 1.0, (0.1, 0.4), (0.3, 3.3), [0.25, -0.5])),
    ("erasing_random", "random_erasing",
     "p = 1.0; scale = [0.2, 0.5]; ratio = [0.5, 2.0]; value = \"random\";",
     lambda s: erasing(s, 1.0, (0.2, 0.5), (0.5, 2.0), "random")),
    ("shift_translate", "random_shift", "translate = [0.3, 0.4]; fill = 0.5;",
     lambda s: shift(s, 0.5, translate=(0.3, 0.4))),
    ("shift_pixels", "random_shift", "pixels = [2, 1]; fill = -1.0;",
     lambda s: shift(s, -1.0, pixels=(2, 1))),
    ("rotation_nearest", "random_rotation", "degrees = 40; fill = [0.5, -0.5];",
     lambda s: rotation(s, (-40, 40), NEAREST, [0.5, -0.5])),
    ("rotation_bilinear", "random_rotation",
     "degrees = [-90, 30]; interpolation = \"bilinear\"; fill = 0.25;",
     lambda s: rotation(s, (-90, 30), BILINEAR, [0.25, 0.25])),
    ("affine_bilinear", "random_affine",
     "degrees = 20; translate = [0.2, 0.1]; scale = [0.8, 1.2]; "
     "shear = [-10, 10, -5, 5]; interpolation = \"bilinear\";",
     lambda s: affine(s, (-20, 20), (0.2, 0.1), (0.8, 1.2), (-10, 10, -5, 5), BILINEAR,
                      0.0)),
    ("affine_nearest", "random_affine", "degrees = 15; shear = 8; fill = -1.0;",
     lambda s: affine(s, (-15, 15), (0, 0), (1, 1), (-8, 8, 0, 0), NEAREST, -1.0)),
    ("resized_crop_default", "random_resized_crop", "",
     lambda s: resized_crop(s, (0.08, 1.0), (3 / 4, 4 / 3))),
    ("resized_crop_ratio", "random_resized_crop",
     "scale = [0.3, 0.6]; ratio = [0.5, 2.0]; size = [5, 6];",
     lambda s: resized_crop(s, (0.3, 0.6), (0.5, 2.0))),
    ("resized_crop_fallback", "random_resized_crop", "scale = [0.99, 1.0]; ratio = [2.0, 3.0];",
     lambda s: resized_crop(s, (0.99, 1.0), (2.0, 3.0))),
    ("gaussian_noise", "gaussian_noise", "stddev = 0.3; mean = 0.1; clip = [-1.0, 1.0];",
     lambda s: noise(s, "gaussian_noise", {"stddev": 0.3, "mean": 0.1,
                                           "clip": (-1.0, 1.0)})),
    ("uniform_noise", "uniform_noise", "low = -0.2; high = 0.4;",
     lambda s: noise(s, "uniform_noise", {"low": -0.2, "high": 0.4})),
    ("salt_pepper", "salt_pepper", "amount = 0.3; salt_vs_pepper = 0.6; low = -1.0; "
     "high = 2.0;",
     lambda s: noise(s, "salt_pepper", {"amount": 0.3, "salt_vs_pepper": 0.6,
                                        "low": -1.0, "high": 2.0})),
    ("random_scale", "random_scale", "min = 0.5; max = 1.5; p = 0.75;",
     lambda s: noise(s, "random_scale", {"min": 0.5, "max": 1.5, "p": 0.75})),
    ("dropout_noise", "dropout_noise", "rate = 0.25; scale = true;",
     lambda s: noise(s, "dropout_noise", {"rate": 0.25})),
]


def main():
    print("/* Generated by tests/ref/augment_ref.py with torch %s, torchvision %s. */"
          % (torch.__version__, torchvision.__version__))
    print("#define REF_SEED 0x%XULL" % SEED)
    print("static const uint64_t ref_streams[%d] = { %s };"
          % (N, ", ".join("0x%XULL" % s for s in STREAMS)))
    print("#define REF_C %d\n#define REF_H %d\n#define REF_W %d" % (C, H, W))
    for name, _, _, fn in CASES:
        flat = torch.cat([fn(s).reshape(-1) for s in range(N)]).tolist()
        print("static const float ref_%s[%d] = {" % (name, len(flat)))
        for i in range(0, len(flat), 6):
            print("    " + ", ".join("%.9g" % v for v in flat[i:i + 6]) + ",")
        print("};")
    print("static const ref_case ref_cases[] = {")
    for name, typ, body, _ in CASES:
        print('    { "%s", "%s", "%s", ref_%s },'
              % (name, typ, body.replace('"', '\\"'), name))
    print("};")


if __name__ == "__main__":
    main()
