#!/usr/bin/python3
"""Checks a model written by `dlhost export --onnx` (tests/test_export_cli.sh).

usage: onnx_check.py MODEL.onnx INPUT RAW.npy [PROBS.csv]

- onnx.checker.check_model(full_check=True), IR version 8, opset 17, and the
  input's batch dimension the symbolic "N";
- the model run by OpenCV's dnn module (cv2.dnn.readNetFromONNX), where it
  can import it, and by the numpy evaluation below (every op dlhost emits,
  written from the ONNX operator specification), on the raw samples of
  INPUT (.npy, or a .csv of features then a label per row): 'output'
  must equal RAW.npy (`dlhost embed --layer HEAD`) and
  'probs' the probabilities of PROBS.csv (`dlhost predict --top K`, every
  class) within 1e-5.

Prints one line per check ("ok ...", "cv2-unsupported ...") and exits 1 on a
mismatch.  onnx 1.12 has no onnx.reference, hence the numpy evaluation.
"""
import csv
import math
import re
import sys

import numpy as np
import onnx
from onnx import numpy_helper

TOL = 1e-5


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def pad_nchw(x, pads, value):
    nd = x.ndim - 2
    width = [(0, 0), (0, 0)] + [(pads[i], pads[i + nd]) for i in range(nd)]
    return np.pad(x, width, constant_values=value)


def out_size(n, k, s, d, pb, pe, ceil):
    span = n + pb + pe - ((k - 1) * d + 1)
    return (-(-span // s) if ceil else span // s) + 1


def windows(x, ks, strides, dil, pads, ceil, value):
    """[N, C, oh, ow, kh, kw] windows of a 2-D input padded with value."""
    n, c, h, w = x.shape
    oh = out_size(h, ks[0], strides[0], dil[0], pads[0], pads[2], ceil)
    ow = out_size(w, ks[1], strides[1], dil[1], pads[1], pads[3], ceil)
    need_h = (oh - 1) * strides[0] + (ks[0] - 1) * dil[0] + 1
    need_w = (ow - 1) * strides[1] + (ks[1] - 1) * dil[1] + 1
    extra_h = max(0, need_h - (h + pads[0] + pads[2]))
    extra_w = max(0, need_w - (w + pads[1] + pads[3]))
    xp = pad_nchw(x, [pads[0], pads[1], pads[2] + extra_h, pads[3] + extra_w], value)
    out = np.empty((n, c, oh, ow, ks[0], ks[1]), dtype=x.dtype)
    for i in range(ks[0]):
        for j in range(ks[1]):
            out[..., i, j] = xp[:, :, i * dil[0]:i * dil[0] + (oh - 1) * strides[0] + 1:strides[0],
                                j * dil[1]:j * dil[1] + (ow - 1) * strides[1] + 1:strides[1]]
    return out


def conv(x, w, b, a):
    g = a.get("group", 1)
    ks = a.get("kernel_shape", list(w.shape[2:]))
    st = a.get("strides", [1, 1])
    dl = a.get("dilations", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    cin = x.shape[1] // g
    cout = w.shape[0] // g
    ys = []
    for k in range(g):
        win = windows(x[:, k * cin:(k + 1) * cin].astype(np.float64), ks, st, dl, pads, False, 0.0)
        ys.append(np.einsum("ncyxij,ocij->noyx", win, w[k * cout:(k + 1) * cout].astype(np.float64)))
    y = np.concatenate(ys, axis=1)
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y


def conv_transpose(x, w, b, a):
    """ConvTranspose: each input cell scatters its kernel into the output,
    which output_padding extends and pads crop."""
    g = a.get("group", 1)
    ks = a.get("kernel_shape", list(w.shape[2:]))
    st = a.get("strides", [1, 1])
    dl = a.get("dilations", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    op = a.get("output_padding", [0, 0])
    n, c, h, wd = x.shape
    cin, cout = c // g, w.shape[1]
    full = [(h - 1) * st[0] + (ks[0] - 1) * dl[0] + 1 + op[0],
            (wd - 1) * st[1] + (ks[1] - 1) * dl[1] + 1 + op[1]]
    y = np.zeros((n, cout * g, full[0], full[1]))
    for k in range(g):
        xs = x[:, k * cin:(k + 1) * cin].astype(np.float64)
        ws = w[k * cin:(k + 1) * cin].astype(np.float64)
        for i in range(ks[0]):
            for j in range(ks[1]):
                y[:, k * cout:(k + 1) * cout,
                  i * dl[0]:i * dl[0] + (h - 1) * st[0] + 1:st[0],
                  j * dl[1]:j * dl[1] + (wd - 1) * st[1] + 1:st[1]] += \
                    np.einsum("nchw,co->nohw", xs, ws[:, :, i, j])
    y = y[:, :, pads[0]:full[0] - pads[2], pads[1]:full[1] - pads[3]]
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y


def resize(x, scales, a):
    """Resize of the operator specification, one axis after another (linear
    is separable): the output floor(in * scale), each output's source
    coordinate by coordinate_transformation_mode, nearest (floor) or linear
    between the two inputs around it, indices clamped to the input."""
    mode = a.get("mode", b"nearest").decode()
    ctm = a.get("coordinate_transformation_mode", b"half_pixel").decode()
    near = a.get("nearest_mode", b"round_prefer_floor").decode()
    if (mode, near) not in (("nearest", "floor"), ("linear", near)):
        raise SystemExit("onnx_check: no numpy evaluation of Resize %s/%s" % (mode, near))
    for axis in range(x.ndim):
        s = float(scales[axis])
        n = x.shape[axis]
        m = int(math.floor(n * s))
        o = np.arange(m, dtype=np.float64)
        if ctm == "asymmetric":
            src = o / s
        elif ctm == "half_pixel":
            src = (o + 0.5) / s - 0.5
        elif ctm == "align_corners":
            src = o * (n - 1) / (m - 1) if m > 1 else np.zeros(m)
        else:
            raise SystemExit("onnx_check: no numpy evaluation of Resize %s" % ctm)
        lo = np.floor(src)
        i0 = np.clip(lo, 0, n - 1).astype(int)
        if mode == "nearest":
            x = np.take(x, i0, axis=axis)
            continue
        i1 = np.clip(lo + 1, 0, n - 1).astype(int)
        f = (src - lo).reshape([-1 if k == axis else 1 for k in range(x.ndim)])
        x = np.take(x, i0, axis=axis) * (1 - f) + np.take(x, i1, axis=axis) * f
    return x


def pool(x, a, op):
    ks = a["kernel_shape"]
    st = a.get("strides", [1, 1])
    dl = a.get("dilations", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    ceil = a.get("ceil_mode", 0)
    if op == "MaxPool":
        return windows(x, ks, st, dl, pads, ceil, -np.inf).max(axis=(4, 5))
    # The divisor: cells of the input (count_include_pad 0) or of the
    # explicitly padded input (1); never the cells ceil_mode adds past it.
    inside = np.ones(x.shape[2:], dtype=np.float64)[None, None]
    if a.get("count_include_pad", 0):
        inside = pad_nchw(inside, pads, 1.0)
        x = pad_nchw(x, pads, 0.0)
        pads = [0, 0, 0, 0]
    s = windows(x.astype(np.float64), ks, st, dl, pads, ceil, 0.0).sum(axis=(4, 5))
    cnt = windows(inside, ks, st, dl, pads, ceil, 0.0).sum(axis=(4, 5))
    return s / cnt


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


ERF = np.vectorize(math.erf)


def run_numpy(model, x):
    """The graph evaluated in float64 from the operators' definitions."""
    env = {i.name: numpy_helper.to_array(i).astype(np.float64)
           if i.data_type == onnx.TensorProto.FLOAT else numpy_helper.to_array(i)
           for i in model.graph.initializer}
    env[model.graph.input[0].name] = x.astype(np.float64)
    for node in model.graph.node:
        a = attrs(node)
        v = [env[n] if n else None for n in node.input]
        op = node.op_type
        if op in ("Add", "Sub", "Mul", "Div"):
            y = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
                 "Div": np.divide}[op](v[0], v[1])
        elif op == "Sum":
            y = sum(v)
        elif op == "Flatten":
            y = v[0].reshape(v[0].shape[0], -1)
        elif op == "Reshape":
            shape = [v[0].shape[i] if s == 0 else s for i, s in enumerate(v[1])]
            y = v[0].reshape(shape)
        elif op == "MatMul":
            y = v[0] @ v[1]
        elif op == "Gemm":
            bt = v[1].T if a.get("transB", 0) else v[1]
            y = v[0] @ bt + (v[2] if len(v) > 2 and v[2] is not None else 0)
        elif op == "Conv":
            y = conv(v[0], v[1], v[2] if len(v) > 2 else None, a)
        elif op == "ConvTranspose":
            y = conv_transpose(v[0], v[1], v[2] if len(v) > 2 else None, a)
        elif op == "Resize":
            y = resize(v[0], v[2], a)
        elif op == "Gather":
            y = np.take(v[0], v[1], axis=a.get("axis", 0))
        elif op == "ReduceMax":
            y = v[0].max(axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1)))
        elif op == "InstanceNormalization":
            ax = tuple(range(2, v[0].ndim))
            sh = (1, -1) + (1,) * (v[0].ndim - 2)
            m = v[0].mean(axis=ax, keepdims=True)
            var = ((v[0] - m) ** 2).mean(axis=ax, keepdims=True)
            y = ((v[0] - m) / np.sqrt(var + a.get("epsilon", 1e-5)) * v[1].reshape(sh)
                 + v[2].reshape(sh))
        elif op in ("MaxPool", "AveragePool"):
            y = pool(v[0], a, op)
        elif op == "GlobalAveragePool":
            y = v[0].mean(axis=tuple(range(2, v[0].ndim)), keepdims=True)
        elif op == "BatchNormalization":
            sh = (1, -1) + (1,) * (v[0].ndim - 2)
            y = ((v[0] - v[3].reshape(sh)) / np.sqrt(v[4].reshape(sh) + a.get("epsilon", 1e-5))
                 * v[1].reshape(sh) + v[2].reshape(sh))
        elif op == "LayerNormalization":
            ax = tuple(range(a.get("axis", -1) % v[0].ndim, v[0].ndim))
            m = v[0].mean(axis=ax, keepdims=True)
            var = ((v[0] - m) ** 2).mean(axis=ax, keepdims=True)
            y = (v[0] - m) / np.sqrt(var + a.get("epsilon", 1e-5)) * v[1]
            if len(v) > 2 and v[2] is not None:
                y = y + v[2]
        elif op == "Identity":
            y = v[0]
        elif op == "Relu":
            y = np.maximum(v[0], 0)
        elif op == "Sigmoid":
            y = 1 / (1 + np.exp(-v[0]))
        elif op == "Tanh":
            y = np.tanh(v[0])
        elif op == "Exp":
            y = np.exp(v[0])
        elif op == "Erf":
            y = ERF(v[0])
        elif op == "LeakyRelu":
            y = np.where(v[0] >= 0, v[0], a.get("alpha", 0.01) * v[0])
        elif op == "Elu":
            al = a.get("alpha", 1.0)
            y = np.where(v[0] >= 0, v[0], al * (np.exp(v[0]) - 1))
        elif op == "Celu":
            al = a.get("alpha", 1.0)
            y = np.maximum(0, v[0]) + np.minimum(0, al * (np.exp(v[0] / al) - 1))
        elif op == "Selu":
            al, g = a.get("alpha", 1.67326319217681884765625), a.get("gamma", 1.05070102214813232421875)
            y = np.where(v[0] > 0, g * v[0], g * (al * np.exp(v[0]) - al))
        elif op == "Softplus":
            y = np.log1p(np.exp(v[0]))
        elif op == "Softsign":
            y = v[0] / (1 + np.abs(v[0]))
        elif op == "HardSigmoid":
            y = np.clip(a.get("alpha", 0.2) * v[0] + a.get("beta", 0.5), 0, 1)
        elif op == "HardSwish":
            y = v[0] * np.clip(v[0] / 6 + 0.5, 0, 1)
        elif op == "Clip":
            y = np.clip(v[0], v[1], v[2])
        elif op == "PRelu":
            y = np.where(v[0] < 0, v[1] * v[0], v[0])
        elif op == "Greater":
            y = v[0] > v[1]
        elif op == "Where":
            y = np.where(v[0], v[1], v[2])
        elif op == "Concat":
            y = np.concatenate(v, axis=a["axis"])
        elif op == "Softmax":
            y = softmax(v[0], a.get("axis", -1))
        elif op == "LogSoftmax":
            y = np.log(softmax(v[0], a.get("axis", -1)))
        else:
            raise SystemExit("onnx_check: no numpy evaluation of op %s" % op)
        env[node.output[0]] = y
    return {o.name: env[o.name] for o in model.graph.output}


def run_cv2(path, names, x):
    try:
        import cv2
    except ImportError:
        return None, "python3-opencv is absent"
    try:
        net = cv2.dnn.readNetFromONNX(path)
        net.setInput(x)
        outs = net.forward(names)
    except cv2.error as err:
        op = re.search(r"Node \[(\w+)@", str(err))
        return None, ("OpenCV %s cannot run op %s" % (cv2.__version__, op.group(1)) if op
                      else str(err).strip().splitlines()[-1][:200])
    return dict(zip(names, outs)), None


def compare(what, got, want):
    got = np.asarray(got, dtype=np.float64).reshape(want.shape)
    err = np.abs(got - want).max() if want.size else 0.0
    if not err <= TOL * (1 + np.abs(want).max()):
        print("FAIL %s: max difference %g" % (what, err))
        return 1
    print("ok %s (max difference %.3g)" % (what, err))
    return 0


def main():
    path, xin, raw = sys.argv[1:4]
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    opsets = {o.domain: o.version for o in model.opset_import}
    dim0 = model.graph.input[0].type.tensor_type.shape.dim[0]
    if model.ir_version != 8 or opsets.get("", 0) != 17 or dim0.dim_param != "N":
        print("FAIL header: ir_version %d, opsets %s, batch %s"
              % (model.ir_version, opsets, dim0))
        return 1
    print("ok checker: full_check passes, IR 8, opset 17, batch dimension N")
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]
    if xin.endswith(".csv"):
        # The features of each row (the last column is the label).
        x = np.loadtxt(xin, delimiter=",", ndmin=2)[:, :-1]
    else:
        x = np.load(xin)
    x = x.astype(np.float32).reshape([-1] + dims)
    want = {"output": np.load(raw).astype(np.float64)}
    if len(sys.argv) > 4:
        with open(sys.argv[4]) as f:
            rows = list(csv.reader(f))[1:]
        width = (len(rows[0]) - 1) // 2
        p = np.zeros((len(rows), width))
        for r in rows:
            for k in range(width):
                p[int(r[0]), int(r[1 + 2 * k])] = float(r[2 + 2 * k])
        want["probs"] = p
    names = [o.name for o in model.graph.output]
    bad = 0
    ref = run_numpy(model, x)
    for n in names:
        bad |= compare("numpy %s" % n, ref[n], want[n])
    outs, why = run_cv2(path, names, x)
    if outs is None:
        print("cv2-unsupported: %s" % why)
    else:
        for n in names:
            bad |= compare("cv2 %s" % n, outs[n], want[n])
    return bad


if __name__ == "__main__":
    sys.exit(main())
