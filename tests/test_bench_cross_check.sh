#!/bin/sh
# bench/compare.py's cross-check of its PyTorch figure against the plain
# loop, on fixed figures (nothing timed, no torch needed): a tuned figure
# 20 % below the plain loop's is refused with the reason and both figures,
# exactly 15 % below and above it pass.
#
# Environment (set by `make check`): DLHOST_SRCDIR.
. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "no python3"
compare=${DLHOST_SRCDIR:-$(dirname "$0")/..}/bench/compare.py

run_cmd python3 "$compare" --check-figures 8000 10000
is "$RC" 1 "tuned 20 % below the plain loop: refused (exit 1)"
like "$OUT_FILE" "cross-check: REFUSED: tuned PyTorch 8,000 samples/s is 20% below the plain loop's 10,000 (more than 15%)" \
    "the refusal names both figures and the gap"
like "$OUT_FILE" "so no ratio" "the refusal says no ratio is given"
run_cmd python3 "$compare" --check-figures 8500 10000
is "$RC" 0 "tuned exactly 15 % below: passes"
like "$OUT_FILE" "cross-check: ok: tuned PyTorch 8,500 samples/s, plain loop 10,000: within 15%" \
    "the pass names both figures"
run_cmd python3 "$compare" --check-figures 12000 10000
is "$RC" 0 "tuned above the plain loop: passes"
run_cmd python3 "$compare" --check-figures 12000 0
is "$RC" 1 "no plain-loop figure: refused"
like "$OUT_FILE" "no plain-loop figure to check the tuned one against" "and says why"

done_testing
