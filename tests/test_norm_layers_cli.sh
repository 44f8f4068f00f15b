#!/bin/sh
# The normalisation layers of issue 12 from an experiment file: `dlhost
# check` refuses each bad parameter and shape with PyTorch's words where it
# has them (exit 2, file:line of the layer), and a model using layernorm,
# groupnorm, instancenorm2d and batchnorm (momentum = "none") checks and
# trains an epoch on cpu (and on opencl when it is here) to a finite loss;
# its checkpoint keeps num_batches_tracked as a 0-d I64 equal to the steps
# taken.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

# 48 samples of 1x4x4 images in three classes.
class_images img.csv 48 16 3

# norm.cfg: a conv2d to [4, 4, 4], then the layers $1 (line 9 on), then a
# classifier.
write_cfg() {
    image_cfg norm.cfg "1, 4, 4" \
        '  { name = "conv"; type = "conv2d"; out_channels = 4; kernel_size = 3; padding = 1; },' \
        "$1"
}

bad() {                 # bad LAYER-LINE WANTED-TEXT DESCRIPTION
    write_cfg "  $1"
    refused_at norm.cfg 9 "layer 'a': $2" "$3"
}
bad '{ name = "a"; type = "layernorm"; normalized_shape = [5]; }' \
    "Given normalized_shape=[5], expected input with shape [*, 5], but got input of size [N, 4, 4, 4]" \
    "layernorm normalized_shape not trailing"
bad '{ name = "a"; type = "layernorm"; normalized_shape = [2, 4, 4, 4]; }' \
    "Given normalized_shape=[2, 4, 4, 4], expected input with shape [*, 2, 4, 4, 4]" \
    "layernorm normalized_shape longer than the sample"
bad '{ name = "a"; type = "layernorm"; normalized_shape = (4, 2.5); }' \
    "parameter 'normalized_shape': expected positive integers, got 2.5 at index 1" \
    "layernorm normalized_shape not integers"
bad '{ name = "a"; type = "layernorm"; normalized_shape = []; }' \
    "parameter 'normalized_shape': expected at least one dimension, got []" \
    "layernorm normalized_shape empty"
bad '{ name = "a"; type = "layernorm"; eps = 0.0; }' \
    "parameter 'eps': expected a finite number > 0, got 0" "layernorm eps = 0"
bad '{ name = "a"; type = "layernorm"; elementwise_affine = 1; }' \
    "parameter 'elementwise_affine'" "layernorm elementwise_affine not a bool"
bad '{ name = "a"; type = "groupnorm"; }' "missing required parameter 'num_groups'" \
    "groupnorm without num_groups"
bad '{ name = "a"; type = "groupnorm"; num_groups = 3; }' \
    "num_channels must be divisible by num_groups (num_channels = 4, num_groups = 3)" \
    "groupnorm num_groups not dividing the channels"
bad '{ name = "a"; type = "groupnorm"; num_groups = 0; }' "parameter 'num_groups'" \
    "groupnorm num_groups = 0"
bad '{ name = "a"; type = "groupnorm"; num_groups = 2; eps = -1e-5; }' \
    "parameter 'eps': expected a finite number > 0, got -1e-05" "groupnorm eps < 0"
bad '{ name = "a"; type = "instancenorm2d"; momentum = 1.5; }' \
    "parameter 'momentum': expected a number in [0, 1], got 1.5" "instancenorm2d momentum > 1"
bad '{ name = "a"; type = "instancenorm2d"; track_running_stats = "yes"; }' \
    "parameter 'track_running_stats'" "instancenorm2d track_running_stats a string"
bad '{ name = "r"; type = "reshape"; shape = [4, 16]; }, { name = "a"; type = "instancenorm2d"; }' \
    "instancenorm2d expects an input [N, C, H, W], got [N, 4, 16]" "instancenorm2d on [C, L]"
bad '{ name = "r"; type = "reshape"; shape = [64, 1, 1]; }, { name = "a"; type = "instancenorm2d"; }' \
    "Expected more than 1 spatial element when training, got input size [N, 64, 1, 1]" \
    "instancenorm2d on 1x1 planes"
bad '{ name = "a"; type = "batchnorm"; momentum = "nonee"; }' \
    "parameter 'momentum': expected a number in [0, 1] or \"none\", got \"nonee\"" \
    "batchnorm momentum a word other than none"
bad '{ name = "a"; type = "batchnorm"; momentum = 2.0; }' \
    "parameter 'momentum': expected a number in [0, 1], got 2" "batchnorm momentum > 1"
bad '{ name = "a"; type = "batchnorm"; track_running_stats = 0; }' \
    "parameter 'track_running_stats'" "batchnorm track_running_stats not a bool"

all='  { name = "gn"; type = "groupnorm"; num_groups = 2; },
  { name = "in"; type = "instancenorm2d"; affine = true; track_running_stats = true; },
  { name = "bn"; type = "batchnorm"; momentum = "none"; },
  { name = "bn2"; type = "batchnorm"; track_running_stats = false; },
  { name = "ln"; type = "layernorm"; normalized_shape = [4, 4]; }'
write_cfg "$all"
run_cmd "$dlhost" check norm.cfg
is "$RC" 0 "a model with the four normalisation layers checks"
train_each_backend norm.cfg norm "an epoch through the four trains"
for b in $trained; do
    # 48 samples in batches of 16: three training forwards.  The header is
    # JSON on one line after the 8-byte length.
    hdr=$(dd if="runs/norm_$b/last.safetensors" bs=1 skip=8 count=4000 2>/dev/null | tr -d '\n')
    printf '%s' "$hdr" | grep -Eq '"bn\.num_batches_tracked":\{"dtype":"I64","shape":\[\]'
    ok $? "$b: bn.num_batches_tracked is saved as a 0-d I64"
    printf '%s' "$hdr" | grep -Eq '"in\.num_batches_tracked":\{"dtype":"I64"'
    ok $? "$b: in.num_batches_tracked too (torch's InstanceNorm2d keeps one)"
    printf '%s' "$hdr" | grep -q '"bn2\.weight"' && ! printf '%s' "$hdr" | grep -q '"bn2\.run'
    ok $? "$b: bn2 (track_running_stats = false) saves weight, no running statistics"
done
done_testing
