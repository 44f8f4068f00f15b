#!/bin/sh
# A component name two plugins both register: neither wins by load order;
# an experiment naming it plainly is refused with both files named and the
# way out, and "plugin:name" picks one (tests/fixtures/good.c and
# duplicate.c both have the schedule fixture_const; duplicate's doubles
# the rate).
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH, DLHOST_FIXTURES.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
[ -n "${DLHOST_FIXTURES:-}" ] && [ -f "$DLHOST_FIXTURES/good.so" ] &&
    [ -f "$DLHOST_FIXTURES/duplicate.so" ] ||
    skip_all "no tests/fixtures/good.so and duplicate.so (run through make check)"
cd "$TAP_TMP" || exit 1
mkdir -m 700 two
cp "$DLHOST_FIXTURES/good.so" "$DLHOST_FIXTURES/duplicate.so" two/
DLHOST_PLUGIN_PATH=$DLHOST_PLUGIN_PATH:$PWD/two
export DLHOST_PLUGIN_PATH
two_class_csv train.csv

cat >exp.cfg <<'EOF2'
name = "n";
seed = 1;
backend = { type = "cpu"; threads = 1; };
data = { train = { type = "csv"; path = "train.csv"; header = true; }; };
model = ( { name = "out"; type = "dense"; units = 2; } );
loss = { type = "cross_entropy"; };
optimizer = { type = "sgd"; lr = 0.1; };
schedule = {
  type = "fixture_const";
};
train = { epochs = 1; batch_size = 16; };
EOF2

run_cmd "$dlhost" check exp.cfg
is "$RC" 2 "a name two plugins register exits 2"
like "$ERR_FILE" "exp.cfg:9: schedule 'fixture_const' is registered by more than one plugin" \
     "it says so at the type's line"
like "$ERR_FILE" "two/good.so (plugin 'good')" "it names the first file"
like "$ERR_FILE" "two/duplicate.so (plugin 'duplicate')" "and the second"
like "$ERR_FILE" 'type = "' "it says how to name one"

run_cmd "$dlhost" run exp.cfg --runs g --set 'schedule.type="good:fixture_const"'
is "$RC" 0 "good:fixture_const runs"
like "$OUT_FILE" "lr 0.1 " "good's schedule keeps the rate"
run_cmd "$dlhost" run exp.cfg --runs d --set 'schedule.type="duplicate:fixture_const"'
is "$RC" 0 "duplicate:fixture_const runs"
like "$OUT_FILE" "lr 0.2 " "duplicate's schedule doubles it"
run_cmd "$dlhost" check exp.cfg --set 'schedule.type="other:fixture_const"'
is "$RC" 2 "a plugin that lacks the name exits 2"
like "$ERR_FILE" "no plugin 'other' has a schedule 'fixture_const'" "it says which lacks it"
run_cmd "$dlhost" check exp.cfg --set 'schedule.type="schedules:step"' \
    --set schedule.step_size=1
is "$RC" 0 "a built-in plugin's component by its qualified name (schedules:step)"
done_testing
