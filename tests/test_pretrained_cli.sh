#!/bin/sh
# `pretrained = { file; rename; skip; strict; }` (README "Starting from
# trained weights: pretrained"): a run's best.safetensors loads into a second
# experiment with a changed head (skip) and into renamed layers (rename), the
# loaded tensors equal to the file's bit for bit (`dlhost init` writes the
# weights a run starts from); `dlhost check` and `dlhost run` print the
# report and the run writes it to pretrained.txt; --resume ignores the group;
# every refusal with its message and exit status (strict: missing and
# unexpected; a shape mismatch; a dtype the model cannot take; an
# unsupported dtype; a truncated, corrupt or absent file; a bad group); and
# a PyTorch state_dict with F16, BF16, F64 and I64 tensors
# (tests/data/pretrained_torch.safetensors from tests/ref/pretrained_torch.py,
# regenerated and compared where /usr/bin/python3 has torch, else SKIP),
# loaded on opencl too where it is here.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
command -v python3 >/dev/null 2>&1 || skip_all "no python3 to read safetensors files"
src=$DLHOST_SRCDIR
cd "$TAP_TMP" || exit 1
two_class_csv train.csv

# exp NAME HEAD_UNITS EXTRA_LAYERS PRETRAINED [FIRST_LAYER_NAME]: conv, bn,
# head (HEAD_UNITS), then EXTRA_LAYERS; the pretrained group on line 12.
exp() {
    cat >"$1.cfg" <<CFG
name = "$1";
seed = 9;
data = { train = { type = "csv"; path = "train.csv"; header = true; shape = [2, 1, 1]; }; };
model = (
  { name = "${5:-conv}"; type = "conv2d"; out_channels = 4; kernel_size = 1; },
  { name = "bn"; type = "batchnorm"; },
  { name = "head"; type = "dense"; units = $2; }$3
);
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.1; };
train = { epochs = 1; batch_size = 4; };
$4
CFG
}

# same A B NAME_A=NAME_B...: the tensors have the same dtype, shape and bytes.
same() {
    python3 - "$@" <<'PY'
import json, struct, sys
def load(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.pop("__metadata__", None)
    return {k: (v["dtype"], v["shape"], b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
            for k, v in h.items()}
a, b = load(sys.argv[1]), load(sys.argv[2])
bad = [p for p in sys.argv[3:] if a.get(p.split("=")[0]) != b.get(p.split("=")[1])]
print("differ: " + " ".join(bad) if bad else "same")
sys.exit(1 if bad else 0)
PY
}

# ---- a run to start from
exp base 2 "" ""
run_cmd "$dlhost" run base.cfg
is "$RC" 0 "the base run trains"
best=runs/base/best.safetensors
BACKBONE="conv.weight=conv.weight conv.bias=conv.bias bn.weight=bn.weight bn.bias=bn.bias
 bn.running_mean=bn.running_mean bn.running_var=bn.running_var
 bn.num_batches_tracked=bn.num_batches_tracked"

# ---- a changed head, skipped
exp tune 3 ',
  { name = "out"; type = "dense"; units = 2; }' \
    "pretrained = { file = \"$best\"; skip = [\"head.*\"]; };"
run_cmd "$dlhost" check tune.cfg
is "$RC" 0 "check validates the group"
like "$OUT_FILE" "pretrained $best: 9 tensors in the file, strict = false" "check prints the report"
like "$OUT_FILE" "  loaded          7: conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.num_batches_tracked" \
    "... loaded: the backbone, the counter too"
like "$OUT_FILE" "  missing         2 (initialised fresh): out.weight, out.bias" "... missing: the new layer"
like "$OUT_FILE" "  unexpected      0" "... nothing unexpected"
like "$OUT_FILE" "  shape mismatch  0" "... no shape mismatch"
like "$OUT_FILE" "  skipped         2 (initialised fresh): head.weight, head.bias" "... skipped: the head"
run_cmd "$dlhost" init tune.cfg --out tune0.safetensors
is "$RC" 0 "init starts from the pretrained weights"
# shellcheck disable=SC2086
same "$best" tune0.safetensors $BACKBONE >/dev/null
ok $? "the loaded tensors equal the file's bit for bit (num_batches_tracked included)"
exp fresh 3 ',
  { name = "out"; type = "dense"; units = 2; }' ""
sed -i 's/"fresh"/"tune"/' fresh.cfg
run_cmd "$dlhost" init fresh.cfg --out fresh0.safetensors
same fresh0.safetensors tune0.safetensors head.weight=head.weight out.weight=out.weight \
    out.bias=out.bias >/dev/null
ok $? "skipped and missing tensors keep the experiment's own initialisation"
same fresh0.safetensors tune0.safetensors conv.weight=conv.weight >/dev/null
is "$?" 1 "... and the loaded ones do not"
run_cmd "$dlhost" run tune.cfg
is "$RC" 0 "the run trains from the pretrained weights"
grep -F -A5 "pretrained $best" "$OUT_FILE" >report.txt
cmp -s report.txt runs/tune/pretrained.txt
ok $? "the run prints the report it writes to runs/tune/pretrained.txt"

# ---- --resume ignores the group (the checkpoint wins)
cp runs/tune/pretrained.txt kept.txt
sed -i "s|file = \"$best\"|file = \"gone.safetensors\"|; s/epochs = 1/epochs = 2/" tune.cfg
run_cmd "$dlhost" run tune.cfg --resume runs/tune
is "$RC" 0 "--resume with the group changed and its file absent goes on"
like "$OUT_FILE" "resumed from runs/tune/last.safetensors: epoch 1" "... from the checkpoint"
unlike "$OUT_FILE" "pretrained" "... and loads nothing else"
cmp -s kept.txt runs/tune/pretrained.txt
ok $? "... pretrained.txt is the first run's"

# ---- rename
exp renamed 2 "" "pretrained = { file = \"$best\"; rename = ( (\"conv.*\", \"stem.*\") ); strict = true; };" stem
run_cmd "$dlhost" init renamed.cfg --out renamed0.safetensors
is "$RC" 0 "rename maps the file's names, strict = true loads all"
like "$OUT_FILE" "loaded          9: stem.weight <- conv.weight, stem.bias <- conv.bias, bn.weight" \
    "the report names the file's name of a renamed tensor"
same "$best" renamed0.safetensors conv.weight=stem.weight conv.bias=stem.bias head.weight=head.weight \
    head.bias=head.bias bn.num_batches_tracked=bn.num_batches_tracked >/dev/null
ok $? "the renamed tensors equal the file's bit for bit"

# ---- refusals
exp strict 2 "" "pretrained = { file = \"$best\"; rename = ( (\"head.*\", \"gone.*\") );
  strict = true; };"
refused_at strict.cfg 13 "pretrained: error(s) in loading $best (strict = true): missing key(s) in the file: \"head.weight\", \"head.bias\"; unexpected key(s) in the file: \"gone.weight\", \"gone.bias\"" \
    "strict refuses missing and unexpected tensors"
exp loose 2 "" "pretrained = { file = \"$best\"; rename = ( (\"head.*\", \"gone.*\") ); };"
run_cmd "$dlhost" check loose.cfg
is "$RC" 0 "without strict they are reported"
like "$OUT_FILE" "  missing         2 (initialised fresh): head.weight, head.bias" "... missing"
like "$OUT_FILE" "  unexpected      2 (ignored): gone.weight, gone.bias" "... unexpected (by their renamed names)"
exp unexp 2 "" "pretrained = { file = \"$best\"; rename = ( (\"head.bias\", \"extra\") ); skip = [\"head.bias\"];
  strict = true; };"
refused_at unexp.cfg 13 "(strict = true): unexpected key(s) in the file: \"extra\"" \
    "strict refuses an unexpected tensor alone (a skipped one is not missing)"
exp shape 3 ',
  { name = "out"; type = "dense"; units = 2; }' "pretrained = { file = \"$best\"; };"
refused_at shape.cfg 13 "pretrained: error(s) in loading $best: size mismatch for head.weight: copying a param with shape [2, 4] from checkpoint, the shape in current model is [3, 4]; size mismatch for head.bias: copying a param with shape [2] from checkpoint, the shape in current model is [3] (skip a tensor to initialise it fresh)" \
    "a shape mismatch is refused even without strict"
run_cmd "$dlhost" run shape.cfg
is "$RC" 2 "... by run too"
[ ! -d runs/shape ]
ok $? "... before it makes a run directory"

# mkfile OUT DTYPE NAME...: a safetensors file of 1-element tensors; "cut"
# truncates it, "junk" breaks its JSON.
mkfile() {
    python3 - "$@" <<'PY'
import json, struct, sys
out, dtype, names = sys.argv[1], sys.argv[2], sys.argv[3:]
size = {"I8": 1, "I64": 8}.get(dtype, 4)
h = {n: {"dtype": dtype, "shape": [1], "data_offsets": [i * size, (i + 1) * size]}
     for i, n in enumerate(names)}
text = json.dumps(h).encode()
open(out, "wb").write(struct.pack("<Q", len(text)) + text + b"\0" * size * len(names))
PY
}
exp dt 2 "" "pretrained = { file = \"i8.safetensors\"; };"
mkfile i8.safetensors I8 conv.bias
run_cmd "$dlhost" check dt.cfg
is "$RC" 1 "an unsupported dtype exits 1"
like "$ERR_FILE" "pretrained: i8.safetensors: tensor 'conv.bias': dtype 'I8' is not supported (dlhost reads F32, F64, F16, BF16, I32 and I64)" \
    "... and names it"
exp dt2 2 "" "pretrained = { file = \"i64.safetensors\"; skip = [\"conv.*\"]; };"
python3 - <<'PY'
import json, struct
h = {"bn.bias": {"dtype": "I64", "shape": [4], "data_offsets": [0, 32]}}
t = json.dumps(h).encode()
open("i64.safetensors", "wb").write(struct.pack("<Q", len(t)) + t + b"\0" * 32)
PY
refused_at dt2.cfg 12 "pretrained: i64.safetensors: tensor 'bn.bias' is I64 in the file, the model's 'bn.bias' is F32" \
    "an integer tensor for a float one is refused"
head -c 300 "$best" >cut.safetensors
exp cut 2 "" "pretrained = { file = \"cut.safetensors\"; };"
run_cmd "$dlhost" check cut.cfg
is "$RC" 1 "a truncated file exits 1"
like "$ERR_FILE" "pretrained: cut.safetensors: header size" "... and says what is wrong"
printf '\020\000\000\000\000\000\000\000{"a": [1, 2}    ' >junk.safetensors
exp junk 2 "" "pretrained = { file = \"junk.safetensors\"; };"
run_cmd "$dlhost" run junk.cfg
is "$RC" 1 "a corrupt header exits 1"
grep -Eq "^dlhost: error: pretrained: junk.safetensors: .*(JSON|expected)" "$ERR_FILE"
ok $? "... and says where"
exp none 2 "" "pretrained = { file = \"none.safetensors\"; };"
run_cmd "$dlhost" run none.cfg
is "$RC" 1 "a missing file exits 1"
like "$ERR_FILE" "none.safetensors" "... and names it"
like "$ERR_FILE" "No such file or directory" "... and why"
[ ! -d runs/none ]
ok $? "... before it makes a run directory"

# ---- a bad group
exp g1 2 "" "pretrained = \"x\";"
refused_at g1.cfg 12 "pretrained: expected a group" "pretrained must be a group"
exp g2 2 "" "pretrained = { skip = [\"head.*\"]; };"
refused_at g2.cfg 12 "give one of 'file'" "file or run is required"
exp g3 2 "" "pretrained = { file = \"$best\"; strcit = true; };"
refused_at g3.cfg 12 "did you mean 'strict'?" "a misspelt key"
exp g4 2 "" "pretrained = { file = \"$best\"; rename = ( (\"a.*.*\", \"*\") ); };"
refused_at g4.cfg 12 "pretrained: rename[0]: (\"a.*.*\", \"*\"): \"from\" may hold one '*'" \
    "rename: one '*' at most"
exp g5 2 "" "pretrained = { file = \"$best\"; rename = ( (\"a\", \"*\") ); };"
refused_at g5.cfg 12 "\"to\" one only where \"from\" has one" "rename: no '*' in to without one in from"
exp g6 2 "" "pretrained = { file = \"$best\"; rename = ( (\"a\") ); };"
refused_at g6.cfg 12 "pretrained: rename[0]: expected a pair of non-empty strings" "rename: pairs"
exp g7 2 "" "pretrained = { file = \"$best\"; rename = \"a\"; };"
refused_at g7.cfg 12 "pretrained: rename: expected a list of" "rename: a list"
exp g8 2 "" "pretrained = { file = \"$best\"; skip = \"head.*\"; };"
refused_at g8.cfg 12 "pretrained: skip: expected a list of globs" "skip: a list"
exp g9 2 "" "pretrained = { file = \"$best\"; skip = [\"\"]; };"
refused_at g9.cfg 12 "pretrained: skip[0]: expected a non-empty string" "skip: no empty glob"
exp g10 2 "" "pretrained = { file = \"$best\"; strict = 1; };"
refused_at g10.cfg 12 "strict" "strict: a boolean"
exp g11 2 "" "pretrained = { file = \"$best\"; rename = ( (\"*\", \"x\") ); };"
refused_at g11.cfg 12 "pretrained: rename maps the file's" "rename: two names onto one"

# ---- run = "...": a run's checkpoint under the command's runs root
exp byrun 3 "" "pretrained = { run = \"base\"; skip = [\"head.*\"]; };"
run_cmd "$dlhost" check byrun.cfg
is "$RC" 0 "run = \"base\": check finds runs/base/best.safetensors"
like "$OUT_FILE" "pretrained runs/base/best.safetensors: 9 tensors" "... and names it"
exp bylast 3 "" "pretrained = { run = \"base\"; checkpoint = \"last\"; skip = [\"head.*\"]; };"
run_cmd "$dlhost" check bylast.cfg
like "$OUT_FILE" "pretrained runs/base/last.safetensors:" "checkpoint = \"last\" picks last.safetensors"
mkdir -p other
run_cmd "$dlhost" run base.cfg --runs other
exp byrun2 3 "" "pretrained = { run = \"base\"; skip = [\"head.*\"]; };"
run_cmd "$dlhost" run byrun2.cfg --runs other
is "$RC" 0 "run --runs other: the run trains"
like "$OUT_FILE" "pretrained other/base/best.safetensors:" "... from the checkpoint under --runs"
[ -f other/byrun2/pretrained.txt ]
ok $? "... and writes its report in its own folder there"
exp r1 2 "" "pretrained = { run = \"base\"; file = \"$best\"; };"
refused_at r1.cfg 12 "pretrained: give one of 'file' (a safetensors file) and 'run' (a run's name)" \
    "file and run together"
exp r2 2 "" "pretrained = { run = \"../base\"; };"
refused_at r2.cfg 12 "pretrained: 'run': run name '../base'" "a run name that is a path"
exp r3 2 "" "pretrained = { file = \"$best\"; checkpoint = \"last\"; };"
refused_at r3.cfg 12 "pretrained: 'checkpoint' picks a checkpoint of 'run'" "checkpoint without run"
exp r4 2 "" "pretrained = { run = \"base\"; checkpoint = \"first\"; };"
refused_at r4.cfg 12 "checkpoint" "checkpoint: best or last"
exp r5 2 "" "pretrained = { run = \"nosuchrun\"; };"
run_cmd "$dlhost" run r5.cfg
is "$RC" 1 "a run without checkpoints exits 1"
like "$ERR_FILE" "runs/nosuchrun/best.safetensors" "... and names the file it looked for"

# ---- a PyTorch state_dict: F16, BF16, F64, I64
torch_file=$src/tests/data/pretrained_torch.safetensors
exp torch 2 "" "pretrained = { file = \"$torch_file\"; rename = ( (\"backbone.*\", \"*\") ); strict = true; };"
run_cmd "$dlhost" init torch.cfg --out torch0.safetensors
is "$RC" 0 "a torch state_dict loads (strict)"
like "$OUT_FILE" "loaded          9: conv.weight <- backbone.conv.weight (F16), conv.bias <- backbone.conv.bias (F16), bn.weight <- backbone.bn.weight (BF16), bn.bias <- backbone.bn.bias (BF16), bn.running_mean <- backbone.bn.running_mean (F64), bn.running_var <- backbone.bn.running_var (F64), bn.num_batches_tracked <- backbone.bn.num_batches_tracked, head.weight, head.bias" \
    "the report names each converted dtype"
same "$src/tests/data/pretrained_torch_f32.safetensors" torch0.safetensors $BACKBONE \
    head.weight=head.weight head.bias=head.bias >/dev/null
ok $? "every tensor equals torch's .float() of it bit for bit (the counter as I64)"
if have_backend opencl; then
    run_cmd "$dlhost" init torch.cfg --backend opencl --out torch0_opencl.safetensors
    is "$RC" 0 "opencl: the torch state_dict loads"
    cmp -s torch0.safetensors torch0_opencl.safetensors
    ok $? "opencl: the same bits as on cpu"
else
    skip "no opencl backend here"
fi
py=
for c in ${TORCH_PYTHON:-} /usr/bin/python3 python3; do
    if "$c" -c 'import torch' >/dev/null 2>&1; then
        py=$c
        break
    fi
done
if [ -n "$py" ]; then
    "$py" "$src/tests/ref/pretrained_torch.py" live.safetensors live_f32.safetensors &&
        cmp -s live.safetensors "$torch_file" &&
        cmp -s live_f32.safetensors "$src/tests/data/pretrained_torch_f32.safetensors"
    ok $? "tests/ref/pretrained_torch.py makes the committed files again"
else
    skip "no python3 with torch: the committed torch files are not regenerated"
fi

# ---- a run's last.safetensors with strict = true: its optimiser state is
# not a model tensor, neither unexpected nor loaded
exp laststrict 2 "" "pretrained = { file = \"runs/base/last.safetensors\"; strict = true; };"
run_cmd "$dlhost" init laststrict.cfg --out last0.safetensors
is "$RC" 0 "strict = true loads a run's last.safetensors"
like "$OUT_FILE" "  unexpected      0" "... nothing unexpected"
grep -Eq '^  optimiser state [1-9][0-9]* \(ignored: sgd.s, of a dlhost checkpoint\)$' "$OUT_FILE"
ok $? "... its optimiser state reported as ignored"
# shellcheck disable=SC2086
same runs/base/last.safetensors last0.safetensors $BACKBONE head.weight=head.weight \
    head.bias=head.bias >/dev/null
ok $? "... every model tensor loaded bit for bit"
run_cmd "$dlhost" init renamed.cfg --out renamed1.safetensors
unlike "$OUT_FILE" "optimiser state" "best.safetensors: no optimiser state to report"

# ---- file is relative to the experiment file's folder, as data paths are
mkdir -p sub
exp sub/rel 2 "" "pretrained = { file = \"../runs/base/best.safetensors\"; strict = true; };"
sed -i 's#path = "train.csv"#path = "../train.csv"#; s#"sub/#"#' sub/rel.cfg
run_cmd "$dlhost" init sub/rel.cfg --out rel0.safetensors
is "$RC" 0 "file: relative to the experiment file's folder, not the current one"
like "$OUT_FILE" "pretrained sub/../runs/base/best.safetensors: 9 tensors" "... and named so"
(cd sub && "$dlhost" init rel.cfg --out ../rel1.safetensors >/dev/null 2>&1)
ok $? "... the same from inside that folder"
cmp -s rel0.safetensors rel1.safetensors
ok $? "... the same weights"
exp sub/abs 2 "" "pretrained = { file = \"$PWD/runs/base/best.safetensors\"; strict = true; };"
sed -i 's#path = "train.csv"#path = "../train.csv"#; s#"sub/#"#' sub/abs.cfg
run_cmd "$dlhost" init sub/abs.cfg --out abs0.safetensors
is "$RC" 0 "an absolute file stays as it is"
like "$OUT_FILE" "pretrained $PWD/runs/base/best.safetensors: 9 tensors" "... and is named so"
exp sub/gone 2 "" "pretrained = { file = \"runs/base/best.safetensors\"; };"
sed -i 's#path = "train.csv"#path = "../train.csv"#; s#"sub/#"#' sub/gone.cfg
run_cmd "$dlhost" init sub/gone.cfg --out gone0.safetensors
is "$RC" 1 "a file relative to the current folder only is not found (exit 1)"
like "$ERR_FILE" "pretrained: sub/runs/base/best.safetensors: cannot open: No such file or directory" \
    "... naming the path it tried"

done_testing
