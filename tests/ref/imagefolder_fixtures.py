#!/usr/bin/python3
"""Fixtures and reference values for tests/test_imagefolder.c.

Writes tests/data/imagefolder/ (a tiny ImageFolder tree: three classes of
7 x 5 images in every PNG colour type the reader handles and three JPEGs)
and tests/data/imagefolder_odd.png (9 x 4, resized to 7 x 5 by the test),
the fuzz seeds tests/fuzz/corpus/image/, and prints to stdout the expected
values as C initialisers to paste into the test: the class and sample order
(torchvision.datasets.ImageFolder, less hidden entries, which the reader
skips), every image decoded as PIL's convert('RGB') and convert('L'), and a
few images resized with torchvision.transforms.functional.resize(ToTensor(img),
[h, w], InterpolationMode.BILINEAR, antialias=False).

PNGs are written here byte by byte (zlib) so that every colour type and bit
depth is present, 16-bit RGB included, which PIL cannot write; JPEGs by PIL.
16-bit grey: PIL opens it as mode I;16 and its convert('L') clips to 255;
the reader keeps the high byte, as PIL does for 16-bit RGB, and the
reference here is (v >> 8) for those files.

The test never needs Python; run this again only to regenerate, from the
source tree:  /usr/bin/python3 tests/ref/imagefolder_fixtures.py
Generated with Debian's python3-torch 1.13 (1.13.0a0), python3-torchvision 0.14.1,
python3-pil 9.4.0.
"""
import io
import os
import shutil
import struct
import zlib

import numpy as np
import torch
import torchvision
import torchvision.transforms.functional as TF
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "data", "imagefolder")
ODD = os.path.join(ROOT, "data", "imagefolder_odd.png")
CORPUS = os.path.join(ROOT, "fuzz", "corpus", "image")
H, W = 5, 7


def chunk(kind, data):
    c = struct.pack(">I", len(data)) + kind + data
    return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(color_type, depth, rows, plte=None, trns=None, width=W):
    """rows: a list of lists of samples (already packed per channel)."""
    raw = b""
    for r in rows:
        if depth == 16:
            raw += b"\0" + b"".join(struct.pack(">H", v) for v in r)
        elif depth == 8:
            raw += b"\0" + bytes(r)
        else:   # pack depth-bit samples, high bits first
            bits = "".join(format(v, "0%db" % depth) for v in r)
            bits += "0" * (-len(bits) % 8)
            raw += b"\0" + bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))
    out = b"\x89PNG\r\n\x1a\n"
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", width, len(rows), depth, color_type, 0, 0, 0))
    if plte:
        out += chunk(b"PLTE", bytes(v for c in plte for v in c))
    if trns:
        out += chunk(b"tRNS", trns)
    out += chunk(b"IDAT", zlib.compress(raw, 9))
    return out + chunk(b"IEND", b"")


def v(x, y, k, depth=8):
    """A deterministic sample value with some spread."""
    top = (1 << depth) - 1
    return (37 * x + 53 * y + 91 * k + 11 * x * y * (k + 1) + 7) % (top + 1)


def grid(channels, depth=8, seed=0):
    return [[v(x, y, seed + c, depth) for x in range(W) for c in range(channels)]
            for y in range(H)]


def photo():
    """A smooth colour image for the JPEGs (noise would be all artefacts)."""
    a = np.zeros((H, W, 3), np.uint8)
    for y in range(H):
        for x in range(W):
            a[y, x] = (30 + 30 * x, 40 + 40 * y, 200 - 15 * x - 10 * y)
    return Image.fromarray(a, "RGB")


def files():
    pal = [(v(i, 0, 0), v(i, 1, 1), v(i, 2, 2)) for i in range(6)]
    yield "Zebra/grey.png", png(0, 8, grid(1))
    yield "Zebra/rgb.png", png(2, 8, grid(3, seed=1))
    yield "Zebra/palette.png", png(3, 8, [[(x + y) % 6 for x in range(W)] for y in range(H)],
                                   plte=pal, trns=bytes([0, 128, 255]))
    yield "Zebra/notes.txt", b"not an image: skipped\n"
    yield "ant/grey16.png", png(0, 16, grid(1, 16, seed=2))
    yield "ant/grey2.png", png(0, 2, grid(1, 2, seed=3))
    yield "ant/rgba16.png", png(6, 16, grid(4, 16, seed=4))
    img = photo()
    b = io.BytesIO()
    img.save(b, "JPEG", quality=90)
    yield "ant/photo.jpg", b.getvalue()
    yield "cat/grey_alpha.png", png(4, 8, grid(2, seed=5))
    yield "cat/rgba.png", png(6, 8, grid(4, seed=6))
    b = io.BytesIO()
    img.convert("L").save(b, "JPEG", quality=85)
    yield "cat/grey.JPG", b.getvalue()
    b = io.BytesIO()
    img.save(b, "JPEG", quality=75, progressive=True)
    yield "cat/progressive.jpeg", b.getvalue()
    # Skipped by the reader: a hidden file and a hidden folder.
    yield "cat/.hidden.png", png(0, 8, grid(1))
    yield ".hidden_class/x.png", png(0, 8, grid(1))
    yield "README.txt", b"a file beside the class folders: skipped\n"


def decoded(path, mode):
    im = Image.open(path)
    if im.mode in ("I;16", "I;16B", "I"):     # 16-bit grey: the high byte
        a = (np.asarray(im).astype(np.int64) >> 8).astype(np.uint8)
        if mode == "RGB":
            a = np.stack([a, a, a], -1)
        return a
    return np.asarray(im.convert(mode))


def c_bytes(name, a):
    flat = a.transpose(2, 0, 1).flatten() if a.ndim == 3 else a.flatten()
    s = "static const unsigned char %s[%d] = {\n" % (name, flat.size)
    vals = [str(int(x)) for x in flat]
    for i in range(0, len(vals), 16):
        s += "    " + ", ".join(vals[i:i + 16]) + ",\n"
    return s + "};\n"


def c_floats(name, t):
    flat = t.flatten().tolist()
    s = "static const float %s[%d] = {\n" % (name, len(flat))
    for i in range(0, len(flat), 6):
        s += "    " + ", ".join("%.9gf" % x for x in flat[i:i + 6]) + ",\n"
    return s + "};\n"


def odd():
    """A 9 x 4 RGB image: the one that differs in size from the tree's."""
    return png(2, 8, [[v(x, y, c + 7) for x in range(9) for c in range(3)]
                      for y in range(4)], width=9)


def main():
    with open(ODD, "wb") as f:
        f.write(odd())
    shutil.rmtree(OUT, ignore_errors=True)
    shutil.rmtree(CORPUS, ignore_errors=True)
    os.makedirs(CORPUS)
    for rel, data in files():
        p = os.path.join(OUT, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        if rel.endswith((".png", ".jpg", ".JPG", ".jpeg")) and "/." not in rel \
                and not rel.startswith("."):
            # Fuzz seeds: flags (bit 0 grey, bit 1 resize), height, width,
            # then the file.
            base = rel.replace("/", "-")
            for flags, h, w in ((0, 0, 0), (3, 3, 4), (2, 9, 11)):
                with open(os.path.join(CORPUS, "%s-%d" % (base, flags)), "wb") as f:
                    f.write(bytes([flags, h, w]) + data)

    ds = torchvision.datasets.ImageFolder(OUT)
    classes = [c for c in ds.classes if not c.startswith(".")]
    samples = [(os.path.relpath(p, OUT), classes.index(ds.classes[k]))
               for p, k in ds.samples if not ds.classes[k].startswith(".")
               and not os.path.basename(p).startswith(".")]
    print("/* Generated by tests/ref/imagefolder_fixtures.py with torch %s, "
          "torchvision %s, PIL %s. */" % (torch.__version__, torchvision.__version__,
                                          Image.__version__))
    print("static const char *const ref_classes[%d] = { %s };" %
          (len(classes), ", ".join('"%s"' % c for c in classes)))
    print("static const struct { const char *file; int label; } ref_samples[%d] = {" %
          len(samples))
    for p, k in samples:
        print('    { "%s", %d },' % (p, k))
    print("};")
    for i, (p, _) in enumerate(samples):
        full = os.path.join(OUT, p)
        print(c_bytes("ref_rgb_%d" % i, decoded(full, "RGB")), end="")
        print(c_bytes("ref_grey_%d" % i, decoded(full, "L")), end="")
    print("static const unsigned char *const ref_rgb[%d] = { %s };" %
          (len(samples), ", ".join("ref_rgb_%d" % i for i in range(len(samples)))))
    print("static const unsigned char *const ref_grey[%d] = { %s };" %
          (len(samples), ", ".join("ref_grey_%d" % i for i in range(len(samples)))))

    # Resized: (sample, mode, h, w).
    cases = [(1, "RGB", 3, 4), (1, "RGB", 9, 11), (7, "L", 4, 6), (5, "RGB", 5, 3),
             (0, "L", 2, 2), (9, "L", 1, 1), (8, "RGB", 12, 7)]
    table = ""
    for j, (i, mode, h, w) in enumerate(cases):
        a = decoded(os.path.join(OUT, samples[i][0]), mode)
        t = TF.to_tensor(a)       # (C, H, W) float, x / 255
        r = TF.resize(t, [h, w], TF.InterpolationMode.BILINEAR, antialias=False)
        print(c_floats("ref_resized_%d" % j, r), end="")
        table += "    { %d, %d, %d, %d, ref_resized_%d },\n" % (i, mode == "L", h, w, j)
    t = TF.to_tensor(decoded(ODD, "L"))
    r = TF.resize(t, [H, W], TF.InterpolationMode.BILINEAR, antialias=False)
    print(c_floats("ref_odd_grey", r), end="")
    print("static const struct { int sample, grey, h, w; const float *want; } "
          "ref_resized[%d] = {" % len(cases))
    print(table + "};")


if __name__ == "__main__":
    main()
