#!/usr/bin/python3
"""Reference values for tests/test_conv_layers.c, from PyTorch.

For each case below, nn.Conv2d or nn.ConvTranspose2d (float64, CPU) runs
forward on an input x with weight w and bias b, then backward by autograd
with the output gradient dy, and this prints y, dx, dw and db as C
initialisers, kept in tests/ref/conv_layers_ref.h, with the shapes and
torch's default-init bound 1/sqrt(fan_in) (its fan of the weight as
reset_parameters computes it).  x, w, b and dy are float32 values of
VAL(i, seed) below; the C test computes the same numbers and loads them into
the layer, so no input is stored.  The cases cover groups (depthwise
included), padding "same" (odd and even kernels: torch pads the extra zero
below and right) and "valid", strides, dilations and the transposed
convolution's output_padding (also at or above the stride, allowed when
below the dilation).  The test itself never needs torch; run this again
only to regenerate the numbers:
    /usr/bin/python3 tests/ref/conv_layers_ref.py > tests/ref/conv_layers_ref.h
(tests/test_ref_live.sh does that in make check and compares).
Generated with Debian's python3-torch 1.13.1.
"""
import warnings

import torch

# Seeds of VAL for x, w, b, dy.
SX, SW, SB, SDY = 1, 2, 3, 4


def val(i, seed):
    """Element i of a deterministic sequence in [-1, 1] (test_conv_layers.c's
    conv_val): a float32 of k/1000 - 1."""
    return ((i * 7919 + seed * 104729) % 2001) / 1000.0 - 1.0


def vals(n, seed):
    return torch.tensor([val(i, seed) for i in range(n)], dtype=torch.float32).double()


# (name, layer type, config body, batch, [C, H, W], torch constructor)
C2 = torch.nn.Conv2d
CT = torch.nn.ConvTranspose2d
CASES = [
    ("groups 2, 3x3, padding 1", "conv2d",
     "out_channels = 6; kernel_size = 3; padding = 1; groups = 2;", 2, [4, 5, 5],
     lambda: C2(4, 6, 3, padding=1, groups=2)),
    ("depthwise 3x3, stride 2, padding 1", "conv2d",
     "out_channels = 3; kernel_size = 3; stride = 2; padding = 1; groups = 3;", 2, [3, 7, 6],
     lambda: C2(3, 3, 3, stride=2, padding=1, groups=3)),
    ("depthwise x2, kernel [3, 2], dilation [2, 1], padding [2, 0], no bias", "conv2d",
     "out_channels = 4; kernel_size = [3, 2]; dilation = [2, 1]; padding = [2, 0]; "
     "groups = 2; bias = false;", 3, [2, 6, 6],
     lambda: C2(2, 4, (3, 2), dilation=(2, 1), padding=(2, 0), groups=2, bias=False)),
    ("groups 4, 1x1 (no im2col)", "conv2d",
     "out_channels = 4; kernel_size = 1; groups = 4;", 2, [8, 4, 3],
     lambda: C2(8, 4, 1, groups=4)),
    ("groups 2, out > positions (dW in chunks)", "conv2d",
     "out_channels = 8; kernel_size = 3; groups = 2;", 3, [4, 3, 4],
     lambda: C2(4, 8, 3, groups=2)),
    ("padding same, 3x3, dilation 2", "conv2d",
     "out_channels = 3; kernel_size = 3; dilation = 2; padding = \\\"same\\\";", 2, [2, 5, 6],
     lambda: C2(2, 3, 3, dilation=2, padding="same")),
    ("padding same, even kernel [2, 4] (extra zero below and right)", "conv2d",
     "out_channels = 3; kernel_size = [2, 4]; padding = \\\"same\\\";", 2, [2, 5, 6],
     lambda: C2(2, 3, (2, 4), padding="same")),
    ("padding same, kernel 4, dilation 3, groups 2", "conv2d",
     "out_channels = 4; kernel_size = 4; dilation = 3; padding = \\\"same\\\"; groups = 2;",
     2, [2, 6, 7],
     lambda: C2(2, 4, 4, dilation=3, padding="same", groups=2)),
    ("padding same, 2x2 over one pixel, depthwise", "conv2d",
     "out_channels = 2; kernel_size = 2; padding = \\\"same\\\"; groups = 2;", 2, [2, 1, 1],
     lambda: C2(2, 2, 2, padding="same", groups=2)),
    ("padding valid, stride [1, 2]", "conv2d",
     "out_channels = 2; kernel_size = 3; stride = [1, 2]; padding = \\\"valid\\\";", 2,
     [1, 5, 6],
     lambda: C2(1, 2, 3, stride=(1, 2), padding="valid")),
    ("transposed 3x3", "conv_transpose2d",
     "out_channels = 2; kernel_size = 3;", 2, [3, 4, 4],
     lambda: CT(3, 2, 3)),
    ("transposed stride 2, padding 1, output_padding 1", "conv_transpose2d",
     "out_channels = 3; kernel_size = 3; stride = 2; padding = 1; output_padding = 1;", 2,
     [2, 3, 4],
     lambda: CT(2, 3, 3, stride=2, padding=1, output_padding=1)),
    ("transposed groups 2, kernel [3, 2], stride [2, 1], padding [1, 0], dilation [1, 2]",
     "conv_transpose2d",
     "out_channels = 6; kernel_size = [3, 2]; stride = [2, 1]; padding = [1, 0]; "
     "dilation = [1, 2]; groups = 2;", 2, [4, 3, 3],
     lambda: CT(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)),
    ("transposed output_padding 2 >= stride 1, below dilation 3", "conv_transpose2d",
     "out_channels = 2; kernel_size = 3; dilation = 3; output_padding = 2;", 2, [2, 3, 3],
     lambda: CT(2, 2, 3, dilation=3, output_padding=2)),
    ("transposed 1x1, groups 2 (no col2im)", "conv_transpose2d",
     "out_channels = 6; kernel_size = 1; groups = 2;", 2, [4, 3, 2],
     lambda: CT(4, 6, 1, groups=2)),
    ("transposed depthwise 4x4, stride 2, padding 1, no bias", "conv_transpose2d",
     "out_channels = 3; kernel_size = 4; stride = 2; padding = 1; groups = 3; bias = false;",
     3, [3, 3, 3],
     lambda: CT(3, 3, 4, stride=2, padding=1, groups=3, bias=False)),
    ("transposed 5x5, stride 3, padding 2, output_padding [2, 1]", "conv_transpose2d",
     "out_channels = 2; kernel_size = 5; stride = 3; padding = 2; output_padding = [2, 1];",
     2, [1, 2, 3],
     lambda: CT(1, 2, 5, stride=3, padding=2, output_padding=(2, 1))),
    ("transposed 6 channels to 1, 2x2, stride 2 (dW in chunks)", "conv_transpose2d",
     "out_channels = 1; kernel_size = 2; stride = 2;", 2, [6, 1, 1],
     lambda: CT(6, 1, 2, stride=2)),
]


def fmt(values):
    out = []
    for i in range(0, len(values), 6):
        out.append("      " + ", ".join("%.9g" % v for v in values[i:i + 6]) + ",")
    return "\n".join(out)


def array(name, values):
    print("static const double %s[%d] = {\n%s\n};" % (name, len(values), fmt(values)))


def main():
    # torch says an even kernel with padding="same" may copy the input; so be it.
    warnings.filterwarnings("ignore", message="Using padding='same'")
    print("/* Generated by tests/ref/conv_layers_ref.py with torch %s. */" % torch.__version__)
    rows = []
    for i, (name, kind, body, batch, shape, make) in enumerate(CASES):
        torch.manual_seed(0)
        m = make().double()
        fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(m.weight)
        with torch.no_grad():
            m.weight.copy_(vals(m.weight.numel(), SW).view_as(m.weight))
            if m.bias is not None:
                m.bias.copy_(vals(m.bias.numel(), SB))
        n = batch * shape[0] * shape[1] * shape[2]
        x = vals(n, SX).view(batch, *shape).requires_grad_(True)
        y = m(x)
        dy = vals(y.numel(), SDY).view_as(y)
        y.backward(dy)
        array("conv_ref_%d_y" % i, y.detach().flatten().tolist())
        array("conv_ref_%d_dx" % i, x.grad.flatten().tolist())
        array("conv_ref_%d_dw" % i, m.weight.grad.flatten().tolist())
        if m.bias is not None:
            array("conv_ref_%d_db" % i, m.bias.grad.flatten().tolist())
        rows.append('    { "%s", "%s", "%s",\n      %d, { %s }, { %s }, { %s }, %.17g,\n'
                    '      conv_ref_%d_y, conv_ref_%d_dx, conv_ref_%d_dw, %s },'
                    % (name, kind, body, batch, ", ".join(str(d) for d in shape),
                       ", ".join(str(d) for d in y.shape[1:]),
                       ", ".join(str(d) for d in m.weight.shape), 1.0 / fan_in ** 0.5,
                       i, i, i, "conv_ref_%d_db" % i if m.bias is not None else "NULL"))
    print("static const struct conv_ref {\n    const char *name, *type, *body;\n"
          "    int batch, in[3], out[3], weight[4];\n"
          "    double bound;               /* torch's default init: U(-bound, bound) */\n"
          "    const double *y, *dx, *dw, *db;   /* db NULL: no bias */\n"
          "} conv_refs[] = {")
    print("\n".join(rows))
    print("};")


main()
