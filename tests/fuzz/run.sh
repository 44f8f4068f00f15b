#!/bin/sh
# Runs libFuzzer targets for `make fuzz`, from the build folder:
#   run.sh SECONDS 'EXTRA LIBFUZZER FLAGS' NAME...
# Each tests/fuzz/fuzz_NAME runs for SECONDS on a working corpus
# (tests/fuzz/work/NAME, where new inputs go) seeded from the source tree's
# corpus/NAME and regressions/NAME, with NAME.dict when there is one.  A
# crash, leak, timeout or out-of-memory input lands in tests/fuzz/crashes/.
# Prints one line per target (executions, seconds, exec/s, coverage) and
# exits non-zero when any target failed.  Needs DLHOST_SRCDIR.
set -u

seconds=$1 flags=$2
shift 2
src=${DLHOST_SRCDIR:?DLHOST_SRCDIR must name the source tree}/tests/fuzz
mkdir -p tests/fuzz/crashes
# Leaks of the libraries dlhost uses, not of dlhost (see the file).
LSAN_OPTIONS="suppressions=$src/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# A smaller quarantine than ASan's 256 MB reuses warm memory: 1.75 times
# the executions of the experiment target; use-after-free within an input
# is still caught.
ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16}
export LSAN_OPTIONS ASAN_OPTIONS
failed=
summary=
for name in "$@"; do
    bin=tests/fuzz/fuzz_$name
    if [ ! -x "$bin" ]; then
        echo "run.sh: no target $bin" >&2
        failed="$failed $name"
        continue
    fi
    work=tests/fuzz/work/$name
    log=tests/fuzz/work/$name.log
    mkdir -p "$work"
    set -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="tests/fuzz/crashes/$name-"
    [ -f "$src/$name.dict" ] && set -- "$@" -dict="$src/$name.dict"
    # Most mutated experiment files are syntax errors, after which libconfig
    # 1.5 leaks a token (lsan.supp): each such input would cost a full leak
    # scan, 13 times the input itself.  That target looks for leaks in the
    # corpus it grew instead, below.
    leaks=1
    [ "$name" = experiment ] && leaks=0
    set -- "$@" -detect_leaks=$leaks
    dirs="$work $src/corpus/$name"
    [ -d "$src/regressions/$name" ] && dirs="$dirs $src/regressions/$name"
    echo "fuzz_$name: $seconds s ($log)"
    # shellcheck disable=SC2086  # flags and dirs are word lists
    "$bin" "$@" $flags $dirs >"$log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ] && [ "$leaks" -eq 0 ]; then
        # -runs=0: every input of the corpus once, with leak checks.
        echo "fuzz_$name: its corpus, checked for leaks"
        "$bin" -runs=0 -detect_leaks=1 -artifact_prefix="tests/fuzz/crashes/$name-" \
            "$work" >"$log.leaks" 2>&1
        rc=$?
        [ "$rc" -ne 0 ] && cat "$log.leaks" >>"$log"
    fi
    # libFuzzer's last status line: "#N DONE cov: C ft: F ... exec/s: E ...".
    stats=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    cov=$(echo "$stats" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$stats" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    line=$(printf '%-12s %10s runs %6s s %7s exec/s  cov %5s  ft %6s' "$name" \
        "${runs:-?}" "${took:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}")
    if [ "$rc" -ne 0 ]; then
        line="$line  FAILED (exit $rc)"
        failed="$failed $name"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written|fuzz:)' "$log" \
            | head -n 20 >&2
    fi
    summary="$summary$line
"
done
printf '\n%s' "$summary"
if [ -n "$failed" ]; then
    echo "make fuzz: failed:$failed; inputs in tests/fuzz/crashes/, logs in" \
         "tests/fuzz/work/NAME.log" >&2
    echo "  (once the bug is fixed, add the input to" \
         "tests/fuzz/regressions/NAME/)" >&2
    exit 1
fi
exit 0
