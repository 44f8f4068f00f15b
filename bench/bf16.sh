#!/bin/sh
# Training speed and test accuracy of the cpu backend's precision = "bf16"
# against fp32 on the Fashion-MNIST examples: each model trained with both,
# alternating, ROUNDS times, EPOCHS epochs a run; prints the median of the
# runs' per-epoch samples/s and the last run's test accuracy, and the load.
#
#   bench/bf16.sh [BUILDDIR]              (BUILDDIR: default .)
#   ROUNDS=3 EPOCHS=3 MODELS="mlp cnn" bench/bf16.sh build
#
# Not a test: it takes minutes and prints figures.  Run it without
# OPENBLAS_CORETYPE (env -u OPENBLAS_CORETYPE) so that fp32 gets OpenBLAS's
# kernels for this CPU.  Exits non-zero only when it cannot run.
b=$(cd "${1:-.}" && pwd) || exit 1
src=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$b/dlhost" ] || { echo "bench/bf16.sh: no dlhost in $b" >&2; exit 1; }
LD_LIBRARY_PATH=$b/core/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
DLHOST_PLUGIN_PATH=$(find "$b/plugins" -name .libs -type d | tr '\n' ':')
DLHOST_PLUGIN_PATH_ONLY=1
export LD_LIBRARY_PATH DLHOST_PLUGIN_PATH DLHOST_PLUGIN_PATH_ONLY
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dlhost-bf16.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
rounds=${ROUNDS:-3} epochs=${EPOCHS:-3}
echo "load before: $(uptime)"
for model in ${MODELS:-mlp cnn}; do
    for r in $(seq "$rounds"); do
        for p in fp32 bf16; do
            "$b/dlhost" run "$src/examples/fashion-mnist/$model.cfg" --runs "$tmp/runs" \
                --set "backend.precision=\"$p\"" --set "train.epochs=$epochs" \
                --set "name=\"$model-$p-$r\"" >"$tmp/$model.$p.$r.out" 2>&1 ||
                { echo "bench/bf16.sh: $model $p failed:" >&2; cat "$tmp/$model.$p.$r.out" >&2; exit 1; }
            awk '$1 == "epoch" { print $(NF - 1) }' "$tmp/$model.$p.$r.out" >>"$tmp/$model.$p.sps"
        done
    done
    for p in fp32 bf16; do
        med=$(sort -n "$tmp/$model.$p.sps" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
        acc=$(awk '$1 == "test" { print $5 }' "$tmp/$model.$p.$rounds.out")
        printf '%-4s %-5s median %s samples/s over %d epochs, test accuracy %s\n' \
            "$model" "$p" "$med" "$(wc -l <"$tmp/$model.$p.sps")" "$acc"
    done
done
echo "load after: $(uptime)"
