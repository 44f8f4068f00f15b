#!/bin/sh
# dlhost under a low address-space limit (ulimit -v; core/blas_cap.c):
# OpenBLAS retries a work buffer it cannot map forever, so `dlhost predict`
# hung under a 100 MB cap.  Now dlhost runs OpenBLAS single-threaded under a
# cap and, where the cap leaves no room for the buffer, fails at once with
# one line and exit status 1, whatever OPENBLAS_NUM_THREADS says; under a
# 400 MB cap it predicts.  Every run is under `timeout`: a hang fails the
# test instead of stopping the suite.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.
. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1
command -v timeout >/dev/null 2>&1 || skip_all "no timeout(1)"
(ulimit -v 400000; "$dlhost" --version >/dev/null 2>&1) ||
    skip_all "dlhost cannot run under ulimit -v (a sanitizer build)"

two_class_csv train.csv
two_class_cfg capped relu 2 16 '{ type = "sgd"; lr = 0.1; }'
run_cmd "$dlhost" run exp.cfg --runs runs
is "$RC" 0 "a small model trains without a cap"
w=runs/capped/last.safetensors

msg="dlhost: error: the address-space limit (ulimit -v) of 97 MiB leaves too little room for OpenBLAS:"
for t in default 1 2; do
    (ulimit -v 100000
     if [ $t = default ]; then unset OPENBLAS_NUM_THREADS; else
         OPENBLAS_NUM_THREADS=$t; export OPENBLAS_NUM_THREADS; fi
     timeout 20 "$dlhost" predict exp.cfg --weights $w --input train.csv --out p.csv \
         >out_$t 2>err_$t
     echo $? >rc_$t)
    is "$(cat rc_$t)" 1 "OPENBLAS_NUM_THREADS $t, 100 MB cap: predict exits 1 (no hang: 124)"
    is "$(wc -l <err_$t | tr -d ' ')" 1 "... with one line"
    like err_$t "$msg" "... that names the limit and OpenBLAS"
    grep -Eq "work buffer .*raise the limit to at least [0-9]+ MiB$" err_$t
    ok $? "... and says what to raise it to"
done
[ ! -e p.csv ]
ok $? "the refusals write nothing"

(ulimit -v 400000
 timeout 60 "$dlhost" predict exp.cfg --weights $w --input train.csv --out p.csv >/dev/null 2>err
 echo $? >rc)
is "$(cat rc)" 0 "under a 400 MB cap predict runs" || cat err
[ -s p.csv ]
ok $? "... and writes its predictions"

done_testing
