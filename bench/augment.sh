#!/bin/sh
# What augmentation costs a training epoch: the Fashion-MNIST CNN of
# examples/fashion-mnist/cnn.cfg, each epoch without and with the
# augmenters of cnn-augment.cfg plus random_erasing (random_crop,
# random_hflip, random_erasing), for dlhost and, in the same run, for
# PyTorch with the same torchvision transforms in a DataLoader
# (bench/torch_augment.py).  Rounds alternate plain and augmented runs so
# that both see the same machine; the figure is the median epoch time.
#
#   bench/augment.sh [BUILDDIR]        ROUNDS=3 EPOCHS=2 by default
#
# Not a test: it takes minutes and prints figures.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-.}" && pwd)
rounds=${ROUNDS:-3} epochs=${EPOCHS:-2}
data=/usr/share/datasets/fashion-mnist
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dlhost-augbench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
if [ -z "${DLHOST_PLUGIN_PATH:-}" ]; then
    DLHOST_PLUGIN_PATH=$(find "$build/plugins" -type d -name .libs | tr '\n' ':')
    DLHOST_PLUGIN_PATH_ONLY=1
    export DLHOST_PLUGIN_PATH DLHOST_PLUGIN_PATH_ONLY
fi
sed -e 's|random_hflip"; }|random_hflip"; },\n    { type = "random_erasing"; p = 0.5; }|' \
    "$here/../examples/fashion-mnist/cnn-augment.cfg" >"$tmp/aug.cfg"
sed -e '/augment = (/,/);/d' "$tmp/aug.cfg" >"$tmp/plain.cfg"
grep -q random_erasing "$tmp/aug.cfg" || { echo "cannot build the augmented config" >&2; exit 1; }

# Seconds of each epoch line ("epoch k/E ... 6.3s ...") after the first.
epoch_times() { sed -n 's/^epoch \([0-9]*\)\/[0-9]* .* \([0-9.]*\)s .*/\1 \2/p' "$1" |
                awk '$1 > 1 { print $2 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for r in $(seq "$rounds"); do
    for kind in plain aug; do
        "$build/dlhost" run "$tmp/$kind.cfg" --set train.epochs=$((epochs + 1)) \
            --runs "$tmp/runs-$kind-$r" >"$tmp/$kind-$r.log" 2>&1 ||
            { cat "$tmp/$kind-$r.log" >&2; exit 1; }
        epoch_times "$tmp/$kind-$r.log" >>"$tmp/$kind.times"
    done
done
echo "dlhost plain epochs (s): $(tr '\n' ' ' <"$tmp/plain.times")"
echo "dlhost augment epochs (s): $(tr '\n' ' ' <"$tmp/aug.times")"
p=$(median <"$tmp/plain.times") a=$(median <"$tmp/aug.times")
echo "dlhost plain $p s/epoch"
echo "dlhost augment $a s/epoch"
awk -v p="$p" -v a="$a" 'BEGIN { printf "dlhost augmentation costs %+.1f%% of an epoch\n", 100 * (a - p) / p }'

py=
for c in ${TORCH_PYTHON:-} python3 /usr/bin/python3; do
    if "$c" -c 'import torch, torchvision' 2>/dev/null; then py=$c; break; fi
done
if [ -n "$py" ]; then
    (cd "$here" && OMP_WAIT_POLICY=PASSIVE "$py" torch_augment.py \
        --images "$data/train-images-idx3-ubyte.gz" --labels "$data/train-labels-idx1-ubyte.gz" \
        --epochs "$epochs")
else
    echo "torch: SKIP (no python3 with torch and torchvision)"
fi
