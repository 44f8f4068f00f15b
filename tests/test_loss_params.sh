#!/bin/sh
# Bad parameters of the losses in plugins/losses/ are configuration errors
# (exit 2) located at the experiment file's line, in PyTorch's words where
# torch has them (smooth_l1's negative beta, huber's delta, multi_margin's
# p, cosine_embedding's multi-target labels); a dense loss on class
# labels, or the shapes the losses over parts of the output need,
# likewise.  The numbers are tests/test_losses_torch's.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.
. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

# x1, x2, then a dense label y (regression), or a class.
awk 'BEGIN { srand(3); print "x1,x2,y"
    for (i = 0; i < 16; i++) printf "%.4f,%.4f,%.4f\n", rand(), rand(), rand() }' >dense.csv
two_class_csv class.csv

cfg() {             # cfg LABEL UNITS LOSS-BODY
    if [ "$1" = dense ]; then
        data='type = "csv"; path = "dense.csv"; header = true; label = "dense"; label_columns = 1;'
    elif [ "$1" = dense2 ]; then
        data='type = "csv"; path = "dense.csv"; header = true; label = "dense"; label_columns = 2;'
    else
        data='type = "csv"; path = "class.csv"; header = true; label_column = 2;'
    fi
    cat >bad.cfg <<EOF2
name = "bad";
backend = { type = "cpu"; threads = 1; };
data = { train = { $data }; };
model = ( { name = "fc"; type = "dense"; units = $2; } );
loss = {
  $3
};
optimizer = { type = "sgd"; lr = 0.1; };
train = { epochs = 1; batch_size = 4; };
EOF2
}

bad() {            # bad LABEL UNITS LOSS-BODY MESSAGE
    cfg "$1" "$2" "$3"
    run_cmd "$dlhost" check bad.cfg
    is "$RC" 2 "{ $3 }: exit 2"
    grep -Eq 'bad\.cfg:[56]: loss' "$ERR_FILE"
    ok $? "{ $3 }: located at the loss"
    like "$ERR_FILE" "$4" "{ $3 }: says so"
}
good() {           # good LABEL UNITS LOSS-BODY
    cfg "$1" "$2" "$3"
    run_cmd "$dlhost" check bad.cfg
    is "$RC" 0 "{ $3 }: accepted"
}

bad dense 1 'type = "smooth_l1"; beta = -0.5;' \
    "smooth_l1_loss does not support negative values for beta."
good dense 1 'type = "smooth_l1"; beta = 0.0;'
bad dense 1 'type = "huber"; delta = 0.0;' \
    "huber_loss does not support non-positive values for delta."
bad dense 1 'type = "huber"; delta = -1.0;' \
    "huber_loss does not support non-positive values for delta."
bad class 2 'type = "multi_margin"; p = 3;' "only p == 1 and p == 2 supported"
bad class 2 'type = "multi_margin"; weights = [1.0, 2.0, 3.0];' \
    "parameter 'weights': expected at most 2 numbers, got 3"
bad class 2 'type = "multi_margin"; weights = [1.0];' "expected one weight per class (2), got 1"
bad class 2 'type = "nll"; weights = [1.0, -2.0];' "class weights must be finite and >= 0"
bad class 2 'type = "nll"; ignore_index = 1.5;' "expected an integer"
bad dense 1 'type = "bce"; weight = [1.0, 2.0];' "expected at most 1 numbers, got 2"
bad dense 1 'type = "bce"; weight = -1.0;' "weight must be finite and >= 0"
bad dense 1 'type = "kl_div"; reduction = "none";' "reduction"
good dense 1 'type = "kl_div"; reduction = "batchmean";'
bad dense 1 'type = "l1"; reduction = "batchmean";' "reduction"
bad dense 1 'type = "poisson_nll"; eps = -1.0;' "eps"
bad dense 1 'type = "focal"; gamma = -1.0;' "gamma is -1; it must be >= 0"
bad dense 1 'type = "focal"; alpha = 1.5;' "it must lie in [0, 1], or be -1 for none"
bad dense 1 'type = "focal"; alpha = [0.25, 0.5];' "the binary focal loss takes one alpha"
good dense 1 'type = "focal"; alpha = -1.0; gamma = 0.0;'
bad class 2 'type = "focal"; alpha = [0.25, 0.5, 1.0];' \
    "parameter 'alpha': expected at most 2 numbers, got 3"
good class 2 'type = "focal"; alpha = [0.25, 0.75];'
bad class 2 'type = "l1";' "needs dense targets of the prediction's shape"
bad dense 1 'type = "nll";' "needs class-index targets"
bad dense 1 'type = "hinge_embedding"; margin = "1";' "margin"
# gaussian_nll: an output of [means | variances] for targets of half its size.
bad dense 1 'type = "gaussian_nll";' "needs a prediction of 2 equal parts per sample"
bad dense 4 'type = "gaussian_nll";' \
    "the model's output holds 2 means and 2 variances per sample, so the targets need 2 values per sample, but the data's have 1"
good dense 2 'type = "gaussian_nll"; full = true; eps = 0.001;'
bad dense 2 'type = "gaussian_nll"; eps = 0.0;' "eps"
# margin_ranking: two halves; one label per sample or per pair.
good class 2 'type = "margin_ranking"; margin = 0.5;'
good dense 2 'type = "margin_ranking";'
bad dense 3 'type = "margin_ranking";' "needs a prediction of 2 equal parts per sample"
good dense 4 'type = "margin_ranking";'
bad dense 1 'type = "margin_ranking"; margin = [1.0];' "margin"
# cosine_embedding: two halves, one label per sample.
good class 2 'type = "cosine_embedding"; margin = 0.5;'
good dense 2 'type = "cosine_embedding";'
bad dense 3 'type = "cosine_embedding";' "needs a prediction of 2 equal parts per sample"
bad dense 1 'type = "cosine_embedding"; margin = "0";' "margin"
bad dense2 2 'type = "cosine_embedding";' \
    "0D or 1D target tensor expected, multi-target not supported (one label y per sample, but the data's dense labels have 2 values per sample)"
# triplet_margin: three thirds; the labels are not read.
good class 3 'type = "triplet_margin"; p = 1.0; swap = true;'
good dense 6 'type = "triplet_margin"; margin = 0.5; eps = 0.0;'
bad dense 4 'type = "triplet_margin";' "needs a prediction of 3 equal parts per sample"
bad dense 3 'type = "triplet_margin"; p = 0.0;' "p is 0; the norm's degree must be > 0"
bad dense 3 'type = "triplet_margin"; p = -2.0;' "the norm's degree must be > 0"
bad dense 3 'type = "triplet_margin"; swap = 1;' "parameter 'swap': expected true or false, got 1"
# dice: class or dense targets; softmax needs 2 channels.
good class 2 'type = "dice";'
good class 1 'type = "dice"; smooth = 0.0;'
good dense 1 'type = "dice"; activation = "none";'
bad dense 1 'type = "dice"; smooth = -1.0;' "parameter 'smooth': expected a number >= 0, got -1"
bad dense 1 'type = "dice"; activation = "relu";' \
    "parameter 'activation': expected one of \"auto\", \"softmax\", \"sigmoid\", \"none\", got \"relu\""
bad dense 1 'type = "dice"; activation = "softmax";' \
    "softmax over 1 channel is 1 everywhere; use \"sigmoid\" for one channel"
bad class 1 'type = "dice"; activation = "softmax";' "softmax over 1 channel"

done_testing
