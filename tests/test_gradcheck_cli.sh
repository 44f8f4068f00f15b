#!/bin/sh
# `dlhost gradcheck`: every built-in layer (tests/data/gradcheck/all.cfg
# uses all of them) and every loss passes central differences on a model's
# own shapes; --layer checks one; a layer whose backward is wrong
# (tests/fixtures/wrong_grad.c) fails with exit 1 and is named; an unknown
# layer is refused.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH, DLHOST_FIXTURES.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

# 40 samples of [1, 4, 4], three classes.
awk 'BEGIN { srand(5); printf "c"; for (j = 0; j < 16; j++) printf ",p%d", j; print ""
    for (i = 0; i < 40; i++) { printf "%d", i % 3
        for (j = 0; j < 16; j++) printf ",%.3f", rand() + (i % 3) * (j % 4 < 2); print "" } }' \
    >img.csv
cp "$DLHOST_SRCDIR/tests/data/gradcheck/all.cfg" all.cfg

run_cmd "$dlhost" gradcheck all.cfg
is "$RC" 0 "every layer and nll pass: exit 0"
for t in conv2d conv_transpose2d batchnorm maxpool2d avgpool2d upsample adaptive_avgpool2d \
         global_avgpool concat flatten dense dropout elu selu celu \
         gelu silu mish softplus hardtanh relu6 hardswish hardsigmoid softsign leaky_relu \
         relu sigmoid tanh softmax reshape add log_softmax \
         prelu dropout2d alpha_dropout identity maxout layernorm groupnorm instancenorm2d; do
    grep -Eq "^layer '[a-z_0-9]+' \($t\) +max rel error [0-9.e+-]+ over [0-9]+ elements  ok$" \
        "$OUT_FILE"
    ok $? "$t: checked, ok"
done
[ "$(grep -c ' ok$' "$OUT_FILE")" -eq 52 ]
ok $? "52 components checked (51 layers and the loss)"

# Every loss on the targets it takes.
for l in nll cross_entropy multi_margin focal; do
    run_cmd "$dlhost" gradcheck all.cfg --set "loss.type=\"$l\""
    is "$RC" 0 "$l (class targets) passes"
    like "$OUT_FILE" "loss '$l'" "$l: its line"
done
awk 'BEGIN { srand(9); print "x1,x2,x3,y"
    for (i = 0; i < 30; i++) { a = rand(); b = rand(); c = rand(); printf "%.4f,%.4f,%.4f,%.4f\n", a, b, c, a - b + c } }' \
    >reg.csv
cat >dense.cfg <<'EOF2'
name = "dense";
backend = { type = "cpu"; threads = 1; };
data = { train = { type = "csv"; path = "reg.csv"; header = true; label = "dense"; }; };
model = ( { name = "out"; type = "dense"; units = 1; } );
loss = { type = "mse"; };
optimizer = { type = "sgd"; lr = 0.1; };
train = { epochs = 1; batch_size = 8; };
EOF2
for l in mse l1 smooth_l1 huber bce bce_with_logits kl_div poisson_nll hinge_embedding focal; do
    run_cmd "$dlhost" gradcheck dense.cfg --set "loss.type=\"$l\""
    is "$RC" 0 "$l (dense targets) passes"
done
sed 's/units = 1;/units = 2;/' dense.cfg >pair.cfg
for l in gaussian_nll margin_ranking; do
    run_cmd "$dlhost" gradcheck pair.cfg --set "loss.type=\"$l\""
    is "$RC" 0 "$l (two outputs per target) passes"
done

run_cmd "$dlhost" gradcheck all.cfg --layer gelu_tanh
is "$RC" 0 "--layer gelu_tanh exits 0"
[ "$(grep -c ' ok$' "$OUT_FILE")" -eq 1 ] && like "$OUT_FILE" "layer 'gelu_tanh' (gelu)" \
    "--layer checks that layer only"
run_cmd "$dlhost" gradcheck all.cfg --layer nosuch
is "$RC" 2 "an unknown --layer exits 2"
like "$ERR_FILE" "the model has no layer 'nosuch' (it has 'c1', 'bn'," "it lists the layers"
run_cmd "$dlhost" gradcheck all.cfg --layer
is "$RC" 2 "--layer without a name exits 2"

if [ -n "${DLHOST_FIXTURES:-}" ] && [ -f "$DLHOST_FIXTURES/wrong_grad.so" ]; then
    mkdir -m 700 wrong
    cp "$DLHOST_FIXTURES/wrong_grad.so" wrong/
    sed 's/{ name = "tanh"; type = "tanh"; },/{ name = "tanh"; type = "tanh"; },\n  { name = "bad"; type = "fixture_wrong_grad"; },/' \
        all.cfg >wrong.cfg
    run_cmd env DLHOST_PLUGIN_PATH="$DLHOST_PLUGIN_PATH:$PWD/wrong" "$dlhost" gradcheck wrong.cfg
    is "$RC" 1 "a layer with a wrong backward: exit 1"
    grep -Eq "^layer 'bad' \(fixture_wrong_grad\) +max rel error 1.00e\+00 .*FAILED$" "$OUT_FILE"
    ok $? "its line says FAILED with error 1"
    like "$OUT_FILE" "worst: input 0" "and where"
    like "$ERR_FILE" "gradcheck: 1 component exceeds the tolerance 0.01" "the summary names the count"
    [ "$(grep -c ' ok$' "$OUT_FILE")" -eq 52 ]
    ok $? "the other 52 components still pass"
else
    skip "no tests/fixtures/wrong_grad.so (run through make check)"
    skip "no tests/fixtures/wrong_grad.so (run through make check)"
    skip "no tests/fixtures/wrong_grad.so (run through make check)"
    skip "no tests/fixtures/wrong_grad.so (run through make check)"
    skip "no tests/fixtures/wrong_grad.so (run through make check)"
fi
done_testing
