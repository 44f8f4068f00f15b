#!/bin/sh
# Class names: a reader that knows them (imagefolder) puts them in the
# checkpoint (class_name.K), `dlhost eval` prints them under the confusion
# matrix, data.classes renames them with the classes it keeps, and eval
# refuses a checkpoint whose class K is another class.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.
. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1
"$dlhost" plugins 2>/dev/null | grep -q imagefolder ||
    skip_all "no imagefolder reader (configure found no libpng or libjpeg)"

cp -R "$DLHOST_SRCDIR/tests/data/imagefolder" imgs
chmod -R u+w imgs
cat >n.cfg <<'EOF2'
name = "n";
seed = 1;
backend = { type = "cpu"; threads = 1; };
data = {
  train = { type = "imagefolder"; path = "imgs"; size = [5, 7]; color = "grey"; };
  test  = { type = "imagefolder"; path = "imgs"; size = [5, 7]; color = "grey"; };
@include "classes.inc"
};
model = ( { type = "flatten"; }, { name = "fc"; type = "dense"; units = 3; } );
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.1; };
train = { epochs = 2; batch_size = 4; };
EOF2
: >classes.inc
run_cmd "$dlhost" run n.cfg
is "$RC" 0 "a run on an image folder of three classes exits 0"
for k in 0:Zebra 1:ant 2:cat; do
    grep -aq "\"class_name.${k%%:*}\":\"${k##*:}\"" runs/n/last.safetensors
    ok $? "the checkpoint names class ${k%%:*} '${k##*:}'"
done
run_cmd "$dlhost" eval n.cfg --weights runs/n/last.safetensors
is "$RC" 0 "eval exits 0"
like "$OUT_FILE" "classes: 0 Zebra, 1 ant, 2 cat" "eval prints the class names"

printf 'classes = [2, 0];\n' >classes.inc
sed -e 's/units = 3/units = 2/' n.cfg >sub.cfg
run_cmd "$dlhost" run sub.cfg --runs sub
is "$RC" 0 "a run on two of the classes exits 0"
run_cmd "$dlhost" eval sub.cfg --weights sub/n/last.safetensors
like "$OUT_FILE" "classes: 0 cat, 1 Zebra" "data.classes renames the classes it keeps"

# Folders renamed: class 0 is now another class.
mv imgs/Zebra imgs/zebra
: >classes.inc
run_cmd "$dlhost" eval n.cfg --weights runs/n/last.safetensors
is "$RC" 2 "eval of a checkpoint whose classes differ from the data's: exit 2"
like "$ERR_FILE" "class 0 is 'Zebra' in the checkpoint and 'ant' in the data of n.cfg" \
     "it names the first class that differs"

done_testing
