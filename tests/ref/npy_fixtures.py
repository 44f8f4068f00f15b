#!/usr/bin/python3
"""Writes the fixtures of tests/test_npy.c into tests/data/npy/ with NumPy.

Run once, from the top of the source tree, with Debian's python3-numpy:
    /usr/bin/python3 tests/ref/npy_fixtures.py tests/data/npy
The files are committed; the test does not need Python.  Every value here
is repeated in tests/test_npy.c, which checks what the reader gives against
it.  Files made by hand below (a '=' byte order, broken archives) say how.
"""
import io
import os
import struct
import sys
import zipfile
import zlib

import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/npy"
os.makedirs(out, exist_ok=True)


def path(name):
    return os.path.join(out, name)


def save(name, a, version=None):
    with open(path(name), "wb") as f:
        np.lib.format.write_array(f, np.asarray(a), version=version)


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


# Every dtype the reader takes, 2 samples of 3 values, in both byte orders
# (one-byte types have none: '|').  The values include each type's extremes,
# float16 subnormals and float32 denormals.
VALUES = {
    "b1": [True, False, True, True, False, False],
    "i1": [0, 1, -1, -128, 127, 42],
    "u1": [0, 1, 200, 255, 128, 42],
    "i2": [0, 1, -1, -32768, 32767, 1000],
    "u2": [0, 1, 300, 65535, 32768, 1000],
    "i4": [0, 1, -1, -2147483648, 2147483647, 100000],
    "u4": [0, 1, 70000, 4294967295, 2147483648, 100000],
    "i8": [0, 1, -1, -9223372036854775808, 9223372036854775807, 16777217],
    "u8": [0, 1, 18446744073709551615, 9007199254740993, 2**32, 3],
    "f2": [0.5, -2.0, 65504.0, 2.0**-24, 2.0**-14, -3 * 2.0**-24],
    "f4": [1.5, -2.25, 3.4028234663852886e38, 2.0**-149, 0.1, -7.0],
    "f8": [0.1, -1e10, 1e-300, 3.4028234663852886e38, 1 / 3, 2.5],
}
for code, vals in VALUES.items():
    if code[1] == "1":
        save("dt_%s.npy" % code, np.array(vals, dtype="|" + code).reshape(2, 3))
    else:
        for order, tag in (("<", "le"), (">", "be")):
            save("dt_%s_%s.npy" % (tag, code),
                 np.array(vals, dtype=order + code).reshape(2, 3))

# '=' (the writer's own order) is read in this machine's; numpy never writes
# it, so it is patched into a little-endian file.
with open(path("dt_le_f4.npy"), "rb") as f:
    data = f.read()
write("dt_ne_f4.npy", data.replace(b"'<f4'", b"'=f4'", 1))

# Format versions 2.0 and 3.0 (a 4-byte header length).
v = np.arange(6, dtype="<f4").reshape(2, 3) - 2.5
save("v2.npy", v, version=(2, 0))
save("v3.npy", v, version=(3, 0))

# Images (3, 1, 2, 2) uint8 with int64 class labels; 1-d samples (4,) int16;
# dense: x (4, 3) float32 with y (4, 2) float64.
save("img_x.npy", np.arange(12, dtype=np.uint8).reshape(3, 1, 2, 2) * 20)
save("img_y.npy", np.array([2, 0, 1], dtype=np.int64))
save("scalar_x.npy", np.array([-3, 0, 7, 300], dtype=np.int16))
dense_x = (np.arange(12, dtype=np.float32).reshape(4, 3) / 4).astype(np.float32)
dense_y = np.array([[1, -1], [0.5, 2], [0, 0], [-4, 8]], dtype=np.float64)
save("dense_x.npy", dense_x)
save("dense_y.npy", dense_y)
save("neg_y.npy", np.array([0, 1, -1, 2], dtype=np.int8))
save("frac_y.npy", np.array([0, 1, 1.5, 2], dtype=np.float32))
save("float_class_y.npy", np.array([0, 3, 1, 2], dtype=np.float64))

# Archives: stored (np.savez) and deflated (np.savez_compressed); arrays under
# other names for `x` and `y`.
np.savez(path("stored.npz"), x=dense_x, y=np.array([1, 0, 2, 1], dtype=np.int32))
np.savez_compressed(path("deflated.npz"), x=dense_x,
                    y=np.array([1, 0, 2, 1], dtype=np.uint8))
np.savez_compressed(path("named.npz"), feat=dense_x, target=dense_y,
                    w=np.ones(4, dtype=np.float32))

# Refused dtypes and layouts.
save("complex.npy", np.zeros((2, 2), dtype="<c8"))
save("unicode.npy", np.array([["ab", "c"]], dtype="<U2"))
save("struct.npy", np.zeros(2, dtype=[("a", "<i4"), ("b", "<f4")]))
np.save(path("object.npy"), np.array([None, 1], dtype=object), allow_pickle=True)
save("fortran.npy", np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)))
save("f2_inf.npy", np.array([[1, np.inf]], dtype="<f2"))
save("f2_nan.npy", np.array([[np.nan, 1]], dtype=">f2"))


def member_data_offset(npz, name):
    """Where member `name`'s data starts in the archive npz (bytes)."""
    with zipfile.ZipFile(npz) as z:
        info = z.getinfo(name)
    with open(npz, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
    n, e = struct.unpack("<HH", local[26:30])
    return info.header_offset + 30 + n + e


def patched(src, name, at, byte):
    with open(path(src), "rb") as f:
        data = bytearray(f.read())
    data[at] = byte
    write(name, bytes(data))


# A deflate stream whose first block has the reserved type 3.
patched("deflated.npz", "bad_deflate.npz",
        member_data_offset(path("deflated.npz"), "x.npy"), 0x07)
# A stored member with one data byte changed: its CRC no longer matches.
with open(path("stored.npz"), "rb") as f:
    raw = f.read()
at = member_data_offset(path("stored.npz"), "y.npy") + 128
patched("stored.npz", "bad_crc.npz", at, raw[at] ^ 0x01)

def zip64_npz(name, members):
    """An archive whose directory gives every size and offset through ZIP64
    records (numpy writes those only past 4 GiB): stored and deflated."""
    body, central = b"", b""
    for mname, data, method in members:
        crc = zlib.crc32(data)
        if method == 8:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            comp = c.compress(data) + c.flush()
        else:
            comp = data
        n = mname.encode()
        local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, method, 0, 33, crc,
                            len(comp), len(data), len(n), 0)
        offset = len(body)
        body += local + n + comp
        extra = struct.pack("<HHQQQ", 1, 24, len(data), len(comp), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, method, 0,
                               33, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(n), len(extra), 0,
                               0, 0, 0, 0xFFFFFFFF) + n + extra
    cd_off, cd_size, count = len(body), len(central), len(members)
    z64_at = cd_off + cd_size
    z64 = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count,
                      cd_size, cd_off)
    locator = struct.pack("<IIQI", 0x07064B50, 0, z64_at, 1)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                      0xFFFFFFFF, 0)
    write(name, body + central + z64 + locator + end)


def npy_bytes(a):
    f = io.BytesIO()
    np.lib.format.write_array(f, np.asarray(a))
    return f.getvalue()


zip64_npz("zip64.npz", [("x.npy", npy_bytes(dense_x), 0),
                        ("y.npy", npy_bytes(np.array([1, 0, 2, 1], dtype="<i2")), 8)])
with np.load(path("zip64.npz")) as z:
    assert (z["x"] == dense_x).all() and list(z["y"]) == [1, 0, 2, 1]

# The end-to-end experiment's data: 96 points in 4-d, 3 separable blobs.
rng = np.random.default_rng(7)
centres = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], dtype=np.float32)
labels = np.arange(96) % 3
points = centres[labels] + 0.3 * rng.standard_normal((96, 4)).astype(np.float32)
np.savez_compressed(path("blobs.npz"), x=points.astype(np.float32),
                    y=labels.astype(np.int64))

# A check that numpy reads back every file it should.
for name in sorted(os.listdir(out)):
    if name.startswith(("bad_", "object")) or not name.endswith((".npy", ".npz")):
        continue
    a = np.load(path(name))
    if isinstance(a, np.lib.npyio.NpzFile):
        a.close()
total = sum(os.path.getsize(path(n)) for n in os.listdir(out))
print("%s: %d files, %d bytes" % (out, len(os.listdir(out)), total))
