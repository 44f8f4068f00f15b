#!/bin/sh
# `dlhost compare RUNDIR...`: the runs' best metrics side by side (each
# value checked against metrics.csv with awk), the best epoch of each run's
# monitored metric, columns read by the header (a run with metric columns
# the others lack), the overlaid SVG, and the refusals: no run, a folder
# that is not a run, a malformed or unreadable metrics.csv (exit 2), an
# SVG that cannot be written (exit 1).
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.
. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1
two_class_csv two.csv
cat >a.cfg <<'EOF2'
name = "mlp";
seed = 1;
backend = { type = "cpu"; threads = 1; };
data = {
  train = { type = "csv"; path = "two.csv"; header = true; };
  validation = { type = "csv"; path = "two.csv"; header = true; };
};
model = ( { name = "fc1"; type = "dense"; units = 8; }, { type = "relu"; },
          { name = "out"; type = "dense"; units = 2; } );
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.1; };
train = { epochs = 5; batch_size = 16; };
EOF2
sed -e 's/lr = 0.1/lr = 0.5/' \
    -e 's/batch_size = 16; }/batch_size = 16; early_stopping = { monitor = "val_accuracy"; patience = 10; }; }/' \
    a.cfg >b.cfg
run_cmd "$dlhost" run a.cfg --runs a
is "$RC" 0 "run a trains"
run_cmd "$dlhost" run b.cfg --runs b --set train.epochs=7
is "$RC" 0 "run b trains (monitor val_accuracy, 7 epochs)"

# best CSV COLUMN min|max: "value @epoch" as compare prints it (%.6g),
# the first epoch on ties.
best() {
    awk -F, -v col="$2" -v dir="$3" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
        $c != "" && (e == 0 || (dir == "min" ? $c + 0 < b : $c + 0 > b)) { b = $c + 0; e = NR - 1 }
        END { printf "%.6g @%d\n", b, e }' "$1"
}

run_cmd "$dlhost" compare a/mlp b/mlp/
is "$RC" 0 "compare of two runs exits 0"
grep -Eq '^run +a/mlp +b/mlp$' "$OUT_FILE"
ok $? "one column per run; two runs named mlp go by their paths"
for spec in train_loss:min val_loss:min train_accuracy:max val_accuracy:max; do
    col=${spec%%:*}
    dir=${spec##*:}
    wa=$(best a/mlp/metrics.csv "$col" "$dir")
    wb=$(best b/mlp/metrics.csv "$col" "$dir")
    grep -Eq "^$col +$wa +$wb\$" "$OUT_FILE"
    ok $? "$col: the $dir over epochs of each run ($wa, $wb)"
done
grep -Eq '^epochs +5 +7$' "$OUT_FILE"
ok $? "the epoch count of each run"
ea=$(best a/mlp/metrics.csv val_loss min | sed 's/.*@//')
eb=$(best b/mlp/metrics.csv val_accuracy max | sed 's/.*@//')
grep -Eq "^best epoch +$ea \\(val_loss\\) +$eb \\(val_accuracy\\)\$" "$OUT_FILE"
ok $? "best epoch of each run's monitored metric (a: $ea by val_loss, b: $eb by val_accuracy)"
grep -Eq '^lr +0\.1 \(last\) +0\.5 \(last\)$' "$OUT_FILE"
ok $? "lr: the last value"
like "$OUT_FILE" "compare.svg: 2 runs drawn" "compare.svg in the current folder"
[ -s compare.svg ] && grep -q '>a/mlp</text>' compare.svg && grep -q '>b/mlp</text>' compare.svg
ok $? "the SVG's legend names both runs"
is "$(grep -c '<polyline' compare.svg)" 8 "train and validation, loss and accuracy, of each run"
grep -q 'stroke-dasharray' compare.svg
ok $? "train curves dashed"
if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' compare.svg
    ok $? "the SVG is well-formed XML"
else
    skip "no python3 to parse the SVG"
fi

# Columns by the header: a run with metric columns the others lack, and no
# checkpoint (its monitored metric assumed).
mkdir hand
cat >hand/metrics.csv <<'EOF2'
epoch,train_loss,val_loss,val_precision,val_loss.head_a,val_mae,lr,seconds,samples_per_s
1,0.9,0.8,0.5,0.7,2.5,0.1,1.5,100
2,0.6,0.7,0.75,0.4,1.5,0.1,2.5,300
3,0.5,0.75,0.7,0.45,1.75,0.05,1,200
EOF2
run_cmd "$dlhost" compare a/mlp hand --out h.svg
is "$RC" 0 "compare with a hand-made run exits 0"
grep -Eq '^val_precision +- +0\.75 @2$' "$OUT_FILE"
ok $? "a column only one run has: its maximum, '-' for the other"
grep -Eq '^val_loss\.head_a +- +0\.4 @2$' "$OUT_FILE"
ok $? "a head's loss column: its minimum"
grep -Eq '^val_mae +- +1\.5 @2$' "$OUT_FILE"
ok $? "mae: its minimum"
grep -Eq '^seconds +[0-9.e-]+ \(total\) +5 \(total\)$' "$OUT_FILE" &&
    grep -Eq '^samples_per_s +[0-9.e+]+ \(mean\) +200 \(mean\)$' "$OUT_FILE"
ok $? "seconds summed, samples_per_s averaged"
grep -Eq '^best epoch +[0-9]+ \(val_loss\) +2 \(val_loss\?\)$' "$OUT_FILE"
ok $? "no checkpoint: val_loss assumed, marked '?'"
grep -Eq '^train_accuracy +[0-9.]+ @[0-9]+ +-$' "$OUT_FILE"
ok $? "a column the hand-made run lacks: '-'"
[ -s h.svg ] && [ ! -e compare.svg.tmp ]
ok $? "--out FILE"

run_cmd "$dlhost" compare b/mlp
is "$RC" 0 "a single run is enough"
grep -Eq '^run +mlp$' "$OUT_FILE"
ok $? "a single run goes by its folder's name"

# Directions from the run's config.cfg: a precision renamed p_loss is a
# maximum there (a name ending in "loss" would say minimum); without a
# config.cfg that builds (moved away, or its data not found from the
# current folder) the name decides, and the legend says which.
sed -e 's/^loss = .*/&\nmetrics = ( { type = "precision"; name = "p_loss"; } );/' \
    -e 's/batch_size = 16; }/batch_size = 16; monitor = "val_p_loss"; }/' a.cfg >c.cfg
run_cmd "$dlhost" run c.cfg --runs c
is "$RC" 0 "run c trains (a metric named p_loss)"
run_cmd "$dlhost" compare c/mlp
is "$RC" 0 "compare of run c exits 0"
want=$(best c/mlp/metrics.csv val_p_loss max)
grep -Eq "^val_p_loss +$want\$" "$OUT_FILE"
ok $? "config.cfg: val_p_loss by its maximum ($want)"
like "$OUT_FILE" "lowest or highest as each run's config.cfg resolves the column" \
    "the legend: directions from config.cfg"
ec=$(echo "$want" | sed 's/.*@//')
mv c/mlp/last.safetensors c/mlp/last.old
run_cmd "$dlhost" compare c/mlp
grep -Eq "^best epoch +$ec \\(val_p_loss\\)\$" "$OUT_FILE"
ok $? "no checkpoint: the monitor of config.cfg, not assumed (epoch $ec by val_p_loss)"
mv c/mlp/last.old c/mlp/last.safetensors
mkdir elsewhere
(cd elsewhere && "$dlhost" compare ../c/mlp --out c.svg >../OUT2 2>&1)
want=$(best c/mlp/metrics.csv val_p_loss min)
grep -Eq "^val_p_loss +$want\$" OUT2
ok $? "config.cfg whose data is not found from here: by the name, its minimum ($want)"
like OUT2 "by the column's name for mlp (no config.cfg that builds here)" \
    "the legend: directions by name"
mv c/mlp/config.cfg c/mlp/config.old
run_cmd "$dlhost" compare a/mlp c/mlp
like "$OUT_FILE" "as the run's config.cfg resolves the column; by the column's name for c/mlp" \
    "the legend names the run without a config.cfg"

# Refusals.
rm -f compare.svg
refused() {             # refused STATUS DESCRIPTION TEXT ARGS...
    st=$1 desc=$2 text=$3
    shift 3
    run_cmd "$dlhost" compare "$@"
    is "$RC" "$st" "$desc: exit $st"
    like "$ERR_FILE" "$text" "$desc: says so"
}
refused 2 "no run folder" "compare: missing the run folders"
refused 2 "a missing folder" "nowhere: not a run folder (No such file or directory)" \
    a/mlp nowhere
mkdir empty
refused 2 "a folder without metrics.csv" "empty: not a run folder (it has no metrics.csv" empty
refused 2 "a file instead of a folder" "two.csv: not a run folder (not a folder at all" two.csv
mkdir bad
printf 'epoch,train_loss\n1,0.5\n2,zero\n' >bad/metrics.csv
refused 2 "a malformed metrics.csv" "bad/metrics.csv:3: field 2: expected a number or nothing" bad
printf 'loss,epoch\n0.5,1\n' >bad/metrics.csv
refused 2 "a metrics.csv of another program" "bad/metrics.csv:1: expected the header" bad
printf 'epoch,val_loss\n1,0.5\n3,0.4\n' >bad/metrics.csv
refused 2 "epochs out of order" "bad/metrics.csv:3: epoch 3, expected 2" bad
printf 'epoch,val_loss\n1,0.5,7\n' >bad/metrics.csv
refused 2 "a row with more fields than the header" "bad/metrics.csv:2: field 3: expected 2" bad
rm bad/metrics.csv
mkdir bad/metrics.csv
refused 2 "a metrics.csv that is a folder" "bad/metrics.csv: not a regular file" bad
[ ! -e compare.svg ]
ok $? "nothing drawn when a run is refused"
refused 1 "an SVG into a missing folder" "nowhere/c.svg" a/mlp --out nowhere/c.svg
refused 2 "--out without a value" "option '--out' needs a value" a/mlp --out
refused 2 "an unknown option" "compare: unknown option '--best'" a/mlp --best
if [ "$(id -u)" -ne 0 ]; then
    mkdir locked && cp a/mlp/metrics.csv locked/ && chmod 000 locked/metrics.csv
    refused 2 "an unreadable metrics.csv" "locked/metrics.csv: cannot open" locked
    chmod 644 locked/metrics.csv
else
    skip "root reads unreadable files"
fi

done_testing
