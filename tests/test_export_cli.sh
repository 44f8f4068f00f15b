#!/bin/sh
# `dlhost export --onnx` (core/export.c, core/onnx_write.c, the layers'
# export_onnx hooks): an MLP and a CNN in the style of examples/fashion-mnist
# and a model of every exportable layer type, trained a few steps on small
# data, exported; onnx's checker (full_check) passes, OpenCV's dnn module runs
# the model where it can and a numpy evaluation of the graph always does
# (tests/onnx_check.py), and both give `dlhost embed`'s raw outputs and
# `dlhost predict`'s probabilities within 1e-5 on the same input.  cpu and
# opencl exports are the same bytes.  Every refusal, with its message and
# exit status, leaves no file behind.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.
. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1
check=$DLHOST_SRCDIR/tests/onnx_check.py

# N rows of F features then a class of K: class c lifts feature j where
# j % 8 == c, so a few steps learn something.
gen() {
    awk -v n="$2" -v f="$3" -v k="$4" -v s="$5" 'BEGIN { srand(s)
        for (i = 0; i < n; i++) { c = i % k; line = ""
            for (j = 0; j < f; j++) line = line sprintf("%.4f,", rand() * 4 + (j % 8 == c) * 3)
            print line c } }' >"$1"
}
gen mlp_train.csv 96 64 10 3
gen mlp_test.csv 30 64 10 5
gen cnn_train.csv 96 64 4 7
gen cnn_test.csv 30 64 4 9
gen all_train.csv 96 128 3 11
gen all_test.csv 30 128 3 13

# cfg_head NAME SEED NORMALIZE [SHAPE]: a config's name, seed, one-thread
# cpu backend and NAME_train.csv / NAME_test.csv data, for the model to follow.
cfg_head() {
    shape=${4:+ shape = [$4];}
    cat <<EOF2
name = "$1";
seed = $2;
backend = { type = "cpu"; threads = 1; };
data = {
  train = { type = "csv"; path = "$1_train.csv";$shape };
  test  = { type = "csv"; path = "$1_test.csv";$shape };
  normalize = "$3";
};
EOF2
}

{ cfg_head mlp 1 minmax
  cat <<'EOF2'
model = (
  { name = "fc1";  type = "dense"; units = 32; init = "he_normal"; },
  { type = "relu"; },
  { type = "dropout"; rate = 0.2; },
  { name = "head"; type = "dense"; units = 10; }
);
loss = { type = "cross_entropy"; };
optimizer = { type = "adam"; lr = 1e-2; };
train = { epochs = 3; batch_size = 16; };
EOF2
} >mlp.cfg

{ cfg_head cnn 2 zscore "1, 8, 8"
  cat <<'EOF2'
model = (
  { name = "conv1"; type = "conv2d"; out_channels = 6; kernel_size = 5; padding = 2; },
  { name = "bn1";   type = "batchnorm"; },
  { type = "relu"; },
  { name = "pool1"; type = "maxpool2d"; kernel_size = 2; },
  { name = "conv2"; type = "conv2d"; out_channels = 8; kernel_size = 3; },
  { type = "relu"; },
  { name = "flat";  type = "flatten"; },
  { name = "fc1";   type = "dense"; units = 16; },
  { type = "relu"; },
  { type = "dropout"; rate = 0.1; },
  { name = "head";  type = "dense"; units = 4; }
);
loss = { type = "cross_entropy"; };
optimizer = { type = "adam"; lr = 1e-2; };
train = { epochs = 3; batch_size = 16; };
EOF2
} >cnn.cfg

# Every layer type with an export, through branches and joins; zca
# whitening in front; log-probabilities out (nll: probs = exp).
{ cfg_head all 3 zca "2, 8, 8"
  cat <<'EOF2'
model = (
  { name = "c1"; type = "conv2d"; out_channels = 4; kernel_size = 3; padding = 2; dilation = 2; groups = 2; },
  { name = "bn"; type = "batchnorm"; },
  { name = "lrelu"; type = "leaky_relu"; negative_slope = 0.1; },
  { name = "c2"; type = "conv2d"; out_channels = 4; kernel_size = 2; padding = "same"; bias = false; },
  { name = "elu"; type = "elu"; alpha = 0.7; },
  { name = "pr"; type = "prelu"; num_parameters = 4; },
  { name = "d2"; type = "dropout2d"; rate = 0.1; },
  { name = "apad"; type = "avgpool2d"; kernel_size = 3; stride = 1; padding = 1; },
  { name = "mp"; type = "maxpool2d"; kernel_size = 3; stride = 2; padding = 1; ceil_mode = true; },
  { name = "ap"; type = "avgpool2d"; kernel_size = 2; ceil_mode = true; count_include_pad = false; },
  { name = "ln"; type = "layernorm"; normalized_shape = [3, 3]; },
  { name = "selu"; type = "selu"; },
  { name = "gap"; type = "global_avgpool"; inputs = ["selu"]; },
  { name = "ad"; type = "adaptive_avgpool2d"; output_size = 1; inputs = ["selu"]; },
  { name = "adf"; type = "flatten"; },
  { name = "sum"; type = "add"; inputs = ["gap", "adf"]; },
  { name = "fl"; type = "flatten"; inputs = ["selu"]; },
  { name = "cat"; type = "concat"; inputs = ["sum", "fl"]; },
  { name = "f1"; type = "dense"; units = 12; },
  { name = "gelu"; type = "gelu"; },
  { name = "f2"; type = "dense"; units = 12; },
  { name = "gelut"; type = "gelu"; approximate = "tanh"; },
  { name = "silu"; type = "silu"; },
  { name = "mish"; type = "mish"; },
  { name = "sp"; type = "softplus"; },
  { name = "sp2"; type = "softplus"; beta = 2.0; threshold = 1.0; },
  { name = "celu"; type = "celu"; alpha = 0.5; },
  { name = "hsw"; type = "hardswish"; },
  { name = "f3"; type = "dense"; units = 12; },
  { name = "hsig"; type = "hardsigmoid"; },
  { name = "ssign"; type = "softsign"; },
  { name = "sig"; type = "sigmoid"; },
  { name = "f4"; type = "dense"; units = 12; },
  { name = "tanh"; type = "tanh"; },
  { name = "relu"; type = "relu"; },
  { name = "relu6"; type = "relu6"; },
  { name = "ht"; type = "hardtanh"; min_val = -0.5; max_val = 0.8; },
  { name = "ad1"; type = "alpha_dropout"; rate = 0.1; },
  { name = "id"; type = "identity"; },
  { name = "rs"; type = "reshape"; shape = [3, 4]; },
  { name = "sm"; type = "softmax"; },
  { name = "fl2"; type = "flatten"; },
  { name = "head"; type = "dense"; units = 3; },
  { name = "out"; type = "log_softmax"; }
);
loss = { type = "nll"; };
optimizer = { type = "adam"; lr = 1e-2; };
train = { epochs = 2; batch_size = 16; };
EOF2
} >all.cfg

# The layers of issue 14's second slice: conv_transpose2d (groups, stride,
# output_padding, dilation), groupnorm over [C, H, W] and over features,
# instancenorm2d in its four variants, upsample nearest (Resize, and Gather
# where Resize's index is not torch's: 6 -> 4) and bilinear with and without
# align_corners, maxout with and without bias.
{ cfg_head more 4 zscore "2, 8, 8"
  cat <<'EOF2'
model = (
  { name = "ct"; type = "conv_transpose2d"; out_channels = 4; kernel_size = 3; stride = 2; padding = 1; output_padding = 1; groups = 2; },
  { name = "gn"; type = "groupnorm"; num_groups = 2; },
  { name = "mp"; type = "maxpool2d"; kernel_size = 2; },
  { name = "ct2"; type = "conv_transpose2d"; out_channels = 4; kernel_size = 2; dilation = 2; bias = false; },
  { name = "in1"; type = "instancenorm2d"; affine = true; },
  { name = "ap"; type = "avgpool2d"; kernel_size = 2; },
  { name = "up"; type = "upsample"; scale_factor = 2; },
  { name = "in2"; type = "instancenorm2d"; track_running_stats = true; },
  { name = "upb"; type = "upsample"; mode = "bilinear"; size = [7, 13]; },
  { name = "upa"; type = "upsample"; mode = "bilinear"; align_corners = true; scale_factor = [1.5, 0.5]; },
  { name = "in3"; type = "instancenorm2d"; affine = true; track_running_stats = true; momentum = 0.3; },
  { name = "in4"; type = "instancenorm2d"; },
  { name = "gn2"; type = "groupnorm"; num_groups = 4; affine = false; eps = 0.001; },
  { name = "upn"; type = "upsample"; size = [5, 4]; },
  { name = "fl"; type = "flatten"; },
  { name = "mx"; type = "maxout"; units = 8; pieces = 3; },
  { name = "gn3"; type = "groupnorm"; num_groups = 2; },
  { name = "head"; type = "maxout"; units = 3; pieces = 2; bias = false; }
);
loss = { type = "cross_entropy"; };
optimizer = { type = "adam"; lr = 1e-2; };
train = { epochs = 2; batch_size = 16; };
EOF2
} >more.cfg
gen more_train.csv 96 128 3 21
gen more_test.csv 30 128 3 23

# --- refusals first (no python needed)
run_cmd "$dlhost" run mlp.cfg --runs runs
is "$RC" 0 "the MLP trains"
w=runs/mlp/last.safetensors

run_cmd "$dlhost" export mlp.cfg --onnx x.onnx
is "$RC" 2 "no --weights exits 2"
like "$ERR_FILE" "export: missing the weights (dlhost export CFG --weights FILE --onnx OUT.onnx)" \
    "... and says what is missing"
run_cmd "$dlhost" export mlp.cfg --weights $w
is "$RC" 2 "no --onnx exits 2"
like "$ERR_FILE" "export: missing the output file (--onnx OUT.onnx)" "... and says so"
run_cmd "$dlhost" export --weights $w --onnx x.onnx
is "$RC" 2 "no experiment file exits 2"
like "$ERR_FILE" "export: missing the experiment file" "... and says so"
run_cmd "$dlhost" export mlp.cfg --weights $w --onnx x.onnx --opset 13
is "$RC" 2 "an unknown option exits 2"
like "$ERR_FILE" "export: unknown option '--opset'" "... naming it"
run_cmd "$dlhost" export mlp.cfg --weights $w --onnx
is "$RC" 2 "--onnx without a value exits 2"
like "$ERR_FILE" "export: option '--onnx' needs a value" "... and says so"
run_cmd "$dlhost" export mlp.cfg --weights missing.safetensors --onnx x.onnx
is "$RC" 1 "missing weights exit 1"
like "$ERR_FILE" "missing.safetensors" "... naming the file"
printf 'not a checkpoint' >junk.safetensors
run_cmd "$dlhost" export mlp.cfg --weights junk.safetensors --onnx x.onnx
is "$RC" 1 "unreadable weights exit 1"
like "$ERR_FILE" "junk.safetensors" "... naming the file"
sed 's/units = 32;/units = 31;/' mlp.cfg >other.cfg
run_cmd "$dlhost" export other.cfg --weights $w --onnx x.onnx
is "$RC" 2 "weights that do not fit the model exit 2"
like "$ERR_FILE" "tensor 'fc1.weight' has shape" "... naming the tensor"
run_cmd "$dlhost" export mlp.cfg --weights $w --onnx nodir/x.onnx
is "$RC" 1 "an --onnx in a missing folder exits 1"
like "$ERR_FILE" "nodir/x.onnx: cannot create a temporary file in 'nodir'" "... and says why"
mkdir adir
run_cmd "$dlhost" export mlp.cfg --weights $w --onnx adir
is "$RC" 1 "an --onnx that is a folder exits 1"
like "$ERR_FILE" "export: --onnx adir is a folder" "... and says so"
[ ! -e x.onnx ] && [ -z "$(ls adir)" ]
ok $? "the refusals write nothing"

# A layer without export_onnx (every built-in layer has one; a plugin built
# before ABI 1.8, tests/fixtures/scale_layer.c stamped 1.4, has none): one
# line naming it.
if [ -n "${DLHOST_FIXTURES:-}" ] && [ -f "$DLHOST_FIXTURES/scale_layer14.so" ]; then
    mkdir fx
    cp "$DLHOST_FIXTURES/scale_layer14.so" fx/
    path0=$DLHOST_PLUGIN_PATH
    DLHOST_PLUGIN_PATH=$path0:$TAP_TMP/fx
    export DLHOST_PLUGIN_PATH
    sed 's/{ type = "relu"; },/{ name = "s"; type = "scale14"; },/' mlp.cfg >noexp.cfg
    run_cmd "$dlhost" init noexp.cfg --out noexp.safetensors
    is "$RC" 0 "a model with an ABI 1.4 plugin layer initialises"
    echo keep >x.onnx
    run_cmd "$dlhost" export noexp.cfg --weights noexp.safetensors --onnx x.onnx
    is "$RC" 2 "a layer without an ONNX export exits 2"
    is "$(cat "$ERR_FILE")" "dlhost: error: export: layer 's' (type scale14) has no ONNX export" \
        "... with one line naming the layer and its type"
    is "$(cat x.onnx)" keep "... and leaves the old file untouched"
    rm -f x.onnx
    DLHOST_PLUGIN_PATH=$path0
else
    i=0
    while [ $i -lt 4 ]; do skip "no tests/fixtures/scale_layer14.so (run through make check)"; i=$((i + 1)); done
fi

# Layers that refuse a configuration of theirs.
refuse() {     # CFG-EDIT EXPECTED DESC
    sed "$1" mlp.cfg >r.cfg
    run_cmd "$dlhost" run r.cfg --runs rr
    run_cmd "$dlhost" export r.cfg --weights rr/mlp/last.safetensors --onnx x.onnx
    is "$RC" 2 "$3 exits 2"
    like "$ERR_FILE" "$2" "... and says why"
    [ ! -e x.onnx ]
    ok $? "... writing nothing"
    rm -rf rr
}
refuse 's/{ type = "relu"; },/{ name = "bnx"; type = "batchnorm"; track_running_stats = false; },/' \
    "export: layer 'bnx' (type batchnorm): batchnorm without track_running_stats normalises with each batch's statistics in evaluation: no ONNX form" \
    "batchnorm without running statistics"
sed 's/csv"; path = "mlp_\([a-z]*\).csv"; }/csv"; path = "mlp_\1.csv"; shape = [1, 8, 8]; }/' \
    mlp.cfg >mlp2d.cfg
sed 's/{ name = "fc1";/{ name = "aa"; type = "adaptive_avgpool2d"; output_size = 3; }, { name = "fc1";/' \
    mlp2d.cfg >r.cfg
run_cmd "$dlhost" run r.cfg --runs rr
run_cmd "$dlhost" export r.cfg --weights rr/mlp/last.safetensors --onnx x.onnx
is "$RC" 2 "adaptive_avgpool2d of uneven windows exits 2"
like "$ERR_FILE" "export: layer 'aa' (type adaptive_avgpool2d): adaptive_avgpool2d from 8x8 to 3x3 has no ONNX form (the output size must divide the input size)" \
    "... and says why"
sed 's/{ name = "fc1";/{ name = "apc"; type = "avgpool2d"; kernel_size = 3; stride = 2; padding = 1; ceil_mode = true; }, { name = "fc1";/' \
    mlp2d.cfg >r.cfg
run_cmd "$dlhost" run r.cfg --runs rr2
run_cmd "$dlhost" export r.cfg --weights rr2/mlp/last.safetensors --onnx x.onnx
is "$RC" 2 "avgpool2d with ceil_mode over the padding, counting it, exits 2"
like "$ERR_FILE" "avgpool2d with ceil_mode and count_include_pad has no ONNX form" "... and says why"
[ ! -e x.onnx ]
ok $? "... writing nothing"

sed 's/cross_entropy/mse/; s/type = "csv"; path = "mlp_\([a-z]*\).csv"; }/type = "csv"; path = "mlp_\1.csv"; label = "dense"; label_columns = 10; }/' \
    mlp.cfg >reg.cfg
run_cmd "$dlhost" run reg.cfg --runs rg
run_cmd "$dlhost" export reg.cfg --weights rg/mlp/last.safetensors --onnx x.onnx --probs
is "$RC" 2 "--probs on a regression model exits 2"
like "$ERR_FILE" "export: --probs needs class targets" "... and says why"
run_cmd "$dlhost" export reg.cfg --weights rg/mlp/last.safetensors --onnx reg.onnx
is "$RC" 0 "a regression model exports without --probs"

ls -a | grep -q '\.tmp-'
[ $? -ne 0 ]
ok $? "no temporary file is left behind"

# --- the exported models against predict and embed
if ! /usr/bin/python3 -c 'import numpy, onnx' 2>/dev/null; then
    skip "onnx: /usr/bin/python3 has no python3-onnx (or numpy): the exported models are not checked"
    done_testing
fi
have_cv2=1
/usr/bin/python3 -c 'import cv2' 2>/dev/null || have_cv2=0

# check NAME CFG HEAD CLASSES CV2: trains, exports (--probs), predicts
# every class, embeds HEAD, and runs onnx_check.py; CV2 = 1 when OpenCV
# must run the model.
check_model() {
    name=$1 cfg=$2 head=$3 k=$4 need_cv2=$5
    run_cmd "$dlhost" run "$cfg" --runs r_$name
    is "$RC" 0 "$name: trains"
    cw=r_$name/$name/last.safetensors
    run_cmd "$dlhost" export "$cfg" --weights $cw --onnx $name.onnx --probs
    is "$RC" 0 "$name: exports"
    like "$ERR_FILE" "-> $name.onnx: ONNX opset 17" "$name: ... and says so"
    "$dlhost" predict "$cfg" --weights $cw --input ${name}_test.csv --out $name.csv \
        --top $k 2>/dev/null &&
        "$dlhost" embed "$cfg" --weights $cw --layer $head --out $name.npy 2>/dev/null
    ok $? "$name: predict and embed run"
    /usr/bin/python3 "$check" $name.onnx ${name}_test.csv $name.npy $name.csv >$name.out 2>&1
    ok $? "$name: onnx_check.py passes" || sed 's/^/#   /' $name.out
    like $name.out "ok checker: full_check passes, IR 8, opset 17, batch dimension N" \
        "$name: onnx.checker full_check, IR 8, opset 17, dynamic N"
    like $name.out "ok numpy output" "$name: numpy evaluation: the raw outputs are embed's"
    like $name.out "ok numpy probs" "$name: numpy evaluation: probs are predict's"
    if [ $have_cv2 = 0 ]; then
        skip "$name: cv2: /usr/bin/python3 has no python3-opencv"
    elif [ "$need_cv2" = 1 ]; then
        like $name.out "ok cv2 output" "$name: OpenCV dnn: the raw outputs are embed's"
        like $name.out "ok cv2 probs" "$name: OpenCV dnn: probs are predict's"
    elif grep -q "^cv2-unsupported" $name.out; then
        diag "$name: $(sed -n 's/^cv2-unsupported: //p' $name.out);" \
             "the numpy evaluation checked every op"
        like $name.out "ok numpy output" "$name: checked by numpy where OpenCV cannot run an op"
    else
        like $name.out "ok cv2 output" "$name: OpenCV dnn: the raw outputs are embed's"
    fi
}
check_model mlp mlp.cfg head 10 1
check_model cnn cnn.cfg head 4 1
check_model all all.cfg out 3 0
check_model more more.cfg head 3 0
for op in ConvTranspose InstanceNormalization BatchNormalization Resize Gather ReduceMax; do
    /usr/bin/python3 -c "import onnx, sys; m = onnx.load('more.onnx')
sys.exit(not any(n.op_type == '$op' for n in m.graph.node))"
    ok $? "more: the graph has $op"
done
# OpenCV 4.6 runs each of them on its own (a dense head after it), but not
# the chain: it sizes a dilated ConvTranspose wrongly, cannot Reshape or
# Gather after a Resize, and reads the scale and bias of
# InstanceNormalization wrongly (affine instancenorm2d: numpy checks it);
# nor the Gathers of upg (numpy checks them, OpenCV where it can).
for spec in \
    'ct|{ name = "ct"; type = "conv_transpose2d"; out_channels = 4; kernel_size = 3; stride = 2; padding = 1; output_padding = 1; groups = 2; }' \
    'gn|{ name = "gn"; type = "groupnorm"; num_groups = 2; }' \
    'inst|{ name = "in"; type = "instancenorm2d"; }' \
    'instr|{ name = "in"; type = "instancenorm2d"; affine = true; track_running_stats = true; }' \
    'up|{ name = "up"; type = "upsample"; scale_factor = 2; }' \
    'upb|{ name = "up"; type = "upsample"; mode = "bilinear"; size = [7, 13]; }' \
    'upa|{ name = "up"; type = "upsample"; mode = "bilinear"; align_corners = true; scale_factor = [1.5, 0.5]; }' \
    'upg|{ name = "c"; type = "conv2d"; out_channels = 2; kernel_size = 3; }, { name = "up"; type = "upsample"; size = [4, 4]; }' \
    'mx|{ type = "flatten"; }, { name = "mx"; type = "maxout"; units = 8; pieces = 3; }'; do
    n=${spec%%|*}
    awk -v n="$n" -v layer="${spec#*|}" '
        /^name = / { print "name = \"" n "\";"; next }
        /^model = \(/ { print "model = ( " layer ", { type = \"flatten\"; },"
                        print "  { name = \"head\"; type = \"dense\"; units = 3; } );"; skip = 1; next }
        skip && /^\);/ { skip = 0; next }
        !skip' more.cfg >$n.cfg
    cp more_test.csv ${n}_test.csv
    check_model $n $n.cfg head 3 $([ $n = upg ] && echo 0 || echo 1)
done
# OpenCV 4.6 has no LayerNormalization, Where, nor Clip of opset 11 on, and
# its AveragePool divides padded windows by the cells inside the input
# whatever count_include_pad says (numpy and dlhost, like torch, by the
# whole window); its Softplus overflows past x = 88 (exp in float32), which
# zca's amplified values reach: the rest of the model, on zscore'd input,
# must run there.
sed 's/name = "all";/name = "allcv";/; s/"zca"/"zscore"/; /"ln"\|"sp2"\|"ht"\|"relu6"\|"apad"/d' \
    all.cfg >allcv.cfg
cp all_test.csv allcv_test.csv
check_model allcv allcv.cfg out 3 1
# One logit for two classes (focal on class labels): probs = [1 - p, p].
gen bin_train.csv 96 64 2 17
gen bin_test.csv 30 64 2 19
sed 's/name = "mlp";/name = "bin";/; s/mlp_/bin_/; s/units = 10;/units = 1;/; s/cross_entropy/focal/' \
    mlp.cfg >bin.cfg
check_model bin bin.cfg head 2 1

# Without --probs: one output.
run_cmd "$dlhost" export cnn.cfg --weights r_cnn/cnn/last.safetensors --onnx raw.onnx
is "$RC" 0 "without --probs: exports"
/usr/bin/python3 "$check" raw.onnx cnn_test.csv cnn.npy >raw.out 2>&1
ok $? "without --probs: onnx_check.py passes (output only)"
unlike raw.out "probs" "without --probs: the model has no 'probs'"

# --- opencl against cpu: the same weights, the same bytes
if have_backend opencl; then
    for m in mlp cnn all more; do
        run_cmd "$dlhost" export $m.cfg --weights r_$m/$m/last.safetensors --onnx ${m}_ocl.onnx \
            --probs --backend opencl
        is "$RC" 0 "opencl: $m exports"
        cmp -s $m.onnx ${m}_ocl.onnx
        ok $? "opencl: $m's export is cpu's, byte for byte"
    done
else
    skip "opencl: not present (no plugin on the plugin path registers it)"
fi

done_testing
