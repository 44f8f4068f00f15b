#!/bin/sh
# A relu whose output only a maxpool2d reads runs inside that pool (graph.c
# graph_fold, layer.h is_relu / accepts_input_relu, the backend's
# pool2d_max_relu), and a relu that alone reads a dense layer runs inside
# the dense layer (accepts_output_relu, the backend's gemm_bias_act): one
# pass over the activations less each way.  The
# folded model trains to the bytes of the model run as written
# (DLHOST_FOLD=0): checkpoints and metrics, through the 2x2 vector pools and
# the general window loop, on 1 and 2 threads, and on opencl where it is
# here.  The profile names the pair;
# diagnostics (which watch every layer's output), a relu read twice and a
# relu before an average pool are not folded; the ONNX export keeps the relu.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

# 96 samples of [3, 16, 16], three classes.
class_images img.csv 96 768 9

cat >cnn.cfg <<'EOF2'
name = "cnn";
seed = 5;
backend = { type = "cpu"; adapt = false; };
data = {
  train = { type = "csv"; path = "img.csv"; header = true; label_column = 0;
            shape = [3, 16, 16]; };
  validation_split = 0.25;
  normalize = "zscore";
};
model = (
  { name = "c1"; type = "conv2d"; out_channels = 6; kernel_size = 3; padding = 1; },
  { name = "r1"; type = "relu"; },
  { name = "p1"; type = "maxpool2d"; kernel_size = 2; },
  { name = "c2"; type = "conv2d"; out_channels = 8; kernel_size = 3; padding = 1; },
  { name = "r2"; type = "relu"; },
  { name = "p2"; type = "maxpool2d"; kernel_size = 3; stride = 2; padding = 1; },
  { name = "flat"; type = "flatten"; },
  { name = "fc"; type = "dense"; units = 16; },
  { name = "r3"; type = "relu"; },
  { name = "out"; type = "dense"; units = 3; }
);
loss = { type = "cross_entropy"; };
optimizer = { type = "adam"; lr = 0.01; };
train = { epochs = 3; batch_size = 16; shuffle = true; };
EOF2

# metrics.csv without the timing columns.
metrics() {
    cut -d, -f1-6 "$1/metrics.csv"
}

same_run() {   # $1 $2: run folders; $3: what
    same=0
    for f in "$1"/*.safetensors; do
        cmp -s "$f" "$2/${f##*/}" || same=1
    done
    [ -e "$1/last.safetensors" ] || same=1
    metrics "$1" >ma.csv
    metrics "$2" >mb.csv
    cmp -s ma.csv mb.csv || same=1
    ok $same "$3"
}

for t in 1 2; do
    run_cmd "$dlhost" run cnn.cfg --runs "fold$t" --profile --set "backend.threads=$t"
    is "$RC" 0 "threads $t: trains with the relus folded"
    like "$OUT_FILE" "forward  r1+p1" "threads $t: the profile names relu r1 run inside p1"
    like "$OUT_FILE" "backward r2+p2" "threads $t: ... and r2 inside p2 (3x3 window loop)"
    like "$OUT_FILE" "forward  fc+r3" "threads $t: r3 runs inside the dense layer fc"
    like "$OUT_FILE" "backward fc+r3" "threads $t: ... backward too"
    DLHOST_FOLD=0 run_cmd "$dlhost" run cnn.cfg --runs "plain$t" --profile \
        --set "backend.threads=$t"
    is "$RC" 0 "threads $t: trains with DLHOST_FOLD=0"
    like "$OUT_FILE" "forward  r1 " "threads $t: DLHOST_FOLD=0 runs r1 as its own layer"
    same_run "fold$t/cnn" "plain$t/cnn" \
        "threads $t: folded and as written give the same checkpoints and metrics"
done

# The opencl backend's pool2d_max_relu (the kernel source cuda shares).
if have_backend opencl; then
    for f in 1 0; do
        DLHOST_FOLD=$f run_cmd "$dlhost" run cnn.cfg --runs "ocl$f" --profile \
            --backend opencl
        is "$RC" 0 "opencl: trains with DLHOST_FOLD=$f"
        cp "$OUT_FILE" "ocl$f.txt"
    done
    like ocl1.txt "forward  r1+p1" "opencl: r1 runs inside p1"
    same_run ocl1/cnn ocl0/cnn "opencl: folded and as written give the same checkpoints and metrics"
else
    skip "opencl: not present (no plugin on the plugin path registers it)"
fi

# Evaluation (no indices) and prediction through the folded pools.
sed 's/  validation_split = 0.25;/  test = { type = "csv"; path = "img.csv"; header = true; label_column = 0;\
           shape = [3, 16, 16]; };/' cnn.cfg >test.cfg
run_cmd "$dlhost" eval test.cfg --weights fold2/cnn/last.safetensors
rc_fold=$RC
cp "$OUT_FILE" eval_fold.txt
DLHOST_FOLD=0 run_cmd "$dlhost" eval test.cfg --weights fold2/cnn/last.safetensors
is "$rc_fold/$RC" "0/0" "eval runs folded and as written"
# (The first line names the thread wait policy, which follows the load.)
tail -n +2 eval_fold.txt >a.txt
tail -n +2 "$OUT_FILE" >b.txt
[ -s a.txt ] && cmp -s a.txt b.txt
ok $? "... and reports the same"

# Diagnostics watch each layer's output: nothing is folded.
run_cmd "$dlhost" run cnn.cfg --runs diag --profile --set train.diagnostics=true \
    --set train.epochs=1
is "$RC" 0 "trains with diagnostics"
unlike "$OUT_FILE" "r1+p1" "diagnostics: r1 runs as its own layer"
like "$OUT_FILE" "forward  r1 " "... and the profile shows it"

# A relu that two layers read, and a relu before an average pool, run as
# written.
sed -e 's/{ name = "p1"; type = "maxpool2d"; kernel_size = 2; },/&\
  { name = "p1b"; type = "maxpool2d"; kernel_size = 2; inputs = ["r1"]; },\
  { name = "sum"; type = "add"; inputs = ["p1", "p1b"]; },/' cnn.cfg >twice.cfg
run_cmd "$dlhost" run twice.cfg --runs twice --profile --set train.epochs=1
is "$RC" 0 "a relu read by two pools trains"
like "$OUT_FILE" "forward  r1 " "... and runs as its own layer"
like "$OUT_FILE" "forward  r2+p2" "... while r2 is still folded"
sed -e 's/{ name = "p2"; type = "maxpool2d"; kernel_size = 3; stride = 2; padding = 1; },/{ name = "p2"; type = "avgpool2d"; kernel_size = 2; },/' \
    cnn.cfg >avg.cfg
run_cmd "$dlhost" run avg.cfg --runs avg --profile --set train.epochs=1
is "$RC" 0 "a relu before an average pool trains"
like "$OUT_FILE" "forward  r2 " "... and runs as its own layer"

# The export is of the model as written, relus included.
run_cmd "$dlhost" export cnn.cfg --weights fold2/cnn/last.safetensors --onnx cnn.onnx
is "$RC" 0 "the folded model exports"
DLHOST_FOLD=0 run_cmd "$dlhost" export cnn.cfg --weights fold2/cnn/last.safetensors \
    --onnx plain.onnx
cmp -s cnn.onnx plain.onnx
ok $? "... the bytes of the export run as written"
grep -aq Relu cnn.onnx
ok $? "... with its Relu nodes"

done_testing
