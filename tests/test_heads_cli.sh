#!/bin/sh
# Multi-output models from the command line: `loss` as a list of heads.
# A multi-task run (a class head and a regression head on slices of one
# dense label) writes the weighted objective as train_loss/val_loss and
# per-head columns in metrics.csv and on the epoch line; dlhost check, eval
# and gradcheck name every head and plot reads the file; a run cut after 3
# epochs, or stopped by a signal inside an epoch, and resumed ends with the
# uninterrupted run's bytes and metrics (per-head columns included);
# auxiliary classifiers on the data's class labels (GoogLeNet's) train; a
# class column that is not a whole number in range stops the run with the
# key's file:line.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

# Two features; a dense label of 3 columns: y, x1 * x2 and a class 0..2 of y.
awk -F, 'NR == 1 { print "x1,x2,r0,r1,c"; next }
         { print $1 "," $2 "," $3 "," $1 * $2 "," ($3 < 0 ? 0 : $3 < 1 ? 1 : 2) }' \
    "$DLHOST_SRCDIR/tests/data/good_train.csv" >multi.csv
awk -F, 'NR == 3 { $5 = 1.5 } { print }' OFS=, multi.csv >frac.csv
awk -F, 'NR == 3 { $5 = 3 } { print }' OFS=, multi.csv >range.csv

cat >heads.cfg <<'EOF'
name = "heads";
seed = 11;
backend = { type = "cpu"; threads = 2; };
data = {
  train = { type = "csv"; path = "multi.csv"; header = true; label = "dense"; label_columns = 3; };
  test  = { type = "csv"; path = "multi.csv"; header = true; label = "dense"; label_columns = 3; };
  validation_split = 0.25;
  normalize = "zscore";
};
model = (
  { name = "fc1"; type = "dense"; units = 16; },
  { name = "act"; type = "relu"; },
  { name = "drop"; type = "dropout"; rate = 0.2; },
  { name = "cls"; type = "dense"; units = 3; inputs = ["drop"]; },
  { name = "reg"; type = "dense"; units = 2; inputs = ["drop"]; }
);
loss = ( { type = "cross_entropy"; output = "cls"; weight = 1.0; target = [2, 1]; },
         { type = "mse"; output = "reg"; weight = 0.5; target = [0, 2]; } );
optimizer = { type = "adam"; lr = 0.02; };
train = { epochs = 6; batch_size = 8;
          early_stopping = { monitor = "val_loss"; patience = 100; }; };
EOF

# metrics.csv without the timing columns (seconds, samples_per_s).
metrics() {
    cut -d, -f1-6,9- "$1/metrics.csv"
}

run_cmd "$dlhost" check heads.cfg
is "$RC" 0 "check: a loss list checks"
like "$OUT_FILE" "loss        cross_entropy on 'cls', weight 1, target [2, 1] (class indices, 3 classes)" \
     "check: the class head, its slice and classes"
like "$OUT_FILE" "            mse on 'reg', weight 0.5, target [0, 2]" "check: the regression head"

run_cmd "$dlhost" run heads.cfg --runs full
is "$RC" 0 "run: a two-head run exits 0"
cp "$OUT_FILE" full.out
header=$(head -n 1 full/heads/metrics.csv)
is "$header" "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,samples_per_s,train_loss.cls,train_accuracy.cls,val_loss.cls,val_accuracy.cls,train_loss.reg,val_loss.reg" \
   "metrics.csv: the 8 columns, then each head's (accuracy for the class head)"
is "$(awk -F, 'NR > 1 && NF == 14' full/heads/metrics.csv | wc -l | tr -d ' ')" 6 \
   "metrics.csv: 6 rows of 14 fields"
# train_loss and val_loss are the weighted objective; train_accuracy the
# primary (first) head's.
awk -F, 'NR > 1 { d = $2 - ($9 + 0.5 * $13); e = $4 - ($11 + 0.5 * $14);
                  if (d < 0) d = -d; if (e < 0) e = -e;
                  if (d > 1e-5 || e > 1e-5 || $3 != $10 || $5 != $12) bad = 1 }
         END { exit bad }' full/heads/metrics.csv
ok $? "metrics.csv: train_loss and val_loss are cls + 0.5 reg, accuracies the first head's"
grep -Eq '^epoch 1/6  train_loss [0-9.]+  train_accuracy [0-9.]+  val_loss [0-9.]+  val_accuracy [0-9.]+  train_loss\.cls [0-9.]+  train_accuracy\.cls [0-9.]+  val_loss\.cls [0-9.]+  val_accuracy\.cls [0-9.]+  train_loss\.reg [0-9.]+  val_loss\.reg [0-9.]+  lr ' full.out
ok $? "run: the epoch line carries the per-head values"
grep -Eq "^      head 'cls'  loss [0-9.]+  accuracy [0-9.]+  \(loss\[0\] cross_entropy, weight 1\)$" full.out &&
    grep -Eq "^      head 'reg'  loss [0-9.]+  \(loss\[1\] mse, weight 0.5\)$" full.out
ok $? "run: the test evaluation prints each head's loss (and accuracy)"

run_cmd "$dlhost" eval heads.cfg --weights full/heads/best.safetensors
is "$RC" 0 "eval: exits 0"
grep "^      head " full.out >run.heads
grep "^      head " "$OUT_FILE" >eval.heads
cmp -s run.heads eval.heads && [ "$(wc -l <eval.heads)" -eq 2 ]
ok $? "eval: each head's loss and accuracy, as the run's test evaluation gave them"
like "$OUT_FILE" "head 'cls': confusion matrix (rows = true class" \
     "eval: the confusion matrix is the class head's"

run_cmd "$dlhost" plot full/heads --out plot.svg
is "$RC" 0 "plot: draws a metrics.csv with per-head columns (the weighted totals)"

run_cmd "$dlhost" gradcheck heads.cfg
is "$RC" 0 "gradcheck: exits 0"
grep -Eq "^loss\[0\] 'cross_entropy' \(head 'cls'\) +max rel error .* ok$" "$OUT_FILE" &&
    grep -Eq "^loss\[1\] 'mse' \(head 'reg'\) +max rel error .* ok$" "$OUT_FILE"
ok $? "gradcheck: one line per head's loss"

# ---- resume: cut after 3 epochs, and stopped by a signal inside epoch 3.
metrics full/heads >full.csv
run_cmd "$dlhost" run heads.cfg --runs cut --set train.epochs=3
is "$RC" 0 "resume: the 3-epoch run exits 0"
run_cmd "$dlhost" run heads.cfg --resume cut/heads
is "$RC" 0 "resume: --resume to 6 epochs exits 0"
# same_as_full NAME: NAME/heads ended as the uninterrupted run did.
same_as_full() {
    cmp -s full/heads/last.safetensors "$1/heads/last.safetensors" &&
        cmp -s full/heads/best.safetensors "$1/heads/best.safetensors"
    ok $? "$1: last and best equal the uninterrupted run's, byte for byte"
    metrics "$1/heads" >"$1.csv"
    cmp -s full.csv "$1.csv"
    ok $? "$1: metrics.csv (each head's columns included) equals the uninterrupted run's"
}
same_as_full cut

# 48 training samples in batches of 8: 6 steps an epoch; step 15 is inside epoch 3.
run_cmd env DLHOST_TEST_INTERRUPT_STEP=15 "$dlhost" run heads.cfg --runs mid
is "$RC" 130 "interrupt: stopped by SIGINT inside epoch 3, exits 130"
run_cmd "$dlhost" run heads.cfg --resume mid/heads
is "$RC" 0 "interrupt: --resume exits 0"
like "$OUT_FILE" "batch 3 of epoch 3" "interrupt: it resumes inside epoch 3"
same_as_full mid

# ---- auxiliary classifiers on the data's class labels (no target slices).
two_class_csv two.csv
cat >aux.cfg <<'EOF'
name = "aux";
seed = 5;
data = { train = { type = "csv"; path = "two.csv"; header = true; }; validation_split = 0.25; };
model = (
  { name = "fc1"; type = "dense"; units = 8; },
  { type = "tanh"; },
  { name = "aux"; type = "dense"; units = 2; },
  { name = "fc2"; type = "dense"; units = 8; inputs = ["tanh1"]; },
  { type = "relu"; },
  { name = "main"; type = "dense"; units = 2; }
);
loss = ( { type = "cross_entropy"; output = "main"; },
         { type = "cross_entropy"; output = "aux"; weight = 0.3; label_smoothing = 0.1; } );
optimizer = { type = "sgd"; lr = 0.1; momentum = 0.9; };
train = { epochs = 4; batch_size = 8; early_stopping = { monitor = "val_accuracy"; }; };
EOF
run_cmd "$dlhost" run aux.cfg --runs aux
is "$RC" 0 "aux: auxiliary classifiers on the class labels train"
is "$(head -n 1 aux/aux/metrics.csv | cut -d, -f9-)" \
   "train_loss.main,train_accuracy.main,val_loss.main,val_accuracy.main,train_loss.aux,train_accuracy.aux,val_loss.aux,val_accuracy.aux" \
   "aux: both heads report loss and accuracy"
awk -F, 'NR > 1 && $5 != $12 { bad = 1 } END { exit bad }' aux/aux/metrics.csv
ok $? "aux: val_accuracy (the early-stopping monitor) is the first head's"

# ---- class columns that are not class indices stop the run at the key.
for f in frac range; do
    sed "s/multi.csv/$f.csv/g" heads.cfg >"$f.cfg"
    run_cmd "$dlhost" run "$f.cfg" --runs bad
    is "$RC" 2 "$f: a class column value out of its classes exits 2"
    want="holds 1.5"
    [ "$f" = range ] && want="holds 3"
    grep -Eq "$f\.cfg:[0-9]+: loss\[0\]: label column 2 $want \(sample [0-9]+ of the pass\); with target = \[2, 1\] loss 'cross_entropy' reads it as a class index of layer 'cls', a whole number in 0\.\.2" "$ERR_FILE"
    ok $? "$f: the message names the key's file:line, the value and the range"
done

# ---- bad lists from the command line: exit 2 with file:line.
sed 's/output = "reg"; weight = 0.5;/output = "regg"; weight = 0.5;/' heads.cfg >bad1.cfg
run_cmd "$dlhost" check bad1.cfg
is "$RC" 2 "bad: an unknown output exits 2"
grep -Eq "bad1\.cfg:[0-9]+: loss\[1\]: output 'regg' is not a layer of the model \(did you mean 'reg'\?\)" "$ERR_FILE"
ok $? "bad: the message names the place and the closest layer"
sed 's/weight = 0.5;/weight = -0.5;/' heads.cfg >bad2.cfg
run_cmd "$dlhost" check bad2.cfg
is "$RC" 2 "bad: a negative weight exits 2"
grep -Eq "bad2\.cfg:[0-9]+: loss\[1\]: parameter 'weight': expected a number >= 0" "$ERR_FILE"
ok $? "bad: the weight's file:line and range"

done_testing
