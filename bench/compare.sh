#!/bin/sh
# Side-by-side training speed of dlhost, PyTorch and the sgemm-only floor on
# the Fashion-MNIST examples (see bench/compare.py for what is measured).
# PyTorch's figure is cross-checked against a plain loop in the same round;
# no ratio is printed when it fails (bench/README.md).
#
#   bench/compare.sh [BUILDDIR] [compare.py options]   (BUILDDIR: default .)
#   bench/compare.sh . --models mlp --rounds 3 --epochs 4
#   ROUNDS=3 EPOCHS=4 bench/compare.sh  more rounds / epochs per run
#   TORCH_PYTHON=/path/to/python3        a python3 that has torch
#   bench/compare.sh BUILD --cuda [--no-cpu --no-opencl]   the cuda rows too
#                                        (issue 15: cuda, PyTorch on CUDA, the cuBLAS floor)
#
# `make bench` in a build tree runs it.  Builds bench/sgemm_floor.c against
# OpenBLAS into a temporary folder first.  Not a test: it takes minutes and
# prints figures; it exits non-zero only when it cannot run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=.
case ${1:-} in -*|'') ;; *) build=$1; shift ;; esac
build=$(cd "$build" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dlhost-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

floor=
blas=$(pkg-config --cflags --libs openblas 2>/dev/null || echo -lopenblas)
# -fopenmp: the floor cuts its GEMMs as the cpu backend does, on OpenMP
# shellcheck disable=SC2086
if ${CC:-cc} -O2 -std=gnu11 -fopenmp -o "$tmp/sgemm_floor" -I"$here/../plugins/backends/cpu" "$here/sgemm_floor.c" $blas 2>"$tmp/cc.log"; then
    floor=$tmp/sgemm_floor
else
    echo "sgemm_floor: cannot build (OpenBLAS headers?):" >&2
    cat "$tmp/cc.log" >&2
fi

# With --cuda, bench/cublas_floor.c too: the driver and cuBLAS by dlopen
# (plugins/backends/gpu/gpu_dl.c), looked for in the build's CUDA toolkit.
cfloor=
case " $* " in
*" --cuda "*)
    cuda_dir=${DLHOST_CUDA_DIR:-$(sed -n 's/^CUDA_DIR = //p' "$build/Makefile" 2>/dev/null)}
    if ${CC:-cc} -O2 -std=gnu11 -I"$here/../plugins/backends/gpu" \
           -DDLH_CUDA_DIR="\"$cuda_dir\"" -o "$tmp/cublas_floor" "$here/cublas_floor.c" \
           "$here/../plugins/backends/gpu/gpu_dl.c" -ldl -lm 2>"$tmp/cc.log"; then
        cfloor=$tmp/cublas_floor
    else
        echo "cublas_floor: cannot build:" >&2
        cat "$tmp/cc.log" >&2
    fi ;;
esac

${PYTHON:-python3} "$here/compare.py" --builddir "$build" --srcdir "$here/.." \
    ${floor:+--floor "$floor"} ${cfloor:+--cublas-floor "$cfloor"} "$@"
