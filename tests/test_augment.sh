#!/bin/sh
# data.augment end to end: augmenters run on training batches only, the
# result depends neither on data.workers nor on a resume inside an epoch,
# `dlhost eval` never augments, and every bad augment setting is one located
# message with exit status 2.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.
. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

# 64 images of 1 x 4 x 4 in two classes: class 1 has a bright left half, so
# flips and crops change what the model sees.
awk 'BEGIN {
    srand(11)
    printf "c"
    for (j = 0; j < 16; j++) printf ",p%d", j
    printf "\n"
    for (i = 0; i < 64; i++) {
        c = i % 2
        printf "%d", c
        for (j = 0; j < 16; j++) {
            v = rand() * 0.5
            if (c == 1 && j % 4 < 2) v += 1.0
            printf ",%.4f", v
        }
        printf "\n"
    }
}' >img.csv

cat >base.cfg <<'EOF'
name = "aug";
seed = 5;
backend = { type = "cpu"; threads = 1; };
data = {
  train = { type = "csv"; path = "img.csv"; header = true; label_column = 0;
            shape = [1, 4, 4]; };
  test  = { type = "csv"; path = "img.csv"; header = true; label_column = 0;
            shape = [1, 4, 4]; };
  normalize = "zscore";
  @include "augment.inc"
};
model = (
  { name = "flat"; type = "flatten"; },
  { name = "fc1"; type = "dense"; units = 8; },
  { type = "relu"; },
  { name = "out"; type = "dense"; units = 2; }
);
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.1; momentum = 0.9; };
train = { epochs = 3; batch_size = 8; shuffle = true; };
EOF

cat >augment.inc <<'EOF'
augment = (
  { type = "random_crop"; padding = 1; padding_mode = "reflect"; },
  { type = "random_hflip"; p = 0.5; },
  { type = "gaussian_noise"; stddev = 0.1; }
);
workers = 1;
EOF
run_cmd "$dlhost" check base.cfg
is "$RC" 0 "dlhost check accepts three augmenters"
like "$OUT_FILE" "augment     random_crop, random_hflip, gaussian_noise (training batches; 1 loader thread)" \
     "dlhost check lists them in order"

run_cmd "$dlhost" run base.cfg --runs w1
is "$RC" 0 "a run with augmenters and 1 worker"
run_cmd "$dlhost" run base.cfg --runs w3 --set data.workers=3
is "$RC" 0 "the same run with 3 workers"
cmp -s w1/aug/last.safetensors w3/aug/last.safetensors
ok $? "3 workers train to the weights 1 worker gives, byte for byte"

# Without augmenters the weights differ: they did run.
printf 'workers = 1;\n' >augment.inc
run_cmd "$dlhost" run base.cfg --runs none
is "$RC" 0 "the run without augmenters"
cmp -s w1/aug/last.safetensors none/aug/last.safetensors
isnt_same=$?
[ "$isnt_same" -ne 0 ]
ok $? "augmenters change what the model trains on"

# eval never augments: the augmenting config and the plain one give the same
# test figures for the same weights.
run_cmd "$dlhost" eval base.cfg --weights w1/aug/last.safetensors
cp "$OUT_FILE" eval.plain
cat >augment.inc <<'EOF'
augment = (
  { type = "random_crop"; padding = 1; padding_mode = "reflect"; },
  { type = "random_hflip"; p = 0.5; },
  { type = "gaussian_noise"; stddev = 0.1; }
);
workers = 1;
EOF
run_cmd "$dlhost" eval base.cfg --weights w1/aug/last.safetensors
is "$RC" 0 "dlhost eval of an augmenting experiment exits 0"
cmp -s eval.plain "$OUT_FILE"
ok $? "dlhost eval gives the same figures with and without augmenters"

# A signal inside epoch 2 (8 steps an epoch), then --resume: the checkpoint
# equals the uninterrupted run's, so the resumed epoch drew what it drew.
run_cmd env DLHOST_TEST_INTERRUPT_STEP=11 "$dlhost" run base.cfg --runs mid
is "$RC" 130 "a run stopped by SIGINT after step 11 exits 130"
run_cmd "$dlhost" run base.cfg --resume mid/aug --set data.workers=2
is "$RC" 0 "--resume (with 2 workers) exits 0"
cmp -s w1/aug/last.safetensors mid/aug/last.safetensors
ok $? "the resumed run's checkpoint equals the uninterrupted run's, byte for byte"

# ---- an augmenter built against ABI 1.3 (tests/fixtures/legacy_augmenter.c)
# keeps loading, and gives the same weights whatever the loader threads.
if [ -n "${DLHOST_FIXTURES:-}" ] && [ -f "$DLHOST_FIXTURES/legacy_augmenter.so" ]; then
    mkdir -m 700 legacy
    cp "$DLHOST_FIXTURES/legacy_augmenter.so" legacy/
    printf 'augment = ( { type = "legacy_shift"; amount = 0.3; } );\nworkers = 1;\n' >augment.inc
    lpath=$DLHOST_PLUGIN_PATH:$PWD/legacy
    run_cmd env DLHOST_PLUGIN_PATH="$lpath" "$dlhost" run base.cfg --runs l1
    is "$RC" 0 "a run with an ABI 1.3 augmenter exits 0"
    run_cmd env DLHOST_PLUGIN_PATH="$lpath" "$dlhost" run base.cfg --runs l3 \
        --set data.workers=3
    cmp -s l1/aug/last.safetensors l3/aug/last.safetensors &&
        ! cmp -s l1/aug/last.safetensors none/aug/last.safetensors
    ok $? "the ABI 1.3 augmenter changes training, alike with 1 and 3 loader threads"
else
    skip "no tests/fixtures/legacy_augmenter.so (run through make check)"
    skip "no tests/fixtures/legacy_augmenter.so (run through make check)"
fi

# ---- mixup and cutmix: training on probability rows, validated on classes.
cat >augment.inc <<'EOF'
augment = (
  { type = "random_hflip"; },
  { type = "mixup"; alpha = 0.4; p = 0.5; },
  { type = "cutmix"; alpha = 1.0; p = 0.5; },
  { type = "gaussian_noise"; stddev = 0.05; }
);
validation_split = 0.25;
workers = 1;
EOF
run_cmd "$dlhost" run base.cfg --runs mix1
is "$RC" 0 "a run with mixup and cutmix exits 0"
like "$OUT_FILE" "val_accuracy" "it reports validation accuracy on the class labels"
run_cmd "$dlhost" run base.cfg --runs mix3 --set data.workers=3
cmp -s mix1/aug/last.safetensors mix3/aug/last.safetensors
ok $? "mixup and cutmix: 3 workers give the weights 1 worker gives, byte for byte"
run_cmd env DLHOST_TEST_INTERRUPT_STEP=9 "$dlhost" run base.cfg --runs mixmid
run_cmd "$dlhost" run base.cfg --resume mixmid/aug
cmp -s mix1/aug/last.safetensors mixmid/aug/last.safetensors
ok $? "mixup and cutmix: a run resumed inside epoch 2 ends with the same bytes"
printf 'augment = ( { type = "mixup"; } );\n' >augment.inc
sed -e 's/header = true; label_column = 0;/header = true; label = "dense"; label_columns = 1;/g' \
    -e 's/units = 2; }/units = 1; }/' -e 's/cross_entropy/mse/' base.cfg >dense.cfg
run_cmd "$dlhost" check dense.cfg
is "$RC" 2 "mixup on dense labels: exit 2"
like "$ERR_FILE" "mixup mixes class labels into probabilities; the data has dense labels" \
     "mixup on dense labels: says why"
cat >augment.inc <<'EOF'
augment = (
  { type = "random_crop"; padding = 1; padding_mode = "reflect"; },
  { type = "random_hflip"; p = 0.5; },
  { type = "gaussian_noise"; stddev = 0.1; }
);
workers = 1;
EOF

# ---- color_jitter on z-scored data: it maps each sample back to the raw
# values (here in [0, 1.5], so bound = 1.5), jitters and maps forward; the
# weights do not depend on the loader threads; the default bound 1 refuses
# the data with a message that says what to do.
printf 'augment = ( { type = "color_jitter"; brightness = 0.3; contrast = 0.3; bound = 1.5; } );\nworkers = 1;\n' >augment.inc
run_cmd "$dlhost" run base.cfg --runs cj1
is "$RC" 0 "a run with color_jitter on z-scored data exits 0"
run_cmd "$dlhost" run base.cfg --runs cj3 --set data.workers=3
cmp -s cj1/aug/last.safetensors cj3/aug/last.safetensors &&
    ! cmp -s cj1/aug/last.safetensors none/aug/last.safetensors
ok $? "color_jitter changes training, alike with 1 and 3 loader threads"
run_cmd "$dlhost" augment base.cfg --out cj.png --samples 4
if grep -q "built without libpng" "$ERR_FILE"; then
    skip "dlhost augment with color_jitter: built without libpng"
else
    is "$RC" 0 "dlhost augment hands color_jitter the normalisation statistics too"
fi
printf 'augment = ( { type = "color_jitter"; brightness = 0.3; } );\nworkers = 1;\n' >augment.inc
run_cmd "$dlhost" run base.cfg --runs cjbad
is "$RC" 1 "color_jitter with bound 1 on values up to 1.5: exit 1"
like "$ERR_FILE" "outside [0, bound = 1]: ColorJitter wants [0, 1] images; set bound to the data's largest value" \
     "color_jitter with the wrong bound: says what to set"
cat >augment.inc <<'EOF2'
augment = (
  { type = "random_crop"; padding = 1; padding_mode = "reflect"; },
  { type = "random_hflip"; p = 0.5; },
  { type = "gaussian_noise"; stddev = 0.1; }
);
workers = 1;
EOF2

# ---- dlhost augment: the preview grid.
run_cmd "$dlhost" augment base.cfg --out grid.png --samples 6
if grep -q "built without libpng" "$ERR_FILE"; then
    for i in 1 2 3 4 5 6 7; do skip "dlhost augment: built without libpng"; done
else
    is "$RC" 0 "dlhost augment writes a grid"
    like "$OUT_FILE" "wrote grid.png: 6 training samples, each as read and after 3 augmenters" \
         "dlhost augment says what it wrote"
    [ "$(od -An -tx1 -N8 grid.png | tr -d ' ')" = "89504e470d0a1a0a" ]
    ok $? "the grid is a PNG file"
    run_cmd "$dlhost" augment base.cfg --out grid2.png --samples 6
    cmp -s grid.png grid2.png && [ -z "$(ls -A | grep '\.tmp-')" ]
    ok $? "the same command draws the same grid, and leaves no temporary file"
    # libpng is loaded when the grid is written, not linked: a missing one
    # is one line, and nothing is written.
    run_cmd env DLHOST_LIBPNG=libdlhost-no-such-png.so.16 "$dlhost" augment base.cfg \
        --out grid3.png --samples 6
    is "$RC" 1 "libpng missing: exit 1"
    like "$ERR_FILE" "grid3.png: cannot load libpng (libdlhost-no-such-png.so.16: " \
         "libpng missing: says which library, and why"
    [ "$(grep -c . "$ERR_FILE")" -eq 1 ] && [ ! -e grid3.png ]
    ok $? "libpng missing: one line, no file written"
fi
run_cmd "$dlhost" augment base.cfg --samples 300
is "$RC" 2 "dlhost augment --samples 300: exit 2"
sed -e 's/shape = \[1, 4, 4\]; //' base.cfg >flat.cfg
printf 'augment = ( { type = "gaussian_noise"; stddev = 0.1; } );\n' >augment.inc
run_cmd "$dlhost" augment flat.cfg
is "$RC" 2 "dlhost augment of 1-d samples: exit 2"
like "$ERR_FILE" "draws images (C, H, W) with C = 1 or 3; data.train's samples are [16]" \
     "dlhost augment of 1-d samples: says why"

# ---- bad settings: one message, located, exit 2, nothing run.
bad() {             # bad DESCRIPTION PATTERN: augment.inc holds the bad setting
    run_cmd "$dlhost" check base.cfg
    is "$RC" 2 "$1: exit 2"
    like "$ERR_FILE" "$2" "$1: says so"
    grep -Eq 'augment\.inc:[0-9]+: ' "$ERR_FILE"
    ok $? "$1: names the file and line"
}
printf 'augment = ( { type = "random_flip"; } );\n' >augment.inc
bad "an unknown augmenter" "unknown augmenter 'random_flip' (did you mean 'random_"
printf 'augment = ( { type = "gaussian_noise"; stddev = -0.1; } );\n' >augment.inc
bad "a negative stddev" "stddev"
printf 'augment = ( { type = "random_hflip"; p = 1.5; } );\n' >augment.inc
bad "p outside [0, 1]" "'p'"
printf 'augment = ( { type = "random_crop"; size = [9, 9]; } );\n' >augment.inc
bad "a crop larger than the image" "size"
printf 'augment = ( { type = "gaussian_noise"; stdev = 0.1; } );\n' >augment.inc
bad "an unknown parameter" "'stdev'"
printf 'augment = ( "random_hflip" );\n' >augment.inc
bad "an element that is not a group" "element 1 must be a group"
printf 'augment = { type = "random_hflip"; };\n' >augment.inc
bad "augment as a group" "'augment' must be a list"
printf 'workers = 1000;\n' >augment.inc
bad "too many workers" "workers"

printf 'augment = ( { type = "color_jitter"; brightness = -0.2; } );\n' >augment.inc
bad "color_jitter: a negative brightness" "If brightness is a single number, it must be non negative"
printf 'augment = ( { type = "color_jitter"; hue = 0.7; } );\n' >augment.inc
bad "color_jitter: hue above 0.5" "hue values should be between (-0.5, 0.5)"
printf 'augment = ( { type = "color_jitter"; hue = [-0.6, 0.1]; } );\n' >augment.inc
bad "color_jitter: a hue range outside [-0.5, 0.5]" "hue values should be between (-0.5, 0.5)"
printf 'augment = ( { type = "color_jitter"; saturation = 0.3; } );\n' >augment.inc
bad "color_jitter: saturation on 1-channel images" \
    "parameter 'saturation' needs RGB images (3 channels); the data's have 1"
printf 'augment = ( { type = "color_jitter"; bound = 0.0; } );\n' >augment.inc
bad "color_jitter: bound 0" "parameter 'bound'"
printf 'augment = ( { type = "color_jitter"; brightness = 0.2; } );\n' >augment.inc
run_cmd "$dlhost" check base.cfg --set data.normalize=pca
is "$RC" 2 "color_jitter on PCA-whitened data: exit 2"
like "$ERR_FILE" "needs the raw pixel values, and data.normalize maps them in a way it cannot undo" \
     "color_jitter on PCA-whitened data: says why"

printf 'workers = 1;\n' >augment.inc
run_cmd "$dlhost" augment base.cfg
is "$RC" 2 "dlhost augment without data.augment: exit 2"
like "$ERR_FILE" "data.augment lists no augmenter" "dlhost augment without data.augment: says so"

# An image augmenter on samples that are not images.
printf 'augment = ( { type = "random_hflip"; } );\n' >augment.inc
run_cmd "$dlhost" check flat.cfg
is "$RC" 2 "an image augmenter on 1-d samples: exit 2"
grep -Eq 'augment\.inc:1: .*random_hflip.*\[16\]' "$ERR_FILE"
ok $? "an image augmenter on 1-d samples: located, with the data's shape"

# The example with augmentation builds (it needs Debian's Fashion-MNIST).
if [ -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    run_cmd "$dlhost" check "$DLHOST_SRCDIR/examples/fashion-mnist/cnn-augment.cfg"
    is "$RC" 0 "dlhost check examples/fashion-mnist/cnn-augment.cfg"
else
    skip "examples/fashion-mnist/cnn-augment.cfg: no Fashion-MNIST (dataset-fashion-mnist)"
fi

done_testing
