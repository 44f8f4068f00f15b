#!/bin/sh
# bench/compare.sh --cuda and bench/cublas_floor.c on the fake driver and
# cuBLAS of tests/fake_cuda (issue 15's cuda bench, its code paths only:
# kernels do not run on the fake and its GEMMs are naive loops on the host,
# so every figure here means nothing).  Proves that cublas_floor builds the
# way compare.sh builds it, does its GEMMs (the fake counts them), checks
# them against the host (and fails cleanly when they are wrong), says one
# line for a missing driver or cuBLAS and for bad arguments; that
# compare.py --cuda parses dlhost's cuda runs and the floor and prints the
# ratios; that a missing driver is one SKIP line; and that
# bench/torch_cuda.py runs (on the CPU: --device cpu) when torch is here.
# SKIPs by name without the cuda plugin, the fake, a C compiler or python3.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
have_backend cuda || skip_all "cuda: not built (configure found no CUDA toolkit)"
b=$(cd "${DLHOST_BUILDDIR:-.}" && pwd)
fake=$b/tests/fake_cuda/.libs/fake_cuda.so
[ -f "$fake" ] || skip_all "cuda fake: tests/fake_cuda is not built"
command -v "${CC:-cc}" >/dev/null 2>&1 || skip_all "no C compiler (cc) to build bench/cublas_floor.c"
command -v python3 >/dev/null 2>&1 || skip_all "no python3 for bench/compare.py"
# The floor is built by plain cc, as compare.sh builds it; a fake built with
# --enable-sanitizers carries ASan, which must come first in a program's
# libraries, so the floor cannot load it (the plain builds run every check).
ldd "$fake" 2>/dev/null | grep -q libasan &&
    skip_all "a sanitizer build: the fake driver carries ASan, the plain-cc floor cannot load it"
src=$DLHOST_SRCDIR
cd "$TAP_TMP" || exit 1

# cublas_floor, built as compare.sh builds it
${CC:-cc} -O2 -std=gnu11 -Wall -Wextra -I"$src/plugins/backends/gpu" -DDLH_CUDA_DIR='""' \
    -o cublas_floor "$src/bench/cublas_floor.c" "$src/plugins/backends/gpu/gpu_dl.c" \
    -ldl -lm 2> cc.log
ok $? "bench/cublas_floor.c builds"
is "$(grep -c 'warning:' cc.log)" 0 "bench/cublas_floor.c builds without warnings"

fenv() { env DLHOST_CUDA_DRIVER="$fake" DLHOST_CUBLAS="$fake" DLHOST_CUDNN="$fake" "$@"; }
FAKE_CUDA_REPORT=$TAP_TMP/rep run_cmd fenv ./cublas_floor --samples 300 --batch 128 \
    --epochs 2 20 16 12 4
ok "$RC" "cublas_floor on the fake: exit 0"
like "$OUT_FILE" "device 0: Fake CUDA device 0 (driver 13.0, cuBLAS 13.1.0" "it names the device"
is "$(grep -c '^epoch [12]/2 ' "$OUT_FILE")" 2 "one line per epoch"
grep -q '^floor epoch_s=[0-9.]* samples_per_s=[0-9]* gflops=[0-9.]*$' "$OUT_FILE"
ok $? "the summary line compare.py reads"
like "$OUT_FILE" "check: forward" "the GEMMs are checked against the host"
# 3 layers: 3 forward, 3 weight-gradient and 2 input-gradient GEMMs a step;
# ceil(300 / 128) = 3 steps an epoch, 2 epochs, and the checked step.
is "$(sed -n 's/^sgemm //p' rep)" $(( 8 * 3 * 2 + 8 )) "every GEMM of every step is a cublasSgemm"
is "$(sed -n 's/^live //p' rep)" 0 "every device block is freed"

FAKE_CUBLAS_WRONG=1 run_cmd fenv ./cublas_floor --samples 128 --epochs 1 20 16 4
is "$RC" 1 "GEMMs 1e-3 off: exit 1"
like "$ERR_FILE" "cublas_floor: the GEMMs are wrong: largest relative error" "GEMMs off: says so"
DLHOST_CUDA_DRIVER=$TAP_TMP/none.so run_cmd ./cublas_floor 10 4
is "$RC" 1 "no driver: exit 1"
like "$ERR_FILE" "cublas_floor: no CUDA driver ($TAP_TMP/none.so: cannot open" "no driver: one line"
is "$(wc -l < "$ERR_FILE" | tr -d ' ')" 1 "no driver: exactly one line"
DLHOST_CUDA_DRIVER=$fake DLHOST_CUBLAS=$TAP_TMP/none.so run_cmd ./cublas_floor 10 4
is "$RC" 1 "no cuBLAS: exit 1"
like "$ERR_FILE" "cublas_floor: no cuBLAS ($TAP_TMP/none.so: cannot open" "no cuBLAS: one line"
run_cmd fenv ./cublas_floor 10
is "$RC" 2 "one layer width: exit 2"
like "$ERR_FILE" "cublas_floor: give at least two layer widths" "one width: says so"
run_cmd fenv ./cublas_floor --batch x 10 4
is "$RC" 2 "a bad option value: exit 2"
if command -v valgrind >/dev/null 2>&1 && [ -z "${DLHOST_SANITIZE:-}" ]; then
    fenv valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        ./cublas_floor --samples 200 --epochs 2 20 16 4 > vg.out 2> vg.err
    rc=$?
    [ "$rc" -eq 0 ] && ! grep -q '==[0-9]*== ' vg.err
    ok $? "valgrind: cublas_floor on the fake is clean (exit $rc)"
    [ "$rc" -eq 0 ] || sed 's/^/# /' vg.err | head -40
else
    skip "valgrind: not installed or a sanitizer build"
fi

# Tiny Fashion-MNIST-shaped data (28 x 28, 10 classes) and small models.
# Classification losses check on the host what kernels made (the targets'
# one-hot count), which the fake cannot give: the models train on one-hot
# dense targets with mse (npy files), the idx files are for torch_cuda.py.
python3 - <<'PY'
import gzip, random, struct
random.seed(5)
n = 256
px = [random.randrange(256) for _ in range(n * 784)]
with gzip.open("img.gz", "wb") as f:
    f.write(struct.pack(">HBBIII", 0, 8, 3, n, 28, 28))
    f.write(bytes(px))
with gzip.open("lab.gz", "wb") as f:
    f.write(struct.pack(">HBBI", 0, 8, 1, n))
    f.write(bytes(i % 10 for i in range(n)))
def npy(path, shape, values):
    head = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % (shape,)
    head += " " * (63 - (10 + len(head)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head.encode())
        f.write(struct.pack("<%df" % len(values), *values))
npy("x.npy", (n, 1, 28, 28), [v / 255.0 for v in px])
npy("y.npy", (n, 10), [1.0 if j == i % 10 else 0.0 for i in range(n) for j in range(10)])
PY
mkdir cfg
for m in mlp cnn; do
    if [ "$m" = mlp ]; then
        layers='{ name = "flat"; type = "flatten"; },
  { name = "fc1"; type = "dense"; units = 32; }, { type = "relu"; },
  { name = "fc2"; type = "dense"; units = 16; }, { type = "relu"; },
  { name = "head"; type = "dense"; units = 10; }'
    else
        layers='{ name = "conv1"; type = "conv2d"; out_channels = 4; kernel_size = 3; },
  { type = "relu"; }, { name = "pool1"; type = "maxpool2d"; kernel_size = 2; },
  { name = "flat"; type = "flatten"; }, { name = "head"; type = "dense"; units = 10; }'
    fi
    cat > cfg/$m.cfg <<CFG
name = "tiny-$m";
seed = 42;
backend = { type = "cpu"; };
data = { train = { type = "npy"; x = "$TAP_TMP/x.npy"; y = "$TAP_TMP/y.npy"; label = "dense"; };
         normalize = "zscore"; };
model = ( $layers );
loss = { type = "mse"; };
optimizer = { type = "adam"; lr = 1e-3; };
train = { epochs = 2; batch_size = 128; shuffle = true; };
CFG
done

bench() { fenv sh "$src/bench/compare.sh" "$b" \
              --cuda --no-cpu --no-opencl --rounds 1 --epochs 2 --configs "$TAP_TMP/cfg" "$@"; }
run_cmd bench
ok "$RC" "compare.sh --cuda on the fake: exit 0 (its output, meaningless figures:)"
sed -n '/^--- cuda:/,$s/^/# /p' "$OUT_FILE"
[ "$RC" -eq 0 ] || sed 's/^/# /' "$ERR_FILE" | head -20
for m in mlp cnn; do
    grep -q "^$m cuda dlhost: [0-9,]* samples/s  (epochs [0-9,]*, [0-9,]*; .*cuda (cuBLAS 13.1.0, Fake CUDA device 0" "$OUT_FILE"
    ok $? "$m: the cuda dlhost row, parsed from the run's epoch lines"
done
like "$OUT_FILE" "mlp cuBLAS floor: " "the mlp's cuBLAS floor row"
like "$OUT_FILE" "s/epoch of GEMMs 784 x 32 x 16 x 10" "the floor runs the model's GEMMs (widths from dlhost check)"
grep -q '^mlp cuda epoch  : dlhost [0-9.]* s, cuBLAS-only [0-9.]* s: [0-9.]*x the floor (target <= 1.5x)' "$OUT_FILE"
ok $? "the epoch/floor ratio"
grep -q '^mlp cuda: cuBLAS floor [0-9,]* samples/s; dlhost epoch time [0-9.]*x the floor' "$OUT_FILE"
ok $? "the summary's floor ratio"
if grep -q '^PyTorch cuda: SKIP: ' "$OUT_FILE"; then
    ok 0 "PyTorch on CUDA: a SKIP line with the reason ($(sed -n 's/^PyTorch cuda: SKIP: //p' "$OUT_FILE"))"
else
    like "$OUT_FILE" "mlp cuda ratio : dlhost/PyTorch" "PyTorch on CUDA: the ratio"
fi
unlike "$OUT_FILE" "FAILED" "no row failed"
unlike "$OUT_FILE" "Traceback" "no Python traceback"

DLHOST_CUDA_DRIVER=$TAP_TMP/none.so run_cmd sh "$src/bench/compare.sh" "$b" --cuda --no-cpu \
    --no-opencl --rounds 1 --epochs 2 --configs "$TAP_TMP/cfg" --models mlp
ok "$RC" "no driver: compare.sh --cuda still exits 0"
like "$OUT_FILE" "cuda: SKIP: dlhost --backend cuda exits 1: " "no driver: one SKIP line with dlhost's reason"
unlike "$OUT_FILE" "cuda dlhost:" "no driver: no cuda row"

torch_python
if [ -n "$py" ]; then
    run_cmd "$py" "$src/bench/torch_cuda.py" --device cpu --model mlp --images img.gz \
        --labels lab.gz --epochs 2 --batch 128 --schedule cosine
    ok "$RC" "bench/torch_cuda.py runs (on the CPU)"
    grep -q '^torch-cuda device=cpu samples_per_s=[0-9]*$' "$OUT_FILE"
    ok $? "its summary line, as compare_cuda.py reads it"
    run_cmd "$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"
    if [ "$RC" -ne 0 ]; then
        run_cmd "$py" "$src/bench/torch_cuda.py" --model mlp --images img.gz --labels lab.gz
        is "$RC" 77 "torch_cuda.py without CUDA: exit 77"
        like "$OUT_FILE" "SKIP: torch " "without CUDA: a SKIP line"
    fi
else
    skip "bench/torch_cuda.py: no python3 with torch"
fi
done_testing
