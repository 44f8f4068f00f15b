#!/bin/sh
# `dlhost eval`'s classification report against scikit-learn's
# classification_report on the same predictions (tests/ref/eval_report_ref.h,
# printed by tests/ref/eval_report_ref.py): a dense layer initialised to the
# identity reads one-hot rows, so the prediction of test row i is the
# reference's pred[i].  Then --json (the same numbers, the confusion matrix,
# the class names), a regression model (the loss only), and --json paths
# that cannot be written (a clear message, exit 1, nothing written).
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.
. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1
ref=$DLHOST_SRCDIR/tests/ref/eval_report_ref.h

# ref_list NAME: the values of the one-line C array NAME, space separated.
ref_list() {
    sed -n "s/^static const [a-z *]*$1\[\] = { \(.*\) };\$/\1/p" "$ref" | tr -d ',"'
}
# ref_text NAME: the report's lines, as printed.
ref_text() {
    sed -n "/^static const char \*const $1\[\] = {\$/,/^};\$/p" "$ref" |
        sed -e '1d' -e '$d' -e 's/^"//' -e 's/",$//'
}

# scenario NAME CLASSES: test.csv (one-hot rows of pred, label true),
# train.csv (one row per class) and s.cfg.
scenario() {
    set -- "$1" "$2" "$(ref_list "report_$1_true")" "$(ref_list "report_$1_pred")"
    awk -v c="$2" -v t="$3" -v p="$4" 'BEGIN {
        n = split(t, tr, " "); split(p, pr, " ")
        for (j = 0; j < c; j++) printf "x%d,", j; print "y"
        for (i = 1; i <= n; i++) {
            for (j = 0; j < c; j++) printf "%s,", (j == pr[i] ? "3" : "0"); print tr[i]
        }
    }' >test.csv
    awk -v c="$2" 'BEGIN {
        for (j = 0; j < c; j++) printf "x%d,", j; print "y"
        for (i = 0; i < c; i++) {
            for (j = 0; j < c; j++) printf "%s,", (j == i ? "1" : "0"); print i
        }
    }' >train.csv
    cat >s.cfg <<EOF2
name = "report";
seed = 1;
backend = { type = "cpu"; threads = 1; };
data = {
  train = { type = "csv"; path = "train.csv"; header = true; };
  test  = { type = "csv"; path = "test.csv"; header = true; };
};
model = ( { name = "fc"; type = "dense"; units = $2; init = "eye"; bias_init = "zeros"; } );
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.1; };
train = { epochs = 1; batch_size = 4; };
EOF2
}

# The report block of the output: from the line after "classification
# report" to the blank line before the confusion matrix.
report_of() {
    awk '/classification report$/ { on = 1; next }
         /confusion matrix \(rows/ { on = 0 }
         on { print }' "$1" | sed '$d'
}

# The JSON numbers of a "per_class" entry or average: precision recall f1.
json_prf() {
    sed -n 's/.*"precision": \([^,]*\), "recall": \([^,]*\), "f1": \([^,]*\), .*/\1 \2 \3/p' "$1" |
        tr '\n' ' '
}

# close A B: two lists of numbers equal within 1e-12.
close() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        n = split(a, x, " "); m = split(b, y, " ")
        if (n != m || n == 0) exit 1
        for (i = 1; i <= n; i++) { d = x[i] - y[i]; if (d < 0) d = -d; if (d > 1e-12) exit 1 }
    }'
}

# le32 N: N as 4 little-endian bytes (printf escapes).
le32() {
    printf '\\%03o\\%03o\\%03o\\%03o' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) \
        $(($1 >> 24 & 255))
}

# --- 1. four named classes, one never predicted ----------------------------
scenario named 4
# The identity dense layer as a safetensors file that names the classes
# (class_name.K, as a run on an image folder writes them).
meta='"classes":"4"'
k=0
for n in $(ref_list report_named_names); do
    meta="$meta,\"class_name.$k\":\"$n\""
    k=$((k + 1))
done
hdr="{\"__metadata__\":{$meta},\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[4,4],\"data_offsets\":[16,80]}}"
while [ $((${#hdr} % 8)) -ne 0 ]; do hdr="$hdr "; done
{
    printf "$(le32 ${#hdr})$(le32 0)"
    printf '%s' "$hdr"
    printf '\000\000\000\000%.0s' 1 2 3 4
    for i in 0 1 2 3; do
        for j in 0 1 2 3; do
            if [ "$i" -eq "$j" ]; then printf '\000\000\200\077'; else printf '\000\000\000\000'; fi
        done
    done
} >named.safetensors

run_cmd "$dlhost" eval s.cfg --weights named.safetensors --json r.json
is "$RC" 0 "eval of four named classes exits 0"
report_of "$OUT_FILE" >got.txt
ref_text report_named_text >want.txt
cmp -s got.txt want.txt
ok $? "the report is scikit-learn's classification_report, character for character" ||
    diff want.txt got.txt | sed 's/^/#   /'
like "$OUT_FILE" "test  30 samples  loss " "the loss and sample count come first"
like "$OUT_FILE" "accuracy 0.6333" "the accuracy line of eval"
# The confusion matrix with the names: rows true, columns predicted.
like "$OUT_FILE" "              cat  dog  hippopotamus  eel" "its columns are headed by the names"
like "$OUT_FILE" "         cat    6    1             1    0" "row 'cat': 6 right, 1 as dog, 1 as hippopotamus"
like "$OUT_FILE" "         eel    2    2             2    0" "row 'eel': never predicted"
like "$OUT_FILE" "classes: 0 cat, 1 dog, 2 hippopotamus, 3 eel" "the index legend stays"

# --json: the same numbers as scikit-learn, the matrix, the names.
[ -f r.json ]
ok $? "--json writes the file"
want=$(ref_list report_named_values)
got=$(json_prf r.json | cut -d' ' -f1-12,16-21)     # micro_avg left out
close "$got" "$want"
ok $? "JSON precision, recall and f1 per class, macro and weighted averages equal sklearn's" ||
    { diag "got:  $got"; diag "want: $want"; }
like r.json '"classes": ["cat", "dog", "hippopotamus", "eel"]' "JSON: the class names"
like r.json '"support": 9}' "JSON: the support"
like r.json '"accuracy": 0.6333333333333333' "JSON: the accuracy, exactly"
tr -d ' \n' <r.json | grep -Fq '"confusion_matrix":[[6,1,1,0],[2,5,0,0],[0,1,8,0],[2,2,2,0]]'
ok $? "JSON: the confusion matrix, rows true"
loss_txt=$(sed -n 's/^test  30 samples  loss \([0-9.]*\).*/\1/p' "$OUT_FILE")
loss_json=$(sed -n 's/^  "loss": \(.*\),$/\1/p' r.json)
awk -v a="$loss_txt" -v b="$loss_json" 'BEGIN { d = a - b; exit !(d < 5e-7 && d > -5e-7) }'
ok $? "JSON: the loss printed ($loss_txt vs $loss_json)"
if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json, sys; json.load(open(sys.argv[1]))' r.json
    ok $? "the JSON parses"
else
    skip "no python3 to parse the JSON"
fi

# The same report on the opencl backend (the matrix is counted on the host).
if "$dlhost" plugins 2>/dev/null | grep -q '^backend  *opencl'; then
    run_cmd "$dlhost" eval s.cfg --weights named.safetensors --backend opencl
    report_of "$OUT_FILE" >got.txt
    ref_text report_named_text >want.txt
    cmp -s got.txt want.txt
    ok $? "opencl: the same report"
else
    skip "no opencl backend"
fi

# --- 2. no class names, a class absent: "micro avg" ------------------------
scenario unnamed 3
run_cmd "$dlhost" init s.cfg --out eye.safetensors
is "$RC" 0 "dlhost init writes the identity dense layer"
run_cmd "$dlhost" eval s.cfg --weights eye.safetensors --json=u.json
is "$RC" 0 "eval of three unnamed classes exits 0"
report_of "$OUT_FILE" >got.txt
ref_text report_unnamed_text >want.txt
cmp -s got.txt want.txt
ok $? "unnamed classes, one absent: scikit-learn's report (micro avg line)" ||
    diff want.txt got.txt | sed 's/^/#   /'
grep -Eq '^ +0 +4 +2 +0$' "$OUT_FILE"
ok $? "the confusion matrix keeps its numbered layout"
got=$(json_prf u.json | cut -d' ' -f1-9,13-18)      # micro_avg left out
want=$(ref_list report_unnamed_values)
close "$got" "$want"
ok $? "JSON of unnamed classes equals sklearn's" || { diag "got:  $got"; diag "want: $want"; }
like u.json '"classes": ["0", "1", "2"]' "JSON names unnamed classes by index"

# --- 3. bad --json paths -----------------------------------------------------
echo keep >old.json
run_cmd "$dlhost" eval s.cfg --weights eye.safetensors --json nowhere/r.json
is "$RC" 1 "--json into a missing folder: exit 1"
like "$ERR_FILE" "--json nowhere/r.json: folder 'nowhere': No such file or directory" \
     "it names the path and the folder"
[ ! -s "$OUT_FILE" ] && [ ! -e nowhere ]
ok $? "refused before evaluating, nothing written"
mkdir adir
run_cmd "$dlhost" eval s.cfg --weights eye.safetensors --json adir
is "$RC" 1 "--json naming a folder: exit 1"
like "$ERR_FILE" "--json adir: is a folder, expected a file name" "it says so"
run_cmd "$dlhost" eval s.cfg --weights eye.safetensors --json
is "$RC" 2 "--json without a value: exit 2"
like "$ERR_FILE" "option '--json' needs a value" "it says so"
run_cmd "$dlhost" eval s.cfg --weights eye.safetensors --json=
is "$RC" 2 "--json= (empty): exit 2"
if [ "$(id -u)" -ne 0 ]; then
    mkdir ro && chmod 555 ro
    run_cmd "$dlhost" eval s.cfg --weights eye.safetensors --json ro/r.json
    is "$RC" 1 "--json into a read-only folder: exit 1"
    like "$ERR_FILE" "cannot write into folder 'ro'" "it says so"
    [ -z "$(ls ro)" ]
    ok $? "nothing half-written in the read-only folder"
    chmod 755 ro
else
    skip "root writes into read-only folders"
fi
# An existing file is replaced whole (dlh_file_write_atomic): no temp left.
run_cmd "$dlhost" eval s.cfg --weights eye.safetensors --json old.json
is "$RC" 0 "--json over an existing file"
like old.json '"weighted_avg"' "the old file is replaced"
is "$(ls -a | grep -c '\.tmp')" 0 "no temporary file left behind"

# --- 4. a regression model: the loss only ------------------------------------
cat >reg.cfg <<'EOF2'
name = "reg";
seed = 1;
backend = { type = "cpu"; threads = 1; };
data = {
  train = { type = "csv"; path = "good_train.csv"; label = "dense"; header = true; };
  test  = { type = "csv"; path = "good_train.csv"; label = "dense"; header = true; };
};
model = ( { name = "out"; type = "dense"; units = 1; } );
loss = { type = "mse"; };
optimizer = { type = "sgd"; lr = 0.05; };
train = { epochs = 1; batch_size = 32; };
EOF2
cp "$DLHOST_SRCDIR/tests/data/good_train.csv" .
"$dlhost" init reg.cfg --out reg.safetensors >/dev/null 2>&1
run_cmd "$dlhost" eval reg.cfg --weights reg.safetensors --json reg.json
is "$RC" 0 "eval of a regression model exits 0"
like "$OUT_FILE" "regression targets: the loss only" "it says only the loss is computed"
unlike "$OUT_FILE" "precision" "no classification report"
like reg.json '"accuracy": null' "JSON: accuracy null"
unlike reg.json '"per_class"' "JSON: no per-class entries"

done_testing
