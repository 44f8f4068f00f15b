#!/bin/sh
# data.normalize = "pca" | "zca" from the command line: the run trains on
# whitened data, its checkpoints carry mean and W as the tensors
# normalize.mean [D] and normalize.whiten [D, D], `dlhost eval` whitens the
# test data with them (the run's own test result), --resume continues to the
# uninterrupted run's bytes, and bad settings are refused with file:line.
# (The numbers are tests/test_whiten's, against scikit-learn and NumPy.)
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

# Three features, the third nearly the sum of the first two (whitening has
# something to undo), two classes.
awk -F, 'NR == 1 { print "x1,x2,x3,class"; next }
         { printf "%s,%s,%.4f,%d\n", $1, $2, $1 + $2 + 0.05 * (NR % 7), ($3 > 1) }' \
    "$DLHOST_SRCDIR/tests/data/good_train.csv" >train.csv

cat >exp.cfg <<'EOF'
name = "w";
seed = 3;
backend = { type = "cpu"; threads = 1; };
data = {
  train = { type = "csv"; path = "train.csv"; header = true; };
  test  = { type = "csv"; path = "train.csv"; header = true; };
  normalize = "zca";
};
model = (
  { name = "fc1"; type = "dense"; units = 8; },
  { type = "relu"; },
  { name = "out"; type = "dense"; units = 2; }
);
loss = { type = "cross_entropy"; };
optimizer = { type = "adam"; lr = 0.02; };
train = { epochs = 4; batch_size = 8; };
EOF

# The header of a safetensors file as JSON text.
header() {
    od -An -tu1 -N8 "$1" | awk '{ n = 0; for (i = NF; i >= 1; i--) n = n * 256 + $i; print n }' |
        { read -r n; dd if="$1" bs=1 skip=8 count="$n" 2>/dev/null; }
}

for kind in zca pca; do
    run_cmd "$dlhost" run exp.cfg --runs "$kind" --set "data.normalize=\"$kind\""
    is "$RC" 0 "$kind: the run exits 0"
    grep '^test ' "$OUT_FILE" | sed 's/  *(.*//' >"$kind.test"
    header "$kind/w/last.safetensors" >"$kind.json"
    grep -q '"normalize.mean":{"dtype":"F32","shape":\[3\]' "$kind.json" &&
        grep -q '"normalize.whiten":{"dtype":"F32","shape":\[3,3\]' "$kind.json"
    ok $? "$kind: last.safetensors carries normalize.mean [3] and normalize.whiten [3, 3]"
    grep -q "\"normalize\":\"$kind\"" "$kind.json"
    ok $? "$kind: its metadata says normalize = $kind"
    run_cmd "$dlhost" eval exp.cfg --weights "$kind/w/last.safetensors" \
        --set "data.normalize=\"$kind\""
    is "$RC" 0 "$kind: eval exits 0"
    loss=$(sed -n 's/^test  *loss \([0-9.]*\).*/\1/p' "$kind.test")
    grep -Eq "loss $loss " "$OUT_FILE"
    ok $? "$kind: eval whitens as the run did: the run's test loss $loss"
done

# The whitened inputs change what the model learns: pca and zca differ
# from each other and from no normalisation.
run_cmd "$dlhost" run exp.cfg --runs none --set 'data.normalize="none"'
grep '^test ' "$OUT_FILE" | sed 's/  *(.*//' >none.test
! cmp -s zca.test pca.test && ! cmp -s zca.test none.test
ok $? "zca, pca and none train differently: $(cat zca.test pca.test none.test | tr '\n' ' ')"

# Resume: 2 epochs, then 4, equals 4 at once, bit for bit.
run_cmd "$dlhost" run exp.cfg --runs cut --set train.epochs=2
is "$RC" 0 "zca: the 2-epoch run exits 0"
run_cmd "$dlhost" run exp.cfg --resume cut/w --set train.epochs=4
is "$RC" 0 "zca: --resume to 4 epochs exits 0"
cmp -s zca/w/last.safetensors cut/w/last.safetensors
ok $? "zca: the resumed run's last.safetensors equals the uninterrupted run's"

# A checkpoint whose whitening tensors were damaged is refused by eval.
run_cmd "$dlhost" eval exp.cfg --weights zca/w/last.safetensors \
    --set 'data.normalize="zscore"'
is "$RC" 2 "eval with another normalize exits 2"
like "$ERR_FILE" 'trained with normalize = "zca"' "it names the checkpoint's kind"

# Bad settings.
sed 's/normalize = "zca";/normalize = "zscore";\n  whiten_epsilon = 0.1;/' exp.cfg >eps.cfg
run_cmd "$dlhost" check eps.cfg
is "$RC" 2 "whiten_epsilon without pca/zca exits 2"
like "$ERR_FILE" "eps.cfg:8:" "it gives the file and line of the key"
like "$ERR_FILE" "'whiten_epsilon' applies to normalize = \"pca\" or \"zca\" only" \
     "it says whiten_epsilon needs pca or zca"
run_cmd "$dlhost" check exp.cfg --set data.whiten_epsilon=-1
is "$RC" 2 "a negative whiten_epsilon exits 2"
like "$ERR_FILE" "whiten_epsilon" "it names the key"
run_cmd "$dlhost" check exp.cfg --set 'data.normalize="pcb"'
is "$RC" 2 "an unknown normalize exits 2"
like "$ERR_FILE" '"pca"' "the choices include pca"
# An exactly dependent feature with epsilon 0: singular.
awk -F, 'NR == 1 { print "x1,x2,x3,class"; next }
         { printf "%s,%s,%s,%d\n", $1, $2, $1, ($3 > 1) }' \
    "$DLHOST_SRCDIR/tests/data/good_train.csv" >dup.csv
run_cmd "$dlhost" run exp.cfg --runs sing --set data.whiten_epsilon=0 \
    --set 'data.train.path="dup.csv"' --set 'data.test.path="dup.csv"'
is "$RC" 1 "a singular covariance with epsilon 0 exits 1"
like "$ERR_FILE" "data.train: normalisation statistics: normalisation: the covariance of the 3 training features is singular (rank 2)" \
     "it says the covariance is singular, with its rank"
like "$ERR_FILE" "set data.whiten_epsilon > 0" "it says what to do"

# The core loads OpenBLAS when it first needs it (here: the covariance's
# eigenvectors), not at start: a missing one is one line.
run_cmd env DLHOST_LIBOPENBLAS=libdlhost-no-such-openblas.so.0 "$dlhost" run exp.cfg --runs noblas
is "$RC" 1 "OpenBLAS missing: exit 1"
like "$ERR_FILE" "normalisation: cannot load OpenBLAS (libdlhost-no-such-openblas.so.0: " \
     "OpenBLAS missing: says which library, and why"
like "$ERR_FILE" "apt-get install libopenblas0" "OpenBLAS missing: names the package"
done_testing
