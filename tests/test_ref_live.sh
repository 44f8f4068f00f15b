#!/bin/sh
# The committed reference files still say what PyTorch (torchvision,
# scikit-learn, NumPy) says: every tests/ref/NAME.h has a generator
# tests/ref/NAME.py that printed it (`/usr/bin/python3 tests/ref/NAME.py >
# tests/ref/NAME.h`); this test runs each generator again and compares its
# output with the committed file, number by number (relative 1e-5, absolute
# 1e-7: another BLAS or library version may round differently), words
# exactly.  Comment lines (starting with /*, * or //) are not compared, so a
# header may name the versions it was made with.  The C tests include the
# committed files and never need Python.  SKIP without a python3 that
# imports what a generator imports (TORCH_PYTHON names one; Debian's
# python3-torch, python3-torchvision, python3-sklearn).
#
# Environment (set by `make check`): DLHOST_SRCDIR.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

src=${DLHOST_SRCDIR:-$(dirname "$0")/..}
found=0
for h in "$src"/tests/ref/*.h; do
    [ -f "$h" ] || continue
    found=1
    name=$(basename "$h" .h)
    gen=${h%.h}.py
    if [ ! -f "$gen" ]; then
        ok 1 "$name: generator tests/ref/$name.py exists"
        continue
    fi
    # The modules the generator imports, from its import lines.
    mods=$(sed -n 's/^import \([a-z_][a-z_0-9.]*\).*/\1/p; s/^from \([a-z_][a-z_0-9.]*\) import.*/\1/p' \
        "$gen" | sort -u | tr '\n' ' ')
    py=
    for c in ${TORCH_PYTHON:-} python3 /usr/bin/python3; do
        if "$c" -c "import sys
for m in '$mods'.split(): __import__(m)" >/dev/null 2>&1; then
            py=$c
            break
        fi
    done
    if [ -z "$py" ]; then
        skip "$name: no python3 that imports $mods"
        continue
    fi
    if ! "$py" "$gen" >"$TAP_TMP/$name.h" 2>"$TAP_TMP/$name.err"; then
        ok 1 "$name: tests/ref/$name.py runs"
        sed -n '1,15s/^/#   /p' "$TAP_TMP/$name.err"
        continue
    fi
    # Tokens of the non-comment lines, one per line.
    tokens() {
        grep -Ev '^[[:space:]]*(/\*|\*|//)' "$1" | tr -s ' \t,{}()[];=' '\n' |
            grep -v '^$' >"$2" || :
    }
    tokens "$h" "$TAP_TMP/$name.want"
    tokens "$TAP_TMP/$name.h" "$TAP_TMP/$name.got"
    awk -v want="$TAP_TMP/$name.want" '
        function isnum(s) { return s ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?[fF]?$/ }
        function num(s) { sub(/[fF]$/, "", s); return s + 0 }
        {
            if ((getline w < want) <= 0) { print "# generator printed more than the file"; bad = 1; exit }
            n++
            if (isnum($0) && isnum(w)) {
                a = num($0); b = num(w); d = a - b; if (d < 0) d = -d
                m = b < 0 ? -b : b
                if (d > 1e-7 && d > 1e-5 * m) {
                    printf "# token %d: generator %s, file %s\n", n, $0, w
                    if (++bad >= 5) exit
                }
            } else if ($0 != w) {
                printf "# token %d: generator \"%s\", file \"%s\"\n", n, $0, w
                if (++bad >= 5) exit
            }
        }
        END {
            if (!bad && (getline w < want) > 0) { print "# the file has more than the generator printed"; bad = 1 }
            exit bad ? 1 : 0
        }' "$TAP_TMP/$name.got"
    ok $? "$name: tests/ref/$name.h matches what tests/ref/$name.py prints now"
done
[ "$found" -eq 1 ] || skip "no tests/ref/*.h files"
done_testing
