#!/bin/sh
# `dlhost predict` and `dlhost embed` (core/predict.c): predictions agree
# with `dlhost eval` (the accuracy recomputed from predictions.csv), the
# probabilities sum to 1, --top, class names, regression outputs, opencl
# against cpu, streaming under a memory cap, embed's .npy files (checked with
# numpy where /usr/bin/python3 has it), and every refusal.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.
. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

# Three overlapping classes of two features (test accuracy below 1).
gen() {
    awk -v n="$2" -v s="$3" 'BEGIN { srand(s); print "a,b,y"
        for (i = 0; i < n; i++) { c = i % 3
            printf "%.4f,%.4f,%d\n", c + 1.5 * (rand() - 0.5), (c == 1) + rand(), c } }' >"$1"
}
gen train.csv 300 3
gen test.csv 150 5
cat >c.cfg <<'EOF2'
name = "cls";
seed = 1;
backend = { type = "cpu"; threads = 1; };
data = {
  train = { type = "csv"; path = "train.csv"; header = true; };
  test  = { type = "csv"; path = "test.csv"; header = true; };
  normalize = "zscore";
};
model = ( { name = "fc1"; type = "dense"; units = 8; }, { name = "act"; type = "relu"; },
          { name = "out"; type = "dense"; units = 3; } );
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.1; momentum = 0.9; };
train = { epochs = 4; batch_size = 16; };
EOF2
run_cmd "$dlhost" run c.cfg --runs runs
is "$RC" 0 "a classifier trains"
w=runs/cls/best.safetensors

# --- predictions against eval
run_cmd "$dlhost" eval c.cfg --weights $w
acc=$(awk '/^test / { for (i = 1; i < NF; i++) if ($i == "accuracy") print $(i + 1) }' "$OUT_FILE")
run_cmd "$dlhost" predict c.cfg --weights $w --input test.csv --out p.csv --top 3
is "$RC" 0 "predict exits 0"
like "$ERR_FILE" "150 samples of data.test" "predict says how many samples it wrote"
is "$(head -n 1 p.csv)" "index,class,prob,class_2,prob_2,class_3,prob_3" "the header names the top 3"
is "$(awk 'END { print NR }' p.csv)" 151 "a row per sample"
mine=$(awk -F, 'NR == FNR { if (FNR > 1) t[FNR - 2] = $3; next }
                FNR > 1 { c += ($2 == t[$1]); n++ } END { printf "%.4f", c / n }' test.csv p.csv)
is "$mine" "$acc" "the accuracy recomputed from predictions.csv is eval's ($acc)"
awk -F, 'FNR > 1 { s = $3 + $5 + $7; if (s < 0.99999 || s > 1.00001) bad = 1
                   if ($3 < $5 || $5 < $7) bad = 1 } END { exit bad }' p.csv
ok $? "the three probabilities of each row sum to 1, in decreasing order"
run_cmd "$dlhost" predict c.cfg --weights $w --input test.csv --out - --top 1
is "$RC" 0 "--out - writes to stdout"
is "$(head -n 1 "$OUT_FILE")" "index,class,prob" "--top 1: one class"
is "$(awk -F, 'NR > 1 { print $1 "," $2 }' "$OUT_FILE" | cksum)" \
   "$(awk -F, 'NR > 1 { print $1 "," $2 }' p.csv | cksum)" "the same classes on stdout"

# --- opencl against cpu
if have_backend opencl; then
    run_cmd "$dlhost" predict c.cfg --weights $w --input test.csv --out q.csv --top 3 \
        --backend opencl
    is "$RC" 0 "opencl: predict exits 0"
    paste -d, p.csv q.csv | awk -F, 'NR > 1 { for (i = 1; i <= 7; i++) {
        d = $i - $(i + 7); if (d < 0) d = -d; if (d > 1e-5) bad = 1 } } END { exit bad }'
    ok $? "opencl: the same classes and probabilities as cpu within 1e-5"
    "$dlhost" embed c.cfg --weights $w --layer act --out ecpu.npy 2>/dev/null &&
        "$dlhost" embed c.cfg --weights $w --layer act --out eocl.npy --backend opencl \
            2>/dev/null &&
        od -A n -v -j 128 -t f4 ecpu.npy | tr -s ' ' '\n' | sed '/^$/d' >ecpu.txt &&
        od -A n -v -j 128 -t f4 eocl.npy | tr -s ' ' '\n' | sed '/^$/d' >eocl.txt &&
        [ "$(wc -l <ecpu.txt)" -eq 1200 ] &&
        paste ecpu.txt eocl.txt | awk '{ d = $1 - $2; if (d < 0) d = -d
            if (d > 1e-5 * (1 + ($1 < 0 ? -$1 : $1))) bad = 1 } END { exit bad }'
    ok $? "opencl: embed's 150 x 8 features equal cpu's within 1e-5"
else
    skip "opencl: not present (no plugin on the plugin path registers it)"
fi

# --- regression: the outputs
cp "$DLHOST_SRCDIR/tests/data/good.cfg" "$DLHOST_SRCDIR/tests/data/good_train.csv" .
run_cmd "$dlhost" run good.cfg --runs runs --set train.epochs=2
is "$RC" 0 "a regression model trains"
run_cmd "$dlhost" predict good.cfg --weights runs/regression/last.safetensors \
    --input good_train.csv --out r.csv
is "$RC" 0 "regression: predict exits 0"
is "$(head -n 1 r.csv)" "index,output_0" "regression: the outputs, not classes"
run_cmd "$dlhost" embed good.cfg --weights runs/regression/last.safetensors --layer out \
    --out r.npy --input good_train.csv
is "$RC" 0 "regression: embed of the last layer exits 0"
like "$ERR_FILE" "labels -> r_labels.npy" "embed writes the labels alongside"

# --- embed
run_cmd "$dlhost" embed c.cfg --weights $w --layer act --out f.npy
is "$RC" 0 "embed exits 0"
like "$ERR_FILE" "layer 'act', 150 samples of data.test x 8 features" "embed says what it wrote"
run_cmd "$dlhost" embed c.cfg --weights $w --layer out --out o.npy
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    /usr/bin/python3 - <<'EOF2' >py.out 2>&1
import numpy as np
f = np.load("f.npy"); o = np.load("o.npy"); l = np.load("f_labels.npy")
assert f.dtype == np.float32 and f.shape == (150, 8), (f.dtype, f.shape)
assert (f >= 0).all()                                   # after relu
assert l.dtype == np.int64 and l.shape == (150,), (l.dtype, l.shape)
t = np.loadtxt("test.csv", delimiter=",", skiprows=1)
assert (l == t[:, 2]).all()
p = np.loadtxt("p.csv", delimiter=",", skiprows=1)
e = np.exp(o - o.max(1, keepdims=True)); e /= e.sum(1, keepdims=True)
assert (np.argmax(o, 1) == p[:, 1]).all()
assert np.allclose(np.take_along_axis(e, p[:, [1, 3, 5]].astype(int), 1), p[:, [2, 4, 6]],
                   atol=1e-6)
r = np.load("r.npy"); q = np.loadtxt("r.csv", delimiter=",", skiprows=1)
assert r.shape == (q.shape[0], 1) and np.allclose(r[:, 0], q[:, 1], atol=1e-6)
rl = np.load("r_labels.npy"); assert rl.dtype == np.float32 and rl.shape == (q.shape[0], 1)
np.savez("d.npz", x=t[:, :2].astype(np.float32), y=t[:, 2].astype(np.int64))
np.save("xt.npy", t[:, :2].astype(np.float32)); np.save("yt.npy", t[:, 2].astype(np.int64))
print("numpy ok")
EOF2
    like py.out "numpy ok" "numpy: embed's shapes, dtypes and labels; softmax of layer 'out' is predict's probabilities; the regression outputs are embed's" || cat py.out
    # from_npy STEM READER INPUT WHAT LABEL: predict of --input INPUT with
    # data.train's reader READER gives the CSV's predictions.
    from_npy() {
        sed "s#{ type = \"csv\"; path = \"train.csv\"; header = true; }#$2#" c.cfg >"$1.cfg"
        run_cmd "$dlhost" predict "$1.cfg" --weights $w --input "$3" --out "$1.csv" --top 3
        is "$RC" 0 "$4"
        cmp -s "$1.csv" p.csv
        ok $? "$5: the same predictions as from the CSV"
    }
    from_npy z '{ type = "npy"; path = "d.npz"; }' d.npz \
        "npz: predict reads an .npz with data.train's npy reader" npz
    from_npy x '{ type = "npy"; x = "xt.npy"; y = "yt.npy"; }' xt.npy \
        "npy x without labels: predicted though data.train has labels" "npy x"
else
    skip "numpy: /usr/bin/python3 has no numpy"
fi

# same A B: two prediction files with the same rows, every number within
# 1e-5 (relative above 1).
same() {
    [ "$(awk 'END { print NR }' "$1")" -eq "$(awk 'END { print NR }' "$2")" ] &&
        [ "$(head -n 1 "$1")" = "$(head -n 1 "$2")" ] &&
        paste -d, "$1" "$2" | awk -F, 'NR > 1 { h = NF / 2; for (i = 1; i <= h; i++) {
            if ($i ~ /^[a-z]/) { if ($i != $(i + h)) bad = 1; continue }
            d = $i - $(i + h); if (d < 0) d = -d; a = $i < 0 ? -$i : $i
            if (d > 1e-5 * (1 + a)) bad = 1 } } END { exit bad }'
}
# ocl NAME ARGS...: predict ARGS on opencl into NAME_ocl.csv, the same as
# NAME.csv (made on cpu).
ocl() {
    name=$1
    shift
    if have_backend opencl; then
        "$dlhost" predict "$@" --out "${name}_ocl.csv" --backend opencl 2>/dev/null &&
            same "$name.csv" "${name}_ocl.csv"
        ok $? "opencl: $name: the same predictions as cpu within 1e-5"
    else
        skip "opencl: not present"
    fi
}

# --- inputs without labels (data.train has them)
cut -d, -f1,2 test.csv >bare.csv
run_cmd "$dlhost" predict c.cfg --weights $w --input bare.csv --out bare.csv.out --top 3
is "$RC" 0 "csv without the label column: predicted (one field per feature)"
mv bare.csv.out bare_p.csv
cmp -s bare_p.csv p.csv
ok $? "... the same predictions as with the labels"
ocl bare_p c.cfg --weights $w --input bare.csv --top 3
run_cmd "$dlhost" embed c.cfg --weights $w --layer act --input bare.csv --out bare.npy
is "$RC" 0 "embed of a csv without labels exits 0"
unlike "$ERR_FILE" "labels ->" "... and writes no labels file"
[ -s bare.npy ] && [ ! -e bare_labels.npy ]
ok $? "... only the features"
cut -d, -f1 test.csv >one.csv
run_cmd "$dlhost" predict c.cfg --weights $w --input one.csv --out one_p.csv
is "$RC" 2 "a csv of neither width: refused (exit 2)"
like "$ERR_FILE" "parameter 'label_column': -1 is not a column of" "... read as labelled, in the reader's words"
unlike "$ERR_FILE" "data.test: c.cfg: data.test:" "... located once (the group --input makes has no line)"
printf 'a,b,y\n1,2,zz\n' >badlabel.csv
run_cmd "$dlhost" predict c.cfg --weights $w --input badlabel.csv --out one_p.csv
is "$RC" 1 "a labelled csv with a bad label exits 1"
like "$ERR_FILE" "badlabel.csv:2: field 3: 'zz' is not a number" "... naming the line"

# idx images without a labels file, by --reader (data.train is csv)
awk -F, 'NR > 1 { print $1; print $2 }' test.csv | /usr/bin/env python3 -c '
import struct, sys
v = [float(l) for l in sys.stdin]
open("xt.idx", "wb").write(bytes([0, 0, 0x0D, 2]) + struct.pack(">II", len(v) // 2, 2) +
                           struct.pack(">%df" % len(v), *v))'
run_cmd "$dlhost" predict c.cfg --weights $w --input xt.idx --reader idx --out idx_p.csv --top 3
is "$RC" 0 "--reader idx: idx images without labels predicted"
same idx_p.csv p.csv
ok $? "... the same predictions as from the CSV (float32 features)"
ocl idx_p c.cfg --weights $w --input xt.idx --reader idx --top 3
gzip -c xt.idx >xt.idx.gz
run_cmd "$dlhost" predict c.cfg --weights $w --input xt.idx.gz --reader idx --out idxgz_p.csv \
    --top 3
cmp -s idxgz_p.csv idx_p.csv
ok $? "... and from the same file gzipped (streamed)"

# --batch: the same rows in batches of 7
run_cmd "$dlhost" predict c.cfg --weights $w --input test.csv --out b7.csv --top 3 --batch 7
is "$RC" 0 "--batch 7 exits 0"
same b7.csv p.csv
ok $? "... the same predictions"
"$dlhost" embed c.cfg --weights $w --layer act --out b0.npy 2>/dev/null &&
    "$dlhost" embed c.cfg --weights $w --layer act --out b1.npy --batch 1 2>/dev/null &&
    cmp -s b0.npy b1.npy
ok $? "embed --batch 1: the same features"
for b in 0 -3 x 1000001 ''; do
    run_cmd "$dlhost" predict c.cfg --weights $w --input test.csv --out b.csv --batch "$b"
    is "$RC" 2 "--batch '$b': refused (exit 2)"
    like "$ERR_FILE" "predict: --batch: expected a whole number from 1 to 1000000, got '$b'" \
        "... and says so"
done

# --reader: csv for an npy experiment, its parameters from data.train where
# csv has them and from --set data.test.*
if [ -e x.cfg ]; then
    run_cmd "$dlhost" predict x.cfg --weights $w --input test.csv --reader csv --out r_p.csv \
        --top 3 --set data.test.header=true
    is "$RC" 0 "--reader csv with --set data.test.header=true"
    cmp -s r_p.csv p.csv
    ok $? "... the same predictions"
else
    skip "--reader csv: no numpy to make the npy experiment"
    skip "--reader csv: no numpy to make the npy experiment"
fi
run_cmd "$dlhost" predict c.cfg --weights $w --input test.csv --reader cvs
is "$RC" 2 "an unknown --reader exits 2"
like "$ERR_FILE" "--reader: unknown dataset 'cvs' (did you mean 'csv'?)" "... with did-you-mean"
run_cmd "$dlhost" predict c.cfg --weights $w --input test.csv --reader ''
is "$RC" 2 "an empty --reader exits 2"
like "$ERR_FILE" "predict: --reader needs a dataset type" "... and says so"
run_cmd "$dlhost" embed c.cfg --weights $w --layer act --out e.npy --reader csv
is "$RC" 2 "--reader without --input exits 2"
like "$ERR_FILE" "embed: --reader needs --input DATA" "... and says so"
run_cmd "$dlhost" predict c.cfg --weights $w --input test.csv --reader idx
is "$RC" 1 "a reader that cannot read the input exits 1"
like "$ERR_FILE" "not an IDX file" "... in the reader's words"

# --- streaming csv, npy and idx: inputs larger than the memory cap
cat >wide.cfg <<'EOF2'
name = "wide";
seed = 1;
backend = { type = "cpu"; threads = 1; };
data = { train = { type = "csv"; path = "wtrain.csv"; }; };
model = ( { name = "out"; type = "dense"; units = 2; } );
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.1; };
train = { epochs = 1; batch_size = 16; };
EOF2
awk 'BEGIN { srand(1); for (r = 0; r < 64; r++) { for (i = 0; i < 1024; i++)
         printf "%.2f,", rand(); print r % 2 } }' >wtrain.csv
run_cmd "$dlhost" run wide.cfg --runs runs
is "$RC" 0 "a model of 1024 features trains"
ww=runs/wide/last.safetensors
# 420 MB of CSV (1024 fields a row, no label), 450 MB of float32 .npy and
# idx (sparse files of zeros); each held whole would pass the 400 MB cap.
row=$(awk 'BEGIN { for (i = 0; i < 1024; i++) printf "%s0.1234567890123", i ? "," : ""; print "" }')
yes "$row" | head -n 26000 >big.csv
/usr/bin/env python3 - <<'EOF2'
import struct
h = "{'descr': '<f4', 'fortran_order': False, 'shape': (110000, 1024), }"
h += ' ' * ((64 - (10 + len(h) + 1) % 64) % 64) + '\n'
with open('big.npy', 'wb') as f:
    f.write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h.encode())
    f.truncate(10 + len(h) + 4 * 110000 * 1024)
with open('big.idx', 'wb') as f:
    f.write(bytes([0, 0, 0x0D, 2]) + struct.pack('>II', 110000, 1024))
    f.truncate(12 + 4 * 110000 * 1024)
EOF2
cap=400000
(ulimit -v $cap; "$dlhost" --version >/dev/null 2>&1) || cap=unlimited
for k in csv:26000 npy:110000 idx:110000; do
    t=${k%%:*} n=${k#*:}
    (ulimit -v $cap
     "$dlhost" predict wide.cfg --weights $ww --input big.$t --reader $t --out big_$t.csv \
         >/dev/null 2>err_$t
     echo $? >rc_$t
     "$dlhost" predict wide.cfg --weights $ww --input big.$t --reader $t --out held_$t.csv \
         --set data.test.stream=false >/dev/null 2>/dev/null
     echo $? >held_$t)
    is "$(cat rc_$t)" 0 "streaming $t: $(($(wc -c <big.$t) >> 20)) MiB under a $cap KB cap" ||
        cat err_$t
    is "$(awk 'END { print NR }' big_$t.csv)" $((n + 1)) "streaming $t: a row per sample"
    if [ $cap = unlimited ]; then
        skip "the cap: a sanitizer build cannot run under ulimit -v"
    else
        [ "$(cat held_$t)" -ne 0 ]
        ok $? "the cap is real: $t held whole (stream = false) fails under it"
    fi
done
rm -f big.csv big.npy big.idx
# The rows agree with the same samples read whole.
head -n 5 wtrain.csv | cut -d, -f1-1024 >w5.csv
/usr/bin/env python3 - <<'EOF2'
import struct
rows = [[float(v) for v in l.split(',')] for l in open('w5.csv')]
h = "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 1024), }"
h += ' ' * ((64 - (10 + len(h) + 1) % 64) % 64) + '\n'
data = b''.join(struct.pack('<1024f', *r) for r in rows)
open('w5.npy', 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h.encode() + data)
open('w5.idx', 'wb').write(bytes([0, 0, 0x0D, 2]) + struct.pack('>II', 5, 1024) +
                           b''.join(struct.pack('>1024f', *r) for r in rows))
EOF2
for t in csv npy idx; do
    "$dlhost" predict wide.cfg --weights $ww --input w5.$t --reader $t --out w5_$t.csv \
        2>/dev/null &&
        "$dlhost" predict wide.cfg --weights $ww --input w5.$t --reader $t \
            --out w5_${t}_held.csv --set data.test.stream=false 2>/dev/null &&
        cmp -s w5_$t.csv w5_${t}_held.csv && same w5_$t.csv w5_csv.csv
    ok $? "stream $t: the predictions of stream = false, and the csv's"
    ocl w5_$t wide.cfg --weights $ww --input w5.$t --reader $t
done
# stream = true in training: random access gives the same run.
for t in true false; do
    "$dlhost" run wide.cfg --runs s_$t --set data.train.stream=$t >/dev/null 2>&1
done
cmp -s s_true/wide/last.safetensors s_false/wide/last.safetensors
ok $? "a csv run with stream = true (shuffled reads) trains as without it"

# --- images: class names, streaming under a memory cap
if have_backend cpu && "$dlhost" plugins | grep -q '^dataset  *imagefolder '; then
    /usr/bin/env python3 - <<'EOF2'
import os, struct, zlib
def png(path, w, h, seed):
    raw = bytearray()
    for y in range(h):
        raw.append(0)
        raw += bytes(((x * 7 + y * 3 + seed * 90 + c * 80) & 255) for x in range(w) for c in range(3))
    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
                + chunk(b'IDAT', zlib.compress(bytes(raw), 9)) + chunk(b'IEND', b''))
for k, c in enumerate(("cat", "dog")):
    os.makedirs("small/" + c); os.makedirs("big/" + c)
    png("small/%s/0.png" % c, 512, 512, k)
    for i in range(300):
        os.link("small/%s/0.png" % c, "big/%s/%d.png" % (c, i))
EOF2
    cat >img.cfg <<'EOF2'
name = "img";
seed = 1;
backend = { type = "cpu"; threads = 1; };
data = { train = { type = "imagefolder"; path = "small"; cache = 0; }; };
model = ( { name = "pool"; type = "avgpool2d"; kernel_size = 64; }, { name = "flat"; type = "flatten"; },
          { name = "out"; type = "dense"; units = 2; } );
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.1; };
train = { epochs = 1; batch_size = 8; };
EOF2
    run_cmd "$dlhost" run img.cfg --runs runs
    is "$RC" 0 "an image classifier trains"
    # 600 images of 512 x 512 x 3: 472 MB decoded, over the 500 MB cap
    # with the process's own; read one batch at a time (cache = 0) they fit.
    # A sanitizer build cannot start under the cap (its shadow memory).
    cap=500000
    (ulimit -v $cap; "$dlhost" --version >/dev/null 2>&1) || cap=unlimited
    (ulimit -v $cap
     "$dlhost" predict img.cfg --weights runs/img/last.safetensors --input big \
         --out i.csv --top 2 >/dev/null 2>err1
     echo $? >rc1
     "$dlhost" predict img.cfg --weights runs/img/last.safetensors --input big \
         --out j.csv --set data.train.cache=1024 >/dev/null 2>err2
     echo $? >rc2)
    is "$(cat rc1)" 0 "streaming: 600 large images under a $cap KB cap" || cat err1
    is "$(awk 'END { print NR }' i.csv)" 601 "streaming: a row per image"
    if [ $cap = unlimited ]; then
        skip "the cap: a sanitizer build cannot run under ulimit -v"
    else
        [ "$(cat rc2)" -ne 0 ]
        ok $? "the cap is real: holding the decoded images (cache = 1024) fails under it"
    fi
    is "$(head -n 1 i.csv)" "index,class,name,prob,class_2,name_2,prob_2" \
        "the header has the class names"
    awk -F, 'NR > 1 && !(($2 == 0 && $3 == "cat") || ($2 == 1 && $3 == "dog")) { bad = 1 }
             END { exit bad }' i.csv
    ok $? "each row names its class (cat, dog)"

    # Images without class folders: a folder of them, and a single file.
    mkdir flat
    ln small/cat/0.png flat/a.png
    ln small/dog/0.png flat/b.png
    run_cmd "$dlhost" predict img.cfg --weights runs/img/last.safetensors --input flat \
        --out flat.csv --top 2
    is "$RC" 0 "a folder of images without class folders: predicted"
    awk -F, 'NR == 2 || NR == 302 { sub(/^[0-9]+,/, ""); print }' i.csv >want.txt
    awk -F, 'NR > 1 { sub(/^[0-9]+,/, ""); print }' flat.csv >got.txt
    cmp -s want.txt got.txt
    ok $? "... each image as in its class folder (class names from data.train)"
    ocl flat img.cfg --weights runs/img/last.safetensors --input flat --top 2
    run_cmd "$dlhost" predict img.cfg --weights runs/img/last.safetensors \
        --input small/dog/0.png --out single.csv --top 2
    is "$RC" 0 "a single PNG file: predicted"
    is "$(awk 'END { print NR }' single.csv)" 2 "... one row"
    is "$(awk -F, 'NR == 2 { sub(/^[0-9]+,/, ""); print }' single.csv)" "$(sed -n 2p got.txt)" \
        "... as in its folder"
    ocl single img.cfg --weights runs/img/last.safetensors --input small/dog/0.png --top 2
    if /usr/bin/python3 -c 'import cv2' 2>/dev/null; then
        /usr/bin/python3 -c 'import cv2; cv2.imwrite("dog.jpg", cv2.imread("small/dog/0.png"), [cv2.IMWRITE_JPEG_QUALITY, 95])'
        run_cmd "$dlhost" predict img.cfg --weights runs/img/last.safetensors --input dog.jpg \
            --out jpg.csv --top 2
        is "$RC" 0 "a single JPEG file: predicted"
        awk -F, 'NR == 2 && ($3 == "cat" || $3 == "dog") { good = 1 } END { exit !good }' jpg.csv
        ok $? "... a row naming its class"
        ocl jpg img.cfg --weights runs/img/last.safetensors --input dog.jpg --top 2
    else
        skip "JPEG: no python3-opencv to write one"
    fi
    run_cmd "$dlhost" embed img.cfg --weights runs/img/last.safetensors --layer flat \
        --input small/dog/0.png --out single.npy
    is "$RC" 0 "embed of a single image exits 0"
    [ -s single.npy ] && [ ! -e single_labels.npy ]
    ok $? "... features only"
    # Refusals.
    run_cmd "$dlhost" predict img.cfg --weights runs/img/last.safetensors \
        --input small/dog/0.png --out no.csv --set 'data.test.color="grey"'
    is "$RC" 2 "a grey reading of an rgb model's input: refused (exit 2)"
    like "$ERR_FILE" "data.test: sample shape [1, 512, 512] differs from data.train's [3, 512, 512]" \
        "... naming the channel counts"
    run_cmd "$dlhost" predict c.cfg --weights $w --input small/dog/0.png --out no.csv
    is "$RC" 2 "an image for a model of 2 features: refused (exit 2)"
    like "$ERR_FILE" "data.test: sample shape [3, 512, 512] differs from data.train's [2]" \
        "... naming the shapes"
    head -c 100 small/dog/0.png >cut.png
    run_cmd "$dlhost" predict img.cfg --weights runs/img/last.safetensors --input cut.png \
        --out no.csv
    is "$RC" 1 "a cut-off PNG exits 1"
    like "$ERR_FILE" "cut.png" "... naming it"
    printf 'not an image\n' >text.png
    run_cmd "$dlhost" predict img.cfg --weights runs/img/last.safetensors --input text.png \
        --out no.csv
    is "$RC" 1 "a .png that is no image exits 1"
    like "$ERR_FILE" "text.png" "... naming it"
    mkdir empty
    run_cmd "$dlhost" predict img.cfg --weights runs/img/last.safetensors --input empty \
        --out no.csv
    is "$RC" 1 "a folder without images exits 1"
    like "$ERR_FILE" "empty: no .png/.jpg/.jpeg files (label = \"none\" reads the images directly in the folder)" \
        "... and says so"
    [ ! -e no.csv ]
    ok $? "... none of them writes a file"
else
    skip "images: no imagefolder reader"
fi

# --- refusals
run_cmd "$dlhost" predict c.cfg --input test.csv
is "$RC" 2 "predict without --weights exits 2"
like "$ERR_FILE" "predict: missing the weights" "... and says so"
run_cmd "$dlhost" predict c.cfg --weights $w
is "$RC" 2 "predict without --input exits 2"
like "$ERR_FILE" "predict: missing the data" "... and says so"
run_cmd "$dlhost" predict c.cfg --weights $w --input test.csv --top 0
is "$RC" 2 "--top 0 exits 2"
like "$ERR_FILE" "expected a whole number from 1 to 1000000, got '0'" "... and says so"
run_cmd "$dlhost" embed c.cfg --weights $w --out x.npy
is "$RC" 2 "embed without --layer exits 2"
run_cmd "$dlhost" embed c.cfg --weights $w --layer fc2 --out x.npy
is "$RC" 2 "embed of an unknown layer exits 2"
like "$ERR_FILE" "the model has no layer 'fc2' (did you mean 'fc1'?)" "... with did-you-mean"
[ ! -e x.npy ] && [ ! -e x_labels.npy ]
ok $? "... and writes nothing"
sed 's/units = 3;/units = 4;/' c.cfg >wide.cfg
run_cmd "$dlhost" predict wide.cfg --weights $w --input test.csv --out w.csv
is "$RC" 2 "a checkpoint that does not fit exits 2"
like "$ERR_FILE" "tensor 'out.weight' has shape" "... naming the tensor"
run_cmd "$dlhost" predict c.cfg --weights $w --input missing.csv --out m.csv
is "$RC" 2 "an input that does not exist exits 2"
like "$ERR_FILE" "--input missing.csv: No such file or directory" "... naming it"
printf 'a,b,y\n1,zz,0\n' >bad.csv
run_cmd "$dlhost" predict c.cfg --weights $w --input bad.csv --out m.csv
is "$RC" 1 "an unreadable input exits 1"
like "$ERR_FILE" "bad.csv" "... naming it"
[ ! -e m.csv ]
ok $? "... and writes nothing"
run_cmd "$dlhost" predict c.cfg --weights $w --input test.csv --out nodir/p.csv
is "$RC" 1 "an --out in a missing folder exits 1"
like "$ERR_FILE" "nodir/p.csv: cannot create a temporary file in 'nodir'" "... and says why"
cp p.csv keep.csv
run_cmd "$dlhost" predict c.cfg --weights missing.safetensors --input test.csv --out p.csv
is "$RC" 1 "missing weights exit 1"
cmp -s p.csv keep.csv
ok $? "... and leave the old predictions.csv untouched"
ls -a | grep -q '\.tmp-'
[ $? -ne 0 ]
ok $? "no temporary file is left behind"

done_testing
