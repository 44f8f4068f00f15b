#!/bin/sh
# The shipped example experiments stay valid: `dlhost check` accepts every
# config of examples/ that needs only built-in plugins, and the transfer
# example's chain (examples/transfer/README.md) runs end to end, shortened
# (the base run on the first 3000 images for one epoch, the target runs for
# two): probe.cfg and finetune.cfg find the base run's checkpoint by name
# under the runs folder and load the tensors the README says they load.
# The Fashion-MNIST examples SKIP where dataset-fashion-mnist is absent.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.
. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
ex=$(cd "$DLHOST_SRCDIR/examples" && pwd)
cd "$TAP_TMP" || exit 1
fm=/usr/share/datasets/fashion-mnist
have_fm=0
[ -r "$fm/train-images-idx3-ubyte.gz" ] && [ -r "$fm/t10k-labels-idx1-ubyte.gz" ] && have_fm=1

for cfg in "$ex"/dag/*.cfg "$ex"/regression/*.cfg "$ex"/fashion-mnist/*.cfg \
           "$ex"/transfer/base.cfg "$ex"/transfer/scratch.cfg; do
    name=${cfg#"$ex"/}
    if [ "$have_fm" = 0 ] && grep -q fashion-mnist "$cfg"; then
        skip "$name: no Fashion-MNIST here (Debian dataset-fashion-mnist)"
        continue
    fi
    run_cmd "$dlhost" check "$cfg"
    is "$RC" 0 "dlhost check $name"
done

if [ "$have_fm" = 0 ]; then
    skip "transfer chain: no Fashion-MNIST here (Debian dataset-fashion-mnist)"
    done_testing
    exit 0
fi
run_cmd "$dlhost" run "$ex/transfer/base.cfg" --set train.epochs=1 --set data.train.limit=3000
is "$RC" 0 "transfer: the base run (shortened) trains"
[ -f runs/transfer-base/last.safetensors ]
ok $? "transfer: the base run leaves runs/transfer-base/last.safetensors"
for w in probe finetune; do
    run_cmd "$dlhost" check "$ex/transfer/$w.cfg"
    is "$RC" 0 "dlhost check transfer/$w.cfg after the base run"
    run_cmd "$dlhost" run "$ex/transfer/$w.cfg" --set train.epochs=2
    is "$RC" 0 "transfer: $w.cfg trains from the base run"
    like "runs/transfer-$w/pretrained.txt" \
         "pretrained runs/transfer-base/last.safetensors: 40 tensors in the file" \
         "transfer: $w.cfg reads the base run's last checkpoint"
    like "runs/transfer-$w/pretrained.txt" \
         "loaded          4: conv1.weight, conv1.bias, conv2.weight, conv2.bias" \
         "transfer: $w.cfg loads the conv backbone"
done
like runs/transfer-probe/pretrained.txt "skipped         2 (initialised fresh): head.weight, head.bias" \
     "transfer: the probe's head starts fresh"
like runs/transfer-finetune/pretrained.txt \
     "skipped         6 (initialised fresh): fc1.weight, fc1.bias, fc2.weight, fc2.bias, head.weight, head.bias" \
     "transfer: the fine-tune's classifier starts fresh"
like "$OUT_FILE" "500 samples, 61281 parameters" \
     "transfer: 100 training samples of each of the 5 classes, the whole CNN"

done_testing
