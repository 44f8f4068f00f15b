#!/bin/sh
# What train.diagnostics costs a training epoch: the Fashion-MNIST MLP of
# examples/fashion-mnist/mlp.cfg, each epoch without and with --diagnose,
# with backend.threads 1 and 2.  Rounds alternate plain and diagnosed runs
# so that both see the same machine; the figure is the median epoch time
# (the first epoch of each run, which warms up, left out; training and
# validation, as metrics.csv's seconds column counts them).
#
#   bench/diagnose.sh [BUILDDIR]       ROUNDS=3 EPOCHS=2 by default
#
# Not a test: it takes minutes and prints figures.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-.}" && pwd)
rounds=${ROUNDS:-3} epochs=${EPOCHS:-2}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dlhost-diagbench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
if [ -z "${DLHOST_PLUGIN_PATH:-}" ]; then
    DLHOST_PLUGIN_PATH=$(find "$build/plugins" -type d -name .libs | tr '\n' ':')
    DLHOST_PLUGIN_PATH_ONLY=1
    export DLHOST_PLUGIN_PATH DLHOST_PLUGIN_PATH_ONLY
fi
cfg="$here/../examples/fashion-mnist/mlp.cfg"

# The seconds of each epoch after the first, from a run folder's metrics.csv
# (the epoch line rounds them to 0.1 s).
epoch_times() { awk -F, 'NR > 2 { print $7 }' "$1/metrics.csv"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for threads in 1 2; do
    for r in $(seq "$rounds"); do
        for kind in plain diag; do
            flag=
            [ "$kind" = diag ] && flag=--diagnose
            "$build/dlhost" run "$cfg" $flag --set train.epochs=$((epochs + 1)) \
                --set backend.threads=$threads \
                --runs "$tmp/runs-$kind-$threads-$r" >"$tmp/$kind-$threads-$r.log" 2>&1 ||
                { cat "$tmp/$kind-$threads-$r.log" >&2; exit 1; }
            epoch_times "$tmp/runs-$kind-$threads-$r/fashion-mlp" >>"$tmp/$kind-$threads.times"
        done
    done
    p=$(median <"$tmp/plain-$threads.times") d=$(median <"$tmp/diag-$threads.times")
    echo "threads $threads: plain epochs (s): $(tr '\n' ' ' <"$tmp/plain-$threads.times")"
    echo "threads $threads: --diagnose epochs (s): $(tr '\n' ' ' <"$tmp/diag-$threads.times")"
    awk -v p="$p" -v d="$d" -v t="$threads" 'BEGIN {
        printf "threads %s: plain %.3f s/epoch, --diagnose %.3f s/epoch: %+.1f%%\n", t, p, d,
               100 * (d - p) / p }'
done
