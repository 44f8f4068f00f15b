#!/bin/sh
# --backend NAME with --set backend.KEY=VALUE (core/experiment.c
# exp_backend): when NAME is not the file's backend, the file's backend keys
# are left out and those --set wrote are NAME's, whichever of the two options
# comes first, for run, eval and predict: a key of NAME is applied, any other
# is refused as an unknown parameter of NAME (exit 2, one line).  With
# --backend naming the file's own backend, the file's keys stay.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.
. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
data=$DLHOST_SRCDIR/tests/data
cd "$TAP_TMP" || exit 1

# good.cfg written for opencl, with a key cpu does not have; data.test for
# eval.  --backend cpu needs no OpenCL: the file's backend is never opened.
cp "$data/good_train.csv" . || {
    echo "Bail out! cannot copy tests/data/good_train.csv"
    exit 1
}
sed -e 's|^backend = .*|backend = { type = "opencl"; gemm = "clblast"; };|' \
    -e 's|^data = {|data = { test = { type = "csv"; path = "good_train.csv"; label = "dense"; label_columns = 1; header = true; };|' \
    "$data/good.cfg" >ocl.cfg
# A thread count that is not the default (the CPU count).
threads=3
[ "$(nproc 2>/dev/null || echo 1)" -eq 3 ] && threads=5

run_cmd "$dlhost" run ocl.cfg --backend cpu --set train.epochs=1 --runs runs
is "$RC" 0 "run --backend cpu of a file for opencl exits 0 (its gemm key left out)"
weights=runs/regression/best.safetensors
[ -f "$weights" ]
ok $? "the run wrote $weights"

# backend_set CMD ORDER: CMD (run, eval, predict) of ocl.cfg with --backend
# cpu and --set backend.threads, the --set ORDER (before or after) --backend;
# then with --set backend.gemm=tiled, which cpu does not have.
backend_set() {
    case $1 in
    run) set -- "$1" "$2" --set train.epochs=1 --runs runs ;;
    eval) set -- "$1" "$2" --weights "$weights" ;;
    predict) set -- "$1" "$2" --weights "$weights" --input good_train.csv --out p.csv ;;
    esac
    cmd=$1 order=$2
    shift 2
    for key in threads=$threads gemm=tiled; do
        if [ "$order" = before ]; then
            run_cmd "$dlhost" "$cmd" ocl.cfg "$@" --set "backend.$key" --backend cpu
        else
            run_cmd "$dlhost" "$cmd" ocl.cfg "$@" --backend cpu --set "backend.$key"
        fi
        if [ "$key" = gemm=tiled ]; then
            is "$RC" 2 "$cmd, --set $order --backend: a key cpu lacks exits 2"
            like "$ERR_FILE" \
                "dlhost: error: --set backend.gemm=tiled: backend 'cpu': unknown parameter 'gemm'" \
                "$cmd, --set $order --backend: the key is unknown to cpu, named by its --set"
            is "$(wc -l <"$ERR_FILE" | tr -d ' ')" 1 "$cmd, --set $order --backend: one line"
        else
            is "$RC" 0 "$cmd, --set $order --backend: threads = $threads exits 0"
            # predict says its backend on stderr, run and eval on stdout.
            cat "$OUT_FILE" "$ERR_FILE" >both
            like both ", $threads threads" \
                "$cmd, --set $order --backend: cpu runs $threads threads"
        fi
    done
}
for cmd in run eval predict; do
    backend_set "$cmd" before
    backend_set "$cmd" after
done

# A misspelt key gets the usual suggestion.
run_cmd "$dlhost" check ocl.cfg --backend cpu --set backend.thread=2
is "$RC" 2 "a misspelt key of --backend's backend exits 2"
like "$ERR_FILE" "backend 'cpu': unknown parameter 'thread' — did you mean 'threads'?" \
    "and gets a suggestion"

# auto takes no key, from the file or from --set.
run_cmd "$dlhost" check ocl.cfg --backend auto --set "backend.threads=$threads"
is "$RC" 2 "--backend auto with --set backend.threads exits 2"
like "$ERR_FILE" "--set backend.threads=$threads: backend: unknown parameter 'threads'" \
    "auto refuses the key as it does in the file"

# --backend naming the file's own backend keeps the file's keys: good.cfg
# says threads = 2, --set adds adapt.
run_cmd "$dlhost" check "$data/good.cfg" --backend cpu --set backend.adapt=false
is "$RC" 0 "--backend cpu on a cpu file with --set backend.adapt exits 0"
like "$OUT_FILE" ", 2 threads" "the file's threads stay"
run_cmd "$dlhost" check "$data/good.cfg" --backend cpu --set backend.gemm=tiled
is "$RC" 2 "--backend cpu on a cpu file with a key cpu lacks exits 2"
like "$ERR_FILE" "--set backend.gemm=tiled: backend 'cpu': unknown parameter 'gemm'" \
    "and says so as without --backend"

done_testing
