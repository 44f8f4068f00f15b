#!/bin/sh
# cuDNN's ABI as the cuda backend declares it (plugins/backends/cuda/
# cu_dnn.h: prototypes, enum values, the algorithm perf struct) held to the
# toolkit's cudnn.h: tests/cudnn_abi.c compiled with -Werror, not run (no
# GPU needed).  SKIPs without cudnn.h in $DLHOST_CUDA_DIR (make check sets
# configure's) or without a C compiler ($CC, else cc).

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

dir=${DLHOST_CUDA_DIR:-}
[ -n "$dir" ] && [ -f "$dir/include/cudnn.h" ] ||
    skip_all "no cudnn.h in the CUDA toolkit folder '$dir' (DLHOST_CUDA_DIR)"
cc=${CC:-cc}
command -v "$cc" >/dev/null 2>&1 || skip_all "no C compiler ($cc)"
src=${DLHOST_SRCDIR:-.}
run_cmd $cc -std=gnu11 -Wall -Wextra -Werror -fsyntax-only -I"$dir/include" \
    -I"$src/include" -I"$src/include/dlhost" "$src/tests/cudnn_abi.c"
ok "$RC" "cu_dnn.h declares cuDNN as $dir/include/cudnn.h does"
[ "$RC" -eq 0 ] || sed 's/^/# /' "$ERR_FILE" | head -30
done_testing
