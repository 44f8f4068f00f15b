#!/bin/sh
# backend.precision from the command line: a short training with "bf16" on
# the cpu backend (its describe line says so, the loss falls), and each
# refusal one line with exit status 2: a value that is not a precision; a
# CPU without native bf16 (DNNL_MAX_CPU_ISA=AVX2 makes oneDNN see one); a
# build without oneDNN; "bf16" on the opencl and cuda backends, which do not
# have it yet (cuda on tests/fake_cuda's driver where there is no GPU).
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_BUILDDIR, DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
data=$DLHOST_SRCDIR/tests/data
cp "$data/good.cfg" "$data/good_train.csv" "$TAP_TMP/" || {
    echo "Bail out! cannot copy tests/data/good.cfg"
    exit 1
}
cd "$TAP_TMP" || exit 1
with_backend() {
    sed "s|^backend = .*|backend = { $2 };|" good.cfg >"$1.cfg"
}
with_backend bf16 'type = "cpu"; precision = "bf16";'
with_backend fp16 'type = "cpu"; precision = "fp16";'
with_backend ocl 'type = "opencl"; precision = "bf16";'
with_backend cuda 'type = "cuda"; precision = "bf16";'

# Exit status 2 and exactly one line on stderr, at line 5 of file $2 (the
# backend's), that says $3.
refused() {
    is "$RC" 2 "$1: exit status 2"
    grep -F -e "$2:5: " "$ERR_FILE" 2>/dev/null | grep -F -q -e "$3"
    ok $? "$1: says '$3' at $2:5" || sed 's/^/#   /' "$ERR_FILE"
    is "$(wc -l <"$ERR_FILE" | tr -d ' ')" 1 "$1: one line"
}

# run_refused DESC CFG TEXT [VAR=VALUE]...: `dlhost run CFG` for an epoch,
# with VAR=VALUE in its environment, is refused as `refused` checks; a skip
# when CFG's backend is not on the plugin path or not usable here.
run_refused() {
    desc=$1 cfg=$2 text=$3
    shift 3
    type=$(sed -n '5s/^backend = { type = "\([a-z0-9_]*\)".*/\1/p' "$cfg")
    if ! have_backend "$type"; then
        skip "$desc: the $type plugin is not on the plugin path"
        return
    fi
    run_cmd env "$@" "$dlhost" run "$cfg" --set train.epochs=1 --runs runs
    if grep -q "not usable on this machine" "$ERR_FILE"; then
        skip "$desc: $type is not usable here: $(cat "$ERR_FILE")"
        return
    fi
    refused "$desc" "$cfg" "$text"
}

run_refused 'precision = "fp16"' fp16.cfg 'expected one of "fp32", "bf16", got "fp16"'

run_cmd "$dlhost" run bf16.cfg --set train.epochs=3 --runs runs
if grep -q "built without" "$ERR_FILE"; then
    refused 'bf16 in a build without oneDNN' bf16.cfg \
        'precision "bf16" needs oneDNN, and this dlhost was built without it'
    skip "a build without oneDNN: no bf16 training"
elif grep -q "native bf16" "$ERR_FILE"; then
    refused 'bf16 on a CPU without it' bf16.cfg 'needs a CPU with native bf16'
    skip "this CPU has no native bf16: no bf16 training"
else
    is "$RC" 0 "a training with precision = \"bf16\" exits 0"
    like "$OUT_FILE" 'bf16 gemm (oneDNN matmul)' "its run line says the gemm is bf16"
    first=$(awk '$1 == "epoch" && $2 == "1/3" { print $4 }' "$OUT_FILE")
    last=$(awk '$1 == "epoch" && $2 == "3/3" { print $4 }' "$OUT_FILE")
    awk -v a="$first" -v b="$last" 'BEGIN { exit !(a != "" && b != "" && b + 0 < a + 0) }'
    ok $? "the bf16 training's loss falls (epoch 1: $first, epoch 3: $last)"
    run_refused 'bf16 where oneDNN may use AVX2 at most' bf16.cfg \
        'precision "bf16" needs a CPU with native bf16 (avx512_bf16 or AMX); oneDNN finds none here' \
        DNNL_MAX_CPU_ISA=AVX2
fi

run_refused 'bf16 on opencl' ocl.cfg \
    'precision "bf16" is not yet on opencl (the cpu backend has it)'
# Without a GPU, tests/fake_cuda's driver (as tests/test_cuda_fake.sh).
fake=${DLHOST_BUILDDIR:-.}/tests/fake_cuda/.libs/fake_cuda.so
set --
[ -f "$fake" ] && [ -z "${DLHOST_CUDA_DRIVER:-}" ] &&
    set -- "DLHOST_CUDA_DRIVER=$fake" "DLHOST_CUBLAS=$fake"
run_refused 'bf16 on cuda' cuda.cfg \
    'precision "bf16" is not yet on cuda (the cpu backend has it)' "$@"
done_testing
