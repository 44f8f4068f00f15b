#!/bin/sh
# `dlhost run CFG --profile` (core/profile.h): profile.csv holds, for every
# epoch, the data, each layer's forward, the loss, the backward of each layer
# backward reaches, the guard, the update and "other", whose seconds add up
# to the epoch's training pass; the run prints the last epoch; without the
# option there is no profile.csv, and only `run` takes it.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

# Two classes from tests/data/good_train.csv (64 rows).
two_class_csv train.csv

# "pre" sits on the data with no parameters before it: backward skips it;
# "flat" is a view of pre's output: the graph calls neither its forward nor
# its backward.
cat >exp.cfg <<'EOF'
name = "prof";
seed = 3;
backend = { type = "cpu"; };
data = {
  train = { type = "csv"; path = "train.csv"; header = true; };
  validation_split = 0.25;
};
model = (
  { name = "pre"; type = "tanh"; },
  { name = "flat"; type = "flatten"; },
  { name = "fc1"; type = "dense"; units = 8; },
  { name = "act"; type = "relu"; },
  { name = "out"; type = "dense"; units = 2; }
);
loss = { type = "cross_entropy"; };
optimizer = { type = "adam"; lr = 0.01; };
train = { epochs = 3; batch_size = 8; };
EOF

run_cmd "$dlhost" run exp.cfg --runs runs --profile
ok "$RC" "run --profile exits 0"
like "$OUT_FILE" "profile of epoch 3 (" "the run prints the last epoch's profile"
like "$OUT_FILE" "update" "the printed profile names the update"
csv=runs/prof/profile.csv
[ -f "$csv" ]
ok $? "profile.csv is in the run directory"
is "$(head -n 1 "$csv")" "epoch,part,layer,seconds" "profile.csv's header"
is "$(awk -F, '$1 == 1 { printf "%s:%s ", $2, $3 }' "$csv")" \
    "data: load: forward:pre forward:fc1+act forward:out loss: backward:fc1+act backward:out guard: update: other: " \
    "epoch 1's parts in order; no backward row for 'pre', which backward skips, no row for the view 'flat'; 'act' runs inside fc1"
is "$(awk -F, 'NR > 1 { n[$1]++ } END { for (e in n) print e ":" n[e] }' "$csv" | sort | tr '\n' ' ')" \
    "1:11 2:11 3:11 " "eleven rows for each of the three epochs"
# As written (DLHOST_FOLD=0), the relu has rows of its own.
DLHOST_FOLD=0 run_cmd "$dlhost" run exp.cfg --runs plain --profile
ok "$RC" "DLHOST_FOLD=0 run --profile exits 0"
is "$(awk -F, '$1 == 1 { printf "%s:%s ", $2, $3 }' plain/prof/profile.csv)" \
    "data: load: forward:pre forward:fc1 forward:act forward:out loss: backward:fc1 backward:act backward:out guard: update: other: " \
    "DLHOST_FOLD=0: a row for each layer the graph calls"
is "$(awk -F, 'NR > 1 && !($4 ~ /^[0-9.e+-]+$/ && $4 >= 0) { print NR }' "$csv")" "" \
    "every time is a number of seconds, not below zero"
is "$(awk -F, '$2 == "forward" && !($4 > 0) { print $1 ":" $3 }' "$csv")" "" \
    "every layer's forward took some time in every epoch"
# add_up RUNDIR N: the parts of each epoch of the run in RUNDIR, whose
# training pass took N / samples_per_s, against that pass.
add_up() {
    awk -F, -v n="$2" 'FNR == 1 { next }
        NR == FNR { sum[$1] += $4; next }
        { pass = n / $8; d = sum[$1] - pass; if (d < 0) d = -d;
          if (d > 0.01 * pass + 1e-5) print $1 ": " sum[$1] " against " pass }' \
        "$1/profile.csv" "$1/metrics.csv"
}
# 48 training samples (64 less a quarter).
is "$(add_up runs/prof 48)" "" \
    "each epoch's parts add up to its training pass (metrics.csv's samples/s)"
# The rows 20 times over, 95% to validate: 64 training samples and 1216
# validation samples, whose forward passes count in no epoch.
awk 'NR == 1 { print; next } { row[NR] = $0 }
     END { for (k = 0; k < 20; k++) for (i = 2; i <= NR; i++) print row[i] }' \
    train.csv >big.csv
run_cmd "$dlhost" run exp.cfg --runs val --profile --set data.train.path=big.csv \
    --set data.validation_split=0.95
ok "$RC" "a run validating 19 times what it trains on"
is "$(add_up val/prof 64)" "" "its parts add up to the training passes: validation is not in them"

run_cmd "$dlhost" run exp.cfg --runs plain
ok "$RC" "the same run without --profile exits 0"
[ ! -e plain/prof/profile.csv ]
ok $? "without --profile there is no profile.csv"
unlike "$OUT_FILE" "profile of epoch" "and no profile is printed"

run_cmd "$dlhost" check exp.cfg --profile
is "$RC" 2 "check --profile: exit status 2"
like "$ERR_FILE" "check: unknown option '--profile'" "check --profile: the option is named"

done_testing
