#!/bin/sh
# The pooling and resampling layers of issue 12 from an experiment file:
# `dlhost check` refuses each bad parameter of upsample, adaptive_avgpool2d,
# global_avgpool and the pools' new keys with PyTorch's words where it has
# them (exit 2, file:line of the layer), prints the output shapes torch
# gives, and a CNN using all of them trains an epoch on cpu and on opencl
# (when it is here) to the same finite loss.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

# 60 samples of [1, 5, 6], three classes.
class_images img.csv 60 30 3

# pool.cfg: the layers $1 (line 9 on) between a conv and a dense head.
write_cfg() {
    image_cfg pool.cfg "1, 5, 6" \
        '  { name = "c1"; type = "conv2d"; out_channels = 4; kernel_size = 3; padding = 1; },' \
        "$1"
}

bad() {                 # bad LAYER-LINE WANTED-TEXT DESCRIPTION
    write_cfg "  $1"
    refused_at pool.cfg 9 "layer 'a': $2" "$3"
}
bad '{ name = "a"; type = "upsample"; }' \
    "either size or scale_factor should be defined" "upsample with neither size nor scale"
bad '{ name = "a"; type = "upsample"; size = 8; scale_factor = 2; }' \
    "only one of size or scale_factor should be defined" "upsample with both"
bad '{ name = "a"; type = "upsample"; scale_factor = 2; align_corners = true; }' \
    "align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear" \
    "upsample nearest with align_corners"
bad '{ name = "a"; type = "upsample"; scale_factor = 0.1; }' \
    "Input and output sizes should be greater than 0, but got input (H: 5, W: 6) output (H: 0, W: 0)" \
    "upsample to nothing"
bad '{ name = "a"; type = "upsample"; size = 4; mode = "bicubic"; }' \
    "parameter 'mode': expected one of \"nearest\", \"bilinear\", got \"bicubic\"" \
    "upsample mode bicubic (not here)"
bad '{ name = "a"; type = "upsample"; scale_factor = 2; mode = "bilinear"; align_corner = true; }' \
    "unknown parameter 'align_corner'" "upsample misspelt align_corners"
like "$ERR_FILE" "did you mean 'align_corners'?" "upsample: the misspelling gets a suggestion"
bad '{ name = "a"; type = "adaptive_avgpool2d"; }' "missing required parameter 'output_size'" \
    "adaptive_avgpool2d without output_size"
bad '{ name = "a"; type = "adaptive_avgpool2d"; output_size = [2, 0]; }' \
    "parameter 'output_size': expected an integer in [1, 65536]" "adaptive_avgpool2d size 0"
bad '{ name = "a"; type = "global_avgpool"; keepdim = true; }' \
    "unknown parameter 'keepdim'" "global_avgpool takes no parameters"
bad '{ name = "a"; type = "maxpool2d"; kernel_size = 2; count_include_pad = false; }' \
    "unknown parameter 'count_include_pad'" "maxpool2d has no count_include_pad"
bad '{ name = "a"; type = "avgpool2d"; kernel_size = 2; ceil_mode = 1; }' \
    "parameter 'ceil_mode': expected true or false, got 1" \
    "avgpool2d ceil_mode not a boolean"

all='  { name = "ap"; type = "avgpool2d"; kernel_size = 3; stride = 2; padding = 1; ceil_mode = true; },
  { name = "up"; type = "upsample"; scale_factor = 2.5; mode = "bilinear"; },
  { name = "mp"; type = "maxpool2d"; kernel_size = 2; ceil_mode = true; },
  { name = "upn"; type = "upsample"; size = [6, 7]; },
  { name = "aap"; type = "adaptive_avgpool2d"; output_size = [4, 3]; },
  { name = "gap"; type = "global_avgpool"; inputs = ["aap"]; },
  { name = "gap2"; type = "global_avgpool"; inputs = ["c1"]; },
  { name = "fa"; type = "flatten"; inputs = ["aap"]; },
  { name = "cat"; type = "concat"; inputs = ["fa", "gap", "gap2"]; axis = 0; }'
write_cfg "$all"
run_cmd "$dlhost" check pool.cfg
is "$RC" 0 "a model with every pooling and resampling layer checks"
[ "$RC" = 0 ] || sed 's/^/#   /' "$ERR_FILE"
for want in "ap *avgpool2d *\[4, 3, 4\]" "up *upsample *\[4, 7, 10\]" \
            "mp *maxpool2d *\[4, 4, 5\]" "upn *upsample *\[4, 6, 7\]" \
            "aap *adaptive_avgpool2d *\[4, 4, 3\]" "gap *global_avgpool *\[4\] " \
            "cat *concat *\[56\]"; do
    grep -Eq "$want" "$OUT_FILE"
    ok $? "check prints /$want/ (torch's output shape)"
done
train_each_backend pool.cfg pool "an epoch through all of them trains"
if [ -n "$loss_opencl" ]; then
    loss_near "$loss_cpu" "$loss_opencl" \
        "opencl's train_loss equals cpu's within 1e-4 ($loss_cpu vs $loss_opencl)"
fi
done_testing
