#!/bin/sh
# The cuda backend's checks on a machine with an NVIDIA GPU (issue 15), in
# one command, bounded to 8 minutes:
#
#   tests/gpu/run-cuda-checks.sh RESULTS_DIR
#
# 1. builds a clean clone of this checkout's committed HEAD (autoreconf,
#    configure, make);
# 1b. finds cuDNN 9 where the backend looks for it (the conv2d primitives);
# 2. runs the conformance suite (every primitive against cpu) on cuda, the
#    conv2d primitives (cuDNN) among them once the suite has them;
# 3. trains examples/fashion-mnist/mlp.cfg and cnn.cfg on cuda and on cpu
#    and compares test accuracy (within 0.5 points); the CNN on cuda fails
#    when it said "no cuDNN";
# 4. trains the MLP one epoch on each and compares the weights (NMSE <= 1e-7
#    per tensor);
# 5. runs bench/compare.sh --cuda --no-cpu: dlhost on cuda beside PyTorch's
#    CUDA path (when the python has it) and the cuBLAS-GEMM-only floor
#    (bench/cublas_floor.c), with issue 15's targets; the cpu side of the
#    bench is `make bench`, not this script.
# Everything goes to RESULTS_DIR (summary.txt, one log per step).  Exits 0
# when every check passes, 1 when one fails, and prints SKIP with the reason
# (exit 0) when there is no GPU (nvidia-smi absent or failing).  The data is
# Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist) or
# $FMNIST_DIR holding the four idx .gz files; without it steps 3-5 SKIP.
# Environment: TIMEOUT (seconds, default 480), JOBS (make -j, default nproc),
# EPOCHS (step 3, default the examples' 10; fewer to fit the bound),
# ROUNDS (step 5: bench rounds, default 2).
set -u
out=${1:-}
if [ -z "$out" ]; then
    echo "usage: $0 RESULTS_DIR" >&2
    exit 2
fi
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)

if [ -z "${DLH_CUDA_CHECKS_INNER:-}" ]; then
    if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L > "$out/gpu.txt" 2>&1; then
        echo "SKIP: no NVIDIA GPU here (nvidia-smi absent or failing)" | tee "$out/summary.txt"
        exit 0
    fi
    DLH_CUDA_CHECKS_INNER=1 timeout "${TIMEOUT:-480}" "$0" "$out"
    rc=$?
    [ "$rc" -ne 124 ] || echo "FAIL: the checks ran past ${TIMEOUT:-480} s" |
        tee -a "$out/summary.txt"
    exit "$rc"
fi

summary=$out/summary.txt
: > "$summary"
failed=0
say() { echo "$*" | tee -a "$summary"; }
pass() { say "PASS: $*"; }
fail() { say "FAIL: $*"; failed=1; }
skip() { say "SKIP: $*"; }
say "gpu: $(head -1 "$out/gpu.txt")"
say "load: $(uptime)"

# 1. a clean clone, built
work=$(mktemp -d "${TMPDIR:-/tmp}/dlhost-cuda.XXXXXX")
trap 'rm -rf "$work"' EXIT
if git clone -q "$src" "$work/src" > "$out/build.log" 2>&1 &&
   (cd "$work/src" && autoreconf -fi && mkdir build && cd build && ../configure &&
    make -j"${JOBS:-$(nproc)}") >> "$out/build.log" 2>&1; then
    pass "clean clone builds"
else
    fail "the build (build.log)"
    exit 1
fi
b=$work/src/build
export DLHOST_PLUGIN_PATH_ONLY=1
DLHOST_PLUGIN_PATH=$(find "$b/plugins" -name .libs -type d | paste -sd: -)
export DLHOST_PLUGIN_PATH
export DLHOST_CACHE_DIR="$work/cache"
"$b/dlhost" plugins --verbose > "$out/plugins.txt" 2>&1
grep -A3 '^backend *cuda' "$out/plugins.txt" | tee -a "$summary"

# 1b. cuDNN, looked for where the backend looks (cu_dnn.c): $DLHOST_CUDNN,
# the toolkit's lib64/ and lib/, the loader's path.  The conv2d primitives
# run on it; without it they decline and convs use im2col + gemm.
cuda_dir=${DLHOST_CUDA_DIR:-$(sed -n 's/^CUDA_DIR = //p' "$b/Makefile")}
cudnn=${DLHOST_CUDNN:-}
for f in "$cuda_dir/lib64/libcudnn.so.9" "$cuda_dir/lib/libcudnn.so.9" \
         "$(ldconfig -p 2>/dev/null | sed -n 's/.*libcudnn\.so\.9 .*=> //p' | head -1)"; do
    [ -n "$cudnn" ] || { [ -n "$f" ] && [ -f "$f" ] && cudnn=$f; }
done
if [ -n "$cudnn" ] && [ -f "$cudnn" ]; then
    pass "cuDNN for the conv2d primitives: $cudnn"
else
    fail "no libcudnn.so.9 (toolkit '$cuda_dir', loader path): the conv2d primitives are not checked; install cuDNN 9 or set DLHOST_CUDNN"
fi

# 2. conformance on cuda
if (cd "$b" && DLHOST_CONFORMANCE_BACKENDS=cuda ./tests/conformance/test_conformance) \
        > "$out/conformance.log" 2>&1 && ! grep -q '^not ok' "$out/conformance.log" &&
   grep -q 'cuda' "$out/conformance.log"; then
    pass "conformance suite on cuda ($(grep -c '^ok' "$out/conformance.log") ok)"
else
    fail "conformance suite on cuda (conformance.log: $(grep -c '^not ok' "$out/conformance.log") not ok)"
fi
if grep -q 'conv2d' "$out/conformance.log"; then
    say "conv2d primitives (cuDNN) in the conformance suite: $(grep -c '^ok.*conv2d' "$out/conformance.log") ok"
else
    skip "the conformance suite has no conv2d primitive checks (cuDNN not compared with cpu there)"
fi

# 3-5 need the data
data=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
    skip "no Fashion-MNIST in $data (set FMNIST_DIR): training, weights and bench not checked"
    exit "$failed"
fi
cd "$work" || exit 1
cfg() {  # cfg MODEL BACKEND EPOCHS -> MODEL-BACKEND.cfg
    sed "s|/usr/share/datasets/fashion-mnist|$data|; s/^backend = .*/backend = { type = \"$2\"; };/" \
        "$src/examples/fashion-mnist/$1.cfg" |
        sed "s/^name = \"\\([^\"]*\\)\";/name = \"\\1-$2-$3\";/" > "$1-$2-$3.cfg"
    [ -z "$3" ] || sed -i "s/epochs = [0-9]*;/epochs = $3;/" "$1-$2-$3.cfg"
}
acc() {  # acc CFG RUNDIR -> test accuracy in percent
    "$b/dlhost" eval "$1" --weights "$(ls "$2"/*/best.safetensors | head -1)" 2>&1 |
        sed -n 's/.*accuracy[^0-9]*\([0-9.]*\).*/\1/p' | head -1
}
for m in mlp cnn; do
    for be in cuda cpu; do
        cfg "$m" "$be" "${EPOCHS:-}"
        t0=$(date +%s)
        "$b/dlhost" run "$m-$be-${EPOCHS:-}.cfg" --runs "runs-$m-$be" > "$out/$m-$be.log" 2>&1 ||
            fail "$m on $be trains ($m-$be.log)"
        say "$m on $be: $(( $(date +%s) - t0 )) s"
        if [ "$be" = cuda ] && grep -q 'no cuDNN' "$out/$m-$be.log"; then
            fail "$m on cuda without cuDNN: $(grep -m1 'no cuDNN' "$out/$m-$be.log")"
        fi
    done
    a_gpu=$(acc "$m-cuda-${EPOCHS:-}.cfg" "runs-$m-cuda")
    a_cpu=$(acc "$m-cpu-${EPOCHS:-}.cfg" "runs-$m-cpu")
    if [ -n "$a_gpu" ] && [ -n "$a_cpu" ] &&
       awk -v g="$a_gpu" -v c="$a_cpu" 'BEGIN { d = g - c; if (g <= 1 && c <= 1) d *= 100
                                            exit !(d <= 0.5 && d >= -0.5) }'; then
        pass "$m test accuracy: cuda $a_gpu, cpu $a_cpu (within 0.5 points)"
    else
        fail "$m test accuracy: cuda '$a_gpu', cpu '$a_cpu' (not within 0.5 points)"
    fi
done

# 4. one epoch of the MLP: weights per tensor
for be in cuda cpu; do
    cfg mlp "$be" 1
    "$b/dlhost" run "mlp-$be-1.cfg" --runs "w-$be" > "$out/mlp1-$be.log" 2>&1
done
python3 - "$(ls w-cuda/*/last.safetensors | head -1)" "$(ls w-cpu/*/last.safetensors | head -1)" \
    > "$out/weights.txt" 2>&1 <<'PY'
import json, struct, sys
def load(p):
    d = open(p, "rb").read()
    n = struct.unpack("<Q", d[:8])[0]
    h = json.loads(d[8:8 + n])
    out = {}
    for k, v in h.items():
        if k == "__metadata__" or v.get("dtype") != "F32":
            continue
        a, e = v["data_offsets"]
        b = d[8 + n + a:8 + n + e]
        out[k] = struct.unpack("<%df" % (len(b) // 4), b)
    return out
g, c = load(sys.argv[1]), load(sys.argv[2])
worst = 0.0
for k in sorted(c):
    if k not in g:
        print("missing on cuda:", k); sys.exit(1)
    num = sum((x - y) ** 2 for x, y in zip(g[k], c[k]))
    den = sum(y * y for y in c[k]) or 1.0
    worst = max(worst, num / den)
    print("%-40s NMSE %.3g" % (k, num / den))
print("worst NMSE %.3g" % worst)
sys.exit(0 if worst <= 1e-7 else 1)
PY
if [ $? -eq 0 ]; then
    pass "one MLP epoch: weights within NMSE 1e-7 of cpu ($(tail -1 "$out/weights.txt"))"
else
    fail "one MLP epoch: weights differ from cpu (weights.txt: $(tail -1 "$out/weights.txt"))"
fi

# 5. the cuda bench: dlhost on cuda, PyTorch on CUDA, the cuBLAS floor
mkdir -p benchcfg
for m in mlp cnn; do
    sed "s|/usr/share/datasets/fashion-mnist|$data|" "$src/examples/fashion-mnist/$m.cfg" \
        > "benchcfg/$m.cfg"
done
if sh "$src/bench/compare.sh" "$b" --cuda --no-cpu --no-opencl --rounds "${ROUNDS:-2}" \
        --epochs 3 --configs "$work/benchcfg" > "$out/bench.txt" 2>&1 &&
   grep -q '^mlp cuda dlhost: ' "$out/bench.txt" && grep -q '^mlp cuBLAS floor: ' "$out/bench.txt"; then
    pass "bench/compare.sh --cuda ran (bench.txt)"
else
    fail "bench/compare.sh --cuda (bench.txt)"
fi
grep -E '^(PyTorch cuda|(mlp|cnn) cuda): ' "$out/bench.txt" | tee -a "$summary"
grep -h 'epoch' "$out/mlp-cuda.log" "$out/cnn-cuda.log" | head -40 > "$out/cuda-epochs.txt"
say "cuda epoch lines: cuda-epochs.txt"
exit "$failed"
