#!/bin/sh
# train.diagnostics / `dlhost run --diagnose` (core/diagnose.h): the columns
# and values of diagnostics.csv on models whose answer is known (activation
# statistics of layers on the data against awk's, all ReLU units dead behind
# a bias of -100, a frozen layer, a learning rate far too high), the
# warnings once each, nothing without the option, the step loop still
# allocating nothing; and the newcomer traps (softmax before cross_entropy,
# a first-batch loss far from ln(classes), overfitting), each shown to warn
# on a trap model and not on a correct one.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH, DLHOST_BUILDDIR, DLHOST_SANITIZE.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

# Two classes from tests/data/good_train.csv (64 rows); x2 made negative
# everywhere, so a ReLU on the data never fires for it.
two_class_csv two.csv
awk -F, 'NR == 1 { print; next } { x2 = $2 < 0 ? $2 : -$2; print $1 "," (x2 - 0.1) "," $3 }' \
    two.csv >train.csv

# write_cfg FILE MODEL OPTIMIZER [TRAIN [DATA]]: an experiment on train.csv;
# TRAIN (more train keys) defaults to diagnostics = true.
write_cfg() {
    cat >"$1" <<EOF
name = "diag";
seed = 3;
backend = { type = "cpu"; };
data = { train = { type = "csv"; path = "train.csv"; header = true; }; $5 };
model = ( $2 );
loss = { type = "cross_entropy"; };
optimizer = { $3 };
train = { epochs = 2; batch_size = 8; ${4-diagnostics = true;} };
EOF
}

MODEL='{ name = "act"; type = "relu"; },
  { name = "t"; type = "tanh"; },
  { name = "flat"; type = "flatten"; },
  { name = "fc1"; type = "dense"; units = 8; },
  { name = "r1"; type = "relu"; },
  { name = "out"; type = "dense"; units = 2; }'
write_cfg ok.cfg "$MODEL" 'type = "adam"; lr = 0.01;'
run_cmd "$dlhost" run ok.cfg --runs runs
ok "$RC" "a run with train.diagnostics = true exits 0"
csv=runs/diag/diagnostics.csv
[ -f "$csv" ]
ok $? "diagnostics.csv is in the run directory"
is "$(head -n 1 "$csv")" \
    "epoch,layer,type,act_mean,act_std,zero_fraction,dead_fraction,grad_norm,update_ratio" \
    "diagnostics.csv's header"
is "$(awk -F, 'NR > 1 { printf "%s:%s:%s ", $1, $2, $3 }' "$csv")" \
    "1:act:relu 1:t:tanh 1:fc1:dense 1:r1:relu 1:out:dense 2:act:relu 2:t:tanh 2:fc1:dense 2:r1:relu 2:out:dense " \
    "a row per layer and epoch, in model order; none for the view 'flat'"
unlike "$ERR_FILE" "warning" "a healthy run gives no warning"

# act = relu(x) and t = tanh(relu(x)) over every value of the 64 samples,
# in double precision: mean, population standard deviation, exact zeros,
# and the units (features) never above 0.
awk -F, 'NR > 1 { for (j = 1; j <= 2; j++) { r = $j > 0 ? $j : 0; e = exp(2 * r)
        t = (e - 1) / (e + 1); n++; s += r; q += r * r; z += (r == 0); st += t; qt += t * t
        if (r > 0) fired[j] = 1 } }
    END { m = s / n; mt = st / n
        printf "act %.9g %.9g %.9g %.9g\n", m, sqrt(q / n - m * m), z / n, (2 - fired[1] - fired[2]) / 2
        printf "t %.9g %.9g %.9g %.9g\n", mt, sqrt(qt / n - mt * mt), z / n, (2 - fired[1] - fired[2]) / 2 }' \
    train.csv >want.txt
# close FILE: each of the four statistics of the layer in FILE's rows
# against want.txt (relative 1e-5, absolute 1e-7).
close() {
    [ -f "$1" ] || { echo "no $1"; return; }
    awk -F, 'NR == FNR { w[$1] = $0; next }
        FNR > 1 && ($2 in w) { split(w[$2], v, " ")
            for (k = 2; k <= 5; k++) { d = $(k + 2) - v[k]; if (d < 0) d = -d
                tol = 1e-5 * (v[k] < 0 ? -v[k] : v[k]) + 1e-7
                if ($(k + 2) == "" || d > tol) print "epoch " $1 " " $2 " column " k + 2 ": " $(k + 2) " want " v[k] } }' \
        FS=' ' want.txt FS=, "$1"
}
is "$(close "$csv")" "" \
    "act and t: mean, std, zero fraction and dead fraction as computed from the data in double precision, both epochs"
is "$(awk -F, '$2 == "act" { print $7 }' "$csv" | sort -u)" "0.5" \
    "act: x2 never above 0, so half of the units never fired"
is "$(awk -F, 'NR > 1 && ($2 == "act" || $2 == "t" || $2 == "r1") { print $8 $9 }' "$csv" | sort -u)" "" \
    "layers without parameters: no gradient norm, no update ratio"
is "$(awk -F, 'NR > 1 && ($2 == "fc1" || $2 == "out") && !($8 > 0 && $9 > 0 && $9 < 0.1) { print }' "$csv")" "" \
    "dense layers: a gradient norm > 0 and an update ratio in (0, 0.1)"

# Every unit of fc1 behind a bias of -100: r1 never fires.
DEAD=$(printf '%s' "$MODEL" | sed 's/units = 8;/units = 8; bias_init = { type = "constant"; value = -100.0; };/')
write_cfg dead.cfg "$DEAD" 'type = "adam"; lr = 0.01;'
run_cmd "$dlhost" run dead.cfg --runs dead
ok "$RC" "the dead-unit run exits 0"
like "$ERR_FILE" "r1: 100 % of units never fired in epoch 1 (8 of 8" "r1: 100 % never fired, named"
is "$(grep -c "never fired" "$ERR_FILE")" 1 "the dead-unit warning comes once (not again in epoch 2), and not for act's 50 %"
is "$(awk -F, '$2 == "r1" { print $6 ":" $7 }' dead/diag/diagnostics.csv | sort -u)" "1:1" \
    "r1: every value 0 and every unit dead in diagnostics.csv"
like "$ERR_FILE" "fc1: gradient norm 0 in epoch 1 — is this layer frozen? it is trainable, but no gradient reaches it" \
    "fc1 behind dead units: no gradient reaches it"

# fc1 frozen through optimizer.groups.
write_cfg frozen.cfg "$MODEL" 'type = "adam"; lr = 0.01; groups = ( { params = "fc1.*"; trainable = false; } );'
run_cmd "$dlhost" run frozen.cfg --runs frozen
ok "$RC" "the frozen-layer run exits 0"
like "$ERR_FILE" "fc1: gradient norm 0 in epoch 1 — is this layer frozen? optimizer.groups says so" \
    "a frozen layer: gradient norm 0, and why"
is "$(grep -c "gradient norm 0" "$ERR_FILE")" 1 "said once, for fc1 only"
is "$(awk -F, '$2 == "fc1" { print $8 ":" $9 }' frozen/diag/diagnostics.csv | sort -u)" "0:0" \
    "fc1 frozen: gradient norm 0 and update ratio 0"

# A learning rate far too high.
write_cfg hot.cfg "$MODEL" 'type = "adam"; lr = 3.0;'
run_cmd "$dlhost" run hot.cfg --runs hot
ok "$RC" "the lr = 3 run exits 0"
grep -Eq "^dlhost: warning: fc1: update/weight ratio [0-9]e[+-][0-9]+ in epoch 1, learning rate likely too high" "$ERR_FILE"
ok $? "lr = 3: fc1's update/weight ratio is called too high"
is "$(grep -c "fc1: update/weight ratio" "$ERR_FILE")" 1 "once for fc1"

# --diagnose sets train.diagnostics; without either, no file and no work.
sed 's/diagnostics = true;//' ok.cfg >plain.cfg
run_cmd "$dlhost" run plain.cfg --runs plain
ok "$RC" "a run without diagnostics exits 0"
[ ! -e plain/diag/diagnostics.csv ]
ok $? "without train.diagnostics there is no diagnostics.csv"
run_cmd "$dlhost" run plain.cfg --runs opt --diagnose
ok "$RC" "run --diagnose exits 0"
cmp -s opt/diag/diagnostics.csv runs/diag/diagnostics.csv
ok $? "--diagnose writes what train.diagnostics = true writes"
like opt/diag/config.cfg "diagnostics = true" "config.cfg records it"
run_cmd "$dlhost" check plain.cfg --diagnose
is "$RC" 2 "check --diagnose: exit status 2"
like "$ERR_FILE" "check: unknown option '--diagnose'" "check --diagnose: the option is named"
sed 's/diagnostics = true;/diagnostics = "yes";/' ok.cfg >bad.cfg
run_cmd "$dlhost" check bad.cfg
is "$RC" 2 "train.diagnostics = \"yes\": exit status 2"
like "$ERR_FILE" "diagnostics" "the bad value is named"

# A run resumed after epoch 1 keeps epoch 1's rows.
run_cmd env DLHOST_TEST_INTERRUPT_STEP=8 "$dlhost" run ok.cfg --runs res
is "$RC" 130 "a run stopped after epoch 1"
run_cmd "$dlhost" run ok.cfg --resume res/diag
ok "$RC" "and resumed"
cmp -s res/diag/diagnostics.csv runs/diag/diagnostics.csv
ok $? "the resumed run's diagnostics.csv equals the uninterrupted run's"

# The step loop allocates nothing with diagnostics on either.
bin=${DLHOST_BUILDDIR:-}/.libs/dlhost
[ -x "$bin" ] || bin=${DLHOST_BUILDDIR:-}/.libs/lt-dlhost
preload=${DLHOST_BUILDDIR:-}/tests/preload/.libs/malloc_count.so
if [ "${DLHOST_SANITIZE:-0}" = 1 ] || [ -z "${DLHOST_BUILDDIR:-}" ] || [ ! -x "$bin" ] ||
    [ ! -f "$preload" ]; then
    skip "allocation count: no uninstalled binary or preload (or a sanitizer build)"
else
    for bs in 16 4; do
        LD_LIBRARY_PATH=$DLHOST_BUILDDIR/core/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
            DLHOST_MALLOC_COUNT_FILE=$TAP_TMP/count.$bs LD_PRELOAD=$preload \
            "$bin" run ok.cfg --runs "alloc$bs" --set train.batch_size=$bs >/dev/null 2>&1
    done
    is "$(cat count.4 2>/dev/null || echo none)" "$(cat count.16 2>/dev/null || echo no count)" \
        "with diagnostics, four times the steps make the same number of allocation calls"
fi

# Channels: 32 samples of [2, 3, 3] whose channel 1 is never above 0; a
# ReLU on the data (units: the 2 channels), then a conv2d whose bias of -100
# kills its 4 channels.
awk 'BEGIN { srand(11); printf "c"; for (j = 0; j < 18; j++) printf ",p%d", j; print ""
    for (i = 0; i < 32; i++) { printf "%d", i % 2
        for (j = 0; j < 18; j++) printf ",%.3f", j < 9 ? rand() - 0.3 : -rand(); print "" } }' \
    >img.csv
cat >conv.cfg <<'EOF'
name = "conv";
seed = 5;
backend = { type = "cpu"; };
data = { train = { type = "csv"; path = "img.csv"; header = true; label_column = 0;
                   shape = [2, 3, 3]; }; };
model = (
  { name = "act"; type = "relu"; },
  { name = "conv"; type = "conv2d"; out_channels = 4; kernel_size = 3; padding = 1;
    bias_init = { type = "constant"; value = -100.0; }; },
  { name = "rc"; type = "relu"; },
  { name = "flat"; type = "flatten"; },
  { name = "out"; type = "dense"; units = 2; }
);
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.05; };
train = { epochs = 1; batch_size = 8; diagnostics = true; };
EOF
run_cmd "$dlhost" run conv.cfg --runs conv
ok "$RC" "the conv run exits 0"
awk -F, 'NR > 1 { for (j = 2; j <= 19; j++) { r = $j > 0 ? $j : 0; n++; s += r; q += r * r
        z += (r == 0); if (r > 0) fired[j < 11] = 1 } }
    END { m = s / n; printf "act %.9g %.9g %.9g %.9g\n", m, sqrt(q / n - m * m), z / n,
        (2 - fired[0] - fired[1]) / 2 }' img.csv >want.txt
is "$(close conv/conv/diagnostics.csv)" "" \
    "a ReLU on [2, 3, 3] samples: mean, std and zeros as computed from the data; its units are the channels"
is "$(awk -F, '$2 == "act" { print $7 }' conv/conv/diagnostics.csv)" "0.5" \
    "channel 1 never above 0: half of the channels never fired"
like "$ERR_FILE" "rc: 100 % of units never fired in epoch 1 (4 of 4 never above 0" \
    "the conv2d's 4 channels behind a bias of -100: all dead"

# The same statistics on opencl, where the plugin is on the path.
"$dlhost" plugins >plugins.txt 2>&1
if grep -q '^backend  *opencl ' plugins.txt; then
    for c in ok conv; do
        run_cmd "$dlhost" run $c.cfg --runs "ocl_$c" --backend opencl
        ok "$RC" "$c.cfg on opencl exits 0"
        name=$(sed -n 's/^name = "\(.*\)";/\1/p' $c.cfg)
        cpu=runs/diag; [ $c = conv ] && cpu=conv/conv
        is "$(awk -F, 'NR == FNR { v[FNR] = $0; next }
                { split(v[FNR], a, ","); for (k = 1; k <= NF; k++) { d = $k - a[k]; if (d < 0) d = -d
                  m = a[k] < 0 ? -a[k] : a[k]
                  if ($k != a[k] && (k < 4 || d > 1e-3 * m + 1e-6)) print FNR ": " $0 " against " v[FNR] } }' \
              "$cpu/diagnostics.csv" "ocl_$c/$name/diagnostics.csv")" "" \
            "$c.cfg: opencl's diagnostics.csv equals cpu's within 1e-3"
    done
else
    skip "the opencl plugin is not on the plugin path"
fi

# ---- newcomer traps

# softmax (or log_softmax) before cross_entropy: check and run warn.
HEAD='{ name = "fc1"; type = "dense"; units = 8; }, { name = "r1"; type = "relu"; },
  { name = "out"; type = "dense"; units = 2; }'
write_cfg sm.cfg "$HEAD, { name = \"probs\"; type = \"softmax\"; }" 'type = "adam"; lr = 0.01;' ''
run_cmd "$dlhost" check sm.cfg
ok "$RC" "check of softmax before cross_entropy exits 0"
like "$ERR_FILE" "layer 'probs' (softmax) feeds the loss 'cross_entropy', which applies log_softmax itself" \
    "check warns of softmax before cross_entropy"
like "$ERR_FILE" "remove layer 'probs'" "and says what to do"
run_cmd "$dlhost" run sm.cfg --runs sm
is "$(grep -c "(softmax) feeds the loss" "$ERR_FILE")" 1 "run warns of it once"
write_cfg lsm.cfg "$HEAD, { name = \"lp\"; type = \"log_softmax\"; }" 'type = "adam"; lr = 0.01;' ''
run_cmd "$dlhost" check lsm.cfg
like "$ERR_FILE" "layer 'lp' (log_softmax) feeds the loss 'cross_entropy'" \
    "log_softmax before cross_entropy is warned of"
sed 's/"cross_entropy"/"nll"/' lsm.cfg >nll.cfg
run_cmd "$dlhost" check nll.cfg
ok "$RC" "log_softmax before nll checks"
unlike "$ERR_FILE" "warning" "log_softmax before nll: no warning"
sed 's/"cross_entropy"/"nll"/' sm.cfg >smnll.cfg
run_cmd "$dlhost" check smnll.cfg
like "$ERR_FILE" "layer 'probs' (softmax) feeds the loss 'nll', which expects log-probabilities" \
    "softmax before nll is warned of"
write_cfg good.cfg "$HEAD" 'type = "adam"; lr = 0.01;' ''
run_cmd "$dlhost" check good.cfg
ok "$RC" "the same model without the softmax checks"
unlike "$ERR_FILE" "warning" "and gives no warning"

# The first batch's loss: inputs a thousand times too large.
run_cmd "$dlhost" run good.cfg --runs good
ok "$RC" "a correct run exits 0"
unlike "$ERR_FILE" "warning" "a correct run: no warning (first-batch loss near ln 2)"
awk -F, 'NR == 1 { print; next } { print $1 * 1000 "," $2 * 1000 "," $3 }' train.csv >big.csv
run_cmd "$dlhost" run good.cfg --runs big --set data.train.path=big.csv
grep -Eq "warning: the first batch's loss [0-9.e+]+ is far from ln\(2\) = 0.6931" "$ERR_FILE"
ok $? "inputs 1000 times too large: the first batch's loss is far from ln(2)"
sed 's/type = "cross_entropy";/type = "cross_entropy"; reduction = "sum";/' good.cfg >sum.cfg
run_cmd "$dlhost" run sum.cfg --runs sum
ok "$RC" "a correct run whose loss sums over the batch exits 0"
unlike "$ERR_FILE" "first batch" "reduction = \"sum\": the batch's mean is compared, no warning"
run_cmd "$dlhost" run sum.cfg --runs bigsum --set data.train.path=big.csv
like "$ERR_FILE" "the first batch's loss" "reduction = \"sum\" with inputs 1000 times too large still warns"

# Overfitting: 48 samples of noise with random labels to learn by heart,
# validated on 200 others.
awk 'BEGIN { srand(7); print "x1,x2,x3,x4,c"
    for (i = 0; i < 248; i++) printf "%.4f,%.4f,%.4f,%.4f,%d\n", rand(), rand(), rand(), rand(), rand() < 0.5 }' \
    >noise.csv
head -n 49 noise.csv >memo.csv
{ head -n 1 noise.csv; tail -n 200 noise.csv; } >val.csv
WIDE='{ name = "fc1"; type = "dense"; units = 128; }, { name = "r1"; type = "relu"; },
  { name = "out"; type = "dense"; units = 2; }'
write_cfg over.cfg "$WIDE" 'type = "adam"; lr = 0.01;' '' \
    'validation = { type = "csv"; path = "val.csv"; header = true; };'
run_cmd "$dlhost" run over.cfg --runs over --set data.train.path=memo.csv --set train.epochs=40
ok "$RC" "the run learning noise by heart exits 0"
grep -Eq "warning: overfitting from epoch [0-9]+: val_loss rose for 3 epochs" "$ERR_FILE"
ok $? "it is told 'overfitting from epoch N' (patience 3 by default)"
is "$(grep -c "overfitting from" "$ERR_FILE")" 1 "once"
run_cmd "$dlhost" run over.cfg --runs over5 --set data.train.path=memo.csv --set train.epochs=40 \
    --set train.early_stopping.patience=5 --set train.early_stopping.monitor=val_loss
grep -Eq "overfitting from epoch [0-9]+: val_loss rose for 5 epochs" "$ERR_FILE"
ok $? "with early stopping, its patience (5) is the trap's"
write_cfg fit.cfg "$HEAD" 'type = "adam"; lr = 0.01;' '' 'validation_split = 0.25;'
run_cmd "$dlhost" run fit.cfg --runs fit --set train.epochs=10
ok "$RC" "a correct run with validation exits 0"
unlike "$ERR_FILE" "overfitting" "a correct run is not called overfitting"

done_testing
