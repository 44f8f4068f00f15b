#!/bin/sh
# oneDNN loaded on first use (plugins/backends/cpu/cpu_dnnl.h): `dlhost check`
# of a model without convolutions does not load it (nor the C++ runtime it
# brings) and a convolution's training does; with the library missing (DLHOST_LIBDNNL naming
# no file) or broken (a library without oneDNN's symbols) a convolution
# trains exactly as with backend.onednn = false (im2col + gemm: the same
# losses, to the bit) and precision = "bf16" is refused with one line, exit
# status 2.  The LD_DEBUG checks skip where the loader does not answer it.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
cd "$TAP_TMP" || exit 1

class_images img.csv 48 144 7
image_cfg plain.cfg "4, 6, 6" "" '  { type = "relu"; }'
image_cfg conv.cfg "4, 6, 6" "" \
    '  { name = "c"; type = "conv2d"; out_channels = 4; kernel_size = 3; padding = "same"; },
  { type = "relu"; }'
sed 's|^backend = .*|backend = { type = "cpu"; threads = 2; precision = "bf16"; };|' \
    conv.cfg >bf16.cfg
missing=libdlhost-no-such-dnnl.so.2
broken=libm.so.6

# Does this build have oneDNN at all?  (Its bf16 refusal says so.)
run_cmd "$dlhost" check bf16.cfg
built=yes
grep -q "built without" "$ERR_FILE" && built=no

# Loader trace of `dlhost ARGS...`: the files it opened, in loaded.txt.
loads() {
    LD_DEBUG=files "$dlhost" "$@" >/dev/null 2>loaded.txt
    grep -q 'file=' loaded.txt
}
if [ "$built" = no ]; then
    skip "a build without oneDNN: nothing to load lazily"
    skip "a build without oneDNN: nothing to load lazily"
elif ! loads check plain.cfg; then
    skip "LD_DEBUG=files gives no trace here"
    skip "LD_DEBUG=files gives no trace here"
else
    # A sanitizer build loads libstdc++ for UBSan's runtime (libubsan
    # needs it), so there only libdnnl is looked for.
    if [ "${DLHOST_SANITIZE:-0}" = 1 ]; then
        libs='libdnnl' what='libdnnl (libstdc++ comes with UBSan here)'
    else
        libs='libdnnl|libstdc\+\+' what='neither libdnnl nor libstdc++'
    fi
    ! grep -E -q "file=[^ ]*($libs)" loaded.txt
    ok $? "dlhost check of a model without conv loads $what" ||
        grep -E "file=[^ ]*($libs)" loaded.txt | sed 's/^/#   /'
    loads run conv.cfg --runs trace
    grep -q 'file=libdnnl.so.2' loaded.txt
    ok $? "a conv training loads libdnnl.so.2"
fi

# The losses of a run named $1 with DLHOST_LIBDNNL=$2 and the options after
# them: metrics.csv without its times.
losses() {
    name=$1 lib=$2
    shift 2
    run_cmd env "DLHOST_LIBDNNL=$lib" "$dlhost" run conv.cfg --runs runs --set name="$name" \
        --set train.epochs=2 "$@"
    is "$RC" 0 "$name: the training exits 0" || sed 's/^/#   /' "$ERR_FILE"
    cut -d, -f1-6 "runs/$name/metrics.csv" >"$name.losses" 2>/dev/null
}
losses im2col "" --set backend.onednn=false
losses missing "$missing"
losses broken "$broken"
[ "$(wc -l <im2col.losses)" -eq 3 ] && cmp -s im2col.losses missing.losses
ok $? "libdnnl missing: the same losses as onednn = false, to the bit"
[ "$(wc -l <im2col.losses)" -eq 3 ] && cmp -s im2col.losses broken.losses
ok $? "libdnnl without its symbols: the same losses as onednn = false, to the bit"

# bf16 without the library: one line at the backend's line (3), exit 2.
refused_bf16() {
    run_cmd env "DLHOST_LIBDNNL=$1" "$dlhost" run bf16.cfg --runs runs
    is "$RC" 2 "bf16, libdnnl $2: exit status 2"
    grep -F -e "bf16.cfg:3: " "$ERR_FILE" | grep -F -q -e "$3"
    ok $? "bf16, libdnnl $2: says '$3'" || sed 's/^/#   /' "$ERR_FILE"
    is "$(wc -l <"$ERR_FILE" | tr -d ' ')" 1 "bf16, libdnnl $2: one line"
}
if [ "$built" = no ]; then
    for i in 1 2 3 4 5 6; do skip "a build without oneDNN refuses bf16 (test_cpu_bf16_cli.sh)"; done
else
    refused_bf16 "$missing" missing \
        "precision \"bf16\" needs oneDNN, which did not load ($missing: cannot open"
    refused_bf16 "$broken" broken \
        "precision \"bf16\" needs oneDNN, which did not load ($broken: no symbol dnnl_"
fi
done_testing
