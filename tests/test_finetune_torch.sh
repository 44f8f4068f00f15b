#!/bin/sh
# Fine-tuning against PyTorch (tests/finetune_torch.py): `dlhost run` of a
# conv + batchnorm + dense model starting from the same tensors as torch
# (pretrained = init.safetensors, batchnorm running statistics that are not
# 0 and 1), 4 epochs of 6 batches in file order, every tensor of
# last.safetensors within 1e-5 of torch's:
#   frozen_bn  bn frozen by optimizer.groups: it runs on its running
#              statistics in training too (torch: bn.eval()), which stay
#              bit-identical, num_batches_tracked too, and conv below it
#              trains through them
#   frozen_backbone  conv and bn frozen: conv stays bit-identical
#   unfreeze   train.unfreeze of conv at epoch 3 with lr_mult 0.1 (torch:
#              optimizer.add_param_group at epoch 3, fresh Adam state)
#   depth      optimizer.lr_decay_by_depth = 0.5 times a *.bias group's
#              lr_mult 0.5 (torch: one param_group per tensor)
# on cpu, and on opencl where it is present.  SKIP without a python3 that
# has torch and numpy (TORCH_PYTHON names one; Debian's python3-torch).
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
torch_python
[ -n "$py" ] || skip_all "no python3 with torch and numpy (Debian's python3-torch)"
cd "$TAP_TMP" || exit 1
ref=$DLHOST_SRCDIR/tests/finetune_torch.py

run_cmd "$py" "$ref" data
ok "$RC" "torch writes train.csv and init.safetensors"

# ft_cfg FILE OPTIMIZER [TRAIN_EXTRA]
ft_cfg() {
    cat >"$1" <<CFG
name = "ft";
backend = { type = "cpu"; };
data = { train = { type = "csv"; path = "train.csv"; header = true; shape = [1, 4, 4]; }; };
pretrained = { file = "init.safetensors"; strict = true; };
$(torch_cnn_model)
loss = { type = "cross_entropy"; };
optimizer = $2;
train = { epochs = 4; batch_size = 16; shuffle = false; $3 };
CFG
}

ft_cfg frozen_bn.cfg '{ type = "sgd"; lr = 0.05; momentum = 0.9;
  groups = ( { params = ["bn.*"]; trainable = false; } ); }'
ft_cfg frozen_backbone.cfg '{ type = "sgd"; lr = 0.05; momentum = 0.9;
  groups = ( { params = ["conv.*", "bn.*"]; trainable = false; } ); }'
ft_cfg unfreeze.cfg '{ type = "adam"; lr = 0.01;
  groups = ( { params = ["conv.*", "bn.*"]; trainable = false; } ); }' \
  'unfreeze = ( { epoch = 3; params = ["conv.*"]; lr_mult = 0.1; } );'
ft_cfg depth.cfg '{ type = "sgd"; lr = 0.1; momentum = 0.9; lr_decay_by_depth = 0.5;
  groups = ( { params = ["*.bias"]; lr_mult = 0.5; } ); }'

# compare CASE BACKEND: trains CASE.cfg and checks it against torch.
compare() {
    run_cmd "$dlhost" run "$1.cfg" --backend "$2" --runs "runs_$2" --set name="$1"
    is "$RC" 0 "$2: $1: dlhost run exits 0"
    run_cmd "$py" "$ref" "$1" "runs_$2/$1/last.safetensors"
    while IFS= read -r line; do
        case $line in
        "ok - "*) ok 0 "$2: ${line#ok - }" ;;
        "not ok - "*) ok 1 "$2: ${line#not ok - }" ;;
        esac
    done <"$OUT_FILE"
    is "$RC" 0 "$2: $1: every tensor as torch's"
}

for b in cpu opencl; do
    if [ "$b" = opencl ] && ! have_backend opencl; then
        skip "opencl: not present (no plugin on the plugin path registers it)"
        continue
    fi
    for c in frozen_bn frozen_backbone unfreeze depth; do
        compare "$c" "$b"
    done
done


done_testing
