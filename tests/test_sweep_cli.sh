#!/bin/sh
# `dlhost sweep CFG --grid KEY=V1,V2 [--random N --range KEY=LO:HI[:log]]
# [--cv K]` (core/sweep.h): a run per combination or draw, the leaderboard
# sweep.csv sorted best first by the monitored metric, best.cfg; a rerun
# trains no finished run again and a stopped run resumes; a diverged run is
# listed; each refusal exits 2 with its message.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

two_class_csv train.csv         # 64 samples, two classes

cat >exp.cfg <<'CFG'
name = "swp";
seed = 3;
backend = { type = "cpu"; threads = 2; };
data = {
  train = { type = "csv"; path = "train.csv"; header = true; };
  test  = { type = "csv"; path = "train.csv"; header = true; };
  validation_split = 0.25;
  normalize = "zscore";
};
model = (
  { name = "fc1"; type = "dense"; units = 8; },
  { type = "relu"; },
  { name = "out"; type = "dense"; units = 2; }
);
loss = { type = "cross_entropy"; };
optimizer = { type = "adam"; lr = 0.02; };
train = { epochs = 3; batch_size = 8; };
CFG

# Whether column $2 of CSV $1 is sorted (numbers; "desc" for descending).
# Counted from the end: the run column is quoted and may hold commas.
sorted() {
    awk -F, -v name="$2" -v desc="$3" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = NF - i; next }
        { v = $(NF - c) }
        NR > 2 && (desc ? v > prev : v < prev) { bad = 1 }
        { prev = v }
        END { exit bad || c == "" }' "$1"
}

# ---- a 3 x 2 grid
grid="--grid optimizer.lr=0.001,0.01,0.05 --grid train.batch_size=8,16"
run_cmd "$dlhost" sweep exp.cfg $grid
is "$RC" 0 "sweep over a 3 x 2 grid exits 0"
is "$(ls runs/swp/sweep | wc -l | tr -d ' ')" 6 "six runs in runs/<name>/sweep/"
[ -f "runs/swp/sweep/lr=0.01,batch_size=16/metrics.csv" ]
ok $? "each in a folder named by its values (lr=0.01,batch_size=16)"
csv=runs/swp/sweep.csv
is "$(head -n 1 $csv)" "rank,run,optimizer.lr,train.batch_size,val_loss,best_epoch,status" \
   "sweep.csv: the values and the monitored metric (val_loss without early stopping)"
is "$(($(wc -l <$csv) - 1))" 6 "a row per run"
sorted $csv val_loss
ok $? "sorted by val_loss, lowest first"
# The score of a run is its best epoch's val_loss.
first=$(sed -n 2p $csv | sed 's/^1,"\([^"]*\)".*/\1/')
best=$(awk -F, 'NR > 1 && (b == "" || $4 < b) { b = $4 } END { printf "%.6f", b }' \
           "runs/swp/sweep/$first/metrics.csv")
is "$(sed -n 2p $csv | awk -F, '{ printf "%.6f", $(NF - 2) }')" "$best" \
   "the leader's score is the lowest val_loss of its metrics.csv"
unlike "$OUT_FILE" "test  loss" "the runs leave the test set alone"
like "$OUT_FILE" "sweep: 6 runs, best first by val_loss (lower is better)" \
     "the leaderboard is printed"
lr=$(sed -n 2p $csv | awk -F, '{ print $(NF - 4) }')
bs=$(sed -n 2p $csv | awk -F, '{ print $(NF - 3) }')
grep -q "lr = $lr" runs/swp/best.cfg && grep -q "batch_size = $bs;" runs/swp/best.cfg
ok $? "best.cfg holds the leader's values (lr $lr, batch_size $bs)"
run_cmd "$dlhost" check runs/swp/best.cfg
is "$RC" 0 "best.cfg checks (its data paths point back at the data)"
grep -q '^name = "swp";' runs/swp/best.cfg
ok $? "best.cfg keeps the experiment's name"

# ---- a rerun trains nothing
run_cmd "$dlhost" sweep exp.cfg $grid
is "$RC" 0 "the rerun exits 0"
is "$(grep -c 'finished earlier, kept' "$OUT_FILE")" 6 "it keeps the 6 finished runs"
unlike "$OUT_FILE" "epoch 1/3" "and trains none"
# One more grid value: only the new runs train.
grep -q '^1,".*",' "$csv"
ok $? "the ids hold commas: quoted in sweep.csv"
cp -R runs more
run_cmd "$dlhost" sweep exp.cfg --grid optimizer.lr=0.001,0.01 --grid train.batch_size=8 \
    --grid train.epochs=3 --runs more
is "$(grep -c 'finished earlier, kept' "$OUT_FILE")" 0 \
   "a third key names other runs (lr=0.001,batch_size=8,epochs=3 is another folder)"

# ---- stopped and rerun
run_cmd env DLHOST_TEST_INTERRUPT_STEP=4 "$dlhost" sweep exp.cfg $grid --runs cut
is "$RC" 130 "a sweep stopped by SIGINT exits 130"
like "$OUT_FILE" "sweep: stopped in lr=0.001,batch_size=8; run the same command again" \
     "it says how to go on"
[ ! -e "cut/swp/sweep/lr=0.001,batch_size=16" ]
ok $? "the runs after it have not started"
run_cmd "$dlhost" sweep exp.cfg $grid --runs cut
is "$RC" 0 "the rerun exits 0"
like "$OUT_FILE" "resumed from cut/swp/sweep/lr=0.001,batch_size=8/last.safetensors" \
     "the stopped run resumes"
cmp -s "runs/swp/sweep/lr=0.001,batch_size=8/last.safetensors" \
       "cut/swp/sweep/lr=0.001,batch_size=8/last.safetensors"
ok $? "and ends as the uninterrupted one"
cut -d, -f1-6 $csv >a.csv
cut -d, -f1-6 cut/swp/sweep.csv >b.csv
cmp -s a.csv b.csv
ok $? "the leaderboard equals the uninterrupted sweep's"

# ---- random draws
rnd="--random 4 --range optimizer.lr=0.0001:0.1:log --range train.batch_size=4:16"
run_cmd "$dlhost" sweep exp.cfg $rnd --runs rnd
is "$RC" 0 "--random 4 with two ranges exits 0"
is "$(($(wc -l <rnd/swp/sweep.csv) - 1))" 4 "four draws, four runs"
awk -F, 'NR > 1 { lr = $(NF - 4) + 0; bs = $(NF - 3)
                  if (lr < 0.0001 || lr > 0.1 || bs !~ /^[0-9]+$/ || bs < 4 || bs > 16) bad = 1 }
         END { exit bad }' rnd/swp/sweep.csv
ok $? "the draws lie in their ranges, batch_size a whole number"
run_cmd "$dlhost" sweep exp.cfg $rnd --runs rnd2
cut -d, -f2 rnd/swp/sweep.csv | sort >a.txt
cut -d, -f2 rnd2/swp/sweep.csv | sort >b.txt
cmp -s a.txt b.txt
ok $? "the same seed draws the same values"
run_cmd "$dlhost" sweep exp.cfg $rnd --runs rnd3 --set seed=4
cut -d, -f2 rnd3/swp/sweep.csv | sort >c.txt
cmp -s a.txt c.txt
ok $((! $?)) "another seed draws others"

# ---- the monitor of early stopping, highest first
run_cmd "$dlhost" sweep exp.cfg --grid optimizer.lr=0.001,0.05 --runs acc \
    --set train.early_stopping.monitor=val_accuracy --set train.early_stopping.patience=5
is "$RC" 0 "a sweep of an experiment that monitors val_accuracy exits 0"
is "$(head -n 1 acc/swp/sweep.csv)" "rank,run,optimizer.lr,val_accuracy,best_epoch,status" \
   "the leaderboard ranks by val_accuracy"
sorted acc/swp/sweep.csv val_accuracy desc
ok $? "highest first"

# ---- a metric's column as train.monitor: its own direction (log_loss: lowest first)
sed 's/^train = { epochs = 3; batch_size = 8; };/train = { epochs = 3; batch_size = 8; monitor = "val_log_loss"; };\
metrics = [ "log_loss", "f1" ];/' exp.cfg >met.cfg
run_cmd "$dlhost" sweep met.cfg --grid optimizer.lr=0.001,0.05 --runs met
is "$RC" 0 "a sweep of an experiment that monitors a metric (val_log_loss) exits 0"
is "$(head -n 1 met/swp/sweep.csv)" "rank,run,optimizer.lr,val_log_loss,best_epoch,status" \
   "the leaderboard ranks by train.monitor's column"
sorted met/swp/sweep.csv val_log_loss
ok $? "lowest first, as the metric declares"
like "$OUT_FILE" "best first by val_log_loss (lower is better)" "the leaderboard says which way"

# ---- --cv: each combination a cross-validation, its score the mean
run_cmd "$dlhost" sweep exp.cfg --grid optimizer.lr=0.01,0.05 --cv 2 --stratified --runs cv
is "$RC" 0 "sweep --cv 2 --stratified exits 0"
[ -f "cv/swp/sweep/lr=0.05/cv.csv" ] && [ -d "cv/swp/sweep/lr=0.05/fold-2" ]
ok $? "each combination is a cv in its folder"
mean=$(awk -F, '$1 == "mean" { printf "%.6f", $6 }' "cv/swp/sweep/lr=0.05/cv.csv")
got=$(awk -F, '$2 == "lr=0.05" { printf "%.6f", $4 }' cv/swp/sweep.csv)
is "$got" "$mean" "its score is the mean val_loss of its folds"

# ---- a diverged run is listed, the sweep goes on
run_cmd "$dlhost" sweep exp.cfg --grid optimizer.lr=0.01,1e5 --runs div \
    --set optimizer.type=sgd
is "$RC" 0 "a sweep with a diverging run exits 0"
like "$OUT_FILE" "sweep: lr=1e5 diverged:" "it says which run diverged"
is "$(tail -n 1 div/swp/sweep.csv)" '2,lr=1e5,1e5,,,diverged' "listed last as diverged"
run_cmd "$dlhost" sweep exp.cfg --grid optimizer.lr=0.01,1e5 --runs div \
    --set optimizer.type=sgd
unlike "$OUT_FILE" "epoch 1/3" "a rerun trains the diverged run not again either"

# ---- refusals: exit 2, nothing written
refuse() {
    what=$1 msg=$2
    shift 2
    run_cmd "$dlhost" sweep "$@" --runs refused
    is "$RC" 2 "$what exits 2"
    like "$ERR_FILE" "$msg" "$what: says why"
    [ ! -e refused ]
    ok $? "$what: writes nothing"
}
refuse "nothing to vary" "sweep: nothing to vary" exp.cfg
refuse "--range without --random" "sweep: --range draws values: it needs --random N" \
    exp.cfg --range optimizer.lr=0.1:1
refuse "--grid without values" "sweep: --grid 'optimizer.lr': expected KEY=V1,V2,..." \
    exp.cfg --grid optimizer.lr
refuse "an empty grid value" "sweep: --grid 'optimizer.lr=0.1,,0.2': an empty value" \
    exp.cfg --grid optimizer.lr=0.1,,0.2
refuse "a range LO >= HI" "sweep: --range 'optimizer.lr=1:0.1': expected LO < HI" \
    exp.cfg --random 2 --range optimizer.lr=1:0.1
refuse "a log range from 0" "a log range needs LO > 0" \
    exp.cfg --random 2 --range optimizer.lr=0:1:log
refuse "a bad scale" "expected KEY=LO:HI, KEY=LO:HI:log or KEY=LO:HI:lin" \
    exp.cfg --random 2 --range optimizer.lr=0.1:1:exp
refuse "a key twice" "sweep: 'optimizer.lr' is varied twice" \
    exp.cfg --grid optimizer.lr=1,2 --random 2 --range optimizer.lr=0.1:1
refuse "--random 0" "sweep: --random: expected a whole number from 1" \
    exp.cfg --random 0 --range optimizer.lr=0.1:1
refuse "--cv 1" "sweep: --cv: expected a whole number from 2" \
    exp.cfg --grid optimizer.lr=0.1,0.2 --cv 1
refuse "--stratified without --cv" "sweep: --stratified and --repeats go with --cv K" \
    exp.cfg --grid optimizer.lr=0.1,0.2 --stratified
refuse "a value that is not a setting" "--set \"optimizer.lr.x=1\"" \
    exp.cfg --grid optimizer.lr.x=1,2
# A misspelt key is the experiment's unknown key, at its first run.
run_cmd "$dlhost" sweep exp.cfg --grid optimizer.lrr=0.1,0.2 --runs typo
is "$RC" 2 "a misspelt key exits 2"
like "$ERR_FILE" "did you mean 'lr'" "the experiment names it"

run_cmd "$dlhost" --help
like "$OUT_FILE" "sweep CFG --grid KEY=V1,V2,..." "--help lists sweep"

done_testing
