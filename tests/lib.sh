# TAP helpers for the shell tests (POSIX sh).  Source it, then:
#
#   run_cmd CMD [ARGS]...      runs CMD; sets RC, stdout in $OUT_FILE, stderr
#                              in $ERR_FILE
#   ok STATUS DESCRIPTION      passes when STATUS is 0 (ok $? "...")
#   is GOT WANT DESCRIPTION    passes when the strings are equal
#   like FILE TEXT DESCRIPTION passes when FILE contains TEXT (fixed string)
#   unlike FILE TEXT DESCRIPTION
#   skip REASON                one skipped test
#   skip_all REASON            ends a test that cannot run here
#   diag TEXT...               a comment line
#   done_testing               prints the plan and exits 0 or 1
#   need_dlhost                skips the test unless make check set DLHOST_BIN
#                              and DLHOST_SRCDIR; sets dlhost to the binary
#   two_class_csv FILE         tests/data/good_train.csv as two classes
#                              (label y > 1) with a header, into FILE
#   two_class_cfg NAME ACTIVATION EPOCHS BATCH OPTIMIZER
#                              exp.cfg: a classifier of two_class_csv's
#                              train.csv, the optimizer group OPTIMIZER on
#                              line 15
#   class_images FILE N FEATURES SEED
#                              N rows "c,p0,...": class i % 3, then FEATURES
#                              values rand() + class * (j % 6 < 3)
#   image_cfg FILE SHAPE BEFORE LAYERS
#                              FILE: a three-class classifier of img.csv
#                              (class_images) samples of shape [SHAPE]: the
#                              layer line BEFORE (with its comma; "" for
#                              none) on line 7, LAYERS from line 9
#   refused_at CFG LINE TEXT DESC
#                              `dlhost check CFG` exits 2 and says TEXT on
#                              the line of its message that starts "CFG:LINE: "
#   have_backend NAME          whether a plugin on the plugin path registers
#                              the backend NAME (sets OUT_FILE)
#   train_loss_ok CSV LABEL    the last train_loss of the metrics.csv CSV is
#                              finite; sets loss to it
#   loss_near A B DESC         A and B agree within 1e-4 relative (+ 1e-6)
#   torch_python               sets py to a python3 with torch and numpy
#                              (TORCH_PYTHON, python3, /usr/bin/python3), or ""
#   cuda_regression_cfg FILE EPOCHS
#                              FILE: a small mse regression of r.csv (copied
#                              from tests/data/good_train.csv) on the cuda
#                              backend, what the fake driver can train
#   train_each_backend CFG NAME WHAT
#                              `dlhost run CFG` as run NAME_cpu, then on
#                              opencl as NAME_opencl when it is here (else a
#                              skip): exits 0 ("<backend>: WHAT"), finite
#                              train_loss; sets loss_cpu and loss_opencl
#                              ("" when not run) and trained (the backends
#                              it ran on)
#
# TAP_TMP is a fresh folder removed at exit.

tap_n=0
tap_failed=0
TAP_TMP=$(mktemp -d "${TMPDIR:-/tmp}/dlhost-test.XXXXXX") || {
    echo "Bail out! cannot create a temporary folder"
    exit 1
}
trap 'rm -rf "$TAP_TMP"' EXIT
trap 'exit 1' HUP INT TERM
OUT_FILE=$TAP_TMP/stdout
ERR_FILE=$TAP_TMP/stderr
RC=0

diag() {
    printf '%s\n' "$@" | sed 's/^/# /'
}

# The last command's output, as comments, after a failure.
tap_show_output_() {
    if [ -s "$OUT_FILE" ]; then
        echo "#   stdout:"
        sed -n '1,15s/^/#     /p' "$OUT_FILE"
    fi
    if [ -s "$ERR_FILE" ]; then
        echo "#   stderr:"
        sed -n '1,15s/^/#     /p' "$ERR_FILE"
    fi
}

ok() {
    tap_n=$((tap_n + 1))
    if [ "$1" -eq 0 ] 2>/dev/null; then
        echo "ok $tap_n - $2"
        return 0
    fi
    echo "not ok $tap_n - $2"
    tap_failed=$((tap_failed + 1))
    tap_show_output_
    return 1
}

is() {
    if [ "$1" = "$2" ]; then
        ok 0 "$3"
    else
        ok 1 "$3"
        echo "#   got:  '$1'"
        echo "#   want: '$2'"
        return 1
    fi
}

like() {
    grep -F -q -e "$2" "$1" 2>/dev/null
    ok $? "$3" || echo "#   missing: '$2'"
}

unlike() {
    ! grep -F -q -e "$2" "$1" 2>/dev/null
    ok $? "$3" || echo "#   unexpected: '$2'"
}

run_cmd() {
    "$@" >"$OUT_FILE" 2>"$ERR_FILE"
    RC=$?
}

skip() {
    tap_n=$((tap_n + 1))
    echo "ok $tap_n # SKIP $1"
}

skip_all() {
    echo "1..0 # SKIP $1"
    exit 0
}

done_testing() {
    echo "1..$tap_n"
    [ "$tap_failed" -eq 0 ] && exit 0
    exit 1
}

need_dlhost() {
    if [ -z "${DLHOST_BIN:-}" ] || [ -z "${DLHOST_SRCDIR:-}" ]; then
        skip_all "DLHOST_BIN/DLHOST_SRCDIR not set (run through make check)"
    fi
    dlhost=$DLHOST_BIN
}

two_class_csv() {
    awk -F, 'NR == 1 { print "x1,x2,c"; next } { print $1 "," $2 "," ($3 > 1.0 ? 1 : 0) }' \
        "$DLHOST_SRCDIR/tests/data/good_train.csv" >"$1"
}

two_class_cfg() {
    cat >exp.cfg <<EOF2
name = "$1";
seed = 3;
backend = { type = "cpu"; threads = 2; };
data = {
  train = { type = "csv"; path = "train.csv"; header = true; };
  validation_split = 0.25;
  normalize = "zscore";
};
model = (
  { name = "fc1"; type = "dense"; units = 8; init = "he_normal"; },
  { type = "$2"; },
  { name = "out"; type = "dense"; units = 2; }
);
loss = { type = "cross_entropy"; };
optimizer = $5;
train = { epochs = $3; batch_size = $4; shuffle = true; };
EOF2
}

class_images() {
    awk -v n="$2" -v f="$3" -v seed="$4" 'BEGIN { srand(seed); printf "c"
        for (j = 0; j < f; j++) printf ",p%d", j; print ""
        for (i = 0; i < n; i++) { printf "%d", i % 3
            for (j = 0; j < f; j++) printf ",%.3f", rand() + (i % 3) * (j % 6 < 3); print "" } }' \
        >"$1"
}

image_cfg() {
    cat >"$1" <<CFG
name = "${1%.cfg}";
seed = 42;
backend = { type = "cpu"; threads = 2; };
data = { train = { type = "csv"; path = "img.csv"; header = true; label_column = 0;
                   shape = [$2]; }; };
model = (
${3:-  # no layer before those under test}
  # the layers under test
$4,
  { name = "flat"; type = "flatten"; },
  { name = "out"; type = "dense"; units = 3; }
);
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.05; };
train = { epochs = 1; batch_size = 16; };
CFG
}

refused_at() {
    run_cmd "$dlhost" check "$1"
    is "$RC" 2 "$4: check exits 2"
    grep -F -e "$1:$2: " "$ERR_FILE" 2>/dev/null | grep -F -q -e "$3"
    ok $? "$4: says '$3' at $1:$2" || echo "#   missing: '$1:$2: ... $3'"
}

have_backend() {
    run_cmd "$dlhost" plugins
    awk -v name="$1" '$1 == "backend" && $2 == name { f = 1 } END { exit !f }' "$OUT_FILE"
}

train_loss_ok() {
    loss=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "train_loss") c = i; next }
                    c { print $c }' "$1" 2>/dev/null | tail -n 1)
    case $loss in
    '' | *nan* | *inf*) ok 1 "$2: the epoch's train_loss is finite (got '$loss')" ;;
    *) ok 0 "$2: the epoch's train_loss is finite ($loss)" ;;
    esac
}

loss_near() {
    awk -v a="$1" -v b="$2" \
        'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-4 * (a < 0 ? -a : a) + 1e-6) }'
    ok $? "$3"
}

train_each_backend() {
    loss_cpu= loss_opencl= trained=
    for b in cpu opencl; do
        if [ "$b" = opencl ] && ! have_backend opencl; then
            skip "opencl: not present (no plugin on the plugin path registers it)"
            continue
        fi
        trained="$trained $b"
        run_cmd "$dlhost" run "$1" --backend "$b" --set name="$2_$b"
        is "$RC" 0 "$b: $3"
        train_loss_ok "runs/$2_$b/metrics.csv" "$b"
        eval "loss_$b=\$loss"
    done
}

torch_python() {
    py=
    for c in ${TORCH_PYTHON:-} python3 /usr/bin/python3; do
        if "$c" -c 'import torch, numpy' >/dev/null 2>&1; then
            py=$c
            return 0
        fi
    done
}

# The fake CUDA driver runs no kernel, and classification losses check on
# the host what kernels made: its runs train this regression.
cuda_regression_cfg() {
    [ -f r.csv ] || cp "$DLHOST_SRCDIR/tests/data/good_train.csv" r.csv
    cat > "$1" <<CFG
name = "r";
seed = 3;
backend = { type = "cuda"; };
data = { train = { type = "csv"; path = "r.csv"; header = true; label = "dense";
                   label_columns = 1; }; };
model = ( { name = "fc1"; type = "dense"; units = 8; }, { type = "relu"; },
          { name = "out"; type = "dense"; units = 1; } );
loss = { type = "mse"; };
optimizer = { type = "adam"; lr = 0.01; };
train = { epochs = $2; batch_size = 8; shuffle = true; };
CFG
}

# The model block of the conv + batchnorm + dense classifier of [1, 4, 4]
# samples that tests/torch_interop.py and tests/finetune_torch.py build in
# torch (the same names and layouts).
torch_cnn_model() {
    cat <<'CFG'
model = (
  { name = "conv"; type = "conv2d"; out_channels = 3; kernel_size = 3; padding = 1; },
  { name = "bn"; type = "batchnorm"; },
  { type = "relu"; },
  { name = "pool"; type = "maxpool2d"; kernel_size = 2; },
  { name = "flat"; type = "flatten"; },
  { name = "fc"; type = "dense"; units = 3; }
);
CFG
}
