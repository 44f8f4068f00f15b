#!/bin/sh
# data.classes: a subset of the classes, renumbered in the order listed, in
# training, validation, test and eval alike; bad lists are located errors.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.
. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

# 80 samples of 4 classes (20 each), class c centred at (c, -c).
awk 'BEGIN { srand(9); print "x1,x2,c"
    for (i = 0; i < 80; i++) { c = i % 4
        printf "%.4f,%.4f,%d\n", c + 0.2 * rand(), -c + 0.2 * rand(), c } }' >four.csv
# Class 2 missing from the test file.
awk -F, 'NR == 1 || $3 != 2' four.csv >test.csv
cat >c.cfg <<'EOF2'
name = "c";
seed = 2;
backend = { type = "cpu"; threads = 1; };
data = {
  train = { type = "csv"; path = "four.csv"; header = true; };
  test  = { type = "csv"; path = "test.csv"; header = true; };
  normalize = "zscore";
@include "classes.inc"
};
model = ( { name = "fc"; type = "dense"; units = 2; } );
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.5; };
train = { epochs = 20; batch_size = 8; };
EOF2

printf 'classes = [3, 1];\n' >classes.inc
run_cmd "$dlhost" check c.cfg
is "$RC" 0 "data.classes = [3, 1]: check exits 0"
like "$OUT_FILE" "csv: 40 samples" "only the samples of the two classes are kept"
run_cmd "$dlhost" run c.cfg
is "$RC" 0 "the run on two of four classes exits 0"
like "$OUT_FILE" "accuracy 1.0000  (40 samples)" \
     "the test set keeps its 40 samples of classes 3 and 1, classified right"
run_cmd "$dlhost" eval c.cfg --weights runs/c/last.safetensors
is "$RC" 0 "eval with data.classes exits 0"
# The confusion matrix is 2 x 2 with 20 on the diagonal: class 3 is 0 now.
grep -Eq '^ *0 +20 +0 *$' "$OUT_FILE" && grep -Eq '^ *1 +0 +20 *$' "$OUT_FILE"
ok $? "eval's confusion matrix is 2 x 2, classes renumbered in list order"

bad() {             # bad DESCRIPTION PATTERN
    run_cmd "$dlhost" check c.cfg
    is "$RC" 2 "$1: exit 2"
    like "$ERR_FILE" "$2" "$1: says so"
    grep -Eq 'classes\.inc:1: ' "$ERR_FILE"
    ok $? "$1: located"
}
printf 'classes = [3, 3];\n' >classes.inc
bad "a class listed twice" "data.classes: class 3 is listed twice"
printf 'classes = [1, 9];\n' >classes.inc
bad "a class outside the data" "data.classes: class 9 is not in the data's 0..3"
printf 'classes = ["cat"];\n' >classes.inc
bad "class names" "expected a list of class numbers"
printf 'classes = [];\n' >classes.inc
bad "an empty list" "expected a list of class numbers"
awk -F, 'NR == 1 || $3 != 1' four.csv >three.csv
sed -e 's/"four.csv"/"three.csv"/' c.cfg >c3.cfg
printf 'classes = [3, 1];\n' >classes.inc
run_cmd "$dlhost" check c3.cfg
is "$RC" 2 "a kept class without training samples: exit 2"
like "$ERR_FILE" "data.train: data.classes: class 1 has no sample" \
     "a kept class without training samples: says so"

# data.samples_per_class: the first N training samples of each kept class.
printf 'classes = [3, 1];\nsamples_per_class = 5;\n' >classes.inc
run_cmd "$dlhost" check c.cfg
is "$RC" 0 "samples_per_class = 5 with two classes: check exits 0"
like "$OUT_FILE" "csv: 10 samples" "five samples of each of the two classes train"
run_cmd "$dlhost" run c.cfg
is "$RC" 0 "the run on 10 samples exits 0"
like "$OUT_FILE" "(40 samples)" "the test set keeps all its samples of the two classes"
sed -e 's/units = 2;/units = 4;/' c.cfg >c4.cfg
printf 'samples_per_class = 3;\n' >classes.inc
run_cmd "$dlhost" check c4.cfg
is "$RC" 0 "samples_per_class alone: check exits 0"
like "$OUT_FILE" "csv: 12 samples" "three samples of each of the four classes"
printf 'samples_per_class = 1000;\n' >classes.inc
run_cmd "$dlhost" check c4.cfg
like "$OUT_FILE" "csv: 80 samples" "a count above every class's keeps all"
printf 'samples_per_class = 0;\n' >classes.inc
bad "samples_per_class = 0" "samples_per_class"
printf 'samples_per_class = "few";\n' >classes.inc
bad "samples_per_class a string" "samples_per_class"
awk -F, 'NR == 1 { print "x1,x2,y"; next } { print $1 "," $2 "," $3 * 0.5 }' four.csv >reg.csv
cat >r.cfg <<'EOF2'
name = "r";
backend = { type = "cpu"; threads = 1; };
data = { train = { type = "csv"; path = "reg.csv"; header = true; label = "dense"; };
         samples_per_class = 2; };
model = ( { name = "fc"; type = "dense"; units = 1; } );
loss = { type = "mse"; };
optimizer = { type = "sgd"; lr = 0.1; };
train = { epochs = 1; batch_size = 8; };
EOF2
run_cmd "$dlhost" check r.cfg
is "$RC" 2 "samples_per_class on regression targets: exit 2"
like "$ERR_FILE" "data.samples_per_class need class labels" \
     "samples_per_class on regression targets: says so"
grep -Eq 'r\.cfg:4: ' "$ERR_FILE"
ok $? "samples_per_class on regression targets: located"

done_testing
