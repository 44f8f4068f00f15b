#!/bin/sh
# The activation layers of issue 12 from an experiment file: `dlhost check`
# refuses each bad parameter with PyTorch's words where it has them (exit
# 2, file:line of the key), and a model using all twelve, with non-default
# parameters, checks and trains an epoch on cpu (and on opencl when it is
# here) to a finite loss.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cp "$DLHOST_SRCDIR/tests/data/good_train.csv" "$TAP_TMP/" || exit 1
cd "$TAP_TMP" || exit 1

# act.cfg: the regression of tests/data/good.cfg with the layers $1 (line 11
# on) between two dense layers.
write_cfg() {
    cat >act.cfg <<CFG
name = "act";
seed = 42;
backend = { type = "cpu"; threads = 2; };
data = {
  train = { type = "csv"; path = "good_train.csv"; label = "dense"; label_columns = 1;
            header = true; };
};
model = (
  { name = "fc1"; type = "dense"; units = 16; },
  # the activations under test
$1,
  { name = "out"; type = "dense"; units = 1; }
);
loss = { type = "mse"; };
optimizer = { type = "sgd"; lr = 0.01; };
train = { epochs = 1; batch_size = 32; };
CFG
}

bad() {                 # bad LAYER-LINE WANTED-TEXT DESCRIPTION
    write_cfg "  $1"
    refused_at act.cfg 11 "layer 'a': $2" "$3"
}
bad '{ name = "a"; type = "celu"; alpha = 0.0; }' \
    "ZeroDivisionError: alpha cannot be 0 for CELU" "celu alpha = 0"
bad '{ name = "a"; type = "gelu"; approximate = "erf"; }' \
    "approximate argument must be either none or tanh." "gelu approximate = \"erf\""
bad '{ name = "a"; type = "hardtanh"; min_val = 0.5; max_val = -0.5; }' \
    "max_val (-0.5) must be greater than min_val (0.5)" "hardtanh max_val < min_val"
bad '{ name = "a"; type = "hardtanh"; min_val = 3.0; }' \
    "max_val (1) must be greater than min_val (3)" "hardtanh min_val above the default max_val"
bad '{ name = "a"; type = "softplus"; beta = 0.0; }' "beta must not be 0" "softplus beta = 0"
bad '{ name = "a"; type = "elu"; alpha = "big"; }' "parameter 'alpha'" "elu alpha a string"
bad '{ name = "a"; type = "softplus"; treshold = 5.0; }' \
    "unknown parameter 'treshold'" "softplus misspelt threshold"
like "$ERR_FILE" "did you mean 'threshold'?" "softplus: the misspelling gets a suggestion"
bad '{ name = "a"; type = "selu"; alpha = 1.0; }' "unknown parameter 'alpha'" \
    "selu takes no alpha (nn.SELU has none)"
bad '{ name = "a"; type = "relu6"; max_val = 5.0; }' "unknown parameter 'max_val'" \
    "relu6 takes no max_val"

all='  { type = "elu"; alpha = 0.5; }, { type = "selu"; }, { type = "celu"; alpha = 2.0; },
  { type = "gelu"; approximate = "tanh"; }, { type = "gelu"; }, { type = "silu"; },
  { type = "mish"; }, { type = "softplus"; beta = 2.0; threshold = 10.0; },
  { type = "hardtanh"; min_val = -2.0; max_val = 2.0; }, { type = "relu6"; },
  { type = "hardswish"; }, { type = "hardsigmoid"; }, { type = "softsign"; }'
write_cfg "$all"
run_cmd "$dlhost" check act.cfg
is "$RC" 0 "a model with all twelve activations checks"
train_each_backend act.cfg act "an epoch through all twelve trains"
done_testing
