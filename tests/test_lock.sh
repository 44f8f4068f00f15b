#!/bin/sh
# The run folder's lock (issue 10): while a run trains, a second run of the
# same name and a --resume of its folder are refused (exit 2, naming the
# process that holds it); eval and plot read the folder without a lock; the
# lock goes with its process however it ends, kill -9 included, so there
# is never a stale lock to clean up.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

two_class_csv train.csv
cat >exp.cfg <<'CFG'
name = "lock";
seed = 3;
backend = { type = "cpu"; threads = 1; };
data = {
  train = { type = "csv"; path = "train.csv"; header = true; };
  test  = { type = "csv"; path = "train.csv"; header = true; };
};
model = (
  { name = "fc1"; type = "dense"; units = 8; },
  { type = "relu"; },
  { name = "out"; type = "dense"; units = 2; }
);
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.01; };
train = { epochs = 1000000; batch_size = 8; };
CFG

# start_run: a run that trains until it is stopped, in the background
# ($holder); returns once it holds the folder and has saved a checkpoint.
start_run() {
    "$dlhost" run exp.cfg >holder.out 2>&1 &
    holder=$!
    n=0
    while [ $n -lt 600 ]; do
        if grep -q "^pid $holder\$" runs/lock/.lock 2>/dev/null &&
            [ -f runs/lock/last.safetensors ]; then
            return 0
        fi
        kill -0 "$holder" 2>/dev/null || break
        sleep 0.1
        n=$((n + 1))
    done
    return 1
}

start_run
ok $? "a long run starts and takes runs/lock (pid $holder)"

run_cmd "$dlhost" run exp.cfg --set train.epochs=1
is "$RC" 2 "a second run of the same name exits 2"
like "$ERR_FILE" "runs/lock is in use by process $holder (started " \
     "and names the process that holds the folder"
run_cmd "$dlhost" run exp.cfg --resume runs/lock
is "$RC" 2 "--resume of the folder while it trains exits 2"
like "$ERR_FILE" "runs/lock is in use by process $holder" "and says why"
kill -0 "$holder" 2>/dev/null
ok $? "the first run trains on"

cp runs/lock/last.safetensors snapshot.safetensors
run_cmd "$dlhost" eval exp.cfg --weights snapshot.safetensors
is "$RC" 0 "eval reads a checkpoint of the folder while the run holds it"
run_cmd "$dlhost" plot runs/lock --out curves.svg
is "$RC" 0 "plot reads its metrics.csv meanwhile"

kill -TERM "$holder"
wait "$holder"
is "$?" 143 "SIGTERM stops the first run (exit 143)"
run_cmd "$dlhost" run exp.cfg --set train.epochs=1
is "$RC" 0 "once it ended, a new run of the same name goes ahead"

# kill -9 gives the process no chance to unlock: the kernel releases a
# flock with the process, so the next run is not refused.
start_run
ok $? "another long run takes the folder (pid $holder)"
kill -KILL "$holder"
wait "$holder" 2>/dev/null
run_cmd "$dlhost" run exp.cfg --set train.epochs=1
is "$RC" 0 "after kill -9 of the holder the folder is free at once"

done_testing
