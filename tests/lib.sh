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
