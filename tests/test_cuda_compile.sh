#!/bin/sh
# The compile-only cuda check (issue 15): every kernel the cuda backend
# would build, compiled with NVRTC and assembled with ptxas, no GPU needed.
#
# The elementwise programs are recorded ($DLHOST_EW_RECORD, see
# core/ew_kernel.c) while the conformance suite and the tests that create
# every built-in layer, loss, optimizer and augmenter run on cpu (they
# compile the same program texts on every backend), then
# tests/test_cuda_nvrtc renders the fixed kernels and each distinct program
# as CUDA C++ and compiles them for compute_75/80/90 and sm_75/80/90.
# A producer's own failures are its own test's business: here it only has
# to record.  SKIPs by name without the CUDA toolkit (NVRTC, ptxas).
# Environment (set by `make check`): DLHOST_BUILDDIR, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

b=${DLHOST_BUILDDIR:-.}
if [ ! -x "$b/tests/test_cuda_nvrtc" ]; then
    skip_all "cuda compile check: tests/test_cuda_nvrtc is not built"
fi
rec=$TAP_TMP/ew-programs
: > "$rec"
for t in conformance/test_conformance test_losses test_optimizers test_activations \
         test_act_layers test_norm_layers test_conv_layers test_pool_layers test_heads \
         test_param_groups test_augmenters test_grad_layers; do
    if [ -x "$b/tests/$t" ]; then
        DLHOST_EW_RECORD=$rec DLHOST_CONFORMANCE_BACKENDS=cpu "$b/tests/$t" \
            > "$TAP_TMP/producer.log" 2>&1
        n=$(tr -cd '\000' < "$rec" | wc -c)
        diag "tests/$t: $n programs recorded so far"
    else
        diag "tests/$t is not built: its programs are not checked"
    fi
done
[ -s "$rec" ]
ok $? "the producers recorded elementwise programs"
"$b/tests/test_cuda_nvrtc" "$rec" > "$TAP_TMP/nvrtc.tap" 2>&1
rc=$?
if grep -q '^1\.\.0 # SKIP' "$TAP_TMP/nvrtc.tap"; then
    skip_all "$(sed -n 's/^1\.\.0 # SKIP //p' "$TAP_TMP/nvrtc.tap")"
fi
sed 's/^/# /' "$TAP_TMP/nvrtc.tap"
ok $rc "tests/test_cuda_nvrtc passes over the record (its output above)"
grep -q '^ok .* every distinct ew program' "$TAP_TMP/nvrtc.tap"
ok $? "the recorded programs were compiled"
done_testing
