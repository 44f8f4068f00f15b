#!/bin/sh
# Fine-tuning in `dlhost check` and `dlhost run` (core/optim.c): the
# groups that train.unfreeze adds and the per-layer rates of
# optimizer.lr_decay_by_depth as check prints them; every bad entry refused
# with its file:line; a run stopped before, at and after an unfreeze boundary
# and resumed ends with the uninterrupted run's bytes; a fully frozen
# backbone runs no backward below the head (--profile).  The numbers against
# PyTorch are tests/test_finetune_torch.sh's.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1
class_images img.csv 48 16 7

# fz_cfg OPTIMIZER UNFREEZE: the optimizer group on line 16, the unfreeze
# list on line 18.
fz_cfg() {
    cat >exp.cfg <<CFG
name = "fz";
seed = 4;
backend = { type = "cpu"; };
data = { train = { type = "csv"; path = "img.csv"; header = true; label_column = 0; shape = [1, 4, 4]; }; };
model = (
  { name = "conv1"; type = "conv2d"; out_channels = 4; kernel_size = 3; padding = 1; },
  { name = "bn1"; type = "batchnorm"; },
  { type = "relu"; },
  { name = "conv2"; type = "conv2d"; out_channels = 4; kernel_size = 3; padding = 1; },
  { name = "bn2"; type = "batchnorm"; },
  { type = "relu"; },
  { name = "flat"; type = "flatten"; },
  { name = "fc"; type = "dense"; units = 3; }
);
loss = { type = "cross_entropy"; };
optimizer = $1;
train = { epochs = 4; batch_size = 8;
  unfreeze = $2; };
CFG
}

frozen='{ type = "adam"; lr = 0.01; groups = ( { params = ["conv*", "bn*"]; trainable = false; } ); }'

# ---- check
fz_cfg "$frozen" '( { epoch = 3; params = ["conv2.*", "bn2.*"]; lr_mult = 0.1; betas = [0.8, 0.9]; },
  { epoch = 4; params = "conv1.weight"; lr = 0.002; } )'
run_cmd "$dlhost" check exp.cfg
is "$RC" 0 "unfreeze: check exits 0"
like "$OUT_FILE" "unfreezes: 4 tensors, 156 parameters (train.unfreeze[0]), frozen until epoch 3, then lr 0.001" \
    "unfreeze: check prints the first entry's group"
like "$OUT_FILE" "unfreezes: 1 tensor, 36 parameters (train.unfreeze[1]), frozen until epoch 4, then lr 0.002" \
    "unfreeze: check prints the second entry's group"
like "$OUT_FILE" "group: 3 tensors, 12 parameters (groups[0]), frozen" \
    "unfreeze: what stays frozen"

fz_cfg '{ type = "sgd"; lr = 0.1; lr_decay_by_depth = 0.5;
  groups = ( { params = ["bn1.*"]; trainable = false; }, { params = "*.bias"; lr_mult = 2.0; } ); }' '()'
run_cmd "$dlhost" check exp.cfg
is "$RC" 0 "lr_decay_by_depth: check exits 0"
like "$OUT_FILE" "lr by depth fc 0.2, bn2 0.1, conv2 0.05, conv1 0.025" \
    "lr_decay_by_depth: each trained layer half the one above (times the bias group's lr_mult), frozen bn1 not counted"

# ---- refusals, each at its line
refused() {
    fz_cfg "$1" "$2"
    refused_at exp.cfg "$3" "$4" "$5"
}
ok_opt='{ type = "sgd"; lr = 0.1; groups = ( { params = ["conv*", "bn*"]; trainable = false; } ); }'
refused "$ok_opt" '( { epoch = 0; params = ["conv2.*"]; } )' 18 \
    "train.unfreeze[0]: epoch 0 is not an epoch of the run (1 to train.epochs = 4)" "epoch 0"
refused "$ok_opt" '( { epoch = 5; params = ["conv2.*"]; } )' 18 \
    "train.unfreeze[0]: epoch 5 is not an epoch of the run (1 to train.epochs = 4)" "epoch 5"
refused "$ok_opt" '( { params = ["conv2.*"]; } )' 18 \
    "train.unfreeze[0]: missing required parameter 'epoch'" "no epoch"
refused "$ok_opt" '( { epoch = 2; } )' 18 \
    "train.unfreeze[0]: missing required parameter 'params'" "no params"
refused "$ok_opt" '( { epoch = 2; params = ["conv9.*"]; } )' 18 \
    "train.unfreeze[0]: pattern 'conv9.*' matches no parameter that is still frozen" \
    "a pattern that matches nothing"
refused "$ok_opt" '( { epoch = 2; params = ["fc.*"]; } )' 18 \
    "train.unfreeze[0]: pattern 'fc.*' matches 'fc.weight', which is trainable already" \
    "a pattern that matches a trainable tensor"
refused "$ok_opt" '( { epoch = 2; params = ["conv2.*"]; }, { epoch = 3; params = ["conv*.weight"]; } )' 18 \
    "train.unfreeze[1]: pattern 'conv*.weight' matches 'conv2.weight', which train.unfreeze[0] already unfreezes" \
    "two entries for one tensor"
refused "$ok_opt" '( { epoch = 2; params = ["conv2.*"]; trainable = true; } )' 18 \
    "train.unfreeze[0]: an unfreeze entry makes its tensors trainable; 'trainable' does not belong here" \
    "trainable in an entry"
refused "$ok_opt" '( { epoch = 2; params = ["conv2.*"]; clip_norm = 1.0; } )' 18 \
    "train.unfreeze[0]: 'clip_norm' acts on the whole optimizer" "clip_norm in an entry"
refused "$ok_opt" '( { epoch = 2; params = ["conv2.*"]; lr = 0.1; lr_mult = 0.5; } )' 18 \
    "train.unfreeze[0]: give 'lr' or 'lr_mult', not both" "lr and lr_mult"
refused "$ok_opt" '( { epoch = 2; params = ["conv2.*"]; lr = -0.1; } )' 18 \
    "train.unfreeze[0]: Invalid learning rate: -0.1" "a negative lr"
refused "$ok_opt" '( { epoch = 2; params = ["conv2.*"]; momentun = 0.9; } )' 18 \
    "unknown parameter 'momentun'" "an unknown key"
refused "$ok_opt" '( { epoch = 2; params = ["conv2.*"]; momentum = -1.0; } )' 18 \
    "train.unfreeze[0]: parameter 'momentum': expected a number >= 0, got -1" \
    "the optimiser's own range check"
refused "$ok_opt" '3' 18 "train: 'unfreeze' expects a list of groups" "not a list"
refused "$ok_opt" '( 3 )' 18 "train.unfreeze[0]: expected a group" "not a group"
refused '{ type = "lbfgs"; lr = 0.5; groups = ( { params = ["conv*", "bn*"]; trainable = false; } ); }' \
    '( { epoch = 2; params = ["conv2.*"]; } )' 16 "lbfgs" "lbfgs takes one group"
refused '{ type = "sgd"; lr = 0.1; lr_decay_by_depth = 0.0; }' '()' 16 \
    "optimizer: lr_decay_by_depth 0: expected a number in (0, 1]" "lr_decay_by_depth 0"
refused '{ type = "sgd"; lr = 0.1; lr_decay_by_depth = 1.5; }' '()' 16 \
    "optimizer: lr_decay_by_depth 1.5: expected a number in (0, 1]" "lr_decay_by_depth 1.5"
refused '{ type = "sgd"; lr = 0.1; groups = ( { params = "fc.*"; lr_decay_by_depth = 0.5; } ); }' '()' 16 \
    "optimizer.groups[0]: 'lr_decay_by_depth' acts on the whole optimizer" "lr_decay_by_depth in a group"
refused '{ type = "lbfgs"; lr = 0.5; lr_decay_by_depth = 0.5; }' '()' 16 \
    "lr_decay_by_depth needs a learning rate per layer; 'lbfgs' updates every parameter at one rate" \
    "lr_decay_by_depth with lbfgs"

# ---- stopped and resumed around the boundary (48 samples in batches of 8:
# 6 steps an epoch, conv2 and bn2 unfreeze after step 12)
fz_cfg "$frozen" '( { epoch = 3; params = ["conv2.*", "bn2.*"]; lr_mult = 0.1; } )'
run_cmd "$dlhost" run exp.cfg --runs full
is "$RC" 0 "resume: the uninterrupted run exits 0"
like "$OUT_FILE" "epoch 3: train.unfreeze: more tensors train from here on" \
    "resume: the run says when tensors unfreeze"
for at in 8 12 15; do
    run_cmd env DLHOST_TEST_INTERRUPT_STEP=$at "$dlhost" run exp.cfg --runs "cut$at"
    is "$RC" 130 "resume: the run stopped after step $at exits 130"
    run_cmd "$dlhost" run exp.cfg --resume "cut$at/fz"
    is "$RC" 0 "resume: --resume after step $at exits 0"
    cmp -s full/fz/last.safetensors "cut$at/fz/last.safetensors"
    ok $? "resume: stopped after step $at, last.safetensors equals the uninterrupted run's, byte for byte"
done

# ---- a frozen backbone: backward stops at the head
fz_cfg '{ type = "sgd"; lr = 0.1; groups = ( { params = ["conv*", "bn*"]; trainable = false; } ); }' '()'
run_cmd "$dlhost" run exp.cfg --runs prof --profile
is "$RC" 0 "frozen backbone: --profile run exits 0"
is "$(awk -F, '$2 == "backward" { print $3 }' prof/fz/profile.csv | sort -u | tr '\n' ' ')" "fc " \
    "frozen backbone: profile.csv times the backward of the head alone (none runs below it)"

done_testing
