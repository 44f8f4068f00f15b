#!/bin/sh
# The cuda backend's host side on the fake driver, cuBLAS and cuDNN of
# tests/fake_cuda/ (KERNELS DO NOT RUN THERE: launches are checked and
# counted, memory, copies, gemm and cuDNN's convolutions are real on host
# memory).  Runs
# tests/test_cuda_backend, then the CLI: `--backend cuda` trains a small
# regression through the real training loop (meaningless numbers), a
# 3-epoch run calls cuMemAlloc as often as a 1-epoch run (the step loop
# allocates nothing) and frees every block, the `device` parameter is refused past the device count, a
# missing cuBLAS is one line, and valgrind over the C test with the kernel
# cache it filled (no NVRTC compile under valgrind) is clean.
# SKIPs by name when the cuda plugin or the fake is not built.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
have_backend cuda || skip_all "cuda: not built (configure found no CUDA toolkit)"
b=${DLHOST_BUILDDIR:-.}
fake=$b/tests/fake_cuda/.libs/fake_cuda.so
[ -f "$fake" ] && [ -x "$b/tests/test_cuda_backend" ] ||
    skip_all "cuda fake: tests/fake_cuda or tests/test_cuda_backend is not built"
cd "$TAP_TMP" || exit 1
DLHOST_CACHE_DIR=$TAP_TMP/cache
export DLHOST_CACHE_DIR

"$b/tests/test_cuda_backend" > c.tap 2>&1
rc=$?
if grep -q '^1\.\.0 # SKIP' c.tap; then
    skip_all "$(sed -n 's/^1\.\.0 # SKIP //p' c.tap)"
fi
sed 's/^/# /' c.tap
ok $rc "tests/test_cuda_backend passes (its output above)"

# A regression (mse: no host check of values a kernel would have made, so
# the run goes through with meaningless numbers): every step's host side,
# the real training loop, on the fake.  3 epochs must call cuMemAlloc as
# often as 1: the step loop allocates nothing.
for e in 1 3; do
    cuda_regression_cfg e$e.cfg $e
    FAKE_CUDA_REPORT=$TAP_TMP/r$e DLHOST_CUDA_DRIVER=$fake DLHOST_CUBLAS=$fake \
        DLHOST_CUDNN=$fake run_cmd "$dlhost" run e$e.cfg --runs runs$e
    ok "$RC" "a $e-epoch run on the fake driver goes through every step"
    [ "$RC" -eq 0 ] || sed 's/^/# /' "$ERR_FILE"
done
like "$OUT_FILE" "run r: cuda (cuBLAS 13.1.0, Fake CUDA device 0" "the run line names the fake device"
a1=$(sed -n 's/^mem_alloc //p' r1 2>/dev/null)
a3=$(sed -n 's/^mem_alloc //p' r3 2>/dev/null)
n1=$(sed -n 's/^launch //p' r1 2>/dev/null)
n3=$(sed -n 's/^launch //p' r3 2>/dev/null)
[ -n "$a1" ] && [ "$a1" = "$a3" ] && [ "$n3" -gt "$n1" ]
ok $? "3 epochs call cuMemAlloc as often as 1 ($a1, $a3; launches $n1, $n3): the step loop allocates nothing"
diag "kernel launches per step (16 more steps): $(( (n3 - n1) / 16 ))"
is "$(sed -n 's/^live //p' r3 2>/dev/null)" 0 "every device block is freed by the end of the run"

sed 's/type = "cuda";/type = "cuda"; device = 2;/' e1.cfg > dev.cfg
DLHOST_CUDA_DRIVER=$fake DLHOST_CUBLAS=$fake run_cmd "$dlhost" run dev.cfg
is "$RC" 2 "device = 2 with one device: exit 2 (a configuration error)"
like "$ERR_FILE" "cuda: device 2 does not exist: the driver sees 1 CUDA device (0)" \
    "device = 2: says how many there are"
DLHOST_CUDA_DRIVER=$fake DLHOST_CUBLAS=$TAP_TMP/none.so run_cmd "$dlhost" run e1.cfg
is "$RC" 1 "no cuBLAS: exit 1"
like "$ERR_FILE" "cuda: no cuBLAS ($TAP_TMP/none.so: cannot open shared object file" \
    "no cuBLAS: one clear line"
is "$(wc -l < "$ERR_FILE" | tr -d ' ')" 1 "no cuBLAS: one line"

if command -v valgrind >/dev/null 2>&1 && [ -z "${DLHOST_SANITIZE:-}" ]; then
    DLH_TEST_CUDA_CACHE=$TAP_TMP/cache/cuda valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite "$b/tests/test_cuda_backend" > vg.out 2> vg.err
    rc=$?
    [ "$rc" -eq 0 ] && ! grep -q '==[0-9]*== ' vg.err
    ok $? "valgrind: tests/test_cuda_backend with the warm cache is clean (exit $rc)"
    [ "$rc" -eq 0 ] || { sed 's/^/# /' vg.err | head -60; grep -v '^ok' vg.out | head; }
else
    skip "valgrind: not installed or a sanitizer build"
fi
done_testing
