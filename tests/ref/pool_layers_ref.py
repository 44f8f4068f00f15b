#!/usr/bin/python3
"""Reference values for tests/test_pool_layers.c, from PyTorch.

Runs avgpool2d (count_include_pad, ceil_mode), maxpool2d (ceil_mode),
adaptive_avgpool2d, global_avgpool and upsample (nearest, bilinear,
align_corners) as torch.nn modules (float32, CPU) forward on a batch of two
samples x, then backward by autograd with the output gradient dy, and
prints x, dy, y and dx of every case as C initialisers, kept in
tests/ref/pool_layers_ref.h.  The shapes are mostly not divisible by the
window or the scale, so torch's index rules (adaptive windows that overlap,
nearest's floor(o * in / out) or floor(o / scale), bilinear's clamping at 0
and at the last input, ceil_mode windows that reach past the padding) are
pinned down.  The test itself never needs torch; run this again only to
regenerate the numbers:
    /usr/bin/python3 tests/ref/pool_layers_ref.py > tests/ref/pool_layers_ref.h
(tests/test_ref_live.sh does that in make check and compares).
Generated with Debian's python3-torch 1.13.1.
"""
import math

import torch

nn = torch.nn

# (name, dlhost type, config body, per-sample input shape, torch module or
#  function of the batch)
CASES = [
    ("avg_pad_counted", "avgpool2d", "kernel_size = 3; stride = 2; padding = 1;",
     [2, 7, 7], nn.AvgPool2d(3, 2, 1)),
    ("avg_pad_not_counted", "avgpool2d",
     "kernel_size = 3; stride = 2; padding = 1; count_include_pad = false;",
     [2, 7, 7], nn.AvgPool2d(3, 2, 1, count_include_pad=False)),
    ("avg_ceil_pad_counted", "avgpool2d",
     "kernel_size = 3; stride = 2; padding = 1; ceil_mode = true;",
     [2, 6, 6], nn.AvgPool2d(3, 2, 1, ceil_mode=True)),
    ("avg_ceil_rect_not_counted", "avgpool2d",
     "kernel_size = [3, 2]; stride = [2, 1]; padding = 1; ceil_mode = true; "
     "count_include_pad = false;",
     [1, 6, 5], nn.AvgPool2d((3, 2), (2, 1), 1, ceil_mode=True, count_include_pad=False)),
    ("avg_ceil_rect_counted", "avgpool2d",
     "kernel_size = [3, 2]; stride = [2, 3]; padding = [1, 1]; ceil_mode = true;",
     [1, 8, 6], nn.AvgPool2d((3, 2), (2, 3), 1, ceil_mode=True)),
    ("avg_ceil_no_pad", "avgpool2d", "kernel_size = 2; ceil_mode = true;",
     [2, 5, 7], nn.AvgPool2d(2, ceil_mode=True)),
    ("max_ceil_2x2", "maxpool2d", "kernel_size = 2; ceil_mode = true;",
     [2, 5, 5], nn.MaxPool2d(2, ceil_mode=True)),
    ("max_ceil_dilated", "maxpool2d",
     "kernel_size = 3; stride = 2; padding = 1; dilation = 2; ceil_mode = true;",
     [1, 8, 9], nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True)),
    ("adaptive_3", "adaptive_avgpool2d", "output_size = 3;", [2, 7, 7],
     nn.AdaptiveAvgPool2d(3)),
    ("adaptive_2x5_grows_w", "adaptive_avgpool2d", "output_size = [2, 5];", [1, 6, 4],
     nn.AdaptiveAvgPool2d((2, 5))),
    ("adaptive_1", "adaptive_avgpool2d", "output_size = 1;", [3, 5, 6],
     nn.AdaptiveAvgPool2d(1)),
    ("adaptive_4_divisible", "adaptive_avgpool2d", "output_size = [4, 4];", [2, 8, 8],
     nn.AdaptiveAvgPool2d(4)),
    ("adaptive_same_size", "adaptive_avgpool2d", "output_size = [3, 5];", [1, 3, 5],
     nn.AdaptiveAvgPool2d((3, 5))),
    ("global_image", "global_avgpool", "", [3, 5, 6], lambda x: x.mean((2, 3))),
    ("global_sequence", "global_avgpool", "", [4, 7], lambda x: x.mean(2)),
    ("nearest_scale_2", "upsample", "scale_factor = 2;", [2, 3, 4],
     nn.Upsample(scale_factor=2)),
    ("nearest_size_5x7", "upsample", "size = [5, 7];", [1, 3, 4], nn.Upsample(size=(5, 7))),
    ("nearest_scale_1_5", "upsample", "scale_factor = 1.5;", [1, 5, 4],
     nn.Upsample(scale_factor=1.5)),
    ("nearest_scale_0_5x1_7", "upsample", "scale_factor = [0.5, 1.7];", [1, 6, 5],
     nn.Upsample(scale_factor=(0.5, 1.7))),
    ("nearest_size_down", "upsample", "size = [4, 3]; mode = \\\"nearest\\\";", [1, 7, 5],
     nn.Upsample(size=(4, 3), mode="nearest")),
    ("bilinear_scale_2", "upsample", "scale_factor = 2; mode = \\\"bilinear\\\";",
     [2, 3, 4], nn.Upsample(scale_factor=2, mode="bilinear")),
    ("bilinear_size_align", "upsample",
     "size = [5, 7]; mode = \\\"bilinear\\\"; align_corners = true;", [1, 3, 4],
     nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True)),
    ("bilinear_size_down_w", "upsample", "size = [7, 3]; mode = \\\"bilinear\\\";",
     [1, 4, 5], nn.Upsample(size=(7, 3), mode="bilinear")),
    ("bilinear_scale_1_5", "upsample", "scale_factor = 1.5; mode = \\\"bilinear\\\";",
     [1, 4, 4], nn.Upsample(scale_factor=1.5, mode="bilinear")),
    ("bilinear_scale_2_5_align", "upsample",
     "scale_factor = 2.5; mode = \\\"bilinear\\\"; align_corners = true;", [1, 3, 3],
     nn.Upsample(scale_factor=2.5, mode="bilinear", align_corners=True)),
    ("bilinear_same_h", "upsample", "size = [4, 6]; mode = \\\"bilinear\\\";", [1, 4, 3],
     nn.Upsample(size=(4, 6), mode="bilinear")),
    ("bilinear_scale_0_6x1_3", "upsample",
     "scale_factor = [0.625, 1.375]; mode = \\\"bilinear\\\";", [2, 8, 5],
     nn.Upsample(scale_factor=(0.625, 1.375), mode="bilinear")),
]


def fmt(values):
    out = []
    for i in range(0, len(values), 6):
        out.append("    " + ", ".join("%.9g" % v for v in values[i:i + 6]) + ",")
    return "\n".join(out)


def main():
    print("/* Generated by tests/ref/pool_layers_ref.py with torch %s. */" % torch.__version__)
    for k, (name, kind, body, shape, module) in enumerate(CASES):
        n = 2 * math.prod(shape)
        # Inputs in [-2, 2) with no ties (a max picks one cell), gradients
        # of both signs.
        x = torch.tensor([((i * 37 + 11 * k) % 101) / 25.25 - 2.0 for i in range(n)],
                         dtype=torch.float32).reshape([2] + shape).requires_grad_(True)
        y = module(x)
        dy = torch.tensor([0.25 + 0.125 * (i % 9) - (0.75 if i % 4 == 1 else 0.0)
                           for i in range(y.numel())], dtype=torch.float32).reshape(y.shape)
        y.backward(dy)
        print("static const float %s_x[] = {\n%s\n};" % (name, fmt(x.detach().flatten().tolist())))
        print("static const float %s_dy[] = {\n%s\n};" % (name, fmt(dy.flatten().tolist())))
        print("static const double %s_y[] = {\n%s\n};" % (name, fmt(y.detach().flatten().tolist())))
        print("static const double %s_dx[] = {\n%s\n};" % (name, fmt(x.grad.flatten().tolist())))
    print("static const struct pool_ref {\n    const char *name, *type, *body;\n"
          "    int ndim;\n    int64_t in[3], out[3];\n"
          "    const float *x, *dy;\n    const double *y, *dx;\n} pool_refs[] = {")
    for name, kind, body, shape, module in CASES:
        x = torch.zeros([2] + shape)
        out = list(module(x).shape[1:])
        print('    { "%s", "%s", "%s", %d, { %s }, { %s },\n      %s_x, %s_dy, %s_y, %s_dx },'
              % (name, kind, body, len(shape), ", ".join(map(str, shape + [0] * (3 - len(shape)))),
                 ", ".join(map(str, out + [0] * (3 - len(out)))), name, name, name, name))
    print("};")


main()
