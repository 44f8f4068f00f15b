#!/bin/sh
# Start-up time: `dlhost check` (the experiment built as a run builds it, up
# to its first step) of the tiny CSV example and of the Fashion-MNIST MLP,
# wall time from exec to exit (and CPU time), median and minimum of N runs.
#
#   bench/startup.sh [BUILDDIR] [N]          BUILDDIR: default .; N: default 11
#   BASE=OTHER_BUILDDIR bench/startup.sh .   the same figures for a second
#                                            build, runs interleaved with ours
#
# Each build gets a fresh cache folder (DLHOST_CACHE_DIR): the first run of
# each experiment fills it and is reported on its own ("cold"), the N runs
# after it use it ("warm").  In a build tree the binary runs without its
# libtool wrapper (the wrapper alone is a shell start).  Not a test: it
# prints figures, with the machine's load, and exits non-zero only when it
# cannot run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${1:-.}
n=${2:-11}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dlhost-startup.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# The command line for build $1 ("installed": dlhost on PATH), written to
# $tmp/$2.env as environment lines and the binary.
setup() {
    b=$(cd "$1" && pwd)
    env=$tmp/$2.env
    mkdir -p "$tmp/$2.cache"
    if [ -x "$b/.libs/dlhost" ]; then
        path=$(find "$b/plugins" -name '*.so' -path '*/.libs/*' -exec dirname {} \; |
               sort -u | tr '\n' ':')
        {
            echo "export LD_LIBRARY_PATH='$b/core/.libs'"
            echo "export DLHOST_PLUGIN_PATH='${path%:}' DLHOST_PLUGIN_PATH_ONLY=1"
            echo "bin='$b/.libs/dlhost'"
        } >"$env"
    elif [ -x "$b/dlhost" ]; then
        echo "bin='$b/dlhost'" >"$env"
    else
        echo "startup.sh: no dlhost in $1" >&2
        exit 1
    fi
    echo "export DLHOST_CACHE_DIR='$tmp/$2.cache'" >>"$env"
}

# One timed run of a command: wall and CPU (user + system, all threads;
# GNU time's, 10 ms steps; 0 without /usr/bin/time) microseconds on stdout.
# The wall time includes the harness (two `date` and /usr/bin/time's own
# exec); the "harness" line below times /bin/true the same way.  On a busy
# machine the wall time is mostly the queue for a core; the CPU time is not.
timed() {
    t0=$(date +%s%N)
    echo "0 0" >"$tmp/cpu"
    timer=
    [ -x /usr/bin/time ] && timer="/usr/bin/time -f %U_%S -o $tmp/cpu"
    $timer "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
    t1=$(date +%s%N)
    echo "$(( (t1 - t0) / 1000 )) $(tr _ ' ' <"$tmp/cpu" |
        awk '{ printf "%d", ($1 + $2) * 1e6 }')"
}

# One timed `dlhost check` of side $1 on config $2.
run1() {
    (
        . "$tmp/$1.env"
        timed "$bin" check "$2"
    )
}

# median and minimum of column $2 of file $1 (microseconds), in ms.
stats() {
    awk -v c="$2" '{ print $c }' "$1" | sort -n | awk '{ v[NR] = $1 } END {
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "median %6.1f ms, min %6.1f ms", m / 1000, v[1] / 1000 }'
}

sides=new
setup "$build" new
if [ -n "${BASE:-}" ]; then
    setup "$BASE" base
    sides="base new"
fi

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null |
    sed 's/.*: //')"
echo "load before: $(uptime | sed 's/.*load/load/')"
: >"$tmp/true"
i=0
while [ "$i" -lt "$n" ]; do
    timed /bin/true >>"$tmp/true"
    i=$((i + 1))
done
echo "harness (/bin/true timed the same way): wall $(stats "$tmp/true" 1)"
fmnist=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
for cfg in examples/regression/regression.cfg examples/fashion-mnist/mlp.cfg; do
    if [ "$cfg" = examples/fashion-mnist/mlp.cfg ] && [ ! -r "$fmnist" ]; then
        echo "$cfg: skipped (no $fmnist; apt-get install dataset-fashion-mnist)"
        continue
    fi
    for s in $sides; do
        run1 "$s" "$src/$cfg" >"$tmp/$s.cold"
        : >"$tmp/$s.warm"
    done
    i=0
    while [ "$i" -lt "$n" ]; do
        for s in $sides; do
            run1 "$s" "$src/$cfg" >>"$tmp/$s.warm"
        done
        i=$((i + 1))
    done
    for s in $sides; do
        label=$([ "$s" = base ] && echo "base ($BASE)" || echo "dlhost ($build)")
        printf '%s, %s\n  cold: wall %6.1f ms, cpu %6.1f ms\n' "$cfg" "$label" \
            "$(awk '{ print $1 / 1000 }' "$tmp/$s.cold")" \
            "$(awk '{ print $2 / 1000 }' "$tmp/$s.cold")"
        printf '  warm (%d runs): wall %s; cpu %s\n' "$n" "$(stats "$tmp/$s.warm" 1)" \
            "$(stats "$tmp/$s.warm" 2)"
    done
done
echo "load after:  $(uptime | sed 's/.*load/load/')"
