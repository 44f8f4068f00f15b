#!/bin/sh
# The optimisers of the "optimizers" plugin as a user meets them: PyTorch's
# default learning rates (`dlhost check` prints the one in use), each bad
# hyper-parameter refused with torch.optim's wording and exit status 2, a run
# stopped inside an epoch and resumed ending with the uninterrupted run's
# bytes for optimisers with the ABI 1.5 state (scalar states, states that
# start at a value, scratch, per-parameter steps), the checkpoint's names
# for that state, and (where a python3 with torch is found) that state
# loaded into torch.optim with load_state_dict.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1
two_class_csv train.csv

# cfg OPTIMIZER-GROUP: exp.cfg with that optimizer group.
cfg() {
    two_class_cfg opt relu 3 8 "$1"
}

# ---- defaults: PyTorch's learning rate for each
for pair in sgd:0.01 adam:0.001 rmsprop:0.01 adamw:0.001 nadam:0.002 radam:0.001 \
            adamax:0.002 adagrad:0.01 adadelta:1 asgd:0.01 rprop:0.01 lion:0.0001 \
            lamb:0.001; do
    t=${pair%%:*} lr=${pair#*:}
    cfg "{ type = \"$t\"; }"
    run_cmd "$dlhost" check exp.cfg
    is "$RC" 0 "$t without lr: check exits 0"
    like "$OUT_FILE" "$t (lr $lr" "$t: the default learning rate is torch's, $lr"
done

# ---- bad hyper-parameters: torch.optim's words, the file's line, exit 2
refused() {
    cfg "$1"
    refused_at exp.cfg 15 "$2" "$1"
}
refused '{ type = "adamw"; lr = -1; }' "Invalid learning rate: -1"
refused '{ type = "adamw"; betas = [1.0, 0.999]; }' "Invalid beta parameter at index 0: 1"
refused '{ type = "nadam"; betas = [0.9, 1.5]; }' "Invalid beta parameter at index 1: 1.5"
refused '{ type = "radam"; betas = [-0.1, 0.9]; }' "Invalid beta parameter at index 0: -0.1"
refused '{ type = "adamax"; betas = [0.9]; }' "expected two numbers, got one"
refused '{ type = "lion"; betas = [0.9, 1.0]; }' "Invalid beta parameter at index 1: 1"
refused '{ type = "lamb"; betas = [2.0, 0.9]; }' "Invalid beta parameter at index 0: 2"
refused '{ type = "adamw"; eps = -1e-8; }' "Invalid epsilon value: -1e-08"
refused '{ type = "nadam"; eps = -1.0; }' "Invalid epsilon value: -1"
refused '{ type = "radam"; eps = -1.0; }' "Invalid epsilon value: -1"
refused '{ type = "adamax"; eps = -1.0; }' "Invalid epsilon value: -1"
refused '{ type = "adagrad"; eps = -1.0; }' "Invalid epsilon value: -1"
refused '{ type = "adadelta"; eps = -1.0; }' "Invalid epsilon value: -1"
refused '{ type = "lamb"; eps = -1.0; }' "Invalid epsilon value: -1"
for t in adamw nadam radam adamax adagrad adadelta asgd lion lamb; do
    refused "{ type = \"$t\"; weight_decay = -0.1; }" "Invalid weight_decay value: -0.1"
done
refused '{ type = "nadam"; momentum_decay = -1; }' "Invalid momentum_decay value: -1"
refused '{ type = "adagrad"; lr_decay = -0.5; }' "Invalid lr_decay value: -0.5"
refused '{ type = "adagrad"; initial_accumulator_value = -1; }' \
    "Invalid initial_accumulator_value value: -1"
refused '{ type = "adadelta"; rho = 1.5; }' "Invalid rho value: 1.5"
refused '{ type = "adadelta"; rho = -0.5; }' "Invalid rho value: -0.5"
refused '{ type = "rprop"; etas = [1.5, 1.2]; }' "Invalid eta values: 1.5, 1.2"
refused '{ type = "rprop"; etas = [0.5, 0.9]; }' "Invalid eta values: 0.5, 0.9"
refused '{ type = "rprop"; step_sizes = [1.0, 0.5]; }' "Invalid step_sizes values: 1, 0.5"
refused '{ type = "rprop"; step_sizes = [1.0]; }' "expected two numbers, got one"
refused '{ type = "asgd"; t0 = "x"; }' "t0"
refused '{ type = "nadam"; amsgrad = true; }' "unknown parameter 'amsgrad'"
refused '{ type = "radam"; decoupled_weight_decay = 2; }' "decoupled_weight_decay"
refused '{ type = "lamb"; exclude_bias_and_norm = "yes"; }' "exclude_bias_and_norm"

# ---- stopped inside an epoch and resumed: the uninterrupted run's bytes.
# 48 training samples in batches of 8: 6 steps an epoch, 18 in all.
resumes() {
    name=$1
    cfg "$2"
    run_cmd "$dlhost" run exp.cfg --runs "$name.full"
    is "$RC" 0 "$name: the uninterrupted run exits 0"
    run_cmd env DLHOST_TEST_INTERRUPT_STEP=8 "$dlhost" run exp.cfg --runs "$name.cut"
    is "$RC" 130 "$name: the run stopped after step 8 exits 130"
    run_cmd "$dlhost" run exp.cfg --resume "$name.cut/opt"
    is "$RC" 0 "$name: --resume exits 0"
    cmp -s "$name.full/opt/last.safetensors" "$name.cut/opt/last.safetensors"
    ok $? "$name: last.safetensors equals the uninterrupted run's, byte for byte"
}
resumes nadam '{ type = "nadam"; lr = 0.01; weight_decay = 0.01; }'
resumes asgd '{ type = "asgd"; lr = 0.05; t0 = 4; lambd = 0.01; }'
resumes adagrad '{ type = "adagrad"; lr = 0.05; initial_accumulator_value = 0.1; lr_decay = 0.01; }'
resumes rprop '{ type = "rprop"; lr = 0.01; }'
resumes lamb '{ type = "lamb"; lr = 0.01; weight_decay = 0.01; exclude_bias_and_norm = true; }'

# The optimiser state by torch's names, a step count per parameter.
for n in optim.fc1.weight.step optim.out.bias.step optim.fc1.weight.exp_avg \
         optim.fc1.weight.mu_product; do
    grep -aq "\"$n\"" nadam.full/opt/last.safetensors
    ok $? "nadam's checkpoint holds $n"
done
for n in optim.fc1.bias.eta optim.fc1.bias.mu optim.fc1.bias.ax optim.fc1.bias.step; do
    grep -aq "\"$n\"" asgd.full/opt/last.safetensors
    ok $? "asgd's checkpoint holds $n"
done
grep -aq '"optim.fc1.weight.step":{"dtype":"F32","shape":\[\]' nadam.full/opt/last.safetensors
ok $? "a step is a float32 scalar (shape []), as torch keeps state['step']"

# ---- parameter groups, frozen tensors, penalties and clipping in a run
cfg '{ type = "sgd"; lr = 0.1; momentum = 0.9; weight_decay = 0.01;
  regularization = { l2 = 0.001; }; clip_norm = 1.0; norm_type = "inf"; clip_value = 0.5;
  groups = ( { params = ["*.bias"]; weight_decay = 0.0; regularization = { l2 = 0.0; }; },
             { params = "fc1.*"; trainable = false; },
             { params = "out.weight"; lr_mult = 0.5; max_norm = 2.0; } ); }'
run_cmd "$dlhost" check exp.cfg
is "$RC" 0 "groups: check exits 0"
like "$OUT_FILE" "gradient norm clipped at 1 (norm_type inf), gradients clamped to [-0.5, 0.5]" \
    "groups: check prints the clipping"
like "$OUT_FILE" "group: 2 tensors, 10 parameters (groups[0]), lr 0.1" \
    "groups: the bias group"
like "$OUT_FILE" "group: 1 tensor, 16 parameters (groups[1]), frozen" \
    "groups: fc1.weight frozen (fc1.bias went to the first group: first match wins)"
like "$OUT_FILE" "group: 1 tensor, 16 parameters (groups[2]), lr 0.05, l1 0, l2 0.001, max_norm 2" \
    "groups: lr_mult and the inherited penalty"
like "$OUT_FILE" "default group: 0 tensors, 0 parameters, lr 0.1, l1 0, l2 0.001" \
    "groups: nothing left for the default group"
resumes groups '{ type = "adam"; lr = 0.01; regularization = { l1 = 0.001; l2 = 0.01; };
  clip_norm = 0.5; norm_type = 3.0; clip_value = 0.2;
  groups = ( { params = "*.bias"; lr_mult = 2.0; amsgrad = true; },
             { params = "fc1.weight"; trainable = false; } ); }'
grep -aq '"optim.fc1.weight' groups.full/opt/last.safetensors
ok $((! $?)) "groups: a frozen tensor has no optimiser state in the checkpoint"
grep -aq '"optim.fc1.bias.max_exp_avg_sq"' groups.full/opt/last.safetensors
ok $? "groups: the amsgrad group's tensors keep max_exp_avg_sq"
grep -aq '"optim.out.weight.max_exp_avg_sq"' groups.full/opt/last.safetensors
ok $((! $?)) "groups: the default group's tensors keep no max_exp_avg_sq"

# The penalties are part of the reported training loss (as Keras reports it).
cfg '{ type = "sgd"; lr = 1e-6; }'
run_cmd "$dlhost" run exp.cfg --runs plain
cfg '{ type = "sgd"; lr = 1e-6; regularization = { l2 = 1.0; }; }'
run_cmd "$dlhost" run exp.cfg --runs penalised
a=$(awk -F, 'NR == 2 { print $2 }' plain/opt/metrics.csv)
b=$(awk -F, 'NR == 2 { print $2 }' penalised/opt/metrics.csv)
awk -v a="$a" -v b="$b" 'BEGIN { exit !(b > a + 1.0) }'
ok $? "the training loss includes l2 * sum(w^2): $a without, $b with"

refused '{ type = "sgd"; groups = ( { params = "nope.*"; } ); }' \
    "optimizer.groups[0]: pattern 'nope.*' matches no parameter"
refused '{ type = "sgd"; groups = ( { params = "fc1.*"; lr_mult = -1.0; } ); }' "lr_mult"
refused '{ type = "sgd"; groups = ( { params = "fc1.*"; trainable = false; momentum = 0.9; } ); }' \
    "'momentum' has no effect on a frozen group"

# ---- the state loads into torch.optim (its keys and shapes as torch's own)
py=
for c in ${TORCH_PYTHON:-} python3 /usr/bin/python3; do
    if "$c" -c "import torch, numpy" >/dev/null 2>&1; then
        py=$c
        break
    fi
done
if [ -z "$py" ]; then
    skip "no python3 with torch: the torch.optim load is not tried"
else
    for spec in "nadam NAdam" "asgd ASGD" "adagrad Adagrad" "rprop Rprop"; do
        set -- $spec
        run_cmd "$py" "$DLHOST_SRCDIR/tests/optim_torch_state.py" \
            "$1.full/opt/last.safetensors" "$2"
        is "$RC" 0 "$1: its state loads into torch.optim.$2 and steps there: $(cat "$OUT_FILE")"
    done
fi
done_testing
