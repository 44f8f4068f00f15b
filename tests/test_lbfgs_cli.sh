#!/bin/sh
# lbfgs as a user meets it through `dlhost run` (the step_all closure of ABI
# 1.6, core/closure.c): torch's default learning rate (1), each bad
# hyper-parameter refused with torch.optim's wording where it has one and
# exit status 2, a full-batch run, a run stopped inside an epoch or at an
# epoch's end and resumed ending with the uninterrupted run's bytes (the
# state lives in the checkpoint's optim.* tensors), and a closure evaluation
# that goes non-finite stopping the run with exit status 4.  The numbers
# against torch.optim.LBFGS are tests/test_lbfgs.c's.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1
two_class_csv train.csv

# cfg OPTIMIZER-GROUP [BATCH]: exp.cfg with that optimizer group.
cfg() {
    two_class_cfg lb tanh 4 "${2:-48}" "$1"
}

# ---- the default learning rate is torch's, 1
cfg '{ type = "lbfgs"; }'
run_cmd "$dlhost" check exp.cfg
is "$RC" 0 "lbfgs without lr: check exits 0"
like "$OUT_FILE" "lbfgs (lr 1" "lbfgs: the default learning rate is torch's, 1"

# ---- bad hyper-parameters: the words, the file's line, exit 2
refused() {
    cfg "$1"
    refused_at exp.cfg 15 "$2" "$1"
}
refused '{ type = "lbfgs"; lr = -1; }' "Invalid learning rate: -1"
refused '{ type = "lbfgs"; max_iter = 0; }' "Invalid max_iter value: 0"
refused '{ type = "lbfgs"; max_eval = 0; }' "Invalid max_eval value: 0"
refused '{ type = "lbfgs"; history_size = 0; }' "Invalid history_size value: 0"
refused '{ type = "lbfgs"; tolerance_grad = -1e-7; }' "Invalid tolerance_grad value: -1e-07"
refused '{ type = "lbfgs"; tolerance_change = -1.0; }' "Invalid tolerance_change value: -1"
refused '{ type = "lbfgs"; line_search_fn = "armijo"; }' "strong_wolfe"
refused '{ type = "lbfgs"; max_iter = 2.5; }' "max_iter"
refused '{ type = "lbfgs"; momentum = 0.9; }' "unknown parameter 'momentum'"

# ---- full batch, and resumed runs end with the uninterrupted run's bytes
# resumes NAME OPTIMIZER BATCH STOP: stopped after step STOP and resumed.
resumes() {
    cfg "$2" "$3"
    run_cmd "$dlhost" run exp.cfg --runs "$1.full"
    is "$RC" 0 "$1: the uninterrupted run exits 0"
    run_cmd env DLHOST_TEST_INTERRUPT_STEP="$4" "$dlhost" run exp.cfg --runs "$1.cut"
    is "$RC" 130 "$1: the run stopped after step $4 exits 130"
    run_cmd "$dlhost" run exp.cfg --resume "$1.cut/lb"
    is "$RC" 0 "$1: --resume exits 0"
    cmp -s "$1.full/lb/last.safetensors" "$1.cut/lb/last.safetensors"
    ok $? "$1: last.safetensors equals the uninterrupted run's, byte for byte"
}
# 48 training samples: one batch an epoch, stopped at an epoch's end
resumes wolfe '{ type = "lbfgs"; line_search_fn = "strong_wolfe"; history_size = 3; }' 48 2
# batches of 16: three steps an epoch, stopped inside the second
resumes plain '{ type = "lbfgs"; lr = 0.5; max_iter = 4; history_size = 5; }' 16 4
like wolfe.full/lb/metrics.csv "4," "wolfe: the full-batch run trains 4 epochs"
for n in optim.d optim.t optim.old_dirs optim.old_stps optim.ro optim.H_diag \
         optim.prev_flat_grad optim.prev_loss optim.n_iter optim.func_evals \
         optim.history_len optim.history_start; do
    grep -aq "\"$n\"" wolfe.full/lb/last.safetensors
    ok $? "the checkpoint holds $n"
done
grep -aq '"optim.old_dirs":{"dtype":"F32","shape":\[3,' wolfe.full/lb/last.safetensors
ok $? "optim.old_dirs is [history_size, N]"
if grep -aq '"optim.pool"' wolfe.full/lb/last.safetensors; then
    ok 1 "the line search's scratch is not saved"
else
    ok 0 "the line search's scratch is not saved"
fi

# ---- a closure evaluation that overflows: exit 4, the evaluation named
# (two dense layers without an activation and steps of 1e6: the weights
# grow until the logits overflow inside the step)
cfg '{ type = "lbfgs"; lr = 1e6; }' 64
sed -e '/type = "tanh"/d' -e '/validation_split/d' exp.cfg >big.cfg && mv big.cfg exp.cfg
run_cmd "$dlhost" run exp.cfg --runs big
is "$RC" 4 "lr 1e6: the run stops with exit status 4"
grep -Eq "optimizer 'lbfgs': closure evaluation [0-9]+ of the step: epoch 1/4, step 1 .*(nan|inf)" \
    "$ERR_FILE"
ok $? "it names the closure evaluation that went non-finite: $(cat "$ERR_FILE")"
[ ! -f big/lb/last.safetensors ]
ok $? "no checkpoint is written"
# ---- parameter groups: refused with torch's words; a frozen group is not
# one (torch's LBFGS just never sees those tensors), and penalties reach
# every closure evaluation (the run resumes bit-exact with them)
refused '{ type = "lbfgs"; groups = ( { params = "*.bias"; lr_mult = 0.5; } ); }' \
    "lbfgs doesn't support per-parameter options (parameter groups)"
cfg '{ type = "lbfgs"; regularization = { l2 = 0.01; };
  groups = ( { params = "fc1.*"; trainable = false; } ); }'
run_cmd "$dlhost" run exp.cfg --runs frozen
is "$RC" 0 "lbfgs with fc1 frozen and an l2 penalty: the run exits 0"
grep -aq '"optim.fc1.' frozen/lb/last.safetensors
ok $((! $?)) "lbfgs with fc1 frozen: no optimiser state for fc1"
grep -aq '"optim.old_dirs":{"dtype":"F32","shape":\[100,18\]' frozen/lb/last.safetensors
ok $? "lbfgs with fc1 frozen: its flat vector is out's 18 values only"

done_testing
