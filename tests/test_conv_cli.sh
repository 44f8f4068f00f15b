#!/bin/sh
# conv2d's groups and padding "same" / "valid", and conv_transpose2d, from an
# experiment file: `dlhost check` refuses each bad parameter with PyTorch's
# words (exit 2, file:line of the key), and a model using them checks and
# trains an epoch on cpu and on opencl (when it is here) to a finite loss,
# the same on both.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

# 48 samples of [4, 6, 6], three classes.
class_images img.csv 48 144 7

# conv.cfg: the layers $1 (line 9 on), then a dense head.
write_cfg() {
    image_cfg conv.cfg "4, 6, 6" "" "$1"
}

bad() {                 # bad LAYER-LINE WANTED-TEXT DESCRIPTION
    write_cfg "  $1"
    refused_at conv.cfg 9 "layer 'a': $2" "$3"
}
bad '{ name = "a"; type = "conv2d"; out_channels = 4; kernel_size = 3; groups = 0; }' \
    "groups must be a positive integer" "conv2d groups = 0"
bad '{ name = "a"; type = "conv2d"; out_channels = 4; kernel_size = 3; groups = 3; }' \
    "in_channels must be divisible by groups" "conv2d groups 3 over 4 channels"
bad '{ name = "a"; type = "conv2d"; out_channels = 6; kernel_size = 3; groups = 4; }' \
    "out_channels must be divisible by groups" "conv2d 6 outputs in 4 groups"
bad '{ name = "a"; type = "conv2d"; out_channels = 4; kernel_size = 3; padding = "same";
       stride = 2; }' \
    "padding='same' is not supported for strided convolutions" "conv2d same with stride 2"
bad '{ name = "a"; type = "conv2d"; out_channels = 4; kernel_size = 3; padding = "full"; }' \
    "Invalid padding string 'full', should be one of {'valid', 'same'}" \
    "conv2d padding = \"full\""
bad '{ name = "a"; type = "conv2d"; out_channels = 4; kernel_size = 3; group = 2; }' \
    "unknown parameter 'group'" "conv2d misspelt groups"
like "$ERR_FILE" "did you mean 'groups'?" "conv2d: the misspelling gets a suggestion"
bad '{ name = "a"; type = "conv_transpose2d"; out_channels = 4; kernel_size = 3; output_padding = 2;
       stride = 2; }' \
    "output padding must be smaller than either stride or dilation, but got output_padding_height: 2 output_padding_width: 2 stride_height: 2 stride_width: 2 dilation_height: 1 dilation_width: 1" \
    "conv_transpose2d output_padding = stride"
bad '{ name = "a"; type = "conv_transpose2d"; out_channels = 4; kernel_size = 3; padding = 6; }' \
    "Given input size per channel: (6 x 6). Calculated output size per channel: (-4 x -4). Output size is too small" \
    "conv_transpose2d padding 6 over 6x6"
bad '{ name = "a"; type = "conv_transpose2d"; out_channels = 4; kernel_size = 3; groups = 3; }' \
    "in_channels must be divisible by groups" "conv_transpose2d groups 3 over 4 channels"
bad '{ name = "a"; type = "conv_transpose2d"; out_channels = 3; kernel_size = 3; groups = 2; }' \
    "out_channels must be divisible by groups" "conv_transpose2d 3 outputs in 2 groups"
bad '{ name = "a"; type = "conv_transpose2d"; out_channels = 4; kernel_size = 3; groups = -1; }' \
    "groups must be a positive integer" "conv_transpose2d groups = -1"
bad '{ name = "a"; type = "conv_transpose2d"; out_channels = 4; padding = "same";
       kernel_size = 3; }' \
    "parameter 'padding'" "conv_transpose2d padding = \"same\" (torch has none either)"

all='  { name = "dw"; type = "conv2d"; out_channels = 8; kernel_size = 3; padding = "same";
    groups = 4; },
  { type = "relu"; },
  { name = "even"; type = "conv2d"; out_channels = 4; kernel_size = 2; padding = "same";
    groups = 2; },
  { name = "down"; type = "conv2d"; out_channels = 4; kernel_size = 3; stride = 2;
    padding = "valid"; },
  { name = "up"; type = "conv_transpose2d"; out_channels = 4; kernel_size = 3; stride = 2;
    padding = 1; output_padding = 1; groups = 2; },
  { type = "tanh"; }'
write_cfg "$all"
run_cmd "$dlhost" check conv.cfg
is "$RC" 0 "a model with grouped, same-padded and transposed convolutions checks"
grep -Eq '^ +even +conv2d +\[4, 6, 6\] ' "$OUT_FILE"
ok $? "check: padding \"same\" keeps 6x6 with a 2x2 kernel"
grep -Eq '^ +up +conv_transpose2d +\[4, 4, 4\] ' "$OUT_FILE"
ok $? "check: up makes [4, 4, 4] of [4, 2, 2] (stride 2, padding 1, output_padding 1; torch's too)"
train_each_backend conv.cfg conv "an epoch trains"
if [ -n "$loss_opencl" ]; then
    loss_near "$loss_cpu" "$loss_opencl" \
        "opencl's train_loss $loss_opencl = cpu's $loss_cpu (1e-4 relative)"
fi
done_testing
