#!/bin/sh
# The experiment's initialisers and `dlhost init` (README "Initialisers"):
# the usage errors of `dlhost init`; a model that uses every initialiser
# (dense, conv2d and batchnorm tensors, a buffer among them) written to a
# safetensors file, the same bytes again, the same bytes on opencl (the
# initialisers give every backend the same bits), replaced atomically, read
# by `dlhost eval`; every bad initialiser with its file:line and torch's
# wording where torch has one (exit 2); and plugin layers' own parameters:
# an ABI 1.4 plugin's `alpha` (tests/fixtures/scale_layer.c) and an ABI 1.5
# plugin's default given as a dlh_init_spec.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH, DLHOST_FIXTURES.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1
two_class_csv train.csv

# exp NAME MODEL: an experiment NAME.cfg on train.csv (2 features as [2, 1, 1]
# samples, for conv2d and dense alike; 2 classes).
exp() {
    cat >"$1.cfg" <<CFG
name = "$1";
seed = 7;
data = { train = { type = "csv"; path = "train.csv"; header = true; shape = [2, 1, 1]; }; };
model = (
$2
);
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.1; };
train = { epochs = 1; batch_size = 4; };
CFG
}

# ---- usage
run_cmd "$dlhost" --help
like "$OUT_FILE" "init CFG --out FILE" "--help lists init"
exp plain '{ name = "fc"; type = "dense"; units = 2; }'
run_cmd "$dlhost" init plain.cfg
is "$RC" 2 "init without --out exits 2"
like "$ERR_FILE" "init: missing the output file (dlhost init CFG --out FILE)" \
    "init without --out says so"
run_cmd "$dlhost" init plain.cfg --out
is "$RC" 2 "init --out without a value exits 2"
run_cmd "$dlhost" init --out w.safetensors
is "$RC" 2 "init without a file exits 2"
run_cmd "$dlhost" init plain.cfg --out w.safetensors --weights x
is "$RC" 2 "init with another command's option exits 2"
like "$ERR_FILE" "unknown option '--weights'" "... and names it"
run_cmd "$dlhost" init plain.cfg --out=w.safetensors
is "$RC" 0 "init --out=FILE works too"
[ -s w.safetensors ]
ok $? "... and writes the file"

# ---- every initialiser
exp every '{ name = "conv"; type = "conv2d"; out_channels = 4; kernel_size = 1;
    init = { type = "dirac"; }; bias_init = { type = "constant"; value = -0.5; }; },
  { name = "conv2"; type = "conv2d"; out_channels = 4; kernel_size = 1;
    init = { type = "kaiming_normal"; mode = "fan_out"; nonlinearity = "relu"; }; },
  { name = "conv3"; type = "conv2d"; out_channels = 2; kernel_size = 1;
    init = { weight = { type = "orthogonal"; gain = 1.4; }; bias = "ones"; }; },
  { name = "bn"; type = "batchnorm";
    init = { weight = { type = "normal"; mean = 1.0; std = 0.02; };
             running_var = { type = "uniform"; a = 0.5; b = 2.0; }; }; },
  { name = "flat"; type = "flatten"; },
  { name = "d1"; type = "dense"; units = 6; init = "xavier_uniform"; bias_init = "zeros"; },
  { name = "d2"; type = "dense"; units = 6; init = { type = "xavier_normal"; gain = 0.5; }; },
  { name = "d3"; type = "dense"; units = 6;
    init = { type = "kaiming_uniform"; a = 0.2; nonlinearity = "leaky_relu"; }; },
  { name = "d4"; type = "dense"; units = 6; init = "eye"; },
  { name = "d5"; type = "dense"; units = 6; init = { type = "sparse"; sparsity = 0.5; }; },
  { name = "d6"; type = "dense"; units = 6; init = { type = "trunc_normal"; std = 0.02; };
    bias_init = { type = "uniform"; a = -0.1; b = 0.1; }; },
  { name = "d7"; type = "dense"; units = 6; init = "he_normal"; },
  { name = "d8"; type = "dense"; units = 6; init = "identity"; },
  { name = "out"; type = "dense"; units = 2; init = "normal"; }'
run_cmd "$dlhost" init every.cfg --out every.safetensors
is "$RC" 0 "init of a model with every initialiser exits 0"
like "$OUT_FILE" "every.safetensors: the initial weights of every (seed 7): 29 tensors" \
    "init says what it wrote"
run_cmd "$dlhost" init every.cfg --out again.safetensors
cmp -s every.safetensors again.safetensors
ok $? "a second init writes the same bytes"
printf 'not a checkpoint' >again.safetensors
run_cmd "$dlhost" init every.cfg --out again.safetensors
cmp -s every.safetensors again.safetensors
ok $? "init replaces an existing file"
ls -a | grep -q '\.tmp-'
ok $((! $?)) "... leaving no temporary file"
# eval needs data.test: the file has none, so give it one.
sed 's|data = { train = \(.*\) };|data = { train = \1 test = \1 };|' every.cfg >evaltest.cfg
run_cmd "$dlhost" eval evaltest.cfg --weights every.safetensors
is "$RC" 0 "dlhost eval reads the file (the untrained model on the data)"

if have_backend opencl; then
    run_cmd "$dlhost" init every.cfg --out opencl.safetensors --backend opencl
    is "$RC" 0 "init on opencl exits 0"
    cmp -s every.safetensors opencl.safetensors
    ok $? "opencl gives the same bytes as cpu, every initialiser"
else
    skip "opencl: not present"
    skip "opencl: not present"
fi

# ---- values, read back with Python's standard library when there is one
py=
for c in python3 /usr/bin/python3; do
    if "$c" -c 'import json, struct' >/dev/null 2>&1; then
        py=$c
        break
    fi
done
# values FILE TENSOR: its floats, one per line, %.9g.
values() {
    "$py" - "$1" "$2" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
e = json.loads(b[8:8 + n])[sys.argv[2]]
s, t = e["data_offsets"]
for v in struct.unpack("<%df" % ((t - s) // 4), b[8 + n + s:8 + n + t]):
    print("%.9g" % v)
PY
}
if [ -n "$py" ]; then
    is "$(values every.safetensors conv.bias | sort -u)" "-0.5" "bias_init constant -0.5"
    is "$(values every.safetensors conv3.bias | sort -u)" "1" "init.bias = \"ones\""
    is "$(values every.safetensors d1.bias | sort -u)" "0" "bias_init = \"zeros\""
    is "$(values every.safetensors conv.weight | tr '\n' ' ')" \
        "1 0 0 1 0 0 0 0 " "dirac on conv [4, 2, 1, 1]"
    values every.safetensors bn.running_var | awk '$1 < 0.5 || $1 >= 2 { bad = 1 }
        END { exit bad }'
    ok $? "a buffer's initialiser: bn.running_var in [0.5, 2)"
    is "$(values every.safetensors bn.running_mean | sort -u)" "0" \
        "bn.running_mean keeps its default"
    zeros=$(values every.safetensors d5.weight | awk '$1 == 0 { n++ } END { print n + 0 }')
    is "$zeros" 18 "sparse 0.5 on [6, 6]: 3 zeros in each of 6 columns"
    values every.safetensors d6.weight | awk '$1 < -2 || $1 > 2 { bad = 1 } END { exit bad }'
    ok $? "trunc_normal std 0.02 within [-2, 2]"
else
    i=0
    while [ $i -lt 8 ]; do skip "no python3 to read the values back"; i=$((i + 1)); done
fi

# ---- bad initialisers: exit 2, file:line, the message
# bad NAME LAYER_LINE... MESSAGE: `dlhost init` of a one-layer model.
bad() {
    name=$1 layer=$2 msg=$3
    exp "$name" "$layer"
    run_cmd "$dlhost" init "$name.cfg" --out "$name.safetensors"
    is "$RC" 2 "$name: exit 2"
    like "$ERR_FILE" "$name.cfg:5: layer 'fc': $msg" "$name: $msg"
    [ ! -e "$name.safetensors" ]
    ok $? "$name: no file written"
}
bad std '{ name = "fc"; type = "dense"; units = 2; init = { type = "normal"; std = -1.0; }; }' \
    "init: normal expects std >= 0.0, but found std -1"
bad sparsity '{ name = "fc"; type = "dense"; units = 2; init = { type = "sparse"; sparsity = 1.5; }; }' \
    "init: sparse expects sparsity in [0, 1], but found sparsity 1.5"
bad sparse_bare '{ name = "fc"; type = "dense"; units = 2; init = "sparse"; }' \
    "init: initialiser 'sparse' needs its sparsity"
bad orth1d '{ name = "fc"; type = "dense"; units = 2; bias_init = "orthogonal"; }' \
    "bias_init: parameter 'bias': initialiser 'orthogonal': Only tensors with 2 or more dimensions are supported (got 1-D [2])"
bad unknown '{ name = "fc"; type = "dense"; units = 2; init = "kaiming_normla"; }' \
    "unknown initialiser 'kaiming_normla' (did you mean 'kaiming_normal'?); known: zeros, ones, constant, uniform, normal, trunc_normal, xavier_uniform, xavier_normal, kaiming_uniform (he_uniform), kaiming_normal (he_normal), orthogonal, sparse, eye, dirac, identity"
bad const_bare '{ name = "fc"; type = "dense"; units = 2; init = "constant"; }' \
    "init: initialiser 'constant' needs its value: write init = { type = \"constant\"; value = ...; }"
bad const_group '{ name = "fc"; type = "dense"; units = 2; init = { type = "constant"; }; }' \
    "init: missing required parameter 'value'"
bad no_tensor '{ name = "fc"; type = "dense"; units = 2; init = { alpha = "zeros"; }; }' \
    "init.alpha: the layer has no tensor 'alpha' to initialise; its tensors are weight, bias"
bad no_bias '{ name = "fc"; type = "dense"; units = 2; bias = false; bias_init = "zeros"; }' \
    "bias_init: the layer has no tensor 'bias' to initialise; its tensors are weight"
bad uniform_ab '{ name = "fc"; type = "dense"; units = 2; init = { type = "uniform"; a = 1.0; b = 0.0; }; }' \
    "init: uniform_ expects to return a [from, to) range, but found from=1 > to=0"
bad trunc_ab '{ name = "fc"; type = "dense"; units = 2; init = { type = "trunc_normal"; a = 2.0; b = -2.0; }; }' \
    "init: trunc_normal expects a < b, but found a=2 >= b=-2"
bad mode '{ name = "fc"; type = "dense"; units = 2; init = { type = "kaiming_uniform"; mode = "fan_avg"; }; }' \
    "init: Mode fan_avg not supported, please use one of ['fan_in', 'fan_out']"
bad nonlin '{ name = "fc"; type = "dense"; units = 2; init = { type = "kaiming_normal"; nonlinearity = "gelu"; }; }' \
    "init: Unsupported nonlinearity gelu"
bad gain '{ name = "fc"; type = "dense"; units = 2; init = { type = "xavier_normal"; gain = -1.0; }; }' \
    "init: xavier_normal expects gain >= 0.0, but found gain -1"
bad typo_key '{ name = "fc"; type = "dense"; units = 2; init = { type = "normal"; sdt = 0.1; }; }' \
    "init: unknown parameter 'sdt'"
bad typo_type '{ name = "fc"; type = "dense"; units = 2; init = { tpye = "normal"; std = 0.1; }; }' \
    "init.std: expected an initialiser for tensor 'std' (a name or a group); a group that is one initialiser needs type = \"NAME\" (is 'type' misspelt?)"
bad eye_conv '{ name = "fc"; type = "conv2d"; out_channels = 2; kernel_size = 1; init = "eye"; }' \
    "init: parameter 'weight': initialiser 'eye': Only tensors with 2 dimensions are supported (got 4-D [2, 2, 1, 1])"
bad dirac_groups '{ name = "fc"; type = "conv2d"; out_channels = 3; kernel_size = 1; init = { type = "dirac"; groups = 2; }; }' \
    "init: parameter 'weight': initialiser 'dirac': dim 0 must be divisible by groups"
bad both_bias '{ name = "fc"; type = "dense"; units = 2; init = { bias = "zeros"; }; bias_init = "ones"; }' \
    "bias_init and init.bias both set the initialiser of 'bias'; keep one"
bad empty '{ name = "fc"; type = "dense"; units = 2; init = { }; }' \
    "init: an empty group"
bad relu '{ name = "fc"; type = "relu"; init = "normal"; }' \
    "init: the layer has no tensor 'weight' to initialise; it has no tensors"

# ---- plugin layers' own parameters
if [ -n "${DLHOST_FIXTURES:-}" ] && [ -f "$DLHOST_FIXTURES/scale_layer14.so" ] &&
   [ -f "$DLHOST_FIXTURES/scale_layer.so" ]; then
    mkdir fx
    cp "$DLHOST_FIXTURES/scale_layer14.so" "$DLHOST_FIXTURES/scale_layer.so" fx/
    DLHOST_PLUGIN_PATH=$DLHOST_PLUGIN_PATH:$TAP_TMP/fx
    export DLHOST_PLUGIN_PATH
    exp p14 '{ type = "flatten"; }, { name = "s"; type = "scale14"; }, { name = "out"; type = "dense"; units = 2; }'
    run_cmd "$dlhost" init p14.cfg --out p14.safetensors
    is "$RC" 0 "an ABI 1.4 plugin layer still loads and initialises"
    exp p14b '{ type = "flatten"; }, { name = "s"; type = "scale14"; init = { alpha = { type = "constant"; value = 0.75; }; }; },
  { name = "out"; type = "dense"; units = 2; }'
    run_cmd "$dlhost" init p14b.cfg --out p14b.safetensors
    is "$RC" 0 "init.alpha on the ABI 1.4 plugin's own parameter"
    exp p14c '{ type = "flatten"; }, { name = "s"; type = "scale14"; init = { beta = "zeros"; }; },
  { name = "out"; type = "dense"; units = 2; }'
    run_cmd "$dlhost" init p14c.cfg --out p14c.safetensors
    is "$RC" 2 "init.beta on it: exit 2"
    like "$ERR_FILE" "p14c.cfg:5: layer 's': init.beta: the layer has no tensor 'beta' to initialise; its tensors are alpha" \
        "... naming its tensor alpha"
    exp p15 '{ type = "flatten"; }, { name = "s"; type = "scale"; }, { name = "out"; type = "dense"; units = 2; }'
    run_cmd "$dlhost" init p15.cfg --out p15.safetensors
    is "$RC" 0 "an ABI 1.5 plugin's default by dlh_init_spec (trunc_normal)"
    if [ -n "$py" ]; then
        is "$(values p14.safetensors s.alpha | sort -u)" "0.25" "ABI 1.4 default: constant 0.25"
        is "$(values p14b.safetensors s.alpha | sort -u)" "0.75" "init.alpha = constant 0.75"
        values p15.safetensors s.alpha | awk '$1 < -0.04 || $1 > 0.04 || $1 == 0 { bad = 1 }
            END { exit bad }'
        ok $? "the spec's trunc_normal(std 0.02, a -0.04, b 0.04)"
    else
        skip "no python3"; skip "no python3"; skip "no python3"
    fi
else
    i=0
    while [ $i -lt 8 ]; do skip "no tests/fixtures/scale_layer*.so (run through make check)"; i=$((i + 1)); done
fi

done_testing
