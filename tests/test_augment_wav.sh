#!/bin/sh
# dlhost augment on signals: (T) and (C, T) samples are written as WAV clips
# (NNN-original.wav, NNN-augmented.wav) into the --out folder at the
# reader's sample rate or --rate; read back here with a small RIFF parser,
# they have the count, rate and length asked for, the originals hold the
# samples as read, the augmented ones differ; bad settings are one message.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.
. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

py=
for c in python3 /usr/bin/python3; do
    if "$c" -c 'import struct, wave' >/dev/null 2>&1; then
        py=$c
        break
    fi
done

# wavinfo FILE: "rate channels frames format" and the samples, one a line
# (repr of the float32 values), of a 32-bit float or 16-bit PCM WAV file.
cat >wavinfo.py <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", "not a RIFF WAVE file"
pos, fmt, body = 12, None, None
while pos + 8 <= len(data):
    cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
    chunk = data[pos + 8:pos + 8 + size]
    if cid == b"fmt ":
        fmt = struct.unpack("<HHIIHH", chunk[:16])
        fmt_chunk = chunk
    elif cid == b"data":
        body = chunk
    pos += 8 + size + (size & 1)
tag, channels, rate, _, _, bits = fmt
if tag == 0xFFFE:           # WAVE_FORMAT_EXTENSIBLE: the sub-format GUID's tag
    tag = struct.unpack("<H", fmt_chunk[24:26])[0]
kind = "float" if (tag == 3 and bits == 32) else "pcm16" if (tag == 1 and bits == 16) else "other"
n = len(body) // (bits // 8)
vals = struct.unpack("<%d%s" % (n, "f" if kind == "float" else "h"), body[:n * (bits // 8)])
print(rate, channels, n // channels, kind)
for v in vals:
    print(repr(v))
EOF

# ---- 1-d samples from a CSV (16 values a sample; csv gives no sample rate).
awk 'BEGIN {
    srand(7)
    printf "c"
    for (j = 0; j < 16; j++) printf ",t%d", j
    printf "\n"
    for (i = 0; i < 12; i++) {
        printf "%d", i % 2
        for (j = 0; j < 16; j++) printf ",%.4f", rand() - 0.5
        printf "\n"
    }
}' >sig.csv
cat >sig.cfg <<'EOF'
name = "sig";
seed = 9;
backend = { type = "cpu"; threads = 1; };
data = {
  train = { type = "csv"; path = "sig.csv"; header = true; label_column = 0; };
  normalize = "zscore";
  augment = ( { type = "gaussian_noise"; stddev = 0.2; } );
};
model = ( { name = "out"; type = "dense"; units = 2; } );
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.1; };
train = { epochs = 1; batch_size = 4; };
EOF

run_cmd "$dlhost" augment sig.cfg
is "$RC" 2 "1-d samples without a sample rate: exit 2"
like "$ERR_FILE" "data.train's samples are [16]; signals are written as WAV clips at their sample rate, which data.train's reader does not give: add --rate HZ" \
     "1-d samples without a sample rate: says to give --rate"

run_cmd "$dlhost" augment sig.cfg --rate 8000 --samples 5 --out clips
if grep -q "built without libsndfile" "$ERR_FILE"; then
    skip_all "dlhost augment's WAV clips: built without libsndfile"
fi
is "$RC" 0 "dlhost augment --rate 8000 --samples 5 --out clips writes clips"
like "$OUT_FILE" "wrote clips/: 5 training samples as WAV clips (8000 Hz, 1 channel, 16 frames, 32-bit float)" \
     "it says what it wrote"
is "$(ls clips | tr '\n' ' ')" \
   "000-augmented.wav 000-original.wav 001-augmented.wav 001-original.wav 002-augmented.wav 002-original.wav 003-augmented.wav 003-original.wav 004-augmented.wav 004-original.wav " \
   "10 files: NNN-original.wav and NNN-augmented.wav for samples 000 to 004"

if [ -z "$py" ]; then
    for i in 1 2 3 4; do skip "no python3 to read the WAV files back"; done
else
    bad=0
    for i in 0 1 2 3 4; do
        "$py" wavinfo.py "clips/00$i-original.wav" >orig.$i || bad=1
        "$py" wavinfo.py "clips/00$i-augmented.wav" >aug.$i || bad=1
        [ "$(head -1 orig.$i)" = "8000 1 16 float" ] &&
            [ "$(head -1 aug.$i)" = "8000 1 16 float" ] || bad=1
    done
    ok "$bad" "every clip is a 32-bit float WAV file at 8000 Hz, 1 channel, 16 frames"
    # The originals hold the CSV's rows (as float32) exactly: normalisation
    # is undone for the clips.
    "$py" - >want.txt <<'EOF'
import struct
rows = [l.strip().split(",") for l in open("sig.csv")][1:6]
for r in rows:
    for v in r[1:]:
        print(repr(struct.unpack("<f", struct.pack("<f", float(v)))[0]))
EOF
    for i in 0 1 2 3 4; do sed 1d orig.$i; done >got.txt
    "$py" - <<'EOF'
import sys
got = [float(v) for v in open("got.txt")]
want = [float(v) for v in open("want.txt")]
worst = max(abs(a - b) for a, b in zip(got, want)) if len(got) == len(want) else 1.0
print("# %d values, worst difference %g" % (len(got), worst))
sys.exit(0 if worst <= 2e-7 else 1)
EOF
    ok $? "the original clips hold the samples as read (normalisation undone)"
    differ=0
    for i in 0 1 2 3 4; do cmp -s orig.$i aug.$i || differ=$((differ + 1)); done
    is "$differ" 5 "every augmented clip differs from its original"
    run_cmd "$dlhost" augment sig.cfg --rate 8000 --samples 5 --out clips2
    same=0
    for f in clips/*.wav; do cmp -s "$f" "clips2/${f#clips/}" || same=1; done
    [ "$same" -eq 0 ] && [ -z "$(ls -A clips clips2 | grep '\.tmp-')" ]
    ok $? "the same command writes the same bytes, and leaves no temporary file"
fi

# libsndfile is loaded when the first clip is written, not linked: a
# missing one is one line, and nothing is written.
run_cmd env DLHOST_LIBSNDFILE=libdlhost-no-such-sndfile.so.1 "$dlhost" augment sig.cfg \
    --rate 8000 --samples 5 --out clips3
is "$RC" 1 "libsndfile missing: exit 1"
like "$ERR_FILE" "clips3: cannot load libsndfile (libdlhost-no-such-sndfile.so.1: " \
     "libsndfile missing: says which library, and why"
[ "$(grep -c . "$ERR_FILE")" -eq 1 ] && [ ! -e clips3 ]
ok $? "libsndfile missing: one line, no folder written"

# ---- bad settings: one message each.
printf 'not a folder\n' >afile
run_cmd "$dlhost" augment sig.cfg --rate 8000 --out afile/clips
is "$RC" 1 "--out inside a file: exit 1"
like "$ERR_FILE" "afile/clips: cannot create the folder for the WAV clips: Not a directory" \
     "--out inside a file: says why"
is "$(grep -c . "$ERR_FILE")" 1 "--out inside a file: one line"
run_cmd "$dlhost" augment sig.cfg --rate 8000 --out afile
is "$RC" 1 "--out naming a file: exit 1"
like "$ERR_FILE" "afile: --out names a file that is not a folder" "--out naming a file: says so"
run_cmd "$dlhost" augment sig.cfg --rate 0
is "$RC" 2 "--rate 0: exit 2"
like "$ERR_FILE" "augment: --rate: expected a sample rate in Hz from 1 to 1000000, got '0'" \
     "--rate 0: says what is expected"
run_cmd "$dlhost" augment sig.cfg --rate fast
is "$RC" 2 "--rate fast: exit 2"

# --rate is for signals; images keep the PNG grid.
awk 'BEGIN { printf "c"; for (j = 0; j < 16; j++) printf ",p%d", j; printf "\n"
             for (i = 0; i < 4; i++) { printf "%d", i % 2
                 for (j = 0; j < 16; j++) printf ",%.3f", (i + j) / 20; printf "\n" } }' >img.csv
sed -e 's/path = "sig.csv"; header = true; label_column = 0;/path = "img.csv"; header = true; label_column = 0; shape = [1, 4, 4];/' \
    sig.cfg >img.cfg
run_cmd "$dlhost" augment img.cfg --rate 8000
is "$RC" 2 "--rate with images: exit 2"
like "$ERR_FILE" "--rate is for signals written as WAV clips; data.train's samples are images" \
     "--rate with images: says so"

# ---- audiofolder waveforms: the reader gives the rate (dataset ABI 1.5).
if ! "$dlhost" plugins 2>/dev/null | grep -q audiofolder; then
    skip "no audio plugin (libsndfile and libsamplerate)"
    skip "no audio plugin (libsndfile and libsamplerate)"
    skip "no audio plugin (libsndfile and libsamplerate)"
elif [ -z "$py" ]; then
    skip "no python3 to write the WAV fixtures"
    skip "no python3 to write the WAV fixtures"
    skip "no python3 to write the WAV fixtures"
else
    "$py" - <<'EOF'
import math, os, struct, wave
for c, f0 in (("low", 220.0), ("high", 880.0)):
    os.makedirs("audio/" + c, exist_ok=True)
    for k in range(2):
        w = wave.open("audio/%s/%d.wav" % (c, k), "wb")
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        s = [int(12000 * math.sin(2 * math.pi * f0 * (1 + k / 10) * t / 8000)) for t in range(2000)]
        w.writeframes(struct.pack("<%dh" % len(s), *s))
        w.close()
EOF
    cat >audio.cfg <<'EOF'
name = "audio";
seed = 4;
backend = { type = "cpu"; threads = 1; };
data = {
  train = { type = "audiofolder"; path = "audio"; rate = 8000; seconds = 0.25; };
  augment = ( { type = "time_shift"; fraction = 0.2; } );
};
model = ( { name = "flat"; type = "flatten"; }, { name = "out"; type = "dense"; units = 2; } );
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.1; };
train = { epochs = 1; batch_size = 2; };
EOF
    run_cmd "$dlhost" augment audio.cfg --samples 4
    is "$RC" 0 "dlhost augment of audiofolder waveforms writes clips into augment/"
    "$py" wavinfo.py augment/003-original.wav >a.orig && "$py" wavinfo.py augment/003-augmented.wav >a.aug
    [ "$(head -1 a.orig)" = "8000 1 2000 float" ] && [ "$(head -1 a.aug)" = "8000 1 2000 float" ] &&
        [ "$(ls augment | wc -l)" -eq 8 ]
    ok $? "8 clips at the reader's 8000 Hz, 2000 frames each"
    # Sample 3 is low/1.wav (classes in name order: high, low); its clip
    # holds the file's 16-bit values / 32768.
    "$py" - <<'EOF'
import struct, sys, wave
w = wave.open("audio/low/1.wav", "rb")
raw = w.readframes(w.getnframes())
want = [v / 32768.0 for v in struct.unpack("<%dh" % (len(raw) // 2), raw)]
got = [float(v) for v in open("a.orig").read().split("\n")[1:] if v]
sys.exit(0 if got == want else 1)
EOF
    ok $? "the original clip is the WAV file's samples as read, exactly"
fi

done_testing
