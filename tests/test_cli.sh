#!/bin/sh
# The `dlhost` command: help and version, usage errors (exit 2), the plugin
# table, a plugin folder with a broken plugin, `check` on a good file and on
# each bad file of tests/data (exit 2, file:line), and the exit statuses of
# `run` (0, and 4 when training diverges), and `plot` of a run's metrics.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH, DLHOST_FIXTURES.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
data=$DLHOST_SRCDIR/tests/data
abi=$(sed -n 's/^#define DLH_ABI_MAJOR \([0-9]*\).*/\1/p' \
          "$DLHOST_SRCDIR/include/dlhost/plugin.h").$(sed -n \
      's/^#define DLH_ABI_MINOR \([0-9]*\).*/\1/p' "$DLHOST_SRCDIR/include/dlhost/plugin.h")

# ---- help, version, usage errors
run_cmd "$dlhost" --help
is "$RC" 0 "--help exits 0"
like "$OUT_FILE" "usage: dlhost COMMAND" "--help prints the usage"
like "$OUT_FILE" "check CFG" "--help lists check"

run_cmd "$dlhost" --version
is "$RC" 0 "--version exits 0"
like "$OUT_FILE" "(plugin ABI $abi)" "--version prints the ABI $abi"
grep -q '^dlhost [0-9][0-9.]*' "$OUT_FILE"
ok $? "--version prints the version"

run_cmd "$dlhost"
is "$RC" 2 "no command exits 2"
like "$ERR_FILE" "missing command" "no command says so"

run_cmd "$dlhost" frobnicate
is "$RC" 2 "an unknown command exits 2"
like "$ERR_FILE" "unknown command 'frobnicate'" "an unknown command is named"
like "$ERR_FILE" "dlhost --help" "a usage error points to --help"

# The message names every command --help lists (one table makes both), and
# each command's lines of --help start a line of their own.
run_cmd "$dlhost" --help
cp "$OUT_FILE" "$TAP_TMP/help.txt"
cmds=$(sed -n '/^Commands:/,/^Options:/s/^  \([a-z][a-z]*\) .*/\1/p' "$TAP_TMP/help.txt" |
       sort -u)
is "$(echo $cmds | wc -w)" 14 "--help lists 14 commands"
run_cmd "$dlhost" frobnicate
missing=
for c in $cmds; do
    grep -Eq "[(, ]$c(, | or |\))" "$ERR_FILE" || missing="$missing $c"
done
is "$missing" "" "the unknown-command message names every command of --help"
grep -q '^  init CFG --out FILE' "$TAP_TMP/help.txt"
ok $? "--help: init starts a line (not run on from sweep's last line)"

run_cmd "$dlhost" --frobnicate
is "$RC" 2 "an unknown option exits 2"

run_cmd "$dlhost" check
is "$RC" 2 "check without a file exits 2"
like "$ERR_FILE" "missing the experiment file" "check without a file says so"

run_cmd "$dlhost" check "$data/good.cfg" --bogus
is "$RC" 2 "check with an unknown option exits 2"
like "$ERR_FILE" "unknown option '--bogus'" "the unknown option is named"

run_cmd "$dlhost" run "$data/good.cfg" --set
is "$RC" 2 "--set without a value exits 2"

run_cmd "$dlhost" plugins --bogus
is "$RC" 2 "plugins with an unknown argument exits 2"

# ---- the plugin table
run_cmd "$dlhost" plugins
is "$RC" 0 "plugins exits 0"
head -n 1 "$OUT_FILE" | grep -q '^KIND  *NAME  *PLUGIN  *VERSION  *ABI$'
ok $? "plugins prints the header KIND NAME PLUGIN VERSION ABI"
cp "$OUT_FILE" "$TAP_TMP/plugins.txt"
for want in "backend cpu cpu.so" "layer dense layers.so" "layer relu activations.so" \
            "loss mse losses.so" "optimizer sgd optimizers.so" \
            "schedule constant schedules.so" "dataset csv datasets.so" \
            "dataset npy datasets.so"; do
    set -- $want      # split on purpose: kind, name, file
    row=$(awk -v k="$1" -v n="$2" '$1 == k && $2 == n { print $3, $5; v = $4 }
                                   END { if (v !~ /^[0-9]/) print "bad version" }' \
          "$TAP_TMP/plugins.txt")
    is "$row" "$3 $abi" "plugins lists $1 $2 from $3 with a version and ABI $abi"
done
# Sorted by kind (in the ABI's order), then by name.
awk 'NR > 1 && $1 != "" {
         split("backend layer loss optimizer schedule augmenter dataset metric", order, " ")
         for (i in order) rank[order[i]] = i
         if (NR > 2 && (rank[$1] < prev_rank || (rank[$1] == prev_rank && $2 < prev)))
             bad = 1
         prev_rank = rank[$1]; prev = $2
     }
     END { exit bad }' "$TAP_TMP/plugins.txt"
ok $? "the table is sorted by kind, then name"
is "$(wc -c <"$ERR_FILE" | tr -d ' ')" 0 "plugins warns about nothing in the build tree"

run_cmd "$dlhost" plugins --verbose
is "$RC" 0 "plugins --verbose exits 0"
like "$OUT_FILE" "/plugins/backends/cpu/.libs/cpu.so" "--verbose shows full paths"
like "$OUT_FILE" "plugin folders: " "--verbose shows the folders searched"

# ---- a broken plugin next to the good ones is a warning, not a failure
if [ -n "${DLHOST_FIXTURES:-}" ] && [ -f "$DLHOST_FIXTURES/bad_abi.so" ]; then
    mkdir "$TAP_TMP/broken"
    cp "$DLHOST_FIXTURES/bad_abi.so" "$TAP_TMP/broken/"
    DLHOST_PLUGIN_PATH="$TAP_TMP/broken:$DLHOST_PLUGIN_PATH" run_cmd "$dlhost" plugins
    is "$RC" 0 "plugins with a bad-ABI plugin still exits 0"
    like "$OUT_FILE" "cpu.so" "the good plugins are still listed"
    like "$ERR_FILE" "warning: $TAP_TMP/broken/bad_abi.so: plugin was built for ABI 99.0, this dlhost has ABI $abi" \
        "the bad plugin is named with both ABIs"
    DLHOST_PLUGIN_PATH="$TAP_TMP/broken:$DLHOST_PLUGIN_PATH" \
        run_cmd "$dlhost" check "$data/good.cfg"
    is "$RC" 0 "check with a bad-ABI plugin in the path still passes"
    like "$ERR_FILE" "bad_abi.so" "check warns about the bad plugin"
else
    for _ in 1 2 3 4 5; do skip "DLHOST_FIXTURES/bad_abi.so not built"; done
fi

DLHOST_PLUGIN_PATH="relative/plugins:$DLHOST_PLUGIN_PATH" run_cmd "$dlhost" plugins
is "$RC" 0 "a relative plugin folder is not fatal"
like "$ERR_FILE" "ignoring relative folder 'relative/plugins'" "a relative plugin folder is refused"

# The loss plugin missing: the experiment needs it, so that is the error.
no_losses=$(printf '%s' "$DLHOST_PLUGIN_PATH" | tr ':' '\n' | grep -v '/plugins/losses/' |
            tr '\n' ':')
DLHOST_PLUGIN_PATH=$no_losses run_cmd "$dlhost" check "$data/good.cfg"
is "$RC" 2 "check without the loss plugin exits 2"
like "$ERR_FILE" "good.cfg:15: unknown loss 'mse': no loss plugin is loaded" \
    "the missing loss is named at its line"

# ---- check: a good file, then each bad one
run_cmd "$dlhost" check "$data/good.cfg"
is "$RC" 0 "check good.cfg exits 0"
like "$OUT_FILE" "dense" "check prints the model"

# OpenBLAS's kernel family: one the user names wins over dlhost's choice.
OPENBLAS_CORETYPE=Haswell run_cmd "$dlhost" check "$data/good.cfg"
is "$RC" 0 "check with OPENBLAS_CORETYPE set exits 0"
grep -Eq '^backend +cpu: OpenBLAS [^,]*, Haswell,' "$OUT_FILE"
ok $? "a user's OPENBLAS_CORETYPE is kept"

# How the OpenMP workers wait: a policy or spin count the user set is kept;
# otherwise a machine kept busy by another process gets passive waiting.
OMP_WAIT_POLICY=PASSIVE run_cmd "$dlhost" check "$data/good.cfg"
grep -Eq '^backend +cpu: .*, passive wait$' "$OUT_FILE"
ok $? "a user's OMP_WAIT_POLICY is kept and shown"
GOMP_SPINCOUNT=1234 run_cmd "$dlhost" check "$data/good.cfg"
grep -Eq '^backend +cpu: .*, spin 1234$' "$OUT_FILE"
ok $? "a user's GOMP_SPINCOUNT is kept and shown"
if [ "$(nproc 2>/dev/null || echo 1)" -le 4 ]; then
    ( while :; do :; done ) &
    hog=$!
    sleep 0.3
    run_cmd "$dlhost" check "$data/good.cfg"
    kill "$hog"
    wait "$hog" 2>/dev/null
    grep -Eq '^backend +cpu: .*, passive wait$' "$OUT_FILE"
    ok $? "with another process busy on a core, waiting is passive"
else
    skip "more than 4 cores: one busy loop is under a quarter of them"
fi

check_bad() {           # check_bad FILE WANTED-TEXT DESCRIPTION
    run_cmd "$dlhost" check "$data/$1"
    is "$RC" 2 "check $1 exits 2 ($3)"
    like "$ERR_FILE" "dlhost: error: $data/$1:" "check $1 names file:line"
    like "$ERR_FILE" "$2" "check $1 explains: $2"
    is "$(wc -l <"$ERR_FILE" | tr -d ' ')" 1 "check $1 prints one message"
}
check_bad bad_syntax.cfg "bad_syntax.cfg:11: syntax error" "syntax error"
check_bad bad_unknown_key.cfg "bad_unknown_key.cfg:16: optimizer: unknown parameter 'momentun'" \
    "unknown key"
like "$ERR_FILE" "did you mean 'momentum'?" "the unknown key gets a suggestion"
check_bad bad_layer_type.cfg "bad_layer_type.cfg:13: unknown layer 'dens' (did you mean 'dense'?)" \
    "unknown layer type"
check_bad bad_value_type.cfg "bad_value_type.cfg:11: layer 'fc1': parameter 'units'" \
    "wrong value type"
like "$ERR_FILE" "\"sixteen\"" "the wrong value is quoted"
check_bad bad_range.cfg "bad_range.cfg:18: train: parameter 'batch_size'" "out of range"
like "$ERR_FILE" "got 0" "the out-of-range value is quoted"
check_bad bad_missing_file.cfg "bad_missing_file.cfg:7: " "missing data file"
like "$ERR_FILE" "no_such_file.csv" "the missing data file is named"

run_cmd "$dlhost" check "$TAP_TMP/absent.cfg"
is "$RC" 2 "check on a missing experiment file exits 2"
like "$ERR_FILE" "absent.cfg" "the missing experiment file is named"

run_cmd "$dlhost" check "$data/good.cfg" --backend cpy
is "$RC" 2 "an unknown --backend exits 2"
like "$ERR_FILE" "unknown backend 'cpy' (did you mean 'cpu'?)" "the backend gets a suggestion"

run_cmd "$dlhost" check "$data/good.cfg" --set train.epochs=3
is "$RC" 0 "check with --set exits 0"
like "$OUT_FILE" "3 epochs" "--set overrides train.epochs"

run_cmd "$dlhost" check "$data/good.cfg" --set=train.epochs=0
is "$RC" 2 "--set to an out-of-range value exits 2"
like "$ERR_FILE" "epochs" "the overridden key is named"

# A bad assignment: exit 2 and its message, which names it once, from every
# command that reads the file and --set (the file of weights is not reached).
for cmd in check "export --weights w --onnx o" "predict --weights w --input i"; do
    # shellcheck disable=SC2086
    run_cmd "$dlhost" $cmd "$data/good.cfg" --set a..b=1
    is "$RC" 2 "${cmd%% *}: --set with a bad path exits 2"
    is "$(cat "$ERR_FILE")" "dlhost: error: --set \"a..b=1\": 'a..b' is not a valid setting path (names start with a letter; use '.' between group names)" \
        "${cmd%% *}: the message names the assignment once"
done

# ---- run: exit 0, and 4 when the loss diverges.  A run may write runs/
# into the current folder, so run in the temporary one.
cd "$TAP_TMP" || exit 1
run_cmd "$dlhost" run "$data/good.cfg" --set train.epochs=3
is "$RC" 0 "run exits 0"
grep -q 'epoch 3/3' "$OUT_FILE"
ok $? "run trains the requested epochs"

# ---- plot: curves.svg kept by the run, drawn again from metrics.csv
rundir=$(sed -n 's/^run directory: //p' "$OUT_FILE")
[ -n "$rundir" ] && [ -f "$rundir/curves.svg" ] && grep -q '(3 epochs)' "$rundir/curves.svg"
ok $? "the run keeps curves.svg with its 3 epochs ($rundir)"
rm -f "$rundir/curves.svg"
run_cmd "$dlhost" plot "$rundir/"
is "$RC" 0 "plot exits 0"
like "$OUT_FILE" "curves.svg: 3 epochs drawn from" "plot says what it drew"
grep -q '</svg>' "$rundir/curves.svg"
ok $? "plot writes RUNDIR/curves.svg"
run_cmd "$dlhost" plot "$rundir" --out "$TAP_TMP/other.svg"
is "$RC" 0 "plot --out exits 0"
grep -q '</svg>' "$TAP_TMP/other.svg"
ok $? "plot --out writes the named file"
run_cmd "$dlhost" plot
is "$RC" 2 "plot without a folder exits 2"
like "$ERR_FILE" "missing the run directory" "plot without a folder says so"
run_cmd "$dlhost" plot "$rundir" --bogus
is "$RC" 2 "plot with an unknown option exits 2"
run_cmd "$dlhost" plot "$TAP_TMP/no-such-run"
is "$RC" 2 "plot of a missing folder exits 2"
like "$ERR_FILE" "no-such-run/metrics.csv: cannot open" "plot names the file it could not open"
mkdir -p "$TAP_TMP/badrun"
printf 'epoch,loss\n1,0.5\n' >"$TAP_TMP/badrun/metrics.csv"
run_cmd "$dlhost" plot "$TAP_TMP/badrun"
is "$RC" 2 "plot of a foreign metrics.csv exits 2"
like "$ERR_FILE" "badrun/metrics.csv:1: expected the header" "plot names the file and line"
[ ! -e "$TAP_TMP/badrun/curves.svg" ]
ok $? "a refused plot leaves no curves.svg"
run_cmd "$dlhost" plot "$rundir" --out "$TAP_TMP/no-such-dir/c.svg"
is "$RC" 1 "plot to a folder that does not exist exits 1"
like "$ERR_FILE" "no-such-dir" "plot names the path it could not write"

# ---- run names that are not valid UTF-8 or hold control characters are
# refused by check (file:line, exit 2), before a folder is made.
bad_name() {            # bad_name FILE-NAME NAME-LINE WANTED-TEXT DESCRIPTION
    { printf '%s\n' "$2"; sed '/^name = /d' "$data/good.cfg"; } >"$TAP_TMP/$1"
    cp "$data/good_train.csv" "$TAP_TMP/good_train.csv"
    run_cmd "$dlhost" run "$TAP_TMP/$1"
    is "$RC" 2 "a run named $4 exits 2"
    like "$ERR_FILE" "$TAP_TMP/$1:1: run name $3" "and names the file, line and name"
    is "$(wc -l <"$ERR_FILE" | tr -d ' ')" 1 "in one message"
}
bad_name ctl.cfg "$(printf 'name = "a\001b";')" \
    "'a\\x01b' must not contain control characters" "with a control character"
bad_name latin1.cfg "$(printf 'name = "caf\351";')" "'caf\\xe9' is not valid UTF-8" \
    "in Latin-1"
[ ! -e runs/a ] && [ ! -e "$(printf 'runs/caf\351')" ]
ok $? "a refused name makes no folder"

# ---- files that are not regular: refused at once, never waited on
# (`timeout` turns a hang into exit 124).
mkfifo fifo.cfg fifo.csv
run_cmd timeout 20 "$dlhost" check fifo.cfg
is "$RC" 2 "check of a FIFO exits 2"
like "$ERR_FILE" "fifo.cfg: not a regular file (a FIFO)" "and says what it is"
run_cmd timeout 20 "$dlhost" check /dev/zero
is "$RC" 2 "check of /dev/zero exits 2"
like "$ERR_FILE" "/dev/zero: not a regular file (a character device)" "and says what it is"
printf '@include "fifo.cfg"\n' >inc_fifo.cfg
run_cmd timeout 20 "$dlhost" check inc_fifo.cfg
is "$RC" 2 "an @include of a FIFO exits 2"
like "$ERR_FILE" "inc_fifo.cfg:1: @include \"fifo.cfg\": fifo.cfg: not a regular file (a FIFO)" \
     "and names the include"
sed 's/"good_train.csv"/"fifo.csv"/' "$data/good.cfg" >fifo_data.cfg
run_cmd timeout 20 "$dlhost" check fifo_data.cfg
is "$RC" 1 "a FIFO as the csv file exits 1"
like "$ERR_FILE" "fifo.csv: not a regular file (a FIFO)" "and says what it is"
sed 's/^data = {/data = { test = { type = "csv"; path = "good_train.csv"; label = "dense"; label_columns = 1; header = true; };/' \
    "$data/good.cfg" >with_test.cfg
run_cmd timeout 20 "$dlhost" eval with_test.cfg --weights fifo.csv
is "$RC" 1 "eval --weights of a FIFO exits 1"
like "$ERR_FILE" "fifo.csv: not a regular file (a FIFO)" "and says what it is"
mkdir -p fiforun
mkfifo fiforun/last.safetensors
printf 'epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,samples_per_s\n' \
    >fiforun/metrics.csv
run_cmd timeout 20 "$dlhost" run "$data/good.cfg" --resume fiforun
is "$RC" 1 "--resume from a FIFO last.safetensors exits 1"
like "$ERR_FILE" "fiforun/last.safetensors: not a regular file (a FIFO)" "and says what it is"

# ---- the npy reader end to end: an .npz that numpy wrote trains and tests
run_cmd "$dlhost" check "$data/npy/blobs.cfg"
is "$RC" 0 "check of an experiment on an .npz exits 0"
like "$OUT_FILE" "data.train  npy: 80 samples, sample [4], class labels, 3 classes" \
     "the npy reader describes the training set (limit = 80)"
run_cmd "$dlhost" run "$data/npy/blobs.cfg"
is "$RC" 0 "a run on the .npz exits 0"
grep -Eq '^test  loss [0-9.]+  accuracy 1\.0000  \(96 samples\)' "$OUT_FILE"
ok $? "and separates its three blobs"

run_cmd "$dlhost" run "$data/good.cfg" --set optimizer.lr=1e5 --set optimizer.momentum=0.0 \
    --set train.epochs=5
is "$RC" 4 "a diverging run exits 4"
like "$ERR_FILE" "dlhost: error: " "a diverging run says why"

done_testing
