#!/bin/sh
# prelu, maxout, dropout2d, alpha_dropout and identity from an experiment
# file: `dlhost check` refuses each bad parameter with PyTorch's words
# (exit 2, file:line of the key); prelu's slopes start at torch's 0.25 and
# `init = { type = "constant"; value = ...; }` (torch's init=) changes
# them, as `dlhost init` writes them; a model using all five checks and
# trains an epoch on cpu and on opencl (when it is here) to the same
# finite loss.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

# 64 samples of [2, 2, 3] (12 features) and 3 dense targets.
awk 'BEGIN { srand(3); printf "f0"; for (j = 1; j < 12; j++) printf ",f%d", j
    print ",t0,t1,t2"
    for (i = 0; i < 64; i++) { for (j = 0; j < 12; j++) printf "%.3f,", rand() - 0.5
        printf "%.3f,%.3f,%.3f\n", rand(), rand() - 0.5, rand() * 2 } }' >img.csv

# act.cfg: the layers $1 (line 9 on) over [2, 2, 3] samples, then dense 3.
write_cfg() {
    cat >act.cfg <<CFG
name = "act";
seed = 42;
backend = { type = "cpu"; threads = 2; };
data = {
  train = { type = "csv"; path = "img.csv"; header = true; label = "dense";
            label_columns = 3; shape = [2, 2, 3]; };
};
model = (
$1,
  { name = "flat_out"; type = "flatten"; },
  { name = "out"; type = "dense"; units = 3; }
);
loss = { type = "mse"; };
optimizer = { type = "sgd"; lr = 0.05; };
train = { epochs = 1; batch_size = 16; shuffle = false; };
CFG
}

bad() {                 # bad LAYER-LINE WANTED-TEXT DESCRIPTION
    write_cfg "  $1"
    refused_at act.cfg 9 "layer 'a': $2" "$3"
}
bad '{ name = "a"; type = "prelu"; num_parameters = 3; }' \
    "Mismatch of parameter numbers and input channel size. Found parameter numbers = 3 and channel size = 2." \
    "prelu num_parameters that is not the channel count"
bad '{ name = "a"; type = "prelu"; num_parameters = -2; }' \
    "Trying to create tensor with negative dimension -2: [-2]" "prelu num_parameters < 0"
bad '{ name = "a"; type = "maxout"; units = 4; pieces = 0; }' "parameter 'pieces'" \
    "maxout pieces = 0"
bad '{ name = "a"; type = "maxout"; pieces = 2; }' "missing required parameter 'units'" \
    "maxout without units"
bad '{ name = "a"; type = "dropout2d"; rate = 1.2; }' \
    "dropout probability has to be between 0 and 1, but got 1.2" "dropout2d rate 1.2"
bad '{ name = "a"; type = "alpha_dropout"; rate = -0.5; }' \
    "dropout probability has to be between 0 and 1, but got -0.5" "alpha_dropout rate -0.5"
bad '{ name = "a"; type = "alpha_dropout"; p = 0.5; }' "unknown parameter 'p'" \
    "alpha_dropout takes rate, as dropout does"
bad '{ name = "a"; type = "identity"; units = 3; }' "unknown parameter 'units'" \
    "identity takes no parameters"
write_cfg '  { name = "f"; type = "flatten"; }, { name = "a"; type = "dropout2d"; }'
run_cmd "$dlhost" check act.cfg
is "$RC" 2 "dropout2d on flat samples: check exits 2"
like "$ERR_FILE" "layer 'a': dropout2d expects samples of shape [C, H, W] (or [C, L]), got 1 dimension" \
    "dropout2d on flat samples: the reason"

# prelu's slopes: the model's only tensors, so the file ends with them.
slopes() {              # slopes INIT-LINE: the 2 slopes `dlhost init` writes, in $got
    cat >slopes.cfg <<CFG
name = "slopes";
seed = 1;
backend = { type = "cpu"; };
data = { train = { type = "csv"; path = "img.csv"; header = true; label = "dense";
                   label_columns = 3; shape = [2, 2, 3]; }; };
model = ( { name = "p"; type = "prelu"; num_parameters = 2; $1 },
          { name = "s"; type = "flatten"; }, { name = "m"; type = "maxout"; units = 3;
            bias = false; init = "zeros"; } );
loss = { type = "mse"; };
optimizer = { type = "sgd"; };
CFG
    run_cmd "$dlhost" init slopes.cfg --out slopes.safetensors
    is "$RC" 0 "dlhost init with prelu ${1:-(default init)} exits 0"
    # p.weight is the first tensor: at the start of the data, after the
    # 8-byte header length and the header
    hlen=$(od -An -tu8 -N8 slopes.safetensors | tr -d ' ')
    got=$(od -An -tf4 -j $((8 + hlen)) -N8 slopes.safetensors | awk '{ printf "%s %s", $1, $2 }')
}
slopes ""
[ "$got" = "0.25 0.25" ]
ok $? "prelu's default slopes are torch's init 0.25 (got '$got')"
slopes 'init = { type = "constant"; value = -0.125; };'
[ "$got" = "-0.125 -0.125" ]
ok $? "init = { type = \"constant\"; value = -0.125; } sets them (got '$got')"

all='  { name = "pc"; type = "prelu"; num_parameters = 2; },
  { name = "d2"; type = "dropout2d"; rate = 0.3; },
  { name = "id"; type = "identity"; },
  { name = "flat"; type = "flatten"; },
  { name = "mo"; type = "maxout"; units = 8; pieces = 3; },
  { name = "ad"; type = "alpha_dropout"; rate = 0.1; },
  { name = "p1"; type = "prelu"; }'
write_cfg "$all"
run_cmd "$dlhost" check act.cfg
is "$RC" 0 "a model with all five checks"
like "$OUT_FILE" "mo" "check lists the maxout layer"
train_each_backend act.cfg act "an epoch through all five trains"
if [ -n "$loss_opencl" ]; then
    # same Philox masks and weights: only rounding differs
    loss_near "$loss_cpu" "$loss_opencl" \
        "opencl's train_loss $loss_opencl = cpu's $loss_cpu within 1e-4"
else
    skip "opencl: not present"
fi
done_testing
