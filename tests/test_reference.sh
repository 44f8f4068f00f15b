#!/bin/sh
# README.md's component reference is what the components say about
# themselves: the block between the "components" markers equals
# `dlhost plugins --reference` over the plugins built here, component by
# component (a component whose optional plugin was not built here is
# skipped by name).  `make update-reference` rewrites the block.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
readme=$DLHOST_SRCDIR/README.md
cd "$TAP_TMP" || exit 1

run_cmd "$dlhost" plugins --reference
is "$RC" 0 "dlhost plugins --reference exits 0"
cp "$OUT_FILE" generated.md
sed -n '/^<!-- components: begin/,/^<!-- components: end/p' "$readme" | sed '1d;$d' >readme.md
[ -s readme.md ]
ok $? "README.md has the generated block between the components markers"

# One file per component: blocks start at "`name` — " lines, headed by their
# kind's "#### kinds" line.
split_blocks() {
    mkdir -p "$2"
    awk -v dir="$2" '
        /^#### / { kind = $2; next }
        /^`[a-z0-9_]+` — / { name = $1; gsub(/`/, "", name); file = dir "/" kind "." name; next }
        file != "" { print > file }' "$1"
}
split_blocks generated.md gen
split_blocks readme.md doc
n=0
for f in gen/*; do
    [ -f "$f" ] || continue
    b=$(basename "$f")
    n=$((n + 1))
    if [ ! -f "doc/$b" ]; then
        ok 1 "$b: in README.md's reference (run make update-reference)"
        continue
    fi
    if cmp -s "$f" "doc/$b"; then
        ok 0 "$b: README.md says what the component says"
    else
        ok 1 "$b: README.md says what the component says (run make update-reference)"
        diff "doc/$b" "$f" | sed -n '1,12s/^/#   /p'
    fi
done
[ "$n" -gt 20 ]
ok $? "the reference covers the built components ($n)"
for f in doc/*; do
    [ -f "$f" ] || continue
    b=$(basename "$f")
    [ -f "gen/$b" ] || skip "$b: in README.md, its plugin is not built here"
done
# The generated text names no folder of this machine.
! grep -q "$DLHOST_SRCDIR\|/\.libs" generated.md
ok $? "the reference names no path"
done_testing
