#!/bin/sh
# `dlhost cv CFG --folds K` (core/cv.h): K runs on disjoint folds of
# data.train, each fold's best epoch and the mean and sample standard
# deviation of every column in cv.csv, stratified folds, repeats, --refit;
# a rerun keeps finished folds and a stopped fold resumes to the same bytes
# as an uninterrupted cv; each refusal exits 2 with its message.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

two_class_csv train.csv         # 64 samples, two classes

cat >exp.cfg <<'CFG'
name = "cvt";
seed = 7;
backend = { type = "cpu"; threads = 2; };
data = {
  train = { type = "csv"; path = "train.csv"; header = true; };
  test  = { type = "csv"; path = "train.csv"; header = true; };
  normalize = "zscore";
};
model = (
  { name = "fc1"; type = "dense"; units = 8; },
  { type = "relu"; },
  { name = "out"; type = "dense"; units = 2; }
);
loss = { type = "cross_entropy"; };
optimizer = { type = "adam"; lr = 0.05; };
train = { epochs = 5; batch_size = 8;
          early_stopping = { monitor = "val_loss"; patience = 2; }; };
CFG

# The column named $2 of CSV file $1 (header first), one value a line.
column() {
    awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
                          { print $c }' "$1"
}

# ---- a stratified 4-fold cv
run_cmd "$dlhost" cv exp.cfg --folds 4 --stratified
is "$RC" 0 "cv --folds 4 --stratified exits 0"
is "$(grep -c '(+ 16 validation)' "$OUT_FILE")" 4 "each of the 4 runs validates on 16 of 64 samples"
for k in 1 2 3 4; do
    [ -f "runs/cvt/fold-$k/metrics.csv" ] && [ -f "runs/cvt/fold-$k/done.txt" ]
    ok $? "fold $k ran in runs/cvt/fold-$k and is marked done"
done
unlike "$OUT_FILE" "test  loss" "the folds leave the test set alone"
csv=runs/cvt/cv.csv
is "$(head -n 1 $csv)" \
   "repeat,fold,best_epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,samples_per_s" \
   "cv.csv names best_epoch and every metrics.csv column"
is "$(cut -d, -f1,2 $csv | tr '\n' ' ')" "repeat,fold 1,1 1,2 1,3 1,4 mean, std, " \
   "cv.csv: a row per fold, then mean and std"
# Each fold's row is its best epoch: the first of the lowest val_loss.
good=0
for k in 1 2 3 4; do
    want=$(awk -F, 'NR > 1 && (best == "" || $4 < best) { best = $4; e = $1 } END { print e }' \
               "runs/cvt/fold-$k/metrics.csv")
    got=$(column $csv best_epoch | sed -n "${k}p")
    wantloss=$(awk -F, -v e="$want" 'NR > 1 && $1 == e { printf "%.6f", $4 }' \
                   "runs/cvt/fold-$k/metrics.csv")
    gotloss=$(column $csv val_loss | sed -n "${k}p" | awk '{ printf "%.6f", $1 }')
    [ "$got" = "$want" ] && [ "$gotloss" = "$wantloss" ] || good=1
done
ok $good "each fold's row holds its best epoch (lowest val_loss) and that epoch's metrics"
# mean and sample standard deviation (ddof = 1) of the fold rows.
for col in best_epoch val_loss val_accuracy train_loss; do
    want=$(column $csv $col | head -n 4 | awk '{ s += $1; v[NR] = $1 }
        END { m = s / NR; for (i = 1; i <= NR; i++) d += (v[i] - m) ^ 2
              printf "%.6g %.6g", m, sqrt(d / (NR - 1)) }')
    got=$(column $csv $col | sed -n '5,6p' | awk '{ printf "%s%.6g", (NR > 1 ? " " : ""), $1 }')
    is "$got" "$want" "cv.csv: mean and sample std (ddof 1) of $col"
done
like "$OUT_FILE" "mean ± sample standard deviation (ddof = 1) over 4 runs:" \
     "the terminal summary says which standard deviation"
like "$OUT_FILE" "summary: runs/cvt/cv.csv" "it names cv.csv"
cp $csv first.csv

# ---- a rerun keeps every finished fold
run_cmd "$dlhost" cv exp.cfg --folds 4 --stratified
is "$RC" 0 "the rerun exits 0"
is "$(grep -c 'finished earlier, kept' "$OUT_FILE")" 4 "it keeps the 4 finished folds"
unlike "$OUT_FILE" "epoch 1/5" "and trains nothing"
cmp -s first.csv $csv
ok $? "cv.csv is the same"

# ---- stopped and rerun: the stopped fold resumes, the result is unchanged
run_cmd env DLHOST_TEST_INTERRUPT_STEP=3 "$dlhost" cv exp.cfg --folds 4 --stratified \
    --runs cut
is "$RC" 130 "a cv stopped by SIGINT exits 130"
like "$OUT_FILE" "cv: stopped in fold 1; run the same command again" "it says how to go on"
run_cmd "$dlhost" cv exp.cfg --folds 4 --stratified --runs cut
is "$RC" 0 "the rerun exits 0"
like "$OUT_FILE" "resumed from cut/cvt/fold-1/last.safetensors" "fold 1 resumes"
good=0
for k in 1 2 3 4; do
    cmp -s "runs/cvt/fold-$k/last.safetensors" "cut/cvt/fold-$k/last.safetensors" || good=1
done
ok $good "every fold's last.safetensors equals the uninterrupted cv's"
cut -d, -f1-7 $csv >a.csv
cut -d, -f1-7 cut/cvt/cv.csv >b.csv
cmp -s a.csv b.csv
ok $? "cv.csv's metrics equal the uninterrupted cv's"
# Killed after fold 2 had finished: fold 2 is kept, fold 3 resumes.
rm -f cut/cvt/fold-3/done.txt
run_cmd "$dlhost" cv exp.cfg --folds 4 --stratified --runs cut
like "$OUT_FILE" "cut/cvt/fold-2: finished earlier, kept" "a finished fold is kept"
like "$OUT_FILE" "resumed from cut/cvt/fold-3/last.safetensors" \
     "a fold without its done mark resumes (from its end: nothing to train)"

# Other folds (not stratified) are other runs: trained again.
run_cmd "$dlhost" cv exp.cfg --folds 4 --set train.epochs=2
is "$(grep -c 'finished earlier, kept' "$OUT_FILE")" 0 "another plan (here epochs) retrains"
run_cmd "$dlhost" cv exp.cfg --folds 4 --set train.epochs=2
is "$(grep -c 'finished earlier, kept' "$OUT_FILE")" 4 "and is kept in its turn"
run_cmd "$dlhost" cv exp.cfg --folds 4 --set train.epochs=2 --stratified
is "$(grep -c 'finished earlier, kept' "$OUT_FILE")" 0 "stratified folds are another plan"

# ---- repeats and refit
run_cmd "$dlhost" cv exp.cfg --folds 2 --repeats 2 --refit --runs rep
is "$RC" 0 "cv --folds 2 --repeats 2 --refit exits 0"
[ -d rep/cvt/repeat-1/fold-1 ] && [ -d rep/cvt/repeat-2/fold-2 ] && [ ! -d rep/cvt/fold-1 ]
ok $? "repeats run in repeat-r/fold-k"
is "$(cut -d, -f1,2 rep/cvt/cv.csv | tr '\n' ' ')" "repeat,fold 1,1 1,2 2,1 2,2 mean, std, " \
   "cv.csv: a row per repeat and fold"
cmp -s rep/cvt/repeat-1/fold-1/metrics.csv rep/cvt/repeat-2/fold-1/metrics.csv
ok $((! $?)) "another repeat has other folds"
mean=$(column rep/cvt/cv.csv best_epoch | sed -n 5p | awk '{ printf "%d", $1 + 0.5 }')
like "$OUT_FILE" "refit on all of data.train for $mean epoch" \
     "--refit trains for the rounded mean best epoch ($mean)"
like "$OUT_FILE" "run refit: cpu" "the refit is a run"
grep -A1 '64 samples, ' "$OUT_FILE" | grep -q 'rep/cvt/refit'
ok $? "on all 64 samples without validation, in runs/<name>/refit"
like "$OUT_FILE" "test  loss" "and evaluates data.test"
is "$(($(wc -l <rep/cvt/refit/metrics.csv) - 1))" "$mean" "it trained $mean epochs"

# ---- data.validation_split: replaced by the folds, said so
run_cmd "$dlhost" cv exp.cfg --folds 2 --set data.validation_split=0.5 --runs vs \
    --set train.epochs=1
is "$RC" 0 "cv with data.validation_split exits 0"
like "$OUT_FILE" "cv: data.validation_split 0.5 is not used" "it says the folds replace it"

# ---- metrics.csv's further columns (here a loss list's per-head ones) count too
awk -F, 'NR == 1 { print "x1,x2,r0,r1,c"; next }
         { print $1 "," $2 "," $3 "," $1 * $2 "," ($3 < 0 ? 0 : $3 < 1 ? 1 : 2) }' \
    "$DLHOST_SRCDIR/tests/data/good_train.csv" >multi.csv
cat >heads.cfg <<'CFG'
name = "heads";
seed = 11;
backend = { type = "cpu"; threads = 2; };
data = {
  train = { type = "csv"; path = "multi.csv"; header = true; label = "dense"; label_columns = 3; };
  normalize = "zscore";
};
model = (
  { name = "fc1"; type = "dense"; units = 8; },
  { name = "act"; type = "relu"; },
  { name = "cls"; type = "dense"; units = 3; inputs = ["act"]; },
  { name = "reg"; type = "dense"; units = 2; inputs = ["act"]; }
);
loss = ( { type = "cross_entropy"; output = "cls"; target = [2, 1]; },
         { type = "mse"; output = "reg"; weight = 0.5; target = [0, 2]; } );
optimizer = { type = "adam"; lr = 0.02; };
train = { epochs = 2; batch_size = 8; };
CFG
run_cmd "$dlhost" cv heads.cfg --folds 3 --runs heads
is "$RC" 0 "cv of a loss list exits 0"
is "$(head -n 1 heads/heads/cv.csv | cut -d, -f11-)" \
   "train_loss.cls,train_accuracy.cls,val_loss.cls,val_accuracy.cls,train_loss.reg,val_loss.reg" \
   "cv.csv carries metrics.csv's per-head columns by name"
want=$(column heads/heads/cv.csv val_loss.reg | head -n 3 | awk '{ s += $1 } END { printf "%.6g", s / 3 }')
is "$(column heads/heads/cv.csv val_loss.reg | sed -n 4p | awk '{ printf "%.6g", $1 }')" "$want" \
   "and their mean"
want=$(awk -F, 'END { printf "%.6g", $NF }' heads/heads/fold-2/metrics.csv)
is "$(column heads/heads/cv.csv val_loss.reg | sed -n 2p | awk '{ printf "%.6g", $1 }')" "$want" \
   "fold 2's value is its metrics.csv's"

# ---- refusals: exit 2, nothing written
refuse() {
    what=$1 msg=$2
    shift 2
    run_cmd "$dlhost" cv "$@" --runs refused
    is "$RC" 2 "$what exits 2"
    like "$ERR_FILE" "$msg" "$what: says why"
    [ ! -e refused ]
    ok $? "$what: writes nothing"
}
refuse "--folds 1" "cv: --folds: expected a whole number from 2 to 100000, got '1'" \
    exp.cfg --folds 1
refuse "--folds 65 of 64 samples" "cv: --folds 65 but data.train has 64 samples" \
    exp.cfg --folds 65
refuse "--folds x" "got 'x'" exp.cfg --folds x
refuse "no --folds" "cv: missing the number of folds" exp.cfg
refuse "no experiment" "cv: missing the experiment file" --folds 3
refuse "an unknown option" "cv: unknown option '--fold'" exp.cfg --fold 3
refuse "--repeats 0" "cv: --repeats: expected a whole number from 1" exp.cfg --folds 2 \
    --repeats 0
sed 's|normalize = "zscore";|validation = { type = "csv"; path = "train.csv"; header = true; };|' \
    exp.cfg >val.cfg
refuse "data.validation" "cv validates on folds of data.train (remove data.validation)" \
    val.cfg --folds 2
cp "$DLHOST_SRCDIR/tests/data/good.cfg" "$DLHOST_SRCDIR/tests/data/good_train.csv" .
refuse "--stratified of regression targets" "cv: --stratified needs class labels" \
    good.cfg --folds 2 --stratified
refuse "a missing file" "no-such.cfg" no-such.cfg --folds 2

# ---- the help lists it
run_cmd "$dlhost" --help
like "$OUT_FILE" "cv CFG --folds K" "--help lists cv"

done_testing
