#!/bin/sh
# The plugin manifest (core/manifest.h): written by the first run, then a
# run loads only the plugins its experiment names; a plugin file whose mtime
# changed, a corrupt manifest or one that lacks a name makes a full load; no
# usable cache folder costs nothing.  Which files load is read from glibc's
# LD_DEBUG=files ("file=... dynamically loaded").  tests/fixtures/good.so
# (layer fixture_identity, schedule fixture_const) sits in a folder of its own.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH, DLHOST_FIXTURES.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
[ -n "${DLHOST_FIXTURES:-}" ] && [ -f "$DLHOST_FIXTURES/good.so" ] ||
    skip_all "no tests/fixtures/good.so (run through make check)"
cd "$TAP_TMP" || exit 1
mkdir -m 700 extra
cp "$DLHOST_FIXTURES/good.so" extra/
DLHOST_PLUGIN_PATH=$DLHOST_PLUGIN_PATH:$PWD/extra
DLHOST_CACHE_DIR=$PWD/cache
export DLHOST_PLUGIN_PATH DLHOST_CACHE_DIR
two_class_csv train.csv
cat >exp.cfg <<'EOF2'
name = "n";
seed = 1;
backend = { type = "cpu"; threads = 1; };
data = { train = { type = "csv"; path = "train.csv"; header = true; }; };
model = ( { name = "out"; type = "dense"; units = 2; } );
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.1; };
schedule = { type = "constant"; };
train = { epochs = 1; batch_size = 16; };
EOF2

# check with LD_DEBUG=files; the plugin files it loaded go to loaded.txt.
check_loading() {
    LD_DEBUG=files "$dlhost" check exp.cfg "$@" >"$OUT_FILE" 2>"$ERR_FILE"
    RC=$?
    grep 'dynamically loaded' "$ERR_FILE" | sed 's/.*file=\([^ ]*\) .*/\1/' |
        grep '\.so$' | sed 's,.*/,,' | sort -u >loaded.txt
    grep -v '^ *[0-9]*:' "$ERR_FILE" >said.txt
}

# 1. fresh: everything loads, the manifest is written.
check_loading
is "$RC" 0 "fresh: check passes"
like loaded.txt "good.so" "fresh: every plugin loads (good.so)"
manifest=$(ls cache/plugins-* 2>/dev/null)
ok $? "fresh: the manifest is written in DLHOST_CACHE_DIR"
like "$manifest" "dlhost plugin manifest 1, ABI 1." "it names its format and the ABI"
like "$manifest" "/extra/good.so" "it lists good.so"
like "$manifest" "c 4 fixture_const" "and good.so's schedule"
like "$manifest" "c 1 fixture_identity" "and its layer"
[ ! -s said.txt ]
ok $? "fresh: nothing said"

# 2. reused: only what exp.cfg names loads.
cp "$manifest" before.txt
check_loading
is "$RC" 0 "reused: check passes"
unlike loaded.txt "good.so" "reused: good.so (not named) is not loaded"
like loaded.txt "cpu.so" "reused: the cpu backend is"
like loaded.txt "layers.so" "reused: the dense layer's plugin is"
unlike loaded.txt "augmenters.so" "reused: the augmenters are not"
cmp -s before.txt "$manifest"
ok $? "reused: the manifest is left as it was"
check_loading --set 'schedule.type="fixture_const"'
is "$RC" 0 "reused: a schedule of good.so is found"
like loaded.txt "good.so" "reused: good.so loads when the experiment names it"
unlike loaded.txt "augmenters.so" "reused: and the augmenters still do not"
check_loading --set 'schedule.type="good:fixture_const"'
is "$RC" 0 "reused: good:fixture_const (plugin:name) is found"

# 3. a name the manifest lacks: a full load finds it.
grep -v 'fixture_const' "$manifest" >cut.txt && cp cut.txt "$manifest"
check_loading --set 'schedule.type="fixture_const"'
is "$RC" 0 "a name the manifest lacks: found by a full load"
like loaded.txt "augmenters.so" "a name the manifest lacks: every plugin loads"
like "$manifest" "c 4 fixture_const" "and the manifest is written again with it"

# 4. an unknown name: the same error as without a manifest.
check_loading --set 'schedule.type="constnat"'
is "$RC" 2 "an unknown schedule exits 2"
cp said.txt with.txt
DLHOST_CACHE_DIR= ; check_loading --set 'schedule.type="constnat"'
DLHOST_CACHE_DIR=$PWD/cache
cmp -s said.txt with.txt
ok $? "the unknown-component message is the one a full load gives"
like with.txt "unknown schedule 'constnat' (did you mean 'constant'?)" "which names the near one"

# 5. stale: good.so's mtime changed.
touch -d @981173106 extra/good.so
check_loading
is "$RC" 0 "stale: check passes"
like loaded.txt "augmenters.so" "stale: every plugin loads"
grep -q "^file [0-9]* 981173106 " "$manifest"
ok $? "stale: the manifest is written again with good.so's new mtime"
check_loading
unlike loaded.txt "augmenters.so" "stale: the run after is lazy again"

# 6. a freshly installed plugin (a new file on the path).
cp "$DLHOST_FIXTURES/scale_layer.so" extra/
sed 's/^model = .*/model = ( { name = "s"; type = "scale"; }, { name = "out"; type = "dense"; units = 2; } );/' \
    exp.cfg >exp2.cfg
cp exp.cfg exp1.cfg && cp exp2.cfg exp.cfg
check_loading
cp exp1.cfg exp.cfg
is "$RC" 0 "a new plugin file: its layer is found"
like "$manifest" "/extra/scale_layer.so" "and the manifest lists it"
rm extra/scale_layer.so

# 7. corrupt: garbage, a cut line, a kind out of range.
for bad in 'garbage' "$(head -c 60 "$manifest")" "$(sed 's/^c 4 /c 99 /' "$manifest")"; do
    printf '%s' "$bad" >"$manifest"
    check_loading
    is "$RC" 0 "corrupt manifest: check passes"
    like loaded.txt "augmenters.so" "corrupt manifest: every plugin loads"
    [ ! -s said.txt ]
    ok $? "corrupt manifest: nothing said"
    head -n 1 "$manifest" | grep -q '^dlhost plugin manifest 1'
    ok $? "corrupt manifest: written again"
done

# 8. no usable cache folder: a file in the way; caching off.
echo x >afile
for how in blocked off; do
    DLHOST_CACHE_DIR=
    [ "$how" = blocked ] && DLHOST_CACHE_DIR=$PWD/afile/cache
    check_loading
    is "$RC" 0 "cache folder $how: check passes"
    like loaded.txt "good.so" "cache folder $how: every plugin loads"
    [ ! -s said.txt ]
    ok $? "cache folder $how: nothing said"
done
DLHOST_CACHE_DIR=$PWD/cache

# 9. a plugin that fails to load: every run loads everything and warns.
cp "$DLHOST_FIXTURES/failing_init.so" extra/
for i in 1 2; do
    check_loading
    is "$RC" 0 "a failing plugin, run $i: check passes"
    like said.txt "failing_init.so" "a failing plugin, run $i: the warning names it"
done
done_testing
