#!/bin/sh
# A dlhost checkpoint loads straight into the equivalent PyTorch model
# (DESIGN.md section 3: PyTorch's names and layouts): a small conv2d +
# batchnorm + dense classifier trained for a few epochs, loaded by
# tests/torch_interop.py with load_state_dict(strict=True), gives the test
# loss and accuracy `dlhost eval` gives; its tensors are torch's state_dict
# name for name with torch's dtypes, batchnorm's int64 num_batches_tracked
# (an I64 tensor) counting the 24 training batches.  SKIP without a python3 that has
# torch and numpy (TORCH_PYTHON names one; Debian's python3-torch).
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
torch_python
[ -n "$py" ] || skip_all "no python3 with torch and numpy (Debian's python3-torch)"
cd "$TAP_TMP" || exit 1

# Three classes of 4x4 images: a bright row, column or diagonal, with noise.
# make_csv N SEED
make_csv() {
    awk -v n="$1" -v seed="$2" 'BEGIN {
        srand(seed)
        for (j = 0; j < 16; j++) printf "p%d,", j
        print "class"
        for (i = 0; i < n; i++) {
            c = i % 3; k = int(rand() * 4)
            for (j = 0; j < 16; j++) {
                r = int(j / 4); q = j % 4
                on = (c == 0 && r == k) || (c == 1 && q == k) || (c == 2 && r == q)
                printf "%.4f,", 10 * on + 4 * rand()
            }
            print c
        }
    }'
}
make_csv 96 1 >train.csv
make_csv 48 2 >test.csv

cat >exp.cfg <<CFG
name = "interop";
seed = 5;
backend = { type = "cpu"; };
data = {
  train = { type = "csv"; path = "train.csv"; header = true; shape = [1, 4, 4]; };
  test  = { type = "csv"; path = "test.csv"; header = true; shape = [1, 4, 4]; };
  normalize = "zscore";
};
$(torch_cnn_model)
loss = { type = "cross_entropy"; };
optimizer = { type = "adam"; lr = 0.01; };
train = { epochs = 4; batch_size = 16; };
CFG

run_cmd "$dlhost" run exp.cfg --runs runs
ok "$RC" "4 epochs of the conv + batchnorm + dense model"
ckpt=runs/interop/last.safetensors
run_cmd "$dlhost" eval exp.cfg --weights "$ckpt"
ok "$RC" "dlhost eval of its checkpoint"
ours=$(sed -n 's/^test  48 samples  loss \([0-9.]*\)  accuracy \([0-9.]*\)$/\1 \2/p' "$OUT_FILE")
[ -n "$ours" ]
ok $? "dlhost eval prints the test loss and accuracy ($ours)"

run_cmd "$py" "$DLHOST_SRCDIR/tests/torch_interop.py" "$ckpt" test.csv
ok "$RC" "PyTorch loads the weights with load_state_dict(strict=True) ($(tail -n 1 "$ERR_FILE"))"
theirs=$(sed -n 's/^torch loss \([0-9.]*\) accuracy \([0-9.]*\) samples 48$/\1 \2/p' "$OUT_FILE")
[ -n "$theirs" ]
ok $? "PyTorch evaluates the 48 test samples ($theirs)"
# shellcheck disable=SC2086
set -- $ours $theirs
[ $# -eq 4 ] && awk -v a="$1" -v b="$3" 'BEGIN { d = a - b; if (d < 0) d = -d;
                                              exit !(d <= 1e-4 * a + 1e-6) }'
ok $? "the same test loss in both, to 1e-4 (dlhost ${1:-?}, PyTorch ${3:-?})"
[ $# -eq 4 ] && [ "$2" = "$4" ]
ok $? "the same accuracy in both (dlhost ${2:-?}, PyTorch ${4:-?})"
# 96 samples in batches of 16 for 4 epochs: 24 training forwards.
like "$OUT_FILE" "num_batches_tracked 24" \
     "bn.num_batches_tracked loads as torch's int64 and counts the 24 batches"

done_testing
