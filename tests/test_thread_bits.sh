#!/bin/sh
# The cpu backend's numerics do not depend on its thread count: the same
# training with backend.threads 1, 2 and 3 writes byte-identical checkpoints
# and the same metrics, for an MLP whose gemms are large enough to be cut
# into pieces and a small CNN with batch normalisation (statistics, bias and
# weight-gradient sums, the loss and the guard's sum of squares all reduce
# across the batch); and the same with backend.precision = "bf16" (each
# gemm piece one oneDNN matmul planned for one thread).  That is what lets
# backend.adapt change the count in the middle of a run (cpu_adapt.c)
# without breaking resume's bit-exactness.  And backend.adapt's bad values
# are refused.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

# 192 samples of 256 features, three classes.
class_images wide.csv 192 256 5
# 96 samples of [3, 16, 16], three classes.
class_images img.csv 96 768 9

cat >mlp.cfg <<'EOF'
name = "mlp";
seed = 11;
backend = { type = "cpu"; adapt = false; };
data = {
  train = { type = "csv"; path = "wide.csv"; header = true; label_column = 0; };
  validation_split = 0.25;
  normalize = "zscore";
};
model = (
  { name = "fc1"; type = "dense"; units = 512; },
  { type = "relu"; },
  { name = "drop"; type = "dropout"; rate = 0.1; },
  { name = "fc2"; type = "dense"; units = 256; },
  { type = "relu"; },
  { name = "out"; type = "dense"; units = 3; }
);
loss = { type = "cross_entropy"; label_smoothing = 0.1; };
optimizer = { type = "adamw"; lr = 0.003; };
train = { epochs = 2; batch_size = 64; shuffle = true; };
EOF

cat >cnn.cfg <<'EOF'
name = "cnn";
seed = 12;
backend = { type = "cpu"; adapt = false; };
data = {
  train = { type = "csv"; path = "img.csv"; header = true; label_column = 0;
            shape = [3, 16, 16]; };
  validation_split = 0.25;
};
model = (
  { name = "c1"; type = "conv2d"; out_channels = 8; kernel_size = 3; padding = 1; },
  { name = "bn1"; type = "batchnorm"; },
  { type = "relu"; },
  { name = "p1"; type = "maxpool2d"; kernel_size = 2; },
  { name = "c2"; type = "conv2d"; out_channels = 32; kernel_size = 3; padding = 1; },
  { name = "bn2"; type = "batchnorm"; },
  { type = "relu"; },
  { name = "flat"; type = "flatten"; },
  { name = "fc"; type = "dense"; units = 128; },
  { type = "relu"; },
  { name = "out"; type = "dense"; units = 3; }
);
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.05; momentum = 0.9; };
train = { epochs = 2; batch_size = 24; shuffle = true; };
EOF

# metrics.csv without the timing columns (seconds, samples_per_s).
metrics() {
    cut -d, -f1-6 "$1/metrics.csv"
}

# Both models with threads 1, 2, 3; $1: "" (fp32) or "bf16"
# (backend.precision, whose gemms take bf16 operands through oneDNN).
same_bits() {
    p=$1
    for model in mlp cnn; do
        for t in 1 2 3; do
            run_cmd "$dlhost" run "$model.cfg" --runs "t$t$p" --set "backend.threads=$t" \
                ${p:+--set "backend.precision=\"$p\""}
            is "$RC" 0 "$model${p:+ $p}: trains with backend.threads = $t"
        done
        for t in 2 3; do
            same=0
            for f in t1$p/"$model"/*.safetensors; do
                cmp -s "$f" "t$t$p/$model/${f##*/}" || same=1
            done
            [ -e t1$p/"$model"/last.safetensors ] || same=1
            ok $same "$model${p:+ $p}: threads = $t writes the bytes of threads = 1 (checkpoints)"
            metrics "t1$p/$model" >m1.csv
            metrics "t$t$p/$model" >m$t.csv
            cmp -s m1.csv "m$t.csv"
            ok $? "$model${p:+ $p}: threads = $t gives the metrics of threads = 1"
        done
    done
}
same_bits ""
# The same with bf16 products, where this build and CPU have them.
sed 's/adapt = false;/adapt = false; precision = "bf16";/' mlp.cfg >probe.cfg
run_cmd "$dlhost" run probe.cfg --runs probe --set train.epochs=1
if [ "$RC" -eq 0 ]; then
    same_bits bf16
    cmp -s t1/mlp/last.safetensors t1bf16/mlp/last.safetensors
    ok $((!$?)) "mlp: bf16 trains other weights than fp32 (its products are bf16)"
elif grep -Eq "built without|native bf16" "$ERR_FILE"; then
    skip "precision = \"bf16\": $(cat "$ERR_FILE")"
else
    ok 1 "precision = \"bf16\" trains: $(cat "$ERR_FILE")"
fi

# The default (adapt = true) trains to the same bytes as well: the count it
# picks does not show in the numbers.
run_cmd "$dlhost" run mlp.cfg --runs adapt --set backend.adapt=true --set backend.threads=2
is "$RC" 0 "mlp: trains with backend.adapt = true"
cmp -s t1/mlp/last.safetensors adapt/mlp/last.safetensors
ok $? "mlp: adapt = true writes the bytes of threads = 1"

# The vector loops (elementwise programs, and the direct convolutions of
# cpu_conv_direct.c: c1's forward and weight gradient, 3 channels of 3x3,
# and c2's input gradient, 8 channels) give the same bits on each ISA the
# CPU has.
for isa in avx2 baseline; do
    DLHOST_CPU_EW_ISA=$isa run_cmd "$dlhost" run cnn.cfg --runs "isa_$isa" \
        --set backend.threads=2
    is "$RC" 0 "cnn: trains with DLHOST_CPU_EW_ISA=$isa"
    cmp -s t1/cnn/last.safetensors "isa_$isa/cnn/last.safetensors"
    ok $? "cnn: DLHOST_CPU_EW_ISA=$isa writes the bytes of the widest ISA"
done

# backend.adapt must be a boolean.
sed 's/adapt = false;/adapt = 1;/' mlp.cfg >bad.cfg
run_cmd "$dlhost" check bad.cfg
is "$RC" 2 "adapt = 1: check exits 2"
grep -Eq "bad\.cfg:[0-9]+: .*adapt" "$ERR_FILE"
ok $? "adapt = 1: refused at its line, naming the key"

done_testing
