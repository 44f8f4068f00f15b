#!/bin/sh
# Metrics in a run (core/metrics.c): the `metrics` list's plugins on the
# validation data (and the training batches with train.metrics_on_train)
# add their columns to metrics.csv and the epoch line, the confusion matrix
# goes to confusion/epoch-N.csv; the columns equal scikit-learn's metrics of
# the epoch's predictions (read back from its confusion matrix; SKIP without
# sklearn); a single-logit BCE model gets val_accuracy; any column is
# monitored with its direction (best epoch, early stopping,
# reduce_on_plateau); a resumed run keeps the columns; and every bad
# setting is refused with its file:line.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

# Three classes of y (< 0, < 1, else) and a 0/1 label (y > 1) over x1, x2.
awk -F, 'NR == 1 { print "x1,x2,c"; next }
         { print $1 "," $2 "," ($3 < 0 ? 0 : $3 < 1 ? 1 : 2) }' \
    "$DLHOST_SRCDIR/tests/data/good_train.csv" >cls.csv
awk -F, 'NR == 1 { print "x1,x2,y"; next } { print $1 "," $2 "," ($3 > 1 ? 1 : 0) }' \
    "$DLHOST_SRCDIR/tests/data/good_train.csv" >bin.csv

cat >cls.cfg <<'CFG'
name = "cls";
seed = 3;
backend = { type = "cpu"; threads = 1; };
data = {
  train = { type = "csv"; path = "cls.csv"; header = true; label = "class"; };
  validation_split = 0.25;
  normalize = "zscore";
};
model = (
  { name = "fc1"; type = "dense"; units = 16; },
  { type = "relu"; },
  { name = "head"; type = "dense"; units = 3; }
);
loss = { type = "cross_entropy"; };
optimizer = { type = "adam"; lr = 0.02; };
schedule = { type = "reduce_on_plateau"; patience = 1; };
train = { epochs = 5; batch_size = 16; metrics_on_train = true;
          early_stopping = { monitor = "val_f1"; patience = 10; }; };
metrics = [ "accuracy", "precision", "recall", "f1", "confusion", "log_loss" ];
CFG

run_cmd "$dlhost" check cls.cfg
is "$RC" 0 "check of a run with metrics"
like "$OUT_FILE" "metrics     train_loss, train_accuracy, val_loss, val_accuracy, train_precision, train_recall, train_f1, train_log_loss, val_precision, val_recall, val_f1, val_log_loss (monitored: val_f1, higher is better)" \
    "check lists the columns and the monitored metric with its direction"

run_cmd "$dlhost" run cls.cfg
is "$RC" 0 "run with metrics"
is "$(head -n 1 runs/cls/metrics.csv)" \
    "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,samples_per_s,train_precision,train_recall,train_f1,train_log_loss,val_precision,val_recall,val_f1,val_log_loss" \
    "metrics.csv: the metrics' columns after the fixed ones, training first"
like "$OUT_FILE" "  val_f1 " "the epoch line shows the metrics"
is "$(ls runs/cls/confusion | tr '\n' ' ')" \
    "epoch-1.csv epoch-2.csv epoch-3.csv epoch-4.csv epoch-5.csv " \
    "one confusion matrix per epoch in confusion/"
is "$(head -n 1 runs/cls/confusion/epoch-5.csv)" 'true\predicted,0,1,2' \
    "confusion/epoch-N.csv: a header of predicted classes"
is "$(awk -F, 'NR > 1 { for (i = 2; i <= NF; i++) s += $i } END { print s }' \
      runs/cls/confusion/epoch-5.csv)" 16 "the matrix counts the 16 validation samples"

# val_accuracy (the argmax on the backend) is the confusion matrix's trace
# (the metric plugin's argmax of the host's softmax): the two paths agree.
trace=$(awk -F, 'NR > 1 { s += $(NR) } END { printf "%.9f", s / 16 }' \
        runs/cls/confusion/epoch-5.csv)
vacc=$(awk -F, 'NR == 6 { printf "%.9f", $5 }' runs/cls/metrics.csv)
is "$vacc" "$trace" "val_accuracy equals the confusion matrix's trace / samples"

# log_loss of the softmax probabilities is the cross-entropy loss.
awk -F, 'NR > 1 { d = $4 - $16; if (d < 0) d = -d; if (d > 1e-6 * $4) bad = 1 }
         END { exit bad }' runs/cls/metrics.csv
ok $? "val_log_loss equals val_loss (cross_entropy) within 1e-6 relative, every epoch"
awk -F, 'NR > 1 { d = $2 - $12; if (d < 0) d = -d; if (d > 1e-6 * $2) bad = 1 }
         END { exit bad }' runs/cls/metrics.csv
ok $? "train_log_loss equals train_loss within 1e-6 relative, every epoch"

# The monitored column: the best epoch is the one of the largest val_f1.
best=$(awk -F, 'NR > 1 && (b == "" || $15 > b) { b = $15; e = $1 } END { print e }' \
       runs/cls/metrics.csv)
like "$OUT_FILE" "restored the weights of epoch $best (val_f1 " \
    "early stopping on val_f1 restores the epoch of the largest val_f1"

# curves.svg: a third panel with the validation metrics (solid) and their
# training columns (dashed), named in a legend; dlhost plot draws the same.
like runs/cls/curves.svg '>metrics</text>' "curves.svg has a metrics panel"
for m in precision recall f1; do
    like runs/cls/curves.svg ">$m</text>" "curves.svg: $m in the metrics legend"
done
unlike runs/cls/curves.svg ">log_loss</text>" "curves.svg: a loss-like column stays out of it"
is "$(grep -c 'polyline class="s3[0-9]"' runs/cls/curves.svg)" 3 \
    "curves.svg: the three training metrics dashed beside their validation curves"
run_cmd "$dlhost" plot runs/cls --out replot.svg
cmp -s replot.svg runs/cls/curves.svg
ok $? "dlhost plot draws the run's curves.svg again, metrics panel included"

# scikit-learn's precision, recall and F1 (macro, its defaults for 3
# classes) of the epoch's predictions, rebuilt from the confusion matrix.
if /usr/bin/python3 -c 'import sklearn' 2>/dev/null; then
    /usr/bin/python3 - runs/cls <<'PY' >sk.txt 2>&1
import csv, sys
from sklearn.metrics import precision_score, recall_score, f1_score
run = sys.argv[1]
rows = list(csv.DictReader(open(run + "/metrics.csv")))
worst = 0.0
for r in rows:
    m = list(csv.reader(open("%s/confusion/epoch-%s.csv" % (run, r["epoch"]))))[1:]
    t, p = [], []
    for i, row in enumerate(m):
        for j, v in enumerate(row[1:]):
            t += [i] * int(float(v)); p += [j] * int(float(v))
    for name, f in (("precision", precision_score), ("recall", recall_score),
                    ("f1", f1_score)):
        want = f(t, p, average="macro", zero_division=0)
        worst = max(worst, abs(float(r["val_" + name]) - want))
print("worst %.3g" % worst)
PY
    awk '/^worst/ { exit !($2 < 1e-8) } END { if (NR == 0) exit 1 }' sk.txt
    ok $? "val_precision, val_recall, val_f1 equal scikit-learn's on every epoch ($(cat sk.txt))"
else
    skip "scikit-learn is not installed (Debian python3-sklearn)"
fi

# A single sigmoid output on 0/1 labels (bce_with_logits): accuracy and
# the other classification metrics, threshold 0.5.
cat >bin.cfg <<'CFG'
name = "bin";
seed = 3;
backend = { type = "cpu"; threads = 1; };
data = {
  train = { type = "csv"; path = "bin.csv"; header = true; label = "dense"; label_columns = 1; };
  validation_split = 0.25;
  normalize = "zscore";
};
model = ( { name = "fc1"; type = "dense"; units = 8; }, { type = "relu"; },
          { name = "head"; type = "dense"; units = 1; } );
loss = { type = "bce_with_logits"; };
optimizer = { type = "adam"; lr = 0.02; };
train = { epochs = 3; batch_size = 16; monitor = "val_accuracy"; };
metrics = [ "accuracy", "precision", "confusion" ];
CFG
run_cmd "$dlhost" run bin.cfg
is "$RC" 0 "a BCE model with metrics"
is "$(head -n 1 runs/bin/metrics.csv)" \
    "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,samples_per_s,val_precision" \
    "BCE: val_accuracy from the accuracy metric, val_precision after"
awk -F, 'NR > 1 && ($5 == "" || $3 != "") { bad = 1 } END { exit bad }' runs/bin/metrics.csv
ok $? "BCE: val_accuracy filled every epoch, train_accuracy empty (not asked)"
trace=$(awk -F, 'NR > 1 { s += $(NR) } END { printf "%.9f", s / 16 }' \
        runs/bin/confusion/epoch-3.csv)
is "$(awk -F, 'NR == 4 { printf "%.9f", $5 }' runs/bin/metrics.csv)" "$trace" \
    "BCE: val_accuracy is the 2x2 confusion matrix's trace / samples"

# A run stopped inside an epoch and resumed: the columns stay; the resumed
# epoch has no training metrics (they are not checkpointed), the
# validation ones equal the uninterrupted run's.
cp runs/cls/metrics.csv whole.csv
DLHOST_TEST_INTERRUPT_STEP=5 "$dlhost" run cls.cfg >/dev/null 2>&1
run_cmd "$dlhost" run cls.cfg --resume runs/cls
is "$RC" 0 "resume inside epoch 2 of a run with metrics"
awk -F, 'NR == 3 { print $9 $10 $11 $12 }' runs/cls/metrics.csv >t2.txt
is "$(cat t2.txt)" "" "the resumed epoch's training metrics are empty"
is "$(cut -d, -f13-16 runs/cls/metrics.csv)" "$(cut -d, -f13-16 whole.csv)" \
    "the validation metrics equal the uninterrupted run's"

# A fresh run of fewer epochs leaves no confusion matrix of the old run.
run_cmd "$dlhost" run cls.cfg --set train.epochs=2
is "$(ls runs/cls/confusion | tr '\n' ' ')" "epoch-1.csv epoch-2.csv " \
    "a new run removes the previous run's confusion matrices"

# Two entries of one metric, one renamed: columns val_precision and val_p2.
# (a libconfig list, in parentheses: an array [] holds only scalars).
sed 's/"recall"/{ type = "precision"; name = "p2"; }/; s/^metrics = \[\(.*\)\];/metrics = (\1);/' \
    cls.cfg >named.cfg
run_cmd "$dlhost" check named.cfg
is "$RC" 0 "a metric twice, one entry named"
like "$OUT_FILE" "val_precision, val_p2, val_f1" "the named entry's column is val_p2"

# Bad settings: one line each, with the file and line, exit status 2.
refused() { # NAME EDIT-SED WANT
    sed "$2" cls.cfg >"$1.cfg"
    run_cmd "$dlhost" check "$1.cfg"
    is "$RC" 2 "$1: exit status 2"
    like "$ERR_FILE" "$3" "$1: $3"
}
refused unknown 's/"recall", //; s/"f1"/"f11"/' \
    "unknown.cfg:19: metrics: unknown metric 'f11' (did you mean 'f1'?)"
refused not_list 's/^metrics = .*/metrics = 3;/' \
    "metrics: expected a list of names or groups"
refused twice 's/"recall"/"precision"/' \
    "metrics: column 'val_precision' twice; give one entry a name"
refused regression 's/"recall"/"mae"/' "metric 'mae'"
refused monitor 's/monitor = "val_f1"/monitor = "val_f2"/' \
    "train.early_stopping: monitor 'val_f2' is not a column of this run's metrics.csv (did you mean 'val_f1'?)"
refused mode 's/patience = 10;/patience = 10; mode = "min";/' \
    "train.early_stopping: mode 'min' but 'val_f1' improves upward"
refused plateau 's/patience = 1; }/patience = 1; mode = "min"; }/' \
    "parameter 'mode': 'min' but 'val_f1' improves upward"
refused no_val 's/validation_split = 0.25;//' \
    "train.early_stopping: monitor 'val_f1' needs validation data"

done_testing
