#!/bin/sh
# Per-sample weights from the data (csv weight_column) reach the loss:
# weights of 2 with plain SGD train exactly what the doubled learning rate
# trains, weights of 1 what no weights train; bad weights and columns are
# located errors.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.
. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

# x1, x2, class, then a weight column holding w.
awk 'BEGIN { srand(6); print "x1,x2,c"
    for (i = 0; i < 64; i++) { c = i % 3
        printf "%.4f,%.4f,%d\n", c + rand(), rand() - c, c } }' >plain.csv
for w in 1 2; do
    awk -F, -v w="$w" 'NR == 1 { print $0 ",w"; next } { print $0 "," w }' plain.csv >w$w.csv
done
cfg() {             # cfg NAME TRAIN.CSV LR [TRAIN KEYS] [DATA KEYS]
    cat >"$1.cfg" <<EOF2
name = "$1";
seed = 8;
backend = { type = "cpu"; threads = 1; };
data = { train = { type = "csv"; path = "$2"; header = true; label_column = 2; $4 };
         test = { type = "csv"; path = "plain.csv"; header = true; label_column = 2; };
         normalize = "zscore"; $5 };
model = ( { name = "fc"; type = "dense"; units = 3; } );
loss = { type = "cross_entropy"; label_smoothing = 0.1; };
optimizer = { type = "sgd"; lr = $3; };
train = { epochs = 3; batch_size = 8; };
EOF2
}
# The test figures of a run's last checkpoint: equal weights, equal figures.
figures() { "$dlhost" eval "$1.cfg" --weights "runs/$1/last.safetensors" 2>&1 | grep -v '^eval '; }

cfg none plain.csv 0.1
cfg ones w1.csv 0.1 "weight_column = 3;"
cfg twos w2.csv 0.05 "weight_column = -1;"
for c in none ones twos; do
    run_cmd "$dlhost" run "$c.cfg"
    is "$RC" 0 "run $c exits 0"
done
run_cmd "$dlhost" check ones.cfg
like "$OUT_FILE" "sample [2]" "the weight column is no feature"
[ "$(figures none)" = "$(figures ones)" ]
ok $? "weights of 1 train what no weights train"
[ "$(figures none)" = "$(figures twos)" ]
ok $? "weights of 2 at half the learning rate train what no weights train (plain SGD)"

# Through data.classes too.
cfg sub w2.csv 0.05 "weight_column = 3;" "classes = [2, 0];"
run_cmd "$dlhost" run sub.cfg
is "$RC" 0 "weights pass through data.classes"

bad() {             # bad DESCRIPTION STATUS PATTERN
    run_cmd "$dlhost" check bad.cfg
    is "$RC" "$2" "$1: exit $2"
    like "$ERR_FILE" "$3" "$1: says so"
}
awk -F, 'NR == 5 { $4 = -1 } { print }' OFS=, w1.csv >neg.csv
cfg bad neg.csv 0.1 "weight_column = 3;"
bad "a negative weight (malformed data)" 1 "neg.csv:5: field 4: weight '-1' is negative"
cfg bad w1.csv 0.1 "weight_column = 2;"
bad "the weight column is the label column" 2 "parameter 'weight_column': 2 is the label column"
cfg bad w1.csv 0.1 "weight_column = 7;"
bad "a weight column that does not exist" 2 "parameter 'weight_column': 7 is not a column"

done_testing
