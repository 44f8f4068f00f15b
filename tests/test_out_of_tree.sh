#!/bin/sh
# The third-party path, end to end: install dlhost into a staging folder,
# build examples/plugins there with nothing but `pkg-config --cflags dlhost`,
# check the plugins export only the plugin symbols and need nothing of
# dlhost, then run the *installed* dlhost with them (plugins, check, run):
# training with swish + signsgd must lower the loss, and a run with fixed
# weights must give the per-epoch losses computed by hand; the layer with a
# trainable tensor (example_prelu) passes gradcheck and trains to the
# losses and slope of the built-in prelu; the metric (example_metric) is
# listed with its parameter (its values are tests/test_metrics.c's).
#
# Environment (set by `make check`): DLHOST_SRCDIR, DLHOST_BUILDDIR, MAKE.

n=0
failed=0
ok_() {             # ok_ STATUS DESCRIPTION
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        failed=1
    fi
}
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
diag_file() { [ -f "$1" ] && tail -n "${2:-30}" "$1" | sed 's/^/#   /'; }
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
bail() { echo "Bail out! $1"; exit 1; }

if [ -z "${DLHOST_SRCDIR:-}" ] || [ -z "${DLHOST_BUILDDIR:-}" ]; then
    skip_all "DLHOST_SRCDIR/DLHOST_BUILDDIR not set (run through make check)"
fi
MAKE=${MAKE:-make}
for tool in cc nm readelf pkg-config; do
    command -v "$tool" >/dev/null 2>&1 || skip_all "$tool not installed"
done
command -v "${MAKE%% *}" >/dev/null 2>&1 || skip_all "${MAKE%% *} not installed"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dlhost-oot.XXXXXX") || bail "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# ---- install into a staging root: the prefix is fixed at configure time,
# so DESTDIR stages it and the final paths sit under $dest.
dest=$tmp/dest
unset PKG_CONFIG_SYSROOT_DIR
pcvar() { pkg-config --variable="$1" "$DLHOST_BUILDDIR/dlhost.pc"; }
if ! { prefix=$(pcvar prefix) && exec_prefix=$(pcvar exec_prefix) &&
       libdir=$(pcvar libdir) && includedir=$(pcvar includedir) &&
       pluginsdir=$(pcvar pluginsdir); }; then
    bail "cannot read $DLHOST_BUILDDIR/dlhost.pc"
fi
diag "prefix $prefix, staged under the test's temporary folder"

# The nested make must not join the jobserver of the `make check` around us.
# $MAKE may carry options, hence unquoted.
# shellcheck disable=SC2086
env -u MAKEFLAGS -u MFLAGS $MAKE -C "$DLHOST_BUILDDIR" install DESTDIR="$dest" \
    >"$tmp/install.log" 2>&1
rc=$?
ok_ $rc "make install DESTDIR=<staging root>"
[ $rc -eq 0 ] || { diag_file "$tmp/install.log"; bail "install failed"; }

root_bin=$dest$exec_prefix/bin
root_lib=$dest$libdir
root_inc=$dest$includedir
root_plugins=$dest$pluginsdir
[ -x "$root_bin/dlhost" ]; ok_ $? "installed bin/dlhost"
ls "$root_lib"/libdlhost.so* >/dev/null 2>&1; ok_ $? "installed lib/libdlhost.so*"
[ -f "$root_plugins/cpu.so" ] && ls "$root_plugins"/*.so >/dev/null 2>&1
ok_ $? "installed plugins in lib/dlhost/ (cpu.so among them)"
hdr_rc=0
for h in "$DLHOST_SRCDIR"/include/dlhost/*.h; do
    [ -f "$root_inc/dlhost/${h##*/}" ] || { diag "missing include/dlhost/${h##*/}"; hdr_rc=1; }
done
ok_ $hdr_rc "installed every SDK header in include/dlhost/"
[ -f "$root_lib/pkgconfig/dlhost.pc" ]; ok_ $? "installed lib/pkgconfig/dlhost.pc"
grep -q '^Libs: *$' "$root_lib/pkgconfig/dlhost.pc"
ok_ $? "dlhost.pc links nothing (empty Libs)"

# ---- build the examples against the staged SDK only.  The .pc names the
# final prefix; the sysroot variable points pkg-config at the staging root.
export PKG_CONFIG_PATH="$root_lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$dest"
export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1
cflags=$(pkg-config --cflags dlhost)
case " $cflags " in
*" -I$root_inc "*) rc=0 ;;
*) rc=1; diag "pkg-config --cflags dlhost: $cflags" ;;
esac
ok_ $rc "pkg-config --cflags dlhost points at the staged headers"

# A copy: the source tree is read-only under distcheck.
work=$tmp/plugins
cp -R "$DLHOST_SRCDIR/examples/plugins" "$work" || bail "cannot copy examples/plugins"
chmod -R u+w "$work" || bail "cannot make the copy writable"
rm -f "$work"/*.so
# shellcheck disable=SC2086
env -u MAKEFLAGS -u MFLAGS $MAKE -C "$work" >"$tmp/build.log" 2>&1
rc=$?
ok_ $rc "examples/plugins builds with only pkg-config --cflags dlhost"
[ $rc -eq 0 ] || { diag_file "$tmp/build.log"; bail "example plugins did not build"; }
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_ALLOW_SYSTEM_CFLAGS

for p in jitter signsgd swish example_prelu example_metric; do
    so=$work/$p.so
    # Linker-made markers (_edata, _end, __bss_start; older binutils) are not
    # the plugin's own exports.
    exports=$(nm -D --defined-only "$so" | awk '{ print $NF }' |
              grep -Ev '^(_edata|_end|__bss_start|_init|_fini)$' | sort | tr '\n' ' ')
    [ "$exports" = "dlh_plugin dlh_plugin_init " ]
    rc=$?
    [ $rc -eq 0 ] || diag "$p.so exports: $exports"
    ok_ $rc "$p.so exports exactly dlh_plugin and dlh_plugin_init"

    needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p' | tr '\n' ' ')
    undef=$(nm -D --undefined-only "$so" | awk '{ print $NF }' | grep '^dlh_' | tr '\n' ' ')
    case "$needed" in
    *dlhost*) rc=1 ;;
    *) [ -z "$undef" ]; rc=$? ;;
    esac
    [ $rc -eq 0 ] || diag "$p.so needs: $needed; undefined dlh_ symbols: $undef"
    ok_ $rc "$p.so needs no libdlhost and resolves no dlh_ symbol"
done

# ---- run the installed command.  An RPATH to the final libdir (libtool adds
# one) would win over LD_LIBRARY_PATH and could pick up an older installed
# libdlhost; preloading the staged one settles which library runs.
export LD_LIBRARY_PATH="$root_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
staged_so=
for f in "$root_lib"/libdlhost.so.*; do
    [ -f "$f" ] && [ -z "$staged_so" ] && staged_so=$f
done
resolved=$(ldd "$root_bin/dlhost" 2>/dev/null | sed -n 's/.*libdlhost[^ ]* => \([^ ]*\).*/\1/p')
case "$resolved" in
"$root_lib"/*) ;;
*) diag "dlhost resolves libdlhost to '$resolved'; preloading the staged one"
   # In a --enable-sanitizers build ASan's runtime must still load first.
   asan=$(ldd "$root_bin/dlhost" 2>/dev/null | sed -n 's/.*libasan[^ ]* => \([^ ]*\).*/\1/p')
   export LD_PRELOAD="${asan:+$asan }$staged_so${LD_PRELOAD:+ $LD_PRELOAD}" ;;
esac
export DLHOST_PLUGIN_PATH="$root_plugins:$work"
export DLHOST_PLUGIN_PATH_ONLY=1
dlhost=$root_bin/dlhost

"$dlhost" plugins >"$tmp/plugins.out" 2>&1
rc=$?
ok_ $rc "installed dlhost plugins exits 0"
[ $rc -eq 0 ] || diag_file "$tmp/plugins.out"
listed() {          # listed KIND NAME FILE: one line names all three
    awk -v kind="$1" -v name="$2" -v file="$3" '
        { k = 0; m = 0
          for (i = 1; i <= NF; i++) { if ($i == kind) k = 1; if ($i == name) m = 1 }
          if (k && m && index($0, file)) found = 1 }
        END { exit !found }' "$tmp/plugins.out"
    rc=$?
    [ $rc -eq 0 ] || diag_file "$tmp/plugins.out"
    ok_ $rc "dlhost plugins lists $1 '$2' from $3"
}
listed optimizer signsgd signsgd.so
listed layer swish swish.so
listed augmenter jitter jitter.so
listed layer example_prelu example_prelu.so
listed metric specificity example_metric.so

"$dlhost" plugins --verbose >"$tmp/verbose.out" 2>&1
awk '/^metric +specificity / { on = 1; next } /^[a-z]/ { on = 0 }
     on && /threshold \(float, default 0\.5, in \[0, 1\]\)/ { found = 1 }
     END { exit !found }' "$tmp/verbose.out"
rc=$?
[ $rc -eq 0 ] || diag_file "$tmp/verbose.out"
ok_ $rc "dlhost plugins --verbose shows specificity's parameter table"

# The experiment names its csv relative to itself, so run the copy.
cd "$tmp" || bail "cd $tmp"
"$dlhost" check "$work/demo.cfg" >"$tmp/check.out" 2>&1
rc=$?
ok_ $rc "dlhost check demo.cfg (swish + signsgd) exits 0"
[ $rc -eq 0 ] || diag_file "$tmp/check.out"
grep -q swish "$tmp/check.out"
ok_ $? "dlhost check shows the swish layer"

"$dlhost" run "$work/demo.cfg" >"$tmp/run.out" 2>&1
rc=$?
ok_ $rc "dlhost run demo.cfg exits 0"
[ $rc -eq 0 ] || diag_file "$tmp/run.out"
# "epoch N/M  train_loss X ..." -> the first and the last loss.
losses=$(sed -n 's/.*epoch [0-9]*\/[0-9]*.*train_loss[ =:]*\([-+0-9.eEinfna]*\).*/\1/p' \
         "$tmp/run.out")
first=$(echo "$losses" | head -n 1)
last=$(echo "$losses" | tail -n 1)
epochs=$(echo "$losses" | grep -c .)
diag "epochs $epochs, train_loss $first -> $last"
awk -v e="$epochs" -v a="$first" -v b="$last" \
    'BEGIN { exit !(e >= 2 && a + 0 > 0 && b + 0 >= 0 && b + 0 < 0.25 * a) }'
rc=$?
[ $rc -eq 0 ] || diag_file "$tmp/run.out"
ok_ $rc "training with swish + signsgd lowers the train loss at least fourfold"

# Exact values: with identity weights and full batches the run is fixed, so
# its losses were computed by hand (plain Python, doubles) from demo.csv:
# W1 = I (2x2), swish with beta 1.5, W2 = [1 0], mse, one sign-SGD step per
# epoch with lr 0.05 and weight_decay 0.01.  This checks swish forward, its
# derivative (a derivative without the beta*x*s*(1-s) term, or without beta,
# or weight decay left out, each moves some epoch's loss by more than 1e-3)
# and the update.
# The jitter augmenter ran (amount 0 trains what no augmenter trains, 0.02
# something else) and its result does not depend on the loader threads.
for v in 0.0:a0 0.02:a2; do
    sed -e "s/amount = 0.02/amount = ${v%%:*}/" "$work/demo.cfg" >"$work/${v##*:}.cfg"
done
sed -e '/augment = /d' "$work/demo.cfg" >"$work/noaug.cfg"
sed -e 's/augment = (/workers = 3; &/' "$work/demo.cfg" >"$work/a2w3.cfg"
rc=0
for c in a0 a2 noaug a2w3; do
    "$dlhost" run "$work/$c.cfg" --runs "$tmp/$c" >"$tmp/$c.out" 2>&1 ||
        { rc=1; diag_file "$tmp/$c.out"; }
done
ok_ $rc "dlhost run with jitter at amount 0 and 0.02, with 1 and 3 workers, and without"
cmp -s "$tmp/a0/oot-demo/last.safetensors" "$tmp/noaug/oot-demo/last.safetensors" &&
    ! cmp -s "$tmp/a2/oot-demo/last.safetensors" "$tmp/noaug/oot-demo/last.safetensors"
ok_ $? "the out-of-tree augmenter changes training (amount 0 changes nothing)"
cmp -s "$tmp/a2/oot-demo/last.safetensors" "$tmp/a2w3/oot-demo/last.safetensors"
ok_ $? "the out-of-tree augmenter gives the same weights with 1 and 3 loader threads"

cat >"$work/exact.cfg" <<'EOF'
name = "oot-exact";
seed = 1;
backend = { type = "cpu"; };
data = {
  train = { type = "csv"; path = "demo.csv"; header = true;
            label = "dense"; label_columns = 1; };
};
model = (
  { name = "hidden"; type = "dense"; units = 2; bias = false; init = "identity"; },
  { name = "act";    type = "swish"; beta = 1.5; },
  { name = "out";    type = "dense"; units = 1; bias = false; init = "identity"; }
);
loss = { type = "mse"; };
optimizer = { type = "signsgd"; lr = 0.05; weight_decay = 0.01; };
train = { epochs = 6; batch_size = 256; shuffle = false; };
EOF
"$dlhost" run "$work/exact.cfg" >"$tmp/exact.out" 2>&1
rc=$?
ok_ $rc "dlhost run exact.cfg exits 0"
got=$(sed -n 's/.*epoch [0-9]*\/[0-9]*.*train_loss[ =:]*\([-+0-9.eEinfna]*\).*/\1/p' \
      "$tmp/exact.out" | tr '\n' ' ')
want="0.243714 0.224645 0.210445 0.197229 0.182756 0.167811"
diag "train_loss per epoch: $got" "expected:             $want"
echo "$got" | awk -v want="$want" '
    { n = split(want, w, " ")
      if (NF != n) exit 1
      for (i = 1; i <= n; i++) {
          d = $i - w[i]
          if (d < 0) d = -d
          if (!(d <= 2e-4)) exit 1
      } }'
rc=$?
[ $rc -eq 0 ] || diag_file "$tmp/exact.out"
ok_ $rc "swish + signsgd losses match the hand-computed values (to 2e-4)"

# ---- a layer with a trainable tensor: example_prelu against the built-in
# prelu (one shared slope, torch's nn.PReLU()), same model, start and batches.
"$dlhost" gradcheck "$work/prelu.cfg" --layer act >"$tmp/gc.out" 2>&1
rc=$?
[ $rc -eq 0 ] || diag_file "$tmp/gc.out"
grep -Eq "^layer 'act' \(example_prelu\) +max rel error [0-9.e+-]+ over [0-9]+ elements  ok$" \
    "$tmp/gc.out"
ok_ $? "dlhost gradcheck passes example_prelu's input and slope gradients"
sed -e 's/type = "example_prelu";/type = "prelu";/' "$work/prelu.cfg" >"$work/builtin.cfg"
rc=0
for c in prelu builtin; do
    "$dlhost" run "$work/$c.cfg" --runs "$tmp/$c" >"$tmp/$c.out" 2>&1 ||
        { rc=1; diag_file "$tmp/$c.out"; }
done
ok_ $rc "dlhost run prelu.cfg with example_prelu and with the built-in prelu"
losses_of() { sed -n 's/.*epoch [0-9]*\/[0-9]*.*train_loss[ =:]*\([-+0-9.eEinfna]*\).*/\1/p' "$1" |
              tr '\n' ' '; }
# The slope is the only tensor named act.weight: its offsets in the header.
slope_of() {
    hlen=$(od -An -tu8 -N8 "$1" | tr -d ' ')
    off=$(head -c $((8 + hlen)) "$1" | tail -c +9 | LC_ALL=C \
          sed -n 's/.*"act\.weight":{[^}]*"data_offsets":\[\([0-9]*\),.*/\1/p')
    [ -n "$off" ] && od -An -tf4 -j $((8 + hlen + off)) -N4 "$1" | tr -d ' '
}
a=$(losses_of "$tmp/prelu.out")
b=$(losses_of "$tmp/builtin.out")
sa=$(slope_of "$tmp/prelu/oot-prelu/last.safetensors")
sb=$(slope_of "$tmp/builtin/oot-prelu/last.safetensors")
diag "example_prelu: train_loss $a, slope $sa" "prelu:         train_loss $b, slope $sb"
# The two sum the slope's gradient in another order: within float rounding.
echo "$a|$b|$sa|$sb" | awk -F'|' '
    function close_(x, y) { d = x - y; if (d < 0) d = -d; m = y < 0 ? -y : y
                            return d <= 1e-5 * m + 1e-7 }
    { n = split($1, p, " "); if (n != 10 || split($2, q, " ") != n) exit 1
      for (i = 1; i <= n; i++) if (!close_(p[i] + 0, q[i] + 0)) exit 1
      if ($3 == "" || $4 == "" || !close_($3 + 0, $4 + 0) || $3 + 0 == 0.1) exit 1 }'
ok_ $? "example_prelu trains to the built-in prelu's losses and slope (1e-5), the slope moved"

echo "1..$n"
exit $failed
