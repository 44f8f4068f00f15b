#!/bin/sh
# train.sampler end to end: the balancing samplers train, a run stopped
# inside an epoch resumes to the uninterrupted run's weights, `dlhost check`
# names the sampler, and each bad setting is one located message, exit 2.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.
. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

# 60 samples: 50 of class 0, 10 of class 1.
awk 'BEGIN { srand(4); print "x1,x2,c"
    for (i = 0; i < 60; i++) { c = i < 50 ? 0 : 1
        printf "%.4f,%.4f,%d\n", rand() + c, rand() - c, c } }' >imb.csv
cat >s.cfg <<'EOF2'
name = "s";
seed = 3;
backend = { type = "cpu"; threads = 1; };
data = { train = { type = "csv"; path = "imb.csv"; header = true; }; normalize = "zscore"; };
model = ( { name = "fc"; type = "dense"; units = 2; } );
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.1; };
train = { epochs = 3; batch_size = 8;
@include "sampler.inc"
};
EOF2

for smp in weighted oversample undersample; do
    printf 'sampler = "%s";\n' "$smp" >sampler.inc
    run_cmd "$dlhost" run s.cfg --runs "$smp"
    is "$RC" 0 "sampler $smp: the run exits 0"
done
# Epoch sizes: weighted 60 draws (8 steps), oversample 2 x 50 (13 steps),
# undersample 2 x 10 (3 steps): the step counts of the checkpoints say so.
for pair in weighted:24 oversample:39 undersample:9; do
    smp=${pair%%:*} want=${pair##*:}
    grep -aq "\"step\":\"$want\"" "$smp/s/last.safetensors"
    ok $? "sampler $smp: 3 epochs are $want steps"
done

printf 'sampler = "oversample";\n' >sampler.inc
run_cmd "$dlhost" check s.cfg
like "$OUT_FILE" "3 epochs, batch size 8, classes oversampled to the largest" \
     "dlhost check names the sampler"
run_cmd env DLHOST_TEST_INTERRUPT_STEP=17 "$dlhost" run s.cfg --runs mid
is "$RC" 130 "oversample: stopped inside epoch 2 exits 130"
run_cmd "$dlhost" run s.cfg --resume mid/s
is "$RC" 0 "oversample: --resume exits 0"
cmp -s oversample/s/last.safetensors mid/s/last.safetensors
ok $? "oversample: the resumed run's checkpoint equals the uninterrupted run's"

printf 'sampler = "weighted"; class_weights = [1.0, 3.0];\n' >sampler.inc
run_cmd env DLHOST_TEST_INTERRUPT_STEP=11 "$dlhost" run s.cfg --runs wmid
run_cmd "$dlhost" run s.cfg --resume wmid/s
run_cmd "$dlhost" run s.cfg --runs wfull
cmp -s wfull/s/last.safetensors wmid/s/last.safetensors
ok $? "weighted with class weights: the resumed run's checkpoint equals the uninterrupted one"

bad() {             # bad DESCRIPTION PATTERN: sampler.inc holds the bad setting
    run_cmd "$dlhost" check s.cfg
    is "$RC" 2 "$1: exit 2"
    like "$ERR_FILE" "$2" "$1: says so"
    grep -Eq '(sampler\.inc|s\.cfg):[0-9]+: ' "$ERR_FILE"
    ok $? "$1: located"
}
printf 'sampler = "wieghted";\n' >sampler.inc
bad "an unknown sampler" 'expected one of "random", "sequential", "weighted", "oversample", "undersample", got "wieghted"'
printf 'sampler = "oversample"; class_weights = [1.0, 2.0];\n' >sampler.inc
bad "class_weights without the weighted sampler" "'class_weights' belongs to sampler 'weighted'"
printf 'sampler = "weighted"; class_weights = [1.0, 2.0, 3.0];\n' >sampler.inc
bad "class_weights of another length" "'class_weights' has 3 weights; the model has 2 classes"
printf 'sampler = "weighted"; class_weights = "even";\n' >sampler.inc
bad "class_weights neither balanced nor a list" "balanced"
printf 'sampler = "weighted"; class_weights = [1.0, -2.0];\n' >sampler.inc
bad "a negative class weight" "weight 1 is -2"
printf 'sampler = "undersample"; shuffle = false;\n' >sampler.inc
bad "shuffle = false with a balancing sampler" "keep one"
printf 'sampler = "weighted"; num_samples = 0;\n' >sampler.inc
bad "num_samples 0" "num_samples"

# A balancing sampler needs class labels.
sed -e 's/header = true; }/header = true; label = "dense"; label_columns = 1; }/' \
    -e 's/cross_entropy/mse/' -e 's/units = 2/units = 1/' s.cfg >dense.cfg
printf 'sampler = "oversample";\n' >sampler.inc
run_cmd "$dlhost" check dense.cfg
is "$RC" 2 "a balancing sampler on dense labels: exit 2"
like "$ERR_FILE" "sampler.inc:1: train: sampler 'oversample' balances classes, which needs class labels" \
     "a balancing sampler on dense labels: located, says why"

done_testing
