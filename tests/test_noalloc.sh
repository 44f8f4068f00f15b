#!/bin/sh
# The step loop allocates nothing (DESIGN section 9): `dlhost run` makes the
# same number of allocation calls whether an epoch has 25 steps or 100.
# Counts come from tests/preload/malloc_count.so, preloaded into the real
# binary (not the libtool wrapper script).
#
# Environment (set by `make check`): DLHOST_BUILDDIR, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH, DLHOST_SANITIZE (1 in a --enable-sanitizers build).

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

if [ -z "${DLHOST_BUILDDIR:-}" ] || [ -z "${DLHOST_SRCDIR:-}" ]; then
    skip_all "DLHOST_BUILDDIR/DLHOST_SRCDIR not set (run through make check)"
fi
# ASan brings its own malloc and must be the first library loaded, so the
# preloaded counter can neither come first nor see the calls.
if [ "${DLHOST_SANITIZE:-0}" = 1 ]; then
    skip_all "built with --enable-sanitizers: ASan replaces malloc, the preloaded counter cannot count"
fi
bin=$DLHOST_BUILDDIR/.libs/dlhost
[ -x "$bin" ] || bin=$DLHOST_BUILDDIR/.libs/lt-dlhost
preload=$DLHOST_BUILDDIR/tests/preload/.libs/malloc_count.so
[ -x "$bin" ] || skip_all "no uninstalled dlhost binary under $DLHOST_BUILDDIR/.libs"
[ -f "$preload" ] || skip_all "$preload not built"
LD_LIBRARY_PATH=$DLHOST_BUILDDIR/core/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH

cfg=$DLHOST_SRCDIR/examples/regression/regression.cfg
cd "$TAP_TMP" || exit 1

# One run with the given batch size; its allocation calls go to count.$1.
# backend.onednn = false: oneDNN's dnnl_primitive_execute builds its
# argument maps on the heap (about five small blocks a call, freed before
# it returns), which this count cannot tell from ours; the conv2d layer's
# own memory with oneDNN is all made at setup or on a batch's first forward
# (plugins/backends/cpu/cpu_conv.c).
run_counted() {
    DLHOST_MALLOC_COUNT_FILE=$TAP_TMP/count.$1 LD_PRELOAD=$preload \
        "$bin" run "$cfg" --set train.epochs=2 --set train.batch_size="$1" \
        --set backend.onednn=false \
        >"$TAP_TMP/out.$1" 2>&1
    rc=$?
    ok $rc "run with batch size $1 succeeds"
    [ $rc -eq 0 ] || sed 's/^/#   /' "$TAP_TMP/out.$1"
}

run_counted 16
run_counted 4
few=$(cat "$TAP_TMP/count.16" 2>/dev/null || echo -1)
many=$(cat "$TAP_TMP/count.4" 2>/dev/null || echo -1)
diag "allocation calls: $few with 25 steps per epoch, $many with 100"
[ "$few" -gt 0 ] 2>/dev/null
ok $? "the counter saw the run's allocations"
is "$many" "$few" "four times the steps, the same number of allocation calls"

# The same with the data pipeline busy: augmenters on two loader threads
# (label mixing included), a weighted sampler and a class subset.
awk 'BEGIN { srand(5); printf "c"; for (j = 0; j < 16; j++) printf ",p%d", j; print ""
    for (i = 0; i < 200; i++) { printf "%d", i % 3
        for (j = 0; j < 16; j++) printf ",%.3f", rand() + (i % 3) * (j % 4 < 2); print "" } }' \
    >"$TAP_TMP/img.csv"
cat >"$TAP_TMP/aug.cfg" <<'EOF'
name = "aug";
seed = 1;
backend = { type = "cpu"; threads = 1; };
data = {
  train = { type = "csv"; path = "img.csv"; header = true; label_column = 0; shape = [1, 4, 4]; };
  normalize = "zscore";
  classes = [2, 0];
  workers = 2;
  augment = (
    { type = "random_crop"; padding = 1; padding_mode = "reflect"; },
    { type = "random_hflip"; },
    { type = "random_erasing"; },
    { type = "gaussian_noise"; stddev = 0.1; },
    { type = "mixup"; alpha = 0.4; }
  );
};
model = ( { type = "flatten"; }, { name = "fc"; type = "dense"; units = 2; } );
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.1; };
train = { epochs = 2; batch_size = 16; sampler = "weighted"; };
EOF
cfg=$TAP_TMP/aug.cfg
run_counted 16
run_counted 4
few=$(cat "$TAP_TMP/count.16" 2>/dev/null || echo -1)
many=$(cat "$TAP_TMP/count.4" 2>/dev/null || echo -1)
diag "with augmenters: $few allocation calls with 9 steps per epoch, $many with 34"
is "$many" "$few" "with augmenters, samplers and a class subset: four times the steps, the same allocation calls"

# ZCA whitening: one sgemm per batch in the loader, into its own scratch.
sed 's/normalize = "zscore";/normalize = "zca";/' "$TAP_TMP/aug.cfg" >"$TAP_TMP/zca.cfg"
cfg=$TAP_TMP/zca.cfg
run_counted 16
run_counted 4
few=$(cat "$TAP_TMP/count.16" 2>/dev/null || echo -1)
many=$(cat "$TAP_TMP/count.4" 2>/dev/null || echo -1)
diag "with zca whitening: $few allocation calls with 9 steps per epoch, $many with 34"
is "$many" "$few" "with zca whitening in the loader: four times the steps, the same allocation calls"

# Pooling and resampling layers (their matrices are written into scratch
# once, not per step).
cat >"$TAP_TMP/pool.cfg" <<'EOF'
name = "pool";
seed = 1;
backend = { type = "cpu"; threads = 1; };
data = { train = { type = "csv"; path = "img.csv"; header = true; label_column = 0; shape = [1, 4, 4]; }; };
model = (
  { name = "c"; type = "conv2d"; out_channels = 2; kernel_size = 3; padding = 1; },
  { type = "avgpool2d"; kernel_size = 3; stride = 2; padding = 1; ceil_mode = true; },
  { type = "upsample"; scale_factor = 1.5; mode = "bilinear"; },
  { type = "upsample"; size = [5, 4]; },
  { name = "a"; type = "adaptive_avgpool2d"; output_size = [2, 3]; },
  { type = "global_avgpool"; },
  { name = "fc"; type = "dense"; units = 3; }
);
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.1; };
train = { epochs = 2; batch_size = 16; };
EOF
cfg=$TAP_TMP/pool.cfg
run_counted 16
run_counted 4
few=$(cat "$TAP_TMP/count.16" 2>/dev/null || echo -1)
many=$(cat "$TAP_TMP/count.4" 2>/dev/null || echo -1)
diag "with pooling and resampling layers: $few allocation calls with 13 steps per epoch, $many with 50"
is "$many" "$few" "with upsample, adaptive_avgpool2d, global_avgpool and a ceil_mode avgpool2d: four times the steps, the same allocation calls"

# A multi-output model (a loss list): a class head on one column of a
# dense label and a weighted regression head on two others.
awk 'BEGIN { srand(7); for (i = 0; i < 200; i++) { a = rand(); b = rand()
    printf "%.3f,%.3f,%.3f,%.3f,%d\n", a, b, a * b, a - b, (a + b < 0.7 ? 0 : a + b < 1.3 ? 1 : 2) } }' \
    >"$TAP_TMP/multi.csv"
cat >"$TAP_TMP/heads.cfg" <<'EOF'
name = "heads";
seed = 1;
backend = { type = "cpu"; threads = 1; };
data = { train = { type = "csv"; path = "multi.csv"; label = "dense"; label_columns = 3; };
         validation_split = 0.2; };
model = (
  { name = "fc1"; type = "dense"; units = 8; },
  { name = "act"; type = "relu"; },
  { name = "cls"; type = "dense"; units = 3; inputs = ["act"]; },
  { name = "reg"; type = "dense"; units = 2; inputs = ["act"]; }
);
loss = ( { type = "cross_entropy"; output = "cls"; target = [2, 1]; },
         { type = "mse"; output = "reg"; weight = 0.5; target = [0, 2]; } );
optimizer = { type = "adam"; lr = 0.01; };
train = { epochs = 2; batch_size = 16; };
EOF
cfg=$TAP_TMP/heads.cfg
run_counted 16
run_counted 4
few=$(cat "$TAP_TMP/count.16" 2>/dev/null || echo -1)
many=$(cat "$TAP_TMP/count.4" 2>/dev/null || echo -1)
diag "with two heads: $few allocation calls with 10 steps per epoch, $many with 40"
is "$many" "$few" "with a loss list of two heads: four times the steps, the same allocation calls"

# Fine-tuning: a frozen batchnorm, train.unfreeze at epoch 2 (the groups
# and gradient buffers it needs exist from the start) and rates by depth.
cat >"$TAP_TMP/unfreeze.cfg" <<'EOF'
name = "unfreeze";
seed = 1;
backend = { type = "cpu"; threads = 1; };
data = { train = { type = "csv"; path = "img.csv"; header = true; label_column = 0; shape = [1, 4, 4]; }; };
model = (
  { name = "c"; type = "conv2d"; out_channels = 2; kernel_size = 3; padding = 1; },
  { name = "bn"; type = "batchnorm"; },
  { type = "relu"; },
  { type = "flatten"; },
  { name = "fc"; type = "dense"; units = 3; }
);
loss = { type = "cross_entropy"; };
optimizer = { type = "adam"; lr = 0.01; lr_decay_by_depth = 0.5;
              groups = ( { params = ["c.*", "bn.*"]; trainable = false; } ); };
train = { epochs = 2; batch_size = 16; unfreeze = ( { epoch = 2; params = "c.*"; } ); };
EOF
cfg=$TAP_TMP/unfreeze.cfg
run_counted 16
run_counted 4
few=$(cat "$TAP_TMP/count.16" 2>/dev/null || echo -1)
many=$(cat "$TAP_TMP/count.4" 2>/dev/null || echo -1)
diag "with train.unfreeze: $few allocation calls with 13 steps per epoch, $many with 50"
is "$many" "$few" "with a frozen batchnorm, train.unfreeze and lr_decay_by_depth: four times the steps, the same allocation calls"

done_testing
