#!/bin/sh
# `dlhost run CFG --resume RUNDIR` (DESIGN.md sections 6 and 7): a run cut
# after a few epochs and resumed ends with the same bytes (last and best
# checkpoints) and the same metrics as the uninterrupted run on the cpu
# backend, with dropout, Adam's state, zscore statistics, a stateful schedule
# (reduce_on_plateau), the best checkpoint and early stopping; and each
# refusal gives its message and exit status and leaves the folder untouched.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

# Two classes from tests/data/good_train.csv (64 rows).
two_class_csv train.csv
# The same data with one value changed: other normalisation statistics.
awk -F, 'NR == 2 { $1 = $1 + 0.5 } { print }' OFS=, train.csv >train2.csv

cat >exp.cfg <<'EOF'
name = "resume";
seed = 7;
backend = { type = "cpu"; threads = 2; };
data = {
  train = { type = "csv"; path = "train.csv"; header = true; };
  test  = { type = "csv"; path = "train.csv"; header = true; };
  validation_split = 0.25;
  normalize = "zscore";
};
model = (
  { name = "fc1"; type = "dense"; units = 16; init = "he_normal"; },
  { type = "relu"; },
  { name = "drop"; type = "dropout"; rate = 0.2; },
  { name = "out"; type = "dense"; units = 2; }
);
loss = { type = "cross_entropy"; };
optimizer = { type = "adam"; lr = 0.02; };
# threshold 0.5: the rate halves at most epochs, so its state matters.
schedule = { type = "reduce_on_plateau"; patience = 0; factor = 0.5; threshold = 0.5; };
train = { epochs = 6; batch_size = 8; shuffle = true;
          early_stopping = { monitor = "val_loss"; patience = 100; }; };
EOF

# metrics.csv without the timing columns (seconds, samples_per_s).
metrics() {
    cut -d, -f1-6 "$1/metrics.csv"
}

# The folder's files, inodes and checksums: an atomic rewrite changes the inode.
snapshot() {
    (cd "$1" && ls -li && cksum ./*) 2>&1
}

# ---- the uninterrupted run, and the same run cut after 3 epochs and resumed.
# exact NAME MONITOR: runs both into NAME.full and NAME.cut and compares.
exact() {
    name=$1 mon="train.early_stopping.monitor=$2"
    run_cmd "$dlhost" run exp.cfg --runs "$name.full" --set "$mon"
    is "$RC" 0 "$name: the uninterrupted 6-epoch run exits 0"
    grep -e '^restored the weights' -e '^test ' "$OUT_FILE" >"$name.full.end"
    run_cmd "$dlhost" run exp.cfg --runs "$name.cut" --set "$mon" --set train.epochs=3
    is "$RC" 0 "$name: the 3-epoch run exits 0"
    is "$(metrics "$name.cut/resume" | wc -l | tr -d ' ')" 4 "$name: it wrote 3 metrics rows"
    cp -R "$name.cut/resume" "$name.at3"
    run_cmd "$dlhost" run exp.cfg --resume "$name.cut/resume" --set "$mon" \
        --set train.epochs=6
    is "$RC" 0 "$name: --resume to 6 epochs exits 0"
    like "$OUT_FILE" "resumed from $name.cut/resume/last.safetensors: epoch 3, step 18" \
         "$name: it says where it resumed (epoch 3, step 18)"
    unlike "$OUT_FILE" "epoch 3/6 " "$name: it trains no epoch before the 4th again"
    like "$OUT_FILE" "epoch 4/6 " "$name: it trains epoch 4"
    grep -e '^restored the weights' -e '^test ' "$OUT_FILE" >"$name.cut.end"
    cmp -s "$name.full/resume/last.safetensors" "$name.cut/resume/last.safetensors"
    ok $? "$name: last.safetensors equals the uninterrupted run's, byte for byte"
    cmp -s "$name.full/resume/best.safetensors" "$name.cut/resume/best.safetensors"
    ok $? "$name: best.safetensors equals the uninterrupted run's"
    metrics "$name.full/resume" >"$name.full.csv"
    metrics "$name.cut/resume" >"$name.cut.csv"
    cmp -s "$name.full.csv" "$name.cut.csv"
    ok $? "$name: metrics.csv rows 1-6 equal the uninterrupted run's (timings aside)"
    [ "$(wc -l <"$name.cut.csv")" -eq 7 ]
    ok $? "$name: metrics.csv holds one row per epoch, 1 to 6, once each"
    cmp -s "$name.full.end" "$name.cut.end" && [ "$(wc -l <"$name.cut.end")" -eq 2 ]
    ok $? "$name: the same best weights restored, the same test result: $(tr '\n' ' ' \
        <"$name.cut.end")"
}

exact loss val_loss
# val_accuracy ties do not improve: the best epoch comes before the resumed one
# and its weights come back from best.safetensors.
exact acc val_accuracy
grep -q '^restored the weights of epoch [12] ' acc.cut.end
ok $? "acc: the best epoch precedes the resumed epoch 3 ($(head -n 1 acc.cut.end))"
lrs=$(sed 1d acc.full.csv | cut -d, -f6 | tr '\n' ' ')
[ "$(sed 1d acc.full.csv | cut -d, -f6 | sort -u | wc -l)" -ge 4 ]
ok $? "acc: the rate changes across the resume (reduce_on_plateau's state is replayed): $lrs"
grep -q 'epochs = 6;' acc.cut/resume/config.cfg
ok $? "config.cfg is rewritten with the resumed settings"
[ "$(grep -c '<circle' acc.cut/resume/curves.svg)" -gt 0 ] &&
    cmp -s acc.full/resume/curves.svg acc.cut/resume/curves.svg
ok $? "curves.svg is redrawn with every epoch"

# ---- metrics rows at or after the resumed epoch are dropped: resume the
# 3-epoch checkpoint again after a later epoch's row was written.
cp -R loss.at3 again
printf '4,9,9,9,9,9,1,1\n' >>again/metrics.csv
run_cmd "$dlhost" run exp.cfg --resume again/ --set train.epochs=6
is "$RC" 0 "--resume with a stale row 4 in metrics.csv exits 0"
metrics again >again.csv
cmp -s loss.full.csv again.csv
ok $? "the stale row is dropped and the rows equal the uninterrupted run's"

# ---- --runs does not move a resumed run: it writes into RUNDIR
cp -R loss.at3 moved
run_cmd "$dlhost" run exp.cfg --runs elsewhere --resume moved --set train.epochs=4
is "$RC" 0 "--resume with --runs exits 0"
[ ! -e elsewhere ] && [ "$(metrics moved | wc -l | tr -d ' ')" -eq 5 ]
ok $? "the resumed run wrote into RUNDIR, not into the --runs folder"

# ---- early stopping across a resume: cut one epoch before the stop
run_cmd "$dlhost" run exp.cfg --runs stopfull --set train.epochs=40 \
    --set train.early_stopping.patience=1 --set train.early_stopping.monitor=val_accuracy
is "$RC" 0 "a 40-epoch run with patience 1 exits 0"
stop=$(($(wc -l <stopfull/resume/metrics.csv) - 1))
like "$OUT_FILE" "early stopping: val_accuracy has not improved" \
     "it stops early (after epoch $stop)"
grep '^restored the weights' "$OUT_FILE" >stopfull.restored
if [ "$stop" -ge 2 ] && [ "$stop" -lt 40 ]; then
    run_cmd "$dlhost" run exp.cfg --runs stopcut --set train.epochs=$((stop - 1)) \
        --set train.early_stopping.patience=1 --set train.early_stopping.monitor=val_accuracy
    is "$RC" 0 "the same run cut after epoch $((stop - 1)) exits 0"
    run_cmd "$dlhost" run exp.cfg --resume stopcut/resume --set train.epochs=40 \
        --set train.early_stopping.patience=1 --set train.early_stopping.monitor=val_accuracy
    is "$RC" 0 "its resume exits 0"
    like "$OUT_FILE" "early stopping: val_accuracy has not improved" \
         "the resumed run stops early too"
    grep '^restored the weights' "$OUT_FILE" >stopcut.restored
    cmp -s stopfull.restored stopcut.restored
    ok $? "it restores the same epoch ($(cat stopcut.restored))"
    cmp -s stopfull/resume/last.safetensors stopcut/resume/last.safetensors &&
        cmp -s stopfull/resume/best.safetensors stopcut/resume/best.safetensors
    ok $? "last and best checkpoints equal the uninterrupted run's"
    metrics stopfull/resume >a.csv
    metrics stopcut/resume >b.csv
    cmp -s a.csv b.csv
    ok $? "metrics rows equal the uninterrupted run's"
    cksum stopcut/resume/*.safetensors >stopcut.before
    run_cmd "$dlhost" run exp.cfg --resume stopcut/resume --set train.epochs=40 \
        --set train.early_stopping.patience=1 --set train.early_stopping.monitor=val_accuracy
    is "$RC" 0 "resuming a run that stopped early exits 0"
    like "$OUT_FILE" "the run had stopped early at epoch $stop" "and says it trains nothing"
    grep '^restored the weights' "$OUT_FILE" >stopcut.again
    cmp -s stopfull.restored stopcut.again
    ok $? "it restores the same epoch ($(cat stopcut.again))"
    cksum stopcut/resume/*.safetensors | cmp -s stopcut.before -
    ok $? "and leaves the checkpoints as they were"
else
    ok 1 "the patience-1 run should stop between epochs 2 and 39 (stopped at $stop)"
fi

# ---- a signal stops a run: after the step under way it saves where it is
# and exits 130 (SIGINT) or 143 (SIGTERM); --resume goes on from there, inside
# an epoch at its next batch, and ends as the uninterrupted run does.
# DLHOST_TEST_INTERRUPT_STEP=N raises SIGINT after step N.  48 training
# samples in batches of 8: 6 steps an epoch.
# interrupt NAME STEP: the val_loss run stopped after STEP, into NAME/resume.
interrupt() {
    run_cmd env DLHOST_TEST_INTERRUPT_STEP="$2" "$dlhost" run exp.cfg --runs "$1"
}

# stop_resume NAME STEP WHERE: interrupted after STEP, resumed, compared with loss.full.
stop_resume() {
    name=$1 step=$2 where=$3
    interrupt "$name" "$step"
    is "$RC" 130 "$name: the run stopped by SIGINT after step $step exits 130"
    like "$OUT_FILE" "interrupted (SIGINT) $where" "$name: it says where it stopped"
    like "$OUT_FILE" "dlhost run exp.cfg --resume $name/resume" "$name: and how to go on"
    unlike "$OUT_FILE" "test  loss" "$name: it skips the test evaluation"
    run_cmd "$dlhost" run exp.cfg --resume "$name/resume"
    is "$RC" 0 "$name: --resume exits 0"
    cp "$OUT_FILE" "$name.resumed"
    cmp -s loss.full/resume/last.safetensors "$name/resume/last.safetensors" &&
        cmp -s loss.full/resume/best.safetensors "$name/resume/best.safetensors"
    ok $? "$name: last and best checkpoints equal the uninterrupted run's, byte for byte"
    metrics "$name/resume" >"$name.csv"
    cmp -s loss.full.csv "$name.csv"
    ok $? "$name: metrics.csv equals the uninterrupted run's (timings aside)"
}

stop_resume mid3 15 "in epoch 3/6 after batch 3 of 6"
like mid3.resumed "resumed from mid3/resume/last.safetensors: epoch 2, step 15, batch 3 of epoch 3" \
     "mid3: the resume names the batch it goes on after"
unlike mid3.resumed "epoch 2/6 " "mid3: it trains no whole epoch again"
stop_resume mid1 2 "in epoch 1/6 after batch 2 of 6"
stop_resume end2 12 "after epoch 2/6"
like end2.resumed "resumed from end2/resume/last.safetensors: epoch 2, step 12" \
     "end2: at an epoch's last step the epoch ends first and resumes at the next"

# Stopped inside the epoch after the best one (acc's best is epoch 1): early
# stopping must restore epoch 1's weights, which last.safetensors carries as
# a copy, not the weights of the step the signal stopped after.
run_cmd env DLHOST_TEST_INTERRUPT_STEP=9 "$dlhost" run exp.cfg --runs accmid \
    --set train.early_stopping.monitor=val_accuracy
is "$RC" 130 "accmid: stopped inside epoch 2, the one after the best"
run_cmd "$dlhost" run exp.cfg --resume accmid/resume --set train.early_stopping.monitor=val_accuracy
is "$RC" 0 "accmid: --resume exits 0"
grep -e '^restored the weights' -e '^test ' "$OUT_FILE" >accmid.end
cmp -s acc.full.end accmid.end &&
    cmp -s acc.full/resume/last.safetensors accmid/resume/last.safetensors &&
    cmp -s acc.full/resume/best.safetensors accmid/resume/best.safetensors
ok $? "accmid: the best epoch's weights are restored, checkpoints equal ($(tr '\n' ' ' <accmid.end))"

# Where checkpoints are off, nothing is saved, and the run says so.
run_cmd env DLHOST_TEST_INTERRUPT_STEP=3 "$dlhost" run exp.cfg --runs nock \
    --set train.checkpoint.every_epochs=0
is "$RC" 130 "without checkpoints: exit 130"
like "$OUT_FILE" "nothing saved (train.checkpoint.every_epochs is 0)" \
     "without checkpoints: it says nothing was saved"
[ ! -e nock/resume/last.safetensors ]
ok $? "without checkpoints: no last.safetensors"

# A real SIGTERM to a run in its second epoch or later, then its resume.
"$dlhost" run exp.cfg --runs term --set train.epochs=100000 >term.out 2>term.err &
pid=$!
i=0
while [ "$i" -lt 600 ] && [ "$(cat term/resume/metrics.csv 2>/dev/null | wc -l)" -lt 2 ]; do
    sleep 0.1
    i=$((i + 1))
done
kill -TERM "$pid"
wait "$pid"
is "$?" 143 "a run sent SIGTERM exits 143"
like term.out "interrupted (SIGTERM) " "it says SIGTERM stopped it"
at=$(sed -n 's/.*interrupted (SIGTERM) in epoch \([0-9]*\)\/.*/\1/p' term.out)
[ -n "$at" ] || at=$(($(sed -n 's/.*interrupted (SIGTERM) after epoch \([0-9]*\)\/.*/\1/p' \
                         term.out) + 1))
run_cmd "$dlhost" run exp.cfg --resume term/resume --set train.epochs="$at"
is "$RC" 0 "its resume to the end of epoch $at exits 0"
is "$(metrics term/resume | wc -l | tr -d ' ')" "$((at + 1))" "with one metrics row per epoch"

# ---- refusals: each exits with its status and message and writes nothing.
# refuse STATUS TEXT DESCRIPTION RUNDIR [dlhost run ARGS...]
refuse() {
    want=$1 text=$2 what=$3 dir=$4
    shift 4
    before=$(snapshot "$dir")
    run_cmd "$dlhost" run "$@" --resume "$dir"
    is "$RC" "$want" "$what: exit $want"
    like "$ERR_FILE" "$text" "$what: the message says '$text'"
    is "$(snapshot "$dir")" "$before" "$what: nothing written"
    [ ! -e runs ]
    ok $? "$what: no runs/ folder made"
}

# A copy of the 6-epoch run for each refusal.
fresh() {
    rm -rf "$1"
    cp -R loss.cut/resume "$1"
}

# Inside an epoch the batches must be the same ones.
interrupt stopped 15
is "$RC" 130 "a run stopped inside epoch 3 for the refusals"
cp -R stopped/resume s
refuse 2 "resuming inside an epoch needs the same train.batch_size" \
    "another batch size inside an epoch" s exp.cfg --set train.batch_size=4
# The position edited to one past the epoch (same length).
LC_ALL=C sed 's/"batch":"3"/"batch":"9"/' s/last.safetensors >s/bad
[ "$(wc -c <s/bad)" -eq "$(wc -c <s/last.safetensors)" ] && mv s/bad s/last.safetensors
refuse 1 "do not fit epoch 3 of 6 steps" "a position outside the epoch" s exp.cfg

fresh r
refuse 2 "nothing to resume" "a checkpoint past train.epochs" r exp.cfg \
    --set train.epochs=4
# A run that had ended (or was killed after its last checkpoint) resumes to
# what follows training, and trains nothing.
cksum r/last.safetensors r/best.safetensors >r.before
run_cmd "$dlhost" run exp.cfg --resume r
is "$RC" 0 "a checkpoint at train.epochs: exit 0"
like "$OUT_FILE" "the run had trained all 6 epochs: nothing left to train" "and says so"
unlike "$OUT_FILE" "epoch 6/6 " "it trains no epoch"
grep -e '^restored the weights' -e '^test ' "$OUT_FILE" >r.end
cmp -s loss.full.end r.end
ok $? "it restores the best epoch and tests as the run did ($(tr '\n' ' ' <r.end))"
cksum r/last.safetensors r/best.safetensors | cmp -s r.before -
ok $? "the checkpoints stay as they were"

run_cmd "$dlhost" run exp.cfg --resume no-such-run
is "$RC" 2 "a missing RUNDIR: exit 2"
like "$ERR_FILE" "no-such-run: no such run folder" "a missing RUNDIR is named"
[ ! -e no-such-run ] && [ ! -e runs ]
ok $? "a missing RUNDIR: nothing created"

mkdir empty
refuse 2 "no last.safetensors to resume from" "a RUNDIR without last.safetensors" \
    empty exp.cfg --set train.epochs=8

fresh r
size=$(wc -c <r/last.safetensors)
head -c $((size - 8)) r/last.safetensors >r/cut && mv r/cut r/last.safetensors
refuse 1 "r/last.safetensors" "a truncated checkpoint" r exp.cfg --set train.epochs=8

fresh r
refuse 2 "resume refuses a changed model or optimizer" "another learning rate" r \
    exp.cfg --set train.epochs=8 --set optimizer.lr=0.05

sed 's/units = 16/units = 12/' exp.cfg >units.cfg
refuse 2 "resume refuses a changed model or optimizer" "another layer width" r \
    units.cfg --set train.epochs=8

sed 's/"adam"/"sgd"/' exp.cfg >sgd.cfg
refuse 2 "trained with optimizer 'adam', sgd.cfg asks for 'sgd'" "another optimizer" r \
    sgd.cfg --set train.epochs=8

grep -v '"dropout"' exp.cfg >nodrop.cfg
refuse 2 "resume needs the same plugins" "another plugin set (no dropout)" r \
    nodrop.cfg --set train.epochs=8

sed 's/"train.csv"/"train2.csv"/' exp.cfg >data2.cfg
refuse 2 "the data changed since it was written" "changed training data" r \
    data2.cfg --set train.epochs=8

# Without normalisation statistics the data fingerprint tells the change:
# a run on train.csv, resumed on train2.csv.
sed 's/normalize = "zscore";/normalize = "none";/' exp.cfg >raw.cfg
sed 's/"train.csv"/"train2.csv"/' raw.cfg >raw2.cfg
run_cmd "$dlhost" run raw.cfg --runs raw --set train.epochs=2
ok "$RC" "a run without normalisation"
refuse 2 "data.train of raw2.cfg differs from the checkpoint's" \
    "changed training data without normalisation statistics" raw/resume raw2.cfg \
    --set train.epochs=4
run_cmd "$dlhost" run raw.cfg --set train.epochs=4 --resume raw/resume
ok "$RC" "the same data resumes (the fingerprint matches)"

refuse 2 "the checkpoint monitored val_loss, this run monitors val_accuracy" \
    "another monitored metric" r exp.cfg --set train.epochs=8 \
    --set train.early_stopping.monitor=val_accuracy

# The same file with the format string of an earlier version (same length).
for old in 1 2; do
    fresh r
    LC_ALL=C sed "s/dlhost checkpoint 3/dlhost checkpoint $old/" r/last.safetensors >r/old
    [ "$(wc -c <r/old)" -eq "$(wc -c <r/last.safetensors)" ] && mv r/old r/last.safetensors
    refuse 2 "(format 'dlhost checkpoint $old', this one writes 'dlhost checkpoint 3')" \
        "a format-$old checkpoint" r exp.cfg --set train.epochs=8
done

# ---- last.safetensors is all --resume needs (issue 10): best.safetensors is
# rebuilt from it, byte for byte, when it is missing or holds another epoch.
# acc's best epoch precedes the resumed epoch 3, so last carries its copy.
# rebuilt NAME MONITOR FULL WHY: resumes NAME to 6 epochs, compared with FULL.
rebuilt() {
    run_cmd "$dlhost" run exp.cfg --resume "$1" --set "train.early_stopping.monitor=$2"
    is "$RC" 0 "$1: --resume exits 0"
    like "$OUT_FILE" "$1/best.safetensors $4, but the best epoch so far is" \
         "$1: it says best.safetensors $4 and is rebuilt"
    cmp -s "$3/resume/last.safetensors" "$1/last.safetensors" &&
        cmp -s "$3/resume/best.safetensors" "$1/best.safetensors"
    ok $? "$1: last and best checkpoints equal the uninterrupted run's, byte for byte"
}
cp -R acc.at3 nobest
rm nobest/best.safetensors
rebuilt nobest val_accuracy acc.full "is missing"
# A crash between writing best and last used to leave a best file newer than
# last ("holds epoch 5, but the best epoch so far is 3") that no resume got
# past: the uninterrupted run's best file in the 3-epoch folder.
cp -R loss.at3 ahead
cp loss.full/resume/best.safetensors ahead/best.safetensors
ahead_epoch=$(LC_ALL=C grep -ao '"epoch":"[0-9]*"' ahead/best.safetensors | tr -dc 0-9)
rebuilt ahead val_loss loss.full "holds epoch $ahead_epoch"
# Early stopping without best.safetensors (keep_best = false): the copy in
# last is what restores the best epoch.
run_cmd "$dlhost" run exp.cfg --runs nokeep.full --set train.early_stopping.monitor=val_accuracy \
    --set train.checkpoint.keep_best=false
is "$RC" 0 "keep_best = false: the uninterrupted run exits 0"
grep '^restored the weights' "$OUT_FILE" >nokeep.full.end
run_cmd "$dlhost" run exp.cfg --runs nokeep.cut --set train.early_stopping.monitor=val_accuracy \
    --set train.checkpoint.keep_best=false --set train.epochs=3
run_cmd "$dlhost" run exp.cfg --resume nokeep.cut/resume \
    --set train.early_stopping.monitor=val_accuracy --set train.checkpoint.keep_best=false
is "$RC" 0 "keep_best = false: --resume exits 0"
grep '^restored the weights' "$OUT_FILE" >nokeep.cut.end
[ ! -e nokeep.cut/resume/best.safetensors ] &&
    cmp -s nokeep.full/resume/last.safetensors nokeep.cut/resume/last.safetensors &&
    cmp -s nokeep.full.end nokeep.cut.end
ok $? "keep_best = false: no best file, the same last checkpoint and restored epoch ($(cat nokeep.cut.end))"
# A run stopped before its first checkpoint starts again from the beginning.
cp -R loss.at3 nolast
rm nolast/last.safetensors nolast/best.safetensors
run_cmd "$dlhost" run exp.cfg --resume nolast
is "$RC" 0 "no last.safetensors beside a metrics.csv: --resume exits 0"
like "$OUT_FILE" "no checkpoint was written before the run stopped; it starts again" \
     "and says it starts from the beginning"
cmp -s loss.full/resume/last.safetensors nolast/last.safetensors &&
    cmp -s loss.full/resume/best.safetensors nolast/best.safetensors
ok $? "and ends with the uninterrupted run's checkpoints"

run_cmd "$dlhost" run exp.cfg --resume
is "$RC" 2 "--resume without a folder exits 2"
like "$ERR_FILE" "option '--resume' needs a value" "and says so"
run_cmd "$dlhost" run exp.cfg --resume=
is "$RC" 2 "--resume= with an empty folder exits 2"
run_cmd "$dlhost" eval exp.cfg --weights x --resume r
is "$RC" 2 "--resume is refused by eval"
run_cmd "$dlhost" --help
like "$OUT_FILE" "--resume RUNDIR" "--help documents --resume"

# ---- a layer counter (batchnorm's num_batches_tracked, an I64 in the
# checkpoint) with momentum = "none", where it weighs every update: the
# resumed run is exact, and so is one resumed from a checkpoint written
# before the counter existed (it restarts from the step count).
sed -e 's/{ type = "relu"; },/{ name = "bn"; type = "batchnorm"; momentum = "none"; },\n  { type = "relu"; },/' \
    -e 's/name = "resume";/name = "bn";/' exp.cfg >bn.cfg
run_cmd "$dlhost" run bn.cfg --runs bn.full
is "$RC" 0 "batchnorm momentum none: the uninterrupted 6-epoch run exits 0"
run_cmd "$dlhost" run bn.cfg --runs bn.cut --set train.epochs=3
is "$RC" 0 "batchnorm momentum none: the 3-epoch run exits 0"
cp -R bn.cut/bn bn.old
run_cmd "$dlhost" run bn.cfg --resume bn.cut/bn --set train.epochs=6
is "$RC" 0 "batchnorm momentum none: --resume to 6 epochs exits 0"
cmp -s bn.full/bn/last.safetensors bn.cut/bn/last.safetensors &&
    cmp -s bn.full/bn/best.safetensors bn.cut/bn/best.safetensors
ok $? "batchnorm momentum none: last and best equal the uninterrupted run's, byte for byte"
py=
for c in python3 /usr/bin/python3; do
    if "$c" -c 'import json, struct' >/dev/null 2>&1; then
        py=$c
        break
    fi
done
if [ -n "$py" ]; then
    # st.py count FILE NAME: the I64 scalar; st.py strip FILE SUFFIX: the
    # file without the tensors whose name ends in SUFFIX.
    cat >st.py <<'PY'
import json, struct, sys
cmd, path, name = sys.argv[1:4]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head, data = json.loads(raw[8:8 + n]), raw[8 + n:]
if cmd == "count":
    d = head[name]
    a, b = d["data_offsets"]
    print(d["dtype"], d["shape"], struct.unpack("<q", data[a:b])[0])
    sys.exit(0)
out, blob = {}, b""
for k, d in head.items():
    if k == "__metadata__":
        out[k] = d
    elif not k.endswith(name):
        a, b = d["data_offsets"]
        out[k] = dict(d, data_offsets=[len(blob), len(blob) + b - a])
        blob += data[a:b]
h = json.dumps(out, separators=(",", ":")).encode()
h += b" " * (-len(h) % 8)
open(path, "wb").write(struct.pack("<Q", len(h)) + h + blob)
PY
    run_cmd "$py" st.py count bn.full/bn/last.safetensors bn.num_batches_tracked
    is "$(cat "$OUT_FILE")" "I64 [] 36" "num_batches_tracked is a 0-d I64 of the 36 steps taken"
    "$py" st.py strip bn.old/last.safetensors .num_batches_tracked
    run_cmd "$py" st.py count bn.old/last.safetensors bn.num_batches_tracked
    [ "$RC" -ne 0 ]
    ok $? "a checkpoint without num_batches_tracked (as before ABI 1.6)"
    run_cmd "$dlhost" run bn.cfg --resume bn.old --set train.epochs=6
    is "$RC" 0 "it resumes (exit 0)"
    cmp -s bn.full/bn/last.safetensors bn.old/last.safetensors
    ok $? "the counter restarts from the step count: last equals the uninterrupted run's"
else
    for i in 1 2 3 4 5; do skip "no python3 to read and edit safetensors headers"; done
fi

done_testing
